//! Mesos state → [`RecordSet`]: the names Mesos-DNS publishes (docs/spec/mesos-dns-behavior.md §4), generated
//! without any I/O. Where the reference publishes names a resolver can never serve
//! (docs/spec/mesos-dns-behavior.md §10.8, §10.9, §4.11), only the valid form is published; see
//! `docs/compatibility.md`.

pub mod documents;
pub mod enumerate;
pub mod hash;
pub(crate) mod item;
pub mod set;
pub(crate) mod task_ips;

use crate::cluster::{Agent, Cluster, Discovery, HashMap, Item, Task};
use crate::config::Config;
use crate::config::DCOS_DIRECTORY;
use crate::names::hostport::Upid;
use crate::names::hostport::{Host, parse_ip, split_host_port};
use crate::names::labels::{LabelSpec, dcos_label, is_host_fragment, shorten_label};
use crate::names::reverse::reverse_name;
use hash::{agent_tail, task_hash};
pub use item::ItemRecords;
pub use set::{
    AddError, FrameworkEntry, NameId, NameRecords, PTR_AGENT, PTR_TASK, RData, RecordSet,
    RecordSetBuilder, TaskEntry, ip_rdata,
};
use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

/// Items the generator skipped, with a few examples for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// How many items were skipped.
    pub skipped: usize,
    /// A few of them, for the log.
    pub examples: Vec<String>,
}

impl Report {
    const EXAMPLES: usize = 10;

    fn skip(&mut self, why: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(why());
        }
    }

    /// Adds what `other` skipped (its examples while there is room).
    pub fn merge(&mut self, other: Report) {
        self.skipped += other.skipped;
        let room = Self::EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }
}

/// Where generated records go: a whole [`RecordSet`], or the records of one item.
pub trait Sink {
    /// Interns `name` if it can be written in a DNS message.
    fn name(&mut self, name: &str) -> Result<NameId, AddError>;
    /// Adds a record to an interned name; `Duplicate` when the name has it already.
    fn add(&mut self, owner: NameId, rdata: RData) -> Result<(), AddError>;
}

impl Sink for RecordSetBuilder {
    fn name(&mut self, name: &str) -> Result<NameId, AddError> {
        RecordSetBuilder::name(self, name)
    }
    fn add(&mut self, owner: NameId, rdata: RData) -> Result<(), AddError> {
        RecordSetBuilder::add(self, owner, rdata)
    }
}

/// Generates every record of the model, in the reference's order: frameworks, agents,
/// listener, leader and masters, then each framework's tasks.
pub fn generate_cluster(config: &Config, cluster: &Cluster) -> (RecordSet, Report) {
    // A running task publishes about 4 names and 13 records (measured on synthetic
    // Marathon states).
    let tasks = cluster.task_count();
    let mut out = RecordSetBuilder::with_capacity(4 * tasks + 64, 16 * tasks + 64);
    let mut report = Report::default();
    let rules = Rules::new(config);
    let frameworks = cluster.frameworks_in_order();
    for (id, _) in &frameworks {
        rules.item(
            cluster,
            &Item::Framework((*id).into()),
            &mut out,
            &mut report,
        );
    }
    for (id, _) in cluster.agents_in_order() {
        rules.item(cluster, &Item::Agent(id.into()), &mut out, &mut report);
    }
    rules.item(cluster, &Item::Cluster, &mut out, &mut report);
    for (id, framework) in &frameworks {
        let mut entry = FrameworkEntry {
            name: framework.name.as_str().into(),
            tasks: Vec::new(),
        };
        for task in cluster.framework_tasks(id) {
            if !rules.has_names(cluster, task) {
                continue;
            }
            let start = out.position();
            rules.item(cluster, &Item::Task(task.key()), &mut out, &mut report);
            entry.tasks.push(TaskEntry {
                name: (*task.name).into(),
                id: task.id.clone(),
                records: start..out.position(),
            });
        }
        out.push_framework(entry);
    }
    (out.finish(), report)
}

