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

/// ProxySQL `shun_recovery_time_sec` default 10 s.
const SHUN_RECOVERY: SimDuration = SimDuration::from_secs(10);

impl World {
    /// Which node a query goes to.
    pub(crate) fn db_route(&mut self, now: SimTime, cluster: u32, op: DbOp) -> u32 {
        let c = &mut self.clusters[cluster as usize];
        if op == DbOp::Write || c.policy == ReadPolicy::Primary {
            return c.primary;
        }
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
            if db == c.primary || c.shunned_until[here] > now {
                continue;
            }
            if c.policy == ReadPolicy::ReplicasLagBounded && c.sampled_lag[here] > c.max_lag {
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
        let nodes = self.clusters[cl as usize].nodes.clone();
        for (i, db) in nodes.iter().enumerate() {
            let lag = if self.state(Node::Db(*db)).down.is_some() {
                // Lag NULL: ProxySQL treats it as `monitor_slave_lag_when_null` = 60 s.
                SimDuration::from_secs(60)
            } else {
                self.dbs[*db as usize].lag(now)
            };
            self.clusters[cl as usize].sampled_lag[i] = lag;
        }
        let every = self.clusters[cl as usize].lag_check;
        cx.schedule_in(every, Ev::LagCheck { cluster: cl });
    }
}
