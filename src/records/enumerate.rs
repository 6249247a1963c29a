//! The `/v1/enumerate` and `/v1/axfr` documents (spec §4.10, §6), written straight to any
//! writer without building a JSON tree. The server writes them from its model
//! ([`ModelView`]); tools and tests from a whole [`RecordSet`].

use super::item::ItemRecords;
use super::set::{NameRecords, RData, RecordSet};
use super::{Report, Rules};
use crate::cluster::{Cluster, Item, Task};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use std::io::Write;

/// One record as `/v1/enumerate` lists it.
#[derive(Serialize)]
pub struct RecordRow {
    pub name: String,
    pub host: String,
    pub rtype: &'static str,
}

/// What `/v1/enumerate` lists: frameworks in state order, their eligible tasks, and each
/// task's records in the order it added them. Records are produced one task at a time.
pub trait EnumerateSource {
    fn framework_count(&self) -> usize;
    fn framework_name(&self, framework: usize) -> &str;
    fn task_count(&self, framework: usize) -> usize;
    /// A task's name, id and records.
    fn task(&self, framework: usize, task: usize) -> (&str, &str, Vec<RecordRow>);
}

/// Writes `/v1/enumerate`.
pub fn write_enumerate(source: &impl EnumerateSource, out: impl Write) -> serde_json::Result<()> {
    Enumerate(source).serialize(&mut serde_json::Serializer::new(out))
}

/// The SOA facts `/v1/axfr` carries beside the records.
#[derive(Clone, Debug)]
pub struct ZoneInfo<'a> {
    pub ttl: u32,
    pub serial: u32,
    pub refresh_seconds: u64,
    pub mname: &'a str,
    pub rname: &'a str,
    pub domain: &'a str,
}

/// Which values of a name `/v1/axfr` lists under one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxfrKind {
    A,
    Aaaa,
    Srv,
}

/// What `/v1/axfr` lists: names, each with its values of one type as text.
pub trait AxfrSource {
    /// Every name with records, sorted.
    fn names(&self) -> Vec<&str>;
    fn values(&self, name: &str, kind: AxfrKind) -> Vec<String>;
}

/// Writes `/v1/axfr`: every name by type, names sorted.
pub fn write_axfr(
    source: &impl AxfrSource,
    zone: &ZoneInfo,
    out: impl Write,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::new(out);
    let mut map = ser.serialize_map(Some(7))?;
    map.serialize_entry("TTL", &zone.ttl)?;
    map.serialize_entry("Serial", &zone.serial)?;
    map.serialize_entry("RefreshSeconds", &zone.refresh_seconds)?;
    map.serialize_entry("Mname", zone.mname)?;
    map.serialize_entry("Rname", zone.rname)?;
    map.serialize_entry("Domain", zone.domain)?;
    map.serialize_entry("Records", &AxfrRecords(source))?;
    SerializeMap::end(map)
}

/// Records as `/v1/enumerate` lists them; `name_of` reads the names they refer to.
fn rows<'a>(records: &[(u32, RData)], name_of: impl Fn(u32) -> &'a str) -> Vec<RecordRow> {
    records
        .iter()
        .map(|(owner, rdata)| RecordRow {
            name: name_of(*owner).to_string(),
            host: match rdata {
                RData::A(ip) => ip.to_string(),
                RData::Aaaa(ip) => ip.to_string(),
                RData::Srv { target, port } => format!("{}:{port}", name_of(*target)),
            },
            rtype: rdata.rtype(),
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
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.iter().map(|(_, name, _)| name).collect();
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
}

impl<'a> ModelView<'a> {
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
        ModelView {
            rules,
            cluster,
            frameworks,
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
        (
            &task.name,
            &task.id,
            rows(&records.records, |id| records.name(id)),
        )
    }
}

struct Enumerate<'a, S>(&'a S);

impl<S: EnumerateSource> Serialize for Enumerate<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let source = self.0;
        let mut map = s.serialize_map(Some(1))?;
        if source.framework_count() == 0 {
            map.serialize_entry("frameworks", &())?;
        } else {
            map.serialize_entry("frameworks", &Frameworks(source))?;
        }
        map.end()
    }
}

struct Frameworks<'a, S>(&'a S);

impl<S: EnumerateSource> Serialize for Frameworks<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let source = self.0;
        let mut seq = s.serialize_seq(Some(source.framework_count()))?;
        for framework in 0..source.framework_count() {
            seq.serialize_element(&FrameworkJson { source, framework })?;
        }
        seq.end()
    }
}

struct FrameworkJson<'a, S> {
    source: &'a S,
    framework: usize,
}

impl<S: EnumerateSource> Serialize for FrameworkJson<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("tasks", &Tasks(self.source, self.framework))?;
        map.serialize_entry("name", self.source.framework_name(self.framework))?;
        map.end()
    }
}

struct Tasks<'a, S>(&'a S, usize);

impl<S: EnumerateSource> Serialize for Tasks<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let (source, framework) = (self.0, self.1);
        let count = source.task_count(framework);
        let mut seq = s.serialize_seq(Some(count))?;
        for task in 0..count {
            let (name, id, records) = source.task(framework, task);
            seq.serialize_element(&TaskJson { name, id, records })?;
        }
        seq.end()
    }
}

struct TaskJson<'a> {
    name: &'a str,
    id: &'a str,
    records: Vec<RecordRow>,
}

impl Serialize for TaskJson<'_> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("name", self.name)?;
        map.serialize_entry("id", self.id)?;
        if self.records.is_empty() {
            map.serialize_entry("records", &())?;
        } else {
            map.serialize_entry("records", &self.records)?;
        }
        map.end()
    }
}

struct AxfrRecords<'a, S>(&'a S);

impl<S: AxfrSource> Serialize for AxfrRecords<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let names = self.0.names();
        let mut map = s.serialize_map(Some(3))?;
        for (key, kind) in [
            ("As", AxfrKind::A),
            ("AAAAs", AxfrKind::Aaaa),
            ("SRVs", AxfrKind::Srv),
        ] {
            map.serialize_entry(key, &ByName(self.0, &names, kind))?;
        }
        map.end()
    }
}

/// One `{name: [values]}` map of the AXFR document, for names with values of one type.
struct ByName<'a, S>(&'a S, &'a [&'a str], AxfrKind);

impl<S: AxfrSource> Serialize for ByName<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = s.serialize_map(None)?;
        for name in self.1 {
            let values = self.0.values(name, self.2);
            if !values.is_empty() {
                map.serialize_entry(name, &values)?;
            }
        }
        map.end()
    }
}
