//! Forwarding of names outside the domain (docs/spec/mesos-dns-behavior.md §5.5, done better): workers hand queries
//! to this thread over a bounded channel and never wait; this thread owns its upstream
//! sockets (one connected socket per query, so a random source port and only the
//! upstream's own address accepted), random query IDs, a table of pending queries with
//! deadlines, TCP retry when an upstream truncates, and a cache of replies. It follows the
//! live configuration, so a SIGHUP can change resolvers, zones, timeout and cache size.

pub mod cache;
pub mod message;

use crate::answer::{Transport, reply_limit};
use crate::config::Config;
use crate::counters::{BatchCounts, ForwardCounters};
use crate::dns::header::{Flags, HEADER_LEN, Header, Rcode, Section};
use crate::dns::ids::QueryIds;
use crate::dns::query::{Edns, parse};
use crate::dns::wire::TCP_MAX;
use crate::dns::wire::{OPT_LEN, opt_record};
use crate::dns::writer::MessageWriter;
use crate::snapshot::in_zone;
use crate::sockets::batch::{Batch, LocalAddr};
use crate::stop::Stop;
use cache::{Cache, CacheKey};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use prometheus_client::metrics::histogram::Histogram;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queries waiting for the forwarder; beyond this, workers answer SERVFAIL at once.
const QUEUE: usize = 4096;
/// Queries in flight upstream at once; beyond this, SERVFAIL.
const MAX_PENDING: usize = 16_384;
const WAKER: Token = Token(usize::MAX);
/// How long a stopping forwarder waits for the exchanges in flight.
const DRAIN: Duration = Duration::from_millis(500);

/// Where the reply to a forwarded query goes.
#[derive(Clone, Copy, Debug)]
pub enum ClientPath {
    /// Back out of UDP worker `worker`'s socket, from the address the query reached.
    Udp {
        worker: usize,
        peer: SocketAddr,
        local: LocalAddr,
    },
    /// To the TCP thread, for connection `conn` (if it still has generation `generation`).
    Tcp { conn: usize, generation: u64 },
}

pub struct ForwardRequest {
    pub packet: Vec<u8>,
    pub client: ClientPath,
}

/// A reply for a TCP client: (connection, generation, message).
pub type TcpReply = (usize, u64, Vec<u8>);

/// What the listeners hold to hand queries over.
#[derive(Clone)]
pub struct ForwardHandle {
    tx: Sender<ForwardRequest>,
    waker: Arc<Waker>,
}

impl ForwardHandle {
    /// Queues a query and wakes the forwarder; false when the queue is full (answer
    /// SERVFAIL).
    pub fn submit(&self, request: ForwardRequest) -> bool {
        let queued = self.queue(request);
        if queued {
            self.wake();
        }
        queued
    }

