//! Subscribing and polling publish the same names: one cluster read both as an operator
//! API stream and as `/master/state` (the spec's fixtures, and larger cases made here)
//! must give exactly the same records.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::{config_from, data_path, v1};
use mesos_dns::cluster::Change;
use mesos_dns::config::Config;
use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::operator::{Event, Record};
use mesos_dns::mesos::recordio::RecordReader;
use mesos_dns::mesos::state::State;
use mesos_dns::records::enumerate::{AxfrKind, AxfrSource};
use mesos_dns::snapshot::Snapshot;
use serde_json::{Value, json};
use std::net::IpAddr;

fn config() -> Config {
    config_from(
        r#"{"masters":["10.10.0.1:5050"],"listener":"127.0.0.1","externalOn":false,
            "IPSources":["netinfo","docker","mesos","host"]}"#,
    )
    .unwrap()
}

/// Every (name, type, value) the engine holds, sorted.
fn records(engine: &Engine) -> Vec<(String, &'static str, String)> {
    let store = engine.store();
    let mut out = Vec::new();
    for name in store.names() {
        for (kind, label) in [
            (AxfrKind::A, "A"),
            (AxfrKind::Aaaa, "AAAA"),
            (AxfrKind::Srv, "SRV"),
        ] {
            for value in store.values(&name, kind) {
                out.push((name.to_string(), label, value));
            }
        }
    }
    out.sort();
    out
}

/// The records of a RecordIO stream, replayed through the delta pipeline.
fn from_stream(config: &Config, stream: &[u8], leader: &str) -> (Engine, Snapshot) {
    let listener: Vec<IpAddr> = vec![config.listener];
    let masters = config.masters.clone().unwrap();
    let mut engine = Engine::new(config.clone());
    let mut reader = RecordReader::new(stream);
    while let Some(len) = reader.next_length(1 << 30).unwrap() {
        let event = Event::from_slice(&reader.read_record(len).unwrap()).unwrap();
        match event.into_record(leader) {
            Record::Subscribed(state, _) => engine.apply_state(state, &masters, &listener),
            Record::Change(change) => engine.apply_changes(vec![change]),
            Record::Heartbeat | Record::Other => {}
        }
    }
    let (snapshot, _) = engine.publish(&Snapshot::empty(config)).unwrap();
    (engine, snapshot)
}

/// The records of a `/master/state` document.
fn from_state(config: &Config, document: &[u8]) -> (Engine, Snapshot) {
    let listener: Vec<IpAddr> = vec![config.listener];
    let masters = config.masters.clone().unwrap();
    let mut engine = Engine::new(config.clone());
    let state = State::from_slice(document).unwrap().into_cluster_state();
    engine.apply_state(state, &masters, &listener);
    let (snapshot, _) = engine.publish(&Snapshot::empty(config)).unwrap();
    (engine, snapshot)
}

fn same_snapshots(a: &Snapshot, b: &Snapshot) {
    for (i, (x, y)) in a.shards().zip(b.shards()).enumerate() {
        assert_eq!(x.canonical(), y.canonical(), "shard {i} differs");
    }
}

#[test]
fn the_spec_fixture_gives_the_same_47_records_both_ways() {
    let config = config();
    let stream = std::fs::read(data_path("subscribe-example.recordio")).unwrap();
    let state = std::fs::read(data_path("subscribe-example.state.json")).unwrap();
    let (streamed, streamed_snapshot) = from_stream(&config, &stream, "10.10.0.1:5050");
    let (polled, polled_snapshot) = from_state(&config, &state);
    let (s, p) = (records(&streamed), records(&polled));
    assert_eq!(s, p);
    assert_eq!(s.len(), 47, "{s:#?}");
    same_snapshots(&streamed_snapshot, &polled_snapshot);
    let has = |name: &str, kind: &str, value: &str| {
        s.iter()
            .any(|(n, k, v)| n == name && *k == kind && v == value)
    };
    assert!(has("web.marathon.mesos.", "A", "172.17.0.2"));
    assert!(has("api.marathon.mesos.", "A", "9.0.1.5"));
    assert!(has("api.marathon.mesos.", "AAAA", "fd01:b::5"));
    assert!(has("broker-0.kafka.mesos.", "A", "10.30.0.7"));
    assert!(has("worker.marathon.mesos.", "A", "10.20.0.3"));
    assert!(s.iter().any(|(n, k, v)| n == "_pg._db._tcp.marathon.mesos."
        && *k == "SRV"
        && v.ends_with(":31200")
        && v.starts_with("db-")));
    for ip in ["10.20.0.1", "10.20.0.2", "10.20.0.3", "10.20.0.4"] {
        assert!(has("slave.mesos.", "A", ip), "{ip}");
    }
    assert!(
        !s.iter()
            .any(|(n, _, _)| n.starts_with("cache.") || n.starts_with("broker-1-server."))
    );
}

