//! The allocator (jemalloc): what it holds, for `/metrics`, and the loads during which
//! it gives freed pages back to the system at once.
//!
//! By default jemalloc keeps freed pages for about ten seconds before giving them back,
//! so that memory freed and soon needed again costs no page faults. A whole load frees
//! a great deal while it allocates the zone (the transfer's list outgrowing itself, the
//! records' list given back part by part as the sets are made): pages kept for later
//! then add to the peak the system sees, at 100k tasks of the long-tailed cluster some
//! 30 MB. While a [`PromptReturn`] lives, freed pages go back at once.

use std::sync::Mutex;
use tikv_jemalloc_ctl::{Access, AsName};

/// (kind, bytes) for `allocated`, `active`, `resident`, `retained` and `metadata`;
/// `None` when the statistics cannot be read (jemalloc not the allocator in use, or
/// built without statistics).
pub(crate) fn bytes() -> Option<[(&'static str, u64); 5]> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The totals are cached by jemalloc until the epoch moves on.
    epoch::advance().ok()?;
    let read = |r: tikv_jemalloc_ctl::Result<usize>| r.ok().map(|b| b as u64);
    Some([
        ("allocated", read(stats::allocated::read())?),
        ("active", read(stats::active::read())?),
        ("resident", read(stats::resident::read())?),
        ("retained", read(stats::retained::read())?),
        ("metadata", read(stats::metadata::read())?),
    ])
}

/// Loads under way, and the decay time to restore when the last ends.
static PROMPT_LOADS: Mutex<(usize, isize)> = Mutex::new((0, 0));

/// The default decay time of new arenas.
const DEFAULT_DECAY: &[u8] = b"arenas.dirty_decay_ms\0";

/// Freed pages go back to the system at once while this lives (loads may overlap: the
/// setting is restored when the last ends).
pub(crate) struct PromptReturn(());

impl PromptReturn {
    pub(crate) fn start() -> PromptReturn {
        let mut loads = PROMPT_LOADS.lock().unwrap_or_else(|p| p.into_inner());
        if loads.0 == 0 {
            if let Ok(decay) = DEFAULT_DECAY.name().read() {
                loads.1 = decay;
                set_decay(0);
            }
        }
        loads.0 += 1;
        PromptReturn(())
    }
}

impl Drop for PromptReturn {
    fn drop(&mut self) {
        let mut loads = PROMPT_LOADS.lock().unwrap_or_else(|p| p.into_inner());
        loads.0 = loads.0.saturating_sub(1);
        if loads.0 == 0 && loads.1 != 0 {
            set_decay(loads.1);
        }
    }
}

/// Sets the decay time of freed pages, in ms, for every arena and for those to come.
/// Best effort: an arena not in use yet cannot be set, and jemalloc may refuse.
fn set_decay(ms: isize) {
    let _ = DEFAULT_DECAY.name().write(ms);
    let arenas = tikv_jemalloc_ctl::arenas::narenas::read().unwrap_or(0);
    for arena in 0..arenas {
        let name = format!("arena.{arena}.dirty_decay_ms\0");
        let _ = name.as_bytes().name().write(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay() -> isize {
        DEFAULT_DECAY.name().read().unwrap_or(-2) // ok: test
    }

    #[test]
    fn freed_pages_go_back_at_once_until_the_last_load_ends() {
        let first = PromptReturn::start();
        assert_eq!(decay(), 0);
        let second = PromptReturn::start();
        drop(first);
        assert_eq!(decay(), 0, "one load still under way");
        drop(second);
        // Other tests may be loading zones meanwhile: the setting is back whenever none is.
        let loads = PROMPT_LOADS.lock().unwrap_or_else(|p| p.into_inner());
        if loads.0 == 0 {
            assert_eq!(decay(), loads.1);
            assert!(loads.1 > 0, "jemalloc's default decay, {}", loads.1);
        } else {
            assert_eq!(decay(), 0);
        }
    }
}
