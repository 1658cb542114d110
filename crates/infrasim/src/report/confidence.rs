//! Confidence intervals across replications: the 95 % interval of each key metric, from
//! one value per replication (Student's t).

use std::collections::BTreeMap;

use infrasim_engine::stats::ConfidenceInterval;

use super::ratio;
use super::windows::unavailable_windows;
use crate::model::measure::RunData;
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
/// `time_avail` holds each replication's time availability.
pub(super) fn per_replication(
    s: &Scenario,
    runs: &[RunData],
    time_avail: &[f64],
) -> BTreeMap<String, Vec<f64>> {
    let first = &runs[0];
    let width = first.metrics.window;
    let measured_s = s.duration.as_secs_f64();
    let per_rep = |f: &dyn Fn(&RunData) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
    let mut values = BTreeMap::new();
    values.insert(
        "availability".into(),
        per_rep(&|r| {
            let o: u64 = r.metrics.classes.iter().map(|c| c.offered).sum();
            let k: u64 = r.metrics.classes.iter().map(|c| c.succeeded).sum();
            ratio(k, o)
        }),
    );
    values.insert("time_availability".into(), time_avail.to_vec());
    values.insert(
        "latency_ms.mean".into(),
        per_rep(&|r| r.latency_all.mean().unwrap_or(0.0) / 1e6),
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        values.insert(
            format!("latency_ms.{name}"),
            per_rep(&|r| r.latency_all.quantile(q).unwrap_or(0) as f64 / 1e6),
        );
    }
    values.insert(
        "throughput_per_s".into(),
        per_rep(&|r| {
            r.metrics.classes.iter().map(|c| c.succeeded).sum::<u64>() as f64 / measured_s
        }),
    );
    for c in Class::ALL {
        let v = per_rep(&|r| {
            let cs = &r.metrics.classes[c.index()];
            ratio(cs.succeeded, cs.offered)
        });
        values.insert(format!("classes.{}.availability", c.name()), v);
    }
    values.insert(
        "downtime_s".into(),
        per_rep(&|r| unavailable_windows(r) as f64 * width.as_secs_f64()),
    );
    if first.has_database {
        values.insert(
            "database.lost_writes".into(),
            per_rep(&|r| r.metrics.lost_writes as f64),
        );
        values.insert(
            "database.stale_reads".into(),
            per_rep(&|r| r.metrics.stale_reads as f64),
        );
    }
    values
}
