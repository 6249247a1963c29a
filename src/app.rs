//! The whole server, started and stopped as one: binds the listeners, starts every
//! thread, and stops them together. `main` wraps it in flags, logging and signals;
//! tests can run it in-process on ports the kernel picks.

use crate::config::Config;
use crate::control::{Control, ControlEvent};
use crate::counters::ForwardCounters;
use crate::forward;
use crate::http::{Documents, HttpContext};
use crate::mesos::detect::{self, Masters};
use crate::mesos::zk::ZkUrl;
use crate::notify::inbox::NotifyInbox;
use crate::replicated::Replica;
use crate::secondary::Secondary;
use crate::secondary::keeper::Keeper;
use crate::server::tcp::TcpServer;
use crate::server::udp::UdpWorker;
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::sockets::{bind_address, bound_socket, udp_port_taken};
use crate::status::Status;
use crate::stop::Stop;
use crossbeam_channel::Sender;
use socket2::Type;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why the server could not start (one line, naming what failed).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound or set up.
    #[error("{what} {addr}: {source}")]
    Listener {
        /// Which listener: `UDP`, `TCP` or `HTTP`.
        what: &'static str,
        /// The address it was to have.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("starting {what}: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// What the system said.
        source: io::Error,
    },
    /// `Zk` is not a ZooKeeper URL.
    #[error("config: Zk: {0}")]
    Zk(#[from] crate::mesos::zk::ZkUrlError),
    /// The masters cannot be asked as configured (TLS or credential files).
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// `LeaderElection` cannot start (its URL, or DNS off: standbys transfer over DNS).
    #[error("config: LeaderElection: {0}")]
    Election(String),
}

/// A started server.
pub struct Running {
    /// Where DNS is served (UDP and TCP), when `DnsOn`.
    pub dns: Option<SocketAddr>,
    /// Where HTTP is served, when `HttpOn`.
    pub http: Option<SocketAddr>,
    /// Counters and health, as `/metrics` and `/ready` read them.
    pub status: Arc<Status>,
    stop: Stop,
    /// Given first at shutdown: the DNS listeners stop taking queries and answer what
    /// they hold, while the forwarder still serves them.
    intake: Stop,
    control: Sender<ControlEvent>,
    /// The DNS listener threads (UDP workers, TCP); each ends after `intake`.
    listeners: Vec<JoinHandle<()>>,
    /// The other threads; each ends after `stop`.
    threads: Vec<JoinHandle<()>>,
}

