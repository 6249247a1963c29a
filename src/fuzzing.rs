//! Entry points for the fuzz targets (`fuzz/`), one per parser of untrusted bytes, each
//! driving the same code the server runs on those bytes and checking what must hold
//! whatever they are. Built only with the `fuzzing` feature; not an API.

use crate::config::{Config, Environment};
use crate::control::engine::Engine;
use crate::dns::tsig::{self, Signer, TsigKey, Verified};
use crate::mesos::recordio::RecordReader;
use crate::mesos::state::State;
use crate::secondary::pull::{check_message, records};
use crate::secondary::stream::{Assembler, Received};
use crate::secondary::zone::HeldZone;
use crate::snapshot::{SharedSnapshot, Snapshot};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

const FIXTURE: &[u8] = include_bytes!("../tests/data/fake-state.json");
/// A key both sides of the fuzzed exchanges know.
const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";

/// A primary's configuration: transfers from loopback, one TSIG key, a listed primary
/// (for the NOTIFY inbox) at 127.0.0.1.
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let json = format!(
            r#"{{"masters":["144.76.157.37:5050"],"externalon":false,"listener":"127.0.0.1",
                "IPSources":["netinfo","docker","mesos","host"],"EDNSMaxUDPSize":4096,
                "TransferACL":["127.0.0.0/8"],
                "TSIGKeys":{{"xfr":{{"Algorithm":"hmac-sha256","Secret":"{SECRET}"}}}}}}"#
        );
        Config::from_json(&json, "config.json".as_ref(), &Environment::system())
            .unwrap_or_else(|e| panic!("fuzzing config: {e}"))
    })
}

/// The fixture served with one change in its history (so IXFR has a delta to send).
fn snapshot() -> &'static SharedSnapshot {
    static SNAP: OnceLock<SharedSnapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let config = config();
        let masters = config.masters.clone().unwrap_or_default();
        let listener = [config.listener];
        let mut engine = Engine::new(config.clone());
        let mut served = Snapshot::empty(config);
        let state = || State::from_slice(FIXTURE).map(State::into_cluster_state);
        let mut publish = |engine: &mut Engine| {
            if let Some((next, _)) = engine.publish(&served) {
                served = next;
            }
        };
        if let Ok(state) = state() {
            engine.apply_state(state, &masters, &listener);
            publish(&mut engine);
        }
        engine.set_cluster_inputs("", &masters, &listener);
        publish(&mut engine);
        Arc::new(arc_swap::ArcSwap::from_pointee(served))
    })
}

fn key() -> TsigKey {
    config().tsig_keys[0].clone()
}

/// TSIG on a request (verification against the key list) and on a response (the MAC
/// chain of a transfer we asked for): never a panic, and a verified request's signer
/// signs.
pub fn tsig(data: &[u8]) {
    let question_end = crate::dns::wire::skip_name(data, 12).map_or(12, |e| e + 4);
    let question_end = question_end.min(data.len());
    match tsig::verify(data, question_end, &config().tsig_keys, 1_700_000_000) {
        Verified::Good(mut signer) | Verified::Bad(_, Some(mut signer)) => {
            let mut out = data[..question_end].to_vec();
            signer.sign(&mut out, 0, 1_700_000_000, 0);
        }
        Verified::Bad(_, None) | Verified::Unsigned => {}
    }
    let id = u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]);
    let mut check = Signer::for_request(key(), id).into_check();
    if let Some(start) = check.verify(data, question_end, 1_700_000_000) {
        assert!(start <= data.len());
    }
}

/// A TCP query as the listener takes it: answered, or, for AXFR/IXFR, admitted (ACL,
/// TSIG, the IXFR serial) and streamed to the end. Every message is framed, at most
/// 65,535 octets, and the stream ends. The same query over UDP: an IXFR's answer fits
/// the client's size.
pub fn transfer_request(data: &[u8]) {
    use crate::answer::{Outcome, Transport, answer};
    let shared = snapshot();
    let mut out = vec![0u8; 65535];
    if let Outcome::IxfrOverUdp(ixfr) = answer(data, &shared.load(), 0, Transport::Udp, &mut out) {
        assert!(ixfr.len <= ixfr.limit);
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (changes, _) =
            crate::transfer::ixfr_over_udp(Some(config()), peer, shared, data, ixfr, &mut out);
        assert!(changes.is_none_or(|n| n <= ixfr.limit));
    }
    let Outcome::Transfer { question_end, .. } =
        answer(data, &shared.load(), 0, Transport::Tcp, &mut out)
    else {
        return;
    };
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut wire = Vec::new();
    let (transfer, _) =
        crate::transfer::admit(Some(config()), peer, shared, data, question_end, &mut wire);
    let Some(mut transfer) = transfer else {
        assert!(wire.len() >= 2, "a refusal is written");
        return;
    };
    // The fixture's zone is a few dozen messages at most.
    for _ in 0..10_000 {
        if transfer.is_done() {
            return;
        }
        wire.clear();
        transfer.next_message(&mut wire);
        assert!(wire.len() <= 65_537);
    }
    panic!("a transfer of the fixture did not end");
}

