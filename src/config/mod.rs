//! `config.json` → [`Config`], as Mesos-DNS reads it (spec §2), with clear errors where
//! the reference crashes later or accepts nonsense.
//!
//! Keys match ASCII-case-insensitively; unknown keys are ignored; `null` leaves a scalar at
//! its default and empties a list or map. Validation runs in the order of spec §2.3, then
//! the checks the reference lacks (ports, periods, listeners). Every failure is one line
//! naming the key.

pub(crate) mod keys;

use crate::dns::tsig::TsigKey;
use crate::names::cidr::Cidr;
use crate::names::hostport::{join_host_port, parse_port, split_host_port};
use crate::names::reverse::ReverseZone;
use keys::Raw;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// One clear line saying what is wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn invalid<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// Where a task's addresses come from (spec §3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpSource {
    /// The agent's address (`host`).
    Host,
    /// The Docker label `Docker.NetworkSettings.IPAddress` (`docker`).
    Docker,
    /// The Mesos containerizer label (`mesos`).
    Mesos,
    /// The status's NetworkInfo addresses (`netinfo`).
    Netinfo,
}

impl IpSource {
    /// As config.json spells it.
    pub fn name(self) -> &'static str {
        match self {
            IpSource::Host => "host",
            IpSource::Docker => "docker",
            IpSource::Mesos => "mesos",
            IpSource::Netinfo => "netinfo",
        }
    }
}

/// `StateAPI`: how the masters' state is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateApi {
    /// Subscribe to the operator API; poll `/master/state` only while the master has no
    /// `/api/v1`.
    Auto,
    /// Subscribe to the operator API only.
    Subscribe,
    /// Poll `/master/state` every `RefreshSeconds` (what Mesos-DNS does).
    Poll,
}

impl StateApi {
    /// As config.json spells it.
    pub fn name(self) -> &'static str {
        match self {
            StateApi::Auto => "auto",
            StateApi::Subscribe => "subscribe",
            StateApi::Poll => "poll",
        }
    }
}

/// `ReversePolicy`: which names an address's PTR answer lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReversePolicy {
    /// One name per address: an agent's host name before a task's canonical name, then
    /// the lowest name.
    One,
    /// Only addresses with exactly one candidate name.
    Unambiguous,
    /// Every candidate name.
    All,
}

impl ReversePolicy {
    /// As config.json spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReversePolicy::One => "one",
            ReversePolicy::Unambiguous => "unambiguous",
            ReversePolicy::All => "all",
        }
    }
}

/// `MesosAuthentication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMechanism {
    /// No credentials are sent.
    None,
    /// HTTP basic, from `MesosCredentials`.
    Basic,
    /// A DC/OS IAM token, from `IAMConfigFile`.
    Iam,
}

impl AuthMechanism {
    /// As config.json spells it.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::None => "",
            AuthMechanism::Basic => "basic",
            AuthMechanism::Iam => "iam",
        }
    }
}

/// `MesosCredentials`. The secret never appears in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The principal (user name).
    pub principal: String,
    /// The secret (password).
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("principal", &self.principal)
            .field("secret", &redacted(&self.secret))
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// The DC/OS service account of `IAMConfigFile`. The key never appears in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct IamConfig {
    /// The service account's id.
    pub uid: String,
    /// Its RSA private key, PEM.
    pub private_key: String,
    /// Where to log in for a token.
    pub login_endpoint: String,
}

impl fmt::Debug for IamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamConfig")
            .field("uid", &self.uid)
            .field("private_key", &redacted(&self.private_key))
            .field("login_endpoint", &self.login_endpoint)
            .finish()
    }
}

