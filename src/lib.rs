//! A drop-in replacement for Mesos-DNS: it follows the Mesos masters, derives the names
//! Mesos-DNS derives and serves them over DNS, from a precomputed snapshot.
//!
//! The modules, from the leaves up (each uses only those above it in this list):
//!
//! - leaves: [`names`] (label and `host:port` rules), [`dns`] (the wire format),
//!   [`counters`], [`sockets`] (binding and the batched socket calls), [`stop`], `status`;
//! - [`config`] (config.json), [`flags`];
//! - [`cluster`] (the model of frameworks, agents and tasks), [`mesos`] (reading the
//!   masters: the stream, polls, ZooKeeper), [`records`] (the names of each item);
//! - [`snapshot`] (the answer table and its deltas), [`answer`] (one reply from it);
//! - `forward` (names outside the domain), `server` (the UDP and TCP listeners),
//!   [`control`] (the model → the snapshot), [`http`] (the `/v1` API, metrics, probes);
//! - [`app`]: the whole server, started and stopped as one.
//!
//! `synth` makes synthetic clusters for the benchmarks and tools; it is not an API.

#![warn(unreachable_pub, missing_docs)]

pub mod answer;
pub mod app;
pub mod cluster;
pub mod config;
pub mod control;
mod counters;
mod dns;
pub mod flags;
#[doc(hidden)]
pub mod forward;
pub mod http;
pub mod mesos;
pub mod names;
mod notify;
pub mod records;
mod secondary;
mod server;
pub mod snapshot;
pub mod sockets;
mod status;
pub mod stop;
#[doc(hidden)]
pub mod synth;
mod transfer;
