//! A primary's zone memory by part, at several cluster sizes: live bytes from jemalloc's
//! statistics after a first load, its publish and the nodes let go. The model is built once on its own
//! and measured exactly; the zone (the shards, which the store and the snapshot share,
//! and the answer sets) is split by the parts' own byte counts: the names' keys, the
//! index and slots a query reads, the nodes the store keeps beside them, their values,
//! the answer sets (records in wire form, SRV additional addresses, the rest); what is
//! left of the live total is the allocator's rounding. For the compact-zone work
//! (perf/README.md).
//!
//! `cargo run --release --example zone_parts -- 10000 100000 300000` (`SHAPE=long-tail`
//! for the long-tailed cluster of `synth-state`)
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::cluster::Cluster;
use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::Snapshot;
use mesos_dns::synth::{ClusterShape, benchmark_config, shaped_state_document};

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
        "| tasks | records | names | model | names' keys | index and slots | nodes | values | sets: RDATA | sets: SRV additional addresses | sets: other | rounding and the rest | total live | bytes per record |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // `SHAPE=long-tail` measures the long-tailed cluster instead of the uniform one.
    let shape = std::env::var("SHAPE")
        .ok()
        .map(|name| ClusterShape::from_name(&name).expect("SHAPE: uniform or long-tail"))
        .unwrap_or_default();
    let mb = |b: usize| format!("{:.1} MB", b as f64 / 1e6);
    for tasks in sizes {
        let config = benchmark_config();
        let empty = Snapshot::empty(&config);
        let document = shaped_state_document(tasks, 1, shape);
        let decode = || State::from_slice(&document).unwrap().into_cluster_state();
        // The model alone, built once on its own (the engine builds the same).
        let base = live();
        let model = Cluster::from_state(decode(), vec!["127.0.0.1:5050".into()], vec![]);
        let model_bytes = live() - base;
        drop(model);
        let state = decode();
        let mut engine = Engine::new(config);
        let frag = |at: &str| {
            if std::env::var_os("RESIDENT").is_some() {
                let allocated = live();
                let active = tikv_jemalloc_ctl::stats::active::read().unwrap();
                eprintln!(
                    "{at}: allocated {:.1} MB, active - allocated {:.1} MB",
                    allocated as f64 / 1e6,
                    (active - allocated) as f64 / 1e6
                );
            }
        };
        frag("decoded");
        engine.apply_state(state, &["127.0.0.1:5050".into()], &[]);
        frag("applied");
        let (snapshot, _) = engine.publish(&empty).unwrap();
        frag("published");
        // As a server does once it serves the snapshot.
        engine.let_go_of_nodes();
        frag("nodes let go");
        let total = live() - base;
        if std::env::var_os("RESIDENT").is_some() {
            eprintln!(
                "{tasks} tasks: allocated {:.1} MB, active {:.1} MB, resident {:.1} MB",
                live() as f64 / 1e6,
                tikv_jemalloc_ctl::stats::active::read().unwrap() as f64 / 1e6,
                tikv_jemalloc_ctl::stats::resident::read().unwrap() as f64 / 1e6
            );
        }
        let (names, _) = snapshot.size();
        let (mut tables, mut keys) = (0, snapshot.suffix_bytes());
        for shard in snapshot.shards() {
            let (t, k) = shard.bytes_held();
            (tables, keys) = (tables + t, keys + k);
        }
        let values = engine.store().value_bytes();
        let nodes = engine.store().node_bytes() - values + engine.store().bytes_held();
        let (_, set_bytes) = engine.pool_size();
        let (extras, wire) = engine.pool_parts();
        let counted = model_bytes + tables + keys + nodes + values + set_bytes;
        let (_, a, aaaa, srv) = engine.store().counts();
        let records = a + aaaa + srv;
        println!(
            "| {tasks} | {records} | {names} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            mb(model_bytes),
            mb(keys),
            mb(tables),
            mb(nodes),
            mb(values),
            mb(wire),
            mb(extras),
            mb(set_bytes.saturating_sub(wire + extras)),
            mb(total.saturating_sub(counted)),
            mb(total),
            total as f64 / records as f64
        );
        drop(snapshot);
    }
}