/// The validated, normalised configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `RefreshSeconds`: how often `/master/state` is polled.
    pub refresh_seconds: u64,
    /// `Port`: the DNS port.
    pub port: u16,
    /// Seconds per upstream exchange when forwarding.
    pub timeout_seconds: u64,
    /// `StateTimeoutSeconds`: the deadline of one state request.
    pub state_timeout_seconds: u64,
    /// ≤ 0 disables the ZooKeeper detection alarm.
    pub zk_detection_timeout: i64,
    /// `HttpPort`: the HTTP API's port.
    pub http_port: u16,
    /// `TTL` of every record.
    pub ttl: u32,
    /// `SRVRecordDefaultWeight`.
    pub srv_record_default_weight: u16,
    /// `SOARefresh`.
    pub soa_refresh: u32,
    /// `SOARetry`.
    pub soa_retry: u32,
    /// `SOAExpire`.
    pub soa_expire: u32,
    /// `SOAMinttl`: the negative-answer TTL.
    pub soa_minttl: u32,
    /// Fully qualified, with the trailing dot.
    pub soa_mname: String,
    /// Fully qualified, with the trailing dot; `@` already turned into `.`.
    pub soa_rname: String,
    /// Configured masters as `ip:port` (canonical IP text); `None` when not configured.
    pub masters: Option<Vec<String>>,
    /// Lower-cased zone → upstreams.
    pub zone_resolvers: BTreeMap<String, Vec<SocketAddr>>,
    /// `Resolvers`: upstreams for every other name.
    pub resolvers: Vec<SocketAddr>,
    /// `IPSources`, in order of preference.
    pub ip_sources: Vec<IpSource>,
    /// `Zk`: the ZooKeeper URL of the masters' group, or empty.
    pub zk: String,
    /// Lower-cased, no trailing dot.
    pub domain: String,
    /// `File`: where the configuration says it came from (for `/v1/config`).
    pub file: String,
    /// Where the configuration was read from (what SIGHUP reads again).
    pub source_path: PathBuf,
    /// `Listener`: the DNS address (`0.0.0.0`: every address).
    pub listener: IpAddr,
    /// `HTTPListener`: the HTTP API's address.
    pub http_listener: IpAddr,
    /// `RecurseOn`: the RA flag, and forwarding at all.
    pub recurse_on: bool,
    /// `DnsOn`: serve DNS.
    pub dns_on: bool,
    /// `HttpOn`: serve the HTTP API.
    pub http_on: bool,
    /// `ExternalOn`: forward names outside the domain.
    pub external_on: bool,
    /// `EnforceRFC952`: labels start with a letter.
    pub enforce_rfc952: bool,
    /// `SetTruncateBit`: TC on replies cut to fit.
    pub set_truncate_bit: bool,
    /// `EnumerationOn`: serve `/v1/enumerate` and `/v1/axfr`.
    pub enumeration_on: bool,
    /// `MesosHTTPSOn`: ask the masters over HTTPS.
    pub mesos_https_on: bool,
    /// `CACertFile`: roots to verify the masters with.
    pub ca_cert_file: String,
    /// `CertFile`: a client certificate for the masters.
    pub cert_file: String,
    /// `KeyFile`: its key.
    pub key_file: String,
    /// `MesosCredentials`: for basic authentication.
    pub mesos_credentials: Credentials,
    /// `IAMConfigFile`: where the IAM account is read from.
    pub iam_config_file: String,
    /// The IAM account read from `IAMConfigFile`.
    pub iam: Option<IamConfig>,
    /// `MesosAuthentication`.
    pub mesos_authentication: AuthMechanism,
    /// Extension: read the state from this file instead of a master.
    pub state_file: Option<PathBuf>,
    /// Extension: UDP worker threads; `None` = one per CPU of the affinity mask.
    pub udp_workers: Option<usize>,
    /// Extension: the largest UDP reply offered to EDNS clients.
    pub edns_max_udp_size: u16,
    /// Extension: entries in the cache of forwarded answers (0 disables it).
    pub forward_cache_size: usize,
    /// Extension: `/ready` fails once the last good refresh is older than this many
    /// `RefreshSeconds`.
    pub ready_stale_refreshes: u64,
    /// Extension: subscribe to the operator API, poll, or subscribe when the master can.
    pub state_api: StateApi,
    /// Extension: how long stream changes wait to be published together.
    pub coalesce_ms: u64,
    /// Extension `MaxAnswers`: at most this many records of a set per answer (0: all).
    pub max_answers: u16,
    /// Extension `HealthyOnly`: tasks whose latest status says unhealthy get no records.
    pub healthy_only: bool,
    /// Extension `ReverseZones`: the `in-addr.arpa.` / `ip6.arpa.` zones served.
    pub reverse_zones: Vec<ReverseZone>,
    /// Extension `ReversePolicy`.
    pub reverse_policy: ReversePolicy,
    /// Extension `DCOSNames`: serve the DC/OS zones under `thisdcos.directory.`.
    pub dcos_names: bool,
    /// Extension `DCOSTTL`: the TTL of the `dcos.` and `l4lb.thisdcos.directory.` records.
    pub dcos_ttl: u32,
    /// Extension `TransferACL`: who may transfer the zones (AXFR, IXFR over TCP).
    pub transfer_acl: Vec<Cidr>,
    /// Extension `IXFRJournal`: how many publishes IXFR can answer incrementally.
    pub ixfr_journal: usize,
    /// Extension `SerialFile`: where the last serial is kept across restarts.
    pub serial_file: Option<PathBuf>,
    /// Extension `NotifySecondaries`: who gets a NOTIFY for each new serial.
    pub notify_secondaries: Vec<SocketAddr>,
    /// Extension `TSIGKeys`: the TSIG keys known (secrets never shown).
    pub tsig_keys: Vec<TsigKey>,
    /// Extension `TransferTSIG`: the key transfers must be signed with (and NOTIFYs
    /// are signed with); `None`: transfers need no signature (the ACL still applies).
    pub transfer_tsig: Option<String>,
    /// Extension `Primaries`: secondary mode. The zone comes from these servers by zone
    /// transfer, and Mesos is not read at all.
    pub primaries: Vec<SocketAddr>,
    /// Extension `TransferMaxBytes`: a received transfer larger than this is refused.
    pub transfer_max_bytes: u64,
}

