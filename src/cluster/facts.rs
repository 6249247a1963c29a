//! The facts of one framework, agent or task that names depend on, in the same shape
//! whichever source they came from.

use super::TaskKey;
use std::net::IpAddr;
use std::sync::Arc;

/// A registered framework.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Framework {
    /// The framework's name as registered (the zone under the domain).
    pub name: String,
    /// Scheduler UPID (`/master/state` only; the operator API has none).
    pub pid: Option<String>,
    /// The host the scheduler runs on.
    pub hostname: String,
}

/// A registered agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agent {
    /// Agent UPID, `slave(1)@ip:port`, as the master writes it.
    pub pid: Option<String>,
    /// The agent's host name as it registered (for reverse lookups).
    pub hostname: String,
}

/// A task the master knows, running or not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Task {
    /// The task id, unique within its framework (repeats are told apart by `instance`).
    pub id: Box<str>,
    /// 0, or n for the n-th repeat of an id within one framework of a state document.
    pub instance: u32,
    /// The task's name (its first label, unless DiscoveryInfo names it); shared with
    /// the tasks of the same name once in the model.
    pub name: Arc<str>,
    /// Shared with every task of the framework once in the model.
    pub framework_id: Arc<str>,
    /// Shared with every task of the agent once in the model.
    pub agent_id: Arc<str>,
    /// The task's state is `TASK_RUNNING` (only running tasks have names).
    pub running: bool,
    /// The task's `TASK_RUNNING` statuses, in stored order (addresses come from these).
    pub running_statuses: Statuses,
    /// Whether the last stored status was `TASK_RUNNING`; `None` before any status. A new
    /// status of the same kind replaces the last one, as the master stores them.
    pub last_status_running: Option<bool>,
    /// Resource ports in the order `/master/state` lists them.
    pub ports: Box<[u16]>,
    /// DiscoveryInfo, when the task has one (its shape shared once in the model).
    pub discovery: Option<Discovery>,
    /// The task's container maps a port to a host port (Docker or CNI port mappings):
    /// DC/OS `autoip` names then answer the agent's address.
    pub host_port_mapped: bool,
    /// What few tasks have (`None` for most).
    pub rare: Option<Box<TaskRare>>,
}

/// A task's statuses: most have one, held in place.
pub type Statuses = smallvec::SmallVec<[RunningStatus; 1]>;

/// What few tasks have, behind one pointer (8 bytes a task rather than 40).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRare {
    /// Port text that could not be read (reported, never fatal).
    pub malformed_ports: Option<Box<str>>,
    /// Legacy named VIPs from task labels `VIP_PORT<i>` = `tcp://name:port`, as
    /// (i, value): the VIP's backends listen on the task's i-th port.
    pub vip_labels: Box<[(usize, Box<str>)]>,
}

impl TaskRare {
    /// The rare parts of a task, `None` when it has neither.
    pub fn of(
        malformed_ports: Option<Box<str>>,
        vip_labels: Vec<(usize, Box<str>)>,
    ) -> Option<Box<TaskRare>> {
        (malformed_ports.is_some() || !vip_labels.is_empty()).then(|| {
            Box::new(TaskRare {
                malformed_ports,
                vip_labels: vip_labels.into(),
            })
        })
    }
}

impl Task {
    /// Whether the task's latest status, a `TASK_RUNNING` one, says its health check
    /// fails (`healthy: false`). Tasks without health checks are never unhealthy.
    pub fn is_unhealthy(&self) -> bool {
        self.last_status_running == Some(true)
            && self
                .running_statuses
                .last()
                .is_some_and(|s| s.healthy == Some(false))
    }

    /// Port text that could not be read.
    pub fn malformed_ports(&self) -> Option<&str> {
        self.rare.as_ref()?.malformed_ports.as_deref()
    }

    /// Legacy named VIPs, as (i, `tcp://name:port`).
    pub fn vip_labels(&self) -> &[(usize, Box<str>)] {
        self.rare.as_ref().map_or(&[], |r| &r.vip_labels)
    }

    /// The task's key in the model.
    pub fn key(&self) -> TaskKey {
        TaskKey {
            framework: (*self.framework_id).into(),
            id: self.id.clone(),
            instance: self.instance,
        }
    }

    /// Gives back the spare capacity of the status list (a list built by `collect` from
    /// a filter reserves four entries; a model of 100k tasks holds them for long).
    pub fn compact(&mut self) {
        self.running_statuses.shrink_to_fit();
    }

    /// Applies one `TASK_UPDATED`: the state is the update's, and the status is stored as
    /// the master stores it (replacing the last one when both have the same kind).
    pub fn apply_update(&mut self, update: &StatusUpdate) {
        self.running = update.running;
        if update.status.is_some() && self.last_status_running == Some(true) {
            self.running_statuses.pop();
        }
        if let Some(status) = &update.status {
            self.running_statuses.push(status.clone());
        }
        self.last_status_running = Some(update.status.is_some());
        self.compact();
    }
}

/// One `TASK_RUNNING` status: when, and the addresses each IP source reads from it
/// (40 bytes and one list: a model of 100k tasks holds at least as many).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunningStatus {
    /// Seconds since the epoch; 0 when missing.
    pub timestamp: f64,
    /// The `netinfo` addresses, then the `docker` ones, then the `mesos` ones.
    addresses: Box<[IpAddr]>,
    /// Where the `docker` and the `mesos` addresses start in `addresses`.
    starts: [u32; 2],
    /// The status's `healthy`: `None` when the task has no health check (or it has not
    /// reported yet).
    pub healthy: Option<bool>,
}

