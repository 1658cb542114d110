//! Monitoring and the people it pages: who notices a failure, and when its repair starts.
//!
//! A Prometheus-like system (`prometheus`: scrapes at their own phases, rules evaluated on
//! what was scraped, `for`, Alertmanager's `group_wait`) or a Nagios-like one (`nagios`:
//! soft and hard states) pages the on-call person about a component, or about the service;
//! users who are hurt complain (`Users`, here); a dead man's switch notices the monitoring
//! itself is down. A page reaches every fault occurrence it concerns that nobody was told
//! about yet: the person acknowledges after a response time, and a fault that needs them
//! (`repair: {"after": "detection"}`) comes back after its repair time. Automatic mechanisms
//! (health checks, VRRP, the failover manager) do not repair anything.
//!
//! Costs: a few events per scrape or evaluation interval, per check, per minute (users); the
//! request path adds a few counter increments (no allocation).

mod nagios;
mod prometheus;

use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime};

use crate::model::World;
use crate::model::call::Outcome;
use crate::model::fault::FaultKind;
use crate::model::vocabulary::{Ev, Node, OpsEv};
use crate::scenario::{CrashMode, Monitoring, Names, Watched};
use nagios::NagiosState;
use prometheus::{About, Prom};

/// Upper bounds of the latency histogram buckets, in seconds: the Prometheus Go client's
/// `DefBuckets` (client_golang `prometheus/histogram.go`), plus `+Inf`.
pub(crate) const BUCKETS_S: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const NB: usize = BUCKETS_S.len() + 1;

/// What an exporter counts: requests, errors, and a latency histogram (non-cumulative
/// bucket counts; the last is `+Inf`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub requests: u64,
    pub errors: u64,
    pub buckets: [u64; NB],
}

impl Counters {
    #[inline]
    fn record(&mut self, bounds: &[u64; NB - 1], failed: bool, latency: SimDuration) {
        self.requests += 1;
        self.errors += u64::from(failed);
        let ns = latency.as_nanos();
        let b = bounds.iter().position(|&u| ns <= u).unwrap_or(NB - 1);
        self.buckets[b] += 1;
    }
}

/// One alert as it happened (the report's `alerts`).
#[derive(Clone, Debug)]
pub(crate) struct AlertRecord {
    /// The rule's name (`TargetDown`, …, `NagiosServiceCritical`, `UsersComplain`,
    /// `DeadMansSwitch`).
    pub name: &'static str,
    /// The component it is about (None: the service, or the monitoring itself).
    pub about: Option<Node>,
    /// When the condition was first seen (pending).
    pub pending_at: SimTime,
    /// When it fired.
    pub fired_at: SimTime,
    /// When the on-call person was paged.
    pub notified_at: Option<SimTime>,
    /// When it stopped firing.
    pub resolved_at: Option<SimTime>,
}

/// One crash of the monitoring system.
#[derive(Clone, Debug)]
pub(crate) struct MonitorOutage {
    pub down_at: SimTime,
    /// When the dead man's switch paged.
    pub noticed_at: Option<SimTime>,
    pub acked_at: Option<SimTime>,
    pub up_at: Option<SimTime>,
}

/// What the monitoring leaves for the report.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpsLog {
    pub alerts: Vec<AlertRecord>,
    pub monitor_outages: Vec<MonitorOutage>,
    /// Pages sent to the on-call person.
    pub pages: u64,
}

/// Users: bad minutes, then a complaint, then a page.
struct UsersState {
    enabled: bool,
    bad_ratio: f64,
    slow: SimDuration,
    hold: SimDuration,
    delay: SimDuration,
    finished: u64,
    bad: u64,
    bad_since: Option<SimTime>,
    complained: bool,
}

/// The users' minute.
const MINUTE: SimDuration = SimDuration::from_secs(60);

/// The monitoring's state.
pub(crate) struct Ops {
    prom: Option<Prom>,
    nagios: Option<NagiosState>,
    users: UsersState,
    response: Dist,
    rng_response: SimRng,
    /// The monitoring system is down.
    down: bool,
    /// Crashes so far (a dead man's switch check belongs to one).
    epoch: u32,
    crash: Option<(SimDuration, Option<SimDuration>, Option<Dist>)>,
    rng_monitor_repair: SimRng,
    dms: Option<(SimDuration, SimDuration, SimDuration)>,
    /// Counters of the service as clients see it.
    service: Counters,
    /// Counters of each web then app server, when a rule watches one.
    servers: Vec<Counters>,
    count_servers: bool,
    n_web: u32,
    bounds: [u64; NB - 1],
    pub(crate) log: OpsLog,
}

