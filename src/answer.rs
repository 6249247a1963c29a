//! Query bytes + [`Snapshot`] → reply bytes in the caller's buffer.
//!
//! Semantics (RFC 1034/2308/6891, see docs/compatibility.md for where Mesos-DNS differs):
//! A, AAAA, SRV and ANY from the table; SOA and NS at the apex in the answer section;
//! NXDOMAIN for names that do not exist, NODATA for other types and empty
//! non-terminals, both with the apex SOA in the authority section; EDNS sizes honoured;
//! truncation drops additionals first, then whole answers, and sets TC.

use crate::dns::header::{BADVERS, Flags, HEADER_LEN, Header, Rcode, Section};
use crate::dns::query::{Edns, Query, Reject, parse};
use crate::dns::wire::*;
use crate::dns::writer::MessageWriter;
use crate::snapshot::sets::{RR_HEADER, RrSet};
use crate::snapshot::{Lookup, QUESTION_POINTER, Snapshot};

/// How the query arrived: decides the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// DNS over UDP: replies limited to 512 octets or the EDNS size, TC when cut.
    Udp,
    /// DNS over TCP: replies up to 65,535 octets.
    Tcp,
}

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send the first `len` bytes of the output buffer; `qtype` is the question's type
    /// (0 when the question could not be read), for the counters.
    Reply {
        /// Octets of the reply.
        len: usize,
        /// The question's type.
        qtype: u16,
    },
    /// Send nothing.
    Drop,
    /// The name is outside the domain: hand the query to the forwarder.
    Forward {
        /// The question's type.
        qtype: u16,
    },
    /// IXFR of a zone served here, over UDP: the first `len` octets of the output are
    /// the current SOA alone, which the worker may replace with the changes (once the
    /// client is allowed to have them) when they fit `limit` octets (RFC 1995 §2).
    IxfrOverUdp(UdpIxfr),
    /// AXFR or IXFR of a zone served here, over TCP: the listener streams the zone
    /// (once the client is allowed to have it).
    Transfer {
        /// AXFR or IXFR.
        qtype: u16,
        /// Where the question ends in the query.
        question_end: usize,
    },
}

/// An IXFR asked over UDP, answered for now with the current SOA alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpIxfr {
    /// Octets of the answer written (the current SOA).
    pub len: usize,
    /// Where the question ends in the query.
    pub question_end: usize,
    /// The largest reply the client takes.
    pub limit: usize,
    /// The OPT record the reply carries, when the query had EDNS.
    pub opt: Option<[u8; OPT_LEN]>,
}

/// Answers `packet` from `snap` into `out`. `rotation` picks the first record of each
/// set (callers pass a counter that moves per query).
pub fn answer(
    packet: &[u8],
    snap: &Snapshot,
    rotation: u32,
    transport: Transport,
    out: &mut [u8],
) -> Outcome {
    let query = match parse(packet) {
        Ok(q) => q,
        Err(Reject::Drop) => return Outcome::Drop,
        Err(Reject::Header(rcode)) => return header_only(packet, rcode, 0, out),
        Err(Reject::WithQuestion(rcode, end)) => return header_only(packet, rcode, end, out),
    };
    let Some(mut reply) = Reply::new(packet, &query, snap, out, transport, rotation) else {
        return Outcome::Drop;
    };

    if let Some(edns) = query.edns {
        if edns.version > 0 {
            return reply.simple(BADVERS, false);
        }
    }
    if query.qclass != CLASS_IN {
        return reply.simple(Rcode::REFUSED, false);
    }
    if query.qtype == TYPE_AXFR || query.qtype == TYPE_IXFR {
        return reply.transfer(transport);
    }
    let ([a, aaaa, srv, ptr], apex) = match snap.lookup(query.qname()) {
        Lookup::OutOfZone => return Outcome::Forward { qtype: query.qtype },
        _ if !snap.ready => return reply.simple(Rcode::SERVFAIL, true),
        Lookup::Missing(apex) => return reply.negative(Rcode::NXDOMAIN, apex),
        Lookup::Found(sets, apex) => (sets, apex),
    };
    let zone = &snap.zone;
    let at_apex = query.qname() == apex;
    let (soa, ns) = (zone.soa.as_ref(), zone.ns.as_ref());
    let sets: [Option<&RrSet>; 4] = match query.qtype {
        TYPE_A => [a, None, None, None],
        TYPE_AAAA => [aaaa, None, None, None],
        TYPE_SRV => [srv, None, None, None],
        TYPE_PTR => [ptr, None, None, None],
        TYPE_SOA if at_apex => [soa, None, None, None],
        TYPE_NS if at_apex => [ns, None, None, None],
        TYPE_ANY if at_apex => [soa, ns, a, aaaa],
        // A name has either PTR data (reverse zones) or A, AAAA and SRV data.
        TYPE_ANY if ptr.is_some() => [ptr, None, None, None],
        TYPE_ANY => [a, aaaa, srv, None],
        _ => [None; 4],
    };
    if sets.iter().all(Option::is_none) {
        return reply.negative(Rcode::NOERROR, apex);
    }
    reply.positive(&sets)
}

