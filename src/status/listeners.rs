//! The DNS listeners' and the forwarder's counters, set once at start-up.

use crate::counters::{ForwardCounters, WorkerCounters};
use std::sync::{Arc, OnceLock};

/// Counters of every DNS listener (UDP workers and the TCP thread) and the forwarder.
#[derive(Debug, Default)]
pub struct Listeners {
    /// One per UDP worker.
    pub udp: OnceLock<Vec<Arc<WorkerCounters>>>,
    /// The TCP thread's.
    pub tcp: OnceLock<Arc<WorkerCounters>>,
    /// The forwarder's, when forwarding is on.
    pub forward: OnceLock<Arc<ForwardCounters>>,
}

impl Listeners {
    /// Every listener's counters, named by transport.
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
