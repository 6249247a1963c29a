//! [`Snapshot`]: the answer table the DNS workers read. For every name of the zone
//! (lower-cased wire form) its A, AAAA and SRV record sets already written in wire
//! format, plus the zone's SOA and NS, so a query costs a hash lookup and a few copies.
//!
//! The table is split into [`shards::Shard`]s by the hash of the name. The control
//! thread keeps every record in a [`store::ZoneStore`], which lives in the shards
//! themselves (beside each name's answer sets, what the store counts of it); a publish
//! makes again the sets of the names that changed, in copies of their shards, shares
//! every other shard with the previous snapshot, and swaps one pointer. What the
//! publish changed in the served records goes to its [`history::History`] (IXFR).

pub(crate) mod delta;
pub mod history;
pub mod keys;
pub mod sets;
pub mod shards;
pub mod store;
pub(crate) mod suffixes;
pub mod values;

use crate::config::{Config, DCOS_DIRECTORY};
use crate::dns::wire::{TYPE_NS, TYPE_SOA, name_to_wire, set_soa_serial, soa_number};
use crate::records::{ItemRecords, NameId, RecordSet};
use foldhash::fast::FixedState;
use sets::{Extra, RrSet, SetPool};
pub use shards::TtlTable;
use shards::{NameSets, RecordSettings, SetWriter, ShardRef, ShardTable, SlotSets, shard_of};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use store::{DirtyName, Sign, ZoneStore};

/// The hash of a lower-cased wire name: picks its shard and its slot.
pub fn key_hash(wire: &[u8]) -> u64 {
    FixedState::default().hash_one(wire)
}

/// How a store's records become answers: shaped by the configuration (a server following
/// Mesos), or as a primary served them (a secondary).
#[derive(Clone, Copy)]
pub struct Shape<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Secondary mode: the zone's SOA, NS and TTLs as transferred.
    pub transferred: Option<&'a TransferredZone>,
}

impl<'a> From<&'a Config> for Shape<'a> {
    fn from(config: &'a Config) -> Shape<'a> {
        Shape {
            config,
            transferred: None,
        }
    }
}

/// What a secondary takes from the transferred zone rather than from its configuration.
#[derive(Clone, Debug, Default)]
pub struct TransferredZone {
    /// The apex SOA's RDATA, names uncompressed.
    pub soa_rdata: Vec<u8>,
    /// The SOA's TTL.
    pub soa_ttl: u32,
    /// The apex NS targets, uncompressed wire names, sorted.
    pub ns: Vec<Vec<u8>>,
    /// The NS set's TTL.
    pub ns_ttl: u32,
    /// The TTLs of the other sets.
    pub ttls: shards::TtlTable,
}

impl TransferredZone {
    /// The SOA's serial.
    pub fn serial(&self) -> u32 {
        soa_number(&self.soa_rdata, 0).unwrap_or_default()
    }

    /// The SOA's refresh, retry, expire and minimum, in seconds.
    pub fn timers(&self) -> [u32; 4] {
        [1, 2, 3, 4].map(|i| soa_number(&self.soa_rdata, i).unwrap_or_default())
    }
}

/// Settings and zone records that every answer needs.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lower-cased wire form.
    pub apex: Vec<u8>,
    /// `TTL` of every record.
    pub ttl: u32,
    /// `RecurseOn`: the RA flag.
    pub recurse_on: bool,
    /// `SetTruncateBit`.
    pub set_truncate_bit: bool,
    /// Largest UDP reply offered to EDNS clients.
    pub edns_max: u16,
    /// `MaxAnswers`: records of one set in an answer (`usize::MAX` when unlimited).
    pub max_answers: usize,
    /// SOA RDATA: MNAME, RNAME, serial, refresh, retry, expire, minimum.
    pub soa_rdata: Vec<u8>,
    /// NS RDATA: `SOAMname`.
    pub ns_rdata: Vec<u8>,
    /// TTL of the SOA in negative answers: min(TTL, SOA MINIMUM) (RFC 2308 §3).
    pub negative_ttl: u32,
    /// The apex SOA as an answer set.
    pub soa: Option<RrSet>,
    /// The apex SOA with the negative TTL in wire form (owner pointer to the question
    /// first), for the authority section of negative answers: copied whole, as a set's
    /// records written one by one would cost every NXDOMAIN some 100 instructions more.
    pub negative_soa: Option<Box<[u8]>>,
    /// The apex NS as an answer set, with `SOAMname`'s addresses as glue when it lies
    /// in the zone.
    pub ns: Option<RrSet>,
    /// The apexes of the other zones served (`ReverseZones`), lower-cased wire form.
    /// They answer with the same SOA and NS data at their own apex.
    pub others: Vec<Vec<u8>>,
}

