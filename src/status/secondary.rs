//! Secondary mode: transfers asked of the primaries, NOTIFYs, the zone's expiry.

use crate::counters::PullResult;
use std::sync::atomic::{AtomicBool, AtomicU64};

/// How following the primaries goes.
#[derive(Debug, Default)]
pub struct SecondaryStatus {
    /// Transfers asked of the primaries, by kind (AXFR, IXFR) and [`PullResult`].
    pub pulls: [[AtomicU64; PullResult::ALL.len()]; 2],
    /// The zone is past its SOA expire (answers SERVFAIL).
    pub zone_expired: AtomicBool,
    /// NOTIFYs taken from a listed primary.
    pub notifies_taken: AtomicU64,
    /// NOTIFYs refused (another source, another zone, a bad signature).
    pub notifies_refused: AtomicU64,
    /// Bytes of transfers applied, by kind (AXFR, IXFR).
    pub pull_bytes: [AtomicU64; 2],
    /// Since when (Unix ms) a primary is thought to hold a newer zone than the one
    /// served (a NOTIFY came, or a refresh failed); 0: current as of the last refresh.
    pub behind_since_ms: AtomicU64,
    /// The serial of the zone kept on disk (`DataDirectory`), once committed; 0: none.
    pub kept_serial: AtomicU64,
}
