//! The validated configuration and the values its keys take.

use crate::dns::tsig::TsigKey;
use crate::names::cidr::Cidr;
use crate::names::reverse::ReverseZone;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// A setting config.json spells as one of a few words: each word and its value are
/// written once, in `SPELLINGS`, for reading the key, showing it (`/v1/config`) and
/// listing the choices in an error.
pub trait Spelled: Copy + PartialEq + Sized + 'static {
    /// Every value with its spelling.
    const SPELLINGS: &'static [(&'static str, Self)];

    /// As config.json spells it.
    fn name(self) -> &'static str {
        Self::SPELLINGS
            .iter()
            .find(|(_, value)| *value == self)
            .map_or("", |(word, _)| word)
    }

    /// The value `word` spells (exactly as written in `SPELLINGS`).
    fn from_name(word: &str) -> Option<Self> {
        Self::SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == word)
            .map(|(_, value)| *value)
    }

    /// The spellings as an error lists them: `"a", "b" or "c"`.
    fn choices() -> String {
        let quoted: Vec<String> = Self::SPELLINGS
            .iter()
            .map(|(w, _)| format!("{w:?}"))
            .collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// Where a task's addresses come from (docs/spec/mesos-dns-behavior.md §3.6).
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

impl Spelled for IpSource {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("host", IpSource::Host),
        ("docker", IpSource::Docker),
        ("mesos", IpSource::Mesos),
        ("netinfo", IpSource::Netinfo),
    ];
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

impl Spelled for StateApi {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("auto", StateApi::Auto),
        ("subscribe", StateApi::Subscribe),
        ("poll", StateApi::Poll),
    ];
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

impl Spelled for ReversePolicy {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("one", ReversePolicy::One),
        ("unambiguous", ReversePolicy::Unambiguous),
        ("all", ReversePolicy::All),
    ];
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

impl Spelled for AuthMechanism {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("", AuthMechanism::None),
        ("basic", AuthMechanism::Basic),
        ("iam", AuthMechanism::Iam),
    ];
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

pub(crate) fn redacted(secret: &str) -> &'static str {
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
    /// Extension `DataDirectory`: where the zone is kept across restarts (secondary
    /// mode); `None`: in memory only. Relative to config.json's directory.
    pub data_directory: Option<PathBuf>,
    /// Extension `LeaderElection`: the ZooKeeper URL (`zk://hosts/path`) under which
    /// primaries elect the one that follows Mesos; `None`: this primary follows Mesos
    /// on its own.
    pub leader_election: Option<String>,
    /// Extension `LeaderElectionTimeout`: the election's ZooKeeper session timeout, in
    /// seconds.
    pub leader_election_timeout: u64,
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

/// Whether `Listener` is a wildcard (`0.0.0.0` or `::`): then the name server's own
/// address records are this machine's addresses, not the listener's.
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Spelled + fmt::Debug>() {
        for &(word, value) in T::SPELLINGS {
            assert_eq!(T::from_name(word), Some(value));
            assert_eq!(value.name(), word);
        }
    }

    #[test]
    fn every_spelling_reads_back_as_its_value() {
        round_trips::<IpSource>();
        round_trips::<StateApi>();
        round_trips::<ReversePolicy>();
        round_trips::<AuthMechanism>();
        assert_eq!(ReversePolicy::choices(), r#""one", "unambiguous" or "all""#);
        assert_eq!(ReversePolicy::from_name("One"), None, "exact spelling only");
    }
}
