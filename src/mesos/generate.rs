//! The records of a whole `/master/state` document, as Mesos-DNS generates them (for
//! the tools, benchmarks and conformance tests; the server goes through the model and
//! the store). Here, beside the document's types, so that `records` knows only the model.

use super::state::State;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::records::{RecordSet, Report, generate_cluster};
use std::net::IpAddr;

/// What the generator reads besides the state.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The current master list (`host:port`), presumed leader first; `""` entries allowed.
    pub masters: &'a [String],
    /// Addresses published under `SOAMname` (the listener's, docs/spec/mesos-dns-behavior.md §4.7).
    pub listener_ips: &'a [IpAddr],
}

/// Generates every record of `state`, in the reference's order: frameworks, agents,
/// listener, leader and masters, tasks.
pub fn generate(config: &Config, state: &State, inputs: Inputs) -> (RecordSet, Report) {
    let cluster = Cluster::from_state(
        state.to_cluster_state(),
        inputs.masters.to_vec(),
        inputs.listener_ips.to_vec(),
    );
    generate_cluster(config, &cluster)
}

#[cfg(test)]
mod tests {
    use crate::cluster::Task;
    use crate::config::IpSource::*;
    use crate::records::task_ips::task_ips;
    use std::net::IpAddr;

    /// A task read as `/master/state` writes it.
    fn task(json: &str) -> Task {
        let task: crate::mesos::state::Task = serde_json::from_str(json).unwrap();
        task.into_cluster_task()
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

    /// docs/spec/mesos-dns-behavior.md §9.4, row by row.
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
