//! [`ZoneStore`]: every published record with the number of items that contribute it, so
//! that the records of one item can be added or taken away without regenerating the
//! others. Owned by the control thread. The store keeps its names in the zone's shards
//! (`shards::Shard`): each name once, as its lower-cased wire key, with its values, its
//! served answer sets and what the store needs besides ([`Node`]). A change copies a
//! shard the served snapshot shares before touching it; a publish compiles the sets of
//! the names that changed and hands out the table, sharing every shard.
//!
//! Names are kept lower-cased (answers are case-insensitive, and every generated name is
//! lower case but a configured `SOAMname`). A name exists in the zone while it owns a
//! served record or a name below it does (empty non-terminals); it stays in the table
//! while an SRV record still points at it. A name whose values all fall to the
//! `ReversePolicy` (two PTR candidates under `unambiguous`) owns nothing served, so it
//! does not exist: NXDOMAIN, not NODATA (RFC 8020).

mod kept_referrers;
mod let_go;
mod load_list;
mod whole_load;

pub use whole_load::WholeLoad;

use super::delta::{Delta, DeltaBuilder};
use super::keys::{Key, NameKeys, is_wire, key_text, store_key};
use super::shards::{SHARD_BITS, SHARDS, ShardRef, ShardTable, SlotSets, WorkingTable, shard_of};
use super::values::{ValueIndex, Values};
use crate::config::ReversePolicy;
use crate::dns::wire::name_to_wire;
use crate::records::{ItemRecords, NameId, RData};
use foldhash::fast::FixedState;
use std::net::{Ipv4Addr, Ipv6Addr};
use thin_vec::ThinVec;

/// What the store keeps of one name besides its key (40 bytes, and its values and
/// referrers on the heap), in its shard beside the name's slot.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Every value of the name with the number of items contributing it.
    values: Values,
    /// Owners of SRV records pointing here, with how many of their values do: their
    /// additional addresses change when this name's addresses do. A `ThinVec`: 8 bytes
    /// on every node and nothing on the heap for the most, which are nobody's target;
    /// one allocation (its length and capacity beside the elements) for the others.
    referrers: ThinVec<(NameId, u32)>,
    /// Names with served records strictly below this one.
    below: u32,
    /// At or below an apex: only such names are served.
    pub in_zone: bool,
    /// Owns at least one record that is served (see [`Node::serves`]).
    live: bool,
    /// Listed in the store's dirty names.
    dirty: bool,
    /// Its values have an index in the store's `value_indexes`.
    indexed: bool,
}

/// What a value coming or going did to its name's node.
struct NodeChange {
    /// The name was not dirty and now is.
    newly_dirty: bool,
    /// Whether the name now serves anything, when that changed.
    live: Option<bool>,
    /// SRV records point at the name.
    referred: bool,
}

/// A name's id from its shard and slot.
pub(super) fn id_of(shard: usize, slot: usize) -> NameId {
    ((shard as u32) << SLOT_BITS) | slot as u32
}

const SLOT_BITS: u32 = 32 - SHARD_BITS;

/// A name's shard and slot.
pub(super) fn place(id: NameId) -> (usize, usize) {
    (
        (id >> SLOT_BITS) as usize,
        (id & ((1 << SLOT_BITS) - 1)) as usize,
    )
}

/// One SRV value of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SrvValue {
    /// The target.
    pub target: NameId,
    /// The port.
    pub port: u16,
    /// (priority, weight) when the record carries its own (a transferred zone); else
    /// priority 0 and `SRVRecordDefaultWeight`.
    pub own: Option<(u16, u16)>,
}

impl Node {
    /// Whether the name has records of its own.
    pub fn has_records(&self) -> bool {
        !self.values.is_empty()
    }

    /// The A values, in no particular order.
    pub fn a(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.values.iter().filter_map(|(v, _)| match v {
            RData::A(ip) => Some(ip),
            _ => None,
        })
    }

    /// The AAAA values, in no particular order.
    pub fn aaaa(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.values.iter().filter_map(|(v, _)| match v {
            RData::Aaaa(ip) => Some(ip),
            _ => None,
        })
    }

