//! Polling: one read of the whole state, handed on as a [`SourceEvent`] unless it is the
//! same document as last time.

use super::events::{DocumentSender, SourceEvent};
use super::source::{Document, FetchError, StateSource};
use crate::status::{Status, unix_ms};
use crossbeam_channel::Sender;
use std::time::Instant;

/// What polling keeps between reads.
pub(crate) struct Poller {
    /// Digest of the last document sent: the same bytes again are not turned into a
    /// model twice.
    last_digest: Option<u64>,
    /// The next document is sent whole rather than task by task as it is decoded.
    whole_next: bool,
}

impl Poller {
    pub(crate) fn new() -> Poller {
        Poller {
            last_digest: None,
            whole_next: false,
        }
    }

    /// The next document is sent whole, even if it is the same (new settings, or the
    /// model was last fed by a subscription).
    pub(crate) fn forget(&mut self) {
        self.last_digest = None;
    }

    /// The next document is sent whole (a document compared task by task as it was
    /// decoded did not hold to what the comparison assumed).
    pub(crate) fn read_whole_next(&mut self) {
        self.forget();
        self.whole_next = true;
    }

    /// One read; a panic in it (a document nobody foresaw) fails that read like any
    /// other error.
    pub(crate) fn poll(
        &mut self,
        source: &StateSource,
        events: &Sender<SourceEvent>,
        status: &Status,
    ) -> Result<(), PollError> {
        let mut sink = DocumentSender::new(events);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.poll_unguarded(source, events, &mut sink, status)
        }))
        .unwrap_or(Err(PollError::Panicked));
        if polled.is_err() {
            // Tasks of a document that did not end may have gone ahead.
            sink.abandon();
        }
        polled
    }

    fn poll_unguarded(
        &mut self,
        source: &StateSource,
        events: &Sender<SourceEvent>,
        sink: &mut DocumentSender,
        status: &Status,
    ) -> Result<(), PollError> {
        let started = Instant::now();
        let whole = std::mem::take(&mut self.whole_next);
        let fetched = source.fetch((!whole).then_some(&mut *sink));
        let fetch_ms = started.elapsed().as_millis() as u64;
        Status::set(&status.source.last_fetch_ms, fetch_ms);
        Status::add(&status.source.fetch_ms_total, fetch_ms);
        let fetched = fetched?;
        Status::add(&status.source.state_bytes_read, fetched.bytes);
        let event = if self.last_digest == Some(fetched.digest) {
            tracing::debug!("state document unchanged");
            sink.abandon();
            SourceEvent::Unchanged
        } else {
            self.last_digest = Some(fetched.digest);
            match fetched.document {
                Document::Whole(state) => SourceEvent::State(state.into_cluster_state()),
                Document::Streamed(rest) => sink.end(rest),
            }
        };
        events.send(event).map_err(|_| PollError::ControlGone)?;
        Status::set(&status.source.last_refresh_ok_ms, unix_ms());
        Ok(())
    }
}

/// Why one poll brought no state.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("refresh panicked (see the message above)")]
    Panicked,
    #[error("the control thread is gone")]
    ControlGone,
}

impl Default for Poller {
    fn default() -> Self {
        Poller::new()
    }
}
