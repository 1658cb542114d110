//! How a distribution is written in a scenario file.

use infrasim_engine::SimDuration;
use infrasim_engine::dist::{Dist, DistError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A duration distribution as written in a file, e.g. `{"exponential": {"mean": "20ms"}}`,
/// `{"constant": "5ms"}`, `{"lognormal": {"mean": "20ms", "cv": 1.5}}`. Built into the
/// engine's validated [`Dist`] by [`DistSpec::build`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DistSpec {
    /// Always the same value.
    Constant(SimDuration),
    /// Exponential with this mean (memoryless: Poisson arrivals, M/M/c service).
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// Uniform between `low` and `high`.
    Uniform {
        /// Lower bound.
        low: SimDuration,
        /// Upper bound.
        high: SimDuration,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean before truncation.
        mean: SimDuration,
        /// Standard deviation.
        sd: SimDuration,
    },
    /// Lognormal from its mean and coefficient of variation.
    Lognormal {
        /// Mean.
        mean: SimDuration,
        /// Coefficient of variation (standard deviation / mean).
        cv: f64,
    },
    /// Weibull (shape > 1: wear-out; < 1: infant mortality).
    Weibull {
        /// Shape k.
        shape: f64,
        /// Scale λ.
        scale: SimDuration,
    },
    /// Pareto (heavy tail) with minimum `scale`.
    Pareto {
        /// Shape α.
        shape: f64,
        /// Minimum value x_m.
        scale: SimDuration,
    },
    /// Erlang-k: the sum of k exponential phases, with this mean.
    Erlang {
        /// Phases.
        k: u32,
        /// Mean.
        mean: SimDuration,
    },
    /// Gamma with real shape and this mean.
    Gamma {
        /// Shape.
        shape: f64,
        /// Mean.
        mean: SimDuration,
    },
    /// One of these measured samples, uniformly.
    Empirical {
        /// The samples.
        samples: Vec<SimDuration>,
    },
    /// A measured histogram: a bin chosen by weight, then uniform inside it.
    Histogram {
        /// The bins.
        bins: Vec<HistogramBin>,
    },
}

/// One bin of a [`DistSpec::Histogram`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistogramBin {
    /// Lower edge.
    pub low: SimDuration,
    /// Upper edge.
    pub high: SimDuration,
    /// Relative weight.
    pub weight: f64,
}

impl DistSpec {
    /// Shorthand for an exponential with this mean.
    pub fn exponential(mean: SimDuration) -> Self {
        DistSpec::Exponential { mean }
    }

    /// The validated distribution.
    pub fn build(&self) -> Result<Dist, DistError> {
        match self {
            DistSpec::Constant(d) => Ok(Dist::constant(*d)),
            DistSpec::Exponential { mean } => Dist::exponential(*mean),
            DistSpec::Uniform { low, high } => Dist::uniform(*low, *high),
            DistSpec::Normal { mean, sd } => Dist::normal(*mean, *sd),
            DistSpec::Lognormal { mean, cv } => Dist::lognormal(*mean, *cv),
            DistSpec::Weibull { shape, scale } => Dist::weibull(*shape, *scale),
            DistSpec::Pareto { shape, scale } => Dist::pareto(*shape, *scale),
            DistSpec::Erlang { k, mean } => Dist::erlang(*k, *mean),
            DistSpec::Gamma { shape, mean } => Dist::gamma(*shape, *mean),
            DistSpec::Empirical { samples } => Dist::empirical(samples.clone()),
            DistSpec::Histogram { bins } => {
                Dist::empirical_histogram(bins.iter().map(|b| (b.low, b.high, b.weight)).collect())
            }
        }
    }

    /// The distribution of a spec that validation accepted (every distribution of a
    /// [`super::Validated`] scenario builds: validation built each one to check it).
    pub(crate) fn validated(&self) -> Dist {
        self.build()
            .expect("validation accepted this distribution, so it builds")
    }
}
