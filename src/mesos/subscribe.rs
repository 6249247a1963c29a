//! One subscription to the operator API: open it on the first master that accepts it,
//! read its records on a thread of its own, and pass the model's changes on until the
//! stream ends, falls silent, or the feed asks for a new one.

use super::events::{DocumentSender, SourceEvent, StateRest};
use super::gather::Gather;
use super::operator::{Event, Record};
use super::recordio::RecordReader;
use super::source::{MasterClient, SubscribeError};
use crate::cluster::TaskFrameworks;
use crate::config::Config;
use crate::status::{Status, event_index, unix_ms};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender, select};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The first record (the whole cluster) may be this large; it is decoded as it streams
/// in, never held whole.
pub(crate) const MAX_SUBSCRIBED_BYTES: u64 = 4 << 30;
/// Any later record (one event) may be this large.
pub(crate) const MAX_EVENT_BYTES: u64 = 16 << 20;
/// The heartbeat interval assumed until `SUBSCRIBED` names one (Mesos sends 15 s).
pub(crate) const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Silence for this many heartbeat intervals ends a subscription.
const SILENT_HEARTBEATS: u32 = 3;
/// Changes passed on in one message at most.
const BATCH: usize = 1024;

/// How a subscription ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// No master has the operator API.
    NoApi(String),
    /// None could be subscribed to (the reason of the last).
    Unavailable(String),
    /// A stream was open and ended (EOF, bad framing, silence), after being subscribed
    /// for this long (zero: it never got as far as `SUBSCRIBED`).
    Closed(String, Duration),
    /// The feed was given a command (handed back), or its control thread is gone.
    Interrupted(Option<super::feed::FeedCommand>),
}

/// What the feed and the reading thread share about one subscription.
struct Shared {
    /// Set by the feed: the reader stops at its next record.
    cancel: AtomicBool,
    /// When bytes last arrived (Unix ms).
    last_read: AtomicU64,
    /// The heartbeat interval in ms (from `SUBSCRIBED`).
    heartbeat_ms: AtomicU64,
    /// When `SUBSCRIBED` was passed on (Unix ms); 0 before.
    subscribed_at: AtomicU64,
}

/// Where the feed hands what it reads, and what it reads besides Mesos.
pub(crate) struct Outlet {
    /// To the control thread.
    pub events: Sender<SourceEvent>,
    /// Counted as read.
    pub status: Arc<Status>,
    /// The configuration as reloaded (the reader's `CoalesceMilliseconds`).
    pub live: Arc<ArcSwap<Config>>,
}

/// Subscribes to the first of `masters` that accepts; a thread of its own reads the
/// stream and hands what it reads straight to `outlet`'s events, while this one watches
/// for the end, for silence and for a command on `stop` (handed back).
pub(crate) fn run(
    client: &MasterClient,
    masters: &[String],
    heartbeat: &mut Duration,
    stop: &Receiver<super::feed::FeedCommand>,
    outlet: &Outlet,
    whole: bool,
) -> Ended {
    let Outlet {
        events,
        status,
        live,
    } = outlet;
    let per_read = *heartbeat * SILENT_HEARTBEATS;
    let mut no_api = None;
    let mut last = "no masters to subscribe to".to_string();
    let mut opened = None;
    for master in masters {
        match client.subscribe(master, per_read) {
            Ok(subscription) => {
                opened = Some(subscription);
                break;
            }
            Err(SubscribeError::NoApi(url, code)) => {
                no_api = Some(format!("{url}: HTTP status {code}"));
            }
            Err(SubscribeError::Failed(e)) => last = e,
        }
    }
    let Some(subscription) = opened else {
        return match no_api {
            Some(why) => Ended::NoApi(why),
            None => Ended::Unavailable(last),
        };
    };
    let shared = Arc::new(Shared {
        cancel: AtomicBool::new(false),
        last_read: AtomicU64::new(unix_ms()),
        heartbeat_ms: AtomicU64::new(heartbeat.as_millis() as u64),
        subscribed_at: AtomicU64::new(0),
    });
    let (end_tx, end_rx) = crossbeam_channel::bounded(1);
    {
        let (shared, status, events) = (shared.clone(), status.clone(), events.clone());
        let live = live.clone();
        let leader = subscription.master.clone();
        let body = Watched {
            inner: subscription.body,
            shared: shared.clone(),
            status: status.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("state-stream".into())
            .spawn(move || {
                super::lower_priority();
                // A record nobody foresaw that makes the reader panic ends this stream
                // like a bad record, not the feed (a reader gone without a word reads as
                // the control thread gone).
                let why = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    read_records(body, &leader, &events, &shared, &status, whole, &live)
                }))
                .unwrap_or_else(|_| {
                    Some("the stream reader panicked (see the message above)".into())
                });
                let _ = end_tx.send(why);
            });
        if let Err(e) = spawned {
            return Ended::Unavailable(format!("starting the stream reader: {e}"));
        }
    }
    let ended = watch(&end_rx, stop, &shared);
    // A reader still blocked in a read ends at its next read or read timeout.
    shared.cancel.store(true, Ordering::Relaxed);
    status.source.subscribed.store(false, Ordering::Relaxed);
    *heartbeat = Duration::from_millis(shared.heartbeat_ms.load(Ordering::Relaxed));
    ended
}

