//! Time-based availability: the share of available windows, and outages as maximal runs of
//! unavailable windows, as the run's ledger judged them (`model/windows.rs`).

use super::{Outage, secs};
use crate::model::measure::RunData;
use crate::model::windows::ALL_CLASSES;
use crate::scenario::Class;

/// The share of available windows of a replication, for one class or (`None`) every class
/// together; 1 when the run has no window.
pub(super) fn time_availability(run: &RunData, class: Option<Class>) -> f64 {
    let l = &run.metrics.ledger;
    if l.windows() == 0 {
        1.0
    } else {
        let track = class.map_or(ALL_CLASSES, Class::index);
        l.available(track) as f64 / l.windows() as f64
    }
}

/// Unavailable windows of a replication (every class together).
pub(super) fn unavailable_windows(run: &RunData) -> u64 {
    let l = &run.metrics.ledger;
    l.windows() - l.available(ALL_CLASSES)
}

/// The outages of a replication: overall (`all`), then per class.
pub(super) fn outages_of(first: &RunData) -> Vec<Outage> {
    let (warmup_end, width) = (first.metrics.warmup_end, first.metrics.window);
    let l = &first.metrics.ledger;
    let tracks = std::iter::once((ALL_CLASSES, "all"))
        .chain(Class::ALL.iter().map(|c| (c.index(), c.name())));
    let mut out = Vec::new();
    for (track, class) in tracks {
        out.extend(l.outages(track).iter().map(|o| Outage {
            start_s: secs(warmup_end.saturating_add(width * o.start)),
            end_s: secs(warmup_end.saturating_add(width * o.end)),
            class: class.to_string(),
            cause: o.cause.map_or("slow", |r| r.name()).to_string(),
        }));
    }
    out
}