    /// Queues a query without waking the forwarder: a worker queues a batch's queries,
    /// then calls [`ForwardHandle::wake`] once (one system call per batch, not per query).
    pub fn queue(&self, request: ForwardRequest) -> bool {
        match self.tx.try_send(request) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Wakes the forwarder to take what was queued.
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

/// Upstreams by zone (longest match first), then the default list.
struct Routes {
    zones: Vec<(Vec<u8>, Arc<Vec<SocketAddr>>)>,
    default: Arc<Vec<SocketAddr>>,
}

impl Routes {
    fn new(config: &Config) -> Routes {
        let mut zones: Vec<(Vec<u8>, Arc<Vec<SocketAddr>>)> = config
            .zone_resolvers
            .iter()
            .filter_map(|(zone, list)| {
                let mut wire = Vec::new();
                crate::dns::wire::name_to_wire(zone, true, &mut wire)?;
                Some((wire, Arc::new(list.clone())))
            })
            .collect();
        zones.sort_by_key(|(z, _)| std::cmp::Reverse(z.len()));
        Routes {
            zones,
            default: Arc::new(config.resolvers.clone()),
        }
    }

    fn upstreams(&self, qname: &[u8]) -> Arc<Vec<SocketAddr>> {
        self.zones
            .iter()
            .find(|(zone, _)| in_zone(qname, zone))
            .map_or_else(|| self.default.clone(), |(_, list)| list.clone())
    }
}

enum Leg {
    Udp(UdpSocket),
    Tcp {
        stream: TcpStream,
        output: Vec<u8>,
        input: Vec<u8>,
    },
}

struct Pending {
    client: Client,
    key: CacheKey,
    /// The query as sent upstream (our ID).
    query: Vec<u8>,
    our_id: u16,
    upstreams: Arc<Vec<SocketAddr>>,
    current: usize,
    leg: Leg,
    deadline: Instant,
    started: Instant,
}

/// Starts the forwarder thread. `worker_sockets` are clones of the UDP workers' sockets
/// (replies leave from them); `tcp` is where replies for TCP clients go.
pub fn spawn(
    live: Arc<arc_swap::ArcSwap<Config>>,
    worker_sockets: Vec<socket2::Socket>,
    tcp: Option<(Sender<TcpReply>, Arc<Waker>)>,
    counters: Arc<ForwardCounters>,
    stop: Stop,
) -> io::Result<(ForwardHandle, std::thread::JoinHandle<()>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let stop_waker = waker.clone();
    stop.on_stop(move || {
        let _ = stop_waker.wake();
    });
    let (tx, rx) = crossbeam_channel::bounded(QUEUE);
    let config = live.load_full();
    let forwarder = Forwarder {
        routes: Routes::new(&config),
        timeout: Duration::from_secs(config.timeout_seconds),
        edns_max: config.edns_max_udp_size,
        set_truncate_bit: config.set_truncate_bit,
        poll,
        rx,
        worker_sockets,
        out: Batch::new(1, TCP_MAX),
        tcp,
        pending: Vec::new(),
        free: Vec::new(),
        deadlines: BTreeSet::new(),
        cache: Cache::new(config.forward_cache_size),
        live,
        applied: config,
        ids: QueryIds::new(),
        latency: HashMap::new(),
        counters,
        counts_upstream: BatchCounts::default(),
        counts_cache: BatchCounts::default(),
    };
    let thread = std::thread::Builder::new()
        .name("forwarder".into())
        .spawn(move || forwarder.run(&stop))?;
    Ok((ForwardHandle { tx, waker }, thread))
}

struct Forwarder {
    routes: Routes,
    timeout: Duration,
    edns_max: u16,
    set_truncate_bit: bool,
    poll: Poll,
    rx: Receiver<ForwardRequest>,
    worker_sockets: Vec<socket2::Socket>,
    out: Batch,
    tcp: Option<(Sender<TcpReply>, Arc<Waker>)>,
    pending: Vec<Option<Pending>>,
    free: Vec<usize>,
    deadlines: BTreeSet<(Instant, usize)>,
    cache: Cache,
    /// The configuration in force (replaced on SIGHUP), and the one last applied here.
    live: Arc<arc_swap::ArcSwap<Config>>,
    applied: Arc<Config>,
    ids: QueryIds,
    counters: Arc<ForwardCounters>,
    /// Each upstream's latency histogram (from `counters.latency`), by address.
    latency: HashMap<SocketAddr, Histogram>,
    counts_upstream: BatchCounts,
    counts_cache: BatchCounts,
}

impl Forwarder {
    /// Forwards until `stop` is given; then takes what the listeners already queued and
    /// finishes the exchanges in flight, for at most [`DRAIN`].
    fn run(mut self, stop: &Stop) {
        let mut events = Events::with_capacity(1024);
        let mut drain_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if stop.is_stopped() {
                let until = *drain_until.get_or_insert(now + DRAIN);
                let idle = self.pending.iter().all(Option::is_none) && self.rx.is_empty();
                if idle || now >= until {
                    return;
                }
            }
            let wait = self
                .deadlines
                .first()
                .map(|(d, _)| d.saturating_duration_since(now))
                .unwrap_or(Duration::from_secs(1))
                .min(if drain_until.is_some() {
                    Duration::from_millis(20)
                } else {
                    Duration::MAX
                });
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("forwarder poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            self.follow_config();
            if drain_until.is_some() {
                // Listeners that stopped may have queued a last batch without a wake-up.
                while let Ok(request) = self.rx.try_recv() {
                    self.start(request);
                }
            }
            for event in events.iter() {
                if event.token() == WAKER {
                    while let Ok(request) = self.rx.try_recv() {
                        self.start(request);
                    }
                } else {
                    self.progress(event.token().0);
                }
            }
            self.expire(Instant::now());
        }
    }

    /// Takes up a configuration replaced by SIGHUP. Queries in flight finish with the
    /// upstreams they started with; cached replies are dropped when the upstreams change.
    fn follow_config(&mut self) {
        let current = self.live.load();
        if Arc::ptr_eq(&current, &self.applied) {
            return;
        }
        let config = Arc::clone(&current);
        drop(current);
        let upstreams_changed = config.resolvers != self.applied.resolvers
            || config.zone_resolvers != self.applied.zone_resolvers;
        if upstreams_changed || config.forward_cache_size != self.applied.forward_cache_size {
            self.cache = Cache::new(config.forward_cache_size);
        }
        self.routes = Routes::new(&config);
        self.timeout = Duration::from_secs(config.timeout_seconds);
        self.edns_max = config.edns_max_udp_size;
        self.set_truncate_bit = config.set_truncate_bit;
        self.applied = config;
    }

    /// A new query from a listener: answer from the cache, or send it upstream.
    fn start(&mut self, request: ForwardRequest) {
        let Ok(query) = parse(&request.packet) else {
            return;
        };
        let transport = match request.client {
            ClientPath::Tcp { .. } => Transport::Tcp,
            ClientPath::Udp { .. } => Transport::Udp,
        };
        let limit = reply_limit(transport, query.edns, self.edns_max);
        let client = Client {
            path: request.client,
            id: query.id,
            question: request.packet[12..query.question_end].to_vec(),
            limit,
            edns: query.edns,
        };
        let key = CacheKey {
            name: query.qname().into(),
            qtype: query.qtype,
            qclass: query.qclass,
            dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
        };
        if let Some(reply) = self.cache.get(&key, Instant::now()) {
            self.relay(&client, &reply, true);
            return;
        }
        let upstreams = self.routes.upstreams(query.qname());
        if upstreams.is_empty() || self.pending.len() - self.free.len() >= MAX_PENDING {
            let rcode = if upstreams.is_empty() {
                Rcode::REFUSED
            } else {
                Rcode::SERVFAIL
            };
            self.fail(&client, &request.packet, rcode);
            return;
        }
        let Some(our_id) = self.ids.draw() else {
            tracing::error!("the system's random source failed; query not forwarded");
            self.fail(&client, &request.packet, Rcode::SERVFAIL);
            return;
        };
        let mut packet = request.packet;
        packet[0..2].copy_from_slice(&our_id.to_be_bytes());
        let index = self.free.pop().unwrap_or_else(|| {
            self.pending.push(None);
            self.pending.len() - 1
        });
        let tcp_client = matches!(client.path, ClientPath::Tcp { .. });
        let now = Instant::now();
        let leg = match open_leg(&self.poll, upstreams[0], index, &packet, tcp_client) {
            Ok(leg) => leg,
            Err(_) => {
                self.free.push(index);
                self.fail(&client, &packet, Rcode::SERVFAIL);
                return;
            }
        };
        self.pending[index] = Some(Pending {
            client,
            key,
            query: packet,
            our_id,
            upstreams,
            current: 0,
            leg,
            deadline: now + self.timeout,
            started: now,
        });
        self.deadlines.insert((now + self.timeout, index));
    }

    /// Reads or writes what an upstream socket is ready for.
    fn progress(&mut self, index: usize) {
        let Some(Some(p)) = self.pending.get_mut(index) else {
            return;
        };
        let mut buf = [0u8; TCP_MAX];
        let reply: Result<Option<Vec<u8>>, ()> = match &mut p.leg {
            Leg::Udp(socket) => loop {
                match socket.recv(&mut buf) {
                    Ok(n) if is_reply_to(&buf[..n], p.our_id, &p.client.question) => {
                        break Ok(Some(buf[..n].to_vec()));
                    }
                    // A datagram that is not the reply (wrong ID or question): ignore it.
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break Err(()),
                }
            },
            Leg::Tcp {
                stream,
                output,
                input,
            } => tcp_progress(
                stream,
                output,
                input,
                &mut buf,
                p.our_id,
                &p.client.question,
            ),
        };
        match reply {
            Ok(None) => {}
            Ok(Some(reply)) => {
                let truncated = reply.get(2).is_some_and(|f| f & 0x02 != 0);
                if truncated && matches!(p.leg, Leg::Udp(_)) {
                    // The whole answer is wanted: ask the same upstream over TCP.
                    let upstream = p.upstreams[p.current];
                    self.restart(index, upstream, true);
                } else {
                    self.finish(index, &reply);
                }
            }
            Err(()) => self.next_upstream(index),
        }
    }

    fn restart(&mut self, index: usize, upstream: SocketAddr, tcp: bool) {
        let Some(Some(p)) = self.pending.get_mut(index) else {
            return;
        };
        deregister(&self.poll, &mut p.leg);
        match open_leg(&self.poll, upstream, index, &p.query, tcp) {
            Ok(leg) => {
                p.leg = leg;
                self.deadlines.remove(&(p.deadline, index));
                p.deadline = Instant::now() + self.timeout;
                self.deadlines.insert((p.deadline, index));
            }
            Err(_) => self.next_upstream(index),
        }
    }

    /// The current upstream failed: try the next, or answer SERVFAIL.
    fn next_upstream(&mut self, index: usize) {
        crate::status::Status::add(&self.counters.upstream_failures, 1);
        let Some(Some(p)) = self.pending.get_mut(index) else {
            return;
        };
        p.current += 1;
        if p.current < p.upstreams.len() {
            let upstream = p.upstreams[p.current];
            let tcp = matches!(p.client.path, ClientPath::Tcp { .. });
            self.restart(index, upstream, tcp);
            return;
        }
        let Some(p) = self.take(index) else { return };
        self.fail(&p.client, &p.query, Rcode::SERVFAIL);
    }

    fn take(&mut self, index: usize) -> Option<Pending> {
        let mut p = self.pending.get_mut(index)?.take()?;
        deregister(&self.poll, &mut p.leg);
        self.deadlines.remove(&(p.deadline, index));
        self.free.push(index);
        Some(p)
    }

    /// The latency histogram of one upstream, its label made once per upstream.
    fn latency_of(&mut self, upstream: SocketAddr) -> &Histogram {
        let family = &self.counters.latency;
        self.latency.entry(upstream).or_insert_with(|| {
            family
                .get_or_create(&[("upstream", upstream.to_string())])
                .clone()
        })
    }

    fn finish(&mut self, index: usize, reply: &[u8]) {
        let Some(p) = self.take(index) else { return };
        let rtt = p.started.elapsed().as_secs_f64();
        self.latency_of(p.upstreams[p.current]).observe(rtt);
        if let Some(layout) = message::layout(reply) {
            if let Some(ttl) = message::cache_ttl(reply, &layout) {
                self.cache
                    .insert(p.key.clone(), reply, &layout, ttl, Instant::now());
            }
        }
        self.relay(&p.client, reply, false);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, index)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.next_upstream(index);
            // next_upstream re-arms or removes the entry; make sure it is gone either way.
            self.deadlines.remove(&(deadline, index));
        }
    }

