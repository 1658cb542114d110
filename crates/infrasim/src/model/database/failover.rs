//! Failover of a cluster's primary: none, manual (an operator promotes after a delay) or
//! automatic (`failed_checks` consecutive failed checks of the primary, no second automatic
//! failover within orchestrator's `RecoveryPeriodBlockSeconds`).
//!
//! Promotion, as the managers do it: replication stops everywhere; the candidate is the live
//! replica that received the most. orchestrator-like: it may apply its relay log for up to
//! `InstanceBulkOperationsWaitTimeoutSeconds`, then what is still unapplied is discarded.
//! MHA-like: it first fetches what it lacks of the dead primary's binlog if that host is
//! reachable (a crashed process leaves the host up), then applies everything, however long.
//! The new primary takes writes once done; the other replicas are re-pointed to it and keep
//! their own lag and backlog. Acknowledged writes the new primary does not hold are lost,
//! counted by reason (never received, received but discarded). The old primary, holding
//! errant transactions, stays out of the cluster until rebuilt.

use infrasim_engine::Context;

use crate::model::World;
use crate::model::metrics::FailoverRecord;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario::{CrashMode, FailoverMode, Fencing, PromotionPolicy, ReplicationMode};

impl World {
    pub(crate) fn failover_check(&mut self, cx: &mut Context<'_, Ev>, cl: u32) {
        let now = cx.now();
        let primary_down = self.manager_sees_primary_dead(cl);
        let c = &mut self.clusters[cl as usize];
        if primary_down {
            if c.failover.failed_checks == 0 {
                c.failover.first_failed = Some(now);
            }
            c.failover.failed_checks += 1;
            // orchestrator's anti-flap: no automatic recovery of the cluster within
            // `RecoveryPeriodBlockSeconds` of the last one.
            let blocked = c
                .failover
                .last_automatic
                .is_some_and(|t| now < t.saturating_add(c.recovery_block));
            if c.failover.failed_checks >= c.failed_checks_needed
                && !c.failover.in_progress
                && !blocked
            {
                c.failover.in_progress = true;
                c.failover.detected_at = Some(now);
                let epoch = c.failover.epoch;
                let d = c.promotion;
                let primary = c.primary;
                self.metrics.detected(now, Node::Db(primary));
                cx.schedule_in(d, Ev::Promote { cluster: cl, epoch });
            }
        } else {
            c.failover.failed_checks = 0;
        }
        let every = self.clusters[cl as usize].check_interval;
        cx.schedule_in(every, Ev::FailoverCheck { cluster: cl });
    }

    /// The manager's verdict on the primary at one check. Its check travels the network
    /// from its own host: it fails when the primary's process is down (refused), its host is
    /// down or the two are cut off (no answer). With replica agreement (orchestrator's
    /// DeadMaster and DeadMasterAndSomeReplicas, go/inst/analysis_dao.go) the manager must
    /// also reach at least one live replica, and none of those it reaches may still be
    /// replicating from the primary (receiver connected to it); otherwise it is
    /// UnreachableMaster, which orchestrator does not recover.
    fn manager_sees_primary_dead(&self, cl: u32) -> bool {
        let c = &self.clusters[cl as usize];
        let manager = Node::Manager(cl);
        let primary = c.primary;
        let p = Node::Db(primary);
        if self.state(p).down.is_none() && self.net.reachable(manager, p) {
            return false;
        }
        if !c.replica_agreement {
            return true;
        }
        let (mut valid, mut replicating) = (0u32, 0u32);
        for &r in &c.nodes {
            let n = &self.dbs[r as usize];
            if r == primary
                || n.out
                || self.state(Node::Db(r)).down.is_some()
                || !self.net.reachable(manager, Node::Db(r))
            {
                continue;
            }
            valid += 1;
            if n.link.connected && n.link.source == primary {
                replicating += 1;
            }
        }
        valid > 0 && replicating == 0
    }

