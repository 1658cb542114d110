//! What the monitoring and the people it pages did: the alerts (first replication), and
//! over every replication the time from a failure to its alert, its page, its
//! acknowledgment and its repair, and how long failures stayed unnoticed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::replication::Replication;
use super::secs;
use crate::model::measure::RunData;
use crate::scenario::Scenario;

/// Statistics of a duration over fault occurrences (seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// Occurrences measured.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl DurationStats {
    fn of(mut v: Vec<f64>) -> Option<DurationStats> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(DurationStats {
            n: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: rank(0.5),
            p90: rank(0.9),
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

/// One alert (first replication).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The rule (`TargetDown`, `HighErrorRatio`, `HighLatency`, `ReplicationLag`,
    /// `LbServersDown`, `NagiosServiceCritical`, `UsersComplain`, `DeadMansSwitch`).
    pub alert: String,
    /// The component it is about, `service`, or `monitoring`.
    pub about: String,
    /// When its condition was first seen (Prometheus: pending; users: the first bad minute).
    pub pending_at_s: f64,
    /// When it fired (Nagios: the HARD state; users: the complaint).
    pub fired_at_s: f64,
    /// When the on-call person was paged.
    pub notified_at_s: Option<f64>,
    /// When it stopped firing (Prometheus rules only).
    pub resolved_at_s: Option<f64>,
}

/// One crash of the monitoring system (first replication).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitoringOutage {
    /// When it crashed.
    pub down_at_s: f64,
    /// When the dead man's switch paged.
    pub noticed_at_s: Option<f64>,
    /// When the page was acknowledged.
    pub acknowledged_at_s: Option<f64>,
    /// When it was back.
    pub up_at_s: Option<f64>,
}

/// What the monitoring and the on-call person did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationsReport {
    /// `prometheus`, `nagios` or `none` (users only).
    pub system: String,
    /// Failures watched (crashes, random failures, gray failures, partitions, degraded
    /// links), all replications.
    pub failures: u64,
    /// Of those, how many a person was paged about before they ended.
    pub noticed: u64,
    /// From a failure to the alert that led to it (or the users' complaint).
    pub time_to_detect_s: Option<DurationStats>,
    /// From a failure to the page about it.
    pub time_to_notify_s: Option<DurationStats>,
    /// From a failure to the page's acknowledgment.
    pub time_to_acknowledge_s: Option<DurationStats>,
    /// From a failure to its repair (faults repaired after detection).
    pub time_to_repair_s: Option<DurationStats>,
    /// Per replication (mean): seconds failures lasted before anyone was told (or until
    /// they ended): the latent-failure time.
    pub unnoticed_s: f64,
    /// Pages per replication (mean).
    pub pages: f64,
    /// Alerts that fired in the first replication (each rule instance's each firing, the
    /// users' complaints, the dead man's switch).
    pub alerts_fired: u64,
    /// The first 10 of them (the time series and the SVG timeline show all).
    pub alerts: Vec<AlertReport>,
    /// The monitoring system's crashes (first replication).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub monitoring_outages: Vec<MonitoringOutage>,
}

/// Alerts listed in the report.
pub const MAX_ALERTS: usize = 10;

/// What one replication contributes to `operations` (a scenario with a `monitoring`
/// section): every watched failure's durations, kept whole so that replications merge
/// into exactly the statistics of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsTally {
    /// Failures watched.
    pub failures: u64,
    /// Of those, how many a person was paged about before they ended.
    pub noticed: u64,
    /// From each failure to its alert (s), in occurrence order.
    pub detect_s: Vec<f64>,
    /// From each failure to its page (s).
    pub notify_s: Vec<f64>,
    /// From each failure to the page's acknowledgment (s).
    pub acknowledge_s: Vec<f64>,
    /// From each failure to its repair (s; faults repaired after detection).
    pub repair_s: Vec<f64>,
    /// Seconds failures lasted before anyone was told (or until they ended).
    pub unnoticed_s: f64,
    /// Pages.
    pub pages: u64,
}

/// What the report shows of the first replication's monitoring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsDetails {
    /// Alerts that fired.
    pub alerts_fired: u64,
    /// The first [`MAX_ALERTS`] of them.
    pub alerts: Vec<AlertReport>,
    /// The monitoring system's crashes.
    pub monitoring_outages: Vec<MonitoringOutage>,
}

/// Whether the monitoring watches occurrences of this fault kind.
fn watched_kind(kind: &str) -> bool {
    matches!(
        kind,
        "crash" | "random" | "degrade" | "partition" | "link_degrade"
    )
}

