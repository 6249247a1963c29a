//! Which masters to ask for state, presumed leader first: the configured list, or what
//! ZooKeeper says (docs/spec/mesos-dns-behavior.md §7), with the configured masters kept as the fallback.
//!
//! The ZooKeeper detector runs on its own thread: a current-thread async runtime there
//! drives a zookeeper-client session with watches on the master group. It re-reads the
//! group after every change, after a reconnection, after the session expires (with a new
//! session), and when the group's path appears after start-up.

use super::zk::ZkUrl;
use crate::names::hostport::join_host_port;
use crate::status::Status;
use crate::stop::Stop;
use serde_json::Value;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zookeeper_client as zk;

/// The masters to ask, leader first when known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MasterView {
    /// `ip:port` entries; the first is the leader, or `""` while none is known (ZooKeeper).
    pub list: Vec<String>,
    /// True while ZooKeeper answers (always false in static mode).
    pub zk_connected: bool,
}

/// What the detector calls whenever the master list changes (the caller wakes whoever
/// follows the masters; this module knows nothing of them).
pub(crate) type OnChange = Box<dyn Fn() + Send + Sync>;

/// Shared between the detector (writer) and the control thread (reader).
pub struct Masters {
    view: Mutex<MasterView>,
    changed: Option<OnChange>,
}

impl Masters {
    /// A fixed list (static mode).
    pub fn fixed(list: Vec<String>) -> Arc<Masters> {
        Arc::new(Masters {
            view: Mutex::new(MasterView {
                list,
                zk_connected: false,
            }),
            changed: None,
        })
    }

    pub fn view(&self) -> MasterView {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn publish(&self, view: MasterView) {
        if let Ok(mut v) = self.view.lock() {
            if *v == view {
                return;
            }
            *v = view;
        }
        if let Some(changed) = &self.changed {
            changed();
        }
    }
}

/// The address a master announces in its ZooKeeper node (MasterInfo JSON), docs/spec/mesos-dns-behavior.md §9.9.
pub(crate) fn master_address(info: &Value) -> String {
    if let Some(address) = info.get("address") {
        let ip = address.get("ip").and_then(Value::as_str).unwrap_or("");
        let port = address.get("port").and_then(Value::as_u64).unwrap_or(0);
        return join_host_port(ip, port as u16);
    }
    if info.get("ip").is_none() && info.get("port").is_none() {
        return String::new();
    }
    // Legacy: the IPv4 address as a u32 whose little-endian bytes are the octets.
    let ip = info.get("ip").and_then(Value::as_u64).unwrap_or(0) as u32;
    let port = info.get("port").and_then(Value::as_u64).unwrap_or(5050);
    join_host_port(&Ipv4Addr::from(ip.to_le_bytes()).to_string(), port as u16)
}

/// The `json.info_<n>` children in sequence order (lowest first: the leader).
pub(crate) fn member_nodes(children: &[String]) -> Vec<String> {
    let mut nodes: Vec<(u64, &String)> = children
        .iter()
        .filter_map(|c| Some((c.strip_prefix("json.info_")?.parse::<u64>().ok()?, c)))
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, c)| c.clone()).collect()
}

/// Starts the detector thread; `changed` is told whenever the list changes.
pub(crate) fn spawn_zk(
    url: ZkUrl,
    fallback: Vec<String>,
    changed: OnChange,
    status: Arc<Status>,
    stop: Stop,
) -> Arc<Masters> {
    let masters = Arc::new(Masters {
        view: Mutex::new(without_zookeeper(&fallback)),
        changed: Some(changed),
    });
    let shared = masters.clone();
    let spawned = std::thread::Builder::new()
        .name("zk-detector".into())
        .spawn(move || detect_until_stopped(&url, &fallback, &shared, &status, &stop));
    if let Err(e) = spawned {
        tracing::error!("cannot start the ZooKeeper detector: {e}");
    }
    masters
}

/// Without ZooKeeper, the configured masters are what there is (no leader known).
fn without_zookeeper(fallback: &[String]) -> MasterView {
    MasterView {
        list: with_fallback(Vec::new(), fallback),
        zk_connected: false,
    }
}

/// `[leader or "", other members…, configured masters not already listed]`.
fn with_fallback(members: Vec<String>, fallback: &[String]) -> Vec<String> {
    let mut list = if members.is_empty() {
        vec![String::new()]
    } else {
        members
    };
    for m in fallback {
        if !list.contains(m) {
            list.push(m.clone());
        }
    }
    list
}

/// Session timeout asked of ZooKeeper (the server may grant less or more).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection attempt to the ensemble may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn detect_until_stopped(
    url: &ZkUrl,
    fallback: &[String],
    masters: &Masters,
    status: &Status,
    stop: &Stop,
) {
    let Some(runtime) =
        super::zk::client_runtime("ZooKeeper detector (using the configured masters)")
    else {
        return;
    };
    let hosts = url.hosts.join(",");
    let detect = async {
        let mut backoff = Duration::from_millis(500);
        loop {
            let connect = zk::Client::connector()
                .with_session_timeout(SESSION_TIMEOUT)
                .with_fail_eagerly()
                .connect(&hosts);
            match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(Ok(client)) => {
                    backoff = Duration::from_millis(500);
                    Status::add(&status.source.zk_sessions, 1);
                    let ended = watch_group(&client, url, fallback, masters).await;
                    tracing::warn!("ZooKeeper session ended: {ended}");
                }
                Ok(Err(e)) => tracing::warn!("ZooKeeper {hosts} unreachable: {e}"),
                Err(_) => tracing::warn!("ZooKeeper {hosts} unreachable: connection timed out"),
            }
            masters.publish(without_zookeeper(fallback));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    };
    runtime.block_on(async {
        tokio::select! {
            () = super::zk::stopped(stop) => {}
            () = detect => {}
        }
    });
}

