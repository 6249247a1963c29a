//! A primary under `LeaderElection`: one of several that elect, through ZooKeeper, the
//! one that follows Mesos. This thread runs the role the election gives it:
//!
//! - **leader**: the control loop (follows Mesos, publishes), continuing the lineage of
//!   the zone it served as a standby and reserving each serial in ZooKeeper before
//!   serving it (`election`);
//! - **standby**: a secondary of the leader's address (NOTIFY, then IXFR), serving the
//!   leader's zone with its serials and IXFR history, and notifying its own
//!   `NotifySecondaries`. A new leader's address is followed without starting over, so
//!   the zone held keeps its serial and the next transfer is an IXFR;
//! - **neither** (no confirmed ZooKeeper session): a leader stops publishing at once
//!   (fencing); a standby goes on following the last leader it knew, which publishes
//!   nothing of its own; a server that was neither serves nothing yet.

use crate::config::Config;
use crate::control::{Control, ControlEvent};
use crate::election::{ElectionView, Role};
use crate::mesos::detect::Masters;
use crate::notify::Notifier;
use crate::notify::inbox::NotifyInbox;
use crate::records::documents::DocumentRequest;
use crate::secondary::Secondary;
use crate::secondary::keeper::Keeper;
use crate::secondary::kept::KeptZone;
use crate::snapshot::SharedSnapshot;
use crate::status::{RoleKind, Status};
use crate::stop::Stop;
use arc_swap::ArcSwapOption;
use crossbeam_channel::{Receiver, Sender};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What this thread runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Nothing: serves what is held (or nothing yet).
    Idle,
    /// The control loop.
    Leading,
    /// A secondary of the leader.
    Following,
}

/// What the election's callback and this thread share.
struct Turn {
    /// What runs now.
    running: Mode,
    /// Ends what runs now.
    stop: Stop,
}

/// The mode `role` calls for while `running` runs.
fn wanted(role: &Role, running: Mode) -> Mode {
    match role {
        Role::Leader => Mode::Leading,
        Role::Standby { .. } => Mode::Following,
        // Fencing: a leader without a confirmed session stops; a standby publishes
        // nothing of its own, so it may go on following.
        Role::Unknown if running == Mode::Following => Mode::Following,
        Role::Unknown => Mode::Idle,
    }
}

/// Everything the roles need, handed over by `app::start`.
pub(crate) struct Replica {
    /// The configuration at start.
    pub(crate) config: Config,
    /// The masters (fixed, or detected through `Zk`).
    pub(crate) masters: Arc<Masters>,
    /// The live configuration.
    pub(crate) live: Arc<arc_swap::ArcSwap<Config>>,
    /// What the listeners serve.
    pub(crate) shared: SharedSnapshot,
    /// Counters and health.
    pub(crate) status: Arc<Status>,
    /// Refresh and reload requests.
    pub(crate) wake: Receiver<ControlEvent>,
    /// Asks a running standby to check the (new) leader at once.
    pub(crate) nudge: Sender<ControlEvent>,
    /// `/v1` documents.
    pub(crate) documents: Receiver<DocumentRequest>,
    /// NOTIFYs the inbox took (from the leader).
    pub(crate) notices: Receiver<()>,
    /// Takes NOTIFYs from the leader only.
    pub(crate) inbox: Option<Arc<NotifyInbox>>,
    /// NOTIFY for `NotifySecondaries`.
    pub(crate) notifier: Notifier,
}

