//! Statistics over replications: [`OnlineStats`] (running mean and variance),
//! [`ConfidenceInterval`] (Student-t interval for a mean) and [`batch_means`] (an interval
//! from one long, autocorrelated run).
//!
//! A single simulation run is one random sample of the system's behaviour; a p99 from one run
//! says nothing about how much the next seed would differ. Running independent replications
//! (different seeds) and reporting `mean ± half_width` makes that uncertainty visible.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::math;

/// Running count, mean, variance, min and max of a stream of `f64`, in one pass and O(1)
/// memory (Welford's algorithm).
///
/// Welford's update avoids the catastrophic cancellation of the textbook
/// `Σx² − (Σx)²/n` formula, which loses every significant digit when the values are large and
/// close together (e.g. throughputs around 1e9 differing in the units). [`merge`](Self::merge)
/// combines two accumulators exactly as if one had seen both streams (Chan et al.), so
/// replications can be summarised in parallel. A NaN pushed in propagates to mean and
/// variance, as it should: it signals a broken measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineStats {
    /// Number of values pushed.
    n: u64,
    /// Running mean.
    mean: f64,
    /// Sum of squared deviations from the running mean.
    m2: f64,
    /// Smallest value, if any.
    min: Option<f64>,
    /// Largest value, if any.
    max: Option<f64>,
}

impl OnlineStats {
    /// An empty accumulator.
    pub const fn new() -> Self {
        OnlineStats {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: None,
            max: None,
        }
    }

    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
    }

    /// Folds `other` in, as if every value it saw had been pushed here.
    pub fn merge(&mut self, other: &OnlineStats) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = other.clone();
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.n += other.n;
        self.min = Some(match (self.min, other.min) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(f64::NAN),
        });
        self.max = Some(match (self.max, other.max) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(f64::NAN),
        });
    }

    /// Number of values pushed.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The mean, or 0 if nothing was pushed (check [`count`](Self::count) to tell the two
    /// apart; a 0 keeps report arithmetic free of NaN).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The sample variance (divisor `n − 1`, unbiased), or 0 with fewer than two values
    /// (spread is unknown, not infinite; [`ConfidenceInterval`] is where that matters).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// The sample standard deviation, `sqrt(variance)`.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The smallest value, or `None` if empty.
    pub fn min(&self) -> Option<f64> {
        self.min
    }

    /// The largest value, or `None` if empty.
    pub fn max(&self) -> Option<f64> {
        self.max
    }
}

/// A two-sided Student-t confidence interval for a mean: `mean ± t(n−1, level) · s / √n`.
///
/// Student-t rather than normal because replication counts are small (5–30): with 10
/// replications the 95 % t multiplier is 2.26, not 1.96, and using 1.96 would claim more
/// certainty than the data supports. The interval assumes the samples are independent
/// (separate replications, or batch means — see [`batch_means`]) and their mean roughly
/// normal.
///
/// With fewer than two samples the spread is unknown, so `half_width` is `+∞` (`low = −∞`,
/// `high = +∞`): one sample says nothing about how far the next would land. With none,
/// `mean` is 0. Infinite bounds serialise as `null` (JSON has no infinity) and `null` reads
/// back as the infinity, so reports round-trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Number of samples.
    pub n: usize,
    /// Sample mean (0 if there are no samples).
    pub mean: f64,
    /// Sample standard deviation (divisor `n − 1`; 0 with fewer than two samples).
    pub std_dev: f64,
    /// Half the interval's width: `t · std_dev / √n` (`+∞` with fewer than two samples).
    #[serde(
        serialize_with = "nonfinite_as_none",
        deserialize_with = "none_as_pos_inf"
    )]
    pub half_width: f64,
    /// `mean − half_width`.
    #[serde(
        serialize_with = "nonfinite_as_none",
        deserialize_with = "none_as_neg_inf"
    )]
    pub low: f64,
    /// `mean + half_width`.
    #[serde(
        serialize_with = "nonfinite_as_none",
        deserialize_with = "none_as_pos_inf"
    )]
    pub high: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

/// Writes a finite float as itself and ±∞/NaN as "none" (`null` in JSON).
fn nonfinite_as_none<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_some(x)
    } else {
        s.serialize_none()
    }
}

