//! The records of a transfer a secondary receives, and the checks on their order: an
//! AXFR (SOA, records, the same SOA), an IXFR (RFC 1995 §4: the new SOA, then for each
//! version an old SOA with its deletions and a new SOA with its additions, then the new
//! SOA again), or the single SOA of a primary with nothing newer.

use crate::counters::PullResult;
use crate::snapshot::store::is_at_or_below;
use hickory_proto::rr::{DNSClass, Name, RData, Record};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One record as received: owner lower-cased with a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneRr {
    pub(crate) name: Box<str>,
    pub(crate) ttl: u32,
    pub(crate) data: RrData,
}

/// The SOA of a test zone `mesos.` at `serial` (tests of the secondary's modules).
#[cfg(test)]
pub(crate) fn test_soa(serial: u32) -> ZoneRr {
    let mut rdata = b"\x03ns1\x05mesos\x00\x04root\x05mesos\x00".to_vec();
    for n in [serial, 60, 60, 600, 30] {
        rdata.extend_from_slice(&n.to_be_bytes());
    }
    ZoneRr {
        name: "mesos.".into(),
        ttl: 60,
        data: RrData::Soa(rdata),
    }
}

/// A record's data; names in it are lower-cased text with a trailing dot. Two records
/// are the same record when owner and data are equal (the TTL is not part of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RrData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Box<str>,
    },
    Ptr(Box<str>),
    Ns(Box<str>),
    /// RDATA with uncompressed names.
    Soa(Vec<u8>),
    /// A type this server does not serve, or a name it cannot hold: kept as received
    /// (type, RDATA) so that a later IXFR deleting it matches.
    Other(u16, Vec<u8>),
}

impl RrData {
    /// The serial of a SOA.
    pub(crate) fn serial(&self) -> Option<u32> {
        self.soa_number(0)
    }

    /// Number `index` of a SOA's five (0 serial, 1 refresh, 2 retry, 3 expire,
    /// 4 minimum).
    pub(crate) fn soa_number(&self, index: usize) -> Option<u32> {
        match self {
            RrData::Soa(rdata) => crate::dns::wire::soa_number(rdata, index),
            _ => None,
        }
    }
}

/// A name as lower-cased text with a trailing dot, when every label is plain (letters,
/// digits, `-`, `_`, `*`): names this server could not write back as they came are not
/// served.
fn plain_text(name: &Name) -> Option<Box<str>> {
    let mut out = Vec::with_capacity(name.len() + 1);
    for label in name.iter() {
        if !label.iter().copied().all(is_plain) {
            return None;
        }
        out.extend_from_slice(label);
        out.push(b'.');
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out.make_ascii_lowercase();
    // Plain ASCII, checked above.
    String::from_utf8(out).ok().map(String::into_boxed_str)
}

/// Whether an octet may stand in a plain label: a letter, a digit, `-`, `_` or `*`.
pub(crate) fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*'
}

/// A name as uncompressed wire, lower-cased.
fn wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// A received record in this server's terms; `None` when it is not of class IN.
pub(crate) fn convert(record: &Record) -> Option<ZoneRr> {
    if record.dns_class() != DNSClass::IN {
        return None;
    }
    let owner = record.name();
    let other = || {
        let rdata = hickory_proto::serialize::binary::BinEncodable::to_bytes(record.data())
            .unwrap_or_default();
        RrData::Other(record.record_type().into(), rdata)
    };
    let Some(name) = plain_text(owner) else {
        // Kept in escaped presentation form, which no plain name can equal.
        let mut name = owner.to_lowercase().to_ascii();
        if !name.ends_with('.') {
            name.push('.');
        }
        return Some(ZoneRr {
            name: name.into(),
            ttl: record.ttl(),
            data: other(),
        });
    };
    let data = match record.data() {
        RData::A(a) => RrData::A(a.0),
        RData::AAAA(a) => RrData::Aaaa(a.0),
        RData::SRV(srv) => match plain_text(srv.target()) {
            Some(target) => RrData::Srv {
                priority: srv.priority(),
                weight: srv.weight(),
                port: srv.port(),
                target,
            },
            None => other(),
        },
        RData::PTR(ptr) => plain_text(&ptr.0).map_or_else(other, RrData::Ptr),
        RData::NS(ns) => plain_text(&ns.0).map_or_else(other, RrData::Ns),
        RData::SOA(soa) => {
            let mut rdata = wire(soa.mname());
            rdata.extend(wire(soa.rname()));
            for v in [
                soa.serial(),
                soa.refresh() as u32,
                soa.retry() as u32,
                soa.expire() as u32,
                soa.minimum(),
            ] {
                rdata.extend_from_slice(&v.to_be_bytes());
            }
            RrData::Soa(rdata)
        }
        _ => other(),
    };
    Some(ZoneRr {
        name,
        ttl: record.ttl(),
        data,
    })
}

