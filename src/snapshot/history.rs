//! What each publish changed in the served records, kept for IXFR (RFC 1995): a bounded
//! chain of deltas, oldest first, shared by every snapshot that carries it.
//!
//! A delta holds records in wire form with their owner written out (lower-cased,
//! uncompressed): what was served before and after, after `ReversePolicy` and the other
//! answer rules, so a secondary that applies them holds exactly the zone served here.

use super::sets::{Rdata, RrSet};
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

/// Deltas per chunk of the history: appending a delta copies the pointers of one
/// chunk at most and the list of chunks, never the whole history (1,000 deltas by
/// default: copying and later dropping 1,000 pointers, each on its own cache line, cost
/// more than the rest of a small change).
const CHUNK: usize = 32;

/// The deltas kept, oldest first, each following the one before; in chunks shared
/// between the snapshots that carry them.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every chunk but the last is full.
    chunks: Vec<Arc<Vec<Arc<ServedDelta>>>>,
    /// Deltas at the start of the first chunk no longer kept (the chunk goes once all
    /// of its deltas are older than the kept ones).
    skip: usize,
    /// Records the kept deltas hold.
    records: usize,
}

impl History {
    /// This history with `delta` appended, keeping the latest `keep` deltas. A delta that
    /// does not follow the last one starts the history afresh.
    pub fn with(&self, delta: ServedDelta, keep: usize) -> History {
        if keep == 0 {
            return History::default();
        }
        let follows = self.latest().is_none_or(|last| last.to == delta.from);
        let mut next = if follows {
            self.clone()
        } else {
            History::default()
        };
        next.records += delta.removed.len() + delta.added.len();
        match next.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(Arc::new(delta)),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(Arc::new(delta));
                next.chunks.push(Arc::new(chunk));
            }
        }
        while next.len() > keep {
            let oldest = &next.chunks[0][next.skip];
            next.records -= oldest.removed.len() + oldest.added.len();
            next.skip += 1;
            if next.skip == next.chunks[0].len() {
                next.chunks.remove(0);
                next.skip = 0;
            }
        }
        next
    }

    /// The kept deltas, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ServedDelta>> {
        self.chunks.iter().flat_map(|c| c.iter()).skip(self.skip)
    }

    /// Whether the history reaches back to `serial` (then [`History::since`] has deltas).
    pub fn reaches(&self, serial: u32) -> bool {
        self.iter().any(|d| d.from == serial)
    }

    /// The deltas from `serial` to the latest (at least one), when the history reaches
    /// back to it.
    pub fn since(&self, serial: u32) -> Option<Vec<Arc<ServedDelta>>> {
        let mut deltas = self.iter().skip_while(|d| d.from != serial).peekable();
        deltas.peek()?;
        Some(deltas.cloned().collect())
    }

    /// How many records the kept deltas hold.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The newest delta, if any.
    pub fn latest(&self) -> Option<&Arc<ServedDelta>> {
        self.chunks.last().and_then(|c| c.last())
    }

    /// How many deltas are kept (every chunk but the last is full).
    pub fn len(&self) -> usize {
        match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.len() - self.skip,
            None => 0,
        }
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
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
        let old = before.sets_by_key(&name.key, name.key_hash);
        let new = after.sets_by_key(&name.key, name.key_hash);
        for kind in 0..4 {
            let (old_set, new_set) = (old.and_then(|s| s[kind]), new.and_then(|s| s[kind]));
            // The same pooled set: no record changed (equal sets are one set).
            match (old_set, new_set) {
                (None, None) => continue,
                (Some(a), Some(b)) if a.is(b) => continue,
                _ => {}
            }
            let (old_records, new_records) = (records(old_set), records(new_set));
            // A set's type and TTL are every record's: when they differ, so do all.
            let fields = |set: Option<&RrSet>| set.map(|s| (s.rtype(), s.ttl()));
            let same_fields = fields(old_set) == fields(new_set);
            if same_fields && old_records == new_records {
                continue;
            }
            let (in_old, in_new): (HashSet<&[u8]>, HashSet<&[u8]>) = match same_fields {
                true => (
                    old_records.iter().map(|r| &**r).collect(),
                    new_records.iter().map(|r| &**r).collect(),
                ),
                false => Default::default(),
            };
            // Into `out`: the records of `set` not in `other`, each with its owner and
            // fields.
            let missing = |set: Option<&RrSet>,
                           records: &[Rdata<'_>],
                           other: &HashSet<&[u8]>,
                           out: &mut WireRecords| {
                let Some(set) = set else { return };
                let fresh = records.iter().filter(|r| !other.contains(&r[..]));
                out.extend(fresh.map(|r| [&name.key[..], &set.fields(r.len()), r].concat().into()));
            };
            missing(old_set, &old_records, &in_new, &mut removed);
            missing(new_set, &new_records, &in_old, &mut added);
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
        let keys: HashSet<Vec<u8>> = old
            .entries()
            .chain(new.entries())
            .map(|(_, k)| k.to_vec())
            .collect();
        names.extend(keys.into_iter().map(|key| DirtyName {
            shard: shard as u32,
            key_hash: super::key_hash(&key),
            key: key.into(),
            node: None,
            new_extras: Vec::new(),
        }));
    }
    served_changes(before, after, &names)
}

