//! The zone a secondary keeps on disk (`DataDirectory`), so that a restart serves at once
//! and then asks IXFR from the serial it kept, instead of answering SERVFAIL through a
//! whole transfer.
//!
//! One redb database, `zone.redb`: the records as received (owner, type, data → TTL),
//! the SOA, when a primary last answered, and the IXFR history served to the next tier
//! (so that it, too, survives a restart). redb commits are atomic and fsynced, so a
//! `kill -9` at any moment leaves the zone of a serial that was served. Writes run on a
//! thread of their own: the secondary hands each change over and never waits. A whole
//! transfer is written as it arrives into a second table, a chunk per commit, and
//! becomes the kept zone in one last commit once the transfer is installed (a failed
//! transfer leaves the kept zone as it was); an IXFR is written as its removals and
//! additions with its history delta, in one commit; a check that found the zone current
//! writes the time only.
//!
//! A file that does not open, does not decode, or holds another zone is logged once and
//! set aside (`zone.redb.bad`); the zone is then transferred afresh. Never a crash: a
//! corrupt file is untrusted input, so even a panic while reading it is caught.

use super::stream::{RrData, ZoneRr, ZoneSink};
use crate::snapshot::history::ServedDelta;
use crate::status::Status;
use crossbeam_channel::{Receiver, Sender};
use redb::{Database, ReadableTable, TableDefinition, TableHandle};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The records, key (owner, type, data) → TTL, in two tables: the one `meta.active`
/// names holds the zone kept; a whole transfer fills the other in commits of a chunk
/// each (so memory holds a chunk, not the zone), and its last commit switches `active`.
/// A crash before that leaves the kept zone as it was.
const RECORDS_A: TableDefinition<&[u8], u32> = TableDefinition::new("records_a");
const RECORDS_B: TableDefinition<&[u8], u32> = TableDefinition::new("records_b");
/// The zone's facts: apex, SOA, format, time of the last good check.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The IXFR history: sequence → one served delta.
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
/// Bumped when the encoding changes: an older file is set aside.
const FORMAT: &[u8] = b"2";
/// redb's page cache: the zone is read once at start and written in small pieces, so a
/// small cache does (the default, 1 GiB, would hold the whole file in memory).
const CACHE_BYTES: usize = 16 << 20;
/// Records handed to the writer, and committed, at a time during a whole transfer: a
/// commit per chunk bounds what the writer holds (a few MB) and keeps the commits few
/// (each saves the allocator state).
const CHUNK: usize = 65_536;
/// Records fed to the loader at a time when reading the kept zone back.
const LOAD_BATCH: usize = 4096;

/// What the writer thread is told.
enum Keep {
    /// A whole transfer starts: records follow, then `Commit` (or anything else,
    /// which abandons it).
    Begin,
    /// Records of the whole transfer under way.
    Records(Vec<(Vec<u8>, u32)>),
    /// The whole transfer was installed under this SOA, checked at this time.
    Commit { soa: ZoneRr, checked_at: u64 },
    /// An IXFR was applied: its steps in order, the SOA it ends at, and the delta it
    /// added to the IXFR history (kept, up to `keep` deltas). One transaction.
    Changes {
        soa: ZoneRr,
        steps: Vec<(Vec<ZoneRr>, Vec<ZoneRr>)>,
        delta: Option<Arc<ServedDelta>>,
        keep: usize,
        checked_at: u64,
    },
    /// A primary answered and the zone held is current.
    Checked(u64),
}

/// What was kept, as loaded at start.
pub(crate) struct Loaded {
    /// The SOA the kept records are at.
    pub(crate) soa: ZoneRr,
    /// Unix seconds of the last check a primary answered.
    pub(crate) checked_at: u64,
    /// The IXFR history kept, oldest first.
    pub(crate) history: Vec<ServedDelta>,
}

/// The handle the secondary writes through.
pub(crate) struct KeptZone {
    tx: Sender<Keep>,
    thread: Option<JoinHandle<()>>,
}

