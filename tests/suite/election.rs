//! Leader election through a real ZooKeeper: one leader among candidates, the others
//! following its address; the next one leads when the leader leaves; nobody leads while
//! ZooKeeper is away (fencing), and one does again once it is back.

use crate::common;
use common::zookeeper::ZooKeeper;
use mesos_dns::election::{ElectionView, RESERVE_AHEAD, Role, spawn};
use mesos_dns::stop::Stop;
use std::sync::Arc;
use std::time::Duration;

struct Candidate {
    view: Arc<ElectionView>,
    stop: Stop,
    address: String,
}

fn candidate(zk: &ZooKeeper, address: &str) -> Candidate {
    let stop = Stop::new();
    let url = format!("zk://{}/mesos-dns/leader", zk.host());
    let view = spawn(
        &url,
        Duration::from_secs(4),
        address.to_string(),
        Box::new(|_| {}),
        Default::default(),
        stop.clone(),
    )
    .unwrap();
    Candidate {
        view,
        stop,
        address: address.to_string(),
    }
}

/// The one leader among `candidates`, when exactly one leads and every other follows
/// its address.
fn settled(candidates: &[&Candidate]) -> Option<String> {
    let leaders: Vec<&&Candidate> = candidates
        .iter()
        .filter(|c| c.view.role() == Role::Leader)
        .collect();
    let [leader] = leaders[..] else {
        return None;
    };
    let follow = Role::Standby {
        leader: leader.address.clone(),
    };
    candidates
        .iter()
        .filter(|c| c.address != leader.address)
        .all(|c| c.view.role() == follow)
        .then(|| leader.address.clone())
}

#[test]
fn one_leader_then_the_next_and_none_without_zookeeper() {
    let mut zk = ZooKeeper::start();
    let a = candidate(&zk, "127.0.0.1:1001");
    common::eventually(Duration::from_secs(20), "a leads alone", || {
        a.view.role() == Role::Leader
    });
    // b joins before c: b is next in line.
    let b = candidate(&zk, "127.0.0.1:1002");
    common::eventually(Duration::from_secs(20), "b in line", || {
        b.view.role() != Role::Unknown
    });
    let c = candidate(&zk, "127.0.0.1:1003");
    common::eventually(Duration::from_secs(20), "b and c follow a", || {
        settled(&[&a, &b, &c]).as_deref() == Some("127.0.0.1:1001")
    });
    assert_eq!(a.view.elections(), 1);

    // The leader leaves: the next in line leads, and the last follows the new leader.
    a.stop.stop();
    common::eventually(Duration::from_secs(20), "b leads, c follows b", || {
        settled(&[&b, &c]).as_deref() == Some("127.0.0.1:1002")
    });
    assert_eq!(c.view.elections(), 0, "c was never the leader");

    // ZooKeeper goes away: nobody can know who leads, so nobody does.
    zk.stop();
    common::eventually(
        Duration::from_secs(20),
        "no leader without ZooKeeper",
        || b.view.role() == Role::Unknown && c.view.role() == Role::Unknown,
    );
    // Back: one leader again, and only one.
    zk.restart();
    common::eventually(Duration::from_secs(60), "one leader again", || {
        settled(&[&b, &c]).is_some()
    });
    b.stop.stop();
    c.stop.stop();
}

#[test]
fn a_new_leader_starts_its_serials_above_everything_reserved_before() {
    let zk = ZooKeeper::start();
    let a = candidate(&zk, "127.0.0.1:1101");
    common::eventually(Duration::from_secs(20), "a leads", || {
        a.view.role() == Role::Leader
    });
    let b = candidate(&zk, "127.0.0.1:1102");
    common::eventually(Duration::from_secs(20), "b stands by", || {
        b.view.role() != Role::Unknown
    });
    assert!(b.view.take_over(5).is_err(), "a standby reserves nothing");
    // a continues from serial 1000 and serves a few publishes inside its reservation,
    // then one past it, which extends it.
    let first = a.view.take_over(1000).unwrap();
    assert_eq!(first, 1001);
    a.view.reserve(first + 10).unwrap();
    let far = first + RESERVE_AHEAD + 50;
    a.view.reserve(far).unwrap();
    // a goes; b, which held only serial 900 (it missed a's last publishes), starts
    // above everything a could have served.
    a.stop.stop();
    common::eventually(Duration::from_secs(20), "b leads", || {
        b.view.role() == Role::Leader
    });
    let next = b.view.take_over(900).unwrap();
    assert!(
        next > far + RESERVE_AHEAD - 1,
        "{next} is above a's reservation ({far} + {RESERVE_AHEAD})"
    );
    b.stop.stop();
}
