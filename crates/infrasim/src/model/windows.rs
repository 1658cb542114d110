//! Time-based availability, window by window, computed as requests end: memory and time in
//! proportion to the requests, not to the windows.
//!
//! A window is judged by the requests *offered* in it that have ended (whenever they ended):
//! it is available when their success ratio meets the threshold; a window where nothing
//! ended takes the state of the window before (no traffic is not evidence of health when
//! clients are stuck); requests still in flight at the end of the run are not held against
//! it. So a window can be judged once every request offered in it has ended and no request
//! can still be offered in it. [`Ledger`] keeps only the windows that saw traffic and are
//! not judged yet (a handful: the client timeout bounds how long a request lives), judges
//! them in order, and folds each into what the report needs: the number of available
//! windows per class, the outages as intervals of windows with their cause, and the windows
//! that saw failures. A run of windows without traffic is judged in one step.

use std::collections::VecDeque;

use crate::model::call::FailReason;
use crate::scenario::Class;

const REASONS: usize = FailReason::ALL.len();
/// Tracks: every class together (`ALL_CLASSES`), then each class by its index.
const TRACKS: usize = 4;
/// The track of every class together.
pub(crate) const ALL_CLASSES: usize = 3;

/// A window that saw traffic and is not judged yet.
#[derive(Clone, Debug)]
struct Open {
    index: u64,
    succeeded: [u32; 3],
    failed_by_class: [u32; 3],
    failed: [u32; REASONS],
    /// Requests offered in the window and not ended yet.
    pending: u32,
}

/// A maximal run of unavailable windows `[start, end)` (window indices) and its cause: the
/// most frequent failure reason of the requests offered in it (every class counted), `None`
/// when none failed (they were slow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutageSpan {
    pub start: u64,
    pub end: u64,
    pub cause: Option<FailReason>,
}

/// One track's judgement so far (every class together, or one class).
#[derive(Clone, Debug)]
struct Track {
    /// The state of the last judged window (the first window's predecessor counts as up).
    up: bool,
    /// Available windows so far.
    available: u64,
    /// The outage in progress: its first window and the failures of its windows so far.
    open_outage: Option<(u64, [u64; REASONS])>,
    outages: Vec<OutageSpan>,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            up: true,
            available: 0,
            open_outage: None,
            outages: Vec::new(),
        }
    }
}

impl Track {
    /// Judges `count` windows from `start` that all have the state `up`; `failed` are the
    /// failures of the (single) window when it saw traffic.
    fn judge(&mut self, start: u64, count: u64, up: bool, failed: &[u32; REASONS]) {
        if count == 0 {
            return;
        }
        self.up = up;
        if up {
            self.available += count;
            self.close(start);
        } else {
            let (_, sum) = self.open_outage.get_or_insert((start, [0; REASONS]));
            for (s, f) in sum.iter_mut().zip(failed) {
                *s += u64::from(*f);
            }
        }
    }

    /// Ends the outage in progress, if any, at window `end`.
    fn close(&mut self, end: u64) {
        if let Some((start, counts)) = self.open_outage.take() {
            // The most frequent reason; ties go to the reason listed first.
            let cause = FailReason::ALL
                .iter()
                .max_by_key(|r| (counts[r.index()], std::cmp::Reverse(r.index())))
                .filter(|r| counts[r.index()] > 0)
                .copied();
            self.outages.push(OutageSpan { start, end, cause });
        }
    }
}

/// The windows of one replication, judged as their requests end.
#[derive(Clone, Debug)]
pub(crate) struct Ledger {
    /// Windows in the measured period.
    windows: u64,
    threshold: f64,
    /// Windows with traffic not judged yet, by increasing index.
    open: VecDeque<Open>,
    /// The first window not judged yet.
    next: u64,
    tracks: [Track; TRACKS],
    /// Windows whose requests saw failures: (window, failures), by increasing window.
    failures: Vec<(u64, u32)>,
}

