//! [`Shard`]: the names whose key hash falls in one range, each with its answer sets,
//! compiled from the [`ZoneStore`]. A publish patches only the shards its changes
//! touched and shares the others with the previous snapshot; the sets themselves are
//! shared through the [`SetPool`].
//!
//! Every record is stored with the owner `C0 0C`, a compression pointer to the question
//! name at offset 12: the client's spelling is echoed, and a rotated set is copied in two
//! runs (records k..n, then 0..k). Values are sorted within a set, so a table depends
//! only on the store's contents, never on the order changes arrived in.

use super::push_rr_header;
use super::sets::{Extra, RrSet, SetPool, SetScratch};
use super::store::{DirtyName, SrvValue, ZoneStore};
use crate::config::ReversePolicy;
use crate::dns::wire::{TYPE_A, TYPE_AAAA, TYPE_PTR, TYPE_SRV, name_to_wire};
use crate::records::NameId;
use hashbrown::HashTable;
use std::net::IpAddr;
use std::sync::Arc;

/// log2 of the number of shards. 16,384 shards keep a shard of a 100k-task zone (317k
/// names) near 20 names, so a patch copies little.
pub const SHARD_BITS: u32 = 14;
/// How many shards the table has.
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Shards are held in groups of this many, so that a publish copies one group pointer
/// table per touched group rather than one pointer per shard.
const GROUP_BITS: u32 = 6;
const GROUP: usize = 1 << GROUP_BITS;

/// The shard of a key hash (its top bits; the table inside uses the low bits).
pub fn shard_of(key_hash: u64) -> usize {
    (key_hash >> (64 - SHARD_BITS)) as usize
}

/// Every shard, in two levels of shared pointers: a new version shares every untouched
/// group and shard with the one before.
#[derive(Clone)]
pub struct ShardTable {
    groups: Vec<Arc<Vec<Arc<Shard>>>>,
}

impl ShardTable {
    /// A table of these shards (all of them, in order).
    pub fn build(shards: impl IntoIterator<Item = Shard>) -> ShardTable {
        let mut shards = shards.into_iter().map(Arc::new);
        let table = ShardTable {
            groups: (0..SHARDS / GROUP)
                .map(|_| Arc::new(shards.by_ref().take(GROUP).collect()))
                .collect(),
        };
        debug_assert!(table.groups.iter().all(|g| g.len() == GROUP));
        table
    }

    /// A shard by number.
    pub fn get(&self, shard: usize) -> &Shard {
        &self.groups[shard >> GROUP_BITS][shard & (GROUP - 1)]
    }

    /// A copy with these shards replaced.
    pub fn with(&self, replacements: Vec<(usize, Shard)>) -> ShardTable {
        let mut groups = self.groups.clone();
        for (shard, new) in replacements {
            let group = Arc::make_mut(&mut groups[shard >> GROUP_BITS]);
            group[shard & (GROUP - 1)] = Arc::new(new);
        }
        ShardTable { groups }
    }

    /// Every shard, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.groups.iter().flat_map(|g| g.iter().map(|s| &**s))
    }
}

/// One name of the zone with its answer sets. A slot without sets is an empty
/// non-terminal (NODATA).
#[derive(Clone, Debug)]
pub struct Slot {
    key_start: u32,
    /// 0 marks a slot whose name left the shard (a wire name is never empty).
    key_len: u8,
    /// The A set.
    pub a: Option<RrSet>,
    /// The AAAA set.
    pub aaaa: Option<RrSet>,
    /// The SRV set.
    pub srv: Option<RrSet>,
    /// The PTR set (reverse zones), as `ReversePolicy` chose it.
    pub ptr: Option<RrSet>,
}

impl Slot {
    fn is_dead(&self) -> bool {
        self.key_len == 0
    }
}

/// The answer data of one shard.
#[derive(Clone, Default)]
pub struct Shard {
    index: HashTable<u32>,
    slots: Vec<Slot>,
    keys: Vec<u8>,
    /// Slots whose names left; past the live ones, the shard is compiled afresh.
    dead_slots: usize,
}

