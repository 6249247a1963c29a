//! Writes what the dnsperf harness needs from a state file: the zone as a master file for
//! Knot DNS (same records this server publishes) and a query mix for dnsperf.
//! `perf_inputs STATE.json OUT_DIR` → OUT_DIR/mesos.zone, OUT_DIR/queries.txt
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a tool for the perf harness

use mesos_dns::mesos::state::State;
use mesos_dns::synth::{benchmark_config, generate_records};
use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let (state, out) = (
        args.next().expect("STATE.json"),
        args.next().expect("OUT_DIR"),
    );
    let config = benchmark_config();
    let state = State::from_reader(std::fs::File::open(&state).unwrap()).unwrap();
    let (set, _) = generate_records(&config, &state);
    drop(state);

    let out = std::path::Path::new(&out);
    let mut zone = std::io::BufWriter::new(std::fs::File::create(out.join("mesos.zone")).unwrap());
    writeln!(zone, "$ORIGIN mesos.\n$TTL {}", config.ttl).unwrap();
    writeln!(
        zone,
        "@ SOA {} {} 1 {} {} {} {}",
        config.soa_mname,
        config.soa_rname,
        config.soa_refresh,
        config.soa_retry,
        config.soa_expire,
        config.soa_minttl
    )
    .unwrap();
    writeln!(zone, "@ NS {}", config.soa_mname).unwrap();
    let (mut a_names, mut srv_names) = (Vec::new(), Vec::new());
    for (_, name, records) in set.iter() {
        for ip in &records.a {
            writeln!(zone, "{name} A {ip}").unwrap();
        }
        for ip in &records.aaaa {
            writeln!(zone, "{name} AAAA {ip}").unwrap();
        }
        for (target, port) in &records.srv {
            writeln!(
                zone,
                "{name} SRV 0 {} {port} {}",
                config.srv_record_default_weight,
                set.name(*target)
            )
            .unwrap();
        }
        if !records.a.is_empty() {
            a_names.push(name.to_string());
        }
        if !records.srv.is_empty() {
            srv_names.push(name.to_string());
        }
    }
    zone.flush().unwrap();

    // 10,000 queries: 6 A, 3 SRV, 1 NXDOMAIN in every 10, spread over the whole zone.
    let mut queries =
        std::io::BufWriter::new(std::fs::File::create(out.join("queries.txt")).unwrap());
    for i in 0..10_000usize {
        match i % 10 {
            0..=5 => writeln!(queries, "{} A", a_names[(i * 7919) % a_names.len()]),
            6..=8 => writeln!(
                queries,
                "{} SRV",
                srv_names[(i * 104_729) % srv_names.len()]
            ),
            _ => writeln!(queries, "nx-{i}.marathon.mesos. A"),
        }
        .unwrap();
    }
    queries.flush().unwrap();
}
