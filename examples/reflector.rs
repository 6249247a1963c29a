//! The ceiling of the dnsperf harness: a `recvmmsg`/`sendmmsg` loop that answers every
//! query with one fixed A record and no lookup at all. `reflector ADDR:PORT`
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a tool for the perf harness

use mesos_dns::sockets::batch::{Batch, Wait};
use std::net::SocketAddr;
use std::os::fd::AsFd;

fn main() {
    let addr: SocketAddr = std::env::args().nth(1).expect("ADDR:PORT").parse().unwrap();
    let socket = std::net::UdpSocket::bind(addr).unwrap();
    let fd = socket.as_fd();
    let mut rx = Batch::new(32, 4096);
    let mut tx = Batch::new(32, 4096);
    let answer: [u8; 16] = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1];
    loop {
        let Ok(n) = rx.receive(fd, Wait::ForOne) else {
            continue;
        };
        let mut replies = 0;
        for i in 0..n {
            let len = rx.packet(i).len();
            if len < 12 || len + 16 > 4096 {
                continue;
            }
            let out = tx.buffer_mut(replies);
            out[..len].copy_from_slice(rx.packet(i));
            out[2] |= 0x84; // QR, AA
            out[7] = 1; // ANCOUNT
            // dnsperf sends no OPT unless asked (-e), so the query is header + question.
            out[len..len + 16].copy_from_slice(&answer);
            tx.set_reply(replies, len + 16, &rx, i);
            replies += 1;
        }
        let _ = tx.send(fd, replies);
    }
}