/// A name's wire key, and its A, AAAA, SRV and PTR sets (bytes and additional
/// addresses).
pub type CanonicalName = (Vec<u8>, [(Vec<u8>, Vec<Extra>); 4]);

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

    /// Every name with the bytes and additional addresses of its A, AAAA and SRV sets,
    /// sorted by name: two shards answer alike exactly when these are equal.
    pub fn canonical(&self) -> Vec<CanonicalName> {
        let mut out: Vec<_> = self
            .slots
            .iter()
            .filter(|slot| !slot.is_dead())
            .map(|slot| {
                let set = |s: &Option<RrSet>| match s {
                    Some(set) => (set.bytes().to_vec(), set.extras().collect()),
                    None => (Vec::new(), Vec::new()),
                };
                (
                    self.key(slot).to_vec(),
                    [
                        set(&slot.a),
                        set(&slot.aaaa),
                        set(&slot.srv),
                        set(&slot.ptr),
                    ],
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every live name as (slot index, key), in slot order.
    pub fn entries(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| !slot.is_dead())
            .map(|(i, slot)| (i, self.key(slot)))
    }

    /// A live slot by index.
    pub fn slot(&self, index: usize) -> Option<&Slot> {
        self.slots.get(index).filter(|s| !s.is_dead())
    }

    /// Names held (including empty non-terminals).
    pub fn len(&self) -> usize {
        self.slots.len() - self.dead_slots
    }

    /// Whether the shard has no names.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the shard's own tables (the sets are shared, counted by the pool).
    pub fn bytes_held(&self) -> usize {
        std::mem::size_of::<Shard>()
            + self.keys.capacity()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.index.capacity() * 5
    }

    fn push_slot(&mut self, key: &[u8], hash: u64, [a, aaaa, srv, ptr]: SlotSets) {
        let i = self.slots.len() as u32;
        self.slots.push(Slot {
            key_start: self.keys.len() as u32,
            key_len: key.len() as u8,
            a,
            aaaa,
            srv,
            ptr,
        });
        self.keys.extend_from_slice(key);
        let Shard {
            index, slots, keys, ..
        } = self;
        // Growing the table rehashes each slot from its key.
        index.insert_unique(hash, i, |&i| {
            let s = &slots[i as usize];
            super::key_hash(&keys[s.key_start as usize..s.key_start as usize + s.key_len as usize])
        });
    }
}

type SlotSets = [Option<RrSet>; 4];

/// What every record of a set carries besides its data.
#[derive(Clone, Copy, Debug)]
pub struct RecordSettings<'t> {
    /// `TTL`.
    pub ttl: u32,
    /// `SRVRecordDefaultWeight`.
    pub srv_weight: u16,
    /// `ReversePolicy`.
    pub reverse_policy: ReversePolicy,
    /// `DCOSTTL` when `DCOSNames` is on: the TTL of names in the `dcos.` and `l4lb.`
    /// zones.
    pub dcos_ttl: Option<u32>,
    /// A transferred zone's TTLs (secondary mode), which override the ones above.
    pub transferred: Option<&'t TtlTable>,
}

impl RecordSettings<'_> {
    /// The TTLs of the A, AAAA, SRV and PTR sets of `name` (lower case, trailing dot).
    fn ttls_of(&self, name: &str) -> SetTtls {
        if let Some(table) = self.transferred {
            return table.of(name);
        }
        let ttl = match self.dcos_ttl {
            Some(ttl) if DCOS_TTL_ZONES.iter().any(|z| name.ends_with(z)) => ttl,
            _ => self.ttl,
        };
        [ttl; 4]
    }
}

/// TTLs of the A, AAAA, SRV and PTR sets of a name, in that order.
pub type SetTtls = [u32; 4];

/// The TTLs of a transferred zone (secondary mode): the TTL most of its sets have,
/// and each set whose TTL differs, by name.
#[derive(Clone, Debug, Default)]
pub struct TtlTable {
    /// The TTL of every set not listed.
    pub usual: u32,
    /// Names with a set whose TTL is not `usual` (lower case, trailing dot).
    pub unusual: std::collections::HashMap<Box<str>, [Option<u32>; 4], foldhash::fast::RandomState>,
}

impl TtlTable {
    /// The TTLs of a name's sets.
    pub fn of(&self, name: &str) -> SetTtls {
        // Most zones have one TTL: no lookup then.
        if self.unusual.is_empty() {
            return [self.usual; 4];
        }
        match self.unusual.get(name) {
            None => [self.usual; 4],
            Some(sets) => sets.map(|t| t.unwrap_or(self.usual)),
        }
    }

    /// Sets the TTL of one set (`index` as in [`SetTtls`]).
    pub fn set(&mut self, name: &str, index: usize, ttl: u32) {
        if ttl == self.usual {
            // Most zones have one TTL: no lookup then.
            if self.unusual.is_empty() {
                return;
            }
            if let Some(sets) = self.unusual.get_mut(name) {
                sets[index] = None;
                if sets.iter().all(Option::is_none) {
                    self.unusual.remove(name);
                }
            }
            return;
        }
        self.unusual.entry(name.into()).or_default()[index] = Some(ttl);
    }
}

