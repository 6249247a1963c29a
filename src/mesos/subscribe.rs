//! One subscription to the operator API: open it on the first master that accepts it,
//! read its records on a thread of its own, and pass the model's changes on until the
//! stream ends, falls silent, or the feed asks for a new one.

use super::events::SourceEvent;
use super::operator::{Event, Record};
use super::recordio::RecordReader;
use super::source::{MasterClient, SubscribeError};
use crate::status::{Status, event_index, unix_ms};
use crossbeam_channel::{Receiver, Sender, select};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The first record (the whole cluster) may be this large; it is decoded as it streams
/// in, never held whole.
pub const MAX_SUBSCRIBED_BYTES: u64 = 4 << 30;
/// Any later record (one event) may be this large.
pub const MAX_EVENT_BYTES: u64 = 16 << 20;
/// The heartbeat interval assumed until `SUBSCRIBED` names one (Mesos sends 15 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Silence for this many heartbeat intervals ends a subscription.
const SILENT_HEARTBEATS: u32 = 3;
/// Changes passed on in one message at most.
const BATCH: usize = 1024;

/// How a subscription ended.
#[derive(Debug)]
pub enum Ended {
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

/// What the reading thread reports.
enum StreamMessage {
    Record(Record),
    End(String),
}

/// Subscribes to the first of `masters` that accepts, and passes what it reads on to
/// `events` until the stream ends or a command arrives on `stop` (handed back).
pub fn run(
    client: &MasterClient,
    masters: &[String],
    heartbeat: &mut Duration,
    events: &Sender<SourceEvent>,
    stop: &Receiver<super::feed::FeedCommand>,
    status: &Arc<Status>,
) -> Ended {
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
    let leader = subscription.master.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let last_read = Arc::new(AtomicU64::new(unix_ms()));
    let (tx, rx) = crossbeam_channel::bounded(BATCH);
    {
        let (cancel, last_read, status) = (cancel.clone(), last_read.clone(), status.clone());
        let body = Watched {
            inner: subscription.body,
            last_read,
            status: status.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("state-stream".into())
            .spawn(move || read_records(body, &leader, &tx, &cancel, &status));
        if let Err(e) = spawned {
            return Ended::Unavailable(format!("starting the stream reader: {e}"));
        }
    }
    let ended = follow(&rx, heartbeat, events, stop, status, &last_read);
    // A reader still blocked in a read ends at its next read or read timeout.
    cancel.store(true, Ordering::Relaxed);
    status.subscribed.store(false, Ordering::Relaxed);
    ended
}

/// Passes records on until the stream ends, goes silent, or the feed interrupts.
fn follow(
    rx: &Receiver<StreamMessage>,
    heartbeat: &mut Duration,
    events: &Sender<SourceEvent>,
    stop: &Receiver<super::feed::FeedCommand>,
    status: &Status,
    last_read: &AtomicU64,
) -> Ended {
    let mut subscribed: Option<std::time::Instant> = None;
    let closed = |why: String, since: Option<std::time::Instant>| {
        Ended::Closed(why, since.map_or(Duration::ZERO, |t| t.elapsed()))
    };
    loop {
        let silence_limit = *heartbeat * SILENT_HEARTBEATS;
        select! {
            recv(rx) -> message => {
                let record = match message {
                    Ok(StreamMessage::Record(record)) => record,
                    Ok(StreamMessage::End(why)) => return closed(why, subscribed),
                    Err(_) => return closed("the stream reader stopped".into(), subscribed),
                };
                Status::set(&status.last_refresh_ok_ms, unix_ms());
                let event = match record {
                    Record::Subscribed(state, interval) => {
                        *heartbeat = heartbeat_interval(interval);
                        Status::set(&status.heartbeat_ms, heartbeat.as_millis() as u64);
                        Status::add(&status.subscriptions, 1);
                        status.subscribed.store(true, Ordering::Relaxed);
                        subscribed = Some(std::time::Instant::now());
                        tracing::info!(heartbeat_s = heartbeat.as_secs_f64(), "subscribed to the operator API");
                        SourceEvent::State(state)
                    }
                    Record::Change(first) if subscribed.is_some() => {
                        // Whatever else is already read goes along in the same message.
                        let mut changes = vec![first];
                        while changes.len() < BATCH {
                            match rx.try_recv() {
                                Ok(StreamMessage::Record(Record::Change(c))) => changes.push(c),
                                Ok(StreamMessage::Record(_)) => {}
                                Ok(StreamMessage::End(why)) => {
                                    let _ = events.send(SourceEvent::Changes(changes));
                                    return closed(why, subscribed);
                                }
                                Err(_) => break,
                            }
                        }
                        SourceEvent::Changes(changes)
                    }
                    Record::Change(_) => {
                        return closed("the stream did not start with SUBSCRIBED".into(), None);
                    }
                    Record::Heartbeat | Record::Other => continue,
                };
                if events.send(event).is_err() {
                    return Ended::Interrupted(None);
                }
            }
            recv(stop) -> command => return Ended::Interrupted(command.ok()),
            default(Duration::from_millis(250)) => {
                let silent = Duration::from_millis(unix_ms().saturating_sub(last_read.load(Ordering::Relaxed)));
                if silent >= silence_limit {
                    let why = format!(
                        "no data for {:.1} s ({} heartbeat intervals)",
                        silent.as_secs_f64(),
                        SILENT_HEARTBEATS
                    );
                    return closed(why, subscribed);
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

/// The stream reader's loop: frames records, decodes them, counts them by type.
fn read_records(
    body: impl Read,
    leader: &str,
    tx: &Sender<StreamMessage>,
    cancel: &AtomicBool,
    status: &Status,
) {
    let mut reader = RecordReader::new(body);
    let mut first = true;
    let end = loop {
        if cancel.load(Ordering::Relaxed) {
            return;
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
        let event = if first {
            Event::from_reader(reader.record_stream(length)).map_err(|e| e.to_string())
        } else {
            reader
                .read_record(length)
                .map_err(|e| e.to_string())
                .and_then(|bytes| Event::from_slice(&bytes).map_err(|e| e.to_string()))
        };
        let event = match event {
            Ok(event) => event,
            Err(e) => break format!("bad record: {e}"),
        };
        Status::add(&status.events[event_index(&event.kind)], 1);
        if first && event.kind != "SUBSCRIBED" {
            break format!("the stream started with {:?}, not SUBSCRIBED", event.kind);
        }
        first = false;
        if tx
            .send(StreamMessage::Record(event.into_record(leader)))
            .is_err()
        {
            return;
        }
    };
    let _ = tx.send(StreamMessage::End(end));
}

/// The stream, noting when it last delivered bytes and how many.
struct Watched<R> {
    inner: R,
    last_read: Arc<AtomicU64>,
    status: Arc<Status>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last_read.store(unix_ms(), Ordering::Relaxed);
            Status::add(&self.status.stream_bytes_read, n as u64);
        }
        Ok(n)
    }
}
