//! Graceful shutdown: SIGTERM and SIGINT end the binary with status 0 promptly, and an
//! in-process server (on ports the kernel picks) stops every thread, replying first to
//! the queries it already holds, forwarded ones included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

mod common;
use common::server::{SETUP_R, Server, query};
use common::{config_from, data_path};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn stops_on(signal: &str) {
    let mut s = Server::start(&data_path("fake-state.json"), &format!(",{SETUP_R}"));
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
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
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
