//! Secondary mode (`Primaries`): our secondary following our primary (NOTIFY, IXFR,
//! tiers with Knot below it, TSIG), Knot as the primary of a static zone, and a scripted
//! primary that sends broken transfers and goes away. All on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, free_port, query, temp_dir};
use common::upstream::Knot;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "c2VjcmV0LXNoYXJlZC1ieS1ib3RoLXNpZGVzLTEyMzQ=";

/// The answer rows of a query (name, TTL, type, data), sorted.
pub(crate) fn answer_rows(s: &Server, name: &str, rtype: RecordType) -> BTreeSet<String> {
    rows(
        s.try_udp(&query(name, rtype), Duration::from_secs(1))
            .map_or_else(Vec::new, |m| {
                m.answers().iter().chain(m.additionals()).cloned().collect()
            }),
    )
}

fn rows(records: Vec<Record>) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data()))
        .collect()
}

pub(crate) fn answers(s: &Server, name: &str, rtype: RecordType) -> Option<Message> {
    s.try_udp(&query(name, rtype), Duration::from_secs(1))
}

/// Whether `s` answers `name` `rtype` with records (for waiting on).
fn has_records(s: &Server, name: &str, rtype: RecordType) -> bool {
    answers(s, name, rtype).is_some_and(|m| !m.answers().is_empty())
}

/// `kdig` AXFR of `mesos.` from `port`: the records as rows (kdig's own parser).
pub(crate) fn kdig_axfr(port: u16) -> BTreeSet<String> {
    kdig(port, "AXFR").into_iter().collect()
}

/// `kdig` IXFR of `mesos.` from `port` for a client at `serial`: the records as rows.
fn kdig_ixfr(port: u16, serial: u32) -> Vec<String> {
    kdig(port, &format!("IXFR={serial}"))
}

