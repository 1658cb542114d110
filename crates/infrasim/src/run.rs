//! Running scenarios: one run, replications (in parallel, identical results at any thread
//! count), and what a run leaves behind for the report.

use infrasim_engine::stats::{Histogram, TimeWeighted};
use infrasim_engine::{Context, RngStreams, SimDuration, SimTime, Simulation};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::fault::Occurrence;
use crate::metrics::{Mark, Metrics};
use crate::observer::Observer;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::world::{Ev, Node, World};

/// Options of a run that override the scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunOptions {
    /// Master seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Replications (default: the scenario's).
    pub replications: Option<u32>,
    /// Measured duration (default: the scenario's). Faults planned after the end of a
    /// shortened run are left out (they would never fire).
    pub duration: Option<SimDuration>,
    /// Worker threads for replications (default: every core). Results do not depend on it.
    pub threads: Option<usize>,
}

/// Statistics of one component after a run.
#[derive(Clone, Debug)]
pub(crate) struct ComponentData {
    pub name: String,
    pub kind: &'static str,
    pub capacity: u32,
    pub busy: TimeWeighted,
    pub queued: TimeWeighted,
    pub served: u64,
    pub rejected: u64,
}

/// Everything one replication leaves for the report.
pub(crate) struct RunData {
    pub events: u64,
    pub metrics: Metrics,
    pub in_flight: [u64; 3],
    pub components: Vec<ComponentData>,
    pub occurrences: Vec<(Occurrence, String, String, Option<Node>)>,
    pub names: crate::names::Names,
    pub end: SimTime,
    pub has_database: bool,
    pub latency_all: Histogram,
}

impl World {
    /// Starts every component at time zero.
    pub(crate) fn start(&mut self, cx: &mut Context<'_, Ev>) {
        self.start_clients(cx);
        self.start_load_balancers(cx);
        self.start_pairs(cx);
        self.start_databases(cx);
        self.start_faults(cx);
        let first = self.warmup_end.saturating_add(self.metrics.window);
        cx.schedule_at(first, Ev::WindowTick);
    }

    /// End of the warm-up: statistics start afresh.
    fn reset_stats(&mut self, now: SimTime) {
        self.metrics.reset();
        for l in &mut self.lbs {
            l.reset_stats(now);
        }
        for w in &mut self.webs {
            w.pool.reset_stats(now);
        }
        for a in &mut self.apps {
            a.pool.reset_stats(now);
        }
        for d in &mut self.dbs {
            d.pool.reset_stats(now);
        }
    }

    pub(crate) fn on_window_tick(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        let mut max_lag = SimDuration::ZERO;
        for c in 0..self.clusters.len() {
            let primary = self.clusters[c].primary;
            for &db in &self.clusters[c].nodes {
                if db == primary || self.net.state(Node::Db(db)).down.is_some() {
                    continue;
                }
                let lag = self.dbs[db as usize].lag(now);
                max_lag = max_lag.max(lag);
                self.metrics.sample_lag(lag);
            }
        }
        let comps = if self.metrics.keep_component_series {
            self.component_snapshot()
        } else {
            Vec::new()
        };
        self.metrics.close_window(self.next_window, max_lag, comps);
        self.next_window += 1;
        let next = now.saturating_add(self.metrics.window);
        if next <= self.end {
            cx.schedule_at(next, Ev::WindowTick);
        }
    }

    fn component_snapshot(&self) -> Vec<(bool, u32)> {
        let mut v = Vec::new();
        for (i, l) in self.lbs.iter().enumerate() {
            v.push((
                self.net.state(Node::Lb(i as u32)).down.is_none(),
                l.queue.len() as u32,
            ));
        }
        for (i, w) in self.webs.iter().enumerate() {
            v.push((
                self.net.state(Node::Web(i as u32)).down.is_none(),
                w.pool.queue.len() as u32,
            ));
        }
        for (i, a) in self.apps.iter().enumerate() {
            v.push((
                self.net.state(Node::App(i as u32)).down.is_none(),
                a.pool.queue.len() as u32,
            ));
        }
        for (i, d) in self.dbs.iter().enumerate() {
            v.push((
                self.net.state(Node::Db(i as u32)).down.is_none(),
                d.pool.queue.len() as u32,
            ));
        }
        v
    }

    fn into_data(self, events: u64, has_database: bool) -> RunData {
        let mut in_flight = [0u64; 3];
        for (_, r) in self.requests.iter() {
            if r.measured {
                in_flight[r.class.index()] += 1;
            }
        }
        let mut components = Vec::new();
        for (i, l) in self.lbs.iter().enumerate() {
            components.push(ComponentData {
                name: self.names.lb[i].clone(),
                kind: "load_balancer",
                capacity: l.cfg.cores,
                busy: l.busy.clone(),
                queued: l.queued.clone(),
                served: l.served,
                rejected: l.rejected,
            });
        }
        let pools = self
            .webs
            .iter()
            .map(|w| (&w.pool, "web_server"))
            .zip(self.names.web.iter())
            .chain(
                self.apps
                    .iter()
                    .map(|a| (&a.pool, "app_server"))
                    .zip(self.names.app.iter()),
            );
        for ((p, kind), name) in pools {
            components.push(ComponentData {
                name: name.clone(),
                kind,
                capacity: p.workers,
                busy: p.busy.clone(),
                queued: p.queued.clone(),
                served: p.served,
                rejected: p.rejected,
            });
        }
        for (i, d) in self.dbs.iter().enumerate() {
            components.push(ComponentData {
                name: self.names.db[i].clone(),
                kind: "database",
                capacity: d.pool.workers,
                busy: d.pool.busy.clone(),
                queued: d.pool.queued.clone(),
                served: d.pool.served,
                rejected: d.pool.rejected,
            });
        }
        let occurrences = self
            .occurrences
            .iter()
            .map(|o| {
                let f = &self.faults[o.fault as usize];
                (o.clone(), f.label.clone(), f.target.clone(), f.kind.node())
            })
            .collect();
        let mut latency_all = Histogram::new();
        for c in &self.metrics.classes {
            latency_all.merge(&c.latency);
        }
        RunData {
            events,
            metrics: self.metrics,
            in_flight,
            components,
            occurrences,
            names: self.names,
            end: self.end,
            has_database,
            latency_all,
        }
    }
}

