//! `mesos-dns`: reads flags and config.json, then runs the server.

/// mimalloc: the generator and the HTTP documents allocate many small strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mesos_dns::config::{Config, Environment};
use mesos_dns::flags::{Flags, FlagsError, USAGE};
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
    println!("{config:?}");
    ExitCode::SUCCESS
}
