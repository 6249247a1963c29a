//! The operator API source against a test master on loopback that streams RecordIO in
//! chunks cut anywhere: events become answers, the stream is followed through drops,
//! silence, redirects, refusals and malformed records, and `auto` polls only where there
//! is no `/api/v1`. Every state names loopback masters only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::master::{Api, Behaviour, FakeMaster, fixture_with_leader};
use common::server::{Server, query};
use common::v1;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use std::time::Duration;

/// The fixture cluster, led by `master`.
fn fixture(master: &FakeMaster) -> Value {
    serde_json::from_slice(&fixture_with_leader(&master.address())).unwrap()
}

/// A master that streams the fixture, heartbeating every `heartbeat` seconds.
fn streaming_master(heartbeat: f64) -> (FakeMaster, Value) {
    let master = FakeMaster::start(Behaviour::Status(500));
    let state = fixture(&master);
    master.set(Behaviour::State(serde_json::to_vec(&state).unwrap()));
    master.stream_state(&state, heartbeat);
    (master, state)
}

fn config_for(masters: &[&FakeMaster], api: &str) -> String {
    let list: Vec<String> = masters
        .iter()
        .map(|m| format!("\"{}\"", m.address()))
        .collect();
    format!(
        r#""masters":[{}],"IPSources":["netinfo","docker","mesos","host"],"stateTimeoutSeconds":2,
           "RefreshSeconds":1,"StateAPI":"{api}""#,
        list.join(",")
    )
}

/// The A records of `name`, or `None` while the server has no records (SERVFAIL).
fn a_records(s: &Server, name: &str) -> Option<Vec<String>> {
    let r = s.try_udp(&query(name, RecordType::A), Duration::from_millis(500))?;
    (r.response_code() != ResponseCode::ServFail).then(|| {
        let mut v: Vec<String> = r.answers().iter().map(|a| a.data().to_string()).collect();
        v.sort();
        v
    })
}

/// Waits (at most 20 s) until `check` holds.
fn eventually(what: &str, check: impl FnMut() -> bool) {
    common::eventually(Duration::from_secs(20), what, check);
}

/// A running task of marathon (the fixture's fourth framework) on the fixture's first
/// agent, with a container address.
fn new_task(id: &str, name: &str, ip: &str) -> Value {
    json!({"id":id,"name":name,"slave_id":"20140803-125133-3041283216-5050-2410-0","state":"TASK_RUNNING",
           "statuses":[{"state":"TASK_RUNNING","timestamp":100.0,
             "container_status":{"network_infos":[{"ip_addresses":[{"ip_address":ip}]}]}}]})
}

const MARATHON: &str = "20140703-014514-3041283216-5050-5348-0000";

fn killed(id: &str) -> Value {
    json!({"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":MARATHON},
        "status":{"task_id":{"value":id},"state":"TASK_KILLED","timestamp":200.0},
        "state":"TASK_KILLED"}})
}

