//! IXFR over UDP (RFC 1995 §2), asked before TCP when we hold the zone: one datagram
//! each way brings a small change, or says the zone is current, where TCP costs a
//! connection (three more packets each way and a socket on both sides) per change.
//! A primary whose changes do not fit a datagram answers with its newer SOA alone; then,
//! and on any failure here (no answer in time, an error code, a bad signature, an
//! answer that does not parse or is cut short), the caller asks over TCP as before,
//! which stays the authority and is the exchange counted and logged.
//!
//! An answer is taken only from the primary's address and port (a connected socket on a
//! fresh port the system picks), with our random ID and our question, and with its TSIG
//! when `TransferTSIG` is set (as every transfer should be across untrusted networks).

use super::pull::{Ask, PullError, Pulled, Took, check_message, fail, query, records};
use super::stream::{Assembler, Received, ZoneRr};
use super::wire_records::question;
use crate::counters::PullResult;
use crate::dns::header::{Flags, Header};
use crate::dns::ids::QueryIds;
use crate::dns::wire::{TYPE_IXFR, serial_newer};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The answer size we offer (EDNS): the DNS flag day's size, which crosses networks
/// without fragments.
const UDP_SIZE: u16 = 1232;
/// How long the primary may take to answer; TCP is asked after.
const WAIT: Duration = Duration::from_millis(500);

/// What an IXFR over UDP found.
pub(crate) enum OverUdp<S> {
    /// The zone is current, or its changes came.
    Pulled(Pulled<S>),
    /// The primary holds a newer zone whose changes did not come in the datagram: the
    /// transfer goes over TCP, with no SOA query first.
    Newer,
    /// Nothing to go by (no answer in time, an error, an answer that does not check):
    /// TCP as if UDP had not been tried.
    Failed,
}

/// Asks `ask.primary` by UDP for the changes since our SOA `ours` (serial
/// `ours_serial`).
pub(crate) fn ixfr_over_udp<S>(
    ask: &Ask,
    ids: &mut QueryIds,
    ours: &[u8],
    ours_serial: u32,
) -> OverUdp<S> {
    match exchange(ask, ids, ours, ours_serial) {
        Ok(Some(pulled)) => OverUdp::Pulled(pulled),
        Ok(None) => OverUdp::Newer,
        Err(e) => {
            tracing::debug!(primary = %ask.primary, "IXFR over UDP: {}; asking over TCP", e.detail);
            OverUdp::Failed
        }
    }
}

/// The exchange: `None` when the primary is newer but its changes did not come.
fn exchange<S>(
    ask: &Ask,
    ids: &mut QueryIds,
    ours: &[u8],
    ours_serial: u32,
) -> Result<Option<Pulled<S>>, PullError> {
    let started = Instant::now();
    let (request, id, mut check) = query(ask, ids, TYPE_IXFR, Some(ours), Some(UDP_SIZE))?;
    let any: std::net::IpAddr = match ask.primary {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    // Room for one octet more than offered: a longer answer is not one we asked for.
    let mut answer = vec![0u8; usize::from(UDP_SIZE) + 1];
    let sent = UdpSocket::bind(SocketAddr::new(any, 0)).and_then(|socket| {
        socket.connect(ask.primary)?;
        socket.set_read_timeout(Some(WAIT))?;
        socket.send(&request)?;
        socket.recv(&mut answer)
    });
    let len = match sent {
        Ok(len) => len,
        Err(e) => return fail(PullResult::Unreachable, e.to_string()),
    };
    answer.truncate(len);
    let truncated = Header::read(&answer).is_some_and(|h| h.flags.contains(Flags::TC));
    if len > usize::from(UDP_SIZE) || truncated {
        return fail(PullResult::Malformed, "an answer cut short");
    }
    let answer = check_message(answer, id, check.as_mut())?;
    if question(&answer).is_none_or(|(name, qtype)| qtype != TYPE_IXFR || name != ask.apex) {
        return fail(PullResult::Malformed, "an answer to another question");
    }
    let mut assembler = Assembler::new(ask.apex, Some(ours_serial), Vec::<ZoneRr>::new());
    for rr in records(&answer)? {
        assembler.push(rr)?;
    }
    if assembler.only_soa() {
        let newer = assembler
            .first_serial()
            .is_some_and(|theirs| serial_newer(theirs, ours_serial));
        return Ok((!newer).then_some(Pulled::Current));
    }
    let took = Took {
        messages: 1,
        bytes: len as u64,
        time: started.elapsed(),
        over_udp: true,
    };
    match assembler.finish()? {
        Received::Incremental { soa, diffs } => Ok(Some(Pulled::Transfer(
            Received::Incremental { soa, diffs },
            took,
        ))),
        // The whole zone in one datagram (a primary answering IXFR AXFR-style, which it
        // does only when newer): asked again over TCP, which loads whole zones.
        Received::Full { .. } | Received::Current { .. } => Ok(None),
    }
}
