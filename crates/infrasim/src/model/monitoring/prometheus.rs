//! Prometheus and Alertmanager: scrapes, rules, `for`, groups.
//!
//! Each target is scraped every `scrape_interval` at its own phase (Prometheus spreads
//! targets over the interval by a hash of their labels: `scrape/target.go` `offset`); a
//! scrape of a component whose process is gone is refused at once (`up` 0), one of a
//! vanished host waits `scrape_timeout` before `up` is 0. Rules are evaluated every
//! `evaluation_interval` (at the group's own phase) over the samples scraped so far: an
//! instance whose condition holds becomes pending at that evaluation and fires at the first
//! evaluation at least `for` later, if it held at every one in between
//! (`rules/alerting.go`: `ts.Sub(a.ActiveAt) >= r.holdDuration`); an evaluation where it
//! does not hold resets it. Firing alerts go to Alertmanager: a new group (one per rule,
//! `group_by: [alertname]`) notifies after `group_wait`, then every `group_interval` when it
//! has new alerts.

use std::collections::VecDeque;

use infrasim_engine::{Context, RngStreams, SimDuration, SimTime};

use super::{AlertRecord, Counters, NB, Reach, uniform_below};
use crate::model::World;
use crate::model::vocabulary::{Ev, Node, OpsEv};
use crate::scenario::{Names, Prometheus, Rule};

/// A rule's condition, resolved.
#[derive(Clone, Copy, Debug)]
enum Cond {
    Down,
    ErrorRatio {
        above: f64,
        range: SimDuration,
    },
    Latency {
        q: f64,
        above_s: f64,
        range: SimDuration,
    },
    Lag {
        above_s: f64,
    },
    ServersUp {
        below: f64,
    },
}

/// One scrape target: a component's exporter, or the service's front-end counters.
struct Target {
    node: Option<Node>,
    phase: SimDuration,
    /// The latest visible `up`.
    up: Option<bool>,
    /// The latest gauge (replication lag in seconds, servers UP); None when the target was
    /// not scraped successfully (Prometheus marks its series stale).
    gauge: Option<f64>,
    /// Counter samples kept for range rules: (scrape time, counters).
    ring: VecDeque<(SimTime, Counters)>,
    /// How far back range rules look at this target (zero: no counters kept).
    keep: SimDuration,
}

impl Target {
    /// A scrape failed (refused at once, or timed out): `up` is 0 and the gauge's series
    /// is stale.
    fn scrape_failed(&mut self) {
        self.up = Some(false);
        self.gauge = None;
    }
}

/// One alert instance: a rule on one target.
struct Instance {
    rule: u32,
    target: u32,
    active_since: Option<SimTime>,
    fired_at: Option<SimTime>,
    notified: bool,
    log: usize,
}

/// One Alertmanager group (a rule's alerts).
#[derive(Default)]
struct Group {
    exists: bool,
    next_flush: SimTime,
}

