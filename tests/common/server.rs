//! Starts the real `mesos-dns` binary on loopback ports and talks DNS to it.

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A port free for both UDP and TCP on 127.0.0.1, never handed out twice by this process.
/// Drawn below the kernel's ephemeral range (32768 and up), so that no client socket
/// bound to port 0 can take it between this check and the server's bind.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let salt = std::process::id() as usize;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10_000 + ((n * 7919 + salt * 104_729) % 22_000) as u16;
        if UdpSocket::bind(("127.0.0.1", port)).is_err()
            || TcpListener::bind(("127.0.0.1", port)).is_err()
        {
            continue;
        }
        let mut ports = PORTS.lock().unwrap();
        if ports.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// A fresh directory under the system temp dir, removed by [`Server`]'s drop.
pub fn temp_dir() -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mesos-dns-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How a test server runs: in this process through `app::start` (the default: no
/// process to spawn, on the ports its config names), or as the real binary, for tests
/// whose point is the process (signals it gets, its log, `kill -9`, `SIGSTOP`).
enum Process {
    Child(Child),
    InProcess(Option<mesos_dns::app::Running>),
}

pub struct Server {
    process: Process,
    pub port: u16,
    pub http_port: u16,
    pub dir: PathBuf,
    pub host: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.process {
            Process::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::InProcess(running) => {
                if let Some(running) = running.take() {
                    running.shutdown(Duration::from_secs(3));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Setup R of the spec (§9.1), as config keys.
pub const SETUP_R: &str = r#""masters":["144.76.157.37:5050"],"EnforceRFC952":true,"RecurseOn":false,
    "IPSources":["netinfo","docker","mesos","host"],"SOAMname":"ns1.mesos","SOARname":"root.ns1.mesos""#;

impl Server {
    /// Starts the server on `state` (copied into its own directory) with the given extra
    /// config keys (a JSON fragment starting with a comma, or empty), and waits until it
    /// answers from a loaded snapshot.
    pub fn start(state: &Path, extra: &str) -> Server {
        let s = Server::spawn(Some(state), extra, "127.0.0.1");
        s.wait_ready();
        s
    }

    /// [`Server::start`] as the real binary, in a process of its own.
    pub fn start_process(state: &Path, extra: &str) -> Server {
        let s = Server::spawn_process(Some(state), extra, "127.0.0.1");
        s.wait_ready();
        s
    }

    /// Starts a server that asks masters (or ZooKeeper) instead of reading a file:
    /// `source` holds the config keys for that (e.g. `"masters":["127.0.0.1:5050"]`).
    pub fn spawn_with_source(source: &str, extra: &str) -> Server {
        Server::spawn_config(None, source, extra, "127.0.0.1", false)
    }

    /// [`Server::spawn_with_source`] as the real binary.
    pub fn spawn_with_source_process(source: &str, extra: &str) -> Server {
        Server::spawn_config(None, source, extra, "127.0.0.1", true)
    }

    /// Starts without waiting; `state` may be absent (the file is then missing).
    pub fn spawn(state: Option<&Path>, extra: &str, listener: &'static str) -> Server {
        Server::spawn_config(state, r#""StateFile":"state.json""#, extra, listener, false)
    }

    /// [`Server::spawn`] as the real binary.
    pub fn spawn_process(state: Option<&Path>, extra: &str, listener: &'static str) -> Server {
        Server::spawn_config(state, r#""StateFile":"state.json""#, extra, listener, true)
    }

    /// Starts on DNS port `port` (which another server may share) without waiting; its
    /// state file is `state.json` in its directory, if `state` gives one.
    pub fn spawn_on(port: u16, state: Option<&Path>, extra: &str) -> Server {
        let source = r#""StateFile":"state.json""#;
        Server::spawn_config_on(state, source, extra, "127.0.0.1", port, false)
    }

    /// [`Server::spawn_on`] as the real binary.
    pub fn spawn_on_process(port: u16, state: Option<&Path>, extra: &str) -> Server {
        let source = r#""StateFile":"state.json""#;
        Server::spawn_config_on(state, source, extra, "127.0.0.1", port, true)
    }

    /// [`Server::spawn_with_source_process`] on DNS port `port`.
    pub fn with_source_on_process(port: u16, source: &str, extra: &str) -> Server {
        Server::spawn_config_on(None, source, extra, "127.0.0.1", port, true)
    }

    /// A secondary of the primaries `primaries` (`"127.0.0.1:port"` each) on DNS port
    /// `port`, not waited for.
    pub fn secondary_on(port: u16, primaries: &[String], extra: &str) -> Server {
        let source = format!(r#""Primaries":{}"#, serde_json::json!(primaries));
        Server::spawn_config_on(None, &source, extra, "127.0.0.1", port, false)
    }

    /// [`Server::secondary_on`] as the real binary.
    pub fn secondary_on_process(port: u16, primaries: &[String], extra: &str) -> Server {
        let source = format!(r#""Primaries":{}"#, serde_json::json!(primaries));
        Server::spawn_config_on(None, &source, extra, "127.0.0.1", port, true)
    }

    fn spawn_config(
        state: Option<&Path>,
        source: &str,
        extra: &str,
        listener: &'static str,
        process: bool,
    ) -> Server {
        Server::spawn_config_on(state, source, extra, listener, free_port(), process)
    }

    fn spawn_config_on(
        state: Option<&Path>,
        source: &str,
        extra: &str,
        listener: &'static str,
        port: u16,
        process: bool,
    ) -> Server {
        let dir = temp_dir();
        if let Some(state) = state {
            std::fs::copy(state, dir.join("state.json")).unwrap();
        }
        let http_port = free_port();
        let config = format!(
            r#"{{{source},"listener":"{listener}","port":{port},"externalon":false,
                "httpListener":"127.0.0.1","httpPort":{http_port},"refreshSeconds":1,"UDPWorkers":2{extra}}}"#
        );
        std::fs::write(dir.join("config.json"), config).unwrap();
        let process = if process {
            // The log, for a failing test to show (`Server::log`).
            let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
            let mut command = Command::new(env!("CARGO_BIN_EXE_mesos-dns"));
            // Debugging a test: its processes log everything.
            if std::env::var_os("MESOS_DNS_TEST_VERBOSE").is_some() {
                command.args(["-v", "2"]);
            }
            let child = command
                .arg("-config")
                .arg(dir.join("config.json"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            Process::Child(child)
        } else {
            let path = dir.join("config.json").display().to_string();
            let config =
                mesos_dns::config::Config::load(&path, &mesos_dns::config::Environment::system())
                    .unwrap();
            Process::InProcess(Some(mesos_dns::app::start(config).unwrap()))
        };
        let host = if listener == "0.0.0.0" {
            "127.0.0.1"
        } else {
            listener
        };
        Server {
            process,
            port,
            http_port,
            dir,
            host,
        }
    }

    /// Polls until `leader.<domain>` (or anything in the zone) is answered from data.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(r) = self.try_udp(
                &query("leader.mesos.", RecordType::A),
                Duration::from_millis(200),
            ) {
                if r.response_code() != hickory_proto::op::ResponseCode::ServFail {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server on port {} never became ready", self.port);
    }

    pub fn try_udp_raw(&self, packet: &[u8], timeout: Duration) -> Option<Vec<u8>> {
        let socket = UdpSocket::bind((self.host, 0)).unwrap();
        socket.connect((self.host, self.port)).unwrap();
        socket.set_read_timeout(Some(timeout)).unwrap();
        socket.send(packet).ok()?;
        let mut buf = vec![0u8; 65535];
        let n = socket.recv(&mut buf).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    pub fn try_udp(&self, msg: &Message, timeout: Duration) -> Option<Message> {
        let bytes = self.try_udp_raw(&msg.to_vec().unwrap(), timeout)?;
        Some(Message::from_vec(&bytes).unwrap())
    }

    /// One UDP exchange (three tries, to ride out a lost datagram).
    pub fn udp(&self, msg: &Message) -> Message {
        for _ in 0..3 {
            if let Some(r) = self.try_udp(msg, Duration::from_secs(2)) {
                assert_eq!(r.id(), msg.id());
                return r;
            }
        }
        panic!("no UDP answer");
    }

    /// The raw bytes of one UDP answer.
    pub fn udp_bytes(&self, msg: &Message) -> Vec<u8> {
        for _ in 0..3 {
            if let Some(r) = self.try_udp_raw(&msg.to_vec().unwrap(), Duration::from_secs(2)) {
                return r;
            }
        }
        panic!("no UDP answer");
    }

    /// Sends every message on one TCP connection at once (pipelined), reads the answers.
    pub fn tcp(&self, msgs: &[Message]) -> Vec<Message> {
        let mut stream = TcpStream::connect((self.host, self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut out = Vec::new();
        for m in msgs {
            let bytes = m.to_vec().unwrap();
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        stream.write_all(&out).unwrap();
        msgs.iter()
            .map(|_| {
                let mut len = [0u8; 2];
                stream.read_exact(&mut len).unwrap();
                let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
                stream.read_exact(&mut body).unwrap();
                Message::from_vec(&body).unwrap()
            })
            .collect()
    }
}

/// A reply to a raw HTTP request: status and body.
pub struct HttpReply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl HttpReply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        match &self.process {
            Process::Child(child) => child.id(),
            Process::InProcess(_) => {
                panic!("an in-process server has no pid: use a _process constructor")
            }
        }
    }

    /// Sends a signal (`USR1`, `HUP`, ...) to the server process.
    /// Waits for the server to exit, at most `within`; its exit status, if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let Process::Child(child) = &mut self.process else {
            panic!("an in-process server does not exit: use a _process constructor");
        };
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    pub fn signal(&self, name: &str) {
        if let Process::InProcess(running) = &self.process {
            // What the binary's signal thread does with them.
            let event = match name {
                "USR1" => mesos_dns::control::ControlEvent::Refresh,
                "HUP" => mesos_dns::control::ControlEvent::Reload,
                _ => panic!("SIG{name} needs a process: use a _process constructor"),
            };
            let control = running.as_ref().expect("running").control();
            control.send(event).unwrap();
            return;
        }
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Sends `request` as is (a whole HTTP/1.1 request) and reads the reply to the end.
    pub fn http_raw(&self, request: &[u8]) -> HttpReply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or("")
            .to_string();
        HttpReply {
            status,
            content_type,
            body: body.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> HttpReply {
        self.http_raw(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    /// The value of an unlabelled metric in `/metrics` (the test fails when it is absent).
    /// What the server logged so far.
    pub fn log(&self) -> String {
        assert!(
            matches!(self.process, Process::Child(_)),
            "an in-process server logs with the test process: use a _process constructor"
        );
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// The value of a metric (its name with labels, as `/metrics` writes it), or `None`
    /// while the HTTP server is not up yet or the metric is absent: for waiting on.
    pub fn try_metric(&self, name: &str) -> Option<f64> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))?
            .trim()
            .parse()
            .ok()
    }

    /// The value of a metric that must be there. Asked up to three times, 200 ms apart:
    /// a loaded machine can fail one HTTP exchange, and a process answers DNS a moment
    /// before its HTTP listener is bound.
    pub fn metric(&self, name: &str) -> f64 {
        for _ in 0..2 {
            if let Some(v) = self.try_metric(name) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.try_metric(name)
            .unwrap_or_else(|| panic!("{name} is not in /metrics"))
    }
}

/// A query with RD set and a random-ish id.
pub fn query(name: &str, rtype: RecordType) -> Message {
    static ID: AtomicUsize = AtomicUsize::new(1);
    let mut m = Message::new();
    m.set_id(ID.fetch_add(1, Ordering::Relaxed) as u16);
    m.set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// The same with an EDNS OPT advertising `size`.
pub fn query_edns(name: &str, rtype: RecordType, size: u16) -> Message {
    let mut m = query(name, rtype);
    let mut edns = Edns::new();
    edns.set_max_payload(size);
    m.set_edns(edns);
    m
}
