//! Parsing a query: header, the one question, and the EDNS OPT record. Hostile input is
//! the normal case here: every length is checked, nothing allocates.

use super::header::{Flags, Header, Opcode, Rcode};
use super::wire::*;

/// The parts of a query the responder needs.
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub id: u16,
    /// Header flags of the query (RD, CD and opcode are echoed).
    pub flags: Flags,
    /// End of the question section in the packet (the question is `12..question_end`).
    pub question_end: usize,
    /// Length of the question name in wire form.
    pub qname_len: usize,
    /// The question name, ASCII-lower-cased, wire form.
    pub qname_lower: [u8; 255],
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
}

impl Query {
    pub(crate) fn qname(&self) -> &[u8] {
        &self.qname_lower[..self.qname_len]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// The client's advertised UDP payload size.
    pub udp_size: u16,
    pub version: u8,
    /// DNSSEC OK, echoed in the reply (RFC 3225).
    pub dnssec_ok: bool,
}

/// Why a packet is not a query we can answer normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not worth a reply: shorter than a header, or a response (QR=1).
    Drop,
    /// Reply with this rcode and no question (the question could not be read).
    Header(Rcode),
    /// The question was read but the rest is unacceptable: reply with this rcode and
    /// echo the question (NOTIMP for other opcodes, FORMERR for a bad OPT).
    WithQuestion(Rcode, usize),
}

