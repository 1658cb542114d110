//! The report: what a run (or a set of replications) measured, as Rust values that serialize
//! to the stable JSON contract documented in `docs/report-format.md`.
//!
//! Every map is a `BTreeMap` and every list is in a fixed order, so the same scenario and
//! seed give byte-identical JSON on any machine and at any thread count.
//!
//! Assembling a report from what the replications left (`RunData`): what is pooled over
//! replications (requests per class, components, the database) is in `pooled`; what is
//! read per window (time availability, outages) in `windows`; each fault's story in
//! `faults`; confidence intervals across replications in `confidence`; the time series in
//! `timeseries`. Faults, outages and the time series are the first replication's.

mod confidence;
mod connections;
mod faults;
mod operations;
mod pooled;
mod replication;
mod security;
mod timeseries;
mod windows;

use std::collections::BTreeMap;

use infrasim_engine::SimTime;
use infrasim_engine::stats::{ConfidenceInterval, LatencySummary};
use serde::{Deserialize, Serialize};

use crate::model::call::FailReason;
use crate::scenario::Scenario;
pub use connections::{
    ConnectionsReport, ConnectionsTally, Handshakes, LbConnectionsReport, LbConnectionsTally,
};
pub(crate) use replication::summarize;
pub use replication::{ClassTally, ComponentTally, DatabaseTally, Details, Replication};
pub use security::{AttackDrops, AttackReport, FirewallReport};

pub use operations::{AlertReport, DurationStats, MonitoringOutage, OperationsReport};

/// Request counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Offered after the warm-up.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Of those, failed, by reason (every reason listed, zeros included).
    pub failed: BTreeMap<String, u64>,
    /// Of those, still in flight at the end.
    pub in_flight: u64,
}

impl RequestCounts {
    /// Total failures.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// One request class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Offered.
    pub offered: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed, by reason.
    pub failed: BTreeMap<String, u64>,
    /// Still in flight at the end.
    pub in_flight: u64,
    /// succeeded / offered (1 when nothing was offered).
    pub availability: f64,
    /// Fraction of windows whose success ratio met the threshold.
    pub time_availability: f64,
    /// Latency of successes.
    pub latency_ms: LatencySummary,
}

/// One component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentReport {
    /// `load_balancer`, `web_server`, `app_server` or `database`.
    pub kind: String,
    /// Mean busy workers (cores for a load balancer) / capacity.
    pub utilization: f64,
    /// Time-averaged queue length.
    pub mean_queue: f64,
    /// Longest queue.
    pub max_queue: u64,
    /// Requests (or queries) served.
    pub served: u64,
    /// Requests refused (queue full).
    pub rejected: u64,
    /// Requests a load balancer sent to each server.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub routed: BTreeMap<String, u64>,
}

/// Replication lag statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LagReport {
    /// Mean of the samples (one per replica per window).
    pub mean: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

/// The database tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseReport {
    /// Acknowledged writes lost in failovers.
    pub lost_writes: u64,
    /// Reads that returned a key older than its latest committed write.
    pub stale_reads: u64,
    /// stale_reads / reads.
    pub stale_read_ratio: f64,
    /// Reads by a client of a key it wrote that missed its own write.
    pub read_your_writes_violations: u64,
    /// Replication lag (ms) as MySQL reports it (`Seconds_Behind_Source`, exact): one sample
    /// per replica per window, NULL samples left out.
    pub replication_lag_ms: LagReport,
    /// True replication lag (ms): the age of the oldest write committed on the primary and
    /// not yet applied on the replica, received or not.
    pub true_replication_lag_ms: LagReport,
    /// Lag samples `Seconds_Behind_Source` reported as NULL (receiver not connected).
    pub lag_null_samples: u64,
    /// Lost writes by reason.
    pub lost_writes_by_reason: LostWrites,
    /// Writes acknowledged by a replaced primary that restarted writable (split brain).
    pub split_brain_writes: u64,
    /// Keys written on such a node: divergent from the cluster until it is rebuilt.
    pub divergent_keys: u64,
    /// Replica promotions.
    pub failovers: u64,
    /// Times semi-sync fell back to async.
    pub semi_sync_fallbacks: u64,
    /// Each failover of the first replication, in order, with what it cost.
    #[serde(default)]
    pub failover_list: Vec<FailoverEvent>,
}

