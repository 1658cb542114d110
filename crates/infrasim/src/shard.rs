//! Replications and sweeps split across processes or machines, merged exactly.
//!
//! A run of `R` replications of `S` scenarios is `S × R` jobs, numbered scenario by
//! scenario, replication by replication; shard `K` of `N` runs the jobs `j` with
//! `j mod N = K` ([`Shard::owns`]) and writes a [`Partial`]: the scenarios as run, the
//! shard, and what each of its replications contributed to the report
//! ([`crate::report::Replication`]: counts, mergeable histograms, each replication's value
//! of every confidence-interval metric, and the first replication's faults, outages and time
//! series). [`merge`] checks that the parts belong together and make a whole, puts the
//! replications back in order and assembles the reports: the same reports, bit for bit, as
//! one process running every job (a report is assembled from replications in replication
//! order, whichever process ran them).
//!
//! The scheduler is someone else's: a Kubernetes Indexed Job or a Slurm job array runs the
//! shards (see `docs/distributed.md`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::report::{Report, assemble};
use crate::run::{ReplicationResult, RunOptions, run_share};
use crate::scenario::Scenario;

/// The format tag of a partial result; parts of another format are refused.
pub const FORMAT: &str = "infrasim-partial/1";

/// Shard `index` of `count` (`0 ≤ index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u32,
    /// How many shards in all.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`, or an error when `count` is 0 or `index ≥ count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, Error> {
        if count == 0 || index >= count {
            return Err(Error::InvalidArgument(format!(
                "shard {index}/{count}: expected K/N with N ≥ 1 and 0 ≤ K < N"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether job `j` (see the module's documentation) is this shard's.
    pub fn owns(&self, j: usize) -> bool {
        j % self.count as usize == self.index as usize
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;
    /// `K/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Shard, Error> {
        let bad = || Error::InvalidArgument(format!("shard {s:?}: expected K/N, e.g. 0/4"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

/// What the parts of a run are: their command and its inputs, which every part of a whole
/// must share. The command-line tool records its inputs here (the file names, shown in
/// the merged output); the library's own parts record what their caller gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Origin {
    /// `infrasim run FILE`.
    Run {
        /// The scenario file, as given.
        file: String,
    },
    /// `infrasim sweep GRID`.
    Sweep {
        /// The grid file, as given.
        file: String,
        /// The grid.
        grid: crate::sweep::Grid,
    },
}

/// One shard's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    /// [`FORMAT`].
    pub format: String,
    /// The infrasim version that wrote it.
    pub version: String,
    /// What was run.
    pub origin: Origin,
    /// The scenarios as run (seed, replications and duration applied).
    pub scenarios: Vec<Scenario>,
    /// This part's shard.
    pub shard: Shard,
    /// Its replications, in job order.
    pub results: Vec<ReplicationResult>,
}

/// Runs `shard`'s share of the replications of `scenarios` with `opts`.
pub fn run_shard(
    origin: Origin,
    scenarios: &[Scenario],
    opts: &RunOptions,
    shard: Shard,
) -> Result<Partial, Error> {
    let (scenarios, results) = run_share(scenarios, opts, Some(shard))?;
    Ok(Partial {
        format: FORMAT.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        origin,
        scenarios,
        shard,
        results,
    })
}

/// Merges the parts of one run (every shard once, in any order) into the reports of its
/// scenarios, in their order: byte for byte the reports of the run in one process. Refuses
/// parts of different formats, versions, commands, scenarios, seeds, replications, grids
/// or shard counts, a shard given twice and a shard missing.
pub fn merge(parts: &[Partial]) -> Result<(Origin, Vec<Report>), Error> {
    let Some(first) = parts.first() else {
        return Err(Error::Merge("no parts given".into()));
    };
    let who = |p: &Partial| format!("the part of shard {}", p.shard);
    for p in parts {
        if p.format != FORMAT {
            return Err(Error::Merge(format!(
                "{} has format {:?}; this infrasim reads {FORMAT:?}",
                who(p),
                p.format
            )));
        }
        if p.version != first.version {
            return Err(Error::Merge(format!(
                "{} was written by infrasim {}, {} by infrasim {}: results of different \
                 versions may differ",
                who(p),
                p.version,
                who(first),
                first.version
            )));
        }
        check_same(first, p, &who)?;
    }
    let n = first.shard.count;
    for k in 0..n {
        let found = parts.iter().filter(|p| p.shard.index == k).count();
        if found == 0 {
            return Err(Error::Merge(format!(
                "shard {k}/{n} is missing ({} of {n} parts given)",
                parts.len()
            )));
        }
        if found > 1 {
            return Err(Error::Merge(format!(
                "shard {k}/{n} is given {found} times"
            )));
        }
    }
    let mut results: Vec<&ReplicationResult> = parts.iter().flat_map(|p| &p.results).collect();
    results.sort_by_key(|r| (r.scenario, r.replication));
    let mut reports = Vec::with_capacity(first.scenarios.len());
    for (i, s) in first.scenarios.iter().enumerate() {
        let mine: Vec<_> = results
            .iter()
            .filter(|r| r.scenario == i)
            .map(|r| r.result.clone())
            .collect();
        let complete = mine.len() == s.replications as usize
            && results
                .iter()
                .filter(|r| r.scenario == i)
                .enumerate()
                .all(|(k, r)| r.replication as usize == k);
        if !complete || mine.first().is_none_or(|r| r.details.is_none()) {
            return Err(Error::Merge(format!(
                "the parts hold {} replication(s) of scenario {:?}, not replications 0 to {} \
                 once each (parts of a damaged or edited run?)",
                mine.len(),
                s.name,
                s.replications.saturating_sub(1)
            )));
        }
        reports.push(assemble(s, &mine));
    }
    Ok((first.origin.clone(), reports))
}

/// Whether part `p` belongs with part `a`: the same command, grid, scenarios (and so
/// seeds, replications and durations) and shard count.
fn check_same(a: &Partial, p: &Partial, who: &dyn Fn(&Partial) -> String) -> Result<(), Error> {
    let mismatch = |what: String| {
        Err(Error::Merge(format!(
            "{what}: they are not parts of one run"
        )))
    };
    match (&a.origin, &p.origin) {
        (Origin::Run { .. }, Origin::Sweep { .. }) | (Origin::Sweep { .. }, Origin::Run { .. }) => {
            return mismatch(format!(
                "{} is of a run and {} of a sweep (or the other way round)",
                who(a),
                who(p)
            ));
        }
        (Origin::Sweep { grid: ga, .. }, Origin::Sweep { grid: gp, .. }) if ga != gp => {
            return mismatch(format!("{} and {} have different grids", who(a), who(p)));
        }
        _ => {}
    }
    if a.shard.count != p.shard.count {
        return mismatch(format!(
            "{} is one of {} shards, {} one of {}",
            who(a),
            a.shard.count,
            who(p),
            p.shard.count
        ));
    }
    if a.scenarios.len() != p.scenarios.len() {
        return mismatch(format!(
            "{} ran {} scenario(s), {} {}",
            who(a),
            a.scenarios.len(),
            who(p),
            p.scenarios.len()
        ));
    }
    for (sa, sp) in a.scenarios.iter().zip(&p.scenarios) {
        if sa.name != sp.name {
            return mismatch(format!(
                "{} ran scenario {:?}, {} scenario {:?}",
                who(a),
                sa.name,
                who(p),
                sp.name
            ));
        }
        if sa.seed != sp.seed {
            return mismatch(format!(
                "{} ran {:?} with seed {}, {} with seed {}",
                who(a),
                sa.name,
                sa.seed,
                who(p),
                sp.seed
            ));
        }
        if sa.replications != sp.replications {
            return mismatch(format!(
                "{} ran {} replications of {:?}, {} {}",
                who(a),
                sa.replications,
                sa.name,
                who(p),
                sp.replications
            ));
        }
        if sa != sp {
            return mismatch(format!(
                "{} and {} ran different versions of scenario {:?} (same name and seed, \
                 different settings)",
                who(a),
                who(p),
                sa.name
            ));
        }
    }
    Ok(())
}