/// Parses `packet` as a query.
pub(crate) fn parse(packet: &[u8]) -> Result<Query, Reject> {
    let Some(header) = Header::read(packet) else {
        return Err(Reject::Drop);
    };
    let flags = header.flags;
    if flags.is_response() {
        return Err(Reject::Drop);
    }
    let [qdcount, ancount, nscount, arcount] = header.counts;
    if qdcount != 1 {
        return Err(Reject::Header(Rcode::FORMERR));
    }

    // The question name: plain labels only (a pointer has nothing to point at yet).
    // The labels are walked first, then the name is copied and lower-cased in one pass
    // (its length octets, at most 63, are below b'A' and stay as they are): a pass per
    // label cost a quarter of an answer's instructions.
    let mut at = HEADER_LEN;
    loop {
        let len = *packet.get(at).ok_or(Reject::Header(Rcode::FORMERR))? as usize;
        if len & 0xC0 != 0 || at + 1 + len - HEADER_LEN > 255 {
            return Err(Reject::Header(Rcode::FORMERR));
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name = &packet[HEADER_LEN..at];
    let out = name.len();
    let mut qname_lower = [0u8; 255];
    qname_lower[..out].copy_from_slice(name);
    qname_lower[..out].make_ascii_lowercase();
    let qtype = be16(packet, at).ok_or(Reject::Header(Rcode::FORMERR))?;
    let qclass = be16(packet, at + 2).ok_or(Reject::Header(Rcode::FORMERR))?;
    let question_end = at + 4;
    if flags.opcode() != Opcode::QUERY {
        return Err(Reject::WithQuestion(Rcode::NOTIMP, question_end));
    }

    // Answer and authority records are unusual in a query but legal: step over them.
    // The additional section may hold one OPT.
    let formerr = Reject::WithQuestion(Rcode::FORMERR, question_end);
    let mut at = question_end;
    let mut edns = None;
    for i in 0..(ancount as usize + nscount as usize + arcount as usize) {
        let owner = at;
        at = skip_name(packet, at).ok_or(formerr)?;
        let rtype = be16(packet, at).ok_or(formerr)?;
        let rdlen = be16(packet, at + 8).ok_or(formerr)? as usize;
        let end = at + 10 + rdlen;
        if end > packet.len() {
            return Err(formerr);
        }
        let in_additional = i >= ancount as usize + nscount as usize;
        if rtype == TYPE_OPT {
            // One OPT, owned by the root, in the additional section (RFC 6891 §6.1.1).
            if !in_additional || edns.is_some() || packet[owner] != 0 {
                return Err(formerr);
            }
            edns = Some(Edns {
                udp_size: be16(packet, at + 2).ok_or(formerr)?,
                version: packet[at + 5],
                dnssec_ok: opt_dnssec_ok(packet[at + 6]),
            });
        }
        at = end;
    }
    if at != packet.len() {
        return Err(formerr);
    }
    Ok(Query {
        id: header.id,
        flags,
        question_end,
        qname_len: out,
        qname_lower,
        qtype,
        qclass,
        edns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&arcount.to_be_bytes());
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(extra);
        p
    }

    const OPT: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn plain_and_edns() {
        let q = parse(&query(b"\x03WwW\x05Mesos\x00", 1, &[], 0)).unwrap(); // ok: test
        assert_eq!(q.qname(), b"\x03www\x05mesos\x00");
        assert_eq!((q.id, q.qtype, q.qclass), (0x1234, 1, 1));
        assert!(q.flags.contains(Flags::RD), "RD is kept");
        assert!(q.edns.is_none());
        // A longer name: only A-Z change, octets past ASCII and digits stay.
        let q = parse(&query(
            b"\x1dSERVICE-Prod-Team-Task-1\xC3\x89Z@[\x08MaRaThOn\x05MESOS\x00",
            1,
            &[],
            0,
        ))
        .unwrap(); // ok: test
        assert_eq!(
            q.qname(),
            b"\x1dservice-prod-team-task-1\xC3\x89z@[\x08marathon\x05mesos\x00"
        );
        let q = parse(&query(b"\x00", 1, OPT, 1)).unwrap(); // ok: test
        assert_eq!(
            q.edns,
            Some(Edns {
                udp_size: 4096,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn hostile() {
        assert_eq!(parse(&[0; 11]).unwrap_err(), Reject::Drop);
        let mut response = query(b"\x00", 1, &[], 0);
        response[2] |= 0x80;
        assert_eq!(parse(&response).unwrap_err(), Reject::Drop);
        let mut two = query(b"\x00", 1, &[], 0);
        two[5] = 2;
        assert_eq!(parse(&two).unwrap_err(), Reject::Header(Rcode::FORMERR));
        let mut zero = query(b"\x00", 1, &[], 0);
        zero[5] = 0;
        assert_eq!(parse(&zero).unwrap_err(), Reject::Header(Rcode::FORMERR));
        // Pointer in the question, label overflow, truncated question.
        assert!(parse(&query(b"\xC0\x0C", 1, &[], 0)).is_err());
        assert!(parse(&query(b"\x40aaaa", 1, &[], 0)).is_err());
        assert!(parse(&query(b"\x05ab", 1, &[], 0)[..15]).is_err());
        // A name over 255 octets.
        let long: Vec<u8> = std::iter::repeat_n(
            b"\x3faaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".as_slice(),
            5,
        )
        .flatten()
        .copied()
        .chain([0])
        .collect();
        assert_eq!(
            parse(&query(&long, 1, &[], 0)).unwrap_err(),
            Reject::Header(Rcode::FORMERR)
        );
        // Trailing garbage, two OPTs, OPT not at the root.
        assert!(matches!(
            parse(&query(b"\x00", 1, b"xx", 0)),
            Err(Reject::WithQuestion(Rcode::FORMERR, _))
        ));
        let two_opts = [OPT, OPT].concat();
        assert!(matches!(
            parse(&query(b"\x00", 1, &two_opts, 2)),
            Err(Reject::WithQuestion(Rcode::FORMERR, _))
        ));
        let bad_owner = [b"\x01a\x00".as_slice(), &OPT[1..]].concat();
        assert!(matches!(
            parse(&query(b"\x00", 1, &bad_owner, 1)),
            Err(Reject::WithQuestion(Rcode::FORMERR, _))
        ));
        // Other opcodes.
        let mut notify = query(b"\x00", 6, &[], 0);
        notify[2] = 0x20;
        assert!(matches!(
            parse(&notify),
            Err(Reject::WithQuestion(Rcode::NOTIMP, _))
        ));
    }
}
