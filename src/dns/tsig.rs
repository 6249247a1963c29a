//! TSIG (RFC 8945): verifying a signed request and signing the messages that answer it,
//! with HMAC-SHA256 or HMAC-SHA512 (ring). Only the wire work is here; which key a
//! transfer needs is the listener's business.

use super::cursor::Cursor;
use super::header::{Header, Section, count, set_count};
use super::wire::{be16, name_to_wire, skip_name};
use ring::hmac;

/// TSIG's record type.
const TYPE_TSIG: u16 = 250;
/// Class ANY.
const CLASS_ANY: u16 = 255;
/// TSIG errors (RFC 8945 §5.2): in the TSIG record, with NOTAUTH as the RCODE.
pub(crate) const BADSIG: u16 = 16;
pub(crate) const BADKEY: u16 = 17;
pub(crate) const BADTIME: u16 = 18;
/// The fudge we sign with and accept: 300 s.
const FUDGE: u16 = 300;

/// A TSIG key.
#[derive(Clone)]
pub struct TsigKey {
    /// The key's name as configured.
    pub label: String,
    /// The algorithm as configured.
    pub algorithm_name: String,
    /// The key's name, lower-cased wire form.
    name: Vec<u8>,
    /// The algorithm's name, wire form.
    algorithm: Vec<u8>,
    key: hmac::Key,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TsigKey").field("name", &self.name).finish()
    }
}

impl PartialEq for TsigKey {
    fn eq(&self, other: &TsigKey) -> bool {
        self.name == other.name && self.algorithm == other.algorithm
    }
}
impl Eq for TsigKey {}

impl TsigKey {
    /// Whether this key is the one named `name` (any case, trailing dot or not).
    pub fn is_named(&self, name: &str) -> bool {
        self.label
            .trim_end_matches('.')
            .eq_ignore_ascii_case(name.trim_end_matches('.'))
    }

    /// A key named `name` for `algorithm` (`hmac-sha256` or `hmac-sha512`); `None` for
    /// another algorithm or a name that is not a DNS name.
    pub fn new(name: &str, algorithm: &str, secret: &[u8]) -> Option<TsigKey> {
        let alg = match algorithm.to_ascii_lowercase().as_str() {
            "hmac-sha256" => hmac::HMAC_SHA256,
            "hmac-sha512" => hmac::HMAC_SHA512,
            _ => return None,
        };
        let mut wire = Vec::new();
        name_to_wire(&format!("{}.", name.trim_end_matches('.')), true, &mut wire)?;
        let mut algorithm_wire = Vec::new();
        name_to_wire(
            &format!("{}.", algorithm.to_ascii_lowercase()),
            true,
            &mut algorithm_wire,
        )?;
        Some(TsigKey {
            label: name.to_string(),
            algorithm_name: algorithm.to_ascii_lowercase(),
            name: wire,
            algorithm: algorithm_wire,
            key: hmac::Key::new(alg, secret),
        })
    }
}

/// A request's TSIG record, as found.
pub(crate) struct RequestTsig {
    /// The key name (wire, lower-cased).
    pub(crate) key_name: Vec<u8>,
    /// The algorithm name (wire, lower-cased).
    pub(crate) algorithm: Vec<u8>,
    pub(crate) time_signed: u64,
    pub(crate) fudge: u16,
    pub(crate) mac: Vec<u8>,
    pub(crate) original_id: u16,
    /// The TSIG error field and other data.
    pub(crate) error: u16,
    pub(crate) other: Vec<u8>,
    /// Where the TSIG record starts: the request is signed up to here.
    pub(crate) start: usize,
}

/// What verifying a request found.
pub(crate) enum Verified {
    /// Not signed.
    Unsigned,
    /// Signed with this key, correctly and in time; answers are signed with it, chained
    /// to the request's MAC.
    Good(Signer),
    /// Signed, but wrong: the TSIG error to answer (BADKEY, BADSIG, BADTIME), and how
    /// to sign that answer when the key is known.
    Bad(u16, Option<Signer>),
}

/// Signs the messages of one answer, each MAC chained to the one before.
#[derive(Clone)]
pub(crate) struct Signer {
    key: TsigKey,
    /// The MAC the next message's MAC covers (the request's, then each answer's).
    prior: Vec<u8>,
    first: bool,
    original_id: u16,
}

