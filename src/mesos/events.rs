//! What a source hands the control thread.

use super::state::StateRest;
use crate::cluster::{Change, ClusterState, Task};

/// One message from a source of cluster state.
#[derive(Debug)]
pub(crate) enum SourceEvent {
    /// A whole state: the snapshot that opens a subscription, or a polled document read
    /// whole.
    State(ClusterState),
    /// A polled document begins: its tasks follow as they are decoded
    /// ([`SourceEvent::StateTasks`]), then its rest ([`SourceEvent::StateEnds`]).
    /// Whatever else comes first ends the document untaken.
    StateBegins,
    /// The next tasks of the document's task list `list`, in document order.
    StateTasks { list: usize, tasks: Vec<Task> },
    /// The document's end: all of it but its tasks.
    StateEnds(Box<StateRest>),
    /// The document could not be read to its end: its tasks are not to be taken.
    StateAbandoned,
    /// A poll read the same document as last time.
    Unchanged,
    /// Changes from the operator API stream, in order.
    Changes(Vec<Change>),
}
