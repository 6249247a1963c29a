//! The operator API's JSON records (`POST /api/v1 SUBSCRIBE`), read into the cluster
//! model: `SUBSCRIBED` becomes a [`ClusterState`] (its tasks handed on as they are
//! decoded, or with the rest), the other events [`Change`]s.
//! Only the fields names are made from are read; unknown event types are ignored.
//! Field meanings: `docs/spec/operator-api.md` §4-§6.

use super::split::{self, ArrayRule, Path};
use super::state::{
    Discovery, KeyValues, LabelKey, MaybeIp, TaskContainer, nullable, vip_port_labels,
};
use crate::cluster::{
    self, Change, ClusterState, RunningStatus, StatusUpdate, facts::is_terminal_state,
};
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Debug, Default, Deserialize)]
struct Id {
    #[serde(default, deserialize_with = "nullable")]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
struct Labels {
    #[serde(default, deserialize_with = "nullable")]
    labels: Vec<Label>,
}

#[derive(Debug, Default, Deserialize)]
struct Label {
    #[serde(default, deserialize_with = "nullable")]
    key: LabelKey,
    #[serde(default, deserialize_with = "nullable")]
    value: MaybeIp,
}

/// One operator API event. The payload sits under the key named after its type.
#[derive(Debug, Default, Deserialize)]
pub struct Event {
    /// The event's `type`.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default)]
    subscribed: Option<Subscribed>,
    #[serde(default)]
    task_added: Option<TaskAdded>,
    #[serde(default)]
    task_updated: Option<TaskUpdated>,
    #[serde(default)]
    framework_added: Option<FrameworkEvent>,
    #[serde(default)]
    framework_updated: Option<FrameworkEvent>,
    #[serde(default)]
    framework_removed: Option<FrameworkRemoved>,
    #[serde(default)]
    agent_added: Option<AgentAdded>,
    #[serde(default)]
    agent_removed: Option<AgentRemoved>,
}

/// The payload of `SUBSCRIBED`.
#[derive(Debug, Default, Deserialize)]
pub struct Subscribed {
    #[serde(default, deserialize_with = "nullable")]
    get_state: GetState,
    /// How often the master sends `HEARTBEAT`.
    #[serde(default, deserialize_with = "nullable")]
    pub heartbeat_interval_seconds: f64,
}

#[derive(Debug, Default, Deserialize)]
struct GetState {
    #[serde(default, deserialize_with = "nullable")]
    get_tasks: GetTasks,
    #[serde(default, deserialize_with = "nullable")]
    get_frameworks: GetFrameworks,
    #[serde(default, deserialize_with = "nullable")]
    get_agents: GetAgents,
}

#[derive(Debug, Default, Deserialize)]
struct GetTasks {
    /// In the model's form as soon as each is read (a `SUBSCRIBED` of 100k tasks).
    #[serde(default, deserialize_with = "tasks_into_model")]
    tasks: Vec<cluster::Task>,
}

/// The arrays of a record cut out of it as it streams in (see `split`): the tasks of
/// `SUBSCRIBED`, and the lists no name comes from.
fn subscribed_lists(path: Path) -> ArrayRule {
    match path {
        "subscribed.get_state.get_tasks.tasks" => ArrayRule::Split,
        "subscribed.get_state.get_tasks.completed_tasks"
        | "subscribed.get_state.get_tasks.unreachable_tasks"
        | "subscribed.get_state.get_frameworks.completed_frameworks" => ArrayRule::Drop,
        _ => ArrayRule::Keep,
    }
}

fn tasks_into_model<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<cluster::Task>, D::Error> {
    crate::mesos::task_list::tasks_into_model(d, Task::into_cluster_task)
}

#[derive(Debug, Default, Deserialize)]
struct GetFrameworks {
    #[serde(default, deserialize_with = "nullable")]
    frameworks: Vec<Framework>,
}

#[derive(Debug, Default, Deserialize)]
struct GetAgents {
    #[serde(default, deserialize_with = "nullable")]
    agents: Vec<Agent>,
}

#[derive(Debug, Default, Deserialize)]
struct Task {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    task_id: Id,
    #[serde(default, deserialize_with = "nullable")]
    framework_id: Id,
    #[serde(default, deserialize_with = "nullable")]
    agent_id: Id,
    #[serde(default, deserialize_with = "nullable")]
    state: String,
    #[serde(default, deserialize_with = "nullable")]
    resources: Vec<Resource>,
    #[serde(default, deserialize_with = "nullable")]
    statuses: Vec<Status>,
    #[serde(default)]
    discovery: Option<Discovery>,
    #[serde(default, deserialize_with = "nullable")]
    labels: KeyValues,
    #[serde(default, deserialize_with = "nullable")]
    container: TaskContainer,
}

#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default, deserialize_with = "nullable")]
    state: String,
    #[serde(default, deserialize_with = "nullable")]
    timestamp: f64,
    #[serde(default, deserialize_with = "nullable")]
    labels: Labels,
    #[serde(default, deserialize_with = "nullable")]
    container_status: ContainerStatus,
    #[serde(default)]
    healthy: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ContainerStatus {
    #[serde(default, deserialize_with = "nullable")]
    network_infos: Vec<NetworkInfo>,
}

#[derive(Debug, Default, Deserialize)]
struct NetworkInfo {
    #[serde(default, deserialize_with = "nullable")]
    ip_addresses: Vec<IpAddress>,
}

#[derive(Debug, Default, Deserialize)]
struct IpAddress {
    #[serde(default, deserialize_with = "nullable")]
    ip_address: MaybeIp,
}

#[derive(Debug, Default, Deserialize)]
struct Resource {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    kind: String,
    #[serde(default, deserialize_with = "nullable")]
    ranges: Ranges,
    /// Present (as `{}`) only on revocable resources, which names never use.
    #[serde(default)]
    revocable: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
struct Ranges {
    #[serde(default, deserialize_with = "nullable")]
    range: Vec<Range>,
}

#[derive(Debug, Default, Deserialize)]
struct Range {
    #[serde(default, deserialize_with = "nullable")]
    begin: u64,
    #[serde(default, deserialize_with = "nullable")]
    end: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Framework {
    #[serde(default, deserialize_with = "nullable")]
    framework_info: FrameworkInfo,
}

#[derive(Debug, Default, Deserialize)]
struct FrameworkInfo {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    id: Id,
    #[serde(default, deserialize_with = "nullable")]
    hostname: String,
}

#[derive(Debug, Default, Deserialize)]
struct Agent {
    #[serde(default, deserialize_with = "nullable")]
    agent_info: AgentInfo,
    #[serde(default)]
    pid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AgentInfo {
    #[serde(default, deserialize_with = "nullable")]
    id: Id,
    #[serde(default, deserialize_with = "nullable")]
    hostname: String,
}

#[derive(Debug, Default, Deserialize)]
struct TaskAdded {
    #[serde(default, deserialize_with = "nullable")]
    task: Task,
}

#[derive(Debug, Default, Deserialize)]
struct TaskUpdated {
    #[serde(default, deserialize_with = "nullable")]
    framework_id: Id,
    #[serde(default, deserialize_with = "nullable")]
    status: TaskUpdatedStatus,
    #[serde(default, deserialize_with = "nullable")]
    state: String,
}

/// The status of a `TASK_UPDATED`: a status, and the task it belongs to.
#[derive(Debug, Default, Deserialize)]
struct TaskUpdatedStatus {
    #[serde(default, deserialize_with = "nullable")]
    task_id: Id,
    #[serde(flatten)]
    status: Status,
}

#[derive(Debug, Default, Deserialize)]
struct FrameworkEvent {
    #[serde(default, deserialize_with = "nullable")]
    framework: Framework,
}

#[derive(Debug, Default, Deserialize)]
struct FrameworkRemoved {
    #[serde(default, deserialize_with = "nullable")]
    framework_info: FrameworkInfo,
}

#[derive(Debug, Default, Deserialize)]
struct AgentAdded {
    #[serde(default, deserialize_with = "nullable")]
    agent: Agent,
}

#[derive(Debug, Default, Deserialize)]
struct AgentRemoved {
    #[serde(default, deserialize_with = "nullable")]
    agent_id: Id,
}

/// What one record of the stream means for the model.
#[derive(Debug)]
pub enum Record {
    /// The whole cluster, and the heartbeat interval in seconds.
    Subscribed(ClusterState, f64),
    /// A change to the model.
    Change(Change),
    /// `HEARTBEAT`: the stream is alive.
    Heartbeat,
    /// A type this server does not use (counted, otherwise ignored).
    Other,
}

impl Event {
    /// Decodes one record's JSON.
    pub fn from_slice(bytes: &[u8]) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Decodes one record as it streams in (the `SUBSCRIBED` of a large cluster): its
    /// task list is cut out as it arrives and decoded on every core (`split`), the rest
    /// once the record ends. With a `sink`, the tasks go there as they are decoded
    /// (list 0) and the event comes back without them.
    pub(crate) fn from_reader(
        reader: impl std::io::Read,
        sink: Option<split::TaskSink<'_>>,
    ) -> Result<Event, serde_json::Error> {
        let cut = split::cut_task_lists(reader, subscribed_lists, Task::into_cluster_task, sink)?;
        let mut event: Event = serde_json::from_slice(&cut.skeleton)?;
        for list in cut.lists {
            // The rule cuts one list only, and it lies under `subscribed`.
            let subscribed = event
                .subscribed
                .as_mut()
                .ok_or_else(|| serde::de::Error::custom("a task list outside SUBSCRIBED"))?;
            subscribed.get_state.get_tasks.tasks = list.tasks;
        }
        Ok(event)
    }

