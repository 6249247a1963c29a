//! Capped exponential backoff with jitter, and when a failure is worth a log line: once
//! per step of the backoff, then once a minute at the cap, so that a storm of
//! reconnections never floods the log.

use std::time::{Duration, Instant};

pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    /// The step last logged, and when.
    logged: Option<(Duration, Instant)>,
}

/// How often a failure that repeats at the capped delay is logged.
const REPEAT_LOG: Duration = Duration::from_secs(60);

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            next: min,
            logged: None,
        }
    }

    /// A success: the next failure starts from the shortest delay again.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
        self.logged = None;
    }

    /// A new cap (the refresh period changed).
    pub(crate) fn set_max(&mut self, max: Duration) {
        self.max = max.max(self.min);
        self.next = self.next.min(self.max);
    }

    /// A failure: how long to wait (± 10%), and whether to log it.
    pub(crate) fn fail(&mut self) -> (Duration, bool) {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let log = match self.logged {
            Some((last, at)) => step != last || at.elapsed() >= REPEAT_LOG,
            None => true,
        };
        if log {
            self.logged = Some((step, Instant::now()));
        }
        (jitter(step), log)
    }
}

/// `d` ± 10%, so that many servers do not ask the masters in step.
pub(crate) fn jitter(d: Duration) -> Duration {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.9 + f64::from(nanos % 1000) / 5000.0;
    d.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_logs_each_step_once() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        for (want, want_log) in [
            (1.0, true),
            (2.0, true),
            (4.0, true),
            (8.0, true),
            (8.0, false),
        ] {
            let (d, log) = b.fail();
            let d = d.as_secs_f64();
            assert!((d - want).abs() <= want * 0.1 + 1e-9, "{d} vs {want}");
            assert_eq!(log, want_log, "{want}");
        }
        b.reset();
        let (d, log) = b.fail();
        assert!(log && d <= Duration::from_millis(1100));
    }
}