impl KeptZone {
    /// Opens (or creates) the zone kept in `dir` for `apex`, feeds what it holds into
    /// `sink` and says at which SOA; then keeps writing on its own thread. `None` for
    /// the zone when nothing usable was kept; `None` for the handle when the directory
    /// cannot hold a database (logged).
    pub(crate) fn open(
        dir: &Path,
        apex: &str,
        sink: &mut impl ZoneSink,
        status: Arc<Status>,
    ) -> (Option<KeptZone>, Option<Loaded>) {
        let path = dir.join("zone.redb");
        let (db, loaded) = match open_and_load(&path, apex, sink) {
            Ok(found) => found,
            Err(why) => {
                tracing::warn!(
                    "{}: {why}; set aside, the zone is transferred afresh",
                    path.display()
                );
                let _ = std::fs::rename(&path, bad_path(&path));
                match create(&path) {
                    Ok(db) => (db, None),
                    Err(e) => {
                        tracing::error!("{}: cannot keep the zone: {e}", path.display());
                        return (None, None);
                    }
                }
            }
        };
        (KeptZone::with_writer(db, apex, status), loaded)
    }

    /// The file in `dir`, for writing only (what it holds is not read: the next whole
    /// transfer replaces it); `None` when it cannot be kept (logged).
    pub(crate) fn open_for_writes(dir: &Path, apex: &str, status: Arc<Status>) -> Option<KeptZone> {
        let path = dir.join("zone.redb");
        let db = create(&path).or_else(|e| {
            tracing::warn!("{}: {e}; set aside", path.display());
            let _ = std::fs::rename(&path, bad_path(&path));
            create(&path)
        });
        match db {
            Ok(db) => KeptZone::with_writer(db, apex, status),
            Err(e) => {
                tracing::error!("{}: cannot keep the zone: {e}", path.display());
                None
            }
        }
    }

    /// Starts the writer thread on `db`.
    fn with_writer(db: Database, apex: &str, status: Arc<Status>) -> Option<KeptZone> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let apex = apex.to_string();
        let thread = std::thread::Builder::new()
            .name("kept-zone".into())
            .spawn(move || write_loop(db, &apex, rx, &status));
        match thread {
            Ok(thread) => Some(KeptZone {
                tx,
                thread: Some(thread),
            }),
            Err(e) => {
                tracing::error!("cannot start the kept-zone writer: {e}");
                None
            }
        }
    }

    /// A writer for the records of a whole transfer that may start now (it tells the
    /// writer thread only at the first record: most refreshes bring none).
    pub(crate) fn whole_writer(&self) -> WholeWriter {
        WholeWriter {
            tx: self.tx.clone(),
            chunk: Vec::new(),
            begun: false,
        }
    }

    /// The whole transfer `writer` took was installed: it replaces the kept zone.
    pub(crate) fn commit_whole(&self, writer: Option<WholeWriter>, soa: ZoneRr, checked_at: u64) {
        let mut writer = writer.unwrap_or_else(|| self.whole_writer());
        writer.begin();
        writer.flush();
        let _ = self.tx.send(Keep::Commit { soa, checked_at });
    }

    /// An IXFR was applied: its `steps` (removed, added), ending at `soa`; `delta` is
    /// what it added to the IXFR history, of which `keep` deltas are kept.
    pub(crate) fn changes(
        &self,
        soa: ZoneRr,
        steps: Vec<(Vec<ZoneRr>, Vec<ZoneRr>)>,
        delta: Option<Arc<ServedDelta>>,
        keep: usize,
        checked_at: u64,
    ) {
        let _ = self.tx.send(Keep::Changes {
            soa,
            steps,
            delta,
            keep,
            checked_at,
        });
    }

    /// A primary answered and the zone is current.
    pub(crate) fn checked(&self, at: u64) {
        let _ = self.tx.send(Keep::Checked(at));
    }
}

