//! [`Histogram`]: a mergeable log-linear (HDR-style) histogram of `u64` values, used for
//! latencies in nanoseconds; and [`LatencySummary`], its report form in milliseconds.
//!
//! # Layout
//!
//! With `B = 8` significant bits:
//!
//! * values `0 ..< 2^B` (0–255 ns) each have their own bucket, so they are recorded exactly;
//! * each power-of-two range `[2^e, 2^(e+1))` with `e ≥ B` is split into `2^(B−1) = 128`
//!   equal sub-buckets of width `w = 2^(e−B+1)`.
//!
//! The bucket index is `(shift << (B−1)) + (v >> shift)` with
//! `shift = max(0, msb(v) − (B−1))`: one `leading_zeros`, a saturating subtraction, two shifts
//! and an add. No floats, no loops, no table, so recording costs a few nanoseconds.
//!
//! # Why `B = 8`: error bound
//!
//! A quantile is reported as the midpoint `low + w/2` of the bucket holding its rank. The exact
//! sample with that rank lies in the same bucket, somewhere in `[low, low + w)`, so the
//! absolute error is at most `w/2`. For `v ≥ 2^B` in `[2^e, 2^(e+1))`, `w/2 = 2^(e−B)` and
//! `v ≥ 2^e`, so the relative error is at most `2^−B = 1/256 ≈ 0.39 %`; below `2^B` it is zero.
//! `B = 7` would give 0.78 %, inside the 1 % target but with little margin; `B = 8` keeps the
//! error well under 1 % for a worst case of 7 424 buckets (≈ 58 KiB), and a typical latency
//! histogram (≤ 10 s ≈ 2^33 ns) stops growing at ~3 500 buckets (≈ 28 KiB).
//!
//! # Why integers and lazily grown counts
//!
//! Memory does not depend on the number of samples, and the counts vector only grows up to the
//! highest bucket actually hit. Merging is element-wise addition of exact integers, so merging
//! per-shard or per-replication histograms in any order gives the same histogram as recording
//! all samples into one (and `PartialEq` can check that).

use serde::{Deserialize, Serialize};

use crate::time::SimDuration;

/// Significant bits: values below `2^B` are exact; relative error is at most `2^−B`.
const B: u32 = 8;
/// log2 of the number of linear sub-buckets per power-of-two range.
const SUB_BITS: u32 = B - 1;
/// Values below this are recorded exactly (one bucket per value).
const EXACT_LIMIT: usize = 1 << B;

/// The bucket that holds `v`. Branch-free apart from the saturation.
#[inline(always)]
fn bucket_index(v: u64) -> usize {
    let msb = 63 - (v | 1).leading_zeros();
    let shift = msb.saturating_sub(SUB_BITS);
    ((shift as usize) << SUB_BITS) + (v >> shift) as usize
}

/// The lowest value in bucket `idx` and the bucket's width.
#[inline]
fn bucket_low_width(idx: usize) -> (u64, u64) {
    if idx < EXACT_LIMIT {
        return (idx as u64, 1);
    }
    let shift = (idx >> SUB_BITS) as u32 - 1;
    let sub = idx as u64 - ((shift as u64) << SUB_BITS);
    (sub << shift, 1u64 << shift)
}

/// The value reported for bucket `idx`: its midpoint (its only value below `2^B`).
#[inline]
fn bucket_midpoint(idx: usize) -> u64 {
    let (low, width) = bucket_low_width(idx);
    low + (width >> 1)
}

/// A log-linear histogram of `u64` values (latencies in nanoseconds), HDR-style.
///
/// Quantiles are within 1/256 relative error of the exact sample quantile (exact below 256);
/// count, min, max and the mean are exact. See the [module docs](self) for the layout and the
/// error bound. Recording never allocates except when a value lands in a bucket above every
/// bucket seen before (the counts vector then grows, amortised; it never exceeds
/// [`Histogram::MAX_BUCKETS`]).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "HistogramRepr")]
pub struct Histogram {
    /// Per-bucket counts, up to and including the highest non-empty bucket (empty if no
    /// samples), so equal histograms have equal vectors.
    counts: Vec<u64>,
    /// Number of samples.
    count: u64,
    /// Smallest sample, if any.
    min: Option<u64>,
    /// Largest sample, if any.
    max: Option<u64>,
    /// Exact sum of all samples (a `u128` cannot overflow before `count` does).
    sum: u128,
}

