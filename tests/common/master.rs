//! A small HTTP server that plays a Mesos master on loopback: it serves a state document
//! (or misbehaves) as the test says.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body on `/master/state`.
    State(Vec<u8>),
    /// 404 on `/master/state`, the body on `/master/state.json` (Mesos before 1.x).
    LegacyState(Vec<u8>),
    /// This status code with a small body.
    Status(u16),
}

pub struct FakeMaster {
    pub port: u16,
    behaviour: Arc<Mutex<Behaviour>>,
    pub requests: Arc<AtomicUsize>,
    /// The Authorization header of the last request ("" when none).
    pub authorization: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl FakeMaster {
    pub fn start(behaviour: Behaviour) -> FakeMaster {
        FakeMaster::start_with(behaviour, None)
    }

    /// The same over TLS with this server configuration.
    pub fn start_with(behaviour: Behaviour, tls: Option<Arc<rustls::ServerConfig>>) -> FakeMaster {
        let port = super::server::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let requests = Arc::new(AtomicUsize::new(0));
        let authorization = Arc::new(Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, r, a, s) = (
            behaviour.clone(),
            requests.clone(),
            authorization.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                match &tls {
                    None => serve(stream, &b, &r, &a),
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        serve(rustls::StreamOwned::new(conn, stream), &b, &r, &a);
                    }
                }
            }
        });
        FakeMaster {
            port,
            behaviour,
            requests,
            authorization,
            stop,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Answers one request on `stream` as `behaviour` says.
fn serve<S: Read + Write>(mut stream: S, b: &Mutex<Behaviour>, r: &AtomicUsize, a: &Mutex<String>) {
    let mut head = Vec::new();
    {
        let mut reader = BufReader::new(&mut stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            head.push(line.trim_end().to_string());
        }
    }
    let path = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let auth = head
        .iter()
        .find_map(|h| {
            h.strip_prefix("authorization: ")
                .or_else(|| h.strip_prefix("Authorization: "))
        })
        .unwrap_or("")
        .to_string();
    *a.lock().unwrap() = auth;
    r.fetch_add(1, Ordering::Relaxed);
    let behaviour = b.lock().unwrap().clone();
    let (status, body) = match (&behaviour, path.as_str()) {
        (Behaviour::State(body), "/master/state") => (200, body.clone()),
        (Behaviour::LegacyState(body), "/master/state.json") => (200, body.clone()),
        (Behaviour::Status(code), _) => (*code, b"oops".to_vec()),
        _ => (404, b"no such path".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

/// The fixture state with its `leader` pointing at `leader` (an `ip:port` on loopback),
/// so that following the leader never leaves the machine.
pub fn fixture_with_leader(leader: &str) -> Vec<u8> {
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(super::data_path("fake-state.json")).unwrap())
            .unwrap();
    state["leader"] = serde_json::Value::String(format!("master@{leader}"));
    serde_json::to_vec(&state).unwrap()
}

/// The same, with the first marathon task renamed, to tell two masters' states apart.
pub fn marked_fixture(leader: &str, task_name: &str) -> Vec<u8> {
    let mut state: serde_json::Value =
        serde_json::from_slice(&fixture_with_leader(leader)).unwrap();
    state["frameworks"][3]["tasks"][6]["name"] = serde_json::Value::String(task_name.into());
    serde_json::to_vec(&state).unwrap()
}
