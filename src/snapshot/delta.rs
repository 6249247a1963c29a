//! Deltas: the store records one publish took away and added (their count is logged;
//! IXFR serves the changes to the *served* records, `history.rs`).

use crate::records::{NameId, RData};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One record of a delta, with names as text (lower case, trailing dot).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeltaRecord {
    pub name: Box<str>,
    pub data: DeltaData,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeltaData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv {
        target: Box<str>,
        port: u16,
    },
    /// An SRV record with its own priority and weight (a transferred zone).
    Service {
        target: Box<str>,
        port: u16,
        priority: u16,
        weight: u16,
    },
    /// A reverse-lookup candidate (`ReversePolicy` picks what is served).
    Ptr {
        target: Box<str>,
        rank: u8,
    },
}

/// The records that went away and came between two versions of the zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub removed: Vec<DeltaRecord>,
    pub added: Vec<DeltaRecord>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }

    pub fn len(&self) -> usize {
        self.removed.len() + self.added.len()
    }
}

/// A batch larger than this is not kept as a delta (a first load, a resync that
/// changed most of the zone): a transfer then sends the whole zone.
pub(crate) const MAX_DELTA_RECORDS: usize = 200_000;

/// Room a list kept between batches keeps after a whole load (pending records here, the
/// store's dirty names): a whole load's room is not held for small batches.
pub(crate) const KEPT_ROOM: usize = 1024;

/// Collects record changes while a batch is applied.
#[derive(Debug, Default)]
pub(crate) struct DeltaBuilder {
    pending: Vec<(NameId, RData, bool)>,
    overflow: bool,
}

impl DeltaBuilder {
    pub(crate) fn record(&mut self, owner: NameId, rdata: RData, added: bool) {
        if self.overflow {
            return;
        }
        if self.pending.len() >= MAX_DELTA_RECORDS {
            self.overflow = true;
            self.pending = Vec::new();
            return;
        }
        self.pending.push((owner, rdata, added));
    }

    /// Drops what was collected.
    pub(crate) fn forget(&mut self) {
        self.pending.clear();
        self.pending.shrink_to(KEPT_ROOM);
        self.overflow = false;
    }

    /// The net delta since the last call (a record added then removed in one batch
    /// cancels out), or `None` when the batch overflowed.
    pub(crate) fn take(&mut self, name: impl Fn(NameId) -> Box<str>) -> Option<Delta> {
        let pending = std::mem::take(&mut self.pending);
        if std::mem::take(&mut self.overflow) {
            return None;
        }
        let mut net: std::collections::HashMap<(NameId, RData), i32, foldhash::fast::FixedState> =
            Default::default();
        let mut order = Vec::new();
        for (owner, rdata, added) in pending {
            let n = net.entry((owner, rdata)).or_insert_with(|| {
                order.push((owner, rdata));
                0
            });
            *n += if added { 1 } else { -1 };
        }
        let mut delta = Delta::default();
        for key in order {
            let n = net[&key];
            if n == 0 {
                continue;
            }
            let (owner, rdata) = key;
            let data = match rdata {
                RData::A(ip) => DeltaData::A(ip),
                RData::Aaaa(ip) => DeltaData::Aaaa(ip),
                RData::Srv { target, port } => DeltaData::Srv {
                    target: name(target),
                    port,
                },
                RData::Service {
                    target,
                    port,
                    priority,
                    weight,
                } => DeltaData::Service {
                    target: name(target),
                    port,
                    priority,
                    weight,
                },
                RData::Ptr { target, rank } => DeltaData::Ptr {
                    target: name(target),
                    rank,
                },
            };
            let record = DeltaRecord {
                name: name(owner),
                data,
            };
            if n > 0 {
                delta.added.push(record);
            } else {
                delta.removed.push(record);
            }
        }
        Some(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_added_and_removed_cancels_out() {
        let mut b = DeltaBuilder::default();
        let a = RData::A(Ipv4Addr::new(10, 0, 0, 1));
        b.record(1, a, true);
        b.record(1, a, false);
        b.record(2, a, true);
        let d = b.take(|id| format!("n{id}.").into()).unwrap(); // ok: test
        assert!(d.removed.is_empty());
        assert_eq!(d.added.len(), 1);
    }
}
