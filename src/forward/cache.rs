//! A bounded cache of upstream replies, keyed by (name, type, class, DO bit), honouring
//! TTLs: an entry lives for its TTL (RFC 2308 rules for negative replies), and TTLs in a
//! served copy are lowered by the time spent in the cache. The bound and the choice of
//! what to evict are quick_cache's (S3-FIFO over the entry count); expiry is checked on
//! read, and an expired entry is removed then.

use super::message::Layout;
use crate::dns::header::{Section, set_count};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Lower-cased wire-format name.
    pub name: Box<[u8]>,
    pub qtype: u16,
    pub qclass: u16,
    pub dnssec_ok: bool,
}

struct Entry {
    /// The reply as the upstream sent it (OPT and what follows it cut off).
    reply: Vec<u8>,
    /// Offsets of the TTL fields to lower when serving.
    ttl_offsets: Vec<usize>,
    stored: Instant,
    lifetime: Duration,
}

pub struct Cache {
    /// `None` when the cache is off (`ForwardCacheSize` 0).
    entries: Option<quick_cache::unsync::Cache<CacheKey, Entry>>,
    pub hits: u64,
    pub misses: u64,
}

/// Entries never live longer than this, whatever the upstream says.
const MAX_LIFETIME: u32 = 86_400;

impl Cache {
    pub fn new(capacity: usize) -> Cache {
        Cache {
            entries: (capacity > 0).then(|| quick_cache::unsync::Cache::new(capacity)),
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a reply (its layout already read) for `ttl` seconds.
    pub fn insert(&mut self, key: CacheKey, reply: &[u8], layout: &Layout, ttl: u32, now: Instant) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        if ttl == 0 {
            return;
        }
        let end = layout
            .record_ends
            .last()
            .copied()
            .unwrap_or(layout.question_end);
        let mut reply = reply[..end].to_vec();
        // The stored copy has no OPT: fix its additional count accordingly.
        set_count(
            &mut reply,
            Section::Additional,
            layout.arcount_before_opt as u16,
        );
        entries.insert(
            key,
            Entry {
                reply,
                ttl_offsets: layout.ttls.iter().map(|&(at, _)| at).collect(),
                stored: now,
                lifetime: Duration::from_secs(u64::from(ttl.min(MAX_LIFETIME))),
            },
        );
    }

    /// A copy of the cached reply with TTLs lowered by its age, if still fresh.
    pub fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Vec<u8>> {
        let Some(entries) = self.entries.as_mut() else {
            self.misses += 1;
            return None;
        };
        let Some(entry) = entries.get(key) else {
            self.misses += 1;
            return None;
        };
        let age = now.saturating_duration_since(entry.stored);
        if age >= entry.lifetime {
            entries.remove(key);
            self.misses += 1;
            return None;
        }
        let elapsed = age.as_secs() as u32;
        let mut reply = entry.reply.clone();
        for &at in &entry.ttl_offsets {
            if let Some(field) = reply.get_mut(at..at + 4) {
                let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
                field.copy_from_slice(&ttl.saturating_sub(elapsed).to_be_bytes());
            }
        }
        self.hits += 1;
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::header::Flags;
    use crate::forward::message::layout;

    fn reply(ttl: u8) -> Vec<u8> {
        let [f0, f1] = (Flags::QR | Flags::RD | Flags::RA).bits().to_be_bytes();
        let mut p = vec![0, 1, f0, f1, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        p.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, ttl, 0, 4, 10, 0, 0, 1]);
        p
    }

    fn key(n: u8) -> CacheKey {
        CacheKey {
            name: vec![1, n, 0].into(),
            qtype: 1,
            qclass: 1,
            dnssec_ok: false,
        }
    }

    #[test]
    fn ttls_count_down_and_expire() {
        let mut c = Cache::new(10);
        let p = reply(30);
        let l = layout(&p).unwrap();
        let t0 = Instant::now();
        c.insert(key(1), &p, &l, 30, t0);
        let got = c.get(&key(1), t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(got[got.len() - 10..got.len() - 6], [0, 0, 0, 20]);
        assert!(c.get(&key(1), t0 + Duration::from_secs(30)).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn bounded() {
        let mut c = Cache::new(3);
        let p = reply(60);
        let l = layout(&p).unwrap();
        let t0 = Instant::now();
        for n in 0..5 {
            c.insert(key(n), &p, &l, 60, t0);
        }
        assert!(c.len() <= 3, "{}", c.len());
        let mut off = Cache::new(0);
        off.insert(key(1), &p, &l, 60, t0);
        assert!(off.is_empty());
    }
}