    /// Sends an upstream (or cached) reply to the client: its ID and question spelling,
    /// fitted to its size limit, with an OPT if it sent one.
    fn relay(&mut self, client: &Client, reply: &[u8], from_cache: bool) {
        let Some(layout) = message::layout(reply) else {
            return self.fail(client, reply, Rcode::SERVFAIL);
        };
        if layout.question_end - 12 != client.question.len() {
            return self.fail(client, reply, Rcode::SERVFAIL);
        }
        let reserve = if client.edns.is_some() { OPT_LEN } else { 0 };
        let (cut, counts, lost) = message::fit(&layout, client.limit, reserve);
        let Some(upstream) = Header::read(reply) else {
            return self.fail(client, reply, Rcode::SERVFAIL);
        };
        let mut out = Vec::with_capacity(cut + reserve);
        out.extend_from_slice(&reply[..cut]);
        out[HEADER_LEN..layout.question_end].copy_from_slice(&client.question);
        // The upstream's header with the client's ID, the counts of what was kept, and
        // TC when the upstream or the cut left records out.
        let truncated = (lost || upstream.flags.contains(Flags::TC)) && self.set_truncate_bit;
        let header = Header {
            id: client.id,
            flags: upstream.flags.with(Flags::TC, truncated),
            counts: [
                upstream.count(Section::Question),
                counts[0] as u16,
                counts[1] as u16,
                (counts[2] + usize::from(client.edns.is_some())) as u16,
            ],
        };
        header.write(&mut out);
        if let Some(edns) = client.edns {
            let ext = layout.opt_ttl.map_or(0, |t| t[0]);
            out.extend_from_slice(&opt_record(self.edns_max, ext, edns.dnssec_ok));
        }
        let counts = if from_cache {
            &mut self.counts_cache
        } else {
            &mut self.counts_upstream
        };
        counts.response(&out);
        self.send(client.path, out);
    }

