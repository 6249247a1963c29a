//! Routes of the HTTP API. `/v1/...` answers as Mesos-DNS does (spec §6), except where
//! docs/compatibility.md says otherwise; `/health`, `/ready` and `/metrics` are ours.

use super::HttpContext;
use super::metrics::render_metrics;
use crate::config::Config;
use crate::snapshot::document::{Document, DocumentKind};
use crate::status::{Status, unix_ms};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Request {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
    pub content_length: usize,
    pub content_type: Option<String>,
}

pub enum Body {
    Owned(Vec<u8>),
    /// A document cached in the snapshot (`/v1/enumerate`, `/v1/axfr`).
    Shared(Arc<Document>),
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
}

impl Response {
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Body::Owned(text.as_bytes().to_vec()),
        }
    }

    fn json(value: &Value) -> Response {
        Response {
            status: 200,
            content_type: "application/json",
            body: Body::Owned(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    fn shared_json(doc: Arc<Document>) -> Response {
        Response {
            status: 200,
            content_type: "application/json",
            body: Body::Shared(doc),
        }
    }
}

/// What a path names, before the method and Accept header are checked.
enum Route<'a> {
    Version,
    Config,
    Hosts(&'a str),
    HostPorts,
    Services(&'a str),
    Enumerate,
    Axfr,
    Metrics,
    Health,
    Ready,
}

fn parse_route<'a>(path: &'a str, enumeration_on: bool) -> Option<Route<'a>> {
    let segment = |s: &'a str| (!s.is_empty() && !s.contains('/')).then_some(s);
    Some(match path {
        "/v1/version" => Route::Version,
        "/v1/config" => Route::Config,
        "/v1/enumerate" if enumeration_on => Route::Enumerate,
        "/v1/axfr" if enumeration_on => Route::Axfr,
        "/metrics" => Route::Metrics,
        "/health" => Route::Health,
        "/ready" => Route::Ready,
        _ => {
            if let Some(rest) = path.strip_prefix("/v1/hosts/") {
                match rest.strip_suffix("/ports") {
                    Some(host) => segment(host).map(|_| Route::HostPorts)?,
                    None => Route::Hosts(segment(rest)?),
                }
            } else if let Some(rest) = path.strip_prefix("/v1/services/") {
                Route::Services(segment(rest)?)
            } else {
                return None;
            }
        }
    })
}

/// `/health` and `/ready`: cheap, never blocking, so the event loop answers them itself.
pub fn is_probe(path: &str) -> bool {
    path == "/health" || path == "/ready"
}

/// Whether an Accept header allows JSON (parameters after `;` ignored).
fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    accept.split(',').any(|item| {
        let media = item.split(';').next().unwrap_or("").trim();
        media == "*/*" || media == "application/json" || media == "application/*"
    })
}

pub fn route(request: &Request, ctx: &HttpContext) -> Response {
    let config = ctx.config.load();
    let Some(route) = parse_route(&request.path, config.enumeration_on) else {
        return Response::text(404, "404: Page Not Found");
    };
    if request.method != "GET" && request.method != "HEAD" {
        return Response::text(405, "405: Method Not Allowed");
    }
    let is_v1 = request.path.starts_with("/v1/");
    if is_v1 && !accepts_json(request.accept.as_deref()) {
        return Response::text(406, "406: Not Acceptable");
    }
    let snapshot = ctx.snapshot.load();
    match route {
        Route::Version => Response::json(&json!({
            "Service": "Mesos-DNS",
            "URL": "https://github.com/mesosphere/mesos-dns",
            "Version": env!("CARGO_PKG_VERSION"),
        })),
        Route::Config => Response::json(&config_json(&config, snapshot.serial)),
        Route::HostPorts => Response::text(501, "To be implemented..."),
        Route::Hosts(host) => {
            let name = normalise(host);
            let (v4, v6) = snapshot.addresses(&name);
            let ips = v4
                .iter()
                .map(|ip| ip.to_string())
                .chain(v6.iter().map(|ip| ip.to_string()));
            let entries: Vec<Value> = ips.map(|ip| json!({"host": name, "ip": ip})).collect();
            Response::json(&Value::Array(entries))
        }
        Route::Services(service) => {
            let name = normalise(service);
            let mut entries = Vec::new();
            for (target, port) in snapshot.services(&name) {
                let (v4, v6) = snapshot.addresses(&target);
                let ips = v4
                    .iter()
                    .map(|ip| ip.to_string())
                    .chain(v6.iter().map(|ip| ip.to_string()));
                for ip in ips {
                    entries.push(json!({"service": name, "host": target, "ip": ip, "port": port.to_string()}));
                }
            }
            Response::json(&Value::Array(entries))
        }
        Route::Enumerate => document(ctx, DocumentKind::Enumerate, snapshot.serial),
        Route::Axfr => document(ctx, DocumentKind::Axfr, snapshot.serial),
        Route::Metrics => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: Body::Owned(render_metrics(ctx, &snapshot).into_bytes()),
        },
        Route::Health => Response::text(200, "ok"),
        Route::Ready => match not_ready_reason(ctx, snapshot.ready) {
            None => Response::text(200, "ready"),
            Some(why) => Response::text(503, &format!("not ready: {why}")),
        },
    }
}