/// The largest reply a client may get: 65,535 bytes over TCP; over UDP 512, or with
/// EDNS the client's size clamped to 512..`edns_max`.
pub fn reply_limit(transport: Transport, edns: Option<Edns>, edns_max: u16) -> usize {
    match (transport, edns) {
        (Transport::Tcp, _) => TCP_MAX,
        (Transport::Udp, None) => UDP_CLASSIC,
        (Transport::Udp, Some(e)) => (e.udp_size as usize).clamp(UDP_CLASSIC, edns_max as usize),
    }
}

/// REFUSED for a query that will not be answered here (outside the domain, forwarding
/// off), with the question and OPT echoed.
pub fn refuse(packet: &[u8], snap: &Snapshot, transport: Transport, out: &mut [u8]) -> Outcome {
    reject(packet, snap, transport, out, Rcode::REFUSED)
}

/// SERVFAIL for a query the forwarder could not take (its queue is full).
pub fn servfail(packet: &[u8], snap: &Snapshot, transport: Transport, out: &mut [u8]) -> Outcome {
    reject(packet, snap, transport, out, Rcode::SERVFAIL)
}

fn reject(
    packet: &[u8],
    snap: &Snapshot,
    transport: Transport,
    out: &mut [u8],
    rcode: Rcode,
) -> Outcome {
    let Ok(query) = parse(packet) else {
        return Outcome::Drop;
    };
    match Reply::new(packet, &query, snap, out, transport, 0) {
        Some(mut reply) => reply.simple(rcode, false),
        None => Outcome::Drop,
    }
}

/// A reply that copies the header (and possibly the question) of a packet that could
/// not be answered normally.
fn header_only(packet: &[u8], rcode: Rcode, question_end: usize, out: &mut [u8]) -> Outcome {
    let len = question_end.max(HEADER_LEN);
    let (Some(query), Some(question)) = (Header::read(packet), packet.get(HEADER_LEN..len)) else {
        return Outcome::Drop;
    };
    let echoed = query.flags.only(Flags::KEEP_OPCODE | Flags::RD | Flags::CD);
    let flags = (Flags::QR | echoed).with_rcode(rcode);
    let Some(mut w) = MessageWriter::new(out, len, query.id, flags) else {
        return Outcome::Drop;
    };
    w.put(Section::Question, u16::from(question_end > 0), question);
    Outcome::Reply {
        len: w.finish(),
        qtype: 0,
    }
}

struct Reply<'a> {
    packet: &'a [u8],
    query: &'a Query,
    snap: &'a Snapshot,
    w: MessageWriter<'a>,
    rotation: u32,
}

/// How a set goes into an answer: the rotation's first record, how many records, and
/// their length in wire form.
type Planned = (usize, usize, usize);

/// Octets of an additional address record whose owner is a 2-octet pointer.
fn extra_len(ip: &std::net::IpAddr) -> usize {
    if ip.is_ipv4() { 16 } else { 28 }
}

