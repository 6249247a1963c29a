//! Zone transfers, primary side (RFC 5936): a whole zone out of one snapshot as a stream
//! of DNS messages over TCP, written one message at a time as the connection drains, so
//! a 100k-task zone never sits in memory twice.
//!
//! The order is deterministic for a snapshot: the SOA, the apex NS, then every name of the
//! zone shard by shard, names sorted within a shard, each name's A, AAAA, SRV and PTR
//! records in set order; the SOA again last.
//!
//! IXFR (RFC 1995): a client at (or past) our serial gets the current SOA alone; one whose
//! serial the history reaches gets the deltas since (SOA, then per publish the old SOA,
//! the records removed, the new SOA, the records added, then the SOA again); any other
//! gets the whole zone as above (RFC 1995 §4).
//!
//! IXFR over UDP (RFC 1995 §2): the same answer in one datagram when it fits, else the
//! current SOA alone, which tells a client behind us to ask over TCP. A secondary that
//! follows one change at a time is spared a TCP connection per change.

use crate::answer::UdpIxfr;
use crate::config::Config;
use crate::counters::TransferResult;
use crate::dns::cursor::Cursor;
use crate::dns::header::{Flags, HEADER_LEN, Header, Rcode, Section, set_count};
use crate::dns::tsig::{self, Signer, Verified};
use crate::dns::wire::{
    OPT_LEN, TCP_MAX, TYPE_IXFR, TYPE_SOA, be16, pointer, serial_newer, set_soa_serial,
};
use crate::snapshot::history::ServedDelta;
use crate::snapshot::sets::RrSet;
use crate::snapshot::shards::SHARDS;
use crate::snapshot::{SharedSnapshot, Snapshot, in_zone};
use std::net::IpAddr;
use std::sync::Arc;

/// Messages are filled up to about this many octets (RFC 5936 §2.2: as many records as
/// fit, within the 64 KiB limit).
const MESSAGE_TARGET: usize = 16 * 1024;

/// No message grows past this, leaving room for a TSIG record within 64 KiB.
const MESSAGE_LIMIT: usize = TCP_MAX - 1024;

/// Whether the request is an IXFR (else an AXFR).
pub(crate) fn is_ixfr(packet: &[u8], question_end: usize) -> bool {
    be16(packet, question_end - 4) == Some(TYPE_IXFR)
}

/// Decides a transfer request from `peer` under `config` (none: nothing is allowed):
/// the transfer to stream, or `None` with the refusal written to `out`; and how it
/// counts. `TransferACL` first; then TSIG: a signed request is verified whatever the
/// settings, and with `TransferTSIG` only that key opens a transfer.
pub(crate) fn admit(
    config: Option<&Config>,
    peer: IpAddr,
    snapshot: &SharedSnapshot,
    packet: &[u8],
    question_end: usize,
    out: &mut Vec<u8>,
) -> (Option<Transfer>, TransferResult) {
    let admitted = match config {
        Some(c) if c.transfer_acl.iter().any(|a| a.contains(peer)) => {
            match (
                tsig::verify(
                    packet,
                    question_end,
                    &c.tsig_keys,
                    crate::status::unix_seconds(),
                ),
                &c.transfer_tsig,
            ) {
                (Verified::Good(signer), Some(required)) if !signer.key_is_named(required) => {
                    Err(None)
                }
                (Verified::Good(signer), _) => Ok(Some(signer)),
                (Verified::Unsigned, None) => Ok(None),
                (Verified::Unsigned, Some(_)) => Err(None),
                (Verified::Bad(error, signer), _) => Err(Some((error, signer))),
            }
        }
        _ => Err(None),
    };
    let signer = match admitted {
        Ok(signer) => signer,
        Err(tsig_error) => {
            let (rcode, result) = match tsig_error {
                Some(_) => (Rcode::NOTAUTH, TransferResult::BadTsig),
                None => (Rcode::REFUSED, TransferResult::Refused),
            };
            refusal(out, packet, question_end, rcode, tsig_error);
            return (None, result);
        }
    };
    let apex = packet[HEADER_LEN..question_end - 4].to_ascii_lowercase();
    let snap = snapshot.load_full();
    let ixfr = is_ixfr(packet, question_end)
        .then(|| ixfr_serial(packet, question_end))
        .flatten();
    let transfer = match ixfr {
        Some(serial) => Transfer::incremental(snap, packet, question_end, &apex, serial),
        None => Transfer::new(snap, packet, question_end, &apex),
    }
    .signed(signer);
    let result = transfer.result();
    (Some(transfer), result)
}

