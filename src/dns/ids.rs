//! Query IDs for upstream queries, from the operating system's CSPRNG: an attacker who
//! could predict them could spoof an answer that the cache would then keep. IDs are drawn
//! 256 at a time, so that a forwarded query costs no extra system call.

use ring::rand::{SecureRandom, SystemRandom};

pub(crate) struct QueryIds {
    rng: SystemRandom,
    buffer: [u8; 512],
    /// Bytes of `buffer` already handed out.
    used: usize,
}

impl QueryIds {
    pub(crate) fn new() -> QueryIds {
        QueryIds {
            rng: SystemRandom::new(),
            buffer: [0; 512],
            used: 512,
        }
    }

    /// The next ID; `None` only if the system's random source fails (the query is then
    /// not sent: a guessable ID is worse than a SERVFAIL).
    pub(crate) fn draw(&mut self) -> Option<u16> {
        if self.used == self.buffer.len() {
            self.rng.fill(&mut self.buffer).ok()?;
            self.used = 0;
        }
        let id = u16::from_ne_bytes([self.buffer[self.used], self.buffer[self.used + 1]]);
        self.used += 2;
        Some(id)
    }
}

impl Default for QueryIds {
    fn default() -> Self {
        QueryIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_vary_across_refills() {
        let mut ids = QueryIds::new();
        let drawn: std::collections::HashSet<u16> = (0..2000).filter_map(|_| ids.draw()).collect();
        // 2,000 draws from 65,536 values: a CSPRNG repeats a few, never hundreds.
        assert!(drawn.len() > 1900, "{}", drawn.len());
    }
}
