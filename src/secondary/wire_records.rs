//! The records of a transfer message, read straight from the wire into this server's
//! terms ([`ZoneRr`]) when the message is of the kind this server's primaries send:
//! every answer of a type served here (A, AAAA, SRV, PTR, NS, SOA), of class IN, with
//! plain names, and every section well formed to the last octet. Anything else is left
//! to hickory-proto and [`convert`], whose records these equal (a property test holds
//! the two together).
//!
//! Why not hickory-proto for all: a whole transfer of a 100k-task zone is 1.27M records,
//! and reading each name into hickory's label form, then into text, took about a third
//! of a secondary's first load; a change taken over UDP paid 30-57 µs for a dozen
//! records. Here a name goes from the wire to its text in one pass.

use super::stream::{RrData, ZoneRr, convert, is_plain};
use crate::dns::cursor::Cursor;
use crate::dns::header::{HEADER_LEN, Header, Section};
use crate::dns::wire::{CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_PTR, TYPE_SOA, TYPE_SRV};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest name on the wire (RFC 1035 §3.1).
const NAME_MAX: usize = 255;

/// The answer records of `packet` (checked, its TSIG taken off) with non-IN records
/// left out, as [`convert`] gives them; `None` when the message does not parse.
pub(crate) fn answer_records(packet: &[u8]) -> Option<Vec<ZoneRr>> {
    match fast(packet) {
        Some(records) => Some(records),
        None => {
            let message = hickory_proto::op::Message::from_vec(packet).ok()?;
            Some(message.answers().iter().filter_map(convert).collect())
        }
    }
}

/// The question's name as lower-cased text with a trailing dot, and its type, when the
/// message has one question with a plain name.
pub(crate) fn question(packet: &[u8]) -> Option<(String, u16)> {
    if Header::read(packet)?.count(Section::Question) != 1 {
        return None;
    }
    let mut name = String::new();
    let end = plain_name(packet, HEADER_LEN, &mut name)?;
    let mut cursor = Cursor::new(packet, end);
    Some((name, cursor.u16()?))
}

/// The fast path: `None` for anything it does not take (then hickory-proto reads it).
fn fast(packet: &[u8]) -> Option<Vec<ZoneRr>> {
    let header = Header::read(packet)?;
    let mut cursor = Cursor::new(packet, HEADER_LEN);
    for _ in 0..header.count(Section::Question) {
        cursor.question()?;
    }
    let answers = header.count(Section::Answer);
    let mut records = Vec::with_capacity(usize::from(answers));
    for _ in 0..answers {
        let mut name = String::with_capacity(64);
        let after_owner = plain_name(packet, cursor.at(), &mut name)?;
        cursor = Cursor::new(packet, after_owner);
        let rtype = cursor.u16()?;
        if cursor.u16()? != CLASS_IN {
            return None;
        }
        let ttl = cursor.u32()?;
        let len = usize::from(cursor.u16()?);
        let rdata_at = cursor.at();
        let rdata = cursor.take(len)?;
        let rdata_end = rdata_at + len;
        let data = match rtype {
            TYPE_A => RrData::A(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).ok()?)),
            TYPE_AAAA => RrData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).ok()?)),
            TYPE_SRV => {
                let mut fixed = Cursor::new(rdata, 0);
                let (priority, weight, port) = (fixed.u16()?, fixed.u16()?, fixed.u16()?);
                let mut target = String::new();
                (plain_name(packet, rdata_at + 6, &mut target)? == rdata_end).then_some(())?;
                RrData::Srv {
                    priority,
                    weight,
                    port,
                    target: target.into(),
                }
            }
            TYPE_PTR | TYPE_NS => {
                let mut target = String::new();
                (plain_name(packet, rdata_at, &mut target)? == rdata_end).then_some(())?;
                if rtype == TYPE_PTR {
                    RrData::Ptr(target.into())
                } else {
                    RrData::Ns(target.into())
                }
            }
            TYPE_SOA => {
                let mut wire = Vec::with_capacity(len + 16);
                let rname_at = wire_name(packet, rdata_at, &mut wire)?;
                let numbers_at = wire_name(packet, rname_at, &mut wire)?;
                let numbers = packet.get(numbers_at..rdata_end)?;
                (numbers.len() == 20).then_some(())?;
                wire.extend_from_slice(numbers);
                RrData::Soa(wire)
            }
            _ => return None,
        };
        records.push(ZoneRr {
            name: name.into(),
            ttl,
            data,
        });
    }
    // The other sections are stepped over, and must end the message exactly.
    for _ in 0..(u32::from(header.count(Section::Authority))
        + u32::from(header.count(Section::Additional)))
    {
        cursor.record()?;
    }
    (cursor.at() == packet.len()).then_some(records)
}

