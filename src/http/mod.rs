//! The HTTP side: the Mesos-DNS `/v1` API, `/metrics`, `/health` and `/ready`.
//! A small blocking HTTP/1.1 server of our own, because it needs what general servers
//! leave out: bounded request heads, a cap on connections, and timeouts for slow clients.

pub(crate) mod api;
mod health;
pub(crate) mod metrics;
pub(crate) mod server;

use crate::config::Config;
use crate::records::documents::{Document, DocumentKind, DocumentRequest};
use crate::snapshot::SharedSnapshot;
use crate::status::Status;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything a request handler reads.
pub struct HttpContext {
    /// The configuration in force (SIGHUP may replace it).
    pub config: Arc<arc_swap::ArcSwap<Config>>,
    /// The snapshot served.
    pub snapshot: SharedSnapshot,
    /// Counters and health.
    pub status: Arc<Status>,
    /// The two large documents, from the control thread.
    pub documents: Documents,
}

impl HttpContext {
    /// Whether the zone served comes by transfer now: a secondary, or a standby.
    pub(crate) fn follows_primaries(&self) -> bool {
        !self.config.load().primaries.is_empty()
            || self.status.role.get() == crate::status::RoleKind::Standby
    }

    /// Whether this server may take transfers from primaries at all (a secondary, or
    /// any primary under `LeaderElection`): its transfer and NOTIFY counters are shown.
    pub(crate) fn transfers_from_primaries(&self) -> bool {
        let config = self.config.load();
        !config.primaries.is_empty() || config.leader_election.is_some()
    }
}

/// `/v1/enumerate` and `/v1/axfr`: rendered by the control thread from its model, at
/// most once per published serial.
pub struct Documents {
    requests: crossbeam_channel::Sender<DocumentRequest>,
    cached: Mutex<Vec<(DocumentKind, u32, Arc<Document>)>>,
}

/// How long a handler waits for the control thread (busy with a 100k-task state for
/// a second or two at most).
const DOCUMENT_WAIT: Duration = Duration::from_secs(30);

impl Documents {
    /// Documents asked of the control thread through `requests`.
    pub fn new(requests: crossbeam_channel::Sender<DocumentRequest>) -> Documents {
        Documents {
            requests,
            cached: Mutex::new(Vec::new()),
        }
    }

    /// The document of `kind` for the snapshot of `serial`; `None` when the control
    /// thread does not answer in time.
    pub fn get(&self, kind: DocumentKind, serial: u32) -> Option<Arc<Document>> {
        let cached = |c: &Vec<(DocumentKind, u32, Arc<Document>)>| {
            c.iter()
                .find(|(k, s, _)| *k == kind && *s == serial)
                .map(|(_, _, d)| d.clone())
        };
        if let Some(doc) = self.cached.lock().ok().and_then(|c| cached(&c)) {
            return Some(doc);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.requests.send(DocumentRequest { kind, reply }).ok()?;
        let (serial, doc) = answer.recv_timeout(DOCUMENT_WAIT).ok()?;
        if let Ok(mut c) = self.cached.lock() {
            c.retain(|(k, _, _)| *k != kind);
            c.push((kind, serial, doc.clone()));
        }
        Some(doc)
    }
}