    /// What the event means; `leader` is the master that answered the subscription.
    pub fn into_record(self, leader: &str) -> Record {
        match self.kind.as_str() {
            "SUBSCRIBED" => {
                let subscribed = self.subscribed.unwrap_or_default();
                let interval = subscribed.heartbeat_interval_seconds;
                Record::Subscribed(subscribed.get_state.into_cluster_state(leader), interval)
            }
            "HEARTBEAT" => Record::Heartbeat,
            "TASK_ADDED" => match self.task_added {
                Some(added) => Record::Change(Change::TaskAdded(added.task.into_cluster_task())),
                None => Record::Other,
            },
            "TASK_UPDATED" => match self.task_updated {
                Some(u) => Record::Change(Change::TaskUpdated(StatusUpdate {
                    framework_id: u.framework_id.value,
                    task_id: u.status.task_id.value,
                    running: u.state == "TASK_RUNNING",
                    terminal: is_terminal_state(&u.state),
                    status: (u.status.status.state == "TASK_RUNNING")
                        .then(|| u.status.status.running_status()),
                })),
                None => Record::Other,
            },
            "FRAMEWORK_ADDED" | "FRAMEWORK_UPDATED" => {
                match self.framework_added.or(self.framework_updated) {
                    Some(f) => {
                        let (id, framework) = f.framework.framework_info.into_model();
                        Record::Change(Change::FrameworkUpserted { id, framework })
                    }
                    None => Record::Other,
                }
            }
            "FRAMEWORK_REMOVED" => match self.framework_removed {
                Some(f) => Record::Change(Change::FrameworkRemoved {
                    id: f.framework_info.id.value.into(),
                }),
                None => Record::Other,
            },
            "AGENT_ADDED" => match self.agent_added {
                Some(a) => {
                    let (id, agent) = a.agent.into_model();
                    Record::Change(Change::AgentUpserted { id, agent })
                }
                None => Record::Other,
            },
            "AGENT_REMOVED" => match self.agent_removed {
                Some(a) => Record::Change(Change::AgentRemoved {
                    id: a.agent_id.value.into(),
                }),
                None => Record::Other,
            },
            _ => Record::Other,
        }
    }
}

impl GetState {
    fn into_cluster_state(self, leader: &str) -> ClusterState {
        ClusterState {
            leader: if leader.is_empty() {
                String::new()
            } else {
                format!("master@{leader}")
            },
            frameworks: self
                .get_frameworks
                .frameworks
                .into_iter()
                .map(|f| f.framework_info.into_model())
                .collect(),
            agents: self
                .get_agents
                .agents
                .into_iter()
                .map(Agent::into_model)
                .collect(),
            tasks: self.get_tasks.tasks,
        }
    }
}

impl FrameworkInfo {
    fn into_model(self) -> (Box<str>, cluster::Framework) {
        (
            self.id.value.into(),
            cluster::Framework {
                name: self.name,
                // The operator API carries no scheduler PID.
                pid: None,
                hostname: self.hostname,
            },
        )
    }
}

impl Agent {
    fn into_model(self) -> (Box<str>, cluster::Agent) {
        (
            self.agent_info.id.value.into(),
            cluster::Agent {
                pid: self.pid,
                hostname: self.agent_info.hostname,
            },
        )
    }
}

/// Ports are expanded from ranges; a task announcing more than this is cut (and
/// reported), as no task's names could use them all.
const MAX_TASK_PORTS: u64 = 65_536;

impl Task {
    fn into_cluster_task(self) -> cluster::Task {
        let (ports, malformed) = ports(&self.resources);
        let last_status_running = self.statuses.last().map(|s| s.state == "TASK_RUNNING");
        cluster::Task {
            id: self.task_id.value.into(),
            instance: 0,
            name: self.name.into(),
            framework_id: self.framework_id.value.into(),
            agent_id: self.agent_id.value.into(),
            running: self.state == "TASK_RUNNING",
            running_statuses: self
                .statuses
                .iter()
                .filter(|s| s.state == "TASK_RUNNING")
                .map(Status::running_status)
                .collect(),
            last_status_running,
            ports: ports.into(),
            discovery: self.discovery.map(Discovery::into_model),
            host_port_mapped: self.container.host_port_mapped(),
            rare: cluster::TaskRare::of(
                malformed.map(Into::into),
                vip_port_labels(&self.labels.labels),
            ),
        }
    }
}

/// The task's ports as `/master/state` lists them: the sorted, coalesced union of every
/// non-revocable `ports` range resource. Bad ranges are skipped and described.
fn ports(resources: &[Resource]) -> (Vec<u16>, Option<String>) {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut bad = Vec::new();
    for r in resources {
        if r.name != "ports" || r.kind != "RANGES" || r.revocable.is_some() {
            continue;
        }
        for range in &r.ranges.range {
            if range.begin > range.end || range.end > u64::from(u16::MAX) {
                bad.push(format!("{}-{}", range.begin, range.end));
            } else {
                ranges.push((range.begin, range.end));
            }
        }
    }
    ranges.sort_unstable();
    let mut ports = Vec::new();
    let mut next = 0u64;
    for (begin, end) in ranges {
        for port in begin.max(next)..=end {
            if ports.len() as u64 >= MAX_TASK_PORTS {
                break;
            }
            ports.push(port as u16);
        }
        next = next.max(end + 1);
    }
    let malformed = (!bad.is_empty()).then(|| format!("[{}]", bad.join(", ")));
    (ports, malformed)
}

impl Status {
    fn running_status(&self) -> RunningStatus {
        let labels = |key: LabelKey| -> Vec<IpAddr> {
            self.labels
                .labels
                .iter()
                .filter(|l| l.key == key)
                .filter_map(|l| l.value.0)
                .collect()
        };
        let netinfo: Vec<IpAddr> = self
            .container_status
            .network_infos
            .iter()
            .flat_map(|n| &n.ip_addresses)
            .filter_map(|a| a.ip_address.0)
            .collect();
        RunningStatus::new(
            self.timestamp,
            &netinfo,
            &labels(LabelKey::DockerIp),
            &labels(LabelKey::MesosIp),
            self.healthy,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_the_sorted_union_of_plain_ranges() {
        let resources: Vec<Resource> = serde_json::from_str(
            r#"[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31005,"end":31006},{"begin":31000,"end":31001}]}},
                {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31001,"end":31002}]}},
                {"name":"ports","type":"RANGES","revocable":{},"ranges":{"range":[{"begin":80,"end":80}]}},
                {"name":"cpus","type":"SCALAR","scalar":{"value":1}},
                {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":9,"end":3},{"begin":1,"end":70000}]}}]"#,
        )
        .unwrap();
        let (ports, bad) = ports(&resources);
        assert_eq!(ports, vec![31000, 31001, 31002, 31005, 31006]);
        assert_eq!(bad.as_deref(), Some("[9-3, 1-70000]"));
    }

