//! UDP workers: each owns an SO_REUSEPORT socket and a CPU, and loops
//! `recvmmsg` → answer → `sendmmsg`, loading the snapshot once per batch.
//!
//! Sharing a port with another process (a new version started beside the old one) is
//! gapless in both directions: a worker started beside another server's sockets holds a
//! quiesced socket (taking nothing) until the first snapshot is ready, then binds a fresh
//! one into the group; a stopping worker quiesces its socket, answers what the kernel had
//! already queued on it, and only then ends, so every later datagram goes to the sockets
//! that stay.

use super::dispatch::{ForwardPath, Handled, NotifyPath, handle_query};
use crate::answer::Transport;
use crate::config::Config;
use crate::counters::TransferResult;
use crate::counters::{BatchCounts, DropReason, WorkerCounters};
use crate::dns::wire::TYPE_IXFR;
use crate::forward::{ClientPath, ForwardHandle};
use crate::notify::inbox::NotifyInbox;
use crate::snapshot::SharedSnapshot;
use crate::sockets::batch::{Batch, Wait, enable_pktinfo};
use crate::sockets::{bound_socket, quiesce};
use crate::stop::Stop;
use crate::transfer;
use socket2::Type;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Datagrams per batch call.
const BATCH: usize = 32;
/// How long a receive blocks before the worker looks at the stop signal.
const RECEIVE_WAIT: Duration = Duration::from_millis(200);
/// How often a worker waiting to join a shared port looks for the first snapshot.
const JOIN_CHECK: Duration = Duration::from_millis(10);
/// Batches a stopping worker answers from its queue at most (the queue is finite, since
/// a quiesced socket takes nothing new; this bounds the loop all the same).
const DRAIN_BATCHES: usize = 4096;
/// Queries longer than this are cut, and then fail to parse (FORMERR).
const QUERY_SLOT: usize = 4096;

/// One worker's socket and buffers.
pub(crate) struct UdpWorker {
    /// This worker's number: the forwarder replies through `socket` by it.
    index: usize,
    /// Where queries outside the domain go; `None` when forwarding is off.
    forward: Option<ForwardHandle>,
    /// Secondary mode: where NOTIFYs go.
    notify: Option<Arc<NotifyInbox>>,
    socket: socket2::Socket,
    rx: Batch,
    tx: Batch,
    rotation: u32,
    counts: BatchCounts,
    pub counters: Arc<WorkerCounters>,
    /// Set while `socket` is a quiesced placeholder on a port another process serves:
    /// where to bind the real socket once the first snapshot is ready.
    join: Option<JoinLater>,
    /// The live configuration (`TransferACL`, TSIG keys) for IXFR over UDP; without it
    /// an IXFR gets the current SOA alone.
    config: Option<Arc<arc_swap::ArcSwap<Config>>>,
}

/// A socket still to be bound into a shared port.
struct JoinLater {
    addr: SocketAddr,
    dual_stack: bool,
    wildcard: bool,
    /// The last bind failure was logged (one line until it works).
    failed: bool,
}

impl UdpWorker {
    /// `wildcard`: the socket is bound to an unspecified address, so replies need the
    /// query's destination as their source.
    pub(crate) fn new(
        index: usize,
        socket: socket2::Socket,
        wildcard: bool,
        reply_size: usize,
    ) -> io::Result<UdpWorker> {
        if wildcard {
            report_destinations(&socket)?;
        }
        Ok(UdpWorker {
            index,
            forward: None,
            notify: None,
            socket,
            rx: Batch::new(BATCH, QUERY_SLOT),
            tx: Batch::new(BATCH, reply_size.max(512)),
            rotation: 0,
            counts: BatchCounts::default(),
            counters: Arc::new(WorkerCounters::default()),
            join: None,
            config: None,
        })
    }

    /// The port is served by another process: `socket` is quiesced now, and the worker
    /// binds its real socket (`dual_stack` as [`bound_socket`] takes it) once it can
    /// answer.
    pub(crate) fn join_when_ready(&mut self, dual_stack: bool) -> io::Result<()> {
        // Read before quiescing: connecting a wildcard-bound socket gives it an address.
        let addr = local_addr(&self.socket)?;
        quiesce(&self.socket)?;
        self.join = Some(JoinLater {
            addr,
            dual_stack,
            wildcard: addr.ip().is_unspecified(),
            failed: false,
        });
        Ok(())
    }

    /// A second handle on this worker's socket, for the forwarder's replies.
    pub(crate) fn socket_clone(&self) -> io::Result<socket2::Socket> {
        self.socket.try_clone()
    }

    /// Hands NOTIFYs to `inbox` (secondary mode).
    pub(crate) fn set_notify_inbox(&mut self, inbox: Arc<NotifyInbox>) {
        self.notify = Some(inbox);
    }

    /// The live configuration, for IXFR over UDP.
    pub(crate) fn set_config(&mut self, config: Arc<arc_swap::ArcSwap<Config>>) {
        self.config = Some(config);
    }

    pub(crate) fn set_forwarder(&mut self, forward: ForwardHandle) {
        self.forward = Some(forward);
    }

