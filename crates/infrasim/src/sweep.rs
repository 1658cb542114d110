//! Parameter sweeps: a base scenario run once per parameter value, every replication of
//! every point in one parallel pool ([`run_many`]), with common random numbers across
//! points; results in input order — identical at any thread count.
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
