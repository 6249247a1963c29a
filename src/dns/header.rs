//! The 12-octet message header (RFC 1035 §4.1.1) as a type: named flags, the opcode
//! and rcode fields, and the four section counts. Every header this server reads or
//! writes goes through here, so no flag is spelled as a bit pattern anywhere else.

use std::ops::BitOr;

/// Octets of a header.
pub(crate) const HEADER_LEN: usize = 12;

/// The 16 bits after the ID: QR, opcode, AA, TC, RD, RA, Z, AD, CD and the rcode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// A response.
    pub(crate) const QR: Flags = Flags(0x8000);
    /// Authoritative answer.
    pub(crate) const AA: Flags = Flags(0x0400);
    /// Truncated.
    pub(crate) const TC: Flags = Flags(0x0200);
    /// Recursion desired.
    pub(crate) const RD: Flags = Flags(0x0100);
    /// Recursion available.
    pub(crate) const RA: Flags = Flags(0x0080);
    /// Checking disabled (RFC 4035).
    pub(crate) const CD: Flags = Flags(0x0010);

    const OPCODE_SHIFT: u16 = 11;
    const OPCODE_MASK: u16 = 0x7800;
    const RCODE_MASK: u16 = 0x000F;

    /// The flags of `packet`, if it has a header.
    pub(crate) fn of(packet: &[u8]) -> Option<Flags> {
        Some(Flags(u16::from_be_bytes([
            *packet.get(2)?,
            *packet.get(3)?,
        ])))
    }

    /// As the header carries them.
    #[cfg(test)]
    pub(crate) const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub(crate) const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `flag` set or cleared.
    pub(crate) const fn with(self, flag: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | flag.0)
        } else {
            Flags(self.0 & !flag.0)
        }
    }

    /// Only the flags of `mask` (the opcode and rcode fields go with it when `mask` has
    /// them, see [`Flags::KEEP_OPCODE`]).
    pub(crate) const fn only(self, mask: Flags) -> Flags {
        Flags(self.0 & mask.0)
    }

    /// A mask that keeps the opcode field (for [`Flags::only`]).
    pub(crate) const KEEP_OPCODE: Flags = Flags(Flags::OPCODE_MASK);

    /// The opcode field.
    pub(crate) const fn opcode(self) -> Opcode {
        Opcode(((self.0 & Flags::OPCODE_MASK) >> Flags::OPCODE_SHIFT) as u8)
    }

    /// The opcode field set to `opcode`.
    pub(crate) const fn with_opcode(self, opcode: Opcode) -> Flags {
        let field = ((opcode.0 as u16) << Flags::OPCODE_SHIFT) & Flags::OPCODE_MASK;
        Flags((self.0 & !Flags::OPCODE_MASK) | field)
    }

    /// The (4-bit) rcode field.
    pub(crate) const fn rcode(self) -> Rcode {
        Rcode((self.0 & Flags::RCODE_MASK) as u8)
    }

    /// The rcode field set to the low 4 bits of `rcode` (the rest goes in the OPT
    /// record).
    pub(crate) const fn with_rcode(self, rcode: Rcode) -> Flags {
        Flags((self.0 & !Flags::RCODE_MASK) | (rcode.0 as u16 & Flags::RCODE_MASK))
    }

    /// Whether the header says response (QR).
    pub(crate) const fn is_response(self) -> bool {
        self.contains(Flags::QR)
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// The kind of a message (RFC 1035, 1996).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Opcode(pub(crate) u8);

impl Opcode {
    /// A standard query.
    pub(crate) const QUERY: Opcode = Opcode(0);
    /// A zone change notification (RFC 1996).
    pub(crate) const NOTIFY: Opcode = Opcode(4);
}

/// A response code; values above 15 are extended (RFC 6891), their upper bits in the
/// OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rcode(pub(crate) u8);

impl Rcode {
    /// No error.
    pub(crate) const NOERROR: Rcode = Rcode(0);
    /// The query could not be read.
    pub(crate) const FORMERR: Rcode = Rcode(1);
    /// The server failed.
    pub(crate) const SERVFAIL: Rcode = Rcode(2);
    /// The name does not exist.
    pub(crate) const NXDOMAIN: Rcode = Rcode(3);
    /// Not implemented.
    pub(crate) const NOTIMP: Rcode = Rcode(4);
    /// Refused by policy.
    pub(crate) const REFUSED: Rcode = Rcode(5);
    /// Not authoritative for the zone (RFC 2136), or a TSIG failure (RFC 8945).
    pub(crate) const NOTAUTH: Rcode = Rcode(9);
    /// The upper 8 bits of an extended rcode, as the OPT record's TTL carries them.
    pub(crate) const fn extended_bits(self) -> u8 {
        self.0 >> 4
    }
}

/// Extended rcode 16: unsupported EDNS version (RFC 6891 §6.1.3).
pub(crate) const BADVERS: Rcode = Rcode(16);

/// The sections of a message, in order; their counts follow the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    /// QDCOUNT.
    Question = 0,
    /// ANCOUNT.
    Answer = 1,
    /// NSCOUNT.
    Authority = 2,
    /// ARCOUNT.
    Additional = 3,
}

