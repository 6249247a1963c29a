//! `/v1/enumerate` and `/v1/axfr` documents for the fixture (docs/spec/mesos-dns-behavior.md §9.7, setup R).

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::*;
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::records::RecordSet;
use mesos_dns::records::documents::{ZoneInfo, write_axfr, write_enumerate};
use serde_json::Value;

fn setup_r() -> RecordSet {
    let config = config_from(
        r#"{"masters":["144.76.157.37:5050"],"EnforceRFC952":true,"RecurseOn":false,"externalon":false,
            "IPSources":["netinfo","docker","mesos","host"],"listener":"127.0.0.1"}"#,
    )
    .unwrap();
    let state = fixture_state();
    let masters = config.masters.clone().unwrap();
    generate(
        &config,
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &[config.listener],
        },
    )
    .0
}

#[test]
fn enumerate_matches_spec() {
    let set = setup_r();
    let mut out = Vec::new();
    write_enumerate(&set, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let frameworks = doc["frameworks"].as_array().unwrap();
    let summary: Vec<(String, Vec<(String, usize)>)> = frameworks
        .iter()
        .map(|f| {
            let tasks = f["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let n = t["records"].as_array().map_or(0, |r| r.len());
                    (t["name"].as_str().unwrap().to_string(), n)
                })
                .collect();
            (f["name"].as_str().unwrap().to_string(), tasks)
        })
        .collect();
    let want: Vec<(String, Vec<(String, usize)>)> = vec![
        ("ipv6-framework".into(), vec![("toy-store".into(), 16)]),
        (
            "chronos with a space AND MIXED CASE-2.0.1".into(),
            vec![("some-box".into(), 8)],
        ),
        ("no pid".into(), vec![]),
        (
            "marathon".into(),
            vec![
                ("liquor.store".into(), 24),
                ("big.dog2".into(), 24),
                ("non-human-readable-liquor-store".into(), 24),
                ("car.store".into(), 12),
                ("chronos".into(), 8),
                ("nginx".into(), 4),
                ("reviewbot".into(), 8),
            ],
        ),
    ];
    assert_eq!(summary, want);
    assert_eq!(frameworks[2]["tasks"], Value::Array(vec![]));

    let chronos = &frameworks[3]["tasks"][4];
    assert_eq!(
        chronos["id"],
        "chronos.49b91a9a-3dda-11e4-a088-c20493233aa5"
    );
    let records: Vec<(String, String, String)> = chronos["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("rtype"), s("name"), s("host"))
        })
        .collect();
    let target = "chronos-rx8q6-0.marathon.slave.mesos.:31332";
    let want: Vec<(String, String, String)> = [
        ("A", "chronos.marathon.mesos.", "1.2.3.11"),
        ("A", "chronos-rx8q6-0.marathon.mesos.", "1.2.3.11"),
        ("A", "chronos.marathon.slave.mesos.", "1.2.3.11"),
        ("A", "chronos-rx8q6-0.marathon.slave.mesos.", "1.2.3.11"),
        ("SRV", "_chronos._tcp.marathon.slave.mesos.", target),
        ("SRV", "_chronos._udp.marathon.slave.mesos.", target),
        ("SRV", "_chronos._tcp.marathon.mesos.", target),
        ("SRV", "_chronos._udp.marathon.mesos.", target),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(records, want);
}

#[test]
fn enumerate_without_frameworks_is_null() {
    let set = RecordSet::default();
    let mut out = Vec::new();
    write_enumerate(&set, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"frameworks":null}"#);
}

