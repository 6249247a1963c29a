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
//! One serial lineage: the leader reserves, in the `serials` node beside the
//! candidates', the highest serial it may serve, before serving any serial above it
//! (a reservation runs [`RESERVE_AHEAD`] past the serial asked, so this costs one
//! ZooKeeper write a day, not one per publish). A new leader starts above the stored
//! reservation: whatever the old leader served in its last moments, even publishes no
//! standby received, it never serves one of those serials with other records. The
//! writes are conditional on the node's version, so a deposed leader's late write
//! fails rather than overwriting its successor's.
//!
//! This module only elects: it runs on a thread of its own (a current-thread tokio
//! runtime for the ZooKeeper client, never on the query path) and reports each role
//! change through a callback.

use crate::dns::wire::{serial_later, serial_newer};
use crate::mesos::zk::{ZkUrl, stopped};
use crate::stop::Stop;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How far past the serial asked a reservation reaches (serials follow the clock in
/// seconds, so about a day of publishes; a new leader's first serial jumps at most
/// this far, well within RFC 1982's half range).
pub const RESERVE_AHEAD: u32 = 100_000;
/// The node, beside the candidates' ones, holding the highest serial reserved.
const SERIALS: &str = "serials";

/// A reservation asked of the election thread.
#[derive(Clone, Copy, Debug)]
enum Reserve {
    /// Becoming the leader while holding `held`: the first serial of the lineage is
    /// above both `held` and the stored reservation.
    TakeOver { held: u32 },
    /// The lineage reaches `serial`.
    Extend { serial: u32 },
}

/// A request, with where its answer goes (the first serial, or the reservation's end).
type Request = (Reserve, crossbeam_channel::Sender<Result<u32, String>>);

/// The role as last reported, for readers on other threads; the leader reserves its
/// serials through it.
#[derive(Debug)]
pub struct ElectionView {
    role: Mutex<Role>,
    elections: AtomicU64,
    /// The end of this leader's reservation, plus one (0: none).
    reserved: AtomicU64,
    requests: tokio::sync::mpsc::UnboundedSender<Request>,
    /// How long a request may wait for ZooKeeper.
    timeout: Duration,
}

impl ElectionView {
    /// Becoming the leader while serving `held` (0: nothing yet): the serial to publish
    /// first (above `held` and above every serial a former leader may have served),
    /// reserved. An error when this candidate is not (or no longer) the leader, or
    /// ZooKeeper did not answer.
    pub fn take_over(&self, held: u32) -> Result<u32, String> {
        self.reserved.store(0, Ordering::Relaxed);
        self.ask(Reserve::TakeOver { held })
    }

    /// Before serving `serial` as the leader: reserved already (nothing to do), or the
    /// reservation extended now. An error means this server must not serve it.
    pub fn reserve(&self, serial: u32) -> Result<(), String> {
        let reserved = self.reserved.load(Ordering::Relaxed);
        if reserved != 0 && !serial_newer(serial, (reserved - 1) as u32) {
            return Ok(());
        }
        self.ask(Reserve::Extend { serial }).map(drop)
    }

    fn ask(&self, what: Reserve) -> Result<u32, String> {
        if self.role() != Role::Leader {
            return Err("not the leader".into());
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.requests
            .send((what, reply))
            .map_err(|_| "the election has ended".to_string())?;
        answer
            .recv_timeout(self.timeout)
            .map_err(|_| "ZooKeeper did not answer in time".to_string())?
    }

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

/// The other candidates' addresses, which a leader keeps up to date (its standbys, to
/// notify); empty when not leading.
pub type Followers = Arc<arc_swap::ArcSwap<Vec<std::net::SocketAddr>>>;

/// Joins the election at `url` (a `zk://hosts/path` URL) with a session of `timeout`,
/// offering `address` as the one to transfer from when leading; `on_change` hears every
/// role change, and `followers` gets the other candidates' addresses while leading.
/// Runs until `stop`, then leaves (the node goes at once).
pub fn spawn(
    url: &str,
    timeout: Duration,
    address: String,
    on_change: Box<dyn Fn(&Role) + Send>,
    followers: Followers,
    stop: Stop,
) -> Result<Arc<ElectionView>, String> {
    let url = ZkUrl::parse(url).map_err(|e| e.to_string())?;
    let (requests, mut pending) = tokio::sync::mpsc::unbounded_channel();
    let view = Arc::new(ElectionView {
        role: Mutex::new(Role::Unknown),
        elections: Default::default(),
        reserved: AtomicU64::new(0),
        requests,
        timeout,
    });
    let shared = view.clone();
    std::thread::Builder::new()
        .name("election".into())
        .spawn(move || {
            let member = Member {
                address: &address,
                view: &shared,
                on_change: &*on_change,
                followers: &followers,
            };
            run(&url, timeout, &member, &mut pending, &stop);
        })
        .map_err(|e| format!("starting the election thread: {e}"))?;
    Ok(view)
}

/// This candidate: what it offers, and where it reports.
struct Member<'a> {
    address: &'a str,
    view: &'a ElectionView,
    on_change: &'a (dyn Fn(&Role) + Send),
    followers: &'a Followers,
}

type Requests = tokio::sync::mpsc::UnboundedReceiver<Request>;

fn run(url: &ZkUrl, timeout: Duration, member: &Member, requests: &mut Requests, stop: &Stop) {
    let (view, on_change) = (member.view, member.on_change);
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
                    let ended = candidate(&client, &url.path, member, requests, stop).await;
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
    member: &Member<'_>,
    requests: &mut Requests,
    stop: &Stop,
) -> String {
    let (address, view, on_change) = (member.address, member.view, member.on_change);
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
    let follow = follow(client, path, &ours, member, requests);
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
    member: &Member<'_>,
    requests: &mut Requests,
) -> String {
    let (view, on_change) = (member.view, member.on_change);
    let serials = format!("{path}/{SERIALS}");
    let mut states = client.state_watcher();
    loop {
        match standing(client, path, ours).await {
            Ok(Standing::Gone) => return "our node is gone".into(),
            Ok(Standing::Leading) => {
                view.set(Role::Leader, on_change);
                // Leading until the connection drops; reserving serials and keeping the
                // list of standbys meanwhile.
                let mut members = match others(client, path, ours, member.followers).await {
                    Ok(watch) => Box::pin(watch.changed()),
                    Err(zk::Error::ConnectionLoss) => {
                        view.set(Role::Unknown, on_change);
                        continue;
                    }
                    Err(e) => return e.to_string(),
                };
                loop {
                    let state = tokio::select! {
                        state = states.changed() => state,
                        _ = &mut members => {
                            match others(client, path, ours, member.followers).await {
                                Ok(watch) => members = Box::pin(watch.changed()),
                                Err(zk::Error::ConnectionLoss) => break,
                                Err(e) => return e.to_string(),
                            }
                            continue;
                        }
                        Some((what, reply)) = requests.recv() => {
                            let answer = reserve(client, &serials, what).await.map(|(answer, end)| {
                                view.reserved.store(u64::from(end) + 1, Ordering::Relaxed);
                                answer
                            });
                            let _ = reply.send(answer);
                            continue;
                        }
                    };
                    if state.is_terminated() {
                        return format!("{state:?}");
                    }
                    if state == zk::SessionState::Disconnected {
                        // Fencing: stop leading at once.
                        view.set(Role::Unknown, on_change);
                        break;
                    }
                }
                member.followers.store(Arc::default());
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

/// The other candidates' addresses into `followers`; a watch on the list.
async fn others(
    client: &zk::Client,
    path: &str,
    ours: &str,
    followers: &Followers,
) -> Result<zk::OneshotWatcher, zk::Error> {
    let (children, watch) = client.list_and_watch_children(path).await?;
    let mut addresses = Vec::new();
    for child in children
        .iter()
        .filter(|c| c.starts_with(MEMBER) && *c != ours)
    {
        let data = match client.get_data(&format!("{path}/{child}")).await {
            Ok((data, _)) => data,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        if let Some(address) = member_address(&data).and_then(|a| a.parse().ok()) {
            addresses.push(address);
        }
    }
    followers.store(Arc::new(addresses));
    Ok(watch)
}

/// The address a candidate's node offers.
fn member_address(data: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()?
        .get("address")?
        .as_str()
        .map(str::to_string)
}

/// Carries out a reservation in the `serials` node (a decimal serial): reads it, and
/// writes the new end only if nobody wrote since (the node's version). Answers the
/// first serial (take-over) or the reservation's new end (extend), and that end.
async fn reserve(client: &zk::Client, node: &str, what: Reserve) -> Result<(u32, u32), String> {
    let (stored, version) = match client.get_data(node).await {
        Ok((data, stat)) => {
            let text = String::from_utf8_lossy(&data);
            (text.trim().parse::<u32>().ok(), Some(stat.version))
        }
        Err(zk::Error::NoNode) => (None, None),
        Err(e) => return Err(format!("reading {node}: {e}")),
    };
    let (answer, end) = reservation(what, stored);
    let text = end.to_string();
    let written = match version {
        Some(version) => client
            .set_data(node, text.as_bytes(), Some(version))
            .await
            .map(drop),
        None => {
            let mode = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            client.create(node, text.as_bytes(), &mode).await.map(drop)
        }
    };
    written.map_err(|e| format!("reserving serials up to {end}: {e}"))?;
    Ok((answer, end))
}

/// What a reservation answers and writes, given what the node holds (RFC 1982 order:
/// serials wrap): a take-over starts above both the serial held and the stored end;
/// an extension never moves the stored end back.
fn reservation(what: Reserve, stored: Option<u32>) -> (u32, u32) {
    match what {
        Reserve::TakeOver { held } => {
            let first = stored
                .map_or(held, |s| serial_later(s, held))
                .wrapping_add(1);
            (first, first.wrapping_add(RESERVE_AHEAD))
        }
        Reserve::Extend { serial } => {
            let end = serial.wrapping_add(RESERVE_AHEAD);
            let end = stored.map_or(end, |s| serial_later(s, end));
            (end, end)
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
        let leader = member_address(&leader_data).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_over_starts_above_the_reservation_and_the_serial_held() {
        // Nothing stored yet: above the serial held.
        assert_eq!(
            reservation(Reserve::TakeOver { held: 1000 }, None),
            (1001, 1001 + RESERVE_AHEAD)
        );
        // The old leader reserved further than the standby got.
        let (first, end) = reservation(Reserve::TakeOver { held: 1000 }, Some(90_000));
        assert_eq!((first, end), (90_001, 90_001 + RESERVE_AHEAD));
        // The standby holds a serial past the stored end (a reservation lost with its
        // node): above what it holds.
        assert_eq!(
            reservation(Reserve::TakeOver { held: 95_000 }, Some(90_000)).0,
            95_001
        );
        // Across the wrap: u32::MAX - 5 is older than 10 in serial arithmetic.
        let (first, _) = reservation(Reserve::TakeOver { held: 10 }, Some(u32::MAX - 5));
        assert_eq!(first, 11);
        let (first, end) = reservation(Reserve::TakeOver { held: u32::MAX - 5 }, Some(3));
        assert_eq!(first, 4);
        assert_eq!(end, 4 + RESERVE_AHEAD);
    }

    #[test]
    fn an_extension_never_moves_the_reservation_back() {
        assert_eq!(
            reservation(Reserve::Extend { serial: 500 }, None),
            (500 + RESERVE_AHEAD, 500 + RESERVE_AHEAD)
        );
        let far = 500 + 3 * RESERVE_AHEAD;
        assert_eq!(
            reservation(Reserve::Extend { serial: 500 }, Some(far)).1,
            far
        );
        // Near the wrap, the end wraps too and stays ahead.
        let (_, end) = reservation(
            Reserve::Extend {
                serial: u32::MAX - 1,
            },
            Some(u32::MAX - 100),
        );
        assert_eq!(end, (u32::MAX - 1).wrapping_add(RESERVE_AHEAD));
        assert!(serial_newer(end, u32::MAX - 1));
    }
}
