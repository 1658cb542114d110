//! Where a query goes, as ProxySQL routes it: writes (and every query under `primary`
//! routing) to the primary; reads round robin over the replicas, skipping those shunned
//! after a connection error (for `shun_recovery_time_sec`) and, under lag-bounded routing,
//! those whose last sampled lag exceeds `max_replication_lag` (sampled every
//! `monitor_replication_lag_interval`); the primary when no replica qualifies.

use infrasim_engine::{Context, SimDuration, SimTime};

use crate::model::World;
use crate::model::call::DbOp;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario::ReadPolicy;

/// ProxySQL `monitor_slave_lag_when_null` default 60 (s): the lag a NULL
/// `Seconds_Behind_Source` counts as.
const LAG_WHEN_NULL_SECS: u64 = 60;

/// ProxySQL `shun_recovery_time_sec` default 10 s.
const SHUN_RECOVERY: SimDuration = SimDuration::from_secs(10);

impl World {
    /// Which node a query goes to.
    pub(crate) fn db_route(&mut self, now: SimTime, cluster: u32, op: DbOp) -> u32 {
        let c = &mut self.clusters[cluster as usize];
        if op == DbOp::Write && c.rogue.is_some() {
            return self.db_route_split_brain(cluster);
        }
        if op == DbOp::Write || c.policy == ReadPolicy::Primary {
            return c.primary;
        }
        let max_lag_secs = c.max_lag.as_nanos() / 1_000_000_000;
        // The round-robin cursor stays below `n` (the node list never changes size), so the
        // wrap-around is a subtraction: this runs on every read, and a division is ~25 cycles.
        let n = c.nodes.len();
        let mut idx = c.rr as usize;
        for _ in 0..n {
            let here = idx;
            idx += 1;
            if idx == n {
                idx = 0;
            }
            let db = c.nodes[here];
            if db == c.primary || c.shunned_until[here] > now || self.dbs[db as usize].out {
                continue;
            }
            // ProxySQL compares whole seconds of `Seconds_Behind_Source`.
            if c.policy == ReadPolicy::ReplicasLagBounded && c.sampled_lag[here] > max_lag_secs {
                continue;
            }
            c.rr = idx as u32;
            return db;
        }
        c.primary
    }

    /// ProxySQL shuns a node after connection errors for `shun_recovery_time_sec`.
    pub(crate) fn db_shun(&mut self, now: SimTime, cluster: u32, db: u32) {
        let c = &mut self.clusters[cluster as usize];
        let i = c.local(db);
        c.shunned_until[i] = now.saturating_add(SHUN_RECOVERY);
    }

    pub(crate) fn lag_check(&mut self, cx: &mut Context<'_, Ev>, cl: u32) {
        let now = cx.now();
        for i in 0..self.clusters[cl as usize].nodes.len() {
            let db = self.clusters[cl as usize].nodes[i];
            let lag = if self.state(Node::Db(db)).down.is_some() {
                None
            } else {
                self.db_lags(db, now).0
            };
            // `Seconds_Behind_Source` is whole seconds; NULL (receiver not connected, or the
            // server unreachable) counts as `monitor_slave_lag_when_null`.
            let secs = lag.map_or(LAG_WHEN_NULL_SECS, |l| l.as_nanos() / 1_000_000_000);
            self.clusters[cl as usize].sampled_lag[i] = secs;
        }
        let every = self.clusters[cl as usize].lag_check;
        cx.schedule_in(every, Ev::LagCheck { cluster: cl });
    }

    /// Writes while a replaced primary is up and writable: a ProxySQL-like router that
    /// finds `read_only` = 0 on both puts both in the writer hostgroup, and writes go round
    /// robin between them.
    fn db_route_split_brain(&mut self, cluster: u32) -> u32 {
        let c = &mut self.clusters[cluster as usize];
        match c.rogue {
            Some(rogue) if self.net.state(Node::Db(rogue)).down.is_none() => {
                c.wrr ^= 1;
                if c.wrr == 1 { rogue } else { c.primary }
            }
            _ => c.primary,
        }
    }
}
