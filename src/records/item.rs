//! [`ItemRecords`]: the records of one model item (a task, an agent, a framework, or the
//! cluster-wide names), collected without a global name table.

use super::set::{AddError, NameId, RData, is_encodable};
use super::{Report, Rules, Sink};
use crate::cluster::{Cluster, Item};

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
}

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
