//! An idle server sleeps: no thread of a primary or a secondary spins while nothing
//! happens, whichever optional sides (HTTP, NOTIFY) are off. A channel whose sender is
//! gone is always ready, so a loop that kept watching one ran flat out (found with a
//! primary that had `HttpOn: false`: its control thread used a whole core).

use crate::common::data_path;
use crate::common::server::{SETUP_R, Server, free_port};
use std::time::Duration;

/// CPU time used by every thread of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        // A thread that ended between the listing and the read counts nothing.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            nanos += stat.split(' ').next().unwrap().parse::<u64>().unwrap();
        }
    }
    Duration::from_nanos(nanos)
}

/// CPU used over two idle seconds.
fn idle_cpu(server: &Server) -> Duration {
    let before = cpu_time(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    cpu_time(server.pid()) - before
}

#[test]
fn idle_primaries_and_secondaries_without_http_do_not_spin() {
    let quiet = r#","HttpOn":false,"refreshSeconds":60"#;
    let primary =
        Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}{quiet}"));
    let secondary =
        Server::secondary_on_process(free_port(), &[format!("127.0.0.1:{}", primary.port)], quiet);
    secondary.wait_ready();
    // A thread spinning on a closed channel takes most of a core even on a loaded
    // machine; an idle server takes a few milliseconds.
    for (who, server) in [("primary", &primary), ("secondary", &secondary)] {
        let used = idle_cpu(server);
        assert!(
            used < Duration::from_millis(500),
            "the idle {who} used {used:?} of CPU in 2 s"
        );
    }
}
