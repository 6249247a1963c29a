//! NOTIFY (RFC 1996) as a secondary takes it: the listeners hand every NOTIFY here;
//! one for our zone from a listed primary (signed with `TransferTSIG`'s key when that
//! is set) is acknowledged and wakes the secondary's thread, any other is refused.

use crate::config::Config;
use crate::dns::tsig::{self, Verified};
use crate::dns::wire::{
    HEADER_LEN, OPCODE_NOTIFY, RCODE_NOTAUTH, RCODE_REFUSED, TYPE_SOA, be16, skip_name,
};
use crate::status::Status;
use crossbeam_channel::Sender;
use std::net::IpAddr;
use std::sync::Arc;

/// Whether `packet` is a NOTIFY request.
pub(crate) fn is_notify(packet: &[u8]) -> bool {
    packet
        .get(2)
        .is_some_and(|&b| b & 0x80 == 0 && (b >> 3) & 0x0F == OPCODE_NOTIFY)
}

/// Where the listeners hand NOTIFYs.
pub(crate) struct NotifyInbox {
    /// The zone's apex, lower-cased wire form.
    apex: Vec<u8>,
    /// The primaries' addresses: NOTIFYs from elsewhere are refused.
    primaries: Vec<IpAddr>,
    live: Arc<arc_swap::ArcSwap<Config>>,
    wake: Sender<()>,
    status: Arc<Status>,
}

impl NotifyInbox {
    /// An inbox for the zone of `config` that wakes the secondary through `wake`.
    pub(crate) fn new(
        config: &Config,
        live: Arc<arc_swap::ArcSwap<Config>>,
        wake: Sender<()>,
        status: Arc<Status>,
    ) -> NotifyInbox {
        let mut apex = Vec::new();
        let _ = crate::dns::wire::name_to_wire(&config.domain, true, &mut apex);
        NotifyInbox {
            apex,
            primaries: config
                .primaries
                .iter()
                .map(|p| p.ip().to_canonical())
                .collect(),
            live,
            wake,
            status,
        }
    }

    /// Answers the NOTIFY `packet` from `peer` into `out`: the reply's length, or `None`
    /// to drop a packet that cannot be answered.
    pub(crate) fn receive(
        &self,
        packet: &[u8],
        peer: Option<IpAddr>,
        out: &mut [u8],
    ) -> Option<usize> {
        if be16(packet, 4)? != 1 {
            return None;
        }
        let question_end = skip_name(packet, HEADER_LEN)? + 4;
        if question_end > packet.len() {
            return None;
        }
        let qname = packet[HEADER_LEN..question_end - 4].to_ascii_lowercase();
        let qtype = be16(packet, question_end - 4)?;
        let config = self.live.load();
        let now = crate::status::unix_seconds();
        let verdict = tsig::verify(packet, question_end, &config.tsig_keys, now);
        let from_primary = peer.is_some_and(|p| self.primaries.contains(&p.to_canonical()));
        let (rcode, signer) = match (qname == self.apex && qtype == TYPE_SOA, from_primary) {
            (false, _) => (RCODE_NOTAUTH, None),
            (true, false) => (RCODE_REFUSED, None),
            (true, true) => match (&config.transfer_tsig, verdict) {
                (Some(name), Verified::Good(signer)) if signer.key_is_named(name) => {
                    (0, Some(signer))
                }
                (None, Verified::Unsigned) => (0, None),
                (None, Verified::Good(signer)) => (0, Some(signer)),
                _ => (RCODE_REFUSED, None),
            },
        };
        let mut reply = Vec::with_capacity(question_end + 128);
        reply.extend_from_slice(&packet[..2]);
        // QR, the NOTIFY opcode, AA.
        reply.push(0x80 | OPCODE_NOTIFY << 3 | 0x04);
        reply.push(rcode);
        reply.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        reply.extend_from_slice(&packet[HEADER_LEN..question_end]);
        if let Some(mut signer) = signer {
            signer.sign(&mut reply, 0, now, 0);
        }
        if rcode == 0 {
            Status::add(&self.status.secondary.notifies_taken, 1);
            let _ = self.wake.try_send(());
        } else {
            Status::add(&self.status.secondary.notifies_refused, 1);
            tracing::debug!(?peer, rcode, "NOTIFY refused");
        }
        let out = out.get_mut(..reply.len())?;
        out.copy_from_slice(&reply);
        Some(reply.len())
    }
}
