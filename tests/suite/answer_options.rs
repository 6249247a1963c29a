//! Opt-in answer shaping and answer fixes, through the real binary over UDP and TCP:
//! `HealthyOnly`, `MaxAnswers`, a 300-record SRV set over TCP with every additional
//! address, the RFC 952 canonical label, each with exact expected answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::server::{Server, query, temp_dir};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// A running task of framework `marathon` on agent `agent` with address `ip` (netinfo),
/// one port, and `healthy` as its status says.
fn task(id: &str, name: &str, agent: usize, ip: Ipv4Addr, healthy: Option<bool>) -> Value {
    let mut status = json!({
        "state": "TASK_RUNNING", "timestamp": 1.0,
        "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": ip.to_string()}]}]},
    });
    if let Some(h) = healthy {
        status["healthy"] = json!(h);
    }
    json!({
        "id": id, "name": name, "slave_id": format!("agent-S{agent}"), "state": "TASK_RUNNING",
        "statuses": [status], "resources": {"ports": format!("[{p}-{p}]", p = 31000 + agent)},
    })
}

/// A state with `agents` agents (`agent-S<i>` at 10.0.<i/250>.<i%250+1>) and `tasks`.
fn state(agents: usize, tasks: Vec<Value>) -> Value {
    let slaves: Vec<Value> = (0..agents)
        .map(|i| {
            json!({"id": format!("agent-S{i}"), "hostname": format!("agent{i}"),
                   "pid": format!("slave(1)@10.0.{}.{}:5051", i / 250, i % 250 + 1)})
        })
        .collect();
    json!({
        "leader": "master@10.9.0.1:5050",
        "frameworks": [{"id": "fw-1", "name": "marathon", "hostname": "m1",
                        "pid": "scheduler(1)@10.9.0.2:8080", "tasks": tasks}],
        "slaves": slaves,
    })
}

