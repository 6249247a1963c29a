//! [`RecordSet`]: every name the generator published with its A, AAAA and SRV data, plus
//! what `/v1/enumerate` lists. Immutable once built and shared through an `Arc`.

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::Arc;

/// Index of a name in a [`RecordSet`].
pub type NameId = u32;

/// One record's data. SRV targets are names of the same set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service: target name and port.
    Srv {
        /// The target, a name of the same set.
        target: NameId,
        /// The port.
        port: u16,
    },
    /// A reverse-lookup candidate: the name an address maps back to (`ReverseZones`).
    /// `ReversePolicy` picks among a name's candidates when answering.
    Ptr {
        /// The name, a name of the same set.
        target: NameId,
        /// Who offers it: [`PTR_AGENT`] (an agent's host name) ranks before
        /// [`PTR_TASK`] (a task's canonical name).
        rank: u8,
    },
    /// An SRV record as a primary served it (secondary mode): its own priority and
    /// weight. Generated SRV records are [`RData::Srv`], which take priority 0 and
    /// `SRVRecordDefaultWeight` when served.
    Service {
        /// The target, a name of the same set.
        target: NameId,
        /// The port.
        port: u16,
        /// The priority.
        priority: u16,
        /// The weight.
        weight: u16,
    },
}

/// [`RData::Ptr`] rank of an agent's host name for the agent's address.
pub const PTR_AGENT: u8 = 0;
/// [`RData::Ptr`] rank of a task's canonical name for the task's own address.
pub const PTR_TASK: u8 = 1;

impl RData {
    /// The name it refers to (an SRV or PTR target), if any.
    pub fn target(self) -> Option<NameId> {
        match self {
            RData::Srv { target, .. }
            | RData::Service { target, .. }
            | RData::Ptr { target, .. } => Some(target),
            RData::A(_) | RData::Aaaa(_) => None,
        }
    }

    /// The same data with its target's id mapped by `map` (`None` when it maps to
    /// none); data without a target as it is.
    pub fn with_target(self, map: impl FnOnce(NameId) -> Option<NameId>) -> Option<RData> {
        Some(match self {
            RData::Srv { target, port } => RData::Srv {
                target: map(target)?,
                port,
            },
            RData::Ptr { target, rank } => RData::Ptr {
                target: map(target)?,
                rank,
            },
            RData::Service {
                target,
                port,
                priority,
                weight,
            } => RData::Service {
                target: map(target)?,
                port,
                priority,
                weight,
            },
            other => other,
        })
    }

    /// `A`, `AAAA` or `SRV`.
    pub fn rtype(&self) -> &'static str {
        match self {
            RData::A(_) => "A",
            RData::Aaaa(_) => "AAAA",
            RData::Srv { .. } | RData::Service { .. } => "SRV",
            RData::Ptr { .. } => "PTR",
        }
    }
}

/// The records owned by one name, each list in insertion order without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameRecords {
    /// IPv4 addresses.
    pub a: Vec<Ipv4Addr>,
    /// IPv6 addresses.
    pub aaaa: Vec<Ipv6Addr>,
    /// (target, port); priority 0 and the configured weight are added when serving.
    pub srv: Vec<(NameId, u16)>,
    /// Reverse-lookup candidates (target, rank).
    pub ptr: Vec<(NameId, u8)>,
}

impl NameRecords {
    /// Whether the name has no records.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty() && self.aaaa.is_empty() && self.srv.is_empty() && self.ptr.is_empty()
    }
}

/// A task as `/v1/enumerate` lists it.
#[derive(Clone, Debug)]
pub struct TaskEntry {
    /// The task's own name from the state (not its DiscoveryInfo name).
    pub name: Box<str>,
    /// The task's id.
    pub id: Box<str>,
    /// The records this task added first, as a range of [`RecordSet::insertion_log`].
    pub records: Range<u32>,
}

/// A framework as `/v1/enumerate` lists it.
#[derive(Clone, Debug)]
pub struct FrameworkEntry {
    /// The framework's name as the state gives it.
    pub name: Box<str>,
    /// Its tasks, in state order.
    pub tasks: Vec<TaskEntry>,
}

#[derive(Debug, Default)]
struct Data {
    names: Vec<Box<str>>,
    records: Vec<NameRecords>,
    index: HashTable<NameId>,
    hasher: foldhash::fast::FixedState,
    log: Vec<(NameId, RData)>,
    frameworks: Vec<FrameworkEntry>,
}

impl Data {
    fn find(&self, name: &str) -> Option<NameId> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&id| &*self.names[id as usize] == name)
            .copied()
    }
}

