//! Zone transfers, primary side: AXFR over TCP (RFC 5936) read by a client and by a real
//! secondary (Knot), the access list, and what UDP gets. All on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

mod common;
use common::data_path;
use common::server::{SETUP_R, Server, free_port, query, temp_dir};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Asks for a transfer over TCP and reads messages until the closing SOA: the records
/// (both SOAs included) and the messages.
fn axfr(port: u16, zone: &str, rtype: RecordType) -> (Vec<Record>, Vec<Message>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let q = query(zone, rtype);
    let bytes = q.to_vec().unwrap();
    stream
        .write_all(&[&(bytes.len() as u16).to_be_bytes()[..], &bytes].concat())
        .unwrap();
    let (mut records, mut messages) = (Vec::new(), Vec::new());
    let mut soas = 0;
    // Bounded: at most 10,000 messages.
    for _ in 0..10_000 {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).unwrap();
        let m = Message::from_vec(&buf).unwrap();
        assert_eq!(m.id(), q.id(), "the query ID in every message");
        if m.response_code() != ResponseCode::NoError {
            messages.push(m);
            return (records, messages);
        }
        for r in m.answers() {
            soas += usize::from(r.record_type() == RecordType::SOA);
            records.push(r.clone());
        }
        messages.push(m);
        if soas == 2 {
            return (records, messages);
        }
    }
    panic!("no closing SOA");
}

fn rows(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data()))
        .collect()
}

#[test]
fn axfr_streams_the_whole_zone() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let (records, messages) = axfr(s.port, "mesos.", RecordType::AXFR);
    assert_eq!(records.first().unwrap().record_type(), RecordType::SOA);
    assert_eq!(records.last().unwrap().record_type(), RecordType::SOA);
    assert_eq!(records.first(), records.last());
    // Every name and value the server answers is in it.
    let all = rows(&records);
    for (name, rtype) in [
        ("liquor-store.marathon.mesos.", RecordType::A),
        ("_liquor-store._tcp.marathon.mesos.", RecordType::SRV),
        ("leader.mesos.", RecordType::A),
    ] {
        for r in s.udp(&query(name, rtype)).answers() {
            let row = format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data());
            assert!(all.contains(&row), "{row} missing from the AXFR");
        }
    }
    assert!(
        all.iter()
            .any(|r| r.starts_with("mesos. ") && r.contains(" NS "))
    );
    // The same snapshot gives the same transfer, record for record.
    let (again, _) = axfr(s.port, "mesos.", RecordType::AXFR);
    assert_eq!(records, again);
    // IXFR without a journal: the whole zone, AXFR-style (RFC 1995 §4).
    let (ixfr, _) = axfr(s.port, "mesos.", RecordType::IXFR);
    assert_eq!(rows(&ixfr), all);
    assert!(
        messages.iter().all(Message::authoritative),
        "AA in every message"
    );
}

#[test]
fn transfers_are_refused_outside_the_acl_and_limited_on_udp() {
    let s = Server::start(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"TransferACL":["10.0.0.0/8"]"#),
    );
    let (_, messages) = axfr(s.port, "mesos.", RecordType::AXFR);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].response_code(), ResponseCode::Refused);

    let open = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    // Below the apex: not a zone of ours.
    let (_, below) = axfr(open.port, "marathon.mesos.", RecordType::AXFR);
    assert_eq!(below[0].response_code(), ResponseCode::NotAuth);
    // Over UDP: an IXFR gets the current SOA, an AXFR is not served.
    let ixfr = open.udp(&query("mesos.", RecordType::IXFR));
    assert_eq!(ixfr.answers().len(), 1);
    assert_eq!(ixfr.answers()[0].record_type(), RecordType::SOA);
    let axfr_udp = open.udp(&query("mesos.", RecordType::AXFR));
    assert_eq!(axfr_udp.response_code(), ResponseCode::NotImp);
}

struct Knot {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// knotd as a secondary of `mesos.` from our server on `primary`.
fn knot_secondary(primary: u16) -> Knot {
    let dir = temp_dir();
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n    rundir: {d}\n\
         database:\n    storage: {d}\nlog:\n  - target: stderr\n    any: critical\n\
         remote:\n  - id: primary\n    address: 127.0.0.1@{primary}\n\
         acl:\n  - id: local_transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
         zone:\n  - domain: mesos\n    master: primary\n    acl: local_transfer\n    storage: {d}\n    zonefile-sync: -1\n"
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    let child = Command::new("knotd")
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("knotd (Debian package knot) is needed by the transfer tests");
    Knot { child, port, dir }
}

#[test]
fn knot_is_a_secondary_of_ours() {
    let s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let knot = knot_secondary(s.port);
    let (ours, _) = axfr(s.port, "mesos.", RecordType::AXFR);
    // Knot transfers the zone at start; wait (bounded) until it serves it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let theirs = loop {
        if TcpStream::connect(("127.0.0.1", knot.port)).is_ok() {
            let (records, messages) = axfr(knot.port, "mesos.", RecordType::AXFR);
            if messages
                .first()
                .is_some_and(|m| m.response_code() == ResponseCode::NoError)
                && !records.is_empty()
            {
                break records;
            }
        }
        assert!(Instant::now() < deadline, "Knot never served the zone");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(rows(&theirs), rows(&ours), "Knot serves the zone we serve");
}
