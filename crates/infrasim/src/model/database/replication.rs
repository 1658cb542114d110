//! Replication, as MySQL does it (MySQL 8.4 Reference Manual: replication threads,
//! semi-synchronous replication): a committed write gets the next sequence number (a GTID);
//! its binlog event streams to every replica in order (one TCP stream: FIFO), lands in the
//! relay log (`received`), and is applied by the replica's applier threads. Lag is an
//! outcome, never a parameter: lag(t) = now − commit time of the oldest event not yet
//! applied. Semi-synchronous replication (AFTER_SYNC) holds the commit's answer until one
//! replica acknowledges receipt; after `rpl_semi_sync_source_timeout` (10 s) the primary
//! falls back to asynchronous, and returns to semi-sync when a replica has caught up.

use infrasim_engine::Context;

use super::Event;
use crate::model::World;
use crate::model::call::{Outcome, Ref};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::ReplicationMode;

impl World {
    /// Commits a write on the primary: binlog it, stream it to the replicas, and answer —
    /// at once (async) or after a replica's acknowledgement (semi-sync, AFTER_SYNC).
    pub(super) fn db_commit(
        &mut self,
        cx: &mut Context<'_, Ev>,
        cl: u32,
        db: u32,
        job: Ref,
        key: u32,
        addr: u32,
    ) {
        let now = cx.now();
        let c = &mut self.clusters[cl as usize];
        c.seq += 1;
        let seq = c.seq;
        let ev = Event {
            seq,
            key,
            committed_at: now,
        };
        self.dbs[db as usize].version[key as usize] = seq;
        // By index, not by a collected list of replicas: no allocation per write.
        for at in 0..c.nodes.len() {
            let c = &mut self.clusters[cl as usize];
            let r = c.nodes[at];
            if r == db {
                continue;
            }
            let node = &mut self.dbs[r as usize];
            let d = c.delay.sample(&mut node.delay_rng);
            // The binlog stream is one TCP connection: events arrive in commit order.
            let arrive = now.saturating_add(d).max(node.stream_tail);
            node.stream_tail = arrive;
            self.net.send_after(
                cx,
                Node::Db(db),
                Node::Db(r),
                Msg::Replicate {
                    seq,
                    key,
                    committed_at: now,
                },
                arrive - now,
            );
        }
        let _ = ev;
        let c = &mut self.clusters[cl as usize];
        if c.mode == ReplicationMode::SemiSync && c.semi_sync_on {
            c.waiting.push_back((seq, job));
            let t = c.semi_sync_timeout;
            c.last_write[addr as usize] = (key, seq);
            cx.schedule_in(t, Ev::SemiSyncTimeout { cluster: cl, seq });
        } else {
            self.db_make_visible(cl, key, seq, addr);
            self.db_finish(cx, db, job, Outcome::Ok);
        }
    }

    /// The commit is acknowledged to the client and visible to every session.
    fn db_make_visible(&mut self, cl: u32, key: u32, seq: u64, addr: u32) {
        let c = &mut self.clusters[cl as usize];
        if c.committed[key as usize] < seq {
            c.committed[key as usize] = seq;
        }
        c.acked.push_back(seq);
        c.last_write[addr as usize] = (key, seq);
    }

    pub(super) fn db_replicate(
        &mut self,
        cx: &mut Context<'_, Ev>,
        db: u32,
        from: Node,
        ev: Event,
    ) {
        let cl = self.dbs[db as usize].cluster;
        let c = &self.clusters[cl as usize];
        if from != Node::Db(c.primary) || db == c.primary {
            return; // from a demoted primary: the replica follows the new one now
        }
        if self.state(from).down.is_some() {
            // The source died before the event reached this relay log: its binlog dump
            // thread and the connection died with it, so the event never lands (MySQL: what an
            // async failover loses is exactly what had not reached the promoted replica's
            // relay log). Should the source come back, the replica re-fetches it then.
            return;
        }
        let semi = c.mode == ReplicationMode::SemiSync;
        let n = &mut self.dbs[db as usize];
        if ev.seq <= n.received {
            return;
        }
        n.received = ev.seq;
        n.relay.push_back(ev);
        if semi {
            self.send(cx, Node::Db(db), from, Msg::ReplAck { seq: ev.seq });
        }
        self.db_prune_acked(cl);
        self.db_start_appliers(cx, db);
    }