/// A state document built here, rich in the cases where the two forms differ in shape.
fn rich_state() -> Value {
    let status = |ts: f64, extra: Value| {
        let mut s = json!({"state":"TASK_RUNNING","timestamp":ts});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    let netinfo = |ips: &[&str]| {
        json!({"container_status":{"network_infos":[{"ip_addresses":
            ips.iter().map(|ip| json!({"ip_address": ip})).collect::<Vec<_>>()}]}})
    };
    let label = |key: &str, ip: &str| json!({"labels":[{"key":key,"value":ip}]});
    json!({
        "leader": "master@10.10.0.1:5050",
        "frameworks": [
            {"id":"fw-m","name":"marathon","hostname":"10.10.0.5","tasks":[
                {"id":"web.1","name":"web","framework_id":"fw-m","slave_id":"ag-S0","state":"TASK_RUNNING",
                 "resources":{"ports":"[31000-31002, 31010-31010]"},
                 "statuses":[status(1.0, netinfo(&["10.1.0.1","fd00::1"])), status(2.0, netinfo(&["10.1.0.9"]))]},
                {"id":"web.2","name":"web","framework_id":"fw-m","slave_id":"ag-S1","state":"TASK_RUNNING",
                 "statuses":[status(5.0, label("Docker.NetworkSettings.IPAddress","172.17.0.9"))]},
                {"id":"db.1","name":"db","framework_id":"fw-m","slave_id":"ag-S6","state":"TASK_RUNNING",
                 "statuses":[status(1.0, label("MesosContainerizer.NetworkSettings.IPAddress","9.9.9.9"))],
                 "discovery":{"name":"Postgres.Main","ports":{"ports":[
                    {"number":5432,"name":"pg","protocol":"tcp"},{"number":5433,"protocol":""}]}}},
                {"id":"host.1","name":"hostnet","framework_id":"fw-m","slave_id":"ag-S2","state":"TASK_RUNNING",
                 "resources":{"ports":"[8080-8080]"}},
                {"id":"gone.1","name":"gone","framework_id":"fw-m","slave_id":"ag-S3","state":"TASK_RUNNING"},
                {"id":"stage.1","name":"staging","framework_id":"fw-m","slave_id":"ag-S0","state":"TASK_STAGING"}
            ]},
            {"id":"fw-k","name":"Kafka.Brokers","hostname":"kafka.example","tasks":[
                {"id":"b.1","name":"broker","framework_id":"fw-k","slave_id":"ag-S1","state":"TASK_RUNNING",
                 "statuses":[status(3.0, netinfo(&["2001:db8::7"]))]}
            ]}
        ],
        "slaves": [
            {"id":"ag-S0","pid":"slave(1)@10.20.0.1:5051","hostname":"a0"},
            {"id":"ag-S1","pid":"slave(1)@[fd00::20]:5051","hostname":"a1"},
            {"id":"ag-S2","pid":"slave(1)@agent-2.example:5051","hostname":"a2"},
            {"id":"ag-S3","pid":"slave(1)@10.20.0.3:5051","hostname":"a3"}
        ]
    })
}

#[test]
fn a_rich_cluster_gives_the_same_records_both_ways() {
    let config = config();
    let v0 = rich_state();
    // The agent ag-S6 of db.1 is not known yet: it registers by an event later.
    let mut stream = v1::stream_of(&v0);
    let late_agent = json!({"id":"ag-S6","pid":"slave(1)@10.20.0.6:5051","hostname":"a6"});
    stream.extend(v1::record(&v1::agent_added(&late_agent)));
    // An agent is removed with its task (the task first, as Mesos does).
    stream.extend(v1::record(&json!({"type":"TASK_UPDATED","task_updated":{
        "framework_id":{"value":"fw-m"},
        "status":{"task_id":{"value":"gone.1"},"state":"TASK_LOST","agent_id":{"value":"ag-S3"},"timestamp":9.0},
        "state":"TASK_LOST"}})));
    stream.extend(v1::record(
        &json!({"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":"ag-S3"}}}),
    ));
    let (streamed, streamed_snapshot) = from_stream(&config, &stream, "10.10.0.1:5050");

    let mut after = v0.clone();
    after["slaves"].as_array_mut().unwrap().push(late_agent);
    after["slaves"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["id"] != "ag-S3");
    after["frameworks"][0]["tasks"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["id"] != "gone.1");
    let (polled, polled_snapshot) = from_state(&config, &serde_json::to_vec(&after).unwrap());
    let (s, p) = (records(&streamed), records(&polled));
    assert_eq!(s, p);
    same_snapshots(&streamed_snapshot, &polled_snapshot);
    // The cases are all there: IP sources, DiscoveryInfo, IPv6, the late agent.
    let names: Vec<&str> = s.iter().map(|(n, _, _)| n.as_str()).collect();
    for name in [
        "web.marathon.mesos.",
        "_web._tcp.marathon.mesos.",
        "postgres-main.marathon.mesos.",
        "_pg._postgres-main._tcp.marathon.mesos.",
        "broker.kafka.brokers.mesos.",
        "_hostnet._tcp.marathon.mesos.",
        "slave.mesos.",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("gone.") || n.starts_with("staging."))
    );
    let web: Vec<&str> = s
        .iter()
        .filter(|(n, _, _)| n == "web.marathon.mesos.")
        .map(|(_, _, v)| v.as_str())
        .collect();
    assert_eq!(web, vec!["10.1.0.9", "172.17.0.9"]);
    let srv = s
        .iter()
        .filter(|(n, k, _)| n == "_web._tcp.marathon.mesos." && *k == "SRV")
        .count();
    assert_eq!(srv, 4, "the 4 ports of web.1 (web.2 has none): {s:#?}");
}

