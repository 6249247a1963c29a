//! Every config.json key in one table: its spelling, JSON type and bounds, default, how
//! SIGHUP takes it up, how `/v1/config` shows it, and which `Config` fields it sets.
//! Parsing ([`Raw`]), `/v1/config` ([`effective_json`]) and SIGHUP ([`reload`]) all
//! walk this table, so a new key is one row here plus its validation in `mod.rs`.

use super::{Config, ConfigError, Spelled, invalid};
use serde_json::{Map, Value, json};

/// How SIGHUP takes up a key's new value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reload {
    /// At once: records, answers and forwarding follow it.
    Live,
    /// With the client that asks the masters, rebuilt on every SIGHUP (so renewed
    /// certificates are read again); kept as it was if the new client cannot be built.
    Source,
    /// Only at restart: a change is logged and the old value stays.
    Restart,
}

/// The JSON a key takes. `null` leaves a scalar at its default and empties a list or map.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Str,
    Bool,
    Strings,
    /// `{"zone": ["ip:port", ...]}`.
    ZoneLists,
    /// `{"principal": "...", "secret": "..."}`, names in any case.
    Credentials,
    /// `{"key name": {"algorithm": "...", "secret": "..."}}`, field names in any case.
    TsigKeys,
}

/// A key's value before the document overlays it.
#[derive(Clone, Copy, Debug)]
enum Default {
    Int(i64),
    Str(&'static str),
    Bool(bool),
    List(&'static [&'static str]),
    /// Not configured (`Masters`, `File`): told apart from an empty value.
    Absent,
    EmptyObject,
}

impl Default {
    fn value(self) -> Value {
        match self {
            Default::Int(i) => json!(i),
            Default::Str(s) => json!(s),
            Default::Bool(b) => json!(b),
            Default::List(l) => json!(l),
            Default::Absent => Value::Null,
            Default::EmptyObject => json!({}),
        }
    }
}

/// One config.json key.
pub(crate) struct Key {
    /// As `/v1/config` spells it; the document may use any case.
    pub name: &'static str,
    kind: Kind,
    default: Default,
    /// How SIGHUP takes it up.
    pub reload: Reload,
    /// Its effective value in `/v1/config` (secrets redacted); the second argument is
    /// the serial in force.
    show: fn(&Config, u32) -> Value,
    /// Copies the fields this key sets from the second config into the first.
    take: fn(&mut Config, &Config),
}

const ANY: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const U32: Kind = Kind::Int {
    min: 0,
    max: u32::MAX as i64,
};

