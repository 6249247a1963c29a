//! Making every item's records (`ItemRecords::of`) of a synthetic cluster on one thread,
//! as a first load's `generate` thread does, best of several rounds; prints the time and
//! a checksum of what was made (so that a change meant to keep the records can be seen
//! to). For the compact-zone work (perf/README.md).
//!
//! `cargo run --release --example item_records -- [uniform|long-tail] [TASKS (100000)] [ROUNDS (7)]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::cluster::Cluster;
use mesos_dns::mesos::state::State;
use mesos_dns::records::{ItemRecords, Report, Rules};
use mesos_dns::synth::{ClusterShape, benchmark_config, shaped_state_document};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let shape = args.next().map_or(ClusterShape::Uniform, |name| {
        ClusterShape::from_name(&name).expect("uniform or long-tail")
    });
    let tasks: usize = args.next().map_or(100_000, |n| n.parse().expect("tasks"));
    let rounds: usize = args.next().map_or(7, |n| n.parse().expect("rounds"));
    let document = shaped_state_document(tasks, 1, shape);
    let state = State::from_slice(&document).unwrap().into_cluster_state();
    drop(document);
    let cluster = Cluster::from_state(state, vec!["127.0.0.1:5050".into()], vec![]);
    let config = benchmark_config();
    let items = cluster.items();
    let mut best = f64::MAX;
    let (mut records, mut name_bytes) = (0, 0);
    for _ in 0..rounds {
        let rules = Rules::new(&config);
        let mut report = Report::default();
        (records, name_bytes) = (0, 0);
        let started = Instant::now();
        for item in &items {
            let made = ItemRecords::of(&rules, &cluster, item, &mut report);
            records += made.records.len();
            name_bytes += made.names.iter().map(|n| n.len()).sum::<usize>();
            std::hint::black_box(&made);
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{shape:?}, {tasks} tasks: {} items, {records} records, {name_bytes} octets of names; best of {rounds}: {best:.1} ms",
        items.len()
    );
}
