//! What a source hands the control thread.

use crate::cluster::{Change, ClusterState, Task, TaskFrameworks};
use crossbeam_channel::Sender;
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

/// Hands the control thread one document after another as they are decoded
/// (`StateBegins`, `StateTasks`…, then `StateEnds` or `StateAbandoned`), so that the
/// decoded document is never held whole: a poll's (each master a fetch tries is a new
/// document) and a subscription's `SUBSCRIBED`.
pub(crate) struct DocumentSender<'a> {
    events: &'a Sender<SourceEvent>,
    /// The document being read.
    document: DocumentId,
    /// Whether it began and has not ended: its tasks may have gone ahead.
    open: bool,
}

impl<'a> DocumentSender<'a> {
    pub(crate) fn new(events: &'a Sender<SourceEvent>) -> DocumentSender<'a> {
        DocumentSender {
            events,
            document: DocumentId::next(),
            open: false,
        }
    }

    /// A new document begins (one still open is replaced by it at the control thread).
    pub(crate) fn begin(&mut self) {
        self.document = DocumentId::next();
        self.open = true;
        let _ = self.events.send(SourceEvent::StateBegins(self.document));
    }

    /// The next tasks of the document's list `list`.
    pub(crate) fn tasks(&mut self, list: usize, tasks: Vec<Task>) {
        // A control thread gone is noticed when the document's end is sent.
        let _ = self.events.send(SourceEvent::StateTasks {
            document: self.document,
            list,
            tasks,
        });
    }

    /// Whether a document began and has not ended.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// The open document's end, to send: all of it but its tasks.
    pub(crate) fn end(&mut self, rest: StateRest) -> SourceEvent {
        self.open = false;
        SourceEvent::StateEnds(self.document, Box::new(rest))
    }

    /// The document begun is not to be taken (the control thread lets go of what it
    /// compared).
    pub(crate) fn abandon(&mut self) {
        if std::mem::take(&mut self.open) {
            let _ = self.events.send(SourceEvent::StateAbandoned(self.document));
        }
    }
}