    /// The reverse-lookup candidates as (target, rank), in no particular order.
    pub fn ptr(&self) -> impl Iterator<Item = (NameId, u8)> + '_ {
        self.values.iter().filter_map(|(v, _)| match v {
            RData::Ptr { target, rank } => Some((target, rank)),
            _ => None,
        })
    }

    /// The SRV values, in no particular order.
    pub fn srv(&self) -> impl Iterator<Item = SrvValue> + '_ {
        self.values.iter().filter_map(|(v, _)| match v {
            RData::Srv { target, port } => Some(SrvValue {
                target,
                port,
                own: None,
            }),
            RData::Service {
                target,
                port,
                priority,
                weight,
            } => Some(SrvValue {
                target,
                port,
                own: Some((priority, weight)),
            }),
            _ => None,
        })
    }

    /// Bytes held on the heap by its values and referrers.
    pub(super) fn bytes_held(&self) -> usize {
        let referrers = match self.referrers.capacity() {
            0 => 0,
            room => 16 + room * 8,
        };
        self.values.bytes_held() + referrers
    }

    /// Bytes of its values on the heap.
    pub(super) fn value_bytes(&self) -> usize {
        self.values.bytes_held()
    }

    /// Whether a change to the name is to be marked: changes are `noting`, the name is
    /// served, and it is not on the store's dirty list yet.
    fn wants_marking(&self, noting: bool) -> bool {
        noting && self.in_zone && !self.dirty
    }

    fn exists(&self) -> bool {
        self.live || self.below > 0
    }

    /// Whether any value is served: any value but a PTR candidate; PTR candidates when
    /// there are any, or, with `ptr_unique`, when they name exactly one target.
    fn serves(&self, ptr_unique: bool) -> bool {
        let mut ptr_target = None;
        let mut ptr_ambiguous = false;
        for (value, _) in self.values.iter() {
            match value {
                RData::Ptr { target, .. } => match ptr_target {
                    None => ptr_target = Some(target),
                    Some(first) => ptr_ambiguous |= first != target,
                },
                _ => return true,
            }
        }
        ptr_target.is_some() && !(ptr_unique && ptr_ambiguous)
    }
}

/// Whether an item's records come or go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// The records come.
    Add,
    /// The records go.
    Remove,
    /// The records come, but one already held stays held once (a transferred zone,
    /// where a record has no contributors to count).
    AddOnce,
}

/// A served name whose answers may have changed.
#[derive(Clone, Debug)]
pub struct DirtyName {
    /// Its shard.
    pub shard: u32,
    /// The hash of its key.
    pub key_hash: u64,
    /// Lower-cased wire form.
    pub key: Box<[u8]>,
    /// The name as it is now, when it is still served.
    pub node: Option<NameId>,
    /// When only the addresses of these SRV targets changed for a name whose node was
    /// let go: its sets are made from those it has, these targets' extras read anew
    /// (`SetWriter::sets_with_new_extras`). Empty: from its node.
    pub new_extras: Vec<NameId>,
}

/// What a batch of changes did to the store.
#[derive(Debug, Default)]
pub struct Changes {
    /// Names whose answers may have changed, grouped by shard.
    pub names: Vec<DirtyName>,
    /// The records that came and went (None when the batch was too large to keep).
    pub delta: Option<Delta>,
}

/// Every record of the zones with its number of contributors, by name.
pub struct ZoneStore {
    /// The zones' apexes, lower-cased wire form: the domain first, then the others
    /// (reverse zones); none is at or below another.
    apexes: Vec<Box<[u8]>>,
    /// The names, their values and their answer sets, by shard.
    table: WorkingTable,
    /// Indexes of the names holding many values (see `values`).
    value_indexes: std::collections::HashMap<NameId, ValueIndex, FixedState>,
    dirty: Vec<NameId>,
    /// (SRV owner, target) for owners whose nodes were let go when the target's
    /// addresses changed: the owner's extras are made again without its node back
    /// (giving it back looked each of its targets up by name, most of an event's cost
    /// where apps have many tasks).
    new_extras: Vec<(NameId, NameId)>,
    /// Names that may have no reason left to stay; checked when changes are taken.
    maybe_free: Vec<NameId>,
    delta: DeltaBuilder,
    /// Removals of records the store did not hold, and names that found no room (a
    /// shard full: more than 2^18 names hashing there); a bug if ever non-zero.
    pub inconsistencies: u64,
    /// Names with records, A, AAAA and SRV records.
    counts: [usize; 5],
    /// Nodes are let go after each publish where the sets can give them back (see
    /// [`ZoneStore::let_go_of_nodes`]).
    lean: bool,
    /// The SRV referrers of names in shards whose nodes were let go.
    kept_referrers: kept_referrers::KeptReferrers,
    /// The names below names in such shards, where there are any.
    kept_below: std::collections::HashMap<NameId, u32, FixedState>,
    /// While a whole zone is compiled ([`WholeLoad`]): its records, by owner.
    loading: whole_load::LoadedRecords,
    /// `ReversePolicy: unambiguous`: a name with PTR candidates for two targets serves
    /// none of them.
    ptr_unique: bool,
    /// Room for the keys of an item applied without them.
    keys: NameKeys,
    /// Names a shard makes room for at its first name (see [`ZoneStore::expect_names`]).
    room_per_shard: usize,
    /// Changes are noted for the next publish (dirty names, the delta); not while a
    /// whole transfer fills a store that is compiled whole.
    noting: bool,
    /// A primary's store: the weight its generated SRV records ([`RData::Srv`]) are
    /// served with (and priority 0), by which their sets give them back when nodes are
    /// let go.
    generated_srv_weight: Option<u16>,
}

impl ZoneStore {
    /// An empty store for the zones of `apexes` (trailing dots; the domain first). An
    /// apex always exists. Every PTR candidate is served (a transferred zone).
    pub fn new(apexes: &[String]) -> ZoneStore {
        ZoneStore::with_reverse_policy(apexes, ReversePolicy::All)
    }

