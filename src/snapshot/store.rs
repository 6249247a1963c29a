//! [`ZoneStore`]: every published record with the number of items that contribute it, so
//! that the records of one item can be added or taken away without regenerating the
//! others. Owned by the control thread; the served snapshot is compiled from it shard by
//! shard, and only the shards a change touched are compiled again.
//!
//! Names are kept lower-cased (answers are case-insensitive, and every generated name is
//! lower case but a configured `SOAMname`). A name exists in the zone while it owns a
//! served record or a name below it does (empty non-terminals); it stays in the table
//! while an SRV record still points at it. A name whose values all fall to the
//! `ReversePolicy` (two PTR candidates under `unambiguous`) owns nothing served, so it
//! does not exist: NXDOMAIN, not NODATA (RFC 8020).

use super::delta::{Delta, DeltaBuilder};
use super::shards::{SHARDS, shard_of};
use super::values::{ValueIndex, Values};
use crate::config::ReversePolicy;
use crate::dns::wire::name_to_wire;
use crate::records::{ItemRecords, NameId, RData};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One name of the store (64 bytes, and its name, values and referrers on the heap).
#[derive(Debug, Default)]
pub struct Node {
    /// Lower-cased, with the trailing dot; empty while the slot is free.
    pub name: Box<str>,
    /// Every value of the name with the number of items contributing it.
    values: Values,
    /// Owners of SRV records pointing here, with how many of their values do: their
    /// additional addresses change when this name's addresses do. Boxed: most names
    /// are nobody's target.
    #[allow(clippy::box_collection)] // ok: 8 bytes on every node instead of a Vec's 24
    referrers: Option<Box<Vec<(NameId, u32)>>>,
    /// Names with served records strictly below this one.
    below: u32,
    /// Position in its shard's member list; `NOT_MEMBER` when not served.
    member_pos: u32,
    /// Its shard (from the hash of its lower-cased wire name).
    shard: u16,
    /// At or below the apex: only such names are served.
    pub in_zone: bool,
    /// Owns at least one record that is served (see [`ZoneStore::serves`]).
    live: bool,
    /// Listed in the store's dirty names.
    dirty: bool,
}

