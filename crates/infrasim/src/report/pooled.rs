//! What is pooled over replications: requests and latency per class, each component's load,
//! the database tier's counts and replication lag.

use std::collections::BTreeMap;

use infrasim_engine::stats::Histogram;

use super::replication::{DatabaseTally, Replication};
use super::{
    ClassReport, ComponentReport, DatabaseReport, LagReport, LostWrites, RequestCounts, ratio,
    reasons_map,
};
use crate::model::call::FailReason;
use crate::scenario::Class;

/// Requests pooled over replications: the counts, every success's latency, and each class.
pub(super) struct Requests {
    pub counts: RequestCounts,
    pub latency: Histogram,
    pub classes: BTreeMap<String, ClassReport>,
}

/// Requests pooled over replications, in total and per class (time availability per class
/// is the mean over replications).
pub(super) fn requests(runs: &[Replication]) -> Requests {
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
            let cs = &r.classes[c.index()];
            h.merge(&cs.latency);
            o += cs.offered;
            ok += cs.succeeded;
            fl += cs.in_flight;
            for (f, x) in failed.iter_mut().zip(cs.failed.iter()) {
                *f += x;
            }
            t_avail += cs.time_availability;
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
pub(super) fn components(runs: &[Replication]) -> BTreeMap<String, ComponentReport> {
    let first = &runs[0];
    let n = runs.len();
    let mut components = BTreeMap::new();
    for (ci, c0) in first.components.iter().enumerate() {
        let mut util = 0.0;
        let mut mq = 0.0;
        let mut maxq = 0;
        let (mut served, mut rejected) = (0, 0);
        let mut routed = BTreeMap::new();
        for r in runs {
            let c = &r.components[ci];
            util += c.utilization;
            mq += c.mean_queue;
            maxq = maxq.max(c.max_queue);
            served += c.served;
            rejected += c.rejected;
            for (server, count) in &c.routed {
                *routed.entry(server.clone()).or_insert(0) += count;
            }
        }
        components.insert(
            c0.name.clone(),
            ComponentReport {
                kind: c0.kind.clone(),
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
pub(super) fn database(runs: &[Replication]) -> Option<DatabaseReport> {
    let dbs: Vec<_> = runs.iter().filter_map(|r| r.database.as_ref()).collect();
    runs[0].database.as_ref().map(|_| {
        let (mut lag, mut true_lag) = (Histogram::new(), Histogram::new());
        for d in &dbs {
            lag.merge(&d.lag);
            true_lag.merge(&d.true_lag);
        }
        let sum = |f: &dyn Fn(&DatabaseTally) -> u64| dbs.iter().map(|d| f(d)).sum::<u64>();
        let lag_report = |h: &Histogram| LagReport {
            mean: h.mean().unwrap_or(0.0) / 1e6,
            p99: h.quantile(0.99).unwrap_or(0) as f64 / 1e6,
            max: h.max().unwrap_or(0) as f64 / 1e6,
        };
        let reads: u64 = dbs.iter().map(|d| d.reads).sum();
        let stale: u64 = dbs.iter().map(|d| d.stale_reads).sum();
        DatabaseReport {
            lost_writes: dbs.iter().map(|d| d.lost_writes).sum(),
            stale_reads: stale,
            stale_read_ratio: if reads == 0 {
                0.0
            } else {
                stale as f64 / reads as f64
            },
            read_your_writes_violations: sum(&|d| d.ryw_violations),
            replication_lag_ms: lag_report(&lag),
            true_replication_lag_ms: lag_report(&true_lag),
            lag_null_samples: sum(&|d| d.lag_null),
            lost_writes_by_reason: LostWrites {
                not_received: sum(&|d| d.lost_not_received),
                discarded_at_promotion: sum(&|d| d.lost_discarded),
                split_brain: sum(&|d| d.lost_split_brain),
            },
            split_brain_writes: sum(&|d| d.split_brain_writes),
            divergent_keys: sum(&|d| d.divergent_keys),
            failovers: sum(&|d| d.failovers),
            semi_sync_fallbacks: sum(&|d| d.semi_sync_fallbacks),
            failover_list: Vec::new(),
        }
    })
}