/// A replication's latent-failure seconds.
fn unnoticed(s: &Scenario, r: &RunData) -> f64 {
    r.occurrences
        .iter()
        .filter(|(o, ..)| watched_kind(s.faults[o.fault as usize].kind()))
        .map(|(o, ..)| {
            let until = [o.noticed.notified_at, o.recovered_at, Some(r.end)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(r.end);
            until.saturating_since(o.injected_at).as_secs_f64()
        })
        .sum()
}

/// A replication's contribution to `operations`, for a scenario with a `monitoring` section.
pub(super) fn tally(s: &Scenario, r: &RunData) -> Option<OperationsTally> {
    s.monitoring.as_ref()?;
    let mut t = OperationsTally {
        failures: 0,
        noticed: 0,
        detect_s: Vec::new(),
        notify_s: Vec::new(),
        acknowledge_s: Vec::new(),
        repair_s: Vec::new(),
        unnoticed_s: unnoticed(s, r),
        pages: r.ops.as_ref().map_or(0, |l| l.pages),
    };
    for (o, ..) in &r.occurrences {
        let spec = &s.faults[o.fault as usize];
        if !watched_kind(spec.kind()) {
            continue;
        }
        t.failures += 1;
        let since = |t: infrasim_engine::SimTime| t.saturating_since(o.injected_at).as_secs_f64();
        if let Some((at, _)) = o.noticed.alert {
            t.detect_s.push(since(at));
        }
        if let Some(at) = o.noticed.notified_at {
            t.noticed += 1;
            t.notify_s.push(since(at));
        }
        if let Some(at) = o.noticed.acked_at.filter(|at| *at <= r.end) {
            t.acknowledge_s.push(since(at));
        }
        if spec.repair().is_some()
            && let Some(at) = o.recovered_at
        {
            t.repair_s.push(since(at));
        }
    }
    Some(t)
}

/// The first replication's alerts and monitoring crashes, with monitoring.
pub(super) fn details(s: &Scenario, first: &RunData) -> Option<OperationsDetails> {
    s.monitoring.as_ref()?;
    let log = first.ops.as_ref();
    let name_of = |about: Option<crate::scenario::Node>, alert: &str| match about {
        Some(node) => first.names.name(node).to_string(),
        None if alert == "DeadMansSwitch" => "monitoring".to_string(),
        None => "service".to_string(),
    };
    Some(OperationsDetails {
        alerts_fired: log.map_or(0, |l| l.alerts.len() as u64),
        alerts: log
            .map(|l| {
                l.alerts
                    .iter()
                    .take(MAX_ALERTS)
                    .map(|a| AlertReport {
                        alert: a.name.to_string(),
                        about: name_of(a.about, a.name),
                        pending_at_s: secs(a.pending_at),
                        fired_at_s: secs(a.fired_at),
                        notified_at_s: a.notified_at.filter(|t| *t <= first.end).map(secs),
                        resolved_at_s: a.resolved_at.map(secs),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        monitoring_outages: log
            .map(|l| {
                l.monitor_outages
                    .iter()
                    .map(|o| MonitoringOutage {
                        down_at_s: secs(o.down_at),
                        noticed_at_s: o.noticed_at.map(secs),
                        acknowledged_at_s: o.acked_at.filter(|t| *t <= first.end).map(secs),
                        up_at_s: o.up_at.map(secs),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The report's `operations`, for a scenario with a `monitoring` section.
pub(super) fn report(s: &Scenario, runs: &[Replication]) -> Option<OperationsReport> {
    let m = s.monitoring.as_ref()?;
    let tallies: Vec<&OperationsTally> =
        runs.iter().filter_map(|r| r.operations.as_ref()).collect();
    let all = |f: &dyn Fn(&OperationsTally) -> &Vec<f64>| -> Vec<f64> {
        tallies.iter().flat_map(|t| f(t).iter().copied()).collect()
    };
    let n = runs.len() as f64;
    let first = runs[0].details.as_ref().and_then(|d| d.operations.as_ref());
    Some(OperationsReport {
        system: if m.prometheus.is_some() {
            "prometheus"
        } else if m.nagios.is_some() {
            "nagios"
        } else {
            "none"
        }
        .to_string(),
        failures: tallies.iter().map(|t| t.failures).sum(),
        noticed: tallies.iter().map(|t| t.noticed).sum(),
        time_to_detect_s: DurationStats::of(all(&|t| &t.detect_s)),
        time_to_notify_s: DurationStats::of(all(&|t| &t.notify_s)),
        time_to_acknowledge_s: DurationStats::of(all(&|t| &t.acknowledge_s)),
        time_to_repair_s: DurationStats::of(all(&|t| &t.repair_s)),
        unnoticed_s: unnoticed_per_run(runs).iter().sum::<f64>() / n,
        pages: runs
            .iter()
            .map(|r| r.operations.as_ref().map_or(0, |t| t.pages) as f64)
            .sum::<f64>()
            / n,
        alerts_fired: first.map_or(0, |d| d.alerts_fired),
        alerts: first.map_or_else(Vec::new, |d| d.alerts.clone()),
        monitoring_outages: first.map_or_else(Vec::new, |d| d.monitoring_outages.clone()),
    })
}

/// Each replication's latent-failure seconds.
fn unnoticed_per_run(runs: &[Replication]) -> Vec<f64> {
    runs.iter()
        .map(|r| r.operations.as_ref().map_or(0.0, |t| t.unnoticed_s))
        .collect()
}

/// Per-replication values for confidence intervals and paired comparisons.
pub(super) fn replicates(
    s: &Scenario,
    runs: &[Replication],
    into: &mut BTreeMap<String, Vec<f64>>,
) {
    if s.monitoring.is_none() {
        return;
    }
    into.insert("operations.unnoticed_s".into(), unnoticed_per_run(runs));
}
