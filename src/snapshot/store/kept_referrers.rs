//! The SRV referrers of targets whose nodes were let go (a secondary's store), as
//! (target, referrer, count) entries: those of a whole load in one list sorted by
//! target, sized exactly, and those kept later (nodes let go after a change) in a table
//! by their target's hash. A list per target (a map entry pointing at an allocation of
//! its own) cost about twice as much: most targets have two to four referrers (the
//! `_tcp` and `_udp` names of an app, and its named ports). One table for all would
//! grow by doubling: at 100k tasks its 440k to 480k entries fall on either side of a
//! doubling, and the long-tailed cluster's would have held twice the room it used.

use super::NameId;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use thin_vec::ThinVec;

/// One referrer of one target: how many of its SRV records name the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    target: NameId,
    referrer: NameId,
    count: u32,
}

#[derive(Default)]
pub(super) struct KeptReferrers {
    /// A whole load's, sorted by target then referrer; an entry given back to its
    /// target's node has a count of 0.
    loaded: Vec<Entry>,
    /// The target of every `INDEX_STRIDE`-th loaded entry: a search starts here, in a
    /// list small enough to stay in cache, and ends in one stride of `loaded` (a search
    /// of `loaded` alone read some 19 cold lines, 7% of a primary's CPU per event).
    loaded_index: Vec<NameId>,
    /// Kept since, found by their target's hash.
    later: HashTable<Entry>,
}

/// Loaded entries per entry of the index.
const INDEX_STRIDE: usize = 32;

fn hash_of(target: NameId) -> u64 {
    FixedState::default().hash_one(target)
}

impl KeptReferrers {
    /// The referrers of a whole load: (target, referrer) once per SRV record.
    pub(super) fn load(&mut self, pairs: Vec<(NameId, NameId)>) {
        // Sorted as one number each (target above referrer): a third of the time the
        // pairs took.
        let mut keys: Vec<u64> = pairs
            .into_iter()
            .map(|(target, referrer)| (target as u64) << 32 | referrer as u64)
            .collect();
        keys.sort_unstable();
        let runs = || keys.chunk_by(|x, y| x == y);
        // Counted first, so that the list is made once at its size.
        let mut loaded = Vec::with_capacity(runs().count());
        loaded.extend(runs().map(|run| Entry {
            target: (run[0] >> 32) as NameId,
            referrer: run[0] as NameId,
            count: run.len() as u32,
        }));
        self.loaded_index = loaded
            .iter()
            .step_by(INDEX_STRIDE)
            .map(|e| e.target)
            .collect();
        self.loaded = loaded;
    }

    /// The loaded entries of `target`.
    fn loaded_of(&mut self, target: NameId) -> &mut [Entry] {
        // Strides whose first entry is below `target`: its entries start in the last
        // of them, or at the next stride's first entry.
        let below = self.loaded_index.partition_point(|&t| t < target);
        let from = below.saturating_sub(1) * INDEX_STRIDE;
        let to = (below * INDEX_STRIDE + 1).min(self.loaded.len());
        let start = from + self.loaded[from..to].partition_point(|e| e.target < target);
        // A target has a few referrers: read along.
        let len = self.loaded[start..]
            .iter()
            .take_while(|e| e.target == target)
            .count();
        &mut self.loaded[start..start + len]
    }

    /// One more SRV record of `referrer` names `target`.
    pub(super) fn add(&mut self, target: NameId, referrer: NameId) {
        if let Some(e) = self
            .loaded_of(target)
            .iter_mut()
            .find(|e| e.referrer == referrer && e.count > 0)
        {
            e.count += 1;
            return;
        }
        let hash = hash_of(target);
        let found = self
            .later
            .find_mut(hash, |e| e.target == target && e.referrer == referrer);
        match found {
            Some(entry) => entry.count += 1,
            None => {
                let entry = Entry {
                    target,
                    referrer,
                    count: 1,
                };
                self.later.insert_unique(hash, entry, |e| hash_of(e.target));
            }
        }
    }

