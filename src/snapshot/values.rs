//! [`Values`]: the values of one name of the [`ZoneStore`](super::store::ZoneStore) with
//! their contributor counts, packed into 32-bit words. Each value is a header word (its
//! kind in the low 3 bits, its count above them) and then its data: an A record takes 8
//! bytes, an SRV or PTR record 12, an AAAA record 20 (as `(RData, u32)` pairs each took
//! 24). A 100k-task zone holds 1.27M values, so this is the store's largest table.
//!
//! A name of a large app holds thousands of values: past [`INDEX_FROM`] words the
//! store keeps a [`ValueIndex`] beside it, so an added value is found by hash rather
//! than by a scan of them all. An indexed name's removed values stay as tombstones
//! (count 0, so that the index's positions hold) until they outnumber the live ones.

use crate::records::{NameId, RData};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Words past which a name's values are indexed (about twenty values).
pub const INDEX_FROM: usize = 64;

const KIND_BITS: u32 = 3;
const KIND_MASK: u32 = (1 << KIND_BITS) - 1;
const A: u32 = 0;
const AAAA: u32 = 1;
const SRV: u32 = 2;
const PTR: u32 = 3;
const SERVICE: u32 = 4;
/// The largest count a header holds (far above any number of items sharing a record);
/// a count there stays there rather than wrapping.
const MAX_COUNT: u32 = u32::MAX >> KIND_BITS;

/// A name's values and their counts, in no particular order. Up to four words (an A
/// record and its count, an SRV or PTR record, two A records) are held in place, not on
/// the heap: most names hold one small value.
#[derive(Clone, Debug, Default)]
pub struct Values(Words);

type Words = smallvec::SmallVec<[u32; 4]>;

/// Where each live value of an indexed name starts, by the hash of the value.
#[derive(Debug, Default)]
pub struct ValueIndex {
    positions: HashTable<u32>,
    /// Tombstones among the words.
    removed: usize,
}

impl ValueIndex {
    /// Bytes held (approximately).
    pub fn bytes_held(&self) -> usize {
        self.positions.capacity() * 5
    }
}

fn hash_of(kind: u32, data: &[u32]) -> u64 {
    let mut words = [kind, 0, 0, 0, 0];
    words[1..=data.len()].copy_from_slice(data);
    FixedState::default().hash_one(words)
}

/// One value in its packed form: kind and data words.
struct Packed {
    kind: u32,
    words: [u32; 4],
    len: usize,
}

impl Packed {
    fn of(value: RData) -> Packed {
        let (kind, words, len) = match value {
            RData::A(ip) => (A, [u32::from(ip), 0, 0, 0], 1),
            RData::Aaaa(ip) => {
                let o = ip.octets();
                let word = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                (AAAA, [word(0), word(4), word(8), word(12)], 4)
            }
            RData::Srv { target, port } => (SRV, [target, u32::from(port), 0, 0], 2),
            RData::Ptr { target, rank } => (PTR, [target, u32::from(rank), 0, 0], 2),
            RData::Service {
                target,
                port,
                priority,
                weight,
            } => (
                SERVICE,
                [
                    target,
                    u32::from(port),
                    u32::from(priority) << 16 | u32::from(weight),
                    0,
                ],
                3,
            ),
        };
        Packed { kind, words, len }
    }

    fn data(&self) -> &[u32] {
        &self.words[..self.len]
    }
}

/// How many data words follow a header of `kind`.
fn data_len(kind: u32) -> usize {
    match kind {
        A => 1,
        AAAA => 4,
        SERVICE => 3,
        _ => 2,
    }
}

fn unpack(kind: u32, data: &[u32]) -> RData {
    match kind {
        A => RData::A(Ipv4Addr::from(data[0])),
        AAAA => {
            let mut octets = [0u8; 16];
            for (chunk, word) in octets.chunks_exact_mut(4).zip(data) {
                chunk.copy_from_slice(&word.to_be_bytes());
            }
            RData::Aaaa(Ipv6Addr::from(octets))
        }
        SRV => RData::Srv {
            target: data[0] as NameId,
            port: data[1] as u16,
        },
        PTR => RData::Ptr {
            target: data[0] as NameId,
            rank: data[1] as u8,
        },
        _ => RData::Service {
            target: data[0] as NameId,
            port: data[1] as u16,
            priority: (data[2] >> 16) as u16,
            weight: data[2] as u16,
        },
    }
}

