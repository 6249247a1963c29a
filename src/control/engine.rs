//! The delta pipeline: changes → model → records of the touched items → store → the
//! touched shards compiled again → one published snapshot, with its changes to the served records kept for IXFR.
//!
//! For every item a change touches, the item's records are generated from the model
//! before the change and taken out of the store, the change is applied, and the item's
//! records are generated again and put in. Records are a pure function of an item, so
//! the store always holds exactly what a full generation of the model would give.

use crate::cluster::{Change, Cluster, ClusterState, ComparedState, Item};
use crate::config::Config;
use crate::records::documents::{Document, DocumentKind};
use crate::records::documents::{ZoneInfo, write_axfr, write_enumerate};
use crate::records::enumerate::ModelView;
use crate::records::{ItemRecords, Report, Rules};
use crate::snapshot::history::ServedDelta;
use crate::snapshot::keys::NameKeys;
use crate::snapshot::sets::SetPool;
use crate::snapshot::store::{Changes, Sign, WholeLoad, ZoneStore};
use crate::snapshot::{Shape, Snapshot, store_for};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// From this many items, records are made on a helper thread while the store takes
/// them (below it a thread costs more than it saves).
const PIPELINE_FROM_ITEMS: usize = 20_000;
/// An event touching up to this many items puts only the records it changed in the
/// store (each item's records made before and after, and compared); past it, every
/// record of the items goes out and comes back, as a whole put does.
const CHANGED_RECORDS_UP_TO_ITEMS: usize = 256;
/// Items per batch handed from the helper to the store.
const PIPELINE_BATCH: usize = 512;

/// What one publish did.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    /// The serial now served.
    pub serial: u32,
    /// Shards rebuilt.
    pub shards: usize,
    /// Names compiled again (every name held, for a whole new table).
    pub names: usize,
    /// Records added or removed (`None` for a whole new table).
    pub records_changed: Option<usize>,
    /// How long the publish took.
    pub took: Duration,
}

/// The model and the store, owned by the control thread.
pub struct Engine {
    config: Config,
    cluster: Cluster,
    store: ZoneStore,
    /// Every answer set in use, stored once.
    pool: SetPool,
    serial: u32,
    /// Items skipped since the last publish (logged with it).
    report: Report,
    /// Configuration changed: the next publish compiles every shard.
    recompile_all: bool,
    /// A state was applied since the last publish, even one that changed nothing.
    state_seen: bool,
    /// The first publish continues the lineage of the zone served now (a new leader):
    /// its changes from that zone join the served IXFR history.
    continue_served: bool,
    /// The store was loaded whole and every name's sets are made and installed: the
    /// next publish is whole, and compiles only the names changed since.
    sets_installed: bool,
}

impl Engine {
    /// An engine with an empty model.
    pub fn new(config: Config) -> Engine {
        Engine {
            store: store_for(&config),
            pool: SetPool::default(),
            config,
            cluster: Cluster::default(),
            serial: 0,
            report: Report::default(),
            recompile_all: true,
            state_seen: false,
            continue_served: false,
            sets_installed: false,
        }
    }

    /// The model.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Every record with its contributors.
    pub fn store(&self) -> &ZoneStore {
        &self.store
    }

    /// Applies stream changes in order.
    pub fn apply_changes(&mut self, changes: Vec<Change>) {
        for change in changes {
            let items = self.cluster.affected_by(&change);
            self.change_items(&items, |cluster| cluster.apply(change));
        }
    }