impl RunningStatus {
    /// A status with the addresses of `container_status.network_infos[]` (`netinfo`),
    /// of the `Docker.NetworkSettings.IPAddress` labels (`docker`) and of the
    /// `MesosContainerizer.NetworkSettings.IPAddress` labels (`mesos`).
    pub fn new(
        timestamp: f64,
        netinfo: &[IpAddr],
        docker: &[IpAddr],
        mesos: &[IpAddr],
        healthy: Option<bool>,
    ) -> RunningStatus {
        let addresses: Box<[IpAddr]> = [netinfo, docker, mesos].concat().into();
        // A status never lists four billion addresses; the casts cannot truncate.
        let docker_start = netinfo.len() as u32;
        RunningStatus {
            timestamp,
            addresses,
            starts: [docker_start, docker_start + docker.len() as u32],
            healthy,
        }
    }

    /// The `netinfo` addresses.
    pub fn netinfo(&self) -> &[IpAddr] {
        &self.addresses[..self.starts[0] as usize]
    }

    /// The `docker` addresses.
    pub fn docker(&self) -> &[IpAddr] {
        &self.addresses[self.starts[0] as usize..self.starts[1] as usize]
    }

    /// The `mesos` addresses.
    pub fn mesos(&self) -> &[IpAddr] {
        &self.addresses[self.starts[1] as usize..]
    }
}

/// `TASK_UPDATED`: a task's new state and the status the master is processing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusUpdate {
    /// The task's framework.
    pub framework_id: String,
    /// The task's id.
    pub task_id: String,
    /// The task's state (`task_updated.state`) is `TASK_RUNNING`.
    pub running: bool,
    /// The task's state is terminal: it can come back only through a new `TASK_ADDED`.
    pub terminal: bool,
    /// The status, when its own state is `TASK_RUNNING`; `None` for any other state.
    pub status: Option<RunningStatus>,
}

impl StatusUpdate {
    /// The key of the task this update is for.
    pub fn key(&self) -> TaskKey {
        TaskKey {
            framework: self.framework_id.as_str().into(),
            id: self.task_id.as_str().into(),
            instance: 0,
        }
    }
}

/// A task's DiscoveryInfo: the name and ports it publishes under. What the tasks of an
/// app have alike (the name, each port's protocol, name and VIPs) is one
/// [`DiscoveryShape`] they share once in the model; only the port numbers are the
/// task's own (40 bytes a task, against 176 when each task held its own copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    shape: Arc<DiscoveryShape>,
    /// Each port's number, in the shape's order.
    numbers: Box<[i64]>,
}

/// The parts of a DiscoveryInfo that the tasks of one app share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiscoveryShape {
    name: Box<str>,
    ports: Box<[PortShape]>,
}

/// A DiscoveryInfo port without its number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortShape {
    /// `tcp` or `udp` (any case); other protocols get no SRV records.
    pub protocol: Box<str>,
    /// The port's name, for `_name._task._proto` SRV names.
    pub name: Box<str>,
    /// Values of the port's labels whose key starts with `VIP_` or `vip` (DC/OS named
    /// VIPs: `/name:port` or `name:port`).
    pub vips: Box<[Box<str>]>,
}

impl Discovery {
    /// A DiscoveryInfo named `name` with `ports`, in the order given: each port's number
    /// as sent (checked to be a port number when records are made) and the rest of it.
    pub fn new(name: impl Into<Box<str>>, ports: Vec<(i64, PortShape)>) -> Discovery {
        let (numbers, ports): (Vec<i64>, Vec<PortShape>) = ports.into_iter().unzip();
        Discovery {
            shape: Arc::new(DiscoveryShape {
                name: name.into(),
                ports: ports.into(),
            }),
            numbers: numbers.into(),
        }
    }

    /// DiscoveryInfo `name`.
    pub fn name(&self) -> &str {
        &self.shape.name
    }

    /// Each port's number and the rest of it, in the order given.
    pub fn ports(&self) -> impl Iterator<Item = (i64, &PortShape)> {
        self.numbers.iter().copied().zip(self.shape.ports.iter())
    }

    /// How many ports.
    pub fn port_count(&self) -> usize {
        self.numbers.len()
    }

    /// The shape, to share with the tasks that have the same.
    pub(super) fn shape(&self) -> &Arc<DiscoveryShape> {
        &self.shape
    }

    /// Shares `shape`, equal to the one held.
    pub(super) fn set_shape(&mut self, shape: Arc<DiscoveryShape>) {
        debug_assert!(*shape == *self.shape);
        self.shape = shape;
    }
}

/// Terminal task states: the master forgets the task (it may only return by `TASK_ADDED`).
pub(crate) fn is_terminal_state(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
            | "TASK_LOST"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ts: f64) -> RunningStatus {
        RunningStatus {
            timestamp: ts,
            ..RunningStatus::default()
        }
    }

    #[test]
    fn statuses_are_stored_as_the_master_stores_them() {
        let mut task = Task::default();
        let update = |running: Option<f64>| StatusUpdate {
            running: true,
            status: running.map(status),
            ..StatusUpdate::default()
        };
        task.apply_update(&update(None)); // STARTING
        task.apply_update(&update(None)); // another non-running: replaced, nothing kept
        assert!(task.running_statuses.is_empty());
        task.apply_update(&update(Some(1.0)));
        task.apply_update(&update(Some(2.0))); // same kind: replaces
        assert_eq!(task.running_statuses[..], [status(2.0)]);
        task.apply_update(&update(None));
        task.apply_update(&update(Some(3.0))); // after another kind: appended
        assert_eq!(task.running_statuses[..], [status(2.0), status(3.0)]);
        assert!(task.running);
    }
}
