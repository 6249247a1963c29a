//! Which addresses a task's names point at (docs/spec/mesos-dns-behavior.md §3.6, `IPSources`).

use crate::cluster::{RunningStatus, Task};
use crate::config::IpSource;
use std::net::IpAddr;

/// The addresses of the first source in `sources` that yields any; empty when none does.
pub(crate) fn task_ips(task: &Task, sources: &[IpSource], agent_ips: &[IpAddr]) -> Vec<IpAddr> {
    let latest = latest_running_status(task);
    for source in sources {
        let ips: &[IpAddr] = match (source, latest) {
            (IpSource::Host, _) => agent_ips,
            (IpSource::Docker, Some(s)) => s.docker(),
            (IpSource::Mesos, Some(s)) => s.mesos(),
            (IpSource::Netinfo, Some(s)) => s.netinfo(),
            (_, None) => &[],
        };
        if !ips.is_empty() {
            return ips.to_vec();
        }
    }
    Vec::new()
}

/// The `TASK_RUNNING` status with the greatest timestamp; the first wins ties. Only this
/// one status is consulted, as in the reference.
fn latest_running_status(task: &Task) -> Option<&RunningStatus> {
    let mut best: Option<&RunningStatus> = None;
    let mut best_time = -1.0;
    for status in &task.running_statuses {
        if status.timestamp > best_time {
            best_time = status.timestamp;
            best = Some(status);
        }
    }
    best
}
