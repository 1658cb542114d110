//! Each fault occurrence's story: when it was injected, what noticed it and when, when it
//! ended, the unavailable time and failed requests while it lasted, the writes lost in the
//! failover it caused.

use infrasim_engine::SimTime;

use super::{FaultReport, secs};
use crate::model::measure::RunData;
use crate::model::metrics::Mark;
use crate::model::vocabulary::Node;
use crate::scenario::{Names, Scenario};

/// The first replication's fault occurrences. A fault is charged the windows from its
/// injection to its end plus the client timeout (requests offered then may still fail
/// because of it).
pub(super) fn reports(s: &Scenario, first: &RunData) -> Vec<FaultReport> {
    let ledger = &first.metrics.ledger;
    let n_windows = ledger.windows();
    let (warmup_end, width) = (first.metrics.warmup_end, first.metrics.window);
    let grace = s.clients.timeout;
    let mut faults = Vec::new();
    for (o, label, target, node) in &first.occurrences {
        let until = o.recovered_at.unwrap_or(first.end).saturating_add(grace);
        let w_of = |t: SimTime| t.saturating_since(warmup_end).as_nanos() / width.as_nanos();
        let (a, b) = if o.injected_at < warmup_end && until < warmup_end {
            (0, 0)
        } else {
            (
                w_of(o.injected_at.max(warmup_end)),
                (w_of(until) + 1).min(n_windows),
            )
        };
        let a = a.min(b);
        let failed_requests = ledger.failures_in(a, b);
        let downtime = ledger.unavailable_in(a, b) as f64 * width.as_secs_f64();
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
            alert: o.noticed.alert.map(|a| a.1.to_string()),
            alerted_at_s: o.noticed.alert.map(|a| secs(a.0)),
            notified_at_s: o.noticed.notified_at.map(secs),
            acknowledged_at_s: o.noticed.acked_at.filter(|t| *t <= first.end).map(secs),
            repair_started_at_s: o.noticed.repair_started_at.map(secs),
        });
    }

    faults
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