/// The naming rules of one configuration, applied item by item.
///
/// What every task of a framework or an agent shares (the framework's zones, the agent's
/// addresses) is worked out once per `Rules` and remembered: keep one `Rules` for a batch
/// of items of one unchanging model.
pub struct Rules<'a> {
    config: &'a Config,
    spec: LabelSpec,
    /// Framework id → its zones (`None`: no usable label). Both maps hash as the
    /// model's do (seeded: the ids are not ours).
    zones: RefCell<HashMap<String, Option<Rc<FrameworkZones>>>>,
    /// Agent id → its addresses (`None`: no usable PID).
    agent_ips: RefCell<HashMap<String, Option<Rc<[IpAddr]>>>>,
    /// Reused to build names without allocating.
    scratch: RefCell<String>,
}

impl<'a> Rules<'a> {
    /// The rules of `config`.
    pub fn new(config: &'a Config) -> Rules<'a> {
        Rules {
            config,
            spec: config.label_spec(),
            zones: RefCell::default(),
            agent_ips: RefCell::default(),
            scratch: RefCell::new(String::with_capacity(256)),
        }
    }

    /// The addresses of an agent with a usable PID.
    fn agent_ips(&self, cluster: &Cluster, id: &str) -> Option<Rc<[IpAddr]>> {
        if let Some(known) = self.agent_ips.borrow().get(id) {
            return known.clone();
        }
        let ips: Option<Rc<[IpAddr]>> = cluster
            .agents
            .get(id)
            .and_then(|a| agent_upid(&a.value).ok())
            .map(|pid| pid.host.ip().into_iter().collect());
        self.agent_ips.borrow_mut().insert(id.into(), ips.clone());
        ips
    }

    /// A known framework's zones (`None` inside: it has no usable label).
    fn zones(&self, cluster: &Cluster, id: &str) -> Option<Option<Rc<FrameworkZones>>> {
        if let Some(known) = self.zones.borrow().get(id) {
            return Some(known.clone());
        }
        let framework = &cluster.frameworks.get(id)?.value;
        let label = self.spec.domain_fragment(&framework.name);
        let zones = (!label.is_empty()).then(|| {
            Rc::new(FrameworkZones {
                zone: format!("{label}.{}.", self.config.domain),
                slave_zone: format!("{label}.slave.{}.", self.config.domain),
                label,
            })
        });
        self.zones.borrow_mut().insert(id.into(), zones.clone());
        Some(zones)
    }

    /// True when the task is listed by `/v1/enumerate` and may have names: it runs (and,
    /// under `HealthyOnly`, its health check does not fail), and its framework and an
    /// agent with a usable PID are known.
    pub fn has_names(&self, cluster: &Cluster, task: &Task) -> bool {
        self.is_served(task)
            && cluster.frameworks.contains_key(&*task.framework_id)
            && self.agent_ips(cluster, &task.agent_id).is_some()
    }

    /// A running task, unless `HealthyOnly` leaves it out.
    fn is_served(&self, task: &Task) -> bool {
        task.running && !(self.config.healthy_only && task.is_unhealthy())
    }

    /// Writes the records of one item of `cluster` to `out` (with `DCOSNames`, the
    /// domain's records twice: as they are and under `mesos.thisdcos.directory.`).
    pub fn item<S: Sink>(&self, cluster: &Cluster, item: &Item, out: &mut S, report: &mut Report) {
        if self.config.dcos_names {
            let mut mirror = Mirror::new(out, &self.config.domain);
            self.item_into(cluster, item, &mut mirror, report);
        } else {
            self.item_into(cluster, item, out, report);
        }
    }

    fn item_into<S: Sink>(&self, cluster: &Cluster, item: &Item, out: &mut S, report: &mut Report) {
        let mut scratch = self.scratch.borrow_mut();
        let mut g = Generator {
            domain: &self.config.domain,
            spec: self.spec,
            config: self.config,
            out,
            report,
            scratch: std::mem::take(&mut *scratch),
        };
        self.write(cluster, item, &mut g);
        *scratch = g.scratch;
    }

    fn write<S: Sink>(&self, cluster: &Cluster, item: &Item, g: &mut Generator<'_, S>) {
        match item {
            Item::Cluster => {
                for ip in &cluster.listener_ips {
                    g.add_ip(&self.config.soa_mname, *ip);
                }
                g.leader_and_masters(&cluster.leader, &cluster.masters);
            }
            Item::Framework(id) => {
                if let Some(f) = cluster.frameworks.get(id) {
                    let f = &f.value;
                    let label = self.spec.domain_fragment(&f.name);
                    g.framework(&label, f.pid.as_deref(), &f.hostname, &f.name);
                }
            }
            Item::Agent(id) => {
                if let Some(agent) = cluster.agents.get(id) {
                    g.agent(id, &agent.value);
                }
            }
            Item::Task(key) => {
                let Some(task) = cluster.task(key).filter(|t| self.is_served(t)) else {
                    return;
                };
                let (Some(zones), Some(agent_ips)) = (
                    self.zones(cluster, &task.framework_id),
                    self.agent_ips(cluster, &task.agent_id),
                ) else {
                    return;
                };
                match zones {
                    Some(zones) => {
                        g.task(task, &zones, &agent_ips);
                        if self.config.dcos_names {
                            let framework = &cluster.frameworks[&*task.framework_id].value.name;
                            g.dcos_task(task, framework, &agent_ips);
                        }
                    }
                    None => {
                        let name = &cluster.frameworks[&*task.framework_id].value.name;
                        g.report
                            .skip(|| format!("framework {name:?} has no usable label"));
                    }
                }
            }
        }
    }
}

/// Where DC/OS task names live.
const DCOS_TASKS: &str = "dcos.thisdcos.directory.";
/// Where DC/OS named VIPs live.
const DCOS_VIPS: &str = "l4lb.thisdcos.directory.";

/// A task's named VIPs as (name label, `tcp` or `udp`, the backend's port): from its
/// DiscoveryInfo port labels (`VIP_*`/`vip*` = `/name:port`, the port being that
/// DiscoveryInfo port) and from its legacy labels (`VIP_PORT<i>` = `tcp://name:port`,
/// the port being the task's i-th port). IP VIPs (an address before the `:`) have no name.
fn task_vips(task: &Task) -> Vec<(String, &'static str, u16)> {
    let mut out = Vec::new();
    let protocol = |p: &str| match p.to_ascii_lowercase().as_str() {
        "" | "tcp" => Some("tcp"),
        "udp" => Some("udp"),
        _ => None,
    };
    for (number, port) in task.discovery.iter().flat_map(|d| d.ports()) {
        let (Ok(number), Some(proto)) = (u16::try_from(number), protocol(&port.protocol)) else {
            continue;
        };
        if number == 0 {
            continue;
        }
        for value in &port.vips {
            if let Some(name) = vip_name(value) {
                out.push((name, proto, number));
            }
        }
    }
    for (index, value) in task.vip_labels() {
        let (Some(&port), Some((scheme, rest))) = (task.ports.get(*index), value.split_once("://"))
        else {
            continue;
        };
        if let (Some(proto), Some(name)) = (protocol(scheme), vip_name(rest)) {
            out.push((name, proto, port));
        }
    }
    out
}

/// The name of a VIP `[/]name:port` (split at the last `:`), as a DC/OS label; `None`
/// for an IP VIP or a name that leaves no label.
fn vip_name(value: &str) -> Option<String> {
    let (left, port) = value.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let left = left.trim_start_matches('/');
    let bare = left.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(dcos_label(left)).filter(|l| !l.is_empty())
}

/// A sink that writes every record of the domain twice (`DCOSNames`): as it is, and
/// under `mesos.thisdcos.directory.`, so that zone answers exactly like the domain
/// (SRV targets mirrored too). Names outside the domain pass through once.
struct Mirror<'o, S: Sink> {
    out: &'o mut S,
    /// The domain as an apex, `mesos.`.
    apex: String,
    /// Each name's mirror, when it has one.
    mirrors: std::collections::HashMap<NameId, Option<NameId>>,
}