    #[test]
    fn task_updated_reads_the_task_from_its_status() {
        let e = Event::from_slice(
            br#"{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f"},
                 "status":{"task_id":{"value":"t"},"state":"TASK_STARTING","timestamp":2.5},
                 "state":"TASK_RUNNING"}}"#,
        )
        .unwrap();
        let Record::Change(Change::TaskUpdated(u)) = e.into_record("") else {
            panic!("not an update");
        };
        assert_eq!((u.framework_id.as_str(), u.task_id.as_str()), ("f", "t"));
        assert!(u.running && !u.terminal && u.status.is_none());
    }

    /// The example's `SUBSCRIBED` record, its tasks copied under new ids (enough for the
    /// decoding workers to take part), and `change` applied to those.
    fn subscribed_copies(change: impl Fn(&mut Vec<serde_json::Value>)) -> Vec<u8> {
        let stream = include_bytes!("../../tests/data/subscribe-example.recordio");
        let mut records = crate::mesos::recordio::RecordReader::new(&stream[..]);
        let length = records.next_length(u64::MAX).unwrap().unwrap(); // ok: test
        let first = records.read_record(length).unwrap(); // ok: test
        let mut doc: serde_json::Value = serde_json::from_slice(&first).unwrap(); // ok: test
        let tasks = &mut doc["subscribed"]["get_state"]["get_tasks"]["tasks"];
        let examples = tasks.as_array().unwrap().clone(); // ok: test
        let mut copies: Vec<serde_json::Value> = (0..1_000)
            .map(|i| {
                let mut task = examples[i % examples.len()].clone();
                task["task_id"]["value"] = format!("copy-{i}").into();
                task
            })
            .collect();
        change(&mut copies);
        *tasks = copies.into();
        serde_json::to_vec(&doc).unwrap() // ok: test
    }

