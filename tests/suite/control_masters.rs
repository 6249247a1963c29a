//! Masters mode against HTTP servers that play Mesos masters on loopback: status codes,
//! the pre-1.x state path, leader following, failover between masters, bad documents.
//! Every state served names a loopback leader, so nothing leaves the machine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::master::{Behaviour, FakeMaster, LOGIN_PATH, fixture_with_leader, marked_fixture};
use common::server::{Server, query};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

fn masters_source(masters: &[&FakeMaster]) -> String {
    let list: Vec<String> = masters
        .iter()
        .map(|m| format!("\"{}\"", m.address()))
        .collect();
    format!(
        r#""masters":[{}],"IPSources":["netinfo","docker","mesos","host"],"stateTimeoutSeconds":2"#,
        list.join(",")
    )
}

fn a_records(s: &Server, name: &str) -> Option<Vec<String>> {
    let r = s.try_udp(&query(name, RecordType::A), Duration::from_millis(500))?;
    (r.response_code() != ResponseCode::ServFail)
        .then(|| r.answers().iter().map(|a| a.data().to_string()).collect())
}

/// Polls until `name` has A records (bounded).
fn wait_for(s: &Server, name: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(a) = a_records(s, name) {
            if !a.is_empty() {
                return a;
            }
        }
        assert!(Instant::now() < deadline, "{name} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_codes_are_checked_and_refreshes_recover() {
    let master = FakeMaster::start(Behaviour::Status(500));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    wait_failures(&s, 0.0, 1.0);
    assert_eq!(
        s.try_udp(
            &query("chronos.marathon.mesos.", RecordType::A),
            Duration::from_secs(1)
        )
        .unwrap()
        .response_code(),
        ResponseCode::ServFail,
        "a 500 is not a state"
    );
    assert_eq!(s.get("/ready").status, 503);
    master.set(Behaviour::State(fixture_with_leader(&master.address())));
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
    // A broken document later keeps the last good records.
    let before = failures(&s);
    master.set(Behaviour::State(b"{\"frameworks\": garbage".to_vec()));
    wait_failures(&s, before, 1.0);
    assert_eq!(
        a_records(&s, "chronos.marathon.mesos.").unwrap(),
        ["1.2.3.11"]
    );
}

#[test]
fn pre_1x_state_path() {
    let master = FakeMaster::start(Behaviour::Status(404));
    master.set(Behaviour::LegacyState(fixture_with_leader(
        &master.address(),
    )));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
}

#[test]
fn gzip_bodies_are_accepted() {
    let master = FakeMaster::start(Behaviour::Status(500));
    master.set(Behaviour::Gzip(fixture_with_leader(&master.address())));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
}

#[test]
fn follows_the_leader_named_in_the_state() {
    let leader = FakeMaster::leading(Some("from-leader"));
    let follower = FakeMaster::start(Behaviour::State(marked_fixture(
        &leader.address(),
        "from-follower",
    )));
    let s = Server::spawn_with_source(&masters_source(&[&follower]), "");
    wait_for(&s, "from-leader.marathon.mesos.");
    assert!(
        a_records(&s, "from-follower.marathon.mesos.")
            .unwrap()
            .is_empty()
    );
    // The leader record and masterN come from the leader's state and the master list.
    let leader_ip = wait_for(&s, "leader.mesos.");
    assert_eq!(leader_ip, ["127.0.0.1"]);
}

#[test]
fn a_dead_master_is_skipped() {
    let dead = FakeMaster::start(Behaviour::Status(503));
    let alive = FakeMaster::leading(None);
    let s = Server::spawn_with_source(&masters_source(&[&dead, &alive]), "");
    assert_eq!(wait_for(&s, "chronos.marathon.mesos."), ["1.2.3.11"]);
    assert!(dead.requests() > 0, "the first master was tried first");
}

/// Refresh failures counted so far.
fn failures(s: &Server) -> f64 {
    s.try_metric("mesos_dns_state_refresh_failures_total")
        .unwrap_or(0.0)
}

/// Waits until `s` has counted `n` more refresh failures than `before` (bounded).
fn wait_failures(s: &Server, before: f64, n: f64) {
    common::eventually(Duration::from_secs(20), "refreshes that failed", || {
        failures(s) >= before + n
    });
}

/// After a couple of refresh attempts the server still has no state: SERVFAIL.
fn assert_no_state_loaded(s: &Server) {
    wait_failures(s, 0.0, 2.0);
    let r = s
        .try_udp(
            &query("chronos.marathon.mesos.", RecordType::A),
            Duration::from_secs(1),
        )
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::ServFail);
}

