//! A whole new state compared with the model task by task, so that a task the model
//! already holds, unchanged, is dropped as soon as it is compared: what stays is the
//! model's slot number for it (4 bytes) rather than a second copy of the task.
//! [`StateIntake`] compares a document's tasks as they are decoded (a state document's
//! before its end says which framework each list belongs to, or `SUBSCRIBED`'s);
//! [`ComparedState::of`] compares a state already whole.

use super::{Agent, Cluster, ClusterState, Framework, Task};
use std::sync::Arc;

/// A task of the new state, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Listed {
    /// The model's task in this slot: the state lists it unchanged.
    Model(u32),
    /// The state's own copy, by its place in [`ComparedState::tasks`].
    New(u32),
}

/// A whole state, compared with the model it is to replace (see `replace`).
#[derive(Debug, Default)]
pub struct ComparedState {
    /// The leading master's UPID.
    pub leader: String,
    /// Frameworks by id, in state order.
    pub frameworks: Vec<(Box<str>, Framework)>,
    /// Agents by id, in state order.
    pub agents: Vec<(Box<str>, Agent)>,
    /// Every task, in state order.
    pub(super) listed: Vec<Listed>,
    /// The tasks the model did not hold as they are.
    pub(super) tasks: Vec<Task>,
    /// The model's count of task changes when compared: slot numbers hold only for it.
    pub(super) model_changes: u64,
}

impl ComparedState {
    /// `state`, compared with `model`.
    pub fn of(model: &Cluster, mut state: ClusterState) -> ComparedState {
        let mut compared = Comparer::new(model);
        for task in std::mem::take(&mut state.tasks) {
            compared.take(model, task);
        }
        compared.into_state(state, model.task_changes)
    }

    /// Tasks the state lists.
    pub fn task_count(&self) -> usize {
        self.listed.len()
    }

    /// Tasks the state brought that the model did not hold as they are.
    pub fn new_task_count(&self) -> usize {
        self.tasks.len()
    }
}

/// Tasks compared one at a time, in state order.
struct Comparer {
    listed: Vec<Listed>,
    tasks: Vec<Task>,
    /// Model slots some task of the state was already compared with: only the first
    /// task of a key may stand for the model's copy.
    claimed: Vec<bool>,
}

impl Comparer {
    fn new(model: &Cluster) -> Comparer {
        Comparer {
            listed: Vec::new(),
            tasks: Vec::new(),
            claimed: vec![false; model.slots.len()],
        }
    }

    /// Compares `task` under its own key (framework id, id, instance).
    fn take(&mut self, model: &Cluster, task: Task) {
        if let Some(i) = model.find(&task.framework_id, &task.id, task.instance) {
            let first = !std::mem::replace(&mut self.claimed[i as usize], true);
            if first && *model.slot_task(i) == task {
                self.listed.push(Listed::Model(i));
                return;
            }
        }
        self.listed.push(Listed::New(self.tasks.len() as u32));
        self.tasks.push(task);
    }

    /// The state compared: `rest` is all of it but its tasks.
    fn into_state(self, rest: ClusterState, model_changes: u64) -> ComparedState {
        ComparedState {
            leader: rest.leader,
            frameworks: rest.frameworks,
            agents: rest.agents,
            listed: self.listed,
            tasks: self.tasks,
            model_changes,
        }
    }
}

/// A document's tasks compared with the model as they are decoded, list by list in
/// document order. Until the document ends, a task's framework is taken from its own
/// `framework_id` field and its instance as 0; for a state document, which lists tasks
/// under their frameworks, that is a guess [`StateIntake::finish`] checks for every
/// task it let be dropped.
pub struct StateIntake {
    compared: Comparer,
    /// Where each list's tasks start in `listed`: (list, first entry).
    lists: Vec<(usize, usize)>,
    model_changes: u64,
}

/// Which framework each task of a document compared by [`StateIntake`] belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFrameworks {
    /// The framework key of each task list (a state document's lists sit in their
    /// frameworks; `None` for a list outside them). The n-th repeat of a task id within
    /// a framework is its instance n.
    ByList(Vec<Option<Arc<str>>>),
    /// The one each task names (the operator API's `SUBSCRIBED`, whose one list holds
    /// every task): what the intake took is the truth, every instance 0.
    Named,
}

/// A guess [`StateIntake`] made did not hold (the document's tasks name a framework
/// other than the one listing them, or the model changed meanwhile): the document must
/// be read again and compared whole.
#[derive(Debug, PartialEq, Eq)]
pub struct GuessFailed;

impl StateIntake {
    /// An intake comparing with `model`, which must not change until
    /// [`StateIntake::finish`].
    pub fn new(model: &Cluster) -> StateIntake {
        StateIntake {
            compared: Comparer::new(model),
            lists: Vec::new(),
            model_changes: model.task_changes,
        }
    }

