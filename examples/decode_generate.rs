//! Decodes a state file and generates its records once, reporting the time of each step
//! and the process's peak RSS: `decode_generate STATE.json`. Used by perf/generate.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use mesos_dns::mesos::state::State;
use mesos_dns::synth::{benchmark_config, generate_records, process_memory_mb};
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: decode_generate STATE.json");
    let config = benchmark_config();
    let start = Instant::now();
    let state = if std::env::var_os("FROM_SLICE").is_some() {
        State::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    } else {
        State::from_reader(std::fs::File::open(&path).unwrap()).unwrap()
    };
    let decoded = start.elapsed();
    let (set, report) = generate_records(&config, &state);
    drop(state);
    let total = start.elapsed();
    let (a, aaaa, srv) = set.counts();
    println!(
        "decode_ms={:.0} generate_ms={:.0} total_ms={:.0} peak_rss_mb={:.0} names={} a={a} aaaa={aaaa} srv={srv} skipped={}",
        decoded.as_secs_f64() * 1e3,
        (total - decoded).as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        process_memory_mb("VmHWM:"),
        set.iter().count(),
        report.skipped
    );
}
