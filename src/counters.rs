//! Query counters. Each UDP worker (and the TCP thread) owns one `WorkerCounters` on its
//! own cache lines and adds to it once per batch; the forwarder owns [`ForwardCounters`];
//! `/metrics` sums them at scrape time.

use crate::dns::header::Flags;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::sync::atomic::{AtomicU64, Ordering};

/// Query types counted on their own; everything else is "other".
pub(crate) const QTYPES: [(&str, u16); 7] = [
    ("A", 1),
    ("AAAA", 28),
    ("SRV", 33),
    ("ANY", 255),
    ("SOA", 6),
    ("NS", 2),
    ("other", 0),
];

/// Response codes by number (0-5); everything else is "other".
pub(crate) const RCODES: [&str; 7] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other",
];

/// How a zone transfer request ended (primary side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransferResult {
    /// The whole zone went out (AXFR, or IXFR the history did not reach).
    Full,
    /// IXFR: the changes since the client's serial.
    Incremental,
    /// IXFR: the client was current (the SOA alone).
    Current,
    /// Not allowed (`TransferACL`, or unsigned where `TransferTSIG` is required).
    Refused,
    /// A TSIG signature that did not verify (BADKEY, BADSIG, BADTIME).
    BadTsig,
    /// IXFR over UDP whose answer does not fit one datagram (or is the whole zone): the
    /// current SOA alone went out, which tells the client to ask over TCP.
    OverTcp,
}

impl TransferResult {
    /// Every result, in counter order.
    pub(crate) const ALL: [TransferResult; 6] = [
        TransferResult::Full,
        TransferResult::Incremental,
        TransferResult::Current,
        TransferResult::Refused,
        TransferResult::BadTsig,
        TransferResult::OverTcp,
    ];

    /// The `result` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TransferResult::Full => "full",
            TransferResult::Incremental => "incremental",
            TransferResult::Current => "current",
            TransferResult::Refused => "refused",
            TransferResult::BadTsig => "bad_tsig",
            TransferResult::OverTcp => "over_tcp",
        }
    }
}

/// How a secondary's attempt to bring its zone up to date ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PullResult {
    /// The whole zone came (AXFR, or an IXFR answered with the whole zone).
    Full,
    /// IXFR: the changes came and applied.
    Incremental,
    /// The primary's serial was not newer: nothing to transfer.
    Current,
    /// The primary could not be reached or stopped answering in time.
    Unreachable,
    /// The primary answered with an error code (REFUSED, NOTAUTH, ...).
    Refused,
    /// A signature missing or wrong (`TransferTSIG`).
    BadTsig,
    /// Messages that do not parse, or a stream cut short.
    Malformed,
    /// More than `TransferMaxBytes`.
    Oversized,
    /// A record outside the zone.
    OutOfZone,
    /// The first and last SOA differ, or an IXFR's serials do not chain.
    SoaMismatch,
    /// An IXFR deletes a record the zone does not have.
    IxfrMismatch,
}

impl PullResult {
    /// Every result, in counter order.
    pub(crate) const ALL: [PullResult; 11] = [
        PullResult::Full,
        PullResult::Incremental,
        PullResult::Current,
        PullResult::Unreachable,
        PullResult::Refused,
        PullResult::BadTsig,
        PullResult::Malformed,
        PullResult::Oversized,
        PullResult::OutOfZone,
        PullResult::SoaMismatch,
        PullResult::IxfrMismatch,
    ];

    /// The `result` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            PullResult::Full => "full",
            PullResult::Incremental => "incremental",
            PullResult::Current => "current",
            PullResult::Unreachable => "unreachable",
            PullResult::Refused => "refused",
            PullResult::BadTsig => "bad_tsig",
            PullResult::Malformed => "malformed",
            PullResult::Oversized => "oversized",
            PullResult::OutOfZone => "out_of_zone",
            PullResult::SoaMismatch => "soa_mismatch",
            PullResult::IxfrMismatch => "ixfr_mismatch",
        }
    }
}

/// Why a packet got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Not a query we can read (or one that must not be answered).
    Malformed,
    /// The reply could not be sent.
    SendFailed,
    /// A query to forward whose client address could not be read.
    NoClientAddress,
}

