//! A test master for perf/freshness.sh: serves one synthetic cluster as `/master/state`
//! and as an operator API stream (`POST /api/v1` SUBSCRIBE), changes one task's address
//! at a set rate once a start file appears, and measures how long each change takes to
//! show in the answers of a DNS server (event → answer latency).
//!
//! `stream_master TASKS HTTP_PORT DNS_PORT[,DNS_PORT...] RATE SECONDS START_FILE PROBE_EVERY PROBE_MS`
//! Every PROBE_EVERY-th change is probed: the task's name is asked every PROBE_MS until
//! its new address is among the answers (or 120 s pass). Prints one `key=value` line.
//! With `EVENTS_FILE` set, also writes each probed change's send time and latency there.
//! Loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use mesos_dns::cluster::{ClusterState, RunningStatus, Task};
use mesos_dns::mesos::state::State;
use mesos_dns::names::labels::LabelSpec;
use mesos_dns::synth::state_document;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LEADER: &str = "127.0.0.1";

struct Master {
    cluster: Mutex<ClusterState>,
    streams: Mutex<Vec<Sender<Vec<u8>>>>,
    http_port: u16,
    state_bytes: AtomicU64,
    stream_bytes: AtomicU64,
    /// Bytes of the first records (`SUBSCRIBED`) of every subscription.
    subscribed_bytes: AtomicU64,
    state_requests: AtomicU64,
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| a.get(i).expect("usage: see the header of stream_master.rs");
    let tasks: usize = arg(0).parse().unwrap();
    let http_port: u16 = arg(1).parse().unwrap();
    // One port, or several separated by commas (secondaries): a change counts as seen
    // once every one of them answers it.
    let dns_ports: Vec<u16> = arg(2).split(',').map(|p| p.parse().unwrap()).collect();
    let rate: f64 = arg(3).parse().unwrap();
    let seconds: f64 = arg(4).parse().unwrap();
    let start_file = arg(5).clone();
    let probe_every: u64 = arg(6).parse().unwrap();
    let probe_ms: u64 = arg(7).parse().unwrap();

