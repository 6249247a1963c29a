//! [`Shard`]: the answer table of the names whose key hash falls in one range, compiled
//! from the [`ZoneStore`]. A publish compiles again only the shards its changes touched
//! and shares the others with the previous snapshot.
//!
//! Every record is stored with the owner `C0 0C`, a compression pointer to the question
//! name at offset 12: the client's spelling is echoed, and a rotated set is copied in two
//! runs (records k..n, then 0..k). Identical sets within a shard are stored once. Values
//! are sorted within a set, so a table depends only on the store's contents, never on the
//! order changes arrived in.

use super::store::{DirtyName, ZoneStore};
use super::{Extra, NO_SET, RrSet, Slot, push_rr_header};
use crate::dns::wire::{TYPE_A, TYPE_AAAA, TYPE_SRV, name_to_wire};
use crate::records::NameId;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

/// log2 of the number of shards. 16,384 shards keep a shard of a 100k-task zone (317k
/// names) near 20 names (about 7 kB), so a patch copies little.
pub const SHARD_BITS: u32 = 14;
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Shards are held in groups of this many, so that a publish copies one group pointer
/// table per touched group rather than one pointer per shard.
const GROUP_BITS: u32 = 7;
const GROUP: usize = 1 << GROUP_BITS;

/// Every shard, in two levels of shared pointers: a new version shares every untouched
/// group and shard with the one before.
#[derive(Clone)]
pub struct ShardTable {
    groups: Vec<Arc<Vec<Arc<Shard>>>>,
}

impl ShardTable {
    /// A table of `make(i)` for every shard `i`.
    pub fn build(mut make: impl FnMut(usize) -> Shard) -> ShardTable {
        ShardTable {
            groups: (0..SHARDS / GROUP)
                .map(|g| Arc::new((0..GROUP).map(|i| Arc::new(make(g * GROUP + i))).collect()))
                .collect(),
        }
    }

    pub fn get(&self, shard: usize) -> &Shard {
        &self.groups[shard >> GROUP_BITS][shard & (GROUP - 1)]
    }

    /// A copy with these shards replaced (`replacements` ordered by shard).
    pub fn with(&self, replacements: Vec<(usize, Shard)>) -> ShardTable {
        let mut groups = self.groups.clone();
        for (shard, new) in replacements {
            let group = Arc::make_mut(&mut groups[shard >> GROUP_BITS]);
            group[shard & (GROUP - 1)] = Arc::new(new);
        }
        ShardTable { groups }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.groups.iter().flat_map(|g| g.iter().map(|s| &**s))
    }
}

/// The shard of a key hash (its top bits; the table inside uses the low bits).
pub fn shard_of(key_hash: u64) -> usize {
    (key_hash >> (64 - SHARD_BITS)) as usize
}

/// Answer data of one shard.
#[derive(Default, Clone)]
pub struct Shard {
    index: HashTable<u32>,
    pub(super) slots: Vec<Slot>,
    keys: Vec<u8>,
    pub(super) sets: Vec<RrSet>,
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    extras: Vec<Extra>,
    /// Bytes of sets no slot uses any more (left behind by patches), and slots removed:
    /// when they outweigh the live data, the shard is compiled afresh.
    garbage: usize,
    dead_slots: usize,
}

/// A slot whose name left the shard (its key length is never 0 otherwise: the shortest
/// wire name is one octet).
fn is_dead(slot: &Slot) -> bool {
    slot.key_len == 0
}

impl Shard {
    /// The slot of a lower-cased wire name with hash `hash`.
    pub fn find(&self, key: &[u8], hash: u64) -> Option<&Slot> {
        self.index
            .find(hash, |&i| self.key(&self.slots[i as usize]) == key)
            .map(|&i| &self.slots[i as usize])
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        &self.keys[slot.key_start as usize..slot.key_start as usize + slot.key_len as usize]
    }

    pub fn set(&self, id: u32) -> Option<&RrSet> {
        self.sets.get(id as usize)
    }

    /// The wire bytes of a set.
    pub fn set_bytes(&self, set: &RrSet) -> &[u8] {
        &self.bytes[set.start as usize..(set.start + set.len) as usize]
    }

    /// Record start offsets within the set, then its length (`count + 1` entries).
    pub fn set_offsets(&self, set: &RrSet) -> &[u32] {
        &self.offsets[set.offsets as usize..(set.offsets + set.count + 1) as usize]
    }