/// Waits for the stream to end, to fall silent, or for a command.
fn watch(
    end: &Receiver<Option<String>>,
    stop: &Receiver<super::feed::FeedCommand>,
    shared: &Shared,
) -> Ended {
    let closed = |why: String| {
        let since = shared.subscribed_at.load(Ordering::Relaxed);
        let up_for = if since == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(unix_ms().saturating_sub(since))
        };
        Ended::Closed(why, up_for)
    };
    loop {
        select! {
            recv(end) -> why => return match why {
                Ok(Some(why)) => closed(why),
                // The control thread is gone.
                Ok(None) | Err(_) => Ended::Interrupted(None),
            },
            recv(stop) -> command => return Ended::Interrupted(command.ok()),
            default(Duration::from_millis(100)) => {
                let limit = Duration::from_millis(shared.heartbeat_ms.load(Ordering::Relaxed))
                    * SILENT_HEARTBEATS;
                let last = shared.last_read.load(Ordering::Relaxed);
                let silent = Duration::from_millis(unix_ms().saturating_sub(last));
                if silent >= limit {
                    return closed(format!(
                        "no data for {:.1} s ({} heartbeat intervals)",
                        silent.as_secs_f64(),
                        SILENT_HEARTBEATS
                    ));
                }
            }
        }
    }
}

/// The interval `SUBSCRIBED` names, within sane bounds.
fn heartbeat_interval(seconds: f64) -> Duration {
    if seconds.is_finite() && seconds > 0.0 {
        Duration::from_secs_f64(seconds.clamp(0.1, 3600.0))
    } else {
        DEFAULT_HEARTBEAT
    }
}

/// The stream reader's loop: frames records, decodes them, counts them by type, and
/// passes the model's changes on, several at a time when several are already read.
/// `SUBSCRIBED` goes on task by task as it is decoded, unless `whole`. Returns why the
/// stream ended (`None`: the control thread is gone).
fn read_records(
    body: impl Read,
    leader: &str,
    events: &Sender<SourceEvent>,
    shared: &Shared,
    status: &Status,
    whole: bool,
    live: &ArcSwap<Config>,
) -> Option<String> {
    let mut reader = RecordReader::new(body);
    let mut first = true;
    let mut batch = Vec::new();
    let mut gather = Gather::default();
    // `SUBSCRIBED` compared with the model as it is decoded, open until its end is sent.
    let mut sink = DocumentSender::new(events);
    let why = loop {
        if shared.cancel.load(Ordering::Relaxed) {
            return Some("cancelled".into());
        }
        let limit = if first {
            MAX_SUBSCRIBED_BYTES
        } else {
            MAX_EVENT_BYTES
        };
        let length = match reader.next_length(limit) {
            Ok(Some(length)) => length,
            Ok(None) => break "the master closed the stream".to_string(),
            Err(e) => break format!("bad stream: {e}"),
        };
        let started = std::time::Instant::now();
        let event = if first && whole {
            Event::from_reader(reader.record_stream(length), None).map_err(|e| e.to_string())
        } else if first {
            sink.begin();
            let mut to_control = |list, tasks| {
                // A reader given up on hands nothing more over (and its end is not sent).
                if !shared.cancel.load(Ordering::Relaxed) {
                    sink.tasks(list, tasks);
                }
            };
            Event::from_reader(reader.record_stream(length), Some(&mut to_control))
                .map_err(|e| e.to_string())
        } else {
            reader
                .read_record(length)
                .map_err(|e| e.to_string())
                .and_then(|bytes| Event::from_slice(&bytes).map_err(|e| e.to_string()))
        };
        let event = match event {
            Ok(event) if !shared.cancel.load(Ordering::Relaxed) => event,
            Ok(_) => break "cancelled".to_string(),
            Err(e) => break format!("bad record: {e}"),
        };
        Status::add(&status.source.events[event_index(&event.kind)], 1);
        Status::set(&status.source.last_refresh_ok_ms, unix_ms());
        let record = event.into_record(leader);
        if first && !matches!(record, Record::Subscribed(..)) {
            break "the stream did not start with SUBSCRIBED".to_string();
        }
        first = false;
        match record {
            Record::Subscribed(state, interval) => {
                let heartbeat = heartbeat_interval(interval);
                shared
                    .heartbeat_ms
                    .store(heartbeat.as_millis() as u64, Ordering::Relaxed);
                Status::set(&status.source.heartbeat_ms, heartbeat.as_millis() as u64);
                Status::add(&status.source.subscriptions, 1);
                status.source.subscribed.store(true, Ordering::Relaxed);
                shared.subscribed_at.store(unix_ms(), Ordering::Relaxed);
                tracing::info!(
                    heartbeat_s = heartbeat.as_secs_f64(),
                    bytes = length,
                    decode_ms = started.elapsed().as_millis() as u64,
                    "subscribed to the operator API"
                );
                let event = if sink.is_open() {
                    sink.end(StateRest {
                        without_tasks: state,
                        frameworks: TaskFrameworks::Named,
                    })
                } else {
                    SourceEvent::State(state)
                };
                events.send(event).ok()?;
            }
            Record::Change(change) => batch.push(change),
            Record::Heartbeat | Record::Other => {}
        }
        // Changes go on once nothing more is waiting to be decoded.
        if !batch.is_empty() && (!reader.has_buffered() || batch.len() >= BATCH) {
            events
                .send(SourceEvent::Changes(std::mem::take(&mut batch)))
                .ok()?;
            if !reader.has_buffered() {
                let window = Duration::from_millis(live.load().coalesce_ms);
                if let Some(wake) = gather.wait_until(Instant::now(), window) {
                    std::thread::sleep(wake.saturating_duration_since(Instant::now()));
                }
            }
        }
    };
    sink.abandon();
    if !batch.is_empty() {
        events.send(SourceEvent::Changes(batch)).ok()?;
    }
    Some(why)
}

/// The stream, noting when it last delivered bytes and how many.
struct Watched<R> {
    inner: R,
    shared: Arc<Shared>,
    status: Arc<Status>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.shared.last_read.store(unix_ms(), Ordering::Relaxed);
            Status::add(&self.status.source.stream_bytes_read, n as u64);
        }
        Ok(n)
    }
}
