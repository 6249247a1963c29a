//! The control loop: takes what the sources read, applies it to the model through the
//! delta pipeline ([`engine::Engine`]), and publishes snapshots. Runs on its own thread
//! and never blocks on I/O: the sources read on theirs.

pub mod engine;
mod intake;
pub(crate) mod publish;
mod serial;

use crate::cluster::{GuessFailed, StateIntake};
use crate::config::keys::ReloadPlan;
use crate::config::{Config, is_wildcard};
use crate::dns::wire::serial_later;
use crate::election::ElectionView;
use crate::mesos::detect::Masters;
use crate::mesos::events::{SourceEvent, StateRest};
use crate::mesos::feed::{Feed, FeedCommand};
use crate::mesos::source::StateSource;
use crate::notify::Notifier;
use crate::records::documents::DocumentRequest;
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::status::Status;
use crossbeam_channel::{Receiver, Sender};
use engine::Engine;
use intake::DocumentIntake;
use publish::Publisher;
use serial::SerialFile;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many of the state source's messages wait for the control thread (past that the
/// source waits in turn, and the stream stays in the socket).
const EVENTS_QUEUED: usize = 64;

/// The addresses published under `SOAMname` (docs/spec/mesos-dns-behavior.md §4.7): every non-loopback interface
/// address for the wildcard listener, else the listener itself.
pub fn listener_addresses(listener: IpAddr) -> Vec<IpAddr> {
    if !is_wildcard(listener) {
        return vec![listener];
    }
    if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .collect()
        })
        .unwrap_or_default()
}

/// Why the control thread could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The masters' client could not be built.
    #[error(transparent)]
    Source(#[from] crate::mesos::source::SourceError),
    /// The state feed's thread could not start.
    #[error("starting the state feed: {0}")]
    Thread(#[from] std::io::Error),
}

/// What can reach the control thread besides the sources.
#[derive(Debug)]
pub enum ControlEvent {
    /// Read the state now (the master list changed, or SIGUSR1).
    Refresh,
    /// Re-read config.json and apply what can change live (SIGHUP).
    Reload,
}

/// SIGHUP: config.json read again and sorted against `current` into what applies now
/// and what waits for a restart (which is logged). A bad file is refused with one log
/// line: `None`, the old configuration stays.
pub(crate) fn reread_config(current: &Config) -> Option<ReloadPlan> {
    let path = current.source_path.display().to_string();
    let new = match Config::load(&path, &crate::config::Environment::system()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SIGHUP: new configuration refused, keeping the old one: {e}");
            return None;
        }
    };
    let plan = crate::config::keys::reload(current, &new);
    if !plan.need_restart.is_empty() {
        tracing::warn!(
            "SIGHUP: {} changed; these need a restart and keep their old values",
            plan.need_restart.join(", ")
        );
    }
    Some(plan)
}

/// The control thread's state.
pub struct Control {
    config: Config,
    masters: Arc<Masters>,
    /// Refresh and reload requests.
    wake: Receiver<ControlEvent>,
    /// `/v1/enumerate` and `/v1/axfr` requests from the HTTP API.
    documents: Receiver<DocumentRequest>,
    /// The configuration in force, shared with the HTTP API (`/v1/config`).
    live: Arc<arc_swap::ArcSwap<Config>>,
    /// Serves each publish.
    publisher: Publisher,
    status: Arc<Status>,
    engine: Engine,
    events: Receiver<SourceEvent>,
    feed: Sender<FeedCommand>,
    /// The document whose tasks are being compared with the model as they come.
    intake: DocumentIntake,
    /// When the changes applied so far are to be published (stream changes wait a
    /// little, so that a burst becomes one publish).
    publish_due: Option<Instant>,
    /// When the first change of the coming publish arrived.
    pending_since: Option<Instant>,
    /// Stream changes wait for `publish_due`: until then the stream's records are left
    /// queued (see `run`).
    coalescing: bool,
    /// `SerialFile`.
    serial_file: SerialFile,
    /// `LeaderElection`: the election this leader reserves its serials through.
    lineage: Option<Arc<ElectionView>>,
    /// A serial could not be reserved: this server no longer leads, and stops.
    fenced: bool,
}

