//! The records of a whole load as they come in: 16 bytes each ([`LoadedRecord`]: an
//! `(NameId, RData)` takes 24, as an IPv6 address is 16 octets) in chunks of one size
//! ([`RecordChunks`]), made one list once every record is in. At 100k tasks the list
//! is 1.27M records, held until the sets are made: the chunks and the smaller records
//! took a secondary's load from a peak of 119 MB (a list grown by doubling held its
//! old room beside its new) to under 100.

use crate::allocator::return_freed_pages;
use crate::records::{NameId, RData};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A loaded record: its owner and its value, an AAAA record's address by its place in
/// the load's [`Ipv6Table`] (so that equal records are equal bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LoadedRecord {
    /// The owner.
    pub(super) owner: NameId,
    /// An A record's address, an AAAA record's place, an SRV or PTR record's target.
    word: u32,
    port: u16,
    priority: u16,
    weight: u16,
    kind: Kind,
    /// A PTR record's rank.
    rank: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    A,
    Aaaa,
    Srv,
    Service,
    Ptr,
}

/// The IPv6 addresses of a load, each once.
#[derive(Default)]
pub(super) struct Ipv6Table {
    addresses: Vec<Ipv6Addr>,
    places: HashMap<Ipv6Addr, u32, foldhash::fast::FixedState>,
}

impl Ipv6Table {
    fn place(&mut self, ip: Ipv6Addr) -> u32 {
        let next = self.addresses.len() as u32;
        let place = *self.places.entry(ip).or_insert(next);
        if place == next {
            self.addresses.push(ip);
        }
        place
    }

    /// The addresses, by place (the lookup table is let go).
    pub(super) fn into_addresses(self) -> Vec<Ipv6Addr> {
        self.addresses
    }
}

impl LoadedRecord {
    fn new(owner: NameId, rdata: RData, v6: &mut Ipv6Table) -> LoadedRecord {
        let mut record = LoadedRecord {
            owner,
            word: 0,
            port: 0,
            priority: 0,
            weight: 0,
            kind: Kind::A,
            rank: 0,
        };
        match rdata {
            RData::A(ip) => record.word = ip.to_bits(),
            RData::Aaaa(ip) => (record.kind, record.word) = (Kind::Aaaa, v6.place(ip)),
            RData::Srv { target, port } => {
                (record.kind, record.word, record.port) = (Kind::Srv, target, port)
            }
            RData::Service {
                target,
                port,
                priority,
                weight,
            } => {
                record.kind = Kind::Service;
                (record.word, record.port) = (target, port);
                (record.priority, record.weight) = (priority, weight);
            }
            RData::Ptr { target, rank } => {
                (record.kind, record.word, record.rank) = (Kind::Ptr, target, rank)
            }
        }
        record
    }

    /// Its value (`v6`: the load's IPv6 addresses, by place).
    #[inline]
    pub(super) fn rdata(&self, v6: &[Ipv6Addr]) -> RData {
        match self.kind {
            Kind::A => RData::A(Ipv4Addr::from_bits(self.word)),
            Kind::Aaaa => RData::Aaaa(v6[self.word as usize]),
            Kind::Srv => RData::Srv {
                target: self.word,
                port: self.port,
            },
            Kind::Service => RData::Service {
                target: self.word,
                port: self.port,
                priority: self.priority,
                weight: self.weight,
            },
            Kind::Ptr => RData::Ptr {
                target: self.word,
                rank: self.rank,
            },
        }
    }

    /// Whether it names a target (SRV, PTR).
    pub(super) fn has_target(&self) -> bool {
        matches!(self.kind, Kind::Srv | Kind::Service | Kind::Ptr)
    }
}

/// Records as they come, in chunks of one size: a list grown by doubling held its old
/// room and its new at each growth (at 100k tasks the last took a secondary's resident
/// memory from 89 to 119 MB for a moment).
#[derive(Default)]
pub(super) struct RecordChunks {
    chunks: Vec<Vec<LoadedRecord>>,
    v6: Ipv6Table,
}

/// Records a chunk holds (1 MB).
const CHUNK: usize = 1 << 16;

/// Chunks moved into the whole list between two returns of their pages.
const CHUNKS_PER_RETURN: usize = 8;

impl RecordChunks {
    pub(super) fn push(&mut self, owner: NameId, rdata: RData) {
        let record = LoadedRecord::new(owner, rdata, &mut self.v6);
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
    }

    /// Every record in one list made exactly as long, and the IPv6 addresses: each
    /// chunk is freed once moved, and the pages of those freed go back to the system
    /// every few chunks (otherwise the list and the chunks' freed room are both held
    /// until the end).
    pub(super) fn into_list(self) -> (Vec<LoadedRecord>, Vec<Ipv6Addr>) {
        let mut list = Vec::with_capacity(self.chunks.iter().map(Vec::len).sum());
        for (i, chunk) in self.chunks.into_iter().enumerate() {
            list.extend_from_slice(&chunk);
            drop(chunk);
            if i % CHUNKS_PER_RETURN == CHUNKS_PER_RETURN - 1 {
                return_freed_pages();
            }
        }
        (list, self.v6.into_addresses())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_16_bytes_and_reads_back_its_value() {
        assert_eq!(std::mem::size_of::<LoadedRecord>(), 16);
        let values = [
            RData::A("10.1.2.3".parse().unwrap()),   // ok: test
            RData::Aaaa("fd00::1".parse().unwrap()), // ok: test
            RData::Srv {
                target: 7,
                port: 31000,
            },
            RData::Service {
                target: 8,
                port: 1,
                priority: 2,
                weight: 3,
            },
            RData::Ptr { target: 9, rank: 1 },
            RData::Aaaa("fd00::2".parse().unwrap()), // ok: test
            RData::Aaaa("fd00::1".parse().unwrap()), // ok: test
        ];
        let mut chunks = RecordChunks::default();
        // Across a chunk's end.
        for i in 0..CHUNK + values.len() {
            chunks.push(i as NameId, values[i % values.len()]);
        }
        let (list, v6) = chunks.into_list();
        assert_eq!(list.len(), CHUNK + values.len());
        // Each address once: equal records are equal bytes.
        assert_eq!(v6.len(), 2);
        assert_eq!(list[1].kind, list[6].kind);
        assert_eq!(list[1].word, list[6].word);
        for (i, record) in list.iter().enumerate() {
            assert_eq!(record.owner, i as NameId);
            assert_eq!(record.rdata(&v6), values[i % values.len()]);
            assert_eq!(
                record.has_target(),
                values[i % values.len()].target().is_some()
            );
        }
    }
}
