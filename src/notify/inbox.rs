//! NOTIFY (RFC 1996) as a secondary takes it: the listeners hand every NOTIFY here;
//! one for our zone from a listed primary (signed with `TransferTSIG`'s key when that
//! is set) is acknowledged and wakes the secondary's thread, any other is refused.

use crate::config::Config;
use crate::dns::cursor::Cursor;
use crate::dns::header::{Flags, HEADER_LEN, Header, Opcode, Rcode, Section};
use crate::dns::tsig::{self, Verified};
use crate::dns::wire::TYPE_SOA;
use crate::dns::writer::MessageWriter;
use crate::status::Status;
use crossbeam_channel::Sender;
use std::net::IpAddr;
use std::sync::Arc;

/// Whether `packet` is a NOTIFY request.
pub(crate) fn is_notify(packet: &[u8]) -> bool {
    Flags::of(packet).is_some_and(|f| !f.is_response() && f.opcode() == Opcode::NOTIFY)
}

/// Where the listeners hand NOTIFYs.
pub(crate) struct NotifyInbox {
    /// The zone's apex, lower-cased wire form.
    apex: Vec<u8>,
    /// The primaries' addresses: NOTIFYs from elsewhere are refused. A standby's is the
    /// elected leader's, and changes with it.
    primaries: arc_swap::ArcSwap<Vec<IpAddr>>,
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
            primaries: arc_swap::ArcSwap::from_pointee(
                config
                    .primaries
                    .iter()
                    .map(|p| p.ip().to_canonical())
                    .collect(),
            ),
            live,
            wake,
            status,
        }
    }

    /// NOTIFYs are taken from `primaries` from now on (a standby's new leader; none on
    /// the leader itself).
    pub(crate) fn set_primaries(&self, primaries: &[std::net::SocketAddr]) {
        self.primaries.store(
            primaries
                .iter()
                .map(|p| p.ip().to_canonical())
                .collect::<Vec<_>>()
                .into(),
        );
    }

    /// Answers the NOTIFY `packet` from `peer` into `out`: the reply's length, or `None`
    /// to drop a packet that cannot be answered.
    pub(crate) fn receive(
        &self,
        packet: &[u8],
        peer: Option<IpAddr>,
        out: &mut [u8],
    ) -> Option<usize> {
        let header = Header::read(packet)?;
        if header.count(Section::Question) != 1 {
            return None;
        }
        let mut question = Cursor::new(packet, HEADER_LEN);
        let qname = question.name()?.to_ascii_lowercase();
        let qtype = question.u16()?;
        question.u16()?;
        let question_end = question.at();
        let config = self.live.load();
        let now = crate::status::unix_seconds();
        let verdict = tsig::verify(packet, question_end, &config.tsig_keys, now);
        let from_primary = peer.is_some_and(|p| self.primaries.load().contains(&p.to_canonical()));
        let (rcode, signer) = match (qname == self.apex && qtype == TYPE_SOA, from_primary) {
            (false, _) => (Rcode::NOTAUTH, None),
            (true, false) => (Rcode::REFUSED, None),
            (true, true) => match (&config.transfer_tsig, verdict) {
                (Some(name), Verified::Good(signer)) if signer.key_is_named(name) => {
                    (Rcode::NOERROR, Some(signer))
                }
                (None, Verified::Unsigned) => (Rcode::NOERROR, None),
                (None, Verified::Good(signer)) => (Rcode::NOERROR, Some(signer)),
                _ => (Rcode::REFUSED, None),
            },
        };
        let flags = (Flags::QR | Flags::AA)
            .with_opcode(Opcode::NOTIFY)
            .with_rcode(rcode);
        let mut reply = vec![0u8; question_end];
        let mut w = MessageWriter::new(&mut reply, question_end, header.id, flags)?;
        w.put(Section::Question, 1, &packet[HEADER_LEN..question_end]);
        let len = w.finish();
        reply.truncate(len);
        if let Some(mut signer) = signer {
            signer.sign(&mut reply, 0, now, 0);
        }
        if rcode == Rcode::NOERROR {
            Status::add(&self.status.secondary.notifies_taken, 1);
            let _ = self.wake.try_send(());
        } else {
            Status::add(&self.status.secondary.notifies_refused, 1);
            tracing::debug!(?peer, rcode = rcode.0, "NOTIFY refused");
        }
        let out = out.get_mut(..reply.len())?;
        out.copy_from_slice(&reply);
        Some(reply.len())
    }
}
