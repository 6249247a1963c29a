//! The zone a secondary holds, and how a transfer changes it. The records this server
//! serves (A, AAAA, SRV, PTR) live in the same [`ZoneStore`] a server following Mesos
//! fills, so an IXFR is applied as a delta: only the names it touches are compiled
//! again, and the changes to what is served go to the IXFR history for the next tier.
//! The apex SOA and NS come from the transfer; records of other types are kept aside
//! (not served) so that later deletions of them still match.

use super::kept::WholeWriter;
use super::stream::{Diff, RrData, ZoneRr, ZoneSink};
use crate::config::Config;
use crate::counters::PullResult;
use crate::records::documents::{Document, ZoneInfo, write_axfr};
use crate::records::{ItemRecords, NameId, RData};
use crate::snapshot::history::{History, ServedDelta};
use crate::snapshot::keys::NameKeys;
use crate::snapshot::sets::SetPool;
use crate::snapshot::store::{Sign, WholeLoad, ZoneStore};
use crate::snapshot::{Shape, Snapshot, TransferredZone, TtlTable, apex_name};
/// Names and records come from a primary: hashed with a random seed.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;

/// A record without its TTL: what IXFR deletions are matched by.
type RecordKey = (Box<str>, RrData);

/// The zone as the last transfers left it.
pub(crate) struct HeldZone {
    config: Config,
    apex: Box<str>,
    store: ZoneStore,
    pool: SetPool,
    /// SOA, NS and TTLs; `None` until the first transfer.
    transferred: Option<TransferredZone>,
    /// Records this server does not serve.
    unserved: HashSet<RecordKey>,
}

/// Where a received record goes.
enum Place {
    /// Into the store, as this set (index as in `TtlTable`).
    Served(usize),
    /// The apex NS set.
    ApexNs,
    /// Kept aside.
    Unserved,
}

fn place(apex: &str, rr: &RecordKey) -> Place {
    match &rr.1 {
        RrData::A(_) => Place::Served(0),
        RrData::Aaaa(_) => Place::Served(1),
        RrData::Srv { .. } => Place::Served(2),
        RrData::Ptr(_) => Place::Served(3),
        RrData::Ns(_) if *rr.0 == *apex => Place::ApexNs,
        _ => Place::Unserved,
    }
}

/// Whether `store` holds the served record `key`.
fn store_holds(store: &ZoneStore, key: &RecordKey) -> bool {
    let (name, data) = key;
    let Some(node) = store.find(name).map(|id| store.node_view(id)) else {
        return false;
    };
    match data {
        RrData::A(ip) => node.a().any(|a| a == *ip),
        RrData::Aaaa(ip) => node.aaaa().any(|a| a == *ip),
        RrData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let target = store.find(target);
            node.srv().any(|v| {
                v.port == *port && v.own == Some((*priority, *weight)) && Some(v.target) == target
            })
        }
        RrData::Ptr(target) => {
            let target = store.find(target);
            node.ptr().any(|(t, _)| Some(t) == target)
        }
        _ => false,
    }
}

/// A whole zone arriving: a new store filled message by message beside the one served,
/// which it replaces only once the transfer is complete and checked.
pub(crate) struct FullLoad {
    apex: Box<str>,
    /// Made at the first record (most refreshes bring none).
    store: Option<StoreFiller>,
    /// The current message's served records.
    batch: Batch,
    ttls: TtlTable,
    /// The TTL of the first served record: the usual one (others are listed).
    usual: Option<u32>,
    ns: Vec<Vec<u8>>,
    ns_ttl: Option<u32>,
    unserved: HashSet<RecordKey>,
    /// Where the records also go to be kept on disk (`DataDirectory`).
    keep: Option<WholeWriter>,
}

impl FullLoad {
    /// The writer the records were also kept through, if any.
    pub(crate) fn take_keep(&mut self) -> Option<WholeWriter> {
        self.keep.take()
    }
}