fn start(state: &Value, extra: &str) -> Server {
    let dir = temp_dir();
    let path = dir.join("options-state.json");
    std::fs::write(&path, serde_json::to_vec(state).unwrap()).unwrap();
    let s = Server::start(
        &path,
        &format!(r#","masters":["10.9.0.1:5050"],"IPSources":["netinfo","host"]{extra}"#),
    );
    let _ = std::fs::remove_dir_all(dir);
    s
}

/// The reply over UDP and over TCP (which must agree).
fn both(s: &Server, name: &str, rtype: RecordType) -> Message {
    let q = query(name, rtype);
    let udp = s.udp(&q);
    let tcp = s.tcp(std::slice::from_ref(&q)).remove(0);
    assert_eq!(udp.response_code(), tcp.response_code(), "{name} {rtype}");
    assert_eq!(udp.answers().len(), tcp.answers().len(), "{name} {rtype}");
    udp
}

fn addresses(m: &Message) -> BTreeSet<String> {
    m.answers().iter().map(|r| r.data().to_string()).collect()
}

fn health_state() -> Value {
    state(
        3,
        vec![
            task("ok.1", "ok", 0, Ipv4Addr::new(10, 1, 0, 1), Some(true)),
            task("sick.1", "sick", 1, Ipv4Addr::new(10, 1, 0, 2), Some(false)),
            task("plain.1", "plain", 2, Ipv4Addr::new(10, 1, 0, 3), None),
        ],
    )
}

#[test]
fn healthy_only_leaves_out_failing_tasks() {
    let on = start(&health_state(), r#","HealthyOnly":true"#);
    let a = |name: &str| both(&on, name, RecordType::A);
    assert_eq!(
        addresses(&a("ok.marathon.mesos.")),
        ["10.1.0.1".to_string()].into()
    );
    assert_eq!(
        addresses(&a("plain.marathon.mesos.")),
        ["10.1.0.3".to_string()].into()
    );
    let sick = a("sick.marathon.mesos.");
    assert_eq!(sick.response_code(), ResponseCode::NXDomain);
    let srv = both(&on, "_sick._tcp.marathon.mesos.", RecordType::SRV);
    assert_eq!(srv.response_code(), ResponseCode::NXDomain);
    assert_eq!(
        both(&on, "_ok._tcp.marathon.mesos.", RecordType::SRV)
            .answers()
            .len(),
        1
    );

    // Off (the default): every running task answers, as before.
    let off = start(&health_state(), "");
    assert_eq!(
        addresses(&both(&off, "sick.marathon.mesos.", RecordType::A)),
        ["10.1.0.2".to_string()].into()
    );
}

fn web_state() -> Value {
    let tasks = (0..5)
        .map(|i| {
            task(
                &format!("web.{i}"),
                "web",
                i,
                Ipv4Addr::new(10, 2, 0, i as u8 + 1),
                None,
            )
        })
        .collect();
    state(5, tasks)
}

#[test]
fn max_answers_caps_each_set_without_truncation() {
    let s = start(&web_state(), r#","MaxAnswers":2"#);
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let r = both(&s, "web.marathon.mesos.", RecordType::A);
        assert_eq!(r.answers().len(), 2);
        assert!(!r.truncated());
        seen.extend(addresses(&r));
    }
    // The rotation chooses the two: every address comes round.
    assert_eq!(seen.len(), 5, "{seen:?}");

    // SRV: two records, and additional addresses for those two targets only.
    for _ in 0..5 {
        let r = both(&s, "_web._tcp.marathon.mesos.", RecordType::SRV);
        assert_eq!(r.answers().len(), 2);
        assert!(!r.truncated());
        let targets: BTreeSet<String> = r
            .answers()
            .iter()
            .map(|rr| match rr.data() {
                RData::SRV(srv) => srv.target().to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        let owners: BTreeSet<String> = r
            .additionals()
            .iter()
            .filter(|rr| rr.record_type() == RecordType::A)
            .map(|rr| rr.name().to_string())
            .collect();
        assert_eq!(owners, targets);
    }

    // Without the key every record is answered.
    let all = start(&web_state(), "");
    assert_eq!(
        both(&all, "web.marathon.mesos.", RecordType::A)
            .answers()
            .len(),
        5
    );
}

/// 300 targets: the SRV answer passes 16 KiB, beyond the reach of compression pointers;
/// the targets there are written out, and every one has its address.
#[test]
fn big_srv_over_tcp_keeps_every_additional() {
    let tasks = (0..300)
        .map(|i| {
            let ip = Ipv4Addr::new(10, 3, (i / 250) as u8, (i % 250) as u8 + 1);
            task(&format!("big.{i}"), "big", i, ip, None)
        })
        .collect();
    let s = start(&state(300, tasks), "");
    let r = s
        .tcp(&[query("_big._tcp.marathon.mesos.", RecordType::SRV)])
        .remove(0);
    assert_eq!(r.answers().len(), 300);
    assert!(!r.truncated());
    let mut expected = BTreeSet::new();
    for rr in r.answers() {
        let RData::SRV(srv) = rr.data() else {
            panic!("{rr:?}")
        };
        expected.insert(srv.target().to_string());
    }
    let mut got = BTreeSet::new();
    for rr in r.additionals() {
        if let RData::A(a) = rr.data() {
            // Each target `big-<hash>-s<i>.marathon.slave.mesos.` answers its agent's
            // address: check it against the number in the name.
            let name = rr.name().to_string();
            let i: usize = name
                .split('.')
                .next()
                .and_then(|l| l.rsplit("-s").next())
                .and_then(|n| n.parse().ok())
                .expect("a target name ending in -s<agent>");
            assert_eq!(
                a.0,
                Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1),
                "{name}"
            );
            got.insert(name);
        }
    }
    assert_eq!(got, expected, "every target has its address");
}

/// Under RFC 952 a label cut at 24 octets can end in a hyphen (the reference's refill):
/// the task's own name drops it, the canonical `T-H-S` label keeps it, as the reference
/// writes that name.
#[test]
fn rfc952_canonical_label_is_the_references() {
    let name = format!("ab{}c-", "-".repeat(22));
    let s = start(
        &state(
            1,
            vec![task("odd.1", &name, 0, Ipv4Addr::new(10, 4, 0, 1), None)],
        ),
        r#","EnforceRFC952":true"#,
    );
    let hash = String::from_utf8(mesos_dns::records::hash::task_hash("odd.1").to_vec()).unwrap();
    for owner in [
        "abc.marathon.mesos.".to_string(),
        format!("abc--{hash}-s0.marathon.mesos."),
    ] {
        assert_eq!(
            addresses(&both(&s, &owner, RecordType::A)),
            ["10.4.0.1".to_string()].into(),
            "{owner}"
        );
    }
    let srv = both(&s, "_abc._tcp.marathon.mesos.", RecordType::SRV);
    let RData::SRV(record) = srv.answers()[0].data() else {
        panic!("{srv:?}")
    };
    assert_eq!(
        record.target().to_string(),
        format!("abc--{hash}-s0.marathon.slave.mesos.")
    );
    assert_eq!(
        both(&s, &format!("abc-{hash}-s0.marathon.mesos."), RecordType::A).response_code(),
        ResponseCode::NXDomain
    );
}

/// Two tasks share a container address, one task runs on its agent's address, and an
/// agent has a host name: what each `ReversePolicy` answers.
fn reverse_state() -> Value {
    let mut s = state(
        3,
        vec![
            task("web.1", "web", 0, Ipv4Addr::new(10, 5, 0, 1), None),
            task("api.1", "api", 1, Ipv4Addr::new(10, 5, 0, 1), None),
            task("solo.1", "solo", 2, Ipv4Addr::new(10, 5, 0, 2), None),
            // Host networking: its address is its agent's (10.0.0.3).
            task("host.1", "host", 2, Ipv4Addr::new(10, 0, 0, 3), None),
        ],
    );
    s["slaves"][2]["hostname"] = json!("Agent2.Example.Org");
    s
}

fn ptr_names(m: &Message) -> Vec<String> {
    let mut names: Vec<String> = m
        .answers()
        .iter()
        .map(|rr| match rr.data() {
            RData::PTR(name) => name.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn reverse_zones_answer_ptr_by_policy() {
    let canonical = |label: &str, id: &str, agent: usize| {
        let hash = String::from_utf8(mesos_dns::records::hash::task_hash(id).to_vec()).unwrap();
        format!("{label}-{hash}-s{agent}.marathon.mesos.")
    };
    let (web, api, solo) = (
        canonical("web", "web.1", 0),
        canonical("api", "api.1", 1),
        canonical("solo", "solo.1", 2),
    );
    let zones = r#","ReverseZones":["10.5.0.0/16","10.0.0.0/24"]"#;
    for (policy, shared, agent) in [
        (
            "one",
            vec![api.clone()],
            vec!["agent2.example.org.".to_string()],
        ),
        (
            "unambiguous",
            vec![],
            vec!["agent2.example.org.".to_string()],
        ),
        (
            "all",
            vec![api.clone(), web.clone()],
            vec!["agent2.example.org.".to_string()],
        ),
    ] {
        let s = start(
            &reverse_state(),
            &format!(r#"{zones},"ReversePolicy":"{policy}""#),
        );
        let ptr = |name: &str| both(&s, name, RecordType::PTR);
        let r = ptr("1.0.5.10.in-addr.arpa.");
        assert!(r.authoritative(), "{policy}");
        assert_eq!(ptr_names(&r), shared, "{policy}: shared address");
        // A name that serves nothing and has nothing below it does not exist (RFC 8020):
        // NXDOMAIN with the zone's SOA, not NODATA.
        let rcode = if shared.is_empty() {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        assert_eq!(r.response_code(), rcode, "{policy}: shared address");
        if shared.is_empty() {
            assert_eq!(
                r.name_servers()[0].name().to_string(),
                "5.10.in-addr.arpa.",
                "{policy}"
            );
        }
        assert_eq!(
            ptr_names(&ptr("2.0.5.10.in-addr.arpa.")),
            std::slice::from_ref(&solo),
            "{policy}"
        );
        assert_eq!(ptr_names(&ptr("3.0.0.10.in-addr.arpa.")), agent, "{policy}");
        // An address nothing uses: NXDOMAIN with the reverse zone's SOA.
        let none = ptr("9.9.5.10.in-addr.arpa.");
        assert_eq!(none.response_code(), ResponseCode::NXDomain);
        assert_eq!(
            none.name_servers()[0].name().to_string(),
            "5.10.in-addr.arpa."
        );
        // Names between the apex and the addresses exist (NODATA).
        let ent = ptr("0.5.10.in-addr.arpa.");
        assert_eq!(ent.response_code(), ResponseCode::NoError);
        assert!(ent.answers().is_empty());
        // The zone's own SOA and NS.
        assert_eq!(
            both(&s, "5.10.in-addr.arpa.", RecordType::SOA)
                .answers()
                .len(),
            1
        );
        assert_eq!(
            both(&s, "0.0.10.in-addr.arpa.", RecordType::NS)
                .answers()
                .len(),
            1
        );
        // Outside every reverse zone: not ours (forwarding is off: REFUSED).
        assert_eq!(
            s.udp(&query("1.0.6.10.in-addr.arpa.", RecordType::PTR))
                .response_code(),
            ResponseCode::Refused
        );
    }
    // Forward and reverse agree: the canonical names answer the address.
    let s = start(&reverse_state(), zones);
    for name in [&web, &api] {
        assert_eq!(
            addresses(&both(&s, name, RecordType::A)),
            ["10.5.0.1".to_string()].into()
        );
    }
    // Without ReverseZones no reverse name is ours.
    let off = start(&reverse_state(), "");
    assert_eq!(
        off.udp(&query("1.0.5.10.in-addr.arpa.", RecordType::PTR))
            .response_code(),
        ResponseCode::Refused
    );
}

fn dcos_state() -> Value {
    let mut web = task("web.1", "Web_App.v2", 0, Ipv4Addr::new(10, 6, 0, 1), None);
    web["labels"] = json!([{"key": "VIP_PORT0", "value": "tcp://web-vip:80"}]);
    let mut web2 = task("web.2", "Web_App.v2", 2, Ipv4Addr::new(10, 6, 0, 3), None);
    web2["labels"] = json!([{"key": "VIP_PORT0", "value": "tcp://web-vip:80"}]);
    let mut db = task("db.1", "db", 1, Ipv4Addr::new(10, 6, 0, 2), None);
    db["container"] = json!({"type": "DOCKER", "docker": {"port_mappings": [
        {"host_port": 31001, "container_port": 5432, "protocol": "tcp"}]}});
    db["discovery"] = json!({"name": "Data.Base", "ports": {"ports": [
        {"number": 31001, "protocol": "tcp", "name": "pg",
         "labels": {"labels": [{"key": "VIP_0", "value": "/db:5432"}]}},
        {"number": 31002, "protocol": "udp", "name": "metrics",
         "labels": {"labels": [{"key": "VIP_1", "value": "10.99.0.1:9000"}]}}]}});
    state(3, vec![web, web2, db])
}

fn srv_rows(m: &Message) -> BTreeSet<String> {
    m.answers()
        .iter()
        .map(|rr| match rr.data() {
            RData::SRV(srv) => format!("{}:{}", srv.target(), srv.port()),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn dcos_names_task_names_vips_and_the_mirror() {
    let s = start(&dcos_state(), r#","DCOSNames":true"#);
    let set = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let a = |name: &str| {
        let r = both(&s, name, RecordType::A);
        assert_eq!(r.response_code(), ResponseCode::NoError, "{name}");
        r
    };
    // Task names: agentip, containerip, autoip (own address unless port-mapped).
    let web = "web-app-v2.marathon";
    assert_eq!(
        addresses(&a(&format!("{web}.agentip.dcos.thisdcos.directory."))),
        set(&["10.0.0.1", "10.0.0.3"])
    );
    assert_eq!(
        addresses(&a(&format!("{web}.containerip.dcos.thisdcos.directory."))),
        set(&["10.6.0.1", "10.6.0.3"])
    );
    let auto = a(&format!("{web}.autoip.dcos.thisdcos.directory."));
    assert_eq!(addresses(&auto), set(&["10.6.0.1", "10.6.0.3"]));
    assert!(auto.answers().iter().all(|rr| rr.ttl() == 5), "DCOSTTL");
    // The DiscoveryInfo name wins; port-mapped: autoip is the agent's address.
    assert_eq!(
        addresses(&a("data-base.marathon.autoip.dcos.thisdcos.directory.")),
        set(&["10.0.0.2"])
    );
    assert_eq!(
        addresses(&a(
            "data-base.marathon.containerip.dcos.thisdcos.directory."
        )),
        set(&["10.6.0.2"])
    );
    // Named VIPs: every backend's address, and SRV with each backend's real port.
    assert_eq!(
        addresses(&a("web-vip.marathon.l4lb.thisdcos.directory.")),
        set(&["10.6.0.1", "10.6.0.3"])
    );
    assert_eq!(
        srv_rows(&both(
            &s,
            "_web-vip._tcp.marathon.l4lb.thisdcos.directory.",
            RecordType::SRV
        )),
        set(&[
            "web-app-v2.marathon.autoip.dcos.thisdcos.directory.:31000",
            "web-app-v2.marathon.autoip.dcos.thisdcos.directory.:31002",
        ])
    );
    assert_eq!(
        addresses(&a("db.marathon.l4lb.thisdcos.directory.")),
        set(&["10.0.0.2"])
    );
    assert_eq!(
        srv_rows(&both(
            &s,
            "_db._tcp.marathon.l4lb.thisdcos.directory.",
            RecordType::SRV
        )),
        set(&["data-base.marathon.autoip.dcos.thisdcos.directory.:31001"])
    );
    // An IP VIP has no name.
    let none = both(
        &s,
        "_10-99-0-1._udp.marathon.l4lb.thisdcos.directory.",
        RecordType::SRV,
    );
    assert_eq!(none.response_code(), ResponseCode::NXDomain);
    assert_eq!(
        none.name_servers()[0].name().to_string(),
        "l4lb.thisdcos.directory."
    );
    // Each zone has its SOA and NS.
    for zone in ["dcos", "l4lb", "mesos"] {
        let apex = format!("{zone}.thisdcos.directory.");
        assert_eq!(
            both(&s, &apex, RecordType::SOA).answers().len(),
            1,
            "{apex}"
        );
        assert_eq!(both(&s, &apex, RecordType::NS).answers().len(), 1, "{apex}");
    }
    // mesos.thisdcos.directory. answers like the domain, SRV targets mirrored, TTL kept.
    let mirrored = a("web-app-v2.marathon.mesos.thisdcos.directory.");
    assert_eq!(addresses(&mirrored), set(&["10.6.0.1", "10.6.0.3"]));
    assert!(mirrored.answers().iter().all(|rr| rr.ttl() == 60));
    assert_eq!(
        addresses(&a("leader.mesos.thisdcos.directory.")),
        addresses(&a("leader.mesos."))
    );
    let srv = srv_rows(&both(
        &s,
        "_db._tcp.marathon.mesos.thisdcos.directory.",
        RecordType::SRV,
    ));
    let plain = srv_rows(&both(&s, "_db._tcp.marathon.mesos.", RecordType::SRV));
    assert_eq!(
        srv,
        plain
            .iter()
            .map(|t| t.replace(".mesos.:", ".mesos.thisdcos.directory.:"))
            .collect()
    );

    // The reference's documents stay as they were.
    for path in ["/v1/axfr", "/v1/enumerate"] {
        let body = s.get(path).body;
        assert!(body.contains("marathon.mesos."), "{path}");
        assert!(!body.contains("thisdcos"), "{path} lists DC/OS names");
    }

    // Off (the default): none of these names is ours.
    let off = start(&dcos_state(), "");
    assert_eq!(
        off.udp(&query(
            "web-vip.marathon.l4lb.thisdcos.directory.",
            RecordType::A
        ))
        .response_code(),
        ResponseCode::Refused
    );
}

proptest::proptest! {
    /// The DC/OS label rule on hostile names: only `[a-z0-9-]`, no leading hyphen, at
    /// most 63 octets, and stable when applied again.
    #[test]
    fn dcos_label_rule_holds_on_any_text(text in "\\PC{0,100}") {
        let label = mesos_dns::names::labels::dcos_label(&text);
        proptest::prop_assert!(label.len() <= 63);
        proptest::prop_assert!(!label.starts_with('-'));
        proptest::prop_assert!(label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'));
        proptest::prop_assert_eq!(mesos_dns::names::labels::dcos_label(&label), label.clone());
    }
}
