//! NOTIFY (RFC 1996), both ways. Sending (here): tells each of `NotifySecondaries` that
//! a zone has a new serial, so it asks for the changes at once instead of at its next
//! SOA refresh; runs on its own thread, and the control thread hands it each new
//! snapshot and never waits. Taking ([`inbox`]): a secondary's listeners hand every
//! NOTIFY to its inbox, below both the listeners and the secondary.
//!
//! Each (secondary, zone) is notified until it answers (any response with the ID sent
//! counts, as RFC 1996 §4.7 asks only that the notify be acknowledged), up to
//! [`TRIES`] times, 1 s apart and doubling; a newer serial replaces an unacknowledged
//! older one. IDs come from the CSPRNG.

pub(crate) mod inbox;

use crate::config::Config;
use crate::dns::header::{Flags, HEADER_LEN, Header, Opcode, Section};
use crate::dns::ids::QueryIds;
use crate::dns::tsig::{Signer, TsigKey};
use crate::dns::wire::{CLASS_IN, TYPE_SOA};
use crate::dns::writer::MessageWriter;
use crate::snapshot::Snapshot;
use crate::status::unix_seconds;
use crate::stop::Stop;
use crossbeam_channel::{Receiver, Sender};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends to one (secondary, zone) at most this many times.
const TRIES: u32 = 5;
/// The wait before the first retry (it doubles).
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// A NOTIFY request's flags: the opcode, and AA (RFC 1996 §3.7).
const FLAGS: Flags = Flags::AA.with_opcode(Opcode::NOTIFY);

/// Where the control thread sends each new snapshot.
#[derive(Clone)]
pub(crate) struct Notifier {
    tx: Sender<Arc<Snapshot>>,
    also: Targets,
    live: Arc<arc_swap::ArcSwap<Config>>,
}

/// Secondaries notified besides `NotifySecondaries` (an elected leader's standbys).
pub(crate) type Targets = Arc<arc_swap::ArcSwap<Vec<SocketAddr>>>;

impl Notifier {
    /// Where to put the secondaries notified besides `NotifySecondaries`.
    pub(crate) fn also_notified(&self) -> Targets {
        self.also.clone()
    }

    /// Queues NOTIFYs for `snap`'s serial; never blocks. With nobody to notify (a
    /// secondary on an agent, as a rule) the thread is not woken.
    pub(crate) fn notify(&self, snap: Arc<Snapshot>) {
        if self.live.load().notify_secondaries.is_empty() && self.also.load().is_empty() {
            return;
        }
        let _ = self.tx.send(snap);
    }
}

/// One NOTIFY waiting for its answer.
struct Pending {
    message: Vec<u8>,
    id: u16,
    tries: u32,
    next_at: Instant,
}

/// Starts the notifier thread.
pub(crate) fn spawn(
    live: Arc<arc_swap::ArcSwap<Config>>,
    stop: Stop,
) -> io::Result<(Notifier, std::thread::JoinHandle<()>)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    // From the listener's own address when it has one: secondaries (and standbys) take
    // NOTIFYs only from the addresses they know their primaries by, which on a host
    // with several addresses need not be the one the system would pick.
    let (from_v4, from_v6) = match live.load().listener {
        IpAddr::V4(ip) if !ip.is_unspecified() => (ip, Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(ip) if !ip.is_unspecified() => (Ipv4Addr::UNSPECIFIED, ip),
        _ => (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED),
    };
    let v4 = UdpSocket::bind((from_v4, 0))?;
    let v6 = UdpSocket::bind((from_v6, 0)).ok();
    for socket in std::iter::once(&v4).chain(&v6) {
        socket.set_nonblocking(true)?;
    }
    let also = Targets::default();
    let targets = also.clone();
    let notifier = Notifier {
        tx,
        also,
        live: live.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || run(&live, &targets, &rx, &v4, v6.as_ref(), &stop))?;
    Ok((notifier, thread))
}