impl Ledger {
    /// A ledger of `windows` windows, available when the success ratio is ≥ `threshold`.
    pub(crate) fn new(windows: u64, threshold: f64) -> Self {
        Ledger {
            windows,
            threshold,
            open: VecDeque::new(),
            next: 0,
            tracks: Default::default(),
            failures: Vec::new(),
        }
    }

    /// Windows in the measured period.
    pub(crate) fn windows(&self) -> u64 {
        self.windows
    }

    /// A request offered in window `w`.
    pub(crate) fn offered(&mut self, w: u64) {
        match self.open.back_mut() {
            Some(o) if o.index == w => o.pending += 1,
            _ => {
                debug_assert!(self.open.back().is_none_or(|o| o.index < w));
                self.open.push_back(Open {
                    index: w,
                    succeeded: [0; 3],
                    failed_by_class: [0; 3],
                    failed: [0; REASONS],
                    pending: 1,
                });
            }
        }
    }

    /// A request offered in window `w` ended (`failed`: with this reason), while requests
    /// are being offered in window `now_w`.
    pub(crate) fn ended(&mut self, w: u64, class: Class, failed: Option<FailReason>, now_w: u64) {
        let Ok(at) = self.open.binary_search_by_key(&w, |o| o.index) else {
            debug_assert!(false, "a request ended in window {w}, which is not open");
            return;
        };
        let o = &mut self.open[at];
        o.pending -= 1;
        match failed {
            None => o.succeeded[class.index()] += 1,
            Some(r) => {
                o.failed[r.index()] += 1;
                o.failed_by_class[class.index()] += 1;
            }
        }
        self.judge_ready(now_w);
    }

    /// Judges the oldest windows whose requests have all ended, up to (not including) the
    /// window `now_w`, where requests may still be offered.
    pub(crate) fn judge_ready(&mut self, now_w: u64) {
        while let Some(o) = self.open.front() {
            if o.pending > 0 || o.index >= now_w {
                break;
            }
            let o = self.open.pop_front().expect("front exists");
            self.judge(&o);
        }
    }

    /// Judges every window left (requests still in flight are not held against theirs).
    pub(crate) fn finish(&mut self) {
        while let Some(o) = self.open.pop_front() {
            self.judge(&o);
        }
        let rest = self.windows.saturating_sub(self.next);
        for t in &mut self.tracks {
            let up = t.up;
            t.judge(self.next, rest, up, &[0; REASONS]);
            t.close(self.windows);
        }
        self.next = self.windows;
    }

    fn judge(&mut self, o: &Open) {
        let gap = o.index - self.next;
        for (k, t) in self.tracks.iter_mut().enumerate() {
            let up = t.up;
            t.judge(self.next, gap, up, &[0; REASONS]);
            let (ended, ok) = if k == ALL_CLASSES {
                let ok: u32 = o.succeeded.iter().sum();
                (ok + o.failed.iter().sum::<u32>(), ok)
            } else {
                (o.succeeded[k] + o.failed_by_class[k], o.succeeded[k])
            };
            let state = if ended == 0 {
                t.up
            } else {
                f64::from(ok) / f64::from(ended) >= self.threshold
            };
            t.judge(o.index, 1, state, &o.failed);
        }
        let failed: u32 = o.failed.iter().sum();
        if failed > 0 {
            self.failures.push((o.index, failed));
        }
        self.next = o.index + 1;
    }

    /// Available windows of a track (`ALL_CLASSES` or a class index), after [`finish`].
    ///
    /// [`finish`]: Ledger::finish
    pub(crate) fn available(&self, track: usize) -> u64 {
        self.tracks[track].available
    }

    /// Outages of a track, in time order, after [`finish`](Ledger::finish).
    pub(crate) fn outages(&self, track: usize) -> &[OutageSpan] {
        &self.tracks[track].outages
    }

