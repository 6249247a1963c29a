//! The part of the master's `/master/state` document that names are made from (docs/spec/mesos-dns-behavior.md §3.3).
//!
//! Only the fields the spec lists are read; everything else is skipped while parsing, so
//! a 100 MB document never lives in memory as a tree. A JSON `null` anywhere reads as the
//! field's empty value, as Go's decoder does. PIDs and port strings are kept as text and
//! checked by the record generator, so one bad item never rejects the whole state.

use crate::cluster::{self, ClusterState};
use crate::mesos::events::StateRest;
use crate::mesos::ports::parse_port_ranges;
use crate::mesos::split::{self, ArrayRule, Path};
use crate::names::hostport::parse_ip;
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;

/// The framework a cut task list lies in, by its place among the frameworks (`None`
/// for a list outside them).
fn listing_framework(list: &split::CutList) -> Option<usize> {
    match list.indexes[..] {
        [i] => Some(i),
        _ => None,
    }
}

/// Reads a field whose JSON value may be `null`, which means "empty" (both the state
/// document and the operator API's records are read this way).
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The arrays of a state document cut out of it as it streams in (see `split`): the
/// frameworks' tasks, and the lists no name comes from.
fn state_lists(path: Path) -> ArrayRule {
    match path {
        "frameworks[].tasks" => ArrayRule::Split,
        "frameworks[].completed_tasks" | "frameworks[].unreachable_tasks" => ArrayRule::Drop,
        "completed_frameworks" => ArrayRule::Drop,
        _ => ArrayRule::Keep,
    }
}

fn state_tasks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<cluster::Task>, D::Error> {
    super::task_list::tasks_into_model(d, Task::into_cluster_task)
}

/// A `/master/state` document, reduced to what names need.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct State {
    /// The leading master's UPID, `master@ip:port`.
    #[serde(default, deserialize_with = "nullable")]
    pub leader: String,
    /// Registered frameworks, with their tasks.
    #[serde(default, deserialize_with = "nullable")]
    pub frameworks: Vec<Framework>,
    /// Registered agents.
    #[serde(default, deserialize_with = "nullable")]
    pub slaves: Vec<Agent>,
}

/// A framework of the state document.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Framework {
    /// Framework id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Framework name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Scheduler UPID; `None` when the key is absent.
    #[serde(default)]
    pub pid: Option<String>,
    /// The scheduler's host.
    #[serde(default, deserialize_with = "nullable")]
    pub hostname: String,
    /// Its tasks, in document order, each in the model's form as soon as it is read
    /// (their `framework_id` is set once the framework's own id is known).
    #[serde(default, deserialize_with = "state_tasks")]
    pub tasks: Vec<cluster::Task>,
}

/// A task of the state document.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Task {
    /// Task id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Task name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// The framework it names itself (the framework listing it is the one that
    /// counts; this is only a guess until the document's end, see `StateIntake`).
    #[serde(default, deserialize_with = "nullable")]
    pub framework_id: String,
    /// The agent it runs on.
    #[serde(default, deserialize_with = "nullable")]
    pub slave_id: String,
    /// Its current state.
    #[serde(default, deserialize_with = "nullable")]
    pub state: TaskState,
    /// Its statuses, oldest first.
    #[serde(default, deserialize_with = "nullable")]
    pub statuses: Vec<Status>,
    /// Its resources (ports).
    #[serde(default, deserialize_with = "nullable")]
    pub resources: Resources,
    /// DiscoveryInfo, when given.
    #[serde(default)]
    pub discovery: Option<Discovery>,
    /// Task labels (named VIPs of the legacy form).
    #[serde(default, deserialize_with = "nullable")]
    pub labels: Vec<KeyValue>,
    /// The container (port mappings).
    #[serde(default, deserialize_with = "nullable")]
    pub container: TaskContainer,
}

/// A `{key, value}` label.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KeyValue {
    /// The key.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// The value.
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
}

/// Labels in their protobuf form, `{"labels": [...]}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KeyValues {
    /// The labels.
    #[serde(default, deserialize_with = "nullable")]
    pub labels: Vec<KeyValue>,
}

