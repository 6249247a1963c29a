//! Zone transfers, primary side (RFC 5936): a whole zone out of one snapshot as a stream
//! of DNS messages over TCP, written one message at a time as the connection drains, so
//! a 100k-task zone never sits in memory twice.
//!
//! The order is deterministic for a snapshot: the SOA, the apex NS, then every name of the
//! zone shard by shard, names sorted within a shard, each name's A, AAAA, SRV and PTR
//! records in set order; the SOA again last. IXFR is answered the same way (a full zone,
//! which RFC 1995 §4 allows) until the journal serves it.

use crate::dns::wire::{HEADER_LEN, TCP_MAX, pointer};
use crate::snapshot::sets::RrSet;
use crate::snapshot::shards::SHARDS;
use crate::snapshot::{Snapshot, in_zone};
use std::sync::Arc;

/// Messages are filled up to about this many octets (RFC 5936 §2.2: as many records as
/// fit, within the 64 KiB limit).
const MESSAGE_TARGET: usize = 16 * 1024;

/// QR, AA.
const FLAGS: u16 = 0x8000 | 0x0400;

/// Where the transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The opening SOA and the apex NS.
    Opening,
    /// Names of shard `shard`, from position `at` of its sorted order.
    Names {
        shard: usize,
        at: usize,
    },
    /// The closing SOA.
    Closing,
    Done,
}

/// One outgoing transfer.
pub(crate) struct Transfer {
    snap: Arc<Snapshot>,
    id: u16,
    /// The question as asked (name, type, class).
    question: Vec<u8>,
    /// The zone's apex, lower-cased wire form.
    apex: Vec<u8>,
    step: Step,
    /// The current shard's names in the zone: (key, slot index), sorted by key.
    names: Vec<(Box<[u8]>, usize)>,
}

impl Transfer {
    /// A transfer of the zone at `apex` (lower-cased wire form, one of the snapshot's
    /// apexes) for the query `packet` with its question ending at `question_end`.
    pub(crate) fn new(
        snap: Arc<Snapshot>,
        packet: &[u8],
        question_end: usize,
        apex: &[u8],
    ) -> Transfer {
        Transfer {
            snap,
            id: u16::from_be_bytes([packet[0], packet[1]]),
            question: packet[HEADER_LEN..question_end].to_vec(),
            apex: apex.to_vec(),
            step: Step::Opening,
            names: Vec::new(),
        }
    }

    /// Whether every message has been written.
    pub(crate) fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Appends the next message, with its 2-octet length, to `out`.
    pub(crate) fn next_message(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        let msg = out.len();
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&FLAGS.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&self.question);
        let mut count: u16 = 0;
        let snap = Arc::clone(&self.snap);
        let zone = &snap.zone;
        while out.len() - msg < MESSAGE_TARGET && self.step != Step::Done {
            match self.step {
                Step::Opening => {
                    count += copy_set(out, zone.soa.as_deref(), &[0xC0, 12]);
                    count += copy_set(out, zone.ns.as_deref(), &[0xC0, 12]);
                    self.enter_shard(0);
                }
                Step::Names { shard, at } => {
                    let Some((key, slot)) = self.names.get(at) else {
                        self.enter_shard(shard + 1);
                        continue;
                    };
                    let Some(slot) = snap.shard(shard).slot(*slot) else {
                        self.step = Step::Names { shard, at: at + 1 };
                        continue;
                    };
                    let owner = owner_name(key, self.apex.len());
                    for set in [&slot.a, &slot.aaaa, &slot.srv, &slot.ptr] {
                        count += copy_set(out, set.as_deref(), &owner);
                    }
                    self.step = Step::Names { shard, at: at + 1 };
                }
                Step::Closing => {
                    count += copy_set(out, zone.soa.as_deref(), &[0xC0, 12]);
                    self.step = Step::Done;
                }
                Step::Done => {}
            }
        }
        out[msg + 6..msg + 8].copy_from_slice(&count.to_be_bytes());
        let len = (out.len() - msg) as u16;
        out[start..start + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// Moves to shard `shard` (or to the closing SOA after the last), collecting its
    /// names in the zone in key order.
    fn enter_shard(&mut self, shard: usize) {
        if shard >= SHARDS {
            self.names.clear();
            self.step = Step::Closing;
            return;
        }
        let apex = &self.apex;
        self.names = self
            .snap
            .shard(shard)
            .entries()
            .filter(|(_, key)| in_zone(key, apex))
            .map(|(i, key)| (Box::from(key), i))
            .collect();
        self.names.sort_unstable();
        self.step = Step::Names { shard, at: 0 };
    }
}

/// A name's owner field: its labels above the apex, then a pointer to the question
/// (the apex).
fn owner_name(key: &[u8], apex_len: usize) -> Vec<u8> {
    let mut owner = key[..key.len() - apex_len].to_vec();
    owner.extend_from_slice(&pointer(HEADER_LEN).unwrap_or([0xC0, 12]));
    owner
}

/// Appends every record of `set` under `owner` (each stored record starts with a
/// 2-octet pointer to the question, replaced here); returns how many.
fn copy_set(out: &mut Vec<u8>, set: Option<&RrSet>, owner: &[u8]) -> u16 {
    let Some(set) = set else { return 0 };
    let mut n = 0;
    for record in set.records() {
        if out.len() + owner.len() + record.len() > TCP_MAX {
            break;
        }
        out.extend_from_slice(owner);
        out.extend_from_slice(&record[2..]);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_point_at_the_apex() {
        // www.mesos. under mesos.
        let key = b"\x03www\x05mesos\x00";
        assert_eq!(owner_name(key, 7), b"\x03www\xC0\x0C".to_vec());
        assert_eq!(owner_name(b"\x05mesos\x00", 7), vec![0xC0, 12]);
    }
}
