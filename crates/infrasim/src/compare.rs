//! Comparing designs: several scenarios run with the same options, and each one's difference
//! from the first (the baseline), with a 95 % confidence interval from paired replications.
//!
//! With common random numbers (the default) replication *r* of every scenario uses the same
//! seed, and since every random stream is keyed by what it belongs to — the arrivals, each
//! request's work, each component, each fault — the same requests arrive at the same times
//! and ask the same work of every design. The paired differences then vary much less than
//! either design's values, and the interval of the difference is much tighter than the two
//! intervals side by side suggest. [`Seeds::Independent`] runs each scenario with its own
//! seeds, to measure what common random numbers buy.

use std::collections::BTreeMap;

use infrasim_engine::rng::splitmix64;
use infrasim_engine::stats::ConfidenceInterval;

use crate::error::Error;
use crate::report::Report;
use crate::run::{RunOptions, run_many};
use crate::scenario::Scenario;

/// How the compared scenarios' seeds relate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Seeds {
    /// Every scenario runs with the same master seed (the options', or the first
    /// scenario's): common random numbers.
    #[default]
    Common,
    /// Scenario *i* runs with its own master seed, derived from the common one and *i*.
    Independent,
}

/// The scenarios' reports and each one's difference from the first.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One report per scenario, in input order.
    pub reports: Vec<Report>,
    /// For each scenario, `its value − the baseline's` of each key metric (keys of
    /// [`Report::confidence`]), as a 95 % interval over the paired replications; empty for
    /// the baseline, and for a metric either report lacks.
    pub differences: Vec<BTreeMap<String, ConfidenceInterval>>,
}

/// Runs every scenario with `opts` and compares each with the first.
pub fn compare(
    scenarios: &[Scenario],
    opts: &RunOptions,
    seeds: Seeds,
) -> Result<Comparison, Error> {
    let Some(first) = scenarios.first() else {
        return Ok(Comparison {
            reports: Vec::new(),
            differences: Vec::new(),
        });
    };
    let common = opts.seed.unwrap_or(first.seed);
    let reports = match seeds {
        Seeds::Common => run_many(
            scenarios,
            &RunOptions {
                seed: Some(common),
                ..opts.clone()
            },
        )?,
        Seeds::Independent => {
            let own: Vec<Scenario> = scenarios
                .iter()
                .enumerate()
                .map(|(i, s)| Scenario {
                    seed: independent_seed(common, i),
                    ..s.clone()
                })
                .collect();
            run_many(
                &own,
                &RunOptions {
                    seed: None,
                    ..opts.clone()
                },
            )?
        }
    };
    let differences = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i == 0 {
                BTreeMap::new()
            } else {
                paired_differences(&reports[0], r)
            }
        })
        .collect();
    Ok(Comparison {
        reports,
        differences,
    })
}

/// The master seed of scenario `i` when seeds are independent (the common seed itself for
/// the baseline).
pub fn independent_seed(common: u64, i: usize) -> u64 {
    if i == 0 {
        common
    } else {
        splitmix64(common ^ splitmix64(0x636f_6d70_6172_6500 | i as u64))
    }
}

/// `other − base` of each metric both measured in the same number of replications (≥ 2).
fn paired_differences(base: &Report, other: &Report) -> BTreeMap<String, ConfidenceInterval> {
    other
        .replicates
        .iter()
        .filter_map(|(key, xs)| {
            let bs = base.replicates.get(key)?;
            (bs.len() == xs.len() && xs.len() > 1).then(|| {
                let d: Vec<f64> = xs.iter().zip(bs).map(|(x, b)| x - b).collect();
                (key.clone(), ConfidenceInterval::from_samples(&d, 0.95))
            })
        })
        .collect()
}