/// What the loader needs from the machine, so tests can supply their own.
#[derive(Clone, Debug)]
pub struct Environment {
    /// The home directory, for `~/` in the config path.
    pub home: Option<String>,
    /// The working directory, for relative config paths.
    pub cwd: PathBuf,
    /// Where resolv.conf is, for empty `Resolvers`.
    pub resolv_conf: PathBuf,
    /// Addresses of local interfaces (loopback included): never used as upstreams.
    pub local_addrs: Vec<IpAddr>,
}

impl Environment {
    /// This machine as it is.
    pub fn system() -> Environment {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Environment {
            // The reference reads USERPROFILE, then HOME; the later non-empty one wins.
            home: var("HOME").or_else(|| var("USERPROFILE")),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            local_addrs: if_addrs::get_if_addrs()
                .map(|ifs| ifs.into_iter().map(|i| i.ip()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Replaces the first `~/` with the home directory, then makes the path absolute.
pub fn expand_config_path(path: &str, env: &Environment) -> PathBuf {
    let home = env.home.clone().unwrap_or_else(|| ".".into());
    let expanded = path.replacen("~/", &format!("{home}/"), 1);
    let p = PathBuf::from(expanded);
    if p.is_absolute() { p } else { env.cwd.join(p) }
}

impl Config {
    /// `TransferTSIG`'s key (validated at load to be one of `TSIGKeys`).
    pub fn transfer_key(&self) -> Option<&TsigKey> {
        let name = self.transfer_tsig.as_ref()?;
        self.tsig_keys.iter().find(|k| k.is_named(name))
    }

    /// Loads and validates the file at `path` (as given on the command line).
    pub fn load(path: &str, env: &Environment) -> Result<Config, ConfigError> {
        let abs = expand_config_path(path, env);
        let text = std::fs::read_to_string(&abs).or_else(|_| {
            invalid(format!(
                "missing configuration file: {:?}",
                abs.display().to_string()
            ))
        })?;
        let config = Config::from_json(&text, &abs, env)?;
        // The document parsed above, so it parses here too.
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text) {
            for warning in keys::unknown_key_warnings(&doc) {
                tracing::warn!("config {:?}: {warning}", abs.display().to_string());
            }
        }
        Ok(config)
    }

    /// What [`Config::load`] warns about a document: its keys that no row knows.
    pub fn unknown_key_warnings(text: &str) -> Vec<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(doc)) => keys::unknown_key_warnings(&doc),
            _ => Vec::new(),
        }
    }

    /// Validates a configuration document; `file` is where it came from.
    pub fn from_json(text: &str, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let unmarshal = |detail: String| {
            ConfigError(format!(
                "failed to unmarshal config file {:?}: {detail}",
                file.display().to_string()
            ))
        };
        let doc: Value = serde_json::from_str(text).map_err(|e| unmarshal(e.to_string()))?;
        let Value::Object(doc) = doc else {
            return Err(unmarshal("the document must be a JSON object".into()));
        };
        let raw = Raw::from_document(&doc).map_err(|e| unmarshal(e.0))?;
        validate(&raw, file, env)
    }

    /// The label rules in force.
    pub fn label_spec(&self) -> crate::names::labels::LabelSpec {
        if self.enforce_rfc952 {
            crate::names::labels::LabelSpec::Rfc952
        } else {
            crate::names::labels::LabelSpec::Rfc1123
        }
    }
}

fn validate(raw: &Raw, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
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
    let state_file = (!state_file_text.is_empty()).then(|| {
        // Relative to the config file, so a bundled example works from any directory.
        let p = PathBuf::from(&state_file_text);
        match file.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        }
    });

    let reverse_zones = validate_reverse_zones(&raw.strings("ReverseZones").unwrap_or_default())?;
    let reverse_policy = match raw.string("ReversePolicy").to_ascii_lowercase().as_str() {
        "one" => ReversePolicy::One,
        "unambiguous" => ReversePolicy::Unambiguous,
        "all" => ReversePolicy::All,
        other => {
            return invalid(format!(
                "ReversePolicy: unknown value {other:?} (use \"one\", \"unambiguous\" or \"all\")"
            ));
        }
    };

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

