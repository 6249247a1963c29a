//! A whole new state (a poll, or a subscription's snapshot), compared with the model
//! (`compared`), taken into the model in place: first the items whose records may
//! differ are named, then the model is made to hold exactly the new state. No second
//! model is built beside the first.

use super::compared::Listed;
use super::{
    Agent, Cluster, ClusterState, ComparedState, Framework, HashMap, HashSet, Item, Ordered, Task,
    TaskKey,
};
use std::net::IpAddr;

impl Cluster {
    /// The items whose records may differ between the model and `state` with these
    /// cluster-wide inputs: ask before [`Cluster::replace`]. Items equal in both are left
    /// out: a task the state lists unchanged costs nothing more here.
    pub fn differences_from(
        &self,
        state: &ComparedState,
        masters: &[String],
        listener_ips: &[IpAddr],
    ) -> Vec<Item> {
        let mut items: HashSet<Item> = HashSet::default();
        if !self.has_cluster_inputs(&state.leader, masters, listener_ips) {
            items.insert(Item::Cluster);
        }
        // A later entry of a repeated id wins, as it does in the model.
        let frameworks: HashMap<&str, &Framework> =
            state.frameworks.iter().map(|(id, f)| (&**id, f)).collect();
        let agents: HashMap<&str, &Agent> = state.agents.iter().map(|(id, a)| (&**id, a)).collect();
        let changed_frameworks = changed_ids(&self.frameworks, &frameworks);
        let changed_agents = changed_ids(&self.agents, &agents);
        // A changed framework or agent changes the records of every task it has, before
        // and after (the model's tasks the state lists unchanged are among the first).
        for &id in &changed_frameworks {
            items.insert(Item::Framework(id.into()));
            items.extend(self.framework_task_keys(id).map(Item::Task));
        }
        for &id in &changed_agents {
            items.insert(Item::Agent(id.into()));
            items.extend(self.agent_task_keys(id).map(Item::Task));
        }
        let listed = self.listed_slots(&state.listed, &state.tasks);
        // A task the state brought is new or changed (or, when it was compared under
        // another key than its own, made again to no harm).
        items.extend(state.tasks.iter().map(|t| Item::Task(t.key())));
        items.extend(self.unlisted(&listed).map(|t| Item::Task(t.key())));
        items.into_iter().collect()
    }

    /// Makes the model hold exactly `state`, in its order, with these cluster-wide
    /// inputs. A task the state lists unchanged stays where it is (only its place in the
    /// order moves); the others are put in. The result is the model
    /// [`Cluster::from_state`] would build from the same state.
    ///
    /// # Panics
    /// When the model changed since `state` was compared with it (a slot number would
    /// no longer name the task compared).
    pub fn replace(
        &mut self,
        state: ComparedState,
        masters: Vec<String>,
        listener_ips: Vec<IpAddr>,
    ) {
        assert_eq!(
            state.model_changes, self.task_changes,
            "a state compared with an older model"
        );
        self.leader = state.leader;
        self.masters = masters;
        self.listener_ips = listener_ips;
        // Every place in the order is given anew, after every place given so far: a
        // place after `started` was given by this call.
        let started = self.next_seq;
        self.frameworks = self.in_order(state.frameworks);
        self.agents = self.in_order(state.agents);
        // Tasks the state no longer lists go first, so that new ones reuse their slots.
        let listed = self.listed_slots(&state.listed, &state.tasks);
        let gone: Vec<TaskKey> = self.unlisted(&listed).map(Task::key).collect();
        drop(listed);
        for key in &gone {
            self.remove_task(key);
        }
        self.reserve_tasks(state.listed.len().saturating_sub(self.task_count()));
        // The entries name the state's own tasks in their order, each once.
        let mut tasks = state.tasks.into_iter();
        for entry in state.listed {
            if let Listed::Model(i) = entry {
                // Claimed by this entry alone, and listed: still the task compared.
                self.move_to_end(i);
                continue;
            }
            let Some(task) = tasks.next() else { break };
            let held = self.find(&task.framework_id, &task.id, task.instance);
            let seq = match held {
                // An id the state lists twice: the later copy wins, in the first's place.
                Some(i) if self.slot(i).seq > started => self.slot(i).seq,
                Some(i) if *self.slot_task(i) == task => {
                    self.move_to_end(i);
                    continue;
                }
                _ => self.seq(),
            };
            if let Some(i) = held {
                self.remove_slot(i);
            }
            self.insert_task(task, seq);
        }
    }