/// Published names and their data. Cloning is a reference-count increment.
#[derive(Clone, Debug, Default)]
pub struct RecordSet(Arc<Data>);

impl RecordSet {
    /// The records of `name` (fully qualified, trailing dot, exact case), if it owns any.
    pub fn get(&self, name: &str) -> Option<&NameRecords> {
        let id = self.0.find(name)?;
        let records = &self.0.records[id as usize];
        (!records.is_empty()).then_some(records)
    }

    /// A name by its id.
    pub fn name(&self, id: NameId) -> &str {
        &self.0.names[id as usize]
    }

    /// Names interned, including those that are only SRV targets.
    pub fn name_count(&self) -> usize {
        self.0.names.len()
    }

    /// The records of a name by id (empty for a name that is only an SRV target).
    pub fn records_of(&self, id: NameId) -> &NameRecords {
        &self.0.records[id as usize]
    }

    /// Every name that owns at least one record, with its records, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = (NameId, &str, &NameRecords)> {
        self.0
            .names
            .iter()
            .zip(&self.0.records)
            .enumerate()
            .filter(|(_, (_, r))| !r.is_empty())
            .map(|(i, (n, r))| (i as NameId, &**n, r))
    }

    /// Every record in the order it was added.
    pub fn insertion_log(&self) -> &[(NameId, RData)] {
        &self.0.log
    }

    /// Frameworks in state order, for `/v1/enumerate`.
    pub fn frameworks(&self) -> &[FrameworkEntry] {
        &self.0.frameworks
    }

    /// Counts of (A, AAAA, SRV) records.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.0.records.iter().fold((0, 0, 0), |(a, q, s), r| {
            (a + r.a.len(), q + r.aaaa.len(), s + r.srv.len())
        })
    }
}

/// Why a record was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The same name already has this data.
    Duplicate,
    /// The owner or target cannot be written in a DNS message (empty label, label over
    /// 63 octets, name over 255 octets).
    BadName,
}

/// Collects records while the generator runs.
#[derive(Default)]
pub struct RecordSetBuilder {
    data: Data,
    /// Values of the few names with many values of one type (`slave.<domain>.` has one
    /// per agent), for duplicate checks; short lists are scanned instead.
    long_lists: std::collections::HashSet<(NameId, RData), foldhash::fast::FixedState>,
}

/// Lists up to this long are checked for duplicates by scanning.
const SCAN_LIMIT: usize = 16;

/// A or AAAA data, by the address family.
pub fn ip_rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => RData::Aaaa(v6),
    }
}

