//! What each publish changed in the served records, kept for IXFR (RFC 1995): a bounded
//! chain of deltas, oldest first, shared by every snapshot that carries it.
//!
//! A delta holds records in wire form with their owner written out (lower-cased,
//! uncompressed): what was served before and after, after `ReversePolicy` and the other
//! answer rules, so a secondary that applies them holds exactly the zone served here.

use super::shards::Slot;
use super::store::DirtyName;
use super::{Snapshot, in_zone};
use std::collections::HashSet;
use std::sync::Arc;

/// Records in wire form, each with its owner written out.
pub type WireRecords = Vec<Box<[u8]>>;

/// One publish: the records that stopped and started being served between two serials.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServedDelta {
    /// The serial before.
    pub from: u32,
    /// The serial after.
    pub to: u32,
    /// Records no longer served: owner (wire), type, class, TTL, RDLENGTH, RDATA.
    pub removed: Vec<Box<[u8]>>,
    /// Records newly served, in the same form.
    pub added: Vec<Box<[u8]>>,
}

impl ServedDelta {
    /// Whether nothing served changed.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }

    /// The owner name (wire) of a record of this delta.
    pub fn owner(record: &[u8]) -> &[u8] {
        crate::dns::wire::uncompressed_name_at(record, 0)
    }

    /// Whether any record of the delta lies in the zone at `apex`.
    pub fn touches(&self, apex: &[u8]) -> bool {
        self.removed
            .iter()
            .chain(&self.added)
            .any(|r| in_zone(ServedDelta::owner(r), apex))
    }
}

/// The deltas kept, oldest first, each following the one before.
#[derive(Clone, Debug, Default)]
pub struct History {
    deltas: Arc<[Arc<ServedDelta>]>,
}

impl History {
    /// This history with `delta` appended, keeping the latest `keep` deltas. A delta that
    /// does not follow the last one starts the history afresh.
    pub fn with(&self, delta: ServedDelta, keep: usize) -> History {
        if keep == 0 {
            return History::default();
        }
        let follows = self.deltas.last().is_none_or(|last| last.to == delta.from);
        let kept: &[Arc<ServedDelta>] = if follows { &self.deltas } else { &[] };
        let skip = (kept.len() + 1).saturating_sub(keep);
        let mut deltas: Vec<Arc<ServedDelta>> = kept[skip..].to_vec();
        deltas.push(Arc::new(delta));
        History {
            deltas: deltas.into(),
        }
    }

    /// The deltas from `serial` to the latest, when the history reaches back to it.
    pub fn since(&self, serial: u32) -> Option<&[Arc<ServedDelta>]> {
        let start = self.deltas.iter().position(|d| d.from == serial)?;
        Some(&self.deltas[start..])
    }

    /// How many records the kept deltas hold.
    pub fn records(&self) -> usize {
        self.deltas
            .iter()
            .map(|d| d.removed.len() + d.added.len())
            .sum()
    }

    /// The newest delta, if any.
    pub fn latest(&self) -> Option<&Arc<ServedDelta>> {
        self.deltas.last()
    }

    /// How many deltas are kept.
    pub fn len(&self) -> usize {
        self.deltas.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }
}

/// The served records that differ between `before` and `after` at the names of
/// `changed` (the only names whose answers may differ).
pub(super) fn served_changes(
    before: &Snapshot,
    after: &Snapshot,
    changed: &[DirtyName],
) -> (WireRecords, WireRecords) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for name in changed {
        let old = before.slot_by_key(&name.key, name.key_hash);
        let new = after.slot_by_key(&name.key, name.key_hash);
        for kind in 0..4 {
            let old_records = records(old, kind);
            let new_records = records(new, kind);
            if old_records == new_records {
                continue;
            }
            let old_set: HashSet<&[u8]> = old_records.iter().copied().collect();
            let new_set: HashSet<&[u8]> = new_records.iter().copied().collect();
            let with_owner = |r: &[u8]| -> Box<[u8]> { [&name.key[..], r].concat().into() };
            removed.extend(
                old_records
                    .iter()
                    .filter(|r| !new_set.contains(*r))
                    .map(|r| with_owner(r)),
            );
            added.extend(
                new_records
                    .iter()
                    .filter(|r| !old_set.contains(*r))
                    .map(|r| with_owner(r)),
            );
        }
    }
    (removed, added)
}

/// The served records that differ between two snapshots built apart (a new leader's
/// first publish against the zone it held as a standby): every name of either is looked
/// at.
pub(super) fn whole_changes(before: &Snapshot, after: &Snapshot) -> (WireRecords, WireRecords) {
    let mut names = Vec::new();
    for (shard, (old, new)) in before.shards.iter().zip(after.shards.iter()).enumerate() {
        let keys: HashSet<&[u8]> = old.entries().chain(new.entries()).map(|(_, k)| k).collect();
        names.extend(keys.into_iter().map(|key| DirtyName {
            shard: shard as u32,
            key_hash: super::key_hash(key),
            key: key.into(),
            node: None,
        }));
    }
    served_changes(before, after, &names)
}

/// The records of one set of a slot (A, AAAA, SRV, PTR by `kind`), without the owner
/// pointer each stored record starts with.
fn records(slot: Option<&Slot>, kind: usize) -> Vec<&[u8]> {
    let Some(slot) = slot else { return Vec::new() };
    let set = match kind {
        0 => &slot.a,
        1 => &slot.aaaa,
        2 => &slot.srv,
        _ => &slot.ptr,
    };
    set.as_deref()
        .map(|s| s.records().map(|r| &r[2..]).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(from: u32, to: u32) -> ServedDelta {
        ServedDelta {
            from,
            to,
            ..ServedDelta::default()
        }
    }

    #[test]
    fn chains_and_bounds() {
        let h = History::default().with(delta(1, 2), 2).with(delta(2, 3), 2);
        assert_eq!(h.since(1).map(<[_]>::len), Some(2));
        let h = h.with(delta(3, 4), 2);
        assert_eq!(h.len(), 2);
        assert!(h.since(1).is_none(), "the oldest left");
        assert_eq!(h.since(3).map(<[_]>::len), Some(1));
        // A gap starts afresh.
        let h = h.with(delta(9, 10), 2);
        assert_eq!(h.len(), 1);
        assert!(h.since(3).is_none());
        assert!(History::default().with(delta(1, 2), 0).is_empty());
    }

    #[test]
    fn owners() {
        assert_eq!(ServedDelta::owner(b"\x01a\x00\x00\x01"), b"\x01a\x00");
    }
}