/// The zone facts the HTTP API reports.
#[derive(Clone, Debug)]
pub struct ZoneText {
    /// The domain.
    pub domain: String,
    /// `SOAMname`.
    pub mname: String,
    /// `SOARname`.
    pub rname: String,
    /// `RefreshSeconds`.
    pub refresh_seconds: u64,
}

/// Record counts of a snapshot, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Names with records.
    pub names: usize,
    /// A records.
    pub a: usize,
    /// AAAA records.
    pub aaaa: usize,
    /// SRV records.
    pub srv: usize,
}

/// The snapshot every listener answers from; the control thread swaps it.
pub type SharedSnapshot = std::sync::Arc<arc_swap::ArcSwap<Snapshot>>;

/// An immutable answer table, swapped in whole; shards are shared between versions.
pub struct Snapshot {
    /// The SOA serial.
    pub serial: u32,
    /// Zone facts for the HTTP API.
    pub zone_text: ZoneText,
    /// False until the first state was loaded: in-domain queries get SERVFAIL.
    pub ready: bool,
    /// Settings and zone records.
    pub zone: Zone,
    /// Record counts.
    pub counts: Counts,
    /// The latest publishes' changes to the served records (IXFR).
    pub history: history::History,
    shards: ShardTable,
}

/// Where a lower-cased question name falls relative to the zones served.
#[derive(Clone, Copy)]
pub enum Lookup<'a> {
    /// In none of them: forward (or refuse).
    OutOfZone,
    /// In the zone of that apex, and the name exists (possibly as an empty
    /// non-terminal).
    Found(NameSets<'a>, &'a [u8]),
    /// In the zone of that apex, no such name.
    Missing(&'a [u8]),
}

impl Snapshot {
    /// A snapshot with no data yet: it knows the zone, and answers SERVFAIL inside it.
    pub fn empty(config: &Config) -> Snapshot {
        let mut store = store_for(config);
        let mut s = Snapshot::compile_all(&mut store, config, 0, &SetPool::default());
        s.ready = false;
        s
    }

