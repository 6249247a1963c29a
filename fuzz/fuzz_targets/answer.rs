//! Any bytes as a DNS query against the fixture's snapshot, over UDP and TCP limits:
//! never a panic, never a reply over the limit, always a parseable header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos_dns::config::{Config, Environment};
use mesos_dns::answer::{Outcome, Transport, answer, refuse};
use mesos_dns::mesos::state::State;
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::snapshot::{Snapshot, compile};
use std::sync::OnceLock;

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let config = Config::from_json(
            r#"{"masters":["144.76.157.37:5050"],"externalon":false,"listener":"127.0.0.1",
                "IPSources":["netinfo","docker","mesos","host"],"EDNSMaxUDPSize":4096}"#,
            "config.json".as_ref(),
            &Environment::system(),
        )
        .unwrap();
        let state = State::from_slice(include_bytes!("../../tests/data/fake-state.json")).unwrap();
        let masters = config.masters.clone().unwrap();
        let (set, _) = generate(&config, &state, Inputs { masters: &masters, listener_ips: &[config.listener] });
        compile(set, &config, 1)
    })
}

fuzz_target!(|data: &[u8]| {
    let snap = snapshot();
    let mut out = vec![0u8; 65535];
    for (transport, limit) in [(Transport::Udp, 4096), (Transport::Tcp, 65535)] {
        for rotation in [0, 7] {
            match answer(data, snap, rotation, transport, &mut out) {
                Outcome::Reply { len: n, .. } => {
                    assert!(n <= limit && n >= 12);
                    assert!(out[2] & 0x80 != 0, "QR set");
                }
                Outcome::IxfrOverUdp(ixfr) => {
                    let (n, question_end) = (ixfr.len, ixfr.question_end);
                    assert!(matches!(transport, Transport::Udp), "the TCP listener streams IXFR");
                    assert!(n <= limit && n >= 12 && question_end <= data.len());
                    assert!(out[2] & 0x80 != 0, "QR set");
                }
                Outcome::Forward { .. } => {
                    if let Outcome::Reply { len: n, .. } = refuse(data, snap, transport, &mut out) {
                        assert!(n <= 512.max(limit.min(65535)));
                    }
                }
                Outcome::Transfer { question_end, .. } => {
                    assert!(matches!(transport, Transport::Tcp), "transfers are TCP only");
                    assert!(question_end <= data.len());
                }
                Outcome::Drop => {}
            }
        }
    }
});