#[test]
fn events_become_answers_without_polling() {
    let (master, _) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("the SUBSCRIBED snapshot is served", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    assert_eq!(s.get("/ready").status, 200);

    // TASK_ADDED (staging, no names yet), then TASK_UPDATED to running.
    let mut task = new_task("fresh.1", "fresh", "10.99.0.1");
    task["state"] = json!("TASK_STAGING");
    task.as_object_mut().unwrap().remove("statuses");
    master.send_event(&v1::task_added(&task, MARATHON));
    master.send_event(
        &json!({"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":MARATHON},
        "status":{"task_id":{"value":"fresh.1"},"state":"TASK_RUNNING","timestamp":101.0,
          "container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"10.99.0.1"}]}]}},
        "state":"TASK_RUNNING"}}),
    );
    eventually("the new task answers", || {
        a_records(&s, "fresh.marathon.mesos.") == Some(vec!["10.99.0.1".into()])
    });
    master.send_event(&killed("fresh.1"));
    eventually("the killed task is gone", || {
        a_records(&s, "fresh.marathon.mesos.") == Some(vec![])
    });
    // Unknown event types are ignored; heartbeats keep the server ready.
    master.send_event(&json!({"type":"SOMETHING_NEW","something_new":{"x":1}}));
    eventually("the unknown event counted, and two heartbeats", || {
        s.metric(r#"mesos_dns_events_total{type="UNKNOWN"}"#) >= 1.0
            && s.metric(r#"mesos_dns_events_total{type="HEARTBEAT"}"#) >= 2.0
    });
    assert_eq!(s.get("/ready").status, 200);
    assert_eq!(
        master.requests(),
        0,
        "no /master/state request while subscribed"
    );
    assert_eq!(master.subscriptions(), 1);
    assert_eq!(s.metric("mesos_dns_subscriptions_total"), 1.0);
    assert!(s.metric(r#"mesos_dns_events_total{type="TASK_UPDATED"}"#) >= 2.0);
    assert!(s.metric(r#"mesos_dns_events_total{type="UNKNOWN"}"#) >= 1.0);
    assert!(s.metric(r#"mesos_dns_events_total{type="HEARTBEAT"}"#) >= 2.0);
}

/// Events that come within `CoalesceMilliseconds` of the first are one publish, and
/// none waits for a later event: the stream's records queued while the window was open
/// are all taken when it ends.
#[test]
fn a_burst_of_events_is_one_publish() {
    let (master, _) = streaming_master(1.0);
    let config = format!(
        r#"{},"CoalesceMilliseconds":1000"#,
        config_for(&[&master], "subscribe")
    );
    let s = Server::spawn_with_source(&config, "");
    eventually("the SUBSCRIBED snapshot is served", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    let publishes = s.metric("mesos_dns_publishes_total");
    let names: Vec<String> = (0..5).map(|i| format!("burst{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let task = new_task(&format!("{name}.1"), name, &format!("10.98.0.{}", i + 1));
        master.send_event(&v1::task_added(&task, MARATHON));
    }
    for (i, name) in names.iter().enumerate() {
        eventually(&format!("{name} answers"), || {
            a_records(&s, &format!("{name}.marathon.mesos."))
                == Some(vec![format!("10.98.0.{}", i + 1)])
        });
    }
    assert_eq!(
        s.metric("mesos_dns_publishes_total") - publishes,
        1.0,
        "the five events published together"
    );
}

#[test]
fn a_dropped_stream_is_resubscribed_and_resynced() {
    let (master, mut state) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("subscribed", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    // While the stream is down the cluster changes: the next SUBSCRIBED says so.
    state["frameworks"][3]["tasks"]
        .as_array_mut()
        .unwrap()
        .push(new_task("late.1", "late", "10.99.0.2"));
    master.stream_state(&state, 1.0);
    master.drop_streams();
    eventually("resubscribed with the change", || {
        a_records(&s, "late.marathon.mesos.") == Some(vec!["10.99.0.2".into()])
    });
    assert!(master.subscriptions() >= 2);
    // The old records were served all along.
    assert!(a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty()));
}

#[test]
fn a_subscribed_cut_short_keeps_the_records_served() {
    let (master, mut state) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("subscribed", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    // Enough new tasks that the decoder hands some over before the record breaks off.
    let tasks = state["frameworks"][3]["tasks"].as_array_mut().unwrap();
    for i in 0..3_000 {
        tasks.push(new_task(
            &format!("many.{i}"),
            &format!("many{i}"),
            "10.99.1.1",
        ));
    }
    master.set_api(Api::CutShort(v1::subscribed(&state, 1.0)));
    let before = master.subscriptions();
    master.drop_streams();
    eventually("two subscriptions cut short", || {
        master.subscriptions() >= before + 2
    });
    assert_eq!(a_records(&s, "many0.marathon.mesos."), Some(vec![]));
    assert!(a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty()));
    // The whole record, at the next subscription.
    master.stream_state(&state, 1.0);
    eventually("the new tasks answer", || {
        a_records(&s, "many0.marathon.mesos.") == Some(vec!["10.99.1.1".into()])
    });
}

#[test]
fn a_silent_stream_is_abandoned() {
    let (master, _) = streaming_master(0.3);
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("subscribed", || {
        master.subscriptions() == 1 && s.get("/ready").status == 200
    });
    master.set_heartbeat(0.0);
    eventually("a new subscription after 3 silent intervals", || {
        master.subscriptions() >= 2
    });
    master.set_heartbeat(0.3);
    assert!(a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty()));
}

#[test]
fn malformed_records_end_the_stream_but_not_the_records() {
    let (master, _) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("subscribed", || master.subscriptions() == 1);
    eventually("served", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    let cases: Vec<Vec<u8>> = vec![
        b"abc\n".to_vec(),                      // not a length
        b"99999999999999\n".to_vec(),           // over the record limit
        b"12\n{not json!!}".to_vec(),           // invalid JSON
        b"123456789012345678901234\n".to_vec(), // too many digits
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let before = master.subscriptions();
        master.send_raw(bytes);
        eventually(&format!("case {i}: resubscribed"), || {
            master.subscriptions() > before
        });
        assert!(
            a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty()),
            "case {i}: records kept"
        );
    }
    // A record cut short by the end of the stream.
    let before = master.subscriptions();
    master.send_raw(b"500\n{\"type\":\"HEARTBEAT\"");
    master.drop_streams();
    eventually("resubscribed after a truncated record", || {
        master.subscriptions() > before
    });
    assert_eq!(s.get("/ready").status, 200);
    assert_eq!(master.requests(), 0);
}

#[test]
fn redirects_are_followed_to_the_leader() {
    let (leader, _) = streaming_master(1.0);
    let follower = FakeMaster::start(Behaviour::Status(500));
    follower.set_api(Api::Redirect(format!("//{}/api/v1", leader.address())));
    let s = Server::spawn_with_source(&config_for(&[&follower, &leader], "subscribe"), "");
    eventually("subscribed through the redirect", || {
        leader.subscriptions() == 1
    });
    eventually("served", || {
        a_records(&s, "leader.mesos.") == Some(vec!["127.0.0.1".into()])
    });
    assert!(follower.api_requests() >= 1);
    assert_eq!(follower.subscriptions(), 0);
}

#[test]
fn unavailable_masters_are_retried_with_backoff() {
    let (master, _) = streaming_master(1.0);
    master.set_api(Api::Status(503));
    let s = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    eventually("the unavailable master asked again", || {
        master.api_requests() >= 2
    });
    assert_eq!(
        a_records(&s, "chronos.marathon.mesos."),
        None,
        "nothing served yet"
    );
    assert_eq!(s.get("/ready").status, 503);
    let state = fixture(&master);
    master.stream_state(&state, 1.0);
    eventually("subscribed once the master is ready", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    assert_eq!(master.requests(), 0, "subscribe mode never polls");
}

#[test]
fn auto_polls_a_master_without_the_operator_api() {
    let master = FakeMaster::leading(None);
    let s = Server::spawn_with_source(&config_for(&[&master], "auto"), "");
    eventually("served by polling", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    assert!(
        master.api_requests() >= 1,
        "it asked for the operator API first"
    );
    assert!(master.requests() >= 1);
    assert_eq!(s.metric("mesos_dns_subscriptions_total"), 0.0);

    // Subscribe mode does not fall back.
    let other = FakeMaster::leading(None);
    let strict = Server::spawn_with_source(&config_for(&[&other], "subscribe"), "");
    eventually("the operator API asked for twice", || {
        other.api_requests() >= 2
    });
    assert_eq!(a_records(&strict, "chronos.marathon.mesos."), None);
    assert_eq!(other.requests(), 0);
}

#[test]
fn auto_subscribes_where_it_can() {
    let (master, _) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "auto"), "");
    eventually("subscribed", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    // Heartbeats come every second: two of them on the same subscription.
    eventually("two heartbeats", || {
        s.metric(r#"mesos_dns_events_total{type="HEARTBEAT"}"#) >= 2.0
    });
    assert_eq!(master.subscriptions(), 1);
    assert_eq!(master.requests(), 0);
    let config = s.get("/v1/config").json();
    assert_eq!(config["StateAPI"], "auto");
}

#[test]
fn poll_mode_never_subscribes() {
    let (master, _) = streaming_master(1.0);
    let s = Server::spawn_with_source(&config_for(&[&master], "poll"), "");
    eventually("served by polling", || {
        a_records(&s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
    });
    assert_eq!(master.api_requests(), 0);
}

#[test]
fn subscribing_and_polling_serve_the_same_zone() {
    // The fixture as the operator API can carry it: no scheduler PIDs (the API has none),
    // and no task id used twice in a framework (the fixture has one; Mesos never does).
    let master = FakeMaster::start(Behaviour::Status(500));
    let mut state = fixture(&master);
    let mut seen = std::collections::HashSet::new();
    for framework in state["frameworks"].as_array_mut().unwrap() {
        framework.as_object_mut().unwrap().remove("pid");
        for task in framework["tasks"].as_array_mut().unwrap() {
            let id = task["id"].as_str().unwrap().to_string();
            if !seen.insert(id.clone()) {
                task["id"] = json!(format!("{id}-again"));
            }
        }
    }
    master.set(Behaviour::State(serde_json::to_vec(&state).unwrap()));
    master.stream_state(&state, 1.0);
    let streamed = Server::spawn_with_source(&config_for(&[&master], "subscribe"), "");
    let polled = Server::spawn_with_source(&config_for(&[&master], "poll"), "");
    for s in [&streamed, &polled] {
        eventually("served", || {
            a_records(s, "chronos.marathon.mesos.").is_some_and(|a| !a.is_empty())
        });
    }
    let zone = |s: &Server| {
        let mut doc = s.get("/v1/axfr").json();
        doc.as_object_mut().unwrap().remove("Serial");
        doc
    };
    let (a, b) = (zone(&streamed), zone(&polled));
    assert!(a["Records"]["As"].as_object().unwrap().len() > 10);
    assert_eq!(a, b);
}
