//! UDP workers: each owns an SO_REUSEPORT socket and a CPU, and loops
//! `recvmmsg` → answer → `sendmmsg`, loading the snapshot once per batch.

use super::SharedSnapshot;
use super::batch::{Batch, enable_pktinfo};
use super::counters::{BatchCounts, WorkerCounters};
use crate::dns::answer::{Outcome, Transport, answer, refuse, servfail};
use crate::forward::{ClientPath, ForwardHandle, ForwardRequest};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Datagrams per batch call.
const BATCH: usize = 32;
/// Queries longer than this are cut, and then fail to parse (FORMERR).
const QUERY_SLOT: usize = 4096;

/// One worker's socket and buffers.
pub struct UdpWorker {
    /// This worker's number: the forwarder replies through `socket` by it.
    index: usize,
    /// Where queries outside the domain go; `None` when forwarding is off.
    forward: Option<ForwardHandle>,
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
    pub fn new(
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
            socket,
            rx: Batch::new(BATCH, QUERY_SLOT),
            tx: Batch::new(BATCH, reply_size.max(512)),
            rotation: 0,
            counts: BatchCounts::default(),
            counters: Arc::new(WorkerCounters::default()),
        })
    }

    /// A second handle on this worker's socket, for the forwarder's replies.
    pub fn socket_clone(&self) -> io::Result<socket2::Socket> {
        self.socket.try_clone()
    }

    pub fn set_forwarder(&mut self, forward: ForwardHandle) {
        self.forward = Some(forward);
    }

    /// Serves forever.
    pub fn run(mut self, snapshot: SharedSnapshot) {
        let fd = self.socket.as_raw_fd();
        loop {
            let n = match self.rx.receive(fd) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
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
                self.counts.dropped[1] += (replies - sent) as u64;
            }
        }
    }

    fn answer_batch(&mut self, n: usize, snapshot: &SharedSnapshot) -> usize {
        let snap = snapshot.load();
        let mut replies = 0;
        let mut forwarded = false;
        for i in 0..n {
            self.rotation = self.rotation.wrapping_add(1);
            let packet = self.rx.packet(i);
            let out = self.tx.buffer_mut(replies);
            let outcome = match answer(packet, &snap, self.rotation, Transport::Udp, out) {
                Outcome::Forward { qtype } => match (&self.forward, self.rx.peer(i)) {
                    (None, _) => refuse(packet, &snap, Transport::Udp, out),
                    (Some(_), None) => Outcome::Drop,
                    (Some(forward), Some(peer)) => {
                        let client = ClientPath::Udp {
                            worker: self.index,
                            peer,
                            local: self.rx.local(i),
                        };
                        if forward.queue(ForwardRequest {
                            packet: packet.to_vec(),
                            client,
                        }) {
                            // The forwarder counts the response.
                            self.counts.request(qtype);
                            forwarded = true;
                            continue;
                        }
                        // The forwarder is saturated: say so now rather than never.
                        servfail(packet, &snap, Transport::Udp, out)
                    }
                },
                other => other,
            };
            match outcome {
                Outcome::Reply { len, qtype } => {
                    self.counts
                        .reply(qtype, &self.tx.buffer_mut(replies)[..len]);
                    self.tx.set_reply(replies, len, &self.rx, i);
                    replies += 1;
                }
                Outcome::Drop => self.counts.drop(0),
                Outcome::Forward { .. } => self.counts.drop(2),
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