    fn db_start_appliers(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        let cl = self.dbs[db as usize].cluster;
        let k = self.net.slowdown(Node::Db(db));
        let n = &mut self.dbs[db as usize];
        for a in 0..n.appliers.len() {
            if n.appliers[a].is_some() {
                continue;
            }
            let Some(ev) = n.relay.pop_front() else {
                break;
            };
            n.appliers[a] = Some(ev);
            let d = self.clusters[cl as usize].apply.sample(&mut n.apply_rng);
            let d = if k == 1.0 { d } else { d.mul_f64(k) };
            cx.schedule_in(
                d,
                Ev::ApplyDone {
                    db,
                    applier: a as u32,
                },
            );
        }
    }

    pub(crate) fn apply_done(&mut self, cx: &mut Context<'_, Ev>, db: u32, applier: u32) {
        if self.state(Node::Db(db)).down.is_some() {
            return;
        }
        let n = &mut self.dbs[db as usize];
        let Some(ev) = n.appliers.get_mut(applier as usize).and_then(Option::take) else {
            return;
        };
        let v = &mut n.version[ev.key as usize];
        if *v < ev.seq {
            *v = ev.seq;
        }
        self.db_start_appliers(cx, db);
    }

    /// A replica acknowledged receipt: release the semi-sync commits up to `seq`.
    pub(super) fn db_ack(&mut self, cx: &mut Context<'_, Ev>, db: u32, seq: u64) {
        let cl = self.dbs[db as usize].cluster;
        if self.clusters[cl as usize].primary != db {
            return;
        }
        let c = &mut self.clusters[cl as usize];
        if !c.semi_sync_on && c.mode == ReplicationMode::SemiSync && seq >= c.seq {
            // A semi-sync replica caught up: back to semi-synchronous.
            c.semi_sync_on = true;
        }
        while let Some(&(s, job)) = self.clusters[cl as usize].waiting.front() {
            if s > seq {
                break;
            }
            self.clusters[cl as usize].waiting.pop_front();
            self.db_release_commit(cx, cl, db, s, job);
        }
    }

    fn db_release_commit(
        &mut self,
        cx: &mut Context<'_, Ev>,
        cl: u32,
        db: u32,
        seq: u64,
        job: Ref,
    ) {
        let Some(q) = self.dbs[db as usize].pool.running.get(job) else {
            return;
        };
        let (key, addr) = (q.key, q.addr);
        self.db_make_visible(cl, key, seq, addr);
        self.db_finish(cx, db, job, Outcome::Ok);
    }

    pub(crate) fn semi_sync_timeout(&mut self, cx: &mut Context<'_, Ev>, cl: u32, seq: u64) {
        let c = &mut self.clusters[cl as usize];
        if !c.waiting.iter().any(|(s, _)| *s == seq) {
            return;
        }
        // `rpl_semi_sync_source_timeout` expired: fall back to asynchronous replication and
        // release every waiting commit.
        c.semi_sync_on = false;
        let primary = c.primary;
        let waiting: Vec<(u64, Ref)> = c.waiting.drain(..).collect();
        self.metrics.semi_sync_fallback(cx.now());
        for (s, job) in waiting {
            self.db_release_commit(cx, cl, primary, s, job);
        }
    }

    /// Forget acknowledged commits every live replica has received (they cannot be lost).
    fn db_prune_acked(&mut self, cl: u32) {
        let c = &self.clusters[cl as usize];
        let min = c
            .nodes
            .iter()
            .filter(|n| **n != c.primary && self.net.state(Node::Db(**n)).down.is_none())
            .map(|n| self.dbs[*n as usize].received)
            .min()
            .unwrap_or(0);
        let c = &mut self.clusters[cl as usize];
        while c.acked.front().is_some_and(|s| *s <= min) {
            c.acked.pop_front();
        }
    }
}
