//! Forwarding names outside the domain, against real upstreams on loopback: Knot DNS,
//! a silent server and a spoofing one. Never a resolver outside loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, query, query_edns};
use common::upstream::{Knot, Silent, Spoofing};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

fn forwarding_server(resolvers: &[u16], extra: &str) -> Server {
    let list: Vec<String> = resolvers
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    Server::start(
        &data_path("fake-state.json"),
        &format!(
            r#",{SETUP_R},"externalon":true,"resolvers":[{}],"timeout":1{extra}"#,
            list.join(",")
        ),
    )
}

fn ips(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers().iter().map(|r| r.data().to_string()).collect();
    v.sort();
    v
}

#[test]
fn relays_answers_nxdomain_and_servfail() {
    let knot = Knot::start();
    let s = forwarding_server(&[knot.port], "");
    let r = s.udp(&query("www.example.test.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert_eq!(ips(&r), ["192.0.2.1"]);
    assert!(r.authoritative(), "the upstream's flags are relayed");
    // The client's spelling comes back.
    let r = s.udp(&query("WwW.Example.TEST.", RecordType::AAAA));
    assert_eq!(r.queries()[0].name().to_string(), "WwW.Example.TEST.");
    assert_eq!(ips(&r), ["2001:db8::80"]);
    let r = s.udp(&query("nothing.example.test.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::NXDomain);
    assert_eq!(r.name_servers().len(), 1, "the upstream's SOA is relayed");
    let r = s.udp(&query("www.broken.test.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::ServFail);
    // The Mesos domain is still answered locally.
    assert_eq!(
        s.udp(&query("chronos.marathon.mesos.", RecordType::A))
            .answers()
            .len(),
        1
    );
    // TCP clients are forwarded over TCP.
    let r = s
        .tcp(&[query("www.example.test.", RecordType::A)])
        .remove(0);
    assert_eq!(ips(&r), ["192.0.2.1"]);
}

#[test]
fn truncated_upstream_replies_are_retried_over_tcp() {
    let knot = Knot::start();
    let s = forwarding_server(&[knot.port], r#","EDNSMaxUDPSize":4096"#);
    // Plain UDP client: at most 512 bytes, TC set, so it comes back over TCP.
    let bytes = s.udp_bytes(&query("big.example.test.", RecordType::A));
    assert!(bytes.len() <= 512);
    let r = Message::from_vec(&bytes).unwrap();
    assert!(r.truncated());
    assert!(!r.answers().is_empty());
    // Over TCP: all 100 records.
    let r = s
        .tcp(&[query("big.example.test.", RecordType::A)])
        .remove(0);
    assert!(!r.truncated());
    assert_eq!(r.answers().len(), 100);
    // An EDNS client with room gets everything over UDP: the forwarder fetched the
    // whole answer over TCP although the upstream truncated its UDP reply.
    let r = s.udp(&query_edns("big.example.test.", RecordType::A, 4096));
    assert!(!r.truncated());
    assert_eq!(r.answers().len(), 100);
    assert!(r.extensions().is_some());
}

#[test]
fn zones_route_to_their_own_upstreams() {
    let knot = Knot::start();
    let spoof = Spoofing::start();
    let s = forwarding_server(
        &[spoof.port],
        &format!(
            r#","zoneresolvers":{{"Example.Test":["127.0.0.1:{}"]}}"#,
            knot.port
        ),
    );
    assert_eq!(
        ips(&s.udp(&query("www.example.test.", RecordType::A))),
        ["192.0.2.1"]
    );
    assert_eq!(
        ips(&s.udp(&query("anything.else.test.", RecordType::A))),
        ["1.1.1.1"]
    );
}

#[test]
fn spoofed_replies_are_ignored() {
    let spoof = Spoofing::start();
    let s = forwarding_server(&[spoof.port], "");
    for i in 0..5 {
        let r = s.udp(&query(&format!("host{i}.example.org."), RecordType::A));
        assert_eq!(
            ips(&r),
            ["1.1.1.1"],
            "a wrong ID or a wrong port was accepted"
        );
    }
}

#[test]
fn silent_upstreams_fail_over_then_servfail() {
    let knot = Knot::start();
    let silent = Silent::start();
    let s = forwarding_server(&[silent.port, knot.port], "");
    let started = Instant::now();
    let r = s.udp(&query("www.example.test.", RecordType::A));
    assert_eq!(ips(&r), ["192.0.2.1"]);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the silent one was tried first"
    );

    let all_silent = forwarding_server(&[silent.port], "");
    let started = Instant::now();
    let socket_wait = Duration::from_secs(4);
    let r = all_silent
        .try_udp(&query("www.example.test.", RecordType::A), socket_wait)
        .expect("SERVFAIL after the timeout");
    assert_eq!(r.response_code(), ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "within Timeout × upstreams"
    );
}

#[test]
fn the_cache_answers_and_expires() {
    let knot = Knot::start();
    let s = forwarding_server(&[knot.port], "");
    let first = s.udp(&query("short.example.test.", RecordType::A));
    assert_eq!(ips(&first), ["192.0.2.2"]);
    assert_eq!(first.answers()[0].ttl(), 2);
    // Stop the upstream: a hit needs no round trip.
    drop(knot);
    let hit = s.udp(&query("short.example.test.", RecordType::A));
    assert_eq!(ips(&hit), ["192.0.2.2"]);
    assert!(hit.answers()[0].ttl() <= 2);
    let metrics = s.get("/metrics").body;
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(str::to_string)
    };
    assert_eq!(
        line(r#"mesos_dns_responses_total{rcode="NOERROR",source="cache"}"#).as_deref(),
        Some(r#"mesos_dns_responses_total{rcode="NOERROR",source="cache"} 1"#)
    );
    assert_eq!(
        line(r#"mesos_dns_responses_total{rcode="NOERROR",source="forwarder"}"#).as_deref(),
        Some(r#"mesos_dns_responses_total{rcode="NOERROR",source="forwarder"} 1"#)
    );
    let latency = line("mesos_dns_upstream_latency_seconds_count").unwrap();
    assert!(
        latency.contains(r#"upstream="127.0.0.1:"#) && latency.ends_with(" 1"),
        "{latency}"
    );
    std::thread::sleep(Duration::from_millis(2200));
    // Expired, and the upstream is gone: SERVFAIL.
    let r = s
        .try_udp(
            &query("short.example.test.", RecordType::A),
            Duration::from_secs(3),
        )
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::ServFail);
}

#[test]
fn cache_can_be_turned_off() {
    let knot = Knot::start();
    let s = forwarding_server(&[knot.port], r#","ForwardCacheSize":0"#);
    assert_eq!(
        ips(&s.udp(&query("www.example.test.", RecordType::A))),
        ["192.0.2.1"]
    );
    drop(knot);
    let r = s
        .try_udp(
            &query("www.example.test.", RecordType::A),
            Duration::from_secs(3),
        )
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::ServFail);
}

#[test]
fn sighup_switches_resolvers() {
    let silent = Silent::start();
    let knot = Knot::start();
    let s = forwarding_server(&[silent.port], "");
    let r = s.udp(&query("www.example.test.", RecordType::A));
    assert_eq!(
        r.response_code(),
        ResponseCode::ServFail,
        "a silent upstream"
    );
    let path = s.dir.join("config.json");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        &format!("\"127.0.0.1:{}\"", silent.port),
        &format!("\"127.0.0.1:{}\"", knot.port),
    );
    std::fs::write(&path, config).unwrap();
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = s.udp(&query("www.example.test.", RecordType::A));
        if r.response_code() == ResponseCode::NoError {
            assert_eq!(ips(&r), ["192.0.2.1"]);
            break;
        }
        assert!(Instant::now() < deadline, "the new resolver was never used");
        std::thread::sleep(Duration::from_millis(100));
    }
}
