//! DNS protocol behaviour of the real binary: sizes and truncation, EDNS, TCP, rotation,
//! case echo, hostile packets, snapshot swaps, start-up before the first state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, query, query_edns};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;
use std::collections::HashSet;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

/// A state with one app, `big`, of `n` tasks, each with its own container address.
fn big_state(n: usize, first_octet: u8) -> serde_json::Value {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            json!({"id": format!("big.{i}"), "name": "big", "slave_id": "a-S1", "state": "TASK_RUNNING",
                   "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0,
                       "labels": [{"key": "Docker.NetworkSettings.IPAddress",
                                   "value": format!("{first_octet}.0.{}.{}", i / 250, i % 250 + 1)}]}]})
        })
        .collect();
    json!({"leader": "master@10.0.0.1:5050",
           "frameworks": [{"name": "marathon", "pid": "s@10.0.0.2:80", "tasks": tasks}],
           "slaves": [{"id": "a-S1", "pid": "slave(1)@10.0.0.3:5051"}]})
}

fn write_state(dir: &Path, state: &serde_json::Value) -> std::path::PathBuf {
    let path = dir.join("input-state.json");
    std::fs::write(&path, serde_json::to_vec(state).unwrap()).unwrap();
    path
}

fn big_server(n: usize, extra: &str) -> Server {
    let dir = common::server::temp_dir();
    let path = write_state(&dir, &big_state(n, 10));
    let s = Server::start(
        &path,
        &format!(r#","masters":["10.0.0.1:5050"],"IPSources":["docker"]{extra}"#),
    );
    std::fs::remove_dir_all(dir).unwrap();
    s
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers().iter().map(|r| r.data().to_string()).collect()
}

#[test]
fn truncation_follows_the_client_size() {
    let s = big_server(200, "");
    let name = "big.marathon.mesos.";
    // No EDNS: at most 512 bytes, TC, a valid message of whole records.
    let bytes = s.udp_bytes(&query(name, RecordType::A));
    assert!(bytes.len() <= 512, "{}", bytes.len());
    let r = Message::from_vec(&bytes).unwrap();
    assert!(r.truncated());
    assert_eq!(r.answers().len(), (512 - 12 - 23) / 16);
    // EDNS 4096, capped by EDNSMaxUDPSize (1232): more records, still TC, OPT echoed.
    let bytes = s.udp_bytes(&query_edns(name, RecordType::A, 4096));
    assert!(bytes.len() <= 1232, "{}", bytes.len());
    let r = Message::from_vec(&bytes).unwrap();
    assert!(r.truncated());
    assert_eq!(r.answers().len(), (1232 - 12 - 23 - 11) / 16);
    let edns = r.extensions().as_ref().expect("OPT in the reply");
    assert_eq!(edns.max_payload(), 1232);
    // A client size below 512 counts as 512.
    let bytes = s.udp_bytes(&query_edns(name, RecordType::A, 100));
    assert!(bytes.len() <= 512 && Message::from_vec(&bytes).unwrap().answers().len() > 20);
    // TCP: everything, no TC.
    let r = s.tcp(&[query(name, RecordType::A)]).remove(0);
    assert!(!r.truncated());
    assert_eq!(r.answers().len(), 200);
    let distinct: HashSet<String> = addresses(&r).into_iter().collect();
    assert_eq!(distinct.len(), 200);
}

#[test]
fn truncate_bit_can_be_turned_off() {
    let s = big_server(100, r#","SetTruncateBit":false"#);
    let bytes = s.udp_bytes(&query("big.marathon.mesos.", RecordType::A));
    let r = Message::from_vec(&bytes).unwrap();
    assert!(bytes.len() <= 512);
    assert!(!r.truncated());
    assert_eq!(r.answers().len(), 29);
}

#[test]
fn larger_edns_limit() {
    let s = big_server(200, r#","EDNSMaxUDPSize":4096"#);
    let bytes = s.udp_bytes(&query_edns("big.marathon.mesos.", RecordType::A, 4096));
    let r = Message::from_vec(&bytes).unwrap();
    assert!(!r.truncated());
    assert_eq!(r.answers().len(), 200);
    assert!(bytes.len() <= 4096);
}

#[test]
fn rotation_moves_the_first_record() {
    let s = big_server(5, "");
    let mut firsts = HashSet::new();
    let mut sets = HashSet::new();
    for _ in 0..20 {
        let r = s.udp(&query("big.marathon.mesos.", RecordType::A));
        let a = addresses(&r);
        firsts.insert(a[0].clone());
        let mut sorted = a.clone();
        sorted.sort();
        sets.insert(sorted);
    }
    assert!(firsts.len() > 1, "the first record never changed");
    assert_eq!(sets.len(), 1, "rotation changes order, never content");
}

#[test]
fn edns_versions_and_flags() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let mut q = query_edns("chronos.marathon.mesos.", RecordType::A, 1232);
    q.extensions_mut().as_mut().unwrap().set_version(1);
    let r = s.udp(&q);
    // BADVERS is 16: header rcode 0, upper bits 1 in the OPT.
    assert_eq!(u16::from(r.response_code()), 16);
    assert_eq!(r.extensions().as_ref().unwrap().rcode_high(), 1);
    assert!(r.answers().is_empty());
    // DO is echoed; RD and CD are copied.
    let mut q = query_edns("chronos.marathon.mesos.", RecordType::A, 1232);
    q.extensions_mut().as_mut().unwrap().set_dnssec_ok(true);
    q.set_checking_disabled(true);
    let r = s.udp(&q);
    assert!(r.extensions().as_ref().unwrap().flags().dnssec_ok);
    assert!(r.checking_disabled() && r.recursion_desired());
    let mut q = query("chronos.marathon.mesos.", RecordType::A);
    q.set_recursion_desired(false);
    assert!(!s.udp(&q).recursion_desired());
}

#[test]
fn case_is_echoed_in_every_section() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let r = s.udp(&query("LiQuOr-StOrE.MaRaThOn.MeSoS.", RecordType::A));
    assert_eq!(
        r.queries()[0].name().to_string(),
        "LiQuOr-StOrE.MaRaThOn.MeSoS."
    );
    assert_eq!(r.answers().len(), 2);
    assert!(
        r.answers()
            .iter()
            .all(|a| a.name().to_string() == "LiQuOr-StOrE.MaRaThOn.MeSoS.")
    );
    let r = s.udp(&query(
        "_LIQUOR-store._TCP.marathon.MESOS.",
        RecordType::SRV,
    ));
    assert!(
        r.answers()
            .iter()
            .all(|a| a.name().to_string() == "_LIQUOR-store._TCP.marathon.MESOS.")
    );
    assert_eq!(r.additionals().len(), 2);
}

#[test]
fn tcp_pipelined_queries() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let queries = vec![
        query("chronos.marathon.mesos.", RecordType::A),
        query("missing.mesos.", RecordType::A),
        query("_leader._tcp.mesos.", RecordType::SRV),
        query("mesos.", RecordType::SOA),
    ];
    let replies = s.tcp(&queries);
    for (q, r) in queries.iter().zip(&replies) {
        assert_eq!(q.id(), r.id());
    }
    assert_eq!(replies[0].answers().len(), 1);
    assert_eq!(replies[1].response_code(), ResponseCode::NXDomain);
    assert_eq!(replies[2].additionals().len(), 1);
    assert!(matches!(replies[3].answers()[0].data(), RData::SOA(_)));
}

