//! A small HTTP server that plays a Mesos master on loopback: it serves a state document
//! (or misbehaves) as the test says, and can play a DC/OS IAM login endpoint that checks
//! the RS256 signature of login tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the IAM login endpoint lives on the fake master.
pub const LOGIN_PATH: &str = "/acs/api/v1/auth/login";

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body on `/master/state`.
    State(Vec<u8>),
    /// 404 on `/master/state`, the body on `/master/state.json` (Mesos before 1.x).
    LegacyState(Vec<u8>),
    /// This status code with a small body.
    Status(u16),
    /// This body trickled out in ten pieces over about four seconds.
    Slow(Vec<u8>),
    /// The full length announced, half of this body sent, then the connection closed.
    Truncated(Vec<u8>),
    /// 307 to this `Location` (what a non-leading master answers).
    Redirect(String),
    /// This body gzip-compressed when the request accepts gzip; 406 when it does not.
    Gzip(Vec<u8>),
}

/// How `POST /api/v1` (the operator API) answers.
#[derive(Clone, Debug, Default)]
pub enum Api {
    /// 404, as a master before 1.0 (or anything that is not a master) answers.
    #[default]
    Missing,
    /// 200 and a RecordIO stream that starts with this `SUBSCRIBED` event.
    Stream(serde_json::Value),
    /// 200, this `SUBSCRIBED` event's full length announced and its first half sent,
    /// then the connection closed.
    CutShort(serde_json::Value),
    /// This status code.
    Status(u16),
    /// 307 to this `Location`.
    Redirect(String),
}

/// What a test sends down the open streams.
#[derive(Clone, Debug)]
enum StreamOp {
    /// Bytes to write (records, or anything else).
    Bytes(Vec<u8>),
    /// Close the connection at once (no final chunk).
    Drop,
}

/// What the login endpoint accepts and what it has handed out.
struct Iam {
    /// The service account's public key (PKCS#1 RSAPublicKey DER).
    public_key: Vec<u8>,
    uid: String,
    token_lifetime: Duration,
    /// Tokens handed out and not revoked; state requests must carry one of them.
    valid_tokens: Vec<String>,
    logins: usize,
    /// Login attempts refused (bad signature, wrong uid, expired).
    refused: usize,
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Option<Behaviour>>,
    api: Mutex<Api>,
    /// One sender per open stream.
    streams: Mutex<Vec<std::sync::mpsc::Sender<StreamOp>>>,
    /// Subscriptions answered with a stream, and `/api/v1` requests of any outcome.
    subscriptions: AtomicUsize,
    api_requests: AtomicUsize,
    /// Heartbeat interval in milliseconds; 0 = the master is silent (sends none).
    heartbeat_ms: std::sync::atomic::AtomicU64,
    requests: AtomicUsize,
    authorization: Mutex<String>,
    iam: Mutex<Option<Iam>>,
    stop: AtomicBool,
}

pub struct FakeMaster {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
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
        let shared = Arc::new(Shared::default());
        *shared.behaviour.lock().unwrap() = Some(behaviour);
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                // One thread per connection, so a slow answer does not hold up the next.
                let (s, tls) = (s.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve(stream, &s),
                    Some(config) => {
                        if let Ok(conn) = rustls::ServerConnection::new(config) {
                            serve(rustls::StreamOwned::new(conn, stream), &s);
                        }
                    }
                });
            }
        });
        FakeMaster { port, shared }
    }

    /// A master whose state names itself as the leader (so following the leader stays
    /// here): the fixture, with its first marathon task renamed `task` when given.
    pub fn leading(task: Option<&str>) -> FakeMaster {
        let master = FakeMaster::start(Behaviour::Status(500));
        let state = match task {
            Some(task) => marked_fixture(&master.address(), task),
            None => fixture_with_leader(&master.address()),
        };
        master.set(Behaviour::State(state));
        master
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = Some(behaviour);
    }

    /// How the operator API answers from now on (open streams stay open).
    pub fn set_api(&self, api: Api) {
        *self.shared.api.lock().unwrap() = api;
    }

    /// Streams `SUBSCRIBED` of this `/master/state` document (its frameworks, agents
    /// and tasks), with heartbeats every `heartbeat` seconds.
    pub fn stream_state(&self, state: &serde_json::Value, heartbeat: f64) {
        self.set_heartbeat(heartbeat);
        self.set_api(Api::Stream(super::v1::subscribed(state, heartbeat)));
    }

    /// Heartbeats every `seconds` from now on; 0 makes the master fall silent.
    pub fn set_heartbeat(&self, seconds: f64) {
        self.shared
            .heartbeat_ms
            .store((seconds * 1000.0) as u64, Ordering::Relaxed);
    }

    /// Sends one event (framed as a record) down every open stream.
    pub fn send_event(&self, event: &serde_json::Value) {
        self.send_raw(&super::v1::record(event));
    }

    /// Sends these bytes, as they are, down every open stream.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.each_stream(StreamOp::Bytes(bytes.to_vec()));
    }

    /// Closes every open stream abruptly.
    pub fn drop_streams(&self) {
        self.each_stream(StreamOp::Drop);
    }

    fn each_stream(&self, op: StreamOp) {
        self.shared
            .streams
            .lock()
            .unwrap()
            .retain(|s| s.send(op.clone()).is_ok());
    }

    /// Subscriptions answered with a stream so far.
    pub fn subscriptions(&self) -> usize {
        self.shared.subscriptions.load(Ordering::Relaxed)
    }

    /// `/api/v1` requests so far, whatever the answer.
    pub fn api_requests(&self) -> usize {
        self.shared.api_requests.load(Ordering::Relaxed)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// State requests seen so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The Authorization header of the last state request ("" when none).
    pub fn authorization(&self) -> String {
        self.shared.authorization.lock().unwrap().clone()
    }

    /// From now on state requests need `Authorization: token=T` with a T from a login at
    /// [`LOGIN_PATH`] signed by the key whose public half is `public_key`.
    pub fn require_iam(&self, public_key: &[u8], uid: &str, token_lifetime: Duration) {
        *self.shared.iam.lock().unwrap() = Some(Iam {
            public_key: public_key.to_vec(),
            uid: uid.into(),
            token_lifetime,
            valid_tokens: Vec::new(),
            logins: 0,
            refused: 0,
        });
    }

    /// (successful logins, refused logins).
    pub fn iam_logins(&self) -> (usize, usize) {
        let iam = self.shared.iam.lock().unwrap();
        iam.as_ref().map_or((0, 0), |i| (i.logins, i.refused))
    }

    /// Every token handed out so far stops working.
    pub fn revoke_tokens(&self) {
        if let Some(iam) = self.shared.iam.lock().unwrap().as_mut() {
            iam.valid_tokens.clear();
        }
    }
}

