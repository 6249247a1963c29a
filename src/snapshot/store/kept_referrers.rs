//! The SRV referrers of targets whose nodes were let go (a secondary's store), as
//! (target, referrer, count) entries: those of a whole load in sorted lists, sized
//! exactly, and those kept later (nodes let go after a change) in a table by their
//! target's hash. A list per target (a map entry pointing at an allocation of its own)
//! cost about twice as much: most targets have two to four referrers (the `_tcp` and
//! `_udp` names of an app, and its named ports). One table for all would grow by
//! doubling: at 100k tasks its 440k to 480k entries fall on either side of a doubling,
//! and the long-tailed cluster's would have held twice the room it used.

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

/// A whole load's entries, 7.6 bytes each rather than an `Entry`'s 12 (2 MB at 100k
/// tasks): each target once with where its referrers start, then the referrers and
/// their counts side by side, a target's adjacent. A count is under 256 (the records
/// of one name naming one target: one a port); a pair counted more is kept `later`.
#[derive(Default)]
struct Loaded {
    /// Each target, sorted, and its first referrer's place in `referrers`.
    targets: Vec<(NameId, u32)>,
    referrers: Vec<NameId>,
    /// 0 once given back to the target's node.
    counts: Vec<u8>,
    /// The target of every `INDEX_STRIDE`-th entry of `targets`: a search starts here,
    /// in a list small enough to stay in cache, and ends in one stride of `targets` (a
    /// search of the whole list read some 19 cold lines, 7% of a primary's CPU per
    /// event).
    index: Vec<NameId>,
}

impl Loaded {
    /// The places in `referrers` of `target`'s.
    fn of(&self, target: NameId) -> std::ops::Range<usize> {
        // Strides whose first target is below `target`: it is in the last of them, or
        // the next stride's first.
        let below = self.index.partition_point(|&t| t < target);
        let from = below.saturating_sub(1) * INDEX_STRIDE;
        let to = (below * INDEX_STRIDE + 1).min(self.targets.len());
        let at = from + self.targets[from..to].partition_point(|t| t.0 < target);
        match self.targets.get(at) {
            Some(&(t, first)) if t == target => {
                let end = self
                    .targets
                    .get(at + 1)
                    .map_or(self.referrers.len(), |next| next.1 as usize);
                first as usize..end
            }
            _ => 0..0,
        }
    }
}

#[derive(Default)]
pub(super) struct KeptReferrers {
    /// A whole load's.
    loaded: Loaded,
    /// Kept since, found by their target's hash.
    later: HashTable<Entry>,
}

