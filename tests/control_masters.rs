//! Masters mode against HTTP servers that play Mesos masters on loopback: status codes,
//! the pre-1.x state path, leader following, failover between masters, bad documents.
//! Every state served names a loopback leader, so nothing leaves the machine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

mod common;
use common::master::{Behaviour, FakeMaster, fixture_with_leader, marked_fixture};
use common::server::{Server, query};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

fn masters_source(masters: &[&FakeMaster]) -> String {
    let list: Vec<String> = masters
        .iter()
        .map(|m| format!("\"{}\"", m.address()))
        .collect();
    format!(
        r#""masters":[{}],"IPSources":["netinfo","docker","mesos","host"],"stateTimeoutSeconds":2"#,
        list.join(",")
    )
}

fn a_records(s: &Server, name: &str) -> Option<Vec<String>> {
    let r = s.try_udp(&query(name, RecordType::A), Duration::from_millis(500))?;
    (r.response_code() != ResponseCode::ServFail)
        .then(|| r.answers().iter().map(|a| a.data().to_string()).collect())
}

/// Polls until `name` has A records (bounded).
fn wait_for(s: &Server, name: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(a) = a_records(s, name) {
            if !a.is_empty() {
                return a;
            }
        }
        assert!(Instant::now() < deadline, "{name} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_codes_are_checked_and_refreshes_recover() {
    let master = FakeMaster::start(Behaviour::Status(500));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.try_udp(
            &query("chronos.marathon.mesos.", RecordType::A),
            Duration::from_secs(1)
        )
        .unwrap()
        .response_code(),
        ResponseCode::ServFail,
        "a 500 is not a state"
    );
    assert_eq!(s.get("/ready").status, 503);
    master.set(Behaviour::State(fixture_with_leader(&master.address())));
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
    // A broken document later keeps the last good records.
    master.set(Behaviour::State(b"{\"frameworks\": garbage".to_vec()));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        a_records(&s, "chronos.marathon.mesos.").unwrap(),
        ["1.2.3.11"]
    );
}

#[test]
fn pre_1x_state_path() {
    let master = FakeMaster::start(Behaviour::Status(404));
    master.set(Behaviour::LegacyState(fixture_with_leader(
        &master.address(),
    )));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
}

#[test]
fn follows_the_leader_named_in_the_state() {
    let leader = FakeMaster::start(Behaviour::Status(500));
    leader.set(Behaviour::State(marked_fixture(
        &leader.address(),
        "from-leader",
    )));
    let follower = FakeMaster::start(Behaviour::State(marked_fixture(
        &leader.address(),
        "from-follower",
    )));
    let s = Server::spawn_with_source(&masters_source(&[&follower]), "");
    wait_for(&s, "from-leader.marathon.mesos.");
    assert!(
        a_records(&s, "from-follower.marathon.mesos.")
            .unwrap()
            .is_empty()
    );
    // The leader record and masterN come from the leader's state and the master list.
    let leader_ip = wait_for(&s, "leader.mesos.");
    assert_eq!(leader_ip, ["127.0.0.1"]);
}

#[test]
fn a_dead_master_is_skipped() {
    let dead = FakeMaster::start(Behaviour::Status(503));
    let alive = FakeMaster::start(Behaviour::Status(500));
    alive.set(Behaviour::State(fixture_with_leader(&alive.address())));
    let s = Server::spawn_with_source(&masters_source(&[&dead, &alive]), "");
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
    assert!(
        dead.requests.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the first master was tried first"
    );
}
