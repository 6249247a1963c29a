//! The refresh loop: load the state, generate records, compile a snapshot, publish it.
//! Runs on its own thread; a failed refresh keeps the previous snapshot.

use crate::config::{Config, is_wildcard};
use crate::mesos::detect::Masters;
use crate::mesos::source::StateSource;
use crate::records::{Inputs, RecordSet, generate};
use crate::server::SharedSnapshot;
use crate::snapshot::compile;
use crate::status::{Status, unix_ms};
use crossbeam_channel::Receiver;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The addresses published under `SOAMname` (spec §4.7): every non-loopback interface
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

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// What can interrupt the wait between refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlEvent {
    /// Refresh now (the master list changed, or SIGUSR1).
    Refresh,
    /// Re-read config.json and apply what can change live (SIGHUP).
    Reload,
}

/// What records are generated from, besides the configuration: the state document's
/// digest, the master list and the listener's addresses.
type BuiltFrom = (u64, Vec<String>, Vec<IpAddr>);

/// State kept between refreshes.
pub struct Control {
    config: Config,
    masters: Arc<Masters>,
    /// Refresh and reload requests.
    wake: Receiver<ControlEvent>,
    /// The configuration in force, shared with the HTTP API (`/v1/config`).
    live: Arc<arc_swap::ArcSwap<Config>>,
    source: StateSource,
    shared: SharedSnapshot,
    status: Arc<Status>,
    previous: Option<Arc<RecordSet>>,
    /// What `previous` was generated from (set with it, cleared with it): the same inputs
    /// again need no generation.
    built_from: Option<BuiltFrom>,
    serial: u32,
    /// When a failed refresh was last logged: repeats are counted, not logged, for a minute.
    last_failure_log: Option<Instant>,
}

impl Control {
    pub fn new(
        config: Config,
        masters: Arc<Masters>,
        wake: Receiver<ControlEvent>,
        live: Arc<arc_swap::ArcSwap<Config>>,
        shared: SharedSnapshot,
        status: Arc<Status>,
    ) -> Result<Control, String> {
        Ok(Control {
            source: StateSource::from_config(&config, masters.clone())?,
            masters,
            wake,
            live,
            config,
            shared,
            status,
            previous: None,
            built_from: None,
            serial: 0,
            last_failure_log: None,
        })
    }

    /// One refresh. The SOA serial moves only when the published data changes.
    pub fn refresh(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let fetched = self.source.fetch();
        let fetch_ms = started.elapsed().as_millis() as u64;
        Status::set(&self.status.last_fetch_ms, fetch_ms);
        Status::add(&self.status.fetch_ms_total, fetch_ms);
        let fetched = fetched.map_err(|e| e.to_string())?;
        let masters = self.masters.view().list;
        let listener = listener_addresses(self.config.listener);
        let inputs: BuiltFrom = (fetched.digest, masters.clone(), listener.clone());
        if self.built_from.as_ref() == Some(&inputs) && self.shared.load().ready {
            tracing::debug!("state document unchanged; snapshot kept");
            Status::set(&self.status.last_refresh_ok_ms, unix_ms());
            return Ok(());
        }
        let state = fetched.state;
        let (records, report) = generate(
            &self.config,
            &state,
            Inputs {
                masters: &masters,
                listener_ips: &listener,
            },
        );
        drop(state);
        if report.skipped > 0 {
            tracing::warn!(skipped = report.skipped, examples = ?report.examples, "state items skipped");
        }
        if let Some(previous) = &self.previous {
            if previous.same_records(&records) && self.shared.load().ready {
                tracing::debug!("records unchanged; snapshot kept");
                self.built_from = Some(inputs);
                Status::set(&self.status.last_refresh_ok_ms, unix_ms());
                return Ok(());
            }
        }
        self.serial = unix_now().max(self.serial.wrapping_add(1));
        let records = Arc::new(records);
        let snapshot = compile(records.clone(), &self.config, self.serial);
        let (names, bytes) = snapshot.size();
        self.shared.store(Arc::new(snapshot));
        self.previous = Some(records);
        self.built_from = Some(inputs);
        let now = unix_ms();
        Status::set(&self.status.published_ms, now);
        Status::set(&self.status.last_refresh_ok_ms, now);
        tracing::info!(
            serial = self.serial,
            names,
            snapshot_bytes = bytes,
            ms = started.elapsed().as_millis() as u64,
            "published new snapshot"
        );
        Ok(())
    }