    /// A snapshot of every name of `store`, their sets compiled again (interned in
    /// `pool`) and installed in the store's shards, which the snapshot shares.
    pub fn compile_all<'a>(
        store: &mut ZoneStore,
        shape: impl Into<Shape<'a>>,
        serial: u32,
        pool: &SetPool,
    ) -> Snapshot {
        let threads = compile_threads(store.counts().0);
        Snapshot::compile_all_in(store, shape.into(), serial, pool, threads)
    }

    fn compile_all_in(
        store: &mut ZoneStore,
        shape: Shape,
        serial: u32,
        pool: &SetPool,
        threads: usize,
    ) -> Snapshot {
        compile_and_install(
            store,
            record_settings(shape),
            pool,
            threads,
            |store, writer, shard, out| writer.shard_sets(store, shard, out),
            |_, _| {},
        );
        Snapshot::assemble(store, shape, serial, pool)
    }

    /// The next snapshot: the sets of the `changed` names compiled again and installed in
    /// `store`'s shards (copied first where the served snapshot shares them), every
    /// other shard shared. `shape` must shape records as it did for the snapshot served
    /// (else use [`Snapshot::compile_all`]).
    pub fn update<'a>(
        store: &mut ZoneStore,
        changed: &[DirtyName],
        shape: impl Into<Shape<'a>>,
        serial: u32,
        pool: &SetPool,
    ) -> Snapshot {
        let shape = shape.into();
        let mut writer = SetWriter::new(record_settings(shape), pool);
        let compiled: Vec<_> = changed
            .iter()
            .filter_map(|name| Some((name.node?, &name.new_extras)))
            .map(|(id, new_extras)| {
                let sets = if new_extras.is_empty() {
                    writer.name_sets(store, id)
                } else {
                    writer.sets_with_new_extras(store, id, new_extras)
                };
                (id, sets)
            })
            .collect();
        store.install(compiled);
        Snapshot::assemble(store, shape, serial, pool)
    }

    fn assemble(store: &mut ZoneStore, shape: Shape, serial: u32, pool: &SetPool) -> Snapshot {
        let zone = zone(store, shape, serial, pool);
        let (names, a, aaaa, srv) = store.counts();
        Snapshot {
            serial,
            zone_text: zone_text(shape),
            ready: true,
            zone,
            counts: Counts {
                names,
                a,
                aaaa,
                srv,
            },
            history: history::History::default(),
            shards: store.table().clone(),
        }
    }

    /// The same records under another serial: only the zone's SOA changes.
    pub fn with_serial<'a>(
        mut self,
        store: &ZoneStore,
        shape: impl Into<Shape<'a>>,
        serial: u32,
        pool: &SetPool,
    ) -> Snapshot {
        let shape = shape.into();
        self.zone = zone(store, shape, serial, pool);
        self.zone_text = zone_text(shape);
        self.serial = serial;
        self
    }

    /// The same records, served (`ready`) or answered with SERVFAIL (a secondary's zone
    /// past its expire time).
    pub fn with_ready(&self, ready: bool) -> Snapshot {
        Snapshot {
            serial: self.serial,
            zone_text: self.zone_text.clone(),
            ready,
            zone: self.zone.clone(),
            counts: self.counts,
            history: self.history.clone(),
            shards: self.shards.clone(),
        }
    }

    /// The records served at `changed` names that differ in `next` (removed, added).
    pub fn served_changes(
        &self,
        next: &Snapshot,
        changed: &[DirtyName],
    ) -> (history::WireRecords, history::WireRecords) {
        history::served_changes(self, next, changed)
    }

    /// The served records that differ in `next`, a snapshot not made from this one
    /// (removed, added): every name is compared.
    pub fn whole_changes(&self, next: &Snapshot) -> (history::WireRecords, history::WireRecords) {
        history::whole_changes(self, next)
    }

    /// The sets of a lower-cased wire name with hash `hash`.
    fn sets_by_key(&self, key: &[u8], hash: u64) -> Option<NameSets<'_>> {
        self.shards.get(shard_of(hash)).find(key, hash)
    }

    /// Finds `qname` (lower-cased wire form).
    pub fn lookup(&self, qname: &[u8]) -> Lookup<'_> {
        // The domain first: its queries pay nothing for the other zones.
        let apex: &[u8] = if in_zone(qname, &self.zone.apex) {
            &self.zone.apex
        } else {
            match self.zone.others.iter().find(|apex| in_zone(qname, apex)) {
                Some(apex) => apex,
                None => return Lookup::OutOfZone,
            }
        };
        let hash = key_hash(qname);
        match self.shards.get(shard_of(hash)).find(qname, hash) {
            Some(sets) => Lookup::Found(sets, apex),
            None => Lookup::Missing(apex),
        }
    }

    /// The shards, in order.
    pub fn shards(&self) -> impl Iterator<Item = ShardRef<'_>> {
        self.shards.iter()
    }

    /// Shard `index` (below [`shards::SHARDS`]).
    pub fn shard(&self, index: usize) -> ShardRef<'_> {
        self.shards.get(index)
    }

    /// The sets of a name given as text (`a.b.` or `a.b`), any case.
    fn sets_by_text(&self, name: &str) -> Option<NameSets<'_>> {
        let mut key = Vec::with_capacity(name.len() + 2);
        name_to_wire(name, true, &mut key)?;
        match self.lookup(&key) {
            Lookup::Found(sets, _) => Some(sets),
            _ => None,
        }
    }

    /// The A and AAAA addresses of a name, in stored order.
    pub fn addresses(&self, name: &str) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let Some([a, aaaa, ..]) = self.sets_by_text(name) else {
            return (v4, v6);
        };
        for ip in [a, aaaa].into_iter().flatten().flat_map(RrSet::addresses) {
            match ip {
                IpAddr::V4(ip) => v4.push(ip),
                IpAddr::V6(ip) => v6.push(ip),
            }
        }
        (v4, v6)
    }

    /// The SRV records of a name as (target, port), in stored order.
    pub fn services(&self, name: &str) -> Vec<(String, u16)> {
        let Some(set) = self.sets_by_text(name).and_then(|[_, _, srv, _]| srv) else {
            return Vec::new();
        };
        set.rdatas()
            .filter_map(|rdata| {
                let port = u16::from_be_bytes([*rdata.get(4)?, *rdata.get(5)?]);
                Some((wire_to_text(rdata.get(6..)?)?, port))
            })
            .collect()
    }

    /// Names in the table (including empty non-terminals) and bytes held by the
    /// shards' own tables (the sets they share are counted by their [`SetPool`], the
    /// nodes beside them by the store).
    pub fn size(&self) -> (usize, usize) {
        let names = self.shards.iter().map(|s| s.len()).sum();
        let bytes = self
            .shards
            .iter()
            .map(|s| {
                let (tables, keys) = s.bytes_held();
                tables + keys
            })
            .sum::<usize>()
            + shards::SHARDS * std::mem::size_of::<Arc<shards::Shard>>()
            + self.shards.suffix_bytes();
        (names, bytes)
    }

    /// Bytes held by the parents the shards' keys are split by (the names' keys, with
    /// the shards' own).
    pub fn suffix_bytes(&self) -> usize {
        self.shards.suffix_bytes()
    }
}