    /// Failures of the requests offered in windows `[a, b)`.
    pub(crate) fn failures_in(&self, a: u64, b: u64) -> u64 {
        let from = self.failures.partition_point(|(w, _)| *w < a);
        self.failures[from..]
            .iter()
            .take_while(|(w, _)| *w < b)
            .map(|(_, f)| u64::from(*f))
            .sum()
    }

    /// Unavailable windows (every class together) in `[a, b)`.
    pub(crate) fn unavailable_in(&self, a: u64, b: u64) -> u64 {
        self.tracks[ALL_CLASSES]
            .outages
            .iter()
            .map(|o| o.end.min(b).saturating_sub(o.start.max(a)))
            .sum()
    }

    /// Windows not judged yet that saw traffic (what the ledger holds in memory).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: FailReason = FailReason::ALL[0];

    /// The reference: the state of every window, as the report once computed it from a
    /// vector of every window.
    fn reference(per_window: &[(u32, u32)], threshold: f64) -> Vec<bool> {
        let mut prev = true;
        per_window
            .iter()
            .map(|&(ok, ended)| {
                if ended > 0 {
                    prev = f64::from(ok) / f64::from(ended) >= threshold;
                }
                prev
            })
            .collect()
    }

    #[test]
    fn judged_windows_match_the_window_by_window_definition() {
        // Windows: traffic in 0, 2 (one failure of two), 3 (all fail), 7 (all ok); 10 windows.
        let mut l = Ledger::new(10, 0.99);
        let reqs: [(u64, bool); 6] = [
            (0, true),
            (2, true),
            (2, false),
            (3, false),
            (3, false),
            (7, true),
        ];
        for (w, ok) in reqs {
            l.offered(w);
            l.ended(w, Class::Read, (!ok).then_some(T), w);
        }
        l.finish();
        let per_window = [
            (1, 1),
            (0, 0),
            (1, 2),
            (0, 2),
            (0, 0),
            (0, 0),
            (0, 0),
            (1, 1),
            (0, 0),
            (0, 0),
        ];
        let states = reference(&per_window, 0.99);
        let available = states.iter().filter(|s| **s).count() as u64;
        assert_eq!(available, 5);
        assert_eq!(l.available(ALL_CLASSES), available);
        assert_eq!(l.available(Class::Read.index()), available);
        // Static saw nothing: every window inherits "up".
        assert_eq!(l.available(Class::Static.index()), 10);
        assert_eq!(
            l.outages(ALL_CLASSES),
            &[OutageSpan {
                start: 2,
                end: 7,
                cause: Some(T)
            }]
        );
        assert_eq!(l.failures_in(0, 10), 3);
        assert_eq!(l.failures_in(3, 4), 2);
        assert_eq!(l.unavailable_in(0, 3), 1);
        assert_eq!(l.unavailable_in(6, 10), 1);
    }

    #[test]
    fn a_window_waits_for_its_requests_and_memory_stays_with_the_requests_in_flight() {
        let mut l = Ledger::new(1_000_000, 0.5);
        // One request per window, each ending in the next window.
        for w in 0..1_000_000u64 {
            l.offered(w);
            if w > 0 {
                l.ended(w - 1, Class::Write, None, w);
            }
            assert!(l.held() <= 2);
        }
        l.ended(999_999, Class::Write, None, 1_000_000);
        l.finish();
        assert_eq!(l.available(ALL_CLASSES), 1_000_000);
        assert!(l.outages(ALL_CLASSES).is_empty());
    }

    #[test]
    fn an_outage_running_to_the_end_is_closed_there_and_in_flight_requests_do_not_count() {
        let mut l = Ledger::new(5, 0.99);
        l.offered(1);
        l.ended(1, Class::Read, Some(T), 1);
        l.offered(3);
        // Window 3's request is still in flight at the end: not held against it.
        l.finish();
        assert_eq!(l.available(ALL_CLASSES), 1);
        assert_eq!(
            l.outages(ALL_CLASSES),
            &[OutageSpan {
                start: 1,
                end: 5,
                cause: Some(T)
            }]
        );
    }
}
