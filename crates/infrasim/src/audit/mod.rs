//! Single-point-of-failure audit: crash each component in turn (a copy of the scenario per
//! component, same seed, so the runs differ only by the crash) and rank the components by
//! what their failure costs, per request class.
//!
//! A component whose crash leaves availability untouched is redundant; one whose crash takes
//! a class down for the whole crash is a single point of failure for that class.
//!
//! Beside the runs, [`topology`] finds the single points of failure on the topology graph;
//! [`audit`] proves each finding by the run that crashes (or, for a link, partitions) it,
//! and reports a finding that the run contradicts as such.

pub mod blind_spots;
pub mod exposure;
pub mod hops;
pub mod remedies;
pub mod topology;

use serde::{Deserialize, Serialize};

use infrasim_engine::SimDuration;

use crate::error::Error;
use crate::report::Report;
use crate::run::{RunOptions, run_many};
use crate::scenario::{CrashMode, Fault, Scenario};

pub use blind_spots::Watch;
pub use exposure::Reach;
pub use hops::Hop;
pub use remedies::{Remedy, remedies};
pub use topology::{Exposure, exposures};

/// The audit of a scenario: what each crash cost, and the graph's findings with their proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// The verdict in a few lines: what the tables below find, by name.
    pub summary: Summary,
    /// One row per run: the baseline first, then one per crashed component.
    pub rows: Vec<AuditRow>,
    /// Every component and link each class depends on, as the graph sees it, with the run
    /// that checks it: single points of failure first.
    pub findings: Vec<Finding>,
    /// Who is told when each component fails — blind spots are those no alert rule pages
    /// anyone about — each proved by a run that crashes it for good with the scenario's
    /// monitoring.
    pub watches: Vec<Watch>,
    /// Each component's exposure to the internet zone (reachable beyond the intended entry
    /// point, or blocked by a firewall), each proved by a run flooding its port
    /// ([`exposure`]).
    #[serde(default)]
    pub exposure: Vec<Reach>,
    /// Each hop that carries user data, encrypted or not, with the zones it joins and what
    /// it carried in the baseline run ([`hops`]).
    #[serde(default)]
    pub hops: Vec<Hop>,
    /// Candidate designs ranked by measured availability gain ([`remedies()`]); empty when
    /// none were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<Remedy>,
}

impl Audit {
    /// The findings that say "single point of failure".
    pub fn single_points(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.exposure.is_spof())
    }
}

/// The verdict by name: single points of failure, security, monitoring — what an architect
/// reads first. Empty lists are what a remedied design should show; what remains is named.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Single points of failure, `element (class, …)`.
    pub single_points: Vec<String>,
    /// Components reachable from the internet beyond the entry point.
    pub exposed: Vec<String>,
    /// Hops carrying user data in the clear with one end on the internet, `from → to`.
    pub plain_on_the_internet: Vec<String>,
    /// Hops carrying user data in the clear inside the network, `from → to`.
    pub plain_inside: Vec<String>,
    /// Components no alert rule pages anyone about.
    pub blind_spots: Vec<String>,
    /// The monitoring system, a single point of failure of its own kind: while it is down
    /// nothing pages about anything (infrasim models one, not an HA pair of Prometheus
    /// replicas with clustered Alertmanagers), with whether its own death is found; empty
    /// without one — which is worse: then nothing pages at all.
    #[serde(default)]
    pub single_monitoring: Vec<String>,
    /// Findings a run contradicted: `element (class)` for a single-point finding,
    /// `component (exposure)`, and `component (blind spot)` or `component (alert)` for a
    /// watch whose run did not show how a person learns of its failure.
    pub contradicted: Vec<String>,
}

