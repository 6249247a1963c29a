//! Synthetic `/master/state` documents for benchmarks and load tests: deterministic for a
//! seed, shaped like a large Marathon-run cluster (app ids, several frameworks,
//! DiscoveryInfo with named ports, container addresses in v4 and v6, IPv6-only agents,
//! tasks that are not running and completed ones).

use crate::config::{Config, Environment};
use crate::mesos::generate::{Inputs, generate};
use crate::mesos::state::State;
use crate::records::{RecordSet, Report};
use std::io::{self, Write};

/// The configuration the benchmarks and tools generate with: every IP source, the
/// synthetic leader as the master, no forwarding.
pub fn benchmark_config() -> Config {
    let doc = r#"{"masters":["10.255.0.1:5050"],"externalon":false,
                  "IPSources":["netinfo","docker","mesos","host"]}"#;
    match Config::from_json(doc, "config.json".as_ref(), &Environment::system()) {
        Ok(c) => c,
        Err(e) => unreachable!("the benchmark configuration is valid: {e}"),
    }
}

/// The benchmark configuration with every opt-in answer option on: reverse zones over
/// the synthetic clusters' agent and container networks (policy `one`), `HealthyOnly`,
/// `MaxAnswers` 3 and the DC/OS names.
pub fn options_config() -> Config {
    let doc = r#"{"masters":["10.255.0.1:5050"],"externalon":false,
                  "IPSources":["netinfo","docker","mesos","host"],
                  "ReverseZones":["10.0.0.0/8","9.0.0.0/16","fd00:a::/32","fd01:b::/32"],
                  "ReversePolicy":"one","HealthyOnly":true,"MaxAnswers":3,"DCOSNames":true}"#;
    match Config::from_json(doc, "config.json".as_ref(), &Environment::system()) {
        Ok(c) => c,
        Err(e) => unreachable!("the options configuration is valid: {e}"),
    }
}

/// Records of `state` under the benchmark configuration (masters from the config, no
/// listener addresses).
pub fn generate_records(config: &Config, state: &State) -> (RecordSet, Report) {
    let masters = config.masters.clone().unwrap_or_default();
    generate(
        config,
        state,
        Inputs {
            masters: &masters,
            listener_ips: &[],
        },
    )
}

/// A memory figure of this process from /proc/self/status (`VmRSS:`, `VmHWM:`), in MB.
pub fn process_memory_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SynthParams {
    /// Tasks in state `TASK_RUNNING`.
    pub running_tasks: usize,
    pub seed: u64,
    /// How apps and agents are shaped.
    pub shape: ClusterShape,
}

/// The shape of a synthetic cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClusterShape {
    /// Apps of 1 to 10 instances; DiscoveryInfo on 40% of apps, container networks
    /// (IPv4 and IPv6 addresses) on 30%, one IPv6-only agent in 20.
    #[default]
    Uniform,
    /// Long-tailed app sizes (most apps of one or two instances, a few of hundreds or
    /// thousands); DiscoveryInfo on 80% of apps, container networks on 60%, one
    /// IPv6-only agent in 4.
    LongTail,
}

impl ClusterShape {
    /// By name: `uniform` or `long-tail`.
    pub fn from_name(name: &str) -> Option<ClusterShape> {
        match name {
            "uniform" => Some(ClusterShape::Uniform),
            "long-tail" => Some(ClusterShape::LongTail),
            _ => None,
        }
    }

    fn ipv6_only_agent(self, i: usize) -> bool {
        match self {
            ClusterShape::Uniform => i % 20 == 19,
            ClusterShape::LongTail => i % 4 == 3,
        }
    }

    /// Instances of the next app (the uniform shape draws exactly as it always did).
    fn instances(self, rng: &mut Rng) -> usize {
        match self {
            ClusterShape::Uniform => 1 + rng.below(10) as usize,
            ClusterShape::LongTail => match rng.below(1000) {
                0..700 => 1 + rng.below(2) as usize,
                700..950 => 3 + rng.below(18) as usize,
                950..995 => 21 + rng.below(180) as usize,
                _ => 201 + rng.below(1800) as usize,
            },
        }
    }