/// Lower-cased, with a trailing dot.
fn normalise(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n
}

/// Why `/ready` says no: no state loaded yet, or the last good refresh is too old.
pub fn not_ready_reason(ctx: &HttpContext, snapshot_ready: bool) -> Option<String> {
    if !snapshot_ready {
        return Some("no state loaded yet".into());
    }
    if ctx
        .status
        .leader_missing
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Some("no leading master known (ZkDetectionTimeout)".into());
    }
    let last = Status::get(&ctx.status.last_refresh_ok_ms);
    let age = unix_ms().saturating_sub(last);
    let config = ctx.config.load();
    // A subscription's records come at least once per heartbeat interval.
    let period_ms = if ctx
        .status
        .subscribed
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        Status::get(&ctx.status.heartbeat_ms).max(1000)
    } else {
        config.refresh_seconds * 1000
    };
    let stale_after_ms = period_ms * config.ready_stale_refreshes;
    (age > stale_after_ms).then(|| format!("last successful refresh {} s ago", age / 1000))
}

fn host_port_text(addr: &std::net::SocketAddr) -> String {
    if addr.port() == 53 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

/// `/v1/config`: the effective configuration, keys in the reference's order, secrets
/// redacted, then this server's extension keys.
pub fn config_json(c: &Config, serial: u32) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("RefreshSeconds", json!(c.refresh_seconds));
    put("Port", json!(c.port));
    put("Timeout", json!(c.timeout_seconds));
    put("StateTimeoutSeconds", json!(c.state_timeout_seconds));
    put("ZkDetectionTimeout", json!(c.zk_detection_timeout));
    put("HttpPort", json!(c.http_port));
    put("TTL", json!(c.ttl));
    put("SRVRecordDefaultWeight", json!(c.srv_record_default_weight));
    put("SOASerial", json!(serial));
    put("SOARefresh", json!(c.soa_refresh));
    put("SOARetry", json!(c.soa_retry));
    put("SOAExpire", json!(c.soa_expire));
    put("SOAMinttl", json!(c.soa_minttl));
    put("SOAMname", json!(c.soa_mname));
    put("SOARname", json!(c.soa_rname));
    put("Masters", json!(c.masters));
    let zones: serde_json::Map<String, Value> = c
        .zone_resolvers
        .iter()
        .map(|(z, list)| {
            (
                z.clone(),
                json!(list.iter().map(host_port_text).collect::<Vec<_>>()),
            )
        })
        .collect();
    put("ZoneResolvers", Value::Object(zones));
    put(
        "Resolvers",
        json!(c.resolvers.iter().map(host_port_text).collect::<Vec<_>>()),
    );
    put(
        "IPSources",
        json!(c.ip_sources.iter().map(|s| s.name()).collect::<Vec<_>>()),
    );
    put("Zk", json!(c.zk));
    put("Domain", json!(c.domain));
    put("File", json!(c.file));
    put("Listener", json!(c.listener.to_string()));
    put("HTTPListener", json!(c.http_listener.to_string()));
    put("RecurseOn", json!(c.recurse_on));
    put("DnsOn", json!(c.dns_on));
    put("HttpOn", json!(c.http_on));
    put("ExternalOn", json!(c.external_on));
    put("EnforceRFC952", json!(c.enforce_rfc952));
    put("SetTruncateBit", json!(c.set_truncate_bit));
    put("EnumerationOn", json!(c.enumeration_on));
    put("MesosHTTPSOn", json!(c.mesos_https_on));
    put("CACertFile", json!(c.ca_cert_file));
    put("CertFile", json!(c.cert_file));
    put("KeyFile", json!(c.key_file));
    let secret = if c.mesos_credentials.secret.is_empty() {
        ""
    } else {
        "<redacted>"
    };
    put(
        "MesosCredentials",
        json!({"Principal": c.mesos_credentials.principal, "Secret": secret}),
    );
    put("IAMConfigFile", json!(c.iam_config_file));
    put("MesosAuthentication", json!(c.mesos_authentication.name()));
    put(
        "StateFile",
        json!(c.state_file.as_ref().map(|p| p.display().to_string())),
    );
    put("UDPWorkers", json!(c.udp_workers));
    put("EDNSMaxUDPSize", json!(c.edns_max_udp_size));
    put("ForwardCacheSize", json!(c.forward_cache_size));
    put("ReadyStaleRefreshes", json!(c.ready_stale_refreshes));
    put("StateAPI", json!(c.state_api.name()));
    put("CoalesceMilliseconds", json!(c.coalesce_ms));
    Value::Object(m)
}

fn document(ctx: &HttpContext, kind: DocumentKind, serial: u32) -> Response {
    match ctx.documents.get(kind, serial) {
        Some(doc) => Response::shared_json(doc),
        None => Response::text(503, "the document could not be rendered in time\n"),
    }
}
