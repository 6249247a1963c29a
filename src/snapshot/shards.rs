//! [`Shard`]: the names whose key hash falls in one range. A shard is the one form of
//! the zone: each of its names has its wire key and its served answer sets (what a
//! query reads); beside the shard, in the same slots, the control thread keeps what
//! makes them (the values with their contributor counts, SRV referrers, names below
//! it: [`Node`]), never shared, so that a change of counts copies nothing. The control
//! thread's [`ZoneStore`] changes shards in place, copying a shard the served snapshot
//! still shares before its first change; a publish compiles the sets of the names that
//! changed and shares every untouched shard with the version before. Sets themselves
//! are shared through the [`SetPool`].
//!
//! A set keeps each record's RDATA; an answer writes each record with the owner `C0 0C`,
//! a compression pointer to the question name at offset 12 (the client's spelling is
//! echoed), from the rotation's start on. Values are sorted within a set, so a set
//! depends only on the store's contents, never on the order changes arrived in.

use super::keys::{Key, key_text, split_key, split_parts, stored_form, text_order};
use super::sets::{Extra, Rdata, RrSet, SetPool, SetScratch};
use super::store::{Node, SrvValue, ZoneStore};
use super::suffixes::{SuffixId, SuffixTable, Suffixes};
use crate::config::ReversePolicy;
use crate::dns::wire::{TYPE_A, TYPE_AAAA, TYPE_PTR, TYPE_SRV};
use crate::records::NameId;
use hashbrown::HashTable;
use smallvec::SmallVec;
use std::net::IpAddr;
use std::sync::Arc;
use thin_vec::ThinVec;

/// log2 of the number of shards. 16,384 shards keep a shard of a 100k-task zone (317k
/// names) near 20 names, so a patch copies little.
pub const SHARD_BITS: u32 = 14;
/// How many shards the table has.
pub const SHARDS: usize = 1 << SHARD_BITS;
/// The shards are held in a tree of three levels of shared pointers (64 × 16 × 16), so
/// that a publish copies the pointers of the top level and of the one branch and one
/// leaf above each changed shard, and no others. Each pointer copied is a count raised
/// (and later lowered) on a line most likely not in cache: with 8 changed shards per
/// event, two levels of 256 × 64 cost some 800 of them a publish, these some 330.
const LEAF_BITS: u32 = 4;
const LEAF: usize = 1 << LEAF_BITS;
const BRANCH_BITS: u32 = 4;
const BRANCH: usize = 1 << BRANCH_BITS;
const TOP: usize = SHARDS >> (LEAF_BITS + BRANCH_BITS);
/// A name's id is its shard and its slot there: the slots of one shard are below this.
pub const SLOTS_PER_SHARD: usize = 1 << (32 - SHARD_BITS);

/// The shard of a key hash (its top bits; the table inside uses the others).
pub fn shard_of(key_hash: u64) -> usize {
    (key_hash >> (64 - SHARD_BITS)) as usize
}

/// The hash a shard's own table files a key under: the key hash turned so that its top
/// bits are not the shard's. The table tells entries apart by the top seven bits of
/// their hash before it compares keys: left as they were, every name of a shard would
/// carry the same seven bits, and each lookup compared keys all along its probe.
#[inline]
fn slot_hash(key_hash: u64) -> u64 {
    key_hash.rotate_left(32)
}

type Leaf = [Arc<Shard>; LEAF];
type Branch = [Arc<Leaf>; BRANCH];

/// Every shard, in three levels of shared pointers: a new version shares every
/// untouched branch, leaf and shard with the one before. The levels are arrays (in the
/// table itself, then in each pointer's allocation): a lookup reads one pointer a level.
#[derive(Clone)]
pub struct ShardTable {
    top: [Arc<Branch>; TOP],
    /// The parents the shards' keys are split by.
    suffixes: Arc<Suffixes>,
}

impl Default for ShardTable {
    fn default() -> ShardTable {
        let empty = Arc::new(Shard::default());
        let leaf: Arc<Leaf> = Arc::new(std::array::from_fn(|_| empty.clone()));
        let branch: Arc<Branch> = Arc::new(std::array::from_fn(|_| leaf.clone()));
        ShardTable {
            top: std::array::from_fn(|_| branch.clone()),
            suffixes: Arc::default(),
        }
    }
}

/// Where shard `index` sits: its branch, leaf and place in the leaf.
#[inline]
fn path(index: usize) -> (usize, usize, usize) {
    (
        index >> (LEAF_BITS + BRANCH_BITS),
        (index >> LEAF_BITS) & (BRANCH - 1),
        index & (LEAF - 1),
    )
}

impl ShardTable {
    /// A shard by number.
    #[inline]
    pub fn get(&self, shard: usize) -> ShardRef<'_> {
        let (top, branch, leaf) = path(shard);
        ShardRef {
            shard: &self.top[top][branch][leaf],
            suffixes: &self.suffixes,
        }
    }

    /// Puts `shard` in place `index`, copying the branch and leaf above it when a
    /// snapshot still shares them.
    fn set(&mut self, index: usize, shard: Shard) {
        let (top, branch, leaf) = path(index);
        let branch = &mut Arc::make_mut(&mut self.top[top])[branch];
        Arc::make_mut(branch)[leaf] = Arc::new(shard);
    }

    /// Every shard, in order.
    pub fn iter(&self) -> impl Iterator<Item = ShardRef<'_>> {
        self.top
            .iter()
            .flat_map(|b| b.iter())
            .flat_map(|l| l.iter())
            .map(|shard| ShardRef {
                shard,
                suffixes: &self.suffixes,
            })
    }

    /// Bytes held by the parents' table the keys are split by.
    pub fn suffix_bytes(&self) -> usize {
        self.suffixes.bytes_held()
    }
}