/// Answers an IXFR that came over UDP from `peer` into `out`, within the client's limit
/// (RFC 1995 §2), admitted as over TCP (`TransferACL`, TSIG): the changes when they fit
/// one datagram, else the current SOA alone; with the OPT record when the query had
/// EDNS.
/// A request with a bad signature gets its NOTAUTH. Returns the reply's length and how
/// it counts; no length leaves the answer already in `out` (the current SOA, unsigned)
/// standing: the public answer for a peer that may not transfer the zone.
pub(crate) fn ixfr_over_udp(
    config: Option<&Config>,
    peer: IpAddr,
    snapshot: &SharedSnapshot,
    packet: &[u8],
    ixfr: UdpIxfr,
    out: &mut [u8],
) -> (Option<usize>, TransferResult) {
    let UdpIxfr {
        question_end,
        limit,
        opt,
        ..
    } = ixfr;
    let mut framed = Vec::with_capacity(limit.min(MESSAGE_TARGET) + 2);
    let (transfer, result) = admit(config, peer, snapshot, packet, question_end, &mut framed);
    let result = match transfer {
        Some(transfer) => {
            framed.clear();
            transfer.single_message(limit, opt, &mut framed)
        }
        None if result == TransferResult::Refused => return (None, result),
        None => result,
    };
    let Some(message) = framed.get(2..).filter(|m| m.len() <= limit.min(out.len())) else {
        return (None, result);
    };
    out[..message.len()].copy_from_slice(message);
    (Some(message.len()), result)
}

/// A refused or failed transfer request: the header and question, `rcode`, and with a
/// TSIG problem the TSIG record that says which (RFC 8945 §5.3.2). Appended to `out`
/// with its 2-octet length.
fn refusal(
    out: &mut Vec<u8>,
    packet: &[u8],
    question_end: usize,
    rcode: Rcode,
    tsig_error: Option<(u16, Option<Signer>)>,
) {
    let start = out.len();
    out.extend_from_slice(&[0, 0]);
    let msg = out.len();
    let Some(request) = Header::read(packet) else {
        return;
    };
    let header = Header {
        id: request.id,
        flags: (Flags::QR | request.flags.only(Flags::RD)).with_rcode(rcode),
        counts: [1, 0, 0, 0],
    };
    out.resize(msg + HEADER_LEN, 0);
    header.write(&mut out[msg..]);
    out.extend_from_slice(&packet[HEADER_LEN..question_end]);
    if let Some((error, signer)) = tsig_error {
        match (signer, crate::dns::tsig::find(packet, question_end)) {
            (Some(mut signer), _) => signer.sign(out, msg, crate::status::unix_seconds(), error),
            (None, Some(request)) => {
                crate::dns::tsig::append_unsigned(
                    out,
                    msg,
                    &request,
                    error,
                    crate::status::unix_seconds(),
                );
            }
            (None, None) => {}
        }
    }
    let len = (out.len() - msg) as u16;
    out[start..start + 2].copy_from_slice(&len.to_be_bytes());
}

/// Every message of a transfer is an authoritative response.
const FLAGS: Flags = Flags::QR.with(Flags::AA, true);

/// Where the transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The opening SOA and the apex NS.
    Opening,
    /// Names of shard `shard`, from position `at` of its sorted order, record `rr` of
    /// that name's records (A, then AAAA, SRV, PTR).
    Names {
        shard: usize,
        at: usize,
        rr: usize,
    },
    /// The closing SOA.
    Closing,
    /// IXFR: delta `index` of `deltas`, at `part` (0: old SOA, 1: removed, 2: new SOA,
    /// 3: added) and record `at` of that part.
    Delta {
        index: usize,
        part: u8,
        at: usize,
    },
    Done,
}

