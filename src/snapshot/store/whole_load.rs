//! [`WholeLoad`]: a whole zone (a secondary's AXFR, or its zone kept on disk; a
//! primary's first load of the cluster, or its load after a new configuration) made
//! into a store and its first snapshot without a node per name. Filled, it
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
use super::load_list::{LoadedRecord, RecordChunks};
use super::{Node, ZoneStore, id_of, place};
use crate::allocator::return_freed_pages;
use crate::records::{ItemRecords, NameId, RData};
use crate::snapshot::keys::NameKeys;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// A whole zone being filled, to compile once complete.
pub struct WholeLoad {
    store: ZoneStore,
    /// Every record as received (a record sent twice is here twice), owners by id.
    records: RecordChunks,
    /// A record added twice has two contributors (a primary's items: two tasks on one
    /// agent both name its address), rather than being one record received twice.
    counts_repeats: bool,
}

/// A whole zone's records while it is compiled: grouped by owner in the order of the
/// names' slots, each once, with where each name's begin (an SRV target's addresses
/// are looked up for every record naming it: a search for them cost a quarter of a
/// load).
#[derive(Default)]
pub(super) struct LoadedRecords {
    records: Vec<LoadedRecord>,
    /// The IPv6 addresses the records name, by place.
    v6: Vec<Ipv6Addr>,
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
    /// beside the list would have held every record twice at a load's peak), each
    /// name's sorted by value, and drops a record received twice unless
    /// `keep_repeats` (they stay side by side); `slots` gives the number of slots of
    /// each shard.
    fn of(
        (mut records, v6): (Vec<LoadedRecord>, Vec<Ipv6Addr>),
        slots: impl Fn(usize) -> usize,
        keep_repeats: bool,
    ) -> LoadedRecords {
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
        for record in &records {
            name_starts[slot_of(record.owner) + 1] += 1;
        }
        for i in 1..name_starts.len() {
            name_starts[i] += name_starts[i - 1];
        }
        // First into groups of shards (few, so that the places records are swapped to
        // are few runs the cache holds), then each group by owner and each name's by
        // value, the groups on every core: one pass by owner over the whole list
        // swapped each record to a place anywhere in it, a cache miss a record (a
        // fifth of a primary's first load at 100k tasks).
        let groups = SHARDS / SHARDS_PER_GROUP;
        let group_slot = |group: usize| slot_bases[group * SHARDS_PER_GROUP];
        let group_starts: Vec<u32> = (0..=groups).map(|g| name_starts[group_slot(g)]).collect();
        bucket_in_place(&mut records, &group_starts, |id| {
            place(id).0 / SHARDS_PER_GROUP
        });
        let mut parts = Vec::with_capacity(groups);
        let (mut rest_records, mut rest_starts) = (&mut records[..], &mut name_starts[..total]);
        for group in 0..groups {
            let len = (group_starts[group + 1] - group_starts[group]) as usize;
            let names = group_slot(group + 1) - group_slot(group);
            let (records, more_records) = std::mem::take(&mut rest_records).split_at_mut(len);
            let (starts, more_starts) = std::mem::take(&mut rest_starts).split_at_mut(names);
            let first_slot = group_slot(group);
            parts.push(Group {
                records,
                starts,
                first_slot,
            });
            (rest_records, rest_starts) = (more_records, more_starts);
        }
        let kept_per_group = sort_on_every_core(&mut parts, &slot_of, &v6, keep_repeats);
        drop(parts);
        // The groups moved together where repeats were dropped, their names' starts
        // made absolute.
        let mut kept = 0;
        for group in 0..groups {
            let first = group_starts[group] as usize;
            let len = kept_per_group[group];
            if first != kept {
                records.copy_within(first..first + len, kept);
            }
            for start in &mut name_starts[group_slot(group)..group_slot(group + 1)] {
                *start += kept as u32;
            }
            kept += len;
        }
        name_starts[total] = kept as u32;
        // Repeats dropped: room a few records long at most.
        records.truncate(kept);
        records.shrink_to_fit();
        LoadedRecords {
            records,
            v6,
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
    fn of_shard(&self, shard: usize) -> &[LoadedRecord] {
        let start = self.name_starts[self.slot_bases[shard]] as usize;
        let end = self.name_starts[self.slot_bases[shard + 1]] as usize;
        &self.records[start..end]
    }

    /// The records of one name.
    fn of_name(&self, id: NameId) -> &[LoadedRecord] {
        let (shard, slot) = place(id);
        let at = self.slot_bases[shard] + slot;
        &self.records[self.name_starts[at] as usize..self.name_starts[at + 1] as usize]
    }
}

/// The ids of the names above others, by key, while a whole zone is placed.
type AncestorIds = HashMap<Box<[u8]>, Option<NameId>, foldhash::fast::FixedState>;

/// Shards grouped for the first pass of [`LoadedRecords::of`]: 256 groups.
const SHARDS_PER_GROUP: usize = SHARDS / 256;

/// Moves each record into its bucket's run, in place: bucket `b` is to hold places
/// `starts[b]..starts[b + 1]` (counted beforehand). A record found in another
/// bucket's run is swapped into that one's next free place, until each run holds only
/// its own.
fn bucket_in_place(
    records: &mut [LoadedRecord],
    starts: &[u32],
    bucket_of: impl Fn(NameId) -> usize,
) {
    let mut next = starts.to_vec();
    for bucket in 0..starts.len() - 1 {
        let end = starts[bucket + 1];
        while next[bucket] < end {
            let at = next[bucket] as usize;
            let owner = bucket_of(records[at].owner);
            if owner != bucket {
                records.swap(at, next[owner] as usize);
            }
            next[owner] += 1;
        }
    }
}

/// One group of shards' records, while a whole zone's are sorted.
struct Group<'a> {
    /// Its records (in no order yet).
    records: &'a mut [LoadedRecord],
    /// Each of its slots' first record, relative to the whole list's start.
    starts: &'a mut [u32],
    /// Its first slot among every shard's.
    first_slot: usize,
}

impl Group<'_> {
    /// Sorts the records by owner (`slot_of`: an owner's slot among every shard's),
    /// and each owner's by value, dropping a record held twice unless
    /// `keep_repeats`; the kept ones are at the front, and `starts` says where each
    /// slot's start, from the group's first record. Returns how many are kept.
    fn sort(
        &mut self,
        slot_of: impl Fn(NameId) -> usize,
        v6: &[Ipv6Addr],
        keep_repeats: bool,
    ) -> usize {
        let Group {
            records,
            starts,
            first_slot,
        } = self;
        let first = starts.first().copied().unwrap_or(0);
        let mut bounds: Vec<u32> = starts.iter().map(|&s| s - first).collect();
        bounds.push(records.len() as u32);
        bucket_in_place(records, &bounds, |id| slot_of(id) - *first_slot);
        let mut kept = 0;
        for (slot, start) in starts.iter_mut().enumerate() {
            let (from, end) = (bounds[slot] as usize, bounds[slot + 1] as usize);
            if end - from > 1 {
                records[from..end].sort_unstable_by_key(|r| Values::packed(r.rdata(v6)));
            }
            *start = kept as u32;
            for i in from..end {
                if !keep_repeats && i > from && records[i] == records[kept - 1] {
                    continue;
                }
                records[kept] = records[i];
                kept += 1;
            }
        }
        kept
    }
}