/// Answers one request on `stream`.
fn serve<S: Read + Write>(mut stream: S, shared: &Shared) {
    let mut head = Vec::new();
    let mut body = Vec::new();
    {
        let mut reader = BufReader::new(&mut stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let length = header(&head, "content-length")
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0)
            .min(1 << 20);
        let _ = reader.take(length).read_to_end(&mut body);
    }
    let path = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    if path == LOGIN_PATH {
        let (status, reply) = login(shared, &body);
        return respond(&mut stream, status, &[], &reply);
    }
    let auth = header(&head, "authorization").unwrap_or("").to_string();
    *shared.authorization.lock().unwrap() = auth.clone();
    if path == "/api/v1" {
        shared.api_requests.fetch_add(1, Ordering::Relaxed);
    } else {
        shared.requests.fetch_add(1, Ordering::Relaxed);
    }
    let presented = auth.strip_prefix("token=").unwrap_or("");
    let refused = shared
        .iam
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|iam| !iam.valid_tokens.iter().any(|t| t == presented));
    if refused {
        return respond(&mut stream, 401, &[], b"token required");
    }
    if path == "/api/v1" {
        return operator_api(stream, shared, &head, &body);
    }
    let behaviour = shared.behaviour.lock().unwrap().clone();
    match (behaviour, path.as_str()) {
        (Some(Behaviour::State(body)), "/master/state") => respond(&mut stream, 200, &[], &body),
        (Some(Behaviour::LegacyState(body)), "/master/state.json") => {
            respond(&mut stream, 200, &[], &body)
        }
        (Some(Behaviour::Status(code)), _) => respond(&mut stream, code, &[], b"oops"),
        (Some(Behaviour::Slow(body)), _) => {
            let _ = stream.write_all(head_of(200, &[], body.len()).as_bytes());
            for piece in body.chunks(body.len().div_ceil(10).max(1)) {
                if stream
                    .write_all(piece)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(400));
            }
        }
        (Some(Behaviour::Truncated(body)), _) => {
            let _ = stream.write_all(head_of(200, &[], body.len()).as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
            let _ = stream.flush();
        }
        (Some(Behaviour::Gzip(body)), "/master/state") => {
            let accepts = header(&head, "accept-encoding").is_some_and(|e| e.contains("gzip"));
            if !accepts {
                return respond(&mut stream, 406, &[], b"gzip only");
            }
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&body).unwrap();
            let compressed = encoder.finish().unwrap();
            respond(
                &mut stream,
                200,
                &[("Content-Encoding", "gzip")],
                &compressed,
            )
        }
        (Some(Behaviour::Redirect(location)), _) => {
            respond(&mut stream, 307, &[("Location", &location)], b"")
        }
        _ => respond(&mut stream, 404, &[], b"no such path"),
    }
}