    /// Changes the model by `change`, and the store by what that did to the records of
    /// `items`. Up to [`CHANGED_RECORDS_UP_TO_ITEMS`] items, each item's records are
    /// made before and after and only those that differ go through the store: a record
    /// an item keeps is neither taken out nor put back, so its name is not compiled
    /// again (an event giving a task a new address changed about half of the names
    /// compiled when every record went out and came back). Past that, every record of
    /// the items goes out and comes back, as a whole put does.
    fn change_items(&mut self, items: &[Item], change: impl FnOnce(&mut Cluster)) {
        if items.len() > CHANGED_RECORDS_UP_TO_ITEMS {
            self.put(items, Sign::Remove);
            change(&mut self.cluster);
            self.put(items, Sign::Add);
            return;
        }
        // Rules cache what they read of the model (a framework's zones, an agent's
        // addresses): each model gets its own.
        let rules = Rules::new(&self.config);
        // What is taken out was reported when it came.
        let before: Vec<ItemRecords> = items
            .iter()
            .map(|item| ItemRecords::of(&rules, &self.cluster, item, &mut Report::default()))
            .collect();
        change(&mut self.cluster);
        let rules = Rules::new(&self.config);
        let mut report = Report::default();
        let after: Vec<ItemRecords> = items
            .iter()
            .map(|item| ItemRecords::of(&rules, &self.cluster, item, &mut report))
            .collect();
        // Every removal before any addition, as a whole put does: a record two items
        // share is never counted out and back.
        for (old, new) in before.iter().zip(&after) {
            let gone = old.without(new);
            if !gone.is_empty() {
                self.store.apply(&gone, Sign::Remove);
            }
        }
        for (old, new) in before.iter().zip(&after) {
            let came = new.without(old);
            if !came.is_empty() {
                self.store.apply(&came, Sign::Add);
            }
        }
        self.note_report(report);
    }

    /// Replaces the model with a whole state (a poll, or a subscription's snapshot):
    /// only the items that differ are regenerated, and the model is changed in place.
    pub fn apply_state(&mut self, state: ClusterState, masters: &[String], listener: &[IpAddr]) {
        let compared = ComparedState::of(&self.cluster, state);
        self.apply_compared(compared, masters, listener);
    }

    /// [`Engine::apply_state`] of a state already compared with the model (a poll
    /// compared as it was decoded).
    pub fn apply_compared(
        &mut self,
        state: ComparedState,
        masters: &[String],
        listener: &[IpAddr],
    ) {
        let started = std::time::Instant::now();
        // Nothing to compare with or take out in an empty store (the first state, or after
        // a new configuration emptied it): every item goes in.
        let items = (!self.store.is_empty())
            .then(|| self.cluster.differences_from(&state, masters, listener));
        let (masters, listener) = (masters.to_vec(), listener.to_vec());
        let mut modelled = Duration::ZERO;
        match &items {
            Some(items) => self.change_items(items, |cluster| {
                cluster.replace(state, masters, listener);
                modelled = started.elapsed();
            }),
            None => {
                self.cluster.replace(state, masters, listener);
                modelled = started.elapsed();
                self.put_all();
            }
        }
        self.store.shrink();
        self.state_seen = true;
        tracing::debug!(
            model_ms = modelled.as_millis() as u64,
            records_ms = (started.elapsed() - modelled).as_millis() as u64,
            "applied a whole state"
        );
    }

    /// Sets the leader, the master list and the listener's addresses.
    pub fn set_cluster_inputs(&mut self, leader: &str, masters: &[String], listener: &[IpAddr]) {
        if self.cluster.has_cluster_inputs(leader, masters, listener) {
            return;
        }
        self.change_items(&[Item::Cluster], |cluster| {
            cluster.set_cluster_inputs(leader, masters, listener)
        });
    }

    /// A new configuration: every record is made again under it.
    pub fn reconfigure(&mut self, config: Config) {
        self.config = config;
        self.store = store_for(&self.config);
        self.put_all();
        self.recompile_all = true;
        // A delta cannot describe a change of settings (TTL, domain): no IXFR across it.
    }

    /// Every item of the model into the empty store, loaded as a whole zone is
    /// ([`WholeLoad`], as a secondary loads a transfer): the names go into their
    /// shards and the records into one list, every name's sets are made from it on
    /// every core, and only the shards whose sets cannot give their values back get
    /// nodes. Filled record by record, every name had a node and values until the
    /// first let-go, whose freed room stayed scattered through pages still in use.
    fn put_all(&mut self) {
        let items = self.cluster.items();
        if !self.store.can_load_whole() {
            self.store.expect_names(items.len() * 3);
            self.put(&items, Sign::Add);
            self.store.expect_names(0);
            return;
        }
        let mut load = WholeLoad::of_items(std::mem::replace(&mut self.store, ZoneStore::new(&[])));
        // About three names per item (a task's names, its SRV owners; agents' and
        // frameworks' few), room made for them at once.
        load.expect_names(items.len() * 3);
        let report = generate(
            &self.config,
            &self.cluster,
            &items,
            pipelined(&items),
            |records, keys| load.add(records, keys),
        );
        self.note_report(report);
        self.store = load.compile_store(Shape::from(&self.config), &self.pool);
        self.sets_installed = true;
    }

