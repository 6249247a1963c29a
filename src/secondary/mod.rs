//! Secondary mode (`Primaries`): the zone comes from primaries by zone transfer, never
//! from Mesos. A thread of its own asks for the primary's SOA every SOA refresh (and at
//! once on a NOTIFY from a listed primary), takes the changes by IXFR or the whole zone
//! by AXFR, and publishes snapshots the workers serve like any other. When no primary
//! has answered for the SOA expire time, the zone is no longer served (SERVFAIL, and
//! `/ready` says 503) until one answers again.
//!
//! A transfer that fails its checks (cut short, too large, records outside the zone,
//! SOAs that disagree, IXFR deletions that do not match) is thrown away whole: the zone
//! held keeps being served. Each failure is counted in `mesos_dns_transfers_total
//! {role="secondary"}` and logged once until the next success.

pub(crate) mod keeper;
pub(crate) mod kept;
pub(crate) mod pull;
pub(crate) mod stream;
pub(crate) mod udp_ixfr;
pub(crate) mod wire_records;
pub(crate) mod zone;

use crate::config::Config;
use crate::control::publish::Publisher;
use crate::control::{ControlEvent, reread_config};
use crate::counters::PullResult;
use crate::dns::ids::QueryIds;
use crate::dns::wire::serial_newer;
use crate::notify::Notifier;
use crate::records::documents::{DocumentKind, DocumentRequest};
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::status::{Status, unix_ms};
use crossbeam_channel::Receiver;
use kept::KeptZone;
use pull::{Ask, PullError, Pulled, Took, pull};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use stream::Received;
use zone::{FullLoad, HeldZone};

/// How often a secondary with no zone yet asks again.
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(2);
/// The shortest wait between two refreshes (SOA timers of 0 would spin).
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest wait between two refreshes that NOTIFYs bring: a flood of NOTIFYs
/// (their source address can be forged) asks the primary at most this often.
const NOTIFY_GAP: Duration = Duration::from_millis(100);

/// The secondary's thread state.
pub(crate) struct Secondary {
    live: Arc<arc_swap::ArcSwap<Config>>,
    /// Serves each zone version.
    publisher: Publisher,
    status: Arc<Status>,
    documents: Receiver<DocumentRequest>,
    /// Woken by NOTIFYs the inbox took.
    notices: Receiver<()>,
    /// SIGUSR1 (check now) and SIGHUP (reload).
    control: Receiver<ControlEvent>,
    zone: HeldZone,
    ids: QueryIds,
    next_check: Instant,
    /// When the zone held expires, counted from the last primary that answered.
    expires_at: Option<Instant>,
    /// When the last refresh started.
    last_refresh: Option<Instant>,
    /// Given when the server stops: a transfer under way gives up.
    stop: crate::stop::Stop,
    /// The primary that answered last: asked first.
    preferred: usize,
    /// The next refresh follows a NOTIFY (the primary said it changed).
    notified: bool,
    /// For each primary, the failures logged since it last answered well (a bit per
    /// [`PullResult`]): each is logged once.
    logged: Vec<u16>,
    /// The zone kept on disk (`DataDirectory`).
    kept: Option<KeptZone>,
    /// A standby (`LeaderElection`) follows the elected leader only, not `Primaries`;
    /// the address changes with each election.
    leader: Option<Arc<arc_swap::ArcSwapOption<std::net::SocketAddr>>>,
    /// Whether the zone kept on disk is served at start; a standby that was the leader
    /// until now serves what it published instead, and takes the new leader's zone
    /// whole (its disk is rewritten then).
    serve_kept: bool,
    /// The kept zone was opened (at start, or handed over by the role before).
    kept_opened: bool,
    /// The serial of the last version handed to the kept zone (`None`: not known to
    /// match what is served).
    kept_serial: Option<u32>,
}

