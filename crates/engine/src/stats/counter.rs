//! [`Counter`]: a monotone event count (requests served, errors, retries, drops).

use serde::{Deserialize, Serialize};

/// A count of events that only goes up.
///
/// Trivial on purpose: a named type (rather than a bare `u64`) makes a model's metrics struct
/// self-describing, and it serialises as a plain number (`#[serde(transparent)]`) so reports
/// stay readable. Additions saturate at `u64::MAX` instead of wrapping, so an absurdly long
/// run reports "at least this many" rather than a small wrong number.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Counter(u64);

impl Counter {
    /// A counter at zero (same as `Counter::default()`).
    pub const fn new() -> Self {
        Counter(0)
    }

    /// Counts one event.
    #[inline]
    pub fn incr(&mut self) {
        self.0 = self.0.saturating_add(1);
    }

    /// Counts `n` events at once (e.g. a batch of dropped requests).
    #[inline]
    pub fn add(&mut self, n: u64) {
        self.0 = self.0.saturating_add(n);
    }

    /// The number of events counted so far.
    #[inline]
    pub const fn get(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_serialises_as_a_number() {
        let mut c = Counter::new();
        assert_eq!(c.get(), 0);
        c.incr();
        c.add(41);
        assert_eq!(c.get(), 42);
        assert_eq!(serde_json::to_string(&c).unwrap(), "42");
        let back: Counter = serde_json::from_str("42").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let mut c = Counter::new();
        c.add(u64::MAX);
        c.incr();
        assert_eq!(c.get(), u64::MAX);
    }
}