    let mut cluster = State::from_slice(&state_document(tasks, 1))
        .unwrap()
        .into_cluster_state();
    // The operator API has no scheduler PIDs: leave them out of both forms.
    for (_, f) in &mut cluster.frameworks {
        f.pid = None;
    }
    cluster.leader = format!("master@{LEADER}:{http_port}");
    let running: Vec<usize> = (0..cluster.tasks.len())
        .filter(|&i| cluster.tasks[i].running && !cluster.tasks[i].running_statuses.is_empty())
        .collect();
    let master = Arc::new(Master {
        cluster: Mutex::new(cluster),
        streams: Mutex::new(Vec::new()),
        http_port,
        state_bytes: AtomicU64::new(0),
        stream_bytes: AtomicU64::new(0),
        subscribed_bytes: AtomicU64::new(0),
        state_requests: AtomicU64::new(0),
    });
    let listener = TcpListener::bind((LEADER, http_port)).unwrap();
    {
        let master = master.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let master = master.clone();
                std::thread::spawn(move || serve(stream, &master));
            }
        });
    }
    while !std::path::Path::new(&start_file).exists() {
        std::thread::sleep(Duration::from_millis(50));
    }

    let (probe_txs, probers): (Vec<_>, Vec<_>) = dns_ports
        .iter()
        .map(|&port| {
            let (tx, rx) = channel();
            (tx, std::thread::spawn(move || probe(port, probe_ms, rx)))
        })
        .unzip();
    let started = Instant::now();
    let total = (rate * seconds) as u64;
    for i in 0..total {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let ip = Ipv4Addr::new(10, 128 + ((i >> 16) & 63) as u8, (i >> 8) as u8, i as u8);
        let (event, name) = {
            let mut cluster = master.cluster.lock().unwrap();
            let index = running[(i as usize * 7919) % running.len()];
            let task = &mut cluster.tasks[index];
            let status = RunningStatus::new(2e9 + i as f64, &[IpAddr::V4(ip)], &[], &[], None);
            task.running_statuses.pop();
            task.running_statuses.push(status.clone());
            let event = json!({"type":"TASK_UPDATED","task_updated":{
                "framework_id":{"value":&*task.framework_id},
                "status":v1_status(task, &status),
                "state":"TASK_RUNNING"}});
            let framework = cluster
                .frameworks
                .iter()
                .find(|(id, _)| **id == *cluster.tasks[index].framework_id)
                .map(|(_, f)| f.name.clone())
                .unwrap_or_default();
            (event, short_name(&cluster.tasks[index], &framework))
        };
        let record = record(&event);
        let sent = Instant::now();
        master
            .streams
            .lock()
            .unwrap()
            .retain(|s| s.send(record.clone()).is_ok());
        if i % probe_every == 0 {
            for tx in &probe_txs {
                let _ = tx.send((name.clone(), ip, sent));
            }
        }
    }
    drop(probe_txs);
    // Per change, the slowest of the ports (none if any never answered).
    let per_port: Vec<Vec<Option<Duration>>> =
        probers.into_iter().map(|p| p.join().unwrap()).collect();
    let mut latencies: Vec<Option<Duration>> = (0..per_port[0].len())
        .map(|i| {
            per_port
                .iter()
                .map(|l| l.get(i).copied().flatten())
                .try_fold(Duration::ZERO, |worst, l| l.map(|l| worst.max(l)))
        })
        .collect();
    // With EVENTS_FILE set: one line per probed change, "seconds_after_start latency_ms"
    // ("none" when never seen), for measuring a window (perf/failover.sh).
    if let Ok(path) = std::env::var("EVENTS_FILE") {
        let lines: String = latencies
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let sent = (k as u64 * probe_every) as f64 / rate;
                match l {
                    Some(l) => format!("{sent:.3} {:.2}\n", l.as_secs_f64() * 1e3),
                    None => format!("{sent:.3} none\n"),
                }
            })
            .collect();
        std::fs::write(path, lines).unwrap();
    }
    let timeouts = latencies.iter().filter(|l| l.is_none()).count();
    let mut ms: Vec<f64> = latencies
        .drain(..)
        .flatten()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "events={total} seconds={:.1} probes={} timeouts={timeouts} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} state_requests={} state_bytes={} stream_bytes={} subscribed_bytes={}",
        started.elapsed().as_secs_f64(),
        ms.len() + timeouts,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        master.state_requests.load(Ordering::Relaxed),
        master.state_bytes.load(Ordering::Relaxed),
        master.stream_bytes.load(Ordering::Relaxed),
        master.subscribed_bytes.load(Ordering::Relaxed),
    );
}

/// The name whose answers carry the task's address: `<task>.<framework>.mesos.`.
fn short_name(task: &Task, framework: &str) -> String {
    let spec = LabelSpec::Rfc1123;
    let label = match &task.discovery {
        Some(d) if !d.name().is_empty() => spec.label(d.name()),
        _ => spec.label(&task.name),
    };
    format!("{label}.{}.mesos.", spec.domain_fragment(framework))
}

