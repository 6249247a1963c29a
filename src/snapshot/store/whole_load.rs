//! [`WholeLoad`]: a whole transferred zone (a secondary's AXFR, or its zone kept on
//! disk) made into a store and its first snapshot without a node per name. Filled, it
//! holds the names in their shards and every record in one list. Compiled: the list is
//! sorted by owner (a record received twice is held once); one pass places each name
//! (served, its ancestors existing, its targets told of it, all kept aside as for a
//! shard whose nodes were let go, [`ZoneStore::let_go_of_nodes`]); the sets are made
//! from the list on every core; and only the shards whose sets cannot give their
//! values back get nodes. Nodes made for every name, among the shards' own tables,
//! and then let go left their room scattered through pages the shards still use,
//! which the system never got back.

use super::super::shards::{SHARDS, SetWriter};
use super::super::values::Values;
use super::super::{
    SetPool, Shape, Snapshot, compile_and_install, compile_threads, key_hash, record_settings,
};
use super::let_go::LARGE_NAME_VALUES;
use super::{Node, ZoneStore, id_of, place};
use crate::allocator::return_freed_pages;
use crate::records::{ItemRecords, NameId, RData};
use crate::snapshot::keys::NameKeys;
use std::net::IpAddr;

/// A transferred zone being filled, to compile once complete.
pub struct WholeLoad {
    store: ZoneStore,
    /// Every record as received (a record sent twice is here twice), owners by id.
    records: Vec<(NameId, RData)>,
}

/// A whole zone's records while it is compiled: grouped by owner in the order of the
/// names' slots, each once, with where each name's begin (an SRV target's addresses
/// are looked up for every record naming it: a search for them cost a quarter of a
/// load).
#[derive(Default)]
pub(super) struct LoadedRecords {
    records: Vec<(NameId, RData)>,
    /// Per shard, where its slots start in `name_starts`; one more entry for the end.
    slot_bases: Vec<usize>,
    /// Per slot of every shard, in order, where its name's records start; one more
    /// entry for the end.
    name_starts: Vec<u32>,
    /// The shards whose names' records are held: those below this.
    held_shards: usize,
}

impl LoadedRecords {
    /// Groups `records` by owner, in place (a counting sort on the owners' slots: one
    /// pass to count, then each record swapped into its owner's place; a sorted copy
    /// beside the list would have held every record twice at a load's peak), and drops
    /// a record received twice; `slots` gives the number of slots of each shard.
    fn of(mut records: Vec<(NameId, RData)>, slots: impl Fn(usize) -> usize) -> LoadedRecords {
        let mut slot_bases = Vec::with_capacity(SHARDS + 1);
        let mut total = 0;
        for shard in 0..SHARDS {
            slot_bases.push(total);
            total += slots(shard);
        }
        slot_bases.push(total);
        let slot_of = |id: NameId| {
            let (shard, slot) = place(id);
            slot_bases[shard] + slot
        };
        let mut name_starts = vec![0u32; total + 1];
        for &(owner, _) in &records {
            name_starts[slot_of(owner) + 1] += 1;
        }
        for i in 1..name_starts.len() {
            name_starts[i] += name_starts[i - 1];
        }
        // Each owner's next free place: a record found in another owner's run is
        // swapped into its own, until the run holds only its owner's.
        let mut next = name_starts.clone();
        for slot in 0..total {
            let end = name_starts[slot + 1];
            while next[slot] < end {
                let at = next[slot] as usize;
                let owner_slot = slot_of(records[at].0);
                if owner_slot != slot {
                    records.swap(at, next[owner_slot] as usize);
                }
                next[owner_slot] += 1;
            }
        }
        drop(next);
        // Each name's records by their data, each once.
        let mut kept = 0;
        let mut start = 0;
        for slot in 0..total {
            let end = name_starts[slot + 1] as usize;
            if end - start > 1 {
                records[start..end].sort_unstable_by_key(|&(_, rdata)| Values::packed(rdata));
            }
            name_starts[slot] = kept as u32;
            for i in start..end {
                if i > start && records[i] == records[kept - 1] {
                    continue;
                }
                records[kept] = records[i];
                kept += 1;
            }
            start = end;
        }
        name_starts[total] = kept as u32;
        records.truncate(kept);
        // The list grew by doubling as the transfer came in.
        records.shrink_to_fit();
        LoadedRecords {
            records,
            slot_bases,
            name_starts,
            held_shards: SHARDS,
        }
    }