    /// The next tasks of list `list` (lists come whole, one after another), each with
    /// the framework id it names itself and instance 0.
    pub fn take(&mut self, model: &Cluster, list: usize, tasks: Vec<Task>) {
        if model.task_changes != self.model_changes {
            return; // `finish` fails.
        }
        if self.lists.last().is_none_or(|&(l, _)| l != list) {
            self.lists.push((list, self.compared.listed.len()));
        }
        for task in tasks {
            self.compared.take(model, task);
        }
    }

    /// The whole state: `rest` is all of it but its tasks, `frameworks` says whose each
    /// task is. Each task gets its framework and instance; a task that was dropped for
    /// the model's copy must have had exactly these.
    pub fn finish(
        self,
        model: &Cluster,
        rest: ClusterState,
        frameworks: &TaskFrameworks,
    ) -> Result<ComparedState, GuessFailed> {
        if model.task_changes != self.model_changes {
            return Err(GuessFailed);
        }
        let mut compared = self.compared;
        let (listed, tasks) = (&compared.listed, &mut compared.tasks);
        // Named: what was taken is the truth.
        if let TaskFrameworks::ByList(keys) = frameworks {
            for (n, &(list, start)) in self.lists.iter().enumerate() {
                let end = self.lists.get(n + 1).map_or(listed.len(), |&(_, s)| s);
                let Some(key) = keys.get(list).cloned().flatten() else {
                    return Err(GuessFailed);
                };
                let entries = &listed[start..end];
                let id = |entry: &Listed| match *entry {
                    Listed::Model(i) => &*model.slot_task(i).id,
                    Listed::New(i) => &*tasks[i as usize].id,
                };
                let instances = super::repeat_numbers(entries.iter().map(id));
                for (entry, instance) in entries.iter().zip(instances) {
                    match *entry {
                        Listed::Model(i) => {
                            let held = model.slot_task(i);
                            if *held.framework_id != *key || held.instance != instance {
                                return Err(GuessFailed);
                            }
                        }
                        Listed::New(i) => {
                            let task = &mut tasks[i as usize];
                            task.framework_id = key.clone();
                            task.instance = instance;
                        }
                    }
                }
            }
        }
        Ok(compared.into_state(rest, self.model_changes))
    }
}

