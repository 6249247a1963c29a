//! Zone transfers, primary side: AXFR over TCP (RFC 5936) read by a client and by a real
//! secondary (Knot), the access list, and what UDP gets. All on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, free_port, query, query_edns, temp_dir};
use common::upstream::Knot;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// Asks for a transfer over TCP and reads messages until the closing SOA: the records
/// (both SOAs included) and the messages.
fn axfr(port: u16, zone: &str, rtype: RecordType) -> (Vec<Record>, Vec<Message>) {
    transfer(port, query(zone, rtype), 2)
}

/// An IXFR query for a client at `serial` (our SOA in the authority section).
fn ixfr_query(mut q: Message, serial: u32) -> Message {
    let soa = SOA::new(
        Name::from_ascii("ns1.mesos.").unwrap(),
        Name::from_ascii("root.ns1.mesos.").unwrap(),
        serial,
        0,
        0,
        0,
        0,
    );
    q.add_name_server(Record::from_rdata(
        Name::from_ascii("mesos.").unwrap(),
        0,
        RData::SOA(soa),
    ));
    q
}

/// IXFR for a client at `serial`: the records up to the last SOA (an IXFR answer of one
/// SOA ends at once; a delta answer holds SOAs within).
fn ixfr(port: u16, serial: u32) -> Vec<Record> {
    let q = ixfr_query(query("mesos.", RecordType::IXFR), serial);
    let mut stream = send_tcp(port, &q);
    // Read until the server closes or goes quiet: the answer's shape is what is tested.
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut records = Vec::new();
    let mut len = [0u8; 2];
    while stream.read_exact(&mut len).is_ok() {
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).unwrap();
        let m = Message::from_vec(&buf).unwrap();
        assert_eq!(m.id(), q.id());
        records.extend(m.answers().iter().cloned());
    }
    records
}

/// Renames a task in the server's state file and has it read again (SIGUSR1):
/// `renamed.marathon.mesos.` appears.
fn rename_a_task(s: &Server) {
    let path = s.dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["frameworks"][3]["tasks"][6]["name"] = "renamed".into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    s.signal("USR1");
}

/// A TCP connection to `port` that has sent `q` (10 s read timeout).
fn send_tcp(port: u16, q: &Message) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let bytes = q.to_vec().unwrap();
    stream
        .write_all(&[&(bytes.len() as u16).to_be_bytes()[..], &bytes].concat())
        .unwrap();
    stream
}

fn soa_serial(r: &Record) -> Option<u32> {
    match r.data() {
        RData::SOA(soa) => Some(soa.serial()),
        _ => None,
    }
}

fn transfer(port: u16, q: Message, closing_soas: usize) -> (Vec<Record>, Vec<Message>) {
    let mut stream = send_tcp(port, &q);
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
        if soas == closing_soas {
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
    let s = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
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
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"TransferACL":["10.0.0.0/8"]"#),
    );
    let (_, messages) = axfr(s.port, "mesos.", RecordType::AXFR);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].response_code(), ResponseCode::Refused);

    let open = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
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

/// knotd as a secondary of `mesos.` from our server on `primary`.
fn knot_secondary(primary: u16) -> Knot {
    knot_secondary_on(primary, free_port())
}

/// The same on `port`, taking NOTIFY from loopback and logging to `knot.log`.
fn knot_secondary_on(primary: u16, port: u16) -> Knot {
    Knot::secondary(primary, port, None)
}

/// knotd as a secondary that signs its requests with the `xfr` key and takes only
/// NOTIFYs signed with it; logging to `knot.log`.
fn knot_secondary_keyed(primary: u16, port: u16) -> Knot {
    Knot::secondary(primary, port, Some(SECRET))
}