/// A CA, and a server certificate for 127.0.0.1 signed by it, written as PEM files.
fn test_pki(dir: &std::path::Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(
            &server_key,
            &rcgen::Issuer::from_params(&ca_params, &ca_key),
        )
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other = CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    std::fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    )
    .unwrap();
    std::sync::Arc::new(config)
}

#[test]
fn tls_is_verified_against_the_ca_file() {
    let dir = common::server::temp_dir();
    let tls = test_pki(&dir);
    let master = FakeMaster::start_with(Behaviour::Status(500), Some(tls));
    master.set(Behaviour::State(fixture_with_leader(&master.address())));
    let ca = dir.join("ca.pem");
    let s = Server::spawn_with_source(
        &masters_source(&[&master]),
        &format!(
            r#","MesosHTTPSOn":true,"CACertFile":{:?}"#,
            ca.to_str().unwrap()
        ),
    );
    wait_for(&s, "chronos.marathon.mesos.");

    // Against another CA the master's certificate is refused: no state is loaded.
    let other = dir.join("other-ca.pem");
    let refused = Server::spawn_with_source(
        &masters_source(&[&master]),
        &format!(
            r#","MesosHTTPSOn":true,"CACertFile":{:?}"#,
            other.to_str().unwrap()
        ),
    );
    assert_no_state_loaded(&refused);
    // Without a CA file the system roots are used: still refused (never "no verification").
    let system = Server::spawn_with_source(&masters_source(&[&master]), r#","MesosHTTPSOn":true"#);
    assert_no_state_loaded(&system);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn slow_and_truncated_bodies_move_on_to_the_next_master() {
    let slow = FakeMaster::start(Behaviour::Status(500));
    slow.set(Behaviour::Slow(marked_fixture(
        &slow.address(),
        "from-slow",
    )));
    let truncated = FakeMaster::start(Behaviour::Status(500));
    truncated.set(Behaviour::Truncated(marked_fixture(
        &truncated.address(),
        "from-truncated",
    )));
    let good = FakeMaster::leading(Some("from-good"));
    // stateTimeoutSeconds is 2; the slow master needs about 4 s for its body.
    let s = Server::spawn_with_source(&masters_source(&[&slow, &truncated, &good]), "");
    wait_for(&s, "from-good.marathon.mesos.");
    assert!(slow.requests() > 0 && truncated.requests() > 0);
    for name in [
        "from-slow.marathon.mesos.",
        "from-truncated.marathon.mesos.",
    ] {
        assert_eq!(a_records(&s, name).unwrap(), Vec::<String>::new());
    }
}

#[test]
fn a_slow_master_alone_times_out_and_the_records_stay() {
    let master = FakeMaster::leading(Some("first"));
    let s = Server::spawn_with_source(&masters_source(&[&master]), "");
    let first = wait_for(&s, "first.marathon.mesos.");
    let before = failures(&s);
    master.set(Behaviour::Slow(marked_fixture(&master.address(), "second")));
    // Two timed-out refreshes (2 s each).
    wait_failures(&s, before, 2.0);
    assert_eq!(a_records(&s, "first.marathon.mesos.").unwrap(), first);
    assert!(a_records(&s, "second.marathon.mesos.").unwrap().is_empty());
}

#[test]
fn redirects_to_the_leader_are_followed_with_credentials() {
    let leader = FakeMaster::leading(Some("from-leader"));
    // What a non-leading Mesos master answers: a scheme-relative redirect.
    let follower = FakeMaster::start(Behaviour::Redirect(format!(
        "//{}/master/state",
        leader.address()
    )));
    let s = Server::spawn_with_source(
        &masters_source(&[&follower]),
        r#","MesosAuthentication":"basic","MesosCredentials":{"principal":"dns","secret":"s3cret"}"#,
    );
    let from_leader = wait_for(&s, "from-leader.marathon.mesos.");
    assert_eq!(leader.authorization(), "Basic ZG5zOnMzY3JldA==");

    // A redirect loop is cut short: the records stay, the server stays up.
    follower.set(Behaviour::Redirect(format!(
        "http://{}/master/state",
        follower.address()
    )));
    leader.set(Behaviour::Redirect(format!(
        "http://{}/master/state",
        follower.address()
    )));
    let requests = follower.requests();
    let deadline = Instant::now() + Duration::from_secs(10);
    while follower.requests() < requests + 8 {
        assert!(Instant::now() < deadline, "no refresh attempts");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        a_records(&s, "from-leader.marathon.mesos.").unwrap(),
        from_leader
    );
}

/// The IAM test account's key (a throwaway made for these tests) and its public half.
fn iam_key(name: &str) -> (String, Vec<u8>) {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read_to_string(common::data_path(name)).unwrap();
    let key = match PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap() {
        PrivateKeyDer::Pkcs8(k) => {
            ring::signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).unwrap()
        }
        PrivateKeyDer::Pkcs1(k) => {
            ring::signature::RsaKeyPair::from_der(k.secret_pkcs1_der()).unwrap()
        }
        _ => panic!("{name} is not an RSA key"),
    };
    use ring::signature::KeyPair;
    (pem, key.public_key().as_ref().to_vec())
}

/// A leading master (see [`FakeMaster::leading`]) that wants tokens of the service account
/// `dns-svc` whose key is `account_key`, each lasting `lifetime`; and a server logging in
/// as `dns-svc` with `server_key`. The directory holds the server's IAM file.
fn iam_setup(
    account_key: &str,
    server_key: &str,
    lifetime: Duration,
    task: Option<&str>,
) -> (FakeMaster, Server, std::path::PathBuf) {
    let (_, public) = iam_key(account_key);
    let (pem, _) = iam_key(server_key);
    let master = FakeMaster::leading(task);
    master.require_iam(&public, "dns-svc", lifetime);
    let dir = common::server::temp_dir();
    let path = dir.join("iam.json");
    let doc = serde_json::json!({
        "uid": "dns-svc",
        "private_key": pem,
        "login_endpoint": format!("http://{}{}", master.address(), LOGIN_PATH),
    });
    std::fs::write(&path, doc.to_string()).unwrap();
    let s = Server::spawn_with_source(
        &masters_source(&[&master]),
        &format!(
            r#","MesosAuthentication":"iam","IAMConfigFile":{:?}"#,
            path.to_str().unwrap()
        ),
    );
    (master, s, dir)
}

/// Waits until the master has seen `n` more state requests (bounded).
fn wait_requests(master: &FakeMaster, n: usize) {
    let target = master.requests() + n;
    let deadline = Instant::now() + Duration::from_secs(15);
    while master.requests() < target {
        assert!(Instant::now() < deadline, "refreshes stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn iam_login_is_signed_reused_and_renewed_when_refused() {
    let (master, s, dir) = iam_setup(
        "iam-key-pkcs8.pem",
        "iam-key-pkcs8.pem",
        Duration::from_secs(5 * 86_400),
        Some("first"),
    );
    wait_for(&s, "first.marathon.mesos.");
    assert!(master.authorization().starts_with("token="));
    // Several refreshes later: still the first login's token.
    wait_requests(&master, 3);
    assert_eq!(master.iam_logins(), (1, 0), "one login, reused");

    // The token is revoked: the next refresh is refused, logs in again, and goes on.
    master.revoke_tokens();
    master.set(Behaviour::State(marked_fixture(
        &master.address(),
        "second",
    )));
    wait_for(&s, "second.marathon.mesos.");
    assert_eq!(master.iam_logins(), (2, 0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn iam_tokens_near_expiry_are_renewed() {
    // Tokens that last 2 s are renewed after half of that, before any request fails.
    let (master, s, dir) = iam_setup(
        "iam-key-pkcs8.pem",
        "iam-key-pkcs8.pem",
        Duration::from_secs(2),
        None,
    );
    wait_for(&s, "chronos.marathon.mesos.");
    wait_requests(&master, 4);
    let (logins, refused) = master.iam_logins();
    assert!(logins >= 2, "renewed: {logins} logins");
    assert_eq!(refused, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn iam_with_the_wrong_key_loads_nothing() {
    let (master, s, dir) = iam_setup(
        "iam-key-pkcs8.pem",
        "iam-other-key-pkcs1.pem",
        Duration::from_secs(86_400),
        None,
    );
    assert_no_state_loaded(&s);
    let (logins, refused) = master.iam_logins();
    assert_eq!(logins, 0);
    assert!(refused > 0, "the login endpoint checked the signature");
    assert_eq!(master.requests(), 0, "no state request without a token");
    assert_eq!(s.get("/ready").status, 503);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn basic_authentication_and_new_credentials_on_sighup() {
    let master = FakeMaster::leading(None);
    let s = Server::spawn_with_source(
        &masters_source(&[&master]),
        r#","MesosAuthentication":"basic","MesosCredentials":{"principal":"dns","secret":"s3cret"}"#,
    );
    wait_for(&s, "chronos.marathon.mesos.");
    // base64("dns:s3cret")
    assert_eq!(master.authorization(), "Basic ZG5zOnMzY3JldA==");
    let path = s.dir.join("config.json");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("s3cret", "n3w");
    std::fs::write(&path, config).unwrap();
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    // base64("dns:n3w")
    while master.authorization() != "Basic ZG5zOm4zdw==" {
        assert!(Instant::now() < deadline, "new credentials never used");
        std::thread::sleep(Duration::from_millis(100));
    }

    // IAM with a key that does not load: refused, the basic credentials stay in use.
    let iam = s.dir.join("iam.json");
    let doc = serde_json::json!({
        "uid": "dns-svc",
        "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "login_endpoint": format!("http://{}{}", master.address(), LOGIN_PATH),
    });
    std::fs::write(&iam, doc.to_string()).unwrap();
    let config = std::fs::read_to_string(&path).unwrap().replace(
        r#""MesosAuthentication":"basic""#,
        &format!(
            r#""MesosAuthentication":"iam","IAMConfigFile":{:?}"#,
            iam.to_str().unwrap()
        ),
    );
    std::fs::write(&path, config).unwrap();
    s.signal("HUP");
    wait_requests(&master, 2);
    assert_eq!(master.authorization(), "Basic ZG5zOm4zdw==");
    assert_eq!(s.get("/ready").status, 200);
}

#[test]
fn a_leader_change_is_followed() {
    let a = FakeMaster::leading(Some("from-a"));
    let b = FakeMaster::leading(Some("from-b"));
    let s = Server::spawn_with_source(&masters_source(&[&a, &b]), "");
    wait_for(&s, "from-a.marathon.mesos.");
    // A steps down: its state now names B, whose state is the one to serve.
    a.set(Behaviour::State(marked_fixture(&b.address(), "stale-a")));
    wait_for(&s, "from-b.marathon.mesos.");
    for gone in ["from-a.marathon.mesos.", "stale-a.marathon.mesos."] {
        assert!(a_records(&s, gone).unwrap().is_empty(), "{gone}");
    }
}