impl Histogram {
    /// The most buckets a histogram can ever use: `2^B` exact buckets plus `64 − B` ranges of
    /// `2^(B−1)` sub-buckets (7 424 for `B = 8`, ≈ 58 KiB of counts).
    pub const MAX_BUCKETS: usize = EXACT_LIMIT + (64 - B as usize) * (1 << SUB_BITS);

    /// An empty histogram. Allocates nothing until the first sample.
    pub const fn new() -> Self {
        Histogram {
            counts: Vec::new(),
            count: 0,
            min: None,
            max: None,
            sum: 0,
        }
    }

    /// Records one sample.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Records `n` samples of value `v` at once (a no-op if `n` is 0).
    #[inline]
    pub fn record_n(&mut self, v: u64, n: u64) {
        if n == 0 {
            return;
        }
        let idx = bucket_index(v);
        if idx >= self.counts.len() {
            self.grow_to(idx);
        }
        self.counts[idx] += n;
        self.count += n;
        self.sum += u128::from(v) * u128::from(n);
        self.min = Some(match self.min {
            Some(m) if m <= v => m,
            _ => v,
        });
        self.max = Some(match self.max {
            Some(m) if m >= v => m,
            _ => v,
        });
    }

    /// The rare slow path of recording: extend the counts up to bucket `idx`.
    #[cold]
    #[inline(never)]
    fn grow_to(&mut self, idx: usize) {
        self.counts.resize(idx + 1, 0);
    }

    /// Records a duration as its number of nanoseconds.
    #[inline]
    pub fn record_duration(&mut self, d: SimDuration) {
        self.record(d.as_nanos());
    }

    /// Adds every sample of `other` into `self`. The result equals (`==`) the histogram of
    /// the concatenated samples, whatever the order of merging.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += *theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Number of samples recorded.
    #[inline]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether no sample has been recorded.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact smallest sample, or `None` if empty.
    #[inline]
    pub fn min(&self) -> Option<u64> {
        self.min
    }

    /// The exact largest sample, or `None` if empty.
    #[inline]
    pub fn max(&self) -> Option<u64> {
        self.max
    }

    /// The exact sum of all samples.
    #[inline]
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// The mean of the samples (exact sum / count, one rounding), or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The `q`-quantile, or `None` if the histogram is empty or `q` is NaN.
    ///
    /// The rank is `max(1, ceil(q·n))` (the nearest-rank definition: the smallest sample with
    /// at least a fraction `q` of samples at or below it); `q` outside `[0, 1]` is clamped.
    /// The answer is the midpoint of the bucket holding that rank, clamped into `[min, max]`
    /// (which can only move it closer to the true sample), so it is within 1/256 relative
    /// error of the exact sample quantile. Ranks 1 and `n` are the exact `min` and `max`
    /// (so `q = 1` returns the exact maximum).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if q.is_nan() {
            return None;
        }
        let (min, max) = (self.min?, self.max?);
        let n = self.count;
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
        if rank == 1 {
            return Some(min);
        }
        if rank == n {
            return Some(max);
        }
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_midpoint(idx).clamp(min, max));
            }
        }
        Some(max)
    }

    /// Forgets every sample but keeps the allocated capacity, so a histogram reused after
    /// warm-up does not allocate again. Equals `Histogram::new()` afterwards.
    pub fn clear(&mut self) {
        self.counts.clear();
        self.count = 0;
        self.min = None;
        self.max = None;
        self.sum = 0;
    }

    /// The report form: count, mean, p50/p90/p99/p99.9 and max in milliseconds (all zeros if
    /// empty, so an idle endpoint shows up as a row of zeros rather than missing).
    pub fn summary_ms(&self) -> LatencySummary {
        const NS_PER_MS: f64 = 1e6;
        let ms = |v: Option<u64>| v.map_or(0.0, |ns| ns as f64 / NS_PER_MS);
        LatencySummary {
            count: self.count,
            mean_ms: self.mean().map_or(0.0, |m| m / NS_PER_MS),
            p50_ms: ms(self.quantile(0.5)),
            p90_ms: ms(self.quantile(0.9)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            max_ms: ms(self.max),
        }
    }
}

/// The report form of a latency [`Histogram`], in milliseconds (the unit people read latency
/// in), built by [`Histogram::summary_ms`]. All fields are zero for an empty histogram.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Exact mean.
    #[serde(rename = "mean")]
    pub mean_ms: f64,
    /// Median.
    #[serde(rename = "p50")]
    pub p50_ms: f64,
    /// 90th percentile.
    #[serde(rename = "p90")]
    pub p90_ms: f64,
    /// 99th percentile.
    #[serde(rename = "p99")]
    pub p99_ms: f64,
    /// 99.9th percentile.
    #[serde(rename = "p999")]
    pub p999_ms: f64,
    /// Exact maximum.
    #[serde(rename = "max")]
    pub max_ms: f64,
}

