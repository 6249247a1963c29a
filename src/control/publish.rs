//! Serving a new snapshot: what a server following Mesos and a secondary both do with
//! one. The workers answer from it at once, a new serial goes out by NOTIFY, and the
//! status reports the publish.

use crate::notify::Notifier;
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::status::{Status, unix_ms};
use std::sync::Arc;

/// Swaps the snapshot the workers answer from.
pub(crate) struct Publisher {
    shared: SharedSnapshot,
    status: Arc<Status>,
    /// Where new serials go for NOTIFY.
    notifier: Option<Notifier>,
    /// Where new serials go to be kept on disk (a primary's `DataDirectory`).
    keeper: Option<crossbeam_channel::Sender<Arc<Snapshot>>>,
}

impl Publisher {
    /// A publisher into `shared`, reporting in `status`.
    pub(crate) fn new(shared: SharedSnapshot, status: Arc<Status>) -> Publisher {
        Publisher {
            shared,
            status,
            notifier: None,
            keeper: None,
        }
    }

    /// Sends every new serial to `keeper` too (kept on disk; never waits).
    pub(crate) fn set_keeper(&mut self, keeper: crossbeam_channel::Sender<Arc<Snapshot>>) {
        self.keeper = Some(keeper);
    }

    /// Sends every new serial to `notifier` (NOTIFY).
    pub(crate) fn set_notifier(&mut self, notifier: Notifier) {
        self.notifier = Some(notifier);
    }

    /// The snapshot served now.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.shared.load_full()
    }

    /// Serves `next` in place of `current` (the snapshot it was made from); NOTIFY
    /// when its serial is new.
    pub(crate) fn serve(&self, current: &Snapshot, next: Snapshot) -> Arc<Snapshot> {
        let new_serial = next.serial != current.serial || !current.ready;
        Status::set(&self.status.zone.journal_entries, next.history.len() as u64);
        Status::set(
            &self.status.zone.journal_records,
            next.history.records() as u64,
        );
        let next = Arc::new(next);
        self.shared.store(next.clone());
        if let (true, Some(notifier)) = (new_serial, &self.notifier) {
            notifier.notify(next.clone());
        }
        if let (true, Some(keeper)) = (new_serial, &self.keeper) {
            let _ = keeper.send(next.clone());
        }
        Status::set(&self.status.zone.published_ms, unix_ms());
        Status::add(&self.status.zone.publishes, 1);
        next
    }

    /// Serves `next` with the serial served now (new settings, readiness): no NOTIFY,
    /// not counted as a publish.
    pub(crate) fn replace(&self, next: Snapshot) {
        self.shared.store(Arc::new(next));
    }

    /// Serves the same records as now, answered (`ready`) or with SERVFAIL.
    pub(crate) fn set_ready(&self, ready: bool) {
        let current = self.current();
        if current.ready != ready {
            self.replace(current.with_ready(ready));
        }
    }
}
