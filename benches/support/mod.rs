//! Query packets and a synthetic snapshot, shared by the answer benchmark and the
//! callgrind counter (examples/answer_count.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // ok: measuring code

use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::{Snapshot, compile};
use mesos_dns::synth::{benchmark_config, generate_records, state_document};

/// A query packet for `name` (dotted, absolute) and `qtype`, optionally with EDNS.
pub fn packet(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    p
}

pub fn snapshot(tasks: usize) -> (Snapshot, String, String) {
    let config = benchmark_config();
    let doc = state_document(tasks, 1);
    let state = State::from_slice(&doc).unwrap();
    let (set, _) = generate_records(&config, &state);
    // A task name with two or more A records and an SRV name with two or more records,
    // from the middle of the set.
    let middle = |names: Vec<&str>| names[names.len() / 2].to_string();
    let a = middle(
        set.iter()
            .filter(|(_, _, r)| r.a.len() >= 2)
            .map(|(_, n, _)| n)
            .collect(),
    );
    let srv = middle(
        set.iter()
            .filter(|(_, _, r)| r.srv.len() >= 2)
            .map(|(_, n, _)| n)
            .collect(),
    );
    (compile(set, &config, 1), a, srv)
}