#[test]
fn knot_is_a_secondary_of_ours() {
    let s = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
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

/// A change to the state moves the serial once, and IXFR from the old serial gives the
/// records removed and added (applied to the old zone they give the new one); a client
/// that is current gets the SOA alone; an unknown serial gets the whole zone. A refresh
/// that changes nothing served leaves the serial alone.
#[test]
fn ixfr_answers_from_the_history() {
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(",{SETUP_R},\"refreshSeconds\":3600"),
    );
    let serial =
        |s: &Server| soa_serial(&s.udp(&query("mesos.", RecordType::SOA)).answers()[0]).unwrap();
    let before = serial(&s);
    let (old_zone, _) = axfr(s.port, "mesos.", RecordType::AXFR);

    // Current: the SOA alone.
    let current = ixfr(s.port, before);
    assert_eq!(current.len(), 1);
    assert_eq!(soa_serial(&current[0]), Some(before));

    // The same document again: nothing served changes, the serial stays.
    let refreshes = s.metric("mesos_dns_state_refreshes_total");
    s.signal("USR1");
    common::eventually(
        Duration::from_secs(10),
        "the refresh SIGUSR1 asked for",
        || s.metric("mesos_dns_state_refreshes_total") > refreshes,
    );
    assert_eq!(serial(&s), before);

    // Rename a task.
    rename_a_task(&s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while serial(&s) == before {
        assert!(Instant::now() < deadline, "the serial never moved");
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = serial(&s);
    let (new_zone, _) = axfr(s.port, "mesos.", RecordType::AXFR);

    let delta = ixfr(s.port, before);
    let serials: Vec<Option<u32>> = delta.iter().map(soa_serial).collect();
    assert_eq!(serials.first(), Some(&Some(after)));
    assert_eq!(serials.last(), Some(&Some(after)));
    assert_eq!(serials[1], Some(before), "the old SOA opens the removals");
    // Apply: between old SOA and new SOA removals, then additions until the next SOA.
    let body: Vec<String> = rows(&old_zone[1..old_zone.len() - 1]).into_iter().collect();
    let mut zone: BTreeSet<String> = body.into_iter().collect();
    let mut removing = true;
    for r in &delta[2..delta.len() - 1] {
        if let Some(x) = soa_serial(r) {
            removing = x != after;
            continue;
        }
        let row = format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data());
        if removing {
            assert!(zone.remove(&row), "removed {row} was not served");
        } else {
            assert!(zone.insert(row.clone()), "added {row} was served already");
        }
    }
    let expected: BTreeSet<String> = rows(&new_zone[1..new_zone.len() - 1]);
    assert_eq!(zone, expected, "old zone + IXFR = new zone");
    assert!(
        expected
            .iter()
            .any(|r| r.starts_with("renamed.marathon.mesos."))
    );

    // A serial the history does not reach: the whole zone.
    let full = ixfr(s.port, before.wrapping_sub(1000));
    assert_eq!(rows(&full), rows(&new_zone));
    // Each answer counted by what it was.
    let metrics = s.get("/metrics").body;
    for (kind, result, at_least) in [
        ("axfr", "full", 2),
        ("ixfr", "current", 1),
        ("ixfr", "incremental", 1),
        ("ixfr", "full", 1),
    ] {
        let line = format!(
            "mesos_dns_transfers_total{{role=\"primary\",kind=\"{kind}\",result=\"{result}\"}} "
        );
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} missing"));
        assert!(n >= at_least, "{line}{n}");
    }
}

/// The primary's count of IXFR answers of one result.
fn ixfr_count(s: &Server, result: &str) -> f64 {
    s.metric(&format!(
        "mesos_dns_transfers_total{{role=\"primary\",kind=\"ixfr\",result=\"{result}\"}}"
    ))
}

/// IXFR over UDP (RFC 1995 §2): the same answer as over TCP in one datagram when it fits
/// the client's EDNS size, else the current SOA alone (the client then asks over TCP);
/// a peer outside `TransferACL` gets the SOA alone whatever fits.
#[test]
fn ixfr_over_udp_answers_in_one_datagram_when_it_fits() {
    let setup = format!(",{SETUP_R},\"refreshSeconds\":3600,\"EDNSMaxUDPSize\":4096");
    let open = Server::start_process(&data_path("fake-state.json"), &setup);
    let closed = Server::start_process(
        &data_path("fake-state.json"),
        &format!("{setup},\"TransferACL\":[\"10.0.0.0/8\"]"),
    );
    let serial =
        |s: &Server| soa_serial(&s.udp(&query("mesos.", RecordType::SOA)).answers()[0]).unwrap();
    let before: Vec<u32> = [&open, &closed].map(serial).to_vec();
    for (s, before) in [&open, &closed].into_iter().zip(&before) {
        rename_a_task(s);
        common::eventually(Duration::from_secs(10), "the serial moves", || {
            serial(s) != *before
        });
    }
    let after = serial(&open);
    let over_tcp = ixfr(open.port, before[0]);
    assert!(over_tcp.len() > 3, "a delta: {over_tcp:?}");

    let over_udp = open.udp(&ixfr_query(
        query_edns("mesos.", RecordType::IXFR, 4096),
        before[0],
    ));
    assert_eq!(over_udp.response_code(), ResponseCode::NoError);
    assert!(over_udp.authoritative());
    assert!(over_udp.extensions().is_some(), "OPT answers OPT");
    assert_eq!(
        over_udp.answers(),
        &over_tcp[..],
        "the TCP answer, in one datagram"
    );
    assert_eq!(ixfr_count(&open, "incremental"), 2.0);

    // Without EDNS (512 octets) the delta does not fit: the newer SOA alone.
    let too_small = open.udp(&ixfr_query(query("mesos.", RecordType::IXFR), before[0]));
    assert_eq!(too_small.answers().len(), 1);
    assert_eq!(soa_serial(&too_small.answers()[0]), Some(after));
    assert_eq!(ixfr_count(&open, "over_tcp"), 1.0);
    // Current: the SOA alone.
    let current = open.udp(&ixfr_query(
        query_edns("mesos.", RecordType::IXFR, 4096),
        after,
    ));
    assert_eq!(current.answers().len(), 1);
    assert_eq!(soa_serial(&current.answers()[0]), Some(after));
    assert_eq!(ixfr_count(&open, "current"), 1.0);

    // Outside TransferACL: the public SOA, never the changes.
    let refused = closed.udp(&ixfr_query(
        query_edns("mesos.", RecordType::IXFR, 4096),
        before[1],
    ));
    assert_eq!(refused.answers().len(), 1);
    assert_eq!(refused.answers()[0].record_type(), RecordType::SOA);
    assert_eq!(ixfr_count(&closed, "refused"), 1.0);
    assert_eq!(ixfr_count(&closed, "incremental"), 0.0);
}

