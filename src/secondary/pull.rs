//! Asking one primary for the zone: when we hold one, an IXFR over UDP first
//! (`udp_ixfr`), which brings a small change or says we are current; else over TCP a SOA
//! query, then (when the primary has a newer serial) an IXFR from ours or an AXFR, on
//! the same connection; after a NOTIFY or a newer SOA over UDP, the IXFR alone. Every
//! message is
//! checked: its ID, its response code, its TSIG when `TransferTSIG` is set, and the
//! transfer's size against `TransferMaxBytes`.

use super::stream::{Assembler, Received, ZoneRr, ZoneSink};
use super::udp_ixfr::{OverUdp, ixfr_over_udp};
use super::wire_records::answer_records;
use crate::counters::PullResult;
use crate::dns::cursor::Cursor;
use crate::dns::header::{Flags, Header, Rcode, Section, set_count};
use crate::dns::ids::QueryIds;
use crate::dns::tsig::{self, ResponseCheck, Signer, TsigKey};
use crate::dns::wire::{
    CLASS_IN, HEADER_LEN, TYPE_AXFR, TYPE_IXFR, TYPE_SOA, name_to_wire, opt_record, serial_newer,
    soa_number,
};
use crate::dns::writer::MessageWriter;
use crate::snapshot::QUESTION_POINTER;
use crate::status::unix_seconds;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the primary may leave us waiting for the next bytes.
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one exchange (SOA query and transfer) may take in all: a primary that
/// trickles bytes cannot hold the secondary (and its expiry) for ever.
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(600);

/// What one exchange with a primary needs.
pub(crate) struct Ask<'a> {
    pub(crate) primary: SocketAddr,
    /// The zone's apex, lower case with a trailing dot.
    pub(crate) apex: &'a str,
    /// Our SOA (RDATA as served), when we hold the zone: then an IXFR is asked.
    pub(crate) ours: Option<&'a [u8]>,
    /// Ask for the whole zone even when we hold one.
    pub(crate) full: bool,
    /// Ask the SOA before an IXFR (a periodic check: a primary that answers IXFR with
    /// the whole zone then sends it only when it changed). After a NOTIFY the primary
    /// has said it changed, and an IXFR answers "current" by itself: one round trip.
    pub(crate) soa_first: bool,
    pub(crate) key: Option<&'a TsigKey>,
    pub(crate) max_bytes: u64,
    /// A stopping server gives up between two messages.
    pub(crate) stop: &'a crate::stop::Stop,
}

/// What came back.
#[derive(Debug)]
pub(crate) enum Pulled<S> {
    /// The primary's serial is not newer than ours.
    Current,
    /// A transfer, and what it took.
    Transfer(Received<S>, Took),
}

/// What a transfer took.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Took {
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
    pub(crate) time: Duration,
    /// The changes came in one datagram (IXFR over UDP).
    pub(crate) over_udp: bool,
}

/// A failure, with the words for the log.
#[derive(Debug)]
pub(crate) struct PullError {
    pub(crate) result: PullResult,
    pub(crate) detail: String,
}

pub(crate) fn fail<T>(result: PullResult, detail: impl Into<String>) -> Result<T, PullError> {
    Err(PullError {
        result,
        detail: detail.into(),
    })
}

impl From<PullResult> for PullError {
    fn from(result: PullResult) -> PullError {
        PullError {
            result,
            detail: String::new(),
        }
    }
}

/// Asks `ask.primary` for what is newer than our zone; a whole zone goes to `sink`.
pub(crate) fn pull<S: ZoneSink>(
    ask: &Ask,
    ids: &mut QueryIds,
    sink: S,
) -> Result<Pulled<S>, PullError> {
    let ours_serial = ask.ours.and_then(soa_serial);
    let mut soa_first = ask.soa_first;
    if let (Some(ours), Some(serial), false) = (ask.ours, ours_serial, ask.full) {
        match ixfr_over_udp(ask, ids, ours, serial) {
            OverUdp::Pulled(pulled) => return Ok(pulled),
            // The primary said it is newer: no SOA query over TCP.
            OverUdp::Newer => soa_first = false,
            OverUdp::Failed => {}
        }
    }
    let mut conn = Connection::open(ask.primary)?;
    if let (Some(ours), false, true) = (ours_serial, ask.full, soa_first) {
        let soa = conn.soa(ask, ids)?;
        match soa.data.serial() {
            Some(theirs) if !serial_newer(theirs, ours) => return Ok(Pulled::Current),
            Some(_) => {}
            None => return fail(PullResult::Malformed, "the SOA answer has no serial"),
        }
    }
    let ixfr = ours_serial.is_some() && !ask.full;
    let started = std::time::Instant::now();
    let received = conn.transfer(ask, ids, ixfr, sink)?;
    let took = Took {
        messages: conn.messages,
        bytes: conn.read,
        time: started.elapsed(),
        over_udp: false,
    };
    Ok(Pulled::Transfer(received, took))
}