/// Reads the group and waits for changes until the session ends (expired, closed, or an
/// error); returns why. While the connection is lost the configured masters are used, and
/// the group is read afresh once it is back (watch events may be lost meanwhile).
async fn watch_group(
    client: &zk::Client,
    url: &ZkUrl,
    fallback: &[String],
    masters: &Masters,
) -> String {
    let mut states = client.state_watcher();
    loop {
        let (members, watcher) = match read_group(client, &url.path).await {
            Ok(found) => found,
            Err(zk::Error::ConnectionLoss) => {
                if let Err(ended) = wait_reconnected(&mut states, fallback, masters).await {
                    return ended;
                }
                continue;
            }
            Err(e) => return e.to_string(),
        };
        if members.is_empty() {
            tracing::warn!("ZooKeeper {}: no leading master", url.path);
        }
        masters.publish(MasterView {
            list: with_fallback(members, fallback),
            zk_connected: true,
        });
        // Wait for the group to change, or for the connection to drop.
        tokio::select! {
            event = watcher.changed() => {
                if event.event_type == zk::EventType::Session && event.session_state.is_terminated() {
                    return format!("{:?}", event.session_state);
                }
            }
            state = states.changed() => {
                if state.is_terminated() {
                    return format!("{state:?}");
                }
                if state == zk::SessionState::Disconnected {
                    if let Err(ended) = wait_reconnected(&mut states, fallback, masters).await {
                        return ended;
                    }
                }
            }
        }
    }
}

/// The connection is lost (the session may still live): use the configured masters until
/// it is back. Err when the session ends instead.
async fn wait_reconnected(
    states: &mut zk::StateWatcher,
    fallback: &[String],
    masters: &Masters,
) -> Result<(), String> {
    masters.publish(without_zookeeper(fallback));
    loop {
        let state = states.changed().await;
        if state.is_terminated() {
            return Err(format!("{state:?}"));
        }
        if state == zk::SessionState::SyncConnected {
            return Ok(());
        }
    }
}

/// The group's members in sequence order (leader first) and a watch on the group: on its
/// children when it exists, else on its creation.
async fn read_group(
    client: &zk::Client,
    path: &str,
) -> Result<(Vec<String>, zk::OneshotWatcher), zk::Error> {
    loop {
        let (children, watcher) = match client.list_and_watch_children(path).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => {
                // The group does not exist yet: be told when it does.
                match client.check_and_watch_stat(path).await? {
                    (Some(_), _) => continue,
                    (None, watcher) => return Ok((Vec::new(), watcher)),
                }
            }
            Err(e) => return Err(e),
        };
        let mut seen_ids = Vec::new();
        let mut list = Vec::new();
        for node in member_nodes(&children) {
            let data = match client.get_data(&format!("{path}/{node}")).await {
                Ok((data, _)) => data,
                // Gone since the listing: the watch will tell.
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(e),
            };
            let Ok(info) = serde_json::from_slice::<Value>(&data) else {
                continue;
            };
            let id = info
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !id.is_empty() && seen_ids.contains(&id) {
                continue;
            }
            seen_ids.push(id);
            let address = master_address(&info);
            if !address.is_empty() && !list.contains(&address) {
                list.push(address);
            }
        }
        return Ok((list, watcher));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// docs/spec/mesos-dns-behavior.md §9.9, MasterInfo rows.
    #[test]
    fn master_info() {
        assert_eq!(master_address(&json!({})), "");
        assert_eq!(
            master_address(&json!({"address": {"ip": "", "port": 1234}})),
            ":1234"
        );
        assert_eq!(
            master_address(&json!({"address": {"ip": "1.1.1.1", "port": 0}})),
            "1.1.1.1:0"
        );
        assert_eq!(
            master_address(&json!({"address": {"ip": "1.1.1.1", "port": 1234}})),
            "1.1.1.1:1234"
        );
        assert_eq!(master_address(&json!({"port": 1234})), "0.0.0.0:1234");
        assert_eq!(master_address(&json!({"ip": 16843009u32})), "1.1.1.1:5050");
        assert_eq!(
            master_address(&json!({"ip": 16843009u32, "port": 1234})),
            "1.1.1.1:1234"
        );
        assert_eq!(
            master_address(&json!({"address": {"ip": "2001:db8::1", "port": 5050}})),
            "[2001:db8::1]:5050"
        );
        // Little-endian octets: 0x0100_007f is 127.0.0.1.
        assert_eq!(
            master_address(&json!({"ip": 0x0100_007f_u32, "port": 5050})),
            "127.0.0.1:5050"
        );
    }

    #[test]
    fn members_in_sequence_order() {
        let children: Vec<String> = [
            "json.info_0000000012",
            "info_0000000001",
            "json.info_0000000003",
            "log_replicas",
            "json.info_x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            member_nodes(&children),
            ["json.info_0000000003", "json.info_0000000012"]
        );
    }

    #[test]
    fn fallback_masters_stay_listed() {
        let fallback = vec!["10.0.0.9:5050".to_string()];
        assert_eq!(with_fallback(vec![], &fallback), ["", "10.0.0.9:5050"]);
        assert_eq!(
            with_fallback(
                vec!["10.0.0.1:5050".into(), "10.0.0.9:5050".into()],
                &fallback
            ),
            ["10.0.0.1:5050", "10.0.0.9:5050"]
        );
    }
}