    /// Whether the records of `shard`'s names are still here (a zone is being
    /// compiled, and the shard's part was not released yet).
    pub(super) fn holds(&self, shard: usize) -> bool {
        shard < self.held_shards
    }

    /// Gives back the records of the names of shards `from` and above (the list is
    /// in the shards' order): their sets and nodes are made.
    fn release_from(&mut self, from: usize) {
        if from < self.held_shards {
            self.records
                .truncate(self.name_starts[self.slot_bases[from]] as usize);
            self.records.shrink_to_fit();
            self.held_shards = from;
        }
    }

    /// The records of `shard`'s names.
    fn of_shard(&self, shard: usize) -> &[(NameId, RData)] {
        let start = self.name_starts[self.slot_bases[shard]] as usize;
        let end = self.name_starts[self.slot_bases[shard + 1]] as usize;
        &self.records[start..end]
    }

    /// The records of one name.
    fn of_name(&self, id: NameId) -> &[(NameId, RData)] {
        let (shard, slot) = place(id);
        let at = self.slot_bases[shard] + slot;
        &self.records[self.name_starts[at] as usize..self.name_starts[at + 1] as usize]
    }
}

/// Each owner's records in turn, from records grouped by owner.
fn by_owner(records: &[(NameId, RData)]) -> impl Iterator<Item = (NameId, &[(NameId, RData)])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let owner = records.get(at)?.0;
        let len = records[at..].partition_point(|r| r.0 == owner);
        at += len;
        Some((owner, &records[at - len..at]))
    })
}