    fn put(&mut self, items: &[Item], sign: Sign) {
        self.put_on(items, sign, pipelined(items));
    }

    /// Puts the records of `items` in the store (or takes them out), made on a helper
    /// thread when `pipelined` ([`generate`]).
    fn put_on(&mut self, items: &[Item], sign: Sign, pipelined: bool) {
        let store = &mut self.store;
        let report = generate(
            &self.config,
            &self.cluster,
            items,
            pipelined,
            |records, keys| store.apply_keyed(records, keys, sign),
        );
        // Only what is added is reported: what is removed was reported when it came.
        if sign == Sign::Add {
            self.note_report(report);
        }
    }

    /// Adds the items skipped while adding records to what the next publish reports.
    fn note_report(&mut self, report: Report) {
        self.report.merge(report);
    }

    /// Publishes what changed since the last publish, if anything did (or if nothing is
    /// served yet and a state has been seen). The SOA serial moves only when records
    /// changed.
    pub fn publish(&mut self, current: &Snapshot) -> Option<(Snapshot, Published)> {
        let started = Instant::now();
        if !current.ready && !self.state_seen {
            // Nothing to serve yet: the first publish after a state compiles everything.
            return None;
        }
        let whole = self.recompile_all || !current.ready || self.sets_installed;
        let changes = if whole && !self.sets_installed {
            // Every shard is compiled: the changed names need no list (at a first load
            // it held every name's key, 23 MB at 100k tasks, at the peak).
            self.store.forget_changes();
            Changes::default()
        } else {
            self.store.take_changes()
        };
        if changes.names.is_empty() && !whole {
            return None;
        }
        let report = std::mem::take(&mut self.report);
        if report.skipped > 0 {
            tracing::warn!(skipped = report.skipped, examples = ?report.examples, "state items skipped");
        }
        let previous = self.serial;
        let next_serial = |serial: u32| unix_now().max(serial.wrapping_add(1));
        let records_changed = changes.delta.as_ref().map(|d| d.len());
        let snapshot = if whole {
            self.serial = next_serial(self.serial);
            let mut next = if std::mem::take(&mut self.sets_installed) {
                // Loaded whole: every set is made; those of the names changed since.
                Snapshot::update(
                    &mut self.store,
                    &changes.names,
                    &self.config,
                    self.serial,
                    &self.pool,
                )
            } else {
                Snapshot::compile_all(&mut self.store, &self.config, self.serial, &self.pool)
            };
            // The zone served may be one kept on disk and not answered (past its expire):
            // still the one the lineage continues from.
            if std::mem::take(&mut self.continue_served) && current.serial != 0 {
                let (removed, added) = current.whole_changes(&next);
                let delta = ServedDelta {
                    from: current.serial,
                    to: self.serial,
                    removed,
                    added,
                };
                next.history = current.history.with(delta, self.config.ixfr_journal);
            }
            next
        } else {
            // Patched under the old serial first: the serial moves only if what is
            // served changed (a store change can leave every answer as it was).
            let patched = Snapshot::update(
                &mut self.store,
                &changes.names,
                &self.config,
                self.serial,
                &self.pool,
            );
            let (removed, added) = current.served_changes(&patched, &changes.names);
            let mut patched = if removed.is_empty() && added.is_empty() {
                patched
            } else {
                self.serial = next_serial(self.serial);
                let delta = ServedDelta {
                    from: previous,
                    to: self.serial,
                    removed,
                    added,
                };
                let history = current.history.with(delta, self.config.ixfr_journal);
                let mut next =
                    patched.with_serial(&self.store, &self.config, self.serial, &self.pool);
                next.history = history;
                next
            };
            if patched.serial == previous {
                patched.history = current.history.clone();
            }
            patched
        };
        self.recompile_all = false;
        self.pool.sweep_if_grown();
        let shards = if whole {
            crate::snapshot::shards::SHARDS
        } else {
            let mut shards: Vec<u32> = changes.names.iter().map(|n| n.shard).collect();
            shards.dedup();
            shards.len()
        };
        let names = if whole {
            self.store.counts().0
        } else {
            changes.names.len()
        };
        let info = Published {
            serial: self.serial,
            shards,
            names,
            records_changed,
            took: started.elapsed(),
        };
        Some((snapshot, info))
    }