/// Loaded targets per entry of the index.
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
        let target_of = |key: u64| (key >> 32) as NameId;
        // Counted first, so that the lists are made once at their size.
        let pairs = runs().count();
        let targets = keys.chunk_by(|x, y| target_of(*x) == target_of(*y)).count();
        let mut loaded = Loaded {
            targets: Vec::with_capacity(targets),
            referrers: Vec::with_capacity(pairs),
            counts: Vec::with_capacity(pairs),
            index: Vec::new(),
        };
        for run in runs() {
            let (target, referrer) = (target_of(run[0]), run[0] as NameId);
            if run.len() > usize::from(u8::MAX) {
                self.put(target, &[(referrer, run.len() as u32)]);
                continue;
            }
            if loaded.targets.last().is_none_or(|t| t.0 != target) {
                loaded.targets.push((target, loaded.referrers.len() as u32));
            }
            loaded.referrers.push(referrer);
            loaded.counts.push(run.len() as u8);
        }
        loaded.index = loaded
            .targets
            .iter()
            .step_by(INDEX_STRIDE)
            .map(|t| t.0)
            .collect();
        self.loaded = loaded;
    }

    /// One more SRV record of `referrer` names `target`.
    pub(super) fn add(&mut self, target: NameId, referrer: NameId) {
        let loaded = &mut self.loaded;
        let mut count = 1;
        if let Some(at) = loaded
            .of(target)
            .find(|&at| loaded.referrers[at] == referrer && loaded.counts[at] > 0)
        {
            if loaded.counts[at] < u8::MAX {
                loaded.counts[at] += 1;
                return;
            }
            // Counted past what the list holds: kept later from here on.
            count += u32::from(std::mem::take(&mut loaded.counts[at]));
        }
        let hash = hash_of(target);
        let found = self
            .later
            .find_mut(hash, |e| e.target == target && e.referrer == referrer);
        match found {
            Some(entry) => entry.count += count,
            None => {
                let entry = Entry {
                    target,
                    referrer,
                    count,
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
        let loaded = &mut self.loaded;
        for at in loaded.of(target) {
            let count = std::mem::take(&mut loaded.counts[at]);
            if count > 0 {
                taken.push((loaded.referrers[at], u32::from(count)));
            }
        }
        let hash = hash_of(target);
        while let Ok(entry) = self.later.find_entry(hash, |e| e.target == target) {
            let (e, _) = entry.remove();
            taken.push((e.referrer, e.count));
        }
        taken
    }

    /// Octets held: the loaded lists, and the later table with its control octet an
    /// entry.
    pub(super) fn bytes_held(&self) -> usize {
        let loaded = &self.loaded;
        loaded.targets.capacity() * std::mem::size_of::<(NameId, u32)>()
            + loaded.referrers.capacity() * std::mem::size_of::<NameId>()
            + loaded.counts.capacity()
            + loaded.index.capacity() * std::mem::size_of::<NameId>()
            + self.later.capacity() * (std::mem::size_of::<Entry>() + 1)
    }

    /// Whether every loaded entry was given back.
    #[cfg(test)]
    fn loaded_all_taken(&self) -> bool {
        self.loaded.counts.iter().all(|&c| c == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut referrers: ThinVec<(NameId, u32)>) -> Vec<(NameId, u32)> {
        referrers.sort_unstable();
        referrers.to_vec()
    }

    /// A pair counted past what the loaded lists hold is kept, and counted, later.
    #[test]
    fn a_referrer_counted_past_the_lists_is_kept_whole() {
        let mut kept = KeptReferrers::default();
        let mut pairs = vec![(7, 100); 300];
        pairs.extend([(7, 101), (7, 102), (7, 102)]);
        pairs.extend(vec![(8, 100); 255]);
        kept.load(pairs);
        assert_eq!(kept.later.len(), 1, "(7, 100) is counted 300");
        for _ in 0..3 {
            kept.add(8, 100);
        }
        kept.add(7, 100);
        assert_eq!(sorted(kept.take(7)), [(100, 301), (101, 1), (102, 2)]);
        assert_eq!(sorted(kept.take(8)), [(100, 258)]);
        assert!(kept.later.is_empty() && kept.loaded_all_taken());
    }

    #[test]
    fn a_target_gets_back_the_referrers_kept_for_it_and_no_other() {
        let mut kept = KeptReferrers::default();
        kept.load(vec![(7, 100), (9, 100), (7, 101), (7, 100), (5, 100)]);
        assert_eq!(
            kept.loaded.referrers.len(),
            4,
            "one entry per pair, counted"
        );
        assert_eq!(kept.loaded.targets.len(), 3);
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
        assert!(kept.loaded_all_taken());
    }

    /// Found through the index, across its strides: every target's referrers, none
    /// for a target without any (below, between and past the loaded ones).
    #[test]
    fn the_index_finds_every_loaded_target() {
        let referrers = |target: NameId| (0..target % 5).map(move |r| 1000 + r);
        let pairs: Vec<(NameId, NameId)> = (1..1000)
            .map(|t| t * 3)
            .flat_map(|t| referrers(t).map(move |r| (t, r)))
            .collect();
        let mut kept = KeptReferrers::default();
        kept.load(pairs);
        assert!(
            kept.loaded.targets.len() > 10 * INDEX_STRIDE,
            "several strides"
        );
        for target in 0..3100 {
            let expected: Vec<(NameId, u32)> = if target % 3 == 0 && (3..3000).contains(&target) {
                referrers(target).map(|r| (r, 1)).collect()
            } else {
                Vec::new()
            };
            assert_eq!(sorted(kept.take(target)), expected, "target {target}");
        }
        assert!(kept.loaded_all_taken());
    }
}