/// The seed of replication `i`: the master seed itself for the first, so a one-replication
/// run with `--seed N` is exactly seed N; derived seeds for the others.
pub fn replication_seed(master: u64, i: u32) -> u64 {
    if i == 0 {
        master
    } else {
        RngStreams::new(master)
            .replication(u64::from(i))
            .master_seed()
    }
}

/// Runs one replication with this seed.
/// Progress of a run, shared with another thread (a progress bar): simulated nanoseconds done
/// out of the total over every replication.
#[derive(Debug, Default)]
pub struct Progress {
    done_ns: AtomicU64,
    total_ns: AtomicU64,
}

impl Progress {
    /// A fresh progress counter.
    pub fn new() -> Self {
        Self::default()
    }
    /// Fraction done, in [0, 1] (0 before the run has started).
    pub fn fraction(&self) -> f64 {
        let total = self.total_ns.load(Ordering::Relaxed);
        if total == 0 {
            0.0
        } else {
            (self.done_ns.load(Ordering::Relaxed) as f64 / total as f64).min(1.0)
        }
    }
    pub(crate) fn add_total(&self, ns: u64) {
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
    }
    fn add_done(&self, ns: u64) {
        self.done_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// Steps a run is cut into so progress can be reported; stopping and resuming a run does not
/// change its events (the queue is exact across stops), so the result is the same.
const PROGRESS_STEPS: u64 = 64;

/// Runs one replication with this seed.
pub(crate) fn run_one(
    s: &Scenario,
    seed: u64,
    observer: Option<Box<dyn Observer + Send>>,
    progress: Option<&Progress>,
) -> Result<RunData, Error> {
    let mut world = crate::build::build(s, seed)?;
    world.observer = observer;
    let warmup_end = world.warmup_end;
    let end = world.end;
    let mut sim = Simulation::new(world, seed);
    sim.with_context(|w, cx| w.start(cx));
    let mut last = SimTime::ZERO;
    let mut warm = warmup_end == SimTime::ZERO;
    if warm {
        sim.model_mut().reset_stats(SimTime::ZERO);
    }
    for k in 1..=PROGRESS_STEPS {
        let t = SimTime::from_nanos(
            (u128::from(end.as_nanos()) * u128::from(k) / u128::from(PROGRESS_STEPS)) as u64,
        );
        if !warm && t >= warmup_end {
            sim.run_until(warmup_end);
            let now = sim.now();
            sim.model_mut().reset_stats(now);
            warm = true;
        }
        sim.run_until(t);
        if let Some(p) = progress {
            p.add_done((t - last).as_nanos());
        }
        last = t;
    }
    let events = sim.events_processed();
    let has_db = !s.databases.is_empty();
    Ok(sim.into_model().into_data(events, has_db))
}

/// Runs a scenario as written: its seed, its replications.
pub fn run(s: &Scenario) -> Result<Report, Error> {
    run_with(s, &RunOptions::default())
}

/// Runs a scenario with overrides. Replications run in parallel on a rayon pool; results are
/// collected in replication order, so the report is identical at any thread count.
pub fn run_with(s: &Scenario, opts: &RunOptions) -> Result<Report, Error> {
    run_with_progress(s, opts, None)
}

/// [`run_with`], reporting progress to another thread (the CLI's progress bar).
pub fn run_with_progress(
    s: &Scenario,
    opts: &RunOptions,
    progress: Option<&Progress>,
) -> Result<Report, Error> {
    let mut reports =
        crate::sweep::run_many_with_progress(std::slice::from_ref(s), opts, progress)?;
    Ok(reports.pop().expect("one scenario, one report"))
}

/// Runs one replication with an observer attached (replication 0: the scenario's seed).
pub fn run_observed(
    s: &Scenario,
    seed: Option<u64>,
    observer: Box<dyn Observer + Send>,
) -> Result<Report, Error> {
    let mut s = s.clone();
    if let Some(seed) = seed {
        s.seed = seed;
    }
    s.replications = 1;
    crate::scenario::validate(&s)?;
    let data = run_one(&s, s.seed, Some(observer), None)?;
    Ok(crate::report::assemble(&s, &[data]))
}

/// What detected a fault occurrence on `node` after `at`, and when.
pub(crate) fn detection(
    marks: &[Mark],
    names: &crate::names::Names,
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
