//! [`Snapshot`]: the answer table the DNS workers read. Compiled once per state refresh
//! from a [`RecordSet`]: for every name of the zone (lower-cased wire form) its A, AAAA
//! and SRV record sets already written in wire format, plus the zone's SOA and NS, so a
//! query costs a hash lookup and a few copies.
//!
//! Every record is stored with the owner `C0 0C`, a compression pointer to the question
//! name at offset 12: the client's spelling is echoed, and a rotated set is copied in two
//! runs (records k..n, then 0..k). Identical sets (the same SRV targets under `_tcp`, `_udp`,
//! `.slave.` owners) are stored once.

pub mod document;

use crate::config::Config;
use crate::dns::wire::{CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA, TYPE_SRV, name_to_wire};
use crate::records::{NameId, RecordSet};
use document::Document;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

/// Marks "no record set of this type".
pub const NO_SET: u32 = u32::MAX;

/// Settings and zone records that every answer needs.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lower-cased wire form.
    pub apex: Vec<u8>,
    pub ttl: u32,
    pub recurse_on: bool,
    pub set_truncate_bit: bool,
    /// Largest UDP reply offered to EDNS clients.
    pub edns_max: u16,
    /// SOA RDATA: MNAME, RNAME, serial, refresh, retry, expire, minimum.
    pub soa_rdata: Vec<u8>,
    /// NS RDATA: `SOAMname`.
    pub ns_rdata: Vec<u8>,
    /// TTL of the SOA in negative answers: min(TTL, SOA MINIMUM) (RFC 2308 §3).
    pub negative_ttl: u32,
    /// The apex SOA as an answer set.
    pub soa_set: u32,
    /// The apex SOA with the negative TTL, for the authority section of negative answers.
    pub negative_soa_set: u32,
    /// The apex NS as an answer set, with `SOAMname`'s addresses as glue when it lies
    /// in the zone.
    pub ns_set: u32,
}

/// One name of the zone. A slot without sets is an empty non-terminal (NODATA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    key_start: u32,
    key_len: u8,
    pub a: u32,
    pub aaaa: u32,
    pub srv: u32,
}

/// Wire records of one type at one name, each as owner pointer `C0 0C`, type, class,
/// TTL, RDLENGTH, RDATA.
#[derive(Clone, Copy, Debug)]
pub struct RrSet {
    pub start: u32,
    pub len: u32,
    pub count: u32,
    /// Index into the offsets table: `count + 1` entries, each record's start within
    /// the set, then the set's length.
    pub offsets: u32,
    /// Additional-section addresses of SRV targets.
    pub extras_start: u32,
    pub extras_len: u32,
    /// Where, inside each record, the name that extras refer to starts: 18 for an SRV
    /// target, 12 for an NS host.
    pub target_offset: u16,
}

/// An address record for the additional section: the owner is the target name inside
/// answer record `answer_rr` of the set (a compression pointer is made when answering).
#[derive(Clone, Copy, Debug)]
pub struct Extra {
    pub answer_rr: u32,
    pub ip: IpAddr,
}

/// The zone facts the HTTP API reports.
#[derive(Clone, Debug)]
pub struct ZoneText {
    pub domain: String,
    pub mname: String,
    pub rname: String,
    pub refresh_seconds: u64,
}

/// An immutable answer table. Built by [`compile`], swapped in whole.
pub struct Snapshot {
    /// The generator's output, for the HTTP API (shared with the control thread, which
    /// compares the next refresh's records with it).
    pub records: Arc<RecordSet>,
    pub serial: u32,
    pub zone_text: ZoneText,
    /// `/v1/enumerate` and `/v1/axfr`, built on first request, at most once per snapshot.
    enumerate_json: OnceLock<Arc<Document>>,
    axfr_json: OnceLock<Arc<Document>>,
    /// False until the first state was loaded: in-domain queries get SERVFAIL.
    pub ready: bool,
    pub zone: Zone,
    index: HashTable<u32>,
    hasher: FixedState,
    slots: Vec<Slot>,
    keys: Vec<u8>,
    sets: Vec<RrSet>,
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    extras: Vec<Extra>,
}

