//! DNS over TCP (RFC 7766): one mio event loop; 2-byte length framing, several and
//! pipelined queries per connection, an idle timeout and a cap on open connections.

use super::dispatch::{ForwardPath, Handled, NotifyPath, handle_query};
use crate::answer::{Transport, UdpIxfr};
use crate::config::Config;
use crate::counters::{BatchCounts, WorkerCounters};
use crate::dns::wire::TCP_MAX;
use crate::forward::{ClientPath, ForwardHandle, TcpReply};
use crate::notify::inbox::NotifyInbox;
use crate::snapshot::SharedSnapshot;
use crate::stop::Stop;
use crate::transfer::{self, Transfer};
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX);
/// Wakes the loop when the forwarder has replies for TCP clients.
const REPLIES: Token = Token(usize::MAX - 1);
/// Connections idle this long are closed.
const IDLE: Duration = Duration::from_secs(10);
/// Connections beyond this are accepted and closed at once.
const MAX_CONNECTIONS: usize = 1024;
/// How long a stopping server keeps writing replies already owed.
const DRAIN: Duration = Duration::from_millis(500);
/// A client that does not read its replies stops being read once this much is queued.
const MAX_PENDING_OUTPUT: usize = 256 * 1024;

struct Connection {
    /// Tells this connection from a later one in the same slot (forwarded replies).
    generation: u64,
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    last_active: Instant,
    /// The client's address (for `TransferACL`).
    peer: std::net::IpAddr,
    /// A zone transfer being written: queries after it wait until it is out.
    transfer: Option<Transfer>,
}

/// The TCP listener thread.
pub(crate) struct TcpServer {
    poll: Poll,
    listener: TcpListener,
    forward: Option<ForwardHandle>,
    /// Secondary mode: where NOTIFYs go.
    notify: Option<Arc<NotifyInbox>>,
    replies: (Sender<TcpReply>, Receiver<TcpReply>),
    waker: Arc<Waker>,
    generations: u64,
    connections: Vec<Option<Connection>>,
    open: usize,
    reply: Vec<u8>,
    rotation: u32,
    /// Queries handed to the forwarder whose replies have not come back.
    awaiting_forwarder: usize,
    /// The live configuration (`TransferACL`); without it no transfer is allowed.
    config: Option<Arc<arc_swap::ArcSwap<Config>>>,
    counts: BatchCounts,
    pub counters: Arc<WorkerCounters>,
}