/// A task's ContainerInfo, for its port mappings.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TaskContainer {
    /// Docker's port mappings.
    #[serde(default, deserialize_with = "nullable")]
    pub docker: PortMappings,
    /// CNI networks' port mappings.
    #[serde(default, deserialize_with = "nullable")]
    pub network_infos: Vec<PortMappings>,
}

/// A list of port mappings (Docker or a network).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PortMappings {
    /// The mappings.
    #[serde(default, deserialize_with = "nullable")]
    pub port_mappings: Vec<PortMapping>,
}

/// One port mapping.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PortMapping {
    /// The host port (0 or absent: none).
    #[serde(default, deserialize_with = "nullable")]
    pub host_port: i64,
}

impl TaskContainer {
    /// Whether any mapping has a host port.
    pub fn host_port_mapped(&self) -> bool {
        std::iter::once(&self.docker)
            .chain(&self.network_infos)
            .flat_map(|m| &m.port_mappings)
            .any(|m| m.host_port > 0)
    }
}

/// Legacy named VIPs: labels `VIP_PORT<i>`, as (i, value).
pub(crate) fn vip_port_labels(labels: &[KeyValue]) -> Vec<(usize, Box<str>)> {
    labels
        .iter()
        .filter_map(|l| {
            let index = l.key.strip_prefix("VIP_PORT")?.parse().ok()?;
            Some((index, l.value.as_str().into()))
        })
        .collect()
}

impl Task {
    /// The model's view of this task; its framework id is the one it names itself,
    /// for the document's framework to replace (`State::into_cluster_state`).
    pub fn into_cluster_task(self) -> cluster::Task {
        let (ports, malformed) = parse_port_ranges(&self.resources.ports);
        let last_status_running = self.statuses.last().map(|s| s.state.is_running());
        let running_statuses = self
            .statuses
            .iter()
            .filter(|s| s.state.is_running())
            .map(Status::running_status)
            .collect();
        cluster::Task {
            framework_id: self.framework_id.into(),
            agent_id: self.slave_id.into(),
            running: self.state.is_running(),
            running_statuses,
            last_status_running,
            ports: ports.into(),
            discovery: self.discovery.map(Discovery::into_model),
            host_port_mapped: self.container.host_port_mapped(),
            rare: cluster::TaskRare::of(
                malformed.then(|| self.resources.ports.into()),
                vip_port_labels(&self.labels),
            ),
            id: self.id.into(),
            instance: 0,
            name: self.name.into(),
        }
    }
}

impl Discovery {
    /// The model's view (the operator API writes DiscoveryInfo in this same shape).
    pub fn into_model(self) -> cluster::Discovery {
        let ports = self
            .ports
            .ports
            .into_iter()
            .map(|p| {
                let shape = cluster::PortShape {
                    protocol: p.protocol.into(),
                    name: p.name.into(),
                    vips: p
                        .labels
                        .labels
                        .into_iter()
                        .filter(|l| l.key.starts_with("VIP_") || l.key.starts_with("vip"))
                        .map(|l| l.value.into())
                        .collect(),
                };
                (p.number, shape)
            })
            .collect();
        cluster::Discovery::new(self.name, ports)
    }
}

impl Status {
    /// The addresses each IP source reads from this status.
    fn running_status(&self) -> cluster::RunningStatus {
        let labels = |key: LabelKey| -> Vec<IpAddr> {
            self.labels
                .iter()
                .filter(|l| l.key == key)
                .filter_map(|l| l.value.0)
                .collect()
        };
        let mut netinfo = Vec::new();
        for info in &self.container_status.network_infos {
            // The pre-0.26 single address counts only where the list is absent.
            if info.ip_addresses.is_empty() {
                netinfo.extend(info.ip_address.0);
            } else {
                netinfo.extend(info.ip_addresses.iter().filter_map(|a| a.ip_address.0));
            }
        }
        cluster::RunningStatus::new(
            self.timestamp,
            &netinfo,
            &labels(LabelKey::DockerIp),
            &labels(LabelKey::MesosIp),
            self.healthy,
        )
    }
}