/// Reads the name at `at` (compression pointers followed, backwards only) into `out`
/// as lower-cased text with a trailing dot; the offset just past it where it lies.
/// `None` for a label that is not plain (letters, digits, `-`, `_`, `*`), a name past
/// 255 octets, or anything malformed. Written on the stack, then appended once (a whole
/// transfer reads two names per record).
fn plain_name(packet: &[u8], at: usize, out: &mut String) -> Option<usize> {
    // The text is as long as the wire form less one octet: it fits.
    let mut text = [0u8; NAME_MAX];
    let mut len = 0;
    let end = walk_labels(packet, at, |label| {
        for &byte in label {
            let byte = byte.to_ascii_lowercase();
            if !is_plain(byte) {
                return None;
            }
            text[len] = byte;
            len += 1;
        }
        text[len] = b'.';
        len += 1;
        Some(())
    })?;
    if len == 0 {
        out.push('.');
    } else {
        // Plain ASCII, checked above.
        out.push_str(std::str::from_utf8(&text[..len]).ok()?);
    }
    Some(end)
}

/// Appends the name at `at` to `out` uncompressed and lower-cased; the offset just past
/// it where it lies.
fn wire_name(packet: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    let end = walk_labels(packet, at, |label| {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
        let start = out.len() - label.len();
        out[start..].make_ascii_lowercase();
        Some(())
    })?;
    out.push(0);
    Some(end)
}