    /// Gives the task in slot `i` the next place in the order.
    fn move_to_end(&mut self, i: u32) {
        let seq = self.seq();
        if let Some(slot) = self.slots[i as usize].as_mut() {
            slot.seq = seq;
        }
    }

    /// `list` keyed by id, each at the next place in the order.
    fn in_order<T>(&mut self, list: Vec<(Box<str>, T)>) -> HashMap<Box<str>, Ordered<T>> {
        let mut map = HashMap::default();
        map.reserve(list.len());
        for (id, value) in list {
            map.insert(
                id,
                Ordered {
                    seq: self.seq(),
                    value,
                },
            );
        }
        map
    }

    /// [`Cluster::replace`] with a state not yet compared.
    pub fn replace_whole(
        &mut self,
        state: ClusterState,
        masters: Vec<String>,
        listener_ips: Vec<IpAddr>,
    ) {
        let compared = ComparedState::of(self, state);
        self.replace(compared, masters, listener_ips);
    }

    /// The model's slots a state lists, by its entries and its own tasks (unchanged, or
    /// under a task's own key).
    fn listed_slots(&self, entries: &[Listed], tasks: &[Task]) -> Vec<bool> {
        let mut listed = vec![false; self.slots.len()];
        for entry in entries {
            let slot = match *entry {
                Listed::Model(i) => Some(i),
                Listed::New(i) => {
                    let t = &tasks[i as usize];
                    self.find(&t.framework_id, &t.id, t.instance)
                }
            };
            if let Some(i) = slot {
                listed[i as usize] = true;
            }
        }
        listed
    }

    /// The model's tasks whose slot `listed` does not mark.
    fn unlisted<'a>(&'a self, listed: &'a [bool]) -> impl Iterator<Item = &'a Task> + 'a {
        self.slots
            .iter()
            .zip(listed)
            .filter(|(_, listed)| !**listed)
            .filter_map(|(slot, _)| slot.as_ref().map(|s| &s.task))
    }
}

