//! Forward and reverse agree (`ReverseZones`): for random clusters whose tasks and agents
//! share addresses, under every `ReversePolicy`, every PTR target inside the domain
//! answers the address it was reached from, every target outside it is the host name of
//! the agent at that address, and "one" and "unambiguous" never answer more than one
//! name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::config_from;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use mesos_dns::answer::{Outcome, Transport, answer};
use mesos_dns::config::Config;
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::{Snapshot, compile};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};

const AGENTS: usize = 4;

/// Agent `i` at 10.7.0.<i+1>: the first task addresses collide with agents on purpose.
fn agent_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 7, 0, i as u8 + 1)
}

/// The pool every address comes from.
fn pool() -> Vec<IpAddr> {
    (1..=8).map(|i| IpAddr::from([10, 7, 0, i])).collect()
}

/// (name index, agent, container address index or none for host networking).
fn tasks() -> impl Strategy<Value = Vec<(usize, usize, Option<u8>)>> {
    prop::collection::vec((0usize..5, 0..AGENTS, prop::option::of(1u8..=8)), 0..24)
}

fn state(tasks: &[(usize, usize, Option<u8>)], hostnames: &[bool]) -> State {
    let names = ["web", "api", "db", "Cache", "queue.worker"];
    let tasks: Vec<Value> = tasks
        .iter()
        .enumerate()
        .map(|(i, &(name, agent, ip))| {
            let mut status = json!({"state": "TASK_RUNNING", "timestamp": 1.0});
            if let Some(ip) = ip {
                status["container_status"] =
                    json!({"network_infos": [{"ip_addresses": [{"ip_address": format!("10.7.0.{ip}")}]}]});
            }
            json!({"id": format!("t{i}"), "name": names[name], "slave_id": format!("a-S{agent}"),
                   "state": "TASK_RUNNING", "statuses": [status],
                   "resources": {"ports": "[31000-31000]"}})
        })
        .collect();
    let slaves: Vec<Value> = (0..AGENTS)
        .map(|i| {
            // Some host names are not DNS names: those agents offer no reverse name.
            let hostname = if hostnames[i] {
                format!("node{i}.Cluster.example")
            } else {
                format!("node_{i} bad")
            };
            json!({"id": format!("a-S{i}"), "hostname": hostname,
                   "pid": format!("slave(1)@{}:5051", agent_ip(i))})
        })
        .collect();
    let doc = json!({
        "leader": "master@10.9.0.1:5050",
        "frameworks": [{"id": "f1", "name": "marathon", "hostname": "m", "tasks": tasks}],
        "slaves": slaves,
    });
    State::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn config(policy: &str) -> Config {
    config_from(&format!(
        r#"{{"masters":["10.9.0.1:5050"],"listener":"127.0.0.1","externalOn":false,
            "IPSources":["netinfo","host"],"ReverseZones":["10.7.0.0/16"],
            "ReversePolicy":"{policy}"}}"#
    ))
    .unwrap()
}

fn ask(snap: &Snapshot, name: &str, rtype: RecordType) -> Message {
    let mut q = Message::new();
    q.set_id(7);
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut out = vec![0u8; 65535];
    match answer(&q.to_vec().unwrap(), snap, 0, Transport::Tcp, &mut out) {
        Outcome::Reply { len, .. } => Message::from_vec(&out[..len]).unwrap(),
        other => panic!("{name}: {other:?}"),
    }
}

fn reverse(ip: &IpAddr) -> String {
    let IpAddr::V4(v4) = ip else { unreachable!() };
    let [a, b, c, d] = v4.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_ptr_target_resolves_back(
        tasks in tasks(),
        hostnames in prop::collection::vec(any::<bool>(), AGENTS),
        policy in prop::sample::select(vec!["one", "unambiguous", "all"]),
    ) {
        let config = config(policy);
        let masters = config.masters.clone().unwrap();
        let (set, _) = generate(
            &config,
            &state(&tasks, &hostnames),
            Inputs { masters: &masters, listener_ips: &[config.listener] },
        );
        let snap = compile(set, &config, 1);
        let mut answered = 0;
        for ip in pool() {
            let reply = ask(&snap, &reverse(&ip), RecordType::PTR);
            let targets: Vec<String> = reply
                .answers()
                .iter()
                .filter_map(|rr| match rr.data() {
                    RData::PTR(name) => Some(name.to_string()),
                    _ => None,
                })
                .collect();
            answered += targets.len();
            // An address's name has nothing below it: without records it does not
            // exist, whatever the policy left out (RFC 8020).
            if targets.is_empty() {
                prop_assert_eq!(reply.response_code(), ResponseCode::NXDomain, "{} {}", policy, ip);
            }
            if policy != "all" {
                prop_assert!(targets.len() <= 1, "{policy} {ip}: {targets:?}");
            }
            for target in targets {
                if target.ends_with(".mesos.") {
                    let a = ask(&snap, &target, RecordType::A);
                    let back: Vec<String> =
                        a.answers().iter().map(|rr| rr.data().to_string()).collect();
                    prop_assert!(back.contains(&ip.to_string()), "{target} → {back:?}, not {ip}");
                } else {
                    let agent = (0..AGENTS).find(|&i| IpAddr::V4(agent_ip(i)) == ip);
                    let agent = agent.filter(|&i| hostnames[i]);
                    prop_assert_eq!(
                        Some(target.clone()),
                        agent.map(|i| format!("node{i}.cluster.example.")),
                        "{} is not the host name of the agent at {}", target, ip
                    );
                }
            }
        }
        // Not vacuous: a task on its own address always offers a reverse name.
        let own = tasks.iter().any(|&(_, agent, ip)| {
            ip.is_some_and(|ip| Ipv4Addr::new(10, 7, 0, ip) != agent_ip(agent))
        });
        if own && policy != "unambiguous" {
            prop_assert!(answered > 0);
        }
    }
}
