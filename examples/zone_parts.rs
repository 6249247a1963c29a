//! A primary's zone memory by part, at several cluster sizes: live bytes from jemalloc's
//! statistics around each step of a first load (the decoded state, then the model and
//! the store, then the compiled snapshot), split with the parts' own byte counts (the
//! store's tables, the shards' tables, the answer sets: records in wire form, SRV
//! additional addresses, the rest). For the compact-zone work (perf/README.md).
//!
//! `cargo run --release --example zone_parts -- 10000 100000 300000`
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::Snapshot;
use mesos_dns::synth::{benchmark_config, state_document};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn live() -> usize {
    tikv_jemalloc_ctl::epoch::advance().unwrap();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("task counts"))
        .collect();
    println!(
        "| tasks | records | names | model | store | shards' tables | sets: wire records | sets: SRV additional addresses | sets: other | total live | bytes per record |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mb = |b: usize| format!("{:.1} MB", b as f64 / 1e6);
    for tasks in sizes {
        let config = benchmark_config();
        let empty = Snapshot::empty(&config);
        let base = live();
        let state = State::from_slice(&state_document(tasks, 1))
            .unwrap()
            .into_cluster_state();
        let mut engine = Engine::new(config);
        engine.apply_state(state, &["127.0.0.1:5050".into()], &[]);
        let model_and_store = live() - base;
        let store = engine.store().bytes_held();
        let (snapshot, _) = engine.publish(&empty).unwrap();
        let total = live() - base;
        let (names, shard_tables) = snapshot.size();
        let (_, sets) = engine.pool_size();
        let (extras, wire) = engine.pool_parts();
        let (_, a, aaaa, srv) = engine.store().counts();
        let records = a + aaaa + srv;
        println!(
            "| {tasks} | {records} | {names} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            mb(model_and_store.saturating_sub(store)),
            mb(store),
            mb(shard_tables),
            mb(wire),
            mb(extras),
            mb(sets.saturating_sub(wire + extras)),
            mb(total),
            total as f64 / records as f64
        );
        drop(snapshot);
    }
}