/// Joins the election under `url` offering `address` (where this server's DNS is
/// served) and runs the roles until `stop`.
pub(crate) fn spawn(
    replica: Replica,
    url: &str,
    address: SocketAddr,
    stop: Stop,
) -> Result<std::thread::JoinHandle<()>, String> {
    let timeout = Duration::from_secs(replica.config.leader_election_timeout);
    let turn = Arc::new(Mutex::new(Turn {
        running: Mode::Idle,
        stop: Stop::new(),
    }));
    let leader: Arc<ArcSwapOption<SocketAddr>> = Arc::default();
    let (changed_tx, changed) = crossbeam_channel::bounded(1);
    let on_change = {
        let (turn, leader) = (turn.clone(), leader.clone());
        let inbox = replica.inbox.clone();
        let nudge = replica.nudge.clone();
        let status = replica.status.clone();
        // The last leader known (this server or another's address): a new one counts as
        // an election seen.
        let known = Mutex::new(None::<Role>);
        move |role: &Role| {
            if *role != Role::Unknown {
                if let Ok(mut known) = known.lock() {
                    if known.as_ref() != Some(role) {
                        Status::add(&status.role.elections, 1);
                        *known = Some(role.clone());
                    }
                }
            }
            if let Role::Standby { leader: text } = role {
                match text.parse::<SocketAddr>() {
                    Ok(addr) => {
                        leader.store(Some(Arc::new(addr)));
                        if let Some(inbox) = &inbox {
                            inbox.set_primaries(&[addr]);
                        }
                        let _ = nudge.try_send(ControlEvent::Refresh);
                    }
                    Err(_) => tracing::error!(
                        leader = %text,
                        "the elected leader's address is not host:port; not following it"
                    ),
                }
            }
            if let Ok(turn) = turn.lock() {
                if wanted(role, turn.running) != turn.running {
                    turn.stop.stop();
                }
            }
            let _ = changed_tx.try_send(());
        }
    };
    let election = crate::election::spawn(
        url,
        timeout,
        address.to_string(),
        Box::new(on_change),
        replica.notifier.also_notified(),
        stop.clone(),
    )?;
    std::thread::Builder::new()
        .name("roles".into())
        .spawn(move || replica.run(&election, &turn, &leader, &changed, &stop))
        .map_err(|e| format!("starting the roles thread: {e}"))
}

impl Replica {
    fn run(
        self,
        election: &Arc<ElectionView>,
        turn: &Mutex<Turn>,
        leader: &Arc<ArcSwapOption<SocketAddr>>,
        changed: &Receiver<()>,
        stop: &Stop,
    ) {
        let mut previous = Mode::Idle;
        let mut led = false;
        // `DataDirectory`: the zone kept there is served at once, whatever the first
        // role; a standby goes on from it, a leader continues its lineage from it.
        let mut standby: Option<Secondary> = None;
        let mut kept: Option<(KeptZone, Option<u32>)> = None;
        if self.config.data_directory.is_some() {
            let mut loader = self.secondary(leader.clone(), false);
            loader.open_kept();
            standby = Some(loader);
        }
        while !stop.is_stopped() {
            let role_stop = Stop::new();
            let mode = {
                let Ok(mut turn) = turn.lock() else { return };
                let mode = wanted(&election.role(), previous);
                turn.running = mode;
                turn.stop = role_stop.clone();
                mode
            };
            let ends = role_stop.clone();
            stop.on_stop(move || ends.stop());
            match mode {
                Mode::Leading => {
                    self.status.role.set(RoleKind::Leader);
                    if let Some(mut held) = standby.take() {
                        kept = held.take_kept();
                    }
                    self.lead(election, &role_stop, &mut kept);
                    led = true;
                }
                Mode::Following => {
                    self.status.role.set(RoleKind::Standby);
                    let mut follower = standby.take().unwrap_or_else(|| {
                        // After leading, the zone served is this server's own: kept
                        // until the new leader's arrives whole, rather than one read
                        // from disk.
                        let mut follower =
                            self.secondary(leader.clone(), led || self.shared.load().ready);
                        if let Some((zone, _)) = kept.take() {
                            follower.adopt_kept(zone);
                        }
                        follower
                    });
                    tracing::info!("standby: following the elected leader by zone transfer");
                    follower.run(&role_stop);
                    standby = Some(follower);
                }
                Mode::Idle => {
                    self.status.role.set(if election.role() == Role::Unknown {
                        RoleKind::Unknown
                    } else {
                        RoleKind::None
                    });
                    self.idle(&role_stop);
                }
            }
            previous = mode;
            // A role that ended by itself (a leader fenced by a failed reservation)
            // starts again only once the election says something new, or a second on.
            if !role_stop.is_stopped() {
                crossbeam_channel::select! {
                    recv(changed) -> _ => {}
                    recv(stop.receiver()) -> _ => {}
                    default(Duration::from_secs(1)) => {}
                }
                previous = Mode::Idle;
            }
        }
    }

