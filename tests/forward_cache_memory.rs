//! The forwarder's cache under churn: names that expire and come back, and a stream of
//! names never asked twice, must not grow its memory past what its capacity holds
//! (live bytes from jemalloc's statistics).

#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: tests may panic

use mesos_dns::forward::cache::{Cache, CacheKey};
use mesos_dns::forward::message::layout;
use std::time::{Duration, Instant};

#[path = "alloc/mod.rs"]
mod alloc;
use alloc::live;

fn reply() -> Vec<u8> {
    let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    p.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
    p.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);
    p
}

fn key(n: u32) -> CacheKey {
    let label = format!("name-{n}");
    let mut name = vec![label.len() as u8];
    name.extend_from_slice(label.as_bytes());
    name.extend_from_slice(b"\x07example\x00");
    CacheKey {
        name: name.into(),
        qtype: 1,
        qclass: 1,
        dnssec_ok: false,
    }
}

#[test]
fn churn_does_not_grow_memory() {
    let p = reply();
    let l = layout(&p).unwrap();
    let mut cache = Cache::new(1_000);
    let mut now = Instant::now();
    // Half full: names that expire and come back never fill it.
    for n in 0..500 {
        cache.insert(key(n), &p, &l, 30, now);
    }
    let filled = live();
    for _ in 0..400 {
        now += Duration::from_secs(31);
        for n in 0..500 {
            assert!(cache.get(&key(n), now).is_none());
            cache.insert(key(n), &p, &l, 30, now);
        }
    }
    let churned = live();
    eprintln!(
        "200,000 expiries and re-inserts: live bytes {filled} → {churned} ({:+})",
        churned - filled
    );
    assert!(
        churned - filled < 256 * 1024,
        "live bytes grew by {} with names expiring and coming back",
        churned - filled
    );
    // Then a stream of names never asked twice: the bound holds.
    for n in 0..200_000u32 {
        cache.insert(key(1_000_000 + n), &p, &l, 30, now);
    }
    let streamed = live();
    assert!(cache.len() <= 1_100, "{} entries", cache.len());
    assert!(
        streamed - filled < 512 * 1024,
        "live bytes grew by {} past the capacity",
        streamed - filled
    );
}