/// The zones whose records carry `DCOSTTL` (the mirror of the domain keeps `TTL`).
const DCOS_TTL_ZONES: [&str; 2] = [".dcos.thisdcos.directory.", ".l4lb.thisdcos.directory."];

/// Writes the sets of names, interning them in the pool.
pub(super) struct SetWriter<'a> {
    settings: RecordSettings<'a>,
    pool: &'a SetPool,
    pub(super) scratch: SetScratch,
    wire: Vec<u8>,
    /// Reused lists: a name's addresses, its SRV values, an SRV target's addresses.
    ips: Vec<IpAddr>,
    srv: Vec<SrvValue>,
    target_ips: Vec<IpAddr>,
}

impl<'a> SetWriter<'a> {
    pub(super) fn new(settings: RecordSettings<'a>, pool: &'a SetPool) -> SetWriter<'a> {
        SetWriter {
            settings,
            pool,
            scratch: SetScratch::default(),
            wire: Vec::with_capacity(256),
            ips: Vec::new(),
            srv: Vec::new(),
            target_ips: Vec::new(),
        }
    }

    /// Shard `index` of `store`, compiled whole.
    pub(super) fn compile(&mut self, store: &ZoneStore, index: usize) -> Shard {
        let members = store.members(index);
        let mut shard = Shard::default();
        shard.slots.reserve_exact(members.len());
        shard.index.reserve(members.len(), |_| 0);
        let mut key = Vec::with_capacity(256);
        for &id in members {
            let sets = self.name_sets(store, id);
            key.clear();
            // Names in a shard are in the zone, so they encode.
            let _ = name_to_wire(&store.node(id).name, true, &mut key);
            shard.push_slot(&key, super::key_hash(&key), sets);
        }
        shard.keys.shrink_to_fit();
        shard
    }

    /// `shard` with the answers of `names` (all of this shard) made again from `store`;
    /// the rest is copied as it is. A shard with more dead slots than live ones is
    /// compiled afresh instead.
    pub(super) fn patch(
        &mut self,
        shard: &Shard,
        store: &ZoneStore,
        index: usize,
        names: &[DirtyName],
    ) -> Shard {
        let mut new = shard.clone();
        for name in names {
            let found = new
                .index
                .find(name.key_hash, |&i| {
                    new.key(&new.slots[i as usize]) == &*name.key
                })
                .copied();
            match (found, name.node) {
                (Some(i), Some(id)) => {
                    let [a, aaaa, srv, ptr] = self.name_sets(store, id);
                    let slot = &mut new.slots[i as usize];
                    (slot.a, slot.aaaa, slot.srv, slot.ptr) = (a, aaaa, srv, ptr);
                }
                (Some(i), None) => {
                    if let Ok(entry) = new.index.find_entry(name.key_hash, |&j| j == i) {
                        entry.remove();
                    }
                    let slot = &mut new.slots[i as usize];
                    (slot.key_len, slot.a, slot.aaaa, slot.srv, slot.ptr) =
                        (0, None, None, None, None);
                    new.dead_slots += 1;
                }
                (None, Some(id)) => {
                    let sets = self.name_sets(store, id);
                    new.push_slot(&name.key, name.key_hash, sets);
                }
                (None, None) => {}
            }
        }
        if new.dead_slots > new.len().max(8) {
            return self.compile(store, index);
        }
        new
    }

    /// The A, AAAA, SRV and PTR sets of one name, values sorted.
    fn name_sets(&mut self, store: &ZoneStore, id: NameId) -> SlotSets {
        let [a_ttl, aaaa_ttl, srv_ttl, ptr_ttl] = self.settings.ttls_of(store.name(id));
        let mut ips = std::mem::take(&mut self.ips);
        addresses(store, id, &mut ips);
        // IPv4 sorts before IPv6: the A records, then the AAAA records.
        let v6 = ips.partition_point(IpAddr::is_ipv4);
        let a = self.address_set(&ips[..v6], a_ttl);
        let aaaa = self.address_set(&ips[v6..], aaaa_ttl);
        self.ips = ips;
        let mut srv = std::mem::take(&mut self.srv);
        srv.clear();
        srv.extend(store.node(id).srv());
        srv.sort_unstable_by(|x, y| {
            let key = |v: &SrvValue| (v.port, v.own);
            store
                .name(x.target)
                .cmp(store.name(y.target))
                .then(key(x).cmp(&key(y)))
        });
        let srv_set = self.srv_set(store, &srv, srv_ttl);
        self.srv = srv;
        let ptr = self.ptr_set(store, id, ptr_ttl);
        [a, aaaa, srv_set, ptr]
    }

    /// The PTR records of a reverse name: its candidates as `ReversePolicy` picks them
    /// (by rank, then name), each name once.
    fn ptr_set(&mut self, store: &ZoneStore, id: NameId, ttl: u32) -> Option<RrSet> {
        let node = store.node(id);
        // Most names have no reverse candidates.
        node.ptr().next()?;
        let mut candidates: Vec<(u8, &str)> =
            node.ptr().map(|(t, rank)| (rank, store.name(t))).collect();
        // Each name once, at its best rank.
        candidates.sort_unstable_by(|x, y| x.1.cmp(y.1).then(x.0.cmp(&y.0)));
        candidates.dedup_by(|later, first| later.1 == first.1);
        let chosen: &[(u8, &str)] = match self.settings.reverse_policy {
            ReversePolicy::All => &candidates,
            ReversePolicy::Unambiguous if candidates.len() == 1 => &candidates,
            ReversePolicy::Unambiguous => &[],
            ReversePolicy::One => {
                let best = candidates
                    .iter()
                    .enumerate()
                    .min_by(|x, y| x.1.0.cmp(&y.1.0).then(x.1.1.cmp(y.1.1)))
                    .map_or(0, |(i, _)| i);
                &candidates[best..=best]
            }
        };
        self.scratch.clear();
        for (_, name) in chosen {
            self.wire.clear();
            if name_to_wire(name, false, &mut self.wire).is_none() {
                continue;
            }
            self.scratch.next_record();
            push_rr_header(&mut self.scratch.bytes, TYPE_PTR, ttl, self.wire.len());
            self.scratch.bytes.extend_from_slice(&self.wire);
        }
        self.pool.intern(&self.scratch)
    }

    fn address_set(&mut self, ips: &[IpAddr], ttl: u32) -> Option<RrSet> {
        self.scratch.clear();
        for ip in ips {
            self.scratch.next_record();
            let out = &mut self.scratch.bytes;
            match ip {
                IpAddr::V4(v4) => {
                    push_rr_header(out, TYPE_A, ttl, 4);
                    out.extend_from_slice(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    push_rr_header(out, TYPE_AAAA, ttl, 16);
                    out.extend_from_slice(&v6.octets());
                }
            }
        }
        self.pool.intern(&self.scratch)
    }

    /// SRV records, sorted by the caller.
    fn srv_set(&mut self, store: &ZoneStore, srv: &[SrvValue], ttl: u32) -> Option<RrSet> {
        self.scratch.clear();
        let mut target_ips = std::mem::take(&mut self.target_ips);
        for (i, value) in srv.iter().enumerate() {
            let (target, port) = (value.target, value.port);
            let (priority, weight) = value.own.unwrap_or((0, self.settings.srv_weight));
            self.wire.clear();
            // Targets come from the generator, which keeps only encodable names.
            if name_to_wire(store.name(target), false, &mut self.wire).is_none() {
                continue;
            }
            let rr = self.scratch.offsets.len() as u32;
            self.scratch.target_offset = 18;
            // The additional addresses carry the target's own TTL.
            self.scratch.extra_ttl = self.settings.ttls_of(store.name(target))[0];
            self.scratch.next_record();
            let out = &mut self.scratch.bytes;
            push_rr_header(out, TYPE_SRV, ttl, 6 + self.wire.len());
            out.extend_from_slice(&priority.to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(&self.wire);
            // Addresses of each distinct target once, for the additional section
            // (sorted by target name: a target's records are adjacent).
            if i == 0 || srv[i - 1].target != target {
                addresses(store, target, &mut target_ips);
                self.scratch
                    .extras
                    .extend(target_ips.iter().map(|&ip| Extra { answer_rr: rr, ip }));
            }
        }
        self.target_ips = target_ips;
        self.pool.intern(&self.scratch)
    }
}

/// A name's addresses into `out`, sorted: every A (IPv4) before every AAAA.
pub(super) fn addresses(store: &ZoneStore, id: NameId, out: &mut Vec<IpAddr>) {
    let node = store.node(id);
    out.clear();
    out.extend(node.a().map(IpAddr::V4));
    out.extend(node.aaaa().map(IpAddr::V6));
    out.sort_unstable();
}
