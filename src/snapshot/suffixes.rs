//! The parents that names share. A shard keeps a name's key as its first label and the
//! number of the rest of it (its parent, `marathon.mesos.`) in this table: at 100k
//! tasks, 317k names have 7,483 distinct parents, and written whole their keys took
//! 15.6 MB, most of it the same few suffixes again and again.
//!
//! [`Suffixes`] is what a query reads (shared by every shard of a snapshot, and by the
//! snapshots that share it); [`SuffixTable`] is the control thread's, which finds a
//! parent's number and counts the names using it. A number is given to another parent
//! only once no name uses it: a shard that an older snapshot shares reads that
//! snapshot's own table, in which the number still names what it named then.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

/// A parent's number in the table.
pub(crate) type SuffixId = u16;

/// How many parents the table can number: a name whose parent finds no room is kept
/// whole.
const CAPACITY: usize = 1 << 16;

/// The parents by number, as a query reads them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Suffixes {
    /// Per number, where its octets start in `octets` and how many (0: unused).
    spans: Vec<(u32, u32)>,
    /// Every parent's octets, one after another (a freed one's stay until compacted).
    octets: Vec<u8>,
}

impl Suffixes {
    /// The octets of parent `id` (lower-cased wire form).
    #[inline]
    pub(crate) fn get(&self, id: SuffixId) -> &[u8] {
        let (start, len) = self.spans.get(usize::from(id)).copied().unwrap_or_default();
        self.octets
            .get(start as usize..(start + len) as usize)
            .unwrap_or_default()
    }

    /// Bytes held.
    pub(crate) fn bytes_held(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<(u32, u32)>() + self.octets.capacity()
    }
}

/// The control thread's side: the shared table, and what finds a number by its octets.
#[derive(Clone, Default)]
pub(crate) struct SuffixTable {
    shared: Arc<Suffixes>,
    /// Every number in use, by its octets' hash.
    by_octets: HashTable<SuffixId>,
    /// Per number, how many names use it.
    uses: Vec<u32>,
    /// Numbers no name uses, given out first.
    free: Vec<SuffixId>,
    /// Octets of `shared.octets` no number uses.
    unused_octets: usize,
}

fn hash_of(octets: &[u8]) -> u64 {
    FixedState::default().hash_one(octets)
}

impl SuffixTable {
    /// The table as the shards read it.
    #[inline]
    pub(crate) fn get(&self) -> &Suffixes {
        &self.shared
    }

    /// The table to hand out with the shards.
    pub(crate) fn shared(&self) -> Arc<Suffixes> {
        self.shared.clone()
    }

    /// The number of `parent`, one more name using it; `None` when the table is full.
    pub(crate) fn intern(&mut self, parent: &[u8]) -> Option<SuffixId> {
        let hash = hash_of(parent);
        let SuffixTable {
            shared,
            by_octets,
            uses,
            ..
        } = self;
        if let Some(&id) = by_octets.find(hash, |&id| shared.get(id) == parent) {
            uses[usize::from(id)] += 1;
            return Some(id);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None if self.uses.len() < CAPACITY => {
                self.uses.push(0);
                (self.uses.len() - 1) as SuffixId
            }
            None => return None,
        };
        // Copied here when a published snapshot shares the table (new parents are few:
        // a new framework or app).
        let table = Arc::make_mut(&mut self.shared);
        let span = (table.octets.len() as u32, parent.len() as u32);
        table.octets.extend_from_slice(parent);
        match table.spans.get_mut(usize::from(id)) {
            Some(at) => *at = span,
            None => table.spans.push(span),
        }
        self.uses[usize::from(id)] = 1;
        let shared = &self.shared;
        self.by_octets
            .insert_unique(hash, id, |&id| hash_of(shared.get(id)));
        Some(id)
    }

