//! Failover of a cluster's primary: none, manual (an operator promotes after a delay) or
//! automatic (orchestrator-like: `failed_checks` consecutive failed checks of the primary,
//! then promotion of the live replica that received the most). Writes acknowledged on the
//! old primary but never received by the promoted replica are lost, and counted.

use infrasim_engine::Context;

use super::Event;
use crate::model::World;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario::{FailoverMode, ReplicationMode};

impl World {
    pub(crate) fn failover_check(&mut self, cx: &mut Context<'_, Ev>, cl: u32) {
        let c = &self.clusters[cl as usize];
        let primary_down = self.state(Node::Db(c.primary)).down.is_some();
        let c = &mut self.clusters[cl as usize];
        if primary_down {
            c.failover.failed_checks += 1;
            if c.failover.failed_checks >= c.failed_checks_needed && !c.failover.in_progress {
                c.failover.in_progress = true;
                let epoch = c.failover.epoch;
                let d = c.promotion;
                let primary = c.primary;
                self.metrics.detected(cx.now(), Node::Db(primary));
                cx.schedule_in(d, Ev::Promote { cluster: cl, epoch });
            }
        } else {
            c.failover.failed_checks = 0;
        }
        let every = self.clusters[cl as usize].check_interval;
        cx.schedule_in(every, Ev::FailoverCheck { cluster: cl });
    }

    /// Promotes the live replica that received the most; counts the writes lost.
    pub(crate) fn promote(&mut self, cx: &mut Context<'_, Ev>, cl: u32, epoch: u32) {
        let now = cx.now();
        let c = &self.clusters[cl as usize];
        if c.failover.epoch != epoch || !c.failover.in_progress {
            return;
        }
        let old = c.primary;
        if self.state(Node::Db(old)).down.is_none() {
            // The primary came back before promotion: nothing to do.
            let c = &mut self.clusters[cl as usize];
            c.failover.in_progress = false;
            return;
        }
        let best = c
            .nodes
            .iter()
            .copied()
            .filter(|n| *n != old && self.state(Node::Db(*n)).down.is_none())
            .max_by_key(|n| (self.dbs[*n as usize].received, std::cmp::Reverse(*n)));
        let Some(new) = best else {
            // No live replica: try again at the next check (or an operator retries).
            let c = &mut self.clusters[cl as usize];
            c.failover.in_progress = false;
            c.failover.failed_checks = 0;
            if c.failover_mode == FailoverMode::Manual {
                c.failover.in_progress = true;
                let d = c.operator_delay;
                cx.schedule_in(d, Ev::Promote { cluster: cl, epoch });
            }
            return;
        };
        let received = self.dbs[new as usize].received;
        let lost = self.clusters[cl as usize]
            .acked
            .iter()
            .filter(|s| **s > received)
            .count() as u64;
        // The promoted replica applies its relay log before taking writes.
        let n = &mut self.dbs[new as usize];
        let pending: Vec<Event> = n
            .appliers
            .iter_mut()
            .filter_map(Option::take)
            .chain(n.relay.drain(..))
            .collect();
        for e in pending {
            if n.version[e.key as usize] < e.seq {
                n.version[e.key as usize] = e.seq;
            }
        }
        let data = n.version.clone();
        let c = &mut self.clusters[cl as usize];
        c.primary = new;
        c.committed = data.clone();
        c.acked.clear();
        c.waiting.clear();
        c.failover.in_progress = false;
        c.failover.failed_checks = 0;
        c.failover.epoch += 1;
        c.semi_sync_on = c.mode == ReplicationMode::SemiSync;
        // The other replicas re-point to the new primary (GTID auto-position).
        let others: Vec<u32> = c
            .nodes
            .iter()
            .copied()
            .filter(|n| *n != new && *n != old)
            .collect();
        for o in others {
            let n = &mut self.dbs[o as usize];
            n.version = data.clone();
            n.received = received;
            n.relay.clear();
            n.appliers.iter_mut().for_each(|a| *a = None);
            n.stream_tail = now;
        }
        self.metrics.failover(now, Node::Db(old), lost);
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(now, self.names.name(Node::Db(new)), "promoted to primary");
        }
    }
}