/// Names per thread of a whole compile: below this, starting a thread costs about what
/// it saves.
const NAMES_PER_COMPILE_THREAD: usize = 20_000;

/// How many threads compile a zone of `names` names whole: the cores this process may
/// use (at a first load the others are idle), fewer for a small zone.
fn compile_threads(names: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(names / NAMES_PER_COMPILE_THREAD).clamp(1, 8)
}

/// Shards whose sets are made before they are installed: an eighth of the zone at a
/// time, so that the sets of the whole zone and the lists carrying them to their slots
/// (40 octets a name) are not all held at once.
const SHARDS_PER_INSTALL: usize = shards::SHARDS / 8;

/// Makes the sets of every shard of `store` with `shard_sets` (e.g. those of its
/// served names) on `threads` threads, and installs them in the shards' slots, a part
/// of the shards at a time, the last part first; `installed` is called with each part
/// once its sets are in.
fn compile_and_install(
    store: &mut ZoneStore,
    settings: RecordSettings,
    pool: &SetPool,
    threads: usize,
    shard_sets: impl Fn(&ZoneStore, &mut SetWriter, usize, &mut Vec<(NameId, SlotSets)>) + Sync,
    mut installed: impl FnMut(&mut ZoneStore, std::ops::Range<usize>),
) {
    for start in (0..shards::SHARDS).step_by(SHARDS_PER_INSTALL).rev() {
        let part = start..(start + SHARDS_PER_INSTALL).min(shards::SHARDS);
        let compiled = {
            let store = &*store;
            compile_in_threads(
                settings,
                pool,
                threads,
                part.clone(),
                |writer, shard, out| {
                    shard_sets(store, writer, shard, out);
                },
            )
        };
        store.install(compiled.into_iter().flatten());
        installed(store, part);
    }
}