/// Reads "none" back as `+∞` (an unbounded upper bound or half-width).
fn none_as_pos_inf<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Reads "none" back as `−∞` (an unbounded lower bound).
fn none_as_neg_inf<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
}

impl ConfidenceInterval {
    /// The interval for the mean of `samples` at confidence `level` (e.g. 0.95).
    ///
    /// # Panics
    ///
    /// If `level` is not strictly between 0 and 1 (a programming error, not a data problem).
    pub fn from_samples(samples: &[f64], level: f64) -> ConfidenceInterval {
        assert_level(level);
        let n = samples.len();
        if n == 0 {
            return ConfidenceInterval::unbounded(0, 0.0, level);
        }
        // Two passes over the slice: the most accurate way when all data is at hand.
        let mean = samples.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return ConfidenceInterval::unbounded(1, mean, level);
        }
        let ss: f64 = samples.iter().map(|x| (x - mean) * (x - mean)).sum();
        let std_dev = (ss / (n - 1) as f64).sqrt();
        let half_width = Self::t_quantile(n - 1, level) * std_dev / (n as f64).sqrt();
        ConfidenceInterval {
            n,
            mean,
            std_dev,
            half_width,
            low: mean - half_width,
            high: mean + half_width,
            level,
        }
    }

    /// The "knows nothing about the spread" interval for fewer than two samples.
    fn unbounded(n: usize, mean: f64, level: f64) -> ConfidenceInterval {
        ConfidenceInterval {
            n,
            mean,
            std_dev: 0.0,
            half_width: f64::INFINITY,
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
            level,
        }
    }

    /// The two-sided Student-t multiplier: the `1 − (1 − level)/2` quantile of the t
    /// distribution with `df` degrees of freedom (2.262 for `df = 9`, `level = 0.95`),
    /// computed in-house ([`math::student_t_quantile`]) so it is the same bits everywhere.
    /// `df = 0` gives `+∞`.
    ///
    /// # Panics
    ///
    /// If `level` is not strictly between 0 and 1.
    pub fn t_quantile(df: usize, level: f64) -> f64 {
        assert_level(level);
        if df == 0 {
            return f64::INFINITY;
        }
        let p = 1.0 - (1.0 - level) / 2.0;
        math::student_t_quantile(p, df as f64)
    }

    /// Whether `x` lies in `[low, high]`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// `half_width / |mean|`: the precision relative to the estimate, the usual stopping rule
    /// for "replicate until the 95 % interval is within ±5 %". `+∞` if the mean is 0.
    pub fn relative_half_width(&self) -> f64 {
        if self.mean == 0.0 {
            f64::INFINITY
        } else {
            self.half_width / self.mean.abs()
        }
    }
}

/// Panics unless `0 < level < 1`.
fn assert_level(level: f64) {
    assert!(
        level > 0.0 && level < 1.0,
        "confidence level must be strictly between 0 and 1, got {level}"
    );
}

