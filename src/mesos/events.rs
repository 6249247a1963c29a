//! What a source hands the control thread.

use crate::cluster::{Change, ClusterState};

/// One message from a source of cluster state.
#[derive(Debug)]
pub(crate) enum SourceEvent {
    /// A whole state: a polled document, or the snapshot that opens a subscription.
    State(ClusterState),
    /// A poll read the same document as last time.
    Unchanged,
    /// Changes from the operator API stream, in order.
    Changes(Vec<Change>),
}
