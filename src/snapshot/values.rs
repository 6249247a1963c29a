//! [`Values`]: the values of one name of the [`ZoneStore`](super::store::ZoneStore) with
//! their contributor counts, packed into 32-bit words. Each value is a header word (its
//! kind in the low 3 bits, its count above them) and then its data: an A record takes 8
//! bytes, an SRV or PTR record 12, an AAAA record 20 (as `(RData, u32)` pairs each took
//! 24). A 100k-task zone holds 1.27M values, so this is the store's largest table.

use crate::records::{NameId, RData};
use std::net::{Ipv4Addr, Ipv6Addr};

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

/// A name's values and their counts, in no particular order.
#[derive(Debug, Default)]
pub struct Values(Vec<u32>);

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

    /// Every value with its count.
    pub fn iter(&self) -> impl Iterator<Item = (RData, u32)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let header = *self.0.get(at)?;
            let kind = header & KIND_MASK;
            let end = at + 1 + data_len(kind);
            let value = unpack(kind, &self.0[at + 1..end]);
            at = end;
            Some((value, header >> KIND_BITS))
        })
    }

    /// Where the header of `value` is. A linear scan (names of large apps hold
    /// thousands of values), so it compares words one by one and rejects on the first
    /// data word, never calling `memcmp` for a few bytes.
    fn find(&self, packed: &Packed) -> Option<usize> {
        let words = &self.0;
        let mut at = 0;
        while at < words.len() {
            let kind = words[at] & KIND_MASK;
            let len = data_len(kind);
            if kind == packed.kind
                && words[at + 1] == packed.words[0]
                && (1..len).all(|i| words[at + 1 + i] == packed.words[i])
            {
                return Some(at);
            }
            at += 1 + len;
        }
        None
    }

    /// Adds one contributor to `value` (one more only when `count_again`, for a value
    /// already held); true when the value is new.
    pub fn add(&mut self, value: RData, count_again: bool) -> bool {
        let packed = Packed::of(value);
        if let Some(at) = self.find(&packed) {
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
        self.0.push(packed.kind | 1 << KIND_BITS);
        self.0.extend_from_slice(packed.data());
        true
    }

    /// Takes one contributor from `value`: `None` when it is not held, else whether it
    /// went (its last contributor).
    pub fn remove(&mut self, value: RData) -> Option<bool> {
        let packed = Packed::of(value);
        let at = self.find(&packed)?;
        let count = self.0[at] >> KIND_BITS;
        if count > 1 {
            self.0[at] -= 1 << KIND_BITS;
            return Some(false);
        }
        self.0.drain(at..at + 1 + packed.len);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
        Some(true)
    }

    /// Bytes held on the heap.
    pub fn bytes_held(&self) -> usize {
        self.0.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_packs_and_counts() {
        let kinds = [
            RData::A(Ipv4Addr::new(10, 1, 2, 3)),
            RData::Aaaa("fd01:b::c27a:1".parse().unwrap()),
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
            assert!(values.add(v, true));
        }
        assert!(!values.add(kinds[1], true));
        assert!(!values.add(kinds[2], false));
        let held: Vec<(RData, u32)> = values.iter().collect();
        let expected: Vec<(RData, u32)> = kinds
            .iter()
            .map(|&v| (v, if v == kinds[1] { 2 } else { 1 }))
            .collect();
        assert_eq!(held, expected);
        assert_eq!(values.remove(kinds[1]), Some(false));
        assert_eq!(values.remove(kinds[0]), Some(true));
        assert_eq!(values.remove(kinds[0]), None);
        for v in &kinds[1..] {
            assert_eq!(values.remove(*v), Some(true));
        }
        assert!(values.is_empty());
    }
}