impl Ops {
    /// The monitoring of a scenario with a `monitoring` section.
    pub(crate) fn new(m: &Monitoring, w: &Watched, names: &Names, streams: &RngStreams) -> Ops {
        let prom = m
            .prometheus
            .as_ref()
            .map(|p| Prom::new(p, &w.rules, names, streams));
        let nagios = m
            .nagios
            .as_ref()
            .map(|n| NagiosState::new(n, &w.nagios, names, streams));
        let count_servers = prom.as_ref().is_some_and(Prom::watches_servers);
        let mut dms_rng = streams.stream("monitoring/dead_mans_switch");
        let mut bounds = [0u64; NB - 1];
        for (b, s) in bounds.iter_mut().zip(BUCKETS_S) {
            *b = SimDuration::from_secs_f64(s).as_nanos();
        }
        Ops {
            prom,
            nagios,
            users: UsersState {
                enabled: m.users.enabled,
                bad_ratio: m.users.bad_ratio,
                slow: m.users.slow,
                hold: m.users.hold,
                delay: m.users.report_delay,
                finished: 0,
                bad: 0,
                bad_since: None,
                complained: false,
            },
            response: m.on_call.response.validated(),
            rng_response: streams.stream("on_call/response"),
            down: false,
            epoch: 0,
            crash: m.crash.as_ref().map(|c| {
                (
                    c.at,
                    c.duration,
                    c.repair.as_ref().map(|r| r.time.validated()),
                )
            }),
            rng_monitor_repair: streams.stream("repair/monitoring"),
            dms: m.dead_mans_switch.as_ref().map(|d| {
                let phase = uniform_below(&mut dms_rng, d.interval);
                (d.interval, d.timeout, phase)
            }),
            service: Counters::default(),
            servers: vec![Counters::default(); names.web.len() + names.app.len()],
            count_servers,
            n_web: names.web.len() as u32,
            bounds,
            log: OpsLog::default(),
        }
    }

    /// A request ended, as its client saw it.
    #[inline]
    pub(crate) fn request_finished(&mut self, outcome: Outcome, latency: SimDuration) {
        let failed = !matches!(outcome, Outcome::Ok);
        self.service.record(&self.bounds, failed, latency);
        self.users.finished += 1;
        self.users.bad += u64::from(failed || latency > self.users.slow);
    }

    /// A web or app server answered a request.
    #[inline]
    pub(crate) fn server_answered(&mut self, node: Node, outcome: Outcome, latency: SimDuration) {
        if !self.count_servers {
            return;
        }
        let i = match node {
            Node::Web(i) => i,
            Node::App(i) => self.n_web + i,
            _ => return,
        };
        let failed = !matches!(outcome, Outcome::Ok);
        self.servers[i as usize].record(&self.bounds, failed, latency);
    }

    /// The counters a scrape of `node` (None: the service) reads.
    fn counters(&self, node: Option<Node>) -> Counters {
        match node {
            None => self.service,
            Some(Node::Web(i)) => self.servers[i as usize],
            Some(Node::App(i)) => self.servers[(self.n_web + i) as usize],
            Some(_) => Counters::default(),
        }
    }
}

/// A uniform phase in `0..period`.
fn uniform_below(rng: &mut SimRng, period: SimDuration) -> SimDuration {
    SimDuration::from_nanos(infrasim_engine::rng::below(rng, period.as_nanos().max(1)))
}

/// What a scrape or check of a component finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// It answers.
    Up,
    /// Its host answers for it: connection refused at once.
    Refused,
    /// Nothing answers: the scrape or check waits for its timeout.
    Blackholed,
}

impl World {
    /// Schedules the monitoring's first events.
    pub(crate) fn start_ops(&mut self, cx: &mut Context<'_, Ev>) {
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        if let Some(p) = &ops.prom {
            p.start(cx);
        }
        if let Some(n) = &ops.nagios {
            n.start(cx);
        }
        if ops.users.enabled {
            cx.schedule_in(MINUTE, Ev::Ops(OpsEv::UsersTick));
        }
        if let Some((at, ..)) = ops.crash {
            cx.schedule_at(
                SimTime::ZERO.saturating_add(at),
                Ev::Ops(OpsEv::MonitorCrash { up: false }),
            );
        }
    }

    /// A request ended: the monitoring counts it.
    #[inline]
    pub(crate) fn ops_request_finished(&mut self, outcome: Outcome, latency: SimDuration) {
        if let Some(o) = self.ops.as_deref_mut() {
            o.request_finished(outcome, latency);
        }
    }