impl Control {
    /// The control state of `config`; starts the state source's thread.
    pub fn new(
        config: Config,
        masters: Arc<Masters>,
        wake: Receiver<ControlEvent>,
        documents: Receiver<DocumentRequest>,
        live: Arc<arc_swap::ArcSwap<Config>>,
        shared: SharedSnapshot,
        status: Arc<Status>,
    ) -> Result<Control, ControlError> {
        let source = StateSource::from_config(&config, masters.clone())?;
        let (events_tx, events) = crossbeam_channel::bounded(EVENTS_QUEUED);
        let (feed, commands) = crossbeam_channel::unbounded();
        let period = Duration::from_secs(config.refresh_seconds);
        let follower = Feed::new(
            config.state_api,
            source,
            period,
            events_tx,
            commands,
            status.clone(),
            live.clone(),
        );
        std::thread::Builder::new()
            .name("state-feed".into())
            .spawn(move || follower.run())?;
        let serial_file = SerialFile::new(config.serial_file.clone());
        let mut engine = Engine::new(config.clone());
        if let Some(serial) = serial_file.resume_from() {
            engine.resume_serial(serial);
        }
        Ok(Control {
            serial_file,
            engine,
            masters,
            wake,
            documents,
            live,
            config,
            publisher: Publisher::new(shared, status.clone()),
            status,
            events,
            feed,
            intake: DocumentIntake::default(),
            publish_due: None,
            pending_since: None,
            coalescing: false,
            lineage: None,
            fenced: false,
        })
    }

    /// `LeaderElection`: this server was elected. Its lineage continues the zone served
    /// now (a standby's copy of the former leader's zone, or nothing) above every serial
    /// a former leader reserved, and each serial is reserved before it is served. An
    /// error (no longer the leader, ZooKeeper away) means this server must not publish.
    pub(crate) fn lead(&mut self, election: Arc<ElectionView>) -> Result<u32, String> {
        let first = election.take_over(self.held_serial())?;
        self.engine.continue_lineage(first);
        self.lineage = Some(election);
        Ok(first)
    }

    /// Sends every new serial to `notifier` (NOTIFY).
    pub(crate) fn set_notifier(&mut self, notifier: Notifier) {
        self.publisher.set_notifier(notifier);
    }

    /// Sends every new serial to `keeper` (`DataDirectory`).
    pub(crate) fn set_keeper(&mut self, keeper: crossbeam_channel::Sender<Arc<Snapshot>>) {
        self.publisher.set_keeper(keeper);
    }

    /// A primary without an election resuming the zone it kept (served now): its
    /// lineage continues above the kept serial (and above `SerialFile`'s), and its first
    /// publish is a change of the kept zone.
    pub(crate) fn resume_kept(&mut self) {
        if self.publisher.current().serial != 0 {
            let first = self.held_serial().wrapping_add(1);
            self.engine.continue_lineage(first);
        }
    }

    /// The latest serial this server is known to have used: the one served now, or the
    /// engine's own (resumed from `SerialFile`), whichever is newer.
    fn held_serial(&self) -> u32 {
        serial_later(self.engine.serial(), self.publisher.current().serial)
    }

    /// Runs until `stop` is given (or the sources and every requester are gone); the
    /// state feed then ends too, as its command channel closes.
    pub fn run(mut self, stop: &crate::stop::Stop) {
        let stopped = stop.receiver();
        crate::mesos::lower_priority();
        let mut no_leader_since: Option<Instant> = None;
        let queued_until_due = crossbeam_channel::never();
        loop {
            let timeout = self.publish_due.map_or(Duration::from_secs(1), |due| {
                due.saturating_duration_since(Instant::now())
            });
            // Within a coalescing window the stream's records wait in their channel and
            // are taken together when it ends: one wake-up a window, not one a record
            // (at 1,000 events a second, waking and being woken was a seventh of each
            // event's CPU on the two threads).
            let events = if self.coalescing && timeout > Duration::ZERO {
                &queued_until_due
            } else {
                &self.events
            };
            crossbeam_channel::select! {
                recv(events) -> event => match event {
                    Ok(event) => self.on_source_guarded(event),
                    Err(_) => return,
                },
                recv(self.wake) -> event => match event {
                    Ok(event) => self.on_control(event),
                    Err(_) => return,
                },
                recv(self.documents) -> request => match request {
                    Ok(request) => self.on_document(request),
                    // No HTTP side: a closed channel is always ready, so stop watching it.
                    Err(_) => self.documents = crossbeam_channel::never(),
                },
                recv(stopped) -> _ => {
                    self.serial_file.flush();
                    return;
                }
                default(timeout) => {}
            }
            if self.publish_due.is_some_and(|due| due <= Instant::now()) {
                self.receive_queued();
                self.publish_guarded();
            }
            if self.fenced {
                return;
            }
            self.watch_leader(&mut no_leader_since);
        }
    }