/// One failover (a promotion) and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverEvent {
    /// The database cluster.
    pub cluster: String,
    /// When the promoted replica took writes (s since the start).
    pub promoted_at_s: f64,
    /// The replaced primary.
    pub old_primary: String,
    /// The promoted replica.
    pub promoted: String,
    /// `orchestrator` or `mha`.
    pub policy: String,
    /// Whether the old primary was down (`true`) or alive but cut off from the failover
    /// manager (`false`: a false failover).
    pub old_primary_down: bool,
    /// When the old primary crashed or, alive, when the manager's checks began to fail.
    pub primary_lost_at_s: f64,
    /// When the manager (or operator) decided to promote, if recorded.
    pub detected_at_s: Option<f64>,
    /// Time without a writable primary: from the crash to the promotion (0 for a false
    /// failover: the old primary kept taking writes, lost instead).
    pub write_outage_s: f64,
    /// Acknowledged writes the cluster went on without, by reason.
    pub lost_writes: LostWrites,
    /// Keys left divergent from the new primary's data (split brain, an errant old primary
    /// let rejoin, replicas ahead of the new primary).
    pub divergent_keys: u64,
    /// Replicas that had applied more than the new primary: left out until rebuilt.
    pub lost_replicas: Vec<String>,
}

/// Acknowledged writes the cluster went on without, by reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LostWrites {
    /// Never reached the promoted replica's relay log.
    pub not_received: u64,
    /// In the promoted replica's relay log but unapplied when the promotion's wait ran out.
    pub discarded_at_promotion: u64,
    /// Acknowledged by a replaced primary taking writes beside the new one; gone when it
    /// is rebuilt.
    pub split_brain: u64,
}

/// One occurrence of a fault and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// What happened (`crash (process)`, `partition`, …).
    pub fault: String,
    /// Where.
    pub target: String,
    /// When it was injected (simulated seconds since the start).
    pub injected_at_s: f64,
    /// When something noticed it, if anything did.
    pub detected_at_s: Option<f64>,
    /// What noticed it.
    pub detected_by: Option<String>,
    /// When it ended (None: it lasted to the end).
    pub recovered_at_s: Option<f64>,
    /// Unavailable windows while it lasted (plus the client timeout after), in seconds.
    pub downtime_s: f64,
    /// Requests offered while it lasted that failed.
    pub failed_requests: u64,
    /// Writes lost in the failover it caused.
    pub lost_writes: u64,
    /// With monitoring: the alert that led a person to it (`TargetDown`, `UsersComplain`, …).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert: Option<String>,
    /// When that alert fired (or users complained).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alerted_at_s: Option<f64>,
    /// When the on-call person was paged about it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notified_at_s: Option<f64>,
    /// When the page was acknowledged.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acknowledged_at_s: Option<f64>,
    /// When its repair started (faults repaired after detection); it ended at
    /// `recovered_at_s`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repair_started_at_s: Option<f64>,
}

/// A maximal run of unavailable windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// Start (simulated seconds since the start of the run).
    pub start_s: f64,
    /// End.
    pub end_s: f64,
    /// `all`, or the class that was unavailable.
    pub class: String,
    /// The most frequent failure reason in it.
    pub cause: String,
}

/// One window of the time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowRow {
    /// Window start (simulated seconds since the start of the run).
    pub t_s: f64,
    /// Requests offered.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Of those, failed by reason (in [`FailReason::ALL`] order).
    pub failed: Vec<u64>,
    /// Median latency of the successes that finished in the window (ms).
    pub p50_ms: f64,
    /// 99th percentile of the same.
    pub p99_ms: f64,
    /// Largest replication lag at the window's end (ms), as MySQL reports it
    /// (`Seconds_Behind_Source`; NULL left out).
    pub max_lag_ms: f64,
    /// Largest true replication lag at the window's end (ms): events not yet received
    /// included.
    #[serde(default)]
    pub max_true_lag_ms: f64,
    /// Per component (in `component_names` order): up, queue length.
    pub components: Vec<(bool, u32)>,
}

