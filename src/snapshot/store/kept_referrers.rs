//! The SRV referrers of targets whose nodes were let go (a secondary's store), in one
//! table of (target, referrer, count) entries. A list per target (a map entry pointing
//! at an allocation of its own) cost twice as much: most targets have two to four
//! referrers (the `_tcp` and `_udp` names of an app, and its named ports), and 140k
//! small lists at 100k tasks were 16 octets of map entry and a 32- or 48-octet
//! allocation each, against 12 octets an entry here.

use super::NameId;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use thin_vec::ThinVec;

/// One referrer of one target: how many of its SRV records name the target.
#[derive(Clone, Copy)]
struct Entry {
    target: NameId,
    referrer: NameId,
    count: u32,
}

/// Every entry is found by its target's hash: a target's referrers are the entries of
/// its hash with its id.
#[derive(Default)]
pub(super) struct KeptReferrers {
    entries: HashTable<Entry>,
}

fn hash_of(target: NameId) -> u64 {
    FixedState::default().hash_one(target)
}

impl KeptReferrers {
    /// One more SRV record of `referrer` names `target`.
    pub(super) fn add(&mut self, target: NameId, referrer: NameId) {
        let hash = hash_of(target);
        let found = self
            .entries
            .find_mut(hash, |e| e.target == target && e.referrer == referrer);
        match found {
            Some(entry) => entry.count += 1,
            None => {
                self.entries.insert_unique(
                    hash,
                    Entry {
                        target,
                        referrer,
                        count: 1,
                    },
                    |e| hash_of(e.target),
                );
            }
        }
    }

    /// Keeps the referrers of a node let go.
    pub(super) fn put(&mut self, target: NameId, referrers: &[(NameId, u32)]) {
        let hash = hash_of(target);
        for &(referrer, count) in referrers {
            self.entries.insert_unique(
                hash,
                Entry {
                    target,
                    referrer,
                    count,
                },
                |e| hash_of(e.target),
            );
        }
    }

    /// The referrers of `target`, taken out (for its node, given back).
    pub(super) fn take(&mut self, target: NameId) -> ThinVec<(NameId, u32)> {
        let hash = hash_of(target);
        let mut taken = ThinVec::new();
        while let Ok(entry) = self.entries.find_entry(hash, |e| e.target == target) {
            let (
                Entry {
                    referrer, count, ..
                },
                _,
            ) = entry.remove();
            taken.push((referrer, count));
        }
        taken
    }

    /// Octets held: the entries with the table's control octet each.
    pub(super) fn bytes_held(&self) -> usize {
        self.entries.capacity() * (std::mem::size_of::<Entry>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_gets_back_the_referrers_kept_for_it_and_no_other() {
        let mut kept = KeptReferrers::default();
        kept.add(7, 100);
        kept.add(7, 101);
        kept.add(7, 100);
        kept.put(8, &[(100, 3), (102, 1)]);
        kept.add(9, 100);
        let mut seven = kept.take(7).to_vec();
        seven.sort_unstable();
        assert_eq!(seven, [(100, 2), (101, 1)]);
        assert!(kept.take(7).is_empty(), "taken once");
        let mut eight = kept.take(8).to_vec();
        eight.sort_unstable();
        assert_eq!(eight, [(100, 3), (102, 1)]);
        assert_eq!(kept.take(9).to_vec(), [(100, 1)]);
        assert!(kept.entries.is_empty());
    }
}