    /// Percent chances of DiscoveryInfo and of a container network, per app.
    fn app_chances(self) -> (u64, u64) {
        match self {
            ClusterShape::Uniform => (40, 30),
            ClusterShape::LongTail => (80, 60),
        }
    }
}

impl SynthParams {
    /// One agent for every 20 running tasks (5,000 agents for 100k tasks).
    pub fn agents(&self) -> usize {
        (self.running_tasks / 20).max(1)
    }
}

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// (framework name, share of running tasks in percent).
const FRAMEWORKS: &[(&str, u64)] = &[
    ("marathon", 70),
    ("marathon-user", 10),
    ("spark-dispatcher", 8),
    ("kafka", 5),
    ("cassandra", 4),
    ("jenkins-2.1", 3),
];
const TEAMS: &[&str] = &[
    "payments", "search", "ads", "infra", "data", "web", "ml", "mail",
];
const SERVICES: &[&str] = &[
    "api",
    "worker",
    "frontend",
    "cache",
    "indexer",
    "gateway",
    "scheduler",
    "ingest",
    "auth",
    "billing",
    "Report Builder",
    "db_proxy",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];

struct Agent {
    id: String,
    v4: Option<[u8; 3]>,
    v6: u32,
}

impl Agent {
    fn ip_text(&self) -> String {
        match self.v4 {
            Some([a, b, c]) => format!("10.{a}.{b}.{c}"),
            None => format!("fd00:a::{:x}", self.v6),
        }
    }

    fn pid(&self) -> String {
        match self.v4 {
            Some(_) => format!("slave(1)@{}:5051", self.ip_text()),
            None => format!("slave(1)@[{}]:5051", self.ip_text()),
        }
    }
}

/// A state document of the uniform shape in memory (for benchmarks and tests).
pub fn state_document(running_tasks: usize, seed: u64) -> Vec<u8> {
    shaped_state_document(running_tasks, seed, ClusterShape::Uniform)
}

/// A state document of `shape` in memory (for benchmarks and measuring tools).
pub fn shaped_state_document(running_tasks: usize, seed: u64, shape: ClusterShape) -> Vec<u8> {
    let mut doc = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_state(
        SynthParams {
            running_tasks,
            seed,
            shape,
        },
        &mut doc,
    );
    doc
}