    /// An empty store whose names exist as `policy` serves their PTR candidates (a
    /// server following Mesos; changing the policy takes a new store).
    pub fn with_reverse_policy(apexes: &[String], policy: ReversePolicy) -> ZoneStore {
        let mut store = ZoneStore {
            apexes: apexes
                .iter()
                .filter_map(|a| {
                    let mut wire = Vec::new();
                    name_to_wire(a, true, &mut wire).map(|()| wire.into())
                })
                .collect(),
            table: WorkingTable::default(),
            value_indexes: Default::default(),
            dirty: Vec::new(),
            new_extras: Vec::new(),
            maybe_free: Vec::new(),
            delta: DeltaBuilder::default(),
            inconsistencies: 0,
            counts: [0; 5],
            lean: false,
            kept_referrers: Default::default(),
            kept_below: Default::default(),
            loading: Default::default(),
            ptr_unique: policy == ReversePolicy::Unambiguous,
            keys: NameKeys::default(),
            room_per_shard: 0,
            noting: true,
            generated_srv_weight: None,
        };
        for apex in store.apexes.clone() {
            let Some(id) = store.intern_key(&apex) else {
                continue;
            };
            // An apex is a member for good: its `below` never returns to zero.
            store.node_mut(id).below = 1;
            store.join_shard(id);
        }
        store
    }

    /// True when no name holds a record.
    pub fn is_empty(&self) -> bool {
        self.counts[0] == 0
    }

    /// The shards: the names with their answer sets, to hand out to a snapshot (which
    /// shares them).
    pub fn table(&mut self) -> &ShardTable {
        self.table.publish()
    }

