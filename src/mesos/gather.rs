//! When the stream reader waits before reading again: while the control thread's
//! coalescing window is open (`CoalesceMilliseconds`), records that come are published
//! together at its end anyway, so the reader lets them gather in the socket and reads
//! them with one call, shortly before the window closes.
//!
//! Why: at 1,000 events a second each record was its own wake-up and `recv` (the
//! thread put to sleep, woken, an ACK sent), some 60% of the reader's CPU. A record
//! that opens a window is passed on at once, as before, and so starts the window; the
//! ones after it reach the control thread before the window closes (a margin is kept
//! for reading and decoding them), so no change is published later than it was.

use std::time::{Duration, Instant};

/// The longest the reader waits: past this, a window gathers little more per read and
/// the socket's buffer fills (a `CoalesceMilliseconds` can be up to 10 s).
const LONGEST_WAIT: Duration = Duration::from_millis(20);
/// Kept before the window closes for reading, decoding and handing over what came.
const MARGIN: Duration = Duration::from_millis(1);

/// The window the control thread opened at the reader's last hand-over.
#[derive(Debug, Default)]
pub(crate) struct Gather {
    closes: Option<Instant>,
}

impl Gather {
    /// Changes were handed over at `now` with nothing more read: until when to wait
    /// before the next read (`None`: read at once). `window` is the coalescing window.
    pub(crate) fn wait_until(&mut self, now: Instant, window: Duration) -> Option<Instant> {
        if window.is_zero() {
            self.closes = None;
            return None;
        }
        // A hand-over after the window closed opens the next one.
        let closes = match self.closes {
            Some(closes) if now < closes => closes,
            _ => *self.closes.insert(now + window),
        };
        // A short window keeps a quarter of itself as the margin.
        let wake = closes - MARGIN.min(window / 4);
        (wake > now).then(|| wake.min(now + LONGEST_WAIT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_hand_over_opens_a_window_and_waits_until_shortly_before_it_closes() {
        let mut gather = Gather::default();
        let start = Instant::now();
        assert_eq!(gather.wait_until(start, 5 * MS), Some(start + 4 * MS));
        // Handed over again inside the window (what came while waiting): no wait, the
        // reader reads on until the window closes.
        assert_eq!(gather.wait_until(start + 4 * MS, 5 * MS), None);
        assert_eq!(gather.wait_until(start + 4 * MS + MS / 2, 5 * MS), None);
        // After it closed, the next hand-over opens a new one.
        let later = start + 7 * MS;
        assert_eq!(gather.wait_until(later, 5 * MS), Some(later + 4 * MS));
    }

    #[test]
    fn no_window_no_wait() {
        let mut gather = Gather::default();
        let now = Instant::now();
        assert_eq!(gather.wait_until(now, Duration::ZERO), None);
        // A window set again later (SIGHUP) applies from the next hand-over.
        assert_eq!(gather.wait_until(now, 2 * MS), Some(now + MS + MS / 2));
    }

    #[test]
    fn a_long_window_waits_at_most_the_longest_wait() {
        let mut gather = Gather::default();
        let now = Instant::now();
        assert_eq!(
            gather.wait_until(now, Duration::from_secs(10)),
            Some(now + LONGEST_WAIT)
        );
    }
}
