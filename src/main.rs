//! `mesos-dns`: reads flags and config.json, binds the listeners, starts the workers and
//! runs the refresh loop.

use mesos_dns::config::{Config, Environment};
use mesos_dns::control::{Control, ControlEvent};
use mesos_dns::flags::{Flags, FlagsError, USAGE};
use mesos_dns::forward::{self, ForwardCounters};
use mesos_dns::http::HttpContext;
use mesos_dns::mesos::detect::{self, Masters};
use mesos_dns::mesos::zk::ZkUrl;
use mesos_dns::server::tcp::TcpServer;
use mesos_dns::server::udp::UdpWorker;
use mesos_dns::server::{SharedSnapshot, bind_address, bound_socket};
use mesos_dns::snapshot::Snapshot;
use mesos_dns::status::Status;
use socket2::Type;
use std::process::ExitCode;
use std::sync::Arc;

/// jemalloc, with its background thread returning freed pages to the system: a refresh
/// at 100k tasks frees a few hundred MB (the decoded state) that glibc's malloc and
/// mimalloc kept resident while the process idles (perf/README.md, "Memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(FlagsError::Help) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(FlagsError::Bad(msg)) => {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if flags.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    init_logging(flags.verbosity);
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!("jemalloc background thread not started: {e}");
    }
    let config = match Config::load(&flags.config, &Environment::system()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesos-dns: config: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = mesos_dns::stop::Stop::new();
    let shared: SharedSnapshot =
        Arc::new(arc_swap::ArcSwap::from_pointee(Snapshot::empty(&config)));
    let status = Arc::new(Status::default());
    let live = Arc::new(arc_swap::ArcSwap::from_pointee(config.clone()));
    let mut dns_addr = None;
    if config.dns_on {
        match start_dns(&config, &live, &shared, &status) {
            Ok(addr) => dns_addr = Some(addr),
            Err(e) => {
                eprintln!("mesos-dns: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let (documents_tx, documents_rx) = crossbeam_channel::bounded(16);
    let mut http_addr = None;
    if config.http_on {
        let documents = mesos_dns::http::Documents::new(documents_tx);
        match start_http(&config, &live, &shared, &status, documents, stop.clone()) {
            Ok(addr) => http_addr = Some(addr),
            Err(e) => {
                eprintln!("mesos-dns: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let (wake_tx, wake_rx) = crossbeam_channel::bounded(4);
    let wake_tx_signals = wake_tx.clone();
    let configured = config.masters.clone().unwrap_or_default();
    let masters = if config.zk.is_empty() || config.state_file.is_some() {
        Masters::fixed(configured)
    } else {
        match ZkUrl::parse(&config.zk) {
            Ok(url) => {
                let wake = move || {
                    let _ = wake_tx.try_send(ControlEvent::Refresh);
                };
                detect::spawn_zk(url, configured, Box::new(wake), status.clone())
            }
            Err(e) => {
                eprintln!("mesos-dns: config: Zk: {e}");
                return ExitCode::from(1);
            }
        }
    };
    if let Err(e) = watch_signals(wake_tx_signals) {
        eprintln!("mesos-dns: signals: {e}");
        return ExitCode::from(1);
    }
    let started = start_line(&config, dns_addr, http_addr);
    match Control::new(config, masters, wake_rx, documents_rx, live, shared, status) {
        Ok(control) => {
            tracing::info!(target: START_TARGET, "{started}");
            control.run()
        }
        Err(e) => {
            eprintln!("mesos-dns: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// The one line logged at start whatever the verbosity, so a newcomer sees it is up.
const START_TARGET: &str = "mesos_dns::start";

fn start_line(
    config: &Config,
    dns: Option<std::net::SocketAddr>,
    http: Option<std::net::SocketAddr>,
) -> String {
    let off = || "off".to_string();
    let source = match (&config.state_file, config.zk.is_empty()) {
        (Some(path), _) => format!("the file {}", path.display()),
        (None, false) => format!(
            "ZooKeeper {} (StateAPI {})",
            config.zk,
            config.state_api.name()
        ),
        (None, true) => format!(
            "masters {} (StateAPI {})",
            config.masters.clone().unwrap_or_default().join(","),
            config.state_api.name()
        ),
    };
    format!(
        "mesos-dns {} serving {}.: DNS {}, HTTP {}, state from {source}",
        env!("CARGO_PKG_VERSION"),
        config.domain,
        dns.map_or_else(off, |a| a.to_string()),
        http.map_or_else(off, |a| a.to_string()),
    )
}

/// Binds the HTTP listener now (a busy port is a start-up error) and serves it on its
/// own threads.
fn start_http(
    config: &Config,
    live: &Arc<arc_swap::ArcSwap<Config>>,
    shared: &SharedSnapshot,
    status: &Arc<Status>,
    documents: mesos_dns::http::Documents,
    stop: mesos_dns::stop::Stop,
) -> Result<std::net::SocketAddr, String> {
    let addr = std::net::SocketAddr::new(config.http_listener, config.http_port);
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("HTTP {addr}: {e}"))?;
    let ctx = Arc::new(HttpContext {
        config: live.clone(),
        snapshot: shared.clone(),
        status: status.clone(),
        documents,
    });
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            if let Err(e) = mesos_dns::http::server::serve(listener, ctx, &stop) {
                tracing::error!("HTTP server stopped: {e}");
            }
        })
        .map_err(|e| format!("starting HTTP thread: {e}"))?;
    tracing::info!(%addr, "HTTP listening");
    Ok(addr)
}

/// SIGUSR1: refresh now. SIGHUP: re-read config.json.
fn watch_signals(control: crossbeam_channel::Sender<ControlEvent>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGUSR1, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let event = if signal == SIGHUP {
                    ControlEvent::Reload
                } else {
                    ControlEvent::Refresh
                };
                let _ = control.send(event);
            }
        })?;
    Ok(())
}

fn init_logging(verbosity: i32) {
    // The ZooKeeper client logs every ping at debug: its debug only from -v 3 on.
    let (level, zookeeper) = match verbosity {
        i32::MIN..=0 => ("warn", "warn"),
        1 => ("info", "info"),
        2 => ("debug", "info"),
        _ => ("trace", "trace"),
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{level},zookeeper_client={zookeeper},{START_TARGET}=info"
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Binds every DNS socket before any thread starts, so a busy port is one clear error.
fn start_dns(
    config: &Config,
    live: &Arc<arc_swap::ArcSwap<Config>>,
    shared: &SharedSnapshot,
    status: &Status,
) -> Result<std::net::SocketAddr, String> {
    let (mut addr, mut dual) = bind_address(config.listener, config.port);
    // Without IPv6 on the host, the wildcard falls back to IPv4 only.
    if dual && bound_socket(addr, Type::DGRAM, true).is_err() {
        addr = std::net::SocketAddr::new(config.listener, config.port);
        dual = false;
    }
    let wildcard = addr.ip().is_unspecified();
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let workers = config.udp_workers.unwrap_or(cores.len().max(1));
    let reply_size = config.edns_max_udp_size as usize;
    let mut started = Vec::with_capacity(workers);
    for index in 0..workers {
        let socket =
            bound_socket(addr, Type::DGRAM, dual).map_err(|e| format!("UDP {addr}: {e}"))?;
        started.push(
            UdpWorker::new(index, socket, wildcard, reply_size)
                .map_err(|e| format!("UDP {addr}: {e}"))?,
        );
    }
    let tcp = bound_socket(addr, Type::STREAM, dual).map_err(|e| format!("TCP {addr}: {e}"))?;
    tcp.listen(1024).map_err(|e| format!("TCP {addr}: {e}"))?;
    let mut tcp = TcpServer::new(tcp.into()).map_err(|e| format!("TCP {addr}: {e}"))?;
    if config.external_on {
        let sockets = started
            .iter()
            .map(UdpWorker::socket_clone)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("UDP {addr}: {e}"))?;
        let counters = Arc::new(ForwardCounters::default());
        let _ = status.forward.set(counters.clone());
        let handle = forward::spawn(live.clone(), sockets, Some(tcp.reply_path()), counters)
            .map_err(|e| format!("starting the forwarder: {e}"))?;
        for worker in &mut started {
            worker.set_forwarder(handle.clone());
        }
        tcp.set_forwarder(handle);
    }
    let _ = status
        .udp
        .set(started.iter().map(|w| w.counters.clone()).collect());
    let _ = status.tcp.set(tcp.counters.clone());

    for (i, worker) in started.into_iter().enumerate() {
        let snapshot = shared.clone();
        let core = cores.get(i % cores.len().max(1)).copied();
        std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                worker.run(snapshot);
            })
            .map_err(|e| format!("starting UDP worker: {e}"))?;
    }
    let snapshot = shared.clone();
    std::thread::Builder::new()
        .name("tcp".into())
        .spawn(move || {
            if let Err(e) = tcp.run(snapshot) {
                tracing::error!("TCP listener stopped: {e}");
            }
        })
        .map_err(|e| format!("starting TCP thread: {e}"))?;
    tracing::info!(%addr, workers, "DNS listening");
    Ok(addr)
}