    /// A shard as it is now.
    pub(super) fn shard(&self, index: usize) -> ShardRef<'_> {
        self.table.get(index)
    }

    /// A name's node, in a shard that holds its nodes (see [`ZoneStore::node_view`]).
    pub fn node(&self, id: NameId) -> &Node {
        let (shard, slot) = place(id);
        self.table.node(shard, slot)
    }

    fn node_mut(&mut self, id: NameId) -> &mut Node {
        let (shard, slot) = place(id);
        self.table.node_mut(shard, slot)
    }

    /// A name's key: its lower-cased wire form (or, for a name without one, a marker
    /// and its text).
    pub fn key(&self, id: NameId) -> Key<'_> {
        let (shard, slot) = place(id);
        self.table.get(shard).key(slot)
    }

    /// Appends a name's key to `out`.
    pub(super) fn write_key(&self, id: NameId, out: &mut Vec<u8>) {
        let (shard, slot) = place(id);
        self.table.get(shard).write_key(slot, out)
    }

    /// A name by its id, as text (lower case, trailing dot).
    pub fn name(&self, id: NameId) -> String {
        key_text(&self.key(id))
    }

    fn is_served(&self, id: NameId) -> bool {
        let (shard, slot) = place(id);
        self.table.get(shard).is_served(slot)
    }

    /// The id of a name (any case, trailing dot).
    pub fn find(&self, name: &str) -> Option<NameId> {
        let mut key = Vec::with_capacity(name.len() + 2);
        store_key(name, &mut key)?;
        self.find_key(&key)
    }

    /// The id of a name by its key.
    pub fn find_key(&self, key: &[u8]) -> Option<NameId> {
        let hash = super::key_hash(key);
        let shard = shard_of(hash);
        let slot = self.table.get(shard).position(key, hash)?;
        Some(id_of(shard, slot as usize))
    }

    /// Every name that owns records.
    pub fn names_with_records(&self) -> impl Iterator<Item = NameId> + '_ {
        (0..SHARDS).flat_map(move |s| {
            let shard = self.table.get(s);
            (0..shard.slot_count())
                .filter(move |&slot| shard.is_held(slot))
                .map(move |slot| id_of(s, slot))
                .filter(move |&id| match self.held_node(id) {
                    Some(node) => node.has_records(),
                    // A node let go: its name has records exactly when its sets do.
                    None => shard
                        .sets(place(id).1)
                        .is_some_and(|sets| sets.into_iter().any(|set| set.is_some())),
                })
        })
    }

    /// Bytes held by the store's own tables beside the shards (approximately).
    pub fn bytes_held(&self) -> usize {
        self.value_indexes
            .values()
            .map(ValueIndex::bytes_held)
            .sum::<usize>()
            + (self.maybe_free.capacity() + self.dirty.capacity()) * 4
            + self.kept_referrers.bytes_held()
            + self.table.suffix_bytes()
    }

    /// Bytes held by the names' nodes with their values and referrers, over every
    /// shard.
    pub fn node_bytes(&self) -> usize {
        (0..SHARDS).map(|s| self.table.node_bytes(s)).sum()
    }

    /// Bytes of the values kept on the heap, over every shard (without the allocator's
    /// rounding).
    pub fn value_bytes(&self) -> usize {
        (0..SHARDS)
            .flat_map(|s| self.table.nodes(s))
            .map(|(_, node)| node.value_bytes())
            .sum()
    }

    /// Gives back spare capacity (after a whole state, the tables were sized by guess).
    pub fn shrink(&mut self) {
        self.maybe_free.shrink_to_fit();
        self.dirty.shrink_to_fit();
    }

    /// About `names` names are coming into an empty store (a first load): each shard
    /// makes room for its share at once, with a margin, rather than growing a name at a
    /// time. 0 when the load is over.
    pub fn expect_names(&mut self, names: usize) {
        self.room_per_shard = (names + names / 8).div_ceil(super::shards::SHARDS);
    }

    /// The store of a server following Mesos, whose generated SRV records are served
    /// with priority 0 and `weight`: its sets can give them back.
    pub fn serve_generated_srv(&mut self, weight: u16) {
        self.generated_srv_weight = Some(weight);
    }

    /// Whether sets give this store's generated SRV records back ([`Values::restorable`]).
    fn restores_generated_srv(&self) -> bool {
        self.generated_srv_weight.is_some()
    }

    /// Whether changes are noted for the next publish: off while a store is filled to be
    /// compiled whole (a transfer), which saves marking and then forgetting every name.
    /// Turned on again, nothing is pending.
    pub fn note_changes(&mut self, noting: bool) {
        self.forget_changes();
        self.noting = noting;
    }

    /// Counts of (names with records, A, AAAA, SRV).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let [n, a, q, s, _] = self.counts;
        (n, a, q, s)
    }

    fn count(&mut self, rdata: RData, up: bool) {
        let i = match rdata {
            RData::A(_) => 1,
            RData::Aaaa(_) => 2,
            RData::Srv { .. } | RData::Service { .. } => 3,
            RData::Ptr { .. } => 4,
        };
        if up {
            self.counts[i] += 1;
        } else {
            self.counts[i] -= 1;
        }
    }

    /// Adds or removes the records of one item.
    pub fn apply(&mut self, item: &ItemRecords, sign: Sign) {
        let mut keys = std::mem::take(&mut self.keys);
        keys.fill(item);
        self.apply_keyed(item, &keys, sign);
        self.keys = keys;
    }

    /// [`ZoneStore::apply`] with the keys of the item's names already made
    /// ([`NameKeys::of`], on the thread that made the item).
    pub fn apply_keyed(&mut self, item: &ItemRecords, keys: &NameKeys, sign: Sign) {
        debug_assert_eq!(keys.len(), item.names.len());
        let ids: Vec<Option<NameId>> = (0..keys.len())
            .map(|i| {
                keys.get(i)
                    .and_then(|(key, hash)| self.intern_hashed(key, hash))
            })
            .collect();
        for &(owner, rdata) in &item.records {
            let id = |i: NameId| ids[i as usize];
            let Some(owner) = id(owner) else {
                self.inconsistencies += 1;
                continue;
            };
            let Some(rdata) = rdata.with_target(id) else {
                self.inconsistencies += 1;
                continue;
            };
            match sign {
                Sign::Add => self.add(owner, rdata, true),
                Sign::AddOnce => self.add(owner, rdata, false),
                Sign::Remove => self.remove(owner, rdata),
            }
        }
        // Names interned for nothing (an item with nothing to remove) must not linger.
        self.maybe_free.extend(ids.into_iter().flatten());
    }

    /// Marks a served name for compiling though its records stayed (a transferred
    /// zone changed the TTL of one of its sets).
    pub fn mark_changed(&mut self, name: &str) {
        if let Some(id) = self.find(name) {
            self.restore(id);
            self.touch(id);
            self.touch_referrers(id);
        }
    }

    /// The names to compile again and the records that came and went since the last
    /// call; frees names nothing needs any more.
    pub fn take_changes(&mut self) -> Changes {
        let mut delta = std::mem::take(&mut self.delta);
        let taken = delta.take(|id| self.name(id).into());
        self.delta = delta;
        let new_extras = self.take_new_extras();
        let mut names: Vec<DirtyName> = Vec::with_capacity(self.dirty.len() + new_extras.len());
        for id in std::mem::take(&mut self.dirty) {
            self.node_mut(id).dirty = false;
            names.push(self.dirty_name(id, Vec::new()));
        }
        for (id, targets) in new_extras {
            names.push(self.dirty_name(id, targets));
        }
        names.sort_unstable_by_key(|n| n.shard);
        // Only now: the names above needed their keys.
        self.free_unused_names();
        Changes {
            names,
            delta: taken,
        }
    }

    fn dirty_name(&self, id: NameId, new_extras: Vec<NameId>) -> DirtyName {
        let key = self.key(id);
        DirtyName {
            shard: place(id).0 as u32,
            key_hash: super::key_hash(&key),
            key: Box::from(&*key),
            node: self.is_served(id).then_some(id),
            new_extras,
        }
    }

    /// The owners whose extras alone are made again, each with its changed targets.
    /// An owner given its node back since (another change of it) is compiled from its
    /// node instead: marked dirty here if it was not.
    fn take_new_extras(&mut self) -> Vec<(NameId, Vec<NameId>)> {
        let mut pairs = std::mem::take(&mut self.new_extras);
        pairs.sort_unstable();
        pairs.dedup();
        let mut owners: Vec<(NameId, Vec<NameId>)> = Vec::new();
        for (owner, target) in pairs {
            if self.held_node(owner).is_some() {
                self.touch(owner);
                continue;
            }
            match owners.last_mut() {
                Some((last, targets)) if *last == owner => targets.push(target),
                _ => owners.push((owner, vec![target])),
            }
        }
        owners
    }

    /// Drops what changed since the last call without describing it, and frees names
    /// nothing needs: for a whole transfer being loaded, which nothing was compiled from
    /// yet (describing each message's changes cost a tenth of the load).
    pub fn forget_changes(&mut self) {
        self.new_extras.clear();
        let mut dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            self.node_mut(id).dirty = false;
        }
        dirty.clear();
        dirty.shrink_to(super::delta::KEPT_ROOM);
        self.dirty = dirty;
        self.delta.forget();
        self.free_unused_names();
    }

    /// Installs the answer sets of served names (compiled from this store).
    pub(super) fn install(&mut self, sets: impl IntoIterator<Item = (NameId, SlotSets)>) {
        for (id, sets) in sets {
            let (shard, slot) = place(id);
            self.table.get_mut(shard).set_sets(slot, sets);
        }
    }

    /// Frees the names that may have lost their last reason to stay.
    fn free_unused_names(&mut self) {
        let mut maybe_free = std::mem::take(&mut self.maybe_free);
        for &id in &maybe_free {
            self.free_if_unused(id);
        }
        maybe_free.clear();
        self.maybe_free = maybe_free;
    }

    fn add(&mut self, owner: NameId, rdata: RData, count_again: bool) {
        let (shard, slot) = place(owner);
        let node = self.table.node_mut(shard, slot);
        // Looked up only for a name that has one.
        let index = node
            .indexed
            .then(|| self.value_indexes.get_mut(&owner))
            .flatten();
        let was = node.has_records();
        if !node.values.add(rdata, count_again, index) {
            return;
        }
        if !node.indexed && node.values.wants_index() {
            node.indexed = true;
            let index = node.values.index();
            self.value_indexes.insert(owner, index);
        }
        // What follows for this name is done here, with its node at hand (a first load
        // adds a million values).
        let changed = Self::note_change(node, self.ptr_unique, self.noting);
        self.after_change(owner, rdata, true, changed);
        if !was {
            self.counts[0] += 1;
        }
    }

    fn remove(&mut self, owner: NameId, rdata: RData) {
        let (shard, slot) = place(owner);
        let node = self.table.node_mut(shard, slot);
        // Looked up only for a name that has one.
        let index = node
            .indexed
            .then(|| self.value_indexes.get_mut(&owner))
            .flatten();
        let removed = node.values.remove(rdata, index);
        if node.indexed && node.values.is_empty() {
            node.indexed = false;
            self.value_indexes.remove(&owner);
        }
        match removed {
            None => {
                self.inconsistencies += 1;
                return;
            }
            Some(false) => return,
            Some(true) => {}
        }
        let emptied = !node.has_records();
        let changed = Self::note_change(node, self.ptr_unique, self.noting);
        self.after_change(owner, rdata, false, changed);
        if emptied {
            self.counts[0] -= 1;
        }
        self.maybe_free.push(owner);
    }

    /// A value of `node` came or went: the name is marked dirty and its liveness brought
    /// up to date; what that changed.
    fn note_change(node: &mut Node, ptr_unique: bool, noting: bool) -> NodeChange {
        let newly_dirty = node.wants_marking(noting);
        node.dirty |= newly_dirty;
        let live = node.serves(ptr_unique);
        let liveness_changed = live != node.live;
        node.live = live;
        NodeChange {
            newly_dirty,
            live: liveness_changed.then_some(live),
            referred: !node.referrers.is_empty(),
        }
    }

    /// The rest of a value coming or going at `owner`, once its node was updated: the
    /// delta, the counts, the names it refers to or that refer to it, its ancestors.
    fn after_change(&mut self, owner: NameId, rdata: RData, added: bool, changed: NodeChange) {
        if changed.newly_dirty {
            self.dirty.push(owner);
        }
        if self.noting {
            self.delta.record(owner, rdata, added);
        }
        self.count(rdata, added);
        match rdata {
            RData::Srv { target, .. }
            | RData::Service { target, .. }
            | RData::Ptr { target, .. } => {
                if added {
                    self.refer(target, owner);
                } else {
                    self.unrefer(target, owner);
                }
            }
            _ if changed.referred => self.touch_referrers(owner),
            _ => {}
        }
        match changed.live {
            Some(true) => self.records_appeared(owner),
            Some(false) => self.records_vanished(owner),
            None => {}
        }
    }

    /// A name got its first served record: it and its ancestors (up to the apex) exist.
    fn records_appeared(&mut self, id: NameId) {
        if !self.node(id).in_zone {
            return;
        }
        if self.node(id).below == 0 {
            self.join_shard(id);
        }
        let ancestors = self.ancestors(id);
        for ancestor in ancestors.names() {
            let Some(a) = self.intern_key(ancestor) else {
                self.inconsistencies += 1;
                continue;
            };
            let node = self.node_mut(a);
            node.below += 1;
            if node.below == 1 && !node.live {
                self.join_shard(a);
            }
        }
    }

    /// A name lost its last served record.
    fn records_vanished(&mut self, id: NameId) {
        if !self.node(id).in_zone {
            return;
        }
        if self.node(id).below == 0 {
            self.leave_shard(id);
        }
        let ancestors = self.ancestors(id);
        for ancestor in ancestors.names() {
            let Some(a) = self.find_key(ancestor) else {
                self.inconsistencies += 1;
                continue;
            };
            self.restore(a);
            let node = self.node_mut(a);
            node.below = node.below.saturating_sub(1);
            if node.below == 0 && !node.live {
                self.leave_shard(a);
                self.maybe_free.push(a);
            }
        }
    }

    /// The names strictly between `id` and its zone's apex, from a copy of its key.
    fn ancestors(&self, id: NameId) -> Ancestors {
        let key = self.key(id);
        let apex_len = self.apex_of(&key).map_or(key.len(), <[u8]>::len);
        let mut copy = [0u8; 255];
        let len = key.len().min(255);
        copy[..len].copy_from_slice(&key[..len]);
        Ancestors {
            key: copy,
            len,
            apex_len,
        }
    }

    /// Whether the name of `key` is at or below an apex (only such names are served).
    fn key_in_zone(&self, key: &[u8]) -> bool {
        is_wire(key) && self.apex_of(key).is_some()
    }

    /// Whether name `id` lies in a zone served: its parent's octets tell, for most
    /// names, without the key joined (a whole load asks for every name).
    pub(super) fn id_in_zone(&self, id: NameId) -> bool {
        let (shard, slot) = place(id);
        let parent = self.table.get(shard).parent(slot);
        parent.is_some_and(|parent| self.apex_of(parent).is_some())
            || self.key_in_zone(&self.key(id))
    }

    /// The apex of the zone the wire name `key` lies in.
    fn apex_of(&self, key: &[u8]) -> Option<&[u8]> {
        self.apexes
            .iter()
            .find(|apex| super::in_zone(key, apex))
            .map(|a| &**a)
    }

    fn refer(&mut self, target: NameId, owner: NameId) {
        let (shard, slot) = place(target);
        // A target in a shard without nodes: only while a whole zone is compiled.
        if !self.table.holds_nodes(shard) {
            self.kept_referrers.add(target, owner);
            return;
        }
        let referrers = &mut self.table.node_mut(shard, slot).referrers;
        match referrers.iter_mut().find(|r| r.0 == owner) {
            Some(r) => r.1 += 1,
            None => {
                // Grown one at a time while short: most targets have one or two owners.
                if referrers.len() == referrers.capacity() {
                    let extra = if referrers.len() < 8 {
                        1
                    } else {
                        referrers.len()
                    };
                    referrers.reserve_exact(extra);
                }
                referrers.push((owner, 1));
            }
        }
    }

    fn unrefer(&mut self, target: NameId, owner: NameId) {
        let node = self.node_mut(target);
        let referrers = &mut node.referrers;
        if let Some(i) = referrers.iter().position(|r| r.0 == owner) {
            referrers[i].1 -= 1;
            if referrers[i].1 == 0 {
                referrers.swap_remove(i);
            }
        }
        if referrers.is_empty() {
            // Its allocation goes with the last owner.
            *referrers = ThinVec::new();
        }
        self.maybe_free.push(target);
    }

    /// Marks a name for compiling.
    fn touch(&mut self, id: NameId) {
        self.restore(id);
        if self.node(id).wants_marking(self.noting) {
            self.node_mut(id).dirty = true;
            self.dirty.push(id);
        }
    }

    /// The addresses of a name changed: SRV sets pointing at it carry them as extras.
    fn touch_referrers(&mut self, id: NameId) {
        if !self.noting {
            return;
        }
        // Taken out while its owners are marked (marking never reads referrers).
        let referrers = std::mem::take(&mut self.node_mut(id).referrers);
        for &(owner, _) in referrers.iter() {
            if self.held_node(owner).is_some() {
                self.touch(owner);
            } else {
                // Nothing of the owner changed but its extras: its node stays let go.
                self.new_extras.push((owner, id));
            }
        }
        self.node_mut(id).referrers = referrers;
    }

    fn join_shard(&mut self, id: NameId) {
        // Before its slot changes: a let-go node comes back from its slot's sets.
        self.restore(id);
        if self.is_served(id) {
            return;
        }
        let (shard, slot) = place(id);
        self.table.get_mut(shard).set_served(slot, true);
        self.touch(id);
    }

    fn leave_shard(&mut self, id: NameId) {
        // Before its slot changes: a let-go node comes back from its slot's sets.
        self.restore(id);
        if !self.is_served(id) {
            return;
        }
        let (shard, slot) = place(id);
        self.table.get_mut(shard).set_served(slot, false);
        self.touch(id);
    }

    /// The id of the name of `key`, making a slot for it if needed; `None` only when
    /// its shard is full.
    fn intern_key(&mut self, key: &[u8]) -> Option<NameId> {
        self.intern_hashed(key, super::key_hash(key))
    }

    /// [`ZoneStore::intern_key`] with the key's hash at hand.
    fn intern_hashed(&mut self, key: &[u8], hash: u64) -> Option<NameId> {
        let shard = shard_of(hash);
        self.open_shard(shard);
        if let Some(slot) = self.table.get(shard).position(key, hash) {
            let id = id_of(shard, slot as usize);
            self.restore(id);
            return Some(id);
        }
        let in_zone = self.key_in_zone(key);
        let slot = self.table.insert(shard, key, hash, self.room_per_shard)?;
        let id = id_of(shard, slot);
        self.node_mut(id).in_zone = in_zone;
        Some(id)
    }

    fn free_if_unused(&mut self, id: NameId) {
        let (shard, slot) = place(id);
        let table = self.table.get(shard);
        // A node is let go only with its name needed (and comes back at any change that
        // could free it).
        if !table.is_held(slot) || table.is_served(slot) {
            return;
        }
        let Some(node) = self.held_node(id) else {
            return;
        };
        if node.exists() || node.has_records() || !node.referrers.is_empty() {
            return;
        }
        self.table.remove(shard, slot);
    }
}