impl Summary {
    fn of(findings: &[Finding], exposure: &[Reach], hops: &[Hop], watches: &[Watch]) -> Summary {
        let spofs = remedies::spof_pairs(findings.iter().map(|f| &f.exposure));
        let hop = |h: &Hop| format!("{} → {}", h.from, h.to);
        let mut contradicted: Vec<String> = findings
            .iter()
            .filter(|f| f.proof == Proof::Contradicted)
            .map(|f| format!("{} ({})", f.exposure.element, f.exposure.class))
            .collect();
        contradicted.extend(
            exposure
                .iter()
                .filter(|r| r.proof == Some(Proof::Contradicted))
                .map(|r| format!("{} (exposure)", r.component)),
        );
        contradicted.extend(
            watches
                .iter()
                .filter(|w| w.proof == Proof::Contradicted)
                .map(|w| {
                    let what = if w.blind_spot { "blind spot" } else { "alert" };
                    format!("{} ({what})", w.component)
                }),
        );
        Summary {
            single_points: remedies::grouped(&spofs.iter().collect::<Vec<_>>()),
            exposed: exposure
                .iter()
                .filter(|r| r.exposed && !r.entry)
                .map(|r| r.component.clone())
                .collect(),
            plain_on_the_internet: hops
                .iter()
                .filter(|h| h.plain_on_the_internet())
                .map(hop)
                .collect(),
            plain_inside: hops
                .iter()
                .filter(|h| !h.encrypted && !h.crosses_internet)
                .map(hop)
                .collect(),
            blind_spots: watches
                .iter()
                .filter(|w| w.blind_spot)
                .map(|w| w.component.clone())
                .collect(),
            single_monitoring: watches
                .iter()
                .filter(|w| w.kind == "monitoring")
                .map(|w| {
                    let found = if w.blind_spot {
                        "nobody learns it died"
                    } else {
                        "its dead man's switch pages when it dies"
                    };
                    format!("{} ({found})", w.component)
                })
                .collect(),
            contradicted,
        }
    }
}

/// A finding of the graph, and what the simulation said of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What the graph says.
    #[serde(flatten)]
    pub exposure: Exposure,
    /// The share of the class's requests that failed in the run with the failure, beyond
    /// the baseline, per unit of the failure's share of the measured time: ≈ 1 when the
    /// class was down for the whole failure, ≈ 0 when the redundancy covered it (in-flight
    /// requests and timeouts after the end can push it slightly above 1).
    pub measured_loss: f64,
    /// `confirmed` when the run agrees (lost at least half the class ⇔ a single point of
    /// failure), `contradicted` otherwise.
    pub proof: Proof,
}

/// Whether a run agrees with a finding of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    /// The run shows what the graph says.
    Confirmed,
    /// The run shows the opposite: the graph's model of the redundancy is wrong for this
    /// scenario (e.g. a timeout longer than the failure, or retries that hide it).
    Contradicted,
}

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