/// The shards as the store changes them: the table last handed out, and beside it the
/// shards changed since, each copied once at its first change and owned here, so that
/// changing one costs no check of who else holds it (a first load changes shards some
/// ten million times). The names' nodes are kept here too, by shard and slot: only the
/// control thread reads them, so they are never shared and never copied.
#[derive(Default)]
pub(super) struct WorkingTable {
    table: ShardTable,
    /// Per shard, its copy when it changed since the table was handed out (empty when
    /// none did).
    copies: Vec<Option<Box<Shard>>>,
    /// Which shards have copies.
    copied: Vec<usize>,
    /// Per shard, the node of each of its slots (empty until the shard's first name,
    /// and while the shard's nodes are let go).
    nodes: Vec<Vec<Node>>,
    /// Per shard, whether its nodes were let go (its sets give them back; see
    /// `ZoneStore::let_go_of_nodes`). Empty while none was.
    let_go: Vec<bool>,
    /// Shards given their nodes back since the store last let go of nodes.
    regained: Vec<usize>,
    /// The parents the keys are split by, with the names using each.
    suffixes: SuffixTable,
}

impl WorkingTable {
    /// A shard as it is now.
    #[inline]
    pub(super) fn get(&self, shard: usize) -> ShardRef<'_> {
        match self.copies.get(shard) {
            Some(Some(copy)) => ShardRef {
                shard: copy,
                suffixes: self.suffixes.get(),
            },
            _ => ShardRef {
                suffixes: self.suffixes.get(),
                ..self.table.get(shard)
            },
        }
    }

    /// A shard to change, copied from the table at its first change.
    #[inline]
    pub(super) fn get_mut(&mut self, shard: usize) -> &mut Shard {
        self.copy_with_suffixes(shard).0
    }

    /// [`WorkingTable::get_mut`], with the parents' table beside it (a name put in or
    /// taken out changes both).
    #[inline]
    fn copy_with_suffixes(&mut self, shard: usize) -> (&mut Shard, &mut SuffixTable) {
        if self.copies.is_empty() {
            self.copies.resize_with(SHARDS, || None);
        }
        let WorkingTable {
            table,
            copies,
            copied,
            suffixes,
            ..
        } = self;
        let copy = copies[shard].get_or_insert_with(|| {
            copied.push(shard);
            Box::new(table.get(shard).shard.clone())
        });
        (copy, suffixes)
    }

    /// The node of `slot` of `shard` (a slot that holds a name).
    #[inline]
    pub(super) fn node(&self, shard: usize, slot: usize) -> &Node {
        &self.nodes[shard][slot]
    }

    /// The node of `slot` of `shard`, to change: the shard itself is not copied.
    #[inline]
    pub(super) fn node_mut(&mut self, shard: usize, slot: usize) -> &mut Node {
        &mut self.nodes[shard][slot]
    }

    /// Every name `shard` holds (served or not) as (slot, node).
    pub(super) fn nodes(&self, shard: usize) -> impl Iterator<Item = (usize, &Node)> {
        let nodes = self.nodes.get(shard).map_or(&[][..], |n| &n[..]);
        let shard = self.get(shard);
        nodes
            .iter()
            .enumerate()
            .filter(move |&(i, _)| shard.is_held(i))
    }

    /// Bytes held by the nodes of `shard` with their values and referrers.
    pub(super) fn node_bytes(&self, shard: usize) -> usize {
        self.nodes.get(shard).map_or(0, |nodes| {
            nodes.capacity() * std::mem::size_of::<Node>()
                + nodes.iter().map(Node::bytes_held).sum::<usize>()
        })
    }

    /// Puts a new name in `shard` (making room for `room` names first when the shard
    /// has none and `room` is not 0): its slot, with an empty node, or `None` when the
    /// shard is full.
    pub(super) fn insert(
        &mut self,
        shard: usize,
        key: &[u8],
        hash: u64,
        room: usize,
    ) -> Option<usize> {
        let (table, suffixes) = self.copy_with_suffixes(shard);
        // Split by its parent when the parent has a number (a new one counted here,
        // given back below when the shard is full).
        let parent = split_key(key).and_then(|(_, parent)| suffixes.intern(parent));
        let mut stored = SmallVec::<[u8; 256]>::new();
        stored_form(key, parent, &mut stored);
        if room > 0 && table.has_no_room() {
            table.reserve(room, stored.len() + 4, suffixes.get());
        }
        let Some(slot) = table.insert(&stored, hash, suffixes.get()) else {
            if let Some(id) = parent {
                suffixes.release(id);
            }
            return None;
        };
        let slot = slot as usize;
        let room_for = table.slots.capacity();
        // A shard without nodes gets the name's when it gets them back.
        if !self.holds_nodes(shard) {
            return Some(slot);
        }
        let nodes = &mut self.node_lists()[shard];
        if slot < nodes.len() {
            nodes[slot] = Node::default();
        } else {
            // Room as the shard's slots have it, grown by the same rule.
            nodes.reserve_exact(room_for - nodes.len());
            nodes.push(Node::default());
        }
        Some(slot)
    }

    /// Whether the nodes of `shard` are held (not let go).
    #[inline]
    pub(super) fn holds_nodes(&self, shard: usize) -> bool {
        !self.let_go.get(shard).copied().unwrap_or(false)
    }

    /// Takes the nodes of `shard` away: until they are given back, the shard's names
    /// have none.
    pub(super) fn let_go(&mut self, shard: usize) -> Vec<Node> {
        if self.let_go.is_empty() {
            self.let_go.resize(SHARDS, false);
        }
        self.let_go[shard] = true;
        std::mem::take(&mut self.node_lists()[shard])
    }

    /// Every shard's list of nodes, made (empty) at the first need.
    fn node_lists(&mut self) -> &mut [Vec<Node>] {
        if self.nodes.is_empty() {
            self.nodes.resize_with(SHARDS, Vec::new);
        }
        &mut self.nodes
    }

    /// Gives `shard` nodes again, one per slot (each marked let go, or made whole).
    pub(super) fn regain(&mut self, shard: usize, nodes: Vec<Node>) {
        self.let_go[shard] = false;
        self.nodes[shard] = nodes;
        self.regained.push(shard);
    }

    /// The shards given their nodes back since the last call.
    pub(super) fn take_regained(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.regained)
    }

    /// Frees `slot` of `shard` (not served) for another name.
    pub(super) fn remove(&mut self, shard: usize, slot: usize) {
        let (table, suffixes) = self.copy_with_suffixes(shard);
        if let Some(id) = table.remove(slot, suffixes.get()) {
            suffixes.release(id);
        }
        self.nodes[shard][slot] = Node::default();
    }

    /// The table with every changed shard in place, to hand out.
    pub(super) fn publish(&mut self) -> &ShardTable {
        for shard in self.copied.drain(..) {
            if let Some(copy) = self.copies[shard].take() {
                self.table.set(shard, *copy);
            }
        }
        self.copied.shrink_to(64);
        self.table.suffixes = self.suffixes.shared();
        &self.table
    }

    /// Bytes held by the control thread's side of the parents' table.
    pub(super) fn suffix_bytes(&self) -> usize {
        self.suffixes.bytes_held()
    }
}

