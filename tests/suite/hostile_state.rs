//! State documents that crash the reference or make it publish unusable names
//! (docs/spec/mesos-dns-behavior.md §4.11, §10.8-§10.10): here the item is skipped or the name fixed, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::*;
use mesos_dns::config::Config;
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::mesos::state::State;
use mesos_dns::records::{RecordSet, Report};
use proptest::prelude::*;
use serde_json::json;

fn config(rfc952: bool) -> Config {
    config_from(&format!(
        r#"{{"masters":["10.0.0.1:5050"],"externalon":false,"EnforceRFC952":{rfc952},
            "IPSources":["netinfo","docker","mesos","host"]}}"#
    ))
    .unwrap()
}

fn run(state: serde_json::Value, rfc952: bool) -> (RecordSet, Report) {
    let state: State = serde_json::from_value(state).unwrap();
    let masters = vec!["10.0.0.1:5050".to_string()];
    generate(
        &config(rfc952),
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &[],
        },
    )
}

fn task(name: &str, ports: &str) -> serde_json::Value {
    json!({"id": format!("{name}.1"), "name": name, "slave_id": "agent-S1", "state": "TASK_RUNNING",
           "resources": {"ports": ports}, "statuses": []})
}

fn state_with(tasks: Vec<serde_json::Value>, agent_pid: serde_json::Value) -> serde_json::Value {
    let mut agent = json!({"id": "agent-S1", "hostname": "a1"});
    if !agent_pid.is_null() {
        agent["pid"] = agent_pid;
    }
    json!({"leader": "master@10.0.0.1:5050",
           "frameworks": [{"name": "marathon", "pid": "scheduler@10.0.0.9:8080", "tasks": tasks}],
           "slaves": [agent]})
}

#[test]
fn port_strings_without_dash_or_bracket() {
    let (set, report) = run(
        state_with(
            vec![task("web", "[80]"), task("api", "81-82")],
            json!("slave(1)@10.1.1.1:5051"),
        ),
        false,
    );
    assert_eq!(
        values(&set, "SRV", "_web._tcp.marathon.mesos."),
        ["web-ybndr-s1.marathon.slave.mesos.:80".replace("ybndr", &hash_of("web.1"))]
    );
    assert!(values(&set, "SRV", "_api._tcp.marathon.mesos.").is_empty());
    assert_eq!(values(&set, "A", "api.marathon.mesos."), ["10.1.1.1"]);
    assert_eq!(report.skipped, 1, "{:?}", report.examples);
}

fn hash_of(id: &str) -> String {
    String::from_utf8(mesos_dns::records::hash::task_hash(id).to_vec()).unwrap()
}

#[test]
fn agent_without_pid_is_skipped_not_fatal() {
    let (set, report) = run(
        state_with(vec![task("web", "[]")], serde_json::Value::Null),
        false,
    );
    assert!(set.get("web.marathon.mesos.").is_none());
    assert!(
        set.get("marathon.mesos.").is_some(),
        "the rest of the state still counts"
    );
    assert_eq!(report.skipped, 1);
}

#[test]
fn bad_pids_skip_one_item() {
    for pid in [
        "",
        "no-at-sign",
        "a@b@c:1",
        "slave@10.1.1.1",
        "slave@10.1.1.1:port",
    ] {
        let (set, report) = run(state_with(vec![task("web", "[]")], json!(pid)), false);
        assert!(set.get("leader.mesos.").is_some(), "{pid:?}");
        assert!(set.get("web.marathon.mesos.").is_none(), "{pid:?}");
        assert!(report.skipped >= 1, "{pid:?}");
    }
    // A framework with a bad pid loses its own records only.
    let mut s = state_with(vec![task("web", "[]")], json!("slave(1)@10.1.1.1:5051"));
    s["frameworks"][0]["pid"] = json!("garbage");
    let (set, report) = run(s, false);
    assert!(set.get("marathon.mesos.").is_none());
    assert!(set.get("web.marathon.mesos.").is_some());
    assert_eq!(report.skipped, 1);
}

#[test]
fn host_names_are_not_resolved() {
    let mut s = state_with(
        vec![task("web", "[8080-8080]")],
        json!("slave(1)@agent-1.example:5051"),
    );
    s["frameworks"][0]["pid"] = json!("scheduler@localhost:8080");
    let (set, _) = run(s, false);
    assert!(set.get("marathon.mesos.").is_none());
    assert!(set.get("slave.mesos.").is_none());
    assert!(set.get("web.marathon.slave.mesos.").is_none());
    // The task still has its SRV records (its addresses come from the agent, which has none).
    assert_eq!(values(&set, "SRV", "_web._tcp.marathon.mesos.").len(), 1);
}