/// Binds everything `config` asks for and starts serving. A port of 0 (for tests) is
/// chosen by the kernel; [`Running`] says which.
pub fn start(config: Config) -> Result<Running, StartError> {
    let stop = Stop::new();
    let intake = Stop::new();
    let mut listeners = Vec::new();
    let shared: SharedSnapshot =
        Arc::new(arc_swap::ArcSwap::from_pointee(Snapshot::empty(&config)));
    let status = Arc::new(Status::default());
    let live = Arc::new(arc_swap::ArcSwap::from_pointee(config.clone()));
    let mut threads = Vec::new();
    // Secondary mode: NOTIFYs from the primaries reach the secondary's thread.
    let (notices_tx, notices_rx) = crossbeam_channel::bounded(16);
    let replicated = config.leader_election.clone();
    let inbox = (!config.primaries.is_empty() || replicated.is_some()).then(|| {
        Arc::new(NotifyInbox::new(
            &config,
            live.clone(),
            notices_tx,
            status.clone(),
        ))
    });
    let dns = if config.dns_on {
        Some(start_dns(
            &config,
            &live,
            &shared,
            &status,
            inbox.clone(),
            (&intake, &stop),
            (&mut listeners, &mut threads),
        )?)
    } else {
        None
    };
    let (documents_tx, documents_rx) = crossbeam_channel::bounded(16);
    let http = if config.http_on {
        let ctx = Arc::new(HttpContext {
            config: live.clone(),
            snapshot: shared.clone(),
            status: status.clone(),
            documents: Documents::new(documents_tx),
        });
        Some(start_http(&config, ctx, &stop, &mut threads)?)
    } else {
        None
    };
    let (control_tx, control_rx) = crossbeam_channel::bounded(4);
    let (notifier, notify_thread) =
        crate::notify::spawn(live.clone(), stop.clone()).map_err(|source| StartError::Thread {
            what: "the notifier",
            source,
        })?;
    threads.push(notify_thread);
    // What the records come from: a secondary's primaries, or Mesos (followed by this
    // server alone, or by the leader elected among the primaries).
    let follower = if config.primaries.is_empty() {
        let configured = config.masters.clone().unwrap_or_default();
        let masters = if config.zk.is_empty() || config.state_file.is_some() {
            Masters::fixed(configured)
        } else {
            let url = ZkUrl::parse(&config.zk)?;
            let wake = control_tx.clone();
            let on_change = move || {
                let _ = wake.try_send(ControlEvent::Refresh);
            };
            detect::spawn_zk(
                url,
                configured,
                Box::new(on_change),
                status.clone(),
                stop.clone(),
            )
        };
        if let Some(url) = replicated {
            let Some(dns) = dns else {
                return Err(StartError::Election(
                    "needs DnsOn: standbys and secondaries transfer the zone over DNS".into(),
                ));
            };
            let replica = Replica {
                config,
                masters,
                live,
                shared,
                status: status.clone(),
                wake: control_rx,
                nudge: control_tx.clone(),
                documents: documents_rx,
                notices: notices_rx,
                inbox,
                notifier,
            };
            crate::replicated::spawn(replica, &url, offered_address(dns), stop.clone())
                .map_err(StartError::Election)?
        } else {
            // `DataDirectory`: the zone kept there is served first and the lineage goes
            // on from it (read on the control thread: a large zone takes seconds).
            let loader = config.data_directory.is_some().then(|| {
                Secondary::new(
                    &config,
                    live.clone(),
                    shared.clone(),
                    status.clone(),
                    documents_rx.clone(),
                    notices_rx.clone(),
                    control_rx.clone(),
                )
            });
            let keeper_config = config.clone();
            let mut control =
                Control::new(config, masters, control_rx, documents_rx, live, shared, {
                    status.clone()
                })?;
            control.set_notifier(notifier);
            let control_stop = stop.clone();
            spawn("control", move || {
                let keeper = loader.and_then(|mut loader| {
                    loader.open_kept();
                    control.resume_kept();
                    let (zone, serial) = loader.take_kept()?;
                    Keeper::start(zone, serial, &keeper_config)
                });
                if let Some(keeper) = &keeper {
                    control.set_keeper(keeper.sender());
                }
                control.run(&control_stop);
                keeper.map(Keeper::finish);
            })?
        }
    } else {
        let mut secondary = Secondary::new(
            &config,
            live,
            shared,
            status.clone(),
            documents_rx,
            notices_rx,
            control_rx,
        );
        secondary.set_notifier(notifier);
        let secondary_stop = stop.clone();
        spawn("secondary", move || secondary.run(&secondary_stop))?
    };
    threads.push(follower);
    Ok(Running {
        dns,
        http,
        status,
        stop,
        intake,
        control: control_tx,
        listeners,
        threads,
    })
}

impl Running {
    /// The signal that stops this server (for a signal handler to give).
    pub fn stop_signal(&self) -> Stop {
        self.stop.clone()
    }

    /// Where refresh and reload requests go (SIGUSR1, SIGHUP).
    pub fn control(&self) -> Sender<ControlEvent> {
        self.control.clone()
    }

    /// Stops every thread and waits for them, at most `within`: first the DNS
    /// listeners take no new queries and answer what they hold (forwarded ones too, so
    /// the forwarder still runs); then every other thread ends. True when all ended in
    /// time.
    pub fn shutdown(self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        self.intake.stop();
        wait_until_finished(&self.listeners, deadline);
        self.stop.stop();
        wait_until_finished(&self.threads, deadline);
        let mut all = true;
        for thread in self.listeners.into_iter().chain(self.threads) {
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                all = false;
            }
        }
        all
    }
}

