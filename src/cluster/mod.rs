//! The cluster model: frameworks, agents and tasks by id, holding only what names are made
//! from. Both sources fill it: a polled `/master/state` document becomes a whole
//! [`ClusterState`], and the operator API stream becomes a `SUBSCRIBED` state followed by
//! [`Change`]s. The control thread owns one [`Cluster`]; records are a pure function of
//! one item of it (see `records::items`).
//!
//! This module is a leaf: it knows nothing of JSON, sources, records or threads.

mod apply;
mod compared;
pub(crate) mod facts;
mod replace;
mod shared;

pub use shared::TaskSharing;

pub use apply::Item;
#[cfg(test)]
pub(crate) use compared::assert_streamed_makes_whole_model;
pub use compared::{ComparedState, GuessFailed, StateIntake, TaskFrameworks};
pub use facts::{
    Agent, Discovery, DiscoveryShape, Framework, PortShape, RunningStatus, StatusUpdate, Statuses,
    Task, TaskRare,
};

use std::net::IpAddr;
use std::sync::Arc;

/// Maps keyed by ids from the master: a seeded hasher, since the ids are not ours.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set with the fast hasher the model uses.
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Tasks are unique per framework: keyed by (framework id, task id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// The framework id.
    pub framework: Box<str>,
    /// The task id.
    pub id: Box<str>,
    /// Tells apart tasks that a state document lists twice under one id (the reference's
    /// own fixture does); 0 otherwise.
    pub instance: u32,
}

/// Each id's repeat number, in order: 0 where it first appears, n at its n-th repeat
/// (a task's `instance`: a state document may list one task id twice in a framework).
pub fn repeat_numbers<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    let mut seen: HashMap<&str, u32> = HashMap::default();
    ids.into_iter()
        .map(|id| {
            let n = seen.entry(id).or_insert(0);
            *n += 1;
            *n - 1
        })
        .collect()
}

/// A whole cluster as one source saw it at one moment: a polled state document, or the
/// snapshot that starts a subscription. Lists are in the source's order.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    /// The leading master's UPID (`master@ip:port`); empty when unknown.
    pub leader: String,
    /// Frameworks by id, in state order.
    pub frameworks: Vec<(Box<str>, Framework)>,
    /// Agents by id, in state order.
    pub agents: Vec<(Box<str>, Agent)>,
    /// Every task, in state order.
    pub tasks: Vec<Task>,
}

/// One change the operator API stream reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// `TASK_ADDED`: the task as the master knows it (replaces any earlier copy).
    TaskAdded(Task),
    /// `TASK_UPDATED`: the task's new state and the status being processed.
    TaskUpdated(StatusUpdate),
    /// `FRAMEWORK_ADDED` / `FRAMEWORK_UPDATED`.
    FrameworkUpserted {
        /// The framework id.
        id: Box<str>,
        /// What the master now says of it.
        framework: Framework,
    },
    /// `FRAMEWORK_REMOVED`.
    FrameworkRemoved {
        /// The framework id.
        id: Box<str>,
    },
    /// `AGENT_ADDED` (an agent that re-registers replaces its earlier copy).
    AgentUpserted {
        /// The agent id.
        id: Box<str>,
        /// What the master now says of it.
        agent: Agent,
    },
    /// `AGENT_REMOVED`.
    AgentRemoved {
        /// The agent id.
        id: Box<str>,
    },
}

/// A value with the order in which its source listed it (`/v1/enumerate` and the full
/// generator follow that order).
#[derive(Clone, Debug, PartialEq)]
pub struct Ordered<T> {
    /// Position in the source's order.
    pub seq: u64,
    /// The value.
    pub value: T,
}

/// A task where the model keeps it, with its place in the agent's and the framework's
/// lists (so it leaves them in constant time).
#[derive(Clone, Debug)]
struct TaskSlot {
    seq: u64,
    task: Task,
    agent_pos: u32,
    framework_pos: u32,
}