/// Labels of 1..=63 octets, at most 255 octets in wire form; trailing dot required.
pub fn is_encodable(name: &str) -> bool {
    let Some(body) = name.strip_suffix('.') else {
        return false;
    };
    !body.is_empty()
        && body.len() + 2 <= 255
        && body.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

impl RecordSetBuilder {
    /// A builder sized for about `names` names and `records` records. Capacity that is
    /// never written costs address space, not memory.
    pub fn with_capacity(names: usize, records: usize) -> RecordSetBuilder {
        let mut b = RecordSetBuilder::default();
        b.data.names.reserve(names);
        b.data.records.reserve(names);
        b.data.index.reserve(names, |_| 0);
        b.data.log.reserve(records);
        b
    }

    fn intern(&mut self, name: &str) -> NameId {
        if let Some(id) = self.data.find(name) {
            return id;
        }
        let id = self.data.names.len() as NameId;
        self.data.names.push(name.into());
        self.data.records.push(NameRecords::default());
        let Data {
            names,
            index,
            hasher,
            ..
        } = &mut self.data;
        let hash = hasher.hash_one(name);
        index.insert_unique(hash, id, |&i| hasher.hash_one(&*names[i as usize]));
        id
    }

    /// Interns `name` if it can be written in a DNS message.
    pub fn name(&mut self, name: &str) -> Result<NameId, AddError> {
        if is_encodable(name) {
            Ok(self.intern(name))
        } else {
            Err(AddError::BadName)
        }
    }

    /// Adds a record to an interned name.
    pub fn add(&mut self, owner: NameId, rdata: RData) -> Result<(), AddError> {
        if !self.insert_new(owner, rdata) {
            return Err(AddError::Duplicate);
        }
        self.data.log.push((owner, rdata));
        Ok(())
    }

    /// Adds an A or AAAA record, by the address family.
    pub fn add_ip(&mut self, owner: &str, ip: IpAddr) -> Result<(), AddError> {
        let owner = self.name(owner)?;
        self.add(owner, ip_rdata(ip))
    }

    /// Adds an SRV record pointing at `target:port`.
    pub fn add_srv(&mut self, owner: &str, target: &str, port: u16) -> Result<(), AddError> {
        let owner = self.name(owner)?;
        let target = self.name(target)?;
        self.add(owner, RData::Srv { target, port })
    }

    /// Appends `rdata` to the name's list unless it is there already.
    fn insert_new(&mut self, id: NameId, rdata: RData) -> bool {
        fn push<T: PartialEq + Copy>(
            list: &mut Vec<T>,
            value: T,
            long_lists: &mut std::collections::HashSet<(NameId, RData), foldhash::fast::FixedState>,
            id: NameId,
            wrap: impl Fn(T) -> RData,
        ) -> bool {
            if list.len() < SCAN_LIMIT {
                if list.contains(&value) {
                    return false;
                }
            } else if !long_lists.insert((id, wrap(value))) {
                return false;
            }
            list.push(value);
            if list.len() == SCAN_LIMIT {
                long_lists.extend(list.iter().map(|v| (id, wrap(*v))));
            }
            true
        }
        let records = &mut self.data.records[id as usize];
        let long = &mut self.long_lists;
        match rdata {
            RData::A(ip) => push(&mut records.a, ip, long, id, RData::A),
            RData::Aaaa(ip) => push(&mut records.aaaa, ip, long, id, RData::Aaaa),
            RData::Srv { target, port } => push(
                &mut records.srv,
                (target, port),
                long,
                id,
                |(target, port)| RData::Srv { target, port },
            ),
            // The generator never makes these (only a transferred zone has them); a set
            // keeps the target and port.
            RData::Service { target, port, .. } => push(
                &mut records.srv,
                (target, port),
                long,
                id,
                |(target, port)| RData::Srv { target, port },
            ),
            RData::Ptr { target, rank } => push(
                &mut records.ptr,
                (target, rank),
                long,
                id,
                |(target, rank)| RData::Ptr { target, rank },
            ),
        }
    }

    /// How many records were added so far (the position in the insertion log).
    pub fn position(&self) -> u32 {
        self.data.log.len() as u32
    }

    /// Starts the next framework of `/v1/enumerate`.
    pub fn push_framework(&mut self, framework: FrameworkEntry) {
        self.data.frameworks.push(framework);
    }

    /// The finished set.
    pub fn finish(self) -> RecordSet {
        RecordSet(Arc::new(self.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_rejects_bad_names() {
        let mut b = RecordSetBuilder::default();
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(b.add_ip("a.mesos.", ip), Ok(()));
        assert_eq!(b.add_ip("a.mesos.", ip), Err(AddError::Duplicate));
        assert_eq!(b.add_ip(".mesos.", ip), Err(AddError::BadName));
        assert_eq!(b.add_ip("a..mesos.", ip), Err(AddError::BadName));
        let long = format!("{}.mesos.", "a".repeat(64));
        assert_eq!(b.add_ip(&long, ip), Err(AddError::BadName));
        assert_eq!(b.add_srv("_x._tcp.mesos.", "a.mesos.", 80), Ok(()));
        assert_eq!(
            b.add_srv("_x._tcp.mesos.", "t..mesos.", 80),
            Err(AddError::BadName)
        );
        let set = b.finish();
        assert_eq!(
            set.get("a.mesos.").unwrap().a,
            vec!["1.2.3.4".parse::<Ipv4Addr>().unwrap()]
        );
        assert!(set.get("x.mesos.").is_none());
        assert_eq!(set.counts(), (1, 0, 1));
        assert_eq!(set.insertion_log().len(), 2);
    }

    #[test]
    fn long_lists_still_dedupe() {
        let mut b = RecordSetBuilder::default();
        for round in 0..2 {
            for i in 0..100u32 {
                let ip = IpAddr::V4(Ipv4Addr::from(i));
                let want = if round == 0 {
                    Ok(())
                } else {
                    Err(AddError::Duplicate)
                };
                assert_eq!(b.add_ip("slave.mesos.", ip), want, "{i}");
            }
        }
        assert_eq!(b.finish().get("slave.mesos.").unwrap().a.len(), 100);
    }

    #[test]
    fn srv_targets_without_records_are_not_names() {
        let mut b = RecordSetBuilder::default();
        b.add_srv("_x._tcp.mesos.", "nowhere.mesos.", 80).unwrap();
        let set = b.finish();
        assert!(set.get("nowhere.mesos.").is_none());
        assert_eq!(set.iter().count(), 1);
    }
}
