//! docs/spec/mesos-dns-behavior.md §9.6 against the real binary over UDP, adapted where this server follows the
//! RFCs instead of Mesos-DNS (docs/compatibility.md): negative answers carry the apex SOA,
//! SOA/NS at the apex answer in the answer section, no `.*` stripping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, query};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

fn setup_r() -> Server {
    Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"))
}

/// Records as `name ttl type data`, sorted.
fn rrs(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data()))
        .collect();
    v.sort();
    v
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[track_caller]
fn positive(r: &Message, answers: &[&str], additionals: &[&str]) {
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert!(r.authoritative());
    assert!(!r.recursion_available(), "RecurseOn=false");
    assert!(!r.truncated());
    assert_eq!(rrs(r.answers()), sorted(answers));
    assert!(r.name_servers().is_empty());
    assert_eq!(rrs(r.additionals()), sorted(additionals));
}

/// NXDOMAIN or NODATA: no answers, the apex SOA in authority.
#[track_caller]
fn negative(r: &Message, rcode: ResponseCode, apex_owner: &str) {
    assert_eq!(r.response_code(), rcode);
    assert!(r.authoritative());
    assert!(r.answers().is_empty(), "{:?}", r.answers());
    assert_eq!(r.name_servers().len(), 1);
    let soa = &r.name_servers()[0];
    assert_eq!(soa.name().to_string(), apex_owner);
    assert_eq!(soa.ttl(), 60, "min(TTL, SOAMinttl)");
    let RData::SOA(soa) = soa.data() else {
        panic!("not an SOA: {soa:?}")
    };
    assert_eq!(soa.mname().to_string(), "ns1.mesos.");
    assert_eq!(soa.rname().to_string(), "root.ns1.mesos.");
    assert_eq!(
        (soa.refresh(), soa.retry(), soa.expire(), soa.minimum()),
        (60, 600, 86400, 60)
    );
}

#[test]
fn addresses() {
    let s = setup_r();
    positive(
        &s.udp(&query("chronos.marathon.mesos.", RecordType::A)),
        &["chronos.marathon.mesos. 60 A 1.2.3.11"],
        &[],
    );
    // The question's spelling is echoed in the owner (the reference lower-cases it).
    let r = s.udp(&query("cHrOnOs.MARATHON.mesoS.", RecordType::A));
    positive(&r, &["cHrOnOs.MARATHON.mesoS. 60 A 1.2.3.11"], &[]);
    assert_eq!(r.queries()[0].name().to_string(), "cHrOnOs.MARATHON.mesoS.");
    positive(
        &s.udp(&query("toy-store.ipv6-framework.mesos.", RecordType::AAAA)),
        &["toy-store.ipv6-framework.mesos. 60 AAAA fd01:b::1:8000:2"],
        &[],
    );
    positive(
        &s.udp(&query("toy-store.ipv6-framework.mesos.", RecordType::A)),
        &[
            "toy-store.ipv6-framework.mesos. 60 A 12.0.1.2",
            "toy-store.ipv6-framework.mesos. 60 A 12.0.1.3",
        ],
        &[],
    );
    positive(
        &s.udp(&query("master0.mesos.", RecordType::A)),
        &["master0.mesos. 60 A 144.76.157.37"],
        &[],
    );
    positive(
        &s.udp(&query("master1.mesos.", RecordType::A)),
        &["master1.mesos. 60 A 1.2.3.4"],
        &[],
    );
}

#[test]
fn services() {
    let s = setup_r();
    let n = "_liquor-store._tcp.marathon.mesos.";
    positive(
        &s.udp(&query(n, RecordType::SRV)),
        &[
            &format!("{n} 60 SRV 0 1 80 liquor-store-4dfjd-0.marathon.mesos."),
            &format!("{n} 60 SRV 0 1 443 liquor-store-4dfjd-0.marathon.mesos."),
            &format!("{n} 60 SRV 0 1 80 liquor-store-zasmd-1.marathon.mesos."),
            &format!("{n} 60 SRV 0 1 443 liquor-store-zasmd-1.marathon.mesos."),
        ],
        &[
            "liquor-store-4dfjd-0.marathon.mesos. 60 A 10.3.0.1",
            "liquor-store-zasmd-1.marathon.mesos. 60 A 10.3.0.2",
        ],
    );
    let n = "_car-store._udp.marathon.mesos.";
    positive(
        &s.udp(&query(n, RecordType::SRV)),
        &[
            &format!("{n} 60 SRV 0 1 31364 car-store-zinaz-0.marathon.slave.mesos."),
            &format!("{n} 60 SRV 0 1 31365 car-store-zinaz-0.marathon.slave.mesos."),
        ],
        &["car-store-zinaz-0.marathon.slave.mesos. 60 A 1.2.3.11"],
    );
    let n = "_toy-store._tcp.ipv6-framework.mesos.";
    positive(
        &s.udp(&query(n, RecordType::SRV)),
        &[
            &format!("{n} 60 SRV 0 1 31354 toy-store-go588-3.ipv6-framework.slave.mesos."),
            &format!("{n} 60 SRV 0 1 31355 toy-store-go588-3.ipv6-framework.slave.mesos."),
        ],
        &["toy-store-go588-3.ipv6-framework.slave.mesos. 60 AAAA 2001:db8::1"],
    );
    // Every address of the target, not one arbitrary A and AAAA (docs/spec/mesos-dns-behavior.md §10.5).
    positive(
        &s.udp(&query("_slave._tcp.mesos.", RecordType::SRV)),
        &["_slave._tcp.mesos. 60 SRV 0 1 5051 slave.mesos."],
        &[
            "slave.mesos. 60 A 1.2.3.10",
            "slave.mesos. 60 A 1.2.3.11",
            "slave.mesos. 60 A 1.2.3.12",
            "slave.mesos. 60 AAAA 2001:db8::1",
        ],
    );
    positive(
        &s.udp(&query("_leader._udp.mesos.", RecordType::SRV)),
        &["_leader._udp.mesos. 60 SRV 0 1 5050 leader.mesos."],
        &["leader.mesos. 60 A 1.2.3.4"],
    );
}