/// Writes a state document; about 1.1 kB of JSON per running task.
pub fn write_state(params: SynthParams, out: impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 20, out);
    let mut rng = Rng(params.seed);
    let cluster = rng.uuid();
    let agents: Vec<Agent> = (0..params.agents())
        .map(|i| Agent {
            id: format!("{cluster}-S{i}"),
            v4: (!params.shape.ipv6_only_agent(i)).then_some([
                (i >> 16) as u8,
                (i >> 8) as u8,
                i as u8,
            ]),
            v6: i as u32 + 1,
        })
        .collect();

    write!(
        w,
        r#"{{"version":"1.11.0","git_sha":"0000000","build_time":1600000000,"start_time":1600000000.5,"elected_time":1600000001.5,"id":"{cluster}","pid":"master@10.255.0.1:5050","hostname":"master-1","activated_slaves":{},"leader":"master@10.255.0.1:5050","log_dir":"/var/log/mesos","flags":{{"port":"5050","quorum":"2","work_dir":"/var/lib/mesos"}},"frameworks":["#,
        agents.len()
    )?;
    let mut app_counter = 0usize;
    for (fi, (framework, share)) in FRAMEWORKS.iter().enumerate() {
        let running = params.running_tasks * *share as usize / 100
            + if fi == 0 {
                params.running_tasks
                    - FRAMEWORKS
                        .iter()
                        .map(|f| params.running_tasks * f.1 as usize / 100)
                        .sum::<usize>()
            } else {
                0
            };
        if fi > 0 {
            w.write_all(b",")?;
        }
        let framework_id = format!("{cluster}-{fi:04}");
        write!(
            w,
            r#"{{"id":"{framework_id}","name":"{framework}","pid":"scheduler-{}@10.255.1.{}:{}","hostname":"master-{}","user":"root","active":true,"role":"*","registered_time":1600000002.1,"capabilities":["PARTITION_AWARE"],"resources":{{"cpus":1.5,"mem":2048.0,"disk":0.0}},"offers":[],"executors":[],"tasks":["#,
            rng.uuid(),
            fi + 1,
            20000 + fi,
            fi % 3 + 1
        )?;
        let mut first = true;
        let mut written = 0;
        while written < running {
            app_counter += 1;
            let team = TEAMS[rng.below(TEAMS.len() as u64) as usize];
            let service = SERVICES[rng.below(SERVICES.len() as u64) as usize];
            let env = ENVS[rng.below(ENVS.len() as u64) as usize];
            let (discovery, container_net) = params.shape.app_chances();
            let app = App {
                path: format!("/{env}/{team}/{service}-{app_counter}"),
                discovery: rng.chance(discovery),
                container_net: rng.chance(container_net),
                docker: rng.chance(50),
            };
            let instances = params.shape.instances(&mut rng).min(running - written);
            for instance in 0..instances {
                if !first {
                    w.write_all(b",")?;
                }
                first = false;
                let agent = &agents[rng.below(agents.len() as u64) as usize];
                write_task(
                    &mut w,
                    &mut rng,
                    &framework_id,
                    &app,
                    agent,
                    instance,
                    "TASK_RUNNING",
                )?;
                // Now and then a task that is not running yet or any more.
                if rng.chance(3) {
                    let state =
                        ["TASK_STAGING", "TASK_KILLING", "TASK_LOST"][rng.below(3) as usize];
                    w.write_all(b",")?;
                    write_task(
                        &mut w,
                        &mut rng,
                        &framework_id,
                        &app,
                        agent,
                        instance,
                        state,
                    )?;
                }
            }
            written += instances;
        }
        w.write_all(br#"],"completed_tasks":["#)?;
        let completed = running / 5;
        for i in 0..completed {
            if i > 0 {
                w.write_all(b",")?;
            }
            let agent = &agents[rng.below(agents.len() as u64) as usize];
            let app = App {
                path: format!("/batch/job-{i}"),
                discovery: false,
                container_net: false,
                docker: false,
            };
            let state = if rng.chance(80) {
                "TASK_FINISHED"
            } else {
                "TASK_FAILED"
            };
            write_task(&mut w, &mut rng, &framework_id, &app, agent, 0, state)?;
        }
        w.write_all(b"]}")?;
    }
    w.write_all(br#"],"completed_frameworks":[],"slaves":["#)?;
    for (i, agent) in agents.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            r#"{{"id":"{}","pid":"{}","hostname":"agent-{i}.cluster.internal","registered_time":1600000003.2,"resources":{{"cpus":32.0,"mem":128000.0,"disk":900000.0,"ports":"[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"}},"used_resources":{{"cpus":12.5,"mem":40000.0,"disk":0.0}},"attributes":{{"rack":"r{}"}},"active":true,"version":"1.11.0"}}"#,
            agent.id,
            agent.pid(),
            i % 40
        )?;
    }
    w.write_all(b"]}")?;
    w.flush()
}

struct App {
    path: String,
    discovery: bool,
    container_net: bool,
    docker: bool,
}