/// Where a lower-cased question name falls relative to the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Not in the zone: forward (or refuse).
    OutOfZone,
    /// In the zone, and the name exists (possibly as an empty non-terminal).
    Found(&'a Slot),
    /// In the zone, no such name.
    Missing,
}

impl Snapshot {
    /// A snapshot with no data yet: it knows the zone, and answers SERVFAIL inside it.
    pub fn empty(config: &Config) -> Snapshot {
        let mut s = compile(RecordSet::default(), config, 0);
        s.ready = false;
        s
    }

    /// Finds `qname` (lower-cased wire form).
    pub fn lookup(&self, qname: &[u8]) -> Lookup<'_> {
        if !in_zone(qname, &self.zone.apex) {
            return Lookup::OutOfZone;
        }
        match self.find(qname) {
            Some(i) => Lookup::Found(&self.slots[i as usize]),
            None => Lookup::Missing,
        }
    }

    fn find(&self, key: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| self.key(&self.slots[i as usize]) == key)
            .copied()
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        &self.keys[slot.key_start as usize..slot.key_start as usize + slot.key_len as usize]
    }

    pub fn slot(&self, index: u32) -> &Slot {
        &self.slots[index as usize]
    }

    pub fn set(&self, id: u32) -> Option<&RrSet> {
        self.sets.get(id as usize)
    }

    /// The wire bytes of a set.
    pub fn set_bytes(&self, set: &RrSet) -> &[u8] {
        &self.bytes[set.start as usize..(set.start + set.len) as usize]
    }

    /// Record start offsets within the set, then its length (`count + 1` entries).
    pub fn set_offsets(&self, set: &RrSet) -> &[u32] {
        &self.offsets[set.offsets as usize..(set.offsets + set.count + 1) as usize]
    }

    pub fn set_extras(&self, set: &RrSet) -> &[Extra] {
        &self.extras[set.extras_start as usize..(set.extras_start + set.extras_len) as usize]
    }

    /// The `/v1/enumerate` document of this snapshot.
    pub fn enumerate_json(&self) -> Arc<Document> {
        self.enumerate_json
            .get_or_init(|| {
                let mut out = Document::default();
                // Writing to a Vec cannot fail.
                let _ = crate::records::enumerate::write_enumerate(&self.records, &mut out);
                Arc::new(out)
            })
            .clone()
    }

    /// The `/v1/axfr` document of this snapshot.
    pub fn axfr_json(&self) -> Arc<Document> {
        self.axfr_json
            .get_or_init(|| {
                let z = &self.zone_text;
                let info = crate::records::enumerate::ZoneInfo {
                    ttl: self.zone.ttl,
                    serial: self.serial,
                    refresh_seconds: z.refresh_seconds,
                    mname: &z.mname,
                    rname: &z.rname,
                    domain: &z.domain,
                };
                let mut out = Document::default();
                let _ = crate::records::enumerate::write_axfr(&self.records, &info, &mut out);
                Arc::new(out)
            })
            .clone()
    }

    /// The slot of a name given as text (`a.b.` or `a.b`), any case.
    fn slot_by_text(&self, name: &str) -> Option<&Slot> {
        let mut key = Vec::with_capacity(name.len() + 2);
        name_to_wire(name, true, &mut key)?;
        self.find(&key).map(|i| &self.slots[i as usize])
    }

    /// The A and AAAA addresses of a name, in stored order.
    pub fn addresses(&self, name: &str) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let Some(slot) = self.slot_by_text(name) else {
            return (v4, v6);
        };
        for set in [slot.a, slot.aaaa].iter().filter_map(|&id| self.set(id)) {
            for rr in self.records_of(set) {
                match rr.get(12..) {
                    Some(ip) if ip.len() == 4 => {
                        v4.extend(<[u8; 4]>::try_from(ip).ok().map(Ipv4Addr::from))
                    }
                    Some(ip) if ip.len() == 16 => {
                        v6.extend(<[u8; 16]>::try_from(ip).ok().map(Ipv6Addr::from))
                    }
                    _ => {}
                }
            }
        }
        (v4, v6)
    }

    /// The SRV records of a name as (target, port), in stored order.
    pub fn services(&self, name: &str) -> Vec<(String, u16)> {
        let Some(set) = self.slot_by_text(name).and_then(|slot| self.set(slot.srv)) else {
            return Vec::new();
        };
        self.records_of(set)
            .filter_map(|rr| {
                let port = u16::from_be_bytes([*rr.get(16)?, *rr.get(17)?]);
                Some((wire_to_text(rr.get(18..)?)?, port))
            })
            .collect()
    }

    /// Each record of a set as bytes.
    fn records_of<'a>(&'a self, set: &'a RrSet) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.set_bytes(set);
        self.set_offsets(set)
            .windows(2)
            .map(move |w| &bytes[w[0] as usize..w[1] as usize])
    }

    /// Bytes held by each table: keys, record bytes, offsets, extras, sets, slots.
    pub fn size_detail(&self) -> [usize; 6] {
        [
            self.keys.capacity(),
            self.bytes.capacity(),
            self.offsets.capacity() * 4,
            self.extras.capacity() * std::mem::size_of::<Extra>(),
            self.sets.capacity() * std::mem::size_of::<RrSet>(),
            self.slots.capacity() * std::mem::size_of::<Slot>(),
        ]
    }

    /// Names in the table (including empty non-terminals) and bytes held by the table.
    pub fn size(&self) -> (usize, usize) {
        let bytes = self.keys.capacity()
            + self.bytes.capacity()
            + self.offsets.capacity() * 4
            + self.extras.capacity() * std::mem::size_of::<Extra>()
            + self.sets.capacity() * std::mem::size_of::<RrSet>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.index.capacity() * 5;
        (self.slots.len(), bytes)
    }
}

