//! A drop-in replacement for Mesos-DNS: it follows the Mesos masters, derives the names
//! Mesos-DNS derives and serves them over DNS, from a precomputed snapshot.
//!
//! The modules, from the leaves up (each uses only those of its own layer or above; the
//! table in ARCHITECTURE.md is the one `scripts/module-graph` checks):
//!
//! - leaves: [`names`] (label and `host:port` rules), `dns` (the wire format),
//!   `counters`, [`sockets`] (binding, the batched socket calls, quiescing), [`stop`];
//! - `status` (what the process reports about itself);
//! - [`config`] (config.json), [`flags`];
//! - [`cluster`] (the model of frameworks, agents and tasks), [`records`] (the names of
//!   each item, and the `/v1` documents);
//! - [`mesos`] (reading the masters: the stream, polls, ZooKeeper);
//! - [`snapshot`] (the answer table, its deltas and the served history), [`answer`] (one
//!   reply from it), `transfer` (AXFR and IXFR messages);
//! - `forward` (names outside the domain), `notify` (NOTIFY sent to secondaries, and the
//!   inbox of NOTIFYs a secondary takes), [`election`] (leader election among primaries
//!   through ZooKeeper);
//! - `server` (the UDP and TCP listeners), [`control`] (the model → the snapshot),
//!   [`http`] (the `/v1` API, metrics, probes);
//! - `secondary` (secondary mode: the zone from primaries by IXFR and AXFR);
//! - `replicated` (a primary under `LeaderElection`: leader or standby), [`app`]: the
//!   whole server, started and stopped as one.
//!
//! `synth` makes synthetic clusters for the benchmarks and tools; it is not an API.
//! Comments cite the behaviour of Mesos-DNS as `docs/spec/mesos-dns-behavior.md §N`.

#![warn(unreachable_pub, missing_docs)]

mod allocator;
pub mod answer;
pub mod app;
pub mod cluster;
pub mod config;
pub mod control;
mod counters;
mod dns;
pub mod election;
pub mod flags;
#[doc(hidden)]
pub mod forward;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod mesos;
pub mod names;
mod notify;
pub mod records;
mod replicated;
mod secondary;
mod server;
pub mod snapshot;
pub mod sockets;
mod status;
pub mod stop;
#[doc(hidden)]
pub mod synth;
mod transfer;
