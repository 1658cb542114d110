//! Confidence intervals across replications: the 95 % interval of each key metric, from
//! one value per replication (Student's t).

use std::collections::BTreeMap;

use infrasim_engine::stats::ConfidenceInterval;

use super::ratio;
use super::replication::Replication;
use crate::scenario::{Class, Scenario};

/// The intervals of the metrics measured by more than one replication, keyed by the
/// metric's path in the report (`availability`, `latency_ms.p99`,
/// `classes.write.availability`, …).
pub(super) fn intervals(
    values: &BTreeMap<String, Vec<f64>>,
) -> BTreeMap<String, ConfidenceInterval> {
    values
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k.clone(), ConfidenceInterval::from_samples(v, 0.95)))
        .collect()
}

/// Each key metric's value in each replication, keyed as [`intervals`]' result.
pub(super) fn per_replication(s: &Scenario, runs: &[Replication]) -> BTreeMap<String, Vec<f64>> {
    let first = &runs[0];
    let measured_s = s.duration.as_secs_f64();
    let per_rep = |f: &dyn Fn(&Replication) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
    let mut values = BTreeMap::new();
    values.insert(
        "availability".into(),
        per_rep(&|r| {
            let o: u64 = r.classes.iter().map(|c| c.offered).sum();
            let k: u64 = r.classes.iter().map(|c| c.succeeded).sum();
            ratio(k, o)
        }),
    );
    values.insert(
        "time_availability".into(),
        per_rep(&|r| r.time_availability),
    );
    let latency: Vec<_> = runs.iter().map(Replication::latency_all).collect();
    values.insert(
        "latency_ms.mean".into(),
        latency
            .iter()
            .map(|h| h.mean().unwrap_or(0.0) / 1e6)
            .collect(),
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        values.insert(
            format!("latency_ms.{name}"),
            latency
                .iter()
                .map(|h| h.quantile(q).unwrap_or(0) as f64 / 1e6)
                .collect(),
        );
    }
    values.insert(
        "throughput_per_s".into(),
        per_rep(&|r| r.classes.iter().map(|c| c.succeeded).sum::<u64>() as f64 / measured_s),
    );
    for c in Class::ALL {
        let v = per_rep(&|r| {
            let cs = &r.classes[c.index()];
            ratio(cs.succeeded, cs.offered)
        });
        values.insert(format!("classes.{}.availability", c.name()), v);
    }
    values.insert("downtime_s".into(), per_rep(&|r| r.downtime_s));
    if first.database.is_some() {
        let db = |f: &dyn Fn(&super::replication::DatabaseTally) -> u64| {
            per_rep(&|r| r.database.as_ref().map_or(0.0, |d| f(d) as f64))
        };
        values.insert("database.lost_writes".into(), db(&|d| d.lost_writes));
        values.insert("database.stale_reads".into(), db(&|d| d.stale_reads));
    }
    values
}