    /// SERVFAIL or REFUSED, echoing the client's question (and the opcode, RD and CD of
    /// `packet`, the query or the upstream's reply).
    fn fail(&mut self, client: &Client, packet: &[u8], rcode: Rcode) {
        let echoed = Flags::of(packet).map_or(Flags::RD, |f| {
            f.only(Flags::KEEP_OPCODE | Flags::RD | Flags::CD)
        });
        let flags = (Flags::QR | Flags::RA | echoed).with_rcode(rcode);
        let size = HEADER_LEN + client.question.len() + OPT_LEN;
        let mut out = vec![0u8; size];
        if let Some(mut w) = MessageWriter::new(&mut out, size, client.id, flags) {
            w.put(Section::Question, 1, &client.question);
            if let Some(edns) = client.edns {
                let opt = opt_record(self.edns_max, rcode.extended_bits(), edns.dnssec_ok);
                w.put(Section::Additional, 1, &opt);
            }
            let len = w.finish();
            out.truncate(len);
        }
        self.counts_upstream.response(&out);
        self.send(client.path, out);
    }

    fn send(&mut self, path: ClientPath, message: Vec<u8>) {
        // Counted before sending, so a client that sees the reply sees the count.
        self.counts_upstream.flush(&self.counters.upstream);
        self.counts_cache.flush(&self.counters.cache);
        match path {
            ClientPath::Udp {
                worker,
                peer,
                local,
            } => {
                let Some(socket) = self.worker_sockets.get(worker) else {
                    return;
                };
                send_udp(&mut self.out, socket.as_fd(), &message, peer, local);
            }
            ClientPath::Tcp { conn, generation } => {
                if let Some((tx, waker)) = &self.tcp {
                    if tx.try_send((conn, generation, message)).is_ok() {
                        let _ = waker.wake();
                    }
                }
            }
        }
    }
}

