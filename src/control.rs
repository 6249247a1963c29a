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

/// State kept between refreshes.
pub struct Control {
    config: Config,
    masters: Arc<Masters>,
    /// Signals to refresh now (the master list changed).
    wake: Receiver<()>,
    source: StateSource,
    shared: SharedSnapshot,
    status: Arc<Status>,
    previous: Option<RecordSet>,
    serial: u32,
    /// When a failed refresh was last logged: repeats are counted, not logged, for a minute.
    last_failure_log: Option<Instant>,
}

impl Control {
    pub fn new(
        config: Config,
        masters: Arc<Masters>,
        wake: Receiver<()>,
        shared: SharedSnapshot,
        status: Arc<Status>,
    ) -> Result<Control, String> {
        Ok(Control {
            source: StateSource::from_config(&config, masters.clone())?,
            masters,
            wake,
            config,
            shared,
            status,
            previous: None,
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
        let state = fetched.map_err(|e| e.to_string())?;
        let masters = self.masters.view().list;
        let listener = listener_addresses(self.config.listener);
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
                tracing::debug!("state unchanged; snapshot kept");
                Status::set(&self.status.last_refresh_ok_ms, unix_ms());
                return Ok(());
            }
        }
        self.serial = unix_now().max(self.serial.wrapping_add(1));
        let snapshot = compile(records.clone(), &self.config, self.serial);
        let (names, bytes) = snapshot.size();
        self.shared.store(Arc::new(snapshot));
        self.previous = Some(records);
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

    /// Refreshes every `RefreshSeconds` (with jitter), at once when the master list
    /// changes, and after a failure again with capped exponential backoff.
    pub fn run(mut self) {
        let period = Duration::from_secs(self.config.refresh_seconds);
        let mut backoff = Duration::from_secs(1);
        let mut no_leader_since: Option<Instant> = None;
        loop {
            let wait = match self.refresh() {
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
            // Wait for the period, or for the master list to change (coalesced).
            if self.wake.recv_timeout(wait).is_ok() {
                while self.wake.try_recv().is_ok() {}
            }
        }
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

/// `d` ± 10%, so that many servers do not ask the masters in step.
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.9 + f64::from(nanos % 1000) / 5000.0;
    d.mul_f64(factor)
}