#[test]
fn axfr_document() {
    let set = setup_r();
    let zone = ZoneInfo {
        ttl: 60,
        serial: 42,
        refresh_seconds: 60,
        mname: "ns1.mesos.",
        rname: "root.ns1.mesos.",
        domain: "mesos",
    };
    let mut out = Vec::new();
    write_axfr(&set, &zone, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(r#"{"TTL":60,"Serial":42,"RefreshSeconds":60,"Mname":"ns1.mesos.","Rname":"root.ns1.mesos.","Domain":"mesos","Records":{"As":{"#));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let records = &doc["Records"];
    let mut masters: Vec<&str> = records["As"]["master.mesos."]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    masters.sort();
    assert_eq!(masters, ["1.2.3.4", "144.76.157.37"]);
    assert_eq!(records["As"]["master0.mesos."][0], "144.76.157.37");
    assert_eq!(records["As"]["master1.mesos."][0], "1.2.3.4");
    assert_eq!(records["AAAAs"]["slave.mesos."][0], "2001:db8::1");
    assert_eq!(
        records["SRVs"]["_leader._tcp.mesos."][0],
        "leader.mesos.:5050"
    );
    // Names come sorted, as Go's map encoding writes them.
    let keys: Vec<&String> = records["As"].as_object().unwrap().keys().collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(keys, sorted_keys);
    let total: usize = ["As", "AAAAs", "SRVs"]
        .iter()
        .map(|t| {
            records[*t]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(total, set.insertion_log().len());
}

/// Two instances of one app on one agent with host networking publish the same
/// plain-name records: the server's `/v1/enumerate` (rendered from its model) lists each
/// under the first instance only, as Mesos-DNS does, and equals the classic generator's
/// document (which follows the reference's insertion order) on the fixture and on this.
#[test]
fn a_shared_record_is_listed_under_its_first_task() {
    use mesos_dns::control::engine::Engine;
    use mesos_dns::mesos::state::State;
    use mesos_dns::records::documents::DocumentKind;
    use serde_json::json;

    let config = config_from(
        r#"{"masters":["10.9.0.1:5050"],"listener":"127.0.0.1","externalOn":false,
            "IPSources":["host"]}"#,
    )
    .unwrap();
    let masters = config.masters.clone().unwrap();
    let instance = |id: &str| {
        json!({"id": id, "name": "web", "framework_id": "fw-1", "slave_id": "agent-S0",
               "state": "TASK_RUNNING", "resources": {"ports": "[31000-31000]"},
               "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0}]})
    };
    let shared = json!({
        "leader": "master@10.9.0.1:5050",
        "frameworks": [{"id": "fw-1", "name": "marathon", "hostname": "m1",
                        "pid": "scheduler(1)@10.9.0.2:8080",
                        "tasks": [instance("web.1"), instance("web.2")]}],
        "slaves": [{"id": "agent-S0", "hostname": "agent0",
                    "pid": "slave(1)@10.0.0.1:5051"}],
    });
    let fixture = std::fs::read(data_path("fake-state.json")).unwrap();
    for document in [serde_json::to_vec(&shared).unwrap(), fixture] {
        let state = State::from_slice(&document).unwrap();
        let inputs = Inputs {
            masters: &masters,
            listener_ips: &[config.listener],
        };
        let (set, _) = generate(&config, &state, inputs);
        let mut classic = Vec::new();
        write_enumerate(&set, &mut classic).unwrap();

        let mut engine = Engine::new(config.clone());
        engine.apply_state(state.into_cluster_state(), &masters, &[config.listener]);
        let served = engine.document(DocumentKind::Enumerate).to_vec();
        let (served, classic): (Value, Value) = (
            serde_json::from_slice(&served).unwrap(),
            serde_json::from_slice(&classic).unwrap(),
        );
        assert_eq!(served, classic);
    }
    // In the shared state: the first instance lists the plain name, the second only its
    // own canonical names.
    let state = State::from_slice(&serde_json::to_vec(&shared).unwrap()).unwrap();
    let mut engine = Engine::new(config.clone());
    engine.apply_state(state.into_cluster_state(), &masters, &[config.listener]);
    let doc: Value =
        serde_json::from_slice(&engine.document(DocumentKind::Enumerate).to_vec()).unwrap();
    let names = |task: usize| -> Vec<String> {
        doc["frameworks"][0]["tasks"][task]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["rtype"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let (first, second) = (names(0), names(1));
    assert!(
        first.contains(&"A web.marathon.mesos.".to_string()),
        "{first:?}"
    );
    assert!(
        first.contains(&"SRV _web._tcp.marathon.mesos.".to_string()),
        "{first:?}"
    );
    assert!(
        !second.iter().any(|n| n == "A web.marathon.mesos."),
        "{second:?}"
    );
    assert!(!second.is_empty(), "the second instance's canonical names");
}
