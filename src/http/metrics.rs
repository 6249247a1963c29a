//! `/metrics` in the Prometheus text format, encoded with prometheus-client from the
//! counters the workers keep (summed here, at scrape time) and the refresh status.

use super::HttpContext;
use crate::counters::{DropReason, PullResult, QTYPES, RCODES, TransferResult, WorkerCounters};
use crate::snapshot::Snapshot;
use crate::status::{Status, unix_ms};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// A scrape's view: the counters and the current snapshot.
#[derive(Debug)]
struct Scrape {
    requests: Vec<(&'static str, &'static str, u64)>,
    responses: Vec<(&'static str, &'static str, u64)>,
    forward_failures: u64,
    truncated: u64,
    dropped: Vec<(&'static str, u64)>,
    /// Secondary mode: NOTIFYs taken and refused.
    notifies: Option<[(&'static str, u64); 2]>,
    /// Secondary mode: bytes of transfers applied, by kind.
    received: Option<[(&'static str, u64); 2]>,
    records: [(&'static str, u64); 3],
    serial: u64,
    /// The zones served (apex text), for the per-zone series.
    zones: Vec<String>,
    /// Seconds since the zone was last confirmed: the last event, heartbeat or poll of
    /// the masters, or the last check a primary answered.
    zone_age_s: f64,
    /// The SOA refresh timer served.
    soa_refresh_s: u32,
    snapshot_age_s: f64,
    ready: bool,
    leader_missing: bool,
    /// The serial of the zone kept in `DataDirectory` (0: none kept).
    kept_serial: u64,
    /// Seconds a primary has been thought to hold a newer zone (0: current).
    behind_s: f64,
    /// `LeaderElection`: whether this primary leads, and the leader changes it saw.
    election: Option<(bool, u64)>,
    zk_sessions: u64,
    refreshes_ok: u64,
    refreshes_failed: u64,
    last_fetch_s: f64,
    fetch_s_total: f64,
    warnings_suppressed: u64,
    events: Vec<(&'static str, u64)>,
    subscriptions: u64,
    subscribed: bool,
    publishes: u64,
    journal: (u64, u64),
    bytes_read: [(&'static str, u64); 2],
    /// (role, kind, result, count) of zone transfers served here (primary) and asked
    /// of the primaries (secondary).
    transfers: Vec<(&'static str, &'static str, &'static str, u64)>,
    /// The allocator's totals (kind, bytes), when it can tell them.
    memory: Option<[(&'static str, u64); 5]>,
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        None,
        MetricType::Counter,
    )?)
}

/// A counter family with one label: one line per (label value, count).
fn counters_by(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value_label, value) in values {
        ConstCounter::new(*value).encode(family.encode_family(&[(label, *value_label)])?)?;
    }
    Ok(())
}

/// A gauge family with one label: one line per (label value, value).
fn gauges_by<N: EncodeGaugeValue + Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, N)],
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (value_label, value) in values {
        ConstGauge::new(*value).encode(family.encode_family(&[(label, *value_label)])?)?;
    }
    Ok(())
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> std::fmt::Result {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        {
            let mut family = encoder.encode_descriptor(
                "mesos_dns_requests",
                "DNS queries answered or dropped, by protocol and query type",
                None,
                MetricType::Counter,
            )?;
            for (protocol, qtype, value) in &self.requests {
                let labels = [("protocol", *protocol), ("qtype", *qtype)];
                ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "mesos_dns_responses",
                "DNS responses by rcode and by where the answer came from",
                None,
                MetricType::Counter,
            )?;
            for (rcode, source, value) in &self.responses {
                let labels = [("rcode", *rcode), ("source", *source)];
                ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "mesos_dns_transfers",
                "Zone transfer requests, by role, kind (axfr, ixfr) and result",
                None,
                MetricType::Counter,
            )?;
            for (role, kind, result, value) in &self.transfers {
                ConstCounter::new(*value).encode(family.encode_family(&[
                    ("role", *role),
                    ("kind", *kind),
                    ("result", *result),
                ])?)?;
            }
        }
        if let Some(notifies) = &self.notifies {
            counters_by(
                &mut encoder,
                "mesos_dns_notifies_received",
                "NOTIFYs received by a secondary: taken (from a listed primary) or refused",
                "result",
                notifies,
            )?;
        }
        if let Some(received) = &self.received {
            counters_by(
                &mut encoder,
                "mesos_dns_transfer_received_bytes",
                "Bytes of the zone transfers a secondary applied, by kind (axfr, ixfr)",
                "kind",
                received,
            )?;
        }
        counters_by(
            &mut encoder,
            "mesos_dns_dropped",
            "Packets that got no reply, by reason",
            "reason",
            &self.dropped,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_truncated",
            "Replies sent with TC set",
            self.truncated,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_upstream_failures",
            "Upstream exchanges that failed (timeout, error, bad reply) before the next try",
            self.forward_failures,
        )?;
        gauges_by(
            &mut encoder,
            "mesos_dns_snapshot_records",
            "Records in the published snapshot, by type",
            "type",
            &self.records.map(|(rtype, value)| (rtype, value as i64)),
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_snapshot_serial",
            "SOA serial of the published snapshot",
            self.serial as f64,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "mesos_dns_zone_serial",
                "SOA serial served, by zone",
                None,
                MetricType::Gauge,
            )?;
            for zone in &self.zones {
                ConstGauge::new(self.serial as i64)
                    .encode(family.encode_family(&[("zone", zone.as_str())])?)?;
            }
        }
        gauge(
            &mut encoder,
            "mesos_dns_zone_age_seconds",
            "Seconds since the zone was last confirmed: the masters' last event, heartbeat or poll, or the last check a primary answered",
            self.zone_age_s,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_zone_refresh_seconds",
            "The SOA refresh timer served (a secondary checks its primary this often)",
            f64::from(self.soa_refresh_s),
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_snapshot_age_seconds",
            "Seconds since the published snapshot was built",
            self.snapshot_age_s,
        )?;
        if let Some(memory) = &self.memory {
            gauges_by(
                &mut encoder,
                "mesos_dns_memory_bytes",
                "The allocator's memory: allocated (held live), active (in pages holding live data), resident, retained (mapped, given back), metadata",
                "kind",
                &memory.map(|(kind, bytes)| (kind, bytes as f64)),
            )?;
        }
        gauge(
            &mut encoder,
            "mesos_dns_ready",
            "1 when /ready answers 200",
            f64::from(u8::from(self.ready)),
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_zone_kept_serial",
            "The serial of the zone kept on disk (DataDirectory); 0 when none is kept",
            self.kept_serial as f64,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_zone_behind_seconds",
            "Seconds since a primary was first thought to hold a newer zone than the one served (a NOTIFY came, or a check failed); 0 when the last check found the zone current",
            self.behind_s,
        )?;
        if let Some((leading, elections)) = self.election {
            gauge(
                &mut encoder,
                "mesos_dns_leader",
                "1 on the primary elected to follow Mesos (LeaderElection), 0 on standbys",
                f64::from(u8::from(leading)),
            )?;
            counter(
                &mut encoder,
                "mesos_dns_elections",
                "Leader changes this primary saw: it became the leader, or started following a new one",
                elections,
            )?;
        }
        gauge(
            &mut encoder,
            "mesos_dns_leader_missing",
            "1 when ZooKeeper has named no leading master for longer than ZkDetectionTimeout",
            f64::from(u8::from(self.leader_missing)),
        )?;
        counter(
            &mut encoder,
            "mesos_dns_zk_sessions",
            "ZooKeeper sessions established (a new one after each expiry or outage)",
            self.zk_sessions,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_state_refreshes",
            "Successful state refreshes",
            self.refreshes_ok,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_state_refresh_failures",
            "Failed state refreshes",
            self.refreshes_failed,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_state_fetch_last_seconds",
            "Duration of the last state fetch and decode",
            self.last_fetch_s,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_state_fetch_seconds_total",
            "Time spent fetching and decoding state, all refreshes",
            self.fetch_s_total,
        )?;
        counters_by(
            &mut encoder,
            "mesos_dns_events",
            "Operator API events received, by type (UNKNOWN: types this server ignores)",
            "type",
            &self.events,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_subscriptions",
            "Subscriptions to the operator API that reached SUBSCRIBED",
            self.subscriptions,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_subscribed",
            "1 while a subscription to the operator API is up",
            f64::from(u8::from(self.subscribed)),
        )?;
        counter(
            &mut encoder,
            "mesos_dns_publishes",
            "Snapshots published",
            self.publishes,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_journal_entries",
            "Deltas kept in the journal",
            self.journal.0 as f64,
        )?;
        gauge(
            &mut encoder,
            "mesos_dns_journal_records",
            "Records in the deltas kept in the journal",
            self.journal.1 as f64,
        )?;
        counters_by(
            &mut encoder,
            "mesos_dns_master_bytes_read",
            "Bytes read from the masters, by source (state: /master/state; stream: the operator API)",
            "source",
            &self.bytes_read,
        )?;
        counter(
            &mut encoder,
            "mesos_dns_log_warnings_suppressed",
            "Repeated warnings not logged",
            self.warnings_suppressed,
        )?;
        {
            let info = encoder.encode_descriptor(
                "mesos_dns_build",
                "Build information",
                None,
                MetricType::Info,
            )?;
            let labels = [("version", env!("CARGO_PKG_VERSION"))];
            prometheus_client::metrics::info::Info::new(labels).encode(info)?;
        }
        Ok(())
    }
}

fn sum(
    counters: &[(&'static str, &WorkerCounters)],
    protocol: Option<&str>,
    pick: impl Fn(&WorkerCounters) -> u64,
) -> u64 {
    counters
        .iter()
        .filter(|(p, _)| protocol.is_none_or(|want| *p == want))
        .map(|(_, c)| pick(c))
        .sum()
}

pub(crate) fn render_metrics(ctx: &HttpContext, snapshot: &Snapshot) -> String {
    let all = ctx.status.listeners.all_counters();
    let load = WorkerCounters::load;
    let mut requests = Vec::new();
    for protocol in ["udp", "tcp"] {
        for (i, (qtype, _)) in QTYPES.iter().enumerate() {
            requests.push((
                protocol,
                *qtype,
                sum(&all, Some(protocol), |c| load(&c.requests[i])),
            ));
        }
    }
    let forward = ctx.status.listeners.forward.get();
    let mut responses = Vec::new();
    for (i, rcode) in RCODES.iter().enumerate() {
        responses.push((
            *rcode,
            "snapshot",
            sum(&all, None, |c| load(&c.responses[i])),
        ));
        if let Some(f) = forward {
            responses.push((*rcode, "forwarder", load(&f.upstream.responses[i])));
            responses.push((*rcode, "cache", load(&f.cache.responses[i])));
        }
    }
    let dropped = DropReason::ALL
        .iter()
        .map(|r| {
            (
                r.label(),
                sum(&all, None, |c| load(&c.dropped[*r as usize])),
            )
        })
        .collect();
    let crate::snapshot::Counts { a, aaaa, srv, .. } = snapshot.counts;
    let published = Status::get(&ctx.status.zone.published_ms);
    let scrape = Scrape {
        requests,
        responses,
        truncated: sum(&all, None, |c| load(&c.truncated))
            + forward.map_or(0, |f| {
                load(&f.upstream.truncated) + load(&f.cache.truncated)
            }),
        forward_failures: forward.map_or(0, |f| Status::get(&f.upstream_failures)),
        dropped,
        records: [("A", a as u64), ("AAAA", aaaa as u64), ("SRV", srv as u64)],
        serial: u64::from(snapshot.serial),
        zones: std::iter::once(&snapshot.zone.apex)
            .chain(&snapshot.zone.others)
            .map(|apex| wire_text(apex))
            .collect(),
        zone_age_s: unix_ms().saturating_sub(Status::get(&ctx.status.source.last_refresh_ok_ms))
            as f64
            / 1e3,
        soa_refresh_s: crate::dns::wire::soa_number(&snapshot.zone.soa_rdata, 1).unwrap_or(0),
        snapshot_age_s: if published == 0 {
            0.0
        } else {
            unix_ms().saturating_sub(published) as f64 / 1e3
        },
        ready: super::health::not_ready_reason(ctx, snapshot.ready).is_none(),
        kept_serial: Status::get(&ctx.status.secondary.kept_serial),
        behind_s: match Status::get(&ctx.status.secondary.behind_since_ms) {
            0 => 0.0,
            since => unix_ms().saturating_sub(since) as f64 / 1e3,
        },
        election: ctx.config.load().leader_election.is_some().then(|| {
            (
                ctx.status.role.get() == crate::status::RoleKind::Leader,
                Status::get(&ctx.status.role.elections),
            )
        }),
        leader_missing: ctx
            .status
            .source
            .leader_missing
            .load(std::sync::atomic::Ordering::Relaxed),
        zk_sessions: Status::get(&ctx.status.source.zk_sessions),
        refreshes_ok: Status::get(&ctx.status.source.refreshes_ok),
        refreshes_failed: Status::get(&ctx.status.source.refreshes_failed),
        last_fetch_s: Status::get(&ctx.status.source.last_fetch_ms) as f64 / 1e3,
        fetch_s_total: Status::get(&ctx.status.source.fetch_ms_total) as f64 / 1e3,
        warnings_suppressed: Status::get(&ctx.status.source.warnings_suppressed),
        events: crate::status::EVENT_TYPES
            .iter()
            .zip(&ctx.status.source.events)
            .map(|(kind, n)| (*kind, Status::get(n)))
            .collect(),
        subscriptions: Status::get(&ctx.status.source.subscriptions),
        subscribed: ctx
            .status
            .source
            .subscribed
            .load(std::sync::atomic::Ordering::Relaxed),
        publishes: Status::get(&ctx.status.zone.publishes),
        journal: (
            Status::get(&ctx.status.zone.journal_entries),
            Status::get(&ctx.status.zone.journal_records),
        ),
        transfers: transfer_counts(ctx),
        memory: crate::allocator::bytes(),
        notifies: ctx.transfers_from_primaries().then(|| {
            [
                ("taken", Status::get(&ctx.status.secondary.notifies_taken)),
                (
                    "refused",
                    Status::get(&ctx.status.secondary.notifies_refused),
                ),
            ]
        }),
        received: ctx.transfers_from_primaries().then(|| {
            [
                ("axfr", Status::get(&ctx.status.secondary.pull_bytes[0])),
                ("ixfr", Status::get(&ctx.status.secondary.pull_bytes[1])),
            ]
        }),
        bytes_read: [
            ("state", Status::get(&ctx.status.source.state_bytes_read)),
            ("stream", Status::get(&ctx.status.source.stream_bytes_read)),
        ],
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    registry.register(
        "mesos_dns_publish_seconds",
        "Time from the first change of a publish to its snapshot being served",
        ctx.status.zone.publish_seconds.0.clone(),
    );
    if let Some(f) = forward {
        registry.register(
            "mesos_dns_upstream_latency_seconds",
            "Time from a query's first send upstream to its answer, by the upstream that answered",
            f.latency.clone(),
        );
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Zone transfers by role, kind and result: served (primary) and asked for (secondary,
/// only in secondary mode).
fn transfer_counts(ctx: &HttpContext) -> Vec<(&'static str, &'static str, &'static str, u64)> {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::new();
    for (k, kind) in ["axfr", "ixfr"].into_iter().enumerate() {
        if let Some(tcp) = ctx.status.listeners.tcp.get() {
            // IXFR may come over UDP too: each worker counts its own.
            let udp = ctx
                .status
                .listeners
                .udp
                .get()
                .map_or(&[][..], Vec::as_slice);
            for r in TransferResult::ALL {
                let served = std::iter::once(tcp)
                    .chain(udp)
                    .map(|c| load(&c.transfers[k][r as usize]))
                    .sum();
                out.push(("primary", kind, r.label(), served));
            }
        }
        if ctx.transfers_from_primaries() {
            for r in PullResult::ALL {
                out.push((
                    "secondary",
                    kind,
                    r.label(),
                    load(&ctx.status.secondary.pulls[k][r as usize]),
                ));
            }
        }
    }
    out
}

/// A wire name as dotted text with the trailing dot (`mesos.`).
fn wire_text(wire: &[u8]) -> String {
    let mut out = String::new();
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            break;
        }
        let label = wire
            .get(at + 1..at + 1 + usize::from(len))
            .unwrap_or_default();
        out.push_str(&String::from_utf8_lossy(label));
        out.push('.');
        at += 1 + usize::from(len);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}
