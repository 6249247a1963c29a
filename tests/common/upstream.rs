//! Upstream resolvers for forwarding tests, all on loopback: Knot DNS serving a test zone,
//! a silent server, and a scripted server that sends spoofed replies first.

use super::server::{free_port, temp_dir};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Knot {
    child: Child,
    pub port: u16,
    /// Its files (`knot.log` for a secondary).
    pub dir: PathBuf,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The zone `example.test.` the tests forward to.
pub fn example_zone() -> String {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 300\n\
         @ SOA ns.example.test. admin.example.test. 1 60 60 600 30\n\
         @ NS ns.example.test.\nns A 127.0.0.1\n\
         www A 192.0.2.1\nwww AAAA 2001:db8::80\n\
         short 2 A 192.0.2.2\n",
    );
    for i in 0..100 {
        z.push_str(&format!("big A 198.51.100.{i}\n"));
    }
    z
}

impl Knot {
    /// Starts knotd serving `example.test.` (and a zone that fails to load,
    /// `broken.test.`, which it answers with SERVFAIL).
    pub fn start() -> Knot {
        let dir = temp_dir();
        let port = free_port();
        std::fs::write(dir.join("example.zone"), example_zone()).unwrap();
        std::fs::write(dir.join("broken.zone"), "this is not a zone\n").unwrap();
        let d = dir.display();
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n    rundir: {d}\n\
             database:\n    storage: {d}\nlog:\n  - target: stderr\n    any: critical\n\
             zone:\n  - domain: example.test\n    file: {d}/example.zone\n    storage: {d}\n\
             \x20 - domain: broken.test\n    file: {d}/broken.zone\n    storage: {d}\n"
        );
        let knot = Knot::spawn(dir, port, &conf);
        knot.wait_ready();
        knot
    }

    /// knotd on `port`, secondary of `mesos.` from `primary`, transferring to loopback and
    /// taking NOTIFY from it; with `secret`, the `xfr` key signs its requests and the
    /// NOTIFYs it takes.
    pub fn secondary(primary: u16, port: u16, secret: Option<&str>) -> Knot {
        Knot::secondary_of(&[primary], port, secret)
    }

    /// knotd on `port`, secondary of `mesos.` from any of `primaries` (in order).
    pub fn secondary_of(primaries: &[u16], port: u16, secret: Option<&str>) -> Knot {
        let dir = temp_dir();
        let d = dir.display();
        let (key, remote_key, notify_key) = match secret {
            Some(s) => (
                format!("key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: {s}\n"),
                "    key: xfr\n",
                "    key: xfr\n",
            ),
            None => (String::new(), "", ""),
        };
        let remotes: String = primaries
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  - id: primary{i}\n    address: 127.0.0.1@{p}\n{remote_key}"))
            .collect();
        let masters = (0..primaries.len())
            .map(|i| format!("primary{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n    rundir: {d}\n\
             database:\n    storage: {d}\nlog:\n  - target: {d}/knot.log\n    any: info\n{key}\
             remote:\n{remotes}\
             acl:\n  - id: local_transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
             \x20 - id: local_notify\n    address: 127.0.0.0/8\n{notify_key}    action: notify\n\
             zone:\n  - domain: mesos\n    master: [{masters}]\n    acl: [local_transfer, local_notify]\n    storage: {d}\n    zonefile-sync: -1\n"
        );
        Knot::spawn(dir, port, &conf)
    }

    /// knotd with configuration `conf`, written into `dir`, listening on `port`.
    fn spawn(dir: PathBuf, port: u16, conf: &str) -> Knot {
        std::fs::write(dir.join("knot.conf"), conf).unwrap();
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("knotd (Debian package knot) is needed by the forwarding and transfer tests");
        Knot { child, port, dir }
    }

    fn wait_ready(&self) {
        let query = super::server::query("www.example.test.", hickory_proto::rr::RecordType::A)
            .to_vec()
            .unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            let _ = socket.send_to(&query, ("127.0.0.1", self.port));
            if socket.recv(&mut buf).is_ok() {
                return;
            }
        }
        panic!("knotd on port {} did not come up", self.port);
    }
}

/// A UDP server that reads queries and never answers.
pub struct Silent {
    pub port: u16,
    _socket: UdpSocket,
}

impl Silent {
    pub fn start() -> Silent {
        let port = free_port();
        let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        Silent {
            port,
            _socket: socket,
        }
    }
}

/// Answers every query for an A record with 1.1.1.1, but first sends a reply with a
/// wrong ID, then one from another port, both claiming 6.6.6.6.
pub struct Spoofing {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Spoofing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn a_reply(query: &[u8], id: [u8; 2], ip: [u8; 4]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[0..2].copy_from_slice(&id);
    r[2] |= 0x80;
    r[3] = 0x80;
    r[6..8].copy_from_slice(&[0, 1]);
    r[10..12].copy_from_slice(&[0, 0]);
    r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    r.extend_from_slice(&ip);
    r
}

impl Spoofing {
    pub fn start() -> Spoofing {
        let port = free_port();
        let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                // dnsperf-style queries without EDNS: header + question only.
                let query = &buf[..n];
                let wrong_id = [query[0] ^ 0xFF, query[1]];
                let _ = socket.send_to(&a_reply(query, wrong_id, [6, 6, 6, 6]), from);
                let _ = other.send_to(&a_reply(query, [query[0], query[1]], [6, 6, 6, 6]), from);
                std::thread::sleep(Duration::from_millis(20));
                let _ = socket.send_to(&a_reply(query, [query[0], query[1]], [1, 1, 1, 1]), from);
            }
        });
        Spoofing { port, stop }
    }
}
