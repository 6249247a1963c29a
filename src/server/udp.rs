//! UDP workers: each owns an SO_REUSEPORT socket and a CPU, and loops
//! `recvmmsg` → answer → `sendmmsg`, loading the snapshot once per batch.

use super::dispatch::{ForwardPath, Handled, NotifyPath, handle_query};
use crate::answer::Transport;
use crate::counters::{BatchCounts, DropReason, WorkerCounters};
use crate::forward::{ClientPath, ForwardHandle};
use crate::secondary::inbox::NotifyInbox;
use crate::snapshot::SharedSnapshot;
use crate::sockets::batch::{Batch, enable_pktinfo};
use crate::stop::Stop;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Datagrams per batch call.
const BATCH: usize = 32;
/// How long a receive blocks before the worker looks at the stop signal.
const RECEIVE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
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
            let v6 = socket
                .local_addr()?
                .as_socket()
                .is_some_and(|a| a.is_ipv6());
            enable_pktinfo(socket.as_raw_fd(), v6)?;
            if v6 {
                // A dual-stack socket reports IPv4 queries with IP_PKTINFO.
                let _ = enable_pktinfo(socket.as_raw_fd(), false);
            }
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
        })
    }

    /// A second handle on this worker's socket, for the forwarder's replies.
    pub(crate) fn socket_clone(&self) -> io::Result<socket2::Socket> {
        self.socket.try_clone()
    }

    /// Hands NOTIFYs to `inbox` (secondary mode).
    pub(crate) fn set_notify_inbox(&mut self, inbox: Arc<NotifyInbox>) {
        self.notify = Some(inbox);
    }

    pub(crate) fn set_forwarder(&mut self, forward: ForwardHandle) {
        self.forward = Some(forward);
    }

    /// Serves until `stop` is given: the batch in hand is answered and sent, then the
    /// worker returns (a blocked receive gives up within [`RECEIVE_WAIT`]).
    pub(crate) fn run(mut self, snapshot: SharedSnapshot, stop: &Stop) {
        let fd = self.socket.as_raw_fd();
        if let Err(e) = self.socket.set_read_timeout(Some(RECEIVE_WAIT)) {
            tracing::warn!(
                "UDP worker {}: no receive timeout ({e}); it stops only with the process",
                self.index
            );
        }
        while !stop.is_stopped() {
            let n = match self.rx.receive(fd) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    tracing::warn!("UDP receive failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
            };
            let replies = self.answer_batch(n, &snapshot);
            // Counted before sending, so a client that sees the reply sees the count.
            self.counts.flush(&self.counters);
            if replies > 0 {
                let sent = self.tx.send(fd, replies).unwrap_or(0);
                for _ in sent..replies {
                    self.counts.drop(DropReason::SendFailed);
                }
            }
        }
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
            match handle_query(
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
            ) {
                Handled::Reply { len } => {
                    self.tx.set_reply(replies, len, &self.rx, i);
                    replies += 1;
                }
                Handled::Forwarded => forwarded = true,
                // Never over UDP (answered there instead).
                Handled::Dropped | Handled::Transfer { .. } => {}
            }
        }
        if forwarded {
            if let Some(forward) = &self.forward {
                forward.wake();
            }
        }
        replies
    }
}