/// An uncompressed wire name as text with a trailing dot.
fn wire_to_text(wire: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut at = 0;
    loop {
        let len = *wire.get(at)? as usize;
        if len == 0 {
            break;
        }
        let label = wire.get(at + 1..at + 1 + len)?;
        out.push_str(&String::from_utf8_lossy(label));
        out.push('.');
        at += 1 + len;
    }
    if out.is_empty() {
        out.push('.');
    }
    Some(out)
}

/// True when `name` is `apex` or below it (both lower-cased wire form).
pub fn in_zone(name: &[u8], apex: &[u8]) -> bool {
    if name.len() < apex.len() || !name.ends_with(apex) {
        return false;
    }
    // The suffix must start at a label boundary.
    let target = name.len() - apex.len();
    let mut at = 0;
    while at < target {
        at += 1 + name[at] as usize;
    }
    at == target
}

/// The owner of every stored record: a pointer to the question name.
pub const QUESTION_POINTER: [u8; 2] = [0xC0, 12];

fn push_rr_header(out: &mut Vec<u8>, rtype: u16, ttl: u32, rdlen: usize) {
    out.extend_from_slice(&QUESTION_POINTER);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
}

/// Writes one record for the NS and SOA answers.
pub fn zone_record(rtype: u16, ttl: u32, rdata: &[u8], out: &mut Vec<u8>) {
    push_rr_header(out, rtype, ttl, rdata.len());
    out.extend_from_slice(rdata);
}

struct Compiler<'a> {
    records: &'a RecordSet,
    ttl: u32,
    weight: u16,
    snap: Snapshot,
    /// Deduplication of identical sets, keyed by their bytes.
    set_index: HashTable<u32>,
    scratch: Vec<u8>,
    scratch_offsets: Vec<u32>,
    scratch_extras: Vec<Extra>,
    target_offset: u16,
    target_wire: Vec<u8>,
}