pub(super) struct Prom {
    scrape: SimDuration,
    timeout: SimDuration,
    eval: SimDuration,
    eval_phase: SimDuration,
    group_wait: SimDuration,
    group_interval: SimDuration,
    targets: Vec<Target>,
    rules: Vec<(Cond, SimDuration, &'static str)>,
    instances: Vec<Instance>,
    groups: Vec<Group>,
}

impl Prom {
    pub(super) fn new(
        p: &Prometheus,
        watched: &[Vec<Node>],
        names: &Names,
        streams: &RngStreams,
    ) -> Prom {
        let mut targets: Vec<Target> = Vec::new();
        let mut target_of = |node: Option<Node>, keep: SimDuration| -> u32 {
            let i = match targets.iter().position(|t| t.node == node) {
                Some(i) => i,
                None => {
                    let key = node.map_or("service", |n| names.name(n));
                    let mut rng = streams.stream(&format!("monitoring/scrape/{key}"));
                    targets.push(Target {
                        node,
                        phase: uniform_below(&mut rng, p.scrape_interval),
                        up: None,
                        gauge: None,
                        ring: VecDeque::new(),
                        keep: SimDuration::ZERO,
                    });
                    targets.len() - 1
                }
            };
            targets[i].keep = targets[i].keep.max(keep);
            i as u32
        };
        let mut rules = Vec::new();
        let mut instances = Vec::new();
        for (r, (rule, nodes)) in p.rules.iter().zip(watched).enumerate() {
            let (cond, range) = match *rule {
                Rule::TargetDown { .. } => (Cond::Down, SimDuration::ZERO),
                Rule::ErrorRatio { above, range, .. } => (Cond::ErrorRatio { above, range }, range),
                Rule::LatencyQuantile {
                    quantile,
                    above,
                    range,
                    ..
                } => (
                    Cond::Latency {
                        q: quantile,
                        above_s: above.as_secs_f64(),
                        range,
                    },
                    range,
                ),
                Rule::ReplicationLag { above, .. } => (
                    Cond::Lag {
                        above_s: above.as_secs_f64(),
                    },
                    SimDuration::ZERO,
                ),
                Rule::LbServersUp { below, .. } => (
                    Cond::ServersUp {
                        below: f64::from(below),
                    },
                    SimDuration::ZERO,
                ),
            };
            rules.push((cond, rule.hold(), rule.name()));
            let on: Vec<Option<Node>> = match cond {
                Cond::ErrorRatio { .. } | Cond::Latency { .. } if nodes.is_empty() => vec![None],
                _ => nodes.iter().copied().map(Some).collect(),
            };
            for node in on {
                let target = target_of(node, range);
                instances.push(Instance {
                    rule: r as u32,
                    target,
                    active_since: None,
                    fired_at: None,
                    notified: false,
                    log: 0,
                });
            }
        }
        for t in &mut targets {
            if !t.keep.is_zero() {
                let n = t.keep.as_nanos() / p.scrape_interval.as_nanos() + 2;
                t.ring.reserve(n as usize);
            }
        }
        let mut rng = streams.stream("monitoring/evaluation");
        Prom {
            scrape: p.scrape_interval,
            timeout: p.scrape_timeout,
            eval: p.evaluation_interval,
            eval_phase: uniform_below(&mut rng, p.evaluation_interval),
            group_wait: p.group_wait,
            group_interval: p.group_interval,
            targets,
            groups: (0..rules.len()).map(|_| Group::default()).collect(),
            rules,
            instances,
        }
    }

    /// Whether a rule counts a server's own answers.
    pub(super) fn watches_servers(&self) -> bool {
        self.targets
            .iter()
            .any(|t| !t.keep.is_zero() && matches!(t.node, Some(Node::Web(_) | Node::App(_))))
    }

    pub(super) fn start(&self, cx: &mut Context<'_, Ev>) {
        for (i, t) in self.targets.iter().enumerate() {
            cx.schedule_in(t.phase, Ev::Ops(OpsEv::Scrape { target: i as u32 }));
        }
        cx.schedule_in(self.eval_phase, Ev::Ops(OpsEv::Evaluate));
    }

    /// A restarted Prometheus: nothing scraped, no alert pending or firing.
    pub(super) fn restart(&mut self) {
        for t in &mut self.targets {
            t.up = None;
            t.gauge = None;
            t.ring.clear();
        }
        for a in &mut self.instances {
            a.active_since = None;
            a.fired_at = None;
            a.notified = false;
        }
        for g in &mut self.groups {
            g.exists = false;
        }
    }

