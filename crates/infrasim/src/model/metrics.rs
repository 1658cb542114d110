//! What a run measures, as it runs: streaming counters and histograms (memory flat however
//! many requests run), time-based availability judged window by window as requests end
//! (`windows.rs`), the time series in a bounded number of rows, and the events that make up
//! each fault's story (detection, takeover, failover).

use infrasim_engine::stats::Histogram;
use infrasim_engine::{SimDuration, SimTime};

use crate::model::Node;
use crate::model::call::{FailReason, Outcome};
use crate::model::windows::Ledger;
use crate::scenario::Class;

/// The most rows a time series holds. A run with more windows than this aggregates
/// consecutive windows into each row (the same whole number of windows in each), so the
/// time series costs the same memory and the same number of events at any window width.
/// A day of 1 s windows (86 400) stays one window a row.
pub(crate) const MAX_ROWS: u64 = 100_000;

/// Counts for one request class.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClassStats {
    pub offered: u64,
    pub succeeded: u64,
    pub failed: [u64; FailReason::ALL.len()],
    pub latency: Histogram,
}

/// One row of the time series: one window, or several consecutive windows aggregated
/// exactly (counts summed; percentiles and the lag sample taken over the whole row).
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    /// Requests offered in the row, per class.
    pub offered: [u32; 3],
    /// Of those, how many succeeded (whenever they finished).
    pub succeeded: [u32; 3],
    /// Of those, how many failed, by reason.
    pub failed: [u32; FailReason::ALL.len()],
    /// Of those, how many failed, by class.
    pub failed_by_class: [u32; 3],
    /// Latency of the successes that finished in the row (ms).
    pub p50_ms: f32,
    /// p99 of the same.
    pub p99_ms: f32,
    /// Largest replication lag sampled at the row's end (ms), as MySQL reports it
    /// (`Seconds_Behind_Source`, NULL samples left out).
    pub max_lag_ms: f32,
    /// Largest true replication lag sampled at the row's end (ms).
    pub max_true_lag_ms: f32,
}

/// A notable moment: a detection, a takeover, a failover.
#[derive(Clone, Debug)]
pub(crate) enum Mark {
    /// A load balancer changed its belief about a server.
    Belief {
        at: SimTime,
        lb: Node,
        server: Node,
        up: bool,
    },
    /// A VRRP takeover (the VIP moved from `from` to `to`).
    Takeover { at: SimTime, from: Node, to: Node },
    /// The failover manager declared the primary dead.
    Detected { at: SimTime, node: Node },
    /// A replica was promoted; `lost` acknowledged writes were lost.
    Failover { at: SimTime, old: Node, lost: u64 },
    /// Semi-sync fell back to async.
    SemiSyncFallback { at: SimTime },
}

/// One promotion and what it cost.
#[derive(Clone, Debug)]
pub(crate) struct FailoverRecord {
    /// When the new primary took writes.
    pub at: SimTime,
    pub cluster: u32,
    pub old: Node,
    pub new: Node,
    pub policy: &'static str,
    /// When the old primary crashed, or (alive) when the manager's checks began to fail.
    pub primary_lost_at: SimTime,
    /// Whether the old primary was down (a real failure) or alive and cut off from the
    /// manager (a false failover).
    pub old_was_down: bool,
    /// When the manager (or the operator) decided to promote.
    pub detected_at: Option<SimTime>,
    pub lost_not_received: u64,
    pub lost_discarded: u64,
    pub lost_split_brain: u64,
    pub divergent_keys: u64,
    /// Replicas ahead of the new primary, left out of the cluster (orchestrator's lost
    /// replicas).
    pub lost_replicas: Vec<Node>,
}