/// Packets that must get FORMERR or no reply, and never stop the server.
#[test]
fn hostile_packets() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let good = query("chronos.marathon.mesos.", RecordType::A)
        .to_vec()
        .unwrap();
    let header = |qd: u16, ar: u16| {
        let mut h = vec![0xAB, 0xCD, 0x01, 0x00];
        h.extend_from_slice(&qd.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h.extend_from_slice(&ar.to_be_bytes());
        h
    };
    let with = |mut h: Vec<u8>, body: &[u8]| {
        h.extend_from_slice(body);
        h
    };
    let formerr: Vec<(&str, Vec<u8>)> = vec![
        ("label overflow", with(header(1, 0), b"\x3fabc")),
        (
            "pointer loop",
            with(header(1, 0), b"\xC0\x0C\x00\x01\x00\x01"),
        ),
        (
            "label type 01",
            with(header(1, 0), b"\x41abc\x00\x00\x01\x00\x01"),
        ),
        ("qdcount 0", header(0, 0)),
        ("qdcount 2", with(header(2, 0), &good[12..])),
        ("trailing garbage", [good.as_slice(), b"garbage"].concat()),
        ("truncated question", good[..good.len() - 2].to_vec()),
        ("opt claimed, absent", with(header(1, 1), &good[12..])),
        (
            "name over 255",
            with(
                header(1, 0),
                &[b"\x3f".as_slice(), &[b'a'; 63]].concat().repeat(5),
            ),
        ),
    ];
    for (what, packet) in &formerr {
        let reply = s
            .try_udp_raw(packet, Duration::from_millis(500))
            .unwrap_or_else(|| panic!("{what}: no reply"));
        assert_eq!(
            reply[3] & 0x0F,
            1,
            "{what}: FORMERR expected, got {reply:?}"
        );
        assert_eq!(&reply[..2], &packet[..2], "{what}: id");
        assert!(reply[2] & 0x80 != 0, "{what}: QR");
    }
    let mut response = good.clone();
    response[2] |= 0x80;
    let mut opcode = good.clone();
    opcode[2] = 0x10; // IQUERY
    let silent: Vec<(&str, Vec<u8>)> = vec![
        ("empty datagram", vec![]),
        ("short header", vec![1, 2, 3, 4, 5]),
        ("a response", response),
    ];
    for (what, packet) in &silent {
        assert!(
            s.try_udp_raw(packet, Duration::from_millis(300)).is_none(),
            "{what}: expected no reply"
        );
    }
    let reply = s.try_udp_raw(&opcode, Duration::from_millis(500)).unwrap();
    assert_eq!(reply[3] & 0x0F, 4, "NOTIMP for other opcodes");
    // Class CH is refused.
    let mut chaos = good.clone();
    let n = chaos.len();
    chaos[n - 1] = 3;
    assert_eq!(
        s.try_udp_raw(&chaos, Duration::from_millis(500)).unwrap()[3] & 0x0F,
        5
    );
    // A 64 KiB datagram (the largest loopback takes) is cut and refused, not fatal.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let huge = with(header(1, 0), &vec![0u8; 65_000]);
    let _ = socket.send_to(&huge, ("127.0.0.1", s.port));
    // Random bytes, bounded count.
    let mut seed = 0x1234_5678_u64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 300) as usize;
        let packet: Vec<u8> = (0..len)
            .map(|i| (seed.rotate_left(i as u32 % 64) >> 3) as u8)
            .collect();
        let _ = socket.send_to(&packet, ("127.0.0.1", s.port));
    }
    // Still serving.
    let r = s.udp(&query("chronos.marathon.mesos.", RecordType::A));
    assert_eq!(r.answers().len(), 1);
}

