//! Record generation against the fixture: docs/spec/mesos-dns-behavior.md §9.3 (setup G) and §9.5.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::*;
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::mesos::state::State;

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Every row of docs/spec/mesos-dns-behavior.md §9.3.
#[test]
fn setup_g_rows() {
    let (set, _) = generate_g(&setup_g_config(""));
    let rows: &[(&str, &str, &[&str])] = &[
        ("A", "big-dog.marathon.mesos.", &["10.3.0.1"]),
        ("A", "big.dog.marathon.mesos.", &["10.3.0.1"]),
        (
            "A",
            "liquor-store.marathon.mesos.",
            &["10.3.0.1", "10.3.0.2"],
        ),
        (
            "A",
            "liquor-store.marathon.slave.mesos.",
            &["1.2.3.11", "1.2.3.12"],
        ),
        ("A", "car-store.marathon.slave.mesos.", &["1.2.3.11"]),
        ("A", "nginx.marathon.mesos.", &["10.3.0.3"]),
        ("A", "poseidon.marathon.mesos.", &[]),
        ("A", "master.mesos.", &["144.76.157.37"]),
        ("A", "master0.mesos.", &["144.76.157.37"]),
        ("A", "leader.mesos.", &["144.76.157.37"]),
        ("A", "slave.mesos.", &["1.2.3.10", "1.2.3.11", "1.2.3.12"]),
        ("AAAA", "slave.mesos.", &["2001:db8::1"]),
        (
            "A",
            "some-box.chronoswithaspaceandmixe.mesos.",
            &["1.2.3.11"],
        ),
        ("A", "marathon.mesos.", &["1.2.3.11"]),
        ("A", "chronoswithaspaceandmixe.mesos.", &["1.2.3.12"]),
        ("A", "mesos-dns.mesos.", &["127.0.0.1"]),
        (
            "A",
            "toy-store.ipv6-framework.mesos.",
            &["12.0.1.3", "12.0.1.2"],
        ),
        (
            "AAAA",
            "toy-store.ipv6-framework.mesos.",
            &["fd01:b::1:8000:2"],
        ),
        (
            "AAAA",
            "toy-store.ipv6-framework.slave.mesos.",
            &["2001:db8::1"],
        ),
        ("AAAA", "ipv6-framework.mesos.", &["2001:db8::1"]),
        (
            "SRV",
            "_big-dog._tcp.marathon.mesos.",
            &[
                "big-dog-4dfjd-0.marathon.mesos.:80",
                "big-dog-4dfjd-0.marathon.mesos.:443",
            ],
        ),
        (
            "SRV",
            "_liquor-store._tcp.marathon.mesos.",
            &[
                "liquor-store-4dfjd-0.marathon.mesos.:80",
                "liquor-store-4dfjd-0.marathon.mesos.:443",
                "liquor-store-zasmd-1.marathon.mesos.:80",
                "liquor-store-zasmd-1.marathon.mesos.:443",
            ],
        ),
        ("SRV", "_liquor-store._udp.marathon.mesos.", &[]),
        ("SRV", "_liquor-store.marathon.mesos.", &[]),
        (
            "SRV",
            "_liquor-store._tcp.marathon.slave.mesos.",
            &[
                "liquor-store-4dfjd-0.marathon.slave.mesos.:31354",
                "liquor-store-4dfjd-0.marathon.slave.mesos.:31355",
                "liquor-store-zasmd-1.marathon.slave.mesos.:31737",
                "liquor-store-zasmd-1.marathon.slave.mesos.:31738",
            ],
        ),
        (
            "SRV",
            "_http._liquor-store._tcp.marathon.mesos.",
            &[
                "liquor-store-4dfjd-0.marathon.mesos.:80",
                "liquor-store-zasmd-1.marathon.mesos.:80",
            ],
        ),
        (
            "SRV",
            "_https._liquor-store._tcp.marathon.mesos.",
            &[
                "liquor-store-4dfjd-0.marathon.mesos.:443",
                "liquor-store-zasmd-1.marathon.mesos.:443",
            ],
        ),
        (
            "SRV",
            "_car-store._tcp.marathon.mesos.",
            &[
                "car-store-zinaz-0.marathon.slave.mesos.:31364",
                "car-store-zinaz-0.marathon.slave.mesos.:31365",
            ],
        ),
        (
            "SRV",
            "_car-store._udp.marathon.mesos.",
            &[
                "car-store-zinaz-0.marathon.slave.mesos.:31364",
                "car-store-zinaz-0.marathon.slave.mesos.:31365",
            ],
        ),
        ("SRV", "_leader._tcp.mesos.", &["leader.mesos.:5050"]),
        ("SRV", "_slave._tcp.mesos.", &["slave.mesos.:5051"]),
        (
            "SRV",
            "_framework._tcp.marathon.mesos.",
            &["marathon.mesos.:25501"],
        ),
    ];
    for (rtype, name, want) in rows {
        assert_eq!(values(&set, rtype, name), sorted(want), "{rtype} {name}");
    }
}