/// The serialised fields of a [`Histogram`], checked before they become one, so that a
/// corrupted or hand-edited file cannot produce a histogram whose quantiles index out of range
/// or disagree with its count.
#[derive(Deserialize)]
struct HistogramRepr {
    counts: Vec<u64>,
    count: u64,
    min: Option<u64>,
    max: Option<u64>,
    sum: u128,
}

impl TryFrom<HistogramRepr> for Histogram {
    type Error = String;

    fn try_from(r: HistogramRepr) -> Result<Self, String> {
        if r.counts.len() > Histogram::MAX_BUCKETS {
            return Err(format!(
                "histogram has {} buckets; at most {} exist",
                r.counts.len(),
                Histogram::MAX_BUCKETS
            ));
        }
        let total: u128 = r.counts.iter().map(|&c| u128::from(c)).sum();
        if total != u128::from(r.count) {
            return Err(format!(
                "histogram bucket counts add up to {total} but count is {}",
                r.count
            ));
        }
        match (r.min, r.max) {
            (None, None) if r.count == 0 && r.sum == 0 && r.counts.is_empty() => {}
            (Some(min), Some(max))
                // `count > 0` and the total check above make `counts` non-empty; checking
                // `max`'s bucket first keeps `min`'s bucket (≤ it) in range.
                if r.count > 0
                    && min <= max
                    && r.counts.last() != Some(&0)
                    && bucket_index(max) == r.counts.len() - 1
                    && r.counts[bucket_index(min)] > 0
                    && r.counts[..bucket_index(min)].iter().all(|&c| c == 0)
                    && r.sum >= u128::from(min) * u128::from(r.count)
                    && r.sum <= u128::from(max) * u128::from(r.count) => {}
            _ => {
                return Err(
                    "histogram min, max, sum and counts are inconsistent with each other"
                        .to_string(),
                );
            }
        }
        Ok(Histogram {
            counts: r.counts,
            count: r.count,
            min: r.min,
            max: r.max,
            sum: r.sum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math;
    use proptest::prelude::*;

    /// SplitMix64: a tiny deterministic generator so these tests depend on no other module.
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in (0, 1].
        fn unit(&mut self) -> f64 {
            ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
        }
    }

    /// Nearest-rank quantile of sorted samples, the same rank definition as `quantile`.
    fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
        let n = sorted.len() as u64;
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
        sorted[rank as usize - 1]
    }

    fn within_one_percent(est: u64, exact: u64) -> bool {
        u128::from(est.abs_diff(exact)) * 100 <= u128::from(exact)
    }

    /// Within the tighter design bound of 1/256 relative error.
    fn within_design_bound(est: u64, exact: u64) -> bool {
        u128::from(est.abs_diff(exact)) * 256 <= u128::from(exact)
    }

    const QS: [f64; 11] = [
        0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0,
    ];

    fn check_quantiles(samples: &[u64]) {
        let mut h = Histogram::new();
        for &v in samples {
            h.record(v);
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        for q in QS {
            let est = h.quantile(q).unwrap();
            let exact = exact_quantile(&sorted, q);
            assert!(
                within_design_bound(est, exact) && within_one_percent(est, exact),
                "q={q}: estimate {est} vs exact {exact}"
            );
        }
        assert_eq!(h.count(), samples.len() as u64);
        assert_eq!(h.min(), sorted.first().copied());
        assert_eq!(h.max(), sorted.last().copied());
        let sum: u128 = samples.iter().map(|&v| u128::from(v)).sum();
        assert_eq!(h.sum(), sum);
        assert_eq!(h.mean(), Some(sum as f64 / samples.len() as f64));
    }

    #[test]
    fn index_layout() {
        for v in 0..EXACT_LIMIT as u64 {
            assert_eq!(bucket_index(v), v as usize);
        }
        assert_eq!(bucket_index(256), 256);
        assert_eq!(bucket_index(257), 256);
        assert_eq!(bucket_index(258), 257);
        assert_eq!(bucket_index(u64::MAX), Histogram::MAX_BUCKETS - 1);
        assert_eq!(Histogram::MAX_BUCKETS, 7424);
        // Buckets tile the u64 range without gaps or overlaps.
        let mut next = 0u64;
        for idx in 0..Histogram::MAX_BUCKETS {
            let (low, width) = bucket_low_width(idx);
            assert_eq!(low, next, "bucket {idx}");
            assert_eq!(bucket_index(low), idx);
            assert_eq!(bucket_index(low + (width - 1)), idx);
            next = low.wrapping_add(width);
        }
        assert_eq!(next, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn every_bucket_midpoint_within_design_bound() {
        for idx in 0..Histogram::MAX_BUCKETS {
            let (low, width) = bucket_low_width(idx);
            let mid = bucket_midpoint(idx);
            for v in [low, low + (width - 1)] {
                assert!(within_design_bound(mid, v), "bucket {idx}: {mid} vs {v}");
            }
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut rng = Mix(1);
        let samples: Vec<u64> = (0..10_000).map(|_| rng.next() % 256).collect();
        let mut h = Histogram::new();
        samples.iter().for_each(|&v| h.record(v));
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        for i in 0..=1000 {
            let q = i as f64 / 1000.0;
            assert_eq!(h.quantile(q).unwrap(), exact_quantile(&sorted, q), "q={q}");
        }
    }

    #[test]
    fn quantiles_uniform() {
        let mut rng = Mix(2);
        let samples: Vec<u64> = (0..100_000)
            .map(|_| 1_000_000 + rng.next() % 9_000_000)
            .collect();
        check_quantiles(&samples);
    }

    #[test]
    fn quantiles_exponential() {
        let mut rng = Mix(3);
        let mean_ns = 20_000_000.0; // 20 ms
        let samples: Vec<u64> = (0..100_000)
            .map(|_| (-math::ln(rng.unit()) * mean_ns) as u64)
            .collect();
        check_quantiles(&samples);
    }

    #[test]
    fn quantiles_wide_range() {
        // Log-uniform over 1 ns .. 1e12 ns (≈ 17 minutes).
        let mut rng = Mix(4);
        let samples: Vec<u64> = (0..100_000)
            .map(|_| (math::pow(1e12f64, rng.unit())) as u64)
            .collect();
        check_quantiles(&samples);
        // And a few tiny sets, where ranks land on single samples.
        for n in 1..40 {
            let small: Vec<u64> = (0..n)
                .map(|_| (math::pow(1e12f64, rng.unit())) as u64)
                .collect();
            check_quantiles(&small);
        }
    }

    #[test]
    fn extreme_values() {
        check_quantiles(&[0, u64::MAX]);
        check_quantiles(&[u64::MAX; 3]);
        check_quantiles(&[0; 5]);
        check_quantiles(&[u64::MAX - 1, u64::MAX / 2, 1 << 63, 255, 256, 257]);
    }

    #[test]
    fn quantile_is_monotone_and_clamped() {
        let mut rng = Mix(5);
        let mut h = Histogram::new();
        for _ in 0..5_000 {
            h.record(rng.next() % 1_000_000_000);
        }
        let mut prev = 0;
        for i in 0..=10_000 {
            let v = h.quantile(i as f64 / 10_000.0).unwrap();
            assert!(v >= prev);
            assert!(h.min().unwrap() <= v && v <= h.max().unwrap());
            prev = v;
        }
        assert_eq!(h.quantile(-3.0), h.min());
        assert_eq!(h.quantile(7.0), h.max());
        assert_eq!(h.quantile(1.0), h.max());
        assert_eq!(h.quantile(f64::NAN), None);
    }

    #[test]
    fn empty_histogram() {
        let h = Histogram::new();
        assert!(h.is_empty());
        assert_eq!(h, Histogram::default());
        assert_eq!(h.count(), 0);
        assert_eq!(
            (h.min(), h.max(), h.mean(), h.quantile(0.5)),
            (None, None, None, None)
        );
        assert_eq!(h.summary_ms(), LatencySummary::default());
    }

    #[test]
    fn record_n_and_duration() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record_n(1234, 3);
        a.record_n(99, 0);
        for _ in 0..3 {
            b.record_duration(SimDuration::from_nanos(1234));
        }
        assert_eq!(a, b);
        assert_eq!(a.min(), Some(1234));
    }

    #[test]
    fn merge_equals_concatenation() {
        let mut rng = Mix(6);
        let xs: Vec<u64> = (0..5_000).map(|_| rng.next() % 1_000_000).collect();
        let ys: Vec<u64> = (0..7_000)
            .map(|_| rng.next() >> (rng.next() % 64))
            .collect();
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        xs.iter().for_each(|&v| a.record(v));
        ys.iter().for_each(|&v| b.record(v));
        xs.iter().chain(&ys).for_each(|&v| all.record(v));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, all);
        assert_eq!(ba, all);
        let mut e = Histogram::new();
        e.merge(&Histogram::new());
        assert_eq!(e, Histogram::new());
        e.merge(&a);
        assert_eq!(e, a);
        a.merge(&Histogram::new());
        assert_eq!(e, a);
    }

    #[test]
    fn clear_resets_to_new_and_keeps_capacity() {
        let mut h = Histogram::new();
        h.record(1 << 40);
        let cap = h.counts.capacity();
        h.clear();
        assert_eq!(h, Histogram::new());
        assert_eq!(h.counts.capacity(), cap);
        h.record(7);
        assert_eq!(h.quantile(0.5), Some(7));
    }

    #[test]
    fn memory_is_bounded() {
        let mut rng = Mix(7);
        let mut h = Histogram::new();
        for _ in 0..1_000_000 {
            // Every exponent 0..=63 is hit.
            h.record(rng.next() >> (rng.next() % 64));
        }
        assert!(h.counts.len() <= Histogram::MAX_BUCKETS);
        assert_eq!(h.count(), 1_000_000);
        // Lazy growth: a histogram of small latencies stays small.
        let mut small = Histogram::new();
        for v in 0..100_000 {
            small.record(v);
        }
        assert_eq!(small.counts.len(), bucket_index(99_999) + 1);
        assert!(small.counts.len() < 1_400);
    }

    #[test]
    fn summary_in_milliseconds() {
        let mut h = Histogram::new();
        for ms in 1..=1000u64 {
            h.record(ms * 1_000_000);
        }
        let s = h.summary_ms();
        assert_eq!(s.count, 1000);
        assert_eq!(s.mean_ms, 500.5);
        assert_eq!(s.max_ms, 1000.0);
        for (got, want) in [
            (s.p50_ms, 500.0),
            (s.p90_ms, 900.0),
            (s.p99_ms, 990.0),
            (s.p999_ms, 999.0),
        ] {
            assert!((got - want).abs() <= want / 256.0, "{got} vs {want}");
        }
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let mut h = Histogram::new();
        for v in [3, 300, 30_000, u64::MAX] {
            h.record(v);
        }
        let json = serde_json::to_string(&h).unwrap();
        let back: Histogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let empty: Histogram =
            serde_json::from_str(&serde_json::to_string(&Histogram::new()).unwrap()).unwrap();
        assert_eq!(empty, Histogram::new());
        let bad = [
            r#"{"counts":[1],"count":2,"min":0,"max":0,"sum":0}"#,
            r#"{"counts":[1,0],"count":1,"min":0,"max":0,"sum":0}"#,
            r#"{"counts":[0,1],"count":1,"min":0,"max":1,"sum":1}"#,
            r#"{"counts":[],"count":0,"min":null,"max":null,"sum":5}"#,
            r#"{"counts":[0,1],"count":1,"min":1,"max":1,"sum":9}"#,
        ];
        for b in bad {
            assert!(serde_json::from_str::<Histogram>(b).is_err(), "{b}");
        }
        let too_long = format!(
            r#"{{"counts":[{}1],"count":1,"min":0,"max":0,"sum":0}}"#,
            "0,".repeat(Histogram::MAX_BUCKETS)
        );
        assert!(serde_json::from_str::<Histogram>(&too_long).is_err());
    }

    proptest! {
        #[test]
        fn prop_quantiles_within_one_percent(
            samples in prop::collection::vec(0u64..1_000_000_000_000, 1..400)
        ) {
            let mut h = Histogram::new();
            samples.iter().for_each(|&v| h.record(v));
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                let est = h.quantile(q).unwrap();
                let exact = exact_quantile(&sorted, q);
                prop_assert!(within_one_percent(est, exact), "q={} est={} exact={}", q, est, exact);
            }
            prop_assert_eq!(h.quantile(1.0), sorted.last().copied());
        }

        #[test]
        fn prop_merge_equals_concatenation(
            xs in prop::collection::vec(0u64..1_000_000_000_000, 0..200),
            ys in prop::collection::vec(any::<u64>(), 0..200),
        ) {
            let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
            xs.iter().for_each(|&v| a.record(v));
            ys.iter().for_each(|&v| b.record(v));
            xs.iter().chain(&ys).for_each(|&v| all.record(v));
            let mut ab = a.clone();
            ab.merge(&b);
            prop_assert_eq!(&ab, &all);
            b.merge(&a);
            prop_assert_eq!(&b, &all);
        }
    }
}