impl<'a> Reply<'a> {
    /// A reply to `query`, limited to what the client may receive and `out` holds; the
    /// header echoes the query's ID, RD and CD, and RA as `RecurseOn` says.
    fn new(
        packet: &'a [u8],
        query: &'a Query,
        snap: &'a Snapshot,
        out: &'a mut [u8],
        transport: Transport,
        rotation: u32,
    ) -> Option<Reply<'a>> {
        let limit = reply_limit(transport, query.edns, snap.zone.edns_max);
        let flags = (Flags::QR | query.flags.only(Flags::RD | Flags::CD))
            .with(Flags::RA, snap.zone.recurse_on);
        Some(Reply {
            packet,
            query,
            snap,
            w: MessageWriter::new(out, limit, query.id, flags)?,
            rotation,
        })
    }

    fn opt_len(&self) -> usize {
        if self.query.edns.is_some() {
            OPT_LEN
        } else {
            0
        }
    }

    /// Puts the question in and sets `rcode` and AA, when `body` octets (besides the
    /// question and OPT) fit; false to drop.
    fn begin(&mut self, rcode: Rcode, authoritative: bool, body: usize) -> bool {
        let question = &self.packet[HEADER_LEN..self.query.question_end];
        if question.len() + body + self.opt_len() > self.w.room() {
            return false;
        }
        let w = &mut self.w;
        w.set_flags(w.flags().with_rcode(rcode).with(Flags::AA, authoritative));
        w.put(Section::Question, 1, question)
    }

    /// Appends the OPT record if the query had one, and finishes the message.
    fn end(&mut self, rcode: Rcode) -> Outcome {
        if let Some(opt) = self.opt(rcode) {
            self.w.put(Section::Additional, 1, &opt);
        }
        Outcome::Reply {
            len: self.w.finish(),
            qtype: self.query.qtype,
        }
    }

    /// The OPT record answering the query's, if it had one.
    fn opt(&self, rcode: Rcode) -> Option<[u8; OPT_LEN]> {
        let Edns { dnssec_ok, .. } = self.query.edns?;
        Some(opt_record(
            self.snap.zone.edns_max,
            rcode.extended_bits(),
            dnssec_ok,
        ))
    }

    /// Header, question and OPT only.
    fn simple(&mut self, rcode: Rcode, authoritative: bool) -> Outcome {
        if self.begin(rcode, authoritative, 0) {
            self.end(rcode)
        } else {
            Outcome::Drop
        }
    }

    /// AXFR and IXFR: only of a zone's apex (NOTAUTH below it, REFUSED for names not
    /// ours). Over TCP the listener streams the zone; over UDP an IXFR gets the current
    /// SOA, which the worker replaces with the changes when they fit (RFC 1995 §2: else
    /// the client asks over TCP), and an AXFR NOTIMP (RFC 5936 defines it over TCP
    /// only).
    fn transfer(&mut self, transport: Transport) -> Outcome {
        let snap = self.snap;
        let at_apex = match snap.lookup(self.query.qname()) {
            Lookup::OutOfZone => return self.simple(Rcode::REFUSED, false),
            _ if !snap.ready => return self.simple(Rcode::SERVFAIL, true),
            Lookup::Found(_, apex) | Lookup::Missing(apex) => self.query.qname() == apex,
        };
        if !at_apex {
            return self.simple(Rcode::NOTAUTH, false);
        }
        match (transport, self.query.qtype) {
            (Transport::Tcp, qtype) => Outcome::Transfer {
                qtype,
                question_end: self.query.question_end,
            },
            (Transport::Udp, TYPE_IXFR) => {
                let limit = self.w.limit();
                match self.positive(&[snap.zone.soa.as_ref(), None, None, None]) {
                    Outcome::Reply { len, .. } => Outcome::IxfrOverUdp(UdpIxfr {
                        len,
                        question_end: self.query.question_end,
                        limit,
                        opt: self.opt(Rcode::NOERROR),
                    }),
                    other => other,
                }
            }
            (Transport::Udp, _) => self.simple(Rcode::NOTIMP, false),
        }
    }

    /// NXDOMAIN or NODATA: the SOA (negative TTL) of the zone at `apex` in the authority
    /// section.
    fn negative(&mut self, rcode: Rcode, apex: &[u8]) -> Outcome {
        let snap = self.snap;
        let Some(soa) = snap.zone.negative_soa.as_ref() else {
            return self.simple(rcode, true);
        };
        // The apex is the tail of the question name: point the SOA's owner at it.
        let apex_at = HEADER_LEN + self.query.qname_len - apex.len();
        let owner = pointer(apex_at).unwrap_or(QUESTION_POINTER);
        if !self.begin(rcode, true, soa.len()) {
            return self.simple(rcode, true);
        }
        if let Some(record) = self.w.reserve(Section::Authority, 1, soa.len()) {
            record.copy_from_slice(soa);
            record[..2].copy_from_slice(&owner);
        }
        self.end(rcode)
    }

    /// Writes `m` records of `set` from record `k` (wrapping), `len` octets as the plan
    /// measured them, into the answer section (the caller checked that they fit).
    fn copy_records(w: &mut MessageWriter<'_>, set: &RrSet, (k, m, len): Planned) {
        if let Some(out) = w.reserve(Section::Answer, m as u16, len) {
            set.write_wire(k, m, out);
        }
    }

    fn positive(&mut self, chosen: &[Option<&RrSet>; 4]) -> Outcome {
        let snap = self.snap;
        if !self.begin(Rcode::NOERROR, true, 0) {
            return Outcome::Drop;
        }
        let opt = self.opt_len();
        let w = &mut self.w;
        let room = w.room() - opt;

        // How many records of each set fit, in order; TC when any was left out.
        let mut plan: [Planned; 4] = [(0, 0, 0); 4];
        let mut used = 0;
        let mut truncated = false;
        for (p, set) in plan.iter_mut().zip(chosen) {
            let Some(set) = set else { continue };
            let n = set.count();
            let k = self.rotation as usize % n;
            // `MaxAnswers` takes the first records of the rotation, without TC.
            let wanted = n.min(snap.zone.max_answers);
            let mut m = wanted;
            let mut len = set.wire_span(k, wanted);
            if truncated || used + len > room {
                // Largest m with wire_span(k, m) fitting (it grows with m).
                let (mut lo, mut hi) = (0, if truncated { 0 } else { wanted });
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if used + set.wire_span(k, mid) <= room {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                m = lo;
                len = set.wire_span(k, m);
                truncated = true;
            }
            used += len;
            *p = (k, m, len);
        }

        // Write the answers, remembering where each set starts.
        let mut set_at = [0usize; 4];
        for ((p, set), pos) in plan.iter().zip(chosen).zip(set_at.iter_mut()) {
            let Some(set) = set else { continue };
            *pos = w.len();
            Self::copy_records(w, set, *p);
        }

        // Additional addresses, only when every answer went out, as many as fit.
        if !truncated {
            'sets: for ((p, set), &pos) in plan.iter().zip(chosen).zip(&set_at) {
                let Some(set) = set else { continue };
                let n = set.count();
                let target_in_rdata = set.target_offset();
                for extra in set.extras() {
                    // Where record `answer_rr` landed after rotation; none for a
                    // record `MaxAnswers` left out.
                    let j = extra.answer_rr as usize;
                    let index = (j + n - p.0) % n;
                    if index >= p.1 {
                        continue;
                    }
                    let rr_at = pos + set.wire_span(p.0, index);
                    // The owner is the target name in that record: a pointer when it
                    // lies within reach of one (the first 16 KiB), else the name itself.
                    let pointer_to = pointer(rr_at + RR_HEADER + target_in_rdata);
                    let rdata = pointer_to.is_none().then(|| set.rdata(j));
                    let name = rdata.as_deref().map_or(&[][..], |rdata| {
                        uncompressed_name_at(rdata, target_in_rdata)
                    });
                    let owner_len = if pointer_to.is_some() { 2 } else { name.len() };
                    if owner_len == 0 {
                        continue;
                    }
                    let len = owner_len + extra_len(&extra.ip) - 2;
                    if len + opt > w.room() {
                        break 'sets;
                    }
                    let Some(o) = w.reserve(Section::Additional, 1, len) else {
                        break 'sets;
                    };
                    match pointer_to {
                        Some(ptr) => o[0..2].copy_from_slice(&ptr),
                        None => o[..owner_len].copy_from_slice(name),
                    }
                    let o = &mut o[owner_len - 2..];
                    let (rtype, rdlen) = if extra.ip.is_ipv4() {
                        (TYPE_A, 4u16)
                    } else {
                        (TYPE_AAAA, 16)
                    };
                    o[2..4].copy_from_slice(&rtype.to_be_bytes());
                    o[4..6].copy_from_slice(&CLASS_IN.to_be_bytes());
                    o[6..10].copy_from_slice(&set.extra_ttl().to_be_bytes());
                    o[10..12].copy_from_slice(&rdlen.to_be_bytes());
                    match extra.ip {
                        std::net::IpAddr::V4(v4) => o[12..16].copy_from_slice(&v4.octets()),
                        std::net::IpAddr::V6(v6) => o[12..28].copy_from_slice(&v6.octets()),
                    }
                }
            }
        }
        let tc = truncated && snap.zone.set_truncate_bit;
        w.set_flags(w.flags().with(Flags::TC, tc));
        self.end(Rcode::NOERROR)
    }
}