    /// Serves until `stop` is given: then takes no new datagram, answers what its socket
    /// had queued, and returns (a blocked receive gives up within [`RECEIVE_WAIT`]).
    pub(crate) fn run(mut self, snapshot: SharedSnapshot, stop: &Stop) {
        self.set_receive_wait();
        while !stop.is_stopped() {
            if self.join.is_some() {
                if !snapshot.load().ready || !self.join_now(&snapshot) {
                    std::thread::sleep(JOIN_CHECK);
                }
                continue;
            }
            match self.serve_batch(&snapshot, Wait::ForOne) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    tracing::warn!("UDP receive failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if self.join.is_none() {
            self.drain(&snapshot);
        }
    }

    fn set_receive_wait(&self) {
        if let Err(e) = self.socket.set_read_timeout(Some(RECEIVE_WAIT)) {
            tracing::warn!(
                "UDP worker {}: no receive timeout ({e}); it stops only with the process",
                self.index
            );
        }
    }

    /// Receives one batch, answers it and sends the replies; the number received.
    fn serve_batch(&mut self, snapshot: &SharedSnapshot, wait: Wait) -> io::Result<usize> {
        let n = self.rx.receive(self.socket.as_fd(), wait)?;
        let replies = self.answer_batch(n, snapshot);
        // Counted before sending, so a client that sees the reply sees the count.
        self.counts.flush(&self.counters);
        if replies > 0 {
            let sent = self.tx.send(self.socket.as_fd(), replies).unwrap_or(0);
            for _ in sent..replies {
                self.counts.drop(DropReason::SendFailed);
            }
        }
        Ok(n)
    }

    /// Stopping: the kernel stops handing this socket datagrams, and what it had queued
    /// is answered, so that nothing sent to a port another process shares is lost.
    fn drain(&mut self, snapshot: &SharedSnapshot) {
        if let Err(e) = quiesce(&self.socket) {
            tracing::warn!(
                "UDP worker {}: could not stop taking queries ({e})",
                self.index
            );
        }
        self.drain_queue(snapshot);
    }

    /// Answers what the socket has queued, without waiting for more.
    fn drain_queue(&mut self, snapshot: &SharedSnapshot) {
        for _ in 0..DRAIN_BATCHES {
            if !matches!(self.serve_batch(snapshot, Wait::No), Ok(n) if n > 0) {
                break;
            }
        }
    }

    /// The first snapshot is ready: binds the real socket into the shared port, then
    /// answers what reached the placeholder before it was quiesced. False when the bind
    /// failed (tried again shortly).
    fn join_now(&mut self, snapshot: &SharedSnapshot) -> bool {
        let Some(join) = &mut self.join else {
            return true;
        };
        let fresh = bound_socket(join.addr, Type::DGRAM, join.dual_stack).and_then(|socket| {
            if join.wildcard {
                report_destinations(&socket)?;
            }
            Ok(socket)
        });
        let fresh = match fresh {
            Ok(socket) => socket,
            Err(e) => {
                if !std::mem::replace(&mut join.failed, true) {
                    tracing::error!("UDP {}: joining the shared port failed: {e}", join.addr);
                }
                return false;
            }
        };
        self.join = None;
        // What reached the placeholder before it was quiesced is answered from it; it
        // then stays open only for the forwarder, which replies through a clone of it.
        self.drain_queue(snapshot);
        self.socket = fresh;
        self.set_receive_wait();
        true
    }

    fn answer_batch(&mut self, n: usize, snapshot: &SharedSnapshot) -> usize {
        let snap = snapshot.load();
        let mut replies = 0;
        let mut forwarded = false;
        for i in 0..n {
            self.rotation = self.rotation.wrapping_add(1);
            let (rx, worker) = (&self.rx, self.index);
            let forward = ForwardPath {
                forwarder: self.forward.as_ref(),
                client: || {
                    rx.peer(i).map(|peer| ClientPath::Udp {
                        worker,
                        peer,
                        local: rx.local(i),
                    })
                },
            };
            let out = self.tx.buffer_mut(replies);
            let packet = rx.packet(i);
            let handled = handle_query(
                packet,
                &snap,
                self.rotation,
                Transport::Udp,
                out,
                forward,
                NotifyPath {
                    inbox: self.notify.as_deref(),
                    peer: || rx.peer(i).map(|p| p.ip()),
                },
                &mut self.counts,
            );
            let len = match handled {
                Handled::Reply { len } => len,
                Handled::IxfrOverUdp(ixfr) => {
                    let config = self.config.as_ref().map(|c| c.load_full());
                    let (changes, result) = match rx.peer(i) {
                        Some(peer) => transfer::ixfr_over_udp(
                            config.as_deref(),
                            peer.ip(),
                            snapshot,
                            packet,
                            ixfr,
                            out,
                        ),
                        None => (None, TransferResult::Refused),
                    };
                    let len = changes.unwrap_or(ixfr.len);
                    self.counters.transfers[1][result as usize].fetch_add(1, Ordering::Relaxed);
                    self.counts.reply(TYPE_IXFR, &out[..len]);
                    len
                }
                Handled::Forwarded => {
                    forwarded = true;
                    continue;
                }
                // Never over UDP (answered there instead).
                Handled::Dropped | Handled::Transfer { .. } => continue,
            };
            self.tx.set_reply(replies, len, &self.rx, i);
            replies += 1;
        }
        if forwarded {
            if let Some(forward) = &self.forward {
                forward.wake();
            }
        }
        replies
    }
}

/// Asks the kernel for each datagram's destination address (a wildcard-bound socket
/// answers from it).
fn report_destinations(socket: &socket2::Socket) -> io::Result<()> {
    let v6 = local_addr(socket)?.is_ipv6();
    enable_pktinfo(socket.as_fd(), v6)?;
    if v6 {
        // A dual-stack socket reports IPv4 queries with IP_PKTINFO.
        let _ = enable_pktinfo(socket.as_fd(), false);
    }
    Ok(())
}

fn local_addr(socket: &socket2::Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::ErrorKind::AddrNotAvailable.into())
}
