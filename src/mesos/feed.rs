//! The state feed: the one thread that follows Mesos, by subscription to the operator
//! API or by polling `/master/state` (`StateAPI`), and hands the control thread what it
//! learns as [`SourceEvent`]s. `auto` subscribes and polls only while the masters have no
//! operator API, trying to subscribe again every few minutes.

use super::backoff::{Backoff, jitter};
use super::events::SourceEvent;
use super::poll::Poller;
use super::source::StateSource;
use super::subscribe::{self, DEFAULT_HEARTBEAT, Ended, Outlet};
use crate::config::{Config, StateApi};
use crate::status::Status;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the control thread can ask of the feed.
pub(crate) enum FeedCommand {
    /// Read the state now: poll, or subscribe again (SIGUSR1, a new master list).
    Now,
    /// Read the state again now, whole (one compared task by task as it was decoded
    /// could not be taken): poll, or subscribe again.
    ReadWhole,
    /// New connection settings (SIGHUP), and the refresh period.
    Replace(Box<StateSource>, Duration),
}

impl std::fmt::Debug for FeedCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedCommand::Now => f.write_str("Now"),
            FeedCommand::ReadWhole => f.write_str("ReadWhole"),
            FeedCommand::Replace(_, period) => write!(f, "Replace(.., {period:?})"),
        }
    }
}

/// A subscription up this long ended for a reason of its own: its successor starts
/// with no backoff.
const STABLE: Duration = Duration::from_secs(30);

/// In `auto`, how long polling lasts before subscribing is tried again.
const RETRY_SUBSCRIBE: Duration = Duration::from_secs(300);

/// How the feed is following Mesos right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Subscribe,
    /// Polling; in `auto`, until this moment.
    Poll(Option<Instant>),
}

pub(crate) struct Feed {
    api: StateApi,
    source: StateSource,
    period: Duration,
    poller: Poller,
    commands: Receiver<FeedCommand>,
    outlet: Outlet,
    heartbeat: Duration,
    /// The next subscription's `SUBSCRIBED` is decoded whole before it is handed on.
    subscribe_whole: bool,
}

impl Feed {
    /// A feed of `source` (a state file is always polled).
    pub(crate) fn new(
        api: StateApi,
        source: StateSource,
        period: Duration,
        events: Sender<SourceEvent>,
        commands: Receiver<FeedCommand>,
        status: Arc<Status>,
        live: Arc<arc_swap::ArcSwap<Config>>,
    ) -> Feed {
        Feed {
            api,
            source,
            period,
            poller: Poller::new(),
            commands,
            outlet: Outlet {
                events,
                status,
                live,
            },
            heartbeat: DEFAULT_HEARTBEAT,
            subscribe_whole: false,
        }
    }

    /// Follows Mesos until the control thread goes away.
    pub(crate) fn run(mut self) {
        super::lower_priority();
        let mut mode = match (self.api, self.source.masters()) {
            (StateApi::Poll, _) | (_, None) => Mode::Poll(None),
            _ => Mode::Subscribe,
        };
        let mut backoff = Backoff::new(Duration::from_secs(1), self.period);
        loop {
            let wait = match mode {
                Mode::Subscribe => {
                    match self.subscribe() {
                        Ended::Interrupted(None) => return,
                        Ended::Interrupted(Some(command)) => {
                            self.command(command, &mut backoff);
                            continue;
                        }
                        Ended::NoApi(why) if self.api == StateApi::Auto => {
                            tracing::warn!(
                                "{why}; polling /master/state instead, and subscribing again in {} s",
                                RETRY_SUBSCRIBE.as_secs()
                            );
                            mode = Mode::Poll(Some(Instant::now() + RETRY_SUBSCRIBE));
                            backoff.reset();
                            continue;
                        }
                        Ended::Closed(why, up_for) => {
                            // A stream that stayed up a while is subscribed again at once; one
                            // that keeps failing early backs off like a refused connection.
                            if up_for >= STABLE {
                                backoff.reset();
                            }
                            self.failed(&mut backoff, |wait| {
                            format!("operator API stream ended: {why}; subscribing again in {wait:.1} s")
                        })
                        }
                        Ended::NoApi(why) | Ended::Unavailable(why) => {
                            Status::add(&self.outlet.status.source.refreshes_failed, 1);
                            self.failed(&mut backoff, |wait| {
                            format!("cannot subscribe to the operator API: {why}; next try in {wait:.1} s")
                        })
                        }
                    }
                }
                Mode::Poll(until) => {
                    if until.is_some_and(|t| Instant::now() >= t) {
                        mode = Mode::Subscribe;
                        self.poller.forget();
                        continue;
                    }
                    self.poll(&mut backoff)
                }
            };
            match self.commands.recv_timeout(wait) {
                Ok(first) => {
                    self.command(first, &mut backoff);
                    while let Ok(more) = self.commands.try_recv() {
                        self.command(more, &mut backoff);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn subscribe(&mut self) -> Ended {
        let Some((masters, client)) = self.source.masters() else {
            return Ended::NoApi("a state file has no operator API".into());
        };
        // The model is fed by the stream now: a later poll must send its document whole.
        self.poller.forget();
        subscribe::run(
            client,
            &masters,
            &mut self.heartbeat,
            &self.commands,
            &self.outlet,
            std::mem::take(&mut self.subscribe_whole),
        )
    }

    /// One poll; the wait before the next.
    fn poll(&mut self, backoff: &mut Backoff) -> Duration {
        match self
            .poller
            .poll(&self.source, &self.outlet.events, &self.outlet.status)
        {
            Ok(()) => {
                Status::add(&self.outlet.status.source.refreshes_ok, 1);
                backoff.reset();
                jitter(self.period)
            }
            Err(e) => {
                Status::add(&self.outlet.status.source.refreshes_failed, 1);
                self.failed(backoff, |_| {
                    format!("refresh failed, keeping the previous records: {e}")
                })
            }
        }
    }

    /// The wait after a failure; the failure is logged once per step of the backoff
    /// (`message` gets the wait in seconds), and counted as suppressed otherwise.
    fn failed(&self, backoff: &mut Backoff, message: impl FnOnce(f64) -> String) -> Duration {
        let (wait, log) = backoff.fail();
        if log {
            tracing::warn!("{}", message(wait.as_secs_f64()));
        } else {
            Status::add(&self.outlet.status.source.warnings_suppressed, 1);
        }
        wait
    }

    fn command(&mut self, command: FeedCommand, backoff: &mut Backoff) {
        match command {
            FeedCommand::Now => {}
            FeedCommand::ReadWhole => {
                self.poller.read_whole_next();
                self.subscribe_whole = true;
            }
            FeedCommand::Replace(source, period) => {
                self.source = *source;
                self.period = period;
                backoff.set_max(period);
                // New settings may read a different document: send the next one whole.
                self.poller.forget();
            }
        }
    }
}