/// What names are made from, besides the configuration.
///
/// Tasks live in a slab indexed by a hash table on (framework, id, instance) read from
/// the task itself, and the per-agent and per-framework lists hold slab indices, so a
/// task's ids are stored once; framework and agent ids are shared by every task that
/// names them.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Frameworks by id.
    pub frameworks: HashMap<Box<str>, Ordered<Framework>>,
    /// Agents by id.
    pub agents: HashMap<Box<str>, Ordered<Agent>>,
    /// The leading master's UPID, `master@ip:port`.
    pub leader: String,
    /// The current master list (`host:port`), presumed leader first.
    pub masters: Vec<String>,
    /// Addresses published under `SOAMname`.
    pub listener_ips: Vec<IpAddr>,
    slots: Vec<Option<TaskSlot>>,
    free: Vec<u32>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    tasks_by_agent: HashMap<Arc<str>, Vec<u32>>,
    tasks_by_framework: HashMap<Arc<str>, Vec<u32>>,
    /// Framework and agent ids, task names and DiscoveryInfos, each held once.
    shared: TaskSharing,
    next_seq: u64,
    /// Counts every change of a task held (a slot's number and contents hold for a
    /// comparison only while this stays the same).
    task_changes: u64,
}

impl Cluster {
    /// A model holding `state`, with the given master list and listener addresses.
    pub fn from_state(
        state: ClusterState,
        masters: Vec<String>,
        listener_ips: Vec<IpAddr>,
    ) -> Self {
        let mut cluster = Cluster::default();
        cluster.replace_whole(state, masters, listener_ips);
        cluster
    }

    /// The model as a whole state, in order (what a poll of the same cluster reads).
    pub fn to_state(&self) -> ClusterState {
        let mut tasks: Vec<&TaskSlot> = self.slots.iter().flatten().collect();
        tasks.sort_unstable_by_key(|t| t.seq);
        ClusterState {
            leader: self.leader.clone(),
            frameworks: self
                .frameworks_in_order()
                .into_iter()
                .map(|(id, f)| (id.into(), f.clone()))
                .collect(),
            agents: self
                .agents_in_order()
                .into_iter()
                .map(|(id, a)| (id.into(), a.clone()))
                .collect(),
            tasks: tasks.into_iter().map(|t| t.task.clone()).collect(),
        }
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Frameworks in source order.
    pub fn frameworks_in_order(&self) -> Vec<(&str, &Framework)> {
        let mut out: Vec<_> = self.frameworks.iter().collect();
        out.sort_unstable_by_key(|(_, f)| f.seq);
        out.into_iter().map(|(k, f)| (&**k, &f.value)).collect()
    }

    /// Agents in source order.
    pub fn agents_in_order(&self) -> Vec<(&str, &Agent)> {
        let mut out: Vec<_> = self.agents.iter().collect();
        out.sort_unstable_by_key(|(_, a)| a.seq);
        out.into_iter().map(|(k, a)| (&**k, &a.value)).collect()
    }

    /// Every task, in no particular order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.slots.iter().flatten().map(|s| &s.task)
    }

    /// How many tasks the model holds.
    pub fn task_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The task of `key`.
    pub fn task(&self, key: &TaskKey) -> Option<&Task> {
        self.find(&key.framework, &key.id, key.instance)
            .map(|i| &self.slot(i).task)
    }

    /// The tasks of one framework, in source order.
    pub fn framework_tasks(&self, framework: &str) -> Vec<&Task> {
        let Some(list) = self.tasks_by_framework.get(framework) else {
            return Vec::new();
        };
        let mut out: Vec<&TaskSlot> = list.iter().map(|&i| self.slot(i)).collect();
        out.sort_unstable_by_key(|t| t.seq);
        out.into_iter().map(|t| &t.task).collect()
    }

