//! Which addresses a task's names point at (spec §3.6, `IPSources`).

use crate::cluster::{RunningStatus, Task};
use crate::config::IpSource;
use std::net::IpAddr;

/// The addresses of the first source in `sources` that yields any; empty when none does.
pub(crate) fn task_ips(task: &Task, sources: &[IpSource], agent_ips: &[IpAddr]) -> Vec<IpAddr> {
    let latest = latest_running_status(task);
    for source in sources {
        let ips: &[IpAddr] = match (source, latest) {
            (IpSource::Host, _) => agent_ips,
            (IpSource::Docker, Some(s)) => &s.docker,
            (IpSource::Mesos, Some(s)) => &s.mesos,
            (IpSource::Netinfo, Some(s)) => &s.netinfo,
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

#[cfg(test)]
mod tests {
    use super::*;
    use IpSource::*;

    /// A task read as `/master/state` writes it.
    fn task(json: &str) -> Task {
        let task: crate::mesos::state::Task = serde_json::from_str(json).unwrap();
        task.into_cluster_task("f")
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn netinfo_status(ts: f64, ip: &str) -> String {
        format!(
            r#"{{"state":"TASK_RUNNING","timestamp":{ts},"container_status":{{"network_infos":[{{"ip_addresses":[{{"ip_address":"{ip}"}}]}}]}}}}"#
        )
    }

    fn docker_status(ts: f64, ip: &str) -> String {
        format!(
            r#"{{"state":"TASK_RUNNING","timestamp":{ts},"labels":[{{"key":"Docker.NetworkSettings.IPAddress","value":"{ip}"}}]}}"#
        )
    }

    fn with_statuses(statuses: &[String]) -> Task {
        task(&format!(
            r#"{{"state":"TASK_RUNNING","statuses":[{}]}}"#,
            statuses.join(",")
        ))
    }

    /// Spec §9.4, row by row.
    #[test]
    fn selection_table() {
        let one = with_statuses(&[netinfo_status(1.0, "1.2.3.4")]);
        assert!(task_ips(&one, &[Host, Mesos], &[]).is_empty());
        assert_eq!(task_ips(&one, &[Netinfo], &[]), ips(&["1.2.3.4"]));

        let two = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[
                {"ip_addresses":[{"ip_address":"1.2.3.4"}]},{"ip_addresses":[{"ip_address":"2.3.4.5"}]}]}}]}"#,
        );
        assert_eq!(
            task_ips(&two, &[Netinfo], &[]),
            ips(&["1.2.3.4", "2.3.4.5"])
        );

        let list = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[
                {"ip_addresses":[{"ip_address":"1.2.3.4"},{"ip_address":"2.3.4.5"}]}]}}]}"#,
        );
        assert_eq!(
            task_ips(&list, &[Netinfo], &[]),
            ips(&["1.2.3.4", "2.3.4.5"])
        );

        let legacy = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[{"ip_address":"1.2.3.4"}]}}]}"#,
        );
        assert_eq!(task_ips(&legacy, &[Netinfo], &[]), ips(&["1.2.3.4"]));

        let legacy_empty = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[
                {"ip_address":""},{"ip_addresses":[{"ip_address":"1.2.3.4"}]}]}}]}"#,
        );
        assert_eq!(task_ips(&legacy_empty, &[Netinfo], &[]), ips(&["1.2.3.4"]));

        let both = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[
                {"ip_address":"1.2.3.4","ip_addresses":[{"ip_address":"1.2.4.8"}]}]}}]}"#,
        );
        assert_eq!(task_ips(&both, &[Netinfo], &[]), ips(&["1.2.4.8"]));

        let dual = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","container_status":{"network_infos":[
                {"ip_addresses":[{"ip_address":"1.2.3.4"},{"ip_address":"fd01:b::1:8000:2"}]}]}}]}"#,
        );
        let agent = ips(&["2.3.4.5"]);
        assert_eq!(task_ips(&dual, &[Host, Netinfo], &agent), agent);
        assert_eq!(
            task_ips(&dual, &[Netinfo, Host], &agent),
            ips(&["1.2.3.4", "fd01:b::1:8000:2"])
        );

        let stopped = task(&format!(
            r#"{{"statuses":[{},{{"state":"TASK_STOPPED","timestamp":9,"container_status":{{"network_infos":[{{"ip_addresses":[{{"ip_address":"2.3.4.5"}}]}}]}}}}]}}"#,
            netinfo_status(1.0, "1.2.3.4")
        ));
        assert_eq!(task_ips(&stopped, &[Netinfo], &[]), ips(&["1.2.3.4"]));

        let mixed = with_statuses(&[
            netinfo_status(1.0, "1.2.3.4"),
            netinfo_status(4.0, "1.3.5.7"),
            docker_status(3.0, "2.3.4.5"),
            docker_status(5.0, "2.4.6.8"),
            docker_status(2.0, "2.5.8.1"),
        ]);
        assert_eq!(task_ips(&mixed, &[Docker, Netinfo], &[]), ips(&["2.4.6.8"]));

        let two_labels = task(
            r#"{"statuses":[{"state":"TASK_RUNNING","labels":[
                {"key":"Docker.NetworkSettings.IPAddress","value":"1.2.3.4"},
                {"key":"Docker.NetworkSettings.IPAddress","value":"2.3.4.5"}]}]}"#,
        );
        assert_eq!(
            task_ips(&two_labels, &[Docker], &[]),
            ips(&["1.2.3.4", "2.3.4.5"])
        );
    }

    #[test]
    fn ties_go_to_the_first_and_non_ips_are_ignored() {
        let tie = with_statuses(&[docker_status(1.0, "1.1.1.1"), docker_status(1.0, "2.2.2.2")]);
        assert_eq!(task_ips(&tie, &[Docker], &[]), ips(&["1.1.1.1"]));
        let junk = with_statuses(&[docker_status(1.0, "not-an-ip")]);
        assert_eq!(
            task_ips(&junk, &[Docker, Host], &ips(&["9.9.9.9"])),
            ips(&["9.9.9.9"])
        );
    }
}
