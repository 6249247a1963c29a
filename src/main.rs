//! `mesos-dns`: reads flags and config.json, starts the server ([`mesos_dns::app`]) and
//! turns signals into its controls: SIGUSR1 refreshes, SIGHUP reloads the
//! configuration, SIGTERM and SIGINT stop it gracefully.

use mesos_dns::config::{Config, Environment, Spelled};
use mesos_dns::control::ControlEvent;
use mesos_dns::flags::{Flags, FlagsError, USAGE};
use mesos_dns::stop::Stop;
use std::process::ExitCode;
use std::time::Duration;

/// jemalloc, with its background thread returning freed pages to the system: a refresh
/// at 100k tasks frees a few hundred MB (the decoded state) that glibc's malloc and
/// mimalloc kept resident while the process idles (perf/README.md, "Memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How long a stopping server may take: the threads are told at once and finish what
/// they hold; whatever still runs after this ends with the process.
const SHUTDOWN: Duration = Duration::from_millis(1500);

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
    let summary = config_summary(&config);
    let running = match mesos_dns::app::start(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mesos-dns: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = running.stop_signal();
    if let Err(e) = watch_signals(running.control(), stop.clone()) {
        eprintln!("mesos-dns: signals: {e}");
        return ExitCode::from(1);
    }
    let off = || "off".to_string();
    tracing::info!(
        target: START_TARGET,
        "mesos-dns {} serving {}.: DNS {}, HTTP {}, state from {}",
        env!("CARGO_PKG_VERSION"),
        summary.0,
        running.dns.map_or_else(off, |a| a.to_string()),
        running.http.map_or_else(off, |a| a.to_string()),
        summary.1,
    );
    // Sleeps until a signal gives the stop (the channel then disconnects).
    let _ = stop.receiver().recv();
    if running.shutdown(SHUTDOWN) {
        tracing::info!(target: START_TARGET, "mesos-dns stopped");
    } else {
        tracing::warn!("mesos-dns stopped with threads still busy");
    }
    ExitCode::SUCCESS
}

/// The one line logged at start whatever the verbosity, so a newcomer sees it is up.
const START_TARGET: &str = "mesos_dns::start";

/// The domain and where the state comes from, for the start line.
fn config_summary(config: &Config) -> (String, String) {
    if !config.primaries.is_empty() {
        let primaries: Vec<String> = config.primaries.iter().map(|p| p.to_string()).collect();
        return (
            config.domain.clone(),
            format!("zone transfers from {} (secondary)", primaries.join(",")),
        );
    }
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
    let source = match &config.leader_election {
        Some(url) => {
            format!("{source} when elected leader at {url} (else a standby of the leader)")
        }
        None => source,
    };
    (config.domain.clone(), source)
}

/// SIGUSR1: refresh now. SIGHUP: re-read config.json. SIGTERM, SIGINT: stop.
fn watch_signals(
    control: crossbeam_channel::Sender<ControlEvent>,
    stop: Stop,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGUSR1, SIGHUP, SIGTERM, SIGINT])?;
    let handle = signals.handle();
    stop.on_stop(move || handle.close());
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let event = match signal {
                    SIGHUP => ControlEvent::Reload,
                    SIGUSR1 => ControlEvent::Refresh,
                    _ => {
                        stop.stop();
                        return;
                    }
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