/// A 95 % confidence interval for the steady-state mean from one long run, by the method of
/// non-overlapping batch means.
///
/// Why batches: successive observations in one run are strongly correlated (a long queue now
/// means a long queue for the next request too), so treating them as independent makes the
/// interval far too narrow. Averages over long contiguous batches are nearly independent of
/// each other and nearly normal, so a t-interval over the `n_batches` batch means is valid.
/// Use 10–30 batches, each much longer than the system's correlation time; run warm-up
/// deletion first.
///
/// The batch size is `samples.len() / n_batches`; the leftover `samples.len() % n_batches`
/// samples are dropped from the *start* (extra warm-up, rather than a truncated last batch).
/// With `n_batches == 0`, or fewer samples than batches, the result has `n = 0` and infinite
/// half-width.
pub fn batch_means(samples: &[f64], n_batches: usize) -> ConfidenceInterval {
    const LEVEL: f64 = 0.95;
    if n_batches == 0 || samples.len() < n_batches {
        return ConfidenceInterval::from_samples(&[], LEVEL);
    }
    let size = samples.len() / n_batches;
    let used = &samples[samples.len() % n_batches..];
    let means: Vec<f64> = used
        .chunks_exact(size)
        .map(|b| b.iter().sum::<f64>() / size as f64)
        .collect();
    ConfidenceInterval::from_samples(&means, LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit LCG (Knuth's MMIX constants) and Box–Muller, so these tests depend on no
    /// other module.
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 11) + 1) as f64 / (1u64 << 53) as f64 // (0, 1]
        }
        fn normal(&mut self, mean: f64, sd: f64) -> f64 {
            let (u1, u2) = (self.unit(), self.unit());
            let z = (-2.0 * math::ln(u1)).sqrt() * math::sin_cos(2.0 * std::f64::consts::PI * u2).1;
            mean + sd * z
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn online_matches_two_pass() {
        let mut rng = Lcg(11);
        // Large offset, small spread: where the naive formula falls apart.
        let xs: Vec<f64> = (0..10_000).map(|_| rng.normal(1e9, 3.0)).collect();
        let mut s = OnlineStats::new();
        xs.iter().for_each(|&x| s.push(x));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (xs.len() - 1) as f64;
        assert_eq!(s.count(), 10_000);
        assert!(close(s.mean(), mean, 1e-9 * mean), "{} vs {mean}", s.mean());
        assert!(
            close(s.variance(), var, 1e-6 * var),
            "{} vs {var}",
            s.variance()
        );
        assert!(close(s.std_dev(), var.sqrt(), 1e-6));
        let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((s.min(), s.max()), (Some(min), Some(max)));
    }

    #[test]
    fn online_small_and_empty() {
        let mut s = OnlineStats::new();
        assert_eq!((s.count(), s.mean(), s.variance()), (0, 0.0, 0.0));
        assert_eq!((s.min(), s.max()), (None, None));
        s.push(4.0);
        assert_eq!((s.mean(), s.variance()), (4.0, 0.0));
        for x in [2.0, 6.0] {
            s.push(x);
        }
        assert_eq!((s.mean(), s.variance()), (4.0, 4.0));
    }

    #[test]
    fn online_merge_equals_single_stream() {
        let mut rng = Lcg(12);
        let xs: Vec<f64> = (0..1_000).map(|_| rng.normal(50.0, 10.0)).collect();
        let mut whole = OnlineStats::new();
        xs.iter().for_each(|&x| whole.push(x));
        let (mut a, mut b) = (OnlineStats::new(), OnlineStats::new());
        xs[..300].iter().for_each(|&x| a.push(x));
        xs[300..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert_eq!(a.count(), whole.count());
        assert!(close(a.mean(), whole.mean(), 1e-12));
        assert!(close(a.variance(), whole.variance(), 1e-9));
        assert_eq!((a.min(), a.max()), (whole.min(), whole.max()));
        let mut e = OnlineStats::new();
        e.merge(&whole);
        assert_eq!(e, whole);
        e.merge(&OnlineStats::new());
        assert_eq!(e, whole);
    }

    #[test]
    fn t_quantiles() {
        assert!(close(
            ConfidenceInterval::t_quantile(9, 0.95),
            2.2621572,
            1e-6
        ));
        assert!(close(
            ConfidenceInterval::t_quantile(4, 0.95),
            2.7764451,
            1e-6
        ));
        assert!(close(
            ConfidenceInterval::t_quantile(1, 0.95),
            12.7062047,
            1e-5
        ));
        // Both sides of the switch to the large-df expansion.
        for (df, want) in [
            (30, 2.0422725),
            (100, 1.9839715),
            (1_000, 1.9623391),
            (10_000, 1.9602012),
            (1_001, 1.9623367),
            (100_000, 1.9599877),
            (1_000_000, 1.9599664),
        ] {
            let got = ConfidenceInterval::t_quantile(df, 0.95);
            assert!(close(got, want, 1e-6), "df={df}: {got} vs {want}");
        }
        let huge = ConfidenceInterval::t_quantile(usize::MAX, 0.95);
        assert!(close(huge, 1.959964, 1e-6), "{huge}");
        assert!(close(
            ConfidenceInterval::t_quantile(9, 0.99),
            3.2498355,
            1e-6
        ));
        assert_eq!(ConfidenceInterval::t_quantile(0, 0.95), f64::INFINITY);
    }

    #[test]
    fn hand_computed_interval() {
        let ci = ConfidenceInterval::from_samples(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(ci.n, 5);
        assert_eq!(ci.mean, 3.0);
        assert!(close(ci.std_dev, 1.5811388, 1e-7));
        assert!(close(ci.half_width, 1.9632432, 1e-6), "{}", ci.half_width);
        assert!(close(ci.low, 3.0 - 1.9632432, 1e-6));
        assert!(close(ci.high, 3.0 + 1.9632432, 1e-6));
        assert_eq!(ci.level, 0.95);
        assert!(ci.contains(3.0) && ci.contains(1.04) && !ci.contains(5.0));
        assert!(close(ci.relative_half_width(), 1.9632432 / 3.0, 1e-6));
    }

    #[test]
    fn degenerate_intervals() {
        let none = ConfidenceInterval::from_samples(&[], 0.95);
        assert_eq!(
            (none.n, none.mean, none.half_width),
            (0, 0.0, f64::INFINITY)
        );
        let one = ConfidenceInterval::from_samples(&[7.5], 0.95);
        assert_eq!((one.n, one.mean, one.std_dev), (1, 7.5, 0.0));
        assert_eq!((one.low, one.high), (f64::NEG_INFINITY, f64::INFINITY));
        assert!(one.contains(1e300));
        let flat = ConfidenceInterval::from_samples(&[2.0; 4], 0.95);
        assert_eq!((flat.half_width, flat.low, flat.high), (0.0, 2.0, 2.0));
    }

    #[test]
    #[should_panic(expected = "confidence level")]
    fn rejects_bad_level() {
        ConfidenceInterval::from_samples(&[1.0, 2.0], 95.0);
    }

    #[test]
    fn serde_round_trips_infinite_bounds() {
        for ci in [
            ConfidenceInterval::from_samples(&[1.0, 2.0, 4.0], 0.95),
            ConfidenceInterval::from_samples(&[1.0], 0.95),
        ] {
            let json = serde_json::to_string(&ci).unwrap();
            let back: ConfidenceInterval = serde_json::from_str(&json).unwrap();
            assert_eq!(back, ci, "{json}");
        }
        let json = serde_json::to_string(&ConfidenceInterval::from_samples(&[1.0], 0.9)).unwrap();
        assert!(json.contains(r#""half_width":null"#), "{json}");
    }

    #[test]
    fn coverage_is_nominal() {
        let mut rng = Lcg(2024);
        let (mu, sigma) = (10.0, 3.0);
        let trials = 2_000;
        let hits = (0..trials)
            .filter(|_| {
                let xs: Vec<f64> = (0..10).map(|_| rng.normal(mu, sigma)).collect();
                ConfidenceInterval::from_samples(&xs, 0.95).contains(mu)
            })
            .count();
        let coverage = hits as f64 / trials as f64;
        assert!((0.93..=0.97).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn batch_means_splits_and_drops_leading_remainder() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        let ci = batch_means(&xs, 10);
        assert_eq!(ci.n, 10);
        assert_eq!(ci.mean, 50.5);
        let expect = ConfidenceInterval::from_samples(
            &(0..10).map(|b| 10.0 * b as f64 + 5.5).collect::<Vec<_>>(),
            0.95,
        );
        assert_eq!(ci, expect);
        // 3 leftover samples are dropped from the start: batches are 4..=13, 14..=23, ...
        let ys: Vec<f64> = (1..=103).map(f64::from).collect();
        assert_eq!(batch_means(&ys, 10).mean, 53.5);
        assert_eq!(batch_means(&xs, 0).n, 0);
        assert_eq!(batch_means(&xs[..5], 10).half_width, f64::INFINITY);
    }

    #[test]
    fn batch_means_widen_the_interval_for_correlated_data() {
        // AR(1) with strong positive correlation: the naive interval is far too narrow.
        let mut rng = Lcg(7);
        let mut x = 0.0;
        let xs: Vec<f64> = (0..100_000)
            .map(|_| {
                x = 0.95 * x + rng.normal(0.0, 1.0);
                x
            })
            .collect();
        let naive = ConfidenceInterval::from_samples(&xs, 0.95);
        let batched = batch_means(&xs, 20);
        assert!(batched.half_width > 3.0 * naive.half_width);
        assert!(batched.contains(0.0), "{batched:?}");
    }
}