    #[test]
    fn subscribed_streamed_in_decodes_as_it_does_from_memory() {
        let stream = include_bytes!("../../tests/data/subscribe-example.recordio");
        let mut records = crate::mesos::recordio::RecordReader::new(&stream[..]);
        let length = records.next_length(u64::MAX).unwrap().unwrap(); // ok: test
        let first = records.read_record(length).unwrap(); // ok: test
        for record in [first, subscribed_copies(|_| {})] {
            let whole = Event::from_slice(&record).unwrap(); // ok: test
            let streamed = Event::from_reader(&record[..], None).unwrap(); // ok: test
            assert_eq!(format!("{streamed:?}"), format!("{whole:?}"));
            let Record::Subscribed(state, _) = streamed.into_record("") else {
                panic!("not SUBSCRIBED");
            };
            assert!(!state.tasks.is_empty());
        }
    }

    /// The model a subscription makes of `record` when its tasks are compared with
    /// `model` as they are decoded.
    fn streamed(model: &cluster::Cluster, record: &[u8]) -> cluster::Cluster {
        let mut intake = cluster::StateIntake::new(model);
        let mut sink = |list, tasks| intake.take(model, list, tasks);
        let event = Event::from_reader(record, Some(&mut sink)).unwrap(); // ok: test
        let Record::Subscribed(rest, _) = event.into_record("m:5050") else {
            panic!("not SUBSCRIBED");
        };
        assert!(rest.tasks.is_empty());
        let named = cluster::TaskFrameworks::Named;
        let state = intake.finish(model, rest, &named).unwrap(); // ok: test
        let mut replaced = model.clone();
        replaced.replace(state, vec![], vec![]);
        replaced
    }

