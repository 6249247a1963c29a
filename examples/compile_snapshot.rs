//! Decodes a state file, generates and compiles its snapshot, and reports the compile
//! time, the snapshot's size and the process's peak RSS: `compile_snapshot STATE.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::compile;
use mesos_dns::synth::{benchmark_config, generate_records, process_memory_mb};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: compile_snapshot STATE.json");
    let config = benchmark_config();
    let state = State::from_reader(std::fs::File::open(&path).unwrap()).unwrap();
    let (set, _) = generate_records(&config, &state);
    drop(state);
    let start = Instant::now();
    let snapshot = compile(set, &config, 1);
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let (names, bytes) = snapshot.size();
    println!(
        "compile_ms={compile_ms:.0} names={names} snapshot_mb={:.1} rss_now_mb={:.0} peak_rss_mb={:.0}",
        bytes as f64 / 1e6,
        process_memory_mb("VmRSS:"),
        process_memory_mb("VmHWM:")
    );
}