impl<'o, S: Sink> Mirror<'o, S> {
    fn new(out: &'o mut S, domain: &str) -> Mirror<'o, S> {
        Mirror {
            out,
            apex: format!("{domain}."),
            mirrors: std::collections::HashMap::new(),
        }
    }

    fn mirror_of(&self, id: NameId) -> Option<NameId> {
        self.mirrors.get(&id).copied().flatten()
    }
}

impl<S: Sink> Sink for Mirror<'_, S> {
    fn name(&mut self, name: &str) -> Result<NameId, AddError> {
        let id = self.out.name(name)?;
        if !self.mirrors.contains_key(&id) {
            let prefix = if name.eq_ignore_ascii_case(&self.apex) {
                Some("")
            } else {
                name.len()
                    .checked_sub(self.apex.len() + 1)
                    .filter(|&cut| {
                        name.as_bytes()[cut] == b'.'
                            && name[cut + 1..].eq_ignore_ascii_case(&self.apex)
                    })
                    .map(|cut| &name[..=cut])
            };
            let mirror = prefix.and_then(|p| {
                let mirrored = format!("{p}mesos.{DCOS_DIRECTORY}.");
                self.out.name(&mirrored).ok()
            });
            self.mirrors.insert(id, mirror);
        }
        Ok(id)
    }

