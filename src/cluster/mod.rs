//! The cluster model: frameworks, agents and tasks by id, holding only what names are made
//! from. Both sources fill it: a polled `/master/state` document becomes a whole
//! [`ClusterState`], and the operator API stream becomes a `SUBSCRIBED` state followed by
//! [`Change`]s. The control thread owns one [`Cluster`]; records are a pure function of
//! one item of it (see `records::items`).
//!
//! This module is a leaf: it knows nothing of JSON, sources, records or threads.

mod apply;
pub mod facts;

pub use apply::Item;
pub use facts::{Agent, Discovery, DiscoveryPort, Framework, RunningStatus, StatusUpdate, Task};

use std::net::IpAddr;

/// Maps keyed by ids from the master: a seeded hasher, since the ids are not ours.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Tasks are unique per framework: keyed by (framework id, task id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    pub framework: Box<str>,
    pub id: Box<str>,
    /// Tells apart tasks that a state document lists twice under one id (the reference's
    /// own fixture does); 0 otherwise.
    pub instance: u32,
}

/// A whole cluster as one source saw it at one moment: a polled state document, or the
/// snapshot that starts a subscription. Lists are in the source's order.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    /// The leading master's UPID (`master@ip:port`); empty when unknown.
    pub leader: String,
    pub frameworks: Vec<(Box<str>, Framework)>,
    pub agents: Vec<(Box<str>, Agent)>,
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
        id: Box<str>,
        framework: Framework,
    },
    FrameworkRemoved {
        id: Box<str>,
    },
    /// `AGENT_ADDED` (an agent that re-registers replaces its earlier copy).
    AgentUpserted {
        id: Box<str>,
        agent: Agent,
    },
    AgentRemoved {
        id: Box<str>,
    },
}

/// A value with the order in which its source listed it (`/v1/enumerate` and the full
/// generator follow that order).
#[derive(Clone, Debug, PartialEq)]
pub struct Ordered<T> {
    pub seq: u64,
    pub value: T,
}

/// What names are made from, besides the configuration.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub frameworks: HashMap<Box<str>, Ordered<Framework>>,
    pub agents: HashMap<Box<str>, Ordered<Agent>>,
    pub tasks: HashMap<TaskKey, Ordered<Task>>,
    /// The leading master's UPID, `master@ip:port`.
    pub leader: String,
    /// The current master list (`host:port`), presumed leader first.
    pub masters: Vec<String>,
    /// Addresses published under `SOAMname`.
    pub listener_ips: Vec<IpAddr>,
    tasks_by_agent: HashMap<Box<str>, HashSet<TaskKey>>,
    tasks_by_framework: HashMap<Box<str>, HashSet<TaskKey>>,
    next_seq: u64,
}

impl Cluster {
    /// A model holding `state`, with the given master list and listener addresses.
    pub fn from_state(
        state: ClusterState,
        masters: Vec<String>,
        listener_ips: Vec<IpAddr>,
    ) -> Self {
        let mut cluster = Cluster {
            leader: state.leader,
            masters,
            listener_ips,
            ..Cluster::default()
        };
        cluster.frameworks.reserve(state.frameworks.len());
        for (id, framework) in state.frameworks {
            let seq = cluster.seq();
            cluster.frameworks.insert(
                id,
                Ordered {
                    seq,
                    value: framework,
                },
            );
        }
        cluster.agents.reserve(state.agents.len());
        for (id, agent) in state.agents {
            let seq = cluster.seq();
            cluster.agents.insert(id, Ordered { seq, value: agent });
        }
        cluster.tasks.reserve(state.tasks.len());
        for task in state.tasks {
            cluster.put_task(task);
        }
        cluster
    }

    /// The model as a whole state, in order (what a poll of the same cluster reads).
    pub fn to_state(&self) -> ClusterState {
        let mut tasks: Vec<&Ordered<Task>> = self.tasks.values().collect();
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
            tasks: tasks.into_iter().map(|t| t.value.clone()).collect(),
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

    /// The tasks of one framework, in source order.
    pub fn framework_tasks(&self, framework: &str) -> Vec<&Task> {
        let Some(keys) = self.tasks_by_framework.get(framework) else {
            return Vec::new();
        };
        let mut out: Vec<&Ordered<Task>> = keys.iter().filter_map(|k| self.tasks.get(k)).collect();
        out.sort_unstable_by_key(|t| t.seq);
        out.into_iter().map(|t| &t.value).collect()
    }

    /// The keys of the tasks on one agent.
    pub fn agent_task_keys(&self, agent: &str) -> impl Iterator<Item = &TaskKey> {
        self.tasks_by_agent.get(agent).into_iter().flatten()
    }

    /// The keys of the tasks of one framework.
    pub fn framework_task_keys(&self, framework: &str) -> impl Iterator<Item = &TaskKey> {
        self.tasks_by_framework.get(framework).into_iter().flatten()
    }

    /// Inserts or replaces a task, keeping its place in the order when it was known.
    fn put_task(&mut self, task: Task) {
        let key = task.key();
        let seq = match self.tasks.get(&key) {
            Some(old) => {
                let seq = old.seq;
                self.unindex(&key);
                seq
            }
            None => self.seq(),
        };
        self.index(&key, &task);
        self.tasks.insert(key, Ordered { seq, value: task });
    }

    fn remove_task(&mut self, key: &TaskKey) {
        if self.tasks.contains_key(key) {
            self.unindex(key);
            self.tasks.remove(key);
        }
    }

    fn index(&mut self, key: &TaskKey, task: &Task) {
        self.tasks_by_agent
            .entry(task.agent_id.as_str().into())
            .or_default()
            .insert(key.clone());
        self.tasks_by_framework
            .entry(key.framework.clone())
            .or_default()
            .insert(key.clone());
    }

    fn unindex(&mut self, key: &TaskKey) {
        let Some(task) = self.tasks.get(key) else {
            return;
        };
        let agent = task.value.agent_id.as_str();
        if let Some(set) = self.tasks_by_agent.get_mut(agent) {
            set.remove(key);
            if set.is_empty() {
                self.tasks_by_agent.remove(agent);
            }
        }
        if let Some(set) = self.tasks_by_framework.get_mut(&key.framework) {
            set.remove(key);
            if set.is_empty() {
                self.tasks_by_framework.remove(&key.framework);
            }
        }
    }
}
