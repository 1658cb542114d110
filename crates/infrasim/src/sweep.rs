//! Parameter sweeps: a base scenario run once per parameter value, every replication of
//! every point in one parallel pool ([`run_many`]), with common random numbers across
//! points; results in input order — identical at any thread count. [`Grid`] and
//! [`run_grid`] are the same sweep over JSON paths into a scenario file, what
//! `infrasim sweep GRID.json` runs.
//!
//! ```
//! use infrasim::scenario::{AppServer, Clients, LoadBalancer, Rate, Scenario};
//! use infrasim::engine::SimDuration;
//! use infrasim::sweep::{grid, sweep};
//!
//! let base = Scenario::new("sweep", SimDuration::from_secs(30), Clients::poisson("lb", Rate::per_second(200.0)).mix(0.0, 0.0, 1.0))
//!     .with_load_balancer(LoadBalancer::new("lb", ["a", "b"]))
//!     .with_app_server(AppServer::new("a"))
//!     .with_app_server(AppServer::new("b"));
//! let points = grid(&[1u32, 2], &[2u32, 3]); // (workers, fall)
//! let rows = sweep(&base, &points, |s, &(workers, fall)| {
//!     for a in &mut s.app_servers { a.workers = workers; }
//!     s.load_balancers[0].check.fall = fall;
//! }, &infrasim::RunOptions { replications: Some(2), ..Default::default() }).unwrap();
//! assert_eq!(rows.len(), 4);
//! assert!(rows[0].metric("p99").unwrap() > rows[2].metric("p99").unwrap()); // 1 worker queues more
//! ```

use infrasim_engine::stats::ConfidenceInterval;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::report::Report;
use crate::run::{RunOptions, run_many};
use crate::scenario::Scenario;

/// One point of a sweep: its parameters and its report.
#[derive(Clone, Debug)]
pub struct SweepPoint<P> {
    /// The parameters applied to the base scenario.
    pub params: P,
    /// What the run measured.
    pub report: Report,
}

impl<P> SweepPoint<P> {
    /// A metric of the report by name, as in SLO checks (`availability`, `p99`,
    /// `write.availability`, `lost_writes`, or any dotted path into the report's JSON).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let check = crate::slo::Check {
            metric: name.to_string(),
            op: crate::slo::Op::Ge,
            threshold: f64::NEG_INFINITY,
        };
        check.evaluate(&self.report).actual
    }

    /// The 95 % confidence interval of a metric across replications (keys of
    /// [`Report::confidence`]: `availability`, `latency_ms.p99`, …).
    pub fn ci(&self, key: &str) -> Option<&ConfidenceInterval> {
        self.report.confidence.get(key)
    }
}

/// Runs `base` once per parameter value, after `apply` has set the parameters on a copy.
pub fn sweep<P: Clone>(
    base: &Scenario,
    params: &[P],
    apply: impl Fn(&mut Scenario, &P),
    opts: &RunOptions,
) -> Result<Vec<SweepPoint<P>>, Error> {
    let scenarios: Vec<Scenario> = params
        .iter()
        .map(|p| {
            let mut s = base.clone();
            apply(&mut s, p);
            s
        })
        .collect();
    let reports = run_many(&scenarios, opts)?;
    Ok(params
        .iter()
        .cloned()
        .zip(reports)
        .map(|(params, report)| SweepPoint { params, report })
        .collect())
}

/// Every combination of two parameter lists, the first varying slowest.
pub fn grid<A: Clone, B: Clone>(a: &[A], b: &[B]) -> Vec<(A, B)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.clone(), y.clone())))
        .collect()
}

/// A sweep as CSV: the parameter columns, then for each metric its value (pooled over
/// replications) and, when the report has one, its 95 % CI bounds across replications.
pub fn to_csv<P>(
    points: &[SweepPoint<P>],
    param_names: &[&str],
    param_values: impl Fn(&P) -> Vec<String>,
    metrics: &[(&str, &str)],
) -> String {
    let mut out = param_names.join(",");
    for (name, _) in metrics {
        out.push_str(&format!(",{name},{name}_ci_low,{name}_ci_high"));
    }
    out.push('\n');
    for p in points {
        out.push_str(&param_values(&p.params).join(","));
        for (name, ci_key) in metrics {
            let v = p.metric(name).map_or(String::new(), |v| v.to_string());
            let (lo, hi) = p.ci(ci_key).map_or((String::new(), String::new()), |c| {
                (c.low.to_string(), c.high.to_string())
            });
            out.push_str(&format!(",{v},{lo},{hi}"));
        }
        out.push('\n');
    }
    out
}

/// One parameter of a [`Grid`]: a path into the base scenario's JSON and its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Where the value goes in the scenario file, as in error messages:
    /// `load_balancers[0].check.inter`, `clients.arrival.poisson.rate`. Objects missing on
    /// the way are created (a key the file leaves to its default); array elements must exist.
    pub path: String,
    /// The values, in order.
    pub values: Vec<serde_json::Value>,
}

/// A grid sweep: every combination of the parameters' values (the first parameter varying
/// slowest) applied to a base scenario, each point run with the same seeds (common random
/// numbers across points), the file format of `infrasim sweep` (`docs/sweep.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// The base scenario file, relative to the grid file.
    pub scenario: String,
    /// The parameters.
    pub parameters: Vec<Parameter>,
    /// Replications of each point (default: the base scenario's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<u32>,
    /// Master seed (default: the base scenario's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Metrics of the CSV, as in SLO checks (default: [`DEFAULT_METRICS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
}

/// The CSV's metrics when the grid names none; each has a 95 % interval across
/// replications under the same key.
pub const DEFAULT_METRICS: [&str; 5] = [
    "availability",
    "time_availability",
    "latency_ms.mean",
    "latency_ms.p99",
    "throughput_per_s",
];

