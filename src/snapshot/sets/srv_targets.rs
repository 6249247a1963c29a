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
use smallvec::SmallVec;
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
    pub(super) fn rdata(&self, i: usize) -> SmallVec<[u8; 80]> {
        let (fields, own) = self.record(i);
        let mut rdata = SmallVec::new();
        rdata.extend_from_slice(fields);
        rdata.extend_from_slice(own);
        rdata.extend_from_slice(self.suffix());
        rdata
    }
}

/// The piece whose length octet is at `at`.
#[inline]
fn piece(names: &[u8], at: usize) -> &[u8] {
    let len = usize::from(names[at]);
    &names[at + 1..at + 1 + len]
}

/// Where each label of a name starts (a name is at most 255 octets).
type Starts = SmallVec<[u8; 16]>;

/// Where each label of the uncompressed wire name `name` starts, the root's last;
/// `None` when `name` is not exactly one such name.
fn label_starts(name: &[u8], starts: &mut Starts) -> Option<()> {
    starts.clear();
    let mut at = 0;
    loop {
        starts.push(u8::try_from(at).ok()?);
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

/// Distinct targets looked for in a list up to this many, then in a table.
const LISTED: usize = 16;

/// Appends the packed form of `records` (each an SRV RDATA) to `out` and returns true,
/// when every record has an uncompressed target and the packed form is the smaller;
/// otherwise leaves `out` as it was and returns false. The form follows from the
/// records alone, so equal sets pack to equal bytes (the pool compares those).
pub(super) fn pack<'r>(records: impl Iterator<Item = &'r [u8]> + Clone, out: &mut Vec<u8>) -> bool {
    // The shared suffix, as the octets it takes at the end of every target.
    let (mut starts, mut first_starts) = (Starts::new(), Starts::new());
    let mut suffix_len: Option<usize> = None;
    let mut first: &[u8] = &[];
    let (mut count, mut plain) = (0, 0);
    for rdata in records.clone() {
        let target = match rdata.get(FIELDS..) {
            Some(target) if label_starts(target, &mut starts).is_some() => target,
            _ => return false,
        };
        (count, plain) = (count + 1, plain + rdata.len());
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

    // The records' room first, the names after it: the suffix, then each distinct
    // target's own labels once, in order of first use (a few targets are looked for in
    // a list, the latest first: a task's records are side by side; many in a table).
    let base = out.len();
    let records_at = base + 4;
    out.resize(records_at + RECORD * count, 0);
    let names_at = out.len();
    out.push(suffix_len as u8);
    out.extend_from_slice(suffix);
    let mut listed: SmallVec<[(&[u8], u32); LISTED]> = SmallVec::new();
    let mut table: Option<HashMap<&[u8], u32, FixedState>> = None;
    for (i, rdata) in records.enumerate() {
        let own = &rdata[FIELDS..rdata.len() - suffix_len];
        let known = match &table {
            Some(table) => table.get(own).copied(),
            None => listed
                .iter()
                .rev()
                .find(|(o, _)| *o == own)
                .map(|&(_, p)| p),
        };
        let place = known.unwrap_or_else(|| {
            let place = (out.len() - names_at) as u32;
            out.push(own.len() as u8);
            out.extend_from_slice(own);
            match &mut table {
                Some(table) => {
                    table.insert(own, place);
                }
                None if listed.len() < LISTED => listed.push((own, place)),
                None => {
                    let mut full: HashMap<_, _, FixedState> = listed.drain(..).collect();
                    full.insert(own, place);
                    table = Some(full);
                }
            }
            place
        });
        let record = &mut out[records_at + RECORD * i..records_at + RECORD * (i + 1)];
        record[..FIELDS].copy_from_slice(&rdata[..FIELDS]);
        record[FIELDS..].copy_from_slice(&place.to_le_bytes());
    }
    if out.len() - base >= plain {
        out.truncate(base);
        return false;
    }
    let names_len = (out.len() - names_at) as u32;
    out[base..records_at].copy_from_slice(&names_len.to_le_bytes());
    true
}

/// The longest suffix of at most `len` octets that two names share and that starts a
/// label in both (each name with where its labels start).
fn common_suffix(
    (first, first_starts): (&[u8], &[u8]),
    (target, target_starts): (&[u8], &[u8]),
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
    let starts_label = |name: &[u8], starts: &[u8], tail: usize| {
        starts.binary_search(&((name.len() - tail) as u8)).is_ok()
    };
    target_starts
        .iter()
        .map(|&start| target.len() - usize::from(start))
        .find(|&tail| tail <= same && starts_label(first, first_starts, tail))
        .unwrap_or(0)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// SRV RDATA: priority 0, weight 1, `port`, `target`.
    pub(in crate::snapshot::sets) fn srv(port: u16, target: &[u8]) -> Vec<u8> {
        [&[0, 0, 0, 1][..], &port.to_be_bytes(), target].concat()
    }

    fn unpack(data: &[u8], count: usize) -> Vec<Vec<u8>> {
        let (packed, used) = PackedSrv::read(data, count);
        assert_eq!(used, data.len());
        (0..count).map(|i| packed.rdata(i).to_vec()).collect()
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
        assert!(pack(slices.iter().copied(), &mut out));
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
        assert!(!pack(slices.iter().copied(), &mut out));
        assert!(out.is_empty());
        let (mut starts, mut first_starts) = (Starts::new(), Starts::new());
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
        assert!(!pack(slices.iter().copied(), &mut out));
        let twice: Vec<&[u8]> = slices.iter().chain(&slices).copied().collect();
        assert!(pack(twice.iter().copied(), &mut out));
        assert_eq!(unpack(&out, 16)[..8], records[..]);
        assert_eq!(PackedSrv::read(&out, 16).0.suffix(), b"\0");
    }

    #[test]
    fn many_targets_are_each_kept_once() {
        // 40 targets, each named twice and not side by side: past the list, in a table.
        let records: Vec<Vec<u8>> = (0..80u16)
            .map(|i| srv(i, format!("\x07task-{:02}\x05mesos\0", i % 40).as_bytes()))
            .collect();
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        assert!(pack(slices.iter().copied(), &mut out));
        assert_eq!(unpack(&out, 80), records);
        let (packed, _) = PackedSrv::read(&out, 80);
        assert_eq!(packed.names.len(), 1 + 7 + 40 * (1 + 8));
        assert_eq!(packed.record(41).1, b"\x07task-01");
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
            let records: [&[u8]; 4] = [&good, &good, &good, &bad];
            assert!(!pack(records.into_iter(), &mut out));
        }
        assert!(out.is_empty());
        assert!(!pack(std::iter::empty(), &mut out));
    }
}