/// Only `TASK_RUNNING` matters, so the state string is not kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// `TASK_RUNNING`.
    Running,
    /// Any other state.
    #[default]
    Other,
}

impl TaskState {
    /// Whether this is `TASK_RUNNING`.
    pub fn is_running(self) -> bool {
        self == TaskState::Running
    }
}

impl<'de> Deserialize<'de> for TaskState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|v: &str| {
            if v == "TASK_RUNNING" {
                TaskState::Running
            } else {
                TaskState::Other
            }
        }))
    }
}

/// A task status.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Status {
    /// The status's own state.
    #[serde(default, deserialize_with = "nullable")]
    pub state: TaskState,
    /// Seconds since the epoch; a missing timestamp is 0.
    #[serde(default, deserialize_with = "nullable")]
    pub timestamp: f64,
    /// Its labels (container addresses).
    #[serde(default, deserialize_with = "nullable")]
    pub labels: Vec<Label>,
    /// Its container status (NetworkInfos).
    #[serde(default, deserialize_with = "nullable")]
    pub container_status: ContainerStatus,
    /// The health check's verdict, when the task has one.
    #[serde(default)]
    pub healthy: Option<bool>,
}

/// A status label; only the two keys that carry container addresses are told apart,
/// and only values that are IP literals are kept (nothing else is ever used).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Label {
    /// Which label.
    #[serde(default, deserialize_with = "nullable")]
    pub key: LabelKey,
    /// The address, when the value is one.
    #[serde(default, deserialize_with = "nullable")]
    pub value: MaybeIp,
}

/// The status labels that carry addresses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum LabelKey {
    /// `Docker.NetworkSettings.IPAddress`
    DockerIp,
    /// `MesosContainerizer.NetworkSettings.IPAddress`
    MesosIp,
    /// Any other label.
    #[default]
    Other,
}

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|v: &str| match v {
            "Docker.NetworkSettings.IPAddress" => LabelKey::DockerIp,
            "MesosContainerizer.NetworkSettings.IPAddress" => LabelKey::MesosIp,
            _ => LabelKey::Other,
        }))
    }
}

/// A string that is kept only when it is an IP literal (IPv4-mapped IPv6 reads as IPv4).
/// Reading it allocates nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaybeIp(pub Option<IpAddr>);

impl<'de> Deserialize<'de> for MaybeIp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|v: &str| MaybeIp(parse_ip(v))))
    }
}

/// Maps a JSON string to a value without keeping the string.
struct StrVisitor<F>(F);

impl<T, F: FnOnce(&str) -> T> serde::de::Visitor<'_> for StrVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v))
    }
}

/// A status's `container_status`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerStatus {
    /// Its NetworkInfos.
    #[serde(default, deserialize_with = "nullable")]
    pub network_infos: Vec<NetworkInfo>,
}

/// One NetworkInfo.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NetworkInfo {
    /// Its addresses (the current form).
    #[serde(default, deserialize_with = "nullable")]
    pub ip_addresses: Vec<IpAddressEntry>,
    /// Legacy single address (Mesos before 0.26).
    #[serde(default, deserialize_with = "nullable")]
    pub ip_address: MaybeIp,
}

/// One NetworkInfo address.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IpAddressEntry {
    /// The address.
    #[serde(default, deserialize_with = "nullable")]
    pub ip_address: MaybeIp,
}

/// A task's resources.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resources {
    /// Port ranges as text, e.g. `[31000-31001, 31005-31005]`.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: String,
}

/// A task's DiscoveryInfo.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Discovery {
    /// DiscoveryInfo `name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Its ports.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: DiscoveryPorts,
}

/// DiscoveryInfo `ports`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DiscoveryPorts {
    /// The ports.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<DiscoveryPort>,
}