impl Grid {
    /// Every point: its values, in parameter order, first parameter slowest.
    pub fn points(&self) -> Vec<Vec<serde_json::Value>> {
        let mut points = vec![Vec::new()];
        for p in &self.parameters {
            points = points
                .iter()
                .flat_map(|pt| {
                    p.values.iter().map(move |v| {
                        let mut pt = pt.clone();
                        pt.push(v.clone());
                        pt
                    })
                })
                .collect();
        }
        points
    }

    /// The scenario of every point: `base` (a scenario file's JSON) with the point's values
    /// set. An error names the point and the problem.
    pub fn scenarios(&self, base: &serde_json::Value) -> Result<Vec<Scenario>, Error> {
        if self.parameters.is_empty() || self.parameters.iter().any(|p| p.values.is_empty()) {
            return Err(Error::InvalidArgument(
                "a grid needs at least one parameter, each with at least one value".into(),
            ));
        }
        self.points()
            .iter()
            .map(|pt| {
                let mut v = base.clone();
                for (p, value) in self.parameters.iter().zip(pt) {
                    set_path(&mut v, &p.path, value.clone()).map_err(|e| {
                        Error::InvalidArgument(format!("grid parameter {:?}: {e}", p.path))
                    })?;
                }
                crate::scenario::parse(&v.to_string()).map_err(|e| {
                    Error::InvalidArgument(format!(
                        "the point {} of the grid: {e}",
                        point_label(&self.parameters, pt)
                    ))
                })
            })
            .collect()
    }

    fn metric_names(&self) -> Vec<String> {
        if self.metrics.is_empty() {
            DEFAULT_METRICS.iter().map(|m| m.to_string()).collect()
        } else {
            self.metrics.clone()
        }
    }

    /// The run options the grid sets (replications, seed) over `opts`.
    pub fn options(&self, opts: &RunOptions) -> RunOptions {
        RunOptions {
            replications: opts.replications.or(self.replications),
            seed: opts.seed.or(self.seed),
            ..opts.clone()
        }
    }
}

fn point_label(params: &[Parameter], pt: &[serde_json::Value]) -> String {
    params
        .iter()
        .zip(pt)
        .map(|(p, v)| format!("{}={v}", p.path))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sets `value` at `path` (`a.b[2].c`) in `v`, creating missing objects.
fn set_path(v: &mut serde_json::Value, path: &str, value: serde_json::Value) -> Result<(), String> {
    let mut cur = v;
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() && rest.is_empty() {
            return Err("an empty segment".into());
        }
        if !key.is_empty() {
            segments.push(Err(key.to_string()));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let i = idx
                .strip_suffix(']')
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| format!("bad index [{idx}"))?;
            segments.push(Ok(i));
        }
    }
    for seg in segments {
        cur = match seg {
            Err(key) => {
                if cur.is_null() {
                    *cur = serde_json::Value::Object(Default::default());
                }
                let obj = cur
                    .as_object_mut()
                    .ok_or_else(|| format!("{key:?} is a key, but its parent is not an object"))?;
                obj.entry(key).or_insert(serde_json::Value::Null)
            }
            Ok(i) => {
                let arr = cur
                    .as_array_mut()
                    .ok_or_else(|| format!("[{i}] is an index, but its parent is not a list"))?;
                let len = arr.len();
                arr.get_mut(i)
                    .ok_or_else(|| format!("index [{i}] out of range (the list has {len})"))?
            }
        };
    }
    *cur = value;
    Ok(())
}

/// The result of a grid sweep: the grid and each point's report, in point order.
#[derive(Clone, Debug)]
pub struct GridSweep {
    /// The grid.
    pub grid: Grid,
    /// Each point: its values and its report.
    pub points: Vec<SweepPoint<Vec<serde_json::Value>>>,
}

/// Runs every point of `grid` on `base` (a scenario file's JSON) with `opts` (the grid's
/// replications and seed unless `opts` sets them): the library's sweep over
/// [`run_many`], the code `infrasim sweep` runs.
pub fn run_grid(
    grid: &Grid,
    base: &serde_json::Value,
    opts: &RunOptions,
) -> Result<GridSweep, Error> {
    let scenarios = grid.scenarios(base)?;
    let reports = run_many(&scenarios, &grid.options(opts))?;
    Ok(grid_result(grid, reports))
}

/// A grid sweep's result from its points' reports (in point order), as run or as merged
/// from shards.
pub fn grid_result(grid: &Grid, reports: Vec<Report>) -> GridSweep {
    GridSweep {
        grid: grid.clone(),
        points: grid
            .points()
            .into_iter()
            .zip(reports)
            .map(|(params, report)| SweepPoint { params, report })
            .collect(),
    }
}

impl GridSweep {
    /// The CSV: a column per parameter (its path), then for each metric its value and its
    /// 95 % interval across replications (`_ci_low`, `_ci_high`; empty with one replication).
    pub fn csv(&self) -> String {
        let names: Vec<&str> = self
            .grid
            .parameters
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        let metrics = self.grid.metric_names();
        let pairs: Vec<(&str, &str)> = metrics.iter().map(|m| (m.as_str(), m.as_str())).collect();
        to_csv(
            &self.points,
            &names,
            |pt| {
                pt.iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            },
            &pairs,
        )
    }

    /// The JSON: the grid, then each point's values and full report (with its
    /// `confidence` intervals).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "grid": self.grid,
            "points": self.points.iter().map(|p| serde_json::json!({
                "values": p.params,
                "report": p.report,
            })).collect::<Vec<_>>(),
        })
    }
}