/// The TSIG record of `packet` (the last additional record), if any.
pub(crate) fn find(packet: &[u8], question_end: usize) -> Option<RequestTsig> {
    let header = Header::read(packet)?;
    let records = [Section::Answer, Section::Authority, Section::Additional]
        .map(|s| usize::from(header.count(s)))
        .iter()
        .sum::<usize>();
    if header.count(Section::Additional) == 0 {
        return None;
    }
    let mut cursor = Cursor::new(packet, question_end);
    for _ in 0..records - 1 {
        cursor.record()?;
    }
    let start = cursor.at();
    let record = cursor.record()?;
    if record.rtype != TYPE_TSIG {
        return None;
    }
    let key_name = lower_name(packet, start)?;
    let algorithm = lower_name(packet, record.rdata_at)?;
    let mut rdata = Cursor::new(record.rdata, 0);
    rdata.name()?;
    let time = rdata.take(6)?;
    let time_signed =
        u64::from_be_bytes([0, 0, time[0], time[1], time[2], time[3], time[4], time[5]]);
    let fudge = rdata.u16()?;
    let mac_len = usize::from(rdata.u16()?);
    let mac = rdata.take(mac_len)?.to_vec();
    let original_id = rdata.u16()?;
    let error = rdata.u16()?;
    let other_len = usize::from(rdata.u16()?);
    let other = rdata.take(other_len)?.to_vec();
    Some(RequestTsig {
        key_name,
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
        start,
    })
}

/// Checks `packet`'s TSIG against `keys` at time `now` (seconds since the epoch).
pub(crate) fn verify(packet: &[u8], question_end: usize, keys: &[TsigKey], now: u64) -> Verified {
    let Some(tsig) = find(packet, question_end) else {
        return Verified::Unsigned;
    };
    let Some(key) = keys
        .iter()
        .find(|k| k.name == tsig.key_name && k.algorithm == tsig.algorithm)
    else {
        return Verified::Bad(BADKEY, None);
    };
    // The request as signed: without its TSIG record, one fewer additional record, its
    // original ID.
    let mut signed = packet[..tsig.start].to_vec();
    signed[0..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let additional = count(&signed, Section::Additional).saturating_sub(1);
    set_count(&mut signed, Section::Additional, additional);
    signed.extend_from_slice(&variables(key, tsig.time_signed, tsig.fudge, 0, &[]));
    let signer = |prior: Vec<u8>| Signer {
        key: key.clone(),
        prior,
        first: true,
        original_id: tsig.original_id,
    };
    // ring compares in constant time; a truncated MAC is not accepted.
    if hmac::verify(&key.key, &signed, &tsig.mac).is_err() {
        return Verified::Bad(BADSIG, None);
    }
    if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
        return Verified::Bad(BADTIME, Some(signer(tsig.mac)));
    }
    Verified::Good(signer(tsig.mac))
}

/// The TSIG variables (RFC 8945 §4.3.3): key name, class, TTL, algorithm, time signed,
/// fudge, error, other data.
fn variables(key: &TsigKey, time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.name.len() + key.algorithm.len() + 20 + other.len());
    v.extend_from_slice(&key.name);
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&key.algorithm);
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

impl Signer {
    /// A signer for a request of ours (a NOTIFY) with `key`: no prior MAC.
    pub(crate) fn for_request(key: TsigKey, id: u16) -> Signer {
        Signer {
            key,
            prior: Vec::new(),
            first: true,
            original_id: id,
        }
    }

    /// After signing a request of ours: what checks the answers to it.
    pub(crate) fn into_check(self) -> ResponseCheck {
        ResponseCheck {
            key: self.key,
            prior: self.prior,
            first: true,
        }
    }

    /// Whether the request was signed with the key named `name`.
    pub(crate) fn key_is_named(&self, name: &str) -> bool {
        self.key.is_named(name)
    }

