//! Applying changes to the model, and knowing beforehand which items a change touches.

use super::{Change, Cluster, Ordered, TaskKey};

/// One unit of the model whose records are made together: records are a pure function
/// of the item (and, for a task, of its agent and framework).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// The cluster-wide names: leader, masters, the name server's own addresses.
    Cluster,
    /// A framework, by id.
    Framework(Box<str>),
    /// An agent, by id.
    Agent(Box<str>),
    /// A task.
    Task(TaskKey),
}

impl Cluster {
    /// The items whose records `change` may alter; ask before applying it.
    pub fn affected_by(&self, change: &Change) -> Vec<Item> {
        match change {
            Change::TaskAdded(task) => vec![Item::Task(task.key())],
            Change::TaskUpdated(update) => vec![Item::Task(update.key())],
            Change::FrameworkUpserted { id, .. } | Change::FrameworkRemoved { id } => {
                let mut items = vec![Item::Framework(id.clone())];
                items.extend(self.framework_task_keys(id).map(Item::Task));
                items
            }
            Change::AgentUpserted { id, .. } | Change::AgentRemoved { id } => {
                let mut items = vec![Item::Agent(id.clone())];
                items.extend(self.agent_task_keys(id).map(Item::Task));
                items
            }
        }
    }

    /// Applies one change. A task update for a task the model does not hold is ignored
    /// (its `TASK_ADDED` came before this subscription and was terminal, or never came).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::TaskAdded(task) => self.put_task(task),
            Change::TaskUpdated(update) => {
                let key = update.key();
                if update.terminal {
                    self.remove_task(&key);
                } else if let Some(task) = self.task_mut(&key) {
                    task.apply_update(&update);
                }
            }
            Change::FrameworkUpserted { id, framework } => {
                let seq = match self.frameworks.get(&id) {
                    Some(old) => old.seq,
                    None => self.seq(),
                };
                self.frameworks.insert(
                    id,
                    Ordered {
                        seq,
                        value: framework,
                    },
                );
            }
            Change::FrameworkRemoved { id } => {
                self.frameworks.remove(&id);
            }
            Change::AgentUpserted { id, agent } => {
                let seq = match self.agents.get(&id) {
                    Some(old) => old.seq,
                    None => self.seq(),
                };
                self.agents.insert(id, Ordered { seq, value: agent });
            }
            Change::AgentRemoved { id } => {
                self.agents.remove(&id);
            }
        }
    }

    /// True when the cluster-wide inputs are these.
    pub fn has_cluster_inputs(
        &self,
        leader: &str,
        masters: &[String],
        listener_ips: &[std::net::IpAddr],
    ) -> bool {
        self.leader == leader && self.masters == masters && self.listener_ips == listener_ips
    }

    /// Sets the cluster-wide inputs.
    pub fn set_cluster_inputs(
        &mut self,
        leader: &str,
        masters: &[String],
        listener_ips: &[std::net::IpAddr],
    ) {
        self.leader = leader.to_string();
        self.masters = masters.to_vec();
        self.listener_ips = listener_ips.to_vec();
    }

    /// Every item of the model.
    pub fn items(&self) -> Vec<Item> {
        let mut items = vec![Item::Cluster];
        items.extend(self.frameworks.keys().cloned().map(Item::Framework));
        items.extend(self.agents.keys().cloned().map(Item::Agent));
        items.extend(self.tasks().map(|t| Item::Task(t.key())));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Agent, ClusterState, StatusUpdate, Task};

    fn task(id: &str, agent: &str) -> Task {
        Task {
            id: id.into(),
            name: "web".into(),
            framework_id: "f1".into(),
            agent_id: agent.into(),
            running: true,
            ..Task::default()
        }
    }

    fn cluster() -> Cluster {
        Cluster::from_state(
            ClusterState {
                leader: "master@10.0.0.1:5050".into(),
                frameworks: vec![("f1".into(), Default::default())],
                agents: vec![("a1".into(), Agent::default())],
                tasks: vec![task("t1", "a1"), task("t2", "a2")],
            },
            vec![],
            vec![],
        )
    }

    #[test]
    fn an_agent_change_touches_its_tasks() {
        let c = cluster();
        let items = c.affected_by(&Change::AgentRemoved { id: "a1".into() });
        assert_eq!(items.len(), 2);
        assert!(items.contains(&Item::Task(task("t1", "a1").key())));
    }

    #[test]
    fn terminal_updates_forget_the_task() {
        let mut c = cluster();
        c.apply(Change::TaskUpdated(StatusUpdate {
            framework_id: "f1".into(),
            task_id: "t1".into(),
            terminal: true,
            ..StatusUpdate::default()
        }));
        assert_eq!(c.task_count(), 1);
        assert_eq!(c.agent_task_keys("a1").count(), 0);
    }
}
