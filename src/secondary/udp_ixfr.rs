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

use super::pull::{Ask, PullError, Pulled, Took, check_message, query, records};
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

/// Asks `ask.primary` by UDP for the changes since our SOA `ours` (serial
/// `ours_serial`): the zone is current, or its changes; `None` when TCP must be asked
/// (the changes did not come, or anything failed).
pub(crate) fn ixfr_over_udp<S>(
    ask: &Ask,
    ids: &mut QueryIds,
    ours: &[u8],
    ours_serial: u32,
) -> Option<Pulled<S>> {
    match exchange(ask, ids, ours, ours_serial) {
        Ok(pulled) => pulled,
        Err(e) => {
            tracing::debug!(primary = %ask.primary, "IXFR over UDP: {}; asking over TCP", e.detail);
            None
        }
    }
}

fn exchange<S>(
    ask: &Ask,
    ids: &mut QueryIds,
    ours: &[u8],
    ours_serial: u32,
) -> Result<Option<Pulled<S>>, PullError> {
    let started = Instant::now();
    let (request, id, mut check) = query(ask, ids, TYPE_IXFR, Some(ours), Some(UDP_SIZE))?;
    let unreachable = |e: std::io::Error| PullError {
        result: PullResult::Unreachable,
        detail: e.to_string(),
    };
    let any: std::net::IpAddr = match ask.primary {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).map_err(unreachable)?;
    socket.connect(ask.primary).map_err(unreachable)?;
    socket.set_read_timeout(Some(WAIT)).map_err(unreachable)?;
    socket.send(&request).map_err(unreachable)?;
    // Room for one octet more than offered: a longer answer is not one we asked for.
    let mut answer = vec![0u8; usize::from(UDP_SIZE) + 1];
    let len = socket.recv(&mut answer).map_err(unreachable)?;
    answer.truncate(len);
    let truncated = Header::read(&answer).is_some_and(|h| h.flags.contains(Flags::TC));
    if len > usize::from(UDP_SIZE) || truncated {
        return Err(malformed("an answer cut short"));
    }
    let answer = check_message(answer, id, check.as_mut())?;
    if question(&answer).is_none_or(|(name, qtype)| qtype != TYPE_IXFR || name != ask.apex) {
        return Err(malformed("an answer to another question"));
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
        // The whole zone in one datagram (a primary answering IXFR AXFR-style): it is
        // asked again over TCP, which loads whole zones.
        Received::Full { .. } | Received::Current { .. } => Ok(None),
    }
}

fn malformed(detail: &str) -> PullError {
    PullError {
        result: PullResult::Malformed,
        detail: detail.into(),
    }
}