/// One outgoing transfer.
pub(crate) struct Transfer {
    snap: Arc<Snapshot>,
    id: u16,
    /// The question as asked (name, type, class).
    question: Vec<u8>,
    /// The zone's apex, lower-cased wire form.
    apex: Vec<u8>,
    step: Step,
    /// The current shard's names in the zone: (key, slot index), sorted by key.
    names: Vec<(Box<[u8]>, usize)>,
    /// IXFR: the deltas to send (empty for a whole zone).
    deltas: Vec<Arc<ServedDelta>>,
    /// Signs every message when the request was signed (TSIG).
    signer: Option<Signer>,
    /// An OPT record for every message (IXFR over UDP with EDNS).
    opt: Option<[u8; OPT_LEN]>,
}

impl Transfer {
    /// A transfer of the zone at `apex` (lower-cased wire form, one of the snapshot's
    /// apexes) for the query `packet` with its question ending at `question_end`.
    pub(crate) fn new(
        snap: Arc<Snapshot>,
        packet: &[u8],
        question_end: usize,
        apex: &[u8],
    ) -> Transfer {
        Transfer {
            snap,
            id: u16::from_be_bytes([packet[0], packet[1]]),
            question: packet[HEADER_LEN..question_end].to_vec(),
            apex: apex.to_vec(),
            step: Step::Opening,
            names: Vec::new(),
            deltas: Vec::new(),
            signer: None,
            opt: None,
        }
    }

    /// Signs every message with `signer` (the request was signed with its key).
    pub(crate) fn signed(mut self, signer: Option<Signer>) -> Transfer {
        self.signer = signer;
        self
    }

    /// An IXFR answer for a client at `serial`: the current SOA alone when the client is
    /// current, the deltas since `serial` when the history has them, else the whole zone.
    pub(crate) fn incremental(
        snap: Arc<Snapshot>,
        packet: &[u8],
        question_end: usize,
        apex: &[u8],
        serial: u32,
    ) -> Transfer {
        let current = snap.serial;
        let deltas = if serial == current || serial_newer(serial, current) {
            Some(Vec::new())
        } else {
            snap.history.since(serial)
        };
        let mut t = Transfer::new(snap, packet, question_end, apex);
        match deltas {
            Some(d) if d.is_empty() => t.step = Step::Closing,
            Some(d) => {
                t.deltas = d;
                t.step = Step::Delta {
                    index: 0,
                    part: 0,
                    at: 0,
                };
            }
            None => {}
        }
        t
    }

    /// The whole answer as one message with `opt` (IXFR over UDP), appended to `out`
    /// with its 2-octet length: the changes when they fit within `limit` octets, else
    /// the current SOA alone (RFC 1995 §2: the client then asks over TCP). How it counts.
    pub(crate) fn single_message(
        mut self,
        limit: usize,
        opt: Option<[u8; OPT_LEN]>,
        out: &mut Vec<u8>,
    ) -> TransferResult {
        self.opt = opt;
        let start = out.len();
        let result = self.result();
        if result == TransferResult::Incremental {
            // Signing chains each message's MAC to the last: a message written and then
            // replaced must not have signed.
            let signer = self.signer.clone();
            self.next_message(out);
            if self.is_done() && out.len() - start - 2 <= limit {
                return result;
            }
            out.truncate(start);
            self.signer = signer;
        }
        self.step = Step::Closing;
        self.next_message(out);
        match result {
            TransferResult::Current => result,
            _ => TransferResult::OverTcp,
        }
    }