impl ZoneSink for FullLoad {
    fn record(&mut self, rr: ZoneRr) {
        if let Some(keep) = self.keep.as_mut() {
            keep.record(&rr);
        }
        let key = (rr.name, rr.data);
        match place(&self.apex, &key) {
            Place::Served(set) => {
                if self.usual.is_none() {
                    self.usual = Some(rr.ttl);
                    self.ttls.usual = rr.ttl;
                }
                // A record sent twice is held once (`Sign::AddOnce`).
                self.batch.push(&key);
                // RFC 2181 §5.2: a set's records share a TTL; if not, the last one's.
                self.ttls.set(&key.0, set, rr.ttl);
            }
            Place::ApexNs => {
                if let RrData::Ns(target) = &key.1 {
                    self.ns.push(ns_wire(target));
                }
                self.ns_ttl = Some(self.ns_ttl.map_or(rr.ttl, |t| t.min(rr.ttl)));
            }
            Place::Unserved => {
                self.unserved.insert(key);
            }
        }
    }

    fn end_of_message(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Batch::once());
        if batch.item.is_empty() {
            return;
        }
        let apex = &self.apex;
        self.store
            .get_or_insert_with(|| StoreFiller::start(apex))
            .put(batch.item);
    }
}

/// The store of a whole transfer, filled on a thread of its own while this one reads
/// and decodes the messages (the two halves cost about the same).
enum StoreFiller {
    Helper {
        items: crossbeam_channel::Sender<(ItemRecords, NameKeys)>,
        filled: std::thread::JoinHandle<WholeLoad>,
    },
    /// No thread to be had: filled here.
    Here(Box<WholeLoad>),
}

impl StoreFiller {
    fn start(apex: &str) -> StoreFiller {
        let apexes = [apex.to_string()];
        let (items, received) = crossbeam_channel::bounded::<(ItemRecords, NameKeys)>(8);
        let helper = std::thread::Builder::new()
            .name("zone-load".into())
            .spawn(move || {
                let mut load = WholeLoad::new(&apexes);
                for (item, keys) in received {
                    load.add(&item, &keys);
                }
                load
            });
        match helper {
            Ok(filled) => StoreFiller::Helper { items, filled },
            Err(_) => StoreFiller::Here(Box::new(WholeLoad::new(&[apex.to_string()]))),
        }
    }

    fn put(&mut self, item: ItemRecords) {
        // The names' keys are made on this side, which reads the transfer, rather than
        // by the thread filling the store, which was the busier of the two.
        let keys = NameKeys::of(&item);
        match self {
            StoreFiller::Helper { items, .. } => {
                // The helper only ends when this side hangs up.
                let _ = items.send((item, keys));
            }
            StoreFiller::Here(load) => load.add(&item, &keys),
        }
    }

    /// The filled zone. (Dropped unfinished, an abandoned transfer's helper ends by
    /// itself once its channel closes.)
    fn finish(self) -> WholeLoad {
        match self {
            StoreFiller::Helper { items, filled } => {
                drop(items);
                // A helper that panicked panics here, as it would have filling here.
                filled
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }
            StoreFiller::Here(load) => *load,
        }
    }
}

/// Records for the store, with their names interned once.
#[derive(Default)]
struct Batch {
    item: ItemRecords,
    index: HashMap<Box<str>, NameId>,
    /// Records already in (`None`: the store drops duplicates itself, `Sign::AddOnce`).
    seen: Option<HashSet<(NameId, RData)>>,
    /// The owner of the record pushed last.
    last: NameId,
}

impl Batch {
    /// A batch for `Sign::AddOnce`.
    fn once() -> Batch {
        Batch {
            seen: None,
            ..Batch::default()
        }
    }

    /// A batch that keeps each record once.
    fn unique() -> Batch {
        Batch {
            seen: Some(HashSet::default()),
            ..Batch::default()
        }
    }

    fn name(&mut self, name: &str) -> NameId {
        // A zone lists a name's records together: the last owner is the likely one.
        if let Some(last) = self.item.names.get(self.last as usize) {
            if **last == *name {
                return self.last;
            }
        }
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.item.names.len() as NameId;
        self.item.names.push(name.into());
        self.index.insert(name.into(), id);
        id
    }

    /// Adds a served record once.
    fn push(&mut self, key: &RecordKey) {
        let owner = self.name(&key.0);
        let rdata = match &key.1 {
            RrData::A(ip) => RData::A(*ip),
            RrData::Aaaa(ip) => RData::Aaaa(*ip),
            RrData::Srv {
                priority,
                weight,
                port,
                target,
            } => RData::Service {
                target: self.name(target),
                port: *port,
                priority: *priority,
                weight: *weight,
            },
            RrData::Ptr(target) => RData::Ptr {
                target: self.name(target),
                rank: 0,
            },
            _ => return,
        };
        // The next record is most likely the owner's again, not its target's.
        self.last = owner;
        if self
            .seen
            .as_mut()
            .is_none_or(|seen| seen.insert((owner, rdata)))
        {
            self.item.records.push((owner, rdata));
        }
    }
}

