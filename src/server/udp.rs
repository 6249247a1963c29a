//! UDP workers: each owns an SO_REUSEPORT socket and a CPU, and loops
//! `recvmmsg` → answer → `sendmmsg`, loading the snapshot once per batch.

use super::SharedSnapshot;
use super::batch::{Batch, enable_pktinfo};
use super::counters::WorkerCounters;
use crate::dns::answer::{Outcome, Transport, answer, refuse};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Datagrams per batch call.
const BATCH: usize = 32;
/// Queries longer than this are cut, and then fail to parse (FORMERR).
const QUERY_SLOT: usize = 4096;

/// One worker's socket and buffers.
pub struct UdpWorker {
    socket: socket2::Socket,
    rx: Batch,
    tx: Batch,
    rotation: u32,
    pub counters: Arc<WorkerCounters>,
}

impl UdpWorker {
    /// `wildcard`: the socket is bound to an unspecified address, so replies need the
    /// query's destination as their source.
    pub fn new(
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
            socket,
            rx: Batch::new(BATCH, QUERY_SLOT),
            tx: Batch::new(BATCH, reply_size.max(512)),
            rotation: 0,
            counters: Arc::new(WorkerCounters::default()),
        })
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
            if replies > 0 {
                if let Err(e) = self.tx.send(fd, replies) {
                    tracing::debug!("UDP send failed: {e}");
                }
            }
        }
    }

    fn answer_batch(&mut self, n: usize, snapshot: &SharedSnapshot) -> usize {
        let snap = snapshot.load();
        let mut replies = 0;
        let mut dropped = 0;
        let mut refused = 0;
        for i in 0..n {
            self.rotation = self.rotation.wrapping_add(1);
            let packet = self.rx.packet(i);
            let out = self.tx.buffer_mut(replies);
            let outcome = match answer(packet, &snap, self.rotation, Transport::Udp, out) {
                // The forwarder's own issue hands these upstream; until then, REFUSED.
                Outcome::Forward => {
                    refused += 1;
                    refuse(packet, &snap, Transport::Udp, out)
                }
                other => other,
            };
            match outcome {
                Outcome::Reply(len) => {
                    self.tx.set_reply(replies, len, &self.rx, i);
                    replies += 1;
                }
                Outcome::Drop | Outcome::Forward => dropped += 1,
            }
        }
        let c = &self.counters;
        WorkerCounters::bump(&c.received, n as u64);
        WorkerCounters::bump(&c.answered, replies as u64);
        WorkerCounters::bump(&c.dropped, dropped);
        WorkerCounters::bump(&c.refused, refused);
        replies
    }
}
