//! A primary's zone kept on disk (`DataDirectory`): each zone version it serves is
//! written as a secondary of this very server would keep it. The version is streamed as
//! this server's own transfer (IXFR from the serial kept, or AXFR when the history does
//! not reach back that far), read back through the same checks a secondary applies,
//! and handed to the kept zone's writer. So a primary and a secondary keep one format,
//! load through one path, and share one story for crashes. It runs on a thread of its
//! own, so a publish never waits on the disk.

use super::kept::{KeptZone, WholeWriter};
use super::stream::{Assembler, Received, ZoneRr, ZoneSink, convert};
use crate::dns::header::{Flags, HEADER_LEN, Header};
use crate::dns::wire::{CLASS_IN, TYPE_AXFR, TYPE_IXFR, name_to_wire};
use crate::snapshot::Snapshot;
use crate::status::unix_seconds;
use crate::transfer::Transfer;
use crossbeam_channel::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Hands each served snapshot to the writer thread.
pub(crate) struct Keeper {
    tx: Sender<Arc<Snapshot>>,
    thread: JoinHandle<(KeptZone, Option<u32>)>,
}

impl Keeper {
    /// Keeps the zone of `apex` (text, trailing dot) through `kept`, which holds the
    /// version `kept_serial` (`None`: unknown, the first version is written whole);
    /// `history` IXFR deltas are kept.
    pub(crate) fn spawn(
        kept: KeptZone,
        apex: &str,
        kept_serial: Option<u32>,
        history: usize,
    ) -> std::io::Result<Keeper> {
        let (tx, rx) = crossbeam_channel::unbounded::<Arc<Snapshot>>();
        let apex = apex.to_string();
        let thread = std::thread::Builder::new()
            .name("zone-keeper".into())
            .spawn(move || {
                let mut serial = kept_serial;
                for snapshot in rx {
                    serial = Some(keep(&kept, &apex, &snapshot, serial, history));
                }
                (kept, serial)
            })?;
        Ok(Keeper { tx, thread })
    }

    /// Where each served snapshot goes.
    pub(crate) fn sender(&self) -> Sender<Arc<Snapshot>> {
        self.tx.clone()
    }

    /// Writes what was handed over, then gives the kept zone back (for the next role),
    /// with the serial it holds.
    pub(crate) fn finish(self) -> Option<(KeptZone, Option<u32>)> {
        drop(self.tx);
        self.thread.join().ok()
    }
}

/// Writes `snapshot` (whose serial follows `from`, the version kept): its changes when
/// its history reaches back to `from`, else all of it. The serial now kept.
fn keep(
    kept: &KeptZone,
    apex: &str,
    snapshot: &Arc<Snapshot>,
    from: Option<u32>,
    history: usize,
) -> u32 {
    let now = unix_seconds();
    if from == Some(snapshot.serial) {
        kept.checked(now);
        return snapshot.serial;
    }
    let incremental = from.filter(|&f| snapshot.history.since(f).is_some_and(|d| !d.is_empty()));
    let mut query = vec![0u8; HEADER_LEN];
    Header {
        id: 0,
        flags: Flags::default(),
        counts: [1, 0, 0, 0],
    }
    .write(&mut query);
    let _ = name_to_wire(apex, true, &mut query);
    let qtype = if incremental.is_some() {
        TYPE_IXFR
    } else {
        TYPE_AXFR
    };
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&CLASS_IN.to_be_bytes());
    let apex_wire = query[HEADER_LEN..query.len() - 4].to_vec();
    let mut transfer = match incremental {
        Some(f) => Transfer::incremental(snapshot.clone(), &query, query.len(), &apex_wire, f),
        None => Transfer::new(snapshot.clone(), &query, query.len(), &apex_wire),
    };
    let mut assembler = Assembler::new(apex, incremental, Whole(kept.whole_writer()));
    let mut out = Vec::new();
    while !transfer.is_done() {
        out.clear();
        transfer.next_message(&mut out);
        let Ok(message) = hickory_proto::op::Message::from_vec(&out[2..]) else {
            tracing::error!("DataDirectory: this server's own transfer did not parse; not kept");
            return from.unwrap_or_default();
        };
        for rr in message.answers().iter().filter_map(convert) {
            if assembler.push(rr).is_err() {
                tracing::error!(
                    "DataDirectory: this server's own transfer did not check; not kept"
                );
                return from.unwrap_or_default();
            }
        }
        assembler.end_of_message();
    }
    match assembler.finish() {
        Ok(Received::Full { soa, zone }) => kept.commit_whole(Some(zone.0), soa, now),
        Ok(Received::Incremental { soa, diffs }) => {
            let steps = diffs.into_iter().map(|d| (d.removed, d.added)).collect();
            let delta = snapshot.history.latest().cloned();
            kept.changes(soa, steps, delta, history, now);
        }
        Ok(Received::Current { .. }) => kept.checked(now),
        Err(_) => {
            tracing::error!("DataDirectory: this server's own transfer did not check; not kept");
            return from.unwrap_or_default();
        }
    }
    snapshot.serial
}

/// The records of a whole version, on their way to the kept zone.
struct Whole(WholeWriter);

impl ZoneSink for Whole {
    fn record(&mut self, rr: ZoneRr) {
        self.0.record(&rr);
    }
}
