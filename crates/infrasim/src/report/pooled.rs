//! What is pooled over replications: requests and latency per class, each component's load,
//! the database tier's counts and replication lag.

use std::collections::BTreeMap;

use infrasim_engine::stats::Histogram;

use super::windows::time_availability;
use super::{
    ClassReport, ComponentReport, DatabaseReport, LagReport, RequestCounts, ratio, reasons_map,
};
use crate::model::call::FailReason;
use crate::model::measure::RunData;
use crate::model::metrics::Mark;
use crate::scenario::Class;

/// Requests pooled over replications: the counts, every success's latency, and each class.
pub(super) struct Requests {
    pub counts: RequestCounts,
    pub latency: Histogram,
    pub classes: BTreeMap<String, ClassReport>,
}

/// Requests pooled over replications, in total and per class (time availability per class
/// is the mean over replications).
pub(super) fn requests(runs: &[RunData]) -> Requests {
    let n = runs.len();
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
            t_avail += time_availability(r, Some(c));
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
    Requests {
        counts: RequestCounts {
            offered,
            succeeded,
            failed: reasons_map(&total_failed),
            in_flight,
        },
        latency,
        classes,
    }
}

/// Each component: utilization and queue averaged over replications, counts pooled.
pub(super) fn components(runs: &[RunData]) -> BTreeMap<String, ComponentReport> {
    let first = &runs[0];
    let n = runs.len();
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

    components
}

/// The database tier, if there is one.
pub(super) fn database(runs: &[RunData]) -> Option<DatabaseReport> {
    let first = &runs[0];
    let warmup_end = first.metrics.warmup_end;
    first.has_database.then(|| {
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
    })
}