/// The sets `shard_sets` makes of the shards of `part`, shard by shard in `threads`
/// consecutive ranges: the first on this thread, each other on a `compile` thread of
/// its own (or on this one when it cannot start). A panic on a helper is raised again
/// here.
fn compile_in_threads(
    settings: RecordSettings,
    pool: &SetPool,
    threads: usize,
    part: std::ops::Range<usize>,
    shard_sets: impl Fn(&mut SetWriter, usize, &mut Vec<(NameId, SlotSets)>) + Sync,
) -> Vec<Vec<(NameId, SlotSets)>> {
    let per_thread = part.len().div_ceil(threads.max(1)).max(1);
    let shard_sets = &shard_sets;
    // One list per range, not per shard: 16,384 short-lived lists among the sets being
    // made would leave holes between them.
    let compile_range = move |range: std::ops::Range<usize>| {
        let mut writer = SetWriter::new(settings, pool);
        let mut sets = Vec::new();
        for i in range {
            shard_sets(&mut writer, i, &mut sets);
        }
        sets
    };
    let end = part.end;
    let mut ranges = part
        .step_by(per_thread)
        .map(|start| start..(start + per_thread).min(end));
    std::thread::scope(|scope| {
        let first = ranges.next();
        let helpers: Vec<_> = ranges
            .map(|range| {
                let for_thread = range.clone();
                std::thread::Builder::new()
                    .name("compile".into())
                    .spawn_scoped(scope, move || compile_range(for_thread))
                    .map_err(|_| range)
            })
            .collect();
        let mut compiled = vec![first.map(compile_range).unwrap_or_default()];
        compiled.extend(helpers.into_iter().map(|helper| {
            match helper {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(range) => compile_range(range),
            }
        }));
        compiled
    })
}

/// Compiles the sets of one shard of `store` (benchmarks): how many names it serves.
pub fn compile_shard(store: &ZoneStore, index: usize, config: &Config, pool: &SetPool) -> usize {
    let mut sets = Vec::new();
    SetWriter::new(record_settings(config.into()), pool).shard_sets(store, index, &mut sets);
    sets.len()
}

/// Builds the answer table of a whole [`RecordSet`] (tools, benchmarks and tests; the
/// server publishes through a [`ZoneStore`]).
pub fn compile(records: impl Into<Arc<RecordSet>>, config: &Config, serial: u32) -> Snapshot {
    let records: Arc<RecordSet> = records.into();
    let mut store = store_for(config);
    let mut all = ItemRecords::default();
    all.names = (0..records.name_count())
        .map(|i| records.name(i as u32).into())
        .collect();
    all.records = records.insertion_log().to_vec();
    store.apply(&all, Sign::Add);
    store.take_changes();
    Snapshot::compile_all(&mut store, config, serial, &SetPool::default())
}

/// An empty store for the zones `config` serves, its names existing as `ReversePolicy`
/// serves them.
pub fn store_for(config: &Config) -> ZoneStore {
    let mut store = ZoneStore::with_reverse_policy(&zone_apexes(config), config.reverse_policy);
    store.serve_generated_srv(config.srv_record_default_weight);
    store
}

/// Every zone served: the domain first, then the reverse zones, then the DC/OS zones.
pub fn zone_apexes(config: &Config) -> Vec<String> {
    let mut apexes = vec![apex_name(config)];
    apexes.extend(config.reverse_zones.iter().map(|z| z.apex()));
    if config.dcos_names {
        apexes.extend(DCOS_ZONES.iter().map(|z| format!("{z}.{DCOS_DIRECTORY}.")));
    }
    apexes
}

/// The DC/OS zones under [`DCOS_DIRECTORY`]: the Mesos-DNS domain's mirror, task names,
/// named VIPs.
pub const DCOS_ZONES: [&str; 3] = ["mesos", "dcos", "l4lb"];

/// The domain as an apex (lower case, trailing dot).
pub fn apex_name(config: &Config) -> String {
    format!(
        "{}.",
        config.domain.trim_end_matches('.').to_ascii_lowercase()
    )
}

