//! A drop-in replacement for Mesos-DNS: it reads the Mesos master's state, derives the
//! names Mesos-DNS derives and serves them over DNS.
//!
//! The data flow: [`mesos::state::State`] (decoded from the master) →
//! [`records::generate`] → [`records::RecordSet`] (names → A / AAAA / SRV, plus the
//! enumeration data) → the DNS responder and the HTTP API.

pub mod app;
pub mod cluster;
pub mod config;
pub mod control;
pub mod dns;
pub mod flags;
pub mod forward;
pub mod http;
pub mod mesos;
pub mod records;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod stop;
pub mod synth;
