//! The HTTP API of the real binary: docs/spec/mesos-dns-behavior.md §9.7 (adapted as docs/compatibility.md says),
//! `/metrics` read by a Prometheus parser, `/health`, `/ready`, and bad requests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::data_path;
use common::server::{SETUP_R, Server, query};
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn setup_r() -> Server {
    Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"))
}

fn sorted_by_ip(v: Value) -> Vec<Value> {
    let mut list = v.as_array().unwrap().clone();
    list.sort_by_key(|e| {
        (
            e["ip"].as_str().unwrap().to_string(),
            e["port"].as_str().unwrap_or("").to_string(),
        )
    });
    list
}

#[test]
fn v1_rows() {
    let s = setup_r();
    let r = s.get("/v1/version");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    let v = r.json();
    assert_eq!(v["Service"], "Mesos-DNS");
    assert_eq!(v["URL"], "https://github.com/mesosphere/mesos-dns");
    assert!(v["Version"].is_string());

    let want = json!([{"service": "_leader._tcp.mesos.", "host": "leader.mesos.", "ip": "1.2.3.4", "port": "5050"}]);
    assert_eq!(s.get("/v1/services/_leader._tcp.mesos.").json(), want);
    let with_accept = s.http_raw(
        b"GET /v1/services/_leader._tcp.mesos. HTTP/1.1\r\nAccept: application/json\r\n\r\n",
    );
    assert_eq!(with_accept.json(), want);
    // Not found: an empty list (the reference returns one placeholder of empty strings).
    assert_eq!(
        s.get("/v1/services/_myservice._tcp.mesos.").json(),
        json!([])
    );
    // The service name comes back normalised, whatever the client sent.
    let liquor = sorted_by_ip(
        s.get("/v1/services/_liquor-store._tcp.marathon.mesos")
            .json(),
    );
    assert_eq!(liquor.len(), 4);
    let name = "_liquor-store._tcp.marathon.mesos.";
    assert_eq!(
        liquor,
        vec![
            json!({"service": name, "host": "liquor-store-4dfjd-0.marathon.mesos.", "ip": "10.3.0.1", "port": "443"}),
            json!({"service": name, "host": "liquor-store-4dfjd-0.marathon.mesos.", "ip": "10.3.0.1", "port": "80"}),
            json!({"service": name, "host": "liquor-store-zasmd-1.marathon.mesos.", "ip": "10.3.0.2", "port": "443"}),
            json!({"service": name, "host": "liquor-store-zasmd-1.marathon.mesos.", "ip": "10.3.0.2", "port": "80"}),
        ]
    );

    assert_eq!(
        s.get("/v1/hosts/leader.mesos").json(),
        json!([{"host": "leader.mesos.", "ip": "1.2.3.4"}])
    );
    assert_eq!(s.get("/v1/hosts/nothing.mesos.").json(), json!([]));
    let slaves = s.get("/v1/hosts/slave.mesos").json();
    let ips: Vec<&str> = slaves
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 4);
    assert_eq!(ips[3], "2001:db8::1", "A values first, then AAAA");
    // AAAA-only names are found (the reference calls them NXDomain).
    let v6 = s
        .get("/v1/hosts/toy-store.ipv6-framework.slave.mesos.")
        .json();
    assert_eq!(
        v6,
        json!([{"host": "toy-store.ipv6-framework.slave.mesos.", "ip": "2001:db8::1"}])
    );
    // Case does not matter.
    assert_eq!(s.get("/v1/hosts/LEADER.Mesos.").json()[0]["ip"], "1.2.3.4");

    let r = s.get("/v1/hosts/leader.mesos/ports");
    assert_eq!((r.status, r.body.as_str()), (501, "To be implemented..."));
    for path in ["/v1/hosts/", "/v1/foo", "/v1", "/", "/v1/services/"] {
        let r = s.get(path);
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "404: Page Not Found"),
            "{path}"
        );
    }
    let r = s.http_raw(b"POST /v1/version HTTP/1.1\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}");
    assert_eq!(r.status, 405);
    let r = s.http_raw(b"GET /v1/version HTTP/1.1\r\nAccept: text/html\r\n\r\n");
    assert_eq!(r.status, 406);
    let r = s.http_raw(
        b"GET /v1/version HTTP/1.1\r\nAccept: text/html;q=0.9, application/json;q=1\r\n\r\n",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn enumerate_and_axfr() {
    let s = setup_r();
    let e = s.get("/v1/enumerate").json();
    let frameworks: Vec<(&str, usize)> = e["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["tasks"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        frameworks,
        [
            ("ipv6-framework", 1),
            ("chronos with a space AND MIXED CASE-2.0.1", 1),
            ("no pid", 0),
            ("marathon", 7)
        ]
    );
    let chronos = &e["frameworks"][3]["tasks"][4];
    assert_eq!(chronos["name"], "chronos");
    assert_eq!(
        chronos["records"][0],
        json!({"name": "chronos.marathon.mesos.", "host": "1.2.3.11", "rtype": "A"})
    );
    assert_eq!(chronos["records"].as_array().unwrap().len(), 8);

    let a = s.get("/v1/axfr").json();
    assert_eq!(a["Domain"], "mesos");
    assert_eq!(a["Mname"], "ns1.mesos.");
    assert_eq!(a["TTL"], 60);
    assert!(a["Serial"].as_u64().unwrap() > 0);
    assert_eq!(
        a["Records"]["SRVs"]["_leader._tcp.mesos."],
        json!(["leader.mesos.:5050"])
    );
    // The serial of /v1/axfr is the one the DNS SOA carries.
    let soa = s.udp(&query("mesos.", RecordType::SOA));
    let hickory_proto::rr::RData::SOA(soa) = soa.answers()[0].data() else {
        panic!()
    };
    assert_eq!(a["Serial"].as_u64().unwrap(), u64::from(soa.serial()));

    let off = Server::start(
        &data_path("fake-state.json"),
        &format!(",{SETUP_R},\"EnumerationOn\":false"),
    );
    assert_eq!(off.get("/v1/enumerate").status, 404);
    assert_eq!(off.get("/v1/axfr").status, 404);
}

#[test]
fn config_redacts_the_secret() {
    let s = Server::start(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"MesosCredentials":{{"principal":"dns","secret":"hunter2"}}"#),
    );
    let r = s.get("/v1/config");
    assert!(!r.body.contains("hunter2"));
    let c = r.json();
    assert_eq!(c["MesosCredentials"]["Principal"], "dns");
    assert_eq!(c["Masters"], json!(["144.76.157.37:5050"]));
    assert_eq!(c["Domain"], "mesos");
    assert_eq!(c["SOAMname"], "ns1.mesos.");
    let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "RefreshSeconds");
    assert_eq!(keys[37], "MesosAuthentication");
}

