//! What the forwarder needs to read and rewrite in upstream replies: the record
//! boundaries of each section, TTLs, and a prefix of the message that fits a client's
//! size limit. Nothing here trusts the upstream: every offset is checked.

use crate::dns::header::{Flags, Rcode};
use crate::dns::wire::{HEADER_LEN, TYPE_OPT, TYPE_SOA, be16, skip_name};

/// Where things are in a DNS message.
#[derive(Debug, Default, Clone)]
pub struct Layout {
    /// End of the question section.
    pub question_end: usize,
    /// End offset of every record, in order (answer, authority, additional).
    pub record_ends: Vec<usize>,
    /// Offset of every record's TTL field, with its type.
    pub ttls: Vec<(usize, u16)>,
    pub ancount: usize,
    pub nscount: usize,
    /// Additional records before an OPT (the OPT and anything after it are left out).
    pub arcount_before_opt: usize,
    /// The OPT's TTL field (extended rcode, version, flags), if there was one.
    pub opt_ttl: Option<[u8; 4]>,
}

/// Reads the layout of a message with exactly one question.
pub fn layout(p: &[u8]) -> Option<Layout> {
    if p.len() < HEADER_LEN || be16(p, 4)? != 1 {
        return None;
    }
    let (an, ns, ar) = (
        be16(p, 6)? as usize,
        be16(p, 8)? as usize,
        be16(p, 10)? as usize,
    );
    let question_end = skip_name(p, HEADER_LEN)? + 4;
    if question_end > p.len() {
        return None;
    }
    let mut l = Layout {
        question_end,
        ancount: an,
        nscount: ns,
        ..Layout::default()
    };
    let mut at = question_end;
    for i in 0..an + ns + ar {
        let after_name = skip_name(p, at)?;
        let rtype = be16(p, after_name)?;
        let rdlen = be16(p, after_name + 8)? as usize;
        let end = after_name + 10 + rdlen;
        if end > p.len() {
            return None;
        }
        if rtype == TYPE_OPT {
            if i < an + ns {
                return None;
            }
            l.opt_ttl = p
                .get(after_name + 4..after_name + 8)
                .and_then(|t| t.try_into().ok());
            break;
        }
        if i >= an + ns {
            l.arcount_before_opt += 1;
        }
        l.record_ends.push(end);
        l.ttls.push((after_name + 4, rtype));
        at = end;
    }
    Some(l)
}

/// How long a reply may be cached (RFC 2308): the smallest answer TTL of a positive
/// reply; for NXDOMAIN or NODATA, min(SOA TTL, SOA MINIMUM) of the authority SOA.
/// `None`: not cacheable (other rcodes, truncated, no TTL to go by).
pub fn cache_ttl(p: &[u8], l: &Layout) -> Option<u32> {
    let flags = Flags::of(p)?;
    let rcode = flags.rcode();
    if flags.contains(Flags::TC) || !(rcode == Rcode::NOERROR || rcode == Rcode::NXDOMAIN) {
        return None;
    }
    let ttl_at = |i: usize| -> Option<u32> {
        let at = l.ttls.get(i)?.0;
        Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
    };
    if rcode == Rcode::NOERROR && l.ancount > 0 {
        return (0..l.ancount)
            .map(ttl_at)
            .collect::<Option<Vec<u32>>>()?
            .into_iter()
            .min();
    }
    // Negative: the SOA in the authority section.
    for i in l.ancount..l.ancount + l.nscount {
        if l.ttls.get(i)?.1 == TYPE_SOA {
            let ttl = ttl_at(i)?;
            let end = l.record_ends[i];
            let minimum = u32::from_be_bytes(p.get(end - 4..end)?.try_into().ok()?);
            return Some(ttl.min(minimum));
        }
    }
    None
}

/// The longest prefix of a reply that fits `limit` bytes (plus `reserve` for an OPT the
/// caller appends): (cut offset, records kept per section, answer or authority lost).
pub fn fit(l: &Layout, limit: usize, reserve: usize) -> (usize, [usize; 3], bool) {
    let room = limit.saturating_sub(reserve);
    let sections = [l.ancount, l.nscount, l.arcount_before_opt];
    let mut cut = l.question_end;
    let mut kept = 0;
    for &end in &l.record_ends {
        if end > room {
            break;
        }
        cut = end;
        kept += 1;
    }
    let mut counts = [0; 3];
    let mut left = kept;
    for (c, s) in counts.iter_mut().zip(sections) {
        *c = left.min(s);
        left -= *c;
    }
    let lost_needed = counts[0] < sections[0] || counts[1] < sections[1];
    (cut, counts, lost_needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply with `n` A records for `a.test.` and an OPT.
    fn reply(n: u16, opt: bool) -> Vec<u8> {
        let [f0, f1] = (Flags::QR | Flags::RD | Flags::RA).bits().to_be_bytes();
        let mut p = vec![0, 1, f0, f1, 0, 1];
        p.extend_from_slice(&n.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, u8::from(opt)]);
        p.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        for i in 0..n {
            p.extend_from_slice(&[
                0xC0,
                12,
                0,
                1,
                0,
                1,
                0,
                0,
                0,
                30 + i as u8,
                0,
                4,
                10,
                0,
                0,
                i as u8,
            ]);
        }
        if opt {
            p.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
        }
        p
    }

    #[test]
    fn layout_and_ttl() {
        let p = reply(3, true);
        let l = layout(&p).unwrap();
        assert_eq!(l.record_ends.len(), 3);
        assert_eq!(l.opt_ttl, Some([0, 0, 0x80, 0]));
        assert_eq!(cache_ttl(&p, &l), Some(30));
        assert!(layout(&p[..p.len() - 20]).is_none(), "records past the end");
    }

    #[test]
    fn fitting() {
        let p = reply(10, false);
        let l = layout(&p).unwrap();
        let (cut, counts, lost) = fit(&l, p.len(), 0);
        assert_eq!((cut, counts, lost), (p.len(), [10, 0, 0], false));
        let (cut, counts, lost) = fit(&l, l.question_end + 16 * 4 + 5, 0);
        assert_eq!((cut, counts, lost), (l.question_end + 64, [4, 0, 0], true));
    }

    #[test]
    fn negative_ttl_from_soa() {
        let mut p = vec![0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0];
        p.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let rdata: Vec<u8> = [
            b"\x00\x00".as_slice(),
            &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 20],
        ]
        .concat();
        p.extend_from_slice(&[0xC0, 14, 0, 6, 0, 1, 0, 0, 0, 90, 0, rdata.len() as u8]);
        p.extend_from_slice(&rdata);
        let l = layout(&p).unwrap();
        assert_eq!(cache_ttl(&p, &l), Some(20));
    }
}