/// The address a primary offers in the election for transfers: its DNS address, or on
/// the wildcard its first address other than loopback (loopback when it has none).
fn offered_address(dns: SocketAddr) -> SocketAddr {
    if !dns.ip().is_unspecified() {
        return dns;
    }
    let ip = crate::control::listener_addresses(dns.ip())
        .into_iter()
        .next()
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    SocketAddr::new(ip, dns.port())
}

fn wait_until_finished(threads: &[JoinHandle<()>], deadline: Instant) {
    while Instant::now() < deadline && !threads.iter().all(JoinHandle::is_finished) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn(
    what: &'static str,
    run: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, StartError> {
    std::thread::Builder::new()
        .name(what.into())
        .spawn(run)
        .map_err(|source| StartError::Thread { what, source })
}

/// Binds the HTTP listener now (a busy port is a start-up error) and serves it.
fn start_http(
    config: &Config,
    ctx: Arc<HttpContext>,
    stop: &Stop,
    threads: &mut Vec<JoinHandle<()>>,
) -> Result<SocketAddr, StartError> {
    let wanted = SocketAddr::new(config.http_listener, config.http_port);
    let listener = std::net::TcpListener::bind(wanted)
        .and_then(|l| Ok((l.local_addr()?, l)))
        .map_err(|source| StartError::Listener {
            what: "HTTP",
            addr: wanted,
            source,
        });
    let (addr, listener) = listener?;
    let stop = stop.clone();
    threads.push(spawn("http", move || {
        if let Err(e) = crate::http::server::serve(listener, ctx, &stop) {
            tracing::error!("HTTP server stopped: {e}");
        }
    })?);
    tracing::info!(%addr, "HTTP listening");
    Ok(addr)
}

/// The DNS sockets, all bound before any thread starts, so a busy port is one clear
/// error: one UDP socket per worker (SO_REUSEPORT) and the TCP listener.
struct DnsSockets {
    addr: SocketAddr,
    dual_stack: bool,
    udp: Vec<socket2::Socket>,
    /// Listening, unless `shared`.
    tcp: socket2::Socket,
    /// Another process already serves this address and port (SO_REUSEPORT): the
    /// sockets join it only once this server can answer.
    shared: bool,
}

fn bind_dns(config: &Config, workers: usize) -> Result<DnsSockets, StartError> {
    let (mut addr, mut dual) = bind_address(config.listener, config.port);
    // Without IPv6 on the host, the wildcard falls back to IPv4 only (probed on a port
    // of the kernel's, so that the probe never joins a port another process serves).
    if dual && bound_socket(SocketAddr::new(addr.ip(), 0), Type::DGRAM, true).is_err() {
        addr = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), config.port);
        dual = false;
    }
    let failed = |what, addr| move |source| StartError::Listener { what, addr, source };
    // Port 0: the kernel picks a port for UDP, and TCP must then get the same one; if
    // TCP has it taken, try again with another.
    let attempts = if config.port == 0 { 8 } else { 1 };
    let shared = udp_port_taken(addr, dual);
    let mut last = None;
    for _ in 0..attempts {
        let first = bound_socket(addr, Type::DGRAM, dual).map_err(failed("UDP", addr))?;
        let port = first
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map_or(addr.port(), |a| a.port());
        let addr = SocketAddr::new(addr.ip(), port);
        let mut udp = vec![first];
        for _ in 1..workers {
            udp.push(bound_socket(addr, Type::DGRAM, dual).map_err(failed("UDP", addr))?);
        }
        let tcp = bound_socket(addr, Type::STREAM, dual).and_then(|t| {
            if !shared {
                t.listen(TCP_BACKLOG)?;
            }
            Ok(t)
        });
        match tcp {
            Ok(tcp) => {
                return Ok(DnsSockets {
                    addr,
                    dual_stack: dual,
                    udp,
                    tcp,
                    shared,
                });
            }
            Err(source) => {
                last = Some(StartError::Listener {
                    what: "TCP",
                    addr,
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| StartError::Listener {
        what: "TCP",
        addr,
        source: io::ErrorKind::AddrInUse.into(),
    }))
}

const TCP_BACKLOG: i32 = 1024;

/// Binds DNS, then starts the UDP workers (one per core, pinned), the TCP thread and,
/// when forwarding is on, the forwarder. The listeners end on `intake`, the forwarder
/// on `stop`.
fn start_dns(
    config: &Config,
    live: &Arc<arc_swap::ArcSwap<Config>>,
    shared: &SharedSnapshot,
    status: &Status,
    inbox: Option<Arc<NotifyInbox>>,
    (intake, stop): (&Stop, &Stop),
    (listeners, threads): (&mut Vec<JoinHandle<()>>, &mut Vec<JoinHandle<()>>),
) -> Result<SocketAddr, StartError> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let workers = config.udp_workers.unwrap_or(cores.len().max(1));
    let sockets = bind_dns(config, workers)?;
    let addr = sockets.addr;
    let wildcard = addr.ip().is_unspecified();
    let failed = |what| move |source| StartError::Listener { what, addr, source };
    let reply_size = config.edns_max_udp_size as usize;
    let mut started = Vec::with_capacity(workers);
    for (index, socket) in sockets.udp.into_iter().enumerate() {
        let mut worker =
            UdpWorker::new(index, socket, wildcard, reply_size).map_err(failed("UDP"))?;
        worker.set_config(live.clone());
        if sockets.shared {
            worker
                .join_when_ready(sockets.dual_stack)
                .map_err(failed("UDP"))?;
        }
        started.push(worker);
    }
    if sockets.shared {
        tracing::warn!(
            %addr,
            "the DNS port is already served by another process: sharing it (SO_REUSEPORT), taking queries once the first state is loaded"
        );
    }
    // Shared: the TCP socket listens (and so takes connections) once the first state is
    // loaded; this second handle on it says when.
    let listen_later = if sockets.shared {
        Some(sockets.tcp.try_clone().map_err(failed("TCP"))?)
    } else {
        None
    };
    let mut tcp = TcpServer::new(sockets.tcp.into()).map_err(failed("TCP"))?;
    tcp.set_config(live.clone());
    if let Some(inbox) = inbox {
        for worker in &mut started {
            worker.set_notify_inbox(inbox.clone());
        }
        tcp.set_notify_inbox(inbox);
    }
    if config.external_on {
        let sockets = started
            .iter()
            .map(UdpWorker::socket_clone)
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed("UDP"))?;
        let counters = Arc::new(ForwardCounters::default());
        let _ = status.listeners.forward.set(counters.clone());
        let (handle, thread) = forward::spawn(
            live.clone(),
            sockets,
            Some(tcp.reply_path()),
            counters,
            stop.clone(),
        )
        .map_err(|source| StartError::Thread {
            what: "the forwarder",
            source,
        })?;
        threads.push(thread);
        for worker in &mut started {
            worker.set_forwarder(handle.clone());
        }
        tcp.set_forwarder(handle);
    }
    let _ = status
        .listeners
        .udp
        .set(started.iter().map(|w| w.counters.clone()).collect());
    let _ = status.listeners.tcp.set(tcp.counters.clone());

    for (i, worker) in started.into_iter().enumerate() {
        let snapshot = shared.clone();
        let core = cores.get(i % cores.len().max(1)).copied();
        let stop = intake.clone();
        listeners.push(spawn("udp", move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            worker.run(snapshot, &stop);
        })?);
    }
    let snapshot = shared.clone();
    let stop = intake.clone();
    listeners.push(spawn("tcp", move || {
        if let Some(socket) = listen_later {
            if !listen_once_ready(&socket, &snapshot, &stop) {
                return;
            }
        }
        if let Err(e) = tcp.run(snapshot, &stop) {
            tracing::error!("TCP listener stopped: {e}");
        }
    })?);
    tracing::info!(%addr, workers, "DNS listening");
    Ok(addr)
}

/// Waits for the first snapshot, then makes `socket` listen; false when stopped first
/// or when `listen` fails (logged).
fn listen_once_ready(socket: &socket2::Socket, snapshot: &SharedSnapshot, stop: &Stop) -> bool {
    while !snapshot.load().ready {
        if stop.is_stopped() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match socket.listen(TCP_BACKLOG) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("TCP: listening on the shared port failed: {e}");
            false
        }
    }
}