/// Every answer during a stream of snapshot swaps is wholly the old data or the new.
#[test]
fn snapshot_swaps_under_queries() {
    let dir = common::server::temp_dir();
    let old = serde_json::to_vec(&big_state(20, 10)).unwrap();
    let new = serde_json::to_vec(&big_state(20, 20)).unwrap();
    let first = write_state(&dir, &big_state(20, 10));
    let s = Server::start(
        &first,
        r#","masters":["10.0.0.1:5050"],"IPSources":["docker"]"#,
    );
    let live = s.dir.join("state.json");
    let tmp = s.dir.join("state.json.tmp");
    let (mut saw_old, mut saw_new) = (false, false);
    // Bounded; generous for a loaded machine (it ends as soon as both were seen).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0u32;
    while Instant::now() < deadline && !(saw_old && saw_new && i > 200) {
        if i % 50 == 0 {
            // Replace the file atomically, alternating contents.
            std::fs::write(&tmp, if (i / 50) % 2 == 0 { &new } else { &old }).unwrap();
            std::fs::rename(&tmp, &live).unwrap();
        }
        i += 1;
        let r = s.udp(&query("big.marathon.mesos.", RecordType::A));
        let a = addresses(&r);
        assert_eq!(a.len(), 20);
        let firsts: HashSet<&str> = a.iter().map(|ip| ip.split('.').next().unwrap()).collect();
        assert_eq!(firsts.len(), 1, "mixed answer {a:?}");
        saw_old |= firsts.contains("10");
        saw_new |= firsts.contains("20");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(saw_old && saw_new, "both data sets were served");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn servfail_until_the_first_state_then_bad_states_keep_the_last_one() {
    let s = Server::spawn(
        None,
        r#","masters":["10.0.0.1:5050"],"IPSources":["docker"]"#,
        "127.0.0.1",
    );
    // Listeners are up before any state: in-domain SERVFAIL, outside REFUSED.
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        if let Some(r) = s.try_udp(
            &query("big.marathon.mesos.", RecordType::A),
            Duration::from_millis(200),
        ) {
            break r;
        }
        assert!(Instant::now() < deadline, "no answer");
    };
    assert_eq!(r.response_code(), ResponseCode::ServFail);
    assert_eq!(
        s.udp(&query("example.com.", RecordType::A)).response_code(),
        ResponseCode::Refused
    );
    std::fs::write(
        s.dir.join("state.json"),
        serde_json::to_vec(&big_state(3, 10)).unwrap(),
    )
    .unwrap();
    s.wait_ready();
    assert_eq!(
        s.udp(&query("big.marathon.mesos.", RecordType::A))
            .answers()
            .len(),
        3
    );
    // A broken document: the previous records stay.
    let failures = || s.metric("mesos_dns_state_refresh_failures_total");
    let before = failures();
    std::fs::write(s.dir.join("state.json"), b"{\"frameworks\": [ garbage").unwrap();
    common::eventually(
        Duration::from_secs(20),
        "the broken document refused",
        || failures() > before,
    );
    assert_eq!(
        s.udp(&query("big.marathon.mesos.", RecordType::A))
            .answers()
            .len(),
        3
    );
}

/// Bound to the wildcard, replies leave from the address the query was sent to.
#[test]
fn wildcard_replies_from_the_queried_address() {
    let mut s = Server::spawn(
        Some(&data_path("fake-state.json")),
        &format!(",{SETUP_R}"),
        "0.0.0.0",
    );
    s.wait_ready();
    for addr in ["127.0.0.2", "127.0.0.3"] {
        s.host = addr;
        // A connected socket only accepts datagrams from the address it sent to.
        let r = s.udp(&query("chronos.marathon.mesos.", RecordType::A));
        assert_eq!(r.answers().len(), 1, "via {addr}");
    }
    if UdpSocket::bind("[::1]:0").is_ok() {
        s.host = "::1";
        let r = s.udp(&query("chronos.marathon.mesos.", RecordType::A));
        assert_eq!(r.answers().len(), 1, "via ::1");
    }
}

/// `Listener: "::"` is a wildcard like `0.0.0.0`: it serves every address of both
/// families, and the name server's own records list this machine's addresses, never `::`.
#[test]
fn ipv6_wildcard_listener_is_a_wildcard() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 on this machine: skipped");
        return;
    }
    let mut s = Server::spawn(
        Some(&data_path("fake-state.json")),
        &format!(",{SETUP_R}"),
        "::",
    );
    s.host = "127.0.0.1";
    s.wait_ready();
    for addr in ["127.0.0.2", "::1"] {
        s.host = addr;
        let r = s.udp(&query("chronos.marathon.mesos.", RecordType::A));
        assert_eq!(r.answers().len(), 1, "via {addr}");
    }
    for rtype in [RecordType::A, RecordType::AAAA] {
        let r = s.udp(&query("ns1.mesos.", rtype));
        for record in r.answers() {
            let text = record.data().to_string();
            assert!(
                text != "::" && text != "0.0.0.0",
                "the name server's {rtype} records list {text}"
            );
        }
    }
}
