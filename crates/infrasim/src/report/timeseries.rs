//! The time series of a replication: one row per window, or per group of consecutive
//! windows when the run has more than `MAX_ROWS` (requests, latency, replication lag, each
//! component's state), and the fault intervals to shade.

use super::{TimeSeries, WindowRow, secs};
use crate::model::call::FailReason;
use crate::model::measure::RunData;

/// The time series of the first replication.
pub(super) fn of(first: &RunData) -> TimeSeries {
    let windows = &first.metrics.rows;
    let (warmup_end, width) = (first.metrics.warmup_end, first.metrics.row_width());
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
            max_true_lag_ms: f64::from(w.max_true_lag_ms),
            components: first
                .metrics
                .component_series
                .get(i)
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    TimeSeries {
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
        alerts: first
            .ops
            .iter()
            .flat_map(|l| &l.alerts)
            .map(|a| {
                let about = a.about.map_or("service", |n| first.names.name(n));
                (
                    secs(a.fired_at),
                    a.notified_at.filter(|t| *t <= first.end).map(secs),
                    format!("{} {about}", a.name),
                )
            })
            .collect(),
    }
}
