//! What one replication contributes to a report, reduced as soon as it ends: counts,
//! mergeable histograms, the per-replication values of the confidence intervals, and (for
//! the first replication) its faults, outages and time series. A report is assembled from
//! these alone, in replication order; so replications run on different machines (shards)
//! merge into exactly the report of one run (`crate::shard`).

use infrasim_engine::SimTime;
use infrasim_engine::stats::Histogram;
use serde::{Deserialize, Serialize};

use super::operations::{OperationsDetails, OperationsTally};
use super::windows::{time_availability, unavailable_windows};
use super::{
    FailoverEvent, FaultReport, LostWrites, Outage, TimeSeries, faults, operations, timeseries,
    windows,
};
use crate::model::measure::RunData;
use crate::model::metrics::Mark;
use crate::scenario::{Class, Scenario};

/// One request class in one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassTally {
    /// Offered after the warm-up.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Of those, failed, by reason (in [`crate::FailReason::ALL`] order).
    pub failed: Vec<u64>,
    /// Of those, still in flight at the end.
    pub in_flight: u64,
    /// Latency of the successes (ns).
    pub latency: Histogram,
    /// Share of available windows for this class.
    pub time_availability: f64,
}

/// One component in one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentTally {
    /// Its name.
    pub name: String,
    /// `load_balancer`, `web_server`, `app_server` or `database`.
    pub kind: String,
    /// Mean busy workers (cores) / capacity.
    pub utilization: f64,
    /// Time-averaged queue length.
    pub mean_queue: f64,
    /// Longest queue.
    pub max_queue: u64,
    /// Served.
    pub served: u64,
    /// Refused.
    pub rejected: u64,
    /// For a load balancer: requests sent to each server, in first-seen order.
    pub routed: Vec<(String, u64)>,
}

/// The database tier in one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseTally {
    /// Replication lag samples as MySQL reports them (ns; NULL samples left out).
    pub lag: Histogram,
    /// True replication lag samples (ns).
    pub true_lag: Histogram,
    /// Lag samples reported as NULL.
    pub lag_null: u64,
    /// Reads.
    pub reads: u64,
    /// Stale reads.
    pub stale_reads: u64,
    /// Read-your-writes violations.
    pub ryw_violations: u64,
    /// Acknowledged writes lost in failovers.
    pub lost_writes: u64,
    /// Of those, never received by the promoted replica.
    pub lost_not_received: u64,
    /// Of those, received but discarded at promotion.
    pub lost_discarded: u64,
    /// Of those, acknowledged on a split-brain primary.
    pub lost_split_brain: u64,
    /// Writes acknowledged by a replaced primary that restarted writable.
    pub split_brain_writes: u64,
    /// Keys written on such a node.
    pub divergent_keys: u64,
    /// Promotions after the warm-up.
    pub failovers: u64,
    /// Semi-sync fallbacks after the warm-up.
    pub semi_sync_fallbacks: u64,
}

/// What the report shows of the first replication only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Details {
    /// Each fault occurrence.
    pub faults: Vec<FaultReport>,
    /// Outages.
    pub outages: Vec<Outage>,
    /// The time series.
    pub timeseries: TimeSeries,
    /// With monitoring: the alerts and the monitoring system's crashes.
    pub operations: Option<OperationsDetails>,
    /// Each failover, with what it cost.
    #[serde(default)]
    pub failovers: Vec<FailoverEvent>,
}

/// What one replication contributes to a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// Events processed.
    pub events: u64,
    /// Per class, in [`Class::ALL`] order.
    pub classes: Vec<ClassTally>,
    /// Share of available windows (every class together).
    pub time_availability: f64,
    /// Unavailable time (every class together), in seconds.
    pub downtime_s: f64,
    /// Each component, in the order of the scenario's components.
    pub components: Vec<ComponentTally>,
    /// The database tier, if the scenario has one.
    pub database: Option<DatabaseTally>,
    /// With monitoring: what the monitoring and the people it pages did.
    pub operations: Option<OperationsTally>,
    /// With `clients.connections`: connections, handshakes, LB CPU by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<super::connections::ConnectionsTally>,
    /// Faults, outages and time series: the first replication's only.
    pub details: Option<Details>,
    /// What each firewall counted (scenario order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<crate::model::firewall::FirewallTally>,
    /// What each attack counted (scenario order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attacks: Vec<crate::model::attack::AttackTally>,
}

