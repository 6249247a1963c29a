//! `LeaderElection`: this primary's role among the elected ones.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// What the election made of this primary.
#[derive(Debug, Default)]
pub struct RoleStatus {
    /// 0: no election (or not yet known), 1: leader, 2: standby, 3: unknown (no
    /// confirmed ZooKeeper session).
    role: AtomicU8,
    /// Leader changes seen: each time this primary became the leader or started
    /// following a new one.
    pub elections: AtomicU64,
}

/// The roles [`RoleStatus`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    /// Not elected, or no election configured.
    None = 0,
    /// Follows Mesos and publishes.
    Leader = 1,
    /// Follows the leader by zone transfer.
    Standby = 2,
    /// Neither: no confirmed ZooKeeper session.
    Unknown = 3,
}

impl RoleStatus {
    /// Records the role now held.
    pub fn set(&self, role: RoleKind) {
        self.role.store(role as u8, Ordering::Relaxed);
    }

    /// The role now held.
    pub fn get(&self) -> RoleKind {
        match self.role.load(Ordering::Relaxed) {
            1 => RoleKind::Leader,
            2 => RoleKind::Standby,
            3 => RoleKind::Unknown,
            _ => RoleKind::None,
        }
    }
}
