//! Per-worker counters: plain relaxed atomics, each worker's on its own cache line so
//! workers never share a line; readers sum them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
#[repr(align(64))]
pub struct WorkerCounters {
    pub received: AtomicU64,
    pub answered: AtomicU64,
    pub dropped: AtomicU64,
    pub refused: AtomicU64,
    pub truncated: AtomicU64,
}

impl WorkerCounters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}
