//! The delta pipeline against full rebuilds: random sequences of stream changes and whole
//! states, applied as deltas and published shard by shard, must serve exactly what a
//! full rebuild of the final model serves, in every shard.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::config_from;
use mesos_dns::cluster::{
    Agent, Change, ClusterState, Discovery, Framework, PortShape, RunningStatus, StatusUpdate,
    Task, TaskRare,
};
use mesos_dns::config::Config;
use mesos_dns::control::engine::Engine;
use mesos_dns::records::generate_cluster;
use mesos_dns::snapshot::{Snapshot, compile};
use proptest::prelude::*;
use std::net::IpAddr;

/// Every policy: under "unambiguous" a reverse name starts and stops existing as its
/// candidates come and go, which the deltas must follow.
fn config(reverse_policy: &str) -> Config {
    config_from(&format!(
        r#"{{"masters":["10.9.0.1:5050"],"listener":"127.0.0.1","externalOn":false,
            "SOAMname":"ns1.mesos","IPSources":["netinfo","docker","host"],"HealthyOnly":true,
            "ReverseZones":["10.0.0.0/8","fd00::/8"],"ReversePolicy":"{reverse_policy}","DCOSNames":true}}"#,
    ))
    .unwrap()
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (1u8..4).prop_map(|i| IpAddr::from([10, 1, 0, i])),
        (1u16..3).prop_map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i])),
    ]
}

fn status() -> impl Strategy<Value = RunningStatus> {
    (
        0u8..4,
        prop::collection::vec(ip(), 0..2),
        prop::collection::vec(ip(), 0..2),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(t, netinfo, docker, healthy)| {
            RunningStatus::new(f64::from(t), &netinfo, &docker, &[], healthy)
        })
}

fn discovery() -> impl Strategy<Value = Option<Discovery>> {
    prop::option::of(
        (
            prop::sample::select(vec!["svc", "web", "Web.Front", ""]),
            prop::collection::vec(
                (
                    prop::sample::select(vec![8080i64, 53, 99999]),
                    prop::sample::select(vec!["tcp", "udp", ""]),
                    prop::sample::select(vec!["http", ""]),
                    prop::sample::select(vec!["", "/vip-a:80", "vip-b:8080", "10.9.9.9:80"]),
                ),
                0..3,
            ),
        )
            .prop_map(|(name, ports)| {
                let ports = ports
                    .into_iter()
                    .map(|(number, protocol, name, vip)| {
                        let shape = PortShape {
                            protocol: protocol.into(),
                            name: name.into(),
                            vips: (!vip.is_empty()).then(|| vip.into()).into_iter().collect(),
                        };
                        (number, shape)
                    })
                    .collect();
                Discovery::new(name, ports)
            }),
    )
}

fn task() -> impl Strategy<Value = Task> {
    (
        (0u8..8, 0u8..3, 0u8..5, any::<bool>()),
        prop::sample::select(vec!["web", "db", "web.v2", "API", "web"]),
        prop::collection::vec(status(), 0..3),
        prop::collection::vec(prop::sample::select(vec![31000u16, 31001, 80]), 0..3),
        discovery(),
        (
            any::<bool>(),
            prop::collection::vec(
                (
                    0usize..3,
                    prop::sample::select(vec!["tcp://vip-a:80", "udp://vip-c:53"]),
                ),
                0..2,
            ),
        ),
    )
        .prop_map(
            |(
                (id, framework, agent, running),
                name,
                statuses,
                ports,
                discovery,
                (host_port_mapped, vip_labels),
            )| Task {
                id: format!("t{id}").into(),
                instance: 0,
                name: name.into(),
                framework_id: format!("f{framework}").into(),
                agent_id: format!("a{agent}").into(),
                running,
                last_status_running: (!statuses.is_empty()).then_some(true),
                running_statuses: statuses.into(),
                ports: ports.into(),
                discovery,
                host_port_mapped,
                rare: TaskRare::of(
                    None,
                    vip_labels.into_iter().map(|(i, v)| (i, v.into())).collect(),
                ),
            },
        )
}

fn framework() -> impl Strategy<Value = (Box<str>, Framework)> {
    (
        0u8..3,
        prop::sample::select(vec!["marathon", "Marathon", "chronos", "a.b", "###"]),
        prop::option::of(prop::sample::select(vec![
            "scheduler@10.2.0.1:8080",
            "scheduler@10.2.0.2:8080",
            "garbage",
        ])),
    )
        .prop_map(|(id, name, pid)| {
            (
                format!("f{id}").into(),
                Framework {
                    name: name.into(),
                    pid: pid.map(Into::into),
                    hostname: "10.2.0.9".into(),
                },
            )
        })
}