/// `name` is `apex` or ends in `.apex` (both lower case with trailing dots).
pub(crate) fn is_at_or_below(name: &str, apex: &str) -> bool {
    name == apex
        || (name.len() > apex.len()
            && name.ends_with(apex)
            && name.as_bytes()[name.len() - apex.len() - 1] == b'.')
}

impl crate::records::enumerate::AxfrSource for ZoneStore {
    /// The domain's names only: `/v1/axfr` is the reference's document, so the other
    /// zones (reverse, DC/OS) are not in it.
    fn names(&self) -> Vec<std::borrow::Cow<'_, str>> {
        let Some(domain) = self.apexes.first() else {
            return Vec::new();
        };
        let mut names: Vec<std::borrow::Cow<'_, str>> = self
            .names_with_records()
            .map(|id| self.key(id))
            .filter(|key| super::in_zone(key, domain))
            .map(|key| key_text(&key).into())
            .collect();
        names.sort_unstable();
        names
    }

    fn values(&self, name: &str, kind: crate::records::enumerate::AxfrKind) -> Vec<String> {
        use crate::records::enumerate::AxfrKind;
        let Some(node) = self.find(name).map(|id| self.node_view(id)) else {
            return Vec::new();
        };
        let mut values: Vec<String> = match kind {
            AxfrKind::A => node.a().map(|ip| ip.to_string()).collect(),
            AxfrKind::Aaaa => node.aaaa().map(|ip| ip.to_string()).collect(),
            AxfrKind::Srv => node
                .srv()
                .map(|v| format!("{}:{}", self.name(v.target), v.port))
                .collect(),
        };
        values.sort_unstable();
        values
    }
}

