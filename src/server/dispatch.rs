//! What both transports do with one query: answer it from the snapshot, hand it to the
//! forwarder, or refuse it; and count what was done.

use crate::answer::{Outcome, Transport, UdpIxfr, answer, refuse, servfail};
use crate::counters::{BatchCounts, DropReason};
use crate::forward::{ClientPath, ForwardHandle, ForwardRequest};
use crate::notify::inbox::{NotifyInbox, is_notify};
use crate::snapshot::Snapshot;
use std::net::IpAddr;

/// What became of a query.
pub(crate) enum Handled {
    /// Send the first `len` bytes of the output buffer.
    Reply { len: usize },
    /// The forwarder has it and will reply (the caller wakes it once per batch).
    Forwarded,
    /// Nothing to send.
    Dropped,
    /// A zone transfer the listener streams (TCP only).
    Transfer {
        /// Where the question ends in the query.
        question_end: usize,
    },
    /// An IXFR over UDP (see [`Outcome::IxfrOverUdp`]): not counted yet.
    IxfrOverUdp(UdpIxfr),
}

/// Where a query outside the domain may go: the forwarder, when forwarding is on, and
/// the way back to the client (worked out only for queries that are forwarded; `None`
/// when the client cannot be replied to).
pub(crate) struct ForwardPath<'a, C: FnOnce() -> Option<ClientPath>> {
    pub(crate) forwarder: Option<&'a ForwardHandle>,
    pub(crate) client: C,
}

/// Where a NOTIFY goes in secondary mode, and who sent it (worked out only for a
/// NOTIFY).
pub(crate) struct NotifyPath<'a, P: FnOnce() -> Option<IpAddr>> {
    pub(crate) inbox: Option<&'a NotifyInbox>,
    pub(crate) peer: P,
}

/// Handles one query into `out`, counting it in `counts`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn handle_query<C: FnOnce() -> Option<ClientPath>, P: FnOnce() -> Option<IpAddr>>(
    packet: &[u8],
    snap: &Snapshot,
    rotation: u32,
    transport: Transport,
    out: &mut [u8],
    forward: ForwardPath<'_, C>,
    notify: NotifyPath<'_, P>,
    counts: &mut BatchCounts,
) -> Handled {
    // A secondary takes NOTIFYs; anywhere else they get NOTIMP like other opcodes.
    if let Some(inbox) = notify.inbox.filter(|_| is_notify(packet)) {
        return match inbox.receive(packet, (notify.peer)(), out) {
            Some(len) => {
                counts.reply(crate::dns::wire::TYPE_SOA, &out[..len]);
                Handled::Reply { len }
            }
            None => {
                counts.drop(DropReason::Malformed);
                Handled::Dropped
            }
        };
    }
    let outcome = match answer(packet, snap, rotation, transport, out) {
        Outcome::Forward { qtype } => match (
            forward.forwarder,
            forward.forwarder.and_then(|_| (forward.client)()),
        ) {
            (None, _) => refuse(packet, snap, transport, out),
            (Some(_), None) => {
                counts.drop(DropReason::NoClientAddress);
                return Handled::Dropped;
            }
            (Some(forwarder), Some(client)) => {
                let request = ForwardRequest {
                    packet: packet.to_vec(),
                    client,
                };
                if forwarder.queue(request) {
                    // The forwarder counts the response.
                    counts.request(qtype);
                    return Handled::Forwarded;
                }
                // The forwarder is saturated: say so now rather than never.
                servfail(packet, snap, transport, out)
            }
        },
        other => other,
    };
    match outcome {
        Outcome::Reply { len, qtype } => {
            counts.reply(qtype, &out[..len]);
            Handled::Reply { len }
        }
        Outcome::Transfer {
            qtype,
            question_end,
        } => {
            counts.request(qtype);
            Handled::Transfer { question_end }
        }
        Outcome::IxfrOverUdp(ixfr) => Handled::IxfrOverUdp(ixfr),
        Outcome::Drop | Outcome::Forward { .. } => {
            counts.drop(DropReason::Malformed);
            Handled::Dropped
        }
    }
}