/// Who asked, and how the reply must look for them.
struct Client {
    path: ClientPath,
    id: u16,
    /// The client's question section, as sent (its case is given back).
    question: Vec<u8>,
    limit: usize,
    edns: Option<Edns>,
}

fn send_udp(
    out: &mut Batch,
    fd: BorrowedFd<'_>,
    message: &[u8],
    peer: SocketAddr,
    local: LocalAddr,
) {
    let len = message.len().min(out.buffer_mut(0).len());
    out.buffer_mut(0)[..len].copy_from_slice(&message[..len]);
    out.set_datagram(0, len, peer, local);
    let _ = out.send(fd, 1);
}

/// True when `reply` answers our query: a response, our ID, the same question (any case).
pub(crate) fn is_reply_to(reply: &[u8], id: u16, question: &[u8]) -> bool {
    let Some(header) = Header::read(reply) else {
        return false;
    };
    header.id == id
        && header.flags.is_response()
        && header.count(Section::Question) == 1
        && reply
            .get(HEADER_LEN..HEADER_LEN + question.len())
            .is_some_and(|q| q.eq_ignore_ascii_case(question))
}

fn open_leg(
    poll: &Poll,
    upstream: SocketAddr,
    index: usize,
    query: &[u8],
    tcp: bool,
) -> io::Result<Leg> {
    if tcp {
        let mut stream = TcpStream::connect(upstream)?;
        poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut output = Vec::with_capacity(query.len() + 2);
        output.extend_from_slice(&(query.len() as u16).to_be_bytes());
        output.extend_from_slice(query);
        return Ok(Leg::Tcp {
            stream,
            output,
            input: Vec::new(),
        });
    }
    let any: IpAddr = if upstream.is_ipv6() {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let mut socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
    socket.connect(upstream)?;
    poll.registry()
        .register(&mut socket, Token(index), Interest::READABLE)?;
    socket.send(query)?;
    Ok(Leg::Udp(socket))
}

fn deregister(poll: &Poll, leg: &mut Leg) {
    let _ = match leg {
        Leg::Udp(s) => poll.registry().deregister(s),
        Leg::Tcp { stream, .. } => poll.registry().deregister(stream),
    };
}

/// Writes the query and reads the length-prefixed reply as the socket allows.
fn tcp_progress(
    stream: &mut TcpStream,
    output: &mut Vec<u8>,
    input: &mut Vec<u8>,
    buf: &mut [u8],
    id: u16,
    question: &[u8],
) -> Result<Option<Vec<u8>>, ()> {
    while !output.is_empty() {
        match stream.write(output) {
            Ok(0) => return Err(()),
            Ok(n) => {
                output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
    loop {
        if input.len() >= 2 {
            let len = u16::from_be_bytes([input[0], input[1]]) as usize;
            if input.len() >= 2 + len {
                let reply = &input[2..2 + len];
                return if is_reply_to(reply, id, question) {
                    Ok(Some(reply.to_vec()))
                } else {
                    Err(())
                };
            }
        }
        match stream.read(buf) {
            Ok(0) => return Err(()),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
}
