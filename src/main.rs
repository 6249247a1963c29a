//! `mesos-dns`: reads flags and config.json, then runs the server.

/// mimalloc: the generator and the HTTP documents allocate many small strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mesos_dns::config::{Config, Environment};
use mesos_dns::flags::{Flags, FlagsError, USAGE};
use mesos_dns::mesos::state::State;
use mesos_dns::records::enumerate::rdata_text;
use mesos_dns::records::{Inputs, generate};
use std::process::ExitCode;

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
    let config = match Config::load(&flags.config, &Environment::system()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesos-dns: config: {e}");
            return ExitCode::from(1);
        }
    };
    match print_records(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesos-dns: {e}");
            ExitCode::from(1)
        }
    }
}

/// Until the responder lands: generate once from `StateFile` and print every record.
fn print_records(config: &Config) -> Result<(), String> {
    let path = config
        .state_file
        .as_ref()
        .ok_or("only StateFile is supported by this build")?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let state = State::from_reader(file).map_err(|e| format!("{}: {e}", path.display()))?;
    let masters = config.masters.clone().unwrap_or_default();
    let listener = [config.listener];
    let (set, report) = generate(
        config,
        &state,
        Inputs {
            masters: &masters,
            listener_ips: &listener,
        },
    );
    for example in &report.examples {
        eprintln!("skipped: {example}");
    }
    for (owner, rdata) in set.insertion_log() {
        println!(
            "{}\t{}\t{}",
            set.name(*owner),
            rdata.rtype(),
            rdata_text(&set, rdata)
        );
    }
    Ok(())
}
