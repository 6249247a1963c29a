//! A guard on the memory a secondary's zone costs (the shards, the answer sets, and
//! nodes only where the sets cannot stand for them), in live bytes per served record
//! from jemalloc's statistics, at 20,000 tasks of the synthetic cluster loaded as a
//! whole transfer loads it. A binary of its own (see `tests/alloc`); the primary's
//! guard is `tests/zone_memory.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::state::State;
use mesos_dns::records::{ItemRecords, NameId, RData};
use mesos_dns::snapshot::keys::NameKeys;
use mesos_dns::snapshot::sets::SetPool;
use mesos_dns::snapshot::store::{WholeLoad, ZoneStore};
use mesos_dns::snapshot::{Shape, TransferredZone, TtlTable};
use mesos_dns::synth::{benchmark_config, state_document};
use std::collections::HashMap;

#[path = "alloc/mod.rs"]
mod alloc;
use alloc::live;

/// Live bytes per served record of a secondary's zone: 48.8 measured at 20k tasks
/// (2026-12-08, names' keys split by their parent, SRV additional addresses in fewer
/// octets, smaller shards; 56.8 before, with SRV sets keeping each target once and
/// their targets' shared suffix once; 64.7 with the kept referrers in three lists, sets
/// of RDATA alone and slots of 24 bytes; 71.4 with whole wire records in sets; 77.2-79.0 with four set
/// pointers and a whole transfer loaded without nodes), plus about 5%.
const SECONDARY_BOUND_BYTES_PER_RECORD: f64 = 52.0;

/// The records of `store` as a transfer brings them: SRV records with their own
/// priority and weight, PTR candidates without ranks.
fn as_transferred(store: &ZoneStore, srv_weight: u16) -> ItemRecords {
    let mut item = ItemRecords::default();
    let mut index: HashMap<NameId, NameId> = HashMap::new();
    let mut name = |item: &mut ItemRecords, id: NameId| {
        *index.entry(id).or_insert_with(|| {
            item.names.push(store.name(id).into());
            (item.names.len() - 1) as NameId
        })
    };
    for id in store.names_with_records() {
        let owner = name(&mut item, id);
        let node = store.node_view(id);
        for ip in node.a() {
            item.records.push((owner, RData::A(ip)));
        }
        for ip in node.aaaa() {
            item.records.push((owner, RData::Aaaa(ip)));
        }
        for srv in node.srv() {
            let (priority, weight) = srv.own.unwrap_or((0, srv_weight));
            let target = name(&mut item, srv.target);
            item.records.push((
                owner,
                RData::Service {
                    target,
                    port: srv.port,
                    priority,
                    weight,
                },
            ));
        }
        for (target, _) in node.ptr() {
            let target = name(&mut item, target);
            item.records.push((owner, RData::Ptr { target, rank: 0 }));
        }
    }
    item
}

#[test]
fn a_secondary_zone_stays_within_its_bytes_per_record() {
    let config = benchmark_config();
    let item = {
        let state = State::from_slice(&state_document(20_000, 1))
            .unwrap()
            .into_cluster_state();
        let mut engine = Engine::new(config.clone());
        engine.apply_state(state, &["127.0.0.1:5050".into()], &[]);
        as_transferred(engine.store(), config.srv_record_default_weight)
    };
    let transferred = TransferredZone {
        soa_rdata: b"\x03ns1\x05mesos\x00\x04root\x05mesos\x00\0\0\0\x01\0\0\0\x3c\0\0\0\x3c\0\0\x02\x58\0\0\0\x1e".to_vec(),
        soa_ttl: 60,
        ns: Vec::new(),
        ns_ttl: 60,
        ttls: TtlTable {
            usual: 60,
            ..TtlTable::default()
        },
    };
    let shape = Shape {
        config: &config,
        transferred: Some(&transferred),
    };
    let before = live();
    let pool = SetPool::default();
    let mut load = WholeLoad::new(&["mesos.".to_string()]);
    load.add(&item, &NameKeys::of(&item));
    let (store, snapshot) = load.compile(shape, 1, &pool);
    let held = live() - before;
    let (_, a, aaaa, srv) = store.counts();
    let records = (a + aaaa + srv) as f64;
    assert!(records > 200_000.0, "{records} records");
    assert_eq!(store.inconsistencies, 0);
    let per_record = held as f64 / records;
    eprintln!(
        "20k tasks, as a secondary: {records} records, {held} live bytes (store, shards, sets), {per_record:.1} bytes per record"
    );
    assert!(
        per_record <= SECONDARY_BOUND_BYTES_PER_RECORD,
        "{per_record:.1} bytes per record, past the bound of {SECONDARY_BOUND_BYTES_PER_RECORD}"
    );
    drop((store, snapshot, item));
}