const NOT_MEMBER: u32 = u32::MAX;

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
    /// The zones' apexes: the domain first, then the others (reverse zones); none is
    /// at or below another.
    apexes: Vec<Box<str>>,
    nodes: Vec<Node>,
    /// Indexes of the names holding many values (see `values`).
    value_indexes: std::collections::HashMap<NameId, ValueIndex, FixedState>,
    free: Vec<NameId>,
    index: HashTable<NameId>,
    hasher: FixedState,
    /// Per shard, the served names (in zone, existing).
    members: Vec<Vec<NameId>>,
    dirty: Vec<NameId>,
    /// Names that may have no reason left to stay; checked when changes are taken.
    maybe_free: Vec<NameId>,
    delta: DeltaBuilder,
    /// Removals of records the store did not hold (a bug if ever non-zero).
    pub inconsistencies: u64,
    /// Names with records, A, AAAA and SRV records.
    counts: [usize; 5],
    /// `ReversePolicy: unambiguous`: a name with PTR candidates for two targets serves
    /// none of them.
    ptr_unique: bool,
    wire: Vec<u8>,
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
                .map(|a| a.to_ascii_lowercase().into())
                .collect(),
            nodes: Vec::new(),
            value_indexes: Default::default(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: FixedState::default(),
            members: (0..SHARDS).map(|_| Vec::new()).collect(),
            dirty: Vec::new(),
            maybe_free: Vec::new(),
            delta: DeltaBuilder::default(),
            inconsistencies: 0,
            counts: [0; 5],
            ptr_unique: policy == ReversePolicy::Unambiguous,
            wire: Vec::with_capacity(256),
        };
        for apex in store.apexes.clone() {
            let id = store.intern(&apex);
            // An apex is a member for good: its `below` never returns to zero.
            store.nodes[id as usize].below = 1;
            store.join_shard(id);
        }
        store
    }

    /// True when no name holds a record.
    pub fn is_empty(&self) -> bool {
        self.counts[0] == 0
    }

    /// A name's node.
    pub fn node(&self, id: NameId) -> &Node {
        &self.nodes[id as usize]
    }

    /// A name by its id.
    pub fn name(&self, id: NameId) -> &str {
        &self.nodes[id as usize].name
    }

    /// The id of a name (any case, trailing dot).
    pub fn find(&self, name: &str) -> Option<NameId> {
        let lower = lower(name);
        let hash = self.hasher.hash_one(&*lower);
        self.index
            .find(hash, |&id| *self.nodes[id as usize].name == *lower)
            .copied()
    }

    /// The served names of one shard.
    pub fn members(&self, shard: usize) -> &[NameId] {
        &self.members[shard]
    }

    /// Every name that owns records.
    pub fn names_with_records(&self) -> impl Iterator<Item = (NameId, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.has_records())
            .map(|(i, n)| (i as NameId, n))
    }

    /// Bytes held by the store's tables and the heap data of its names (approximately).
    pub fn bytes_held(&self) -> usize {
        let heap: usize = self
            .nodes
            .iter()
            .map(|n| {
                n.name.len()
                    + n.values.bytes_held()
                    + n.referrers.as_ref().map_or(0, |r| 24 + r.capacity() * 8)
            })
            .sum();
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + heap
            + self.index.capacity() * 5
            + self
                .value_indexes
                .values()
                .map(ValueIndex::bytes_held)
                .sum::<usize>()
            + self.members.iter().map(|m| m.capacity() * 4).sum::<usize>()
            + (self.maybe_free.capacity() + self.dirty.capacity() + self.free.capacity()) * 4
    }

    /// Of those bytes, the names' text and the values (both on the heap, without the
    /// allocator's rounding); the rest is the nodes, the referrers and the indexes.
    pub fn parts_held(&self) -> (usize, usize) {
        self.nodes.iter().fold((0, 0), |(names, values), n| {
            (names + n.name.len(), values + n.values.bytes_held())
        })
    }

    /// Gives back spare capacity (after a whole state, the tables were sized by guess).
    pub fn shrink(&mut self) {
        self.nodes.shrink_to_fit();
        self.maybe_free.shrink_to_fit();
        self.dirty.shrink_to_fit();
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
        let ids: Vec<NameId> = item.names.iter().map(|n| self.intern(n)).collect();
        for &(owner, rdata) in &item.records {
            let owner = ids[owner as usize];
            let rdata = match rdata {
                RData::Srv { target, port } => RData::Srv {
                    target: ids[target as usize],
                    port,
                },
                RData::Ptr { target, rank } => RData::Ptr {
                    target: ids[target as usize],
                    rank,
                },
                RData::Service {
                    target,
                    port,
                    priority,
                    weight,
                } => RData::Service {
                    target: ids[target as usize],
                    port,
                    priority,
                    weight,
                },
                other => other,
            };
            match sign {
                Sign::Add => self.add(owner, rdata, true),
                Sign::AddOnce => self.add(owner, rdata, false),
                Sign::Remove => self.remove(owner, rdata),
            }
        }
        // Names interned for nothing (an item with nothing to remove) must not linger.
        self.maybe_free.extend(ids);
    }

    /// Marks a served name for compiling though its records stayed (a transferred
    /// zone changed the TTL of one of its sets).
    pub fn mark_changed(&mut self, name: &str) {
        if let Some(id) = self.find(name) {
            self.touch(id);
            self.touch_referrers(id);
        }
    }

    /// The shards to compile again and the records that came and went since the last
    /// call; frees names nothing needs any more.
    pub fn take_changes(&mut self) -> Changes {
        let delta = self.delta.take(|id| self.nodes[id as usize].name.clone());
        let mut names: Vec<DirtyName> = Vec::with_capacity(self.dirty.len());
        for id in std::mem::take(&mut self.dirty) {
            let node = &mut self.nodes[id as usize];
            node.dirty = false;
            self.wire.clear();
            let _ = name_to_wire(&node.name, true, &mut self.wire);
            let served = node.member_pos != NOT_MEMBER;
            names.push(DirtyName {
                shard: u32::from(node.shard),
                key_hash: super::key_hash(&self.wire),
                key: self.wire.as_slice().into(),
                node: served.then_some(id),
            });
        }
        names.sort_unstable_by_key(|n| n.shard);
        // Only now: the names above needed their text.
        self.free_unused_names();
        Changes { names, delta }
    }

    /// Drops what changed since the last call without describing it, and frees names
    /// nothing needs: for a whole transfer being loaded, which nothing was compiled from
    /// yet (describing each message's changes cost a tenth of the load).
    pub fn forget_changes(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            self.nodes[id as usize].dirty = false;
        }
        dirty.clear();
        dirty.shrink_to(super::delta::KEPT_ROOM);
        self.dirty = dirty;
        self.delta.forget();
        self.free_unused_names();
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
        let was = self.nodes[owner as usize].has_records();
        let values = &mut self.nodes[owner as usize].values;
        let index = self.value_indexes.get_mut(&owner);
        let indexed = index.is_some();
        if !values.add(rdata, count_again, index) {
            return;
        }
        if !indexed && values.wants_index() {
            self.value_indexes.insert(owner, values.index());
        }
        self.delta.record(owner, rdata, true);
        self.count(rdata, true);
        if !was {
            self.counts[0] += 1;
        }
        self.touch(owner);
        match rdata {
            RData::Srv { target, .. }
            | RData::Service { target, .. }
            | RData::Ptr { target, .. } => self.refer(target, owner),
            _ => self.touch_referrers(owner),
        }
        self.update_liveness(owner);
    }

    /// After a value of `id` came or went: the name starts or stops existing when
    /// whether it serves anything changed.
    fn update_liveness(&mut self, id: NameId) {
        let node = &self.nodes[id as usize];
        let live = node.serves(self.ptr_unique);
        if live == node.live {
            return;
        }
        self.nodes[id as usize].live = live;
        if live {
            self.records_appeared(id);
        } else {
            self.records_vanished(id);
        }
    }

    fn remove(&mut self, owner: NameId, rdata: RData) {
        let values = &mut self.nodes[owner as usize].values;
        let removed = values.remove(rdata, self.value_indexes.get_mut(&owner));
        if values.is_empty() {
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
        self.delta.record(owner, rdata, false);
        self.count(rdata, false);
        self.touch(owner);
        match rdata {
            RData::Srv { target, .. }
            | RData::Service { target, .. }
            | RData::Ptr { target, .. } => self.unrefer(target, owner),
            _ => self.touch_referrers(owner),
        }
        if !self.nodes[owner as usize].has_records() {
            self.counts[0] -= 1;
        }
        self.update_liveness(owner);
        self.maybe_free.push(owner);
    }

    /// A name got its first served record: it and its ancestors (up to the apex) exist.
    fn records_appeared(&mut self, id: NameId) {
        if !self.nodes[id as usize].in_zone {
            return;
        }
        if self.nodes[id as usize].below == 0 {
            self.join_shard(id);
        }
        let mut ancestors = self.ancestors(id);
        while let Some(ancestor) = ancestors.next_name() {
            let a = self.intern(ancestor);
            let node = &mut self.nodes[a as usize];
            node.below += 1;
            if node.below == 1 && !node.live {
                self.join_shard(a);
            }
        }
    }

    /// A name lost its last served record.
    fn records_vanished(&mut self, id: NameId) {
        if !self.nodes[id as usize].in_zone {
            return;
        }
        if self.nodes[id as usize].below == 0 {
            self.leave_shard(id);
        }
        let mut ancestors = self.ancestors(id);
        while let Some(ancestor) = ancestors.next_name() {
            let Some(a) = self.find(ancestor) else {
                self.inconsistencies += 1;
                continue;
            };
            let node = &mut self.nodes[a as usize];
            node.below = node.below.saturating_sub(1);
            if node.below == 0 && !node.live {
                self.leave_shard(a);
                self.maybe_free.push(a);
            }
        }
    }

    /// The names strictly between `id` and its zone's apex, as suffixes of a copy of its
    /// name.
    fn ancestors(&self, id: NameId) -> Ancestors {
        let name = self.nodes[id as usize].name.clone();
        let apex_len = self.apex_of(&name).map_or(name.len(), str::len);
        Ancestors {
            name,
            at: 0,
            apex_len,
        }
    }

    /// The apex of the zone `name` (lower case) lies in.
    fn apex_of(&self, name: &str) -> Option<&str> {
        self.apexes
            .iter()
            .find(|apex| is_at_or_below(name, apex))
            .map(|a| &**a)
    }

    fn refer(&mut self, target: NameId, owner: NameId) {
        let referrers = self.nodes[target as usize]
            .referrers
            .get_or_insert_with(Box::default);
        match referrers.iter_mut().find(|r| r.0 == owner) {
            Some(r) => r.1 += 1,
            None => push_small(referrers, (owner, 1)),
        }
    }

    fn unrefer(&mut self, target: NameId, owner: NameId) {
        let node = &mut self.nodes[target as usize];
        if let Some(referrers) = &mut node.referrers {
            if let Some(i) = referrers.iter().position(|r| r.0 == owner) {
                referrers[i].1 -= 1;
                if referrers[i].1 == 0 {
                    referrers.swap_remove(i);
                }
            }
            if referrers.is_empty() {
                node.referrers = None;
            }
        }
        self.maybe_free.push(target);
    }

    /// Marks the shard of a name for compiling.
    fn touch(&mut self, id: NameId) {
        let node = &self.nodes[id as usize];
        if !node.in_zone {
            return;
        }
        if !node.dirty {
            self.nodes[id as usize].dirty = true;
            self.dirty.push(id);
        }
    }

    /// The addresses of a name changed: SRV sets pointing at it carry them as extras.
    fn touch_referrers(&mut self, id: NameId) {
        // Taken out while its owners are marked (marking never reads referrers).
        if let Some(referrers) = self.nodes[id as usize].referrers.take() {
            for &(owner, _) in referrers.iter() {
                self.touch(owner);
            }
            self.nodes[id as usize].referrers = Some(referrers);
        }
    }

    fn join_shard(&mut self, id: NameId) {
        let node = &self.nodes[id as usize];
        if node.member_pos != NOT_MEMBER {
            return;
        }
        let shard = usize::from(node.shard);
        self.nodes[id as usize].member_pos = self.members[shard].len() as u32;
        self.members[shard].push(id);
        self.touch(id);
    }

    fn leave_shard(&mut self, id: NameId) {
        let node = &self.nodes[id as usize];
        let pos = node.member_pos;
        if pos == NOT_MEMBER {
            return;
        }
        let shard = usize::from(node.shard);
        let list = &mut self.members[shard];
        list.swap_remove(pos as usize);
        if let Some(&moved) = list.get(pos as usize) {
            self.nodes[moved as usize].member_pos = pos;
        }
        self.nodes[id as usize].member_pos = NOT_MEMBER;
        self.touch(id);
    }

    /// The id of `name` (lower-cased here), making a node for it if needed.
    fn intern(&mut self, name: &str) -> NameId {
        let lower = lower(name);
        let hash = self.hasher.hash_one(&*lower);
        if let Some(&id) = self
            .index
            .find(hash, |&id| *self.nodes[id as usize].name == *lower)
        {
            return id;
        }
        self.wire.clear();
        let in_zone =
            name_to_wire(&lower, true, &mut self.wire).is_some() && self.apex_of(&lower).is_some();
        let node = Node {
            name: lower.into(),
            // 16,384 shards: the number fits.
            shard: shard_of(super::key_hash(&self.wire)) as u16,
            in_zone,
            member_pos: NOT_MEMBER,
            ..Node::default()
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as NameId
            }
        };
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(&*nodes[i as usize].name));
        id
    }

    fn free_if_unused(&mut self, id: NameId) {
        let node = &self.nodes[id as usize];
        if node.name.is_empty()
            || node.exists()
            || node.has_records()
            || node.referrers.is_some()
            || node.member_pos != NOT_MEMBER
        {
            return;
        }
        let hash = self.hasher.hash_one(&*node.name);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        self.nodes[id as usize] = Node {
            member_pos: NOT_MEMBER,
            ..Node::default()
        };
        self.free.push(id);
    }
}

