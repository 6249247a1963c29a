//! A bounded cache of upstream replies, keyed by (name, type, class, DO bit), honouring
//! TTLs: an entry lives for its TTL (RFC 2308 rules for negative replies), and TTLs in a
//! served copy are lowered by the time spent in the cache. When full, the oldest entry
//! goes first.

use super::message::Layout;
use std::collections::{HashMap, VecDeque};
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
    /// Insertion number, to tell this entry from a later one under the same key.
    generation: u64,
}

pub struct Cache {
    capacity: usize,
    entries: HashMap<CacheKey, Entry>,
    order: VecDeque<(CacheKey, u64)>,
    next_generation: u64,
    pub hits: u64,
    pub misses: u64,
}

/// Entries never live longer than this, whatever the upstream says.
const MAX_LIFETIME: u32 = 86_400;

impl Cache {
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stores a reply (its layout already read) for `ttl` seconds.
    pub fn insert(&mut self, key: CacheKey, reply: &[u8], layout: &Layout, ttl: u32, now: Instant) {
        if self.capacity == 0 || ttl == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some((old, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&old)
                .is_some_and(|e| e.generation == generation)
            {
                self.entries.remove(&old);
            }
        }
        let end = layout
            .record_ends
            .last()
            .copied()
            .unwrap_or(layout.question_end);
        let mut reply = reply[..end].to_vec();
        // The stored copy has no OPT: fix its additional count accordingly.
        let ar = layout.arcount_before_opt as u16;
        reply[10..12].copy_from_slice(&ar.to_be_bytes());
        self.next_generation += 1;
        let generation = self.next_generation;
        self.order.push_back((key.clone(), generation));
        self.entries.insert(
            key,
            Entry {
                reply,
                ttl_offsets: layout.ttls.iter().map(|&(at, _)| at).collect(),
                stored: now,
                lifetime: Duration::from_secs(u64::from(ttl.min(MAX_LIFETIME))),
                generation,
            },
        );
    }

    /// A copy of the cached reply with TTLs lowered by its age, if still fresh.
    pub fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Vec<u8>> {
        let Some(entry) = self.entries.get(key) else {
            self.misses += 1;
            return None;
        };
        let age = now.saturating_duration_since(entry.stored);
        if age >= entry.lifetime {
            self.entries.remove(key);
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
    use crate::forward::message::layout;

    fn reply(ttl: u8) -> Vec<u8> {
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
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
        assert_eq!(c.len(), 3);
        assert!(c.get(&key(0), t0).is_none());
        assert!(c.get(&key(4), t0).is_some());
        let mut off = Cache::new(0);
        off.insert(key(1), &p, &l, 60, t0);
        assert!(off.is_empty());
    }
}