    pub fn set_extras(&self, set: &RrSet) -> &[Extra] {
        &self.extras[set.extras_start as usize..(set.extras_start + set.extras_len) as usize]
    }

    /// Each record of a set as bytes.
    pub fn records_of<'a>(&'a self, set: &'a RrSet) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.set_bytes(set);
        self.set_offsets(set)
            .windows(2)
            .map(move |w| &bytes[w[0] as usize..w[1] as usize])
    }

    /// Every name with the bytes and additional addresses of its A, AAAA and SRV sets,
    /// sorted by name: two shards answer alike exactly when these are equal.
    pub fn canonical(&self) -> Vec<CanonicalName> {
        let mut out: Vec<_> = self
            .slots
            .iter()
            .filter(|slot| !is_dead(slot))
            .map(|slot| {
                let set = |id: u32| match self.set(id) {
                    Some(set) => (self.set_bytes(set).to_vec(), self.set_extras(set).to_vec()),
                    None => (Vec::new(), Vec::new()),
                };
                (
                    self.key(slot).to_vec(),
                    [set(slot.a), set(slot.aaaa), set(slot.srv)],
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A copy with room to rebuild about `names` names without growing (a plain clone
    /// has no spare capacity, so the first push would copy each table again).
    fn clone_with_room(&self, names: usize) -> Shard {
        fn with_room<T: Clone>(v: &[T], extra: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(v.len() + extra);
            out.extend_from_slice(v);
            out
        }
        let per_name = self.bytes.len() / self.slots.len().max(1) + 64;
        Shard {
            index: self.index.clone(),
            slots: with_room(&self.slots, names),
            keys: with_room(&self.keys, names * 48),
            sets: with_room(&self.sets, names * 3),
            bytes: with_room(&self.bytes, names * per_name),
            offsets: with_room(&self.offsets, names * 8),
            extras: with_room(&self.extras, names * 2),
            garbage: self.garbage,
            dead_slots: self.dead_slots,
        }
    }

    /// Names held (including empty non-terminals).
    pub fn len(&self) -> usize {
        self.slots.len() - self.dead_slots
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the sets a slot uses.
    fn slot_bytes(&self, slot: &Slot) -> usize {
        [slot.a, slot.aaaa, slot.srv]
            .iter()
            .filter_map(|&id| self.set(id))
            .map(|s| s.len as usize)
            .sum()
    }

    /// Bytes held by each table: keys, record bytes, offsets, extras, sets, slots, index.
    pub fn size_detail(&self) -> [usize; 7] {
        [
            self.keys.capacity(),
            self.bytes.capacity(),
            self.offsets.capacity() * 4,
            self.extras.capacity() * std::mem::size_of::<Extra>(),
            self.sets.capacity() * std::mem::size_of::<RrSet>(),
            self.slots.capacity() * std::mem::size_of::<Slot>(),
            self.index.capacity() * 5,
        ]
    }

    /// Bytes held by the tables.
    pub fn bytes_held(&self) -> usize {
        std::mem::size_of::<Shard>()
            + self.keys.capacity()
            + self.bytes.capacity()
            + self.offsets.capacity() * 4
            + self.extras.capacity() * std::mem::size_of::<Extra>()
            + self.sets.capacity() * std::mem::size_of::<RrSet>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.index.capacity() * 5
    }
}

/// A name's wire key, and its A, AAAA and SRV sets as (bytes, additional addresses).
pub type CanonicalName = (Vec<u8>, [(Vec<u8>, Vec<Extra>); 3]);

/// What every record of a set carries besides its data.
#[derive(Clone, Copy, Debug)]
pub struct RecordSettings {
    pub ttl: u32,
    pub srv_weight: u16,
}

/// Builds one shard's tables.
pub(super) struct ShardBuilder {
    settings: RecordSettings,
    pub(super) shard: Shard,
    /// Deduplication of identical sets, keyed by their bytes.
    set_index: HashTable<u32>,
    hasher: FixedState,
    pub(super) scratch: Vec<u8>,
    pub(super) scratch_offsets: Vec<u32>,
    pub(super) scratch_extras: Vec<Extra>,
    pub(super) target_offset: u16,
    wire: Vec<u8>,
}

impl ShardBuilder {
    pub(super) fn new(settings: RecordSettings) -> ShardBuilder {
        ShardBuilder {
            settings,
            shard: Shard::default(),
            set_index: HashTable::new(),
            hasher: FixedState::default(),
            scratch: Vec::new(),
            scratch_offsets: Vec::new(),
            scratch_extras: Vec::new(),
            target_offset: 0,
            wire: Vec::with_capacity(256),
        }
    }

    /// Compiles shard `index` of `store`.
    pub(super) fn compile(store: &ZoneStore, index: usize, settings: RecordSettings) -> Shard {
        let mut b = ShardBuilder::new(settings);
        let members = store.members(index);
        b.shard.slots.reserve_exact(members.len());
        b.shard.index.reserve(members.len(), |_| 0);
        for &id in members {
            let sets = b.name_sets(store, id);
            b.wire.clear();
            // Names in a shard are in the zone, so they encode.
            let _ = name_to_wire(&store.node(id).name, true, &mut b.wire);
            let key = std::mem::take(&mut b.wire);
            b.push_slot(&key, store.node(id).key_hash, sets);
            b.wire = key;
        }
        b.finish()
    }

    /// `shard` with the answers of `names` (all of this shard) made again from `store`;
    /// the rest is copied as it is. A shard whose leftovers outweigh its live data is
    /// compiled afresh instead.
    pub(super) fn patch(
        shard: &Shard,
        store: &ZoneStore,
        index: usize,
        names: &[DirtyName],
        settings: RecordSettings,
    ) -> Shard {
        let mut b = ShardBuilder::new(settings);
        b.shard = shard.clone_with_room(names.len());
        for name in names {
            let found = b
                .shard
                .index
                .find(name.key_hash, |&i| {
                    b.shard.key(&b.shard.slots[i as usize]) == &*name.key
                })
                .copied();
            match (found, name.node) {
                (Some(i), Some(id)) => {
                    let sets = b.name_sets(store, id);
                    let slot = &mut b.shard.slots[i as usize];
                    let old = *slot;
                    (slot.a, slot.aaaa, slot.srv) = (sets[0], sets[1], sets[2]);
                    b.shard.garbage += b.shard.slot_bytes(&old);
                }
                (Some(i), None) => {
                    let old = b.shard.slots[i as usize];
                    b.shard.garbage += b.shard.slot_bytes(&old);
                    if let Ok(entry) = b.shard.index.find_entry(name.key_hash, |&j| j == i) {
                        entry.remove();
                    }
                    let slot = &mut b.shard.slots[i as usize];
                    (slot.key_len, slot.a, slot.aaaa, slot.srv) = (0, NO_SET, NO_SET, NO_SET);
                    b.shard.dead_slots += 1;
                }
                (None, Some(id)) => {
                    let sets = b.name_sets(store, id);
                    b.push_slot(&name.key, name.key_hash, sets);
                }
                (None, None) => {}
            }
        }
        let live = b.shard.bytes.len().saturating_sub(b.shard.garbage);
        if b.shard.garbage > live.max(4096) || b.shard.dead_slots > b.shard.len().max(16) {
            return ShardBuilder::compile(store, index, settings);
        }
        b.shard
    }

    /// Writes the A, AAAA and SRV sets of one name, values sorted.
    fn name_sets(&mut self, store: &ZoneStore, id: NameId) -> [u32; 3] {
        let node = store.node(id);
        let mut v4: Vec<IpAddr> = node.a.iter().map(|v| IpAddr::V4(v.0)).collect();
        v4.sort_unstable();
        let mut v6: Vec<IpAddr> = node.aaaa.iter().map(|v| IpAddr::V6(v.0)).collect();
        v6.sort_unstable();
        let mut srv: Vec<(&str, u16, u32)> = node
            .srv
            .iter()
            .map(|v| (store.name(v.0), v.1, v.0))
            .collect();
        srv.sort_unstable();
        let a = self.address_set(v4.into_iter());
        let aaaa = self.address_set(v6.into_iter());
        let srv = self.srv_set(store, &srv);
        [a, aaaa, srv]
    }

    fn push_slot(&mut self, key: &[u8], hash: u64, [a, aaaa, srv]: [u32; 3]) {
        let shard = &mut self.shard;
        let i = shard.slots.len() as u32;
        shard.slots.push(Slot {
            key_start: shard.keys.len() as u32,
            key_len: key.len() as u8,
            a,
            aaaa,
            srv,
        });
        shard.keys.extend_from_slice(key);
        let Shard {
            index, slots, keys, ..
        } = shard;
        // Growing the table rehashes each slot from its key.
        index.insert_unique(hash, i, |&i| {
            let s = &slots[i as usize];
            super::key_hash(&keys[s.key_start as usize..s.key_start as usize + s.key_len as usize])
        });
    }

    pub(super) fn finish(mut self) -> Shard {
        let shard = &mut self.shard;
        shard.keys.shrink_to_fit();
        shard.bytes.shrink_to_fit();
        shard.offsets.shrink_to_fit();
        shard.extras.shrink_to_fit();
        shard.sets.shrink_to_fit();
        self.shard
    }

    pub(super) fn begin_set(&mut self) {
        self.target_offset = 0;
        self.scratch.clear();
        self.scratch_offsets.clear();
        self.scratch_extras.clear();
    }

    /// Stores the set in `scratch` (or finds an identical one) and returns its id.
    pub(super) fn finish_set(&mut self) -> u32 {
        let count = self.scratch_offsets.len() as u32;
        if count == 0 {
            return NO_SET;
        }
        let hasher = self.hasher.clone();
        let hash = hasher.hash_one(&self.scratch);
        let Shard { sets, bytes, .. } = &self.shard;
        let found = self.set_index.find(hash, |&id| {
            let s = &sets[id as usize];
            &bytes[s.start as usize..(s.start + s.len) as usize] == self.scratch.as_slice()
                && s.target_offset == self.target_offset
        });
        if let Some(&id) = found {
            return id;
        }
        let shard = &mut self.shard;
        let id = shard.sets.len() as u32;
        shard.sets.push(RrSet {
            start: shard.bytes.len() as u32,
            len: self.scratch.len() as u32,
            count,
            offsets: shard.offsets.len() as u32,
            extras_start: shard.extras.len() as u32,
            extras_len: self.scratch_extras.len() as u32,
            target_offset: self.target_offset,
        });
        shard.bytes.extend_from_slice(&self.scratch);
        shard.offsets.extend_from_slice(&self.scratch_offsets);
        shard.offsets.push(self.scratch.len() as u32);
        shard.extras.extend_from_slice(&self.scratch_extras);
        let Shard { sets, bytes, .. } = &self.shard;
        self.set_index.insert_unique(hash, id, |&i| {
            let s = &sets[i as usize];
            hasher.hash_one(&bytes[s.start as usize..(s.start + s.len) as usize])
        });
        id
    }

    fn address_set(&mut self, ips: impl Iterator<Item = IpAddr>) -> u32 {
        self.begin_set();
        let ttl = self.settings.ttl;
        for ip in ips {
            self.scratch_offsets.push(self.scratch.len() as u32);
            match ip {
                IpAddr::V4(v4) => {
                    push_rr_header(&mut self.scratch, TYPE_A, ttl, 4);
                    self.scratch.extend_from_slice(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    push_rr_header(&mut self.scratch, TYPE_AAAA, ttl, 16);
                    self.scratch.extend_from_slice(&v6.octets());
                }
            }
        }
        self.finish_set()
    }

    /// SRV records (target text, port, target id), sorted by the caller.
    fn srv_set(&mut self, store: &ZoneStore, srv: &[(&str, u16, u32)]) -> u32 {
        self.begin_set();
        let (ttl, weight) = (self.settings.ttl, self.settings.srv_weight);
        for (i, &(target, port, target_id)) in srv.iter().enumerate() {
            self.wire.clear();
            // Targets come from the generator, which keeps only encodable names.
            if name_to_wire(target, false, &mut self.wire).is_none() {
                continue;
            }
            let rr = self.scratch_offsets.len() as u32;
            self.target_offset = 18;
            self.scratch_offsets.push(self.scratch.len() as u32);
            push_rr_header(&mut self.scratch, TYPE_SRV, ttl, 6 + self.wire.len());
            self.scratch.extend_from_slice(&0u16.to_be_bytes());
            self.scratch.extend_from_slice(&weight.to_be_bytes());
            self.scratch.extend_from_slice(&port.to_be_bytes());
            self.scratch.extend_from_slice(&self.wire);
            // Addresses of each distinct target once, for the additional section.
            if srv[..i].iter().all(|&(_, _, t)| t != target_id) {
                let node = store.node(target_id);
                let mut v4: Vec<_> = node.a.iter().map(|v| v.0).collect();
                v4.sort_unstable();
                let mut v6: Vec<_> = node.aaaa.iter().map(|v| v.0).collect();
                v6.sort_unstable();
                let ips = v4.into_iter().map(IpAddr::V4);
                let ips = ips.chain(v6.into_iter().map(IpAddr::V6));
                self.scratch_extras
                    .extend(ips.map(|ip| Extra { answer_rr: rr, ip }));
            }
        }
        self.finish_set()
    }
}