    fn add(&mut self, owner: NameId, rdata: RData) -> Result<(), AddError> {
        let added = self.out.add(owner, rdata);
        if let Some(mirror) = self.mirror_of(owner) {
            let rdata = match rdata {
                RData::Srv { target, port } => RData::Srv {
                    target: self.mirror_of(target).unwrap_or(target),
                    port,
                },
                other => other,
            };
            let _ = self.out.add(mirror, rdata);
        }
        added
    }
}

/// Why an agent has no usable PID.
#[derive(Debug)]
enum AgentPidError {
    Missing,
    Bad(crate::names::hostport::UpidError),
}

fn agent_upid(agent: &Agent) -> Result<Upid, AgentPidError> {
    let raw = agent.pid.as_deref().ok_or(AgentPidError::Missing)?;
    Upid::parse(raw).map_err(AgentPidError::Bad)
}

struct Generator<'a, S: Sink> {
    domain: &'a str,
    spec: LabelSpec,
    config: &'a Config,
    out: &'a mut S,
    report: &'a mut Report,
    /// Reused to build names without allocating.
    scratch: String,
}

/// A task's label twice: as its own names use it, and as its canonical `T-H-S` label
/// starts (the reference's form, which may end in a hyphen that is inner there).
#[derive(Clone, Copy, PartialEq, Eq)]
struct TaskLabel<'a> {
    name: &'a str,
    canonical_base: &'a str,
}

