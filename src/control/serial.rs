//! `SerialFile`: the last SOA serial, kept on disk so that a restarted primary never
//! serves a serial below one it served before (a secondary holding the higher one would
//! otherwise think itself current and stop following).
//!
//! Serials start from the clock (seconds since the epoch) and move by one per publish, so
//! a busy primary runs ahead of the clock. The file is written at most once a second and
//! at shutdown; on start the serial resumes [`MARGIN`] above what it holds, which covers
//! the publishes of the last unwritten second (at most 200 at the 5 ms coalescing).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Added to the stored serial on start.
pub(crate) const MARGIN: u32 = 10_000;
/// Writes are at least this far apart.
const EVERY: Duration = Duration::from_secs(1);

/// Where the serial is kept, and what was last written.
pub(crate) struct SerialFile {
    path: Option<PathBuf>,
    written: u32,
    due: Option<u32>,
    last_write: Option<Instant>,
}

impl SerialFile {
    /// The file at `path` (`None`: serials are not kept).
    pub(crate) fn new(path: Option<PathBuf>) -> SerialFile {
        SerialFile {
            path,
            written: 0,
            due: None,
            last_write: None,
        }
    }

    /// The serial to resume above: the stored one plus [`MARGIN`]; `None` without a file
    /// or a readable serial in it.
    pub(crate) fn resume_from(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        let stored: u32 = text.trim().parse().ok()?;
        Some(stored.wrapping_add(MARGIN))
    }

    /// Notes a published serial; writes it if the last write is a second old.
    pub(crate) fn record(&mut self, serial: u32) {
        self.due = Some(serial);
        if self.last_write.is_none_or(|t| t.elapsed() >= EVERY) {
            self.flush();
        }
    }

    /// Writes the last serial noted, if not yet written (also at shutdown).
    pub(crate) fn flush(&mut self) {
        let (Some(path), Some(serial)) = (&self.path, self.due) else {
            return;
        };
        if serial == self.written {
            return;
        }
        // Written aside, then renamed: a crash never leaves half a number.
        let aside = path.with_extension("tmp");
        let result = std::fs::write(&aside, format!("{serial}\n"))
            .and_then(|()| std::fs::rename(&aside, path));
        match result {
            Ok(()) => {
                self.written = serial;
                self.last_write = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "SerialFile not written: {e}");
                // Try again in a second, not at every publish.
                self.last_write = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_above_what_it_wrote() {
        let dir = std::env::temp_dir().join(format!("mesos-dns-serial-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("serial");
        let mut file = SerialFile::new(Some(path.clone()));
        assert_eq!(file.resume_from(), None);
        file.record(1_800_000_000);
        assert_eq!(
            SerialFile::new(Some(path)).resume_from(),
            Some(1_800_000_000 + MARGIN)
        );
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(SerialFile::new(None).resume_from(), None);
    }
}
