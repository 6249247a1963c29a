//! Leader election among primaries through ZooKeeper (`LeaderElection`), as Mesos,
//! Marathon and Curator do it: each candidate creates an ephemeral sequential node under
//! the election path, holding the address secondaries and standbys transfer from; the
//! lowest node leads. A standby watches only the node just below its own (so a change
//! does not wake every candidate) and the leader's node (to follow its address).
//!
//! Fencing: a candidate whose connection to ZooKeeper drops cannot know whether its
//! session still lives (ZooKeeper may have expired it and elected another), so it is
//! [`Role::Unknown`] from that moment, leading nothing, until the session is confirmed
//! again. With ZooKeeper unreachable nobody leads. A session that expires takes its node
//! with it; the candidate then joins again with a new one, at the back of the line.
//!
//! This module only elects: it runs on a thread of its own (a current-thread tokio
//! runtime for the ZooKeeper client, never on the query path) and reports each role
//! change through a callback.

use crate::mesos::zk::{ZkUrl, stopped};
use crate::stop::Stop;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zookeeper_client as zk;

/// What this candidate is, as far as it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// No confirmed session: neither leading nor following anyone.
    Unknown,
    /// The lowest node is ours.
    Leader,
    /// Another candidate leads; its node gives this address to transfer from.
    Standby {
        /// The leader's `host:port`.
        leader: String,
    },
}

/// The role as last reported, for readers on other threads.
#[derive(Debug)]
pub struct ElectionView {
    role: Mutex<Role>,
    elections: std::sync::atomic::AtomicU64,
}

impl ElectionView {
    /// The role now.
    pub fn role(&self) -> Role {
        self.role.lock().map_or(Role::Unknown, |r| r.clone())
    }

