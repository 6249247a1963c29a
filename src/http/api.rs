//! Routes of the HTTP API. `/v1/...` answers as Mesos-DNS does (docs/spec/mesos-dns-behavior.md §6), except where
//! docs/compatibility.md says otherwise; `/health`, `/ready` and `/metrics` are ours.

use super::HttpContext;
use super::metrics::render_metrics;
use crate::records::documents::{Document, DocumentKind};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
    pub content_length: usize,
    pub content_type: Option<String>,
}

pub(crate) enum Body {
    Owned(Vec<u8>),
    /// A document cached in the snapshot (`/v1/enumerate`, `/v1/axfr`).
    Shared(Arc<Document>),
}

pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
}

impl Response {
    pub(crate) fn text(status: u16, text: &str) -> Response {
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
pub(crate) fn is_probe(path: &str) -> bool {
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

pub(crate) fn route(request: &Request, ctx: &HttpContext) -> Response {
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
        Route::Config => Response::json(&crate::config::keys::effective_json(
            &config,
            snapshot.serial,
        )),
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
        // A secondary (or a standby) holds records, not the Mesos state they were made
        // from.
        Route::Enumerate if ctx.follows_primaries() => {
            let mut response = Response::json(&json!({
                "error": "/v1/enumerate needs a Mesos source; this server is a secondary (Primaries) or a standby (LeaderElection) and holds only the transferred zone",
            }));
            response.status = 501;
            response
        }
        Route::Enumerate => document(ctx, DocumentKind::Enumerate, snapshot.serial),
        Route::Axfr => document(ctx, DocumentKind::Axfr, snapshot.serial),
        Route::Metrics => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: Body::Owned(render_metrics(ctx, &snapshot).into_bytes()),
        },
        Route::Health => Response::text(200, "ok"),
        Route::Ready => match super::health::not_ready_reason(ctx, snapshot.ready) {
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

fn document(ctx: &HttpContext, kind: DocumentKind, serial: u32) -> Response {
    match ctx.documents.get(kind, serial) {
        Some(doc) => Response::shared_json(doc),
        None => Response::text(503, "the document could not be rendered in time\n"),
    }
}
