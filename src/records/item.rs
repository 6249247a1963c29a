//! [`ItemRecords`]: the records of one model item (a task, an agent, a framework, or the
//! cluster-wide names), collected without a global name table.

use super::set::{AddError, NameId, RData, is_encodable};
use super::{Report, Rules, Sink};
use crate::cluster::{Cluster, Item};
use foldhash::fast::FixedState;
use std::collections::HashSet;

/// One item's records. Names are local to the item; SRV targets index `names` too.
/// Duplicates within the item are dropped, as the full generator drops them.
#[derive(Clone, Debug, Default)]
pub struct ItemRecords {
    /// The names the records use.
    pub names: Vec<Box<str>>,
    /// The records, by owner name.
    pub records: Vec<(NameId, RData)>,
    /// The records again, once there are too many to scan (a long port range).
    seen: Option<std::collections::HashSet<(NameId, RData), foldhash::fast::FixedState>>,
}

/// A task with a few ports and addresses has about this many names.
const TYPICAL_NAMES: usize = 16;

/// Items hold a handful of records; past this many, duplicates are found by hashing.
const SCAN_LIMIT: usize = 32;

impl ItemRecords {
    /// The records of `item` under `rules`.
    pub fn of(rules: &Rules, cluster: &Cluster, item: &Item, report: &mut Report) -> ItemRecords {
        // Room for a task's usual names and records at once: grown a push at a time,
        // the lists' reallocations were an eighth of a first load's generating.
        let mut out = ItemRecords {
            names: Vec::with_capacity(TYPICAL_NAMES),
            records: Vec::with_capacity(2 * TYPICAL_NAMES),
            seen: None,
        };
        rules.item(cluster, item, &mut out, report);
        out
    }

    /// Whether the item has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A name by its id.
    pub fn name(&self, id: NameId) -> &str {
        &self.names[id as usize]
    }

    /// The records of this item that `other` (the same item at another time) does not
    /// have, as an item of their own: records are compared by their names, not by the
    /// ids each item gave them. A task's event changes a few of its records; putting
    /// only those through the store leaves the names whose records stayed untouched,
    /// and so not compiled again.
    pub fn without(&self, other: &ItemRecords) -> ItemRecords {
        let theirs: Vec<RecordByName<'_>> =
            other.records.iter().map(|&r| other.by_name(r)).collect();
        // Items hold a handful of records: scanned, unless there are many.
        let indexed: Option<HashSet<RecordByName<'_>, FixedState>> =
            (theirs.len() > SCAN_LIMIT).then(|| theirs.iter().copied().collect());
        let mut out = ItemRecords::default();
        // Our name ids to the result's, each name copied once when first used.
        let mut ids: Vec<Option<NameId>> = vec![None; self.names.len()];
        let mut id = |i: NameId, out: &mut ItemRecords| {
            *ids[i as usize].get_or_insert_with(|| {
                out.names.push(self.names[i as usize].clone());
                (out.names.len() - 1) as NameId
            })
        };
        for &record in &self.records {
            let ours = self.by_name(record);
            let shared = match &indexed {
                Some(indexed) => indexed.contains(&ours),
                None => theirs.contains(&ours),
            };
            if shared {
                continue;
            }
            let (owner, rdata) = record;
            let owner = id(owner, &mut out);
            if let Some(rdata) = rdata.with_target(|t| Some(id(t, &mut out))) {
                out.records.push((owner, rdata));
            }
        }
        out
    }

    /// A record with its names in place of their ids.
    fn by_name(&self, (owner, rdata): (NameId, RData)) -> RecordByName<'_> {
        let target = rdata.target().map(|t| self.name(t));
        // The target's id blanked: it is compared by name.
        let rdata = rdata.with_target(|_| Some(0)).unwrap_or(rdata);
        (rdata, self.name(owner), target)
    }
}

/// A record as (data with its target blanked, owner name, target name).
type RecordByName<'a> = (RData, &'a str, Option<&'a str>);

impl Sink for ItemRecords {
    fn name(&mut self, name: &str) -> Result<NameId, AddError> {
        // A name held was checked when it came (the generator asks for most names
        // more than once).
        if let Some(i) = self.names.iter().rposition(|n| &**n == name) {
            return Ok(i as NameId);
        }
        if !is_encodable(name) {
            return Err(AddError::BadName);
        }
        self.names.push(name.into());
        Ok((self.names.len() - 1) as NameId)
    }

    fn add(&mut self, owner: NameId, rdata: RData) -> Result<(), AddError> {
        let record = (owner, rdata);
        let new = match &mut self.seen {
            Some(seen) => seen.insert(record),
            None => !self.records.contains(&record),
        };
        if !new {
            return Err(AddError::Duplicate);
        }
        self.records.push(record);
        if self.seen.is_none() && self.records.len() > SCAN_LIMIT {
            self.seen = Some(self.records.iter().copied().collect());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(records: &[(&str, RData, Option<&str>)]) -> ItemRecords {
        let mut out = ItemRecords::default();
        for &(owner, rdata, target) in records {
            let owner = Sink::name(&mut out, owner).expect("a name"); // ok: test
            let rdata = match target {
                Some(t) => {
                    let t = Sink::name(&mut out, t).expect("a name"); // ok: test
                    rdata.with_target(|_| Some(t)).expect("a target") // ok: test
                }
                None => rdata,
            };
            out.add(owner, rdata).expect("a new record"); // ok: test
        }
        out
    }

    /// Records are told apart by their names, whatever ids each item gave them; what
    /// remains names only the names it uses.
    #[test]
    fn an_item_without_another_keeps_the_records_only_it_has() {
        let srv = RData::Srv {
            target: 0,
            port: 80,
        };
        let old = item(&[
            ("web.m.", RData::A([10, 0, 0, 1].into()), None),
            ("_web._tcp.m.", srv, Some("web-1.m.")),
            ("web-1.m.", RData::A([10, 0, 0, 1].into()), None),
        ]);
        // The same task elsewhere: its names come in another order.
        let new = item(&[
            ("web-1.m.", RData::A([10, 0, 0, 2].into()), None),
            ("_web._tcp.m.", srv, Some("web-1.m.")),
            ("web.m.", RData::A([10, 0, 0, 2].into()), None),
        ]);
        let gone = old.without(&new);
        let listed = |item: &ItemRecords| -> Vec<(String, RData)> {
            item.records
                .iter()
                .map(|&(owner, rdata)| (item.name(owner).to_string(), rdata))
                .collect()
        };
        assert_eq!(
            listed(&gone),
            [
                ("web.m.".to_string(), RData::A([10, 0, 0, 1].into())),
                ("web-1.m.".to_string(), RData::A([10, 0, 0, 1].into())),
            ]
        );
        assert_eq!(gone.names.len(), 2, "{:?}", gone.names);
        assert_eq!(listed(&new.without(&old)).len(), 2);
        assert!(old.without(&old).is_empty());
        // A target of another name is another record.
        let moved = item(&[("_web._tcp.m.", srv, Some("web-2.m."))]);
        let kept = old.without(&moved);
        assert_eq!(kept.records.len(), 3);
        let srv_left = kept
            .records
            .iter()
            .find_map(|&(_, rdata)| rdata.target())
            .map(|t| kept.name(t));
        assert_eq!(srv_left, Some("web-1.m."));
    }
}