/// One name of a shard as a query sees it: its key and its answer sets. A served slot
/// without sets is an empty non-terminal (NODATA).
///
/// 24 bytes: a name has one or two kinds of sets (a task's A and AAAA, an SRV name's
/// SRV, a reverse name's PTR), so the slot holds the first two it has, in kind order,
/// and says which kinds it has; the third and fourth of a name that has more (only a
/// zone transferred from elsewhere can) are kept in its shard's `spilled`. Four set
/// pointers in every slot took 16 bytes more a name (6 MB at 100k tasks).
#[derive(Clone, Debug, Default)]
pub struct Slot {
    key_start: u32,
    /// 0 marks a free slot (a wire name is never empty).
    key_len: u16,
    /// The name exists in the zone: queries find it.
    served: bool,
    /// Bit k: the name has a set of kind k (A, AAAA, SRV, PTR).
    kinds: u8,
    /// The sets of the first two kinds the name has.
    held: [Option<RrSet>; 2],
}

/// A name's A, AAAA, SRV and PTR sets, as a query reads them.
pub type NameSets<'a> = [Option<&'a RrSet>; 4];

/// Where a name with the kinds `kinds` keeps its set of kind `kind`: how many of its
/// kinds come before it (0 and 1 in the slot, then the spilled ones).
#[inline]
fn rank(kinds: u8, kind: usize) -> usize {
    (kinds & ((1 << kind) - 1)).count_ones() as usize
}

/// The names of one shard: what a query reads (index, slots, keys).
///
/// 104 bytes, so that with its shared pointer's counts it fits a 128-byte allocation
/// (the lists a shard seldom has are a pointer each, its counts 32-bit: a 160-byte
/// allocation before, 0.5 MB more at 16,384 shards).
#[derive(Clone, Default)]
pub struct Shard {
    /// Every name held, served or not, by the hash of its key.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    /// The keys, one after another (a freed name's bytes stay until compacted).
    keys: Vec<u8>,
    /// Free slots, reused first (a name's id is its slot, so slots never move).
    free: ThinVec<u32>,
    /// Bytes of `keys` no name uses.
    unused_key_bytes: u32,
    /// Slots served.
    served: u32,
    /// The third and fourth sets of the names that have more than two kinds, by slot
    /// (sorted; empty in the zones this server makes).
    spilled: ThinVec<(u32, [Option<RrSet>; 2])>,
}

/// A name's wire key, and its A, AAAA, SRV and PTR sets (bytes and additional
/// addresses).
pub type CanonicalName = (Vec<u8>, [(Vec<u8>, Vec<Extra>); 4]);

/// A shard with the parents its keys are split by: what reads its names.
#[derive(Clone, Copy)]
pub struct ShardRef<'a> {
    shard: &'a Shard,
    suffixes: &'a Suffixes,
}

impl std::ops::Deref for ShardRef<'_> {
    type Target = Shard;

    #[inline]
    fn deref(&self) -> &Shard {
        self.shard
    }
}