impl Drop for KeptZone {
    /// What was handed over is written before the server stops.
    fn drop(&mut self) {
        let (tx, _) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Hands the records of a whole transfer to the writer as they arrive, a chunk at a
/// time.
pub(crate) struct WholeWriter {
    tx: Sender<Keep>,
    chunk: Vec<(Vec<u8>, u32)>,
    begun: bool,
}

impl WholeWriter {
    /// One record of the transfer (not its SOA).
    pub(crate) fn record(&mut self, rr: &ZoneRr) {
        self.begin();
        self.chunk.push((encode(rr), rr.ttl));
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }

    fn begin(&mut self) {
        if !std::mem::replace(&mut self.begun, true) {
            let _ = self.tx.send(Keep::Begin);
            self.chunk.reserve(CHUNK);
        }
    }

    fn flush(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            let _ = self.tx.send(Keep::Records(chunk));
        }
    }
}

/// Opens (or creates) the database at `path`. A damaged file can make redb panic on an
/// internal check (a truncated file fails an assertion on its length): that is an
/// error here, like any other reason the file does not open.
fn create(path: &Path) -> Result<Database, String> {
    match catch_quietly(|| Database::builder().set_cache_size(CACHE_BYTES).create(path)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the file is damaged".into()),
    }
}

thread_local! {
    /// Above 0 while a panic is expected and caught: the panic hook stays quiet.
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f`, catching a panic without the panic hook printing it (a damaged file is
/// reported by the caller in one line, not with a backtrace).
fn catch_quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result
}

fn bad_path(path: &Path) -> PathBuf {
    let mut bad = path.as_os_str().to_owned();
    bad.push(".bad");
    PathBuf::from(bad)
}

type Found = (Database, Option<Loaded>);

/// Opens the database and reads the zone it holds into `sink`; an error (to log) when
/// the file is not a usable kept zone of `apex`.
fn open_and_load(path: &Path, apex: &str, sink: &mut impl ZoneSink) -> Result<Found, String> {
    let read = catch_quietly(|| -> Result<Found, String> {
        let db = create(path).map_err(|e| format!("does not open: {e}"))?;
        let loaded = load(&db, apex, sink)?;
        Ok((db, loaded))
    });
    read.unwrap_or_else(|_| Err("reading it failed".to_string()))
}

fn load(db: &Database, apex: &str, sink: &mut impl ZoneSink) -> Result<Option<Loaded>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("does not read: {e}");
    let txn = db.begin_read().map_err(|e| bad(&e))?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        // A new file.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(bad(&e)),
    };
    let get = |key: &str| -> Result<Option<Vec<u8>>, String> {
        Ok(meta
            .get(key)
            .map_err(|e| bad(&e))?
            .map(|v| v.value().to_vec()))
    };
    let Some(soa) = get("soa")? else {
        return Ok(None);
    };
    if get("format")?.as_deref() != Some(FORMAT) {
        return Err("written in another format".into());
    }
    if get("apex")?.as_deref() != Some(apex.as_bytes()) {
        return Err(format!("holds another zone, not {apex}"));
    }
    let soa_ttl = be_number(get("soa_ttl")?.as_deref()) as u32;
    let soa = decode(&soa, soa_ttl).filter(|rr| matches!(rr.data, RrData::Soa(_)));
    let Some(soa) = soa else {
        return Err("its SOA does not decode".into());
    };
    let checked_at = be_number(get("checked_at")?.as_deref());
    let active = records_table(get("active")?.as_deref());
    let records = txn.open_table(active).map_err(|e| bad(&e))?;
    let mut in_chunk = 0;
    for entry in records.iter().map_err(|e| bad(&e))? {
        let (key, ttl) = entry.map_err(|e| bad(&e))?;
        let Some(rr) = decode(key.value(), ttl.value()) else {
            return Err("a record does not decode".into());
        };
        sink.record(rr);
        in_chunk += 1;
        if in_chunk == LOAD_BATCH {
            sink.end_of_message();
            in_chunk = 0;
        }
    }
    sink.end_of_message();
    let mut history = Vec::new();
    if let Ok(table) = txn.open_table(HISTORY) {
        for entry in table.iter().map_err(|e| bad(&e))? {
            let (_, bytes) = entry.map_err(|e| bad(&e))?;
            let Some(delta) = decode_delta(bytes.value()) else {
                return Err("its IXFR history does not decode".into());
            };
            history.push(delta);
        }
    }
    Ok(Some(Loaded {
        soa,
        checked_at,
        history,
    }))
}

/// A big-endian number as `set_meta` writes it (4 or 8 octets); 0 when absent.
fn be_number(bytes: Option<&[u8]>) -> u64 {
    bytes.map_or(0, |b| {
        b.iter().fold(0, |n, &octet| n << 8 | u64::from(octet))
    })
}

/// Applies what the secondary hands over, until it goes away.
fn write_loop(db: Database, apex: &str, rx: Receiver<Keep>, status: &Status) {
    // The table a whole transfer under way is filling.
    let mut staging: Option<TableDefinition<&[u8], u32>> = None;
    let mut logged = false;
    for keep in rx {
        let result = match keep {
            Keep::Begin => start_whole(&db).map(|table| staging = Some(table)),
            Keep::Records(chunk) => match staging {
                Some(table) => insert(&db, table, &chunk),
                None => Ok(()),
            },
            Keep::Commit { soa, checked_at } => match staging.take() {
                Some(table) => {
                    switch(&db, apex, table, &soa, checked_at).map(|()| kept(status, &soa))
                }
                None => Ok(()),
            },
            other => {
                // Anything else means the whole transfer under way was given up (the
                // next one clears what it wrote).
                staging = None;
                let soa = match &other {
                    Keep::Changes { soa, .. } => Some(soa.clone()),
                    _ => None,
                };
                write_one(&db, apex, other).map(|()| {
                    if let Some(soa) = soa {
                        kept(status, &soa);
                    }
                })
            }
        };
        if let Err(e) = result {
            staging = None;
            if !std::mem::replace(&mut logged, true) {
                tracing::error!("keeping the zone on disk failed: {e}");
            }
        }
    }
}

/// The records table `active` names (`a` unless it says `b`).
fn records_table(active: Option<&[u8]>) -> TableDefinition<'static, &'static [u8], u32> {
    match active {
        Some(b"b") => RECORDS_B,
        _ => RECORDS_A,
    }
}

/// The name of a records table, as `meta.active` holds it.
fn table_name(table: TableDefinition<&[u8], u32>) -> &'static [u8] {
    if table.name() == RECORDS_B.name() {
        b"b"
    } else {
        b"a"
    }
}

/// The records table the kept zone is in.
fn active_table(
    txn: &redb::WriteTransaction,
) -> Result<TableDefinition<'static, &'static [u8], u32>, String> {
    let meta = txn.open_table(META).map_err(|e| e.to_string())?;
    let active = meta.get("active").map_err(|e| e.to_string())?;
    Ok(records_table(active.as_ref().map(|v| v.value())))
}

/// The zone at `soa` is on disk.
fn kept(status: &Status, soa: &ZoneRr) {
    let serial = soa.data.serial().unwrap_or_default();
    Status::set(&status.secondary.kept_serial, u64::from(serial));
}

/// A write transaction whose commit also saves the allocator state: reopening after a
/// `kill -9` is then almost instant, where redb would otherwise walk the whole file.
fn begin(db: &Database) -> Result<redb::WriteTransaction, String> {
    let mut txn = db.begin_write().map_err(|e| e.to_string())?;
    txn.set_quick_repair(true);
    Ok(txn)
}

/// Clears the table the kept zone is not in, for a whole transfer to fill.
fn start_whole(db: &Database) -> Result<TableDefinition<'static, &'static [u8], u32>, String> {
    let txn = begin(db)?;
    let staging = match table_name(active_table(&txn)?) {
        b"b" => RECORDS_A,
        _ => RECORDS_B,
    };
    txn.delete_table(staging).map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())?;
    Ok(staging)
}

/// One chunk of a whole transfer, in a commit of its own.
fn insert(
    db: &Database,
    table: TableDefinition<&[u8], u32>,
    chunk: &[(Vec<u8>, u32)],
) -> Result<(), String> {
    let txn = begin(db)?;
    {
        let mut records = txn.open_table(table).map_err(|e| e.to_string())?;
        for (key, ttl) in chunk {
            records.insert(&key[..], ttl).map_err(|e| e.to_string())?;
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

/// The whole transfer in `table` becomes the kept zone: one commit switches the active
/// table, drops the old one and the history (no delta leads to a whole transfer).
fn switch(
    db: &Database,
    apex: &str,
    table: TableDefinition<&[u8], u32>,
    soa: &ZoneRr,
    checked_at: u64,
) -> Result<(), String> {
    let txn = begin(db)?;
    let old = active_table(&txn)?;
    {
        let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
        meta.insert("active", table_name(table))
            .map_err(|e| e.to_string())?;
    }
    if old.name() != table.name() {
        txn.delete_table(old).map_err(|e| e.to_string())?;
    }
    txn.delete_table(HISTORY).map_err(|e| e.to_string())?;
    set_meta(&txn, apex, soa, checked_at)?;
    txn.commit().map_err(|e| e.to_string())
}

fn set_meta(
    txn: &redb::WriteTransaction,
    apex: &str,
    soa: &ZoneRr,
    checked_at: u64,
) -> Result<(), String> {
    let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
    let encoded = encode(soa);
    for (key, value) in [
        ("format", FORMAT),
        ("apex", apex.as_bytes()),
        ("soa", &encoded[..]),
        ("soa_ttl", &soa.ttl.to_be_bytes()[..]),
        ("checked_at", &checked_at.to_be_bytes()[..]),
    ] {
        meta.insert(key, value).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn write_one(db: &Database, apex: &str, keep: Keep) -> Result<(), String> {
    let txn = begin(db)?;
    match keep {
        Keep::Changes {
            soa,
            steps,
            delta,
            keep,
            checked_at,
        } => {
            {
                let active = active_table(&txn)?;
                let mut table = txn.open_table(active).map_err(|e| e.to_string())?;
                for (removed, added) in &steps {
                    for rr in removed {
                        table.remove(&encode(rr)[..]).map_err(|e| e.to_string())?;
                    }
                    for rr in added {
                        table
                            .insert(&encode(rr)[..], rr.ttl)
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            keep_delta(&txn, delta.as_deref(), keep)?;
            set_meta(&txn, apex, &soa, checked_at)?;
        }
        Keep::Checked(at) => {
            let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
            meta.insert("checked_at", &at.to_be_bytes()[..])
                .map_err(|e| e.to_string())?;
        }
        Keep::Begin | Keep::Records(_) | Keep::Commit { .. } => {}
    }
    txn.commit().map_err(|e| e.to_string())
}

/// Appends `delta` to the kept history (none: the history starts afresh, as the one
/// served did) and drops all but the latest `keep`.
fn keep_delta(
    txn: &redb::WriteTransaction,
    delta: Option<&ServedDelta>,
    keep: usize,
) -> Result<(), String> {
    let Some(delta) = delta else {
        txn.delete_table(HISTORY).map_err(|e| e.to_string())?;
        return Ok(());
    };
    let mut table = txn.open_table(HISTORY).map_err(|e| e.to_string())?;
    let next = table
        .last()
        .map_err(|e| e.to_string())?
        .map_or(0, |(k, _)| k.value() + 1);
    table
        .insert(next, &encode_delta(delta)[..])
        .map_err(|e| e.to_string())?;
    let first_kept = (next + 1).saturating_sub(keep as u64);
    loop {
        let first = table
            .first()
            .map_err(|e| e.to_string())?
            .map(|(k, _)| k.value());
        match first {
            Some(k) if k < first_kept => {
                table.remove(k).map_err(|e| e.to_string())?;
            }
            _ => break,
        }
    }
    Ok(())
}

/// A served delta as bytes: its serials, then each list as a count and length-prefixed
/// records.
fn encode_delta(delta: &ServedDelta) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&delta.from.to_be_bytes());
    out.extend_from_slice(&delta.to.to_be_bytes());
    for list in [&delta.removed, &delta.added] {
        out.extend_from_slice(&(list.len() as u32).to_be_bytes());
        for record in list.iter() {
            out.extend_from_slice(&(record.len() as u16).to_be_bytes());
            out.extend_from_slice(record);
        }
    }
    out
}

fn decode_delta(bytes: &[u8]) -> Option<ServedDelta> {
    let mut at: usize = 0;
    let mut take = |n: usize| -> Option<&[u8]> {
        let out = bytes.get(at..at.checked_add(n)?)?;
        at += n;
        Some(out)
    };
    let u32_at = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let from = u32_at(take(4)?);
    let to = u32_at(take(4)?);
    let mut lists: [Vec<Box<[u8]>>; 2] = Default::default();
    for list in &mut lists {
        let count = u32_at(take(4)?) as usize;
        // Each record takes at least its 2-octet length: a count past that is corrupt.
        if count > bytes.len() / 2 {
            return None;
        }
        for _ in 0..count {
            let len = take(2)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            list.push(take(len)?.into());
        }
    }
    let [removed, added] = lists;
    Some(ServedDelta {
        from,
        to,
        removed,
        added,
    })
}

/// A record without its TTL as the key it is kept under: the owner, a zero octet, then
/// a tag and the data.
fn encode(rr: &ZoneRr) -> Vec<u8> {
    let mut out = Vec::with_capacity(rr.name.len() + 24);
    out.extend_from_slice(rr.name.as_bytes());
    out.push(0);
    match &rr.data {
        RrData::A(ip) => {
            out.push(TAG_A);
            out.extend_from_slice(&ip.octets());
        }
        RrData::Aaaa(ip) => {
            out.push(TAG_AAAA);
            out.extend_from_slice(&ip.octets());
        }
        RrData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            out.push(TAG_SRV);
            for n in [priority, weight, port] {
                out.extend_from_slice(&n.to_be_bytes());
            }
            out.extend_from_slice(target.as_bytes());
        }
        RrData::Ptr(target) => {
            out.push(TAG_PTR);
            out.extend_from_slice(target.as_bytes());
        }
        RrData::Ns(target) => {
            out.push(TAG_NS);
            out.extend_from_slice(target.as_bytes());
        }
        RrData::Soa(rdata) => {
            out.push(TAG_SOA);
            out.extend_from_slice(rdata);
        }
        RrData::Other(rtype, rdata) => {
            out.push(TAG_OTHER);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(rdata);
        }
    }
    out
}

const TAG_A: u8 = 1;
const TAG_NS: u8 = 2;
const TAG_SOA: u8 = 6;
const TAG_PTR: u8 = 12;
const TAG_AAAA: u8 = 28;
const TAG_SRV: u8 = 33;
const TAG_OTHER: u8 = 255;

/// A key back into a record; `None` for bytes [`encode`] does not write.
fn decode(key: &[u8], ttl: u32) -> Option<ZoneRr> {
    let split = key.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&key[..split]).ok()?;
    let (&tag, data) = key.get(split + 1..)?.split_first()?;
    let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(Box::<str>::from);
    let data = match tag {
        TAG_A => RrData::A(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?)),
        TAG_AAAA => RrData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?)),
        TAG_SRV => {
            let n = |i: usize| Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
            RrData::Srv {
                priority: n(0)?,
                weight: n(2)?,
                port: n(4)?,
                target: text(data.get(6..)?)?,
            }
        }
        TAG_PTR => RrData::Ptr(text(data)?),
        TAG_NS => RrData::Ns(text(data)?),
        TAG_SOA => RrData::Soa(data.to_vec()),
        TAG_OTHER => {
            let rtype = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            RrData::Other(rtype, data[2..].to_vec())
        }
        _ => return None,
    };
    Some(ZoneRr {
        name: name.into(),
        ttl,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secondary::stream::test_soa as soa;

    /// Collects what a load feeds.
    #[derive(Default)]
    struct Collect(Vec<ZoneRr>);

    impl ZoneSink for Collect {
        fn record(&mut self, rr: ZoneRr) {
            self.0.push(rr);
        }
    }

    fn a_record(last: u8) -> ZoneRr {
        ZoneRr {
            name: "a.mesos.".into(),
            ttl: 60,
            data: RrData::A(Ipv4Addr::new(10, 0, 0, last)),
        }
    }

    /// A whole transfer given up half way, then another that completes, then an IXFR:
    /// what loads back is the last, and the writer never waits on itself.
    #[test]
    fn an_abandoned_whole_transfer_gives_way_to_the_next() {
        let dir = std::env::temp_dir().join(format!("kept-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let status = Arc::new(Status::default());
        {
            let (kept, loaded) =
                KeptZone::open(&dir, "mesos.", &mut Collect::default(), status.clone());
            assert!(loaded.is_none());
            let kept = kept.unwrap();
            let mut broken = kept.whole_writer();
            broken.record(&a_record(1));
            broken.flush();
            let mut whole = kept.whole_writer();
            whole.record(&a_record(2));
            kept.commit_whole(Some(whole), soa(5), 100);
            kept.changes(
                soa(6),
                vec![(vec![a_record(2)], vec![a_record(3)])],
                None,
                10,
                101,
            );
        }
        let mut back = Collect::default();
        let (_kept, loaded) = KeptZone::open(&dir, "mesos.", &mut back, status.clone());
        let loaded = loaded.unwrap();
        assert_eq!(loaded.soa.data.serial(), Some(6));
        assert_eq!(loaded.checked_at, 101);
        assert_eq!(back.0, vec![a_record(3)]);
        assert_eq!(Status::get(&status.secondary.kept_serial), 6);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_kind_of_record_round_trips() {
        let rr = |data| ZoneRr {
            name: "web.marathon.mesos.".into(),
            ttl: 60,
            data,
        };
        for data in [
            RrData::A(Ipv4Addr::new(10, 0, 0, 1)),
            RrData::Aaaa(Ipv6Addr::LOCALHOST),
            RrData::Srv {
                priority: 1,
                weight: 2,
                port: 8080,
                target: "web-1.marathon.slave.mesos.".into(),
            },
            RrData::Ptr("a.mesos.".into()),
            RrData::Ns("ns1.mesos.".into()),
            RrData::Soa(vec![3, b'n', b's', b'1', 0, 0, 1, 2, 3, 4]),
            RrData::Other(16, b"\x05hello".to_vec()),
        ] {
            let record = rr(data);
            assert_eq!(decode(&encode(&record), 60), Some(record));
        }
        assert_eq!(decode(b"no-zero-octet", 1), None);
        let delta = ServedDelta {
            from: 7,
            to: 8,
            removed: vec![b"\x01a\x00rest".to_vec().into()],
            added: vec![b"one".to_vec().into(), b"two".to_vec().into()],
        };
        assert_eq!(decode_delta(&encode_delta(&delta)), Some(delta));
        assert_eq!(
            decode_delta(&[0, 0, 0, 1, 0, 0, 0, 2, 255, 255, 255, 255]),
            None
        );
        assert_eq!(
            decode(b"a.\0\x01\x0a\x00", 1),
            None,
            "an A record cut short"
        );
    }
}