fn record_settings(shape: Shape<'_>) -> RecordSettings<'_> {
    let config = shape.config;
    RecordSettings {
        ttl: config.ttl,
        srv_weight: config.srv_record_default_weight,
        // A transferred zone's PTR records are served as they came.
        reverse_policy: match shape.transferred {
            Some(_) => crate::config::ReversePolicy::All,
            None => config.reverse_policy,
        },
        dcos_ttl: config.dcos_names.then_some(config.dcos_ttl),
        transferred: shape.transferred.map(|t| &t.ttls),
    }
}

/// The zone facts of the HTTP API: the configuration's, or the transferred SOA's.
fn zone_text(shape: Shape) -> ZoneText {
    let config = shape.config;
    match shape.transferred {
        None => ZoneText {
            domain: config.domain.clone(),
            mname: config.soa_mname.clone(),
            rname: config.soa_rname.clone(),
            refresh_seconds: config.refresh_seconds,
        },
        Some(t) => {
            let mname_end = crate::dns::wire::skip_name(&t.soa_rdata, 0).unwrap_or(0);
            let text = |wire: &[u8]| {
                let mut s = wire_to_text(wire).unwrap_or_default();
                s.pop();
                s
            };
            ZoneText {
                domain: config.domain.clone(),
                mname: text(&t.soa_rdata[..mname_end]),
                rname: text(t.soa_rdata.get(mname_end..).unwrap_or_default()),
                refresh_seconds: u64::from(t.timers()[0]),
            }
        }
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

/// The owner of every record answered: a pointer to the question name.
pub const QUESTION_POINTER: [u8; 2] = [0xC0, 12];

/// The zone's settings with its SOA (positive and negative TTL) and NS answers, and
/// `SOAMname`'s addresses from the store as NS glue when they are served here.
fn zone(store: &ZoneStore, shape: Shape, serial: u32, pool: &SetPool) -> Zone {
    let config = shape.config;
    if let Some(transferred) = shape.transferred {
        return transferred_zone(store, config, transferred, serial, pool);
    }
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
    let negative_ttl = config.ttl.min(config.soa_minttl);
    let mut scratch = sets::SetScratch::default();
    let mut one = |rtype: u16, ttl: u32, rdata: &[u8], extras: &[Extra]| {
        scratch.start(rtype, ttl);
        scratch.push(rdata);
        scratch.extras.extend_from_slice(extras);
        scratch.extra_ttl = config.ttl;
        pool.intern(&mut scratch)
    };
    // Glue: SOAMname's own addresses, when they are served here.
    let glue: Vec<Extra> = match store.find(&fqdn(&config.soa_mname)) {
        Some(id) if store.in_zone(id) => {
            let mut ips = Vec::new();
            store.addresses(id, &mut ips);
            ips.into_iter()
                .map(|ip| Extra { answer_rr: 0, ip })
                .collect()
        }
        _ => Vec::new(),
    };
    Zone {
        soa: one(TYPE_SOA, config.ttl, &soa_rdata, &[]),
        negative_soa: Some(sets::wire_record(TYPE_SOA, negative_ttl, &soa_rdata).into()),
        ns: one(TYPE_NS, config.ttl, &ns_rdata, &glue),
        ttl: config.ttl,
        soa_rdata,
        ns_rdata,
        negative_ttl,
        others: zone_apexes(config)
            .iter()
            .skip(1)
            .filter_map(|apex| {
                let mut wire = Vec::new();
                name_to_wire(apex, true, &mut wire).map(|()| wire)
            })
            .collect(),
        ..answer_settings(config, apex)
    }
}

/// A zone with no records yet: its apex and the settings every answer reads.
fn answer_settings(config: &Config, apex: Vec<u8>) -> Zone {
    Zone {
        apex,
        ttl: config.ttl,
        recurse_on: config.recurse_on,
        set_truncate_bit: config.set_truncate_bit,
        edns_max: config.edns_max_udp_size,
        max_answers: match config.max_answers {
            0 => usize::MAX,
            n => n as usize,
        },
        soa_rdata: Vec::new(),
        ns_rdata: Vec::new(),
        negative_ttl: 0,
        soa: None,
        negative_soa: None,
        ns: None,
        others: Vec::new(),
    }
}

/// The zone of a secondary: the primary's SOA (under `serial`) and apex NS, with the
/// NS targets' addresses as glue when they lie in the zone.
fn transferred_zone(
    store: &ZoneStore,
    config: &Config,
    transferred: &TransferredZone,
    serial: u32,
    pool: &SetPool,
) -> Zone {
    let mut apex = Vec::new();
    let _ = name_to_wire(&config.domain, true, &mut apex);
    let mut soa_rdata = transferred.soa_rdata.clone();
    set_soa_serial(&mut soa_rdata, serial);
    let minimum = soa_number(&soa_rdata, 4).unwrap_or_default();
    let negative_ttl = transferred.soa_ttl.min(minimum);
    let usual = transferred.ttls.usual;
    let mut scratch = sets::SetScratch::default();
    scratch.start(TYPE_SOA, transferred.soa_ttl);
    scratch.push(&soa_rdata);
    let soa_set = pool.intern(&mut scratch);
    let negative_soa = Some(sets::wire_record(TYPE_SOA, negative_ttl, &soa_rdata).into());
    scratch.start(TYPE_NS, transferred.ns_ttl);
    scratch.extra_ttl = usual;
    let mut ips = Vec::new();
    for (i, target) in transferred.ns.iter().enumerate() {
        scratch.push(target);
        let text = wire_to_text(target)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(id) = store.find(&text).filter(|&id| store.in_zone(id)) {
            store.addresses(id, &mut ips);
            scratch.extras.extend(ips.iter().map(|&ip| Extra {
                answer_rr: i as u32,
                ip,
            }));
        }
    }
    let ns = pool.intern(&mut scratch);
    Zone {
        soa: soa_set,
        negative_soa,
        ns,
        ttl: usual,
        ns_rdata: transferred.ns.first().cloned().unwrap_or_default(),
        soa_rdata,
        negative_ttl,
        ..answer_settings(config, apex)
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store shaped like a cluster's: `tasks` task names with an address each (agents'
    /// addresses shared), and an SRV set per app naming its tasks.
    fn cluster_like_store(config: &Config, tasks: u32) -> ZoneStore {
        let mut records = ItemRecords::default();
        let name = |records: &mut ItemRecords, text: String| {
            records.names.push(text.into());
            (records.names.len() - 1) as crate::records::NameId
        };
        let apps: Vec<_> = (0..tasks / 20)
            .map(|app| name(&mut records, format!("_app{app}._tcp.marathon.mesos.")))
            .collect();
        for task in 0..tasks {
            let owner = name(
                &mut records,
                format!("task{task}.app{}.marathon.mesos.", task / 20),
            );
            let agent = std::net::Ipv4Addr::from(0x0a00_0000 + task % 500);
            records
                .records
                .push((owner, crate::records::RData::A(agent)));
            let target = crate::records::RData::Srv {
                target: owner,
                port: 31_000 + (task % 7) as u16,
            };
            records.records.push((apps[(task / 20) as usize], target));
        }
        let mut store = store_for(config);
        store.apply(&records, Sign::Add);
        store.forget_changes();
        store
    }

    fn test_config() -> Config {
        Config::from_json(
            r#"{"masters":["127.0.0.1:5050"],"externalon":false}"#,
            "config.json".as_ref(),
            &crate::config::Environment::system(),
        )
        .unwrap() // ok: test
    }

    #[test]
    fn a_published_snapshot_stays_as_it_was_while_the_store_changes() {
        let config = test_config();
        let mut store = cluster_like_store(&config, 400);
        let pool = SetPool::default();
        let first = Snapshot::compile_all(&mut store, &config, 1, &pool);
        let before: Vec<_> = first.shards().map(|s| s.canonical()).collect();
        // Every task's address moves; the apps' SRV sets carry them as extras.
        let mut moved = ItemRecords::default();
        for task in 0..400u32 {
            moved
                .names
                .push(format!("task{task}.app{}.marathon.mesos.", task / 20).into());
            let ip = std::net::Ipv4Addr::from(0x0b00_0000 + task);
            moved
                .records
                .push((task as crate::records::NameId, crate::records::RData::A(ip)));
        }
        store.apply(&moved, Sign::Add);
        let changes = store.take_changes();
        let second = Snapshot::update(&mut store, &changes.names, &config, 2, &pool);
        let after: Vec<_> = first.shards().map(|s| s.canonical()).collect();
        assert_eq!(
            before, after,
            "the first snapshot's shards were not touched"
        );
        assert_eq!(first.addresses("task3.app0.marathon.mesos.").0.len(), 1);
        assert_eq!(second.addresses("task3.app0.marathon.mesos.").0.len(), 2);
        // A third version changes only what the second shares with the store.
        store.apply(&moved, Sign::Remove);
        let changes = store.take_changes();
        let third = Snapshot::update(&mut store, &changes.names, &config, 3, &pool);
        assert_eq!(second.addresses("task3.app0.marathon.mesos.").0.len(), 2);
        assert_eq!(third.addresses("task3.app0.marathon.mesos.").0.len(), 1);
        let again: Vec<_> = third.shards().map(|s| s.canonical()).collect();
        assert_eq!(before, again, "back to the first records");
    }

    /// A task's address moves while the nodes are let go: its app's SRV owner is not
    /// given its node back (only its extras are made again), and the zone is what a
    /// whole compile of the same records makes.
    #[test]
    fn an_srv_owner_whose_target_moved_keeps_its_node_let_go() {
        let config = test_config();
        let mut store = cluster_like_store(&config, 400);
        let pool = SetPool::default();
        let first = Snapshot::compile_all(&mut store, &config, 1, &pool);
        store.let_go_of_nodes();
        let let_go = store.shards_without_nodes();
        assert!(let_go > 300, "{let_go} shards let go");
        let mut moved = ItemRecords::default();
        moved.names.push("task3.app0.marathon.mesos.".into());
        let ip = std::net::Ipv4Addr::new(11, 0, 0, 3);
        moved.records.push((0, crate::records::RData::A(ip)));
        store.apply(&moved, Sign::Add);
        let changes = store.take_changes();
        let owner = changes
            .names
            .iter()
            .find(|n| keys::key_text(&n.key).starts_with("_app0._tcp"))
            .expect("the app's SRV owner is compiled again"); // ok: test
        assert_eq!(owner.new_extras.len(), 1, "its node stayed let go");
        let second = Snapshot::update(&mut store, &changes.names, &config, 2, &pool);
        assert_eq!(store.inconsistencies, 0);

        let mut whole_store = cluster_like_store(&config, 400);
        whole_store.apply(&moved, Sign::Add);
        whole_store.forget_changes();
        let whole = Snapshot::compile_all(&mut whole_store, &config, 2, &SetPool::default());
        for (a, b) in second.shards.iter().zip(whole.shards.iter()) {
            assert_eq!(a.canonical(), b.canonical());
        }
        assert_ne!(
            first.shards().map(|s| s.canonical()).collect::<Vec<_>>(),
            second.shards().map(|s| s.canonical()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn threads_compile_what_one_thread_compiles() {
        let config = test_config();
        let mut store = cluster_like_store(&config, 6_000);
        let mut store_again = cluster_like_store(&config, 6_000);
        let (one_pool, three_pool) = (SetPool::default(), SetPool::default());
        let one = Snapshot::compile_all_in(&mut store, (&config).into(), 1, &one_pool, 1);
        let three = Snapshot::compile_all_in(&mut store_again, (&config).into(), 1, &three_pool, 3);
        let mut names = 0;
        for (a, b) in one.shards.iter().zip(three.shards.iter()) {
            assert_eq!(a.canonical(), b.canonical());
            names += a.len();
        }
        assert!(names > 5_000, "{names} names");
        // Each distinct set once, whichever thread met it first.
        assert_eq!(one_pool.len(), three_pool.len());
        // Compiling again shares every set already pooled.
        let again = Snapshot::compile_all_in(&mut store_again, (&config).into(), 1, &three_pool, 2);
        assert_eq!(one_pool.len(), three_pool.len());
        drop(again);
    }
}