impl DropReason {
    /// Every reason, in the order of the counters.
    pub(crate) const ALL: [DropReason; 3] = [
        DropReason::Malformed,
        DropReason::SendFailed,
        DropReason::NoClientAddress,
    ];

    /// The `reason` label of the dropped-queries counter.
    pub(crate) fn label(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::SendFailed => "send_failed",
            DropReason::NoClientAddress => "no_client_address",
        }
    }
}

pub(crate) fn qtype_index(qtype: u16) -> usize {
    QTYPES
        .iter()
        .position(|&(_, t)| t == qtype)
        .unwrap_or(QTYPES.len() - 1)
}

pub(crate) fn rcode_index(rcode: u8) -> usize {
    (rcode as usize).min(RCODES.len() - 1)
}

#[derive(Debug, Default)]
#[repr(align(64))]
pub struct WorkerCounters {
    pub requests: [AtomicU64; QTYPES.len()],
    pub responses: [AtomicU64; RCODES.len()],
    pub truncated: AtomicU64,
    pub dropped: [AtomicU64; DropReason::ALL.len()],
    /// Transfer requests by kind (AXFR, IXFR) and [`TransferResult`] (TCP; IXFR also
    /// over UDP).
    pub(crate) transfers: [[AtomicU64; TransferResult::ALL.len()]; 2],
}

/// One batch's counts, kept in plain integers and added to the atomics once.
#[derive(Debug, Default)]
pub(crate) struct BatchCounts {
    pub requests: [u64; QTYPES.len()],
    pub responses: [u64; RCODES.len()],
    pub truncated: u64,
    pub dropped: [u64; DropReason::ALL.len()],
}

impl BatchCounts {
    /// Counts a reply by its question type and its header (rcode, TC).
    pub(crate) fn reply(&mut self, qtype: u16, reply: &[u8]) {
        self.request(qtype);
        self.response(reply);
    }

    pub(crate) fn request(&mut self, qtype: u16) {
        self.requests[qtype_index(qtype)] += 1;
    }

    /// Counts a reply by its header (rcode, TC).
    pub(crate) fn response(&mut self, reply: &[u8]) {
        if let Some(flags) = Flags::of(reply) {
            self.responses[rcode_index(flags.rcode().0)] += 1;
            self.truncated += u64::from(flags.contains(Flags::TC));
        }
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }

    /// Adds this batch to `to` and starts over.
    pub(crate) fn flush(&mut self, to: &WorkerCounters) {
        let add = |a: &AtomicU64, v: &mut u64| {
            if *v > 0 {
                a.fetch_add(*v, Ordering::Relaxed);
                *v = 0;
            }
        };
        self.requests
            .iter_mut()
            .zip(&to.requests)
            .for_each(|(v, a)| add(a, v));
        self.responses
            .iter_mut()
            .zip(&to.responses)
            .for_each(|(v, a)| add(a, v));
        self.dropped
            .iter_mut()
            .zip(&to.dropped)
            .for_each(|(v, a)| add(a, v));
        add(&to.truncated, &mut self.truncated);
    }
}

impl WorkerCounters {
    pub fn load(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }
}

/// Upstream round-trip times, by upstream (`ip:port`).
pub(crate) type LatencyFamily = Family<[(&'static str, String); 1], Histogram, fn() -> Histogram>;

pub(crate) fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Counters of what the forwarder answered, by where the answer came from.
#[derive(Debug)]
pub struct ForwardCounters {
    pub latency: LatencyFamily,
    pub upstream: WorkerCounters,
    pub cache: WorkerCounters,
    /// Upstream exchanges that failed (timeout, error, bad reply) before the next try.
    pub upstream_failures: std::sync::atomic::AtomicU64,
}

impl Default for ForwardCounters {
    fn default() -> ForwardCounters {
        ForwardCounters {
            latency: Family::new_with_constructor(latency_histogram),
            upstream: WorkerCounters::default(),
            cache: WorkerCounters::default(),
            upstream_failures: Default::default(),
        }
    }
}