    /// One of the monitoring's events.
    pub(crate) fn on_ops(&mut self, cx: &mut Context<'_, Ev>, ev: OpsEv) {
        match ev {
            OpsEv::Scrape { target } => self.scrape(cx, target),
            OpsEv::ScrapeTimedOut { target } => self.scrape_timed_out(cx, target),
            OpsEv::Evaluate => self.evaluate(cx),
            OpsEv::Flush { group } => self.flush(cx, group),
            OpsEv::Check { target } => self.nagios_check(cx, target),
            OpsEv::CheckTimedOut { target } => self.nagios_result(cx, target, false),
            OpsEv::UsersTick => self.users_tick(cx),
            OpsEv::UsersReport { alert } => {
                let at = self
                    .ops
                    .as_deref()
                    .map_or(cx.now(), |o| o.log.alerts[alert as usize].fired_at);
                self.notify(cx, About::All, (at, "UsersComplain"));
            }
            OpsEv::Ack { occ } => self.ack(cx, occ),
            OpsEv::MonitorCrash { up } => self.monitor_crash(cx, up),
            OpsEv::DeadMansSwitch { epoch } => self.dead_mans_switch(cx, epoch),
            OpsEv::MonitorAck { epoch } => self.monitor_ack(cx, epoch),
        }
    }

    /// How a scrape or check reaches `node` now.
    fn reach(&self, node: Node) -> Reach {
        match self.net.state(node).down {
            None => Reach::Up,
            Some(CrashMode::Process) => Reach::Refused,
            Some(CrashMode::Host) => Reach::Blackholed,
        }
    }