    /// Whether every message has been written.
    pub(crate) fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Appends the next message, with its 2-octet length, to `out`.
    pub(crate) fn next_message(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        let msg = out.len();
        let header = Header {
            id: self.id,
            flags: FLAGS,
            counts: [1, 0, 0, 0],
        };
        out.resize(msg + HEADER_LEN, 0);
        header.write(&mut out[msg..]);
        out.extend_from_slice(&self.question);
        let mut count: u16 = 0;
        let snap = Arc::clone(&self.snap);
        let zone = &snap.zone;
        while out.len() - msg < MESSAGE_TARGET && self.step != Step::Done {
            match self.step {
                Step::Opening => {
                    count += copy_set(out, zone.soa.as_ref(), &[0xC0, 12]);
                    count += copy_set(out, zone.ns.as_ref(), &[0xC0, 12]);
                    self.enter_shard(0);
                }
                Step::Names { shard, at, rr } => {
                    let Some((key, slot)) = self.names.get(at) else {
                        self.enter_shard(shard + 1);
                        continue;
                    };
                    let next_name = Step::Names {
                        shard,
                        at: at + 1,
                        rr: 0,
                    };
                    let Some(sets) = snap.shard(shard).sets(*slot) else {
                        self.step = next_name;
                        continue;
                    };
                    let owner = owner_name(key, self.apex.len());
                    // A name's records may span messages (`slave.<domain>` has one per
                    // agent): go on from record `rr`, and stop where the message is full.
                    let records = sets.into_iter().flatten().flat_map(|set| {
                        set.rdatas()
                            .map(move |rdata| (set.fields(rdata.len()), rdata))
                    });
                    let mut done = rr;
                    let mut full = false;
                    // The name is written out once per message; its other records point
                    // at that copy (when it lies within a pointer's reach).
                    let mut written_at: Option<[u8; 2]> = None;
                    for (fields, rdata) in records.skip(rr) {
                        let owner_len = if written_at.is_some() { 2 } else { owner.len() };
                        let len = owner_len + fields.len() + rdata.len();
                        if out.len() - msg + len > MESSAGE_LIMIT {
                            full = true;
                            break;
                        }
                        match written_at {
                            Some(ptr) => out.extend_from_slice(&ptr),
                            None => {
                                written_at = pointer(out.len() - msg);
                                out.extend_from_slice(&owner);
                            }
                        }
                        out.extend_from_slice(&fields);
                        out.extend_from_slice(&rdata);
                        count += 1;
                        done += 1;
                    }
                    if full {
                        self.step = Step::Names {
                            shard,
                            at,
                            rr: done,
                        };
                        break;
                    }
                    self.step = next_name;
                }
                Step::Closing => {
                    count += copy_set(out, zone.soa.as_ref(), &[0xC0, 12]);
                    self.step = Step::Done;
                }
                Step::Delta { index, part, at } => {
                    if index == 0 && part == 0 && at == 0 {
                        count += copy_set(out, zone.soa.as_ref(), &[0xC0, 12]);
                    }
                    let Some(delta) = self.deltas.get(index).cloned() else {
                        self.step = Step::Closing;
                        continue;
                    };
                    let soa = |serial| zone.soa.as_ref().and_then(|s| soa_with_serial(s, serial));
                    self.step = match part {
                        0 | 2 => {
                            let serial = if part == 0 { delta.from } else { delta.to };
                            if let Some(record) = soa(serial) {
                                out.extend_from_slice(&record);
                                count += 1;
                            }
                            Step::Delta {
                                index,
                                part: part + 1,
                                at: 0,
                            }
                        }
                        _ => {
                            let records = if part == 1 {
                                &delta.removed
                            } else {
                                &delta.added
                            };
                            match records.get(at) {
                                Some(record) => {
                                    let ours = in_zone(ServedDelta::owner(record), &self.apex);
                                    if ours && out.len() - msg + record.len() > MESSAGE_LIMIT {
                                        // Full: this record opens the next message.
                                        break;
                                    }
                                    if ours {
                                        out.extend_from_slice(record);
                                        count += 1;
                                    }
                                    Step::Delta {
                                        index,
                                        part,
                                        at: at + 1,
                                    }
                                }
                                None if part == 1 => Step::Delta {
                                    index,
                                    part: 2,
                                    at: 0,
                                },
                                None => Step::Delta {
                                    index: index + 1,
                                    part: 0,
                                    at: 0,
                                },
                            }
                        }
                    };
                }
                Step::Done => {}
            }
        }
        set_count(&mut out[msg..], Section::Answer, count);
        if let Some(opt) = &self.opt {
            out.extend_from_slice(opt);
            set_count(&mut out[msg..], Section::Additional, 1);
        }
        if let Some(signer) = self.signer.as_mut() {
            signer.sign(out, msg, crate::status::unix_seconds(), 0);
        }
        let len = (out.len() - msg) as u16;
        out[start..start + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// How this answer counts: a whole zone, changes, or the SOA alone.
    pub(crate) fn result(&self) -> TransferResult {
        match self.step {
            Step::Delta { .. } => TransferResult::Incremental,
            Step::Closing => TransferResult::Current,
            _ => TransferResult::Full,
        }
    }

    /// Moves to shard `shard` (or to the closing SOA after the last), collecting its
    /// names in the zone in key order.
    fn enter_shard(&mut self, shard: usize) {
        if shard >= SHARDS {
            self.names.clear();
            self.step = Step::Closing;
            return;
        }
        let apex = &self.apex;
        self.names = self
            .snap
            .shard(shard)
            .entries()
            .filter(|(_, key)| in_zone(key, apex))
            .map(|(i, key)| (Box::from(&*key), i))
            .collect();
        self.names.sort_unstable();
        self.step = Step::Names {
            shard,
            at: 0,
            rr: 0,
        };
    }
}

/// The apex SOA record (owner pointer to the question) with another serial.
fn soa_with_serial(set: &RrSet, serial: u32) -> Option<Vec<u8>> {
    let mut record = (set.rtype() == TYPE_SOA).then(|| set.wire_record(0))?;
    set_soa_serial(&mut record, serial).then_some(record)
}

/// The serial in the SOA of an IXFR query's authority section (RFC 1995 §3).
fn ixfr_serial(packet: &[u8], question_end: usize) -> Option<u32> {
    let header = Header::read(packet)?;
    let mut cursor = Cursor::new(packet, question_end);
    // Answer records (unusual here) are stepped over; the SOA is the first authority
    // record.
    for _ in 0..header.count(Section::Answer) {
        cursor.record()?;
    }
    if header.count(Section::Authority) == 0 {
        return None;
    }
    let soa = cursor.record()?;
    if soa.rtype != TYPE_SOA {
        return None;
    }
    let mut rdata = Cursor::new(packet, soa.rdata_at);
    rdata.name()?;
    rdata.name()?;
    let serial = rdata.u32()?;
    // The serial must lie within the record.
    (rdata.at() <= soa.rdata_at + soa.rdata.len()).then_some(serial)
}

/// A name's owner field: its labels above the apex, then a pointer to the question
/// (the apex).
fn owner_name(key: &[u8], apex_len: usize) -> Vec<u8> {
    let mut owner = key[..key.len() - apex_len].to_vec();
    owner.extend_from_slice(&pointer(HEADER_LEN).unwrap_or([0xC0, 12]));
    owner
}

/// Appends every record of `set` under `owner`; returns how many. For the zone's own
/// SOA and NS, single records that always fit.
fn copy_set(out: &mut Vec<u8>, set: Option<&RrSet>, owner: &[u8]) -> u16 {
    let Some(set) = set else { return 0 };
    for rdata in set.rdatas() {
        out.extend_from_slice(owner);
        out.extend_from_slice(&set.fields(rdata.len()));
        out.extend_from_slice(&rdata);
    }
    set.count() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_point_at_the_apex() {
        // www.mesos. under mesos.
        let key = b"\x03www\x05mesos\x00";
        assert_eq!(owner_name(key, 7), b"\x03www\xC0\x0C".to_vec());
        assert_eq!(owner_name(b"\x05mesos\x00", 7), vec![0xC0, 12]);
    }
}