    /// Leads until `role_stop`: the control loop, above every serial reserved before,
    /// keeping its publishes in `kept` (`DataDirectory`), which it hands back.
    fn lead(
        &self,
        election: &Arc<ElectionView>,
        role_stop: &Stop,
        kept: &mut Option<(KeptZone, Option<u32>)>,
    ) {
        if let Some(inbox) = &self.inbox {
            inbox.set_primaries(&[]);
        }
        let control = Control::new(
            self.config.clone(),
            self.masters.clone(),
            self.wake.clone(),
            self.documents.clone(),
            self.live.clone(),
            self.shared.clone(),
            self.status.clone(),
        );
        let mut control = match control {
            Ok(control) => control,
            Err(e) => {
                tracing::error!("cannot follow Mesos as the leader: {e}");
                return;
            }
        };
        control.set_notifier(self.notifier.clone());
        match control.lead(election.clone()) {
            Ok(first) => tracing::info!(first_serial = first, "elected leader: following Mesos"),
            Err(e) => {
                tracing::warn!("elected, but the serial lineage could not be taken over: {e}");
                return;
            }
        }
        let keeper = kept
            .take()
            .and_then(|(zone, serial)| Keeper::start(zone, serial, &self.config));
        if let Some(keeper) = &keeper {
            control.set_keeper(keeper.sender());
        }
        control.run(role_stop);
        *kept = keeper.and_then(Keeper::finish);
    }

    /// A secondary of the elected leader (`after_leading`: its own zone is served).
    fn secondary(&self, leader: Arc<ArcSwapOption<SocketAddr>>, after_leading: bool) -> Secondary {
        let mut secondary = Secondary::new(
            &self.config,
            self.live.clone(),
            self.shared.clone(),
            self.status.clone(),
            self.documents.clone(),
            self.notices.clone(),
            self.wake.clone(),
        );
        secondary.follow_leader(leader, after_leading);
        secondary.set_notifier(self.notifier.clone());
        secondary
    }

    /// Neither leading nor following: serves what is held until the election says
    /// more; requests that need a role are turned away.
    fn idle(&self, role_stop: &Stop) {
        let ended = role_stop.receiver();
        let (mut documents, mut wake, mut notices) = (
            self.documents.clone(),
            self.wake.clone(),
            self.notices.clone(),
        );
        // A closed channel is always ready: each is watched until it closes.
        loop {
            crossbeam_channel::select! {
                recv(documents) -> request => if request.is_err() {
                    documents = crossbeam_channel::never();
                },
                recv(wake) -> event => if event.is_err() {
                    wake = crossbeam_channel::never();
                },
                recv(notices) -> notice => if notice.is_err() {
                    notices = crossbeam_channel::never();
                },
                recv(ended) -> _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_role_runs() {
        let standby = Role::Standby {
            leader: "127.0.0.1:53".into(),
        };
        for running in [Mode::Idle, Mode::Leading, Mode::Following] {
            assert_eq!(wanted(&Role::Leader, running), Mode::Leading);
            assert_eq!(wanted(&standby, running), Mode::Following);
        }
        // Fencing: a leader without a confirmed session stops publishing at once.
        assert_eq!(wanted(&Role::Unknown, Mode::Leading), Mode::Idle);
        // A standby publishes nothing of its own: it goes on following.
        assert_eq!(wanted(&Role::Unknown, Mode::Following), Mode::Following);
        assert_eq!(wanted(&Role::Unknown, Mode::Idle), Mode::Idle);
    }
}
