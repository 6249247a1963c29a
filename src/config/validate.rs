//! The checks of docs/spec/mesos-dns-behavior.md §2.3, in its order, then the ones the reference lacks.

use super::auth::{validate_auth, validate_certificates};
use super::keys::Raw;
use super::types::*;
use super::{ConfigError, invalid};
use crate::dns::tsig::TsigKey;
use crate::names::cidr::Cidr;
use crate::names::hostport::{join_host_port, parse_port, split_host_port};
use crate::names::reverse::ReverseZone;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// `path` as written in config.json at `file`: a relative one is taken from the file's
/// directory.
fn relative_to(file: &Path, path: PathBuf) -> PathBuf {
    match file.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    }
}

/// The value of an enum key: `word` as its table spells it, else one line listing the
/// choices.
fn spelled<T: Spelled>(key: &str, word: &str) -> Result<T, ConfigError> {
    T::from_name(word).ok_or_else(|| {
        ConfigError(format!(
            "{key}: unknown value {word:?} (use {})",
            T::choices()
        ))
    })
}

pub(super) fn validate(raw: &Raw, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
    let masters_given = raw.strings("Masters");
    let zk = raw.string("Zk");
    let state_file_text = raw.string("StateFile");
    let external_on = raw.boolean("ExternalOn");
    let resolvers_given = raw.strings("Resolvers").unwrap_or_default();
    let state_timeout_seconds = raw.int("StateTimeoutSeconds");
    // 1. Services and a source of state.
    if !raw.boolean("DnsOn") && !raw.boolean("HttpOn") {
        return invalid("DnsOn, HttpOn: either DNS or HTTP server should be on");
    }
    let no_masters = masters_given.as_ref().is_none_or(|m| m.is_empty());
    let primaries = validate_resolvers("Primaries", &raw.strings("Primaries").unwrap_or_default())?;
    if no_masters && zk.is_empty() && state_file_text.is_empty() && primaries.is_empty() {
        return invalid("Masters, Zk: specify Mesos masters or Zookeeper in config.json");
    }

    // 2. Masters.
    let masters = match &masters_given {
        None => None,
        Some(list) => Some(validate_masters(list)?),
    };

    // 3. Upstream resolvers, looked at only when forwarding is on.
    let domain_given = raw.string("Domain");
    let domain = domain_given.to_ascii_lowercase();
    let (resolvers, zone_resolvers) = if external_on {
        let resolvers = if resolvers_given.is_empty() {
            resolv_conf_nameservers(env)?
        } else {
            validate_resolvers("Resolvers", &resolvers_given)?
        };
        (
            resolvers,
            validate_zones(&raw.zone_lists("ZoneResolvers"), &domain)?,
        )
    } else {
        (Vec::new(), BTreeMap::new())
    };

    // 4. IPSources.
    let ip_sources = validate_ip_sources(&raw.strings("IPSources").unwrap_or_default())?;

    // 5. State timeout.
    if state_timeout_seconds <= 0 {
        return invalid(format!(
            "StateTimeoutSeconds: must be > 0, got {}",
            state_timeout_seconds
        ));
    }

    // 6. Domain.
    if !is_valid_domain(&domain) {
        return invalid(format!(
            "Domain: {:?} is not a valid domain name (labels of letters, digits and inner \
             hyphens, 1-63 octets each, no leading or trailing dot)",
            domain_given
        ));
    }

    // 7. SOA names.
    let soa_rname = fqdn(&raw.string("SOARname").replace('@', "."));
    let soa_mname = fqdn(&raw.string("SOAMname"));
    for (key, name) in [("SOARname", &soa_rname), ("SOAMname", &soa_mname)] {
        if !is_encodable_name(name) {
            return invalid(format!("{key}: {name:?} is not a valid DNS name"));
        }
    }

    // 8. Certificates.
    validate_certificates(raw)?;

    // 9. Authentication.
    let (mesos_authentication, iam) = validate_auth(raw)?;

    // Checks the reference lacks: it crashes or misbehaves on these later.
    let refresh_seconds = positive("RefreshSeconds", raw.int("RefreshSeconds"))?;
    let port = port_number("Port", raw.int("Port"))?;
    let http_port = port_number("HttpPort", raw.int("HttpPort"))?;
    let timeout_seconds = match raw.int("Timeout") {
        0 => 5,
        t if t > 0 => t as u64,
        t => return invalid(format!("Timeout: must be >= 0 seconds, got {t}")),
    };
    let ttl = raw.int("TTL");
    if ttl < 0 {
        return invalid(format!("TTL: must be >= 0, got {ttl}"));
    }
    let listener = ip_literal("Listener", &raw.string("Listener"))?;
    let http_listener = ip_literal("HTTPListener", &raw.string("HTTPListener"))?;
    // Relative to the config file, so a bundled example works from any directory.
    let state_file =
        (!state_file_text.is_empty()).then(|| relative_to(file, PathBuf::from(&state_file_text)));

    let reverse_zones = validate_reverse_zones(&raw.strings("ReverseZones").unwrap_or_default())?;
    let reverse_policy = spelled(
        "ReversePolicy",
        &raw.string("ReversePolicy").to_ascii_lowercase(),
    )?;

    let transfer_acl = raw
        .strings("TransferACL")
        .unwrap_or_default()
        .iter()
        .map(|c| Cidr::parse(c).or_else(|e| invalid(format!("TransferACL: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let tsig_keys = validate_tsig_keys(&raw.tsig_keys("TSIGKeys"))?;
    let transfer_tsig = Some(raw.string("TransferTSIG")).filter(|k| !k.is_empty());
    if let Some(name) = &transfer_tsig {
        if !tsig_keys.iter().any(|k| k.is_named(name)) {
            return invalid(format!("TransferTSIG: no key {name:?} in TSIGKeys"));
        }
    }
    let dcos_names = raw.boolean("DCOSNames");
    if dcos_names
        && (is_at_or_under(DCOS_DIRECTORY, &domain) || is_at_or_under(&domain, DCOS_DIRECTORY))
    {
        return invalid(format!(
            "DCOSNames: the domain {domain:?} overlaps {DCOS_DIRECTORY:?}, where the DC/OS zones are"
        ));
    }
    // A secondary follows one zone, the domain; the other zones are made from Mesos.
    if !primaries.is_empty() && (dcos_names || !reverse_zones.is_empty()) {
        return invalid(
            "Primaries: a secondary follows the domain only; ReverseZones and DCOSNames need a Mesos source",
        );
    }

    let leader_election = raw.string("LeaderElection");
    validate_leader_election(&leader_election, &primaries, dcos_names, &reverse_zones)?;

    let state_api = spelled("StateAPI", &raw.string("StateAPI").to_ascii_lowercase())?;

    Ok(Config {
        refresh_seconds,
        port,
        timeout_seconds,
        state_timeout_seconds: state_timeout_seconds as u64,
        zk_detection_timeout: raw.int("ZkDetectionTimeout"),
        http_port,
        ttl: ttl as u32,
        srv_record_default_weight: raw.int("SRVRecordDefaultWeight") as u16,
        soa_refresh: raw.int("SOARefresh") as u32,
        soa_retry: raw.int("SOARetry") as u32,
        soa_expire: raw.int("SOAExpire") as u32,
        soa_minttl: raw.int("SOAMinttl") as u32,
        soa_mname,
        soa_rname,
        masters,
        zone_resolvers,
        resolvers,
        ip_sources,
        zk,
        domain,
        file: raw
            .optional_string("File")
            .unwrap_or_else(|| file.display().to_string()),
        source_path: file.to_path_buf(),
        listener,
        http_listener,
        recurse_on: raw.boolean("RecurseOn"),
        dns_on: raw.boolean("DnsOn"),
        http_on: raw.boolean("HttpOn"),
        external_on,
        enforce_rfc952: raw.boolean("EnforceRFC952"),
        set_truncate_bit: raw.boolean("SetTruncateBit"),
        enumeration_on: raw.boolean("EnumerationOn"),
        mesos_https_on: raw.boolean("MesosHTTPSOn"),
        ca_cert_file: raw.string("CACertFile"),
        cert_file: raw.string("CertFile"),
        key_file: raw.string("KeyFile"),
        mesos_credentials: raw.credentials("MesosCredentials"),
        iam_config_file: raw.string("IAMConfigFile"),
        iam,
        mesos_authentication,
        state_file,
        udp_workers: usize::try_from(raw.int("UDPWorkers"))
            .ok()
            .filter(|&n| n > 0),
        edns_max_udp_size: raw.int("EDNSMaxUDPSize") as u16,
        forward_cache_size: raw.int("ForwardCacheSize") as usize,
        ready_stale_refreshes: raw.int("ReadyStaleRefreshes") as u64,
        state_api,
        coalesce_ms: raw.int("CoalesceMilliseconds") as u64,
        max_answers: raw.int("MaxAnswers") as u16,
        healthy_only: raw.boolean("HealthyOnly"),
        reverse_zones,
        reverse_policy,
        dcos_names,
        dcos_ttl: raw.int("DCOSTTL") as u32,
        transfer_acl,
        ixfr_journal: raw.int("IXFRJournal") as usize,
        tsig_keys,
        transfer_tsig,
        serial_file: Some(raw.string("SerialFile"))
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        data_directory: Some(raw.string("DataDirectory"))
            .filter(|p| !p.is_empty())
            .map(|p| relative_to(file, PathBuf::from(p))),
        notify_secondaries: validate_resolvers(
            "NotifySecondaries",
            &raw.strings("NotifySecondaries").unwrap_or_default(),
        )?,
        primaries,
        leader_election: Some(leader_election).filter(|u| !u.is_empty()),
        leader_election_timeout: raw.int("LeaderElectionTimeout") as u64,
        transfer_max_bytes: raw.int("TransferMaxBytes") as u64,
    })
}

fn positive(key: &str, v: i64) -> Result<u64, ConfigError> {
    if v > 0 {
        Ok(v as u64)
    } else {
        invalid(format!("{key}: must be > 0, got {v}"))
    }
}

fn port_number(key: &str, v: i64) -> Result<u16, ConfigError> {
    match u16::try_from(v) {
        Ok(p) if p > 0 => Ok(p),
        _ => invalid(format!("{key}: {v} is not a port (1-65535)")),
    }
}

fn ip_literal(key: &str, text: &str) -> Result<IpAddr, ConfigError> {
    text.parse()
        .or_else(|_| invalid(format!("{key}: {text:?} is not an IP address")))
}

/// `host:port` with an IP host (the reference crashes on host names later) and a port
/// 1..=65535; no duplicates after the IP is written canonically.
fn validate_masters(list: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let Some((host, port)) = split_host_port(entry) else {
            return invalid(format!("Masters: {entry:?} is not host:port"));
        };
        let port = match parse_port(port) {
            Some(p) if p > 0 => p,
            _ => return invalid(format!("Masters: {entry:?} has no valid port (1-65535)")),
        };
        let Ok(ip) = host.parse::<IpAddr>() else {
            return invalid(format!(
                "Masters: {entry:?} must name the master by IP address, not host name"
            ));
        };
        let normal = join_host_port(&ip.to_string(), port);
        if out.contains(&normal) {
            return invalid(format!("Masters: duplicate master {entry:?}"));
        }
        out.push(normal);
    }
    Ok(out)
}

/// `IP`, `IP:port` or `[v6]:port`; the port defaults to 53.
fn parse_resolver(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    let (host, port) = split_host_port(text)?;
    let ip: IpAddr = host.parse().ok()?;
    let port = parse_port(port).filter(|&p| p > 0)?;
    Some(SocketAddr::new(ip, port))
}

fn validate_resolvers(key: &str, list: &[String]) -> Result<Vec<SocketAddr>, ConfigError> {
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let Some(addr) = parse_resolver(entry) else {
            return invalid(format!(
                "{key}: {entry:?} is not IP or IP:port (port 1-65535, IPv6 in brackets)"
            ));
        };
        if out.contains(&addr) {
            return invalid(format!("{key}: duplicate resolver {entry:?}"));
        }
        out.push(addr);
    }
    Ok(out)
}

/// The nameservers of resolv.conf, minus the addresses of this machine's own interfaces
/// (it would forward to itself).
fn resolv_conf_nameservers(env: &Environment) -> Result<Vec<SocketAddr>, ConfigError> {
    let text = std::fs::read_to_string(&env.resolv_conf).or_else(|e| {
        invalid(format!(
            "Resolvers: empty, and {} is unreadable: {e}",
            env.resolv_conf.display()
        ))
    })?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        let addr = SocketAddr::new(ip, 53);
        if !env.local_addrs.contains(&ip) && !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

fn validate_zones(
    zones: &[(String, Vec<String>)],
    domain: &str,
) -> Result<BTreeMap<String, Vec<SocketAddr>>, ConfigError> {
    let mut out = BTreeMap::new();
    for (zone, list) in zones {
        let key = format!("ZoneResolvers[{zone:?}]");
        let lower = zone.to_ascii_lowercase();
        if !is_valid_domain(&lower) {
            return invalid(format!("{key}: not a valid zone name"));
        }
        if list.is_empty() {
            return invalid(format!("{key}: the resolver list is empty"));
        }
        if lower == domain {
            return invalid(format!("{key}: the zone is the Mesos domain itself"));
        }
        let resolvers = validate_resolvers(&key, list)?;
        if out.insert(lower, resolvers).is_some() {
            return invalid(format!("{key}: zone given twice"));
        }
    }
    // No zone (nor the domain) may hide another: `.b.c` masks `.a.b.c`.
    let mut suffixes: Vec<String> = out.keys().map(|z| format!(".{z}")).collect();
    suffixes.push(format!(".{domain}"));
    for a in &suffixes {
        for b in &suffixes {
            if a != b && a.ends_with(b.as_str()) {
                return invalid(format!(
                    "ZoneResolvers: ambiguous zone resolvers: {} is masked by {}",
                    &a[1..],
                    &b[1..]
                ));
            }
        }
    }
    Ok(out)
}

/// The parent of the DC/OS zones (`DCOSNames`).
pub const DCOS_DIRECTORY: &str = "thisdcos.directory";

/// `name` is `zone` or below it (lower case, no trailing dots).
fn is_at_or_under(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// `{"name": {"Algorithm": "hmac-sha256", "Secret": "<base64>"}}`.
fn validate_tsig_keys(keys: &[(String, String, String)]) -> Result<Vec<TsigKey>, ConfigError> {
    use base64::Engine;
    let mut out: Vec<TsigKey> = Vec::with_capacity(keys.len());
    for (name, algorithm, secret) in keys {
        // The secret is never quoted back.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ConfigError(format!("TSIGKeys[{name:?}]: the secret is not base64")))?;
        let key = TsigKey::new(name, algorithm, &bytes).ok_or_else(|| {
            ConfigError(format!(
                "TSIGKeys[{name:?}]: algorithm {algorithm:?} (use hmac-sha256 or hmac-sha512), or the name is not a DNS name"
            ))
        })?;
        if out.iter().any(|k| k.is_named(name)) {
            return invalid(format!("TSIGKeys: key {name:?} given twice"));
        }
        out.push(key);
    }
    Ok(out)
}

/// CIDRs on label boundaries, none inside another.
fn validate_reverse_zones(list: &[String]) -> Result<Vec<ReverseZone>, ConfigError> {
    let mut out: Vec<ReverseZone> = Vec::with_capacity(list.len());
    for entry in list {
        let zone =
            ReverseZone::parse(entry.trim()).or_else(|e| invalid(format!("ReverseZones: {e}")))?;
        if let Some(other) = out
            .iter()
            .find(|o| o.contains(&zone.cidr.network) || zone.contains(&o.cidr.network))
        {
            return invalid(format!(
                "ReverseZones: {zone} overlaps {other}; list each network once"
            ));
        }
        out.push(zone);
    }
    Ok(out)
}

fn validate_ip_sources(list: &[String]) -> Result<Vec<IpSource>, ConfigError> {
    if list.is_empty() {
        return invalid("IPSources: empty ip sources");
    }
    let mut out = Vec::with_capacity(list.len());
    for name in list {
        let Some(source) = IpSource::from_name(name) else {
            return invalid(format!(
                "IPSources: invalid ip source {name:?} (use {})",
                IpSource::choices()
            ));
        };
        if out.contains(&source) {
            return invalid(format!(
                "IPSources: duplicate ip source specified: {name:?}"
            ));
        }
        out.push(source);
    }
    Ok(out)
}

/// Lower-case LDH labels of 1-63 octets without edge hyphens, joined by dots; ≤ 253 octets.
pub fn is_valid_domain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(crate::names::labels::is_host_label)
}

/// Any name that fits a DNS message: labels of 1-63 octets, ≤ 255 octets in wire form.
fn is_encodable_name(fqdn: &str) -> bool {
    let body = fqdn.strip_suffix('.').unwrap_or(fqdn);
    body.len() + 2 <= 255
        && (body.is_empty() || body.split('.').all(|l| (1..=63).contains(&l.len())))
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// `LeaderElection` is a ZooKeeper URL, for primaries (not secondaries), whose standbys
/// can follow every zone by transfer (the domain only: no ReverseZones, no DCOSNames).
fn validate_leader_election(
    url: &str,
    primaries: &[std::net::SocketAddr],
    dcos_names: bool,
    reverse_zones: &[ReverseZone],
) -> Result<(), ConfigError> {
    if url.is_empty() {
        return Ok(());
    }
    if !url.starts_with("zk://") {
        return invalid(format!(
            "LeaderElection: {url:?} is not a zk://host:port[,host:port...]/path URL"
        ));
    }
    if !primaries.is_empty() {
        return invalid(
            "LeaderElection, Primaries: a server is either a primary (LeaderElection) or a secondary (Primaries)",
        );
    }
    if dcos_names || !reverse_zones.is_empty() {
        return invalid(
            "LeaderElection: standbys follow the leader's domain by zone transfer; ReverseZones and DCOSNames cannot be replicated",
        );
    }
    Ok(())
}
