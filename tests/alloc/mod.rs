//! jemalloc as the test binary's allocator, and its live-bytes statistic: for the tests
//! that measure memory (each a binary of its own, so other tests do not disturb it).

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes the allocator has handed out and not taken back.
pub fn live() -> i64 {
    tikv_jemalloc_ctl::epoch::advance().unwrap();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap() as i64
}