impl<'a> ShardRef<'a> {
    /// The sets of the served name of a lower-cased wire key with hash `hash`.
    #[inline(always)]
    pub fn find(self, key: &[u8], hash: u64) -> Option<NameSets<'a>> {
        self.sets(self.position(key, hash)? as usize)
    }

    /// The slot of any name held (served or not).
    #[inline(always)]
    pub(super) fn position(self, key: &[u8], hash: u64) -> Option<u32> {
        let shard = self.shard;
        shard
            .index
            .find(slot_hash(hash), |&i| {
                is_key(
                    key_in(&shard.keys, &shard.slots[i as usize]),
                    key,
                    self.suffixes,
                )
            })
            .copied()
    }

    /// The parent's octets of slot `i`'s name, when its key is split by it.
    pub(super) fn parent(self, i: usize) -> Option<&'a [u8]> {
        let (_, id) = split_parts(key_in(&self.shard.keys, &self.shard.slots[i]))?;
        Some(self.suffixes.get(id))
    }

    /// Appends the key of slot `i` to `out` (joined there, without a copy on the way).
    pub(super) fn write_key(self, i: usize, out: &mut Vec<u8>) {
        let stored = key_in(&self.shard.keys, &self.shard.slots[i]);
        match split_parts(stored) {
            None => out.extend_from_slice(stored),
            Some((label, id)) => {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
                out.extend_from_slice(self.suffixes.get(id));
            }
        }
    }

    /// The key of slot `i`.
    pub(super) fn key(self, i: usize) -> Key<'a> {
        whole_key(
            key_in(&self.shard.keys, &self.shard.slots[i]),
            self.suffixes,
        )
    }

    /// The sets of served slot `index` (`None` when it is not served).
    #[inline]
    pub fn sets(self, index: usize) -> Option<NameSets<'a>> {
        self.shard.sets(index)
    }

    /// Every served name as (slot index, key), in slot order.
    pub fn entries(self) -> impl Iterator<Item = (usize, Key<'a>)> {
        self.served_slots().map(move |i| (i, self.key(i)))
    }

    /// The served slots' numbers.
    pub(super) fn served_slots(self) -> impl Iterator<Item = usize> + 'a {
        let shard = self.shard;
        shard
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.served)
            .map(|(i, _)| i)
    }

    /// Every name with the bytes and additional addresses of its A, AAAA and SRV sets,
    /// sorted by name: two shards answer alike exactly when these are equal.
    pub fn canonical(self) -> Vec<CanonicalName> {
        let mut out: Vec<_> = self
            .entries()
            .map(|(i, key)| {
                let set = |s: Option<&RrSet>| match s {
                    Some(set) => {
                        let wire = (0..set.count()).flat_map(|i| set.wire_record(i));
                        (wire.collect(), set.extras().collect())
                    }
                    None => (Vec::new(), Vec::new()),
                };
                let sets = self.sets(i).unwrap_or_default();
                (key.to_vec(), sets.map(set))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Whether the key a shard keeps (`stored`) is the lower-cased wire name `key`: the
/// query path's comparison, one more read for a split key (its parent's octets, which
/// the common parents keep in cache).
#[inline]
fn is_key(stored: &[u8], key: &[u8], suffixes: &Suffixes) -> bool {
    match split_parts(stored) {
        None => same_octets(stored, key),
        Some((label, id)) => {
            let own = 1 + label.len();
            let parent = suffixes.get(id);
            key.len() == own + parent.len()
                && usize::from(key[0]) == label.len()
                && same_octets(&key[1..own], label)
                && same_octets(&key[own..], parent)
        }
    }
}

/// `a == b`, eight octets at a time and without a call: a key's two pieces are a few
/// dozen octets, where a `memcmp` call each cost an A answer some 60 instructions.
#[inline(always)]
fn same_octets(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], at: usize| s[at..].first_chunk::<8>().map(|w| u64::from_ne_bytes(*w));
    let mut at = 0;
    while at + 8 <= n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight octets, overlapping what was compared.
    word(a, n - 8) == word(b, n - 8)
}

/// The whole key of the key a shard keeps.
fn whole_key<'a>(stored: &'a [u8], suffixes: &Suffixes) -> Key<'a> {
    match split_parts(stored) {
        None => Key::Whole(stored),
        Some((label, id)) => Key::joined(label, suffixes.get(id)),
    }
}

