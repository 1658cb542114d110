//! Statistics: what a run measures and how replications are summarised.
//!
//! Everything that accumulates *during* a run is integer-exact ([`Counter`], the `u128` area of
//! a [`TimeWeighted`] gauge, the bucket counts and `u128` sum of a [`Histogram`]), so two runs
//! with the same seed produce byte-identical reports on every machine, and per-shard results
//! can be merged in any order with the same answer. Floats appear only when a result is read
//! out (a mean, a quantile in milliseconds) and in the across-replication summaries
//! ([`OnlineStats`], [`ConfidenceInterval`]), which work on already-reported numbers.
//!
//! * [`counter`]: [`Counter`], a plain event count.
//! * [`gauge`]: [`TimeWeighted`], the time-average of a level (queue length, busy workers).
//! * [`histogram`]: [`Histogram`], a mergeable log-linear latency histogram, and
//!   [`LatencySummary`], its report form in milliseconds.
//! * [`summary`]: [`OnlineStats`], [`ConfidenceInterval`] and [`batch_means`] for statistics
//!   over replications (or batches of one long run).

pub mod counter;
pub mod gauge;
pub mod histogram;
pub mod summary;

pub use counter::Counter;
pub use gauge::TimeWeighted;
pub use histogram::{Histogram, LatencySummary};
pub use summary::{ConfidenceInterval, OnlineStats, batch_means};