    let state_api = match raw.string("StateAPI").to_ascii_lowercase().as_str() {
        "auto" => StateApi::Auto,
        "subscribe" => StateApi::Subscribe,
        "poll" => StateApi::Poll,
        other => {
            return invalid(format!(
                "StateAPI: unknown value {other:?} (use \"auto\", \"subscribe\" or \"poll\")"
            ));
        }
    };

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
        notify_secondaries: validate_resolvers(
            "NotifySecondaries",
            &raw.strings("NotifySecondaries").unwrap_or_default(),
        )?,
        primaries,
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
        let source = match name.as_str() {
            "host" => IpSource::Host,
            "docker" => IpSource::Docker,
            "mesos" => IpSource::Mesos,
            "netinfo" => IpSource::Netinfo,
            _ => {
                return invalid(format!(
                    "IPSources: invalid ip source {name:?} (host, docker, mesos or netinfo)"
                ));
            }
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

fn validate_certificates(raw: &Raw) -> Result<(), ConfigError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (ca, cert, key) = (
        raw.string("CACertFile"),
        raw.string("CertFile"),
        raw.string("KeyFile"),
    );
    if !ca.is_empty() {
        let path = &ca;
        let bytes = std::fs::read(path)
            .or_else(|e| invalid(format!("CACertFile: open failed: {path}: {e}")))?;
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
        match certs {
            Ok(c) if !c.is_empty() => {}
            _ => {
                return invalid(format!(
                    "CACertFile: parsing failed: {path}: no PEM certificate"
                ));
            }
        }
    }
    match (cert.is_empty(), key.is_empty()) {
        (false, true) => return invalid("KeyFile: Missing private key for CertFile"),
        (true, false) => return invalid("CertFile: Missing certificate for KeyFile"),
        (false, false) => {
            if let Err(e) = CertificateDer::from_pem_file(&cert) {
                return invalid(format!("CertFile: {cert}: {e}"));
            }
            if let Err(e) = PrivateKeyDer::from_pem_file(&key) {
                return invalid(format!("KeyFile: {key}: {e}"));
            }
        }
        (true, true) => {}
    }
    Ok(())
}

fn load_iam(path: &str) -> Result<IamConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .or_else(|e| invalid(format!("IAMConfigFile: {path}: {e}")))?;
    let doc: Value = serde_json::from_str(&text)
        .or_else(|_| invalid(format!("IAMConfigFile: {path}: invalid IAM JSON")))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let iam = IamConfig {
        uid: field("uid"),
        private_key: field("private_key"),
        login_endpoint: field("login_endpoint"),
    };
    if !iam.login_endpoint.is_empty() && !is_http_url(&iam.login_endpoint) {
        return invalid(format!(
            "IAMConfigFile: {path}: login_endpoint {:?} is not an http(s) URL",
            iam.login_endpoint
        ));
    }
    Ok(iam)
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}

fn validate_auth(raw: &Raw) -> Result<(AuthMechanism, Option<IamConfig>), ConfigError> {
    let iam_file = raw.string("IAMConfigFile");
    let iam = if iam_file.is_empty() {
        None
    } else {
        Some(load_iam(&iam_file)?)
    };
    let credentials = raw.credentials("MesosCredentials");
    let mechanism = match raw.string("MesosAuthentication").as_str() {
        "" => AuthMechanism::None,
        "basic" => AuthMechanism::Basic,
        "iam" => AuthMechanism::Iam,
        other => {
            return invalid(format!(
                "MesosAuthentication: unknown mechanism {other:?} (use \"\", \"basic\" or \"iam\")"
            ));
        }
    };
    match mechanism {
        AuthMechanism::Basic
            if credentials.principal.is_empty() && credentials.secret.is_empty() =>
        {
            return invalid(
                "MesosCredentials: invalid HTTP Basic configuration: principal and secret are both empty",
            );
        }
        AuthMechanism::Iam => match &iam {
            None => {
                return invalid(
                    "IAMConfigFile: missing configuration for specified authentication mechanism iam",
                );
            }
            Some(c)
                if c.uid.is_empty() || c.private_key.is_empty() || c.login_endpoint.is_empty() =>
            {
                return invalid(
                    "IAMConfigFile: invalid HTTP IAM configuration: uid, private_key and login_endpoint are all required",
                );
            }
            Some(_) => {}
        },
        _ => {}
    }
    Ok((mechanism, iam))
}

/// Whether `Listener` is a wildcard (`0.0.0.0` or `::`): then the name server's own
/// address records are this machine's addresses, not the listener's.
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}
