//! A small HTTP server that plays a Mesos master on loopback: it serves a state document
//! (or misbehaves) as the test says.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
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
    stop: Arc<AtomicBool>,
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl FakeMaster {
    pub fn start(behaviour: Behaviour) -> FakeMaster {
        let port = super::server::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, r, s) = (behaviour.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
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
            }
        });
        FakeMaster {
            port,
            behaviour,
            requests,
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
