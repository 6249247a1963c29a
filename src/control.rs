//! The refresh loop: load the state, generate records, compile a snapshot, publish it.
//! Runs on its own thread; a failed refresh keeps the previous snapshot.

use crate::config::{Config, is_wildcard};
use crate::mesos::source::StateSource;
use crate::records::{Inputs, RecordSet, generate};
use crate::server::SharedSnapshot;
use crate::snapshot::compile;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The addresses published under `SOAMname` (spec §4.7): every non-loopback interface
/// address for the wildcard listener, else the listener itself.
pub fn listener_addresses(listener: IpAddr) -> Vec<IpAddr> {
    if !is_wildcard(listener) {
        return vec![listener];
    }
    if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .collect()
        })
        .unwrap_or_default()
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// State kept between refreshes.
pub struct Control {
    config: Config,
    source: StateSource,
    shared: SharedSnapshot,
    previous: Option<RecordSet>,
    serial: u32,
}

impl Control {
    pub fn new(config: Config, shared: SharedSnapshot) -> Control {
        Control {
            source: StateSource::from_config(&config),
            config,
            shared,
            previous: None,
            serial: 0,
        }
    }

    /// One refresh. The SOA serial moves only when the published data changes.
    pub fn refresh(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let state = self.source.fetch().map_err(|e| e.to_string())?;
        let masters = self.config.masters.clone().unwrap_or_default();
        let listener = listener_addresses(self.config.listener);
        let (records, report) = generate(
            &self.config,
            &state,
            Inputs {
                masters: &masters,
                listener_ips: &listener,
            },
        );
        drop(state);
        if report.skipped > 0 {
            tracing::warn!(skipped = report.skipped, examples = ?report.examples, "state items skipped");
        }
        if let Some(previous) = &self.previous {
            if previous.same_records(&records) && self.shared.load().ready {
                tracing::debug!("state unchanged; snapshot kept");
                return Ok(());
            }
        }
        self.serial = unix_now().max(self.serial.wrapping_add(1));
        let snapshot = compile(records.clone(), &self.config, self.serial);
        let (names, bytes) = snapshot.size();
        self.shared.store(Arc::new(snapshot));
        self.previous = Some(records);
        tracing::info!(
            serial = self.serial,
            names,
            snapshot_bytes = bytes,
            ms = started.elapsed().as_millis() as u64,
            "published new snapshot"
        );
        Ok(())
    }

    /// Refreshes every `RefreshSeconds`, forever.
    pub fn run(mut self) {
        let period = Duration::from_secs(self.config.refresh_seconds);
        loop {
            if let Err(e) = self.refresh() {
                tracing::warn!("refresh failed, keeping the previous records: {e}");
            }
            std::thread::sleep(period);
        }
    }
}
