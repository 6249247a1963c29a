//! Constants and small helpers for DNS wire format (RFC 1035, 6891).

pub(crate) use super::header::HEADER_LEN;
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
/// Octets of an OPT record without options.
pub(crate) const OPT_LEN: usize = 11;
/// The DO bit (RFC 3225) in the high octet of an OPT record's flags.
const OPT_DO: u8 = 0x80;

/// An OPT pseudo-record (RFC 6891 §6.1.2) without options: the root owner, `udp_size`,
/// the upper 8 bits of the rcode (see [`Rcode::extended_bits`]), version 0, and DO as the
/// query had it.
pub(crate) fn opt_record(udp_size: u16, extended_rcode: u8, dnssec_ok: bool) -> [u8; OPT_LEN] {
    let [s0, s1] = udp_size.to_be_bytes();
    let [t0, t1] = TYPE_OPT.to_be_bytes();
    let flags = if dnssec_ok { OPT_DO } else { 0 };
    [0, t0, t1, s0, s1, extended_rcode, 0, flags, 0, 0, 0]
}

/// Whether the OPT record's flags (the two octets after its version) ask for DNSSEC.
pub(crate) fn opt_dnssec_ok(flags_high: u8) -> bool {
    flags_high & OPT_DO != 0
}

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

/// Number `index` of the five that end a SOA RDATA (0 serial, 1 refresh, 2 retry,
/// 3 expire, 4 minimum). `bytes` may be the RDATA or a whole record ending in it.
pub(crate) fn soa_number(bytes: &[u8], index: usize) -> Option<u32> {
    let start = bytes.len().checked_sub(20 - 4 * index.min(4))?;
    Some(u32::from_be_bytes(
        bytes.get(start..start + 4)?.try_into().ok()?,
    ))
}

/// Writes `serial` into the SOA RDATA (or record) `bytes`; false when too short.
pub(crate) fn set_soa_serial(bytes: &mut [u8], serial: u32) -> bool {
    match bytes.len().checked_sub(20) {
        Some(at) => {
            bytes[at..at + 4].copy_from_slice(&serial.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Serial arithmetic (RFC 1982): whether serial `a` is newer than `b`.
pub(crate) fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The newer of two serials (RFC 1982 order).
pub(crate) fn serial_later(a: u32, b: u32) -> u32 {
    if serial_newer(a, b) { a } else { b }
}

/// The uncompressed wire name starting at `at` (labels up to the root label); empty if
/// the bytes do not hold one.
pub(crate) fn uncompressed_name_at(bytes: &[u8], at: usize) -> &[u8] {
    let mut i = at;
    while let Some(&len) = bytes.get(i) {
        if len == 0 {
            return &bytes[at..=i];
        }
        if len & 0xC0 != 0 {
            return &[];
        }
        i += 1 + len as usize;
    }
    &[]
}

/// A compression pointer to `offset`, if it can be expressed (offsets below 16 KiB).
pub(crate) fn pointer(offset: usize) -> Option<[u8; 2]> {
    (offset < 0x4000).then(|| (0xC000 | offset as u16).to_be_bytes())
}

/// Writes `text` (`a.b.c.`, labels of 1-63 octets) as an uncompressed wire name,
/// ASCII-lower-cased when `lower`. Returns `None` for a name that cannot be written.
pub(crate) fn name_to_wire(text: &str, lower: bool, out: &mut Vec<u8>) -> Option<()> {
    let body = text.strip_suffix('.').unwrap_or(text).as_bytes();
    if body.is_empty() {
        out.push(0);
        return Some(());
    }
    // Labels of n bytes joined by dots take the same room as length octets: the wire
    // form is the text and two octets. Built on the stack in one pass (a first load
    // converts millions of names).
    let wire_len = body.len() + 2;
    if wire_len > 255 {
        return None;
    }
    let mut wire = [0u8; 255];
    let mut label_at = 0;
    for (i, &byte) in body.iter().enumerate() {
        if byte == b'.' {
            set_label_length(&mut wire, label_at, i + 1)?;
            label_at = i + 1;
        } else {
            wire[i + 1] = if lower {
                byte.to_ascii_lowercase()
            } else {
                byte
            };
        }
    }
    set_label_length(&mut wire, label_at, body.len() + 1)?;
    out.extend_from_slice(&wire[..wire_len]);
    Some(())
}

/// Writes the length of the label whose length octet is at `at` and which ends before
/// `end`; `None` when it is empty or longer than 63 octets.
fn set_label_length(wire: &mut [u8; 255], at: usize, end: usize) -> Option<()> {
    let len = end - at - 1;
    if len == 0 || len > 63 {
        return None;
    }
    wire[at] = len as u8;
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
        assert!(name_to_wire(".a.", false, &mut v).is_none());
        assert!(name_to_wire("a..", false, &mut v).is_none());
        // Labels up to 63 octets, names up to 255 in wire form.
        let label = |n: usize| "x".repeat(n);
        v.clear();
        name_to_wire(&format!("{}.B", label(63)), false, &mut v).unwrap(); // ok: test
        assert_eq!((v[0], v[64], &v[65..]), (63, 1, &b"B\0"[..]));
        assert!(name_to_wire(&format!("{}.b", label(64)), false, &mut v).is_none());
        let longest = [label(63), label(63), label(63), label(61)].join(".");
        v.clear();
        name_to_wire(&longest, false, &mut v).unwrap(); // ok: test
        assert_eq!(v.len(), 255);
        assert!(name_to_wire(&format!("{longest}x"), false, &mut v).is_none());
        assert_eq!(v.len(), 255, "a name that cannot be written adds nothing");
        assert!(pointer(12) == Some([0xC0, 12]));
        assert!(pointer(0x4000).is_none());
    }
}