    /// Takes what the stream queued while a coalescing window was open (at most a
    /// channel's worth: a stream that keeps up is taken at the next window).
    fn receive_queued(&mut self) {
        for _ in 0..EVENTS_QUEUED {
            match self.events.try_recv() {
                Ok(event) => self.on_source_guarded(event),
                Err(_) => break,
            }
        }
        // What came now is published with the window's changes.
        self.coalescing = false;
    }

    fn on_source(&mut self, event: SourceEvent) {
        let document_part = matches!(
            event,
            SourceEvent::StateBegins(_)
                | SourceEvent::StateTasks { .. }
                | SourceEvent::StateEnds(..)
                | SourceEvent::StateAbandoned(_)
        );
        if !document_part {
            self.pending_since.get_or_insert_with(Instant::now);
        }
        match event {
            SourceEvent::StateBegins(document) => {
                self.intake.begin(document, self.engine.cluster());
            }
            SourceEvent::StateTasks {
                document,
                list,
                tasks,
            } => {
                self.intake
                    .take(document, self.engine.cluster(), list, tasks);
            }
            SourceEvent::StateAbandoned(document) => self.intake.abandon(document),
            SourceEvent::StateEnds(document, rest) => match self.intake.end(document) {
                Some(intake) => self.on_document_end(intake, *rest),
                None => tracing::debug!("the end of a document replaced by a later one"),
            },
            SourceEvent::State(state) => {
                let masters = self.masters.view().list;
                let listener = listener_addresses(self.config.listener);
                self.engine.apply_state(state, &masters, &listener);
                self.publish_due = Some(Instant::now());
            }
            SourceEvent::Unchanged => {
                self.update_cluster_inputs();
                self.publish_due = Some(Instant::now());
            }
            SourceEvent::Changes(changes) => {
                self.engine.apply_changes(changes);
                let due = Instant::now() + Duration::from_millis(self.config.coalesce_ms);
                self.publish_due = Some(self.publish_due.map_or(due, |d| d.min(due)));
                self.coalescing = true;
            }
        }
    }

    /// A document's end: its tasks compared as they came are taken into the model, or,
    /// when the comparison cannot hold, the feed reads the document again whole.
    fn on_document_end(&mut self, intake: StateIntake, rest: StateRest) {
        self.pending_since.get_or_insert_with(Instant::now);
        let cluster = self.engine.cluster();
        match intake.finish(cluster, rest.without_tasks, &rest.frameworks) {
            Ok(state) => {
                let masters = self.masters.view().list;
                let listener = listener_addresses(self.config.listener);
                self.engine.apply_compared(state, &masters, &listener);
                self.publish_due = Some(Instant::now());
            }
            Err(GuessFailed) => {
                // A state document's tasks name other frameworks than the ones listing
                // them, or the model changed while the document was read.
                tracing::warn!(
                    "the cluster's state could not be compared as it was decoded; reading it again whole"
                );
                let _ = self.feed.send(FeedCommand::ReadWhole);
            }
        }
    }

    fn on_control(&mut self, event: ControlEvent) {
        // What the stream queued came first.
        self.receive_queued();
        match event {
            ControlEvent::Refresh => {
                let _ = self.feed.send(FeedCommand::Now);
                // A new master list changes the master records at once.
                self.pending_since.get_or_insert_with(Instant::now);
                self.update_cluster_inputs();
                self.publish_due = Some(Instant::now());
            }
            ControlEvent::Reload => self.reload(),
        }
    }

    fn on_document(&mut self, request: DocumentRequest) {
        // The document shows what is published: publish what is pending (and what the
        // stream queued) first.
        self.receive_queued();
        if self.publish_due.is_some() {
            self.publish_guarded();
        }
        let doc = self.engine.document(request.kind);
        let _ = request.reply.send((self.engine.serial(), doc));
    }

    /// The leader stays as the last state named it; the master list and the listener's
    /// addresses are read again.
    fn update_cluster_inputs(&mut self) {
        let masters = self.masters.view().list;
        let listener = listener_addresses(self.config.listener);
        let leader = self.engine.cluster().leader.clone();
        self.engine.set_cluster_inputs(&leader, &masters, &listener);
    }

