//! What the process knows about itself, shared by the control thread (which writes it)
//! and the HTTP API (which reports it): refresh outcomes and the listeners' counters.

use crate::server::counters::WorkerCounters;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Status {
    /// Counters of every DNS listener (UDP workers and the TCP thread), set at start-up.
    pub udp: OnceLock<Vec<Arc<WorkerCounters>>>,
    pub tcp: OnceLock<Arc<WorkerCounters>>,
    /// Counters of the forwarder, when forwarding is on.
    pub forward: OnceLock<Arc<crate::forward::ForwardCounters>>,
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
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