    /// Stops replication and starts promoting the live replica that received the most.
    pub(crate) fn promote(&mut self, cx: &mut Context<'_, Ev>, cl: u32, epoch: u32) {
        let c = &self.clusters[cl as usize];
        if c.failover.epoch != epoch || !c.failover.in_progress || c.failover.draining.is_some() {
            return;
        }
        let old = c.primary;
        let alive = self.state(Node::Db(old)).down.is_none();
        let reachable = self.net.reachable(Node::Manager(cl), Node::Db(old));
        if alive && (reachable || c.failover_mode == FailoverMode::Manual) {
            // The primary came back before promotion (or the manager reaches it again):
            // nothing to do. A primary alive but cut off from the manager is failed over.
            let c = &mut self.clusters[cl as usize];
            c.failover.in_progress = false;
            return;
        }
        let best = c
            .nodes
            .iter()
            .copied()
            .filter(|n| {
                *n != old && self.state(Node::Db(*n)).down.is_none() && !self.dbs[*n as usize].out
            })
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
        // Replication stops: every receiver leaves the dead primary.
        for at in 0..self.clusters[cl as usize].nodes.len() {
            let r = self.clusters[cl as usize].nodes[at];
            if r != old && self.dbs[r as usize].link.connected {
                self.db_disconnect(r);
            }
        }
        let c = &mut self.clusters[cl as usize];
        let head = c.head();
        let policy = c.promotion_policy;
        let wait = c.apply_wait;
        if policy == PromotionPolicy::Mha
            && self.net.state(Node::Db(old)).down == Some(CrashMode::Process)
            && self.net.reachable(Node::Manager(cl), Node::Db(old))
        {
            // MHA saves the dead master's binlog over SSH and applies the difference.
            self.dbs[new as usize].received = head;
        }
        let c = &mut self.clusters[cl as usize];
        c.failover.draining = Some(new);
        c.failover.stop_received = self.dbs[new as usize].received;
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(
                cx.now(),
                self.names.name(Node::Db(new)),
                "promotion candidate",
            );
        }
        let n = &self.dbs[new as usize];
        if n.applied >= n.received {
            self.db_finish_promotion(cx, cl);
            return;
        }
        if policy == PromotionPolicy::Orchestrator {
            cx.schedule_in(wait, Ev::PromoteDeadline { cluster: cl, epoch });
        }
        self.db_start_appliers(cx, new);
    }

    /// orchestrator's wait for the candidate's applier ran out: promote it with what it
    /// applied.
    pub(crate) fn promote_deadline(&mut self, cx: &mut Context<'_, Ev>, cl: u32, epoch: u32) {
        let c = &self.clusters[cl as usize];
        if c.failover.epoch == epoch && c.failover.draining.is_some() {
            self.db_finish_promotion(cx, cl);
        }
    }

    /// The candidate becomes the primary with what it applied; the rest of its relay log is
    /// discarded. Counts the lost writes by reason and re-points the other replicas.
    pub(super) fn db_finish_promotion(&mut self, cx: &mut Context<'_, Ev>, cl: u32) {
        let now = cx.now();
        let c = &mut self.clusters[cl as usize];
        let Some(new) = c.failover.draining.take() else {
            return;
        };
        let old = c.primary;
        let stop = c.failover.stop_received;
        let n = &mut self.dbs[new as usize];
        let kept = n.applied;
        n.appliers.iter_mut().for_each(|a| *a = None);
        n.received = kept;
        n.next = kept + 1;
        n.link.connected = false;
        n.link.conn += 1;
        let old_alive = self.state(Node::Db(old)).down.is_none();
        if old_alive {
            // A primary failed over while alive (cut off from the manager): its commits
            // waiting for a semi-sync acknowledgement get none from the re-pointed replicas;
            // they are acknowledged as `rpl_semi_sync_source_timeout` would (at once here).
            while let Some((pos, job)) = self.clusters[cl as usize].waiting.pop_front() {
                if let Some(e) = self.clusters[cl as usize].event_mut(pos) {
                    e.acked = true;
                }
                self.db_finish(cx, old, job, crate::model::call::Outcome::Ok);
            }
        }
        let c = &mut self.clusters[cl as usize];
        let head = c.head();
        let (mut not_received, mut discarded) = (0u64, 0u64);
        for pos in kept + 1..=head {
            if c.event(pos).is_some_and(|e| e.acked) {
                if pos <= stop {
                    discarded += 1;
                } else {
                    not_received += 1;
                }
            }
        }
        let errant = head > kept;
        // Replicas that applied beyond the new primary (possible when the candidate's
        // unapplied relay log was discarded): GTID shows them holding transactions the new
        // primary lacks, and orchestrator leaves such "ahead" replicas unmoved — lost
        // replicas, detached (`DetachLostReplicasAfterMasterFailover`) — until rebuilt.
        let mut ahead: Vec<(u32, u64)> = Vec::new();
        for &r in &c.nodes {
            let n = &self.dbs[r as usize];
            if r != new
                && r != old
                && n.applied > kept
                && !n.out
                && self.net.state(Node::Db(r)).down.is_none()
            {
                ahead.push((r, distinct_keys(c, kept + 1, n.applied)));
            }
        }
        // An old primary let rejoin keeps its errant transactions in its data.
        let rejoin_divergent = if c.rejoin_errant && errant && !old_alive {
            distinct_keys(c, kept + 1, head)
        } else {
            0
        };
        c.binlog.truncate(kept.saturating_sub(c.base) as usize);
        let data = self.dbs[new as usize].version.clone();
        let c = &mut self.clusters[cl as usize];
        c.primary = new;
        c.committed.clone_from(&data);
        c.waiting.clear();
        c.failover.in_progress = false;
        c.failover.failed_checks = 0;
        c.failover.epoch += 1;
        if c.failover_mode == FailoverMode::Automatic {
            c.failover.last_automatic = Some(now);
        }
        c.semi_sync_on = c.mode == ReplicationMode::SemiSync;
        let rejoin = c.rejoin_errant;
        // The old primary: out until rebuilt if it holds errant transactions (unless the
        // user lets it rejoin); otherwise a replica at the new primary's position.
        let o = &mut self.dbs[old as usize];
        o.appliers.iter_mut().for_each(|a| *a = None);
        o.received = kept;
        o.applied = kept;
        o.next = kept + 1;
        o.out = (errant && !rejoin) || old_alive;
        if old_alive {
            // Still up and writable, and the manager cannot reach it to set `read_only` or
            // re-point it: only STONITH (out of band) stops it; otherwise a router that
            // finds `read_only` = 0 on both sends it writes (split brain) until it is
            // rebuilt.
            self.fence_live_old_primary(cx, cl, old);
        }
        // Every other replica is re-pointed (GTID auto-position) with its own backlog;
        // what it holds beyond the new primary's history is dropped.
        let rebuild = self.clusters[cl as usize].rebuild_time;
        for &(r, _) in &ahead {
            let n = &mut self.dbs[r as usize];
            n.out = true;
            n.appliers.iter_mut().for_each(|a| *a = None);
            n.next = n.applied + 1;
            n.received = n.applied;
            self.db_disconnect(r);
            let epoch = self.dbs[r as usize].epoch;
            cx.schedule_in(rebuild, Ev::DbRebuilt { db: r, epoch });
            if let Some(obs) = self.observer.as_mut() {
                obs.state_changed(now, self.names.name(Node::Db(r)), "lost replica (ahead)");
            }
        }
        for at in 0..self.clusters[cl as usize].nodes.len() {
            let r = self.clusters[cl as usize].nodes[at];
            if r == new || r == old || self.dbs[r as usize].out {
                continue;
            }
            let n = &mut self.dbs[r as usize];
            n.received = n.received.min(kept);
            n.applied = n.applied.min(kept);
            n.next = n.next.min(kept + 1);
            for a in n.appliers.iter_mut() {
                if a.is_some_and(|s| s.pos > kept) {
                    *a = None;
                }
            }
            self.db_receiver_connect(cx, r);
            self.db_start_appliers(cx, r);
        }
        self.metrics
            .failover(now, Node::Db(old), not_received + discarded);
        self.metrics.lost_by_reason(now, not_received, discarded);
        let c = &self.clusters[cl as usize];
        let primary_lost_at = if old_alive {
            c.failover.first_failed.unwrap_or(now)
        } else {
            self.dbs[old as usize].crashed_at
        };
        self.metrics.failover_done(FailoverRecord {
            at: now,
            cluster: cl,
            old: Node::Db(old),
            new: Node::Db(new),
            policy: match c.promotion_policy {
                PromotionPolicy::Orchestrator => "orchestrator",
                PromotionPolicy::Mha => "mha",
            },
            primary_lost_at,
            old_was_down: !old_alive,
            detected_at: c.failover.detected_at,
            lost_not_received: not_received,
            lost_discarded: discarded,
            lost_split_brain: 0,
            divergent_keys: 0,
            lost_replicas: ahead.iter().map(|&(r, _)| Node::Db(r)).collect(),
        });
        let divergent = rejoin_divergent + ahead.iter().map(|&(_, k)| k).sum::<u64>();
        if divergent > 0 {
            self.metrics.divergent(now, divergent);
        }
        let c = &mut self.clusters[cl as usize];
        c.failover.first_failed = None;
        c.failover.detected_at = None;
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(now, self.names.name(Node::Db(new)), "promoted to primary");
        }
    }

    /// A replaced primary that is still up: powered off until rebuilt (`stonith`), or left
    /// writable — `read-only` fencing acts at a restart, which never came — and rebuilt
    /// after `rebuild_time`.
    fn fence_live_old_primary(&mut self, cx: &mut Context<'_, Ev>, cl: u32, old: u32) {
        let now = cx.now();
        let c = &self.clusters[cl as usize];
        let (fencing, rebuild) = (c.fencing, c.rebuild_time);
        if fencing == Fencing::Stonith {
            self.crash(cx, Node::Db(old), CrashMode::Host);
        } else {
            self.dbs[old as usize].rogue = true;
            self.clusters[cl as usize].rogue = Some(old);
            if let Some(obs) = self.observer.as_mut() {
                obs.state_changed(
                    now,
                    self.names.name(Node::Db(old)),
                    "writable (split brain)",
                );
            }
        }
        let epoch = self.dbs[old as usize].epoch;
        cx.schedule_in(rebuild, Ev::DbRebuilt { db: old, epoch });
    }
}

/// How many distinct keys the binlog events at positions `from..=to` write.
fn distinct_keys(c: &super::Cluster, from: u64, to: u64) -> u64 {
    let keys: std::collections::BTreeSet<u32> = (from..=to)
        .filter_map(|p| c.event(p).map(|e| e.key))
        .collect();
    keys.len() as u64
}