impl Replication {
    /// Latency of every success, every class.
    pub(super) fn latency_all(&self) -> Histogram {
        let mut h = Histogram::new();
        for c in &self.classes {
            h.merge(&c.latency);
        }
        h
    }
}

/// Reduces a replication to what its report needs; `details`: keep its faults, outages and
/// time series (the first replication's).
pub(crate) fn summarize(s: &Scenario, run: &RunData, details: bool) -> Replication {
    let m = &run.metrics;
    let classes = Class::ALL
        .iter()
        .map(|&c| {
            let cs = &m.classes[c.index()];
            ClassTally {
                offered: cs.offered,
                succeeded: cs.succeeded,
                failed: cs.failed.to_vec(),
                in_flight: run.in_flight[c.index()],
                latency: cs.latency.clone(),
                time_availability: time_availability(run, Some(c)),
            }
        })
        .collect();
    let components = run
        .components
        .iter()
        .map(|c| ComponentTally {
            name: c.name.clone(),
            kind: c.kind.to_string(),
            utilization: c.busy.mean(run.end) / f64::from(c.capacity.max(1)),
            mean_queue: c.queued.mean(run.end),
            max_queue: c.queued.max(),
            served: c.served,
            rejected: c.rejected,
            routed: m
                .routed
                .iter()
                .filter(|((lb, _), _)| run.names.name(*lb) == c.name)
                .map(|((_, server), n)| (run.names.name(*server).to_string(), *n))
                .collect(),
        })
        .collect();
    let warmup_end = m.warmup_end;
    let count = |f: &dyn Fn(&Mark) -> bool| m.marks.iter().filter(|x| f(x)).count() as u64;
    let database = run.has_database.then(|| DatabaseTally {
        lag: m.lag.clone(),
        true_lag: m.true_lag.clone(),
        lag_null: m.lag_null,
        reads: m.db_reads,
        stale_reads: m.stale_reads,
        ryw_violations: m.ryw_violations,
        lost_writes: m.lost_writes,
        lost_not_received: m.lost_not_received,
        lost_discarded: m.lost_discarded,
        lost_split_brain: m.lost_split_brain,
        split_brain_writes: m.split_brain_writes,
        divergent_keys: m.divergent_keys,
        failovers: count(&|x| matches!(x, Mark::Failover { at, .. } if *at >= warmup_end)),
        semi_sync_fallbacks: count(
            &|x| matches!(x, Mark::SemiSyncFallback { at } if *at >= warmup_end),
        ),
    });
    Replication {
        events: run.events,
        classes,
        time_availability: time_availability(run, None),
        downtime_s: unavailable_windows(run) as f64 * m.window.as_secs_f64(),
        components,
        database,
        operations: operations::tally(s, run),
        connections: super::connections::tally(run),
        details: details.then(|| Details {
            faults: faults::reports(s, run),
            outages: windows::outages_of(run),
            timeseries: timeseries::of(run),
            operations: operations::details(s, run),
            failovers: failover_events(s, run),
        }),
        firewalls: run.firewalls.clone(),
        attacks: run.attacks.clone(),
    }
}

/// The failovers of a run, as the report lists them.
fn failover_events(s: &Scenario, run: &RunData) -> Vec<FailoverEvent> {
    let secs = |t: SimTime| t.as_secs_f64();
    run.metrics
        .failover_log
        .iter()
        .map(|f| FailoverEvent {
            cluster: s.databases[f.cluster as usize].name.clone(),
            promoted_at_s: secs(f.at),
            old_primary: run.names.name(f.old).to_string(),
            promoted: run.names.name(f.new).to_string(),
            policy: f.policy.to_string(),
            old_primary_down: f.old_was_down,
            primary_lost_at_s: secs(f.primary_lost_at),
            detected_at_s: f.detected_at.map(secs),
            write_outage_s: if f.old_was_down {
                f.at.saturating_since(f.primary_lost_at).as_secs_f64()
            } else {
                0.0
            },
            lost_writes: LostWrites {
                not_received: f.lost_not_received,
                discarded_at_promotion: f.lost_discarded,
                split_brain: f.lost_split_brain,
            },
            divergent_keys: f.divergent_keys,
            lost_replicas: f
                .lost_replicas
                .iter()
                .map(|n| run.names.name(*n).to_string())
                .collect(),
        })
        .collect()
}