/// One version step of an IXFR (it starts where the one before ended, the first at
/// our serial).
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// The SOA it ends at.
    pub(crate) to: Option<ZoneRr>,
    pub(crate) removed: Vec<ZoneRr>,
    pub(crate) added: Vec<ZoneRr>,
}

/// Where the records of a whole zone go as they arrive: a zone of a million records is
/// not held twice.
pub(crate) trait ZoneSink {
    /// One record of the zone (not its SOA).
    fn record(&mut self, rr: ZoneRr);
    /// A message ended.
    fn end_of_message(&mut self) {}
}

impl ZoneSink for Vec<ZoneRr> {
    fn record(&mut self, rr: ZoneRr) {
        self.push(rr);
    }
}

/// What a transfer brought.
#[derive(Debug)]
pub(crate) enum Received<S> {
    /// The whole zone: its SOA, and every other record given to the sink.
    Full { soa: ZoneRr, zone: S },
    /// The changes from our serial to `soa`'s, in order.
    Incremental { soa: ZoneRr, diffs: Vec<Diff> },
    /// The primary's SOA alone (an IXFR answered "nothing newer").
    Current { soa: ZoneRr },
}

enum State {
    Start,
    /// The first SOA came; the second record tells AXFR from IXFR.
    First,
    Full,
    Deleting(Diff),
    Adding(Diff),
}

/// Takes the records of a transfer in order and checks their shape; the records of a
/// whole zone go on to `sink`.
pub(crate) struct Assembler<S> {
    sink: Option<S>,
    apex: Box<str>,
    /// Our serial, when we asked for an IXFR.
    ixfr_from: Option<u32>,
    first: Option<ZoneRr>,
    state: State,
    diffs: Vec<Diff>,
    done: Option<Received<S>>,
}

impl<S: ZoneSink> Assembler<S> {
    /// For a transfer of the zone at `apex` (lower case, trailing dot).
    pub(crate) fn new(apex: &str, ixfr_from: Option<u32>, sink: S) -> Assembler<S> {
        Assembler {
            sink: Some(sink),
            apex: apex.into(),
            ixfr_from,
            first: None,
            state: State::Start,
            diffs: Vec::new(),
            done: None,
        }
    }

    /// Whether the closing SOA came.
    pub(crate) fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// The serial of the first SOA, once it came.
    pub(crate) fn first_serial(&self) -> Option<u32> {
        self.first.as_ref().and_then(|s| s.data.serial())
    }

    /// Whether only the first SOA came so far.
    pub(crate) fn only_soa(&self) -> bool {
        matches!(self.state, State::First)
    }

