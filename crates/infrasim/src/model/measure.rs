//! What a run measures beyond each request's end, and what it leaves: the start of every
//! component, the end of the warm-up, the tick at the end of each row of the time series (replication lag, component states),
//! and [`RunData`], everything one replication hands to the report.

use infrasim_engine::stats::TimeWeighted;
use infrasim_engine::{Context, SimDuration, SimTime};

use crate::model::World;
use crate::model::connection::ConnStats;
use crate::model::fault::Occurrence;
use crate::model::load_balancer::tls::LbConn;
use crate::model::metrics::Metrics;
use crate::model::monitoring::OpsLog;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario::Names;

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
    pub names: Names,
    pub end: SimTime,
    pub has_database: bool,
    /// What the monitoring saw and did (a `monitoring` section only).
    pub ops: Option<OpsLog>,
    /// What each firewall counted.
    pub firewalls: Vec<crate::model::firewall::FirewallTally>,
    /// What each attack counted.
    pub attacks: Vec<crate::model::attack::AttackTally>,
    /// Connections (with `clients.connections` only).
    pub connections: Option<ConnectionsData>,
}

/// What the connections measured: the clients' side, and each load balancer's (its name,
/// its cores, its counts).
pub(crate) struct ConnectionsData {
    pub stats: ConnStats,
    pub lbs: Vec<(String, u32, LbConn)>,
}

impl World {
    /// Starts every component at time zero.
    pub(crate) fn start(&mut self, cx: &mut Context<'_, Ev>) {
        self.start_clients(cx);
        self.start_load_balancers(cx);
        self.start_vrrp(cx);
        self.start_dns(cx);
        self.start_databases(cx);
        self.start_faults(cx);
        self.start_ops(cx);
        self.start_attacks(cx);
        let first = self.warmup_end.saturating_add(self.metrics.row_width());
        cx.schedule_at(first, Ev::WindowTick);
    }

    /// End of the warm-up: statistics start afresh.
    pub(crate) fn reset_stats(&mut self, now: SimTime) {
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
        let (mut max_lag, mut max_true) = (SimDuration::ZERO, SimDuration::ZERO);
        for c in 0..self.clusters.len() {
            let primary = self.clusters[c].primary;
            for &db in &self.clusters[c].nodes {
                if db == primary
                    || self.net.state(Node::Db(db)).down.is_some()
                    || self.dbs[db as usize].out
                {
                    continue;
                }
                let (reported, true_lag) = self.db_lags(db, now);
                max_lag = max_lag.max(reported.unwrap_or(SimDuration::ZERO));
                max_true = max_true.max(true_lag);
                self.metrics.sample_lag(reported, true_lag);
            }
        }
        let comps = self.component_snapshot();
        self.metrics
            .close_row(self.next_window, max_lag, max_true, comps);
        self.next_window += 1;
        let next = now.saturating_add(self.metrics.row_width());
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

    /// What the run leaves for the report, after `events` events.
    pub(crate) fn finish(mut self, events: u64) -> RunData {
        self.metrics.ledger.finish();
        let ops = self.ops_log();
        let mut in_flight = [0u64; 3];
        for (_, r) in self.requests.iter() {
            if r.measured {
                in_flight[r.class.index()] += 1;
            }
        }
        let components = self.component_data();
        let firewalls = self
            .net
            .firewalls
            .as_deref()
            .map(|f| f.tallies())
            .unwrap_or_default();
        let attacks = self
            .attacks
            .as_deref()
            .map(|a| a.tallies())
            .unwrap_or_default();
        let connections = self.conns.take().map(|p| ConnectionsData {
            stats: p.stats,
            lbs: self
                .lbs
                .iter()
                .enumerate()
                .map(|(i, l)| (self.names.lb[i].clone(), l.cfg.cores, l.conn.clone()))
                .collect(),
        });
        let occurrences = self
            .occurrences
            .iter()
            .map(|o| {
                let f = &self.faults[o.fault as usize];
                (o.clone(), f.label.clone(), f.target.clone(), f.kind.node())
            })
            .collect();
        RunData {
            events,
            has_database: !self.clusters.is_empty(),
            metrics: self.metrics,
            in_flight,
            components,
            occurrences,
            names: self.names,
            end: self.end,
            ops,
            firewalls,
            attacks,
            connections,
        }
    }

    /// Each component's statistics: load balancers, web servers, app servers, database
    /// nodes, each in file order.
    fn component_data(&self) -> Vec<ComponentData> {
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
        components
    }
}