impl<'a> TaskLabel<'a> {
    /// From the reference's label: names drop its trailing hyphens.
    fn new(reference: &'a str) -> TaskLabel<'a> {
        TaskLabel {
            name: reference.trim_end_matches('-'),
            canonical_base: reference,
        }
    }

    /// A label used as it is for both.
    fn same(label: &'a str) -> TaskLabel<'a> {
        TaskLabel {
            name: label,
            canonical_base: label,
        }
    }
}

/// `_label`, keeping the first label within 63 octets.
fn service_label(text: &str) -> String {
    let (first, rest) = text.split_at(text.find('.').unwrap_or(text.len()));
    format!("_{}{rest}", shorten_label(first, 62))
}

/// `T-H-S`, shortening the last label of `T` so the whole label fits in 63 octets.
/// An empty tail (an agent id ending in `-`) leaves `T-H`.
fn canonical_label(task_label: &str, hash: &str, tail: &str) -> String {
    let (prefix, last) = match task_label.rfind('.') {
        Some(i) => task_label.split_at(i + 1),
        None => ("", task_label),
    };
    // An agent tail is short in practice; a hostile one is cut so `T` keeps a character.
    let tail = shorten_label(tail, 63 - hash.len() - 3);
    let suffix = if tail.is_empty() {
        format!("-{hash}")
    } else {
        format!("-{hash}-{tail}")
    };
    let budget = 63usize.saturating_sub(suffix.len());
    format!("{prefix}{}{suffix}", shorten_label(last, budget))
}

impl<S: Sink> Generator<'_, S> {
    fn note(&mut self, result: Result<(), AddError>, owner: &str) {
        if result == Err(AddError::BadName) {
            self.report
                .skip(|| format!("name {owner:?} cannot be written in DNS; not published"));
        }
    }

    fn try_add_ip(&mut self, owner: &str, ip: IpAddr) -> Result<(), AddError> {
        let owner = self.out.name(owner)?;
        self.out.add(owner, ip_rdata(ip))
    }

    fn add_ip(&mut self, owner: &str, ip: IpAddr) {
        let r = self.try_add_ip(owner, ip);
        self.note(r, owner);
    }

    fn add_srv(&mut self, owner: &str, target: &str, port: u16) {
        let r = self.out.name(owner).and_then(|owner| {
            let target = self.out.name(target)?;
            self.out.add(owner, RData::Srv { target, port })
        });
        self.note(r, owner);
    }

    /// The DC/OS names of a task (`DCOSNames`): `<task>.<framework>.agentip|containerip|
    /// autoip.dcos.thisdcos.directory.`, and its named VIPs under
    /// `l4lb.thisdcos.directory.` (addresses and SRV records of every backend).
    fn dcos_task(&mut self, task: &Task, framework: &str, agent_ips: &[IpAddr]) {
        let f = dcos_label(framework);
        let task_text = match &task.discovery {
            Some(d) if !d.name().is_empty() => d.name(),
            _ => &task.name,
        };
        let t = dcos_label(task_text);
        if f.is_empty() || t.is_empty() {
            self.report
                .skip(|| format!("task {task_text:?} of {framework:?} has no DC/OS name"));
            return;
        }
        let container: Vec<IpAddr> = task
            .running_statuses
            .last()
            .map(|s| s.netinfo().to_vec())
            .unwrap_or_default();
        // Port-mapped tasks are reached on their agent; others on their own address.
        let auto: &[IpAddr] = if task.host_port_mapped || container.is_empty() {
            agent_ips
        } else {
            &container
        };
        let autoip = format!("{t}.{f}.autoip.{DCOS_TASKS}");
        for (kind, ips) in [("agentip", agent_ips), ("containerip", &container[..])] {
            let name = format!("{t}.{f}.{kind}.{DCOS_TASKS}");
            for &ip in ips {
                self.add_ip(&name, ip);
            }
        }
        for &ip in auto {
            self.add_ip(&autoip, ip);
        }
        for (vip, proto, port) in task_vips(task) {
            let owner = format!("{vip}.{f}.{DCOS_VIPS}");
            for &ip in auto {
                self.add_ip(&owner, ip);
            }
            self.add_srv(&format!("_{vip}._{proto}.{f}.{DCOS_VIPS}"), &autoip, port);
        }
    }

    /// A reverse-lookup candidate `ip` → `target`, when `ip` lies in a reverse zone.
    fn add_ptr(&mut self, ip: IpAddr, target: NameId, rank: u8) {
        if !self.config.reverse_zones.iter().any(|z| z.contains(&ip)) {
            return;
        }
        let owner = reverse_name(&ip);
        if let Ok(owner) = self.out.name(&owner) {
            let _ = self.out.add(owner, RData::Ptr { target, rank });
        }
    }

    fn framework(&mut self, label: &str, pid: Option<&str>, hostname: &str, name: &str) {
        let (host, port) = match pid {
            Some(raw) => match Upid::parse(raw) {
                Ok(pid) => (pid.host, Some(pid.port)),
                Err(e) => {
                    self.report.skip(|| format!("framework {name:?}: {e}"));
                    return;
                }
            },
            None => (Host::parse(hostname), None),
        };
        // Host names are not resolved (docs/spec/mesos-dns-behavior.md §10.11): no address, so no records.
        let Some(ip) = host.ip() else { return };
        if label.is_empty() {
            self.report
                .skip(|| format!("framework {name:?} has no usable label"));
            return;
        }
        let owner = format!("{label}.{}.", self.domain);
        self.add_ip(&owner, ip);
        if let Some(port) = port {
            self.add_srv(&format!("_framework._tcp.{owner}"), &owner, port);
        }
    }

    /// An agent's `slave.<domain>` records.
    fn agent(&mut self, id: &str, agent: &Agent) {
        let pid = match agent_upid(agent) {
            Ok(pid) => pid,
            Err(AgentPidError::Missing) => {
                self.report
                    .skip(|| format!("agent {id:?} has no pid; its tasks are skipped"));
                return;
            }
            Err(AgentPidError::Bad(e)) => {
                self.report
                    .skip(|| format!("agent {id:?}: {e}; its tasks are skipped"));
                return;
            }
        };
        let Some(ip) = pid.host.ip() else {
            self.report.skip(|| {
                format!(
                    "agent {id:?} host {} is not an IP; no agent address records",
                    pid.host
                )
            });
            return;
        };
        let slave_name = format!("slave.{}.", self.domain);
        self.add_ip(&slave_name, ip);
        self.add_srv(
            &format!("_slave._tcp.{}.", self.domain),
            &slave_name,
            pid.port,
        );
        // The agent's address maps back to its host name, when that is a DNS name.
        let host = agent.hostname.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        if !self.config.reverse_zones.is_empty() && is_host_fragment(host) {
            if let Ok(target) = self.out.name(&format!("{host}.")) {
                self.add_ptr(ip, target, PTR_AGENT);
            }
        }
    }

    /// docs/spec/mesos-dns-behavior.md §4.8.
    fn leader_and_masters(&mut self, leader: &str, masters: &[String]) {
        let d = self.domain;
        let mut parts = leader.split('@');
        let (Some(_), Some(address)) = (parts.next(), parts.next()) else {
            return;
        };
        let Some((ip, port)) = split_address(address) else {
            return;
        };
        let Some(ip) = parse_ip(ip) else {
            self.report
                .skip(|| format!("leader {leader:?} is not an IP address; no leader records"));
            return;
        };
        let Ok(port) = port.parse::<u16>() else {
            self.report
                .skip(|| format!("leader {leader:?} has no valid port"));
            return;
        };
        let leader_name = format!("leader.{d}.");
        let master_name = format!("master.{d}.");
        self.add_ip(&leader_name, ip);
        self.add_ip(&master_name, ip);
        self.add_srv(&format!("_leader._tcp.{d}."), &leader_name, port);
        self.add_srv(&format!("_leader._udp.{d}."), &leader_name, port);

        let mut index = 0;
        let mut leader_numbered = false;
        for entry in masters {
            let Some((host, _)) = split_address(entry) else {
                continue;
            };
            let Some(master_ip) = parse_ip(host) else {
                self.report
                    .skip(|| format!("master {entry:?} is not an IP address"));
                continue;
            };
            let is_leader = entry == address;
            if !is_leader {
                if self.try_add_ip(&master_name, master_ip).is_err() {
                    continue;
                }
            } else if leader_numbered {
                continue;
            }
            self.add_ip(&format!("master{index}.{d}."), master_ip);
            index += 1;
            leader_numbered |= is_leader;
        }
        if !leader_numbered {
            self.add_ip(&format!("master{index}.{d}."), ip);
        }
    }

    fn task(&mut self, task: &Task, zones: &FrameworkZones, agent_ips: &[IpAddr]) {
        let framework = zones.label.as_str();
        let ips = task_ips::task_ips(task, &self.config.ip_sources, agent_ips);
        let ports = &task.ports;
        if let Some(text) = task.malformed_ports() {
            self.report
                .skip(|| format!("task {:?}: malformed port ranges {text:?}", task.id));
        }
        let hash = task_hash(&task.id);
        let hash = std::str::from_utf8(&hash).unwrap_or_default();
        // The tail goes into a label: keep it one (the reference uses it raw).
        let tail = LabelSpec::Rfc1123.label(&agent_tail(&task.agent_id));
        let ctx = TaskContext {
            framework,
            framework_zone: &zones.zone,
            framework_slave_zone: &zones.slave_zone,
            hash,
            tail: &tail,
            ips: &ips,
            agent_ips,
            ports,
        };
        match task.discovery.as_ref().filter(|d| !d.name().is_empty()) {
            Some(discovery) => {
                let ports = self.discovery_ports(discovery);
                // The reference publishes the DiscoveryInfo name verbatim first (legacy),
                // then sanitised. Only a verbatim name a resolver can match is kept, and
                // a sanitised one that is the same adds nothing (most names are both).
                let reference = self.spec.reference_label(discovery.name());
                let sanitised = TaskLabel::new(&reference);
                let verbatim =
                    is_host_fragment(discovery.name()).then(|| TaskLabel::same(discovery.name()));
                if let Some(verbatim) = verbatim {
                    self.task_names(&ctx, verbatim, Some(&ports));
                }
                if verbatim != Some(sanitised) {
                    self.task_names(&ctx, sanitised, Some(&ports));
                }
            }
            None => {
                let reference = self.spec.reference_label(&task.name);
                self.task_names(&ctx, TaskLabel::new(&reference), None);
            }
        }
    }

    /// DiscoveryInfo ports as (number, protocol labels, port-name label).
    fn discovery_ports(&mut self, discovery: &Discovery) -> Vec<DiscoveryPort> {
        let mut out = Vec::with_capacity(discovery.port_count());
        for (given, port) in discovery.ports() {
            let Ok(number) = u16::try_from(given) else {
                self.report
                    .skip(|| format!("DiscoveryInfo port {given} is not a port number"));
                continue;
            };
            let proto = self.spec.label(&port.protocol);
            let protocols = if proto.is_empty() {
                vec!["tcp".to_string(), "udp".to_string()]
            } else {
                vec![proto]
            };
            out.push(DiscoveryPort {
                number,
                protocols,
                name: self.spec.label(&port.name),
            });
        }
        out
    }

    /// Interns the concatenation of `parts` (built in a reused buffer), reporting a
    /// name that cannot be written in DNS.
    fn name(&mut self, parts: &[&str]) -> Option<NameId> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        parts.iter().for_each(|p| scratch.push_str(p));
        let id = self.out.name(&scratch).ok();
        if id.is_none() {
            let bad = scratch.clone();
            self.report
                .skip(|| format!("name {bad:?} cannot be written in DNS; not published"));
        }
        self.scratch = scratch;
        id
    }