impl TcpServer {
    pub(crate) fn new(listener: std::net::TcpListener) -> io::Result<TcpServer> {
        listener.set_nonblocking(true)?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), REPLIES)?);
        Ok(TcpServer {
            poll,
            listener: TcpListener::from_std(listener),
            forward: None,
            notify: None,
            replies: crossbeam_channel::bounded(4096),
            waker,
            generations: 0,
            connections: Vec::new(),
            open: 0,
            reply: vec![0; TCP_MAX],
            rotation: 0,
            awaiting_forwarder: 0,
            config: None,
            counts: BatchCounts::default(),
            counters: Arc::new(WorkerCounters::default()),
        })
    }

    /// Where the forwarder sends replies for this thread's clients.
    pub(crate) fn reply_path(&self) -> (Sender<TcpReply>, Arc<Waker>) {
        (self.replies.0.clone(), self.waker.clone())
    }

    /// The live configuration, for `TransferACL`.
    pub(crate) fn set_config(&mut self, config: Arc<arc_swap::ArcSwap<Config>>) {
        self.config = Some(config);
    }

    /// Hands NOTIFYs to `inbox` (secondary mode).
    pub(crate) fn set_notify_inbox(&mut self, inbox: Arc<NotifyInbox>) {
        self.notify = Some(inbox);
    }

    pub(crate) fn set_forwarder(&mut self, forward: ForwardHandle) {
        self.forward = Some(forward);
    }

    /// Serves until `stop` is given; then accepts no more connections, finishes the
    /// queries already read (forwarded ones included) and writes their replies, for at
    /// most [`DRAIN`].
    pub(crate) fn run(mut self, snapshot: SharedSnapshot, stop: &Stop) -> io::Result<()> {
        // The poll made in `new` carries the forwarder's waker; keep it.
        let spare = Poll::new()?;
        let mut poll = std::mem::replace(&mut self.poll, spare);
        poll.registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let waker = self.waker.clone();
        stop.on_stop(move || {
            let _ = waker.wake();
        });
        let mut events = Events::with_capacity(256);
        let mut last_sweep = Instant::now();
        let mut drain_until: Option<Instant> = None;
        loop {
            if stop.is_stopped() && drain_until.is_none() {
                // Connections already queued are taken; then the listener leaves the
                // port, so that new ones go to a process sharing it (SO_REUSEPORT).
                self.accept(&poll);
                let _ = poll.registry().deregister(&mut self.listener);
                let _ = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Read);
                drain_until = Some(Instant::now() + DRAIN);
            }
            if let Some(until) = drain_until {
                if Instant::now() >= until || self.drained() {
                    return Ok(());
                }
            }
            let wait = if drain_until.is_some() {
                Duration::from_millis(20)
            } else {
                Duration::from_secs(1)
            };
            if let Err(e) = poll.poll(&mut events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    self.accept(&poll);
                } else if event.token() == REPLIES {
                    self.deliver_forwarded(&poll);
                } else {
                    self.serve(&poll, event.token().0, &snapshot);
                }
            }
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                self.close_idle(&poll);
                last_sweep = Instant::now();
            }
        }
    }

    /// Nothing left to send, and nothing the forwarder still owes.
    fn drained(&self) -> bool {
        self.awaiting_forwarder == 0
            && self
                .connections
                .iter()
                .flatten()
                .all(|c| c.output.is_empty() && c.transfer.is_none())
    }

    fn accept(&mut self, poll: &Poll) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!("TCP accept failed: {e}");
                    return;
                }
            };
            if self.open >= MAX_CONNECTIONS {
                drop(stream);
                continue;
            }
            let index = match self.connections.iter().position(Option::is_none) {
                Some(i) => i,
                None => {
                    self.connections.push(None);
                    self.connections.len() - 1
                }
            };
            let interest = Interest::READABLE | Interest::WRITABLE;
            if poll
                .registry()
                .register(&mut stream, Token(index), interest)
                .is_err()
            {
                continue;
            }
            self.generations += 1;
            self.connections[index] = Some(Connection {
                generation: self.generations,
                stream,
                input: Vec::new(),
                output: Vec::new(),
                last_active: Instant::now(),
                peer: peer.ip(),
                transfer: None,
            });
            self.open += 1;
        }
    }

    fn close(&mut self, poll: &Poll, index: usize) {
        if let Some(mut c) = self.connections.get_mut(index).and_then(Option::take) {
            let _ = poll.registry().deregister(&mut c.stream);
            self.open -= 1;
        }
    }

    fn close_idle(&mut self, poll: &Poll) {
        let now = Instant::now();
        let idle: Vec<usize> = self
            .connections
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().filter(|c| now - c.last_active > IDLE).map(|_| i))
            .collect();
        for i in idle {
            self.close(poll, i);
        }
    }

    /// Queues the forwarder's replies on their connections (if still open) and writes.
    fn deliver_forwarded(&mut self, poll: &Poll) {
        while let Ok((index, generation, message)) = self.replies.1.try_recv() {
            self.awaiting_forwarder = self.awaiting_forwarder.saturating_sub(1);
            let Some(Some(conn)) = self.connections.get_mut(index) else {
                continue;
            };
            if conn.generation != generation || message.len() > TCP_MAX {
                continue;
            }
            conn.output
                .extend_from_slice(&(message.len() as u16).to_be_bytes());
            conn.output.extend_from_slice(&message);
            if !write_some(conn) {
                self.close(poll, index);
            }
        }
    }

    /// Reads what is there, answers every complete query, writes what it can; stops
    /// reading while a slow reader has too much output queued.
    fn serve(&mut self, poll: &Poll, index: usize, snapshot: &SharedSnapshot) {
        let Some(Some(conn)) = self.connections.get_mut(index) else {
            return;
        };
        let snap = snapshot.load();
        let mut buf = [0u8; 4096];
        let mut ended = false;
        let mut forwarded = false;
        loop {
            // Answer every complete message in the input (none while a zone transfer is
            // going out: what follows it waits).
            let mut consumed = 0;
            while conn.transfer.is_none() && conn.input.len() - consumed >= 2 {
                let len =
                    u16::from_be_bytes([conn.input[consumed], conn.input[consumed + 1]]) as usize;
                if conn.input.len() - consumed - 2 < len {
                    break;
                }
                let packet = &conn.input[consumed + 2..consumed + 2 + len];
                consumed += 2 + len;
                self.rotation = self.rotation.wrapping_add(1);
                let forward = ForwardPath {
                    forwarder: self.forward.as_ref(),
                    client: || {
                        Some(ClientPath::Tcp {
                            conn: index,
                            generation: conn.generation,
                        })
                    },
                };
                let reply = &mut self.reply;
                match handle_query(
                    packet,
                    &snap,
                    self.rotation,
                    Transport::Tcp,
                    reply,
                    forward,
                    NotifyPath {
                        inbox: self.notify.as_deref(),
                        peer: || Some(conn.peer),
                    },
                    &mut self.counts,
                ) {
                    // (An IXFR over UDP only: never here.)
                    Handled::Reply { len } | Handled::IxfrOverUdp(UdpIxfr { len, .. }) => {
                        conn.output.extend_from_slice(&(len as u16).to_be_bytes());
                        conn.output.extend_from_slice(&self.reply[..len]);
                    }
                    Handled::Forwarded => {
                        self.awaiting_forwarder += 1;
                        forwarded = true;
                    }
                    // What UDP would drop ends the conversation on TCP.
                    Handled::Dropped => ended = true,
                    Handled::Transfer { question_end } => {
                        let config = self.config.as_ref().map(|c| c.load_full());
                        let start = conn.output.len();
                        let (transfer, result) = transfer::admit(
                            config.as_deref(),
                            conn.peer,
                            snapshot,
                            packet,
                            question_end,
                            &mut conn.output,
                        );
                        let kind = usize::from(transfer::is_ixfr(packet, question_end));
                        self.counters.transfers[kind][result as usize]
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if transfer.is_none() {
                            self.counts.response(&conn.output[start + 2..]);
                        }
                        conn.transfer = transfer;
                    }
                }
            }
            // A transfer goes out as the connection drains.
            if let Some(transfer) = conn.transfer.as_mut() {
                while conn.output.len() < MAX_PENDING_OUTPUT && !transfer.is_done() {
                    transfer.next_message(&mut conn.output);
                }
                if transfer.is_done() {
                    conn.transfer = None;
                }
            }
            conn.input.drain(..consumed);
            // Counted before writing, so a client that sees the reply sees the count.
            self.counts.flush(&self.counters);
            if !write_some(conn) {
                ended = true;
            }
            // All written and a transfer still going: no writable event will come (the
            // socket never blocked), so go on with the next messages now.
            if !ended && conn.transfer.is_some() && conn.output.is_empty() {
                continue;
            }
            if ended || conn.output.len() >= MAX_PENDING_OUTPUT {
                break;
            }
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    conn.input.extend_from_slice(&buf[..n]);
                    conn.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let _ = write_some(conn);
            self.close(poll, index);
        }
        if forwarded {
            if let Some(forward) = &self.forward {
                forward.wake();
            }
        }
    }
}

/// Writes queued output until the socket would block; false on a broken connection.
fn write_some(conn: &mut Connection) -> bool {
    while !conn.output.is_empty() {
        match conn.stream.write(&conn.output) {
            Ok(0) => return false,
            Ok(n) => {
                conn.output.drain(..n);
                conn.last_active = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