fn soa_serial(rdata: &[u8]) -> Option<u32> {
    soa_number(rdata, 0)
}

struct Connection {
    stream: TcpStream,
    /// Bytes and messages read so far in the current transfer.
    read: u64,
    messages: u64,
    /// When the exchange is given up.
    deadline: std::time::Instant,
}

impl Connection {
    fn open(primary: SocketAddr) -> Result<Connection, PullError> {
        let stream = match TcpStream::connect_timeout(&primary, CONNECT_TIMEOUT) {
            Ok(s) => s,
            Err(e) => return fail(PullResult::Unreachable, format!("connecting: {e}")),
        };
        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
        let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            read: 0,
            messages: 0,
            deadline: std::time::Instant::now() + EXCHANGE_DEADLINE,
        })
    }

    /// The primary's SOA for the zone.
    fn soa(&mut self, ask: &Ask, ids: &mut QueryIds) -> Result<ZoneRr, PullError> {
        let (id, mut check) = self.send(ask, ids, TYPE_SOA, None)?;
        self.read_message(ask, id, check.as_mut())?
            .into_iter()
            .find(|rr| &*rr.name == ask.apex && rr.data.serial().is_some())
            .map_or_else(|| fail(PullResult::Malformed, "no SOA in the answer"), Ok)
    }

    fn transfer<S: ZoneSink>(
        &mut self,
        ask: &Ask,
        ids: &mut QueryIds,
        ixfr: bool,
        sink: S,
    ) -> Result<Received<S>, PullError> {
        let (qtype, ours) = if ixfr {
            (TYPE_IXFR, ask.ours)
        } else {
            (TYPE_AXFR, None)
        };
        let (id, mut check) = self.send(ask, ids, qtype, ours)?;
        let mut assembler = Assembler::new(ask.apex, ours.and_then(soa_serial), sink);
        (self.read, self.messages) = (0, 0);
        let mut first = true;
        loop {
            if ask.stop.is_stopped() {
                return fail(PullResult::Unreachable, "the server is stopping");
            }
            let records = match self.read_message(ask, id, check.as_mut()) {
                Ok(m) => m,
                // An IXFR answered with the SOA alone, then the end: no changes to send.
                Err(_) if ixfr && assembler.only_soa() => return Ok(assembler.finish()?),
                Err(e) => return Err(e),
            };
            for rr in records {
                assembler.push(rr)?;
            }
            assembler.end_of_message();
            // An IXFR answered with our serial or older alone: nothing newer. (A newer
            // SOA alone in the first message may be an AXFR-style answer going on.)
            let not_newer = assembler
                .first_serial()
                .zip(ours.and_then(soa_serial))
                .is_some_and(|(theirs, ours)| !serial_newer(theirs, ours));
            if assembler.is_done() || (ixfr && first && assembler.only_soa() && not_newer) {
                return Ok(assembler.finish()?);
            }
            first = false;
        }
    }

    /// Sends a query for the zone; with our SOA in the authority section for an IXFR.
    fn send(
        &mut self,
        ask: &Ask,
        ids: &mut QueryIds,
        qtype: u16,
        ours: Option<&[u8]>,
    ) -> Result<(u16, Option<ResponseCheck>), PullError> {
        let (m, id, check) = query(ask, ids, qtype, ours, None)?;
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        if let Err(e) = self.stream.write_all(&framed) {
            return fail(PullResult::Unreachable, format!("sending: {e}"));
        }
        Ok((id, check))
    }

    /// The next message answering query `id`, checked and parsed.
    fn read_message(
        &mut self,
        ask: &Ask,
        id: u16,
        check: Option<&mut ResponseCheck>,
    ) -> Result<Vec<ZoneRr>, PullError> {
        let mut len = [0u8; 2];
        self.read_exact(&mut len)?;
        let len = usize::from(u16::from_be_bytes(len));
        self.read += len as u64 + 2;
        self.messages += 1;
        if self.read > ask.max_bytes {
            return fail(
                PullResult::Oversized,
                format!("more than TransferMaxBytes ({} bytes)", ask.max_bytes),
            );
        }
        let mut packet = vec![0u8; len];
        self.read_exact(&mut packet)?;
        records(&check_message(packet, id, check)?)
    }

    /// Fills `buf`, within the read timeout for each read and the exchange's deadline.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), PullError> {
        let mut filled = 0;
        while filled < buf.len() {
            let left = self
                .deadline
                .saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return fail(PullResult::Unreachable, "the exchange took too long");
            }
            let _ = self.stream.set_read_timeout(Some(left.min(READ_TIMEOUT)));
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => return fail(PullResult::Malformed, "the transfer was cut short"),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return fail(PullResult::Unreachable, format!("reading: {e}")),
            }
        }
        Ok(())
    }
}

