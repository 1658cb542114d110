//! The report: what a run (or a set of replications) measured, as Rust values that serialize
//! to the stable JSON contract documented in `docs/report-format.md`.
//!
//! Every map is a `BTreeMap` and every list is in a fixed order, so the same scenario and
//! seed give byte-identical JSON on any machine and at any thread count.

use std::collections::BTreeMap;

use infrasim_engine::stats::{ConfidenceInterval, Histogram, LatencySummary};
use infrasim_engine::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

use crate::model::call::FailReason;
use crate::model::measure::RunData;
use crate::model::metrics::{Mark, Window};
use crate::model::vocabulary::Node;
use crate::scenario::{Class, Names, Scenario};

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
    /// Replication lag (ms).
    pub replication_lag_ms: LagReport,
    /// Replica promotions.
    pub failovers: u64,
    /// Times semi-sync fell back to async.
    pub semi_sync_fallbacks: u64,
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
    /// Largest replication lag at the window's end (ms).
    pub max_lag_ms: f64,
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
    /// With replications: mean and 95 % CI of each key metric across replications.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub confidence: BTreeMap<String, ConfidenceInterval>,
    /// The time series (first replication); not part of the JSON report.
    #[serde(skip)]
    pub timeseries: Option<TimeSeries>,
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

/// Window availability per class (or all classes with `None`): the success ratio of the
/// requests offered in the window that have ended (requests still in flight at the end of
/// the run are not held against it). Windows where nothing ended take the state of the
/// window before: no traffic is not evidence of health when clients are stuck.
fn window_ok(windows: &[Window], class: Option<Class>, threshold: f64) -> Vec<bool> {
    let mut out = Vec::with_capacity(windows.len());
    let mut prev = true;
    for w in windows {
        let (ended, ok) = match class {
            Some(c) => (
                w.succeeded[c.index()] + w.failed_by_class[c.index()],
                w.succeeded[c.index()],
            ),
            None => (
                w.succeeded.iter().sum::<u32>() + w.failed.iter().sum::<u32>(),
                w.succeeded.iter().sum(),
            ),
        };
        let state = if ended == 0 {
            prev
        } else {
            f64::from(ok) / f64::from(ended) >= threshold
        };
        out.push(state);
        prev = state;
    }
    out
}

fn frac_true(v: &[bool]) -> f64 {
    if v.is_empty() {
        1.0
    } else {
        v.iter().filter(|x| **x).count() as f64 / v.len() as f64
    }
}

fn outages(
    windows: &[Window],
    ok: &[bool],
    class: &str,
    start: SimTime,
    width: SimDuration,
) -> Vec<Outage> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ok.len() {
        if ok[i] {
            i += 1;
            continue;
        }
        let j = (i..ok.len()).find(|k| ok[*k]).unwrap_or(ok.len());
        let mut counts = [0u64; FailReason::ALL.len()];
        for w in &windows[i..j] {
            for (c, x) in counts.iter_mut().zip(w.failed.iter()) {
                *c += u64::from(*x);
            }
        }
        let top = FailReason::ALL
            .iter()
            .max_by_key(|r| (counts[r.index()], std::cmp::Reverse(r.index())))
            .map_or("unknown", |r| {
                if counts[r.index()] == 0 {
                    "slow"
                } else {
                    r.name()
                }
            });
        out.push(Outage {
            start_s: secs(start.saturating_add(width * i as u64)),
            end_s: secs(start.saturating_add(width * j as u64)),
            class: class.to_string(),
            cause: top.to_string(),
        });
        i = j;
    }
    out
}