/// Sorts every group ([`Group::sort`]), on this thread and a helper per other core,
/// each taking a run of groups at a time (a helper that cannot start leaves its share
/// to the others); how many records each group keeps, in order.
fn sort_on_every_core(
    groups: &mut [Group],
    slot_of: &(impl Fn(NameId) -> usize + Sync),
    v6: &[Ipv6Addr],
    keep_repeats: bool,
) -> Vec<usize> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let per_run = groups.len().div_ceil(threads * 4).max(1);
    let runs = std::sync::Mutex::new(groups.chunks_mut(per_run).enumerate());
    let sort_runs = || {
        let mut sorted = Vec::new();
        loop {
            let next = runs.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((run, groups)) = next else {
                return sorted;
            };
            for group in groups {
                sorted.push((run, group.sort(slot_of, v6, keep_repeats)));
            }
        }
    };
    let mut kept: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("load-sort".into())
                    .spawn_scoped(scope, sort_runs)
                    .ok()
            })
            .collect();
        let mut sorted = sort_runs();
        for helper in helpers {
            // A helper that panicked panics here.
            sorted.extend(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        sorted
    });
    // In the groups' order: a run's groups were sorted in order, by one thread.
    kept.sort_by_key(|&(run, _)| run);
    kept.into_iter().map(|(_, kept)| kept).collect()
}