fn write_task(
    w: &mut impl Write,
    rng: &mut Rng,
    framework_id: &str,
    app: &App,
    agent: &Agent,
    instance: usize,
    state: &str,
) -> io::Result<()> {
    // Marathon names a task after its app id, path reversed: /prod/web/api → api.web.prod.
    let name: Vec<&str> = app.path.trim_start_matches('/').rsplit('/').collect();
    let name = name.join(".");
    let id = format!(
        "{}.{}",
        app.path.trim_start_matches('/').replace('/', "_"),
        rng.uuid()
    );
    let port = 10000 + rng.below(20000) as u16;
    let ts = 1_600_000_000.0 + rng.below(10_000_000) as f64 / 7.0;
    write!(
        w,
        r#"{{"id":"{id}","name":"{name}","framework_id":"{framework_id}","executor_id":"","slave_id":"{}","state":"{state}","resources":{{"cpus":0.5,"mem":512.0,"disk":0.0,"ports":"[{port}-{}]"}},"statuses":[{{"state":"TASK_STARTING","timestamp":{ts:.5},"source":"SOURCE_EXECUTOR"}}"#,
        agent.id,
        port + 1
    )?;
    if state != "TASK_STAGING" {
        write!(
            w,
            r#",{{"state":"TASK_RUNNING","timestamp":{:.5},"source":"SOURCE_EXECUTOR""#,
            ts + 2.0
        )?;
        if app.docker {
            write!(
                w,
                r#","labels":[{{"key":"Docker.NetworkSettings.IPAddress","value":"172.17.{}.{}"}}]"#,
                rng.below(256),
                rng.below(254) + 1
            )?;
        }
        let container = rng.uuid();
        if app.container_net {
            write!(
                w,
                r#","container_status":{{"container_id":{{"value":"{container}"}},"network_infos":[{{"ip_addresses":[{{"protocol":"IPv4","ip_address":"9.0.{}.{}"}},{{"protocol":"IPv6","ip_address":"fd01:b::{:x}:{:x}"}}],"name":"dcos"}}]}}}}"#,
                rng.below(256),
                rng.below(254) + 1,
                rng.below(65535),
                instance + 1
            )?;
        } else {
            write!(
                w,
                r#","container_status":{{"container_id":{{"value":"{container}"}},"network_infos":[{{"ip_addresses":[{{"ip_address":"{}"}}]}}]}}}}"#,
                agent.ip_text()
            )?;
        }
        if state != "TASK_RUNNING" {
            write!(
                w,
                r#",{{"state":"{state}","timestamp":{:.5},"source":"SOURCE_MASTER"}}"#,
                ts + 9.0
            )?;
        }
    }
    w.write_all(b"]")?;
    if app.discovery {
        let service = name.split('.').next().unwrap_or("svc");
        write!(
            w,
            r#","discovery":{{"visibility":"FRAMEWORK","name":"{service}","ports":{{"ports":[{{"number":{port},"name":"http","protocol":"tcp"}},{{"number":{},"name":"metrics","protocol":"tcp","labels":{{"labels":[{{"key":"VIP_0","value":"/{service}:80"}}]}}}}]}},"labels":{{"labels":[{{"key":"team","value":"x"}}]}}}}"#,
            port + 1
        )?;
    }
    write!(
        w,
        r#","labels":[{{"key":"MARATHON_APP_VERSION","value":"2020-09-13T12:26:40.000Z"}}],"container":{{"type":"MESOS","mesos":{{"image":{{"type":"DOCKER","docker":{{"name":"registry.internal/{}:1.{}"}}}}}}}}}}"#,
        name.split('.').next().unwrap_or("x").replace(' ', "-"),
        instance
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::state::State;

    #[test]
    fn deterministic_and_decodable() {
        let params = SynthParams {
            running_tasks: 500,
            seed: 7,
            shape: ClusterShape::Uniform,
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_state(params, &mut a).unwrap();
        write_state(params, &mut b).unwrap();
        assert_eq!(a, b);
        let state = State::from_slice(&a).unwrap();
        let running: usize = state
            .frameworks
            .iter()
            .flat_map(|f| &f.tasks)
            .filter(|t| t.running)
            .count();
        assert_eq!(running, 500);
        assert_eq!(state.slaves.len(), 25);
    }
}