    /// The next record of the stream.
    pub(crate) fn push(&mut self, rr: ZoneRr) -> Result<(), PullResult> {
        if self.done.is_some() {
            return Err(PullResult::Malformed);
        }
        if !is_at_or_below(&rr.name, &self.apex) {
            return Err(PullResult::OutOfZone);
        }
        let is_soa = matches!(rr.data, RrData::Soa(_));
        if is_soa && *rr.name != *self.apex {
            // A SOA below the apex would be another zone's: not ours to take.
            return Err(PullResult::OutOfZone);
        }
        let serial = rr.data.serial();
        let state = std::mem::replace(&mut self.state, State::Start);
        self.state = match state {
            State::Start if is_soa => {
                self.first = Some(rr);
                State::First
            }
            State::Start => return Err(PullResult::Malformed),
            State::First => {
                let first = self.first.as_ref().ok_or(PullResult::Malformed)?;
                match (is_soa, self.ixfr_from) {
                    // An IXFR: the first version step starts from our serial.
                    (true, Some(ours)) if serial != first.data.serial() => {
                        if serial != Some(ours) {
                            return Err(PullResult::SoaMismatch);
                        }
                        State::Deleting(Diff::default())
                    }
                    // SOA, SOA: an empty zone.
                    (true, _) => {
                        self.finish_full(rr)?;
                        return Ok(());
                    }
                    (false, _) => {
                        self.sink_record(rr)?;
                        State::Full
                    }
                }
            }
            State::Full => {
                if is_soa {
                    self.finish_full(rr)?;
                    return Ok(());
                }
                self.sink_record(rr)?;
                State::Full
            }
            State::Deleting(mut diff) => {
                if is_soa {
                    diff.to = Some(rr);
                    State::Adding(diff)
                } else {
                    diff.removed.push(rr);
                    State::Deleting(diff)
                }
            }
            State::Adding(mut diff) => {
                if !is_soa {
                    diff.added.push(rr);
                    self.state = State::Adding(diff);
                    return Ok(());
                }
                let reached = diff.to.as_ref().and_then(|s| s.data.serial());
                let first = self.first.clone().ok_or(PullResult::Malformed)?;
                self.diffs.push(diff);
                if reached == first.data.serial() && serial == reached {
                    // The closing SOA: the same as the first.
                    if rr != first {
                        return Err(PullResult::SoaMismatch);
                    }
                    self.done = Some(Received::Incremental {
                        soa: first,
                        diffs: std::mem::take(&mut self.diffs),
                    });
                    return Ok(());
                }
                // The next step starts where the last ended.
                if serial != reached {
                    return Err(PullResult::SoaMismatch);
                }
                State::Deleting(Diff::default())
            }
        };
        Ok(())
    }

    fn sink_record(&mut self, rr: ZoneRr) -> Result<(), PullResult> {
        self.sink.as_mut().ok_or(PullResult::Malformed)?.record(rr);
        Ok(())
    }

    /// A message of the stream ended.
    pub(crate) fn end_of_message(&mut self) {
        if let Some(sink) = &mut self.sink {
            sink.end_of_message();
        }
    }

    fn finish_full(&mut self, last: ZoneRr) -> Result<(), PullResult> {
        let first = self.first.take().ok_or(PullResult::Malformed)?;
        if last != first {
            return Err(PullResult::SoaMismatch);
        }
        self.done = Some(Received::Full {
            soa: first,
            zone: self.sink.take().ok_or(PullResult::Malformed)?,
        });
        Ok(())
    }