/// One DiscoveryInfo port.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DiscoveryPort {
    /// Port number (checked when records are made).
    #[serde(default, deserialize_with = "nullable")]
    pub number: i64,
    /// `tcp` or `udp`.
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: String,
    /// The port's name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// The port's labels (named VIPs).
    #[serde(default, deserialize_with = "nullable")]
    pub labels: KeyValues,
}

/// An agent ("slave" in the state document).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Agent {
    /// Agent id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Agent UPID; `None` when the key is absent.
    #[serde(default)]
    pub pid: Option<String>,
    /// The agent's host name.
    #[serde(default, deserialize_with = "nullable")]
    pub hostname: String,
}

impl State {
    /// The model's view of this document. Frameworks are keyed by id; a framework whose
    /// id is empty or repeated (never so in a real master's state) gets a key of its own,
    /// so that every framework of the document keeps its tasks.
    pub fn into_cluster_state(self) -> ClusterState {
        let mut seen: HashSet<String> = HashSet::with_capacity(self.frameworks.len());
        let mut frameworks = Vec::with_capacity(self.frameworks.len());
        // The tasks in one list: a framework's own list when it comes first and has room
        // for all (most clusters have one large framework), else one list made at once
        // (grown by doubling, it held up to twice the tasks beside each framework's
        // list, at the peak of a poll).
        let total: usize = self.frameworks.iter().map(|f| f.tasks.len()).sum();
        let mut tasks = Vec::new();
        for (index, framework) in self.frameworks.into_iter().enumerate() {
            let key = if framework.id.is_empty() || seen.contains(&framework.id) {
                format!("{}\u{0}{index}", framework.id)
            } else {
                framework.id.clone()
            };
            seen.insert(key.clone());
            let instances = cluster::repeat_numbers(framework.tasks.iter().map(|t| &*t.id));
            let framework_id: std::sync::Arc<str> = key.as_str().into();
            let mut own = framework.tasks;
            for (task, instance) in own.iter_mut().zip(instances) {
                task.instance = instance;
                task.framework_id = framework_id.clone();
            }
            if tasks.is_empty() && own.capacity() >= total {
                tasks = own;
            } else {
                tasks.reserve_exact(total - tasks.len());
                tasks.append(&mut own);
            }
            frameworks.push((
                key.into_boxed_str(),
                cluster::Framework {
                    name: framework.name,
                    pid: framework.pid,
                    hostname: framework.hostname,
                },
            ));
        }
        let agents = self
            .slaves
            .into_iter()
            .map(|a| {
                (
                    a.id.into_boxed_str(),
                    cluster::Agent {
                        pid: a.pid,
                        hostname: a.hostname,
                    },
                )
            })
            .collect();
        ClusterState {
            leader: self.leader,
            frameworks,
            agents,
            tasks,
        }
    }

    /// [`State::into_cluster_state`] of a copy.
    pub fn to_cluster_state(&self) -> ClusterState {
        self.clone().into_cluster_state()
    }

    /// Decodes a state document from a stream, never holding the whole text: the
    /// frameworks' task lists are cut out as they arrive and their tasks decoded on
    /// every core (`split`); the rest is decoded once the stream ends.
    pub fn from_reader(reader: impl Read) -> Result<State, serde_json::Error> {
        let cut = split::cut_task_lists(reader, state_lists, Task::into_cluster_task, None)?;
        let mut state: State = serde_json::from_slice(&cut.skeleton)?;
        for list in cut.lists {
            let framework = listing_framework(&list).and_then(|i| state.frameworks.get_mut(i));
            let framework = framework
                .ok_or_else(|| serde::de::Error::custom("a task list outside the frameworks"))?;
            framework.tasks = list.tasks;
        }
        Ok(state)
    }