fn ns_wire(target: &str) -> Vec<u8> {
    let mut wire = Vec::with_capacity(target.len() + 1);
    let _ = crate::dns::wire::name_to_wire(target, true, &mut wire);
    wire
}

impl HeldZone {
    /// No zone yet, for the domain of `config`.
    pub(crate) fn new(config: Config) -> HeldZone {
        let apex: Box<str> = apex_name(&config).into();
        HeldZone {
            store: ZoneStore::new(&[apex.to_string()]),
            apex,
            config,
            pool: SetPool::default(),
            transferred: None,
            unserved: HashSet::default(),
        }
    }

    /// The apex, lower case with a trailing dot.
    pub(crate) fn apex(&self) -> &str {
        &self.apex
    }

    /// The SOA RDATA held, once a transfer came.
    pub(crate) fn soa_rdata(&self) -> Option<&[u8]> {
        self.transferred.as_ref().map(|t| &t.soa_rdata[..])
    }

    /// The serial held.
    pub(crate) fn serial(&self) -> Option<u32> {
        self.transferred.as_ref().map(TransferredZone::serial)
    }

    /// The SOA's refresh, retry and expire, in seconds.
    pub(crate) fn timers(&self) -> Option<[u32; 3]> {
        self.transferred.as_ref().map(|t| {
            let [refresh, retry, expire, _] = t.timers();
            [refresh, retry, expire]
        })
    }

    /// A loader for a whole zone, to give [`pull`](super::pull::pull) as its sink; the
    /// records also go to `keep` when the zone is kept on disk.
    pub(crate) fn full_load(&self, keep: Option<WholeWriter>) -> FullLoad {
        FullLoad {
            keep,
            apex: self.apex.clone(),
            store: None,
            batch: Batch::once(),
            ttls: TtlTable::default(),
            usual: None,
            ns: Vec::new(),
            ns_ttl: None,
            unserved: HashSet::default(),
        }
    }

    /// Replaces the zone with a whole transfer, complete and checked, and compiles it.
    pub(crate) fn install(
        &mut self,
        soa: ZoneRr,
        mut load: FullLoad,
    ) -> Result<Snapshot, PullResult> {
        let RrData::Soa(soa_rdata) = soa.data else {
            return Err(PullResult::Malformed);
        };
        load.end_of_message();
        load.ns.sort();
        load.ns.dedup();
        let transferred = TransferredZone {
            soa_rdata,
            soa_ttl: soa.ttl,
            ns: load.ns,
            ns_ttl: load.ns_ttl.unwrap_or(soa.ttl),
            ttls: load.ttls,
        };
        self.unserved = load.unserved;
        // A zone with no served record was never given a filler.
        let filled = load.store.take().map_or_else(
            || WholeLoad::new(&[self.apex.to_string()]),
            StoreFiller::finish,
        );
        // The old zone's sets go with the old snapshot.
        self.pool = SetPool::default();
        let shape = Shape {
            config: &self.config,
            transferred: Some(&transferred),
        };
        let (store, snapshot) = filled.compile(shape, transferred.serial(), &self.pool);
        // Changes (IXFR) are noted for their publishes from here on.
        self.store = store;
        self.transferred = Some(transferred);
        Ok(snapshot)
    }

    /// New settings: the zone held, if any, compiled again under them. A change of
    /// settings is no delta: the IXFR history starts afresh.
    pub(crate) fn reconfigure(&mut self, config: Config) -> Option<Snapshot> {
        self.config = config;
        self.store.regain_all_nodes();
        let snapshot = self.compile_whole();
        self.store.let_go_of_nodes();
        snapshot
    }

    /// The zone held, compiled whole into a new pool (the old zone's sets go with the
    /// old snapshot); `None` before the first transfer.
    fn compile_whole(&mut self) -> Option<Snapshot> {
        let transferred = self.transferred.as_ref()?;
        self.pool = SetPool::default();
        let shape = Shape {
            config: &self.config,
            transferred: Some(transferred),
        };
        Some(Snapshot::compile_all(
            &mut self.store,
            shape,
            transferred.serial(),
            &self.pool,
        ))
    }

