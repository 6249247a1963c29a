//! The `/v1/enumerate` and `/v1/axfr` documents (spec §4.10, §6), written straight from a
//! [`RecordSet`] to any writer without building a JSON tree.

use super::set::{RData, RecordSet};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use std::io::Write;

/// Writes `/v1/enumerate`: frameworks in state order, their eligible tasks, and each
/// task's records in the order it added them.
pub fn write_enumerate(set: &RecordSet, out: impl Write) -> serde_json::Result<()> {
    Enumerate(set).serialize(&mut serde_json::Serializer::new(out))
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

/// Writes `/v1/axfr`: every name by type, names sorted.
pub fn write_axfr(set: &RecordSet, zone: &ZoneInfo, out: impl Write) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::new(out);
    let mut map = ser.serialize_map(Some(7))?;
    map.serialize_entry("TTL", &zone.ttl)?;
    map.serialize_entry("Serial", &zone.serial)?;
    map.serialize_entry("RefreshSeconds", &zone.refresh_seconds)?;
    map.serialize_entry("Mname", zone.mname)?;
    map.serialize_entry("Rname", zone.rname)?;
    map.serialize_entry("Domain", zone.domain)?;
    map.serialize_entry("Records", &AxfrRecords(set))?;
    SerializeMap::end(map)
}

/// The text of a record's data as the reference stores it: an IP, or `target:port`.
pub fn rdata_text(set: &RecordSet, rdata: &RData) -> String {
    match rdata {
        RData::A(ip) => ip.to_string(),
        RData::Aaaa(ip) => ip.to_string(),
        RData::Srv { target, port } => format!("{}:{port}", set.name(*target)),
    }
}

struct Enumerate<'a>(&'a RecordSet);

impl Serialize for Enumerate<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let set = self.0;
        let mut map = s.serialize_map(Some(1))?;
        if set.frameworks().is_empty() {
            map.serialize_entry("frameworks", &())?;
        } else {
            map.serialize_entry("frameworks", &Frameworks(set))?;
        }
        map.end()
    }
}

struct Frameworks<'a>(&'a RecordSet);

impl Serialize for Frameworks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let set = self.0;
        let mut seq = s.serialize_seq(Some(set.frameworks().len()))?;
        for framework in set.frameworks() {
            seq.serialize_element(&FrameworkJson { set, framework })?;
        }
        seq.end()
    }
}

struct FrameworkJson<'a> {
    set: &'a RecordSet,
    framework: &'a super::FrameworkEntry,
}

impl Serialize for FrameworkJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("tasks", &Tasks(self.set, &self.framework.tasks))?;
        map.serialize_entry("name", &*self.framework.name)?;
        map.end()
    }
}

struct Tasks<'a>(&'a RecordSet, &'a [super::TaskEntry]);

impl Serialize for Tasks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for task in self.1 {
            seq.serialize_element(&TaskJson(self.0, task))?;
        }
        seq.end()
    }
}

struct TaskJson<'a>(&'a RecordSet, &'a super::TaskEntry);

impl Serialize for TaskJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (set, task) = (self.0, self.1);
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("name", &*task.name)?;
        map.serialize_entry("id", &*task.id)?;
        if task.records.is_empty() {
            map.serialize_entry("records", &())?;
        } else {
            map.serialize_entry("records", &TaskRecords(set, task))?;
        }
        map.end()
    }
}

struct TaskRecords<'a>(&'a RecordSet, &'a super::TaskEntry);

impl Serialize for TaskRecords<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (set, task) = (self.0, self.1);
        let log = &set.insertion_log()[task.records.start as usize..task.records.end as usize];
        let mut seq = s.serialize_seq(Some(log.len()))?;
        for (owner, rdata) in log {
            seq.serialize_element(&RecordJson {
                name: set.name(*owner),
                host: rdata_text(set, rdata),
                rtype: rdata.rtype(),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct RecordJson<'a> {
    name: &'a str,
    host: String,
    rtype: &'static str,
}

struct AxfrRecords<'a>(&'a RecordSet);

impl Serialize for AxfrRecords<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let set = self.0;
        let mut names: Vec<(&str, &super::NameRecords)> = set
            .iter()
            .map(|(_, name, records)| (name, records))
            .collect();
        names.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry(
            "As",
            &ByName(&names, |r: &super::NameRecords| {
                r.a.iter().map(|ip| ip.to_string()).collect()
            }),
        )?;
        map.serialize_entry(
            "AAAAs",
            &ByName(&names, |r: &super::NameRecords| {
                r.aaaa.iter().map(|ip| ip.to_string()).collect()
            }),
        )?;
        map.serialize_entry(
            "SRVs",
            &ByName(&names, |r: &super::NameRecords| {
                r.srv
                    .iter()
                    .map(|(target, port)| format!("{}:{port}", set.name(*target)))
                    .collect()
            }),
        )?;
        map.end()
    }
}

/// One `{name: [values]}` map of the AXFR document, for names with values of one type.
struct ByName<'a, F>(&'a [(&'a str, &'a super::NameRecords)], F);

impl<F> Serialize for ByName<'_, F>
where
    F: Fn(&super::NameRecords) -> Vec<String>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, records) in self.0 {
            let values = (self.1)(records);
            if !values.is_empty() {
                map.serialize_entry(name, &values)?;
            }
        }
        map.end()
    }
}
