//! config.json loading and validation: docs/spec/mesos-dns-behavior.md §2 and the rows of §9.8.

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use crate::common;
use common::*;
use mesos_dns::config::{AuthMechanism, Config, IpSource, expand_config_path};
use std::net::SocketAddr;

/// A config with a state source and no forwarding, plus `extra` (starting with a comma).
fn with(extra: &str) -> Result<Config, String> {
    config_from(&format!(
        r#"{{"zk":"zk://127.0.0.1:2181/mesos","externalon":false{extra}}}"#
    ))
    .map_err(|e| e.0)
}

fn forwarding(extra: &str) -> Result<Config, String> {
    config_from(&format!(r#"{{"zk":"zk://127.0.0.1:2181/mesos"{extra}}}"#)).map_err(|e| e.0)
}

#[track_caller]
fn ok(extra: &str) -> Config {
    with(extra).unwrap_or_else(|e| panic!("{extra} should be valid: {e}"))
}

#[track_caller]
fn err(extra: &str, needle: &str) {
    match with(extra) {
        Ok(_) => panic!("{extra} should be rejected"),
        Err(e) => {
            assert!(
                e.contains(needle),
                "{extra}: {e:?} should mention {needle:?}"
            );
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }
}

#[test]
fn defaults() {
    let c = ok("");
    assert_eq!(c.refresh_seconds, 60);
    assert_eq!(c.port, 53);
    assert_eq!(c.timeout_seconds, 5);
    assert_eq!(c.state_timeout_seconds, 300);
    assert_eq!(c.zk_detection_timeout, 30);
    assert_eq!(c.http_port, 8123);
    assert_eq!(c.ttl, 60);
    assert_eq!(c.srv_record_default_weight, 1);
    assert_eq!(
        (c.soa_refresh, c.soa_retry, c.soa_expire, c.soa_minttl),
        (60, 600, 86400, 60)
    );
    assert_eq!(c.soa_mname, "ns1.mesos.");
    assert_eq!(c.soa_rname, "root.ns1.mesos.");
    assert_eq!(c.masters, None);
    assert_eq!(
        c.ip_sources,
        vec![IpSource::Netinfo, IpSource::Mesos, IpSource::Host]
    );
    assert_eq!(c.domain, "mesos");
    assert_eq!(c.file, "/etc/mesos-dns/config.json");
    assert_eq!(c.listener.to_string(), "0.0.0.0");
    assert!(c.recurse_on && c.dns_on && c.http_on && c.set_truncate_bit && c.enumeration_on);
    assert!(!c.enforce_rfc952 && !c.mesos_https_on);
    assert_eq!(c.mesos_authentication, AuthMechanism::None);
    assert_eq!(c.state_file, None);
    assert_eq!(c.udp_workers, None);
    assert_eq!(c.edns_max_udp_size, 1232);
    assert_eq!(c.forward_cache_size, 10_000);
}

/// §9.8 "defaults": no masters and no zk fail the services check; zk fixes it.
#[test]
fn a_state_source_is_required() {
    let e = config_from("{}").unwrap_err().0;
    assert!(e.contains("specify Mesos masters or Zookeeper"), "{e}");
    assert!(config_from(r#"{"zk":"zk://127.0.0.1:2181/mesos","externalon":false}"#).is_ok());
    assert!(config_from(r#"{"StateFile":"state.json","externalon":false}"#).is_ok());
    err(
        r#","dnson":false,"httpon":false"#,
        "either DNS or HTTP server should be on",
    );
}

#[test]
fn primaries_make_a_secondary() {
    // Primaries alone are a source: no masters needed.
    let c = config_from(r#"{"Primaries":["127.0.0.1:5353","::1"],"externalon":false}"#).unwrap();
    let shown: Vec<String> = c.primaries.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown, ["127.0.0.1:5353", "[::1]:53"]);
    assert_eq!(c.transfer_max_bytes, 1 << 30);
    let e = config_from(r#"{"Primaries":["primary.example:53"],"externalon":false}"#)
        .unwrap_err()
        .0;
    assert!(e.contains("Primaries"), "{e}");
    // The other zones are made from Mesos: a secondary does not take them.
    for other in [r#""ReverseZones":["10.0.0.0/8"]"#, r#""DCOSNames":true"#] {
        let json = format!(r#"{{"Primaries":["127.0.0.1"],"externalon":false,{other}}}"#);
        let e = config_from(&json).unwrap_err().0;
        assert!(e.contains("a secondary follows the domain only"), "{e}");
    }
    err(r#","TransferMaxBytes":1000"#, "TransferMaxBytes");
}

#[test]
fn keys_are_case_insensitive_and_unknown_keys_ignored() {
    let c = ok(r#","HTTPPORT":9000,"refreshseconds":5,"EnforceRfc952":true,"ns":"ns1","TtL":7"#);
    assert_eq!(c.http_port, 9000);
    assert_eq!(c.refresh_seconds, 5);
    assert!(c.enforce_rfc952);
    assert_eq!(c.ttl, 7);
    // The last of two spellings of one key wins.
    assert_eq!(ok(r#","Port":1000,"port":2000"#).port, 2000);
}

#[test]
fn nulls() {
    let c = ok(r#","port":null,"domain":null,"masters":null"#);
    assert_eq!(c.port, 53);
    assert_eq!(c.domain, "mesos");
    assert_eq!(c.masters, Some(vec![]));
    err(r#","IPSources":null"#, "IPSources: empty ip sources");
    // "resolvers": null is an empty list: resolv.conf is read.
    let c = forwarding(r#","resolvers":null"#).unwrap();
    assert_eq!(
        c.resolvers,
        vec!["127.0.0.53:53".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn type_errors_name_the_key() {
    err(r#","port":"53""#, "port: expected an integer");
    err(r#","ttl":1.5"#, "ttl: 1.5 is not an integer");
    err(r#","httpon":"yes""#, "httpon: expected true or false");
    err(
        r#","masters":"1.2.3.4:5050""#,
        "masters: expected a list of strings",
    );
    err(
        r#","SRVRecordDefaultWeight":70000"#,
        "SRVRecordDefaultWeight",
    );
    err(r#","SOARefresh":-1"#, "SOARefresh");
    let e = config_from("[1]").unwrap_err().0;
    assert!(e.contains("failed to unmarshal config file"), "{e}");
    let e = config_from("{").unwrap_err().0;
    assert!(
        e.contains("failed to unmarshal config file \"/etc/mesos-dns/config.json\""),
        "{e}"
    );
}

/// §9.8 domain rows, plus the labels the reference lets through.
#[test]
fn domain() {
    for d in ["1-awesome.domain.e", "single-name", "name", "MiXeD.Case"] {
        let c = ok(&format!(r#","domain":"{d}""#));
        assert_eq!(c.domain, d.to_ascii_lowercase());
    }
    let long = "a".repeat(64);
    for d in [
        "",
        ".invalid.com",
        "invalid.com.",
        "-lead.com",
        "trail-.com",
        "under_score",
        &long,
    ] {
        err(&format!(r#","domain":"{d}""#), "is not a valid domain name");
    }
}

/// §9.8 masters rows. Host names are refused here (the reference accepts them and then
/// crashes when it builds master records, docs/spec/mesos-dns-behavior.md §4.11).
#[test]
fn masters() {
    for m in [
        r#"[]"#,
        r#"["1.2.3.4:5"]"#,
        r#"["1.2.3.4:65535"]"#,
        r#"["1.2.3.4:1","5.6.7.8:1"]"#,
        r#"["[2001:db8:3c4d:15::1a2f:1a2b]:1"]"#,
    ] {
        ok(&format!(r#","masters":{m}"#));
    }
    let c = ok(r#","masters":["[2001:0db8::1]:5050"]"#);
    assert_eq!(c.masters.unwrap(), vec!["[2001:db8::1]:5050".to_string()]);
    for (m, why) in [
        (r#"[""]"#, "is not host:port"),
        (r#"["a"]"#, "is not host:port"),
        (r#"["1.2.3.4"]"#, "is not host:port"),
        (r#"["1.2.3.4:0"]"#, "no valid port"),
        (r#"["1.2.3.4:65536"]"#, "no valid port"),
        (r#"["1.2.3.4:1","1.2.3.4:1"]"#, "duplicate master"),
        (
            r#"["[2001:db8:3c4d:15:0:0:1a2f:1a2b]:1","[2001:db8:3c4d:15::1a2f:1a2b]:1"]"#,
            "duplicate master",
        ),
        (r#"["a:1234"]"#, "by IP address"),
        (r#"["1.2.3.4.5:6"]"#, "by IP address"),
    ] {
        err(&format!(r#","masters":{m}"#), why);
    }
}

/// §9.8 resolvers rows (checked only with forwarding on).
#[test]
fn resolvers() {
    for r in [
        r#"["1.2.3.4"]"#,
        r#"["1.2.3.4:53"]"#,
        r#"["1.2.3.4","5.6.7.8:1234"]"#,
        r#"["5.6.7.8:65535"]"#,
        r#"["2001:0db8:3c4d:0015:0000:0000:1a2f:1a2b"]"#,
        r#"["2001:0db8:3c4d:0015:0000:0000:1a2f:1a2b","[2001:db8:3c4d:15::1a2f:1a2b]:55"]"#,
    ] {
        forwarding(&format!(r#","resolvers":{r}"#)).unwrap();
    }
    for r in [
        r#"[""]"#,
        r#"["a"]"#,
        r#"["a","b"]"#,
        r#"["1.2.3.4.5"]"#,
        r#"["1.2.3.4","1.2.3.4"]"#,
        r#"["5.6.7.8:-1"]"#,
        r#"["5.6.7.8:65536"]"#,
        r#"["5.6.7.8:abc"]"#,
        r#"["2001:0db8:3c4d:0015:0000:0000:1a2f:1a2b","2001:db8:3c4d:15::1a2f:1a2b"]"#,
    ] {
        let e = forwarding(&format!(r#","resolvers":{r}"#)).unwrap_err();
        assert!(e.starts_with("Resolvers:"), "{r}: {e}");
    }
    // Not looked at without forwarding.
    ok(r#","resolvers":["nonsense"]"#);
}

/// An empty list means resolv.conf, less this machine's own addresses.
#[test]
fn resolv_conf() {
    let c = forwarding(r#","resolvers":[]"#).unwrap();
    assert_eq!(
        c.resolvers,
        vec!["127.0.0.53:53".parse::<SocketAddr>().unwrap()]
    );
    let mut env = test_env();
    env.resolv_conf = data_path("missing-resolv.conf");
    let e = Config::from_json(
        r#"{"zk":"zk://127.0.0.1:2181/m","resolvers":[]}"#,
        "/c.json".as_ref(),
        &env,
    )
    .unwrap_err();
    assert!(e.0.contains("unreadable"), "{e}");
}

/// §9.8 zone resolver rows with domain dc.mesos.
#[test]
fn zone_resolvers() {
    let zones = |z: &str| {
        forwarding(&format!(
            r#","domain":"dc.mesos","resolvers":["127.0.0.2"],"zoneresolvers":{z}"#
        ))
    };
    for z in [
        r#"{}"#,
        r#"{"weave":["127.0.0.3"]}"#,
        r#"{"acdc.mesos":["127.0.0.3"]}"#,
        r#"{"abc.com":["127.0.0.3"],"bc.com":["127.0.0.4"]}"#,
    ] {
        zones(z).unwrap();
    }
    for z in [
        r#"{"":["127.0.0.3"]}"#,
        r#"{"weave":[]}"#,
        r#"{"mesos":["127.0.0.3"]}"#,
        r#"{"dc.mesos":["127.0.0.3"]}"#,
        r#"{"site.dc.mesos":["127.0.0.3"]}"#,
        r#"{"abc.com":["127.0.0.3"],"com":["127.0.0.4"]}"#,
        r#"{"weave":["bad"]}"#,
    ] {
        assert!(zones(z).is_err(), "{z} should be rejected");
    }
    // Zone keys are lower-cased, so an upper-case key still routes (and still clashes).
    let c = zones(r#"{"Weave.Local":["127.0.0.3"]}"#).unwrap();
    assert!(c.zone_resolvers.contains_key("weave.local"));
    assert!(zones(r#"{"DC.mesos":["127.0.0.3"]}"#).is_err());
}

#[test]
fn ip_sources() {
    err(r#","IPSources":[]"#, "empty ip sources");
    err(r#","IPSources":["host","host"]"#, "duplicate ip source");
    err(r#","IPSources":["Host"]"#, "invalid ip source \"Host\"");
    assert_eq!(
        ok(r#","IPSources":["docker"]"#).ip_sources,
        vec![IpSource::Docker]
    );
}

#[test]
fn soa_names() {
    let c = ok(r#","SOARname":"root@ns1.mesos","SOAMname":"ns1.mesos..""#);
    assert_eq!(c.soa_rname, "root.ns1.mesos.");
    assert_eq!(c.soa_mname, "ns1.mesos.");
    err(r#","SOAMname":"a..b""#, "SOAMname");
}

/// Values the reference accepts and then crashes on, or silently misuses.
#[test]
fn checks_the_reference_lacks() {
    err(r#","RefreshSeconds":0"#, "RefreshSeconds: must be > 0");
    err(r#","RefreshSeconds":-5"#, "RefreshSeconds");
    err(r#","StateTimeoutSeconds":0"#, "StateTimeoutSeconds");
    err(r#","Port":0"#, "Port: 0 is not a port");
    err(r#","Port":65536"#, "Port");
    err(r#","HttpPort":-1"#, "HttpPort");
    err(r#","TTL":-1"#, "TTL: must be >= 0");
    err(r#","Timeout":-1"#, "Timeout");
    assert_eq!(ok(r#","Timeout":0"#).timeout_seconds, 5);
    err(
        r#","Listener":"localhost""#,
        "Listener: \"localhost\" is not an IP address",
    );
    err(r#","HTTPListener":"my-host""#, "HTTPListener");
    err(r#","UDPWorkers":-1"#, "UDPWorkers");
    err(r#","EDNSMaxUDPSize":100"#, "EDNSMaxUDPSize");
    assert_eq!(ok(r#","Listener":"::1""#).listener.to_string(), "::1");
    assert_eq!(ok(r#","udpworkers":3"#).udp_workers, Some(3));
}

#[test]
fn state_file_is_relative_to_the_config() {
    let c = ok(r#","StateFile":"examples/state.json""#);
    assert_eq!(
        c.state_file.unwrap().to_str().unwrap(),
        "/etc/mesos-dns/examples/state.json"
    );
    let c = ok(r#","StateFile":"/var/state.json""#);
    assert_eq!(c.state_file.unwrap().to_str().unwrap(), "/var/state.json");
}

/// §9.8 auth rows.
#[test]
fn authentication() {
    ok(r#","MesosAuthentication":"""#);
    for creds in [
        r#"{"principal":"p"}"#,
        r#"{"secret":"s"}"#,
        r#"{"Principal":"p","SECRET":"s"}"#,
    ] {
        let c = ok(&format!(
            r#","MesosAuthentication":"basic","MesosCredentials":{creds}"#
        ));
        assert_eq!(c.mesos_authentication, AuthMechanism::Basic);
    }
    err(r#","MesosAuthentication":"123""#, "unknown mechanism");
    err(
        r#","MesosAuthentication":"basic""#,
        "invalid HTTP Basic configuration",
    );
    err(r#","MesosAuthentication":"iam""#, "missing configuration");

    let dir = std::env::temp_dir().join(format!("mesos-dns-iam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"uid":"svc","private_key":"KEY","login_endpoint":"https://127.0.0.1/acs/api/v1/auth/login"}"#).unwrap();
    let empty = dir.join("empty.json");
    std::fs::write(
        &empty,
        r#"{"uid":"","private_key":"KEY","login_endpoint":"https://127.0.0.1/login"}"#,
    )
    .unwrap();
    let bad_url = dir.join("bad-url.json");
    std::fs::write(
        &bad_url,
        r#"{"uid":"a","private_key":"KEY","login_endpoint":"not a url"}"#,
    )
    .unwrap();
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "{").unwrap();

    let iam = |f: &std::path::Path| {
        format!(
            r#","MesosAuthentication":"iam","IAMConfigFile":{:?}"#,
            f.to_str().unwrap()
        )
    };
    let c = ok(&iam(&good));
    assert_eq!(c.iam.as_ref().unwrap().uid, "svc");
    assert!(
        !format!("{c:?}").contains("KEY"),
        "the key stays out of logs"
    );
    err(&iam(&empty), "invalid HTTP IAM configuration");
    err(&iam(&bad_url), "login_endpoint");
    err(&iam(&not_json), "invalid IAM JSON");
    err(&iam(&dir.join("absent.json")), "IAMConfigFile");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = ok(
        r#","MesosAuthentication":"basic","MesosCredentials":{"principal":"me","secret":"hunter2"}"#,
    );
    let text = format!("{c:?}");
    assert!(text.contains("me"));
    assert!(!text.contains("hunter2"));
}

#[test]
fn certificates() {
    err(
        r#","CACertFile":"/nonexistent/ca.pem""#,
        "CACertFile: open failed",
    );
    err(r#","CertFile":"/x.pem""#, "Missing private key");
    err(r#","KeyFile":"/x.pem""#, "Missing certificate");
    let dir = std::env::temp_dir().join(format!("mesos-dns-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    err(
        &format!(r#","CACertFile":{:?}"#, junk.to_str().unwrap()),
        "CACertFile: parsing failed",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn home_expansion() {
    let env = test_env();
    assert_eq!(
        expand_config_path("~/c.json", &env).to_str().unwrap(),
        "/home/tester/c.json"
    );
    assert_eq!(
        expand_config_path("c.json", &env).to_str().unwrap(),
        "/work/c.json"
    );
    assert_eq!(
        expand_config_path("/a/~/b", &env).to_str().unwrap(),
        "/a//home/tester/b"
    );
    let e = Config::load("/nonexistent/config.json", &env).unwrap_err();
    assert_eq!(
        e.0,
        r#"missing configuration file: "/nonexistent/config.json""#
    );
}

#[test]
fn unknown_keys_are_named_with_the_closest_known_one() {
    let warnings = Config::unknown_key_warnings(
        r#"{"masters":["10.0.0.1:5050"],"ReversePolcy":"all","HTTPPORT":9000,
            "refreshSecs":5,"Frobnicate":1}"#,
    );
    assert_eq!(
        warnings,
        [
            r#"unknown key "ReversePolcy" ignored (did you mean "ReversePolicy"?)"#,
            r#"unknown key "refreshSecs" ignored (did you mean "RefreshSeconds"?)"#,
            r#"unknown key "Frobnicate" ignored"#,
        ]
    );
    // Known keys in any case are not warned about.
    assert!(Config::unknown_key_warnings(r#"{"MASTERS":[],"externalon":false}"#).is_empty());
}

/// The server says so at start, once, in one line naming the key and the closest one.
#[test]
fn a_misspelt_key_gets_one_warning_line_at_start() {
    let s = common::server::Server::start_process(
        &data_path("fake-state.json"),
        r#","masters":["144.76.157.37:5050"],"ReversePolcy":"all""#,
    );
    let log = s.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("ReversePolcy")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(r#"did you mean \"ReversePolicy\"?"#)
            || lines[0].contains(r#"did you mean "ReversePolicy"?"#),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("WARN"), "{}", lines[0]);
}
