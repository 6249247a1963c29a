//! The wall clock, in the units the protocols use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the epoch (SOA serials, TSIG's time signed).
pub(crate) fn unix_seconds() -> u64 {
    unix_ms() / 1000
}