    /// Whether the zone holds `key`.
    fn holds(&self, key: &RecordKey) -> bool {
        let (_, data) = key;
        match place(&self.apex, key) {
            Place::ApexNs => match (data, &self.transferred) {
                (RrData::Ns(target), Some(t)) => t.ns.contains(&ns_wire(target)),
                _ => false,
            },
            Place::Unserved => self.unserved.contains(key),
            Place::Served(_) => store_holds(&self.store, key),
        }
    }

    /// Applies the version steps of an IXFR on top of `current` (the snapshot of this
    /// zone) and compiles the names they touched. Every deletion must match a record
    /// held (or added by an earlier step); otherwise nothing changes.
    pub(crate) fn apply_incremental(
        &mut self,
        current: &Snapshot,
        soa: ZoneRr,
        diffs: Vec<Diff>,
    ) -> Result<Snapshot, PullResult> {
        let RrData::Soa(soa_rdata) = soa.data else {
            return Err(PullResult::Malformed);
        };
        // Checked first, against the zone as the steps leave it: Some(ttl) present.
        let mut after: HashMap<RecordKey, Option<u32>> = HashMap::default();
        for diff in diffs {
            for rr in diff.removed {
                let key = (rr.name, rr.data);
                let present = after
                    .get(&key)
                    .map_or_else(|| self.holds(&key), Option::is_some);
                if !present {
                    return Err(PullResult::IxfrMismatch);
                }
                after.insert(key, None);
            }
            for rr in diff.added {
                after.insert((rr.name, rr.data), Some(rr.ttl));
            }
        }
        // Each record once in `after`: whether it is held now decides what changes.
        let decided: Vec<(RecordKey, Option<u32>, bool)> = after
            .into_iter()
            .map(|(key, state)| {
                let held = self.holds(&key);
                (key, state, held)
            })
            .collect();
        let Some(transferred) = self.transferred.as_mut() else {
            return Err(PullResult::IxfrMismatch);
        };
        let (mut removals, mut additions) = (Batch::unique(), Batch::unique());
        let mut ttl_changes = Vec::new();
        let mut ns_changed = false;
        for (key, state, held) in decided {
            match (place(&self.apex, &key), held, state) {
                (_, false, None) => {}
                (Place::Served(_), true, None) => removals.push(&key),
                (Place::Served(set), false, Some(ttl)) => {
                    additions.push(&key);
                    ttl_changes.push((key.0, set, ttl, false));
                }
                (Place::Served(set), true, Some(ttl)) => {
                    ttl_changes.push((key.0, set, ttl, true));
                }
                (Place::ApexNs, _, state) => {
                    ns_changed = true;
                    if let RrData::Ns(target) = &key.1 {
                        let wire = ns_wire(target);
                        transferred.ns.retain(|t| *t != wire);
                        if let Some(ttl) = state {
                            transferred.ns.push(wire);
                            transferred.ns_ttl = ttl;
                        }
                    }
                    transferred.ns.sort();
                }
                (Place::Unserved, _, None) => {
                    self.unserved.remove(&key);
                }
                (Place::Unserved, _, Some(_)) => {
                    self.unserved.insert(key);
                }
            }
        }
        self.store.apply(&removals.item, Sign::Remove);
        self.store.apply(&additions.item, Sign::Add);
        for (name, set, ttl, existing) in ttl_changes {
            if transferred.ttls.of(&name)[set] != ttl {
                transferred.ttls.set(&name, set, ttl);
                if existing {
                    self.store.mark_changed(&name);
                }
            }
        }
        transferred.soa_rdata = soa_rdata;
        transferred.soa_ttl = soa.ttl;
        let serial = transferred.serial();
        let changes = self.store.take_changes();
        let shape = Shape {
            config: &self.config,
            transferred: Some(transferred),
        };
        let mut next = Snapshot::update(&mut self.store, &changes.names, shape, serial, &self.pool);
        let (removed, added) = current.served_changes(&next, &changes.names);
        // The IXFR history holds the records of names; a change of the apex NS is not
        // one, so the next tier takes the whole zone once.
        next.history = if ns_changed {
            History::default()
        } else {
            current.history.with(
                ServedDelta {
                    from: current.serial,
                    to: serial,
                    removed,
                    added,
                },
                self.config.ixfr_journal,
            )
        };
        self.pool.sweep_if_grown();
        self.store.let_go_of_nodes();
        Ok(next)
    }