#[test]
fn labels_that_sanitise_to_nothing() {
    let mut s = state_with(
        vec![task("$$$", "[80-80]"), task("ok", "[]")],
        json!("slave(1)@10.1.1.1:5051"),
    );
    s["frameworks"][0]["name"] = json!("marathon");
    let (set, report) = run(s, false);
    assert!(set.iter().all(|(_, name, _)| !name.starts_with('.')
        && !name.contains("..")
        && !name.contains("_.")));
    assert!(set.get("ok.marathon.mesos.").is_some());
    assert_eq!(report.skipped, 1);

    let mut s = state_with(vec![task("web", "[]")], json!("slave(1)@10.1.1.1:5051"));
    s["frameworks"][0]["name"] = json!("###");
    let (set, _) = run(s, false);
    assert!(set.get("web.mesos.").is_none());
    assert!(
        set.iter()
            .all(|(_, name, _)| !name.starts_with('.') && !name.contains(".."))
    );
}

#[test]
fn long_labels_are_shortened_to_fit() {
    let name = "a".repeat(63);
    let (set, _) = run(
        state_with(
            vec![task(&name, "[80-80]")],
            json!("slave(1)@10.1.1.1:5051"),
        ),
        false,
    );
    let short = format!("{name}.marathon.mesos.");
    assert!(set.get(&short).is_some());
    let canon = format!(
        "{}-{}-s1.marathon.mesos.",
        "a".repeat(63 - 9),
        hash_of(&format!("{name}.1"))
    );
    assert_eq!(values(&set, "A", &canon), ["10.1.1.1"]);
    let srv_owner = format!("_{}._tcp.marathon.mesos.", "a".repeat(62));
    assert_eq!(values(&set, "SRV", &srv_owner).len(), 1);
}

#[test]
fn discovery_names_that_are_not_host_names_are_published_sanitised_only() {
    let mut t = task("x", "[]");
    t["discovery"] = json!({"name": "My Service", "ports": {"ports": [{"number": 80, "name": "Web UI", "protocol": "TCP"}]}});
    let (set, _) = run(state_with(vec![t], json!("slave(1)@10.1.1.1:5051")), false);
    assert!(set.get("myservice.marathon.mesos.").is_some());
    assert!(
        set.iter()
            .all(|(_, name, _)| !name.contains(' ') && name == name.to_ascii_lowercase())
    );
    assert_eq!(
        values(&set, "SRV", "_webui._myservice._tcp.marathon.mesos.").len(),
        1
    );
}

#[test]
fn discovery_port_numbers_out_of_range_are_skipped() {
    let mut t = task("x", "[]");
    t["discovery"] = json!({"name": "svc", "ports": {"ports": [{"number": 70000}, {"number": -1}, {"number": 8080}]}});
    let (set, report) = run(state_with(vec![t], json!("slave(1)@10.1.1.1:5051")), false);
    assert_eq!(values(&set, "SRV", "_svc._tcp.marathon.mesos.").len(), 1);
    assert_eq!(values(&set, "SRV", "_svc._udp.marathon.mesos.").len(), 1);
    assert_eq!(report.skipped, 2);
}

fn all_names_valid(set: &RecordSet) -> Result<(), String> {
    let mut names: Vec<&str> = set.iter().map(|(_, n, _)| n).collect();
    for (_, records) in set.iter().map(|(_, n, r)| (n, r)) {
        names.extend(records.srv.iter().map(|(t, _)| set.name(*t)));
    }
    for name in names {
        let body = name
            .strip_suffix('.')
            .ok_or(format!("no trailing dot: {name:?}"))?;
        if body.len() + 2 > 255 {
            return Err(format!("too long: {name:?}"));
        }
        for label in body.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("bad label {label:?} in {name:?}"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!("edge hyphen in {label:?} of {name:?}"));
            }
            if label.bytes().any(|b| b.is_ascii_uppercase() || b == b' ') {
                return Err(format!("unreachable label {label:?} in {name:?}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_names_yield_valid_names(
        framework in "\\PC{0,80}",
        task_name in "\\PC{0,100}",
        task_id in "\\PC{0,40}",
        agent_id in "[-a-zA-Z0-9.]{0,70}",
        discovery in proptest::option::of("\\PC{0,90}"),
        port_name in "\\PC{0,70}",
        protocol in "\\PC{0,70}",
        ports in "\\PC{0,30}",
        rfc952 in any::<bool>(),
    ) {
        let mut t = json!({"id": task_id, "name": task_name, "slave_id": agent_id, "state": "TASK_RUNNING",
                           "resources": {"ports": ports}, "statuses": []});
        if let Some(d) = discovery {
            t["discovery"] = json!({"name": d, "ports": {"ports": [{"number": 80, "name": port_name, "protocol": protocol}]}});
        }
        let s = json!({"leader": "master@10.0.0.1:5050",
            "frameworks": [{"name": framework, "pid": "s@10.0.0.9:1", "tasks": [t]}],
            "slaves": [{"id": agent_id, "pid": "slave(1)@10.1.1.1:5051"}]});
        let (set, _) = run(s, rfc952);
        prop_assert!(all_names_valid(&set).is_ok(), "{:?}", all_names_valid(&set));
    }
}
