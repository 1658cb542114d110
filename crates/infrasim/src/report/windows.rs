//! Time-based availability: each window available or not, and outages as maximal runs of
//! unavailable windows.

use infrasim_engine::{SimDuration, SimTime};

use super::{Outage, secs};
use crate::model::call::FailReason;
use crate::model::measure::RunData;
use crate::model::metrics::Window;
use crate::scenario::{Class, Scenario};

/// Window availability per class (or all classes with `None`): the success ratio of the
/// requests offered in the window that have ended (requests still in flight at the end of
/// the run are not held against it). Windows where nothing ended take the state of the
/// window before: no traffic is not evidence of health when clients are stuck.
pub(super) fn window_ok(windows: &[Window], class: Option<Class>, threshold: f64) -> Vec<bool> {
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

pub(super) fn frac_true(v: &[bool]) -> f64 {
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

/// The outages of a replication: overall (`all`), then per class.
pub(super) fn outages_of(s: &Scenario, first: &RunData, all_ok: &[bool]) -> Vec<Outage> {
    let windows = &first.metrics.windows;
    let (warmup_end, width) = (first.metrics.warmup_end, first.metrics.window);
    let mut out = outages(windows, all_ok, "all", warmup_end, width);
    for c in Class::ALL {
        let ok = window_ok(windows, Some(c), s.window_threshold);
        out.extend(outages(windows, &ok, c.name(), warmup_end, width));
    }
    out
}