    /// Lets go of the store's nodes where the sets just published can give them back
    /// (`ZoneStore::let_go_of_nodes`): the nodes the names changed since got back, or,
    /// for a store filled record by record, every node the sets stand for (a third of
    /// a zone's live bytes at 100k tasks). Called once the snapshot [`Engine::publish`]
    /// made is served, so that an answer does not wait for it.
    pub fn let_go_of_nodes(&mut self) {
        self.store.let_go_of_nodes();
    }

    /// Renders `/v1/enumerate` or `/v1/axfr` from the model and the store.
    pub fn document(&self, kind: DocumentKind) -> Arc<Document> {
        let mut out = Document::default();
        // Writing to a Document cannot fail.
        let _ = match kind {
            DocumentKind::Enumerate => write_enumerate(
                &ModelView::new(Rules::new(&self.config), &self.cluster),
                &mut out,
            ),
            DocumentKind::Axfr => {
                let c = &self.config;
                let info = ZoneInfo {
                    ttl: c.ttl,
                    serial: self.serial,
                    refresh_seconds: c.refresh_seconds,
                    mname: &c.soa_mname,
                    rname: &c.soa_rname,
                    domain: &c.domain,
                };
                write_axfr(&self.store, &info, &mut out)
            }
        };
        Arc::new(out)
    }

    /// Publishes from now on use serials above `serial` (a restart resuming where it
    /// was: see `SerialFile`).
    pub fn resume_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// A new leader: publishes from now on use serials from `first`, and the first one
    /// is served as a change of the zone served then (IXFR from its serial).
    pub fn continue_lineage(&mut self, first: u32) {
        self.serial = first.wrapping_sub(1);
        self.continue_served = true;
    }

    /// The serial of the last publish.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Distinct answer sets held, and their bytes.
    pub fn pool_size(&self) -> (usize, usize) {
        (self.pool.len(), self.pool.bytes_held())
    }

    /// Drops the answer sets no snapshot uses any more now (publishes do so as the pool
    /// grows; a measuring tool wants it at once).
    pub fn sweep_sets(&mut self) {
        self.pool.sweep();
    }

    /// Of the sets' bytes: SRV additional addresses, and records in wire form.
    pub fn pool_parts(&self) -> (usize, usize) {
        self.pool.parts_held()
    }
}

/// Whether the records of `items` are made on a helper thread ([`generate`]): for many
/// (a first load, a new configuration); below that a thread costs more than it saves.
fn pipelined(items: &[Item]) -> bool {
    items.len() >= PIPELINE_FROM_ITEMS
}

