//! [`RrSet`]: the wire records of one type at one name, and the [`SetPool`] that stores
//! each distinct set once for every shard and every snapshot version (the same SRV set
//! stands under `_tcp` and `_udp`, the same agent address under every task of an agent).

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// An address record for the additional section: the owner is the target name inside
/// answer record `answer_rr` of the set (a compression pointer is made when answering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extra {
    /// Which answer record names the target.
    pub answer_rr: u32,
    /// The target's address.
    pub ip: IpAddr,
}

/// Records of one type at one name, each as owner pointer `C0 0C`, type, class, TTL,
/// RDLENGTH, RDATA; immutable and shared.
#[derive(Debug, PartialEq, Eq)]
pub struct RrSet {
    /// Each record's start within `bytes`, then the length of `bytes`.
    offsets: Box<[u32]>,
    /// Additional-section addresses of SRV targets (NS: of the name server).
    extras: Box<[Extra]>,
    bytes: Box<[u8]>,
    /// Where, inside each record, the name that extras refer to starts: 18 for an SRV
    /// target, 12 for an NS host.
    target_offset: u16,
    /// The TTL of the extras (their names' zone's).
    extra_ttl: u32,
}

impl RrSet {
    /// How many records.
    pub fn count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The records, in wire form.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Record start offsets, then the set's length (`count + 1` entries).
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// Additional addresses (SRV sets).
    pub fn extras(&self) -> &[Extra] {
        &self.extras
    }

    /// Where the target name starts in each SRV record's RDATA.
    pub fn target_offset(&self) -> u16 {
        self.target_offset
    }

    /// The TTL of the additional addresses.
    pub fn extra_ttl(&self) -> u32 {
        self.extra_ttl
    }

    /// Each record as bytes.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.offsets
            .windows(2)
            .map(|w| &self.bytes[w[0] as usize..w[1] as usize])
    }

    /// Bytes held, allocations included (approximately).
    pub fn bytes_held(&self) -> usize {
        std::mem::size_of::<RrSet>()
            + 16
            + self.offsets.len() * 4
            + self.extras.len() * std::mem::size_of::<Extra>()
            + self.bytes.len()
    }
}

/// A set being written.
#[derive(Default)]
pub struct SetScratch {
    /// Records in wire form.
    pub bytes: Vec<u8>,
    /// Where each record starts.
    pub offsets: Vec<u32>,
    /// Additional addresses.
    pub extras: Vec<Extra>,
    /// Where the target starts in an SRV record.
    pub target_offset: u16,
    /// The TTL of the additional addresses.
    pub extra_ttl: u32,
}

impl SetScratch {
    /// Empties it for the next set.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.offsets.clear();
        self.extras.clear();
        self.target_offset = 0;
        self.extra_ttl = 0;
    }

    /// Marks the start of the next record.
    pub fn next_record(&mut self) {
        self.offsets.push(self.bytes.len() as u32);
    }

    fn hash(&self, hasher: &FixedState) -> u64 {
        set_hash(hasher, &self.bytes, &self.extras, self.target_offset)
    }

    fn matches(&self, set: &RrSet) -> bool {
        *set.bytes == *self.bytes
            && *set.extras == *self.extras
            && set.target_offset == self.target_offset
            && set.extra_ttl == self.extra_ttl
            && set.offsets.len() == self.offsets.len() + 1
            && set.offsets[..self.offsets.len()] == *self.offsets
    }
}

/// What a set is found by in the pool: its bytes, its extras and its target offset.
fn set_hash(hasher: &FixedState, bytes: &[u8], extras: &[Extra], target_offset: u16) -> u64 {
    let mut h = hasher.build_hasher();
    bytes.hash(&mut h);
    extras.hash(&mut h);
    target_offset.hash(&mut h);
    h.finish()
}

/// The pool's tables: each set falls in one by its hash, so that threads compiling shards
/// side by side (a first load) lock one table at a time rather than the whole pool.
const PARTS: usize = 16;

/// The table of a set's hash: bits the tables themselves use least (their buckets take
/// the low bits, their tags the top seven).
fn part_of(hash: u64) -> usize {
    (hash >> 32) as usize & (PARTS - 1)
}

/// Every distinct set in use, each stored once.
pub struct SetPool {
    parts: Vec<HashTable<Arc<RrSet>>>,
    hasher: FixedState,
    /// Sets held after the last sweep: the next sweep waits until the pool doubles.
    after_sweep: usize,
}

