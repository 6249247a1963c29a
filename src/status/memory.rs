//! The process's memory as its allocator (jemalloc) counts it, read at scrape time: what
//! the zone and everything else hold live, and what the allocator keeps resident for
//! them. The gap between the two is room freed but not yet given back, or scattered
//! through pages still in use.

/// (kind, bytes) for `allocated`, `active`, `resident`, `retained` and `metadata`;
/// `None` when the statistics cannot be read (jemalloc not the allocator in use, or
/// built without statistics).
pub(crate) fn allocator_bytes() -> Option<[(&'static str, u64); 5]> {
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
