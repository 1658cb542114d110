//! Remedies ranked by what they measurably buy: candidate designs run against the audited
//! one with common random numbers (the same requests, the same faults at the same times),
//! each with the single points of failure it removes, keeps or adds on the graph.

use serde::{Deserialize, Serialize};

use infrasim_engine::stats::ConfidenceInterval;

use crate::compare::{Seeds, compare};
use crate::error::Error;
use crate::run::RunOptions;
use crate::scenario::Scenario;

use super::topology::{Exposure, exposures};

/// One candidate design against the audited one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    /// The candidate's scenario name.
    pub scenario: String,
    /// Its availability (requests), under its own faults.
    pub availability: f64,
    /// Its availability minus the audited design's (pooled over the replications).
    pub availability_gain: f64,
    /// The gain's 95 % interval from the paired replications (with two or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_gain_ci: Option<ConfidenceInterval>,
    /// Its p99 latency minus the audited design's, ms.
    pub p99_change_ms: f64,
    /// Its lost writes minus the audited design's.
    pub lost_writes_change: i64,
    /// Single points of failure of the audited design it no longer has, by name
    /// (`element (class, …)`; a component renamed in the candidate counts as removed).
    pub spofs_removed: Vec<String>,
    /// Those it still has.
    pub spofs_kept: Vec<String>,
    /// Those it has that the audited design had not.
    pub spofs_added: Vec<String>,
}

/// The single points of failure, as (element, class).
pub(super) fn spof_pairs<'a>(e: impl IntoIterator<Item = &'a Exposure>) -> Vec<(String, String)> {
    e.into_iter()
        .filter(|x| x.is_spof())
        .map(|x| (x.element.clone(), x.class.clone()))
        .collect()
}

/// `element (class, class …)`, one entry per element, in order of first appearance.
pub(super) fn grouped(pairs: &[&(String, String)]) -> Vec<String> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for (element, class) in pairs.iter().copied() {
        match out.iter_mut().find(|(e, _)| e == element) {
            Some((_, classes)) => classes.push(class),
            None => out.push((element.clone(), vec![class])),
        }
    }
    out.into_iter()
        .map(|(e, c)| format!("{e} ({})", c.join(", ")))
        .collect()
}

/// The pairs of `a` that are (`keep`) or are not in `b`, grouped by element.
fn diff(a: &[(String, String)], b: &[(String, String)], keep: bool) -> Vec<String> {
    let picked: Vec<&(String, String)> = a.iter().filter(|x| b.contains(x) == keep).collect();
    grouped(&picked)
}

/// Runs `base` and every candidate with `opts` and common random numbers, and ranks the
/// candidates by availability gain (largest first; ties keep the given order).
pub fn remedies(
    base: &Scenario,
    candidates: &[Scenario],
    opts: &RunOptions,
) -> Result<Vec<Remedy>, Error> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let base_spofs = spof_pairs(&exposures(base)?);
    let mut all = vec![base.clone()];
    all.extend(candidates.iter().cloned());
    let cmp = compare(&all, opts, Seeds::Common)?;
    let b = &cmp.reports[0];
    let mut out = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter().enumerate() {
        let r = &cmp.reports[i + 1];
        let spofs = spof_pairs(&exposures(c)?);
        let lost = |r: &crate::Report| r.database.as_ref().map_or(0, |d| d.lost_writes as i64);
        out.push(Remedy {
            scenario: c.name.clone(),
            availability: r.availability,
            availability_gain: r.availability - b.availability,
            availability_gain_ci: cmp.differences[i + 1].get("availability").cloned(),
            p99_change_ms: r.latency_ms.p99_ms - b.latency_ms.p99_ms,
            lost_writes_change: lost(r) - lost(b),
            spofs_removed: diff(&base_spofs, &spofs, false),
            spofs_kept: diff(&base_spofs, &spofs, true),
            spofs_added: diff(&spofs, &base_spofs, false),
        });
    }
    // A stable sort: equal gains keep the order the user gave.
    out.sort_by(|x, y| y.availability_gain.total_cmp(&x.availability_gain));
    Ok(out)
}