fn run(
    live: &arc_swap::ArcSwap<Config>,
    also: &Targets,
    rx: &Receiver<Arc<Snapshot>>,
    v4: &UdpSocket,
    v6: Option<&UdpSocket>,
    stop: &Stop,
) {
    let mut ids = QueryIds::new();
    let mut pending: HashMap<(SocketAddr, Vec<u8>), Pending> = HashMap::new();
    let stopped = stop.receiver();
    while !stop.is_stopped() {
        let next = if pending.is_empty() {
            // Nothing to resend or to see acknowledged: sleep until a new serial or the
            // stop (an idle server, a secondary on every agent, pays for each wakeup).
            crossbeam_channel::select! {
                recv(rx) -> m => m.map_err(|_| crossbeam_channel::RecvTimeoutError::Disconnected),
                recv(stopped) -> _ => return,
            }
        } else {
            let now = Instant::now();
            let wait = pending
                .values()
                .map(|p| p.next_at.saturating_duration_since(now))
                .min()
                .unwrap_or_default()
                .min(Duration::from_millis(200));
            rx.recv_timeout(wait)
        };
        match next {
            Ok(mut snap) => {
                // Only the latest serial matters.
                while let Ok(later) = rx.try_recv() {
                    snap = later;
                }
                let config = live.load();
                let also = also.load();
                // The same messages for every target: made once per serial.
                let messages = messages(&snap);
                for target in config.notify_secondaries.iter().chain(also.iter()) {
                    for (apex, message) in &messages {
                        pending.insert(
                            (*target, apex.clone()),
                            Pending {
                                message: message.clone(),
                                id: 0,
                                tries: 0,
                                next_at: Instant::now(),
                            },
                        );
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        for socket in std::iter::once(v4).chain(v6) {
            read_answers(socket, &mut pending);
        }
        let config = live.load();
        send_due(&mut pending, &mut ids, config.transfer_key(), v4, v6);
    }
}

/// One NOTIFY per zone of the snapshot: (apex, message without ID).
fn messages(snap: &Snapshot) -> Vec<(Vec<u8>, Vec<u8>)> {
    let Some(soa) = snap.zone.soa.as_ref().map(|s| s.wire_record(0)) else {
        return Vec::new();
    };
    std::iter::once(&snap.zone.apex)
        .chain(&snap.zone.others)
        .map(|apex| {
            let mut question = apex.clone();
            question.extend_from_slice(&TYPE_SOA.to_be_bytes());
            question.extend_from_slice(&CLASS_IN.to_be_bytes());
            let size = HEADER_LEN + question.len() + soa.len();
            let mut m = vec![0u8; size];
            if let Some(mut w) = MessageWriter::new(&mut m, size, 0, FLAGS) {
                w.put(Section::Question, 1, &question);
                // The SOA record's owner is a pointer to the question: this zone's apex.
                w.put(Section::Answer, 1, &soa);
                w.finish();
            }
            (apex.clone(), m)
        })
        .collect()
}

/// Takes the answers that arrived: each acknowledges the NOTIFY with its ID.
fn read_answers(socket: &UdpSocket, pending: &mut HashMap<(SocketAddr, Vec<u8>), Pending>) {
    let mut buf = [0u8; 512];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let Some(Header { id, flags, .. }) = Header::read(&buf[..n]) else {
            continue;
        };
        if !flags.is_response() {
            continue;
        }
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        pending.retain(|(target, _), p| !(*target == from && p.id == id && p.tries > 0));
    }
}

/// Sends what is due, with a fresh ID each time; gives up after [`TRIES`].
fn send_due(
    pending: &mut HashMap<(SocketAddr, Vec<u8>), Pending>,
    ids: &mut QueryIds,
    key: Option<&TsigKey>,
    v4: &UdpSocket,
    v6: Option<&UdpSocket>,
) {
    let now = Instant::now();
    pending.retain(|(target, _), p| {
        if p.next_at > now {
            return true;
        }
        if p.tries >= TRIES {
            tracing::warn!(secondary = %target, "NOTIFY not acknowledged after {TRIES} tries");
            return false;
        }
        let Some(id) = ids.draw() else {
            return true;
        };
        p.id = id;
        let mut message = p.message.clone();
        message[0..2].copy_from_slice(&id.to_be_bytes());
        // Signed with TransferTSIG's key when there is one (RFC 8945).
        if let Some(key) = key {
            Signer::for_request(key.clone(), id).sign(&mut message, 0, unix_seconds(), 0);
        }
        let socket = if target.is_ipv4() { Some(v4) } else { v6 };
        if let Some(socket) = socket {
            let _ = socket.send_to(&message, target);
        }
        p.next_at = now + FIRST_RETRY * 2u32.pow(p.tries);
        p.tries += 1;
        true
    });
}