#[test]
fn negative_answers() {
    let s = setup_r();
    // NODATA: the name exists with other types.
    negative(
        &s.udp(&query("_car-store._udp.marathon.mesos.", RecordType::A)),
        ResponseCode::NoError,
        "mesos.",
    );
    for t in [
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::PTR,
        RecordType::SRV,
    ] {
        negative(
            &s.udp(&query("chronos.marathon.mesos.", t)),
            ResponseCode::NoError,
            "mesos.",
        );
    }
    // NXDOMAIN, whatever the type (the reference gives NOERROR for SRV, SOA and NS).
    for t in [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::SRV,
        RecordType::SOA,
        RecordType::NS,
        RecordType::ANY,
    ] {
        negative(
            &s.udp(&query("missing.mesos.", t)),
            ResponseCode::NXDomain,
            "mesos.",
        );
    }
    // The SOA owner points at the apex as the question spelled it.
    negative(
        &s.udp(&query("Missing.MESOS.", RecordType::SOA)),
        ResponseCode::NXDomain,
        "MESOS.",
    );
    // Empty non-terminals and the apex exist: NODATA, not NXDOMAIN.
    negative(
        &s.udp(&query("marathon.slave.mesos.", RecordType::A)),
        ResponseCode::NoError,
        "mesos.",
    );
    negative(
        &s.udp(&query("_tcp.marathon.mesos.", RecordType::SRV)),
        ResponseCode::NoError,
        "mesos.",
    );
    negative(
        &s.udp(&query("mesos.", RecordType::A)),
        ResponseCode::NoError,
        "mesos.",
    );
    // `*` is an ordinary label in a query (the reference strips `.*`).
    negative(
        &s.udp(&query("chronos.marathon.*.mesos.", RecordType::A)),
        ResponseCode::NXDomain,
        "mesos.",
    );
    negative(
        &s.udp(&query("chronos.*.mesos.", RecordType::A)),
        ResponseCode::NXDomain,
        "mesos.",
    );
    negative(
        &s.udp(&query("*.marathon.mesos.", RecordType::A)),
        ResponseCode::NXDomain,
        "mesos.",
    );
}

#[test]
fn apex_and_any() {
    let s = setup_r();
    let r = s.udp(&query("mesos.", RecordType::SOA));
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert_eq!(r.answers().len(), 1);
    let RData::SOA(soa) = r.answers()[0].data() else {
        panic!()
    };
    assert_eq!(soa.minimum(), 60);
    assert!(soa.serial() > 0);
    let r = s.udp(&query("mesos.", RecordType::NS));
    assert_eq!(rrs(r.answers()), ["mesos. 60 NS ns1.mesos."]);

    positive(
        &s.udp(&query("chronos.marathon.mesos.", RecordType::ANY)),
        &["chronos.marathon.mesos. 60 A 1.2.3.11"],
        &[],
    );
    positive(
        &s.udp(&query("_chronos._tcp.marathon.mesos.", RecordType::ANY)),
        &["_chronos._tcp.marathon.mesos. 60 SRV 0 1 31332 chronos-rx8q6-0.marathon.slave.mesos."],
        &["chronos-rx8q6-0.marathon.slave.mesos. 60 A 1.2.3.11"],
    );
    let r = s.udp(&query("mesos.", RecordType::ANY));
    let types: Vec<RecordType> = r.answers().iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::SOA, RecordType::NS]);
}

#[test]
fn outside_the_domain_is_refused_without_forwarding() {
    let s = setup_r();
    let r = s.udp(&query("google.com.", RecordType::A));
    assert_eq!(r.response_code(), ResponseCode::Refused);
    assert!(!r.authoritative());
    assert!(r.answers().is_empty());
    assert_eq!(r.queries()[0].name().to_string(), "google.com.");
}
