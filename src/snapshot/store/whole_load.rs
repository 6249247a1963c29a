//! [`WholeLoad`]: a whole transferred zone (a secondary's AXFR, or its zone kept on
//! disk) made into a store and its first snapshot without a node per name beside the
//! shards. Filled, it holds the names in their shards and every record in one list;
//! compiled, it goes through the shards in order, giving each its nodes from the list,
//! making its sets, and letting its nodes go again where its sets can give them back
//! ([`ZoneStore::let_go_of_nodes`]). So the nodes of one shard at a time are ever
//! held, and the allocator reuses their room for the next: made for every name at
//! once, among the shards' own tables, and then let go, they left their room scattered
//! through pages the shards still use, which the system never got back.

use super::super::shards::{SHARDS, SetWriter};
use super::super::values::{ValueIndex, Values};
use super::super::{SetPool, Shape, Snapshot, key_hash, record_settings};
use super::{ZoneStore, id_of, is_wire, place};
use crate::records::{ItemRecords, NameId, RData};
use crate::snapshot::keys::NameKeys;
use std::net::IpAddr;

/// A transferred zone being filled, to compile once complete.
pub struct WholeLoad {
    store: ZoneStore,
    /// Every record as received (a record sent twice is here twice), owners by id.
    records: Vec<(NameId, RData)>,
}

impl WholeLoad {
    /// An empty zone for `apexes` (every shard without nodes until it is compiled).
    pub fn new(apexes: &[String]) -> WholeLoad {
        let mut store = ZoneStore::new(apexes);
        store.note_changes(false);
        for shard in 0..SHARDS {
            store.let_go(shard);
        }
        WholeLoad {
            store,
            records: Vec::new(),
        }
    }

    /// Adds an item's records (their names' keys made by the caller).
    pub fn add(&mut self, item: &ItemRecords, keys: &NameKeys) {
        let ids: Vec<Option<NameId>> = (0..keys.len())
            .map(|i| {
                keys.get(i)
                    .and_then(|(key, hash)| self.store.intern_without_node(key, hash))
            })
            .collect();
        let id = |i: NameId| ids[i as usize];
        for &(owner, rdata) in &item.records {
            let rdata = match rdata {
                RData::Srv { target, port } => id(target).map(|target| RData::Srv { target, port }),
                RData::Ptr { target, rank } => id(target).map(|target| RData::Ptr { target, rank }),
                RData::Service {
                    target,
                    port,
                    priority,
                    weight,
                } => id(target).map(|target| RData::Service {
                    target,
                    port,
                    priority,
                    weight,
                }),
                other => Some(other),
            };
            match (id(owner), rdata) {
                (Some(owner), Some(rdata)) => self.records.push((owner, rdata)),
                _ => self.store.inconsistencies += 1,
            }
        }
    }

    /// The store, and its snapshot under `shape` and `serial` (sets interned in
    /// `pool`); changes are noted from here on.
    pub fn compile(self, shape: Shape, serial: u32, pool: &SetPool) -> (ZoneStore, Snapshot) {
        let WholeLoad { mut store, records } = self;
        let mut records = records;
        records.sort_unstable_by_key(|&(owner, _)| owner);
        store.loading = records;
        let mut writer = SetWriter::new(record_settings(shape), pool);
        let mut at = 0;
        for shard in 0..SHARDS {
            let end =
                at + store.loading[at..].partition_point(|&(owner, _)| place(owner).0 == shard);
            store.compile_loaded_shard(shard, at..end, &mut writer);
            at = end;
        }
        store.loading = Vec::new();
        store.table.take_regained();
        store.lean = true;
        store.note_changes(true);
        store.shrink();
        let snapshot = Snapshot::assemble(&mut store, shape, serial, pool);
        (store, snapshot)
    }
}

impl ZoneStore {
    /// The id of the name of `key`, made without a node (its shard has none while a
    /// whole zone is filled); `None` only when its shard is full.
    fn intern_without_node(&mut self, key: &[u8], hash: u64) -> Option<NameId> {
        let shard = super::shard_of(hash);
        if let Some(slot) = self.table.get(shard).position(key, hash) {
            return Some(id_of(shard, slot as usize));
        }
        let slot = self.table.insert(shard, key, hash, 0)?;
        let id = id_of(shard, slot);
        // A shard compiled already and holding its nodes gets one for the name.
        if self.table.holds_nodes(shard) {
            self.node_mut(id).in_zone = is_wire(key) && self.apex_of(key).is_some();
        }
        Some(id)
    }