impl Secondary {
    /// The secondary of `config` (whose `primaries` are not empty).
    pub(crate) fn new(
        config: &Config,
        live: Arc<arc_swap::ArcSwap<Config>>,
        shared: SharedSnapshot,
        status: Arc<Status>,
        documents: Receiver<DocumentRequest>,
        notices: Receiver<()>,
        control: Receiver<ControlEvent>,
    ) -> Secondary {
        Secondary {
            control,
            live,
            publisher: Publisher::new(shared, status.clone()),
            status,
            documents,
            notices,
            zone: HeldZone::new(config.clone()),
            ids: QueryIds::new(),
            next_check: Instant::now(),
            expires_at: None,
            last_refresh: None,
            stop: crate::stop::Stop::new(),
            preferred: 0,
            notified: false,
            logged: vec![0; config.primaries.len().max(1)],
            kept: None,
            leader: None,
            serve_kept: true,
            kept_opened: false,
            kept_serial: None,
        }
    }

    /// Opens `DataDirectory`'s kept zone now (and serves it, as at start), rather than
    /// when it runs.
    pub(crate) fn open_kept(&mut self) {
        if !self.kept_opened {
            self.kept_opened = true;
            self.load_kept();
        }
    }

    /// The kept zone, for the role that follows (a leader keeps its own publishes), with
    /// the serial it holds when that is the one served.
    pub(crate) fn take_kept(&mut self) -> Option<(KeptZone, Option<u32>)> {
        let kept = self.kept.take()?;
        Some((kept, self.kept_serial.take()))
    }

    /// Keeps the zone through `kept` (handed over by the leader this server was): the
    /// next whole transfer rewrites it.
    pub(crate) fn adopt_kept(&mut self, kept: KeptZone) {
        self.kept = Some(kept);
        self.kept_opened = true;
        self.kept_serial = None;
    }

    /// A standby: follows the elected leader at `leader` instead of `Primaries`. When it
    /// led until now (`after_leading`), its own zone stays served until the leader's
    /// arrives whole.
    pub(crate) fn follow_leader(
        &mut self,
        leader: Arc<arc_swap::ArcSwapOption<std::net::SocketAddr>>,
        after_leading: bool,
    ) {
        self.leader = Some(leader);
        self.serve_kept = !after_leading;
    }

    /// The primaries asked, in order.
    fn primaries(&self) -> Vec<std::net::SocketAddr> {
        match &self.leader {
            Some(leader) => leader.load().iter().map(|a| **a).collect(),
            None => self.live.load().primaries.clone(),
        }
    }

    /// From the first sign that a primary holds a newer zone (a NOTIFY, a failed
    /// refresh) until a refresh succeeds.
    fn behind(&self, since: bool) {
        let now = unix_ms().max(1);
        let at = &self.status.secondary.behind_since_ms;
        if since {
            let _ = at.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        } else {
            Status::set(at, 0);
        }
    }

    /// Sends every new serial to `notifier` (tiers: NOTIFY the next secondaries).
    pub(crate) fn set_notifier(&mut self, notifier: Notifier) {
        self.publisher.set_notifier(notifier);
    }

