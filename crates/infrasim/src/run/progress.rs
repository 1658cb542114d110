//! Progress of a run, shared with another thread (a progress bar).

use std::sync::atomic::{AtomicU64, Ordering};

/// Simulated nanoseconds done out of the total over every replication of a run. Share it
/// with the run through [`super::RunOptions::progress`] and read [`Progress::fraction`] from
/// another thread; the run's results do not depend on it.
#[derive(Debug, Default)]
pub struct Progress {
    done_ns: AtomicU64,
    total_ns: AtomicU64,
}

impl Progress {
    /// A fresh progress counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fraction done, in [0, 1] (0 before the run has started).
    pub fn fraction(&self) -> f64 {
        let total = self.total_ns.load(Ordering::Relaxed);
        if total == 0 {
            0.0
        } else {
            (self.done_ns.load(Ordering::Relaxed) as f64 / total as f64).min(1.0)
        }
    }

    pub(crate) fn add_total(&self, ns: u64) {
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub(crate) fn add_done(&self, ns: u64) {
        self.done_ns.fetch_add(ns, Ordering::Relaxed);
    }
}