/// Everything measured.
pub(crate) struct Metrics {
    pub warmup_end: SimTime,
    pub window: SimDuration,
    /// Windows a row of the time series aggregates.
    pub row_windows: u64,
    pub classes: [ClassStats; 3],
    /// Time-based availability, judged as requests end.
    pub ledger: Ledger,
    /// The time series (at most [`MAX_ROWS`] rows).
    pub rows: Vec<Row>,
    cur_latency: Histogram,
    pub lag: Histogram,
    /// True lag samples (events not yet received included).
    pub true_lag: Histogram,
    /// Lag samples that `Seconds_Behind_Source` reported as NULL.
    pub lag_null: u64,
    /// Lost writes by reason: never received by the promoted replica; received but
    /// discarded at promotion; acknowledged on a split-brain primary.
    pub lost_not_received: u64,
    pub lost_discarded: u64,
    pub lost_split_brain: u64,
    /// Writes acknowledged by a replaced primary that restarted writable.
    pub split_brain_writes: u64,
    /// Keys written on such a node (divergent from the cluster), summed over episodes.
    pub divergent_keys: u64,
    pub stale_reads: u64,
    pub ryw_violations: u64,
    pub db_reads: u64,
    pub lost_writes: u64,
    /// Each promotion after the warm-up, with what it cost.
    pub failover_log: Vec<FailoverRecord>,
    pub marks: Vec<Mark>,
    /// Requests routed by each LB to each server: (lb, server) → count, in first-seen order.
    pub routed: Vec<((Node, Node), u64)>,
    /// Where each (load balancer, server slot) counts in `routed`, `u32::MAX` until first
    /// seen: `routed` runs once per request, and a direct index beats scanning the pairs.
    routed_at: Vec<Vec<u32>>,
    /// Per-row snapshots of each component at the row's end: (up, queue length).
    pub component_series: Vec<Vec<(bool, u32)>>,
    /// The window last looked up, as (start, end, index): most lookups fall in the same
    /// window as the previous one, and this spares them a 64-bit division.
    last_window: (SimTime, SimTime, u64),
}

impl Metrics {
    /// Measures from `warmup_end` for `duration` in windows of `window`, available when
    /// their success ratio is at least `threshold`.
    pub(crate) fn new(
        warmup_end: SimTime,
        window: SimDuration,
        duration: SimDuration,
        threshold: f64,
    ) -> Self {
        let n_windows = duration.as_nanos().div_ceil(window.as_nanos().max(1));
        let row_windows = n_windows.div_ceil(MAX_ROWS).max(1);
        Metrics {
            warmup_end,
            window,
            row_windows,
            classes: Default::default(),
            ledger: Ledger::new(n_windows, threshold),
            rows: vec![Row::default(); n_windows.div_ceil(row_windows) as usize],
            cur_latency: Histogram::new(),
            lag: Histogram::new(),
            true_lag: Histogram::new(),
            lag_null: 0,
            lost_not_received: 0,
            lost_discarded: 0,
            lost_split_brain: 0,
            failover_log: Vec::new(),
            split_brain_writes: 0,
            divergent_keys: 0,
            stale_reads: 0,
            ryw_violations: 0,
            db_reads: 0,
            lost_writes: 0,
            marks: Vec::new(),
            routed: Vec::new(),
            routed_at: Vec::new(),
            component_series: Vec::new(),
            last_window: (SimTime::MAX, SimTime::MAX, 0),
        }
    }

    /// The window of time `t`, if it is in the measured period.
    fn window_of(&mut self, t: SimTime) -> Option<u64> {
        let (lo, hi, i) = self.last_window;
        if lo <= t && t < hi {
            return Some(i);
        }
        if t < self.warmup_end {
            return None;
        }
        let i = (t - self.warmup_end).as_nanos() / self.window.as_nanos();
        if i >= self.ledger.windows() {
            return None;
        }
        let lo = self.warmup_end + SimDuration::from_nanos(i * self.window.as_nanos());
        self.last_window = (lo, lo.saturating_add(self.window), i);
        Some(i)
    }

    /// The window in which requests are offered at `now` (past the last one after the end):
    /// no request can be offered any more in the windows before it.
    fn offering_window(&self, now: SimTime) -> u64 {
        if now < self.warmup_end {
            return 0;
        }
        ((now - self.warmup_end).as_nanos() / self.window.as_nanos()).min(self.ledger.windows())
    }

