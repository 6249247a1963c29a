//! A guard on the memory a primary's zone costs (model, store, answer shards and sets),
//! in live bytes per served record from jemalloc's statistics, at 20,000 tasks of the
//! synthetic cluster. It fails when a change makes the zone grow past the bound set
//! just above what the tree reaches (perf/README.md has the figures by part); the
//! compact-zone work lowers the bound as it lands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::Snapshot;
use mesos_dns::synth::{benchmark_config, state_document};

#[path = "alloc/mod.rs"]
mod alloc;
use alloc::live;

/// Live bytes per served record: 99.3 measured at 20k tasks (2026-12-07, the kept
/// referrers in three lists (100.8 in one of 12-byte entries), sets holding their
/// records' RDATA alone, A and AAAA sets without record starts (101.7 with), slots of
/// 24 bytes holding a name's first two sets; 106.9 with whole wire records in sets with
/// a header of 8 bytes, 107.8 with one of 16, 112.2-112.6 with four set pointers, the
/// first load made as a whole transfer is, nodes only where the sets cannot give them
/// back; 129.8 with nodes let go after the first publish; 154.7 before, 155.8 with SRV
/// referrers in a ThinVec; 157.2 before that, 155.6 before the nodes kept a first
/// load's room; 163.0 with the store folded into the shards, 168.3 before, 212.5 before
/// the first compact-zone steps), plus about 3%.
const BOUND_BYTES_PER_RECORD: f64 = 102.0;

#[test]
fn a_primary_zone_stays_within_its_bytes_per_record() {
    let config = benchmark_config();
    let empty = Snapshot::empty(&config);
    let before = live();
    let state = State::from_slice(&state_document(20_000, 1))
        .unwrap()
        .into_cluster_state();
    let mut engine = Engine::new(config);
    engine.apply_state(state, &["127.0.0.1:5050".into()], &[]);
    let (snapshot, _) = engine.publish(&empty).unwrap();
    engine.let_go_of_nodes();
    let held = live() - before;
    let (_, a, aaaa, srv) = engine.store().counts();
    let records = (a + aaaa + srv) as f64;
    let per_record = held as f64 / records;
    eprintln!(
        "20k tasks: {records} records, {held} live bytes (model, store, shards), {per_record:.1} bytes per record"
    );
    assert!(
        per_record <= BOUND_BYTES_PER_RECORD,
        "{per_record:.1} bytes per record, past the bound of {BOUND_BYTES_PER_RECORD}"
    );
    drop(snapshot);
}