    /// Signs the message `out[msg..]` (complete, without TSIG) at time `now`, appending
    /// the TSIG record and counting it in ARCOUNT. `error` is 0 but for a TSIG error
    /// answer (BADTIME carries our time as other data).
    pub(crate) fn sign(&mut self, out: &mut Vec<u8>, msg: usize, now: u64, error: u16) {
        let other: Vec<u8> = if error == BADTIME {
            now.to_be_bytes()[2..].to_vec()
        } else {
            Vec::new()
        };
        let mut ctx = hmac::Context::with_key(&self.key.key);
        // A response covers the MAC it answers (a request of ours has none).
        if !(self.first && self.prior.is_empty()) {
            ctx.update(&(self.prior.len() as u16).to_be_bytes());
            ctx.update(&self.prior);
        }
        // The message as it goes out, but with the original ID.
        ctx.update(&self.original_id.to_be_bytes());
        ctx.update(&out[msg + 2..]);
        if self.first {
            ctx.update(&variables(&self.key, now, FUDGE, error, &other));
        } else {
            // Later messages of a stream cover the timers only (RFC 8945 §5.3.1).
            ctx.update(&now.to_be_bytes()[2..]);
            ctx.update(&FUDGE.to_be_bytes());
        }
        let mac = ctx.sign();
        let mac = mac.as_ref();
        out.extend_from_slice(&self.key.name);
        out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
        out.extend_from_slice(&CLASS_ANY.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        let rdlen = self.key.algorithm.len() + 10 + mac.len() + 6 + other.len();
        out.extend_from_slice(&(rdlen as u16).to_be_bytes());
        out.extend_from_slice(&self.key.algorithm);
        out.extend_from_slice(&now.to_be_bytes()[2..]);
        out.extend_from_slice(&FUDGE.to_be_bytes());
        out.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        out.extend_from_slice(mac);
        out.extend_from_slice(&self.original_id.to_be_bytes());
        out.extend_from_slice(&error.to_be_bytes());
        out.extend_from_slice(&(other.len() as u16).to_be_bytes());
        out.extend_from_slice(&other);
        count_additional(out, msg);
        self.prior = mac.to_vec();
        self.first = false;
    }
}

/// Checks the messages answering a signed request of ours (a secondary's SOA query and
/// transfer), each MAC chained to the one before: the first covers the request's MAC
/// and the TSIG variables, later ones the timers only (RFC 8945 §5.3.1). Every message
/// must be signed, as Knot, BIND and this server sign them.
pub(crate) struct ResponseCheck {
    key: TsigKey,
    prior: Vec<u8>,
    first: bool,
}

impl ResponseCheck {
    /// Verifies `packet` at time `now`; on success, where its TSIG record starts.
    pub(crate) fn verify(&mut self, packet: &[u8], question_end: usize, now: u64) -> Option<usize> {
        let tsig = find(packet, question_end)?;
        if tsig.key_name != self.key.name || tsig.algorithm != self.key.algorithm || tsig.error != 0
        {
            return None;
        }
        let mut signed = Vec::with_capacity(packet.len() + self.prior.len() + 64);
        signed.extend_from_slice(&(self.prior.len() as u16).to_be_bytes());
        signed.extend_from_slice(&self.prior);
        let message = signed.len();
        signed.extend_from_slice(&packet[..tsig.start]);
        signed[message..message + 2].copy_from_slice(&tsig.original_id.to_be_bytes());
        let ar = be16(packet, 10)?.checked_sub(1)?;
        signed[message + 10..message + 12].copy_from_slice(&ar.to_be_bytes());
        if self.first {
            signed.extend_from_slice(&variables(
                &self.key,
                tsig.time_signed,
                tsig.fudge,
                tsig.error,
                &tsig.other,
            ));
        } else {
            signed.extend_from_slice(&tsig.time_signed.to_be_bytes()[2..]);
            signed.extend_from_slice(&tsig.fudge.to_be_bytes());
        }
        hmac::verify(&self.key.key, &signed, &tsig.mac).ok()?;
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return None;
        }
        self.prior = tsig.mac;
        self.first = false;
        Some(tsig.start)
    }
}

/// An unsigned TSIG record for an error answer whose key is unknown or whose MAC is
/// wrong (RFC 8945 §5.3.2: no MAC), appended to `out[msg..]`.
pub(crate) fn append_unsigned(
    out: &mut Vec<u8>,
    msg: usize,
    request: &RequestTsig,
    error: u16,
    now: u64,
) {
    out.extend_from_slice(&request.key_name);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = request.algorithm.len() + 10 + 6;
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    out.extend_from_slice(&request.algorithm);
    out.extend_from_slice(&now.to_be_bytes()[2..]);
    out.extend_from_slice(&FUDGE.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&request.original_id.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    count_additional(out, msg);
}

/// One more record in the additional section of the message at `out[msg..]`.
fn count_additional(out: &mut [u8], msg: usize) {
    let message = &mut out[msg..];
    let additional = count(message, Section::Additional).wrapping_add(1);
    set_count(message, Section::Additional, additional);
}

/// The name at `at` as written, lower-cased (TSIG names are not compressed; a
/// compressed one matches no key).
fn lower_name(packet: &[u8], at: usize) -> Option<Vec<u8>> {
    let end = skip_name(packet, at)?;
    Some(packet.get(at..end)?.to_ascii_lowercase())
}