/// The time series of the first replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Window length (s).
    pub window_s: f64,
    /// Failure reason names, in the order of [`WindowRow::failed`].
    pub reasons: Vec<String>,
    /// Component names, in the order of [`WindowRow::components`].
    pub component_names: Vec<String>,
    /// The windows.
    pub rows: Vec<WindowRow>,
    /// Fault intervals (start, end, label) for shading.
    pub faults: Vec<(f64, f64, String)>,
    /// Alerts (fired at, paged at, label), with monitoring.
    #[serde(default)]
    pub alerts: Vec<(f64, Option<f64>, String)>,
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Replications pooled in this report.
    pub replications: u32,
    /// Measured simulated time per replication (after warm-up).
    pub simulated_seconds: f64,
    /// Events processed, all replications.
    pub events: u64,
    /// Request counts, all replications pooled.
    pub requests: RequestCounts,
    /// succeeded / offered.
    pub availability: f64,
    /// Fraction of windows meeting the success threshold.
    pub time_availability: f64,
    /// Latency of successes.
    pub latency_ms: LatencySummary,
    /// Successes per simulated second (per replication).
    pub throughput_per_s: f64,
    /// Per class.
    pub classes: BTreeMap<String, ClassReport>,
    /// Per component.
    pub components: BTreeMap<String, ComponentReport>,
    /// The database tier, if any.
    pub database: Option<DatabaseReport>,
    /// Each fault occurrence (first replication).
    pub faults: Vec<FaultReport>,
    /// Outage intervals (first replication).
    pub outages: Vec<Outage>,
    /// With a `monitoring` section: alerts, pages, time to detect / acknowledge / repair.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operations: Option<OperationsReport>,
    /// With `clients.connections`: connections, handshakes, the LBs' CPU by kind of work,
    /// and the latency of a connection's first request against the others'.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connections: Option<ConnectionsReport>,
    /// With replications: mean and 95 % CI of each key metric across replications.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub confidence: BTreeMap<String, ConfidenceInterval>,
    /// Each key metric's value in each replication, in replication order (keys of
    /// [`Report::confidence`]): what paired comparisons between scenarios run with common
    /// random numbers need. Not part of the JSON report.
    #[serde(skip)]
    pub replicates: BTreeMap<String, Vec<f64>>,
    /// The time series (first replication); not part of the JSON report.
    #[serde(skip)]
    pub timeseries: Option<TimeSeries>,
    /// With an `attacks` section: each attack's traffic, where it was dropped, what was
    /// served (never counted in `requests`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub attacks: BTreeMap<String, AttackReport>,
    /// With a `firewalls` section: each firewall's flows and drops.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub firewalls: BTreeMap<String, FirewallReport>,
}

/// Builds the report of one or more replications from what each contributed, in
/// replication order (the first's details give the faults, outages and time series).
pub fn assemble(s: &Scenario, runs: &[Replication]) -> Report {
    let first = &runs[0];
    let n = runs.len();
    let measured_s = s.duration.as_secs_f64();
    let pooled = pooled::requests(runs);
    let time_avail: Vec<f64> = runs.iter().map(|r| r.time_availability).collect();
    let succeeded = pooled.counts.succeeded;
    let mut replicates = confidence::per_replication(s, runs);
    operations::replicates(s, runs, &mut replicates);
    let details = first.details.clone();
    Report {
        scenario: s.name.clone(),
        seed: s.seed,
        replications: n as u32,
        simulated_seconds: measured_s,
        events: runs.iter().map(|r| r.events).sum(),
        availability: ratio(succeeded, pooled.counts.offered),
        requests: pooled.counts,
        time_availability: time_avail.iter().sum::<f64>() / n as f64,
        latency_ms: pooled.latency.summary_ms(),
        throughput_per_s: succeeded as f64 / measured_s / n as f64,
        classes: pooled.classes,
        components: pooled::components(runs),
        database: pooled::database(runs).map(|mut d| {
            d.failover_list = details
                .as_ref()
                .map_or_else(Vec::new, |x| x.failovers.clone());
            d
        }),
        faults: details.as_ref().map_or_else(Vec::new, |d| d.faults.clone()),
        outages: details
            .as_ref()
            .map_or_else(Vec::new, |d| d.outages.clone()),
        operations: operations::report(s, runs),
        connections: connections::report(s, runs),
        confidence: confidence::intervals(&replicates),
        replicates,
        timeseries: details.map(|d| d.timeseries),
        attacks: security::attacks(runs),
        firewalls: security::firewalls(runs),
    }
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

fn reasons_map(failed: &[u64]) -> BTreeMap<String, u64> {
    FailReason::ALL
        .iter()
        .map(|r| (r.name().to_string(), failed[r.index()]))
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}
