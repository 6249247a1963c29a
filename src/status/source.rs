//! Following Mesos: refreshes, the operator API stream, ZooKeeper.

use std::sync::atomic::{AtomicBool, AtomicU64};

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

/// How following the masters goes.
#[derive(Debug, Default)]
pub struct SourceStatus {
    /// Refreshes (polls, subscriptions) that succeeded.
    pub refreshes_ok: AtomicU64,
    /// Refreshes that failed.
    pub refreshes_failed: AtomicU64,
    /// Unix time in milliseconds of the last successful refresh; 0 before the first.
    pub last_refresh_ok_ms: AtomicU64,
    /// Duration of the last state fetch (and decode), in milliseconds.
    pub last_fetch_ms: AtomicU64,
    /// Sum of all state fetch durations, in milliseconds (with `refreshes_*` for a mean).
    pub fetch_ms_total: AtomicU64,
    /// Warnings not logged because the same warning was logged recently.
    pub warnings_suppressed: AtomicU64,
    /// ZooKeeper has named no leader for longer than `ZkDetectionTimeout`.
    pub leader_missing: AtomicBool,
    /// ZooKeeper sessions established (more than one: expiries, restarts or outages).
    pub zk_sessions: AtomicU64,
    /// Bytes of state documents read from the masters.
    pub state_bytes_read: AtomicU64,
    /// Bytes of the event stream read from the masters.
    pub stream_bytes_read: AtomicU64,
    /// Operator API events received, by [`EVENT_TYPES`] index.
    pub events: [AtomicU64; EVENT_TYPES.len()],
    /// Subscriptions that reached `SUBSCRIBED`.
    pub subscriptions: AtomicU64,
    /// A subscription to the operator API is up.
    pub subscribed: AtomicBool,
    /// Its heartbeat interval, in milliseconds (0 when never subscribed).
    pub heartbeat_ms: AtomicU64,
}