/// Calls `on_label` with each label but the root of the name at `at`, in order; the
/// offset just past the name where it lies. Pointers must point before themselves (so
/// no loop), labels are plain lengths, the name at most 255 octets in wire form.
fn walk_labels(
    packet: &[u8],
    mut at: usize,
    mut on_label: impl FnMut(&[u8]) -> Option<()>,
) -> Option<usize> {
    let mut end = None;
    let mut wire_len = 0;
    loop {
        let len = *packet.get(at)?;
        match len & 0xC0 {
            0xC0 => {
                let target = usize::from(u16::from_be_bytes([len & 0x3F, *packet.get(at + 1)?]));
                if target >= at {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            0 => {
                let len = usize::from(len);
                wire_len += 1 + len;
                if wire_len > NAME_MAX {
                    return None;
                }
                if len == 0 {
                    return Some(end.unwrap_or(at + 1));
                }
                on_label(packet.get(at + 1..at + 1 + len)?)?;
                at += 1 + len;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA, SRV, TXT};
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
    use proptest::prelude::*;

    fn name(labels: &[String]) -> Name {
        Name::from_labels(labels.iter().map(|l| l.as_bytes())).unwrap_or_else(|_| Name::root()) // ok: test
    }

    /// One record of a kind the fast path takes, or not: the owner and RDATA names drawn
    /// from a few labels (some not plain, some upper case) so that compression and the
    /// fall back to hickory-proto both happen.
    fn record() -> impl Strategy<Value = Record> {
        let label = prop_oneof![
            Just("mesos".to_string()),
            Just("Marathon".to_string()),
            Just("_tcp".to_string()),
            Just("web-1".to_string()),
            Just("a b".to_string()),
            "[a-z0-9]{1,8}",
        ];
        let owner = proptest::collection::vec(label.clone(), 0..4);
        let target = proptest::collection::vec(label, 0..4);
        (
            owner,
            target,
            0u8..8,
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<bool>(),
        )
            .prop_map(|(owner, target, kind, ttl, n, port, other_class)| {
                let (owner, target) = (name(&owner), name(&target));
                let data = match kind {
                    0 => RData::A(A(Ipv4Addr::from(n))),
                    1 => RData::AAAA(AAAA(Ipv6Addr::from(u128::from(n) << 64 | u128::from(n)))),
                    2 => RData::SRV(SRV::new(port, port / 2, port / 3, target)),
                    3 => RData::PTR(PTR(target)),
                    4 => RData::NS(NS(target)),
                    5 => RData::SOA(SOA::new(owner.clone(), target, n, 60, 30, 600, 5)),
                    6 => RData::TXT(TXT::new(vec!["x".into()])),
                    _ => RData::A(A(Ipv4Addr::from(n.rotate_left(7)))),
                };
                let mut record = Record::from_rdata(owner, ttl, data);
                if other_class && kind == 7 {
                    record.set_dns_class(DNSClass::CH);
                }
                record
            })
    }

    proptest! {
        /// Whatever the message, the records read are those hickory-proto and `convert`
        /// give, in order.
        #[test]
        fn the_fast_path_reads_what_hickory_reads(records in proptest::collection::vec(record(), 0..12)) {
            let mut m = Message::new();
            m.add_query(Query::query(Name::from_ascii("mesos.").unwrap(), RecordType::IXFR)); // ok: test
            m.add_answers(records);
            let Ok(bytes) = m.to_vec() else { return Ok(()) };
            let slow: Vec<ZoneRr> = Message::from_vec(&bytes)
                .map(|m| m.answers().iter().filter_map(convert).collect())
                .unwrap_or_default();
            prop_assert_eq!(answer_records(&bytes).unwrap_or_default(), slow);
        }

        /// Any bytes: no panic, and what the fast path reads agrees with hickory-proto.
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(records) = fast(&bytes) {
                let message = Message::from_vec(&bytes);
                prop_assert!(message.is_ok(), "the fast path took what hickory-proto refuses");
                let slow: Vec<ZoneRr> = message.map(|m| m.answers().iter().filter_map(convert).collect()).unwrap_or_default();
                prop_assert_eq!(records, slow);
            }
            let _ = question(&bytes);
        }
    }

    /// A message of the kind this server's primaries send takes the fast path.
    #[test]
    fn served_kinds_take_the_fast_path() {
        let n = |s: &str| Name::from_ascii(s).unwrap(); // ok: test
        let mut m = Message::new();
        m.add_query(Query::query(n("mesos."), RecordType::AXFR));
        m.add_answers([
            Record::from_rdata(
                n("mesos."),
                60,
                RData::SOA(SOA::new(
                    n("ns1.mesos."),
                    n("root.ns1.mesos."),
                    7,
                    60,
                    30,
                    600,
                    5,
                )),
            ),
            Record::from_rdata(n("Web.Marathon.mesos."), 60, RData::A(A::new(10, 0, 0, 1))),
            Record::from_rdata(
                n("_web._tcp.marathon.mesos."),
                60,
                RData::SRV(SRV::new(0, 1, 31000, n("web-1.marathon.slave.mesos."))),
            ),
        ]);
        let bytes = m.to_vec().unwrap(); // ok: test
        let records = fast(&bytes).unwrap(); // ok: test
        assert_eq!(&*records[1].name, "web.marathon.mesos.");
        assert_eq!(
            records,
            Message::from_vec(&bytes)
                .unwrap() // ok: test
                .answers()
                .iter()
                .filter_map(convert)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn names_follow_pointers_backwards_only() {
        // "mesos." at 12, then a pointer to it at 19, then a pointer to itself at 21.
        let mut p = vec![0u8; 12];
        p.extend_from_slice(b"\x05MESOS\x00\xC0\x0C\xC0\x15");
        let mut out = String::new();
        assert_eq!(plain_name(&p, 19, &mut out), Some(21));
        assert_eq!(out, "mesos.");
        assert_eq!(plain_name(&p, 21, &mut String::new()), None);
    }
}