    /// One refresh; a panic in it (a state nobody foresaw) fails that refresh like any
    /// other error: the previous snapshot stays and the process lives (the reference
    /// exits). The refresh changes `self` only once it has succeeded.
    fn refresh_guarded(&mut self) -> Result<(), String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.refresh()))
            .unwrap_or_else(|_| Err("refresh panicked (see the message above)".into()))
    }

    /// Refreshes every `RefreshSeconds` (with jitter), at once when the master list
    /// changes, and after a failure again with capped exponential backoff.
    pub fn run(mut self) {
        lower_priority();
        let mut backoff = Duration::from_secs(1);
        let mut no_leader_since: Option<Instant> = None;
        loop {
            let period = Duration::from_secs(self.config.refresh_seconds);
            let wait = match self.refresh_guarded() {
                Ok(()) => {
                    Status::add(&self.status.refreshes_ok, 1);
                    self.last_failure_log = None;
                    backoff = Duration::from_secs(1);
                    jitter(period)
                }
                Err(e) => {
                    Status::add(&self.status.refreshes_failed, 1);
                    let quiet = self
                        .last_failure_log
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                    if quiet {
                        Status::add(&self.status.warnings_suppressed, 1);
                    } else {
                        tracing::warn!("refresh failed, keeping the previous records: {e}");
                        self.last_failure_log = Some(Instant::now());
                    }
                    let wait = jitter(backoff.min(period));
                    backoff = (backoff * 2).min(period);
                    wait
                }
            };
            self.watch_leader(&mut no_leader_since);
            // Wait for the period, or for a request (several in a row count as one).
            if let Ok(first) = self.wake.recv_timeout(wait) {
                let mut reload = first == ControlEvent::Reload;
                while let Ok(more) = self.wake.try_recv() {
                    reload |= more == ControlEvent::Reload;
                }
                if reload {
                    self.reload();
                }
            }
        }
    }

    /// SIGHUP: re-reads config.json. A bad file is refused with one log line and the old
    /// configuration stays; what only a restart can change is logged and kept as it was.
    fn reload(&mut self) {
        let path = self.config.source_path.display().to_string();
        let new = match Config::load(&path, &crate::config::Environment::system()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("SIGHUP: new configuration refused, keeping the old one: {e}");
                return;
            }
        };
        let old = &self.config;
        let restart_only = [
            ("Port", old.port != new.port),
            ("Listener", old.listener != new.listener),
            ("HttpPort", old.http_port != new.http_port),
            ("HTTPListener", old.http_listener != new.http_listener),
            ("DnsOn", old.dns_on != new.dns_on),
            ("HttpOn", old.http_on != new.http_on),
            ("UDPWorkers", old.udp_workers != new.udp_workers),
            ("Zk", old.zk != new.zk),
            ("Masters", old.masters != new.masters),
            ("StateFile", old.state_file != new.state_file),
            ("ExternalOn", old.external_on != new.external_on),
        ];
        let pending: Vec<&str> = restart_only
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(k, _)| *k)
            .collect();
        if !pending.is_empty() {
            tracing::warn!(
                "SIGHUP: {} changed; these need a restart and keep their old values",
                pending.join(", ")
            );
        }
        // Live: everything that shapes records and answers.
        let mut applied = self.config.clone();
        applied.refresh_seconds = new.refresh_seconds;
        applied.ttl = new.ttl;
        applied.srv_record_default_weight = new.srv_record_default_weight;
        applied.soa_refresh = new.soa_refresh;
        applied.soa_retry = new.soa_retry;
        applied.soa_expire = new.soa_expire;
        applied.soa_minttl = new.soa_minttl;
        applied.soa_mname = new.soa_mname;
        applied.soa_rname = new.soa_rname;
        applied.ip_sources = new.ip_sources;
        applied.domain = new.domain;
        applied.enforce_rfc952 = new.enforce_rfc952;
        applied.recurse_on = new.recurse_on;
        applied.set_truncate_bit = new.set_truncate_bit;
        applied.edns_max_udp_size = new.edns_max_udp_size;
        applied.enumeration_on = new.enumeration_on;
        applied.ready_stale_refreshes = new.ready_stale_refreshes;
        applied.zk_detection_timeout = new.zk_detection_timeout;
        // The forwarder follows the live configuration.
        applied.resolvers = new.resolvers;
        applied.zone_resolvers = new.zone_resolvers;
        applied.timeout_seconds = new.timeout_seconds;
        applied.forward_cache_size = new.forward_cache_size;
        // How masters are asked: always rebuilt, so that renewed certificates and keys
        // are read again; if the new files do not load, the old client stays.
        let mut with_source = applied.clone();
        with_source.state_timeout_seconds = new.state_timeout_seconds;
        with_source.mesos_https_on = new.mesos_https_on;
        with_source.ca_cert_file = new.ca_cert_file;
        with_source.cert_file = new.cert_file;
        with_source.key_file = new.key_file;
        with_source.mesos_credentials = new.mesos_credentials;
        with_source.iam_config_file = new.iam_config_file;
        with_source.iam = new.iam;
        with_source.mesos_authentication = new.mesos_authentication;
        match StateSource::from_config(&with_source, self.masters.clone()) {
            Ok(source) => {
                self.source = source;
                applied = with_source;
            }
            Err(e) => tracing::error!(
                "SIGHUP: TLS or authentication settings for the masters refused, keeping the old ones: {e}"
            ),
        }
        self.config = applied.clone();
        self.live.store(Arc::new(applied));
        // The refresh that follows (at once) rebuilds the snapshot with the new settings.
        self.previous = None;
        self.built_from = None;
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
                .leader_missing
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let started = *since.get_or_insert_with(Instant::now);
        let limit = Duration::from_secs(self.config.zk_detection_timeout as u64);
        if started.elapsed() >= limit
            && !self
                .status
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

/// Refresh work (decode, generate, compile: seconds of CPU at 100k tasks) yields to the
/// query path: this thread runs at the lowest priority, so a worker waking for a query
/// preempts it at once instead of waiting out its time slice. Only this thread: the
/// workers were started before, with the normal priority.
fn lower_priority() {
    let this_thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(this_thread), REFRESH_NICE) {
        tracing::debug!("could not lower the refresh thread's priority: {e}");
    }
}

/// Nice value of the refresh thread (19 is the lowest priority; it still gets a share of
/// the CPU, so refreshes continue even with the workers saturated).
const REFRESH_NICE: i32 = 19;

/// `d` ± 10%, so that many servers do not ask the masters in step.
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.9 + f64::from(nanos % 1000) / 5000.0;
    d.mul_f64(factor)
}