/// `POST /api/v1`: checks the request as a master does, then answers as the test set.
fn operator_api<S: Read + Write>(mut stream: S, shared: &Shared, head: &[String], body: &[u8]) {
    let method = head
        .first()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    let api = shared.api.lock().unwrap().clone();
    let subscribing = match &api {
        Api::Missing => return respond(&mut stream, 404, &[], b"no such path"),
        Api::Status(code) => return respond(&mut stream, *code, &[], b"not now"),
        Api::Redirect(location) => {
            return respond(&mut stream, 307, &[("Location", location)], b"");
        }
        Api::Stream(subscribed) => (subscribed.clone(), false),
        Api::CutShort(subscribed) => (subscribed.clone(), true),
    };
    let (subscribing, cut_short) = subscribing;
    if method != "POST" {
        return respond(&mut stream, 405, &[("Allow", "POST")], b"");
    }
    // The master compares Content-Type as an exact string.
    if header(head, "content-type") != Some("application/json") {
        return respond(&mut stream, 415, &[], b"unsupported media type");
    }
    let call: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if call["type"] != "SUBSCRIBE" {
        return respond(&mut stream, 400, &[], b"not a SUBSCRIBE call");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    shared.streams.lock().unwrap().push(tx);
    shared.subscriptions.fetch_add(1, Ordering::Relaxed);
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut pending = super::v1::record(&subscribing);
    if cut_short {
        pending.truncate(pending.len() / 2);
    } else {
        pending.extend(super::v1::record(&serde_json::json!({"type":"HEARTBEAT"})));
    }
    // Chunk sizes from a small generator: records split anywhere, several per chunk.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ shared.subscriptions.load(Ordering::Relaxed) as u64;
    let mut last_heartbeat = std::time::Instant::now();
    loop {
        while !pending.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let size = (1 + seed % 700) as usize;
            let piece: Vec<u8> = pending.drain(..size.min(pending.len())).collect();
            let chunk = [
                format!("{:x}\r\n", piece.len()).into_bytes(),
                piece,
                b"\r\n".to_vec(),
            ]
            .concat();
            if stream
                .write_all(&chunk)
                .and_then(|_| stream.flush())
                .is_err()
            {
                return;
            }
        }
        if cut_short {
            return;
        }
        let heartbeat = shared.heartbeat_ms.load(Ordering::Relaxed);
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(StreamOp::Bytes(bytes)) => pending.extend(bytes),
            Ok(StreamOp::Drop) => return,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
        // Whatever else is queued goes out with it, so that records share chunks.
        while let Ok(op) = rx.try_recv() {
            match op {
                StreamOp::Bytes(bytes) => pending.extend(bytes),
                StreamOp::Drop => return,
            }
        }
        if heartbeat > 0 && last_heartbeat.elapsed() >= Duration::from_millis(heartbeat) {
            last_heartbeat = std::time::Instant::now();
            pending.extend(super::v1::record(&serde_json::json!({"type":"HEARTBEAT"})));
        }
    }
}

/// Checks a login request `{"uid", "token"}`: an RS256 JWT over `uid` and a future `exp`,
/// signed by the account's key. Hands out a token (itself JWT-shaped, with an `exp`).
fn login(shared: &Shared, body: &[u8]) -> (u16, Vec<u8>) {
    let mut guard = shared.iam.lock().unwrap();
    let Some(iam) = guard.as_mut() else {
        return (404, b"no IAM here".to_vec());
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let jwt = request["token"].as_str().unwrap_or("");
    let verified = (|| {
        let (signed, signature) = jwt.rsplit_once('.')?;
        let (header, claims) = signed.split_once('.')?;
        let header: serde_json::Value =
            serde_json::from_slice(&BASE64URL.decode(header.trim_end_matches('=')).ok()?).ok()?;
        let claims: serde_json::Value =
            serde_json::from_slice(&BASE64URL.decode(claims.trim_end_matches('=')).ok()?).ok()?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &iam.public_key)
            .verify(
                signed.as_bytes(),
                &BASE64URL.decode(signature.trim_end_matches('=')).ok()?,
            )
            .ok()?;
        (header["alg"] == "RS256"
            && claims["uid"] == iam.uid.as_str()
            && request["uid"] == iam.uid.as_str()
            && claims["exp"].as_u64()? > now)
            .then_some(())
    })();
    if verified.is_none() {
        iam.refused += 1;
        return (401, br#"{"code":"ERR_INVALID_SIGNATURE"}"#.to_vec());
    }
    iam.logins += 1;
    let exp = now + iam.token_lifetime.as_secs();
    let token = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.sig{}",
        BASE64URL.encode(format!(r#"{{"uid":"{}","exp":{exp}}}"#, iam.uid).as_bytes()),
        iam.logins
    );
    iam.valid_tokens.push(token.clone());
    (
        200,
        serde_json::json!({ "token": token })
            .to_string()
            .into_bytes(),
    )
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().find_map(|h| {
        let (key, value) = h.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn head_of(status: u16, headers: &[(&str, &str)], length: usize) -> String {
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn respond<S: Write>(stream: &mut S, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let _ = stream.write_all(head_of(status, headers, body.len()).as_bytes());
    let _ = stream.write_all(body);
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