/// `kdig` of `mesos.` `what` from `port`: the records as rows, in order.
pub(crate) fn kdig(port: u16, what: &str) -> Vec<String> {
    let out = Command::new("kdig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "mesos.",
            what,
            "+nocomments",
            "+nostats",
            "+noheader",
        ])
        .output()
        .expect("kdig (Debian package knot-dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The serial a server answers for `mesos.` SOA.
pub(crate) fn soa_serial(s: &Server) -> u32 {
    let m = answers(s, "mesos.", RecordType::SOA).unwrap();
    match m.answers()[0].data() {
        RData::SOA(soa) => soa.serial(),
        other => panic!("{other:?}"),
    }
}

/// Renames a task in the primary's state file and has it read again.
pub(crate) fn rename_a_task(s: &Server, to: &str) {
    let path = s.dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["frameworks"][3]["tasks"][6]["name"] = to.into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    s.signal("USR1");
}

#[test]
fn our_secondary_follows_our_primary_and_feeds_a_knot_below_it() {
    let secondary_port = free_port();
    let primary = Server::start_process(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"NotifySecondaries":["127.0.0.1:{secondary_port}"]"#),
    );
    let knot_port = free_port();
    let secondary = Server::secondary_on_process(
        secondary_port,
        &[format!("127.0.0.1:{}", primary.port)],
        &format!(r#","NotifySecondaries":["127.0.0.1:{knot_port}"]"#),
    );
    common::eventually(Duration::from_secs(20), "the first transfer", || {
        has_records(&secondary, "leader.mesos.", RecordType::A)
    });
    // The same zone, record for record, and the same answers.
    assert_eq!(kdig_axfr(secondary.port), kdig_axfr(primary.port));
    for (name, rtype) in [
        ("liquor-store.marathon.mesos.", RecordType::A),
        ("_liquor-store._tcp.marathon.mesos.", RecordType::SRV),
        ("mesos.", RecordType::SOA),
        ("mesos.", RecordType::NS),
        ("slave.mesos.", RecordType::A),
    ] {
        let ours = answer_rows(&secondary, name, rtype);
        assert!(!ours.is_empty(), "{name} {rtype}");
        assert_eq!(ours, answer_rows(&primary, name, rtype), "{name} {rtype}");
    }
    let missing = answers(&secondary, "nothing-here.mesos.", RecordType::A).unwrap();
    assert_eq!(missing.response_code(), ResponseCode::NXDomain);
    assert_eq!(missing.name_servers()[0].record_type(), RecordType::SOA);

    // A change on the primary: NOTIFY, then IXFR (our SOA refresh is 60 s, so only the
    // NOTIFY can bring it this fast).
    let knot = Knot::secondary(secondary.port, knot_port, None);
    let serial_before = soa_serial(&secondary);
    let tcp_before = tcp_transfer_requests(&primary);
    let started = Instant::now();
    rename_a_task(&primary, "renamed");
    common::eventually(
        Duration::from_secs(10),
        "the change on the secondary",
        || has_records(&secondary, "renamed.marathon.mesos.", RecordType::A),
    );
    eprintln!("change on the secondary after {:?}", started.elapsed());
    assert!(
        secondary.metric(
            r#"mesos_dns_transfers_total{role="secondary",kind="ixfr",result="incremental"}"#
        ) >= 1.0
    );
    // The change fits one datagram: it came by IXFR over UDP, with no TCP connection.
    assert_eq!(tcp_transfer_requests(&primary), tcp_before);
    assert!(secondary.metric(r#"mesos_dns_notifies_received_total{result="taken"}"#) >= 1.0);
    assert_eq!(kdig_axfr(secondary.port), kdig_axfr(primary.port));
    // kdig takes the change from the secondary by IXFR (the secondary's history holds
    // the changes it applied, under the primary's serials).
    let ixfr = kdig_ixfr(secondary.port, serial_before);
    let serial_after = soa_serial(&secondary);
    assert_eq!(serial_after, soa_serial(&primary));
    assert!(
        ixfr.iter()
            .any(|r| r.starts_with("renamed.marathon.mesos. ") && r.contains(" A ")),
        "{ixfr:?}"
    );
    let soas: Vec<&String> = ixfr.iter().filter(|r| r.contains(" SOA ")).collect();
    // The new SOA, then per step an old and a new one, then the new one again.
    assert!(soas.len() >= 4 && soas.len() % 2 == 0, "{ixfr:?}");
    assert!(soas[0].contains(&format!(" {serial_after} ")), "{ixfr:?}");
    assert!(soas[1].contains(&format!(" {serial_before} ")), "{ixfr:?}");

    // Tiers: Knot, a secondary of our secondary, holds the same zone.
    common::eventually(Duration::from_secs(20), "Knot below our secondary", || {
        kdig_axfr(knot.port) == kdig_axfr(primary.port)
    });

    // The HTTP API of a secondary.
    let hosts = secondary.get("/v1/hosts/renamed.marathon.mesos").json();
    assert_eq!(
        hosts,
        primary.get("/v1/hosts/renamed.marathon.mesos").json()
    );
    let services = secondary
        .get("/v1/services/_liquor-store._tcp.marathon.mesos")
        .json();
    assert_eq!(services.as_array().unwrap().len(), 4);
    let axfr = secondary.get("/v1/axfr").json();
    let axfr_primary = primary.get("/v1/axfr").json();
    assert_eq!(axfr["Records"], axfr_primary["Records"]);
    assert_eq!(axfr["Serial"], axfr_primary["Serial"]);
    let enumerate = secondary.get("/v1/enumerate");
    assert_eq!(enumerate.status, 501);
    assert!(
        enumerate.json()["error"]
            .as_str()
            .unwrap()
            .contains("Mesos")
    );
    assert_eq!(secondary.get("/ready").status, 200);
}

#[test]
fn notifies_from_others_are_refused() {
    let primary = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let secondary =
        Server::secondary_on_process(free_port(), &[format!("127.0.0.1:{}", primary.port)], "");
    common::eventually(Duration::from_secs(20), "the first transfer", || {
        has_records(&secondary, "leader.mesos.", RecordType::A)
    });
    let notify = |from: &str, zone: &str| {
        let mut m = query(zone, RecordType::SOA);
        m.set_op_code(OpCode::Notify).set_recursion_desired(false);
        let socket = UdpSocket::bind((from, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket
            .send_to(&m.to_vec().unwrap(), ("127.0.0.1", secondary.port))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        let reply = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(reply.id(), m.id());
        assert_eq!(reply.op_code(), OpCode::Notify);
        assert_eq!(reply.message_type(), MessageType::Response);
        reply.response_code()
    };
    // The listed primary's address: taken. Another loopback address: refused.
    assert_eq!(notify("127.0.0.1", "mesos."), ResponseCode::NoError);
    assert_eq!(notify("127.0.0.2", "mesos."), ResponseCode::Refused);
    assert_eq!(notify("127.0.0.1", "example."), ResponseCode::NotAuth);
    assert_eq!(
        secondary.metric(r#"mesos_dns_notifies_received_total{result="refused"}"#),
        2.0
    );
    // SIGHUP: the live keys of a new config.json apply on a secondary too.
    let path = secondary.dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["NotifySecondaries"] = serde_json::json!(["127.0.0.1:5300"]);
    config["MaxAnswers"] = 1.into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    secondary.signal("HUP");
    common::eventually(Duration::from_secs(10), "the reloaded config", || {
        secondary.get("/v1/config").json()["NotifySecondaries"]
            == serde_json::json!(["127.0.0.1:5300"])
    });
    // The zone held is compiled again under the new answer settings.
    common::eventually(Duration::from_secs(10), "MaxAnswers applied", || {
        answers(
            &secondary,
            "_liquor-store._tcp.marathon.mesos.",
            RecordType::SRV,
        )
        .is_some_and(|m| m.answers().len() == 1)
    });

    // A server that follows Mesos does not take NOTIFY.
    let mut m = query("mesos.", RecordType::SOA);
    m.set_op_code(OpCode::Notify);
    assert_eq!(primary.udp(&m).response_code(), ResponseCode::NotImp);
}

#[test]
fn a_primary_that_does_not_answer_is_passed_over() {
    let primary = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    // Nothing listens on the first: refused at once, then the next is asked.
    let nobody = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("127.0.0.1:{}", nobody.local_addr().unwrap().port());
    drop(nobody);
    let secondary = Server::secondary_on_process(
        free_port(),
        &[dead, format!("127.0.0.1:{}", primary.port)],
        "",
    );
    common::eventually(
        Duration::from_secs(20),
        "the zone from the second primary",
        || has_records(&secondary, "leader.mesos.", RecordType::A),
    );
    assert!(pulls(&secondary, "axfr", "unreachable") >= 1.0);
    assert_eq!(pulls(&secondary, "axfr", "full"), 1.0);
}

#[test]
fn tsig_between_our_primary_and_secondary() {
    let keys = format!(
        r#""TSIGKeys":{{"xfr":{{"Algorithm":"hmac-sha256","Secret":"{SECRET}"}}}},"TransferTSIG":"xfr""#
    );
    let primary =
        Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R},{keys}"));
    let primaries = [format!("127.0.0.1:{}", primary.port)];
    let good = Server::secondary_on_process(free_port(), &primaries, &format!(",{keys}"));
    common::eventually(Duration::from_secs(20), "a signed transfer", || {
        has_records(&good, "leader.mesos.", RecordType::A)
    });
    // A secondary with another secret gets nothing, and says why.
    let wrong = r#","TSIGKeys":{"xfr":{"Algorithm":"hmac-sha256","Secret":"b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0xMjM0NTY="}},"TransferTSIG":"xfr""#;
    let bad = Server::secondary_on_process(free_port(), &primaries, wrong);
    common::eventually(Duration::from_secs(20), "the secondary up", || {
        answers(&bad, "leader.mesos.", RecordType::A).is_some()
    });
    // Its HTTP side may come up after its DNS side: read the counter when there is one.
    common::eventually(Duration::from_secs(20), "a refused signature", || {
        bad.try_metric(
            r#"mesos_dns_transfers_total{role="secondary",kind="axfr",result="bad_tsig"}"#,
        )
        .is_some_and(|n| n >= 1.0)
    });
    let m = answers(&bad, "leader.mesos.", RecordType::A).unwrap();
    assert_eq!(m.response_code(), ResponseCode::ServFail);
    assert_eq!(bad.get("/ready").status, 503);

    // A small change comes signed in one datagram (IXFR over UDP), checked by its TSIG:
    // the primary takes no TCP connection for it.
    let (tcp_before, serial_before) = (tcp_transfer_requests(&primary), soa_serial(&primary));
    rename_a_task(&primary, "signed-change");
    common::eventually(Duration::from_secs(10), "the primary's change", || {
        soa_serial(&primary) != serial_before
    });
    good.signal("USR1");
    common::eventually(
        Duration::from_secs(10),
        "the change on the secondary",
        || has_records(&good, "signed-change.marathon.mesos.", RecordType::A),
    );
    assert_eq!(tcp_transfer_requests(&primary), tcp_before);
    assert!(
        primary.metric(
            r#"mesos_dns_transfers_total{role="primary",kind="ixfr",result="incremental"}"#
        ) >= 1.0
    );
}

/// Transfer requests (counted as qtype "other") the primary took over TCP.
fn tcp_transfer_requests(primary: &Server) -> f64 {
    primary.metric(r#"mesos_dns_requests_total{protocol="tcp",qtype="other"}"#)
}

/// A zone file of `mesos.` for Knot: SOA serial `serial`, and what our secondary must
/// keep (SRV priority and weight, per-set TTLs) or leave out (TXT).
fn static_zone(serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN mesos.\n$TTL 120\n\
         @ SOA ns1.mesos. admin.mesos. {serial} 3600 600 86400 30\n\
         @ NS ns1.mesos.\nns1 A 127.0.0.1\n\
         www A {www}\nwww 45 AAAA 2001:db8::1\n\
         _web._tcp SRV 10 20 8080 www.mesos.\n_web._tcp SRV 20 5 8081 www.mesos.\n\
         note TXT \"not served\"\n"
    )
}

#[test]
fn knot_as_primary_of_a_static_zone() {
    let dir = temp_dir();
    let d = dir.display();
    let (knot_port, our_port) = (free_port(), free_port());
    std::fs::write(dir.join("mesos.zone"), static_zone(1, "192.0.2.10")).unwrap();
    let conf = format!(
        "server:\n    listen: 127.0.0.1@{knot_port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n    rundir: {d}\n\
         control:\n    listen: {d}/knot.sock\n\
         database:\n    storage: {d}\nlog:\n  - target: {d}/knot.log\n    any: info\n\
         remote:\n  - id: ours\n    address: 127.0.0.1@{our_port}\n\
         acl:\n  - id: local_transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
         zone:\n  - domain: mesos\n    file: {d}/mesos.zone\n    storage: {d}\n    notify: ours\n    acl: local_transfer\n\
         \x20   zonefile-load: difference\n    journal-content: changes\n"
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    let mut knotd = Command::new("knotd")
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("knotd (Debian package knot)");
    let ours = Server::secondary_on_process(our_port, &[format!("127.0.0.1:{knot_port}")], "");
    common::eventually(Duration::from_secs(20), "the zone from Knot", || {
        has_records(&ours, "www.mesos.", RecordType::A)
    });
    // Served as Knot serves it: the primary's SOA, SRV priorities and weights, TTLs.
    let srv = answers(&ours, "_web._tcp.mesos.", RecordType::SRV).unwrap();
    let mut got: Vec<(u16, u16, u16, u32)> = srv
        .answers()
        .iter()
        .map(|r| match r.data() {
            RData::SRV(s) => (s.priority(), s.weight(), s.port(), r.ttl()),
            other => panic!("{other:?}"),
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![(10, 20, 8080, 120), (20, 5, 8081, 120)]);
    let aaaa = answers(&ours, "www.mesos.", RecordType::AAAA).unwrap();
    assert_eq!(aaaa.answers()[0].ttl(), 45);
    let soa = answers(&ours, "mesos.", RecordType::SOA).unwrap();
    match soa.answers()[0].data() {
        RData::SOA(s) => {
            assert_eq!(s.serial(), 1);
            assert_eq!(s.rname().to_ascii(), "admin.mesos.");
            assert_eq!(s.refresh(), 3600);
        }
        other => panic!("{other:?}"),
    }
    // TXT is not a type this server serves: its name is not served either.
    let txt = answers(&ours, "note.mesos.", RecordType::TXT).unwrap();
    assert!(txt.answers().is_empty());
    // The negative answer's TTL: min(SOA TTL, SOA minimum).
    let nx = answers(&ours, "nothing.mesos.", RecordType::A).unwrap();
    assert_eq!(nx.name_servers()[0].ttl(), 30);

    // Knot's zone changes: Knot NOTIFYs us, and we take its IXFR.
    std::fs::write(dir.join("mesos.zone"), static_zone(2, "192.0.2.20")).unwrap();
    let reload = Command::new("knotc")
        .args(["-s", &format!("{d}/knot.sock"), "zone-reload", "mesos"])
        .output()
        .expect("knotc");
    assert!(reload.status.success(), "{reload:?}");
    common::eventually(Duration::from_secs(10), "Knot's change", || {
        answer_rows(&ours, "www.mesos.", RecordType::A)
            .iter()
            .any(|r| r.contains("192.0.2.20"))
    });
    assert!(
        ours.metric(
            r#"mesos_dns_transfers_total{role="secondary",kind="ixfr",result="incremental"}"#
        ) >= 1.0
    );
    assert_eq!(answer_rows(&ours, "www.mesos.", RecordType::A).len(), 1);
    let _ = knotd.kill();
    let _ = knotd.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the scripted primary sends.
#[derive(Clone, Default)]
struct Script {
    /// The SOA it answers SOA queries with (and opens and closes transfers with).
    soa: Option<Record>,
    /// The records between the SOAs of an AXFR; a message per element.
    zone: Vec<Vec<Record>>,
    /// The answer to an IXFR, as messages (`None`: the AXFR's).
    ixfr: Option<Vec<Vec<Record>>>,
    /// The closing SOA, when it is to differ from the opening one.
    closing: Option<Record>,
    /// Close the connection after this many transfer messages.
    cut_after: Option<usize>,
}

/// A primary on loopback that answers from a script, for transfers no real server sends.
struct ScriptedPrimary {
    port: u16,
    script: Arc<Mutex<Script>>,
}

impl ScriptedPrimary {
    fn start() -> ScriptedPrimary {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        std::thread::spawn(move || {
            // Bounded: the test process ends it.
            for stream in listener.incoming().take(10_000).flatten() {
                let script = shared.clone();
                std::thread::spawn(move || serve_script(stream, &script));
            }
        });
        ScriptedPrimary { port, script }
    }

    fn set(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }
}

fn serve_script(mut stream: TcpStream, script: &Mutex<Script>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut len = [0u8; 2];
    while stream.read_exact(&mut len).is_ok() {
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        if stream.read_exact(&mut buf).is_err() {
            return;
        }
        let q = Message::from_vec(&buf).unwrap();
        let script = script.lock().unwrap().clone();
        let Some(soa) = script.soa.clone() else {
            return;
        };
        let qtype = q.queries()[0].query_type();
        let messages: Vec<Vec<Record>> = match qtype {
            RecordType::SOA => vec![vec![soa]],
            _ => {
                let mut body = match (qtype, &script.ixfr) {
                    (RecordType::IXFR, Some(ixfr)) => ixfr.clone(),
                    _ => script.zone.clone(),
                };
                if qtype == RecordType::AXFR || script.ixfr.is_none() {
                    body.insert(0, vec![soa.clone()]);
                    body.push(vec![script.closing.clone().unwrap_or(soa)]);
                }
                body
            }
        };
        for (i, records) in messages.into_iter().enumerate() {
            if qtype != RecordType::SOA && script.cut_after == Some(i) {
                return;
            }
            let mut m = Message::new();
            m.set_id(q.id())
                .set_message_type(MessageType::Response)
                .set_authoritative(true)
                .add_queries(q.queries().to_vec())
                .add_answers(records);
            let bytes = m.to_vec().unwrap();
            let framed = [&(bytes.len() as u16).to_be_bytes()[..], &bytes].concat();
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}

fn soa(serial: u32, refresh: i32, retry: i32, expire: i32) -> Record {
    Record::from_rdata(
        Name::from_ascii("mesos.").unwrap(),
        60,
        RData::SOA(SOA::new(
            Name::from_ascii("ns1.mesos.").unwrap(),
            Name::from_ascii("admin.mesos.").unwrap(),
            serial,
            refresh,
            retry,
            expire,
            30,
        )),
    )
}

fn a(name: &str, last: u8) -> Record {
    Record::from_rdata(
        Name::from_ascii(name).unwrap(),
        60,
        RData::A(A(Ipv4Addr::new(10, 0, 0, last))),
    )
}

/// A zone of `count` names, `big-<i>.mesos.` with a TXT each, in messages of 50 records.
fn big_zone(count: usize) -> Vec<Vec<Record>> {
    let records: Vec<Record> = (0..count)
        .map(|i| {
            Record::from_rdata(
                Name::from_ascii(format!("big-{i}.mesos.")).unwrap(),
                60,
                RData::TXT(TXT::new(vec!["x".repeat(200)])),
            )
        })
        .collect();
    records.chunks(50).map(<[Record]>::to_vec).collect()
}

pub(crate) fn pulls(s: &Server, kind: &str, result: &str) -> f64 {
    s.metric(&format!(
        r#"mesos_dns_transfers_total{{role="secondary",kind="{kind}",result="{result}"}}"#
    ))
}

#[test]
fn bad_transfers_are_rejected_and_the_zone_kept_until_it_expires() {
    let primary = ScriptedPrimary::start();
    let good_zone = vec![
        vec![
            Record::from_rdata(
                Name::from_ascii("mesos.").unwrap(),
                60,
                RData::NS(NS(Name::from_ascii("ns1.mesos.").unwrap())),
            ),
            a("ns1.mesos.", 53),
            a("app.mesos.", 1),
            Record::from_rdata(
                Name::from_ascii("_app._tcp.mesos.").unwrap(),
                60,
                RData::SRV(SRV::new(0, 1, 80, Name::from_ascii("app.mesos.").unwrap())),
            ),
        ],
        // The same record again, in another message: held once (the IXFR below deletes
        // it once, and it must be gone).
        vec![a("app.mesos.", 1)],
    ];
    // Refresh and retry every second; expire after 60 s (3 s from the good IXFR on).
    primary.set(Script {
        soa: Some(soa(1, 1, 1, 60)),
        zone: good_zone.clone(),
        ..Script::default()
    });
    let ours = Server::secondary_on_process(
        free_port(),
        &[format!("127.0.0.1:{}", primary.port)],
        r#","TransferMaxBytes":65536"#,
    );
    let app = || answer_rows(&ours, "app.mesos.", RecordType::A);
    common::eventually(Duration::from_secs(20), "the first transfer", || {
        !app().is_empty()
    });
    let served = app();

    // Each broken transfer is counted and thrown away; the zone held keeps serving. A
    // secondary that holds a zone asks for an IXFR (answered here AXFR-style unless
    // the script has an IXFR).
    let cases: Vec<(&str, &str, Script)> = vec![
        (
            "ixfr",
            "out_of_zone",
            Script {
                soa: Some(soa(2, 1, 1, 60)),
                zone: vec![vec![a("app.mesos.", 2), a("app.example.", 3)]],
                ixfr: Some(vec![vec![
                    soa(2, 1, 1, 60),
                    a("app.example.", 3),
                    soa(2, 1, 1, 60),
                ]]),
                ..Script::default()
            },
        ),
        (
            "ixfr",
            "soa_mismatch",
            Script {
                soa: Some(soa(3, 1, 1, 60)),
                zone: vec![vec![a("app.mesos.", 2)]],
                closing: Some(soa(4, 1, 1, 60)),
                ..Script::default()
            },
        ),
        (
            "ixfr",
            "malformed",
            Script {
                soa: Some(soa(5, 1, 1, 60)),
                zone: vec![vec![a("app.mesos.", 2)], vec![a("other.mesos.", 3)]],
                cut_after: Some(2),
                ..Script::default()
            },
        ),
        (
            "ixfr",
            "oversized",
            Script {
                soa: Some(soa(6, 1, 1, 60)),
                zone: big_zone(400),
                ..Script::default()
            },
        ),
        (
            // Deletes a record the zone does not hold: then the whole zone is asked
            // for, and that one is broken too (cut short).
            "ixfr",
            "ixfr_mismatch",
            Script {
                soa: Some(soa(7, 1, 1, 60)),
                zone: vec![vec![a("app.mesos.", 2)]],
                ixfr: Some(vec![vec![
                    soa(7, 1, 1, 60),
                    soa(1, 1, 1, 60),
                    a("app.mesos.", 99),
                    soa(7, 1, 1, 60),
                    a("app.mesos.", 2),
                    soa(7, 1, 1, 60),
                ]]),
                cut_after: Some(1),
                ..Script::default()
            },
        ),
    ];
    for (kind, result, script) in cases {
        let before = pulls(&ours, kind, result);
        primary.set(script);
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            common::eventually(Duration::from_secs(10), result, || {
                pulls(&ours, kind, result) > before
            })
        }));
        assert!(waited.is_ok(), "no {result}; the log:\n{}", ours.log());
        assert_eq!(
            app(),
            served,
            "the zone held is still served after {result}"
        );
        assert_eq!(ours.get("/ready").status, 200);
    }

    // Logged once each, though every second brought the same failure again.
    let log = ours.log();
    for result in [
        "out_of_zone",
        "soa_mismatch",
        "malformed",
        "oversized",
        "ixfr_mismatch",
    ] {
        let times = log.matches(&format!("result=\"{result}\"")).count();
        assert_eq!(times, 1, "{result} logged {times} times:\n{log}");
    }

    // A good IXFR applies as a change (and brings an expire time of 3 s).
    primary.set(Script {
        soa: Some(soa(8, 1, 1, 3)),
        zone: good_zone,
        ixfr: Some(vec![vec![
            soa(8, 1, 1, 3),
            soa(1, 1, 1, 60),
            a("app.mesos.", 1),
            soa(8, 1, 1, 3),
            a("app.mesos.", 8),
            soa(8, 1, 1, 3),
        ]]),
        ..Script::default()
    });
    common::eventually(Duration::from_secs(10), "the good IXFR", || {
        app().iter().any(|r| r.contains("10.0.0.8"))
    });
    assert_eq!(app().len(), 1);
    let srv = answers(&ours, "_app._tcp.mesos.", RecordType::SRV).unwrap();
    assert_eq!(
        srv.additionals()[0].data(),
        &RData::A(A(Ipv4Addr::new(10, 0, 0, 8))),
        "the SRV's additional address follows the change"
    );

    // The primary goes silent: past the SOA expire, SERVFAIL and not ready.
    primary.set(Script::default());
    common::eventually(Duration::from_secs(15), "the zone's expiry", || {
        answers(&ours, "app.mesos.", RecordType::A)
            .is_some_and(|m| m.response_code() == ResponseCode::ServFail)
    });
    assert_eq!(ours.get("/ready").status, 503);
    // It answers again: served again.
    primary.set(Script {
        soa: Some(soa(8, 1, 1, 3)),
        ..Script::default()
    });
    common::eventually(Duration::from_secs(15), "the zone served again", || {
        answers(&ours, "app.mesos.", RecordType::A)
            .is_some_and(|m| m.response_code() == ResponseCode::NoError && !m.answers().is_empty())
    });
    assert_eq!(ours.get("/ready").status, 200);
}

/// `DataDirectory`: a secondary killed and restarted while its primary is frozen answers
/// from the zone it kept, then catches up by IXFR once the primary continues, without a
/// whole transfer.
#[test]
fn a_restarted_secondary_answers_from_disk_then_catches_up_by_ixfr() {
    let port = free_port();
    let primary = Server::start_process(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"NotifySecondaries":["127.0.0.1:{port}"]"#),
    );
    let data = common::server::temp_dir();
    let kept = format!(r#","DataDirectory":"{}""#, data.display());
    let primaries = [format!("127.0.0.1:{}", primary.port)];
    let mut first = Server::secondary_on_process(port, &primaries, &kept);
    common::eventually(Duration::from_secs(20), "the whole zone kept", || {
        first
            .try_metric("mesos_dns_zone_kept_serial")
            .unwrap_or(0.0)
            > 0.0
    });
    let whole = soa_serial(&first);
    // One change by IXFR, so that the IXFR history holds a delta to keep too.
    rename_a_task(&primary, "before-restart");
    common::eventually(Duration::from_secs(20), "the change kept", || {
        let kept = first
            .try_metric("mesos_dns_zone_kept_serial")
            .unwrap_or(0.0);
        kept > 0.0 && kept != f64::from(whole)
    });
    let serial = soa_serial(&first);
    assert_eq!(
        first.metric("mesos_dns_zone_kept_serial"),
        f64::from(serial)
    );
    let before = answer_rows(&first, "liquor-store.marathon.mesos.", RecordType::A);
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(5)).unwrap();

    primary.signal("STOP");
    let second = Server::secondary_on_process(port, &primaries, &kept);
    common::eventually(
        Duration::from_secs(10),
        "answers from the kept zone",
        || has_records(&second, "leader.mesos.", RecordType::A),
    );
    assert_eq!(soa_serial(&second), serial);
    assert_eq!(
        answer_rows(&second, "liquor-store.marathon.mesos.", RecordType::A),
        before
    );
    assert_eq!(second.get("/ready").status, 200);
    // The IXFR history came back too: a client at the older serial gets the change
    // alone, not the whole zone.
    let ixfr = kdig_ixfr(second.port, whole);
    let from_whole = ixfr
        .iter()
        .filter(|r| r.split_whitespace().nth(3) == Some("SOA"))
        .filter(|r| r.split_whitespace().nth(6) == Some(whole.to_string().as_str()))
        .count();
    assert!(
        from_whole >= 1,
        "an incremental answer from {whole}: {ixfr:?}"
    );
    assert!(ixfr.len() < 20, "{ixfr:?}");

    // A change while the primary is frozen reaches the secondary once it continues.
    rename_a_task(&primary, "after-restart");
    primary.signal("CONT");
    common::eventually(Duration::from_secs(30), "the change by IXFR", || {
        has_records(&second, "after-restart.marathon.mesos.", RecordType::A)
    });
    assert!(pulls(&second, "ixfr", "incremental") >= 1.0);
    assert_eq!(pulls(&second, "axfr", "full"), 0.0, "no whole transfer");
    let _ = std::fs::remove_dir_all(data);
}

/// A kept zone that is not a database is logged once, set aside, and the zone is
/// transferred afresh; the file is written again.
#[test]
fn a_corrupt_kept_zone_is_set_aside() {
    let primary = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    let data = common::server::temp_dir();
    std::fs::write(
        data.join("zone.redb"),
        b"this is not a database, but it is long enough to look like one at a glance",
    )
    .unwrap();
    let kept = format!(r#","DataDirectory":"{}""#, data.display());
    let secondary =
        Server::secondary_on_process(free_port(), &[format!("127.0.0.1:{}", primary.port)], &kept);
    common::eventually(
        Duration::from_secs(20),
        "the zone transferred afresh",
        || {
            secondary
                .try_metric("mesos_dns_zone_kept_serial")
                .unwrap_or(0.0)
                > 0.0
        },
    );
    assert_eq!(pulls(&secondary, "axfr", "full"), 1.0);
    let log = secondary.log();
    assert_eq!(log.matches("set aside").count(), 1, "{log}");
    assert!(data.join("zone.redb.bad").exists());
    let _ = std::fs::remove_dir_all(data);
}

/// The serial of the SOA row of a kdig AXFR.
fn axfr_serial(rows: &BTreeSet<String>) -> Option<u32> {
    rows.iter()
        .find(|r| r.split_whitespace().nth(3) == Some("SOA"))
        .and_then(|r| r.split_whitespace().nth(6)?.parse().ok())
}

/// `kill -9` at random moments while the primary keeps changing the zone: every restart
/// loads what was kept, and the zone a restarted secondary serves at a serial is the
/// zone the primary served at that serial (the same serial means the same zone).
#[test]
fn kill_9_at_random_moments_never_serves_a_zone_the_primary_did_not() {
    let port = free_port();
    let primary = Server::start_process(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"NotifySecondaries":["127.0.0.1:{port}"]"#),
    );
    let data = temp_dir();
    let kept = format!(r#","DataDirectory":"{}""#, data.display());
    let primaries = [format!("127.0.0.1:{}", primary.port)];
    // Every zone the primary served, by serial.
    let mut served = std::collections::HashMap::new();
    let record = |served: &mut std::collections::HashMap<u32, BTreeSet<String>>| {
        let rows = kdig_axfr(primary.port);
        served.insert(axfr_serial(&rows).unwrap(), rows);
    };
    record(&mut served);
    // A deterministic run of random moments, from a seed printed for a rerun.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill -9 moments from seed {seed}");
    let mut next_ms = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut secondary = Server::secondary_on_process(port, &primaries, &kept);
    // The first whole zone is on disk before the first kill; every restart after it
    // then has a zone to serve (later changes are single commits).
    common::eventually(Duration::from_secs(30), "the first zone kept", || {
        secondary
            .try_metric("mesos_dns_zone_kept_serial")
            .unwrap_or(0.0)
            > 0.0
    });
    let rounds = 20;
    let mut restarts_from_disk = 0;
    for round in 0..rounds {
        // A change on the primary, then a kill somewhere in the NOTIFY, IXFR and commit
        // that follow it.
        let before = soa_serial(&primary);
        rename_a_task(&primary, &format!("round-{round}"));
        common::eventually(Duration::from_secs(10), "the primary's new serial", || {
            soa_serial(&primary) != before
        });
        record(&mut served);
        std::thread::sleep(Duration::from_millis(next_ms(150)));
        secondary.signal("KILL");
        secondary.wait_exit(Duration::from_secs(5)).unwrap();

        // Restarted while the primary is frozen: only the disk can answer.
        primary.signal("STOP");
        secondary = Server::secondary_on_process(port, &primaries, &kept);
        // Bounded: a loaded machine takes a while to start a process and read the zone.
        let from_disk = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            has_records(&secondary, "leader.mesos.", RecordType::A)
        });
        if from_disk {
            restarts_from_disk += 1;
            let rows = kdig_axfr(secondary.port);
            let serial = axfr_serial(&rows).unwrap();
            assert_eq!(
                served.get(&serial),
                Some(&rows),
                "round {round}: the zone served at serial {serial} is not the primary's"
            );
        }
        primary.signal("CONT");
        common::eventually(
            Duration::from_secs(30),
            "the secondary current again",
            || {
                has_records(
                    &secondary,
                    &format!("round-{round}.marathon.mesos."),
                    RecordType::A,
                )
            },
        );
    }
    // The first transfer was kept before the first kill at the latest: every restart
    // after it found a zone on disk.
    assert_eq!(
        restarts_from_disk, rounds,
        "{restarts_from_disk} of {rounds} restarts from disk"
    );
    assert_eq!(kdig_axfr(secondary.port), kdig_axfr(primary.port));
    drop(secondary);
    let _ = std::fs::remove_dir_all(data);
}

/// A primary listening on one address sends its NOTIFYs from it: a secondary that knows
/// it by that address (here 127.0.0.2, where the system would pick 127.0.0.1) takes
/// them, and a change arrives long before the SOA refresh (60 s).
#[test]
fn notifies_come_from_the_primarys_listener_address() {
    let port = free_port();
    let primary = Server::spawn_process(
        Some(&data_path("fake-state.json")),
        &format!(r#",{SETUP_R},"NotifySecondaries":["127.0.0.1:{port}"]"#),
        "127.0.0.2",
    );
    primary.wait_ready();
    let secondary = Server::secondary_on(port, &[format!("127.0.0.2:{}", primary.port)], "");
    common::eventually(Duration::from_secs(20), "the first transfer", || {
        has_records(&secondary, "leader.mesos.", RecordType::A)
    });
    rename_a_task(&primary, "notified");
    common::eventually(Duration::from_secs(20), "the change, by NOTIFY", || {
        has_records(&secondary, "notified.marathon.mesos.", RecordType::A)
    });
    assert!(secondary.metric(r#"mesos_dns_notifies_received_total{result="taken"}"#) >= 1.0);
    assert_eq!(
        secondary.metric(r#"mesos_dns_notifies_received_total{result="refused"}"#),
        0.0
    );
}