    /// Publishes; a panic in it (a state nobody foresaw) keeps the served snapshot and
    /// starts the model afresh from the next state (the reference exits).
    fn publish_guarded(&mut self) {
        self.publish_due = None;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.publish()));
        if result.is_err() {
            self.start_afresh("publishing");
        }
    }

    /// [`Control::on_source`], where a panic (a state no test foresaw, in the model, the
    /// records or a whole load's compile) is survived as a publish's is.
    fn on_source_guarded(&mut self, event: SourceEvent) {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.on_source(event)));
        if result.is_err() {
            self.publish_due = None;
            self.coalescing = false;
            self.intake = DocumentIntake::default();
            self.start_afresh("taking in what Mesos sent");
        }
    }

    /// After a panic in `what`: the records served stay, the model and the store start
    /// empty, and the feed reads the state again.
    fn start_afresh(&mut self, what: &str) {
        tracing::error!("{what} panicked; keeping the served records");
        let serial = self.engine.serial();
        self.engine = Engine::new(self.config.clone());
        // The serial never goes back.
        self.engine.resume_serial(serial);
        let _ = self.feed.send(FeedCommand::Now);
    }

    fn publish(&mut self) {
        let current = self.publisher.current();
        let Some((snapshot, info)) = self.engine.publish(&current) else {
            self.pending_since = None;
            return;
        };
        let whole = info.records_changed.is_none();
        // Sizing visits every shard: only for whole publishes, which are logged.
        let (names, bytes) = if whole { snapshot.size() } else { (0, 0) };
        if snapshot.serial != current.serial {
            if let Some(election) = &self.lineage {
                if let Err(e) = election.reserve(snapshot.serial) {
                    tracing::warn!(
                        serial = snapshot.serial,
                        "not serving a new serial, no longer leading: {e}"
                    );
                    self.fenced = true;
                    return;
                }
            }
            self.serial_file.record(snapshot.serial);
        }
        self.publisher.serve(&current, snapshot);
        self.engine.let_go_of_nodes();
        if let Some(since) = self.pending_since.take() {
            self.status
                .zone
                .publish_seconds
                .0
                .observe(since.elapsed().as_secs_f64());
        }
        if whole {
            tracing::info!(
                serial = info.serial,
                names,
                snapshot_bytes = bytes,
                ms = info.took.as_millis() as u64,
                "published new snapshot"
            );
        } else {
            tracing::debug!(
                serial = info.serial,
                shards = info.shards,
                names = info.names,
                records = info.records_changed,
                us = info.took.as_micros() as u64,
                "published changes"
            );
        }
    }

    /// SIGHUP: re-reads config.json. A bad file is refused with one log line and the old
    /// configuration stays; what only a restart can change is logged and kept as it was.
    fn reload(&mut self) {
        let Some(plan) = reread_config(&self.config) else {
            return;
        };
        // Live keys apply now; the masters' client is always rebuilt, so that renewed
        // certificates and keys are read again; if the new files do not load, the old
        // client stays.
        let mut applied = plan.live;
        let with_source = plan.with_source;
        match StateSource::from_config(&with_source, self.masters.clone()) {
            Ok(source) => {
                let period = Duration::from_secs(applied.refresh_seconds);
                let _ = self
                    .feed
                    .send(FeedCommand::Replace(Box::new(source), period));
                applied = with_source;
            }
            Err(e) => tracing::error!(
                "SIGHUP: TLS or authentication settings for the masters refused, keeping the old ones: {e}"
            ),
        }
        self.config = applied.clone();
        self.live.store(Arc::new(applied.clone()));
        // Every record is made again under the new settings, and the state read anew.
        self.engine.reconfigure(applied);
        self.update_cluster_inputs();
        self.pending_since.get_or_insert_with(Instant::now);
        self.publish_due = Some(Instant::now());
        let _ = self.feed.send(FeedCommand::Now);
        tracing::info!("SIGHUP: configuration reloaded");
    }

    /// ZooKeeper mode: with no leader for `ZkDetectionTimeout`, say so loudly and mark the
    /// server not ready, but keep serving (the reference exits).
    fn watch_leader(&self, since: &mut Option<Instant>) {
        if self.config.zk.is_empty() || self.config.zk_detection_timeout <= 0 {
            return;
        }
        let leader_known = self
            .masters
            .view()
            .list
            .first()
            .is_some_and(|m| !m.is_empty());
        if leader_known {
            *since = None;
            self.status
                .source
                .leader_missing
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let started = *since.get_or_insert_with(Instant::now);
        let limit = Duration::from_secs(self.config.zk_detection_timeout as u64);
        if started.elapsed() >= limit
            && !self
                .status
                .source
                .leader_missing
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::error!(
                "no leading master in ZooKeeper for {} s (ZkDetectionTimeout); serving the last records",
                limit.as_secs()
            );
        }
    }
}
