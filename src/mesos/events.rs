//! What a source hands the control thread.

use crate::cluster::{Change, ClusterState, Task, TaskFrameworks};
use std::sync::atomic::{AtomicU64, Ordering};

/// One message from a source of cluster state.
#[derive(Debug)]
pub(crate) enum SourceEvent {
    /// A whole state: a polled document or a subscription's `SUBSCRIBED` read whole
    /// (after one compared as it was decoded could not be taken).
    State(ClusterState),
    /// A document read as it is decoded begins: its tasks follow
    /// ([`SourceEvent::StateTasks`]), then its rest ([`SourceEvent::StateEnds`]) or
    /// [`SourceEvent::StateAbandoned`]. A document begun later replaces it.
    StateBegins(DocumentId),
    /// The next tasks of the document's task list `list`, in document order.
    StateTasks {
        document: DocumentId,
        list: usize,
        tasks: Vec<Task>,
    },
    /// The document's end: all of it but its tasks.
    StateEnds(DocumentId, Box<StateRest>),
    /// The document is not to be taken: it could not be read to its end, or a poll
    /// found it the same as last time.
    StateAbandoned(DocumentId),
    /// A poll read the same document as last time.
    Unchanged,
    /// Changes from the operator API stream, in order.
    Changes(Vec<Change>),
}

/// One document read as it is decoded (a polled state, or a subscription's `SUBSCRIBED`),
/// told apart from any other: a subscription's reader given up on may still be sending
/// the tasks of its own while its successor's come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DocumentId(u64);

impl DocumentId {
    /// A number no other document of this process has.
    pub(crate) fn next() -> DocumentId {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        DocumentId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A document whose tasks went elsewhere as they were decoded: the rest of it, and
/// whose each task is.
#[derive(Debug)]
pub(crate) struct StateRest {
    /// The document's state, with no tasks.
    pub without_tasks: ClusterState,
    /// Whose each task is.
    pub frameworks: TaskFrameworks,
}