impl WholeLoad {
    /// An empty zone for `apexes`; no shard has nodes.
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
            match (id(owner), rdata.with_target(id)) {
                (Some(owner), Some(rdata)) => self.records.push((owner, rdata)),
                _ => self.store.inconsistencies += 1,
            }
        }
    }

    /// The store, and its snapshot under `shape` and `serial` (sets interned in
    /// `pool`); changes are noted from here on.
    pub fn compile(self, shape: Shape, serial: u32, pool: &SetPool) -> (ZoneStore, Snapshot) {
        let WholeLoad { mut store, records } = self;
        // What the transfer freed as it came in (its list outgrowing itself).
        return_freed_pages();
        let loaded = LoadedRecords::of(records, |shard| store.table.get(shard).slot_count());
        store.place_loaded(&loaded);
        store.loading = loaded;
        let threads = compile_threads(store.counts().0);
        compile_and_install(
            &mut store,
            record_settings(shape),
            pool,
            threads,
            |store, writer, shard, out| store.loaded_shard_sets(writer, shard, out),
            |store, part| {
                for shard in part.clone() {
                    if store.needs_nodes(shard) {
                        store.regain_loaded(shard);
                    }
                }
                // The part's records are in its sets and nodes now, where the parts
                // still to come read its names' addresses: their room goes to the
                // sets still to be made.
                store.loading.release_from(part.start);
                return_freed_pages();
            },
        );
        store.loading = LoadedRecords::default();
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
    /// whole zone is loaded); `None` only when its shard is full.
    fn intern_without_node(&mut self, key: &[u8], hash: u64) -> Option<NameId> {
        let shard = super::shard_of(hash);
        if let Some(slot) = self.table.get(shard).position(key, hash) {
            return Some(id_of(shard, slot as usize));
        }
        let slot = self.table.insert(shard, key, hash, 0)?;
        Some(id_of(shard, slot))
    }

    /// Counts the loaded `records` (sorted by owner, each once), and places their
    /// names as the store's changes would (with no shard holding nodes, everything a
    /// node would hold beside its values is kept aside): a name with records in the
    /// zone is served, as are the names between it and its apex, and each target
    /// knows the names referring to it.
    fn place_loaded(&mut self, loaded: &LoadedRecords) {
        // No shard holds nodes yet (`WholeLoad::new`): every referrer is kept aside,
        // all in one go.
        let mut referred = Vec::new();
        for (owner, records) in by_owner(&loaded.records) {
            self.counts[0] += 1;
            for &(_, rdata) in records {
                self.count(rdata, true);
                if let Some(target) = rdata.target() {
                    referred.push((target, owner));
                }
            }
            if self.key_in_zone(self.key(owner)) {
                self.placed_in_zone(owner);
            }
        }
        self.kept_referrers.load(referred);
    }

    /// A name with records in the zone, and every name between it and its apex, exist.
    fn placed_in_zone(&mut self, id: NameId) {
        let (shard, slot) = place(id);
        self.table.get_mut(shard).set_served(slot, true);
        let ancestors = self.ancestors(id);
        for ancestor in ancestors.names() {
            let Some(a) = self.intern_without_node(ancestor, key_hash(ancestor)) else {
                self.inconsistencies += 1;
                continue;
            };
            let below = self.kept_below.entry(a).or_insert(0);
            *below += 1;
            if *below == 1 {
                let (shard, slot) = place(a);
                self.table.get_mut(shard).set_served(slot, true);
            }
        }
    }

    /// The loaded records of `shard` as one node per owner, in order.
    fn loaded_nodes(&self, shard: usize) -> impl Iterator<Item = (NameId, Node)> + '_ {
        by_owner(self.loading.of_shard(shard)).map(|(owner, records)| {
            let mut node = Node {
                values: Values::from_unique(records.iter().map(|r| r.1)),
                ..Node::default()
            };
            node.live = node.serves(self.ptr_unique);
            (owner, node)
        })
    }

    /// The sets of the served names of `shard` from the loaded records, into `out`
    /// (empty non-terminals have none).
    fn loaded_shard_sets(
        &self,
        writer: &mut SetWriter,
        shard: usize,
        out: &mut Vec<(NameId, super::super::shards::SlotSets)>,
    ) {
        let table = self.table.get(shard);
        for (id, node) in self.loaded_nodes(shard) {
            if table.is_served(place(id).1) {
                out.push((id, writer.sets_of(self, id, &node)));
            }
        }
    }

    /// Whether `shard` must hold nodes: a name of it has records that its sets cannot
    /// give back (outside the zone, or left out of a set), or many records.
    fn needs_nodes(&self, shard: usize) -> bool {
        by_owner(self.loading.of_shard(shard)).any(|(owner, records)| {
            records.len() > LARGE_NAME_VALUES
                || self.records_in_sets(owner) != records.len()
                || !self.key_in_zone(self.key(owner))
                || !records
                    .iter()
                    .all(|r| Values::restorable(r.1, self.restores_generated_srv()))
        })
    }

    /// Gives `shard` its nodes from the loaded records, with what was kept aside for
    /// its names.
    fn regain_loaded(&mut self, shard: usize) {
        let slots = self.table.get(shard).slot_count();
        let mut nodes = vec![Node::default(); slots];
        for (id, node) in self.loaded_nodes(shard) {
            nodes[place(id).1] = node;
        }
        for (slot, node) in nodes.iter_mut().enumerate() {
            if !self.table.get(shard).is_held(slot) {
                continue;
            }
            let id = id_of(shard, slot);
            node.in_zone = self.key_in_zone(self.key(id));
            self.take_kept(id, node);
        }
        self.table.regain(shard, nodes);
    }

    /// The addresses of a name of a shard without nodes while a whole zone is compiled:
    /// from the loaded records.
    pub(super) fn loaded_addresses(&self, id: NameId, out: &mut Vec<IpAddr>) {
        for &(_, rdata) in self.loading.of_name(id) {
            match rdata {
                RData::A(ip) => out.push(IpAddr::V4(ip)),
                RData::Aaaa(ip) => out.push(IpAddr::V6(ip)),
                _ => {}
            }
        }
    }
}
