//! SIGUSR1 refreshes at once; SIGHUP re-reads config.json, applies what can change live,
//! and refuses a bad file without harm.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, query};
use hickory_proto::rr::RecordType;
use std::time::Duration;

/// Waits (at most 10 s) until `check` holds.
fn eventually(what: &str, check: impl FnMut() -> bool) {
    common::eventually(Duration::from_secs(10), what, check);
}

#[test]
fn usr1_refreshes_now() {
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(",{SETUP_R},\"refreshSeconds\":3600"),
    );
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data_path("fake-state.json")).unwrap()).unwrap();
    state["frameworks"][3]["tasks"][6]["name"] = "renamed".into();
    std::fs::write(
        s.dir.join("state.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    // Not read yet: the next refresh is far off (RefreshSeconds), and only USR1 asks.
    let refreshes = s.metric("mesos_dns_state_refreshes_total");
    assert!(
        s.udp(&query("renamed.marathon.mesos.", RecordType::A))
            .answers()
            .is_empty()
    );
    s.signal("USR1");
    eventually("SIGUSR1 brought the new state", || {
        !s.udp(&query("renamed.marathon.mesos.", RecordType::A))
            .answers()
            .is_empty()
    });
    // The feed thread counts a refresh once it has handed the document over, so the
    // count may follow the answers by a moment.
    eventually("the refresh counted", || {
        s.metric("mesos_dns_state_refreshes_total") > refreshes
    });
    assert_eq!(
        s.metric("mesos_dns_state_refreshes_total"),
        refreshes + 1.0,
        "one refresh, the one SIGUSR1 asked for"
    );
}

/// A polled document's tasks are compared with the model as they are decoded, each
/// under the framework it names itself until the document's end says which framework
/// lists it. A task that names one framework and is listed under another, unchanged
/// otherwise, makes the document be read again whole, and the whole reading counts.
#[test]
fn a_task_listed_under_another_framework_than_it_names_is_read_again_whole() {
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(",{SETUP_R},\"refreshSeconds\":3600"),
    );
    let addresses = |name: &str| s.udp(&query(name, RecordType::A)).answers().len();
    assert_eq!(addresses("liquor-store.marathon.mesos."), 2);
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data_path("fake-state.json")).unwrap()).unwrap();
    // Marathon's task named `liquor.store` moves, as it is, under the framework
    // "no pid"; it still says it is Marathon's.
    let tasks = state["frameworks"][3]["tasks"].as_array_mut().unwrap();
    let (moved, kept): (Vec<_>, Vec<_>) =
        tasks.drain(..).partition(|t| t["name"] == "liquor.store");
    assert!(!moved.is_empty());
    assert!(
        moved
            .iter()
            .all(|t| t["framework_id"] == state["frameworks"][3]["id"])
    );
    state["frameworks"][3]["tasks"] = kept.into();
    state["frameworks"][2]["tasks"] = moved.into();
    std::fs::write(
        s.dir.join("state.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    s.signal("USR1");
    eventually(
        "the moved task answers under the framework listing it",
        || addresses("liquor-store.nopid.mesos.") == 1,
    );
    assert_eq!(addresses("liquor-store.marathon.mesos."), 1);
    assert!(
        s.log().contains("reading it again whole"),
        "the document was read again whole"
    );
}

#[test]
fn hup_reloads_the_config() {
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(",{SETUP_R},\"refreshSeconds\":3600"),
    );
    let path = s.dir.join("config.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let ttl = || {
        s.udp(&query("chronos.marathon.mesos.", RecordType::A))
            .answers()[0]
            .ttl()
    };
    assert_eq!(ttl(), 60);
    // A live setting (TTL) and one that needs a restart (Port).
    let changed = original
        .replacen('{', r#"{"TTL":99,"#, 1)
        .replace(&format!("\"port\":{}", s.port), "\"port\":1");
    std::fs::write(&path, &changed).unwrap();
    s.signal("HUP");
    eventually("SIGHUP applied the new TTL", || ttl() == 99);
    assert_eq!(s.get("/v1/config").json()["TTL"], 99);
    assert_eq!(
        s.get("/v1/config").json()["Port"],
        s.port,
        "Port needs a restart"
    );
    // A broken file is refused; the server goes on with what it had.
    std::fs::write(&path, "{ not json").unwrap();
    s.signal("HUP");
    eventually("the broken file refused", || {
        s.log().contains("new configuration refused")
    });
    assert_eq!(ttl(), 99);
    assert_eq!(s.get("/health").status, 200);
}