impl Values {
    /// Whether the name has no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the store should index these values (see [`INDEX_FROM`]).
    pub fn wants_index(&self) -> bool {
        self.0.len() >= INDEX_FROM
    }

    /// Every packed value, tombstones included: (where its header is, its kind, its
    /// count, its data words).
    fn entries(&self) -> impl Iterator<Item = (usize, u32, u32, &[u32])> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let header = *self.0.get(at)?;
            let kind = header & KIND_MASK;
            let start = at;
            at += 1 + data_len(kind);
            Some((start, kind, header >> KIND_BITS, &self.0[start + 1..at]))
        })
    }

    /// Every value with its count (an indexed name's tombstones, count 0, skipped).
    pub fn iter(&self) -> impl Iterator<Item = (RData, u32)> + '_ {
        self.entries()
            .filter(|&(_, _, count, _)| count > 0)
            .map(|(_, kind, count, data)| (unpack(kind, data), count))
    }

    /// An index of these values (which hold no tombstones: they were never indexed, or
    /// were just compacted).
    pub fn index(&self) -> ValueIndex {
        let mut index = ValueIndex::default();
        for (at, kind, _, data) in self.entries() {
            index
                .positions
                .insert_unique(hash_of(kind, data), at as u32, |&p| {
                    self.hash_at(p as usize)
                });
        }
        index
    }

    fn hash_at(&self, at: usize) -> u64 {
        let kind = self.0[at] & KIND_MASK;
        hash_of(kind, &self.0[at + 1..at + 1 + data_len(kind)])
    }

    fn holds_at(&self, at: usize, packed: &Packed) -> bool {
        self.0[at] & KIND_MASK == packed.kind
            && self.0[at + 1..at + 1 + packed.len] == *packed.data()
    }

    /// Where the header of `value` is, by a scan (a name that is not indexed holds
    /// few values). It rejects on the first data word before comparing the rest.
    fn find(&self, packed: &Packed) -> Option<usize> {
        self.entries()
            .find(|&(_, kind, _, data)| {
                kind == packed.kind && data[0] == packed.words[0] && data == packed.data()
            })
            .map(|(at, ..)| at)
    }

    /// Where `packed` is, through `index` when the name has one.
    fn locate(&self, packed: &Packed, index: Option<&ValueIndex>) -> Option<usize> {
        match index {
            None => self.find(packed),
            Some(index) => index
                .positions
                .find(hash_of(packed.kind, packed.data()), |&p| {
                    self.holds_at(p as usize, packed)
                })
                .map(|&p| p as usize),
        }
    }

    /// Adds one contributor to `value` (one more only when `count_again`, for a value
    /// already held); true when the value is new.
    pub fn add(&mut self, value: RData, count_again: bool, index: Option<&mut ValueIndex>) -> bool {
        let packed = Packed::of(value);
        if let Some(at) = self.locate(&packed, index.as_deref()) {
            if count_again && self.0[at] >> KIND_BITS < MAX_COUNT {
                self.0[at] += 1 << KIND_BITS;
            }
            return false;
        }
        // Most names hold one to three values: grow exactly while small.
        let words = 1 + packed.len;
        if self.0.capacity() - self.0.len() < words && self.0.len() < 32 {
            self.0.reserve_exact(words);
        }
        let at = self.0.len();
        self.0.push(packed.kind | 1 << KIND_BITS);
        self.0.extend_from_slice(packed.data());
        if let Some(index) = index {
            let hash = hash_of(packed.kind, packed.data());
            let words = &*self;
            index
                .positions
                .insert_unique(hash, at as u32, |&p| words.hash_at(p as usize));
        }
        true
    }

    /// Takes one contributor from `value`: `None` when it is not held, else whether it
    /// went (its last contributor). An indexed name left with no values has an empty
    /// index, which the store drops.
    pub fn remove(&mut self, value: RData, index: Option<&mut ValueIndex>) -> Option<bool> {
        let packed = Packed::of(value);
        let at = self.locate(&packed, index.as_deref())?;
        let count = self.0[at] >> KIND_BITS;
        if count > 1 {
            self.0[at] -= 1 << KIND_BITS;
            return Some(false);
        }
        match index {
            None => {
                self.0.drain(at..at + 1 + packed.len);
            }
            Some(index) => {
                // A tombstone keeps the other positions right.
                self.0[at] = packed.kind;
                let hash = hash_of(packed.kind, packed.data());
                if let Ok(entry) = index.positions.find_entry(hash, |&p| p as usize == at) {
                    entry.remove();
                }
                index.removed += 1;
                if index.positions.is_empty() {
                    self.0.clear();
                    *index = ValueIndex::default();
                } else if index.removed > index.positions.len() {
                    self.0 = self.live_words();
                    *index = self.index();
                }
            }
        }
        if self.0.is_empty() {
            self.0 = Words::new();
        }
        Some(true)
    }

    /// The words of the live values only.
    fn live_words(&self) -> Words {
        let mut live = Words::with_capacity(self.0.len());
        for (at, _, count, data) in self.entries() {
            if count > 0 {
                live.extend_from_slice(&self.0[at..at + 1 + data.len()]);
            }
        }
        live
    }

    /// A value as its packed words (kind, data): an order to sort values by, in which
    /// equal values are adjacent.
    pub fn packed(value: RData) -> (u32, [u32; 4]) {
        let packed = Packed::of(value);
        (packed.kind, packed.words)
    }

    /// Values each held once, as a transferred zone's sets give them back (a shard
    /// whose nodes were let go: see `ZoneStore::let_go_of_nodes`).
    pub fn from_unique<I>(values: I) -> Values
    where
        I: IntoIterator<Item = RData>,
        I::IntoIter: Clone,
    {
        Values::from_counted(values.into_iter().map(|v| (v, 1)))
    }

    /// Values with their contributor counts (each value once; a count of at least 1),
    /// in the order given.
    pub fn from_counted(values: impl Iterator<Item = (RData, u32)> + Clone) -> Values {
        // Made at its size at once: most names' values stay in place.
        let len = values.clone().map(|(v, _)| 1 + Packed::of(v).len).sum();
        let mut words = Words::with_capacity(len);
        for (value, count) in values {
            let packed = Packed::of(value);
            words.push(packed.kind | count.clamp(1, MAX_COUNT) << KIND_BITS);
            words.extend_from_slice(packed.data());
        }
        Values(words)
    }

    /// How many values there are, when the name's sets can give every one back exactly
    /// ([`Values::from_unique`]): each held once, SRV values with their own priority
    /// and weight (or generated ones, when `generated_srv`: a primary's store knows the
    /// priority and weight its SRV records are served with), PTR candidates of rank 0
    /// (a transferred zone's); `None` otherwise.
    pub fn restorable_count(&self, generated_srv: bool) -> Option<usize> {
        let mut values = 0;
        for (_, kind, count, data) in self.entries() {
            match count {
                // An indexed name's tombstone.
                0 => continue,
                1 if Values::restorable(unpack(kind, data), generated_srv) => values += 1,
                _ => return None,
            }
        }
        Some(values)
    }

    /// Whether a set gives `value` back as it is: an address, an SRV record with its
    /// own priority and weight, a generated SRV record when `generated_srv`, a PTR
    /// candidate of rank 0 (a transferred zone's).
    pub fn restorable(value: RData, generated_srv: bool) -> bool {
        match value {
            RData::A(_) | RData::Aaaa(_) | RData::Service { .. } => true,
            RData::Ptr { rank, .. } => rank == 0,
            RData::Srv { .. } => generated_srv,
        }
    }

    /// Bytes held on the heap.
    pub fn bytes_held(&self) -> usize {
        if self.0.spilled() {
            self.0.capacity() * 4
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_given_back_by_their_sets_are_the_values_held() {
        let transferred = [
            RData::A(Ipv4Addr::new(10, 1, 2, 3)),
            RData::Aaaa("fd01:b::c27a:1".parse().unwrap()), // ok: test
            RData::Ptr { target: 9, rank: 0 },
            RData::Service {
                target: 11,
                port: 53,
                priority: 1,
                weight: 3,
            },
        ];
        let mut held = Values::default();
        for v in transferred {
            held.add(v, false, None);
        }
        assert_eq!(held.restorable_count(false), Some(4));
        let back = Values::from_unique(transferred);
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            held.iter().collect::<Vec<_>>()
        );
        // What sets cannot give back: a second contributor, a rank, an SRV value
        // without its own priority and weight.
        held.add(transferred[0], true, None);
        assert_eq!(held.restorable_count(false), None);
        // Made with their counts, they are the values held.
        let counted = Values::from_counted(
            transferred
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, if i == 0 { 2 } else { 1 })),
        );
        assert_eq!(
            counted.iter().collect::<Vec<_>>(),
            held.iter().collect::<Vec<_>>()
        );
        for other in [
            RData::Ptr { target: 9, rank: 1 },
            RData::Srv {
                target: 7,
                port: 80,
            },
        ] {
            let mut one = Values::default();
            one.add(other, false, None);
            assert_eq!(one.restorable_count(false), None, "{other:?}");
        }
        // A primary's store gives its generated SRV records back.
        let mut generated = Values::default();
        generated.add(
            RData::Srv {
                target: 7,
                port: 80,
            },
            false,
            None,
        );
        assert_eq!(generated.restorable_count(true), Some(1));
    }

    #[test]
    fn every_kind_packs_and_counts() {
        let kinds = [
            RData::A(Ipv4Addr::new(10, 1, 2, 3)),
            RData::Aaaa("fd01:b::c27a:1".parse().unwrap()), // ok: test
            RData::Srv {
                target: 7,
                port: 31000,
            },
            RData::Ptr { target: 9, rank: 1 },
            RData::Service {
                target: 11,
                port: 53,
                priority: 65535,
                weight: 3,
            },
        ];
        let mut values = Values::default();
        for v in kinds {
            assert!(values.add(v, true, None));
        }
        assert!(!values.add(kinds[1], true, None));
        assert!(!values.add(kinds[2], false, None));
        let held: Vec<(RData, u32)> = values.iter().collect();
        let expected: Vec<(RData, u32)> = kinds
            .iter()
            .map(|&v| (v, if v == kinds[1] { 2 } else { 1 }))
            .collect();
        assert_eq!(held, expected);
        assert_eq!(values.remove(kinds[1], None), Some(false));
        assert_eq!(values.remove(kinds[0], None), Some(true));
        assert_eq!(values.remove(kinds[0], None), None);
        for v in &kinds[1..] {
            assert_eq!(values.remove(*v, None), Some(true));
        }
        assert!(values.is_empty());
    }

    /// An indexed name (as the store keeps one: indexed once it is large, the index
    /// dropped when it empties) holds what a plain count table holds, through adds,
    /// repeats, removals, tombstones and their compaction.
    #[test]
    fn an_indexed_name_counts_like_a_table() {
        let mut values = Values::default();
        let mut index: Option<ValueIndex> = None;
        let mut table: std::collections::HashMap<RData, u32> = Default::default();
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut was_indexed = false;
        for step in 0..6_000 {
            let value = match next(3) {
                0 => RData::A(Ipv4Addr::from(next(300) as u32)),
                1 => RData::Srv {
                    target: next(200) as NameId,
                    port: 80,
                },
                _ => RData::Aaaa(Ipv6Addr::from(u128::from(next(100) as u32))),
            };
            // Mostly adds until step 2,500, then mostly removals: the name grows past
            // the index's threshold and empties again.
            let adding = next(100) < if step < 2_500 { 70 } else { 25 };
            if adding {
                let new = values.add(value, true, index.as_mut());
                assert_eq!(new, !table.contains_key(&value));
                *table.entry(value).or_insert(0) += 1;
                if index.is_none() && values.wants_index() {
                    index = Some(values.index());
                    was_indexed = true;
                }
            } else {
                let removed = values.remove(value, index.as_mut());
                let expected = table.get(&value).map(|&n| n == 1);
                assert_eq!(removed, expected);
                if let Some(n) = table.get_mut(&value) {
                    *n -= 1;
                    if *n == 0 {
                        table.remove(&value);
                    }
                }
                if values.is_empty() {
                    index = None;
                }
            }
            if step % 20 != 0 {
                continue;
            }
            let mut held: Vec<(RData, u32)> = values.iter().collect();
            let mut want: Vec<(RData, u32)> = table.iter().map(|(&v, &n)| (v, n)).collect();
            held.sort_unstable_by_key(|(v, _)| format!("{v:?}"));
            want.sort_unstable_by_key(|(v, _)| format!("{v:?}"));
            assert_eq!(held, want, "step {step}");
        }
        assert!(was_indexed);
    }
}