/// A query of type `qtype` for the zone, with our SOA (`ours`) in the authority section
/// for an IXFR (RFC 1995 §3) and an OPT record offering `udp_size` when set, signed
/// with `TransferTSIG`'s key when set: the message, its ID, and what checks the answers.
pub(crate) fn query(
    ask: &Ask,
    ids: &mut QueryIds,
    qtype: u16,
    ours: Option<&[u8]>,
    udp_size: Option<u16>,
) -> Result<(Vec<u8>, u16, Option<ResponseCheck>), PullError> {
    let Some(id) = ids.draw() else {
        return fail(PullResult::Unreachable, "no query ID available");
    };
    let mut question = Vec::with_capacity(64);
    if name_to_wire(ask.apex, true, &mut question).is_none() {
        return fail(PullResult::Malformed, "the domain is not a DNS name");
    }
    question.extend_from_slice(&qtype.to_be_bytes());
    question.extend_from_slice(&CLASS_IN.to_be_bytes());
    // The SOA is owned by the question's name.
    let mut authority = Vec::new();
    if let Some(soa) = ours {
        authority.extend_from_slice(&QUESTION_POINTER);
        authority.extend_from_slice(&TYPE_SOA.to_be_bytes());
        authority.extend_from_slice(&CLASS_IN.to_be_bytes());
        authority.extend_from_slice(&0u32.to_be_bytes());
        authority.extend_from_slice(&(soa.len() as u16).to_be_bytes());
        authority.extend_from_slice(soa);
    }
    let opt = udp_size.map(|size| opt_record(size, 0, false));
    let size = HEADER_LEN + question.len() + authority.len() + opt.map_or(0, |o| o.len());
    let mut m = vec![0u8; size];
    let Some(mut w) = MessageWriter::new(&mut m, size, id, Flags::default()) else {
        return fail(PullResult::Malformed, "a query that does not fit");
    };
    w.put(Section::Question, 1, &question);
    if ours.is_some() {
        w.put(Section::Authority, 1, &authority);
    }
    if let Some(opt) = &opt {
        w.put(Section::Additional, 1, opt);
    }
    w.finish();
    let check = ask.key.map(|key| {
        let mut signer = Signer::for_request(key.clone(), id);
        signer.sign(&mut m, 0, unix_seconds(), 0);
        signer.into_check()
    });
    Ok((m, id, check))
}

/// Where the question section of `packet` ends.
fn questions_end(packet: &[u8]) -> Option<usize> {
    let mut cursor = Cursor::new(packet, HEADER_LEN);
    for _ in 0..Header::read(packet)?.count(Section::Question) {
        cursor.question()?;
    }
    Some(cursor.at())
}

/// One message of a transfer as it came off the wire, checked: ours (ID, response), a
/// readable question, its TSIG when one is expected (then taken off), NOERROR. The
/// message without its TSIG.
pub(crate) fn check_message(
    mut packet: Vec<u8>,
    id: u16,
    check: Option<&mut ResponseCheck>,
) -> Result<Vec<u8>, PullError> {
    let Some(header) = Header::read(&packet) else {
        return fail(PullResult::Malformed, "an answer that is not ours");
    };
    if header.id != id || !header.flags.is_response() {
        return fail(PullResult::Malformed, "an answer that is not ours");
    }
    let rcode = header.flags.rcode();
    let Some(question_end) = questions_end(&packet) else {
        return fail(PullResult::Malformed, "an unreadable question");
    };
    let tsig_start = match check {
        Some(check) => match check.verify(&packet, question_end, unix_seconds()) {
            Some(start) => Some(start),
            None if rcode == Rcode::NOTAUTH => {
                return fail(PullResult::BadTsig, "NOTAUTH: key refused");
            }
            None => return fail(PullResult::BadTsig, "a message without a valid TSIG"),
        },
        None => tsig::find(&packet, question_end).map(|t| t.start),
    };
    if rcode != Rcode::NOERROR {
        return fail(PullResult::Refused, format!("response code {}", rcode.0));
    }
    // The message without its TSIG record, which has been checked.
    if let Some(start) = tsig_start {
        packet.truncate(start);
        let additional = header.count(Section::Additional).saturating_sub(1);
        set_count(&mut packet, Section::Additional, additional);
    }
    Ok(packet)
}

/// The answer records of a checked message (`wire_records`).
pub(crate) fn records(packet: &[u8]) -> Result<Vec<ZoneRr>, PullError> {
    answer_records(packet).map_or_else(
        || fail(PullResult::Malformed, "a message that does not parse"),
        Ok,
    )
}
