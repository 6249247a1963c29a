//! What `/ready` and the `mesos_dns_ready` gauge both judge: whether the records served
//! are current enough to rely on.

use super::HttpContext;
use crate::status::{Status, unix_ms};

/// Why `/ready` says no: no state loaded yet, or the last good refresh is too old.
pub(crate) fn not_ready_reason(ctx: &HttpContext, snapshot_ready: bool) -> Option<String> {
    let config = ctx.config.load();
    if ctx.follows_primaries() {
        // A secondary is ready while it serves a zone a primary gave it, until the SOA
        // expire time passes without a primary answering.
        return if ctx
            .status
            .secondary
            .zone_expired
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            Some("the zone expired: no primary answered within the SOA expire time".into())
        } else if !snapshot_ready {
            Some("no zone transferred yet".into())
        } else {
            None
        };
    }
    if !snapshot_ready {
        return Some("no state loaded yet".into());
    }
    if ctx
        .status
        .source
        .leader_missing
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Some("no leading master known (ZkDetectionTimeout)".into());
    }
    let last = Status::get(&ctx.status.source.last_refresh_ok_ms);
    let age = unix_ms().saturating_sub(last);
    // A subscription's records come at least once per heartbeat interval.
    let period_ms = if ctx
        .status
        .source
        .subscribed
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        Status::get(&ctx.status.source.heartbeat_ms).max(1000)
    } else {
        config.refresh_seconds * 1000
    };
    let stale_after_ms = period_ms * config.ready_stale_refreshes;
    (age > stale_after_ms).then(|| format!("last successful refresh {} s ago", age / 1000))
}