    fn whole(record: &[u8]) -> cluster::Cluster {
        let event = Event::from_slice(record).unwrap(); // ok: test
        let Record::Subscribed(state, _) = event.into_record("m:5050") else {
            panic!("not SUBSCRIBED");
        };
        cluster::Cluster::from_state(state, vec![], vec![])
    }

    #[test]
    fn subscribed_compared_as_it_is_decoded_makes_the_model_a_whole_one_makes() {
        let text = subscribed_copies(|_| {});
        // One task gone, one renamed, one finished, one listed twice.
        let changed = subscribed_copies(|tasks| {
            tasks.remove(7);
            tasks[3]["name"] = "renamed".into();
            tasks[5]["state"] = "TASK_FINISHED".into();
            let again = tasks[9].clone();
            tasks.push(again);
        });
        cluster::assert_streamed_makes_whole_model(streamed, whole, &text, &changed);
        assert_ne!(whole(&text).task_count(), whole(&changed).task_count());
    }

    #[test]
    fn unknown_types_and_missing_payloads_are_other() {
        for doc in [
            r#"{"type":"SOMETHING_NEW","something_new":{}}"#,
            r#"{"type":"TASK_ADDED"}"#,
            r#"{}"#,
        ] {
            let e = Event::from_slice(doc.as_bytes()).unwrap();
            assert!(matches!(e.into_record(""), Record::Other), "{doc}");
        }
    }
}