    fn row_of(&self, w: u64) -> usize {
        (w / self.row_windows) as usize
    }

    pub(crate) fn offered(&mut self, now: SimTime, class: Class, measured: bool) {
        if !measured {
            return;
        }
        self.classes[class.index()].offered += 1;
        if let Some(w) = self.window_of(now) {
            let r = self.row_of(w);
            self.rows[r].offered[class.index()] += 1;
            self.ledger.judge_ready(w);
            self.ledger.offered(w);
        }
    }

    pub(crate) fn finished(
        &mut self,
        now: SimTime,
        offered_at: SimTime,
        class: Class,
        measured: bool,
        outcome: Outcome,
        latency: SimDuration,
    ) {
        if !measured {
            return;
        }
        let w = self.window_of(offered_at);
        let c = &mut self.classes[class.index()];
        match outcome {
            Outcome::Ok => {
                c.succeeded += 1;
                c.latency.record(latency.as_nanos());
                self.cur_latency.record(latency.as_nanos());
                if let Some(w) = w {
                    let row = &mut self.rows[(w / self.row_windows) as usize];
                    row.succeeded[class.index()] += 1;
                }
            }
            Outcome::Failed(r) => {
                c.failed[r.index()] += 1;
                if let Some(w) = w {
                    let row = &mut self.rows[(w / self.row_windows) as usize];
                    row.failed[r.index()] += 1;
                    row.failed_by_class[class.index()] += 1;
                }
            }
        }
        if let Some(w) = w {
            let now_w = self.offering_window(now);
            let failed = match outcome {
                Outcome::Ok => None,
                Outcome::Failed(r) => Some(r),
            };
            self.ledger.ended(w, class, failed, now_w);
        }
    }

    /// Closes row `w` of the time series: latency percentiles of its completions, the lag
    /// sample, each component's state.
    pub(crate) fn close_row(
        &mut self,
        w: usize,
        max_lag: SimDuration,
        max_true_lag: SimDuration,
        components: Vec<(bool, u32)>,
    ) {
        if let Some(win) = self.rows.get_mut(w) {
            win.p50_ms = self
                .cur_latency
                .quantile(0.5)
                .map_or(0.0, |v| v as f32 / 1e6);
            win.p99_ms = self
                .cur_latency
                .quantile(0.99)
                .map_or(0.0, |v| v as f32 / 1e6);
            win.max_lag_ms = max_lag.as_millis_f64() as f32;
            win.max_true_lag_ms = max_true_lag.as_millis_f64() as f32;
        }
        self.cur_latency.clear();
        self.component_series.push(components);
    }

    /// The width of a row of the time series.
    pub(crate) fn row_width(&self) -> SimDuration {
        SimDuration::from_nanos(self.window.as_nanos().saturating_mul(self.row_windows))
    }

    /// One replica's lag sample: as reported (`None`: NULL) and true.
    pub(crate) fn sample_lag(&mut self, reported: Option<SimDuration>, true_lag: SimDuration) {
        match reported {
            Some(l) => self.lag.record(l.as_nanos()),
            None => self.lag_null += 1,
        }
        self.true_lag.record(true_lag.as_nanos());
    }

    pub(crate) fn lost_by_reason(&mut self, at: SimTime, not_received: u64, discarded: u64) {
        if at >= self.warmup_end {
            self.lost_not_received += not_received;
            self.lost_discarded += discarded;
        }
    }

    pub(crate) fn split_brain_write(&mut self, measured: bool) {
        if measured {
            self.split_brain_writes += 1;
        }
    }