/// The whole dump, record for record. The reference publishes 146 pairs; the one it
/// has and we do not is `nopid.mesos.`, which it gets by resolving the framework's
/// host name `localhost` (we never resolve host names, docs/spec/mesos-dns-behavior.md §10.11).
#[test]
fn setup_g_full_dump() {
    let (set, report) = generate_g(&setup_g_config(""));
    let got = dump(&set);
    let want: Vec<String> = std::fs::read_to_string(data_path("setup-g-records.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(got.len(), 145);
    assert_eq!(got, want);
    assert_eq!(report.skipped, 0, "{:?}", report.examples);
    assert!(set.get("nopid.mesos.").is_none());
}

/// docs/spec/mesos-dns-behavior.md §9.3 variants with other IP sources, and RFC 1123 labels.
#[test]
fn setup_g_variants() {
    let (set, _) = generate_g(&setup_g_config(r#","IPSources":["host"]"#));
    assert_eq!(
        values(&set, "A", "liquor-store.marathon.mesos."),
        sorted(&["1.2.3.11", "1.2.3.12"])
    );
    assert_eq!(
        values(&set, "A", "nginx.marathon.mesos."),
        sorted(&["1.2.3.11"])
    );
    assert_eq!(
        values(&set, "AAAA", "toy-store.ipv6-framework.mesos."),
        sorted(&["2001:db8::1"])
    );

    let (set, _) = generate_g(&setup_g_config(r#","IPSources":["mesos","host"]"#));
    assert_eq!(
        values(&set, "A", "nginx.marathon.mesos."),
        sorted(&["10.3.0.3"])
    );
    assert_eq!(
        values(&set, "A", "liquor-store.marathon.mesos."),
        sorted(&["1.2.3.11", "1.2.3.12"])
    );

    let (set, _) = generate_g(&setup_g_config(r#","IPSources":["docker","host"]"#));
    assert_eq!(
        values(&set, "A", "liquor-store.marathon.mesos."),
        sorted(&["10.3.0.1", "10.3.0.2"])
    );
    assert_eq!(
        values(&set, "A", "nginx.marathon.mesos."),
        sorted(&["1.2.3.11"])
    );

    let (set, _) = generate_g(&setup_g_config(r#","IPSources":["netinfo"]"#));
    assert_eq!(
        values(&set, "A", "toy-store.ipv6-framework.mesos."),
        sorted(&["12.0.1.3", "12.0.1.2"])
    );
    assert_eq!(
        values(&set, "AAAA", "toy-store.ipv6-framework.mesos."),
        sorted(&["fd01:b::1:8000:2"])
    );
    // Tasks without task addresses keep their agent names and SRVs.
    assert!(values(&set, "A", "nginx.marathon.mesos.").is_empty());
    assert_eq!(
        values(&set, "A", "nginx.marathon.slave.mesos."),
        sorted(&["1.2.3.11"])
    );
    assert_eq!(
        values(&set, "SRV", "_chronos._tcp.marathon.mesos.").len(),
        1
    );

    let (set, _) = generate_g(&setup_g_config(r#","EnforceRFC952":false"#));
    assert_eq!(
        values(&set, "A", "chronoswithaspaceandmixedcase-2.0.1.mesos."),
        sorted(&["1.2.3.12"])
    );
}

fn leader_case(masters: &[&str], leader: &str) -> Vec<String> {
    let config =
        config_from(r#"{"zk":"zk://127.0.0.1:2181/mesos","domain":"foo.com","externalon":false}"#)
            .unwrap();
    let state = State {
        leader: leader.into(),
        ..State::default()
    };
    let masters: Vec<String> = masters.iter().map(|s| s.to_string()).collect();
    let (set, _) = generate(
        &config,
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &[],
        },
    );
    dump(&set)
}

fn lines(list: &[&str]) -> Vec<String> {
    sorted(list)
}

/// docs/spec/mesos-dns-behavior.md §9.5, row by row.
#[test]
fn leader_and_master_rows() {
    for leader in ["", "@", "1@", "@2", "3@4"] {
        assert!(leader_case(&[], leader).is_empty(), "{leader:?}");
    }
    let srv = |port: u16| {
        vec![
            format!("SRV _leader._tcp.foo.com. leader.foo.com.:{port}"),
            format!("SRV _leader._udp.foo.com. leader.foo.com.:{port}"),
        ]
    };
    let with_srv = |mut v: Vec<String>| {
        v.extend(srv(7));
        v.sort();
        v
    };
    assert_eq!(
        leader_case(&[], "5@0.0.0.6:7"),
        with_srv(lines(&[
            "A leader.foo.com. 0.0.0.6",
            "A master.foo.com. 0.0.0.6",
            "A master0.foo.com. 0.0.0.6"
        ]))
    );
    assert_eq!(
        leader_case(&[], "5@[2001:db8::1]:7"),
        with_srv(lines(&[
            "AAAA leader.foo.com. 2001:db8::1",
            "AAAA master.foo.com. 2001:db8::1",
            "AAAA master0.foo.com. 2001:db8::1"
        ]))
    );
    assert_eq!(
        leader_case(&["0.0.0.6:7"], "5@0.0.0.6:7"),
        with_srv(lines(&[
            "A leader.foo.com. 0.0.0.6",
            "A master.foo.com. 0.0.0.6",
            "A master0.foo.com. 0.0.0.6"
        ]))
    );
    let two = with_srv(lines(&[
        "A leader.foo.com. 0.0.0.6",
        "A master.foo.com. 0.0.0.6",
        "A master.foo.com. 0.0.0.8",
        "A master0.foo.com. 0.0.0.8",
        "A master1.foo.com. 0.0.0.6",
    ]));
    assert_eq!(leader_case(&["0.0.0.8:9"], "5@0.0.0.6:7"), two);
    assert_eq!(leader_case(&["0.0.0.8:9", "0.0.0.8:9"], "5@0.0.0.6:7"), two);
    assert_eq!(
        leader_case(&["0.0.0.8:9", "0.0.0.6:7", "0.0.0.6:7"], "5@0.0.0.6:7"),
        two
    );
    let mut three = two.clone();
    three.extend(lines(&[
        "A master.foo.com. 0.0.0.7",
        "A master2.foo.com. 0.0.0.7",
    ]));
    three.sort();
    assert_eq!(
        leader_case(&["0.0.0.8:9", "0.0.0.6:7", "0.0.0.7:0"], "5@0.0.0.6:7"),
        three
    );
    let mut v6 = two.clone();
    v6.extend(lines(&[
        "AAAA master.foo.com. 2001:db8::1",
        "AAAA master2.foo.com. 2001:db8::1",
    ]));
    v6.sort();
    assert_eq!(
        leader_case(
            &["0.0.0.8:9", "0.0.0.6:7", "[2001:db8::1]:0"],
            "5@0.0.0.6:7"
        ),
        v6
    );
}

/// A leader that is not an IP crashes the reference; here it only loses its records.
#[test]
fn non_ip_leader_is_skipped() {
    assert!(leader_case(&[], "master@leader.example:5050").is_empty());
}
