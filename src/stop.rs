//! One shutdown signal shared by every long-running thread (SIGTERM/SIGINT, or a test
//! stopping an in-process server). Threads either poll [`Stop::is_stopped`] between
//! bounded waits, register a wake-up with [`Stop::on_stop`], or select on
//! [`Stop::receiver`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Cheap to clone; every clone sees the same signal.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<Inner>,
}

type Wake = Box<dyn Fn() + Send>;

struct Inner {
    stopped: AtomicBool,
    wakers: Mutex<Vec<Wake>>,
    /// Dropped on stop, so every receiver turns ready (disconnected) at once.
    sender: Mutex<Option<crossbeam_channel::Sender<()>>>,
    receiver: crossbeam_channel::Receiver<()>,
}

impl Default for Stop {
    fn default() -> Stop {
        Stop::new()
    }
}

impl Stop {
    /// A signal not yet given.
    pub fn new() -> Stop {
        let (sender, receiver) = crossbeam_channel::bounded(0);
        Stop {
            inner: Arc::new(Inner {
                stopped: AtomicBool::new(false),
                wakers: Mutex::new(Vec::new()),
                sender: Mutex::new(Some(sender)),
                receiver,
            }),
        }
    }

    /// Whether the signal has been given.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Gives the signal (once; later calls do nothing) and runs every wake-up.
    pub fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut sender) = self.inner.sender.lock() {
            sender.take();
        }
        let wakers = self
            .inner
            .wakers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for wake in wakers {
            wake();
        }
    }

    /// Runs `wake` when the signal is given (at once if it already was): for threads
    /// blocked in a poll that a waker can interrupt.
    pub fn on_stop(&self, wake: impl Fn() + Send + 'static) {
        if let Ok(mut wakers) = self.inner.wakers.lock() {
            if !self.is_stopped() {
                wakers.push(Box::new(wake));
                return;
            }
        }
        wake();
    }

    /// A channel that disconnects when the signal is given, for `select!`.
    pub fn receiver(&self) -> crossbeam_channel::Receiver<()> {
        self.inner.receiver.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_and_disconnects_once() {
        let stop = Stop::new();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        stop.on_stop(move || {
            c.fetch_add(1, Ordering::Relaxed);
        });
        let rx = stop.receiver();
        assert!(rx.try_recv().is_err_and(|e| e.is_empty()));
        stop.stop();
        stop.stop();
        assert!(stop.is_stopped());
        assert_eq!(count.load(Ordering::Relaxed), 1);
        assert!(rx.try_recv().is_err_and(|e| e.is_disconnected()));
        // A wake-up registered late runs at once.
        let c = count.clone();
        stop.clone().on_stop(move || {
            c.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}