/// Crashes every load balancer, web server, app server, database node and firewall of
/// `scenario` for `crash` (process crash, starting a third into the measured period), one at
/// a time, and
/// reports each run against the baseline (the first row); partitions, for as long, every
/// link the graph names a single point of failure. The scenario's own faults, attacks and
/// monitoring crash are removed, so each run shows the cost of one failure alone.
pub fn audit(
    scenario: &Scenario,
    crash: SimDuration,
    mode: CrashMode,
    opts: &RunOptions,
) -> Result<Audit, Error> {
    let exposures = exposures(scenario)?;
    let watches = watch(scenario, &exposures, at_of(scenario, opts), mode, opts)?;
    // The floods of the exposure runs last at most 20 s: enough to fill any queue, cheap
    // enough at a database's tens of thousands of connections per second.
    let flood = crash.min(SimDuration::from_secs(20));
    let exposure = exposure::exposure(scenario, at_of(scenario, opts), flood, opts)?;
    let targets = components(scenario);
    let duration = opts.duration.unwrap_or(scenario.duration);
    let at = at_of(scenario, opts);
    let crash = crash.min(SimDuration::from_nanos(duration.as_nanos() / 2));
    let clean = alone(scenario);
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
    let links = link_ends(&exposures);
    for [a, b] in &links {
        let mut s = clean.clone();
        s.faults.push(Fault::Partition {
            a: a.clone(),
            b: b.clone(),
            at,
            duration: Some(crash),
        });
        variants.push(s);
    }
    let reports = run_many(&variants, opts)?;
    let base = &reports[0];
    let hops = hops::hops(scenario, base)?;
    let share = crash.as_secs_f64() / duration.as_secs_f64();
    let mut rows = Vec::new();
    for (i, r) in reports[..=targets.len()].iter().enumerate() {
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
    let loss = |r: &Report, class: &str| {
        let avail = |r: &Report| r.classes.get(class).map_or(1.0, |c| c.availability);
        ((avail(base) - avail(r)) / share).max(0.0)
    };
    let findings = exposures
        .into_iter()
        .map(|e| {
            let run = if e.kind == "link" {
                let k = links.iter().position(|l| Some(l) == e.ends.as_ref());
                &reports[1 + targets.len() + k.expect("every link finding was run")]
            } else {
                let k = targets.iter().position(|(n, _)| *n == e.element);
                &reports[1 + k.expect("every component is crashed")]
            };
            let measured_loss = loss(run, &e.class);
            let proof = if (measured_loss >= 0.5) == e.is_spof() {
                Proof::Confirmed
            } else {
                Proof::Contradicted
            };
            Finding {
                exposure: e,
                measured_loss,
                proof,
            }
        })
        .collect::<Vec<_>>();
    let mut findings = findings;
    // Single points of failure first; the graph's order otherwise (a stable sort).
    findings.sort_by_key(|f| !f.exposure.is_spof());
    Ok(Audit {
        summary: Summary::of(&findings, &exposure, &hops, &watches),
        rows,
        findings,
        watches,
        exposure,
        hops,
        remedies: Vec::new(),
    })
}

/// Every component the audit crashes, with its kind, in the scenario's order: load
/// balancers, web servers, app servers, each cluster's primary and replicas, firewalls.
pub(crate) fn components(s: &Scenario) -> Vec<(String, &'static str)> {
    s.load_balancers
        .iter()
        .map(|l| (l.name.clone(), "load_balancer"))
        .chain(s.web_servers.iter().map(|w| (w.name.clone(), "web_server")))
        .chain(s.app_servers.iter().map(|a| (a.name.clone(), "app_server")))
        .chain(s.databases.iter().flat_map(|d| {
            std::iter::once((d.primary.name.clone(), "database primary")).chain(
                d.replicas
                    .iter()
                    .map(|r| (r.name.clone(), "database replica")),
            )
        }))
        .chain(s.firewalls.iter().map(|f| (f.name.clone(), "firewall")))
        .collect()
}

/// `s` without its own failures — faults, attacks, the monitoring's own crash — so that each
/// run of the audit shows the cost of the one failure it adds.
pub(crate) fn alone(s: &Scenario) -> Scenario {
    let mut clean = s.clone();
    clean.faults.clear();
    clean.attacks.clear();
    if let Some(m) = clean.monitoring.as_mut() {
        m.crash = None;
    }
    clean
}

/// When the audit's failures start: a third into the measured period.
fn at_of(scenario: &Scenario, opts: &RunOptions) -> SimDuration {
    let duration = opts.duration.unwrap_or(scenario.duration);
    scenario
        .warmup
        .saturating_add(SimDuration::from_nanos(duration.as_nanos() / 3))
}

/// The blind-spot runs: each component crashed for good at `at` with the scenario's
/// monitoring, each run as long as the slowest page needs (its own duration, not `opts`').
fn watch(
    scenario: &Scenario,
    exposures: &[Exposure],
    at: SimDuration,
    mode: CrashMode,
    opts: &RunOptions,
) -> Result<Vec<Watch>, Error> {
    let (mut watches, runs) = blind_spots::variants(scenario, exposures, at, mode)?;
    let reports = run_many(
        &runs,
        &RunOptions {
            duration: None,
            ..opts.clone()
        },
    )?;
    blind_spots::prove(&mut watches, &reports, &runs, at);
    Ok(watches)
}

/// The two ends of each link finding, each link once, in order of appearance.
fn link_ends(exposures: &[Exposure]) -> Vec<[String; 2]> {
    let mut out: Vec<[String; 2]> = Vec::new();
    for ends in exposures.iter().filter_map(|e| e.ends.as_ref()) {
        if !out.contains(ends) {
            out.push(ends.clone());
        }
    }
    out
}