/// Each record's RDATA of a set, if any.
fn records(set: Option<&RrSet>) -> Vec<Rdata<'_>> {
    set.map(|s| s.rdatas().collect()).unwrap_or_default()
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
        assert_eq!(h.since(1).map(|d| d.len()), Some(2));
        let h = h.with(delta(3, 4), 2);
        assert_eq!(h.len(), 2);
        assert!(h.since(1).is_none(), "the oldest left");
        assert_eq!(h.since(3).map(|d| d.len()), Some(1));
        // A gap starts afresh.
        let h = h.with(delta(9, 10), 2);
        assert_eq!(h.len(), 1);
        assert!(h.since(3).is_none());
        assert!(History::default().with(delta(1, 2), 0).is_empty());
    }

    /// Across chunk boundaries, with earlier versions still held: each version keeps
    /// exactly its latest `keep` deltas, in order, and counts their records.
    #[test]
    fn chunks_keep_the_latest_in_every_version() {
        let with_records = |from: u32| ServedDelta {
            from,
            to: from + 1,
            removed: vec![Box::from(&[0u8][..]); (from % 3) as usize],
            added: vec![Box::from(&[0u8][..]); 1],
        };
        for keep in [1, 5, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let mut versions = vec![History::default()];
            for from in 0..(4 * CHUNK as u32 + 9) {
                let next = versions.last().map(|h| h.with(with_records(from), keep));
                versions.extend(next);
            }
            for (n, h) in versions.iter().enumerate() {
                let expected: Vec<u32> = (0..n as u32).rev().take(keep).rev().collect();
                let froms: Vec<u32> = h.iter().map(|d| d.from).collect();
                assert_eq!(froms, expected, "version {n}, keep {keep}");
                assert_eq!(h.len(), expected.len());
                let records: usize = expected.iter().map(|f| (f % 3) as usize + 1).sum();
                assert_eq!(h.records(), records);
                assert_eq!(h.latest().map(|d| d.from), expected.last().copied());
                if let Some(&first) = expected.first() {
                    assert_eq!(h.since(first).map(|d| d.len()), Some(expected.len()));
                    assert!(first == 0 || h.since(first - 1).is_none());
                    assert!(h.reaches(first) && (first == 0 || !h.reaches(first - 1)));
                }
            }
        }
    }

    #[test]
    fn owners() {
        assert_eq!(ServedDelta::owner(b"\x01a\x00\x00\x01"), b"\x01a\x00");
    }
}
