//! The `/v1/enumerate` and `/v1/axfr` documents: written straight from a view of the
//! records (`crate::records::enumerate`) without building a JSON tree, into 1 MiB chunks
//! (no copies, nor the doubled peak memory, of a growing `Vec`), and sent chunk by
//! chunk. The control thread renders them from its model when a handler asks.

use crate::records::enumerate::{AxfrKind, AxfrSource, EnumerateSource, RecordRow};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use std::borrow::Cow;
use std::io::{self, Write};

/// Writes `/v1/enumerate`.
pub fn write_enumerate(source: &impl EnumerateSource, out: impl Write) -> serde_json::Result<()> {
    Enumerate(source).serialize(&mut serde_json::Serializer::new(out))
}

/// The SOA facts `/v1/axfr` carries beside the records.
#[derive(Clone, Debug)]
pub struct ZoneInfo<'a> {
    /// `TTL`.
    pub ttl: u32,
    /// The serial now served.
    pub serial: u32,
    /// `RefreshSeconds`.
    pub refresh_seconds: u64,
    /// `SOAMname`.
    pub mname: &'a str,
    /// `SOARname`.
    pub rname: &'a str,
    /// The domain.
    pub domain: &'a str,
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

const CHUNK: usize = 1 << 20;

/// The large JSON documents of the HTTP API, rendered by the control thread from the
/// model on request (the snapshot keeps no second copy of every record for them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// `/v1/enumerate`
    Enumerate,
    /// `/v1/axfr`
    Axfr,
}

/// A request for a document, answered on `reply` with the document of serial `serial`.
#[derive(Debug)]
pub struct DocumentRequest {
    /// Which document.
    pub kind: DocumentKind,
    /// Where the serial and the document go.
    pub reply: crossbeam_channel::Sender<(u32, std::sync::Arc<Document>)>,
}

/// A rendered document, in chunks.
#[derive(Debug, Default)]
pub struct Document {
    chunks: Vec<Vec<u8>>,
}

impl Document {
    /// Its length in octets.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Whether it has no octets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its octets, chunk by chunk.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(Vec::as_slice)
    }

    /// The whole document in one buffer (for tests and small documents).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl Write for Document {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let written = buf.len();
        while !buf.is_empty() {
            if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                self.chunks.push(Vec::with_capacity(CHUNK));
            }
            if let Some(last) = self.chunks.last_mut() {
                let take = buf.len().min(CHUNK - last.len());
                last.extend_from_slice(&buf[..take]);
                buf = &buf[take..];
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
struct ByName<'a, S>(&'a S, &'a [Cow<'a, str>], AxfrKind);

impl<S: AxfrSource> Serialize for ByName<'_, S> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = s.serialize_map(None)?;
        for name in self.1 {
            let values = self.0.values(name, self.2);
            if !values.is_empty() {
                map.serialize_entry(&**name, &values)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_everything_in_order() {
        let mut d = Document::default();
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| i as u8).collect();
        for piece in data.chunks(1000) {
            d.write_all(piece).unwrap(); // ok: test
        }
        assert_eq!(d.len(), data.len());
        assert_eq!(d.chunks().count(), 4);
        assert_eq!(d.to_vec(), data);
    }
}