    /// Whether instance `a`'s condition holds on what was scraped, at `now`.
    fn holds(&self, a: &Instance, now: SimTime) -> bool {
        let t = &self.targets[a.target as usize];
        match self.rules[a.rule as usize].0 {
            Cond::Down => t.up == Some(false),
            Cond::ErrorRatio { above, range } => delta(&t.ring, now, range)
                .is_some_and(|d| d.requests > 0 && d.errors as f64 > above * d.requests as f64),
            Cond::Latency { q, above_s, range } => delta(&t.ring, now, range)
                .and_then(|d| histogram_quantile(q, &d.buckets))
                .is_some_and(|v| v > above_s),
            Cond::Lag { above_s } => t.gauge.is_some_and(|g| g > above_s),
            Cond::ServersUp { below } => t.gauge.is_some_and(|g| g < below),
        }
    }
}

/// What the counters gained over the samples in `(now − range, now]`, if there are two.
fn delta(
    ring: &VecDeque<(SimTime, Counters)>,
    now: SimTime,
    range: SimDuration,
) -> Option<Counters> {
    let from = SimTime::from_nanos(now.as_nanos().saturating_sub(range.as_nanos()));
    let first = ring.iter().find(|(t, _)| *t > from && *t <= now)?;
    let last = ring.iter().rev().find(|(t, _)| *t <= now)?;
    if last.0 <= first.0 {
        return None;
    }
    let (a, b) = (&first.1, &last.1);
    let mut d = Counters {
        requests: b.requests.saturating_sub(a.requests),
        errors: b.errors.saturating_sub(a.errors),
        buckets: [0; NB],
    };
    for (k, x) in d.buckets.iter_mut().enumerate() {
        *x = b.buckets[k].saturating_sub(a.buckets[k]);
    }
    Some(d)
}

/// Prometheus' `histogram_quantile` (`promql/quantile.go` `bucketQuantile`): the bucket
/// holding rank q·count, linear interpolation inside it (from 0 for the first bucket); a
/// rank in `+Inf` answers the highest finite bound. None without observations.
pub(crate) fn histogram_quantile(q: f64, buckets: &[u64; NB]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (k, &n) in buckets.iter().enumerate() {
        if (below + n) as f64 >= rank && n > 0 {
            if k == NB - 1 {
                return Some(super::BUCKETS_S[NB - 2]);
            }
            let lo = if k == 0 { 0.0 } else { super::BUCKETS_S[k - 1] };
            let hi = super::BUCKETS_S[k];
            return Some(lo + (hi - lo) * (rank - below as f64) / n as f64);
        }
        below += n;
    }
    Some(super::BUCKETS_S[NB - 2])
}

/// Whom a page is about.
#[derive(Clone, Copy, Debug)]
pub(super) enum About {
    /// The service as a whole: whoever answers looks at every open failure.
    All,
    /// One component.
    Node(Node),
    /// The servers a load balancer sees DOWN.
    Backends(u32),
}

impl World {
    /// Prometheus scrapes target `target`.
    pub(super) fn scrape(&mut self, cx: &mut Context<'_, Ev>, target: u32) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref() else {
            return;
        };
        let Some(p) = ops.prom.as_ref() else {
            return;
        };
        let next = now.saturating_add(p.scrape);
        if next < end {
            cx.schedule_at(next, Ev::Ops(OpsEv::Scrape { target }));
        }
        if ops.down {
            return;
        }
        let t = &p.targets[target as usize];
        let node = t.node;
        let keep = t.keep;
        let timeout = p.timeout;
        let reach = node.map_or(super::Reach::Up, |n| self.reach(n));
        let gauge = match (reach, node) {
            (Reach::Up, Some(Node::Lb(i))) => {
                Some(self.lbs[i as usize].health.iter().filter(|h| h.up).count() as f64)
            }
            (Reach::Up, Some(Node::Db(i))) => {
                // mysqld_exporter on a replica: `Seconds_Behind_Source`, as the replica reports
                // it; none on a primary. While the receiver is disconnected MySQL reports NULL
                // and the exporter drops the series (its parseStatus fails on an empty value),
                // so a lag rule sees nothing — the known blind spot of lag alerts.
                let replica = !self.clusters.iter().any(|c| c.primary == i);
                if replica {
                    self.db_lags(i, now).0.map(|d| d.as_secs_f64())
                } else {
                    None
                }
            }
            _ => None,
        };
        let counters = (!keep.is_zero()).then(|| ops.counters(node));
        let ops = self.ops.as_deref_mut().expect("checked above");
        let p = ops.prom.as_mut().expect("checked above");
        let t = &mut p.targets[target as usize];
        match reach {
            Reach::Up => {
                t.up = Some(true);
                t.gauge = gauge;
                if let Some(c) = counters {
                    let from = now
                        .as_nanos()
                        .saturating_sub(keep.as_nanos() + p.scrape.as_nanos());
                    while t.ring.front().is_some_and(|(s, _)| s.as_nanos() < from) {
                        t.ring.pop_front();
                    }
                    t.ring.push_back((now, c));
                }
            }
            Reach::Refused => t.scrape_failed(),
            Reach::Blackholed => {
                if now.saturating_add(timeout) < end {
                    cx.schedule_in(timeout, Ev::Ops(OpsEv::ScrapeTimedOut { target }));
                }
            }
        }
    }

    /// A blackholed target's scrape gave up: `up` is 0 from now on.
    pub(super) fn scrape_timed_out(&mut self, _cx: &mut Context<'_, Ev>, target: u32) {
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        if ops.down {
            return;
        }
        if let Some(p) = ops.prom.as_mut() {
            p.targets[target as usize].scrape_failed();
        }
    }

