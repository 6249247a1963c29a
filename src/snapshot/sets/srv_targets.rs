//! SRV sets with each target stored once: a set's records name few distinct targets
//! (a task with two ports is two records with one target) that end alike (every
//! target of `_app._tcp.marathon.mesos` ends in `marathon.mesos.`). A packed set keeps
//! each record's priority, weight and port with the place of its target, each distinct
//! target once without the suffix all share, and that suffix once: at 100k tasks the
//! SRV RDATA falls from 20 to 10 MB. Records are written whole when answered (RFC 2782
//! forbids compressing an SRV target), so an answer copies three pieces a record where
//! it copied one.
//!
//! Layout, after the set's RDATA starts (which stay those of the whole records): the
//! names' length (u32, little-endian), `count` records of [`RECORD`] octets (priority,
//! weight and port as on the wire, then the target's place in the names as a u32),
//! then the names: the shared suffix and each distinct target's own labels, each as a
//! length octet and its bytes, the suffix first.

use foldhash::fast::FixedState;
use std::collections::HashMap;

/// Octets of a packed record: priority, weight, port, the target's place.
const RECORD: usize = 10;

/// The fields of an SRV record before its target.
const FIELDS: usize = 6;

/// The records and names of a packed set.
#[derive(Clone, Copy)]
pub(super) struct PackedSrv<'a> {
    records: &'a [u8],
    names: &'a [u8],
}

impl<'a> PackedSrv<'a> {
    /// The packed records of `count` records at the start of `data`, and the octets
    /// they take there.
    pub(super) fn read(data: &'a [u8], count: usize) -> (PackedSrv<'a>, usize) {
        let names_len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let records_end = 4 + RECORD * count;
        let packed = PackedSrv {
            records: &data[4..records_end],
            names: &data[records_end..records_end + names_len],
        };
        (packed, records_end + names_len)
    }

    /// The suffix every target ends with (down to the root label).
    #[inline]
    pub(super) fn suffix(&self) -> &'a [u8] {
        piece(self.names, 0)
    }

    /// Record `i`: its priority, weight and port, and its target's labels before the
    /// suffix.
    #[inline]
    pub(super) fn record(&self, i: usize) -> (&'a [u8; FIELDS], &'a [u8]) {
        let record = &self.records[RECORD * i..RECORD * (i + 1)];
        let (fields, place) = record.split_at(FIELDS);
        let place = u32::from_le_bytes([place[0], place[1], place[2], place[3]]) as usize;
        let fields = fields.try_into().unwrap_or(&[0; FIELDS]);
        (fields, piece(self.names, place))
    }

    /// Record `i`'s RDATA, whole.
    pub(super) fn rdata(&self, i: usize) -> Vec<u8> {
        let (fields, prefix) = self.record(i);
        [&fields[..], prefix, self.suffix()].concat()
    }
}

/// The piece whose length octet is at `at`.
#[inline]
fn piece(names: &[u8], at: usize) -> &[u8] {
    let len = usize::from(names[at]);
    &names[at + 1..at + 1 + len]
}

