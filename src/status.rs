//! What the process knows about itself, shared by the control thread (which writes it)
//! and the HTTP API (which reports it): refresh outcomes and the listeners' counters.

use crate::counters::WorkerCounters;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Operator API event types counted in `mesos_dns_events_total`; the last is every
/// type this server does not know.
pub(crate) const EVENT_TYPES: [&str; 10] = [
    "SUBSCRIBED",
    "HEARTBEAT",
    "TASK_ADDED",
    "TASK_UPDATED",
    "FRAMEWORK_ADDED",
    "FRAMEWORK_UPDATED",
    "FRAMEWORK_REMOVED",
    "AGENT_ADDED",
    "AGENT_REMOVED",
    "UNKNOWN",
];

/// The index of an event type in [`EVENT_TYPES`].
pub(crate) fn event_index(kind: &str) -> usize {
    EVENT_TYPES
        .iter()
        .position(|t| *t == kind)
        .unwrap_or(EVENT_TYPES.len() - 1)
}

/// Seconds from the first change of a publish to the swap of its snapshot.
#[derive(Debug, Clone)]
pub struct PublishHistogram(pub prometheus_client::metrics::histogram::Histogram);

impl Default for PublishHistogram {
    fn default() -> Self {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        PublishHistogram(prometheus_client::metrics::histogram::Histogram::new(
            buckets,
        ))
    }
}

#[derive(Debug, Default)]
pub struct Status {
    /// Counters of every DNS listener (UDP workers and the TCP thread), set at start-up.
    pub udp: OnceLock<Vec<Arc<WorkerCounters>>>,
    pub tcp: OnceLock<Arc<WorkerCounters>>,
    /// Counters of the forwarder, when forwarding is on.
    pub forward: OnceLock<Arc<crate::counters::ForwardCounters>>,
    pub refreshes_ok: AtomicU64,
    pub refreshes_failed: AtomicU64,
    /// Unix time in milliseconds of the last successful refresh; 0 before the first.
    pub last_refresh_ok_ms: AtomicU64,
    /// Duration of the last state fetch (and decode), in milliseconds.
    pub last_fetch_ms: AtomicU64,
    /// Sum of all state fetch durations, in milliseconds (with `refreshes_*` for a mean).
    pub fetch_ms_total: AtomicU64,
    /// Unix time in milliseconds when the current snapshot was published; 0 before.
    pub published_ms: AtomicU64,
    /// Warnings not logged because the same warning was logged recently.
    pub warnings_suppressed: AtomicU64,
    /// ZooKeeper has named no leader for longer than `ZkDetectionTimeout`.
    pub leader_missing: std::sync::atomic::AtomicBool,
    /// ZooKeeper sessions established (more than one: expiries, restarts or outages).
    pub zk_sessions: AtomicU64,
    /// Bytes of state documents and of the event stream read from the masters.
    pub state_bytes_read: AtomicU64,
    pub stream_bytes_read: AtomicU64,
    /// Operator API events received, by [`EVENT_TYPES`] index.
    pub events: [AtomicU64; EVENT_TYPES.len()],
    /// Subscriptions that reached `SUBSCRIBED`.
    pub subscriptions: AtomicU64,
    /// A subscription to the operator API is up.
    pub subscribed: std::sync::atomic::AtomicBool,
    /// Its heartbeat interval, in milliseconds (0 when never subscribed).
    pub heartbeat_ms: AtomicU64,
    pub publishes: AtomicU64,
    pub publish_seconds: PublishHistogram,
    /// Deltas and records held by the IXFR history.
    pub journal_entries: AtomicU64,
    pub journal_records: AtomicU64,
    /// Secondary mode: transfers asked of the primaries, by kind (AXFR, IXFR) and
    /// [`PullResult`](crate::counters::PullResult).
    pub pulls: [[AtomicU64; crate::counters::PullResult::ALL.len()]; 2],
    /// Secondary mode: the zone is past its SOA expire (answers SERVFAIL).
    pub zone_expired: std::sync::atomic::AtomicBool,
    /// Secondary mode: NOTIFYs taken from a listed primary, and refused from others.
    pub notifies_taken: AtomicU64,
    pub notifies_refused: AtomicU64,
    /// Secondary mode: bytes of transfers applied, by kind (AXFR, IXFR).
    pub pull_bytes: [AtomicU64; 2],
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the epoch (SOA serials, TSIG's time signed).
pub(crate) fn unix_seconds() -> u64 {
    unix_ms() / 1000
}

impl Status {
    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    pub fn set(a: &AtomicU64, v: u64) {
        a.store(v, Ordering::Relaxed);
    }

    pub fn add(a: &AtomicU64, v: u64) {
        a.fetch_add(v, Ordering::Relaxed);
    }

    /// Every listener's counters.
    pub fn all_counters(&self) -> Vec<(&'static str, &WorkerCounters)> {
        let mut out: Vec<(&'static str, &WorkerCounters)> = Vec::new();
        for c in self.udp.get().into_iter().flatten() {
            out.push(("udp", c));
        }
        if let Some(c) = self.tcp.get() {
            out.push(("tcp", c));
        }
        out
    }
}