    /// The keys of the tasks on one agent.
    pub fn agent_task_keys(&self, agent: &str) -> impl Iterator<Item = TaskKey> + '_ {
        self.keys_in(self.tasks_by_agent.get(agent))
    }

    /// The keys of the tasks of one framework.
    pub fn framework_task_keys(&self, framework: &str) -> impl Iterator<Item = TaskKey> + '_ {
        self.keys_in(self.tasks_by_framework.get(framework))
    }

    fn keys_in<'a>(&'a self, list: Option<&'a Vec<u32>>) -> impl Iterator<Item = TaskKey> + 'a {
        list.into_iter().flatten().map(|&i| self.slot(i).task.key())
    }

    pub(crate) fn slot_task(&self, i: u32) -> &Task {
        &self.slot(i).task
    }

    fn slot(&self, i: u32) -> &TaskSlot {
        // Indices come from the index and the lists, which hold live slots only.
        match &self.slots[i as usize] {
            Some(slot) => slot,
            None => unreachable!("task index {i} points at a free slot"),
        }
    }

    fn hash(&self, framework: &str, id: &str, instance: u32) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((framework, id, instance))
    }

    pub(crate) fn find(&self, framework: &str, id: &str, instance: u32) -> Option<u32> {
        let hash = self.hash(framework, id, instance);
        self.index
            .find(hash, |&i| {
                let t = &self.slot(i).task;
                *t.framework_id == *framework && *t.id == *id && t.instance == instance
            })
            .copied()
    }

    /// Inserts or replaces a task, keeping its place in the order when it was known.
    pub(crate) fn put_task(&mut self, task: Task) {
        let seq = match self.find(&task.framework_id, &task.id, task.instance) {
            Some(i) => {
                let seq = self.slot(i).seq;
                self.remove_slot(i);
                seq
            }
            None => self.seq(),
        };
        self.insert_task(task, seq);
    }

    /// Inserts a task the model does not hold, at `seq` in the order.
    fn insert_task(&mut self, mut task: Task, seq: u64) {
        self.task_changes += 1;
        task.compact();
        self.shared.share(&mut task);
        let agent_list = self
            .tasks_by_agent
            .entry(task.agent_id.clone())
            .or_default();
        let agent_pos = agent_list.len() as u32;
        let framework_list = self
            .tasks_by_framework
            .entry(task.framework_id.clone())
            .or_default();
        let framework_pos = framework_list.len() as u32;
        let hash = self.hash(&task.framework_id, &task.id, task.instance);
        let slot = TaskSlot {
            seq,
            task,
            agent_pos,
            framework_pos,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let task = &self.slot(i).task;
        let (agent, framework) = (task.agent_id.clone(), task.framework_id.clone());
        if let Some(list) = self.tasks_by_agent.get_mut(&agent) {
            list.push(i);
        }
        if let Some(list) = self.tasks_by_framework.get_mut(&framework) {
            list.push(i);
        }
        self.index
            .insert_unique(hash, i, rehash(&self.slots, &self.hasher));
    }

    /// Makes room in the task index for `more` tasks.
    fn reserve_tasks(&mut self, more: usize) {
        self.slots.reserve(more.saturating_sub(self.free.len()));
        self.index.reserve(more, rehash(&self.slots, &self.hasher));
    }

    pub(crate) fn remove_task(&mut self, key: &TaskKey) {
        if let Some(i) = self.find(&key.framework, &key.id, key.instance) {
            self.remove_slot(i);
        }
    }

    /// The task in slot `i`, for an update in place.
    pub(crate) fn task_mut(&mut self, key: &TaskKey) -> Option<&mut Task> {
        let i = self.find(&key.framework, &key.id, key.instance)?;
        self.task_changes += 1;
        self.slots[i as usize].as_mut().map(|s| &mut s.task)
    }

    fn remove_slot(&mut self, i: u32) {
        let Some(slot) = self.slots[i as usize].take() else {
            return;
        };
        self.task_changes += 1;
        let t = &slot.task;
        let hash = self.hash(&t.framework_id, &t.id, t.instance);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        Self::unlist(
            &mut self.tasks_by_agent,
            &t.agent_id,
            slot.agent_pos,
            &mut self.slots,
            true,
        );
        Self::unlist(
            &mut self.tasks_by_framework,
            &t.framework_id,
            slot.framework_pos,
            &mut self.slots,
            false,
        );
        self.free.push(i);
    }

    /// Takes the task at `pos` out of `owner`'s list, moving the last one into its place.
    fn unlist(
        lists: &mut HashMap<Arc<str>, Vec<u32>>,
        owner: &Arc<str>,
        pos: u32,
        slots: &mut [Option<TaskSlot>],
        by_agent: bool,
    ) {
        let Some(list) = lists.get_mut(owner) else {
            return;
        };
        list.swap_remove(pos as usize);
        if let Some(&moved) = list.get(pos as usize) {
            if let Some(s) = slots[moved as usize].as_mut() {
                if by_agent {
                    s.agent_pos = pos;
                } else {
                    s.framework_pos = pos;
                }
            }
        }
        if list.is_empty() {
            lists.remove(owner);
        }
    }
}

/// The hash of the task a slot of the index names, for the index to move it when it grows.
fn rehash<'a>(
    slots: &'a [Option<TaskSlot>],
    hasher: &'a foldhash::fast::RandomState,
) -> impl Fn(&u32) -> u64 + 'a {
    move |&j| {
        use std::hash::BuildHasher;
        let t = match &slots[j as usize] {
            Some(s) => &s.task,
            None => unreachable!("task index {j} points at a free slot"),
        };
        hasher.hash_one((&*t.framework_id, &*t.id, t.instance))
    }
}