    /// The reference's "context routine" for one task label (docs/spec/mesos-dns-behavior.md §4.9).
    fn task_names(
        &mut self,
        ctx: &TaskContext,
        label: TaskLabel<'_>,
        discovery: Option<&[DiscoveryPort]>,
    ) {
        let t = label.name;
        if t.is_empty() {
            self.report
                .skip(|| format!("a task of {:?} has no usable label", ctx.framework));
            return;
        }
        let (f_d, f_slave_d) = (ctx.framework_zone, ctx.framework_slave_zone);
        let canonical = canonical_label(label.canonical_base, ctx.hash, ctx.tail);
        let short = self.name(&[t, ".", f_d]);
        let canon = self.name(&[&canonical, ".", f_d]);
        let short_slave = self.name(&[t, ".", f_slave_d]);
        let canon_slave = self.name(&[&canonical, ".", f_slave_d]);
        for &ip in ctx.ips {
            for owner in [short, canon].into_iter().flatten() {
                let _ = self.out.add(owner, ip_rdata(ip));
            }
            // The task's own address (not its agent's) maps back to its canonical name.
            if let Some(target) = canon.filter(|_| !ctx.agent_ips.contains(&ip)) {
                self.add_ptr(ip, target, PTR_TASK);
            }
        }
        for &ip in ctx.agent_ips {
            for owner in [short_slave, canon_slave].into_iter().flatten() {
                let _ = self.out.add(owner, ip_rdata(ip));
            }
        }

        let service = service_label(t);
        let mut owners = vec![
            self.name(&[&service, "._tcp.", f_slave_d]),
            self.name(&[&service, "._udp.", f_slave_d]),
        ];
        if discovery.is_none() {
            owners.push(self.name(&[&service, "._tcp.", f_d]));
            owners.push(self.name(&[&service, "._udp.", f_d]));
        }
        if let Some(target) = canon_slave {
            for &port in ctx.ports {
                for owner in owners.iter().flatten() {
                    let _ = self.out.add(*owner, RData::Srv { target, port });
                }
            }
        }

        let Some(target) = canon else { return };
        for port in discovery.unwrap_or_default() {
            let srv = RData::Srv {
                target,
                port: port.number,
            };
            for proto in &port.protocols {
                let proto = service_label(proto);
                if let Some(owner) = self.name(&[&service, ".", &proto, ".", f_d]) {
                    let _ = self.out.add(owner, srv);
                }
                if !port.name.is_empty() {
                    let named = service_label(&port.name);
                    if let Some(owner) = self.name(&[&named, ".", &service, ".", &proto, ".", f_d])
                    {
                        let _ = self.out.add(owner, srv);
                    }
                }
            }
        }
    }
}