/// Where each label of the uncompressed wire name `name` starts, the root's last;
/// `None` when `name` is not exactly one such name.
fn label_starts(name: &[u8], starts: &mut Vec<usize>) -> Option<()> {
    starts.clear();
    let mut at = 0;
    loop {
        starts.push(at);
        let len = usize::from(*name.get(at)?);
        if len == 0 {
            return (at + 1 == name.len()).then_some(());
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
}

/// Appends the packed form of `records` (each an SRV RDATA) to `out` and returns true,
/// when every record has an uncompressed target and the packed form is the smaller;
/// otherwise leaves `out` as it was and returns false. The form follows from the
/// records alone, so equal sets pack to equal bytes (the pool compares those).
pub(super) fn pack(records: &[&[u8]], out: &mut Vec<u8>) -> bool {
    // The shared suffix, as the octets it takes at the end of every target.
    let (mut starts, mut first_starts) = (Vec::new(), Vec::new());
    let mut suffix_len: Option<usize> = None;
    let mut first: &[u8] = &[];
    for rdata in records {
        let target = match rdata.get(FIELDS..) {
            Some(target) if label_starts(target, &mut starts).is_some() => target,
            _ => return false,
        };
        suffix_len = Some(match suffix_len {
            None => {
                first = target;
                first_starts.clone_from(&starts);
                target.len()
            }
            Some(len) => common_suffix((first, &first_starts), (target, &starts), len),
        });
    }
    let Some(suffix_len) = suffix_len else {
        return false;
    };
    let suffix = &first[first.len() - suffix_len..];

    // Each distinct target's own labels once, in order of first use.
    let mut places: HashMap<&[u8], u32, FixedState> = HashMap::default();
    let mut names = vec![suffix_len as u8];
    names.extend_from_slice(suffix);
    let mut packed_records = Vec::with_capacity(RECORD * records.len());
    for rdata in records {
        let target = &rdata[FIELDS..];
        let own = &target[..target.len() - suffix_len];
        let place = *places.entry(own).or_insert_with(|| {
            let place = names.len() as u32;
            names.push(own.len() as u8);
            names.extend_from_slice(own);
            place
        });
        packed_records.extend_from_slice(&rdata[..FIELDS]);
        packed_records.extend_from_slice(&place.to_le_bytes());
    }
    let plain: usize = records.iter().map(|r| r.len()).sum();
    if 4 + packed_records.len() + names.len() >= plain {
        return false;
    }
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    out.extend_from_slice(&packed_records);
    out.extend_from_slice(&names);
    true
}

/// The longest suffix of at most `len` octets that two names share and that starts a
/// label in both (each name with where its labels start).
fn common_suffix(
    (first, first_starts): (&[u8], &[usize]),
    (target, target_starts): (&[u8], &[usize]),
    len: usize,
) -> usize {
    let same = first
        .iter()
        .rev()
        .zip(target.iter().rev())
        .take(len)
        .take_while(|(a, b)| a == b)
        .count();
    // Equal octets from a label start of both on are the same labels in both.
    let starts_label = |name: &[u8], starts: &[usize], tail: usize| {
        starts.binary_search(&(name.len() - tail)).is_ok()
    };
    target_starts
        .iter()
        .map(|&start| target.len() - start)
        .find(|&tail| tail <= same && starts_label(first, first_starts, tail))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(port: u16, target: &[u8]) -> Vec<u8> {
        let mut rdata = vec![0, 0, 0, 1];
        rdata.extend_from_slice(&port.to_be_bytes());
        rdata.extend_from_slice(target);
        rdata
    }

    fn unpack(data: &[u8], count: usize) -> Vec<Vec<u8>> {
        let (packed, used) = PackedSrv::read(data, count);
        assert_eq!(used, data.len());
        (0..count).map(|i| packed.rdata(i)).collect()
    }

    #[test]
    fn targets_are_kept_once_with_their_shared_suffix() {
        let records = [
            srv(10, b"\x05web-1\x08marathon\x05mesos\0"),
            srv(11, b"\x05web-1\x08marathon\x05mesos\0"),
            srv(12, b"\x05web-2\x08marathon\x05mesos\0"),
            srv(13, b"\x05web-3\x08marathon\x05mesos\0"),
        ];
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = vec![7];
        assert!(pack(&slices, &mut out));
        assert_eq!(out[0], 7);
        assert_eq!(unpack(&out[1..], 4), records);
        let (packed, _) = PackedSrv::read(&out[1..], 4);
        assert_eq!(packed.suffix(), b"\x08marathon\x05mesos\0");
        // Three distinct targets, each once.
        assert_eq!(packed.names.len(), 1 + 16 + 3 * 7);
        assert_eq!(packed.record(1).1, b"\x05web-1");
    }

    #[test]
    fn the_suffix_starts_a_label_in_every_target() {
        // "b.example." and "ab.example." share "b.example." as octets, not as labels.
        let records = [
            srv(1, b"\x01b\x07example\0"),
            srv(2, b"\x02ab\x07example\0"),
        ];
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        // Too small to gain: nothing written.
        assert!(!pack(&slices, &mut out));
        assert!(out.is_empty());
        let (mut starts, mut first_starts) = (Vec::new(), Vec::new());
        let (first, target) = (&records[0][6..], &records[1][6..]);
        label_starts(first, &mut first_starts).unwrap(); // ok: test
        label_starts(target, &mut starts).unwrap(); // ok: test
        assert_eq!(
            common_suffix((first, &first_starts), (target, &starts), first.len()),
            9
        );
        // Equal octets that start a label in one name only: "\x01b" is inside the
        // first name's one label.
        let (first, target) = (&b"\x02\x01b\0"[..], &b"\x01b\0"[..]);
        label_starts(first, &mut first_starts).unwrap(); // ok: test
        label_starts(target, &mut starts).unwrap(); // ok: test
        assert_eq!(
            common_suffix((first, &first_starts), (target, &starts), first.len()),
            1
        );
        // Targets with nothing in common share the root alone.
        let records: Vec<Vec<u8>> = (0..8)
            .map(|i| srv(i, format!("\x0ahost-{i:05}\0").as_bytes()))
            .collect();
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        // Eight distinct targets of 12 octets: packing gains nothing.
        assert!(!pack(&slices, &mut out));
        let twice: Vec<&[u8]> = slices.iter().chain(&slices).copied().collect();
        assert!(pack(&twice, &mut out));
        assert_eq!(unpack(&out, 16)[..8], records[..]);
        assert_eq!(PackedSrv::read(&out, 16).0.suffix(), b"\0");
    }

    #[test]
    fn records_without_a_plain_target_stay_unpacked() {
        let mut out = Vec::new();
        for bad in [
            srv(1, b"\xC0\x0C"),                                // a compression pointer
            srv(1, b"\x03web\0\0"),                             // octets after the name
            srv(1, b"\x03we"),                                  // cut short
            vec![0, 0, 0, 1, 0],                                // no target
            srv(1, &[&[64u8][..], &[b'a'; 64], &[0]].concat()), // a label too long
        ] {
            let good = srv(2, b"\x03web\x05mesos\0");
            assert!(!pack(&[&good, &good, &good, &bad], &mut out));
        }
        assert!(out.is_empty());
        assert!(!pack(&[], &mut out));
    }
}
