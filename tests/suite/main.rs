//! The integration tests, in one binary: one link instead of one per file, and one pool
//! of test threads across every file (each test picks its own ports and directories, so
//! they run side by side). `tests/forward_cache_memory.rs` stays a binary of its own: it
//! measures the allocator, which other tests would disturb.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

#[path = "../common/mod.rs"]
mod common;

mod answer_options;
mod config;
mod control_masters;
mod control_zookeeper;
mod delta_engine;
mod dns_protocol;
mod dns_rows;
mod election;
mod enumerate;
mod forwarding;
mod generation;
mod hostile_state;
mod http_api;
mod idle;
mod replicated;
mod reverse_consistency;
mod same_names;
mod secondary;
mod shutdown;
mod signals;
mod subscribe;
mod transfer;