/// A framework's label and the zones its tasks' names end in: `F.D.`, `F.slave.D.`.
struct FrameworkZones {
    label: String,
    zone: String,
    slave_zone: String,
}

struct DiscoveryPort {
    number: u16,
    protocols: Vec<String>,
    name: String,
}

struct TaskContext<'a> {
    framework: &'a str,
    /// `F.D.` and `F.slave.D.`
    framework_zone: &'a str,
    framework_slave_zone: &'a str,
    hash: &'a str,
    tail: &'a str,
    ips: &'a [IpAddr],
    agent_ips: &'a [IpAddr],
    ports: &'a [u16],
}

/// `host:port`, or failing that a split at the first colon (the reference's fallback).
fn split_address(text: &str) -> Option<(&str, &str)> {
    split_host_port(text).or_else(|| text.split_once(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit() {
        assert_eq!(service_label("big.dog"), "_big.dog");
        assert_eq!(service_label(&"a".repeat(63)).len(), 63);
        let c = canonical_label(&"a".repeat(63), "abcde", "s12");
        assert_eq!(c.len(), 63);
        assert!(c.ends_with("-abcde-s12"));
        assert_eq!(canonical_label("big.dog", "4dfjd", "0"), "big.dog-4dfjd-0");
        // A tail too long for the label is cut, never the whole task label.
        let c = canonical_label("a", "5eh48", &"b".repeat(70));
        assert!(c.starts_with("a-5eh48-b") && c.len() == 63, "{c}");
    }
}