    /// Decodes a state document from a stream as [`State::from_reader`] does, but hands
    /// its tasks to `sink` as they are decoded (list by list, in document order): what
    /// comes back is the rest, with each list's framework key.
    pub(crate) fn stream_from_reader(
        reader: impl Read,
        sink: split::TaskSink<'_>,
    ) -> Result<StateRest, serde_json::Error> {
        let cut = split::cut_task_lists(reader, state_lists, Task::into_cluster_task, Some(sink))?;
        let state: State = serde_json::from_slice(&cut.skeleton)?;
        // The skeleton's frameworks have no tasks: this only keys them.
        let without_tasks = state.into_cluster_state();
        let list_keys = cut
            .lists
            .iter()
            .map(|list| {
                let framework =
                    listing_framework(list).and_then(|i| without_tasks.frameworks.get(i));
                framework.map(|(key, _)| Arc::from(&**key))
            })
            .collect();
        Ok(StateRest {
            without_tasks,
            frameworks: cluster::TaskFrameworks::ByList(list_keys),
        })
    }

    /// Decodes a state document already in memory.
    pub fn from_slice(bytes: &[u8]) -> Result<State, serde_json::Error> {
        State::from_reader(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_read_as_empty() {
        let s = State::from_slice(
            br#"{"leader":null,"frameworks":[{"name":null,"tasks":null,"pid":null}],"slaves":null}"#,
        )
        .unwrap();
        assert_eq!(s.leader, "");
        assert_eq!(s.frameworks[0].name, "");
        assert!(s.frameworks[0].tasks.is_empty());
        assert!(s.frameworks[0].pid.is_none());
        assert!(s.slaves.is_empty());
    }

    #[test]
    fn unknown_fields_and_missing_fields() {
        let s = State::from_slice(
            br#"{"version":"1.9","frameworks":[{"tasks":[{"id":"x","state":"TASK_RUNNING","extra":{"a":[1,2]}}]}]}"#,
        )
        .unwrap();
        let t = &s.frameworks[0].tasks[0];
        assert!(t.running);
        assert!(t.discovery.is_none());
        assert!(t.ports.is_empty() && t.malformed_ports().is_none());
    }

    #[test]
    fn type_errors_are_errors() {
        assert!(State::from_slice(br#"{"frameworks":{"a":1}}"#).is_err());
        assert!(State::from_slice(b"not json").is_err());
    }

    #[test]
    fn reader_and_slice_agree() {
        let text = include_bytes!("../../tests/data/fake-state.json");
        let a = State::from_slice(text).unwrap();
        let b = State::from_reader(&text[..]).unwrap();
        assert_eq!(a.frameworks.len(), b.frameworks.len());
        assert_eq!(a.slaves.len(), 4);
        assert_eq!(a.leader, "master@1.2.3.4:5050");
    }

    /// A model as the poll of `text` makes it when its tasks are compared as they are
    /// decoded, against `model`.
    fn streamed(model: &cluster::Cluster, text: &[u8]) -> cluster::Cluster {
        let mut intake = cluster::StateIntake::new(model);
        let mut sink = |list, tasks| intake.take(model, list, tasks);
        let rest = State::stream_from_reader(text, &mut sink).unwrap(); // ok: test
        let state = intake
            .finish(model, rest.without_tasks, &rest.frameworks)
            .unwrap(); // ok: test
        let mut replaced = model.clone();
        replaced.replace(state, vec![], vec![]);
        replaced
    }

    fn whole(text: &[u8]) -> cluster::Cluster {
        let state = State::from_slice(text).unwrap().into_cluster_state(); // ok: test
        cluster::Cluster::from_state(state, vec![], vec![])
    }

    #[test]
    fn a_document_compared_as_it_is_decoded_makes_the_model_a_whole_one_makes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fake-state.json");
        let text = std::fs::read(path).unwrap(); // ok: test
        // Its own framework ids disagree with their frameworks' for some tasks, and it
        // lists one task id twice.
        let mut changed: serde_json::Value = serde_json::from_slice(&text).unwrap(); // ok: test
        changed["frameworks"][3]["tasks"][1]["state"] = "TASK_KILLED".into();
        changed["frameworks"][3]["tasks"][2]["name"] = "renamed".into();
        let changed = serde_json::to_vec(&changed).unwrap(); // ok: test
        cluster::assert_streamed_makes_whole_model(streamed, whole, &text, &changed);
    }
}