    /// A split-brain episode of `node`, a replaced primary, ended (it was rebuilt): its
    /// acknowledged writes are lost, charged to the failover that replaced it too.
    pub(crate) fn split_brain_ended(
        &mut self,
        at: SimTime,
        node: Node,
        writes: u64,
        divergent: u64,
    ) {
        if at >= self.warmup_end {
            self.lost_split_brain += writes;
            self.lost_writes += writes;
            self.divergent_keys += divergent;
            if let Some(f) = self.failover_log.iter_mut().rev().find(|f| f.old == node) {
                f.lost_split_brain += writes;
                f.divergent_keys += divergent;
            }
        }
    }

    /// Keys that diverge from the new primary's data on a node the failover left holding
    /// writes the new primary lacks (an old primary let rejoin with its errant
    /// transactions, a replica ahead of the new primary).
    pub(crate) fn divergent(&mut self, at: SimTime, keys: u64) {
        if at >= self.warmup_end {
            self.divergent_keys += keys;
            if let Some(f) = self.failover_log.last_mut() {
                f.divergent_keys += keys;
            }
        }
    }

    /// A promotion finished (after the warm-up: listed).
    pub(crate) fn failover_done(&mut self, f: FailoverRecord) {
        if f.at >= self.warmup_end {
            self.failover_log.push(f);
        }
    }

    pub(crate) fn stale_read(&mut self, measured: bool) {
        if measured {
            self.stale_reads += 1;
        }
    }
    pub(crate) fn ryw_violation(&mut self, measured: bool) {
        if measured {
            self.ryw_violations += 1;
        }
    }
    pub(crate) fn db_read(&mut self, measured: bool) {
        if measured {
            self.db_reads += 1;
        }
    }

    pub(crate) fn lb_belief(&mut self, at: SimTime, lb: Node, server: Node, up: bool) {
        self.marks.push(Mark::Belief { at, lb, server, up });
    }
    pub(crate) fn takeover(&mut self, at: SimTime, from: Node, to: Node) {
        self.marks.push(Mark::Takeover { at, from, to });
    }
    pub(crate) fn detected(&mut self, at: SimTime, node: Node) {
        self.marks.push(Mark::Detected { at, node });
    }
    pub(crate) fn failover(&mut self, at: SimTime, old: Node, lost: u64) {
        if at >= self.warmup_end {
            self.lost_writes += lost;
        }
        self.marks.push(Mark::Failover { at, old, lost });
    }
    pub(crate) fn semi_sync_fallback(&mut self, at: SimTime) {
        self.marks.push(Mark::SemiSyncFallback { at });
    }

    /// Counts a request routed by load balancer `lb` to `server`, its backend slot `slot`.
    pub(crate) fn routed(&mut self, lb: u32, slot: u32, server: Node) {
        let (l, s) = (lb as usize, slot as usize);
        if self.routed_at.len() <= l {
            self.routed_at.resize_with(l + 1, Vec::new);
        }
        let row = &mut self.routed_at[l];
        if row.len() <= s {
            row.resize(s + 1, u32::MAX);
        }
        let at = row[s] as usize;
        if let Some(e) = self.routed.get_mut(at) {
            e.1 += 1;
            return;
        }
        // First time this slot is used since the start or the reset: a slot holds one server
        // for the whole run, but two slots may hold the same one (one entry per pair, as
        // before, in first-seen order).
        let key = (Node::Lb(lb), server);
        let at = match self.routed.iter().position(|(k, _)| *k == key) {
            Some(at) => {
                self.routed[at].1 += 1;
                at
            }
            None => {
                self.routed.push((key, 1));
                self.routed.len() - 1
            }
        };
        self.routed_at[l][s] = at as u32;
    }

    /// Starts measuring afresh (end of the warm-up).
    pub(crate) fn reset(&mut self) {
        self.classes = Default::default();
        self.cur_latency.clear();
        self.lag.clear();
        self.true_lag.clear();
        self.lag_null = 0;
        self.split_brain_writes = 0;
        self.stale_reads = 0;
        self.ryw_violations = 0;
        self.db_reads = 0;
        self.routed.clear();
        for row in &mut self.routed_at {
            row.fill(u32::MAX);
        }
    }
}