impl Shard {
    /// How many slots the shard has (held or free).
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Whether slot `i` holds a name.
    pub(super) fn is_held(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.key_len > 0)
    }

    /// Whether slot `i` is served.
    pub(super) fn is_served(&self, i: usize) -> bool {
        self.slots[i].served
    }

    /// The sets of served slot `index` (`None` when it is not served).
    #[inline]
    pub fn sets(&self, index: usize) -> Option<NameSets<'_>> {
        let slot = self.slots.get(index).filter(|s| s.served)?;
        Some(std::array::from_fn(|kind| {
            if slot.kinds & (1 << kind) == 0 {
                return None;
            }
            match rank(slot.kinds, kind) {
                place @ 0..2 => slot.held[place].as_ref(),
                place => self.spilled_set(index, place - 2),
            }
        }))
    }

    /// The `n`-th set past the two a slot holds.
    #[cold]
    fn spilled_set(&self, index: usize, n: usize) -> Option<&RrSet> {
        let at = self
            .spilled
            .binary_search_by_key(&(index as u32), |s| s.0)
            .ok()?;
        self.spilled[at].1[n].as_ref()
    }

    /// Names served (including empty non-terminals).
    pub fn len(&self) -> usize {
        self.served as usize
    }

    /// Whether the shard serves no name.
    pub fn is_empty(&self) -> bool {
        self.served == 0
    }

    /// Bytes held by the shard's own tables: (the index and the slots, the keys). The
    /// sets are shared, counted by the pool; the nodes are the store's.
    pub fn bytes_held(&self) -> (usize, usize) {
        (
            std::mem::size_of::<Shard>()
                + self.slots.capacity() * std::mem::size_of::<Slot>()
                + self.index.capacity() * 5
                + self.free.capacity() * 4,
            self.keys.capacity(),
        )
    }

    /// A new name, not served yet, its key as kept (`keys::stored_form`): its slot, or
    /// `None` when the shard is full.
    fn insert(&mut self, key: &[u8], hash: u64, suffixes: &Suffixes) -> Option<u32> {
        let slot = Slot {
            key_start: self.keys.len() as u32,
            key_len: key.len() as u16,
            ..Slot::default()
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None if self.slots.len() < SLOTS_PER_SHARD => {
                // Grown by an eighth at a time, exactly: a shard's tables are small,
                // and doubling would leave a quarter of them empty on average (by half:
                // 2-3 MB more resident on a secondary at 100k tasks, for no faster load;
                // by a quarter, 1.4 MB more than by an eighth; by a sixteenth, the
                // holes the moves leave took back what the room saved).
                if self.slots.len() == self.slots.capacity() {
                    let more = (self.slots.len() / 8).max(2);
                    self.slots.reserve_exact(more);
                }
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
            None => return None,
        };
        if self.keys.capacity() - self.keys.len() < key.len() {
            self.keys.reserve_exact(key.len().max(self.keys.len() / 8));
        }
        self.keys.extend_from_slice(key);
        let Shard {
            index, slots, keys, ..
        } = self;
        index.insert_unique(slot_hash(hash), i, rehash(slots, keys, suffixes));
        Some(i)
    }

    /// Frees slot `i` (not served) for another name: the number of its parent, when
    /// its key was split by one.
    fn remove(&mut self, i: usize, suffixes: &Suffixes) -> Option<SuffixId> {
        let stored = key_in(&self.keys, &self.slots[i]);
        let parent = split_parts(stored).map(|(_, id)| id);
        let hash = slot_hash(super::key_hash(&whole_key(stored, suffixes)));
        if let Ok(entry) = self.index.find_entry(hash, |&j| j as usize == i) {
            entry.remove();
        }
        self.unused_key_bytes += u32::from(self.slots[i].key_len);
        self.set_sets(i, SlotSets::default());
        self.slots[i] = Slot::default();
        self.free.push(i as u32);
        let unused = self.unused_key_bytes as usize;
        if unused > 256 && unused * 2 > self.keys.len() {
            self.compact_keys();
        }
        parent
    }

    /// Writes the keys in use again without the freed ones' bytes.
    fn compact_keys(&mut self) {
        let mut keys = Vec::with_capacity(self.keys.len() - self.unused_key_bytes as usize);
        for slot in self.slots.iter_mut().filter(|s| s.key_len > 0) {
            let key = key_in(&self.keys, slot);
            slot.key_start = keys.len() as u32;
            keys.extend_from_slice(key);
        }
        self.keys = keys;
        self.unused_key_bytes = 0;
    }

    /// Serves slot `i` or stops serving it (its sets go with it).
    pub(super) fn set_served(&mut self, i: usize, served: bool) {
        let slot = &mut self.slots[i];
        if slot.served == served {
            return;
        }
        slot.served = served;
        if served {
            self.served += 1;
        } else {
            self.served -= 1;
            self.set_sets(i, SlotSets::default());
        }
    }

    /// The answer sets of served slot `i`.
    pub(super) fn set_sets(&mut self, i: usize, sets: SlotSets) {
        let slot = &mut self.slots[i];
        slot.kinds = (0..4)
            .filter(|&kind| sets[kind].is_some())
            .fold(0, |k, kind| k | 1 << kind);
        slot.held = [None, None];
        let mut spilled = [None, None];
        for (kind, set) in sets.into_iter().enumerate() {
            let Some(set) = set else { continue };
            match rank(slot.kinds, kind) {
                place @ 0..2 => slot.held[place] = Some(set),
                place => spilled[place - 2] = Some(set),
            }
        }
        let at = self.spilled.binary_search_by_key(&(i as u32), |s| s.0);
        match (at, slot.kinds.count_ones() > 2) {
            (Ok(at), true) => self.spilled[at].1 = spilled,
            (Err(at), true) => self.spilled.insert(at, (i as u32, spilled)),
            (Ok(at), false) => {
                self.spilled.remove(at);
            }
            _ => {}
        }
    }

    /// Makes room for `names` names of about `key_len` octets, at once: grown a name at
    /// a time, 16,384 shards' tables leave their smaller copies scattered through the
    /// allocator's pages (at 100k tasks, a third as much again as the tables).
    fn reserve(&mut self, names: usize, key_len: usize, suffixes: &Suffixes) {
        self.slots.reserve_exact(names);
        self.keys.reserve_exact(names * key_len);
        let Shard {
            index, slots, keys, ..
        } = self;
        index.reserve(names, rehash(slots, keys, suffixes));
    }

    /// Whether the shard has made room for no name yet.
    fn has_no_room(&self) -> bool {
        self.slots.capacity() == 0
    }
}

/// A name's A, AAAA, SRV and PTR sets.
pub type SlotSets = [Option<RrSet>; 4];

/// The key of `slot` among a shard's `keys`.
fn key_in<'k>(keys: &'k [u8], slot: &Slot) -> &'k [u8] {
    &keys[slot.key_start as usize..slot.key_start as usize + slot.key_len as usize]
}

