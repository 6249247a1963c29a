//! The document (a polled state, or a subscription's `SUBSCRIBED`) whose tasks the
//! control thread compares with the model as they are decoded. Each document has its
//! own `DocumentId`: a subscription given up on while its `SUBSCRIBED` streams in may
//! still be sending tasks when its successor's begin, and only the latest document's
//! are taken.

use crate::cluster::{Cluster, StateIntake, Task};
use crate::mesos::events::DocumentId;

/// The document being taken in, if any.
#[derive(Default)]
pub(super) struct DocumentIntake {
    open: Option<(DocumentId, StateIntake)>,
}

impl DocumentIntake {
    /// `document` begins (compared with `model`); one still open is dropped.
    pub(super) fn begin(&mut self, document: DocumentId, model: &Cluster) {
        self.open = Some((document, StateIntake::new(model)));
    }

    /// The next tasks of `document`'s list `list`; dropped unless it is the open one.
    pub(super) fn take(
        &mut self,
        document: DocumentId,
        model: &Cluster,
        list: usize,
        tasks: Vec<Task>,
    ) {
        if let Some((_, intake)) = self.open.as_mut().filter(|(d, _)| *d == document) {
            intake.take(model, list, tasks);
        }
    }

    /// `document` is not to be taken (what was compared of it goes).
    pub(super) fn abandon(&mut self, document: DocumentId) {
        self.open.take_if(|(d, _)| *d == document);
    }

    /// `document` ended: what was compared of it, unless a later document replaced it.
    pub(super) fn end(&mut self, document: DocumentId) -> Option<StateIntake> {
        self.open
            .take_if(|(d, _)| *d == document)
            .map(|(_, intake)| intake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{ClusterState, TaskFrameworks};

    fn task(id: &str) -> Task {
        Task {
            id: id.into(),
            framework_id: "f".into(),
            running: true,
            ..Task::default()
        }
    }

    /// The ids of the tasks a finished intake holds.
    fn ids(model: &Cluster, intake: StateIntake) -> Vec<String> {
        let state = intake
            .finish(model, ClusterState::default(), &TaskFrameworks::Named)
            .unwrap(); // ok: test
        let mut replaced = model.clone();
        replaced.replace(state, vec![], vec![]);
        replaced.tasks().map(|t| t.id.to_string()).collect()
    }

    #[test]
    fn only_the_latest_documents_tasks_are_taken() {
        let model = Cluster::default();
        let (old, new) = (DocumentId::next(), DocumentId::next());
        let mut intake = DocumentIntake::default();
        intake.begin(old, &model);
        intake.take(old, &model, 0, vec![task("old-1")]);
        // A new subscription's document begins while the old one's reader still sends.
        intake.begin(new, &model);
        intake.take(old, &model, 0, vec![task("old-2")]);
        intake.take(new, &model, 0, vec![task("new-1")]);
        assert!(intake.end(old).is_none());
        intake.abandon(old);
        let taken = intake.end(new).expect("the latest document's intake"); // ok: test
        assert_eq!(ids(&model, taken), ["new-1"]);
        assert!(intake.end(new).is_none(), "taken once");
    }

    #[test]
    fn an_abandoned_document_is_not_taken() {
        let model = Cluster::default();
        let document = DocumentId::next();
        let mut intake = DocumentIntake::default();
        intake.begin(document, &model);
        intake.take(document, &model, 0, vec![task("t")]);
        intake.abandon(document);
        assert!(intake.end(document).is_none());
    }
}