    /// Prometheus evaluates every rule on what it scraped.
    pub(super) fn evaluate(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        let Some(p) = ops.prom.as_mut() else {
            return;
        };
        if now.saturating_add(p.eval) < end {
            cx.schedule_in(p.eval, Ev::Ops(OpsEv::Evaluate));
        }
        if ops.down {
            return;
        }
        for i in 0..p.instances.len() {
            let holds = p.holds(&p.instances[i], now);
            let a = &mut p.instances[i];
            let (_, hold, name) = p.rules[a.rule as usize];
            if !holds {
                a.active_since = None;
                if a.fired_at.take().is_some() {
                    ops.log.alerts[a.log].resolved_at = Some(now);
                }
                a.notified = false;
                continue;
            }
            let since = *a.active_since.get_or_insert(now);
            if a.fired_at.is_none() && now.saturating_since(since) >= hold {
                a.fired_at = Some(now);
                a.log = ops.log.alerts.len();
                ops.log.alerts.push(AlertRecord {
                    name,
                    about: p.targets[a.target as usize].node,
                    pending_at: since,
                    fired_at: now,
                    notified_at: None,
                    resolved_at: None,
                });
                let g = &mut p.groups[a.rule as usize];
                if !g.exists {
                    g.exists = true;
                    g.next_flush = now.saturating_add(p.group_wait);
                    if g.next_flush < end {
                        let group = a.rule;
                        cx.schedule_at(g.next_flush, Ev::Ops(OpsEv::Flush { group }));
                    }
                }
            }
        }
    }

    /// Alertmanager flushes a group: the alerts new in it page the on-call person.
    pub(super) fn flush(&mut self, cx: &mut Context<'_, Ev>, group: u32) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        let Some(p) = ops.prom.as_mut() else {
            return;
        };
        let g = &mut p.groups[group as usize];
        if !g.exists || g.next_flush != now {
            return;
        }
        if ops.down {
            g.exists = false;
            return;
        }
        let mut pages = Vec::new();
        let mut firing = false;
        for a in p.instances.iter_mut().filter(|a| a.rule == group) {
            let Some(fired) = a.fired_at else {
                continue;
            };
            firing = true;
            if a.notified {
                continue;
            }
            a.notified = true;
            ops.log.alerts[a.log].notified_at = Some(now);
            let node = p.targets[a.target as usize].node;
            let about = match (p.rules[group as usize].0, node) {
                (_, None) => About::All,
                (Cond::ServersUp { .. }, Some(Node::Lb(i))) => About::Backends(i),
                (_, Some(n)) => About::Node(n),
            };
            pages.push((about, fired, p.rules[group as usize].2));
        }
        let g = &mut p.groups[group as usize];
        if firing {
            g.next_flush = now.saturating_add(p.group_interval);
            if g.next_flush < end {
                cx.schedule_at(g.next_flush, Ev::Ops(OpsEv::Flush { group }));
            }
        } else {
            g.exists = false;
        }
        for (about, fired, name) in pages {
            self.notify(cx, about, (fired, name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `histogram_quantile` as Prometheus computes it: the bucket holding rank q·n, linear
    /// inside it; the first bucket starts at 0; a rank in `+Inf` answers the highest bound.
    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let mut b = [0u64; NB];
        // 100 observations in (0.1, 0.25], 100 in (0.25, 0.5].
        b[5] = 100;
        b[6] = 100;
        let q = |x| histogram_quantile(x, &b).unwrap();
        // Rank 100 of 200: the top of the first occupied bucket.
        assert!((q(0.5) - 0.25).abs() < 1e-12);
        // Rank 50: halfway through (0.1, 0.25].
        assert!((q(0.25) - 0.175).abs() < 1e-12);
        // Rank 180: 80 % through (0.25, 0.5].
        assert!((q(0.9) - 0.45).abs() < 1e-12);
        let mut first = [0u64; NB];
        first[0] = 10;
        assert!((histogram_quantile(0.5, &first).unwrap() - 0.0025).abs() < 1e-12);
        let mut inf = [0u64; NB];
        inf[NB - 1] = 5;
        assert_eq!(histogram_quantile(0.99, &inf), Some(10.0));
        assert_eq!(histogram_quantile(0.5, &[0; NB]), None);
    }
}