/// A whole header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The message ID.
    pub(crate) id: u16,
    /// Flags, opcode and rcode.
    pub(crate) flags: Flags,
    /// Records in each [`Section`].
    pub(crate) counts: [u16; 4],
}

impl Header {
    /// The header of `packet`, if it has one.
    pub(crate) fn read(packet: &[u8]) -> Option<Header> {
        let h = packet.get(..HEADER_LEN)?;
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Some(Header {
            id: word(0),
            flags: Flags(word(2)),
            counts: [word(4), word(6), word(8), word(10)],
        })
    }

    /// Writes it over the first 12 octets of `out` (which must have them).
    #[inline]
    pub(crate) fn write(&self, out: &mut [u8]) {
        let [i0, i1] = self.id.to_be_bytes();
        let [f0, f1] = self.flags.0.to_be_bytes();
        let [q0, q1] = self.counts[0].to_be_bytes();
        let [a0, a1] = self.counts[1].to_be_bytes();
        let [n0, n1] = self.counts[2].to_be_bytes();
        let [r0, r1] = self.counts[3].to_be_bytes();
        out[..HEADER_LEN].copy_from_slice(&[i0, i1, f0, f1, q0, q1, a0, a1, n0, n1, r0, r1]);
    }

    /// The count of one section.
    pub(crate) fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }
}

/// Sets the count of `section` in the header at the start of `packet` (one that has a
/// header): for a record added or taken off after the header was written.
pub(crate) fn set_count(packet: &mut [u8], section: Section, count: u16) {
    let at = 4 + 2 * section as usize;
    packet[at..at + 2].copy_from_slice(&count.to_be_bytes());
}

/// The count of `section` in `packet`'s header, 0 without one.
pub(crate) fn count(packet: &[u8], section: Section) -> u16 {
    Header::read(packet).map_or(0, |h| h.count(section))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let flags = (Flags::QR | Flags::AA)
            .with_opcode(Opcode::NOTIFY)
            .with_rcode(Rcode::NOTAUTH);
        assert_eq!(flags.bits(), 0x8000 | 4 << 11 | 0x0400 | 9);
        assert_eq!(flags.opcode(), Opcode::NOTIFY);
        assert_eq!(flags.rcode(), Rcode::NOTAUTH);
        assert!(flags.is_response() && flags.contains(Flags::AA) && !flags.contains(Flags::TC));
        assert!(!flags.with(Flags::AA, false).contains(Flags::AA));
        let header = Header {
            id: 0xBEEF,
            flags,
            counts: [1, 2, 3, 4],
        };
        let mut out = [0u8; 12];
        header.write(&mut out);
        assert_eq!(Header::read(&out), Some(header));
        set_count(&mut out, Section::Additional, 9);
        assert_eq!(count(&out, Section::Additional), 9);
        assert_eq!(BADVERS.extended_bits(), 1);
    }
}
