//! A primary's zone memory by part, at several cluster sizes: live bytes from jemalloc's
//! statistics after a first load and its publish: the model (built once on its own), the
//! shards' tables and the answer sets (each measured by dropping it; the sets split by
//! their own byte counts into records in wire form, SRV additional addresses and the
//! rest), and the store (what is left). For the compact-zone work (perf/README.md).
//!
//! `cargo run --release --example zone_parts -- 10000 100000 300000`
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::cluster::Cluster;
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
        "| tasks | records | names | model | store | store: names' text | store: values | shards' tables | sets: wire records | sets: SRV additional addresses | sets: other | total live | bytes per record |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mb = |b: usize| format!("{:.1} MB", b as f64 / 1e6);
    for tasks in sizes {
        let config = benchmark_config();
        let empty = Snapshot::empty(&config);
        let document = state_document(tasks, 1);
        let decode = || State::from_slice(&document).unwrap().into_cluster_state();
        // The model alone, built once on its own (the engine builds the same).
        let base = live();
        let model = Cluster::from_state(decode(), vec!["127.0.0.1:5050".into()], vec![]);
        let model_bytes = live() - base;
        drop(model);
        let state = decode();
        let mut engine = Engine::new(config);
        engine.apply_state(state, &["127.0.0.1:5050".into()], &[]);

        let (snapshot, _) = engine.publish(&empty).unwrap();
        let total = live() - base;
        let (names, _) = snapshot.size();
        // Each part exactly, by taking them away in turn: the shards (the sets stay in
        // the pool), then the sets; the store is what is left beside the model.
        let (extras, wire) = engine.pool_parts();
        drop(snapshot);
        let without_shards = live() - base;
        engine.sweep_sets();
        let without_sets = live() - base;
        let shard_tables = total - without_shards;
        let sets = without_shards - without_sets;
        let store = without_sets.saturating_sub(model_bytes);
        let (_, a, aaaa, srv) = engine.store().counts();
        let (names_text, values) = engine.store().parts_held();
        let records = a + aaaa + srv;
        println!(
            "| {tasks} | {records} | {names} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            mb(model_bytes),
            mb(store),
            mb(names_text),
            mb(values),
            mb(shard_tables),
            mb(wire),
            mb(extras),
            mb(sets.saturating_sub(wire + extras)),
            mb(total),
            total as f64 / records as f64
        );
    }
}
