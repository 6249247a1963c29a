//! Helpers shared by the integration tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

pub mod master;
pub mod server;
pub mod upstream;
pub mod v1;
pub mod zookeeper;

use mesos_dns::config::{Config, ConfigError, Environment};
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::mesos::state::State;
use mesos_dns::records::{RData, RecordSet, Report};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// An environment that touches nothing of the machine's.
pub fn test_env() -> Environment {
    Environment {
        home: Some("/home/tester".into()),
        cwd: PathBuf::from("/work"),
        resolv_conf: data_path("resolv.conf"),
        local_addrs: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    }
}

pub fn config_from(json: &str) -> Result<Config, ConfigError> {
    Config::from_json(json, Path::new("/etc/mesos-dns/config.json"), &test_env())
}

pub fn fixture_state() -> State {
    let bytes = std::fs::read(data_path("fake-state.json")).unwrap();
    State::from_slice(&bytes).unwrap()
}

/// docs/spec/mesos-dns-behavior.md §9.1 setup G: fixture with leader 144.76.157.37, RFC 952, all IP sources.
pub fn setup_g_config(extra: &str) -> Config {
    config_from(&format!(
        r#"{{"masters":["144.76.157.37:5050"],"domain":"mesos","SOAMname":"mesos-dns.mesos",
            "listener":"127.0.0.1","EnforceRFC952":true,"externalon":false,
            "IPSources":["netinfo","docker","mesos","host"]{extra}}}"#
    ))
    .unwrap()
}

pub fn generate_g(config: &Config) -> (RecordSet, Report) {
    let mut state = fixture_state();
    state.leader = "master@144.76.157.37:5050".into();
    let masters = config.masters.clone().unwrap_or_default();
    let listener: Vec<IpAddr> = vec![config.listener];
    generate(
        config,
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &listener,
        },
    )
}

/// Every record as `TYPE name value`, sorted.
pub fn dump(set: &RecordSet) -> Vec<String> {
    let mut lines: Vec<String> = set
        .insertion_log()
        .iter()
        .map(|(owner, rdata)| {
            let value = match rdata {
                RData::A(ip) => ip.to_string(),
                RData::Aaaa(ip) => ip.to_string(),
                RData::Srv { target, port } | RData::Service { target, port, .. } => {
                    format!("{}:{port}", set.name(*target))
                }
                RData::Ptr { target, rank } => format!("{} (rank {rank})", set.name(*target)),
            };
            format!("{} {} {value}", rdata.rtype(), set.name(*owner))
        })
        .collect();
    lines.sort();
    lines
}

/// The values of one name and type, sorted.
pub fn values(set: &RecordSet, rtype: &str, name: &str) -> Vec<String> {
    let mut out: Vec<String> = dump(set)
        .into_iter()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let (t, n, v) = (parts.next()?, parts.next()?, parts.next()?);
            (t == rtype && n == name).then(|| v.to_string())
        })
        .collect();
    out.sort();
    out
}

/// Polls `check` every 20 ms until it holds; fails the test, naming `what`, when it still
/// does not after `within`. Every test that waits for something waits through here, so
/// it says what it waits for and never sleeps longer than needed.
pub fn eventually(within: std::time::Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