/// The ancestors of a name strictly above it and below its zone's apex, as suffixes of
/// a copy of its key.
struct Ancestors {
    key: [u8; 255],
    len: usize,
    apex_len: usize,
}

impl Ancestors {
    fn names(&self) -> impl Iterator<Item = &[u8]> {
        let key = &self.key[..self.len];
        let mut at = 0;
        std::iter::from_fn(move || {
            at += 1 + usize::from(*key.get(at)?);
            (key.len().saturating_sub(at) > self.apex_len).then(|| &key[at..])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One item with an A record at `name` and an SRV record at `srv_owner` naming it.
    fn task(name: &str, srv_owner: &str, ip: u32) -> ItemRecords {
        let mut item = ItemRecords::default();
        item.names.push(name.into());
        item.names.push(srv_owner.into());
        item.records.push((0, RData::A(Ipv4Addr::from(ip))));
        item.records.push((
            1,
            RData::Srv {
                target: 0,
                port: 80,
            },
        ));
        item
    }

    #[test]
    fn a_name_keeps_its_id_while_others_come_and_go_in_its_shard() {
        let mut store = ZoneStore::new(&["mesos.".to_string()]);
        let keep = task("keep.app.mesos.", "_app._tcp.mesos.", 1);
        store.apply(&keep, Sign::Add);
        store.take_changes();
        let id = store.find("keep.app.mesos.").unwrap(); // ok: test
        // Enough names that every shard's slots are freed, reused and its keys
        // compacted several times over.
        for round in 0..4u32 {
            let items: Vec<ItemRecords> = (0..40_000u32)
                .map(|i| {
                    let name = format!("t{i}-{round}.app.mesos.");
                    task(&name, "_app._tcp.mesos.", i)
                })
                .collect();
            for item in &items {
                store.apply(item, Sign::Add);
            }
            store.take_changes();
            assert_eq!(store.find("keep.app.mesos."), Some(id));
            for item in &items {
                store.apply(item, Sign::Remove);
            }
            store.take_changes();
            assert!(store.find(&format!("t7-{round}.app.mesos.")).is_none());
        }
        assert_eq!(store.find("keep.app.mesos."), Some(id));
        assert_eq!(store.node(id).a().collect::<Vec<_>>(), [Ipv4Addr::from(1)]);
        let owner = store.find("_app._tcp.mesos.").unwrap(); // ok: test
        assert_eq!(store.node(owner).srv().count(), 1);
        assert_eq!(store.counts(), (2, 1, 0, 1));
        assert_eq!(store.inconsistencies, 0);
    }

    #[test]
    fn a_name_without_a_wire_form_is_held_but_never_served() {
        let mut store = ZoneStore::new(&["mesos.".to_string()]);
        let long = format!("{}.app.mesos.", "x".repeat(64));
        let item = task(&long, "_app._tcp.mesos.", 1);
        store.apply(&item, Sign::Add);
        store.take_changes();
        let id = store.find(&long).unwrap(); // ok: test
        assert!(!store.node(id).in_zone);
        assert!(!store.is_served(id));
        assert_eq!(store.name(id), long);
        store.apply(&item, Sign::Remove);
        store.take_changes();
        assert!(store.find(&long).is_none());
        assert_eq!(store.inconsistencies, 0);
    }

    /// One item offering `targets` as the reverse names of 10.0.0.1.
    fn candidates(targets: &[&str]) -> ItemRecords {
        let mut item = ItemRecords::default();
        item.names.push("1.0.0.10.in-addr.arpa.".into());
        for (i, target) in targets.iter().enumerate() {
            item.names.push((*target).into());
            let target = (i + 1) as NameId;
            item.records.push((0, RData::Ptr { target, rank: 0 }));
        }
        item
    }

    fn served(store: &ZoneStore, name: &str) -> bool {
        store.find(name).is_some_and(|id| store.is_served(id))
    }

    #[test]
    fn an_ambiguous_reverse_name_exists_only_when_its_policy_serves_it() {
        let apexes = ["10.in-addr.arpa.".to_string()];
        for (policy, exists_with_two) in [
            (ReversePolicy::Unambiguous, false),
            (ReversePolicy::One, true),
            (ReversePolicy::All, true),
        ] {
            let mut store = ZoneStore::with_reverse_policy(&apexes, policy);
            let a = candidates(&["a.mesos."]);
            let b = candidates(&["b.mesos."]);
            store.apply(&a, Sign::Add);
            assert!(served(&store, "1.0.0.10.in-addr.arpa."), "{policy:?}");
            store.apply(&b, Sign::Add);
            store.take_changes();
            assert_eq!(
                served(&store, "1.0.0.10.in-addr.arpa."),
                exists_with_two,
                "{policy:?}"
            );
            // The names above exist only for a name below that exists.
            assert_eq!(
                served(&store, "0.0.10.in-addr.arpa."),
                exists_with_two,
                "{policy:?}"
            );
            // One candidate left: the name serves it again.
            store.apply(&a, Sign::Remove);
            store.take_changes();
            assert!(served(&store, "1.0.0.10.in-addr.arpa."), "{policy:?}");
            assert!(served(&store, "0.0.10.in-addr.arpa."), "{policy:?}");
            store.apply(&b, Sign::Remove);
            store.take_changes();
            assert!(!served(&store, "1.0.0.10.in-addr.arpa."), "{policy:?}");
            assert!(!served(&store, "0.0.10.in-addr.arpa."), "{policy:?}");
            assert_eq!(store.inconsistencies, 0);
        }
    }

    #[test]
    fn a_large_name_is_indexed_while_it_holds_values() {
        let mut store = ZoneStore::new(&["mesos.".to_string()]);
        let item = |i: u32| {
            let mut item = ItemRecords::default();
            item.names.push("app.marathon.mesos.".into());
            item.records
                .push((0, RData::A(Ipv4Addr::from(0x0a00_0000 + i))));
            item
        };
        for i in 0..200 {
            store.apply(&item(i), Sign::Add);
            // A repeat counts again, it is not a second record.
            store.apply(&item(i), Sign::Add);
        }
        let id = store.find("app.marathon.mesos.").unwrap(); // ok: test
        assert_eq!(store.node(id).a().count(), 200);
        assert!(store.value_indexes.contains_key(&id));
        for i in 0..200 {
            store.apply(&item(i), Sign::Remove);
        }
        assert_eq!(
            store.node(id).a().count(),
            200,
            "each still has a contributor"
        );
        for i in (0..200).rev() {
            store.apply(&item(i), Sign::Remove);
            assert_eq!(store.node(id).a().count(), i as usize);
        }
        store.take_changes();
        assert!(store.value_indexes.is_empty());
        assert!(store.find("app.marathon.mesos.").is_none());
        assert_eq!(store.inconsistencies, 0);
    }

    #[test]
    fn a_node_stays_small() {
        // 317k of them at 100k tasks: every byte here is 0.3 MB there.
        assert!(std::mem::size_of::<Node>() <= 40);
    }

    #[test]
    fn one_target_under_two_ranks_is_not_ambiguous() {
        let apexes = ["10.in-addr.arpa.".to_string()];
        let mut store = ZoneStore::with_reverse_policy(&apexes, ReversePolicy::Unambiguous);
        let mut item = candidates(&["a.mesos."]);
        item.records.push((0, RData::Ptr { target: 1, rank: 1 }));
        store.apply(&item, Sign::Add);
        assert!(served(&store, "1.0.0.10.in-addr.arpa."));
    }
}