    /// How many times this candidate became the leader.
    pub fn elections(&self) -> u64 {
        self.elections.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self, role: Role, on_change: &(dyn Fn(&Role) + Send)) {
        let Ok(mut current) = self.role.lock() else {
            return;
        };
        if *current == role {
            return;
        }
        if role == Role::Leader {
            self.elections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::info!(?role, "leader election");
        *current = role.clone();
        drop(current);
        on_change(&role);
    }
}

/// The prefix of the candidates' nodes under the election path.
const MEMBER: &str = "member_";
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Joins the election at `url` (a `zk://hosts/path` URL) with a session of `timeout`,
/// offering `address` as the one to transfer from when leading; `on_change` hears every
/// role change. Runs until `stop`, then leaves (the node goes at once).
pub fn spawn(
    url: &str,
    timeout: Duration,
    address: String,
    on_change: Box<dyn Fn(&Role) + Send>,
    stop: Stop,
) -> Result<Arc<ElectionView>, String> {
    let url = ZkUrl::parse(url).map_err(|e| format!("LeaderElection: {e}"))?;
    let view = Arc::new(ElectionView {
        role: Mutex::new(Role::Unknown),
        elections: Default::default(),
    });
    let shared = view.clone();
    std::thread::Builder::new()
        .name("election".into())
        .spawn(move || run(&url, timeout, &address, &shared, &*on_change, &stop))
        .map_err(|e| format!("starting the election thread: {e}"))?;
    Ok(view)
}

fn run(
    url: &ZkUrl,
    timeout: Duration,
    address: &str,
    view: &ElectionView,
    on_change: &(dyn Fn(&Role) + Send),
    stop: &Stop,
) {
    let Some(runtime) = crate::mesos::zk::client_runtime("leader election") else {
        return;
    };
    let hosts = url.hosts.join(",");
    let elect = async {
        let mut backoff = Duration::from_millis(200);
        while !stop.is_stopped() {
            let connect = zk::Client::connector()
                .with_session_timeout(timeout)
                .with_fail_eagerly()
                .connect(&hosts);
            let connected = tokio::select! {
                connected = tokio::time::timeout(CONNECT_TIMEOUT, connect) => connected,
                () = stopped(stop) => break,
            };
            match connected {
                Ok(Ok(client)) => {
                    backoff = Duration::from_millis(200);
                    // Returns on a stop too, having taken our node away.
                    let ended = candidate(&client, &url.path, address, view, on_change, stop).await;
                    if stop.is_stopped() {
                        break;
                    }
                    tracing::warn!("leader election: session ended: {ended}");
                }
                Ok(Err(e)) => tracing::warn!("leader election: ZooKeeper {hosts}: {e}"),
                Err(_) => tracing::warn!("leader election: ZooKeeper {hosts}: timed out"),
            }
            view.set(Role::Unknown, on_change);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stopped(stop) => break,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    };
    runtime.block_on(elect);
    view.set(Role::Unknown, on_change);
}

/// One session: joins with a node and follows the election until the session ends;
/// returns why it ended.
async fn candidate(
    client: &zk::Client,
    path: &str,
    address: &str,
    view: &ElectionView,
    on_change: &(dyn Fn(&Role) + Send),
    stop: &Stop,
) -> String {
    if let Err(e) = ensure_path(client, path).await {
        return format!("creating {path}: {e}");
    }
    let data = serde_json::json!({ "address": address }).to_string();
    let mode = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let ours = match client
        .create(&format!("{path}/{MEMBER}"), data.as_bytes(), &mode)
        .await
    {
        Ok((_, sequence)) => format!("{MEMBER}{sequence}"),
        Err(e) => return format!("joining: {e}"),
    };
    let node = format!("{path}/{ours}");
    let follow = follow(client, path, &ours, view, on_change);
    tokio::select! {
        ended = follow => ended,
        () = stopped(stop) => {
            // A clean exit hands over at once rather than after the session expires.
            view.set(Role::Unknown, on_change);
            let _ = client.delete(&node, None).await;
            "stopped".into()
        }
    }
}

/// Follows the election with our node `ours` until the session ends; returns why.
async fn follow(
    client: &zk::Client,
    path: &str,
    ours: &str,
    view: &ElectionView,
    on_change: &(dyn Fn(&Role) + Send),
) -> String {
    let mut states = client.state_watcher();
    loop {
        match standing(client, path, ours).await {
            Ok(Standing::Gone) => return "our node is gone".into(),
            Ok(Standing::Leading) => {
                view.set(Role::Leader, on_change);
                // Leading until the connection drops.
                loop {
                    let state = states.changed().await;
                    if state.is_terminated() {
                        return format!("{state:?}");
                    }
                    if state == zk::SessionState::Disconnected {
                        // Fencing: stop leading at once.
                        view.set(Role::Unknown, on_change);
                        break;
                    }
                }
            }
            Ok(Standing::Behind { leader, watches }) => {
                view.set(Role::Standby { leader }, on_change);
                let [predecessor, leader] = watches;
                tokio::select! {
                    _ = predecessor.changed() => {}
                    _ = leader.changed() => {}
                    state = states.changed() => {
                        if state.is_terminated() {
                            return format!("{state:?}");
                        }
                        if state == zk::SessionState::Disconnected {
                            view.set(Role::Unknown, on_change);
                        }
                    }
                }
            }
            Err(zk::Error::ConnectionLoss) => {
                view.set(Role::Unknown, on_change);
            }
            Err(e) => return e.to_string(),
        }
        // Disconnected: wait until the session is confirmed again (or ends).
        let mut state = states.state();
        while state != zk::SessionState::SyncConnected {
            if state.is_terminated() {
                return format!("{state:?}");
            }
            state = states.changed().await;
        }
    }
}

/// Where this candidate stands in the line.
enum Standing {
    /// Our node is the lowest.
    Leading,
    /// Behind another: the leader's address, and watches on the node just below ours
    /// and on the leader's node.
    Behind {
        leader: String,
        watches: [zk::OneshotWatcher; 2],
    },
    /// Our node is no longer there (the session expired under us).
    Gone,
}

async fn standing(client: &zk::Client, path: &str, ours: &str) -> Result<Standing, zk::Error> {
    loop {
        let mut members: Vec<String> = client
            .list_children(path)
            .await?
            .into_iter()
            .filter(|c| c.starts_with(MEMBER))
            .collect();
        // The sequence suffix orders the line (fixed width, so text order is numeric).
        members.sort_by(|a, b| a[MEMBER.len()..].cmp(&b[MEMBER.len()..]));
        let Some(at) = members.iter().position(|m| m == ours) else {
            return Ok(Standing::Gone);
        };
        if at == 0 {
            return Ok(Standing::Leading);
        }
        let leader_node = format!("{path}/{}", members[0]);
        let predecessor = format!("{path}/{}", members[at - 1]);
        // Either may have gone since the listing: then look again.
        let (Some(_), predecessor_watch) = client.check_and_watch_stat(&predecessor).await? else {
            continue;
        };
        let (leader_data, _, leader_watch) = match client.get_and_watch_data(&leader_node).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        let leader = serde_json::from_slice::<serde_json::Value>(&leader_data)
            .ok()
            .and_then(|v| v.get("address")?.as_str().map(str::to_string))
            .unwrap_or_default();
        return Ok(Standing::Behind {
            leader,
            watches: [predecessor_watch, leader_watch],
        });
    }
}

/// Creates `path` and its parents as persistent nodes where missing.
async fn ensure_path(client: &zk::Client, path: &str) -> Result<(), zk::Error> {
    let mode = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        match client.create(&at, b"", &mode).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