#[rustfmt::skip]
/// Every key, in the order the reference's `/v1/config` lists them, then ours.
pub(crate) const KEYS: &[Key] = &[
    Key { name: "RefreshSeconds", kind: ANY, default: Default::Int(60), reload: Reload::Live,
          show: |c, _| json!(c.refresh_seconds), take: |to, from| to.refresh_seconds = from.refresh_seconds },
    Key { name: "Port", kind: ANY, default: Default::Int(53), reload: Reload::Restart,
          show: |c, _| json!(c.port), take: |to, from| to.port = from.port },
    Key { name: "Timeout", kind: ANY, default: Default::Int(5), reload: Reload::Live,
          show: |c, _| json!(c.timeout_seconds), take: |to, from| to.timeout_seconds = from.timeout_seconds },
    Key { name: "StateTimeoutSeconds", kind: ANY, default: Default::Int(300), reload: Reload::Source,
          show: |c, _| json!(c.state_timeout_seconds),
          take: |to, from| to.state_timeout_seconds = from.state_timeout_seconds },
    Key { name: "ZkDetectionTimeout", kind: ANY, default: Default::Int(30), reload: Reload::Live,
          show: |c, _| json!(c.zk_detection_timeout),
          take: |to, from| to.zk_detection_timeout = from.zk_detection_timeout },
    Key { name: "HttpPort", kind: ANY, default: Default::Int(8123), reload: Reload::Restart,
          show: |c, _| json!(c.http_port), take: |to, from| to.http_port = from.http_port },
    Key { name: "TTL", kind: Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 },
          default: Default::Int(60), reload: Reload::Live,
          show: |c, _| json!(c.ttl), take: |to, from| to.ttl = from.ttl },
    Key { name: "SRVRecordDefaultWeight", kind: Kind::Int { min: 0, max: u16::MAX as i64 },
          default: Default::Int(1), reload: Reload::Live,
          show: |c, _| json!(c.srv_record_default_weight),
          take: |to, from| to.srv_record_default_weight = from.srv_record_default_weight },
    // Read and checked, but the serial is ours: it moves when the records do.
    Key { name: "SOASerial", kind: U32, default: Default::Int(0), reload: Reload::Live,
          show: |_, serial| json!(serial), take: |_, _| {} },
    Key { name: "SOARefresh", kind: U32, default: Default::Int(60), reload: Reload::Live,
          show: |c, _| json!(c.soa_refresh), take: |to, from| to.soa_refresh = from.soa_refresh },
    Key { name: "SOARetry", kind: U32, default: Default::Int(600), reload: Reload::Live,
          show: |c, _| json!(c.soa_retry), take: |to, from| to.soa_retry = from.soa_retry },
    Key { name: "SOAExpire", kind: U32, default: Default::Int(86400), reload: Reload::Live,
          show: |c, _| json!(c.soa_expire), take: |to, from| to.soa_expire = from.soa_expire },
    Key { name: "SOAMinttl", kind: U32, default: Default::Int(60), reload: Reload::Live,
          show: |c, _| json!(c.soa_minttl), take: |to, from| to.soa_minttl = from.soa_minttl },
    Key { name: "SOAMname", kind: Kind::Str, default: Default::Str("ns1.mesos"), reload: Reload::Live,
          show: |c, _| json!(c.soa_mname), take: |to, from| to.soa_mname.clone_from(&from.soa_mname) },
    Key { name: "SOARname", kind: Kind::Str, default: Default::Str("root.ns1.mesos"), reload: Reload::Live,
          show: |c, _| json!(c.soa_rname), take: |to, from| to.soa_rname.clone_from(&from.soa_rname) },
    Key { name: "Masters", kind: Kind::Strings, default: Default::Absent, reload: Reload::Restart,
          show: |c, _| json!(c.masters), take: |to, from| to.masters.clone_from(&from.masters) },
    Key { name: "ZoneResolvers", kind: Kind::ZoneLists, default: Default::EmptyObject, reload: Reload::Live,
          show: |c, _| {
              let zones: Map<String, Value> = c.zone_resolvers.iter()
                  .map(|(z, list)| (z.clone(), json!(list.iter().map(resolver_text).collect::<Vec<_>>())))
                  .collect();
              Value::Object(zones)
          },
          take: |to, from| to.zone_resolvers.clone_from(&from.zone_resolvers) },
    Key { name: "Resolvers", kind: Kind::Strings, default: Default::List(&["8.8.8.8"]), reload: Reload::Live,
          show: |c, _| json!(c.resolvers.iter().map(resolver_text).collect::<Vec<_>>()),
          take: |to, from| to.resolvers.clone_from(&from.resolvers) },
    Key { name: "IPSources", kind: Kind::Strings, default: Default::List(&["netinfo", "mesos", "host"]),
          reload: Reload::Live,
          show: |c, _| json!(c.ip_sources.iter().map(|s| s.name()).collect::<Vec<_>>()),
          take: |to, from| to.ip_sources.clone_from(&from.ip_sources) },
    Key { name: "Zk", kind: Kind::Str, default: Default::Str(""), reload: Reload::Restart,
          show: |c, _| json!(c.zk), take: |to, from| to.zk.clone_from(&from.zk) },
    Key { name: "Domain", kind: Kind::Str, default: Default::Str("mesos"), reload: Reload::Live,
          show: |c, _| json!(c.domain), take: |to, from| to.domain.clone_from(&from.domain) },
    Key { name: "File", kind: Kind::Str, default: Default::Absent, reload: Reload::Restart,
          show: |c, _| json!(c.file), take: |to, from| to.file.clone_from(&from.file) },
    Key { name: "Listener", kind: Kind::Str, default: Default::Str("0.0.0.0"), reload: Reload::Restart,
          show: |c, _| json!(c.listener.to_string()), take: |to, from| to.listener = from.listener },
    Key { name: "HTTPListener", kind: Kind::Str, default: Default::Str("0.0.0.0"), reload: Reload::Restart,
          show: |c, _| json!(c.http_listener.to_string()), take: |to, from| to.http_listener = from.http_listener },
    Key { name: "RecurseOn", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Live,
          show: |c, _| json!(c.recurse_on), take: |to, from| to.recurse_on = from.recurse_on },
    Key { name: "DnsOn", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Restart,
          show: |c, _| json!(c.dns_on), take: |to, from| to.dns_on = from.dns_on },
    Key { name: "HttpOn", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Restart,
          show: |c, _| json!(c.http_on), take: |to, from| to.http_on = from.http_on },
    Key { name: "ExternalOn", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Restart,
          show: |c, _| json!(c.external_on), take: |to, from| to.external_on = from.external_on },
    Key { name: "EnforceRFC952", kind: Kind::Bool, default: Default::Bool(false), reload: Reload::Live,
          show: |c, _| json!(c.enforce_rfc952), take: |to, from| to.enforce_rfc952 = from.enforce_rfc952 },
    Key { name: "SetTruncateBit", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Live,
          show: |c, _| json!(c.set_truncate_bit), take: |to, from| to.set_truncate_bit = from.set_truncate_bit },
    Key { name: "EnumerationOn", kind: Kind::Bool, default: Default::Bool(true), reload: Reload::Live,
          show: |c, _| json!(c.enumeration_on), take: |to, from| to.enumeration_on = from.enumeration_on },
    Key { name: "MesosHTTPSOn", kind: Kind::Bool, default: Default::Bool(false), reload: Reload::Source,
          show: |c, _| json!(c.mesos_https_on), take: |to, from| to.mesos_https_on = from.mesos_https_on },
    Key { name: "CACertFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Source,
          show: |c, _| json!(c.ca_cert_file), take: |to, from| to.ca_cert_file.clone_from(&from.ca_cert_file) },
    Key { name: "CertFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Source,
          show: |c, _| json!(c.cert_file), take: |to, from| to.cert_file.clone_from(&from.cert_file) },
    Key { name: "KeyFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Source,
          show: |c, _| json!(c.key_file), take: |to, from| to.key_file.clone_from(&from.key_file) },
    Key { name: "MesosCredentials", kind: Kind::Credentials, default: Default::EmptyObject,
          reload: Reload::Source,
          show: |c, _| json!({
              "Principal": c.mesos_credentials.principal,
              "Secret": super::types::redacted(&c.mesos_credentials.secret),
          }),
          take: |to, from| to.mesos_credentials.clone_from(&from.mesos_credentials) },
    Key { name: "IAMConfigFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Source,
          show: |c, _| json!(c.iam_config_file),
          take: |to, from| {
              to.iam_config_file.clone_from(&from.iam_config_file);
              to.iam.clone_from(&from.iam);
          } },
    Key { name: "MesosAuthentication", kind: Kind::Str, default: Default::Str(""), reload: Reload::Source,
          show: |c, _| json!(c.mesos_authentication.name()),
          take: |to, from| to.mesos_authentication = from.mesos_authentication },
    // Extensions of ours.
    Key { name: "StateFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Restart,
          show: |c, _| json!(c.state_file.as_ref().map(|p| p.display().to_string())),
          take: |to, from| to.state_file.clone_from(&from.state_file) },
    Key { name: "UDPWorkers", kind: Kind::Int { min: 0, max: 1024 }, default: Default::Int(0),
          reload: Reload::Restart,
          show: |c, _| json!(c.udp_workers), take: |to, from| to.udp_workers = from.udp_workers },
    Key { name: "EDNSMaxUDPSize", kind: Kind::Int { min: 512, max: 65535 }, default: Default::Int(1232),
          reload: Reload::Live,
          show: |c, _| json!(c.edns_max_udp_size), take: |to, from| to.edns_max_udp_size = from.edns_max_udp_size },
    Key { name: "ForwardCacheSize", kind: Kind::Int { min: 0, max: 100_000_000 }, default: Default::Int(10_000),
          reload: Reload::Live,
          show: |c, _| json!(c.forward_cache_size),
          take: |to, from| to.forward_cache_size = from.forward_cache_size },
    Key { name: "ReadyStaleRefreshes", kind: Kind::Int { min: 1, max: 1_000_000 }, default: Default::Int(3),
          reload: Reload::Live,
          show: |c, _| json!(c.ready_stale_refreshes),
          take: |to, from| to.ready_stale_refreshes = from.ready_stale_refreshes },
    Key { name: "StateAPI", kind: Kind::Str, default: Default::Str("auto"), reload: Reload::Restart,
          show: |c, _| json!(c.state_api.name()), take: |to, from| to.state_api = from.state_api },
    Key { name: "CoalesceMilliseconds", kind: Kind::Int { min: 0, max: 10_000 }, default: Default::Int(5),
          reload: Reload::Live,
          show: |c, _| json!(c.coalesce_ms), take: |to, from| to.coalesce_ms = from.coalesce_ms },
    Key { name: "MaxAnswers", kind: Kind::Int { min: 0, max: 65535 }, default: Default::Int(0),
          reload: Reload::Live,
          show: |c, _| json!(c.max_answers), take: |to, from| to.max_answers = from.max_answers },
    Key { name: "HealthyOnly", kind: Kind::Bool, default: Default::Bool(false), reload: Reload::Live,
          show: |c, _| json!(c.healthy_only), take: |to, from| to.healthy_only = from.healthy_only },
    Key { name: "ReverseZones", kind: Kind::Strings, default: Default::List(&[]), reload: Reload::Live,
          show: |c, _| json!(c.reverse_zones.iter().map(|z| z.to_string()).collect::<Vec<_>>()),
          take: |to, from| to.reverse_zones.clone_from(&from.reverse_zones) },
    Key { name: "ReversePolicy", kind: Kind::Str, default: Default::Str("one"), reload: Reload::Live,
          show: |c, _| json!(c.reverse_policy.name()), take: |to, from| to.reverse_policy = from.reverse_policy },
    Key { name: "DCOSNames", kind: Kind::Bool, default: Default::Bool(false), reload: Reload::Live,
          show: |c, _| json!(c.dcos_names), take: |to, from| to.dcos_names = from.dcos_names },
    Key { name: "DCOSTTL", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: Default::Int(5),
          reload: Reload::Live,
          show: |c, _| json!(c.dcos_ttl), take: |to, from| to.dcos_ttl = from.dcos_ttl },
    Key { name: "TransferACL", kind: Kind::Strings, default: Default::List(&["127.0.0.0/8", "::1/128"]),
          reload: Reload::Live,
          show: |c, _| json!(c.transfer_acl.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
          take: |to, from| to.transfer_acl.clone_from(&from.transfer_acl) },
    Key { name: "IXFRJournal", kind: Kind::Int { min: 0, max: 100_000 }, default: Default::Int(1000),
          reload: Reload::Live,
          show: |c, _| json!(c.ixfr_journal), take: |to, from| to.ixfr_journal = from.ixfr_journal },
    Key { name: "NotifySecondaries", kind: Kind::Strings, default: Default::List(&[]), reload: Reload::Live,
          show: |c, _| json!(c.notify_secondaries.iter().map(resolver_text).collect::<Vec<_>>()),
          take: |to, from| to.notify_secondaries.clone_from(&from.notify_secondaries) },
    // Secrets are never shown: each key's algorithm only.
    Key { name: "TSIGKeys", kind: Kind::TsigKeys, default: Default::EmptyObject, reload: Reload::Live,
          show: |c, _| Value::Object(c.tsig_keys.iter()
              .map(|k| (k.label.clone(), json!({"Algorithm": k.algorithm_name, "Secret": "<redacted>"})))
              .collect()),
          take: |to, from| to.tsig_keys.clone_from(&from.tsig_keys) },
    Key { name: "SerialFile", kind: Kind::Str, default: Default::Str(""), reload: Reload::Restart,
          show: |c, _| json!(c.serial_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
          take: |to, from| to.serial_file.clone_from(&from.serial_file) },
    Key { name: "DataDirectory", kind: Kind::Str, default: Default::Str(""), reload: Reload::Restart,
          show: |c, _| json!(c.data_directory.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
          take: |to, from| to.data_directory.clone_from(&from.data_directory) },
    Key { name: "LeaderElection", kind: Kind::Str, default: Default::Str(""), reload: Reload::Restart,
          show: |c, _| json!(c.leader_election.clone().unwrap_or_default()),
          take: |to, from| to.leader_election.clone_from(&from.leader_election) },
    Key { name: "LeaderElectionTimeout", kind: Kind::Int { min: 1, max: 3600 }, default: Default::Int(10),
          reload: Reload::Restart,
          show: |c, _| json!(c.leader_election_timeout),
          take: |to, from| to.leader_election_timeout = from.leader_election_timeout },
    Key { name: "TransferTSIG", kind: Kind::Str, default: Default::Str(""), reload: Reload::Live,
          show: |c, _| json!(c.transfer_tsig.clone().unwrap_or_default()),
          take: |to, from| to.transfer_tsig.clone_from(&from.transfer_tsig) },
    // Secondary mode is chosen at start: a running server does not change its source.
    Key { name: "Primaries", kind: Kind::Strings, default: Default::List(&[]), reload: Reload::Restart,
          show: |c, _| json!(c.primaries.iter().map(resolver_text).collect::<Vec<_>>()),
          take: |to, from| to.primaries.clone_from(&from.primaries) },
    Key { name: "TransferMaxBytes", kind: Kind::Int { min: 65_536, max: i64::MAX }, default: Default::Int(1 << 30),
          reload: Reload::Live,
          show: |c, _| json!(c.transfer_max_bytes), take: |to, from| to.transfer_max_bytes = from.transfer_max_bytes },
];

/// An upstream as `/v1/config` writes it: the port only when it is not 53.
fn resolver_text(addr: &std::net::SocketAddr) -> String {
    if addr.port() == 53 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

/// The effective configuration as `/v1/config` shows it: every key in table order.
pub(crate) fn effective_json(config: &Config, serial: u32) -> Value {
    Value::Object(
        KEYS.iter()
            .map(|k| (k.name.to_string(), (k.show)(config, serial)))
            .collect(),
    )
}

/// What SIGHUP does with a new configuration.
pub(crate) struct ReloadPlan {
    /// The old configuration with every live key taken from the new one.
    pub live: Config,
    /// `live` with the keys of the masters' client taken from the new one too: applied
    /// when that client can be built.
    pub with_source: Config,
    /// Restart-only keys whose value changed (they keep their old value).
    pub need_restart: Vec<&'static str>,
}

/// Sorts the keys of `new` into what applies now and what waits for a restart.
pub(crate) fn reload(old: &Config, new: &Config) -> ReloadPlan {
    let mut live = old.clone();
    let mut need_restart = Vec::new();
    for key in KEYS {
        match key.reload {
            Reload::Live => (key.take)(&mut live, new),
            Reload::Source => {}
            Reload::Restart => {
                if (key.show)(old, 0) != (key.show)(new, 0) {
                    need_restart.push(key.name);
                }
            }
        }
    }
    let mut with_source = live.clone();
    for key in KEYS.iter().filter(|k| k.reload == Reload::Source) {
        (key.take)(&mut with_source, new);
    }
    ReloadPlan {
        live,
        with_source,
        need_restart,
    }
}

/// One warning line for each key of the document that no row knows (matched in any
/// case), naming the closest known key when one is near (a typo). Mesos-DNS ignores such
/// keys silently; so does this server, but it says so.
pub(crate) fn unknown_key_warnings(doc: &Map<String, Value>) -> Vec<String> {
    doc.keys()
        .filter(|written| !KEYS.iter().any(|k| k.name.eq_ignore_ascii_case(written)))
        .map(|written| match closest_key(written) {
            Some(known) => format!("unknown key {written:?} ignored (did you mean {known:?}?)"),
            None => format!("unknown key {written:?} ignored"),
        })
        .collect()
}

/// The known key nearest to `written` by edit distance (any case), if it is near enough
/// to be a typo of it: at most a third of its letters differ, and at least one.
fn closest_key(written: &str) -> Option<&'static str> {
    let written = written.to_ascii_lowercase();
    KEYS.iter()
        .map(|k| {
            (
                strsim::levenshtein(&written, &k.name.to_ascii_lowercase()),
                k.name,
            )
        })
        .min()
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(1))
        .map(|(_, name)| name)
}

/// The document's values overlaid on the defaults, one per key of [`KEYS`], each of the
/// key's JSON type.
pub(crate) struct Raw {
    values: Vec<Value>,
}

impl Raw {
    /// Every key at its default, then the document's keys (matched in any case; others
    /// ignored) in document order.
    pub(crate) fn from_document(doc: &Map<String, Value>) -> Result<Raw, ConfigError> {
        let mut values: Vec<Value> = KEYS.iter().map(|k| k.default.value()).collect();
        for (written, v) in doc {
            let Some(i) = KEYS
                .iter()
                .position(|k| k.name.eq_ignore_ascii_case(written))
            else {
                continue;
            };
            if let Some(value) = read(KEYS[i].kind, written, v)? {
                values[i] = value;
            }
        }
        Ok(Raw { values })
    }

    fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        let index = KEYS.iter().position(|k| k.name == name);
        // Every key read must have its row: a test reading a missing one fails here.
        debug_assert!(index.is_some(), "config key {name} has no row in KEYS");
        index.and_then(|i| self.values.get(i)).unwrap_or(&NULL)
    }

    /// An integer key (its bounds already checked).
    pub(crate) fn int(&self, name: &str) -> i64 {
        self.get(name).as_i64().unwrap_or(0)
    }

    /// A string key; "" when absent.
    pub(crate) fn string(&self, name: &str) -> String {
        self.get(name).as_str().unwrap_or("").to_string()
    }

    /// A string key that may be absent (`File`).
    pub(crate) fn optional_string(&self, name: &str) -> Option<String> {
        self.get(name).as_str().map(str::to_string)
    }

    pub(crate) fn boolean(&self, name: &str) -> bool {
        self.get(name).as_bool().unwrap_or(false)
    }

    /// A list key; `None` when absent (not configured).
    pub(crate) fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).as_array().map(|items| {
            items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    }

    /// `ZoneResolvers`: zone → upstreams, in document order.
    pub(crate) fn zone_lists(&self, name: &str) -> Vec<(String, Vec<String>)> {
        let Some(map) = self.get(name).as_object() else {
            return Vec::new();
        };
        map.iter()
            .map(|(zone, list)| {
                let list = list.as_array().map_or_else(Vec::new, |l| {
                    l.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                });
                (zone.clone(), list)
            })
            .collect()
    }

    /// `TSIGKeys`: (name, algorithm, secret) of each key.
    pub(crate) fn tsig_keys(&self, name: &str) -> Vec<(String, String, String)> {
        let Some(map) = self.get(name).as_object() else {
            return Vec::new();
        };
        map.iter()
            .map(|(key, fields)| {
                let field = |f: &str| {
                    fields
                        .get(f)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (key.clone(), field("algorithm"), field("secret"))
            })
            .collect()
    }

    /// `MesosCredentials`: principal and secret.
    pub(crate) fn credentials(&self, name: &str) -> super::Credentials {
        let field = |f: &str| {
            self.get(name)
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        super::Credentials {
            principal: field("principal"),
            secret: field("secret"),
        }
    }
}

fn mismatch<T>(key: &str, want: &str, got: &Value) -> Result<T, ConfigError> {
    invalid(format!("{key}: expected {want}, got {got}"))
}

fn string_list(key: &str, v: &Value) -> Result<Value, ConfigError> {
    match v {
        Value::Null => Ok(json!([])),
        Value::Array(items) => {
            if let Some(bad) = items.iter().find(|i| !i.is_string()) {
                return mismatch(key, "a list of strings", bad);
            }
            Ok(v.clone())
        }
        other => mismatch(key, "a list of strings", other),
    }
}

/// Checks `v` against `kind`; `None` keeps the current value (a `null` scalar).
fn read(kind: Kind, key: &str, v: &Value) -> Result<Option<Value>, ConfigError> {
    if v.is_null() && matches!(kind, Kind::Int { .. } | Kind::Str | Kind::Bool) {
        return Ok(None);
    }
    let value = match (kind, v) {
        (Kind::Int { min, max }, Value::Number(n)) => match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => v.clone(),
            _ => return invalid(format!("{key}: {n} is not an integer in {min}..={max}")),
        },
        (Kind::Int { .. }, other) => return mismatch(key, "an integer", other),
        (Kind::Str, Value::String(_)) | (Kind::Bool, Value::Bool(_)) => v.clone(),
        (Kind::Str, other) => return mismatch(key, "a string", other),
        (Kind::Bool, other) => return mismatch(key, "true or false", other),
        (Kind::Strings, v) => string_list(key, v)?,
        (Kind::ZoneLists, Value::Null) => json!({}),
        (Kind::ZoneLists, Value::Object(map)) => {
            for list in map.values() {
                string_list(key, list)?;
            }
            v.clone()
        }
        (Kind::Credentials, Value::Null) => json!({}),
        (Kind::Credentials, Value::Object(map)) => {
            let mut out = Map::new();
            for (field, fv) in map {
                let lower = field.to_ascii_lowercase();
                if lower != "principal" && lower != "secret" {
                    continue;
                }
                match fv {
                    Value::Null => {}
                    Value::String(_) => {
                        out.insert(lower, fv.clone());
                    }
                    other => return mismatch(field, "a string", other),
                }
            }
            Value::Object(out)
        }
        (Kind::TsigKeys, Value::Null) => json!({}),
        (Kind::TsigKeys, Value::Object(map)) => {
            let mut out = Map::new();
            for (name, fields) in map {
                let Value::Object(fields) = fields else {
                    return mismatch(name, "an object with algorithm and secret", fields);
                };
                let mut normal = Map::new();
                for (field, fv) in fields {
                    let lower = field.to_ascii_lowercase();
                    if lower != "algorithm" && lower != "secret" {
                        continue;
                    }
                    match fv {
                        Value::String(_) => {
                            normal.insert(lower, fv.clone());
                        }
                        // The value is not quoted: it may be the secret.
                        _ => {
                            return invalid(format!(
                                "TSIGKeys[{name:?}].{field}: expected a string"
                            ));
                        }
                    }
                }
                out.insert(name.clone(), Value::Object(normal));
            }
            Value::Object(out)
        }
        (Kind::ZoneLists | Kind::Credentials | Kind::TsigKeys, other) => {
            return mismatch(key, "an object", other);
        }
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_fit_their_kinds() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS[..i]
                    .iter()
                    .all(|o| !o.name.eq_ignore_ascii_case(k.name)),
                "{} twice",
                k.name
            );
            let default = k.default.value();
            if !default.is_null() {
                assert!(read(k.kind, k.name, &default).is_ok(), "{}", k.name);
            }
        }
    }
}