/// A name's records (sorted, repeats side by side) as (value, how many times), the
/// IPv6 addresses from `v6`.
fn counted<'a>(
    records: &'a [LoadedRecord],
    v6: &'a [Ipv6Addr],
) -> impl Iterator<Item = (RData, u32)> + Clone + 'a {
    records
        .chunk_by(|x, y| x == y)
        .map(|run| (run[0].rdata(v6), run.len() as u32))
}

/// Each owner's records in turn, from records grouped by owner.
fn by_owner(records: &[LoadedRecord]) -> impl Iterator<Item = (NameId, &[LoadedRecord])> {
    // Read along, not searched for: a search from each owner's start over the rest of
    // the list read a cold line a step (most owners have one to four records).
    records
        .chunk_by(|x, y| x.owner == y.owner)
        .map(|run| (run[0].owner, run))
}

impl WholeLoad {
    /// An empty zone for `apexes`, as transferred (a record received twice is held
    /// once); no shard has nodes.
    pub fn new(apexes: &[String]) -> WholeLoad {
        WholeLoad::filling(ZoneStore::new(apexes), false)
    }

    /// The items of a primary's cluster into `store`, empty and set up for its
    /// configuration: a record two items add has two contributors.
    pub fn of_items(store: ZoneStore) -> WholeLoad {
        debug_assert!(store.is_empty() && store.can_load_whole());
        WholeLoad::filling(store, true)
    }

    fn filling(mut store: ZoneStore, counts_repeats: bool) -> WholeLoad {
        store.note_changes(false);
        for shard in 0..SHARDS {
            store.let_go(shard);
        }
        WholeLoad {
            store,
            records: RecordChunks::default(),
            counts_repeats,
        }
    }

    /// Room for about `names` names in each shard at its first name
    /// ([`ZoneStore::expect_names`]).
    pub fn expect_names(&mut self, names: usize) {
        self.store.expect_names(names);
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
                (Some(owner), Some(rdata)) => self.records.push(owner, rdata),
                _ => self.store.inconsistencies += 1,
            }
        }
    }

    /// The store, and its snapshot under `shape` and `serial` (sets interned in
    /// `pool`); changes are noted from here on.
    pub fn compile(self, shape: Shape, serial: u32, pool: &SetPool) -> (ZoneStore, Snapshot) {
        let mut store = self.compile_store(shape, pool);
        let snapshot = Snapshot::assemble(&mut store, shape, serial, pool);
        (store, snapshot)
    }

    /// The store with every name's sets made under `shape` and installed in its shards
    /// (the snapshot is assembled from it by the caller, [`Snapshot::update`] with
    /// the names changed since, if any); changes are noted from here on.
    pub fn compile_store(self, shape: Shape, pool: &SetPool) -> ZoneStore {
        let WholeLoad {
            mut store,
            records,
            counts_repeats,
        } = self;
        let started = std::time::Instant::now();
        // What the transfer freed as it came in.
        return_freed_pages();
        let loaded = LoadedRecords::of(
            records.into_list(),
            |shard| store.table.get(shard).slot_count(),
            counts_repeats,
        );
        let sorted = started.elapsed();
        store.place_loaded(&loaded);
        let placed = started.elapsed();
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
        tracing::debug!(
            sort_ms = sorted.as_millis() as u64,
            place_ms = (placed - sorted).as_millis() as u64,
            sets_ms = (started.elapsed() - placed).as_millis() as u64,
            "a whole zone compiled"
        );
        store.loading = LoadedRecords::default();
        store.table.take_regained();
        store.lean = true;
        // Names that come later get room as they come.
        store.expect_names(0);
        store.note_changes(true);
        store.shrink();
        store
    }
}