#[test]
fn stream_changes_after_subscribed_match_a_poll_of_the_end_state() {
    // Replaying the fixture change by change and publishing after each must end where
    // the poll of the final state is.
    let config = config();
    let stream = std::fs::read(data_path("subscribe-example.recordio")).unwrap();
    let listener: Vec<IpAddr> = vec![config.listener];
    let masters = config.masters.clone().unwrap();
    let mut engine = Engine::new(config.clone());
    let mut served = Snapshot::empty(&config);
    let mut reader = RecordReader::new(&stream[..]);
    let mut changes = 0;
    while let Some(len) = reader.next_length(1 << 30).unwrap() {
        match Event::from_slice(&reader.read_record(len).unwrap())
            .unwrap()
            .into_record("10.10.0.1:5050")
        {
            Record::Subscribed(state, _) => engine.apply_state(state, &masters, &listener),
            Record::Change(change) => {
                assert!(!matches!(change, Change::FrameworkRemoved { .. }));
                engine.apply_changes(vec![change]);
                changes += 1;
            }
            _ => {}
        }
        if let Some((next, _)) = engine.publish(&served) {
            served = next;
        }
    }
    assert_eq!(changes, 4);
    let state = std::fs::read(data_path("subscribe-example.state.json")).unwrap();
    let (_, polled) = from_state(&config, &state);
    same_snapshots(&served, &polled);
}