/// One metric's value from parsed Prometheus text.
fn metric(samples: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
}

fn scrape(s: &Server) -> prometheus_parse::Scrape {
    let r = s.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain"));
    prometheus_parse::Scrape::parse(r.body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

#[test]
fn metrics_move_with_queries() {
    let s = setup_r();
    let before = scrape(&s);
    let a = metric(
        &before,
        "mesos_dns_requests_total",
        &[("protocol", "udp"), ("qtype", "A")],
    );
    let nx = metric(
        &before,
        "mesos_dns_responses_total",
        &[("rcode", "NXDOMAIN")],
    );
    for _ in 0..5 {
        s.udp(&query("chronos.marathon.mesos.", RecordType::A));
    }
    s.udp(&query("missing.mesos.", RecordType::SRV));
    s.tcp(&[query("_leader._tcp.mesos.", RecordType::SRV)]);
    let after = scrape(&s);
    // The readiness probe of the harness also sent A queries: at least 5 more.
    assert!(
        metric(
            &after,
            "mesos_dns_requests_total",
            &[("protocol", "udp"), ("qtype", "A")]
        ) >= a + 5.0
    );
    assert_eq!(
        metric(
            &after,
            "mesos_dns_responses_total",
            &[("rcode", "NXDOMAIN")]
        ),
        nx + 1.0
    );
    assert_eq!(
        metric(
            &after,
            "mesos_dns_requests_total",
            &[("protocol", "tcp"), ("qtype", "SRV")]
        ),
        1.0
    );
    assert!(metric(&after, "mesos_dns_snapshot_records", &[("type", "A")]) > 50.0);
    assert_eq!(
        metric(&after, "mesos_dns_snapshot_records", &[("type", "AAAA")]),
        6.0
    );
    assert!(metric(&after, "mesos_dns_snapshot_serial", &[]) > 0.0);
    assert_eq!(metric(&after, "mesos_dns_ready", &[]), 1.0);
    assert!(metric(&after, "mesos_dns_state_refreshes_total", &[]) >= 1.0);
}

#[test]
fn ready_flips() {
    // No state yet: alive but not ready.
    let s = Server::spawn(
        None,
        r#","masters":["10.0.0.1:5050"],"ReadyStaleRefreshes":2"#,
        "127.0.0.1",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", s.http_port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.get("/health").status, 200);
    let r = s.get("/ready");
    assert_eq!(r.status, 503);
    assert!(r.body.contains("no state"), "{}", r.body);
    // A state arrives: ready.
    std::fs::copy(data_path("fake-state.json"), s.dir.join("state.json")).unwrap();
    s.wait_ready();
    assert_eq!(s.get("/ready").status, 200);
    // The state source breaks: after 2 refresh periods without success, not ready again,
    // while DNS keeps answering from the last snapshot.
    std::fs::remove_file(s.dir.join("state.json")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.get("/ready").status == 200 {
        assert!(Instant::now() < deadline, "never became stale");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        s.udp(&query("leader.mesos.", RecordType::A))
            .answers()
            .len(),
        1
    );
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn bad_requests_do_no_harm() {
    let s = setup_r();
    let huge_header = format!(
        "GET /v1/version HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    assert_eq!(s.http_raw(huge_header.as_bytes()).status, 431);
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        s.http_raw(format!("GET /v1/version HTTP/1.1\r\n{many}\r\n").as_bytes())
            .status,
        431
    );
    assert_eq!(s.http_raw(b"GARBAGE\r\n\r\n").status, 400);
    assert_eq!(
        s.http_raw(b"GET /v1/version HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
            .status,
        413
    );
    assert_eq!(
        s.http_raw(b"DELETE /v1/config HTTP/1.1\r\n\r\n").status,
        405
    );
    // A client that sends half a request and waits is cut off; others are still served.
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", s.http_port)).unwrap();
    std::io::Write::write_all(&mut slow, b"GET /v1/vers").unwrap();
    for _ in 0..10 {
        assert_eq!(s.get("/v1/version").status, 200);
    }
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = std::io::Read::read_to_end(&mut slow, &mut buf);
    assert!(
        String::from_utf8_lossy(&buf).contains("408"),
        "slow client gets 408 once the request deadline passes"
    );
    assert_eq!(s.get("/health").status, 200);
}

/// 64 clients trickle request heads a byte every 2 s (more than the handler threads): the
/// probes still answer, every other route too, and each trickler is cut off at the
/// request deadline. The figure for the closing note is printed, not asserted.
#[test]
fn slow_clients_do_not_starve_probes() {
    let s = setup_r();
    let head = b"GET /v1/version HTTP/1.1\r\nHost: test\r\n\r\n";
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickling = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tricklers: Vec<_> = (0..64)
        .map(|_| {
            let port = s.http_port;
            let stop = stop.clone();
            let trickling = trickling.clone();
            std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                c.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let started = Instant::now();
                // Bounded: at most 10 bytes over 20 s, or until the server closes.
                for &b in head.iter().take(10) {
                    if stop.load(std::sync::atomic::Ordering::Relaxed)
                        || std::io::Write::write_all(&mut c, &[b]).is_err()
                    {
                        break;
                    }
                    trickling.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut buf = [0u8; 256];
                    let wait = Instant::now();
                    while wait.elapsed() < Duration::from_secs(2) {
                        match std::io::Read::read(&mut c, &mut buf) {
                            Ok(0) => return (started.elapsed(), true),
                            Ok(_) => {}
                            Err(_) => {}
                        }
                    }
                }
                (started.elapsed(), false)
            })
        })
        .collect();
    common::eventually(
        Duration::from_secs(10),
        "every trickler connected and writing",
        || trickling.load(std::sync::atomic::Ordering::Relaxed) >= 64,
    );
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let asked = Instant::now();
        assert_eq!(s.get("/health").status, 200);
        assert_eq!(s.get("/ready").status, 200);
        assert_eq!(s.get("/v1/version").status, 200);
        worst = worst.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("slowest /health + /ready + /v1/version under 64 slow clients: {worst:?}");
    let closed = tricklers
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|(_, closed)| *closed)
        .count();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        closed, 64,
        "every trickler is cut off at the request deadline"
    );
}

/// The zone's serial by zone, how long since the masters last confirmed it, and the
/// SOA refresh the alert rules compare it with.
#[test]
fn zone_metrics() {
    let s = Server::start(
        &data_path("fake-state.json"),
        &format!(r#",{SETUP_R},"ReverseZones":["10.3.0.0/16"],"SOARefresh":120"#),
    );
    let samples = scrape(&s);
    let serial = metric(&samples, "mesos_dns_snapshot_serial", &[]);
    assert!(serial > 0.0);
    assert_eq!(
        metric(&samples, "mesos_dns_zone_serial", &[("zone", "mesos.")]),
        serial
    );
    assert_eq!(
        metric(
            &samples,
            "mesos_dns_zone_serial",
            &[("zone", "3.10.in-addr.arpa.")]
        ),
        serial
    );
    assert_eq!(
        metric(&samples, "mesos_dns_zone_refresh_seconds", &[]),
        120.0
    );
    let age = metric(&samples, "mesos_dns_zone_age_seconds", &[]);
    // The state file is read every second: confirmed a moment ago, not at the epoch.
    assert!((0.0..60.0).contains(&age), "{age}");
}

/// The allocator's view of the process's memory, for the memory a zone costs: what is
/// held live, and the pages holding it (never fewer than the live bytes they hold).
#[test]
fn memory_metrics() {
    let s = setup_r();
    let samples = scrape(&s);
    let bytes = |kind| metric(&samples, "mesos_dns_memory_bytes", &[("kind", kind)]);
    let (allocated, active, resident) = (bytes("allocated"), bytes("active"), bytes("resident"));
    assert!(allocated > 0.0, "{allocated}");
    assert!(
        active >= allocated,
        "active {active} < allocated {allocated}"
    );
    assert!(resident >= active, "resident {resident} < active {active}");
    assert!(bytes("metadata") > 0.0);
    assert!(bytes("retained") >= 0.0);
}