impl Default for SetPool {
    fn default() -> Self {
        SetPool {
            parts: (0..PARTS).map(|_| HashTable::new()).collect(),
            hasher: FixedState::default(),
            after_sweep: 0,
        }
    }
}

/// The pool lent to several threads at once ([`SetPool::share`]).
pub struct SharedPool {
    parts: Vec<Mutex<HashTable<Arc<RrSet>>>>,
    hasher: FixedState,
}

impl SharedPool {
    /// [`SetPool::intern`], from any thread.
    pub fn intern(&self, scratch: &SetScratch) -> Option<Arc<RrSet>> {
        if scratch.offsets.is_empty() {
            return None;
        }
        let hash = scratch.hash(&self.hasher);
        // A thread that panicked holding the lock left the table whole (an insert
        // either happened or did not): go on with it.
        let mut table = self.parts[part_of(hash)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(intern_in(&mut table, &self.hasher, hash, scratch))
    }
}

/// The set of `scratch` (hash `hash`) in `table`, added if new.
fn intern_in(
    table: &mut HashTable<Arc<RrSet>>,
    hasher: &FixedState,
    hash: u64,
    scratch: &SetScratch,
) -> Arc<RrSet> {
    if let Some(set) = table.find(hash, |s| scratch.matches(s)) {
        return set.clone();
    }
    let mut offsets = Vec::with_capacity(scratch.offsets.len() + 1);
    offsets.extend_from_slice(&scratch.offsets);
    offsets.push(scratch.bytes.len() as u32);
    let set = Arc::new(RrSet {
        offsets: offsets.into(),
        extras: scratch.extras.as_slice().into(),
        bytes: scratch.bytes.as_slice().into(),
        target_offset: scratch.target_offset,
        extra_ttl: scratch.extra_ttl,
    });
    table.insert_unique(hash, set.clone(), |s| {
        set_hash(hasher, &s.bytes, &s.extras, s.target_offset)
    });
    set
}

impl SetPool {
    /// The shared set equal to `scratch`, stored now if new; `None` for an empty set.
    pub fn intern(&mut self, scratch: &SetScratch) -> Option<Arc<RrSet>> {
        if scratch.offsets.is_empty() {
            return None;
        }
        let hash = scratch.hash(&self.hasher);
        Some(intern_in(
            &mut self.parts[part_of(hash)],
            &self.hasher,
            hash,
            scratch,
        ))
    }

    /// The pool's sets, lent to threads that intern side by side; [`SetPool::take_back`]
    /// returns them. The pool is empty meanwhile.
    pub fn share(&mut self) -> SharedPool {
        SharedPool {
            parts: std::mem::take(&mut self.parts)
                .into_iter()
                .map(Mutex::new)
                .collect(),
            hasher: self.hasher.clone(),
        }
    }

    /// The sets of a pool lent by [`SetPool::share`], and those added meanwhile.
    pub fn take_back(&mut self, shared: SharedPool) {
        self.parts = shared
            .parts
            .into_iter()
            .map(|part| part.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect();
    }

    /// Drops the sets no snapshot uses any more, once the pool has doubled since the
    /// last sweep (so a sweep's cost is spread over as many new sets).
    pub fn sweep_if_grown(&mut self) {
        if self.len() > (2 * self.after_sweep).max(4096) {
            self.sweep();
        }
    }

    /// Drops the sets no snapshot uses any more.
    pub fn sweep(&mut self) {
        for part in &mut self.parts {
            part.retain(|s| Arc::strong_count(s) > 1);
        }
        self.after_sweep = self.len();
    }

    /// How many distinct sets the pool holds.
    pub fn len(&self) -> usize {
        self.parts.iter().map(HashTable::len).sum()
    }

    /// Whether the pool holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sets(&self) -> impl Iterator<Item = &Arc<RrSet>> {
        self.parts.iter().flatten()
    }

    /// Bytes held by the sets (approximately).
    pub fn bytes_held(&self) -> usize {
        self.sets().map(|s| s.bytes_held()).sum::<usize>()
            + self.parts.iter().map(HashTable::capacity).sum::<usize>() * 9
    }

    /// Of those, the bytes of SRV sets' additional addresses, and of the records' wire
    /// form.
    pub fn parts_held(&self) -> (usize, usize) {
        self.sets().fold((0, 0), |(extras, wire), s| {
            (
                extras + std::mem::size_of_val(s.extras()),
                wire + s.bytes().len(),
            )
        })
    }
}
