//! Single-point-of-failure audit: crash each component in turn (a copy of the scenario per
//! component, same seed, so the runs differ only by the crash) and rank the components by
//! what their failure costs, per request class.
//!
//! A component whose crash leaves availability untouched is redundant; one whose crash takes
//! a class down for the whole crash is a single point of failure for that class.

use serde::{Deserialize, Serialize};

use infrasim_engine::SimDuration;

use crate::error::Error;
use crate::run::{RunOptions, run_many};
use crate::scenario::{CrashMode, Fault, Scenario};

/// What crashing one component cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// The component crashed (`(none)` for the baseline without a crash).
    pub component: String,
    /// Its kind.
    pub kind: String,
    /// Overall availability with the crash.
    pub availability: f64,
    /// Availability of each class with the crash.
    pub classes: std::collections::BTreeMap<String, f64>,
    /// Unavailable time (windows) during the run, seconds.
    pub downtime_s: f64,
    /// Whether some class lost at least half of its requests during the crash: a single point
    /// of failure for that class.
    pub spof_for: Vec<String>,
}

/// Crashes every load balancer, web server, app server and database node of `scenario` for
/// `crash` (process crash, starting a third into the measured period), one at a time, and
/// reports each run against the baseline (the first row). The scenario's own faults are
/// removed, so each row shows the cost of one crash alone.
pub fn audit(
    scenario: &Scenario,
    crash: SimDuration,
    mode: CrashMode,
    opts: &RunOptions,
) -> Result<Vec<AuditRow>, Error> {
    let mut targets: Vec<(String, &'static str)> = Vec::new();
    targets.extend(
        scenario
            .load_balancers
            .iter()
            .map(|l| (l.name.clone(), "load_balancer")),
    );
    targets.extend(
        scenario
            .web_servers
            .iter()
            .map(|w| (w.name.clone(), "web_server")),
    );
    targets.extend(
        scenario
            .app_servers
            .iter()
            .map(|a| (a.name.clone(), "app_server")),
    );
    for d in &scenario.databases {
        targets.push((d.primary.name.clone(), "database primary"));
        targets.extend(
            d.replicas
                .iter()
                .map(|r| (r.name.clone(), "database replica")),
        );
    }
    let duration = opts.duration.unwrap_or(scenario.duration);
    let at = scenario
        .warmup
        .saturating_add(SimDuration::from_nanos(duration.as_nanos() / 3));
    let crash = crash.min(SimDuration::from_nanos(duration.as_nanos() / 2));
    let mut clean = scenario.clone();
    clean.faults.clear();
    let mut variants = vec![clean.clone()];
    for (name, _) in &targets {
        let mut s = clean.clone();
        s.faults.push(Fault::Crash {
            target: name.clone(),
            at,
            duration: Some(crash),
            mode,
            repair: None,
        });
        variants.push(s);
    }
    let reports = run_many(&variants, opts)?;
    let base = &reports[0];
    let share = crash.as_secs_f64() / duration.as_secs_f64();
    let mut rows = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let (component, kind) = if i == 0 {
            ("(none)".to_string(), "baseline")
        } else {
            (targets[i - 1].0.clone(), targets[i - 1].1)
        };
        let classes: std::collections::BTreeMap<String, f64> = r
            .classes
            .iter()
            .filter(|(_, c)| c.offered > 0)
            .map(|(n, c)| (n.clone(), c.availability))
            .collect();
        // Lost at least half of the class's requests for the length of the crash.
        let spof_for = r
            .classes
            .iter()
            .filter(|(n, c)| {
                c.offered > 0
                    && i > 0
                    && base.classes[*n].availability - c.availability >= share / 2.0
            })
            .map(|(n, _)| n.clone())
            .collect();
        // (Start from +0.0: an empty f64 sum is −0.0.)
        let downtime_s = r
            .outages
            .iter()
            .filter(|o| o.class == "all")
            .fold(0.0, |acc, o| acc + (o.end_s - o.start_s));
        rows.push(AuditRow {
            component,
            kind: kind.to_string(),
            availability: r.availability,
            classes,
            downtime_s,
            spof_for,
        });
    }
    Ok(rows)
}
