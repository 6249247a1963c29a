//! DNS over TCP (RFC 7766): one mio event loop; 2-byte length framing, several and
//! pipelined queries per connection, an idle timeout and a cap on open connections.

use super::SharedSnapshot;
use super::counters::{BatchCounts, WorkerCounters};
use crate::dns::answer::{Outcome, Transport, answer, refuse};
use crate::dns::wire::TCP_MAX;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX);
/// Connections idle this long are closed.
const IDLE: Duration = Duration::from_secs(10);
/// Connections beyond this are accepted and closed at once.
const MAX_CONNECTIONS: usize = 1024;
/// A client that does not read its replies stops being read once this much is queued.
const MAX_PENDING_OUTPUT: usize = 256 * 1024;

struct Connection {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    last_active: Instant,
}

/// The TCP listener thread.
pub struct TcpServer {
    listener: TcpListener,
    connections: Vec<Option<Connection>>,
    open: usize,
    reply: Vec<u8>,
    rotation: u32,
    counts: BatchCounts,
    pub counters: Arc<WorkerCounters>,
}

impl TcpServer {
    pub fn new(listener: std::net::TcpListener) -> io::Result<TcpServer> {
        listener.set_nonblocking(true)?;
        Ok(TcpServer {
            listener: TcpListener::from_std(listener),
            connections: Vec::new(),
            open: 0,
            reply: vec![0; TCP_MAX],
            rotation: 0,
            counts: BatchCounts::default(),
            counters: Arc::new(WorkerCounters::default()),
        })
    }

    /// Serves forever.
    pub fn run(mut self, snapshot: SharedSnapshot) -> io::Result<()> {
        let mut poll = Poll::new()?;
        poll.registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let mut events = Events::with_capacity(256);
        let mut last_sweep = Instant::now();
        loop {
            if let Err(e) = poll.poll(&mut events, Some(Duration::from_secs(1))) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    self.accept(&poll);
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

    fn accept(&mut self, poll: &Poll) {
        loop {
            let (mut stream, _) = match self.listener.accept() {
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
            self.connections[index] = Some(Connection {
                stream,
                input: Vec::new(),
                output: Vec::new(),
                last_active: Instant::now(),
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

    /// Reads what is there, answers every complete query, writes what it can; stops
    /// reading while a slow reader has too much output queued.
    fn serve(&mut self, poll: &Poll, index: usize, snapshot: &SharedSnapshot) {
        let Some(Some(conn)) = self.connections.get_mut(index) else {
            return;
        };
        let snap = snapshot.load();
        let mut buf = [0u8; 4096];
        let mut ended = false;
        loop {
            // Answer every complete message in the input.
            let mut consumed = 0;
            while conn.input.len() - consumed >= 2 {
                let len =
                    u16::from_be_bytes([conn.input[consumed], conn.input[consumed + 1]]) as usize;
                if conn.input.len() - consumed - 2 < len {
                    break;
                }
                let packet = &conn.input[consumed + 2..consumed + 2 + len];
                consumed += 2 + len;
                self.rotation = self.rotation.wrapping_add(1);
                let outcome = match answer(
                    packet,
                    &snap,
                    self.rotation,
                    Transport::Tcp,
                    &mut self.reply,
                ) {
                    Outcome::Forward => refuse(packet, &snap, Transport::Tcp, &mut self.reply),
                    other => other,
                };
                match outcome {
                    Outcome::Reply { len, qtype } => {
                        self.counts.reply(qtype, &self.reply[..len]);
                        conn.output.extend_from_slice(&(len as u16).to_be_bytes());
                        conn.output.extend_from_slice(&self.reply[..len]);
                    }
                    // What UDP would drop ends the conversation on TCP.
                    Outcome::Drop | Outcome::Forward => {
                        self.counts.drop(0);
                        ended = true;
                    }
                }
            }
            conn.input.drain(..consumed);
            if !write_some(conn) {
                ended = true;
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
        self.counts.flush(&self.counters);
        if ended {
            let _ = write_some(conn);
            self.close(poll, index);
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