/// What a shard's table calls when it grows: each entry's hash, from its slot's key.
fn rehash<'t>(
    slots: &'t [Slot],
    keys: &'t [u8],
    suffixes: &'t Suffixes,
) -> impl Fn(&u32) -> u64 + 't {
    move |&i| {
        slot_hash(super::key_hash(&whole_key(
            key_in(keys, &slots[i as usize]),
            suffixes,
        )))
    }
}

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
    /// The TTLs of the A, AAAA, SRV and PTR sets of the name whose store key `key`
    /// gives. The key is asked for only where the TTLs depend on the name (a transferred zone
    /// of several TTLs, DC/OS names): joining a split key for every name of a whole
    /// load cost a secondary's load some 100 ms at 100k tasks.
    fn ttls_of<K: std::ops::Deref<Target = [u8]>>(&self, key: impl FnOnce() -> K) -> SetTtls {
        if let Some(table) = self.transferred {
            // Most zones have one TTL: no name to write out then.
            if table.unusual.is_empty() {
                return [table.usual; 4];
            }
            return table.of(&key_text(&key()));
        }
        let ttl = match self.dcos_ttl {
            Some(ttl) => {
                let key = key();
                let dcos = DCOS_TTL_ZONES
                    .iter()
                    .any(|z| key.len() > z.len() && super::in_zone(&key, z));
                if dcos { ttl } else { self.ttl }
            }
            None => self.ttl,
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

/// The zones whose names below their apex carry `DCOSTTL` (the mirror of the domain
/// keeps `TTL`), in wire form.
const DCOS_TTL_ZONES: [&[u8]; 2] = [
    b"\x04dcos\x08thisdcos\x09directory\x00",
    b"\x04l4lb\x08thisdcos\x09directory\x00",
];

/// Writes the sets of names, interning them in the pool.
pub(super) struct SetWriter<'a> {
    settings: RecordSettings<'a>,
    pool: &'a SetPool,
    pub(super) scratch: SetScratch,
    /// Reused lists: a name's addresses, an SRV target's addresses, an SRV set's
    /// targets' keys.
    ips: Vec<IpAddr>,
    target_ips: Vec<IpAddr>,
    target_keys: Vec<u8>,
}

impl<'a> SetWriter<'a> {
    pub(super) fn new(settings: RecordSettings<'a>, pool: &'a SetPool) -> SetWriter<'a> {
        SetWriter {
            settings,
            pool,
            scratch: SetScratch::default(),
            ips: Vec::new(),
            target_ips: Vec::new(),
            target_keys: Vec::new(),
        }
    }

    /// The sets of every served name of shard `index`, by id, into `out`.
    pub(super) fn shard_sets(
        &mut self,
        store: &ZoneStore,
        index: usize,
        out: &mut Vec<(NameId, SlotSets)>,
    ) {
        for slot in store.shard(index).served_slots() {
            let id = super::store::id_of(index, slot);
            out.push((id, self.name_sets(store, id)));
        }
    }

    /// The A, AAAA, SRV and PTR sets of one name, values sorted.
    pub(super) fn name_sets(&mut self, store: &ZoneStore, id: NameId) -> SlotSets {
        self.sets_of(store, id, store.node(id))
    }

    /// The sets of a name whose node was let go and of which nothing changed but the
    /// addresses of the SRV targets `changed`: the sets it has, its SRV set's extras
    /// for those targets read anew and the others' kept. What [`SetWriter::name_sets`]
    /// makes from its node given back, without looking every target up by name.
    pub(super) fn sets_with_new_extras(
        &mut self,
        store: &ZoneStore,
        id: NameId,
        changed: &[NameId],
    ) -> SlotSets {
        let (shard, slot) = super::store::place(id);
        let Some(sets) = store.shard(shard).sets(slot) else {
            return SlotSets::default();
        };
        let [a, aaaa, srv, ptr] = sets.map(|set| set.cloned());
        let srv = srv.and_then(|set| self.srv_with_new_extras(store, &set, changed));
        [a, aaaa, srv, ptr]
    }

    /// `set`'s records as they are, with the extras of the targets `changed` read
    /// anew (a target's records are adjacent, its extras after its first).
    fn srv_with_new_extras(
        &mut self,
        store: &ZoneStore,
        set: &RrSet,
        changed: &[NameId],
    ) -> Option<RrSet> {
        self.scratch.start(set.rtype(), set.ttl());
        let target_offset = set.target_offset();
        let changed: Vec<(Key<'_>, NameId)> = changed.iter().map(|&t| (store.key(t), t)).collect();
        let mut kept = set.extras().peekable();
        let mut previous: Option<Rdata<'_>> = None;
        for (rr, rdata) in set.rdatas().enumerate() {
            self.scratch.push(&rdata);
            let rr = rr as u32;
            let target = rdata.get(target_offset..).unwrap_or_default();
            // As `srv_set` sets it: the last record's target's TTL.
            self.scratch.extra_ttl = self.settings.ttls_of(|| target)[0];
            let first_of_target = previous
                .as_deref()
                .map(|p| p.get(target_offset..).unwrap_or_default())
                != Some(target);
            let new_addresses = first_of_target
                .then(|| changed.iter().find(|(key, _)| **key == *target))
                .flatten();
            // This record's extras as they were (only a target's first has any): kept
            // unless its target's are read anew.
            while let Some(extra) = kept.next_if(|e| e.answer_rr == rr) {
                if new_addresses.is_none() {
                    self.scratch.extras.push(extra);
                }
            }
            if let Some(&(_, id)) = new_addresses {
                self.push_extras(store, id, rr);
            }
            previous = Some(rdata);
        }
        self.pool.intern(&mut self.scratch)
    }

    /// The addresses of `target` as extras of answer record `rr`.
    fn push_extras(&mut self, store: &ZoneStore, target: NameId, rr: u32) {
        store.addresses(target, &mut self.target_ips);
        let extras = self
            .target_ips
            .iter()
            .map(|&ip| Extra { answer_rr: rr, ip });
        self.scratch.extras.extend(extras);
    }

    /// [`SetWriter::name_sets`] with the name's SRV and PTR values from `node` (its
    /// addresses, and its targets', still come from `store`).
    pub(super) fn sets_of(&mut self, store: &ZoneStore, id: NameId, node: &Node) -> SlotSets {
        let [a_ttl, aaaa_ttl, srv_ttl, ptr_ttl] = self.settings.ttls_of(|| store.key(id));
        let mut ips = std::mem::take(&mut self.ips);
        ips.clear();
        ips.extend(node.a().map(IpAddr::V4));
        ips.extend(node.aaaa().map(IpAddr::V6));
        ips.sort_unstable();
        // IPv4 sorts before IPv6: the A records, then the AAAA records.
        let v6 = ips.partition_point(IpAddr::is_ipv4);
        let a = self.address_set(&ips[..v6], a_ttl);
        let aaaa = self.address_set(&ips[v6..], aaaa_ttl);
        self.ips = ips;
        // Each value with its target's key, read once rather than at every comparison
        // (most names have none: no list is made for them), the keys one after another
        // in a reused list.
        let mut targets = std::mem::take(&mut self.target_keys);
        targets.clear();
        let mut srv: Vec<(SrvValue, std::ops::Range<usize>)> = Vec::new();
        srv.extend(node.srv().map(|v| {
            let start = targets.len();
            store.write_key(v.target, &mut targets);
            (v, start..targets.len())
        }));
        srv.sort_unstable_by(|(x, x_key), (y, y_key)| {
            let key = |v: &SrvValue| (v.port, v.own);
            text_order(&targets[x_key.clone()], &targets[y_key.clone()]).then(key(x).cmp(&key(y)))
        });
        let srv: Vec<(SrvValue, &[u8])> =
            srv.into_iter().map(|(v, key)| (v, &targets[key])).collect();
        let srv_set = self.srv_set(store, &srv, srv_ttl);
        drop(srv);
        self.target_keys = targets;
        let ptr = self.ptr_set(store, node, ptr_ttl);
        [a, aaaa, srv_set, ptr]
    }

    /// The PTR records of a reverse name: its candidates as `ReversePolicy` picks them
    /// (by rank, then name), each name once.
    fn ptr_set(&mut self, store: &ZoneStore, node: &Node, ttl: u32) -> Option<RrSet> {
        // Most names have no reverse candidates.
        node.ptr().next()?;
        let mut candidates: Vec<(u8, Key<'_>)> =
            node.ptr().map(|(t, rank)| (rank, store.key(t))).collect();
        // Each name once, at its best rank.
        candidates.sort_unstable_by(|x, y| text_order(&x.1, &y.1).then(x.0.cmp(&y.0)));
        candidates.dedup_by(|later, first| later.1 == first.1);
        let chosen: &[(u8, Key<'_>)] = match self.settings.reverse_policy {
            ReversePolicy::All => &candidates,
            ReversePolicy::Unambiguous if candidates.len() == 1 => &candidates,
            ReversePolicy::Unambiguous => &[],
            ReversePolicy::One => {
                let best = candidates
                    .iter()
                    .enumerate()
                    .min_by(|x, y| x.1.0.cmp(&y.1.0).then(text_order(&x.1.1, &y.1.1)))
                    .map_or(0, |(i, _)| i);
                &candidates[best..=best]
            }
        };
        self.scratch.start(TYPE_PTR, ttl);
        for (_, wire) in chosen {
            if super::keys::is_wire(wire) {
                self.scratch.push(wire);
            }
        }
        self.pool.intern(&mut self.scratch)
    }

    /// The A set of `ips` (all IPv4) or their AAAA set (all IPv6).
    fn address_set(&mut self, ips: &[IpAddr], ttl: u32) -> Option<RrSet> {
        let rtype = match ips.first() {
            Some(IpAddr::V6(_)) => TYPE_AAAA,
            _ => TYPE_A,
        };
        self.scratch.start(rtype, ttl);
        for ip in ips {
            match ip {
                IpAddr::V4(v4) => self.scratch.push(&v4.octets()),
                IpAddr::V6(v6) => self.scratch.push(&v6.octets()),
            }
        }
        self.pool.intern(&mut self.scratch)
    }

    /// SRV records (each value with its target's key), sorted by the caller.
    fn srv_set(&mut self, store: &ZoneStore, srv: &[(SrvValue, &[u8])], ttl: u32) -> Option<RrSet> {
        self.scratch.start(TYPE_SRV, ttl);
        for (i, &(value, wire)) in srv.iter().enumerate() {
            let (target, port) = (value.target, value.port);
            let (priority, weight) = value.own.unwrap_or((0, self.settings.srv_weight));
            // Targets come from the generator, which keeps only encodable names.
            if !super::keys::is_wire(wire) {
                continue;
            }
            let rr = self.scratch.offsets.len() as u32;
            // The additional addresses carry the target's own TTL.
            self.scratch.extra_ttl = self.settings.ttls_of(|| wire)[0];
            self.scratch.next_record();
            let out = &mut self.scratch.bytes;
            out.extend_from_slice(&priority.to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            out.extend_from_slice(&port.to_be_bytes());
            out.extend_from_slice(wire);
            // Addresses of each distinct target once, for the additional section
            // (sorted by target name: a target's records are adjacent).
            if i == 0 || srv[i - 1].0.target != target {
                self.push_extras(store, target, rr);
            }
        }
        self.pool.intern(&mut self.scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_shard_carry_different_tags_in_its_table() {
        // The table's tag is the top seven bits of the hash it is given: names of one
        // shard share the key hash's top bits, so the table must be given other ones.
        let mut by_shard: std::collections::HashMap<usize, std::collections::HashSet<u64>> =
            Default::default();
        for i in 0..200_000u32 {
            let mut key = vec![7u8];
            key.extend_from_slice(format!("t{i:06}").as_bytes());
            key.extend_from_slice(b"\x05mesos\x00");
            let hash = crate::snapshot::key_hash(&key);
            by_shard
                .entry(shard_of(hash))
                .or_default()
                .insert(slot_hash(hash) >> 57);
        }
        let crowded: Vec<_> = by_shard.values().filter(|tags| tags.len() >= 8).collect();
        assert!(crowded.len() > SHARDS / 2, "{} shards", crowded.len());
    }

    #[test]
    fn freed_slots_are_reused_and_their_keys_compacted() {
        let mut table = WorkingTable::default();
        // Names under three parents, and a name of one label (kept whole).
        let key = |i: u32| {
            let mut key = Vec::new();
            let name = match i {
                0 => "top.".to_string(),
                _ => format!("name-{i:04}.fw-{}.mesos.", i % 3),
            };
            crate::dns::wire::name_to_wire(&name, true, &mut key).unwrap(); // ok: test
            key
        };
        let hash = |k: &[u8]| crate::snapshot::key_hash(k);
        let position = |table: &WorkingTable, i: u32| table.get(0).position(&key(i), hash(&key(i)));
        let slots: Vec<usize> = (0..100)
            .map(|i| table.insert(0, &key(i), hash(&key(i)), 0).unwrap()) // ok: test
            .collect();
        assert_eq!(table.suffixes.get().get(0), b"\x04fw-1\x05mesos\x00");
        let full = table.get(0).keys.len();
        assert!(full < 100 * 12, "split keys: {full} octets");
        for i in (0..100).filter(|i| i % 5 != 0) {
            table.remove(0, slots[i as usize]);
        }
        assert!(
            table.get(0).keys.len() < full / 2,
            "the keys were compacted"
        );
        for i in 0..100 {
            let found = position(&table, i).map(|s| s as usize);
            assert_eq!(found, (i % 5 == 0).then_some(slots[i as usize]), "name {i}");
        }
        // The names left (every fifth, under all three parents) keep their parents.
        assert_eq!(table.suffixes.get().get(2), b"\x04fw-0\x05mesos\x00");
        // New names take the freed slots before new ones.
        for i in 100..180 {
            table.insert(0, &key(i), hash(&key(i)), 0).unwrap(); // ok: test
        }
        assert_eq!(table.get(0).slots.len(), 100);
        for i in (0..180).filter(|i| i % 5 == 0 || *i >= 100) {
            let at = position(&table, i).unwrap(); // ok: test
            assert_eq!(&*table.get(0).key(at as usize), &key(i)[..]);
        }
        // The published table reads the same names.
        let published = table.publish().clone();
        for i in (0..180).filter(|i| i % 5 == 0 || *i >= 100) {
            let at = published.get(0).position(&key(i), hash(&key(i)));
            assert_eq!(at, position(&table, i), "name {i}");
        }
        // A parent's last name gone, its number is given to the next new parent; the
        // published table still reads the old one.
        for i in (0..180).filter(|i| (i % 5 == 0 || *i >= 100) && i % 3 == 1) {
            table.remove(0, position(&table, i).unwrap() as usize); // ok: test
        }
        let other = b"\x09name-1000\x05other\x00".to_vec();
        let at = table.insert(0, &other, hash(&other), 0).unwrap(); // ok: test
        assert_eq!(&*table.get(0).key(at), &other[..]);
        assert_eq!(table.suffixes.get().get(0), b"\x05other\x00");
        let (some, was) = (
            key(175),
            published.get(0).position(&key(175), hash(&key(175))),
        );
        assert!(was.is_some(), "175 is under fw-1");
        assert_eq!(&*published.get(0).key(was.unwrap() as usize), &some[..]); // ok: test
    }

    #[test]
    fn a_name_of_every_kind_keeps_each_set_where_it_belongs() {
        // A set of one record whose data is `tag`, to tell the sets apart.
        let pool = SetPool::default();
        let set = |tag: u8| {
            let mut scratch = SetScratch::default();
            scratch.push(&[tag]);
            pool.intern(&mut scratch).unwrap() // ok: test
        };
        let tag = |set: Option<&RrSet>| set.map(|s| s.rdata(0)[0]);
        let mut shard = Shard::default();
        let names: Vec<usize> = (0..3u8)
            .map(|i| {
                let key = [1, b'a' + i, 0];
                let at = shard
                    .insert(&key, crate::snapshot::key_hash(&key), &Suffixes::default())
                    .unwrap(); // ok: test
                shard.set_served(at as usize, true);
                at as usize
            })
            .collect();
        shard.set_sets(
            names[0],
            [Some(set(1)), Some(set(2)), Some(set(3)), Some(set(4))],
        );
        shard.set_sets(names[1], [None, Some(set(5)), None, Some(set(6))]);
        shard.set_sets(names[2], [Some(set(7)), None, Some(set(8)), Some(set(9))]);
        let tags = |shard: &Shard, at: usize| shard.sets(at).unwrap().map(tag); // ok: test
        assert_eq!(tags(&shard, names[0]), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(tags(&shard, names[1]), [None, Some(5), None, Some(6)]);
        assert_eq!(tags(&shard, names[2]), [Some(7), None, Some(8), Some(9)]);
        assert_eq!(shard.spilled.len(), 2);

        // Fewer kinds, a name no longer served, a name freed: nothing stays spilled.
        shard.set_sets(names[0], [None, None, Some(set(3)), None]);
        assert_eq!(tags(&shard, names[0]), [None, None, Some(3), None]);
        assert_eq!(tags(&shard, names[2]), [Some(7), None, Some(8), Some(9)]);
        shard.set_served(names[2], false);
        assert!(shard.sets(names[2]).is_none());
        assert!(shard.spilled.is_empty());
        shard.set_served(names[2], true);
        assert_eq!(tags(&shard, names[2]), [None; 4], "sets left with the name");
        shard.set_sets(names[1], [Some(set(1)), Some(set(2)), Some(set(3)), None]);
        shard.set_served(names[1], false);
        shard.remove(names[1], &Suffixes::default());
        assert!(shard.spilled.is_empty());
        assert_eq!(std::mem::size_of::<Slot>(), 24);
        assert_eq!(std::mem::size_of::<Shard>(), 104);
    }
}