    /// Keeps the referrers of a node let go.
    pub(super) fn put(&mut self, target: NameId, referrers: &[(NameId, u32)]) {
        let hash = hash_of(target);
        for &(referrer, count) in referrers {
            let entry = Entry {
                target,
                referrer,
                count,
            };
            self.later.insert_unique(hash, entry, |e| hash_of(e.target));
        }
    }

    /// The referrers of `target`, taken out (for its node, given back).
    pub(super) fn take(&mut self, target: NameId) -> ThinVec<(NameId, u32)> {
        let mut taken = ThinVec::new();
        for e in self.loaded_of(target).iter_mut().filter(|e| e.count > 0) {
            taken.push((e.referrer, e.count));
            e.count = 0;
        }
        let hash = hash_of(target);
        while let Ok(entry) = self.later.find_entry(hash, |e| e.target == target) {
            let (e, _) = entry.remove();
            taken.push((e.referrer, e.count));
        }
        taken
    }

    /// Octets held: the loaded list, and the later table with its control octet an
    /// entry.
    pub(super) fn bytes_held(&self) -> usize {
        let entry = std::mem::size_of::<Entry>();
        self.loaded.capacity() * entry
            + self.loaded_index.capacity() * std::mem::size_of::<NameId>()
            + self.later.capacity() * (entry + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut referrers: ThinVec<(NameId, u32)>) -> Vec<(NameId, u32)> {
        referrers.sort_unstable();
        referrers.to_vec()
    }

    #[test]
    fn a_target_gets_back_the_referrers_kept_for_it_and_no_other() {
        let mut kept = KeptReferrers::default();
        kept.load(vec![(7, 100), (9, 100), (7, 101), (7, 100), (5, 100)]);
        assert_eq!(kept.loaded.len(), 4, "one entry per pair, counted");
        // A record more, for a loaded pair and for a new one.
        kept.add(7, 100);
        kept.add(7, 102);
        kept.put(8, &[(100, 3), (102, 1)]);
        assert_eq!(sorted(kept.take(7)), [(100, 3), (101, 1), (102, 1)]);
        assert!(kept.take(7).is_empty(), "taken once");
        // Kept again after its node is let go once more.
        kept.put(7, &[(101, 1)]);
        kept.add(7, 101);
        assert_eq!(sorted(kept.take(7)), [(101, 2)]);
        assert_eq!(sorted(kept.take(8)), [(100, 3), (102, 1)]);
        assert_eq!(sorted(kept.take(9)), [(100, 1)]);
        assert_eq!(sorted(kept.take(5)), [(100, 1)]);
        assert!(kept.take(6).is_empty());
        assert!(kept.later.is_empty());
        assert!(kept.loaded.iter().all(|e| e.count == 0));
    }

    /// Found through the index, across its strides: every target's referrers, none
    /// for a target without any (below, between and past the loaded ones).
    #[test]
    fn the_index_finds_every_loaded_target() {
        let referrers = |target: NameId| (0..target % 5).map(move |r| 1000 + r);
        let pairs: Vec<(NameId, NameId)> = (1..400)
            .map(|t| t * 3)
            .flat_map(|t| referrers(t).map(move |r| (t, r)))
            .collect();
        let mut kept = KeptReferrers::default();
        kept.load(pairs);
        assert!(kept.loaded.len() > 10 * INDEX_STRIDE, "several strides");
        for target in 0..1300 {
            let expected: Vec<(NameId, u32)> = if target % 3 == 0 && (3..1200).contains(&target) {
                referrers(target).map(|r| (r, 1)).collect()
            } else {
                Vec::new()
            };
            assert_eq!(sorted(kept.take(target)), expected, "target {target}");
        }
        assert!(kept.loaded.iter().all(|e| e.count == 0));
    }
}
