//! The polling source: reads the whole state every `RefreshSeconds` on a thread of its
//! own and hands each new document to the control thread as a [`SourceEvent`]. Failed
//! reads keep the last records and are retried with capped, jittered backoff.

use super::events::SourceEvent;
use super::source::StateSource;
use crate::status::Status;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the control thread can ask of the poller.
pub enum PollCommand {
    /// Read the state now (SIGUSR1, a new master list).
    Now,
    /// New connection settings (SIGHUP), and the refresh period.
    Replace(Box<StateSource>, Duration),
}

pub struct Poller {
    source: StateSource,
    period: Duration,
    events: Sender<SourceEvent>,
    commands: Receiver<PollCommand>,
    status: Arc<Status>,
    /// Digest of the last document sent: the same bytes again are not decoded twice
    /// into the model.
    last_digest: Option<u64>,
    /// When a failed read was last logged: repeats are counted, not logged, for a minute.
    last_failure_log: Option<Instant>,
}

impl Poller {
    pub fn new(
        source: StateSource,
        period: Duration,
        events: Sender<SourceEvent>,
        commands: Receiver<PollCommand>,
        status: Arc<Status>,
    ) -> Poller {
        Poller {
            source,
            period,
            events,
            commands,
            status,
            last_digest: None,
            last_failure_log: None,
        }
    }

    /// Polls until the control thread goes away.
    pub fn run(mut self) {
        super::lower_priority();
        let mut backoff = Duration::from_secs(1);
        loop {
            let wait = match self.poll_guarded() {
                Ok(()) => {
                    Status::add(&self.status.refreshes_ok, 1);
                    self.last_failure_log = None;
                    backoff = Duration::from_secs(1);
                    jitter(self.period)
                }
                Err(e) => {
                    Status::add(&self.status.refreshes_failed, 1);
                    let quiet = self
                        .last_failure_log
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                    if quiet {
                        Status::add(&self.status.warnings_suppressed, 1);
                    } else {
                        tracing::warn!("refresh failed, keeping the previous records: {e}");
                        self.last_failure_log = Some(Instant::now());
                    }
                    let wait = jitter(backoff.min(self.period));
                    backoff = (backoff * 2).min(self.period);
                    wait
                }
            };
            // Wait for the period, or for a command (several in a row count as one).
            match self.commands.recv_timeout(wait) {
                Ok(first) => {
                    self.command(first);
                    while let Ok(more) = self.commands.try_recv() {
                        self.command(more);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn command(&mut self, command: PollCommand) {
        match command {
            PollCommand::Now => {}
            PollCommand::Replace(source, period) => {
                self.source = *source;
                self.period = period;
                // New settings may read a different document: send the next one whole.
                self.last_digest = None;
            }
        }
    }

    /// One read; a panic in it (a document nobody foresaw) fails that read like any
    /// other error, and the process lives.
    fn poll_guarded(&mut self) -> Result<(), String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.poll()))
            .unwrap_or_else(|_| Err("refresh panicked (see the message above)".into()))
    }

    fn poll(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let fetched = self.source.fetch();
        let fetch_ms = started.elapsed().as_millis() as u64;
        Status::set(&self.status.last_fetch_ms, fetch_ms);
        Status::add(&self.status.fetch_ms_total, fetch_ms);
        let fetched = fetched.map_err(|e| e.to_string())?;
        Status::add(&self.status.state_bytes_read, fetched.bytes);
        let event = if self.last_digest == Some(fetched.digest) {
            tracing::debug!("state document unchanged");
            SourceEvent::Unchanged
        } else {
            self.last_digest = Some(fetched.digest);
            SourceEvent::State(fetched.state.into_cluster_state())
        };
        self.events
            .send(event)
            .map_err(|_| "the control thread is gone".to_string())
    }
}

/// `d` ± 10%, so that many servers do not ask the masters in step.
pub fn jitter(d: Duration) -> Duration {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.9 + f64::from(nanos % 1000) / 5000.0;
    d.mul_f64(factor)
}