/// A NOTIFY as a secondary's listeners hand it over, from a listed primary and from
/// elsewhere: an answer fits the buffer and echoes the ID.
pub fn notify_inbox(data: &[u8]) {
    use crate::notify::inbox::{NotifyInbox, is_notify};
    static INBOX: OnceLock<(NotifyInbox, crossbeam_channel::Receiver<()>)> = OnceLock::new();
    let (inbox, wakes) = INBOX.get_or_init(|| {
        let mut config = config().clone();
        config.primaries = vec![(Ipv4Addr::LOCALHOST, 53).into()];
        let (tx, rx) = crossbeam_channel::bounded(1);
        let live = Arc::new(arc_swap::ArcSwap::from_pointee(config.clone()));
        (NotifyInbox::new(&config, live, tx, Default::default()), rx)
    });
    if !is_notify(data) {
        return;
    }
    let mut out = [0u8; 1024];
    for peer in [
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        None,
    ] {
        if let Some(len) = inbox.receive(data, peer, &mut out) {
            assert!((12..=out.len()).contains(&len));
            assert_eq!(out[..2], data[..2]);
        }
    }
    while wakes.try_recv().is_ok() {}
}

/// An upstream's reply as the forwarder reads it: matched to the query, its TTL for
/// the cache, and fitted to every client size without a panic or an overrun.
pub fn forward_reply(data: &[u8]) {
    use crate::forward::message::{cache_ttl, fit, layout};
    let question = data.get(12..).map_or(&[][..], |q| &q[..q.len().min(40)]);
    let id = u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]);
    let _ = crate::forward::is_reply_to(data, id, question);
    let Some(l) = layout(data) else { return };
    let _ = cache_ttl(data, &l);
    for limit in [0, 12, 512, 1232, 4096, 65535] {
        for reserve in [0, 11] {
            let (len, _, _) = fit(&l, limit, reserve);
            assert!(len <= data.len().max(12));
        }
    }
}

/// The operator API stream's framing: lengths and records, as the subscription reads
/// them, never past what a length allows.
/// A state document streamed in, cut at its task lists (`mesos::split`): never a panic,
/// and whatever serde_json decodes whole decodes the same cut. Returns the state.
pub fn state_document(data: &[u8]) -> Option<State> {
    let whole: Option<State> = serde_json::from_slice(data).ok();
    let cut = State::from_reader(data);
    if let Some(whole) = &whole {
        let Ok(cut) = &cut else {
            panic!("decoded whole but not cut: {cut:?}");
        };
        assert_eq!(format!("{cut:?}"), format!("{whole:?}"));
    }
    cut.ok()
}

pub fn recordio(data: &[u8]) {
    let mut reader = RecordReader::new(data);
    for _ in 0..1_000 {
        match reader.next_length(1 << 20) {
            Ok(Some(length)) => match reader.read_record(length) {
                Ok(record) => assert_eq!(record.len() as u64, length),
                Err(_) => return,
            },
            Ok(None) | Err(_) => return,
        }
    }
}

/// An HTTP request head as the event loop parses it.
pub fn http_request(data: &[u8]) {
    let _ = crate::http::server::parse(data);
}

/// A transfer as a secondary receives it: the input is a stream of 2-octet-framed
/// messages, taken first as an AXFR into an empty zone, then (whatever the first
/// brought) the rest as an IXFR against the zone held. Nothing panics, and a zone
/// installed or changed compiles.
pub fn transfer_stream(data: &[u8]) {
    static EMPTY: OnceLock<Snapshot> = OnceLock::new();
    let current = EMPTY.get_or_init(|| Snapshot::empty(config()));
    let mut zone = HeldZone::new(config().clone());
    let (first, rest) = messages(data, 0);
    let mut asm = Assembler::new("mesos.", None, zone.full_load(None));
    feed(&mut asm, first);
    if let Ok(Received::Full { soa, zone: load }) = asm.finish() {
        let _ = zone.install(soa, load);
    }
    let (second, _) = messages(data, rest);
    let mut asm = Assembler::new("mesos.", zone.serial(), Vec::new());
    feed(&mut asm, second);
    if let Ok(Received::Incremental { soa, diffs }) = asm.finish() {
        let _ = zone.apply_incremental(current, soa, diffs);
    }
}

/// The messages framed in `data` from `at`, up to an empty frame or the end; and where
/// the next stream starts.
fn messages(data: &[u8], mut at: usize) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    while at + 2 <= data.len() && out.len() < 64 {
        let len = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
        at += 2;
        if len == 0 {
            break;
        }
        let end = (at + len).min(data.len());
        out.push(data[at..end].to_vec());
        at = end;
    }
    (out, at)
}

fn feed<S: crate::secondary::stream::ZoneSink>(asm: &mut Assembler<S>, messages: Vec<Vec<u8>>) {
    for packet in messages {
        let id = u16::from_be_bytes([
            packet.first().copied().unwrap_or(0),
            packet.get(1).copied().unwrap_or(0),
        ]);
        let Ok(records) = check_message(packet, id, None).and_then(|p| records(&p)) else {
            return;
        };
        for rr in records {
            if asm.push(rr).is_err() {
                return;
            }
        }
        asm.end_of_message();
        if asm.is_done() {
            return;
        }
    }
}