    /// Gives `shard` its nodes from the loaded records `range` (its names'), makes the
    /// sets of its served names, and lets its nodes go again where it can.
    fn compile_loaded_shard(
        &mut self,
        shard: usize,
        range: std::ops::Range<usize>,
        writer: &mut SetWriter,
    ) {
        if self.table.get(shard).slot_count() == 0 {
            return;
        }
        // Nodes without values: each name's place in the zone and its links kept aside.
        self.regain(shard);
        let mut at = range.start;
        while at < range.end {
            let owner = self.loading[at].0;
            let end = at + self.loading[at..range.end].partition_point(|r| r.0 == owner);
            let mut index: Option<ValueIndex> = None;
            for i in at..end {
                let rdata = self.loading[i].1;
                self.add_loaded(owner, rdata, &mut index);
            }
            if let Some(index) = index {
                self.node_mut(owner).indexed = true;
                self.value_indexes.insert(owner, index);
            }
            let ptr_unique = self.ptr_unique;
            let node = self.node_mut(owner);
            node.live = node.serves(ptr_unique);
            if node.live {
                self.counts[0] += 1;
                self.appeared_in_load(owner);
            }
            at = end;
        }
        let served: Vec<usize> = self.table.get(shard).served_slots().collect();
        let sets: Vec<_> = served
            .into_iter()
            .map(|slot| {
                let id = id_of(shard, slot);
                (id, writer.name_sets(self, id))
            })
            .collect();
        self.install(sets);
        if self.can_let_go(shard) {
            self.let_go(shard);
        }
    }

    /// A name got its records: it and its ancestors (up to the apex) exist. As
    /// `records_appeared`, but an ancestor in a shard without nodes (not compiled yet,
    /// or let go) is counted aside, its shard not given nodes for it.
    fn appeared_in_load(&mut self, id: NameId) {
        if !self.node(id).in_zone {
            return;
        }
        if self.node(id).below == 0 {
            self.join_shard(id);
        }
        let ancestors = self.ancestors(id);
        for ancestor in ancestors.names() {
            let Some(a) = self.intern_without_node(ancestor, key_hash(ancestor)) else {
                self.inconsistencies += 1;
                continue;
            };
            let (shard, slot) = place(a);
            if self.table.holds_nodes(shard) {
                let node = self.node_mut(a);
                node.below += 1;
                if node.below == 1 && !node.live {
                    self.join_shard(a);
                }
            } else {
                let below = self.kept_below.entry(a).or_insert(0);
                *below += 1;
                if *below == 1 {
                    self.table.get_mut(shard).set_served(slot, true);
                }
            }
        }
    }

    /// One loaded record into its owner's node (a record received twice is held once),
    /// counted, and its target told of it.
    fn add_loaded(&mut self, owner: NameId, rdata: RData, index: &mut Option<ValueIndex>) {
        let values: &mut Values = &mut self.node_mut(owner).values;
        if !values.add(rdata, false, index.as_mut()) {
            return;
        }
        if index.is_none() && values.wants_index() {
            *index = Some(values.index());
        }
        self.count(rdata, true);
        if let RData::Srv { target, .. }
        | RData::Service { target, .. }
        | RData::Ptr { target, .. } = rdata
        {
            self.refer(target, owner);
        }
    }

    /// The addresses of a name of a shard without nodes while a whole zone is compiled:
    /// from the loaded records (its shard may not be compiled yet).
    pub(super) fn loaded_addresses(&self, id: NameId, out: &mut Vec<IpAddr>) {
        let start = self.loading.partition_point(|r| r.0 < id);
        for &(owner, rdata) in &self.loading[start..] {
            if owner != id {
                break;
            }
            match rdata {
                RData::A(ip) => out.push(IpAddr::V4(ip)),
                RData::Aaaa(ip) => out.push(IpAddr::V6(ip)),
                _ => {}
            }
        }
        // A record received twice is held once.
        out.sort_unstable();
        out.dedup();
    }
}
