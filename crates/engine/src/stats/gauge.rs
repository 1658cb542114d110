//! [`TimeWeighted`]: the time-average of an integer level (queue length, busy workers,
//! open connections), the quantity behind "mean queue length" and "utilisation".

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

/// A time-weighted gauge: an integer level that changes at event times, and the exact integral
/// of that level over time.
///
/// A plain average of the values *seen at events* is biased (a queue sampled on every arrival
/// over-weights busy periods); the right mean weights each value by how long it was held. The
/// integral is kept as an exact `u128` of value × nanoseconds, so the mean is one float
/// division of exact integers and is identical on every machine and in every build. `u128`
/// cannot overflow: even `u64::MAX` held for 584 years (`u64::MAX` ns) fits.
///
/// Times passed to the methods must never go backwards (checked by `debug_assert!`; in release
/// builds an earlier time counts as no time elapsed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWeighted {
    /// Where the current measurement window starts (the run start, or the last `reset`).
    start: SimTime,
    /// When `value` was last changed (or the area last brought up to date).
    last: SimTime,
    /// The current level.
    value: u64,
    /// Exact ∫ level dt over `[start, last]`, in value × nanoseconds.
    area: u128,
    /// The highest level since `start`.
    max: u64,
}

impl TimeWeighted {
    /// A gauge that starts measuring at `start` with level `initial`.
    pub fn new(start: SimTime, initial: u64) -> Self {
        TimeWeighted {
            start,
            last: start,
            value: initial,
            area: 0,
            max: initial,
        }
    }

    /// Folds the time since the last change into the area, at the current level.
    #[inline]
    fn advance(&mut self, now: SimTime) {
        debug_assert!(
            now >= self.last,
            "TimeWeighted: time went backwards ({now} before {})",
            self.last
        );
        let dt = now.saturating_since(self.last).as_nanos();
        self.area += u128::from(self.value) * u128::from(dt);
        if now > self.last {
            self.last = now;
        }
    }

    /// Sets the level to `value` from `now` on.
    #[inline]
    pub fn set(&mut self, now: SimTime, value: u64) {
        self.advance(now);
        self.value = value;
        self.max = self.max.max(value);
    }

    /// Changes the level by `delta` from `now` on (e.g. `+1` on enqueue, `-1` on dequeue).
    ///
    /// Saturates at 0 (and at `u64::MAX`): a level such as a queue length cannot be negative,
    /// and wrapping to 2^64 on a stray extra decrement would silently wreck every mean
    /// computed afterwards, whereas clamping keeps the damage to the buggy interval.
    #[inline]
    pub fn add(&mut self, now: SimTime, delta: i64) {
        let next = if delta >= 0 {
            self.value.saturating_add(delta.unsigned_abs())
        } else {
            self.value.saturating_sub(delta.unsigned_abs())
        };
        self.set(now, next);
    }

    /// The current level.
    #[inline]
    pub fn value(&self) -> u64 {
        self.value
    }

    /// The highest level held since the gauge was created or last [`reset`](Self::reset)
    /// (a peak queue length says more about tail latency than the mean does).
    #[inline]
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Where the current measurement window starts.
    #[inline]
    pub fn start(&self) -> SimTime {
        self.start
    }

    /// The exact integral of the level over `[start, now]`, in value × nanoseconds.
    ///
    /// Exposed so callers can combine gauges exactly (e.g. sum the areas of all workers'
    /// busy gauges before dividing) instead of averaging rounded means.
    pub fn area(&self, now: SimTime) -> u128 {
        debug_assert!(
            now >= self.last,
            "TimeWeighted: time went backwards ({now} before {})",
            self.last
        );
        let dt = now.saturating_since(self.last).as_nanos();
        self.area + u128::from(self.value) * u128::from(dt)
    }

    /// The time-average level over `[start, now]`: `area(now) / (now − start)`.
    ///
    /// If no time has elapsed the average is undefined; the current level is returned, which
    /// is the limit of the average over a vanishing window and avoids a NaN in reports.
    pub fn mean(&self, now: SimTime) -> f64 {
        let elapsed = now.saturating_since(self.start).as_nanos();
        if elapsed == 0 {
            return self.value as f64;
        }
        self.area(now) as f64 / elapsed as f64
    }

    /// Starts measuring afresh at `now`: the area is cleared and the maximum restarts from the
    /// current level, which is kept (the queue does not empty just because measurement began).
    ///
    /// Used at the end of warm-up, so the transient from an empty initial system does not bias
    /// the steady-state averages.
    pub fn reset(&mut self, now: SimTime) {
        self.advance(now);
        self.start = now;
        self.last = now;
        self.area = 0;
        self.max = self.value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn exact_mean_on_a_hand_computed_schedule() {
        // level: 2 on [0,10), 5 on [10,15), 2 on [15,30), 3 on [30,40)
        let mut g = TimeWeighted::new(t(0), 2);
        g.set(t(10), 5);
        g.add(t(15), -3);
        g.add(t(30), 1);
        assert_eq!(g.value(), 3);
        assert_eq!(g.max(), 5);
        assert_eq!(g.area(t(40)), 2 * 10 + 5 * 5 + 2 * 15 + 3 * 10);
        assert_eq!(g.mean(t(40)), 105.0 / 40.0);
        // Reading does not change state.
        assert_eq!(g.mean(t(40)), 2.625);
        assert_eq!(g.area(t(30)), 75);
    }

    #[test]
    fn reset_starts_afresh_but_keeps_the_level() {
        let mut g = TimeWeighted::new(t(0), 0);
        g.set(t(5), 10); // a warm-up spike
        g.set(t(20), 3);
        g.reset(t(40));
        assert_eq!(g.start(), t(40));
        assert_eq!(g.value(), 3);
        assert_eq!(g.max(), 3, "max restarts from the current level");
        assert_eq!(g.area(t(40)), 0);
        assert_eq!(g.mean(t(40)), 3.0, "no time elapsed: current value");
        g.set(t(50), 1);
        assert_eq!(g.area(t(60)), 3 * 10 + 10);
        assert_eq!(g.mean(t(60)), 2.0);
        assert_eq!(g.max(), 3);
    }

    #[test]
    fn no_elapsed_time_gives_current_value() {
        let g = TimeWeighted::new(t(7), 4);
        assert_eq!(g.mean(t(7)), 4.0);
    }

    #[test]
    fn add_saturates_at_zero_and_max() {
        let mut g = TimeWeighted::new(t(0), 1);
        g.add(t(1), -100);
        assert_eq!(g.value(), 0);
        g.add(t(2), i64::MAX);
        g.add(t(3), i64::MAX);
        g.add(t(4), i64::MAX);
        assert_eq!(g.value(), u64::MAX);
        g.add(t(5), i64::MIN);
        assert_eq!(g.value(), u64::MAX - (1u64 << 63));
    }

    #[test]
    fn area_is_exact_beyond_u64() {
        let mut g = TimeWeighted::new(t(0), u64::MAX);
        let day = 86_400_000_000_000;
        g.set(t(day), 0);
        assert_eq!(g.area(t(2 * day)), u128::from(u64::MAX) * u128::from(day));
        assert_eq!(g.mean(t(2 * day)), u64::MAX as f64 / 2.0);
    }

    #[test]
    fn utilisation_of_busy_workers() {
        // 4 workers; 2 busy for 1 s, then 4 busy for 1 s: utilisation 75 %.
        let s = 1_000_000_000;
        let mut busy = TimeWeighted::new(t(0), 2);
        busy.set(t(s), 4);
        assert_eq!(busy.mean(t(2 * s)) / 4.0, 0.75);
    }
}