    /// One name fewer uses `id`; a number no name uses is freed.
    pub(crate) fn release(&mut self, id: SuffixId) {
        // A number no name uses is not freed twice (it would be given to two parents).
        let Some(uses) = self.uses.get_mut(usize::from(id)).filter(|u| **u > 0) else {
            return;
        };
        *uses -= 1;
        if *uses > 0 {
            return;
        }
        let octets = self.shared.get(id);
        let hash = hash_of(octets);
        if let Ok(entry) = self.by_octets.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.unused_octets += octets.len();
        let table = Arc::make_mut(&mut self.shared);
        table.spans[usize::from(id)] = (0, 0);
        self.free.push(id);
        if self.unused_octets > 4096 && self.unused_octets * 2 > table.octets.len() {
            let mut octets = Vec::with_capacity(table.octets.len() - self.unused_octets);
            for span in table.spans.iter_mut().filter(|s| s.1 > 0) {
                let (start, len) = (span.0 as usize, span.1 as usize);
                span.0 = octets.len() as u32;
                octets.extend_from_slice(&table.octets[start..start + len]);
            }
            table.octets = octets;
            self.unused_octets = 0;
        }
    }

    /// How many numbers are in use.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.uses.iter().filter(|&&u| u > 0).count()
    }

    /// Bytes held by the control thread's side (the shared table is the snapshot's).
    pub(crate) fn bytes_held(&self) -> usize {
        self.by_octets.capacity() * 3 + self.uses.capacity() * 4 + self.free.capacity() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_is_numbered_once_and_its_number_freed_with_its_last_name() {
        let mut table = SuffixTable::default();
        let marathon = b"\x08marathon\x05mesos\x00";
        let slave = b"\x05slave\x05mesos\x00";
        let a = table.intern(marathon).unwrap(); // ok: test
        assert_eq!(table.intern(marathon), Some(a));
        let b = table.intern(slave).unwrap(); // ok: test
        assert_ne!(a, b);
        assert_eq!(table.get().get(a), marathon);
        assert_eq!(table.get().get(b), slave);
        // A published snapshot keeps its table as it was.
        let published = table.shared();
        table.release(a);
        assert_eq!(table.get().get(a), marathon, "one name still uses it");
        table.release(a);
        assert_eq!(table.in_use(), 1);
        table.release(a);
        assert_eq!(table.free, [a], "freed once");
        let other = b"\x05kafka\x05mesos\x00";
        assert_eq!(
            table.intern(other),
            Some(a),
            "the freed number is given again"
        );
        assert_eq!(table.get().get(a), other);
        assert_eq!(
            published.get(a),
            marathon,
            "the published table is unchanged"
        );
        assert_eq!(table.get().get(b), slave);
    }

    #[test]
    fn freed_octets_are_compacted_and_every_number_keeps_its_parent() {
        let mut table = SuffixTable::default();
        let parent = |i: u32| {
            let label = format!("framework-{i:05}-with-a-long-name");
            let mut wire = vec![label.len() as u8];
            wire.extend_from_slice(label.as_bytes());
            wire.extend_from_slice(b"\x05mesos\x00");
            wire
        };
        let ids: Vec<SuffixId> = (0..1000)
            .map(|i| table.intern(&parent(i)).unwrap()) // ok: test
            .collect();
        let full = table.get().octets.len();
        for i in (0..1000).filter(|i| i % 4 != 0) {
            table.release(ids[i as usize]);
        }
        assert!(table.get().octets.len() < full / 2, "compacted");
        for i in (0..1000).filter(|i| i % 4 == 0) {
            assert_eq!(table.get().get(ids[i as usize]), parent(i));
            assert_eq!(table.intern(&parent(i)), Some(ids[i as usize]));
        }
    }

    #[test]
    fn a_full_table_numbers_no_more_parents() {
        let mut table = SuffixTable::default();
        for i in 0..CAPACITY as u32 {
            let wire = [4, (i >> 8) as u8, i as u8, b'x', b'y', 0];
            assert!(table.intern(&wire).is_some());
        }
        assert_eq!(table.intern(b"\x03one\x04more\x00"), None);
        table.release(7);
        assert_eq!(table.intern(b"\x03one\x04more\x00"), Some(7));
    }
}