/// With Knot among `NotifySecondaries`, a change reaches Knot at once (our SOA refresh is
/// a minute): NOTIFY, then Knot asks for the change by IXFR and serves it.
#[test]
fn knot_follows_a_change_by_notify_and_ixfr() {
    let knot_port = free_port();
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(
            r#",{SETUP_R},"refreshSeconds":3600,"NotifySecondaries":["127.0.0.1:{knot_port}"]"#
        ),
    );
    let knot = knot_secondary_on(s.port, knot_port);
    let knot_answers = |name: &str| -> Option<Message> {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .ok()?;
        socket
            .send_to(
                &query(name, RecordType::A).to_vec().ok()?,
                ("127.0.0.1", knot.port),
            )
            .ok()?;
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).ok()?;
        Message::from_vec(&buf[..n]).ok()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while knot_answers("chronos.marathon.mesos.").is_none_or(|m| m.answers().is_empty()) {
        assert!(Instant::now() < deadline, "Knot never loaded the zone");
        std::thread::sleep(Duration::from_millis(200));
    }

    rename_a_task(&s);
    let changed = Instant::now();
    let deadline = changed + Duration::from_secs(20);
    while knot_answers("renamed.marathon.mesos.").is_none_or(|m| m.answers().is_empty()) {
        assert!(Instant::now() < deadline, "Knot never got the change");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("change → Knot answers: {:?}", changed.elapsed());
    let log = std::fs::read_to_string(knot.dir.join("knot.log")).unwrap_or_default();
    assert!(
        log.contains("notify, incoming")
            && log.contains("IXFR, incoming")
            && log
                .lines()
                .any(|l| l.contains("IXFR, incoming") && l.contains("finished"))
            && !log.to_ascii_lowercase().contains("fallback"),
        "Knot took the NOTIFY and the change by IXFR:\n{log}"
    );
}

const SECRET: &str = "c2VjcmV0LXNoYXJlZC1ieS1ib3RoLXNpZGVzLTEyMzQ=";

