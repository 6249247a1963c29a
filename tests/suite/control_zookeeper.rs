//! Leader detection through a real ZooKeeper: a group path that appears late, elections,
//! a ZooKeeper restart and a forced session expiry (session lost, watches set again), with
//! fake masters on loopback serving the state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::master::FakeMaster;
use common::server::{Server, query};
use common::zookeeper::{MAX_SESSION, ZooKeeper, master_info};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

fn has(s: &Server, name: &str) -> bool {
    s.try_udp(&query(name, RecordType::A), Duration::from_millis(500))
        .is_some_and(|r| r.response_code() == ResponseCode::NoError && !r.answers().is_empty())
}

fn wait_for(s: &Server, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has(s, name) {
        assert!(Instant::now() < deadline, "{name} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server watching `zk`, named second in an ensemble whose first member is down.
fn zk_server(zk: &ZooKeeper, extra: &str) -> Server {
    let dead = common::server::free_port();
    Server::spawn_with_source_process(
        &format!(
            r#""zk":"zk://127.0.0.1:{dead},{}/mesos","IPSources":["netinfo","docker","mesos","host"],"stateTimeoutSeconds":2"#,
            zk.host()
        ),
        extra,
    )
}

#[test]
fn late_group_then_elections() {
    let mut zk = ZooKeeper::start();
    let a = FakeMaster::leading(Some("from-a"));
    let b = FakeMaster::leading(Some("from-b"));

    // The group does not exist yet: no state, not ready, but serving.
    let s = zk_server(&zk, "");
    common::eventually(Duration::from_secs(20), "a ZooKeeper session", || {
        s.try_metric("mesos_dns_zk_sessions_total").unwrap_or(0.0) >= 1.0
    });
    assert_eq!(s.get("/ready").status, 503);
    assert_eq!(s.get("/health").status, 200);

    // The path appears, with A leading and B behind it.
    let mut admin = zk.session();
    admin.create("/mesos", b"", false);
    let node_a = admin.create("/mesos/json.info_", &master_info("a", a.port), true);
    admin.create("/mesos/json.info_", &master_info("b", b.port), true);
    wait_for(&s, "from-a.marathon.mesos.");
    assert_eq!(s.get("/ready").status, 200);

    // A steps down: B leads.
    admin.delete(&node_a);
    wait_for(&s, "from-b.marathon.mesos.");

    // ZooKeeper goes away and comes back: the session is new, the watch is set again.
    zk.stop();
    common::eventually(
        Duration::from_secs(30),
        "the session lost with ZooKeeper",
        || s.log().contains("ZooKeeper session ended") || s.log().contains("unreachable"),
    );
    assert!(
        has(&s, "from-b.marathon.mesos."),
        "records stay while ZooKeeper is down"
    );
    zk.restart();
    let mut admin = zk.session();
    for c in admin.children("/mesos") {
        admin.delete(&format!("/mesos/{c}"));
    }
    admin.create("/mesos/json.info_", &master_info("a2", a.port), true);
    wait_for(&s, "from-a.marathon.mesos.");
}

#[test]
fn fallback_masters_while_zookeeper_is_unreachable() {
    let master = FakeMaster::leading(Some("fallback"));
    // Nothing listens on this port: ZooKeeper is unreachable from the start.
    let dead_zk = common::server::free_port();
    let s = Server::spawn_with_source_process(
        &format!(
            r#""zk":"zk://127.0.0.1:{dead_zk}/mesos","masters":["{}"],"IPSources":["netinfo","docker","mesos","host"]"#,
            master.address()
        ),
        r#","zkDetectionTimeout":1"#,
    );
    wait_for(&s, "fallback.marathon.mesos.");
    // No leader from ZooKeeper past ZkDetectionTimeout: not ready, still serving, alive.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.get("/ready").status == 200 {
        assert!(Instant::now() < deadline, "never marked not ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(s.get("/ready").body.contains("ZkDetectionTimeout"));
    assert_eq!(s.metric("mesos_dns_leader_missing"), 1.0);
    assert!(has(&s, "fallback.marathon.mesos."));
}

fn zk_sessions(s: &Server) -> f64 {
    s.metric("mesos_dns_zk_sessions_total")
}

#[test]
fn session_expiry_is_survived() {
    let zk = ZooKeeper::start();
    let a = FakeMaster::leading(Some("from-a"));
    let b = FakeMaster::leading(Some("from-b"));
    let mut admin = zk.session();
    admin.create("/mesos", b"", false);
    let node_a = admin.create("/mesos/json.info_", &master_info("a", a.port), true);
    let s = zk_server(&zk, "");
    wait_for(&s, "from-a.marathon.mesos.");
    let sessions = zk_sessions(&s);

    // Frozen longer than any session ZooKeeper grants, the server's session expires; the
    // leader changes meanwhile, so only a new session with new watches can notice.
    s.signal("STOP");
    admin.delete(&node_a);
    admin.create("/mesos/json.info_", &master_info("b", b.port), true);
    std::thread::sleep(MAX_SESSION + Duration::from_millis(2500));
    s.signal("CONT");
    wait_for(&s, "from-b.marathon.mesos.");
    assert!(zk_sessions(&s) > sessions, "a new session after the expiry");
    assert_eq!(s.get("/ready").status, 200);
}

#[test]
fn a_new_member_is_published_though_the_state_is_the_same() {
    let zk = ZooKeeper::start();
    let a = FakeMaster::leading(Some("from-a"));
    let mut admin = zk.session();
    admin.create("/mesos", b"", false);
    admin.create("/mesos/json.info_", &master_info("a", a.port), true);
    let s = zk_server(&zk, "");
    wait_for(&s, "from-a.marathon.mesos.");
    assert!(has(&s, "master0.mesos."));
    assert!(!has(&s, "master1.mesos."));
    // B joins behind A: A's document is byte for byte the same, the master list is not.
    // (B never leads, so nothing needs to listen at its address; masterN needs its own IP.)
    let b = serde_json::json!({"id": "b", "address": {"ip": "127.0.0.2", "port": 5050}});
    admin.create("/mesos/json.info_", b.to_string().as_bytes(), true);
    wait_for(&s, "master1.mesos.");
    assert!(has(&s, "from-a.marathon.mesos."));
}
