//! Running scenarios: the library's entry points. [`run`] runs a scenario as written;
//! [`run_with`] takes [`RunOptions`] (seed, replications, duration, threads, a progress
//! counter, observers); [`run_many`] runs several scenarios with the same options — common
//! random numbers, since each component's random stream depends only on the seed and its
//! name (what `infrasim compare` does).
//!
//! Every replication of every scenario runs in one parallel pool; results are collected in
//! input order, so a report is identical at any thread count.

mod progress;
mod replication;

use std::fmt;
use std::sync::Arc;

use infrasim_engine::SimDuration;
use rayon::prelude::*;

pub use progress::Progress;
pub use replication::replication_seed;

use crate::error::Error;
use crate::model::observer::Observer;
use crate::report::{Replication, Report, assemble, summarize};
use crate::scenario::{Scenario, Validated, validate};
use crate::shard::Shard;
use replication::run_replication;

/// Which replication of which scenario an observer is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId {
    /// The scenario's position in the list given to [`run_many`] (0 for [`run_with`]).
    pub scenario: usize,
    /// The replication, from 0 (replication 0 runs with the master seed itself).
    pub replication: u32,
    /// The replication's seed.
    pub seed: u64,
}

/// Makes the observer of one replication, or none for a replication not to observe. Each
/// replication gets its own observer, so replications run in parallel and each observer
/// sees one replication's events in order.
pub type ObserverFactory = Arc<dyn Fn(RunId) -> Option<Box<dyn Observer + Send>> + Send + Sync>;

/// Options of a run. Every field defaults to the scenario's own setting (seed,
/// replications, duration), to every core, and to no progress counter and no observer.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Master seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Replications (default: the scenario's).
    pub replications: Option<u32>,
    /// Measured duration (default: the scenario's). Faults planned after the end of a
    /// shortened run are left out (they would never fire).
    pub duration: Option<SimDuration>,
    /// Worker threads for replications (default: every core). Results do not depend on it.
    pub threads: Option<usize>,
    /// A counter of simulated time done, for a progress bar on another thread.
    pub progress: Option<Arc<Progress>>,
    /// Observers of replications (see [`RunOptions::observe`]).
    pub observer: Option<ObserverFactory>,
}

impl RunOptions {
    /// Observes the replications for which `make` returns an observer: it receives every
    /// finished request and every component state change of its replication.
    pub fn observe(
        mut self,
        make: impl Fn(RunId) -> Option<Box<dyn Observer + Send>> + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(make));
        self
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("seed", &self.seed)
            .field("replications", &self.replications)
            .field("duration", &self.duration)
            .field("threads", &self.threads)
            .field("progress", &self.progress)
            .field("observer", &self.observer.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Runs a scenario as written: its seed, its replications.
pub fn run(s: &Scenario) -> Result<Report, Error> {
    run_with(s, &RunOptions::default())
}

/// Runs a scenario with options. Replications run in parallel; the report is identical at
/// any thread count.
pub fn run_with(s: &Scenario, opts: &RunOptions) -> Result<Report, Error> {
    let mut reports = run_many(std::slice::from_ref(s), opts)?;
    Ok(reports.pop().expect("one scenario, one report"))
}

/// Runs every scenario with the same options (seed, replications, duration): common random
/// numbers across scenarios, since each component's stream depends only on the seed and its
/// name. Returns the reports in input order.
pub fn run_many(scenarios: &[Scenario], opts: &RunOptions) -> Result<Vec<Report>, Error> {
    let (prepared, mut runs) = run_share(scenarios, opts, None)?;
    let mut reports = Vec::with_capacity(prepared.len());
    for s in prepared.iter().rev() {
        let mine: Vec<Replication> = runs
            .split_off(runs.len() - s.replications as usize)
            .into_iter()
            .map(|r| r.result)
            .collect();
        reports.push(assemble(s, &mine));
    }
    reports.reverse();
    Ok(reports)
}

/// What one replication of one scenario contributed: the unit a shard runs and a merge
/// puts back in order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationResult {
    /// The scenario's position in the list run.
    pub scenario: usize,
    /// The replication.
    pub replication: u32,
    /// What it contributed to the report.
    pub result: Replication,
}

/// Runs the replications of `shard`'s share (all of them with `None`) of every scenario
/// with the same options. Returns the scenarios as run (the options applied) and the
/// results in job order (scenario by scenario, replication by replication). Job `j` of
/// that order belongs to shard `j mod count`.
pub fn run_share(
    scenarios: &[Scenario],
    opts: &RunOptions,
    shard: Option<Shard>,
) -> Result<(Vec<Scenario>, Vec<ReplicationResult>), Error> {
    let prepared = scenarios
        .iter()
        .map(|s| with_options(s, opts))
        .collect::<Result<Vec<_>, Error>>()?;
    let validated = prepared
        .iter()
        .map(validate)
        .collect::<Result<Vec<_>, Error>>()?;
    let jobs: Vec<RunId> = prepared
        .iter()
        .enumerate()
        .flat_map(|(scenario, s)| {
            (0..s.replications).map(move |replication| RunId {
                scenario,
                replication,
                seed: replication_seed(s.seed, replication),
            })
        })
        .enumerate()
        .filter(|(j, _)| shard.is_none_or(|sh| sh.owns(*j)))
        .map(|(_, id)| id)
        .collect();
    if let Some(p) = &opts.progress {
        for id in &jobs {
            let s = &prepared[id.scenario];
            p.add_total(s.warmup.saturating_add(s.duration).as_nanos());
        }
    }
    let runs = in_pool(opts.threads, || {
        jobs.par_iter()
            .map(|&id| ReplicationResult {
                scenario: id.scenario,
                replication: id.replication,
                result: replicate(&prepared[id.scenario], &validated[id.scenario], id, opts),
            })
            .collect::<Vec<_>>()
    })?;
    Ok((prepared, runs))
}

/// One replication, with its observer if the options ask for one, reduced to what its
/// report needs as soon as it ends.
fn replicate(s: &Scenario, v: &Validated<'_>, id: RunId, opts: &RunOptions) -> Replication {
    let observer = opts.observer.as_ref().and_then(|make| make(id));
    let data = run_replication(v, id.seed, observer, opts.progress.as_deref());
    summarize(s, &data, id.replication == 0)
}

/// A copy of the scenario with the options' overrides applied.
fn with_options(s: &Scenario, opts: &RunOptions) -> Result<Scenario, Error> {
    let mut s = s.clone();
    if let Some(d) = opts.duration {
        s.duration = d;
        // A shorter run simply ends before the faults planned after its end.
        let horizon = s.warmup.saturating_add(d);
        s.faults
            .retain(|f| f.starts_at().is_none_or(|at| at < horizon));
    }
    if let Some(seed) = opts.seed {
        s.seed = seed;
    }
    if let Some(n) = opts.replications {
        s.replications = n;
    }
    if s.replications == 0 {
        return Err(Error::InvalidArgument(
            "replications must be at least 1".into(),
        ));
    }
    Ok(s)
}

/// Runs `work` on a pool of `threads` workers, or on rayon's global pool (every core).
fn in_pool<T: Send>(threads: Option<usize>, work: impl FnOnce() -> T + Send) -> Result<T, Error> {
    match threads {
        Some(t) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("cannot start {t} threads: {e}")))?
            .install(work)),
        None => Ok(work()),
    }
}
