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
    let (snap, names) = snapshot_with(tasks, &benchmark_config());
    (snap, names.a, names.srv)
}

/// Names to ask of a snapshot (`ptr` and `dcos` empty when those options are off).
pub struct Names {
    pub a: String,
    pub srv: String,
    /// A reverse name with a PTR record.
    pub ptr: String,
    /// A DC/OS `autoip` name.
    pub dcos: String,
}

/// The snapshot of a synthetic cluster under `config`, and names from its middle.
pub fn snapshot_with(tasks: usize, config: &mesos_dns::config::Config) -> (Snapshot, Names) {
    let config = config.clone();
    let doc = state_document(tasks, 1);
    let state = State::from_slice(&doc).unwrap();
    let (set, _) = generate_records(&config, &state);
    // A task name with two or more A records and an SRV name with two or more records,
    // from the middle of the set.
    let middle = |names: Vec<&str>| names[names.len() / 2].to_string();
    let a = middle(
        set.iter()
            .filter(|(_, n, r)| r.a.len() >= 2 && !n.ends_with(".thisdcos.directory."))
            .map(|(_, n, _)| n)
            .collect(),
    );
    let srv = middle(
        set.iter()
            .filter(|(_, n, r)| r.srv.len() >= 2 && !n.ends_with(".thisdcos.directory."))
            .map(|(_, n, _)| n)
            .collect(),
    );
    let ptr: Vec<&str> = set
        .iter()
        .filter(|(_, _, r)| !r.ptr.is_empty())
        .map(|(_, n, _)| n)
        .collect();
    let ptr = ptr
        .get(ptr.len() / 2)
        .map_or_else(String::new, |n| n.to_string());
    let dcos: Vec<&str> = set
        .iter()
        .filter(|(_, n, r)| n.ends_with(".autoip.dcos.thisdcos.directory.") && !r.a.is_empty())
        .map(|(_, n, _)| n)
        .collect();
    let dcos = dcos
        .get(dcos.len() / 2)
        .map_or_else(String::new, |n| n.to_string());
    let names = Names { a, srv, ptr, dcos };
    (compile(set, &config, 1), names)
}