/// Pushes one element, growing a short list one element at a time: most names hold one
/// to three values, and a Vec's first push would reserve four.
fn push_small<T>(list: &mut Vec<T>, value: T) {
    if list.len() == list.capacity() {
        let extra = if list.len() < 8 { 1 } else { list.len() };
        list.reserve_exact(extra);
    }
    list.push(value);
}

fn lower(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
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
    fn names(&self) -> Vec<&str> {
        let domain = &self.apexes[0];
        let mut names: Vec<&str> = self
            .names_with_records()
            .map(|(_, n)| &*n.name)
            .filter(|n| is_at_or_below(n, domain))
            .collect();
        names.sort_unstable();
        names
    }

    fn values(&self, name: &str, kind: crate::records::enumerate::AxfrKind) -> Vec<String> {
        use crate::records::enumerate::AxfrKind;
        let Some(node) = self.find(name).map(|id| self.node(id)) else {
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

/// Walks up a name's ancestors, stopping above the apex.
struct Ancestors {
    name: Box<str>,
    at: usize,
    apex_len: usize,
}

impl Ancestors {
    fn next_name(&mut self) -> Option<&str> {
        let rest = &self.name[self.at..];
        let dot = rest.find('.')?;
        let parent = &rest[dot + 1..];
        if parent.len() <= self.apex_len {
            return None;
        }
        self.at += dot + 1;
        Some(&self.name[self.at..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        store
            .find(name)
            .is_some_and(|id| store.node(id).member_pos != NOT_MEMBER)
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
        assert!(std::mem::size_of::<Node>() <= 64);
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