    /// Runs until `stop` is given.
    pub(crate) fn run(&mut self, stop: &crate::stop::Stop) {
        self.stop = stop.clone();
        self.open_kept();
        let stopped = stop.receiver();
        loop {
            let wait = self
                .next_check
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1));
            crossbeam_channel::select! {
                recv(self.notices) -> notice => {
                    if notice.is_err() {
                        // A closed channel is always ready: stop watching it.
                        self.notices = crossbeam_channel::never();
                    } else {
                        self.behind(true);
                        self.notified = true;
                        let soonest = self.last_refresh.map_or_else(Instant::now, |at| at + NOTIFY_GAP);
                        self.next_check = self.next_check.min(soonest.max(Instant::now()));
                    }
                }
                recv(self.control) -> event => match event {
                    Ok(ControlEvent::Refresh) => self.next_check = Instant::now(),
                    Ok(ControlEvent::Reload) => self.reload(),
                    Err(_) => self.control = crossbeam_channel::never(),
                },
                recv(self.documents) -> request => match request {
                    Ok(request) => self.on_document(request),
                    Err(_) => self.documents = crossbeam_channel::never(),
                },
                recv(stopped) -> _ => return,
                default(wait) => {}
            }
            if Instant::now() >= self.next_check {
                self.last_refresh = Some(Instant::now());
                self.refresh();
                self.notified = false;
            }
            self.check_expiry();
        }
    }

    /// `DataDirectory`: serves the zone kept there at once while it is younger than its
    /// SOA expire (counted from the last time a primary answered); an older one is held
    /// but not served. Either way the next refresh asks IXFR from the kept serial.
    fn load_kept(&mut self) {
        let Some(dir) = self.live.load().data_directory.clone() else {
            return;
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(
                "DataDirectory {}: {e}; the zone is kept in memory only",
                dir.display()
            );
            return;
        }
        if !self.serve_kept {
            self.kept = KeptZone::open_for_writes(&dir, self.zone.apex(), self.status.clone());
            return;
        }
        let started = Instant::now();
        let mut load = self.zone.full_load(None);
        let (kept, loaded) = KeptZone::open(&dir, self.zone.apex(), &mut load, self.status.clone());
        self.kept = kept;
        let Some(loaded) = loaded else { return };
        let soa = loaded.soa;
        let expire = soa.data.soa_number(3).unwrap_or(0);
        let snapshot = match self.zone.install(soa, load) {
            Ok(snapshot) => snapshot,
            Err(_) => return,
        };
        let age = (unix_ms() / 1000).saturating_sub(loaded.checked_at);
        let fresh = age < u64::from(expire);
        let serial = snapshot.serial;
        self.kept_serial = Some(serial);
        Status::set(&self.status.secondary.kept_serial, u64::from(serial));
        let mut snapshot = snapshot;
        snapshot.history = kept_history(loaded.history, serial, self.live.load().ixfr_journal);
        let current = self.publisher.current();
        self.publisher.serve(&current, snapshot);
        if fresh {
            self.expires_at = Some(Instant::now() + Duration::from_secs(u64::from(expire) - age));
        } else {
            self.status
                .secondary
                .zone_expired
                .store(true, Ordering::Relaxed);
            self.publisher.set_ready(false);
        }
        tracing::info!(
            serial,
            age_seconds = age,
            served = fresh,
            load_ms = started.elapsed().as_millis() as u64,
            "zone loaded from DataDirectory"
        );
        self.next_check = Instant::now();
    }

    /// SIGHUP: the live keys of a new config.json apply (transfer keys, ACL, NOTIFY
    /// targets, answer settings such as `MaxAnswers`: the zone held is compiled again
    /// under them); the rest needs a restart.
    fn reload(&mut self) {
        let Some(plan) = reread_config(&self.live.load()) else {
            return;
        };
        self.live.store(Arc::new(plan.live.clone()));
        if let Some(mut snapshot) = self.zone.reconfigure(plan.live) {
            snapshot.ready = !self.status.secondary.zone_expired.load(Ordering::Relaxed);
            self.publisher.replace(snapshot);
        }
        tracing::info!("SIGHUP: configuration reloaded");
    }

    fn on_document(&self, request: DocumentRequest) {
        let snap = self.publisher.current();
        let doc = match request.kind {
            DocumentKind::Axfr => self.zone.document(&snap),
            // The HTTP API answers 501 itself: there is no model to enumerate.
            DocumentKind::Enumerate => Arc::default(),
        };
        let _ = request.reply.send((snap.serial, doc));
    }

    /// Asks the primaries in turn, the last one that answered first, until one does.
    fn refresh(&mut self) {
        let count = self.primaries().len();
        for step in 0..count {
            if self.stop.is_stopped() {
                return;
            }
            let index = (self.preferred + step) % count;
            if self.refresh_from(index) {
                self.preferred = index;
                return;
            }
        }
        self.behind(true);
        let retry = match self.zone.timers() {
            Some([_, retry, _]) => Duration::from_secs(retry.into()),
            None => FIRST_LOAD_RETRY,
        };
        self.next_check = Instant::now() + retry.max(MIN_INTERVAL);
    }

    /// One primary: whether it answered with something usable.
    fn refresh_from(&mut self, index: usize) -> bool {
        let config = self.live.load_full();
        let Some(&primary) = self.primaries().get(index) else {
            return false;
        };
        let key = config.transfer_key();
        let mut full = false;
        // At most twice: an IXFR that does not apply is followed by an AXFR.
        for _ in 0..2 {
            let ask = Ask {
                primary,
                apex: self.zone.apex(),
                ours: self.zone.soa_rdata(),
                full,
                soa_first: !self.notified,
                key,
                max_bytes: config.transfer_max_bytes,
                stop: &self.stop,
            };
            let kind = usize::from(ask.ours.is_some() && !full);
            let load = self
                .zone
                .full_load(self.kept.as_ref().map(KeptZone::whole_writer));
            let outcome =
                pull(&ask, &mut self.ids, load).and_then(|pulled| self.take(pulled, kind));
            match outcome {
                // Counted by `take`, before the zone is served.
                Ok(Some(_)) => {
                    self.succeeded(index);
                    return true;
                }
                // A newer serial but no changes sent: the whole zone.
                Ok(None) if !full => full = true,
                Ok(None) => return false,
                Err(e) => {
                    self.count(kind, e.result);
                    self.failed(index, primary, &e);
                    // Changes that do not fit the zone held: the whole zone, once.
                    if full || e.result != PullResult::IxfrMismatch {
                        return false;
                    }
                    full = true;
                }
            }
        }
        false
    }

    /// Applies what a primary sent to a request of `kind` and counts it, before serving
    /// it (so whoever sees the new zone sees it counted); the result, or `None` when the
    /// whole zone must be asked for.
    fn take(
        &mut self,
        pulled: Pulled<FullLoad>,
        kind: usize,
    ) -> Result<Option<PullResult>, PullError> {
        let Pulled::Transfer(received, took) = pulled else {
            self.count(kind, PullResult::Current);
            return Ok(Some(PullResult::Current));
        };
        let current = self.publisher.current();
        let now = unix_ms() / 1000;
        let (snapshot, result) = match received {
            Received::Current { soa } => {
                let theirs = soa.data.serial().unwrap_or_default();
                let newer = self
                    .zone
                    .serial()
                    .is_some_and(|ours| serial_newer(theirs, ours));
                if !newer {
                    if let Some(kept) = &self.kept {
                        kept.checked(now);
                    }
                    self.count(kind, PullResult::Current);
                }
                return Ok((!newer).then_some(PullResult::Current));
            }
            Received::Full { soa, mut zone } => {
                let writer = zone.take_keep();
                let snapshot = self.zone.install(soa.clone(), zone)?;
                if let Some(kept) = &self.kept {
                    kept.commit_whole(writer, soa, now);
                    self.kept_serial = Some(snapshot.serial);
                }
                (snapshot, PullResult::Full)
            }
            Received::Incremental { soa, diffs } => {
                // Kept in one transaction, once the whole IXFR applied.
                let steps: Vec<_> = match &self.kept {
                    Some(_) => diffs
                        .iter()
                        .map(|d| (d.removed.clone(), d.added.clone()))
                        .collect(),
                    None => Vec::new(),
                };
                let kept_soa = soa.clone();
                let snapshot = self.zone.apply_incremental(&current, soa, diffs)?;
                if let Some(kept) = &self.kept {
                    let delta = snapshot.history.latest().cloned();
                    let keep = self.live.load().ixfr_journal;
                    kept.changes(kept_soa, steps, delta, keep, now);
                    self.kept_serial = self.kept_serial.map(|_| snapshot.serial);
                }
                (snapshot, PullResult::Incremental)
            }
        };
        self.count(kind, result);
        let applied = usize::from(result == PullResult::Incremental);
        Status::add(&self.status.secondary.pull_bytes[applied], took.bytes);
        self.publish(&current, snapshot, result, took);
        Ok(Some(result))
    }

    fn publish(&self, current: &Snapshot, snapshot: Snapshot, result: PullResult, took: Took) {
        let snapshot = self.publisher.serve(current, snapshot);
        let serial = snapshot.serial;
        if result == PullResult::Full {
            let (names, bytes) = snapshot.size();
            tracing::info!(
                serial,
                names,
                snapshot_bytes = bytes,
                transfer_ms = took.time.as_millis() as u64,
                messages = took.messages,
                transfer_bytes = took.bytes,
                "zone transferred whole"
            );
        } else {
            tracing::debug!(
                serial,
                transfer_ms = took.time.as_millis() as u64,
                transfer_bytes = took.bytes,
                over_udp = took.over_udp,
                "zone changes applied"
            );
        }
    }

    fn succeeded(&mut self, index: usize) {
        let now = Instant::now();
        self.behind(false);
        Status::set(&self.status.source.last_refresh_ok_ms, unix_ms());
        Status::add(&self.status.source.refreshes_ok, 1);
        if let Some([refresh, _, expire]) = self.zone.timers() {
            self.next_check = now + Duration::from_secs(refresh.into()).max(MIN_INTERVAL);
            self.expires_at = Some(now + Duration::from_secs(expire.into()).max(MIN_INTERVAL));
        }
        if let Some(logged) = self.logged.get_mut(index) {
            if std::mem::take(logged) != 0 {
                tracing::info!(
                    primary = index,
                    "zone transfers from this primary work again"
                );
            }
        }
        if self
            .status
            .secondary
            .zone_expired
            .swap(false, Ordering::Relaxed)
        {
            self.publisher.set_ready(true);
            tracing::warn!("a primary answered again: the zone is served again");
        }
    }

    fn failed(&mut self, index: usize, primary: std::net::SocketAddr, e: &PullError) {
        Status::add(&self.status.source.refreshes_failed, 1);
        if let Some(logged) = self.logged.get_mut(index) {
            let bit = 1u16 << e.result as u16;
            if *logged & bit == 0 {
                *logged |= bit;
                tracing::warn!(
                    %primary,
                    result = e.result.label(),
                    "zone transfer failed, keeping the zone held: {}",
                    e.detail
                );
            }
        }
    }

    fn count(&self, kind: usize, result: PullResult) {
        Status::add(&self.status.secondary.pulls[kind][result as usize], 1);
    }

    /// Past the SOA expire with no primary answering: stop serving the zone.
    fn check_expiry(&mut self) {
        let Some(at) = self.expires_at else { return };
        if Instant::now() < at || self.status.secondary.zone_expired.load(Ordering::Relaxed) {
            return;
        }
        self.status
            .secondary
            .zone_expired
            .store(true, Ordering::Relaxed);
        self.publisher.set_ready(false);
        tracing::error!("no primary answered within the SOA expire time: the zone is not served");
    }
}

/// The IXFR history kept on disk, when its deltas chain to `serial` (the zone kept);
/// otherwise none (a secondary below then takes the whole zone once).
fn kept_history(
    deltas: Vec<crate::snapshot::history::ServedDelta>,
    serial: u32,
    keep: usize,
) -> crate::snapshot::history::History {
    let mut history = crate::snapshot::history::History::default();
    for delta in deltas {
        history = history.with(delta, keep);
    }
    if history.latest().is_some_and(|d| d.to == serial) {
        history
    } else {
        crate::snapshot::history::History::default()
    }
}
