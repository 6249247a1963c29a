//! The zone served: publishes and the IXFR history.

use prometheus_client::metrics::histogram::Histogram;
use std::sync::atomic::AtomicU64;

/// Seconds from the first change of a publish to the swap of its snapshot.
#[derive(Debug, Clone)]
pub struct PublishHistogram(pub Histogram);

impl Default for PublishHistogram {
    fn default() -> Self {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        PublishHistogram(Histogram::new(buckets))
    }
}

/// Publishes of the zone and what the IXFR history holds.
#[derive(Debug, Default)]
pub struct ZoneStatus {
    /// Unix time in milliseconds when the current snapshot was published; 0 before.
    pub published_ms: AtomicU64,
    /// Snapshots published.
    pub publishes: AtomicU64,
    /// How long publishes took.
    pub publish_seconds: PublishHistogram,
    /// Deltas held by the IXFR history.
    pub journal_entries: AtomicU64,
    /// Records held by the IXFR history.
    pub journal_records: AtomicU64,
}