    /// A page about `about` (`All`: the service as a whole — whoever answers looks at every
    /// failure open now) reaches the on-call person: each fault occurrence it concerns that
    /// nobody was told about yet is now known; the person acknowledges after a response
    /// time drawn once for the page.
    fn notify(&mut self, cx: &mut Context<'_, Ev>, about: About, alert: (SimTime, &'static str)) {
        let now = cx.now();
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        let lbs = &self.lbs;
        let about_node = |n: Node| match about {
            About::All => true,
            About::Node(m) => n == m,
            About::Backends(lb) => {
                let l = &lbs[lb as usize];
                l.servers
                    .iter()
                    .zip(&l.health)
                    .any(|(s, h)| s.node == n && !h.up)
            }
        };
        ops.log.pages += 1;
        let response = ops.response.sample(&mut ops.rng_response);
        let acked = now.saturating_add(response);
        for (k, o) in self.occurrences.iter_mut().enumerate() {
            if o.recovered_at.is_some() || o.noticed.notified_at.is_some() {
                continue;
            }
            let f = &self.faults[o.fault as usize];
            let concerned = match &f.kind {
                FaultKind::Crash { node, .. }
                | FaultKind::Random { node, .. }
                | FaultKind::Degrade { node, .. } => about_node(*node),
                // A firewall is no scrape target: only a page about the service as a whole
                // (an error-ratio rule) leads whoever answers to it.
                FaultKind::Partition { .. }
                | FaultKind::LinkDegrade { .. }
                | FaultKind::FirewallCrash { .. } => matches!(about, About::All),
                _ => false,
            };
            if !concerned {
                continue;
            }
            o.noticed.alert.get_or_insert(alert);
            o.noticed.notified_at = Some(now);
            o.noticed.acked_at = Some(acked);
            if acked < self.end {
                cx.schedule_at(acked, Ev::Ops(OpsEv::Ack { occ: k as u32 }));
            }
        }
    }

    /// The on-call person acknowledged the page about occurrence `occ`: a fault that waits
    /// for a person starts being repaired.
    fn ack(&mut self, cx: &mut Context<'_, Ev>, occ: u32) {
        let now = cx.now();
        let o = &mut self.occurrences[occ as usize];
        if o.recovered_at.is_some() {
            return;
        }
        let idx = o.fault;
        let f = &mut self.faults[idx as usize];
        let Some(repair) = &f.repair else {
            return;
        };
        let d = repair.sample(&mut f.repair_rng);
        o.noticed.repair_started_at = Some(now);
        if now.saturating_add(d) < self.end {
            cx.schedule_in(d, Ev::Fault { idx, start: false });
        }
    }

    /// The users' minute ends: a minute is bad when too many of its requests failed or were
    /// slow; bad minutes for `for` make users complain, and the complaint reaches the
    /// on-call person after the report delay.
    fn users_tick(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        let u = &mut ops.users;
        let bad = u.finished > 0 && u.bad as f64 > u.bad_ratio * u.finished as f64;
        u.finished = 0;
        u.bad = 0;
        if bad {
            let since = *u.bad_since.get_or_insert(now.saturating_since_time(MINUTE));
            if !u.complained && now.saturating_since(since) >= u.hold {
                u.complained = true;
                let alert = ops.log.alerts.len() as u32;
                ops.log.alerts.push(AlertRecord {
                    name: "UsersComplain",
                    about: None,
                    pending_at: since,
                    fired_at: now,
                    notified_at: Some(now.saturating_add(u.delay)),
                    resolved_at: None,
                });
                let at = now.saturating_add(u.delay);
                if at < self.end {
                    cx.schedule_at(at, Ev::Ops(OpsEv::UsersReport { alert }));
                }
            }
        } else {
            u.bad_since = None;
            u.complained = false;
        }
        if now.saturating_add(MINUTE) < self.end {
            cx.schedule_in(MINUTE, Ev::Ops(OpsEv::UsersTick));
        }
    }

    /// The monitoring system crashes or comes back.
    fn monitor_crash(&mut self, cx: &mut Context<'_, Ev>, up: bool) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        if up {
            if !ops.down {
                return;
            }
            ops.down = false;
            if let Some(o) = ops.log.monitor_outages.last_mut() {
                o.up_at = Some(now);
            }
            // A restarted Prometheus starts from empty alert state (see models.md).
            if let Some(p) = ops.prom.as_mut() {
                p.restart();
            }
            if let Some(n) = ops.nagios.as_mut() {
                n.restart();
            }
            return;
        }
        if ops.down {
            return;
        }
        ops.down = true;
        ops.epoch += 1;
        ops.log.monitor_outages.push(MonitorOutage {
            down_at: now,
            noticed_at: None,
            acked_at: None,
            up_at: None,
        });
        if let Some((_, Some(d), _)) = ops.crash
            && now.saturating_add(d) < end
        {
            cx.schedule_in(d, Ev::Ops(OpsEv::MonitorCrash { up: true }));
        }
        if let Some((interval, timeout, phase)) = ops.dms {
            // Heartbeats at phase + k·interval stopped with the crash: the switch pages
            // `timeout` after the last one.
            let since = now.saturating_since(SimTime::ZERO.saturating_add(phase));
            let k = since.as_nanos() / interval.as_nanos().max(1);
            let last = SimTime::ZERO
                .saturating_add(phase)
                .saturating_add(SimDuration::from_nanos(k * interval.as_nanos()));
            let at = last.saturating_add(timeout).max(now);
            if at < end {
                let epoch = ops.epoch;
                cx.schedule_at(at, Ev::Ops(OpsEv::DeadMansSwitch { epoch }));
            }
        }
    }

    /// The dead man's switch: no heartbeat for its timeout — it pages.
    fn dead_mans_switch(&mut self, cx: &mut Context<'_, Ev>, epoch: u32) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        if !ops.down || ops.epoch != epoch {
            return;
        }
        ops.log.pages += 1;
        let response = ops.response.sample(&mut ops.rng_response);
        let acked = now.saturating_add(response);
        if let Some(o) = ops.log.monitor_outages.last_mut() {
            o.noticed_at = Some(now);
            o.acked_at = Some(acked);
        }
        ops.log.alerts.push(AlertRecord {
            name: "DeadMansSwitch",
            about: None,
            pending_at: now,
            fired_at: now,
            notified_at: Some(now),
            resolved_at: None,
        });
        if acked < end {
            cx.schedule_at(acked, Ev::Ops(OpsEv::MonitorAck { epoch }));
        }
    }

    /// The person acknowledged the dead man's switch: they repair the monitoring.
    fn monitor_ack(&mut self, cx: &mut Context<'_, Ev>, epoch: u32) {
        let end = self.end;
        let now = cx.now();
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        if !ops.down || ops.epoch != epoch {
            return;
        }
        if let Some((_, None, Some(repair))) = &ops.crash {
            let d = repair.sample(&mut ops.rng_monitor_repair);
            if now.saturating_add(d) < end {
                cx.schedule_in(d, Ev::Ops(OpsEv::MonitorCrash { up: true }));
            }
        }
    }

    /// What the monitoring leaves for the report.
    pub(crate) fn ops_log(&mut self) -> Option<OpsLog> {
        let ops = self.ops.as_deref_mut()?;
        Some(std::mem::take(&mut ops.log))
    }
}

/// `saturating_since` for a duration back from a time.
trait Back {
    fn saturating_since_time(self, d: SimDuration) -> SimTime;
}

impl Back for SimTime {
    fn saturating_since_time(self, d: SimDuration) -> SimTime {
        SimTime::from_nanos(self.as_nanos().saturating_sub(d.as_nanos()))
    }
}