impl ZoneStore {
    /// Whether a whole load can fill this store: not under `ReversePolicy:
    /// unambiguous`, whose names keep their nodes (a set does not say which PTR
    /// candidates it left out, and a name whose candidates disagree is not served).
    pub fn can_load_whole(&self) -> bool {
        !self.ptr_unique
    }

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
        // all in one go. Its room made at once: grown by doubling, the list held its old
        // room beside its new (8 MB at 100k tasks, at a secondary's peak).
        let with_target = loaded.records.iter().filter(|r| r.has_target());
        let mut referred = Vec::with_capacity(with_target.count());
        // The names above others are few (a framework's, an app's SRV owners): looked
        // up here once each, rather than in their shards once per name below them.
        let mut ancestor_ids = AncestorIds::default();
        for (owner, records) in by_owner(&loaded.records) {
            self.counts[0] += 1;
            for (rdata, _) in counted(records, &loaded.v6) {
                self.count(rdata, true);
                if let Some(target) = rdata.target() {
                    referred.push((target, owner));
                }
            }
            if self.id_in_zone(owner) {
                self.placed_in_zone(owner, &mut ancestor_ids);
            }
        }
        self.kept_referrers.load(referred);
    }

    /// A name with records in the zone, and every name between it and its apex, exist.
    fn placed_in_zone(&mut self, id: NameId, ancestor_ids: &mut AncestorIds) {
        let (shard, slot) = place(id);
        self.table.get_mut(shard).set_served(slot, true);
        let ancestors = self.ancestors(id);
        for ancestor in ancestors.names() {
            let found = match ancestor_ids.get(ancestor) {
                Some(&found) => found,
                None => {
                    let found = self.intern_without_node(ancestor, key_hash(ancestor));
                    ancestor_ids.insert(ancestor.into(), found);
                    found
                }
            };
            let Some(a) = found else {
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
                values: Values::from_counted(counted(records, &self.loading.v6)),
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
    /// give back (outside the zone, left out of a set, added twice), or many records.
    fn needs_nodes(&self, shard: usize) -> bool {
        by_owner(self.loading.of_shard(shard)).any(|(owner, records)| {
            // A record added twice counts twice here and once in the sets: such a name
            // keeps its node by the count alone.
            let restorable = records
                .iter()
                .all(|r| {
                    let rdata = r.rdata(&self.loading.v6);
                    Values::restorable(rdata, self.restores_generated_srv())
                })
                .then_some(records.len());
            !self.sets_stand_for(owner, restorable, || self.id_in_zone(owner))
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
            node.in_zone = self.id_in_zone(id);
            self.take_kept(id, node);
        }
        self.table.regain(shard, nodes);
    }

    /// The addresses of a name of a shard without nodes while a whole zone is compiled:
    /// from the loaded records.
    pub(super) fn loaded_addresses(&self, id: NameId, out: &mut Vec<IpAddr>) {
        for (rdata, _) in counted(self.loading.of_name(id), &self.loading.v6) {
            match rdata {
                RData::A(ip) => out.push(IpAddr::V4(ip)),
                RData::Aaaa(ip) => out.push(IpAddr::V6(ip)),
                _ => {}
            }
        }
    }
}
