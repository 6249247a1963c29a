//! What the `/v1/enumerate` and `/v1/axfr` documents list (docs/spec/mesos-dns-behavior.md §4.10, §6), as views:
//! the server's from its model ([`ModelView`]), tools' and tests' from a whole
//! [`RecordSet`]. `crate::records::documents` writes them out.

use super::item::ItemRecords;
use super::set::{NameRecords, RData, RecordSet};
use super::{Report, Rules};
use crate::cluster::{Cluster, Item, Task};
use foldhash::fast::FixedState;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::BuildHasher;

/// One record as `/v1/enumerate` lists it.
#[derive(Serialize)]
pub struct RecordRow {
    /// The record's name.
    pub name: String,
    /// Its value: an address, or `target:port` for SRV.
    pub host: String,
    /// `A`, `AAAA` or `SRV`.
    pub rtype: &'static str,
}

/// What `/v1/enumerate` lists: frameworks in state order, their eligible tasks, and each
/// task's records in the order it added them. Records are produced one task at a time.
pub trait EnumerateSource {
    /// How many frameworks.
    fn framework_count(&self) -> usize;
    /// A framework's name.
    fn framework_name(&self, framework: usize) -> &str;
    /// How many of its tasks are listed.
    fn task_count(&self, framework: usize) -> usize;
    /// A task's name, id and the records it lists. Called once per task in document
    /// order: a record several tasks publish is listed under the first of them only, as
    /// Mesos-DNS lists it (docs/spec/mesos-dns-behavior.md §4.10).
    fn task(&self, framework: usize, task: usize) -> (&str, &str, Vec<RecordRow>);
}

/// Which values of a name `/v1/axfr` lists under one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxfrKind {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// SRV `target:port`s.
    Srv,
}

/// What `/v1/axfr` lists: names, each with its values of one type as text.
pub trait AxfrSource {
    /// Every name with records, sorted.
    fn names(&self) -> Vec<std::borrow::Cow<'_, str>>;
    /// A name's values of one kind, as text.
    fn values(&self, name: &str, kind: AxfrKind) -> Vec<String>;
}

/// Records as `/v1/enumerate` lists them (A, AAAA and SRV, as the reference does; reverse
/// records are not listed); `name_of` reads the names they refer to.
fn rows<'a>(records: &[(u32, RData)], name_of: impl Fn(u32) -> &'a str) -> Vec<RecordRow> {
    records
        .iter()
        .filter_map(|(owner, rdata)| {
            // The DC/OS names (`DCOSNames`) are not the reference's: not listed.
            if name_of(*owner).ends_with(".thisdcos.directory.") {
                return None;
            }
            let host = match rdata {
                RData::A(ip) => ip.to_string(),
                RData::Aaaa(ip) => ip.to_string(),
                RData::Srv { target, port } | RData::Service { target, port, .. } => {
                    format!("{}:{port}", name_of(*target))
                }
                RData::Ptr { .. } => return None,
            };
            Some(RecordRow {
                name: name_of(*owner).to_string(),
                host,
                rtype: rdata.rtype(),
            })
        })
        .collect()
}

impl EnumerateSource for RecordSet {
    fn framework_count(&self) -> usize {
        self.frameworks().len()
    }
    fn framework_name(&self, framework: usize) -> &str {
        &self.frameworks()[framework].name
    }
    fn task_count(&self, framework: usize) -> usize {
        self.frameworks()[framework].tasks.len()
    }
    fn task(&self, framework: usize, task: usize) -> (&str, &str, Vec<RecordRow>) {
        let task = &self.frameworks()[framework].tasks[task];
        let log = &self.insertion_log()[task.records.start as usize..task.records.end as usize];
        (&task.name, &task.id, rows(log, |id| self.name(id)))
    }
}

impl AxfrSource for RecordSet {
    fn names(&self) -> Vec<std::borrow::Cow<'_, str>> {
        let mut names: Vec<std::borrow::Cow<'_, str>> =
            self.iter().map(|(_, name, _)| name.into()).collect();
        names.sort_unstable();
        names
    }
    fn values(&self, name: &str, kind: AxfrKind) -> Vec<String> {
        let Some(r) = self.get(name) else {
            return Vec::new();
        };
        name_values(r, kind, |id| self.name(id).to_string())
    }
}

fn name_values(r: &NameRecords, kind: AxfrKind, name_of: impl Fn(u32) -> String) -> Vec<String> {
    match kind {
        AxfrKind::A => r.a.iter().map(|ip| ip.to_string()).collect(),
        AxfrKind::Aaaa => r.aaaa.iter().map(|ip| ip.to_string()).collect(),
        AxfrKind::Srv => r
            .srv
            .iter()
            .map(|(target, port)| format!("{}:{port}", name_of(*target)))
            .collect(),
    }
}

/// The model as `/v1/enumerate` sees it: each task's records are generated when the
/// document reaches it, so no copy of every record is held.
pub struct ModelView<'a> {
    rules: Rules<'a>,
    cluster: &'a Cluster,
    frameworks: Vec<(&'a str, Vec<&'a Task>)>,
    /// The records listed so far, and those of the cluster, frameworks and agents, which
    /// Mesos-DNS generates before any task: a task lists only records new to this set.
    /// Held as 128-bit hashes of the row (16 bytes per record rather than its text).
    listed: RefCell<HashSet<u128, FixedState>>,
}

/// A row's identity: two 64-bit hashes of its name, type and value, under two seeds.
fn row_key(row: &RecordRow) -> u128 {
    let of = |seed| FixedState::with_seed(seed).hash_one((&row.name, row.rtype, &row.host));
    (u128::from(of(0x6d65_736f_735f_646e)) << 64) | u128::from(of(0x656e_756d_6572_6174))
}

impl<'a> ModelView<'a> {
    /// A view of `cluster` under `rules`.
    pub fn new(rules: Rules<'a>, cluster: &'a Cluster) -> ModelView<'a> {
        let frameworks = cluster
            .frameworks_in_order()
            .into_iter()
            .map(|(id, framework)| {
                let tasks = cluster
                    .framework_tasks(id)
                    .into_iter()
                    .filter(|t| rules.has_names(cluster, t))
                    .collect();
                (framework.name.as_str(), tasks)
            })
            .collect();
        let mut listed = HashSet::default();
        let mut report = Report::default();
        let earlier = cluster
            .items()
            .into_iter()
            .filter(|i| !matches!(i, Item::Task(_)));
        for item in earlier {
            let records = ItemRecords::of(&rules, cluster, &item, &mut report);
            let rows = rows(&records.records, |id| records.name(id));
            listed.extend(rows.iter().map(row_key));
        }
        ModelView {
            rules,
            cluster,
            frameworks,
            listed: RefCell::new(listed),
        }
    }
}

impl EnumerateSource for ModelView<'_> {
    fn framework_count(&self) -> usize {
        self.frameworks.len()
    }
    fn framework_name(&self, framework: usize) -> &str {
        self.frameworks[framework].0
    }
    fn task_count(&self, framework: usize) -> usize {
        self.frameworks[framework].1.len()
    }
    fn task(&self, framework: usize, task: usize) -> (&str, &str, Vec<RecordRow>) {
        let task = self.frameworks[framework].1[task];
        let mut report = Report::default();
        let item = Item::Task(task.key());
        let records = ItemRecords::of(&self.rules, self.cluster, &item, &mut report);
        let mut rows = rows(&records.records, |id| records.name(id));
        let mut listed = self.listed.borrow_mut();
        rows.retain(|row| listed.insert(row_key(row)));
        (&task.name, &task.id, rows)
    }
}