impl Compiler<'_> {
    fn slot_for(&mut self, key: &[u8]) -> u32 {
        if let Some(i) = self.snap.find(key) {
            return i;
        }
        let snap = &mut self.snap;
        let i = snap.slots.len() as u32;
        snap.slots.push(Slot {
            key_start: snap.keys.len() as u32,
            key_len: key.len() as u8,
            a: NO_SET,
            aaaa: NO_SET,
            srv: NO_SET,
        });
        snap.keys.extend_from_slice(key);
        let Snapshot {
            index,
            hasher,
            slots,
            keys,
            ..
        } = snap;
        let key_of = |i: &u32| {
            let s = &slots[*i as usize];
            hasher.hash_one(&keys[s.key_start as usize..s.key_start as usize + s.key_len as usize])
        };
        index.insert_unique(hasher.hash_one(key), i, key_of);
        i
    }

    /// Stores the set in `scratch` (or finds an identical one) and returns its id.
    fn finish_set(&mut self) -> u32 {
        let count = self.scratch_offsets.len() as u32;
        if count == 0 {
            return NO_SET;
        }
        let hasher = self.snap.hasher.clone();
        let hash = hasher.hash_one(&self.scratch);
        let Snapshot { sets, bytes, .. } = &self.snap;
        let found = self.set_index.find(hash, |&id| {
            let s = &sets[id as usize];
            &bytes[s.start as usize..(s.start + s.len) as usize] == self.scratch.as_slice()
        });
        if let Some(&id) = found {
            return id;
        }
        let snap = &mut self.snap;
        let id = snap.sets.len() as u32;
        snap.sets.push(RrSet {
            start: snap.bytes.len() as u32,
            len: self.scratch.len() as u32,
            count,
            offsets: snap.offsets.len() as u32,
            extras_start: snap.extras.len() as u32,
            extras_len: self.scratch_extras.len() as u32,
            target_offset: self.target_offset,
        });
        snap.bytes.extend_from_slice(&self.scratch);
        snap.offsets.extend_from_slice(&self.scratch_offsets);
        snap.offsets.push(self.scratch.len() as u32);
        snap.extras.extend_from_slice(&self.scratch_extras);
        let Snapshot { sets, bytes, .. } = &self.snap;
        self.set_index.insert_unique(hash, id, |&i| {
            let s = &sets[i as usize];
            hasher.hash_one(&bytes[s.start as usize..(s.start + s.len) as usize])
        });
        id
    }

    fn begin_set(&mut self) {
        self.target_offset = 0;
        self.scratch.clear();
        self.scratch_offsets.clear();
        self.scratch_extras.clear();
    }

    fn address_set(&mut self, ips: impl Iterator<Item = IpAddr>) -> u32 {
        self.begin_set();
        for ip in ips {
            self.scratch_offsets.push(self.scratch.len() as u32);
            match ip {
                IpAddr::V4(v4) => {
                    push_rr_header(&mut self.scratch, TYPE_A, self.ttl, 4);
                    self.scratch.extend_from_slice(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    push_rr_header(&mut self.scratch, TYPE_AAAA, self.ttl, 16);
                    self.scratch.extend_from_slice(&v6.octets());
                }
            }
        }
        self.finish_set()
    }

    fn srv_set(&mut self, srv: &[(NameId, u16)]) -> u32 {
        self.begin_set();
        let records = self.records;
        for (i, &(target, port)) in srv.iter().enumerate() {
            self.target_wire.clear();
            // Target names come from the generator, which only keeps encodable names.
            if name_to_wire(records.name(target), false, &mut self.target_wire).is_none() {
                continue;
            }
            let rr = self.scratch_offsets.len() as u32;
            self.target_offset = 18;
            self.scratch_offsets.push(self.scratch.len() as u32);
            push_rr_header(
                &mut self.scratch,
                TYPE_SRV,
                self.ttl,
                6 + self.target_wire.len(),
            );
            self.scratch.extend_from_slice(&0u16.to_be_bytes());
            self.scratch.extend_from_slice(&self.weight.to_be_bytes());
            self.scratch.extend_from_slice(&port.to_be_bytes());
            self.scratch.extend_from_slice(&self.target_wire);
            // Addresses of each distinct target once, for the additional section.
            if srv[..i].iter().all(|&(t, _)| t != target) {
                let r = records.records_of(target);
                let ips = r.a.iter().map(|&v4| IpAddr::V4(v4));
                let ips = ips.chain(r.aaaa.iter().map(|&v6| IpAddr::V6(v6)));
                self.scratch_extras
                    .extend(ips.map(|ip| Extra { answer_rr: rr, ip }));
            }
        }
        self.finish_set()
    }
}

