//! The HTTP side: the Mesos-DNS `/v1` API, `/metrics`, `/health` and `/ready`.
//! A small blocking HTTP/1.1 server of our own, because it needs what general servers
//! leave out: bounded request heads, a cap on connections, and timeouts for slow clients.

pub mod api;
pub mod metrics;
pub mod server;

use crate::config::Config;
use crate::server::SharedSnapshot;
use crate::status::Status;
use std::sync::Arc;

/// Everything a request handler reads.
pub struct HttpContext {
    /// The configuration in force (SIGHUP may replace it).
    pub config: Arc<arc_swap::ArcSwap<Config>>,
    pub snapshot: SharedSnapshot,
    pub status: Arc<Status>,
}