    /// `/v1/axfr` of the zone held, as the snapshot `snap` serves it.
    pub(crate) fn document(&self, snap: &Snapshot) -> Arc<Document> {
        let mut out = Document::default();
        let text = &snap.zone_text;
        let info = ZoneInfo {
            ttl: self.transferred.as_ref().map_or(0, |t| t.ttls.usual),
            serial: snap.serial,
            refresh_seconds: text.refresh_seconds,
            mname: &text.mname,
            rname: &text.rname,
            domain: &self.config.domain,
        };
        // Writing to a Document cannot fail.
        let _ = write_axfr(&self.store, &info, &mut out);
        Arc::new(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secondary::stream::test_soa as soa;
    use crate::snapshot::shards::CanonicalName;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn config() -> Config {
        Config::from_json(
            r#"{"masters":["127.0.0.1:5050"],"externalon":false}"#,
            "config.json".as_ref(),
            &crate::config::Environment::system(),
        )
        .unwrap() // ok: test
    }

    fn rr((name, data): &RecordKey, ttl: u32) -> ZoneRr {
        ZoneRr {
            name: name.clone(),
            ttl,
            data: data.clone(),
        }
    }

    /// A zone installed whole from `records` (with their TTLs).
    fn installed(records: &HashMap<RecordKey, u32>, serial: u32) -> (HeldZone, Snapshot) {
        let mut zone = HeldZone::new(config());
        let mut load = zone.full_load(None);
        let mut sorted: Vec<_> = records.iter().collect();
        sorted.sort_by(|x, y| x.0.0.cmp(&y.0.0));
        for (i, (key, ttl)) in sorted.into_iter().enumerate() {
            load.record(rr(key, *ttl));
            // Some records twice: held once.
            if i % 37 == 0 {
                load.record(rr(key, *ttl));
            }
            if i % 100 == 99 {
                load.end_of_message();
            }
        }
        let snapshot = zone.install(soa(serial), load).unwrap(); // ok: test
        (zone, snapshot)
    }

    /// The same zone made the way a store following Mesos is: every record added to
    /// the nodes, then every name compiled.
    fn through_nodes(records: &HashMap<RecordKey, u32>, like: &HeldZone) -> Snapshot {
        let mut batch = Batch::once();
        for key in records.keys() {
            batch.push(key);
        }
        let mut store = ZoneStore::new(&[like.apex.to_string()]);
        store.apply(&batch.item, Sign::AddOnce);
        store.take_changes();
        let shape = Shape {
            config: &like.config,
            transferred: like.transferred.as_ref(),
        };
        Snapshot::compile_all(&mut store, shape, 1, &SetPool::default())
    }

    fn canonical(snapshot: &Snapshot) -> Vec<Vec<CanonicalName>> {
        snapshot.shards().map(|s| s.canonical()).collect()
    }

    /// One task's records: its A (and every fifth an AAAA), its app's A and SRV.
    fn task(app: u32, t: u32, ip: u32) -> Vec<RecordKey> {
        let name: Box<str> = format!("t{t}.app{app}.marathon.mesos.").into();
        let v4 = Ipv4Addr::from(ip);
        let mut records = vec![
            (name.clone(), RrData::A(v4)),
            (format!("app{app}.marathon.mesos.").into(), RrData::A(v4)),
            (
                format!("_app{app}._tcp.marathon.mesos.").into(),
                RrData::Srv {
                    priority: 0,
                    weight: 1,
                    port: 31_000 + (t % 1000) as u16,
                    target: name.clone(),
                },
            ),
        ];
        if t % 5 == 0 {
            records.push((name, RrData::Aaaa(Ipv6Addr::from(u128::from(ip) << 64))));
        }
        records
    }

    /// A whole transfer loaded without nodes makes the zone a store with every node
    /// makes, and an IXFR applied to it (its shards' nodes let go) leaves the zone a
    /// whole transfer of the same records makes: tasks moved (their SRV owners'
    /// additional addresses follow), gone (names and empty non-terminals go), added in
    /// new branches, and TTLs changed; a large app's shard and names outside the zone
    /// keep their nodes.
    #[test]
    fn changes_to_a_zone_without_nodes_make_the_zone_a_whole_transfer_makes() {
        let mut records: HashMap<RecordKey, u32> = HashMap::default();
        let mut tasks: Vec<(u32, u32, u32)> = Vec::new();
        for app in 0..12u32 {
            let size = if app == 0 { 400 } else { 1 + app * 3 };
            for t in 0..size {
                tasks.push((app, t, 0x0a00_0000 | app << 16 | t));
            }
        }
        for &(app, t, ip) in &tasks {
            for key in task(app, t, ip) {
                records.insert(key, 60);
            }
        }
        // Outside the zone, and a PTR inside it.
        records.insert(
            (
                "1.0.0.10.in-addr.arpa.".into(),
                RrData::Ptr("t1.app1.marathon.mesos.".into()),
            ),
            60,
        );
        records.insert(
            (
                "back.mesos.".into(),
                RrData::Ptr("t2.app2.marathon.mesos.".into()),
            ),
            60,
        );
        let (mut zone, mut current) = installed(&records, 1);
        assert!(canonical(&current) == canonical(&through_nodes(&records, &zone)));
        let held_nodes = zone.store.node_bytes();
        assert!(zone.store.shards_without_nodes() > 100);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |below: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % below as u64) as usize
        };
        let mut new_tasks = 0;
        for step in 0..40u32 {
            let (mut removed, mut added) = (Vec::new(), Vec::new());
            // Every fourth step only moves a task: its SRV owners change by their
            // additional addresses alone.
            let only_move = step % 4 == 0;
            for _ in 0..if only_move { 1 } else { 1 + next(4) } {
                let i = next(tasks.len());
                let (app, t, ip) = tasks[i];
                match if only_move { 0 } else { next(4) } {
                    // Moved: its addresses change, its SRV record does not.
                    0 => {
                        let moved = ip ^ 0x0080_0000;
                        tasks[i].2 = moved;
                        let (old, new) = (task(app, t, ip), task(app, t, moved));
                        removed.extend(old.iter().filter(|r| !new.contains(r)).cloned());
                        added.extend(new.iter().filter(|r| !old.contains(r)).cloned());
                    }
                    // Gone.
                    1 if tasks.len() > 10 => {
                        tasks.swap_remove(i);
                        removed.extend(task(app, t, ip));
                    }
                    // A new task, some in a new branch of the zone.
                    2 => {
                        new_tasks += 1;
                        let app = if next(2) == 0 { 100 + new_tasks } else { app };
                        let t = 5000 + new_tasks;
                        let ip = 0x0c00_0000 | new_tasks;
                        tasks.push((app, t, ip));
                        added.extend(task(app, t, ip));
                    }
                    // A TTL changes.
                    _ => {
                        let key = task(app, t, ip).swap_remove(0);
                        removed.push(key.clone());
                        added.push(key.clone());
                        records.insert(key, 30 + step);
                    }
                }
            }
            // A record both removed and added (a TTL change) stays.
            for key in &removed {
                if !added.contains(key) {
                    records.remove(key);
                }
            }
            for key in &added {
                records.entry(key.clone()).or_insert(60);
            }
            let diff = Diff {
                to: None,
                removed: removed.iter().map(|k| rr(k, 60)).collect(),
                added: added.iter().map(|k| rr(k, records[k])).collect(),
            };
            current = zone
                .apply_incremental(&current, soa(step + 2), vec![diff])
                .unwrap(); // ok: test
            let (fresh, whole) = installed(&records, step + 2);
            assert!(canonical(&current) == canonical(&whole), "step {step}");
            let reference = through_nodes(&records, &fresh);
            assert!(canonical(&whole) == canonical(&reference), "step {step}");
            assert_eq!(current.counts, reference.counts, "step {step}");
            assert_eq!(zone.store.inconsistencies, 0, "step {step}");
            assert_eq!(zone.store.counts(), fresh.store.counts(), "step {step}");
        }
        // Most shards still without their nodes; the large app's and the names outside
        // the zone keep theirs.
        assert!(zone.store.shards_without_nodes() > 100);
        assert!(zone.store.node_bytes() > 0 && zone.store.node_bytes() < held_nodes * 2);
        let large = zone.store.find("_app0._tcp.marathon.mesos.").unwrap(); // ok: test
        let app0 = tasks.iter().filter(|t| t.0 == 0).count();
        assert_eq!(zone.store.node(large).srv().count(), app0);
    }
}