/// Checks, for a test, that a document taken as it is decoded (`streamed`, against a
/// model) makes the model the whole document makes (`whole`), for `text` and `changed`
/// (a few tasks changed, gone or repeated) into an empty model and into each other's.
#[cfg(test)]
pub(crate) fn assert_streamed_makes_whole_model(
    streamed: impl Fn(&Cluster, &[u8]) -> Cluster,
    whole: impl Fn(&[u8]) -> Cluster,
    text: &[u8],
    changed: &[u8],
) {
    let same =
        |a: &Cluster, b: &Cluster| format!("{:?}", a.to_state()) == format!("{:?}", b.to_state());
    assert!(same(&streamed(&Cluster::default(), text), &whole(text)));
    assert!(same(&streamed(&whole(text), changed), &whole(changed)));
    assert!(same(&streamed(&whole(changed), text), &whole(text)));
    assert!(same(&streamed(&whole(text), text), &whole(text)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Change, HashMap};

    fn task(framework: &str, id: &str, name: &str) -> Task {
        Task {
            id: id.into(),
            name: name.into(),
            framework_id: framework.into(),
            agent_id: "a1".into(),
            running: true,
            ..Task::default()
        }
    }

    fn frameworks() -> Vec<(Box<str>, Framework)> {
        vec![
            ("f1".into(), Framework::default()),
            ("f2".into(), Framework::default()),
        ]
    }

    fn model(tasks: Vec<Task>) -> Cluster {
        let state = ClusterState {
            frameworks: frameworks(),
            tasks,
            ..ClusterState::default()
        };
        Cluster::from_state(state, vec![], vec![])
    }

    /// The document but its tasks.
    fn rest() -> ClusterState {
        ClusterState {
            frameworks: frameworks(),
            ..ClusterState::default()
        }
    }

    fn list_keys() -> Vec<Option<Arc<str>>> {
        vec![Some("f1".into()), Some("f2".into())]
    }

    fn keys() -> TaskFrameworks {
        TaskFrameworks::ByList(list_keys())
    }

    /// What `from_state` makes of the document's tasks, listed under their frameworks.
    fn whole(lists: &[(usize, Vec<Task>)]) -> Cluster {
        let mut tasks = Vec::new();
        for (list, list_tasks) in lists {
            let key = list_keys()[*list].clone().unwrap(); // ok: test
            let mut repeats: HashMap<Box<str>, u32> = HashMap::default();
            for t in list_tasks {
                let mut t = t.clone();
                let n = repeats.entry(t.id.clone()).or_insert(0);
                t.instance = *n;
                *n += 1;
                t.framework_id = key.clone();
                tasks.push(t);
            }
        }
        model(tasks)
    }

    fn intake(model: &Cluster, lists: &[(usize, Vec<Task>)]) -> Result<Cluster, GuessFailed> {
        let mut intake = StateIntake::new(model);
        for (list, tasks) in lists {
            // In two batches, as the decoder hands them over.
            let (a, b) = tasks.split_at(tasks.len() / 2);
            intake.take(model, *list, a.to_vec());
            intake.take(model, *list, b.to_vec());
        }
        let state = intake.finish(model, rest(), &keys())?;
        let mut replaced = model.clone();
        replaced.replace(state, vec![], vec![]);
        Ok(replaced)
    }

    fn same(a: &Cluster, b: &Cluster) -> bool {
        format!("{:?}", a.to_state()) == format!("{:?}", b.to_state())
    }

    #[test]
    fn a_document_compared_as_it_comes_makes_the_model_a_whole_one_makes() {
        let old = model(vec![
            task("f1", "t1", "web"),
            task("f1", "t2", "web"),
            task("f2", "t3", "db"),
        ]);
        // t1 unchanged, t2 renamed, t3 gone, t4 new and listed twice, t5 without its
        // own framework field.
        let lists = vec![
            (
                0,
                vec![
                    task("f1", "t1", "web"),
                    task("f1", "t2", "api"),
                    task("f1", "t4", "cache"),
                    task("f1", "t4", "cache"),
                ],
            ),
            (1, vec![task("", "t5", "db")]),
        ];
        let replaced = intake(&old, &lists).unwrap(); // ok: test
        let expected = whole(&lists);
        assert!(same(&replaced, &expected), "{:?}", replaced.to_state());
        // The unchanged task was dropped for the model's copy, the rest kept.
        let mut counting = StateIntake::new(&old);
        for (list, tasks) in &lists {
            counting.take(&old, *list, tasks.clone());
        }
        let state = counting.finish(&old, rest(), &keys()).unwrap(); // ok: test
        assert_eq!((state.task_count(), state.new_task_count()), (5, 4));
    }

    #[test]
    fn a_task_naming_another_framework_than_its_list_asks_for_the_whole_document() {
        let old = model(vec![task("f1", "t1", "web")]);
        // Listed under f2, the task names f1, and equals the model's f1 task.
        let lists = vec![(1, vec![task("f1", "t1", "web")])];
        assert_eq!(intake(&old, &lists).err(), Some(GuessFailed));
        // A list outside the frameworks, the same.
        let mut outside = StateIntake::new(&old);
        outside.take(&old, 5, vec![task("f1", "t1", "web")]);
        let finished = outside.finish(&old, rest(), &keys());
        assert_eq!(finished.err(), Some(GuessFailed));
    }

    #[test]
    fn a_model_changed_meanwhile_asks_for_the_whole_document() {
        let mut old = model(vec![task("f1", "t1", "web")]);
        let mut intake = StateIntake::new(&old);
        intake.take(&old, 0, vec![task("f1", "t1", "web")]);
        old.apply(Change::TaskAdded(task("f1", "t9", "web")));
        let finished = intake.finish(&old, rest(), &keys());
        assert_eq!(finished.err(), Some(GuessFailed));
    }

    #[test]
    fn a_repeat_of_an_unchanged_task_is_its_next_instance() {
        let old = whole(&[(0, vec![task("f1", "t1", "web"), task("f1", "t1", "web")])]);
        let lists = vec![(0, vec![task("f1", "t1", "web"), task("f1", "t1", "web")])];
        let replaced = intake(&old, &lists).unwrap(); // ok: test
        assert!(same(&replaced, &whole(&lists)));
        assert_eq!(replaced.task_count(), 2);
    }

    #[test]
    fn tasks_naming_their_frameworks_are_taken_as_they_are_named() {
        let old = model(vec![
            task("f1", "t1", "web"),
            task("f2", "t2", "db"),
            task("f2", "t3", "db"),
        ]);
        // One list of every framework's tasks (SUBSCRIBED): t1 unchanged, t2 renamed,
        // t3 gone, t4 new and listed twice.
        let tasks = vec![
            task("f1", "t1", "web"),
            task("f2", "t2", "cache"),
            task("f1", "t4", "api"),
            task("f1", "t4", "api2"),
        ];
        let mut intake = StateIntake::new(&old);
        intake.take(&old, 0, tasks[..1].to_vec());
        intake.take(&old, 0, tasks[1..].to_vec());
        let state = intake.finish(&old, rest(), &TaskFrameworks::Named).unwrap(); // ok: test
        assert_eq!((state.task_count(), state.new_task_count()), (4, 3));
        let mut replaced = old.clone();
        replaced.replace(state, vec![], vec![]);
        let whole = ClusterState { tasks, ..rest() };
        let expected = Cluster::from_state(whole, vec![], vec![]);
        assert!(same(&replaced, &expected), "{:?}", replaced.to_state());
        // A model changed meanwhile fails it as it fails a guess.
        let mut changed = old.clone();
        let intake = StateIntake::new(&changed);
        changed.apply(Change::TaskAdded(task("f1", "t9", "web")));
        let finished = intake.finish(&changed, rest(), &TaskFrameworks::Named);
        assert_eq!(finished.err(), Some(GuessFailed));
    }
}
