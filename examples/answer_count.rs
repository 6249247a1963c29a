//! Runs the answer path N times per query type, for instruction counts under callgrind:
//! `valgrind --tool=callgrind examples/answer_count N` (see perf/callgrind.sh, which
//! subtracts a run with N=0 to remove set-up).
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

#[path = "../benches/support/mod.rs"]
mod cases;

use mesos_dns::answer::{Transport, answer};
use std::hint::black_box;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let only = std::env::args().nth(2);
    let mut out = vec![0u8; 65535];
    // With every answer option on (reverse zones, DC/OS names, ...): an A answer beside
    // a PTR and a DC/OS one, from the same snapshot.
    if only.as_deref().is_some_and(|o| o.starts_with("OPTIONS-")) {
        let (snap, names) = cases::snapshot_with(2_000, &mesos_dns::synth::options_config());
        let (qtype, name) = match only.as_deref() {
            Some("OPTIONS-PTR") => (12, names.ptr),
            Some("OPTIONS-DCOS") => (1, names.dcos),
            _ => (1, names.a),
        };
        assert!(!name.is_empty(), "no such name in the synthetic cluster");
        eprintln!("{only:?}: {name}");
        measured_queries(&cases::packet(&name, qtype, false), &snap, n, &mut out);
        return;
    }
    let (snap, a_name, srv_name) = cases::snapshot(2_000);
    let queries = [
        ("A", cases::packet(&a_name, 1, false)),
        ("SRV", cases::packet(&srv_name, 33, false)),
        (
            "NXDOMAIN",
            cases::packet("nothing-here.marathon.mesos.", 1, false),
        ),
    ];
    for (name, q) in &queries {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        measured_queries(q, &snap, n, &mut out);
    }
}

/// The only function callgrind counts (`--toggle-collect=*measured_queries*`).
#[inline(never)]
fn measured_queries(query: &[u8], snap: &mesos_dns::snapshot::Snapshot, n: u32, out: &mut [u8]) {
    for i in 0..n {
        black_box(answer(black_box(query), snap, i, Transport::Udp, out));
    }
}