fn agent() -> impl Strategy<Value = (Box<str>, Agent)> {
    (
        0u8..4,
        prop::option::of(prop::sample::select(vec![
            "slave(1)@10.0.0.1:5051",
            "slave(1)@10.0.0.2:5051",
            "slave(1)@[fd00::a]:5051",
            "slave(1)@agent.example:5051",
            "garbage",
        ])),
    )
        .prop_map(|(id, pid)| {
            (
                format!("a{id}").into(),
                Agent {
                    pid: pid.map(Into::into),
                    hostname: format!("agent{id}.example"),
                },
            )
        })
}

fn whole_state() -> impl Strategy<Value = ClusterState> {
    (
        prop::sample::select(vec!["master@10.9.0.1:5050", "master@10.9.0.2:5050", ""]),
        prop::collection::vec(framework(), 0..3),
        prop::collection::vec(agent(), 0..4),
        prop::collection::vec(task(), 0..8),
    )
        .prop_map(|(leader, frameworks, agents, tasks)| ClusterState {
            leader: leader.into(),
            frameworks,
            agents,
            // Whole states hold each task once, as a master's do.
            tasks: dedup_tasks(tasks),
        })
}

fn dedup_tasks(tasks: Vec<Task>) -> Vec<Task> {
    let mut seen = std::collections::HashSet::new();
    tasks.into_iter().filter(|t| seen.insert(t.key())).collect()
}

#[derive(Clone, Debug)]
enum Step {
    Change(Change),
    State(ClusterState),
    Masters(Vec<String>),
    Publish,
}

fn step() -> impl Strategy<Value = Step> {
    let update = (
        0u8..8,
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(status()),
    )
        .prop_map(|(id, framework, running, terminal, status)| {
            Change::TaskUpdated(StatusUpdate {
                framework_id: format!("f{framework}"),
                task_id: format!("t{id}"),
                running,
                terminal,
                status,
            })
        });
    prop_oneof![
        4 => task().prop_map(|t| Step::Change(Change::TaskAdded(t))),
        4 => update.prop_map(Step::Change),
        1 => framework().prop_map(|(id, framework)| Step::Change(Change::FrameworkUpserted { id, framework })),
        1 => (0u8..3).prop_map(|i| Step::Change(Change::FrameworkRemoved { id: format!("f{i}").into() })),
        1 => agent().prop_map(|(id, agent)| Step::Change(Change::AgentUpserted { id, agent })),
        1 => (0u8..4).prop_map(|i| Step::Change(Change::AgentRemoved { id: format!("a{i}").into() })),
        1 => whole_state().prop_map(Step::State),
        1 => prop::collection::vec(prop::sample::select(vec!["10.9.0.1:5050", "10.9.0.2:5050", "10.9.0.3:5050"]), 0..3)
            .prop_map(|l| Step::Masters(l.into_iter().map(String::from).collect())),
        2 => Just(Step::Publish),
    ]
}

fn assert_same_shards(what: &str, a: &Snapshot, b: &Snapshot) {
    for (i, (x, y)) in a.shards().zip(b.shards()).enumerate() {
        assert_eq!(x.canonical(), y.canonical(), "{what}: shard {i} differs");
    }
    assert_eq!(a.counts, b.counts, "{what}: counts differ");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn deltas_equal_a_full_rebuild(
        initial in whole_state(),
        steps in prop::collection::vec(step(), 1..40),
        policy in prop::sample::select(vec!["one", "unambiguous", "all"]),
    ) {
        let config = config(policy);
        let listener: Vec<IpAddr> = vec![config.listener];
        let mut masters = config.masters.clone().unwrap();
        let mut engine = Engine::new(config.clone());
        let mut served = Snapshot::empty(&config);
        engine.apply_state(initial, &masters, &listener);
        for step in steps {
            match step {
                Step::Change(change) => engine.apply_changes(vec![change]),
                Step::State(state) => engine.apply_state(state, &masters, &listener),
                Step::Masters(list) => {
                    masters = list;
                    let leader = engine.cluster().leader.clone();
                    engine.set_cluster_inputs(&leader, &masters, &listener);
                }
                Step::Publish => {
                    if let Some((next, _)) = engine.publish(&served) {
                        served = next;
                        // As a server does once it serves the snapshot: later changes
                        // give names their nodes back from the sets.
                        engine.let_go_of_nodes();
                    }
                }
            }
        }
        if let Some((next, _)) = engine.publish(&served) {
            served = next;
        }
        prop_assert_eq!(engine.store().inconsistencies, 0);

        // The same model, loaded whole into a fresh engine.
        let mut fresh = Engine::new(config.clone());
        fresh.apply_state(engine.cluster().to_state(), &masters, &listener);
        let (rebuilt, _) = fresh.publish(&Snapshot::empty(&config)).unwrap();
        assert_same_shards("fresh engine", &served, &rebuilt);

        // And the classic path: the full generator, compiled whole.
        let (set, _) = generate_cluster(&config, engine.cluster());
        let full = compile(set, &config, 1);
        assert_same_shards("full generation", &served, &full);
    }
}
