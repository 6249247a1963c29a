//! `/v1/enumerate` and `/v1/axfr` documents for the fixture (spec §9.7, setup R).

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

mod common;
use common::*;
use mesos_dns::http::documents::{ZoneInfo, write_axfr, write_enumerate};
use mesos_dns::records::{Inputs, RecordSet, generate};
use serde_json::Value;

fn setup_r() -> RecordSet {
    let config = config_from(
        r#"{"masters":["144.76.157.37:5050"],"EnforceRFC952":true,"RecurseOn":false,"externalon":false,
            "IPSources":["netinfo","docker","mesos","host"],"listener":"127.0.0.1"}"#,
    )
    .unwrap();
    let state = fixture_state();
    let masters = config.masters.clone().unwrap();
    generate(
        &config,
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &[config.listener],
        },
    )
    .0
}

#[test]
fn enumerate_matches_spec() {
    let set = setup_r();
    let mut out = Vec::new();
    write_enumerate(&set, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let frameworks = doc["frameworks"].as_array().unwrap();
    let summary: Vec<(String, Vec<(String, usize)>)> = frameworks
        .iter()
        .map(|f| {
            let tasks = f["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let n = t["records"].as_array().map_or(0, |r| r.len());
                    (t["name"].as_str().unwrap().to_string(), n)
                })
                .collect();
            (f["name"].as_str().unwrap().to_string(), tasks)
        })
        .collect();
    let want: Vec<(String, Vec<(String, usize)>)> = vec![
        ("ipv6-framework".into(), vec![("toy-store".into(), 16)]),
        (
            "chronos with a space AND MIXED CASE-2.0.1".into(),
            vec![("some-box".into(), 8)],
        ),
        ("no pid".into(), vec![]),
        (
            "marathon".into(),
            vec![
                ("liquor.store".into(), 24),
                ("big.dog2".into(), 24),
                ("non-human-readable-liquor-store".into(), 24),
                ("car.store".into(), 12),
                ("chronos".into(), 8),
                ("nginx".into(), 4),
                ("reviewbot".into(), 8),
            ],
        ),
    ];
    assert_eq!(summary, want);
    assert_eq!(frameworks[2]["tasks"], Value::Array(vec![]));

    let chronos = &frameworks[3]["tasks"][4];
    assert_eq!(
        chronos["id"],
        "chronos.49b91a9a-3dda-11e4-a088-c20493233aa5"
    );
    let records: Vec<(String, String, String)> = chronos["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("rtype"), s("name"), s("host"))
        })
        .collect();
    let target = "chronos-rx8q6-0.marathon.slave.mesos.:31332";
    let want: Vec<(String, String, String)> = [
        ("A", "chronos.marathon.mesos.", "1.2.3.11"),
        ("A", "chronos-rx8q6-0.marathon.mesos.", "1.2.3.11"),
        ("A", "chronos.marathon.slave.mesos.", "1.2.3.11"),
        ("A", "chronos-rx8q6-0.marathon.slave.mesos.", "1.2.3.11"),
        ("SRV", "_chronos._tcp.marathon.slave.mesos.", target),
        ("SRV", "_chronos._udp.marathon.slave.mesos.", target),
        ("SRV", "_chronos._tcp.marathon.mesos.", target),
        ("SRV", "_chronos._udp.marathon.mesos.", target),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(records, want);
}

#[test]
fn enumerate_without_frameworks_is_null() {
    let set = RecordSet::default();
    let mut out = Vec::new();
    write_enumerate(&set, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"frameworks":null}"#);
}

#[test]
fn axfr_document() {
    let set = setup_r();
    let zone = ZoneInfo {
        ttl: 60,
        serial: 42,
        refresh_seconds: 60,
        mname: "ns1.mesos.",
        rname: "root.ns1.mesos.",
        domain: "mesos",
    };
    let mut out = Vec::new();
    write_axfr(&set, &zone, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(r#"{"TTL":60,"Serial":42,"RefreshSeconds":60,"Mname":"ns1.mesos.","Rname":"root.ns1.mesos.","Domain":"mesos","Records":{"As":{"#));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let records = &doc["Records"];
    let mut masters: Vec<&str> = records["As"]["master.mesos."]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    masters.sort();
    assert_eq!(masters, ["1.2.3.4", "144.76.157.37"]);
    assert_eq!(records["As"]["master0.mesos."][0], "144.76.157.37");
    assert_eq!(records["As"]["master1.mesos."][0], "1.2.3.4");
    assert_eq!(records["AAAAs"]["slave.mesos."][0], "2001:db8::1");
    assert_eq!(
        records["SRVs"]["_leader._tcp.mesos."][0],
        "leader.mesos.:5050"
    );
    // Names come sorted, as Go's map encoding writes them.
    let keys: Vec<&String> = records["As"].as_object().unwrap().keys().collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(keys, sorted_keys);
    let total: usize = ["As", "AAAAs", "SRVs"]
        .iter()
        .map(|t| {
            records[*t]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(total, set.insertion_log().len());
}