    /// What came, once the stream ended: a stream that stopped before its closing SOA
    /// is cut short, but for an IXFR answered with the SOA alone.
    pub(crate) fn finish(self) -> Result<Received<S>, PullResult> {
        if let Some(done) = self.done {
            return Ok(done);
        }
        match (self.state, self.first, self.ixfr_from) {
            (State::First, Some(soa), Some(_)) => Ok(Received::Current { soa }),
            _ => Err(PullResult::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: &str, last: u8) -> ZoneRr {
        ZoneRr {
            name: name.into(),
            ttl: 60,
            data: RrData::A(Ipv4Addr::new(10, 0, 0, last)),
        }
    }

    fn feed(from: Option<u32>, rrs: Vec<ZoneRr>) -> Result<Received<Vec<ZoneRr>>, PullResult> {
        let mut asm = Assembler::new("mesos.", from, Vec::new());
        for rr in rrs {
            asm.push(rr)?;
        }
        asm.finish()
    }

    proptest::proptest! {
        /// Any order of SOAs and records, any serials and names: an answer or an error,
        /// never a panic; a whole zone is only taken between two equal SOAs.
        #[test]
        fn any_stream_is_judged_without_panic(
            steps in proptest::collection::vec((0u8..4, 0u32..4, 0u8..3), 0..12),
            from in proptest::option::of(0u32..4),
        ) {
            let mut asm = Assembler::new("mesos.", from, Vec::new());
            let mut first = None;
            for (kind, serial, name) in steps {
                let rr = match kind {
                    0 | 1 => test_soa(serial),
                    _ => a(["x.mesos.", "mesos.", "x.example."][name as usize], name),
                };
                first.get_or_insert_with(|| rr.clone());
                if asm.push(rr).is_err() {
                    return Ok(());
                }
            }
            if let Ok(Received::Full { soa, .. }) = asm.finish() {
                proptest::prop_assert_eq!(Some(soa), first);
            }
        }
    }

    #[test]
    fn an_axfr_ends_at_the_same_soa() {
        let got = feed(None, vec![test_soa(5), a("x.mesos.", 1), test_soa(5)]);
        assert!(matches!(got, Ok(Received::Full { zone, .. }) if zone.len() == 1));
        let differ = feed(None, vec![test_soa(5), a("x.mesos.", 1), test_soa(6)]);
        assert_eq!(differ.err(), Some(PullResult::SoaMismatch));
        let cut = feed(None, vec![test_soa(5), a("x.mesos.", 1)]);
        assert_eq!(cut.err(), Some(PullResult::Malformed));
    }

    #[test]
    fn records_outside_the_zone_are_refused() {
        let got = feed(None, vec![test_soa(5), a("x.example.", 1), test_soa(5)]);
        assert_eq!(got.err(), Some(PullResult::OutOfZone));
        let lookalike = feed(None, vec![test_soa(5), a("xmesos.", 1), test_soa(5)]);
        assert_eq!(lookalike.err(), Some(PullResult::OutOfZone));
    }

    #[test]
    fn an_ixfr_chains_its_serials() {
        let steps = vec![
            test_soa(7),
            test_soa(5),
            a("x.mesos.", 1),
            test_soa(6),
            a("x.mesos.", 2),
            test_soa(6),
            test_soa(7),
            a("y.mesos.", 3),
            test_soa(7),
        ];
        match feed(Some(5), steps) {
            Ok(Received::Incremental { diffs, .. }) => {
                assert_eq!(diffs.len(), 2);
                let ends = |d: &Diff| d.to.as_ref().and_then(|s| s.data.serial());
                assert_eq!((ends(&diffs[0]), ends(&diffs[1])), (Some(6), Some(7)));
                assert_eq!(diffs[0].removed.len() + diffs[0].added.len(), 2);
                assert!(diffs[1].removed.is_empty() && diffs[1].added.len() == 1);
            }
            other => panic!("{other:?}"),
        }
        // A step that does not start from our serial.
        let got = feed(
            Some(4),
            vec![test_soa(7), test_soa(5), test_soa(7), test_soa(7)],
        );
        assert_eq!(got.err(), Some(PullResult::SoaMismatch));
        // Steps that do not meet.
        let got = feed(
            Some(5),
            vec![
                test_soa(7),
                test_soa(5),
                test_soa(6),
                test_soa(4),
                test_soa(7),
                test_soa(7),
            ],
        );
        assert_eq!(got.err(), Some(PullResult::SoaMismatch));
        // The SOA alone: nothing newer.
        assert!(matches!(
            feed(Some(7), vec![test_soa(7)]),
            Ok(Received::Current { .. })
        ));
        // An IXFR answered with the whole zone.
        assert!(matches!(
            feed(Some(5), vec![test_soa(7), a("x.mesos.", 1), test_soa(7)]),
            Ok(Received::Full { .. })
        ));
    }
}