/// Builds the report of one or more replications.
pub(crate) fn assemble(s: &Scenario, runs: &[RunData]) -> Report {
    let first = &runs[0];
    let n = runs.len();
    let warmup_end = first.metrics.warmup_end;
    let width = first.metrics.window;
    let per_rep = |f: &dyn Fn(&RunData) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };

    // Pooled counts and histograms.
    let mut classes = BTreeMap::new();
    let mut total_failed = vec![0u64; FailReason::ALL.len()];
    let (mut offered, mut succeeded, mut in_flight) = (0, 0, 0);
    let mut latency = Histogram::new();
    for c in Class::ALL {
        let mut h = Histogram::new();
        let mut failed = vec![0u64; FailReason::ALL.len()];
        let (mut o, mut ok, mut fl) = (0, 0, 0);
        let mut t_avail = 0.0;
        for r in runs {
            let cs = &r.metrics.classes[c.index()];
            h.merge(&cs.latency);
            o += cs.offered;
            ok += cs.succeeded;
            fl += r.in_flight[c.index()];
            for (f, x) in failed.iter_mut().zip(cs.failed.iter()) {
                *f += x;
            }
            t_avail += frac_true(&window_ok(&r.metrics.windows, Some(c), s.window_threshold));
        }
        for (t, f) in total_failed.iter_mut().zip(&failed) {
            *t += f;
        }
        offered += o;
        succeeded += ok;
        in_flight += fl;
        latency.merge(&h);
        classes.insert(
            c.name().to_string(),
            ClassReport {
                offered: o,
                succeeded: ok,
                failed: reasons_map(&failed),
                in_flight: fl,
                availability: ratio(ok, o),
                time_availability: t_avail / n as f64,
                latency_ms: h.summary_ms(),
            },
        );
    }
    let time_avail =
        per_rep(&|r| frac_true(&window_ok(&r.metrics.windows, None, s.window_threshold)));
    let measured_s = s.duration.as_secs_f64();

    // Components: utilization etc. averaged over replications, counts pooled.
    let mut components = BTreeMap::new();
    for (ci, c0) in first.components.iter().enumerate() {
        let mut util = 0.0;
        let mut mq = 0.0;
        let mut maxq = 0;
        let (mut served, mut rejected) = (0, 0);
        for r in runs {
            let c = &r.components[ci];
            util += c.busy.mean(r.end) / f64::from(c.capacity.max(1));
            mq += c.queued.mean(r.end);
            maxq = maxq.max(c.queued.max());
            served += c.served;
            rejected += c.rejected;
        }
        let mut routed = BTreeMap::new();
        for r in runs {
            for ((lb, server), count) in &r.metrics.routed {
                if r.names.name(*lb) == c0.name {
                    *routed.entry(r.names.name(*server).to_string()).or_insert(0) += count;
                }
            }
        }
        components.insert(
            c0.name.clone(),
            ComponentReport {
                kind: c0.kind.to_string(),
                utilization: util / n as f64,
                mean_queue: mq / n as f64,
                max_queue: maxq,
                served,
                rejected,
                routed,
            },
        );
    }

    let database = first.has_database.then(|| {
        let mut lag = Histogram::new();
        for r in runs {
            lag.merge(&r.metrics.lag);
        }
        let reads: u64 = runs.iter().map(|r| r.metrics.db_reads).sum();
        let stale: u64 = runs.iter().map(|r| r.metrics.stale_reads).sum();
        let count = |f: &dyn Fn(&Mark) -> bool| {
            runs.iter()
                .map(|r| r.metrics.marks.iter().filter(|m| f(m)).count() as u64)
                .sum()
        };
        DatabaseReport {
            lost_writes: runs.iter().map(|r| r.metrics.lost_writes).sum(),
            stale_reads: stale,
            stale_read_ratio: if reads == 0 {
                0.0
            } else {
                stale as f64 / reads as f64
            },
            read_your_writes_violations: runs.iter().map(|r| r.metrics.ryw_violations).sum(),
            replication_lag_ms: LagReport {
                mean: lag.mean().unwrap_or(0.0) / 1e6,
                p99: lag.quantile(0.99).unwrap_or(0) as f64 / 1e6,
                max: lag.max().unwrap_or(0) as f64 / 1e6,
            },
            failovers: count(&|m| matches!(m, Mark::Failover { at, .. } if *at >= warmup_end)),
            semi_sync_fallbacks: count(
                &|m| matches!(m, Mark::SemiSyncFallback { at } if *at >= warmup_end),
            ),
        }
    });

    // Faults and outages of the first replication.
    let windows = &first.metrics.windows;
    let all_ok = window_ok(windows, None, s.window_threshold);
    let mut out = outages(windows, &all_ok, "all", warmup_end, width);
    for c in Class::ALL {
        let ok = window_ok(windows, Some(c), s.window_threshold);
        out.extend(outages(windows, &ok, c.name(), warmup_end, width));
    }
    let grace = s.clients.timeout;
    let mut faults = Vec::new();
    for (o, label, target, node) in &first.occurrences {
        let until = o.recovered_at.unwrap_or(first.end).saturating_add(grace);
        let w_of =
            |t: SimTime| (t.saturating_since(warmup_end).as_nanos() / width.as_nanos()) as usize;
        let (a, b) = if o.injected_at < warmup_end && until < warmup_end {
            (0, 0)
        } else {
            (
                w_of(o.injected_at.max(warmup_end)),
                (w_of(until) + 1).min(windows.len()),
            )
        };
        let a = a.min(b);
        let failed_requests = windows[a..b]
            .iter()
            .map(|w| w.failed.iter().map(|x| u64::from(*x)).sum::<u64>())
            .sum();
        let downtime = all_ok[a..b].iter().filter(|x| !**x).count() as f64 * width.as_secs_f64();
        let det = node.and_then(|nd| {
            detection(
                &first.metrics.marks,
                &first.names,
                nd,
                o.injected_at,
                o.recovered_at.unwrap_or(first.end),
            )
        });
        let lost = node.map_or(0, |nd| {
            first
                .metrics
                .marks
                .iter()
                .filter_map(|m| match m {
                    Mark::Failover { at, old, lost, .. }
                        if *old == nd && *at >= o.injected_at && *at <= until =>
                    {
                        Some(*lost)
                    }
                    _ => None,
                })
                .sum()
        });
        faults.push(FaultReport {
            fault: label.clone(),
            target: target.clone(),
            injected_at_s: secs(o.injected_at),
            detected_at_s: det.as_ref().map(|d| secs(d.0)),
            detected_by: det.map(|d| d.1),
            recovered_at_s: o.recovered_at.map(secs),
            downtime_s: downtime,
            failed_requests,
            lost_writes: lost,
        });
    }

    // Confidence intervals across replications.
    let mut confidence = BTreeMap::new();
    if n > 1 {
        let ci = |v: Vec<f64>| ConfidenceInterval::from_samples(&v, 0.95);
        let avail = per_rep(&|r| {
            let o: u64 = r.metrics.classes.iter().map(|c| c.offered).sum();
            let k: u64 = r.metrics.classes.iter().map(|c| c.succeeded).sum();
            ratio(k, o)
        });
        confidence.insert("availability".into(), ci(avail));
        confidence.insert("time_availability".into(), ci(time_avail.clone()));
        confidence.insert(
            "latency_ms.mean".into(),
            ci(per_rep(&|r| r.latency_all.mean().unwrap_or(0.0) / 1e6)),
        );
        for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            confidence.insert(
                format!("latency_ms.{name}"),
                ci(per_rep(&|r| {
                    r.latency_all.quantile(q).unwrap_or(0) as f64 / 1e6
                })),
            );
        }
        confidence.insert(
            "throughput_per_s".into(),
            ci(per_rep(&|r| {
                r.metrics.classes.iter().map(|c| c.succeeded).sum::<u64>() as f64 / measured_s
            })),
        );
        for c in Class::ALL {
            let v = per_rep(&|r| {
                let cs = &r.metrics.classes[c.index()];
                ratio(cs.succeeded, cs.offered)
            });
            confidence.insert(format!("classes.{}.availability", c.name()), ci(v));
        }
        confidence.insert(
            "downtime_s".into(),
            ci(per_rep(&|r| {
                let ok = window_ok(&r.metrics.windows, None, s.window_threshold);
                ok.iter().filter(|x| !**x).count() as f64 * width.as_secs_f64()
            })),
        );
        if first.has_database {
            confidence.insert(
                "database.lost_writes".into(),
                ci(per_rep(&|r| r.metrics.lost_writes as f64)),
            );
            confidence.insert(
                "database.stale_reads".into(),
                ci(per_rep(&|r| r.metrics.stale_reads as f64)),
            );
        }
    }

    // Time series of the first replication.
    let mut comp_names: Vec<String> = Vec::new();
    comp_names.extend(first.names.lb.iter().cloned());
    comp_names.extend(first.names.web.iter().cloned());
    comp_names.extend(first.names.app.iter().cloned());
    comp_names.extend(first.names.db.iter().cloned());
    let rows = windows
        .iter()
        .enumerate()
        .map(|(i, w)| WindowRow {
            t_s: secs(warmup_end.saturating_add(width * i as u64)),
            offered: w.offered.iter().map(|x| u64::from(*x)).sum(),
            succeeded: w.succeeded.iter().map(|x| u64::from(*x)).sum(),
            failed: w.failed.iter().map(|x| u64::from(*x)).collect(),
            p50_ms: f64::from(w.p50_ms),
            p99_ms: f64::from(w.p99_ms),
            max_lag_ms: f64::from(w.max_lag_ms),
            components: first
                .metrics
                .component_series
                .get(i)
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    let timeseries = TimeSeries {
        window_s: width.as_secs_f64(),
        reasons: FailReason::ALL
            .iter()
            .map(|r| r.name().to_string())
            .collect(),
        component_names: comp_names,
        rows,
        faults: first
            .occurrences
            .iter()
            .map(|(o, label, target, _)| {
                (
                    secs(o.injected_at),
                    secs(o.recovered_at.unwrap_or(first.end)),
                    format!("{label} {target}"),
                )
            })
            .collect(),
    };

    Report {
        scenario: s.name.clone(),
        seed: s.seed,
        replications: n as u32,
        simulated_seconds: measured_s,
        events: runs.iter().map(|r| r.events).sum(),
        requests: RequestCounts {
            offered,
            succeeded,
            failed: reasons_map(&total_failed),
            in_flight,
        },
        availability: ratio(succeeded, offered),
        time_availability: time_avail.iter().sum::<f64>() / n as f64,
        latency_ms: latency.summary_ms(),
        throughput_per_s: succeeded as f64 / measured_s / n as f64,
        classes,
        components,
        database,
        faults,
        outages: out,
        confidence,
        timeseries: Some(timeseries),
    }
}

/// What detected a fault occurrence on `node` after `at`, and when.
fn detection(
    marks: &[Mark],
    names: &Names,
    node: Node,
    at: SimTime,
    until: SimTime,
) -> Option<(SimTime, String)> {
    // Only what noticed this occurrence while it lasted: a fault that healed before anyone
    // noticed was not detected (a later occurrence's detection is not its).
    let during = |t: &SimTime| *t >= at && *t <= until;
    marks.iter().find_map(|m| match m {
        Mark::Belief {
            at: t,
            lb,
            server,
            up: false,
        } if *server == node && during(t) => {
            Some((*t, format!("health checks of {}", names.name(*lb))))
        }
        Mark::Takeover { at: t, from, to } if *from == node && during(t) => {
            Some((*t, format!("VRRP takeover by {}", names.name(*to))))
        }
        Mark::Detected { at: t, node: n } if *n == node && during(t) => {
            Some((*t, "failover manager".to_string()))
        }
        _ => None,
    })
}