/// Makes the records of `items`, each item's with its names' keys, and hands them to
/// `sink` in order. When `pipelined`, a helper thread makes them while this one hands
/// them on, a batch at a time (the two halves cost about the same).
fn generate(
    config: &Config,
    cluster: &Cluster,
    items: &[Item],
    pipelined: bool,
    mut sink: impl FnMut(&ItemRecords, &NameKeys),
) -> Report {
    let make_batch = |batch: &[Item], report: &mut Report, rules: &Rules| -> Vec<_> {
        batch
            .iter()
            .map(|item| ItemRecords::of(rules, cluster, item, report))
            .filter(|records| !records.is_empty())
            // The names' keys are made beside the records, so that the storing
            // thread, which was the busier, only looks them up.
            .map(|records| {
                let keys = NameKeys::of(&records);
                (records, keys)
            })
            .collect()
    };
    let mut sink_all = |made: Vec<(ItemRecords, NameKeys)>| {
        for (records, keys) in &made {
            sink(records, keys);
        }
    };
    let inline = |sink_all: &mut dyn FnMut(Vec<(ItemRecords, NameKeys)>)| {
        let rules = Rules::new(config);
        let mut report = Report::default();
        for batch in items.chunks(PIPELINE_BATCH) {
            sink_all(make_batch(batch, &mut report, &rules));
        }
        report
    };
    if !pipelined {
        return inline(&mut sink_all);
    }
    std::thread::scope(|scope| {
        let (batches, received) = crossbeam_channel::bounded(4);
        let helper = std::thread::Builder::new()
            .name("generate".into())
            .spawn_scoped(scope, move || {
                let rules = Rules::new(config);
                let mut report = Report::default();
                for batch in items.chunks(PIPELINE_BATCH) {
                    if batches
                        .send(make_batch(batch, &mut report, &rules))
                        .is_err()
                    {
                        break;
                    }
                }
                report
            });
        let Ok(helper) = helper else {
            // No thread to be had: this one makes them too.
            return inline(&mut sink_all);
        };
        for made in received {
            sink_all(made);
        }
        // A helper that panicked panics here, where the control thread's guards catch it.
        helper
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn unix_now() -> u32 {
    crate::status::unix_seconds() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::state::State;

    /// The fixture's tasks, each listed `copies` times under new ids and names.
    fn many_tasks(copies: usize) -> ClusterState {
        let fixture = include_bytes!("../../tests/data/fake-state.json");
        let mut doc: serde_json::Value = serde_json::from_slice(fixture).expect("the fixture");
        for framework in doc["frameworks"].as_array_mut().into_iter().flatten() {
            let Some(tasks) = framework["tasks"].as_array().cloned() else {
                continue;
            };
            let mut copied = Vec::new();
            for copy in 0..copies {
                for task in &tasks {
                    let mut task = task.clone();
                    let of = |field: &serde_json::Value| {
                        format!("{}{copy}", field.as_str().unwrap_or(""))
                    };
                    task["id"] = of(&task["id"]).into();
                    task["name"] = of(&task["name"]).into();
                    copied.push(task);
                }
            }
            framework["tasks"] = copied.into();
        }
        let bytes = serde_json::to_vec(&doc).expect("a document");
        State::from_slice(&bytes)
            .expect("the copied fixture decodes")
            .into_cluster_state()
    }

    /// A configuration for the fixture's cluster, every address source on.
    fn test_config() -> Config {
        Config::from_json(
            r#"{"masters":["10.0.0.1:5050"],"externalon":false,
                "IPSources":["netinfo","docker","mesos","host"]}"#,
            "config.json".as_ref(),
            &crate::config::Environment::system(),
        )
        .expect("a valid configuration") // ok: test
    }

    /// The store a helper thread fills serves the same zone as one filled on one thread,
    /// and takes the records away again as completely.
    #[test]
    fn pipelined_and_plain_puts_fill_the_same_store() {
        let config = test_config();
        let mut engines = [Engine::new(config.clone()), Engine::new(config.clone())];
        for engine in &mut engines {
            engine.cluster =
                Cluster::from_state(many_tasks(150), vec!["10.0.0.1:5050".into()], vec![]);
        }
        let items = engines[0].cluster.items();
        assert!(items.len() > 2 * PIPELINE_BATCH, "several batches");
        engines[0].put_on(&items, Sign::Add, false);
        engines[1].put_on(&items, Sign::Add, true);
        let empty = Snapshot::empty(&config);
        let [plain, pipelined] = engines.each_mut().map(|e| {
            e.state_seen = true;
            e.publish(&empty).expect("a first publish").0
        });
        assert!(plain.counts.a > 1000);
        assert_eq!(plain.whole_changes(&pipelined), (Vec::new(), Vec::new()));
        engines[1].put_on(&items, Sign::Remove, true);
        assert!(engines[1].store.is_empty());
        assert_eq!(engines[1].store.inconsistencies, 0);
    }

    /// A set's records share its TTL: an IXFR between zones served with two TTLs
    /// removes every record and adds it again with the new TTL, and nothing else.
    #[test]
    fn records_of_another_ttl_are_changed_records() {
        let ttl_7 = Config::from_json(
            r#"{"masters":["10.0.0.1:5050"],"externalon":false,"ttl":7,
                "IPSources":["netinfo","docker","mesos","host"]}"#,
            "config.json".as_ref(),
            &crate::config::Environment::system(),
        )
        .expect("a valid configuration"); // ok: test
        let [usual, short] = [test_config(), ttl_7].map(|config| {
            let mut engine = Engine::new(config.clone());
            engine.cluster =
                Cluster::from_state(many_tasks(3), vec!["10.0.0.1:5050".into()], vec![]);
            let items = engine.cluster.items();
            engine.put_on(&items, Sign::Add, false);
            engine.state_seen = true;
            let empty = Snapshot::empty(&config);
            engine.publish(&empty).expect("a first publish").0 // ok: test
        });
        let (removed, added) = usual.whole_changes(&short);
        let every = usual.counts.a + usual.counts.aaaa + usual.counts.srv;
        assert!(every > 50);
        assert_eq!((removed.len(), added.len()), (every, every));
        // The TTL follows the owner name and the type and class.
        let ttl_at = |record: &[u8]| {
            let mut at = 0;
            while record[at] != 0 {
                at += 1 + usize::from(record[at]);
            }
            at + 5
        };
        let with_ttl = |records: &[Box<[u8]>], ttl: u32| {
            let mut out: Vec<Vec<u8>> = records
                .iter()
                .map(|r| {
                    let mut r = r.to_vec();
                    let at = ttl_at(&r);
                    r[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
                    r
                })
                .collect();
            out.sort();
            out
        };
        assert_eq!(with_ttl(&removed, 7), with_ttl(&added, 7));
        // Each as it was served: the default TTL, then 7.
        let sorted = |records: &[Box<[u8]>]| {
            let mut out: Vec<Vec<u8>> = records.iter().map(|r| r.to_vec()).collect();
            out.sort();
            out
        };
        assert_eq!(with_ttl(&removed, 60), sorted(&removed));
        assert_eq!(with_ttl(&added, 7), sorted(&added));
        assert_eq!(short.whole_changes(&short), (Vec::new(), Vec::new()));
    }

    /// A store loaded whole (`put_all`) serves what one filled record by record does,
    /// and counts each value as often as items add it: with every other item taken
    /// out of both (values two items added among them: an app's tasks on one agent
    /// name its address), they still serve alike, and with every item out the whole
    /// one is empty.
    #[test]
    fn a_whole_load_serves_what_a_load_record_by_record_does() {
        let config = test_config();
        let cluster = Cluster::from_state(many_tasks(150), vec!["10.0.0.1:5050".into()], vec![]);
        let items = cluster.items();
        let mut engines = [Engine::new(config.clone()), Engine::new(config.clone())];
        for engine in &mut engines {
            engine.cluster = cluster.clone();
            engine.state_seen = true;
        }
        engines[0].put_all();
        engines[1].put(&items, Sign::Add);
        assert!(engines[0].sets_installed && !engines[1].sets_installed);
        assert!(engines[0].store.shards_without_nodes() > 1000);
        let empty = Snapshot::empty(&config);
        let [whole, by_record] = engines
            .each_mut()
            .map(|e| e.publish(&empty).expect("a first publish").0); // ok: test
        assert!(whole.counts.a > 1000);
        assert_eq!(whole.whole_changes(&by_record), (Vec::new(), Vec::new()));
        assert_eq!(changed_names(&whole, &by_record), Vec::<String>::new());
        let every_other: Vec<Item> = items.iter().step_by(2).cloned().collect();
        for engine in &mut engines {
            engine.put(&every_other, Sign::Remove);
        }
        let [whole_after, by_record_after] = engines
            .each_mut()
            .map(|e| e.publish(&whole).expect("a publish").0); // ok: test
        assert_ne!(whole_after.whole_changes(&whole), (Vec::new(), Vec::new()));
        assert_eq!(
            changed_names(&whole_after, &by_record_after),
            Vec::<String>::new()
        );
        let rest: Vec<Item> = items.iter().skip(1).step_by(2).cloned().collect();
        engines[0].put(&rest, Sign::Remove);
        assert!(engines[0].store.is_empty());
        assert_eq!(engines[0].store.inconsistencies, 0);
    }

    /// The names whose served sets differ between two snapshots, as text.
    fn changed_names(before: &Snapshot, after: &Snapshot) -> Vec<String> {
        let mut changed = Vec::new();
        for (old, new) in before.shards().zip(after.shards()) {
            let (old, new) = (old.canonical(), new.canonical());
            let names: std::collections::BTreeSet<&Vec<u8>> =
                old.iter().chain(&new).map(|(key, _)| key).collect();
            for key in names {
                let sets = |all: &[crate::snapshot::shards::CanonicalName]| {
                    all.iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, sets)| sets.clone())
                };
                if sets(&old) != sets(&new) {
                    changed.push(crate::snapshot::keys::key_text(key));
                }
            }
        }
        changed
    }

    /// A task given a new address and another ended: only the names whose answers
    /// changed are compiled again (the first task's names under the agent, whose
    /// records stay, are not), and the zone is the one a whole compile of the changed
    /// model makes.
    #[test]
    fn an_event_compiles_only_the_names_it_changed() {
        an_event_changes_what_a_whole_compile_would(false);
    }

    /// The same with the nodes let go after each publish, as a server does: the names
    /// the event changes get their nodes back from their sets, and nothing else differs.
    #[test]
    fn nodes_let_go_come_back_for_an_event() {
        an_event_changes_what_a_whole_compile_would(true);
    }

    fn an_event_changes_what_a_whole_compile_would(let_go: bool) {
        let config = test_config();
        let mut engine = Engine::new(config.clone());
        engine.apply_state(many_tasks(2), &["10.0.0.1:5050".into()], &[]);
        let empty = Snapshot::empty(&config);
        let (before, _) = engine.publish(&empty).expect("a first publish"); // ok: test
        if let_go {
            engine.let_go_of_nodes();
            let shards = engine.store.shards_without_nodes();
            assert!(shards > 100, "only {shards} shards let go of their nodes");
        }
        let mut running = engine
            .cluster
            .tasks()
            .filter(|t| t.running)
            .map(|t| t.key());
        let (task, ended) = (
            running.next().expect("a running task"),        // ok: test
            running.last().expect("a second running task"), // ok: test
        );
        // One task moves to a new address; another ends, which takes its SRV records
        // out of its app's names.
        let update = |task: &crate::cluster::TaskKey, running: bool| {
            Change::TaskUpdated(crate::cluster::StatusUpdate {
                framework_id: task.framework.to_string(),
                task_id: task.id.to_string(),
                running,
                terminal: !running,
                status: running.then(|| {
                    crate::cluster::RunningStatus::new(
                        2e9,
                        &["10.200.0.1".parse().expect("an address")], // ok: test
                        &[],
                        &[],
                        None,
                    )
                }),
            })
        };
        engine.apply_changes(vec![update(&task, true), update(&ended, false)]);
        let (after, info) = engine.publish(&before).expect("a publish"); // ok: test
        if let_go {
            engine.let_go_of_nodes();
        }
        assert_eq!(engine.store.inconsistencies, 0);
        let changed = changed_names(&before, &after);
        assert!(changed.len() >= 2, "the task's own names: {changed:?}");
        assert_eq!(
            info.names,
            changed.len(),
            "compiled again: only {changed:?}"
        );
        let mut whole = Engine::new(config.clone());
        whole.cluster = engine.cluster.clone();
        whole.put_all();
        whole.state_seen = true;
        let (rebuilt, _) = whole.publish(&empty).expect("a whole publish"); // ok: test
        assert_eq!(rebuilt.whole_changes(&after), (Vec::new(), Vec::new()));
        // The additional addresses too (SRV sets whose targets moved).
        assert_eq!(changed_names(&rebuilt, &after), Vec::<String>::new());
    }
}