/// Builds the answer table for `records` under `config`, with SOA serial `serial`.
pub fn compile(records: impl Into<Arc<RecordSet>>, config: &Config, serial: u32) -> Snapshot {
    let records: Arc<RecordSet> = records.into();
    let mut apex = Vec::new();
    // The domain was validated at start-up, so it always encodes.
    let _ = name_to_wire(&config.domain, true, &mut apex);
    let mut soa_rdata = Vec::new();
    let _ = name_to_wire(&config.soa_mname, false, &mut soa_rdata);
    let _ = name_to_wire(&config.soa_rname, false, &mut soa_rdata);
    for v in [
        serial,
        config.soa_refresh,
        config.soa_retry,
        config.soa_expire,
        config.soa_minttl,
    ] {
        soa_rdata.extend_from_slice(&v.to_be_bytes());
    }
    let mut ns_rdata = Vec::new();
    let _ = name_to_wire(&config.soa_mname, false, &mut ns_rdata);
    let zone = Zone {
        apex,
        ttl: config.ttl,
        recurse_on: config.recurse_on,
        set_truncate_bit: config.set_truncate_bit,
        edns_max: config.edns_max_udp_size,
        soa_rdata,
        ns_rdata,
        negative_ttl: config.ttl.min(config.soa_minttl),
        soa_set: NO_SET,
        negative_soa_set: NO_SET,
        ns_set: NO_SET,
    };
    let names = records.iter().count();
    let mut c = Compiler {
        records: &records,
        ttl: config.ttl,
        weight: config.srv_record_default_weight,
        snap: Snapshot {
            records: records.clone(),
            serial,
            zone_text: ZoneText {
                domain: config.domain.clone(),
                mname: config.soa_mname.clone(),
                rname: config.soa_rname.clone(),
                refresh_seconds: config.refresh_seconds,
            },
            enumerate_json: OnceLock::new(),
            axfr_json: OnceLock::new(),
            ready: true,
            zone,
            index: HashTable::with_capacity(names * 2),
            hasher: FixedState::default(),
            slots: Vec::with_capacity(names * 2),
            keys: Vec::with_capacity(names * 48),
            sets: Vec::new(),
            bytes: Vec::new(),
            offsets: Vec::new(),
            extras: Vec::new(),
        },
        set_index: HashTable::new(),
        scratch: Vec::new(),
        scratch_offsets: Vec::new(),
        scratch_extras: Vec::new(),
        target_offset: 0,
        target_wire: Vec::new(),
    };

    // Names that differ only in case share one slot; their records are merged.
    let mut key = Vec::with_capacity(256);
    let mut slot_names: Vec<(u32, NameId)> = Vec::with_capacity(names);
    for (id, name, _) in records.iter() {
        key.clear();
        if name_to_wire(name, true, &mut key).is_none() || !in_zone(&key, &c.snap.zone.apex) {
            continue;
        }
        let slot = c.slot_for(&key);
        slot_names.push((slot, id));
    }
    slot_names.sort_unstable_by_key(|&(slot, _)| slot);
    for group in slot_names.chunk_by(|a, b| a.0 == b.0) {
        let slot = group[0].0;
        let of = |f: fn(&crate::records::NameRecords) -> Vec<IpAddr>| {
            let mut all: Vec<IpAddr> = Vec::new();
            for (_, id) in group {
                for ip in f(records.records_of(*id)) {
                    if !all.contains(&ip) {
                        all.push(ip);
                    }
                }
            }
            all
        };
        let a = c.address_set(of(|r| r.a.iter().map(|&v| IpAddr::V4(v)).collect()).into_iter());
        let aaaa =
            c.address_set(of(|r| r.aaaa.iter().map(|&v| IpAddr::V6(v)).collect()).into_iter());
        let srv: Vec<(NameId, u16)> = group
            .iter()
            .flat_map(|(_, id)| records.records_of(*id).srv.iter().copied())
            .collect();
        let srv = c.srv_set(&srv);
        let s = &mut c.snap.slots[slot as usize];
        (s.a, s.aaaa, s.srv) = (a, aaaa, srv);
    }

    // Every ancestor between a name and the apex exists (empty non-terminals, RFC 8020).
    let apex_len = c.snap.zone.apex.len();
    let existing = c.snap.slots.len();
    for i in 0..existing {
        let slot = c.snap.slots[i];
        key.clear();
        key.extend_from_slice(c.snap.key(&slot));
        let mut at = 0;
        while key.len() - at > apex_len {
            at += 1 + key[at] as usize;
            let ancestor = key[at..].to_vec();
            if c.snap.find(&ancestor).is_some() {
                break;
            }
            c.slot_for(&ancestor);
        }
    }
    let apex = c.snap.zone.apex.clone();
    c.slot_for(&apex);

    c.zone_sets(&config.soa_mname);
    let mut snap = c.snap;
    // Reservations were estimates: give back what was not used.
    snap.keys.shrink_to_fit();
    snap.bytes.shrink_to_fit();
    snap.offsets.shrink_to_fit();
    snap.extras.shrink_to_fit();
    snap.sets.shrink_to_fit();
    snap.slots.shrink_to_fit();
    let Snapshot {
        index,
        hasher,
        slots,
        keys,
        ..
    } = &mut snap;
    index.shrink_to_fit(|&i| {
        let s = &slots[i as usize];
        hasher.hash_one(&keys[s.key_start as usize..s.key_start as usize + s.key_len as usize])
    });
    snap
}

