//! What the process knows about itself, shared by the threads that write it and the
//! HTTP API that reports it (`/metrics`, `/ready`), one part per concern: the listeners'
//! counters, following Mesos, the zone served, secondary mode, and the elected role.

mod clock;
mod listeners;
mod role;
mod secondary;
mod source;
mod zone;

pub(crate) use clock::{unix_ms, unix_seconds};
pub(crate) use role::RoleKind;
pub(crate) use source::{EVENT_TYPES, event_index};

use std::sync::atomic::{AtomicU64, Ordering};

/// Everything the process reports about itself.
#[derive(Debug, Default)]
pub struct Status {
    /// The DNS listeners' and the forwarder's counters.
    pub listeners: listeners::Listeners,
    /// Following Mesos: refreshes, the stream, ZooKeeper.
    pub source: source::SourceStatus,
    /// The zone served: publishes and the IXFR history.
    pub zone: zone::ZoneStatus,
    /// Secondary mode: transfers and NOTIFYs.
    pub secondary: secondary::SecondaryStatus,
    /// `LeaderElection`: leader, standby or unknown.
    pub role: role::RoleStatus,
}

impl Status {
    /// A counter's value.
    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    /// Sets a gauge.
    pub fn set(a: &AtomicU64, v: u64) {
        a.store(v, Ordering::Relaxed);
    }

    /// Adds to a counter.
    pub fn add(a: &AtomicU64, v: u64) {
        a.fetch_add(v, Ordering::Relaxed);
    }
}
