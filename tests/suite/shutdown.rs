//! Graceful shutdown: SIGTERM and SIGINT end the binary with status 0 promptly, and an
//! in-process server (on ports the kernel picks) stops every thread, replying first to
//! the queries it already holds, forwarded ones included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::server::{SETUP_R, Server, query};
use common::{config_from, data_path};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn stops_on(signal: &str) {
    let mut s = Server::start_process(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
    assert!(
        !s.udp(&query("chronos.marathon.mesos.", RecordType::A))
            .answers()
            .is_empty()
    );
    let sent = Instant::now();
    s.signal(signal);
    let status = s.wait_exit(Duration::from_secs(5));
    eprintln!("SIG{signal} → exit in {:?}", sent.elapsed());
    let status = status.expect("the server exits after the signal");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn sigterm_stops_with_status_zero() {
    stops_on("TERM");
}

#[test]
fn sigint_stops_with_status_zero() {
    stops_on("INT");
}

/// The reply of the slow upstream: the query echoed as a NOERROR response.
fn echo(query: &[u8]) -> Option<Vec<u8>> {
    let mut reply = Message::from_vec(query).ok()?;
    reply.set_message_type(hickory_proto::op::MessageType::Response);
    reply.to_vec().ok()
}

/// An upstream on loopback, UDP and TCP on one port, that answers each query after
/// `delay` (NOERROR, no records). The forwarder asks over TCP for TCP clients.
fn slow_upstream(delay: Duration) -> std::net::SocketAddr {
    // A port below the ephemeral range, free for both: a kernel-picked UDP port can be
    // one a client's TCP connection holds.
    let port = crate::common::server::free_port();
    let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = std::net::TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        // Bounded: a handful of connections, one query each.
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { return };
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
            if stream.read_exact(&mut query).is_err() {
                continue;
            }
            std::thread::sleep(delay);
            if let Some(reply) = echo(&query) {
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                let _ = stream.write_all(&framed);
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        // Bounded: a handful of queries, then the thread ends with the test process.
        for _ in 0..16 {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                return;
            };
            std::thread::sleep(delay);
            if let Some(reply) = echo(&buf[..n]) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    addr
}

fn in_process_config(upstream: std::net::SocketAddr) -> mesos_dns::config::Config {
    let state = data_path("fake-state.json");
    let mut config = config_from(&format!(
        r#"{{"masters":["144.76.157.37:5050"],"listener":"127.0.0.1","httplistener":"127.0.0.1",
            "statefile":{state:?},"resolvers":["{upstream}"],"timeout":2,"UDPWorkers":2,
            "EnforceRFC952":true,"IPSources":["netinfo","docker","mesos","host"]}}"#
    ))
    .unwrap();
    // Ports the kernel picks: no probing for free ones.
    config.port = 0;
    config.http_port = 0;
    config
}

#[test]
fn in_process_server_replies_to_what_it_holds_then_stops() {
    let upstream = slow_upstream(Duration::from_millis(300));
    let running = mesos_dns::app::start(in_process_config(upstream)).unwrap();
    let dns = running.dns.unwrap();
    let http = running.http.unwrap();

    // Served from the state file over UDP once it is loaded.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let q = query("chronos.marathon.mesos.", RecordType::A);
        client.send_to(&q.to_vec().unwrap(), dns).unwrap();
        let mut buf = [0u8; 1500];
        if let Ok(n) = client.recv(&mut buf) {
            if !Message::from_vec(&buf[..n]).unwrap().answers().is_empty() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the state file was never served");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut h = TcpStream::connect(http).unwrap();
    h.write_all(b"GET /health HTTP/1.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    h.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    // A forwarded query is in flight over TCP (the upstream takes 300 ms) when the
    // server is told to stop: the reply still comes, then every thread ends.
    let mut tcp = TcpStream::connect(dns).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query("example.org.", RecordType::A);
    let bytes = q.to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    tcp.write_all(&framed).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stopper = std::thread::spawn(move || {
        let asked = Instant::now();
        let all = running.shutdown(Duration::from_secs(3));
        (all, asked.elapsed())
    });
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    tcp.read_exact(&mut reply).unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.id(), q.id());
    assert_eq!(
        reply.response_code(),
        hickory_proto::op::ResponseCode::NoError,
        "the upstream's answer, not a failure"
    );
    let (all, took) = stopper.join().unwrap();
    eprintln!("in-process shutdown with a forwarded query in flight: {took:?}");
    assert!(all, "every thread ended");
    // Nothing listens any more.
    assert!(TcpStream::connect(dns).is_err());
}

/// What one query of the load expects.
#[derive(Clone, Copy)]
enum Expect {
    /// An in-domain name with records.
    Served,
    /// A name forwarded to the upstream, which has records for it.
    Forwarded,
}

/// Totals of [`steady_load`].
#[derive(Debug, Default)]
struct LoadTotals {
    sent: usize,
    /// Replies without the records the name has (SERVFAIL, empty, anything else).
    wrong: usize,
    lost: usize,
}

/// Sends `rate` queries a second to `port` until `stop`, half in the domain and half
/// forwarded, from 8 client sockets, and checks every reply; replies still missing 2 s
/// after the end are lost. Bounded by `stop` and by 30 s.
fn steady_load(
    port: u16,
    rate: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> LoadTotals {
    use std::sync::atomic::Ordering;
    let clients: Vec<UdpSocket> = (0..8)
        .map(|_| {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_nonblocking(true).unwrap();
            c
        })
        .collect();
    let names = [
        ("chronos.marathon.mesos.", Expect::Served),
        ("www.example.test.", Expect::Forwarded),
    ];
    let mut expected: Vec<Option<Expect>> = Vec::new();
    let mut totals = LoadTotals::default();
    let started = Instant::now();
    let mut ended: Option<Instant> = None;
    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        if ended.is_none()
            && (stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(30))
        {
            ended = Some(now);
        }
        if ended.is_some_and(|e| now.duration_since(e) > Duration::from_secs(2)) {
            break;
        }
        // Paced: as many queries as the elapsed time allows (ids are the query index).
        let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as usize;
        while ended.is_none() && totals.sent < due && totals.sent < u16::MAX as usize {
            let i = totals.sent;
            let (name, expect) = names[i % 2];
            let mut q = query(name, RecordType::A);
            q.set_id(i as u16);
            let _ = clients[i % clients.len()].send_to(&q.to_vec().unwrap(), ("127.0.0.1", port));
            expected.push(Some(expect));
            totals.sent += 1;
        }
        for client in &clients {
            while let Ok(n) = client.recv(&mut buf) {
                let Ok(reply) = Message::from_vec(&buf[..n]) else {
                    totals.wrong += 1;
                    continue;
                };
                let Some(slot) = expected.get_mut(reply.id() as usize) else {
                    continue;
                };
                if slot.take().is_none() {
                    continue;
                }
                let good = reply.response_code() == hickory_proto::op::ResponseCode::NoError
                    && !reply.answers().is_empty();
                if !good {
                    eprintln!(
                        "wrong reply {} at {:?}",
                        reply.response_code(),
                        started.elapsed()
                    );
                    totals.wrong += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    totals.lost = expected.iter().filter(|e| e.is_some()).count();
    totals
}

/// The upgrade without a gap (docs/deploy.md): a new instance started on the same DNS
/// port under load takes no query before it can answer (its state appears a second
/// later), then the old one is stopped: no wrong answer, in the domain or forwarded, and
/// at most a handful of datagrams lost.
#[test]
fn a_new_instance_takes_over_a_shared_port_without_a_wrong_answer() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let upstream = common::upstream::Knot::start();
    let port = common::server::free_port();
    let extra = format!(
        r#",{SETUP_R},"externalon":true,"resolvers":["127.0.0.1:{}"],"timeout":2"#,
        upstream.port
    );
    let state = data_path("fake-state.json");
    let mut old = Server::spawn_on_process(port, Some(&state), &extra);
    old.wait_ready();

    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || steady_load(port, 2000, stop))
    };
    std::thread::sleep(Duration::from_millis(500));
    // The new instance joins the port before it has any state to answer from.
    let new = Server::spawn_on_process(port, None, &extra);
    std::thread::sleep(Duration::from_millis(1000));
    std::fs::copy(&state, new.dir.join("state.json")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while new.get("/ready").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the new instance never became ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    old.signal("TERM");
    let status = old
        .wait_exit(Duration::from_secs(5))
        .expect("the old one exits");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let totals = load.join().unwrap();
    eprintln!("takeover under load: {totals:?}");
    assert!(totals.sent > 3000, "{totals:?}");
    assert_eq!(totals.wrong, 0, "{totals:?}");
    assert!(totals.lost <= 5, "{totals:?}");
    let warned = new.log();
    assert_eq!(
        warned.matches("already served by another process").count(),
        1,
        "{warned}"
    );
    assert!(!old.log().contains("already served by another process"));
    // The new instance answers alone now.
    assert!(
        !new.udp(&query("chronos.marathon.mesos.", RecordType::A))
            .answers()
            .is_empty()
    );
}