/// Asks for each probed name until its new address answers; the latencies (None: never
/// seen within 120 s).
fn probe(
    dns_port: u16,
    every_ms: u64,
    rx: Receiver<(String, Ipv4Addr, Instant)>,
) -> Vec<Option<Duration>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", dns_port)).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut pending: Vec<(u16, Vec<u8>, Ipv4Addr, Instant, Instant)> = Vec::new();
    let mut done = Vec::new();
    let mut open = true;
    let mut next_id: u16 = 0;
    let mut buf = [0u8; 4096];
    while open || !pending.is_empty() {
        loop {
            match rx.try_recv() {
                Ok((name, ip, sent)) => {
                    next_id = next_id.wrapping_add(1);
                    let mut q = Message::new();
                    q.set_id(next_id);
                    q.add_query(Query::query(
                        Name::from_ascii(&name).unwrap(),
                        RecordType::A,
                    ));
                    pending.push((next_id, q.to_vec().unwrap(), ip, sent, sent));
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let now = Instant::now();
        for p in &mut pending {
            if p.4 <= now {
                let _ = socket.send(&p.1);
                p.4 = now + Duration::from_millis(every_ms);
            }
        }
        while let Ok(n) = socket.recv(&mut buf) {
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let seen = reply
                .answers()
                .iter()
                .filter_map(|r| match r.data() {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect::<Vec<_>>();
            if let Some(i) = pending
                .iter()
                .position(|p| p.0 == reply.id() && seen.contains(&p.2))
            {
                let p = pending.swap_remove(i);
                done.push((p.0, Some(p.3.elapsed())));
            }
        }
        pending.retain(|p| {
            let expired = p.3.elapsed() > Duration::from_secs(120);
            if expired {
                done.push((p.0, None));
            }
            !expired
        });
        std::thread::sleep(Duration::from_micros(500));
    }
    // In the order the changes were made (IDs are drawn in that order).
    done.sort_by_key(|d| d.0);
    done.into_iter().map(|d| d.1).collect()
}

/// One HTTP request: `/master/state` (GET) or the operator API stream (POST /api/v1).
fn serve(mut stream: TcpStream, master: &Master) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let length: u64 = head
        .iter()
        .find_map(|h| {
            h.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    let _ = reader.take(length.min(1 << 16)).read_to_end(&mut body);
    let path = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    match path {
        "/master/state" => {
            master.state_requests.fetch_add(1, Ordering::Relaxed);
            let doc = {
                let cluster = master.cluster.lock().unwrap();
                serde_json::to_vec(&v0_state(&cluster)).unwrap()
            };
            master
                .state_bytes
                .fetch_add(doc.len() as u64, Ordering::Relaxed);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                doc.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&doc);
        }
        "/api/v1" => {
            let (tx, rx) = channel();
            let first = {
                let cluster = master.cluster.lock().unwrap();
                // Registered under the lock: no change between the snapshot and events.
                master.streams.lock().unwrap().push(tx);
                let mut first = record(&v1_subscribed(&cluster, master.http_port));
                first.extend(record(&json!({"type":"HEARTBEAT"})));
                master
                    .subscribed_bytes
                    .fetch_add(first.len() as u64, Ordering::Relaxed);
                first
            };
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut pending = first;
            loop {
                if !pending.is_empty() {
                    master
                        .stream_bytes
                        .fetch_add(pending.len() as u64, Ordering::Relaxed);
                    let chunk = [
                        format!("{:x}\r\n", pending.len()).into_bytes(),
                        std::mem::take(&mut pending),
                        b"\r\n".to_vec(),
                    ]
                    .concat();
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                }
                match rx.recv_timeout(Duration::from_secs(15)) {
                    Ok(bytes) => {
                        pending = bytes;
                        while let Ok(more) = rx.try_recv() {
                            pending.extend(more);
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        pending = record(&json!({"type":"HEARTBEAT"}));
                    }
                    Err(_) => return,
                }
            }
        }
        _ => {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

fn record(event: &Value) -> Vec<u8> {
    let data = serde_json::to_vec(event).unwrap();
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend(data);
    out
}

fn ports_text(ports: &[u16]) -> String {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &p in ports {
        match ranges.last_mut() {
            Some(r) if r.1.checked_add(1) == Some(p) => r.1 = p,
            _ => ranges.push((p, p)),
        }
    }
    let parts: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    format!("[{}]", parts.join(", "))
}

fn labels(status: &RunningStatus) -> Vec<Value> {
    let docker = status
        .docker()
        .iter()
        .map(|ip| json!({"key":"Docker.NetworkSettings.IPAddress","value":ip.to_string()}));
    let mesos = status.mesos().iter().map(
        |ip| json!({"key":"MesosContainerizer.NetworkSettings.IPAddress","value":ip.to_string()}),
    );
    docker.chain(mesos).collect()
}

fn network_infos(status: &RunningStatus) -> Value {
    json!([{"ip_addresses": status.netinfo().iter().map(|ip| json!({"ip_address": ip.to_string()})).collect::<Vec<_>>()}])
}

fn discovery(task: &Task) -> Option<Value> {
    task.discovery.as_ref().map(|d| {
        let ports: Vec<Value> = d
            .ports()
            .map(|(number, p)| {
                let vips: Vec<Value> = p
                    .vips
                    .iter()
                    .enumerate()
                    .map(|(i, v)| json!({"key": format!("VIP_{i}"), "value": &**v}))
                    .collect();
                json!({"number": number, "name": &*p.name, "protocol": &*p.protocol,
                       "labels": {"labels": vips}})
            })
            .collect();
        json!({"name": d.name(), "ports": {"ports": ports}})
    })
}

fn state_name(task: &Task) -> &'static str {
    if task.running {
        "TASK_RUNNING"
    } else {
        "TASK_STAGING"
    }
}

fn v0_state(cluster: &ClusterState) -> Value {
    let frameworks: Vec<Value> = cluster
        .frameworks
        .iter()
        .map(|(id, f)| {
            let tasks: Vec<Value> = cluster
                .tasks
                .iter()
                .filter(|t| *t.framework_id == **id)
                .map(|t| {
                    let statuses: Vec<Value> = t
                        .running_statuses
                        .iter()
                        .map(|s| json!({"state":"TASK_RUNNING","timestamp":s.timestamp,"labels":labels(s),
                                        "container_status":{"network_infos":network_infos(s)}}))
                        .collect();
                    let mut task = json!({"id":t.id,"name":&*t.name,"framework_id":&*t.framework_id,
                        "slave_id":&*t.agent_id,"state":state_name(t),
                        "resources":{"ports":ports_text(&t.ports)},"statuses":statuses});
                    if let Some(d) = discovery(t) {
                        task["discovery"] = d;
                    }
                    task
                })
                .collect();
            json!({"id":id,"name":f.name,"hostname":f.hostname,"tasks":tasks})
        })
        .collect();
    let slaves: Vec<Value> = cluster
        .agents
        .iter()
        .map(|(id, a)| json!({"id":id,"pid":a.pid}))
        .collect();
    json!({"leader":cluster.leader,"frameworks":frameworks,"slaves":slaves})
}

fn v1_status(task: &Task, s: &RunningStatus) -> Value {
    json!({"task_id":{"value":task.id},"state":"TASK_RUNNING","agent_id":{"value":&*task.agent_id},
           "timestamp":s.timestamp,"labels":{"labels":labels(s)},
           "container_status":{"network_infos":network_infos(s)}})
}

fn v1_subscribed(cluster: &ClusterState, _port: u16) -> Value {
    let tasks: Vec<Value> = cluster
        .tasks
        .iter()
        .map(|t| {
            let mut task = json!({"name":&*t.name,"task_id":{"value":t.id},"framework_id":{"value":&*t.framework_id},
                "agent_id":{"value":&*t.agent_id},"state":state_name(t),
                "resources":[{"name":"ports","type":"RANGES","ranges":{"range":
                    t.ports.iter().map(|&p| json!({"begin":p,"end":p})).collect::<Vec<_>>()}}],
                "statuses":t.running_statuses.iter().map(|s| v1_status(t, s)).collect::<Vec<_>>()});
            if let Some(d) = discovery(t) {
                task["discovery"] = d;
            }
            task
        })
        .collect();
    json!({"type":"SUBSCRIBED","subscribed":{"get_state":{
        "get_tasks":{"tasks":tasks},
        "get_frameworks":{"frameworks":cluster.frameworks.iter().map(|(id, f)|
            json!({"framework_info":{"name":f.name,"id":{"value":id},"hostname":f.hostname}})).collect::<Vec<_>>()},
        "get_agents":{"agents":cluster.agents.iter().map(|(id, a)|
            json!({"agent_info":{"id":{"value":id},"port":5051},"pid":a.pid})).collect::<Vec<_>>()}},
        "heartbeat_interval_seconds":15.0}})
}
