//! Constants and small helpers for DNS wire format (RFC 1035, 6891).

pub(crate) const HEADER_LEN: usize = 12;
/// Largest message over TCP (2-byte length prefix).
pub(crate) const TCP_MAX: usize = 65535;
/// UDP size every client may receive without EDNS.
pub(crate) const UDP_CLASSIC: usize = 512;

pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_NS: u16 = 2;
pub(crate) const TYPE_SOA: u16 = 6;
pub(crate) const TYPE_PTR: u16 = 12;
pub(crate) const TYPE_AAAA: u16 = 28;
pub(crate) const TYPE_SRV: u16 = 33;
pub(crate) const TYPE_OPT: u16 = 41;
pub(crate) const TYPE_IXFR: u16 = 251;
pub(crate) const TYPE_AXFR: u16 = 252;
pub(crate) const TYPE_ANY: u16 = 255;
pub(crate) const CLASS_IN: u16 = 1;

pub(crate) const RCODE_NOERROR: u8 = 0;
pub(crate) const RCODE_FORMERR: u8 = 1;
pub(crate) const RCODE_SERVFAIL: u8 = 2;
pub(crate) const RCODE_NXDOMAIN: u8 = 3;
pub(crate) const RCODE_NOTIMP: u8 = 4;
pub(crate) const RCODE_REFUSED: u8 = 5;
pub(crate) const RCODE_NOTAUTH: u8 = 9;
/// Extended rcode 16 (upper bits 1 in the OPT TTL): unsupported EDNS version.
pub(crate) const EXT_RCODE_BADVERS: u8 = 1;

/// A big-endian u16 at `at`, if the packet is long enough.
pub(crate) fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// Steps over a possibly compressed name starting at `at`; the offset after it.
pub(crate) fn skip_name(p: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *p.get(at)? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + len,
            0xC0 => return (at + 2 <= p.len()).then_some(at + 2),
            _ => return None,
        }
    }
}

/// A compression pointer to `offset`, if it can be expressed (offsets below 16 KiB).
pub(crate) fn pointer(offset: usize) -> Option<[u8; 2]> {
    (offset < 0x4000).then(|| (0xC000 | offset as u16).to_be_bytes())
}

/// Writes `text` (`a.b.c.`, labels of 1-63 octets) as an uncompressed wire name,
/// ASCII-lower-cased when `lower`. Returns `None` for a name that cannot be written.
pub(crate) fn name_to_wire(text: &str, lower: bool, out: &mut Vec<u8>) -> Option<()> {
    let body = text.strip_suffix('.').unwrap_or(text);
    let start = out.len();
    if !body.is_empty() {
        for label in body.split('.') {
            let len = label.len();
            if len == 0 || len > 63 {
                out.truncate(start);
                return None;
            }
            out.push(len as u8);
            if lower {
                out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
            } else {
                out.extend_from_slice(label.as_bytes());
            }
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        out.truncate(start);
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mut v = Vec::new();
        name_to_wire("Ab.mesos.", true, &mut v).unwrap(); // ok: test
        assert_eq!(v, b"\x02ab\x05mesos\x00");
        v.clear();
        name_to_wire(".", false, &mut v).unwrap(); // ok: test
        assert_eq!(v, b"\x00");
        assert!(name_to_wire("a..b.", false, &mut v).is_none());
        assert!(pointer(12) == Some([0xC0, 12]));
        assert!(pointer(0x4000).is_none());
    }
}