/// kdig's AXFR of `mesos.` from `port`, signed with `key` when given: kdig checks the
/// signature of every message. Its output.
fn kdig_axfr(port: u16, key: Option<&str>) -> String {
    let mut cmd = Command::new("kdig");
    cmd.arg("@127.0.0.1").arg("-p").arg(port.to_string());
    if let Some(key) = key {
        cmd.arg("-y").arg(key);
    }
    let out = cmd
        .args(["+tcp", "+timeout=5", "+retry=0", "mesos.", "AXFR"])
        .output()
        .expect("kdig (Debian package knot-dnsutils) is needed by the transfer tests");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// TransferTSIG: a transfer signed with the key is answered, every message signed (kdig
/// verifies them); unsigned it is REFUSED, with an unknown key or a wrong secret NOTAUTH
/// with BADKEY or BADSIG; Knot with the key is a secondary.
#[test]
fn tsig_signed_transfers() {
    let knot_port = free_port();
    let s = Server::start_process(
        &data_path("fake-state.json"),
        &format!(
            r#",{SETUP_R},"TSIGKeys":{{"xfr":{{"Algorithm":"hmac-sha256","Secret":"{SECRET}"}}}},"TransferTSIG":"xfr","NotifySecondaries":["127.0.0.1:{knot_port}"]"#
        ),
    );
    let good = kdig_axfr(s.port, Some(&format!("hmac-sha256:xfr:{SECRET}")));
    assert!(good.contains("liquor-store.marathon.mesos."), "{good}");
    assert!(!good.to_ascii_lowercase().contains("failed"), "{good}");
    assert!(good.contains("TSIG"), "{good}");

    let unsigned = kdig_axfr(s.port, None);
    assert!(unsigned.contains("REFUSED"), "{unsigned}");
    let unknown = kdig_axfr(s.port, Some(&format!("hmac-sha256:other:{SECRET}")));
    assert!(unknown.contains("BADKEY"), "{unknown}");
    let wrong = kdig_axfr(s.port, Some("hmac-sha256:xfr:d3Jvbmctc2VjcmV0"));
    assert!(wrong.contains("BADSIG"), "{wrong}");
    // The secret never shows in /v1/config.
    let config = s.get("/v1/config").body;
    assert!(
        !config.contains(SECRET) && config.contains("TSIGKeys"),
        "{config}"
    );

    // Knot, with the key, transfers the zone.
    let knot = knot_secondary_keyed(s.port, knot_port);
    let (ours, _) = axfr_signed_skip(&s);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = kdig_axfr(knot.port, None);
        if out.contains("liquor-store.marathon.mesos.") {
            for row in &ours {
                assert!(out.contains(row.as_str()), "{row} missing from Knot's copy");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Knot never transferred the zone with the key"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A change: the signed NOTIFY is taken, and the change comes by signed IXFR.
    rename_a_task(&s);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !kdig_axfr(knot.port, None).contains("renamed.marathon.mesos.") {
        assert!(Instant::now() < deadline, "Knot never got the change");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(knot.dir.join("knot.log")).unwrap_or_default();
    assert!(
        log.contains("notify, incoming")
            && log.contains("IXFR, incoming")
            && !log.contains("denied")
            && !log.contains("TSIG"),
        "{log}"
    );
}

/// A few names we serve, as they appear in a transfer listing.
fn axfr_signed_skip(s: &Server) -> (Vec<String>, ()) {
    let names = [
        "liquor-store.marathon.mesos.",
        "leader.mesos.",
        "_chronos._tcp.marathon.mesos.",
    ];
    for name in names {
        assert!(
            !s.udp(&query(name, RecordType::ANY)).answers().is_empty(),
            "{name}"
        );
    }
    (names.iter().map(|n| n.to_string()).collect(), ())
}

/// A zone of many messages, signed: each message's MAC chains to the one before, and
/// kdig accepts every one.
#[test]
fn tsig_chains_over_many_messages() {
    let dir = temp_dir();
    let state = dir.join("big-state.json");
    std::fs::write(&state, mesos_dns::synth::state_document(400, 1)).unwrap();
    let s = Server::start_process(
        &state,
        &format!(
            r#","masters":["10.255.0.1:5050"],"TSIGKeys":{{"xfr":{{"Algorithm":"hmac-sha512","Secret":"{SECRET}"}}}},"TransferTSIG":"xfr""#
        ),
    );
    let out = kdig_axfr(s.port, Some(&format!("hmac-sha512:xfr:{SECRET}")));
    let messages: usize = out
        .lines()
        .find_map(|l| {
            l.strip_prefix(";; Received ")?
                .split('(')
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    assert!(
        messages > 3,
        "{}",
        out.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    // kdig reports a bad or missing signature as a warning or an error.
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.starts_with(";; WARNING") || l.starts_with(";; ERROR") || l.contains("BADSIG")
        })
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `SerialFile`: the serial never goes back across restarts, even for a primary whose
/// publishes ran it ahead of the clock.
#[test]
fn serial_survives_restarts() {
    let dir = temp_dir();
    let file = dir.join("serial");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    // A serial a million publishes ahead of the clock.
    std::fs::write(&file, format!("{}\n", now + 1_000_000)).unwrap();
    let extra = format!(
        r#",{SETUP_R},"SerialFile":{:?}"#,
        file.display().to_string()
    );
    let serial = |s: &Server| match s.udp(&query("mesos.", RecordType::SOA)).answers()[0].data() {
        RData::SOA(soa) => soa.serial(),
        other => panic!("{other:?}"),
    };
    let mut first = Server::start_process(&data_path("fake-state.json"), &extra);
    let served = serial(&first);
    assert!(served > now + 1_000_000, "{served}");
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(5)).is_some());
    let stored: u32 = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(stored, served, "written at shutdown");
    let second = Server::start_process(&data_path("fake-state.json"), &extra);
    assert!(
        serial(&second) > served,
        "the serial went back after a restart"
    );
    let _ = std::fs::remove_dir_all(dir);
}
