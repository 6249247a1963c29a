//! A primary's zone kept on disk (`DataDirectory`): each zone version it serves is
//! written as a secondary of this very server would keep it. The version is streamed as
//! this server's own transfer (IXFR from the serial kept, or AXFR when the history does
//! not reach back that far), read back through the same checks a secondary applies,
//! and handed to the kept zone's writer. So a primary and a secondary keep one format,
//! load through one path, and share one story for crashes. It runs on a thread of its
//! own, so a publish never waits on the disk.

use super::kept::{KeptZone, WholeWriter};
use super::stream::{Assembler, Received, ZoneRr, ZoneSink};
use super::wire_records::answer_records;
use crate::config::Config;
use crate::dns::header::{Flags, HEADER_LEN, Header};
use crate::dns::wire::{CLASS_IN, TYPE_AXFR, TYPE_IXFR, name_to_wire};
use crate::snapshot::{Snapshot, apex_name};
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
    /// Keeps the zone of `config`'s domain through `kept`, which holds the version
    /// `kept_serial` (`None`: unknown, the first version is written whole), with
    /// `IXFRJournal` deltas of history; `None` (logged) when its thread cannot start.
    pub(crate) fn start(
        kept: KeptZone,
        kept_serial: Option<u32>,
        config: &Config,
    ) -> Option<Keeper> {
        let (tx, rx) = crossbeam_channel::unbounded::<Arc<Snapshot>>();
        let apex = apex_name(config);
        let history = config.ixfr_journal;
        let thread = std::thread::Builder::new()
            .name("zone-keeper".into())
            .spawn(move || {
                let mut serial = kept_serial;
                for snapshot in rx {
                    match keep(&kept, &apex, &snapshot, serial, history) {
                        Ok(()) => serial = Some(snapshot.serial),
                        Err(why) => tracing::error!(
                            serial = snapshot.serial,
                            "DataDirectory: this server's own transfer {why}; not kept"
                        ),
                    }
                }
                (kept, serial)
            });
        match thread {
            Ok(thread) => Some(Keeper { tx, thread }),
            Err(e) => {
                tracing::error!("DataDirectory: cannot start the keeper: {e}");
                None
            }
        }
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
/// its history reaches back to `from`, else all of it; why not, when its own transfer
/// does not read back.
fn keep(
    kept: &KeptZone,
    apex: &str,
    snapshot: &Arc<Snapshot>,
    from: Option<u32>,
    history: usize,
) -> Result<(), &'static str> {
    let now = unix_seconds();
    if from == Some(snapshot.serial) {
        kept.checked(now);
        return Ok(());
    }
    let incremental = from.filter(|&f| snapshot.history.reaches(f));
    let mut apex_wire = Vec::new();
    let _ = name_to_wire(apex, true, &mut apex_wire);
    // The request a secondary of this server would send: its ID and question.
    let mut query = vec![0u8; HEADER_LEN];
    Header {
        id: 0,
        flags: Flags::default(),
        counts: [1, 0, 0, 0],
    }
    .write(&mut query);
    query.extend_from_slice(&apex_wire);
    let qtype = if incremental.is_some() {
        TYPE_IXFR
    } else {
        TYPE_AXFR
    };
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&CLASS_IN.to_be_bytes());
    let mut transfer = match incremental {
        Some(f) => Transfer::incremental(snapshot.clone(), &query, query.len(), &apex_wire, f),
        None => Transfer::new(snapshot.clone(), &query, query.len(), &apex_wire),
    };
    let mut assembler = Assembler::new(apex, incremental, Whole(kept.whole_writer()));
    let mut out = Vec::new();
    while !transfer.is_done() {
        out.clear();
        transfer.next_message(&mut out);
        let records = answer_records(&out[2..]).ok_or("did not parse")?;
        for rr in records {
            assembler.push(rr).map_err(|_| "did not check")?;
        }
        assembler.end_of_message();
    }
    match assembler.finish().map_err(|_| "did not check")? {
        Received::Full { soa, zone } => kept.commit_whole(Some(zone.0), soa, now),
        Received::Incremental { soa, diffs } => {
            let steps = diffs.into_iter().map(|d| (d.removed, d.added)).collect();
            let delta = snapshot.history.latest().cloned();
            kept.changes(soa, steps, delta, history, now);
        }
        Received::Current { .. } => kept.checked(now),
    }
    Ok(())
}

/// The records of a whole version, on their way to the kept zone.
struct Whole(WholeWriter);

impl ZoneSink for Whole {
    fn record(&mut self, rr: ZoneRr) {
        self.0.record(&rr);
    }
}
