//! The allocator (jemalloc): what it holds, for `/metrics`, and the freed pages a whole
//! load gives back to the system at once.
//!
//! jemalloc keeps freed pages about ten seconds before giving them back, so that memory
//! freed and soon needed again costs no page faults. A whole load frees a great deal
//! while it allocates the zone (the transfer's list outgrowing itself, the records given
//! back part by part as the sets are made), and on other threads' arenas than those
//! allocating next: kept, those pages add to the peak the system sees (at 100k tasks of
//! the long-tailed cluster, some 30 MB). [`return_freed_pages`] gives them back at the
//! load's steps. (Giving every page back as it is freed, for the whole load, cost a
//! quarter of a second more to the first answer.)

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

static RETURNING: Mutex<()> = Mutex::new(());

/// The name of arena `arena`'s decay time of freed pages, in ms.
fn decay_of(arena: u32) -> String {
    format!("arena.{arena}.dirty_decay_ms\0")
}

/// Gives the pages freed so far back to the system: each arena's decay time set to 0,
/// which purges at once, and then back to what it was. Best effort: an arena not in
/// use yet has no decay time, and jemalloc may refuse.
pub(crate) fn return_freed_pages() {
    // One at a time: a decay time read while another call holds it at 0 would be
    // put back as 0.
    let _one = RETURNING.lock().unwrap_or_else(|p| p.into_inner());
    let arenas = tikv_jemalloc_ctl::arenas::narenas::read().unwrap_or(0);
    for arena in 0..arenas {
        let name = decay_of(arena);
        let name = name.as_bytes().name();
        let decay: Result<isize, _> = name.read();
        if let Ok(decay) = decay {
            if decay != 0 && name.write(0isize).is_ok() {
                let _ = name.write(decay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_pages_are_given_back_and_the_decay_times_kept() {
        let decays = || -> Vec<Option<isize>> {
            let arenas = tikv_jemalloc_ctl::arenas::narenas::read().unwrap_or(0);
            (0..arenas)
                .map(|a| decay_of(a).as_bytes().name().read().ok())
                .collect()
        };
        // Read while no other call holds a decay time at 0.
        let alone = || RETURNING.lock().unwrap_or_else(|p| p.into_inner());
        let before = {
            let _alone = alone();
            decays()
        };
        assert!(before.iter().flatten().any(|&d| d > 0), "{before:?}");
        // A few pages freed, then given back.
        drop(vec![1u8; 1 << 22]);
        return_freed_pages();
        let _alone = alone();
        assert_eq!(decays(), before);
    }
}