/// The ids whose value differs between the model's map and the new state's (present in
/// one only, or unequal).
fn changed_ids<'a, T: PartialEq>(
    old: &'a HashMap<Box<str>, Ordered<T>>,
    new: &HashMap<&'a str, &'a T>,
) -> HashSet<&'a str> {
    let mut changed = HashSet::default();
    for id in old.keys().map(|id| &**id).chain(new.keys().copied()) {
        if old.get(id).map(|o| &o.value) != new.get(id).copied() {
            changed.insert(id);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Change, RunningStatus};

    fn task(framework: &str, id: &str, agent: &str, name: &str) -> Task {
        Task {
            id: id.into(),
            name: name.into(),
            framework_id: framework.into(),
            agent_id: agent.into(),
            running: true,
            ..Task::default()
        }
    }

    fn state(tasks: Vec<Task>, agents: &[(&str, &str)]) -> ClusterState {
        ClusterState {
            leader: "master@10.0.0.1:5050".into(),
            frameworks: vec![
                ("f1".into(), Framework::default()),
                ("f2".into(), Framework::default()),
            ],
            agents: agents
                .iter()
                .map(|(id, host)| {
                    let agent = Agent {
                        pid: Some(format!("slave(1)@{host}:5051")),
                        hostname: (*host).into(),
                    };
                    ((*id).into(), agent)
                })
                .collect(),
            tasks,
        }
    }

    fn first() -> ClusterState {
        state(
            vec![
                task("f1", "t1", "a1", "web"),
                task("f1", "t2", "a2", "web"),
                task("f2", "t3", "a1", "db"),
                task("f2", "t4", "a2", "db"),
            ],
            &[("a1", "10.0.0.11"), ("a2", "10.0.0.12")],
        )
    }

    /// The second state: t1 gone, t2 moved to the end, t3 changed, t5 new, agent a2's
    /// address changed, a3 new, and t4 listed twice.
    fn second() -> ClusterState {
        let mut t3 = task("f2", "t3", "a1", "db");
        let address: IpAddr = "10.1.0.3".parse().unwrap(); // ok: test
        t3.running_statuses
            .push(RunningStatus::new(1.0, &[address], &[], &[], None));
        state(
            vec![
                t3,
                task("f2", "t4", "a2", "db"),
                task("f1", "t5", "a3", "web"),
                task("f2", "t4", "a2", "db-again"),
                task("f1", "t2", "a2", "web"),
            ],
            &[
                ("a2", "10.0.0.99"),
                ("a3", "10.0.0.13"),
                ("a1", "10.0.0.11"),
            ],
        )
    }

    fn model(state: ClusterState) -> Cluster {
        Cluster::from_state(state, vec!["10.0.0.1:5050".into()], vec![])
    }

    /// What a model holds, in order, with its lookups' answers.
    fn contents(c: &Cluster) -> (ClusterState, Vec<Vec<TaskKey>>) {
        let mut by_owner: Vec<Vec<TaskKey>> = ["a1", "a2", "a3"]
            .iter()
            .map(|a| c.agent_task_keys(a).collect())
            .chain(
                ["f1", "f2"]
                    .iter()
                    .map(|f| c.framework_task_keys(f).collect()),
            )
            .collect();
        for keys in &mut by_owner {
            keys.sort();
        }
        (c.to_state(), by_owner)
    }

    #[test]
    fn a_state_replaced_in_place_is_the_model_built_from_it() {
        let mut in_place = model(first());
        // A stream change first, so that places in the order have been given since.
        in_place.apply(Change::TaskAdded(task("f1", "t9", "a1", "web")));
        in_place.replace_whole(second(), vec!["10.0.0.1:5050".into()], vec![]);
        let built = model(second());
        let (state, by_owner) = contents(&in_place);
        let (expected_state, expected_by_owner) = contents(&built);
        assert_eq!(format!("{state:?}"), format!("{expected_state:?}"));
        assert_eq!(by_owner, expected_by_owner);
        assert_eq!(in_place.task_count(), 4);
        for task in built.tasks() {
            assert_eq!(in_place.task(&task.key()), Some(task));
        }
        // Back again, then to nothing.
        in_place.replace_whole(first(), vec!["10.0.0.1:5050".into()], vec![]);
        assert_eq!(
            format!("{:?}", in_place.to_state()),
            format!("{:?}", model(first()).to_state())
        );
        in_place.replace_whole(ClusterState::default(), vec![], vec![]);
        assert_eq!(in_place.task_count(), 0);
        assert_eq!(in_place.agent_task_keys("a1").count(), 0);
    }

    #[test]
    fn the_differences_are_what_changed_and_whom_a_change_touches() {
        let old = model(first());
        let masters = ["10.0.0.1:5050".to_string()];
        assert!(
            old.differences_from(&ComparedState::of(&old, first()), &masters, &[])
                .is_empty()
        );
        let mut items = old.differences_from(&ComparedState::of(&old, second()), &masters, &[]);
        items.sort_by_key(|i| format!("{i:?}"));
        let key = |f: &str, id: &str| Item::Task(task(f, id, "", "").key());
        let mut expected = vec![
            Item::Agent("a2".into()),
            Item::Agent("a3".into()),
            key("f1", "t1"), // gone
            key("f1", "t2"), // on a2
            key("f1", "t5"), // new
            key("f2", "t3"), // changed
            key("f2", "t4"), // on a2
        ];
        expected.sort_by_key(|i| format!("{i:?}"));
        assert_eq!(items, expected);
        // Only the cluster-wide inputs.
        assert_eq!(
            old.differences_from(&ComparedState::of(&old, first()), &[], &[]),
            vec![Item::Cluster]
        );
    }

    #[test]
    fn a_state_far_larger_than_the_model_is_found_task_by_task() {
        // The task index grows while the model's own tasks are in it: each must be
        // moved under its own hash.
        let mut in_place = model(first());
        let many: Vec<Task> = (0..5000)
            .map(|i| task("f1", &format!("t{i}"), "a1", "web"))
            .collect();
        let state = state(many.clone(), &[("a1", "10.0.0.11")]);
        in_place.replace_whole(state, vec![], vec![]);
        assert_eq!(in_place.task_count(), 5000);
        for t in &many {
            assert!(in_place.task(&t.key()).is_some(), "{} lost", t.id);
        }
    }
}