impl Compiler<'_> {
    /// The apex SOA and NS answers, stored like any other set.
    fn zone_sets(&mut self, soa_mname: &str) {
        let zone = self.snap.zone.clone();
        for (ttl, negative) in [(zone.ttl, false), (zone.negative_ttl, true)] {
            self.begin_set();
            self.scratch_offsets.push(0);
            zone_record(TYPE_SOA, ttl, &zone.soa_rdata, &mut self.scratch);
            let id = self.finish_set();
            if negative {
                self.snap.zone.negative_soa_set = id;
            } else {
                self.snap.zone.soa_set = id;
            }
        }
        self.begin_set();
        self.scratch_offsets.push(0);
        zone_record(TYPE_NS, zone.ttl, &zone.ns_rdata, &mut self.scratch);
        // Glue: SOAMname's own addresses, when they are served here.
        let mut key = Vec::new();
        if name_to_wire(soa_mname, true, &mut key).is_some() {
            if let Some(i) = self.snap.find(&key) {
                let slot = self.snap.slots[i as usize];
                for set_id in [slot.a, slot.aaaa] {
                    let Some(set) = self.snap.sets.get(set_id as usize).copied() else {
                        continue;
                    };
                    for &off in &self.snap.set_offsets(&set)[..set.count as usize] {
                        let rr = &self.snap.set_bytes(&set)[off as usize..];
                        let ip = match rr.get(8..10) {
                            Some([0, 4]) => rr
                                .get(10..14)
                                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                                .map(IpAddr::from),
                            Some([0, 16]) => rr
                                .get(10..26)
                                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                                .map(IpAddr::from),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            self.scratch_extras.push(Extra { answer_rr: 0, ip });
                        }
                    }
                }
            }
        }
        self.target_offset = 12;
        self.snap.zone.ns_set = self.finish_set();
    }
}
