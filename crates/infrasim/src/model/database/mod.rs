//! A MySQL-like primary-replica cluster (MySQL 8.4 reference manual: replication threads,
//! semi-synchronous replication; orchestrator and ProxySQL for failover and routing).
//!
//! * The primary serves reads and writes, replicas serve reads; each node has workers and a
//!   queue (full ⇒ "too many connections", a refused connection).
//! * A committed write gets the next sequence number (a GTID); its binlog event streams to
//!   every replica in order (a TCP stream: FIFO), lands in the relay log (`received`), and is
//!   applied by the replica's applier threads (`applied`). Lag is an outcome, never a
//!   parameter: lag(t) = now − commit time of the oldest event not yet applied.
//! * Semi-synchronous replication (AFTER_SYNC): the commit waits for one replica's
//!   acknowledgement of receipt; after `rpl_semi_sync_source_timeout` (10 s) the primary
//!   falls back to asynchronous, and returns to semi-sync when a replica has caught up.
//! * Reads go where the routing policy says; a read served by a replica whose copy of the key
//!   is older than the latest committed write is *stale*; a client that reads a key it wrote
//!   itself and misses its write suffers a *read-your-writes violation*.
//! * Failover: none, manual (after an operator's delay) or automatic (k failed checks, then
//!   promotion of the replica that received the most). Writes acknowledged on the old
//!   primary but never received by the promoted replica are **lost**, and counted.

use std::collections::VecDeque;

use infrasim_engine::dist::Dist;
use infrasim_engine::rng::open01;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime};

use crate::model::World;
use crate::model::call::{DbOp, FailReason, Outcome, Ref};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::worker_pool::WorkerPool;
use crate::scenario::{self, FailoverMode, ReadPolicy, ReplicationMode};

/// A binlog event in a replica's relay log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub seq: u64,
    pub key: u32,
    pub committed_at: SimTime,
}

/// A query being served.
#[derive(Debug)]
pub(crate) struct Query {
    pub call: Ref,
    pub op: DbOp,
    pub key: u32,
    pub addr: u32,
}

/// One database server.
pub(crate) struct DbNode {
    pub cluster: u32,
    pub pool: WorkerPool<Query>,
    pub read_service: Dist,
    pub write_service: Dist,
    /// Version (commit sequence) of each key in this node's data.
    pub version: Vec<u64>,
    /// Highest event in the relay log.
    pub received: u64,
    /// Events received, not yet being applied.
    pub relay: VecDeque<Event>,
    /// What each applier thread is applying.
    pub appliers: Vec<Option<Event>>,
    /// When the last event sent to this node arrives (the stream is FIFO).
    pub stream_tail: SimTime,
    pub rng: SimRng,
}

impl DbNode {
    /// Replication lag now: age of the oldest event not yet applied (0 when caught up).
    pub(crate) fn lag(&self, now: SimTime) -> SimDuration {
        let oldest = self
            .appliers
            .iter()
            .flatten()
            .map(|e| e.committed_at)
            .chain(self.relay.front().map(|e| e.committed_at))
            .min();
        oldest.map_or(SimDuration::ZERO, |t| now.saturating_since(t))
    }
}

/// Failover progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FailoverState {
    pub failed_checks: u32,
    pub in_progress: bool,
    /// Bumped at each promotion so stale Promote events are ignored.
    pub epoch: u32,
}

/// A cluster: which node is primary, what was committed, and the routing state.
pub(crate) struct Cluster {
    pub nodes: Vec<u32>,
    pub primary: u32,
    pub mode: ReplicationMode,
    pub semi_sync_on: bool,
    pub semi_sync_timeout: SimDuration,
    pub delay: Dist,
    pub apply: Dist,
    pub policy: ReadPolicy,
    pub max_lag: SimDuration,
    pub lag_check: SimDuration,
    pub failover_mode: FailoverMode,
    pub operator_delay: SimDuration,
    pub check_interval: SimDuration,
    pub failed_checks_needed: u32,
    pub promotion: SimDuration,
    pub failover: FailoverState,
    /// Last commit sequence number.
    pub seq: u64,
    /// Latest client-visible version of each key.
    pub committed: Vec<u64>,
    /// Acknowledged commits not yet known received by every live replica (for lost writes).
    pub acked: VecDeque<u64>,
    /// Commits waiting for a semi-sync acknowledgement: (seq, query job on the primary).
    pub waiting: VecDeque<(u64, Ref)>,
    /// Each client's last write: (key, seq), for read-your-writes.
    pub last_write: Vec<(u32, u64)>,
    /// ProxySQL-like shunning of nodes after connection errors, until this time.
    pub shunned_until: Vec<SimTime>,
    /// Last sampled lag of each node (ProxySQL `monitor_replication_lag_interval`).
    pub sampled_lag: Vec<SimDuration>,
    pub rr: u32,
    pub rng: SimRng,
}

impl Cluster {
    /// Cluster `index` as the scenario describes it, and its nodes (primary first), numbered
    /// from `first_node` on: every key at version 0 everywhere, nothing in flight.
    pub(crate) fn new(
        spec: &scenario::Database,
        index: u32,
        first_node: u32,
        clients: &scenario::Clients,
        streams: &RngStreams,
    ) -> (Cluster, Vec<DbNode>) {
        let keys = clients.keys.count as usize;
        let members: Vec<&scenario::DbNode> = std::iter::once(&spec.primary)
            .chain(&spec.replicas)
            .collect();
        let dbs: Vec<DbNode> = members
            .iter()
            .map(|n| DbNode {
                cluster: index,
                pool: WorkerPool::new(n.workers, n.queue),
                read_service: n.read_service.validated(),
                write_service: n.write_service.validated(),
                version: vec![0; keys],
                received: 0,
                relay: VecDeque::new(),
                appliers: vec![None; spec.replication.appliers as usize],
                stream_tail: SimTime::ZERO,
                rng: streams.stream(&format!("db/{}", n.name)),
            })
            .collect();
        let n = dbs.len();
        let nodes: Vec<u32> = (first_node..first_node + n as u32).collect();
        let cluster = Cluster {
            primary: nodes[0],
            nodes,
            mode: spec.replication.mode,
            semi_sync_on: spec.replication.mode == ReplicationMode::SemiSync,
            semi_sync_timeout: spec.replication.semi_sync_timeout,
            delay: spec.replication.delay.validated(),
            apply: spec.replication.apply.validated(),
            policy: spec.read_routing.policy,
            max_lag: spec.read_routing.max_replication_lag,
            lag_check: spec.read_routing.lag_check_interval,
            failover_mode: spec.failover.mode,
            operator_delay: spec.failover.operator_delay,
            check_interval: spec.failover.check_interval,
            failed_checks_needed: spec.failover.failed_checks,
            promotion: spec.failover.promotion,
            failover: FailoverState::default(),
            seq: 0,
            committed: vec![0; keys],
            acked: VecDeque::new(),
            waiting: VecDeque::new(),
            last_write: vec![(u32::MAX, 0); clients.addresses as usize],
            shunned_until: vec![SimTime::ZERO; n],
            sampled_lag: vec![SimDuration::ZERO; n],
            rr: 0,
            rng: streams.stream(&format!("cluster/{}", spec.name)),
        };
        (cluster, dbs)
    }
}

/// ProxySQL `shun_recovery_time_sec` default 10 s.
const SHUN_RECOVERY: SimDuration = SimDuration::from_secs(10);

impl Cluster {
    fn is_replica(&self, db: u32) -> bool {
        db != self.primary
    }
    fn local(&self, db: u32) -> usize {
        self.nodes
            .iter()
            .position(|n| *n == db)
            .expect("node of this cluster")
    }
}

impl World {
    /// Starts the periodic tasks of every cluster (lag sampling, failover checks).
    pub(crate) fn start_databases(&mut self, cx: &mut Context<'_, Ev>) {
        for (i, c) in self.clusters.iter().enumerate() {
            let cluster = i as u32;
            if c.policy == ReadPolicy::ReplicasLagBounded {
                cx.schedule_in(c.lag_check, Ev::LagCheck { cluster });
            }
            if c.failover_mode == FailoverMode::Automatic {
                cx.schedule_in(c.check_interval, Ev::FailoverCheck { cluster });
            }
        }
    }

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

    pub(crate) fn db_receive(&mut self, cx: &mut Context<'_, Ev>, db: u32, from: Node, msg: Msg) {
        match msg {
            Msg::Call(call) => self.db_accept(cx, db, call),
            Msg::Replicate {
                seq,
                key,
                committed_at,
            } => self.db_replicate(
                cx,
                db,
                from,
                Event {
                    seq,
                    key,
                    committed_at,
                },
            ),
            Msg::ReplAck { seq } => self.db_ack(cx, db, seq),
            _ => {}
        }
    }

    fn db_accept(&mut self, cx: &mut Context<'_, Ev>, db: u32, call: Ref) {
        let now = cx.now();
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let q = Query {
            call,
            op: c.db_op.unwrap_or(DbOp::Read),
            key: c.key,
            addr: c.addr,
        };
        match self.dbs[db as usize].pool.admit(now, q) {
            Ok(start) => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.connected_at = now;
                }
                if let Some(job) = start {
                    self.db_start(cx, db, job);
                }
            }
            // "Too many connections".
            Err(_) => self.reset(cx, call),
        }
    }

    fn db_start(&mut self, cx: &mut Context<'_, Ev>, db: u32, job: Ref) {
        let k = self.net.slowdown(Node::Db(db));
        let n = &mut self.dbs[db as usize];
        let Some(q) = n.pool.running.get(job) else {
            return;
        };
        let d = match q.op {
            DbOp::Read => n.read_service.sample(&mut n.rng),
            DbOp::Write => n.write_service.sample(&mut n.rng),
        };
        let d = if k == 1.0 { d } else { d.mul_f64(k) };
        cx.schedule_in(
            d,
            Ev::WorkDone {
                node: Node::Db(db),
                job,
            },
        );
    }

    pub(crate) fn db_work_done(&mut self, cx: &mut Context<'_, Ev>, db: u32, job: Ref) {
        let now = cx.now();
        let cl = self.dbs[db as usize].cluster;
        let Some(q) = self.dbs[db as usize].pool.running.get(job) else {
            return;
        };
        let (op, key, addr) = (q.op, q.key, q.addr);
        let p = self.net.error_rate(Node::Db(db));
        if p > 0.0 && open01(&mut self.dbs[db as usize].rng) < p {
            self.db_finish(
                cx,
                db,
                job,
                Outcome::Failed(FailReason::DatabaseUnavailable),
            );
            return;
        }
        match op {
            DbOp::Read => {
                let v = self.dbs[db as usize].version[key as usize];
                let c = &self.clusters[cl as usize];
                let measured = now >= self.warmup_end;
                if c.is_replica(db) && v < c.committed[key as usize] {
                    self.metrics.stale_read(measured);
                }
                let (wkey, wseq) = c.last_write[addr as usize];
                if wkey == key && wseq > 0 && v < wseq {
                    self.metrics.ryw_violation(measured);
                }
                self.metrics.db_read(measured);
                self.db_finish(cx, db, job, Outcome::Ok);
            }
            DbOp::Write => {
                if self.clusters[cl as usize].primary != db {
                    // A read-only node (a demoted primary) refuses writes.
                    self.db_finish(
                        cx,
                        db,
                        job,
                        Outcome::Failed(FailReason::DatabaseUnavailable),
                    );
                    return;
                }
                self.db_commit(cx, cl, db, job, key, addr);
            }
        }
    }

    fn db_finish(&mut self, cx: &mut Context<'_, Ev>, db: u32, job: Ref, outcome: Outcome) {
        let now = cx.now();
        let Some((q, next)) = self.dbs[db as usize].pool.finish(now, job) else {
            return;
        };
        self.reply(cx, q.call, outcome);
        if let Some(next) = next {
            self.db_start(cx, db, next);
        }
    }

    /// Commits a write on the primary: binlog it, stream it to the replicas, and answer —
    /// at once (async) or after a replica's acknowledgement (semi-sync, AFTER_SYNC).
    fn db_commit(
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
            let d = c.delay.sample(&mut c.rng);
            let node = &mut self.dbs[r as usize];
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

    fn db_replicate(&mut self, cx: &mut Context<'_, Ev>, db: u32, from: Node, ev: Event) {
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
            let c = &mut self.clusters[cl as usize];
            let d = c.apply.sample(&mut c.rng);
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
    fn db_ack(&mut self, cx: &mut Context<'_, Ev>, db: u32, seq: u64) {
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

    /// Takes a database node down (crash): its queries are lost; a process crash resets
    /// their connections. For the primary, manual failover starts the operator's clock.
    pub(crate) fn db_crash(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        let now = cx.now();
        let process = self.state(Node::Db(db)).down == Some(crate::scenario::CrashMode::Process);
        let queries = self.dbs[db as usize].pool.clear(now);
        for q in queries {
            if process {
                self.reset(cx, q.call);
            }
        }
        let n = &mut self.dbs[db as usize];
        n.appliers.iter_mut().for_each(|a| *a = None);
        n.relay.clear();
        let cl = n.cluster;
        let c = &mut self.clusters[cl as usize];
        if c.primary == db {
            c.waiting.clear();
            if c.failover_mode == FailoverMode::Manual && !c.failover.in_progress {
                c.failover.in_progress = true;
                let epoch = c.failover.epoch;
                let d = c.operator_delay;
                cx.schedule_in(d, Ev::Promote { cluster: cl, epoch });
            }
        }
    }

    /// A database node comes back. A former primary that was replaced rejoins as a replica,
    /// re-cloned from the current primary.
    pub(crate) fn db_restart(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        let cl = self.dbs[db as usize].cluster;
        let primary = self.clusters[cl as usize].primary;
        if primary != db {
            let (version, received) = {
                let p = &self.dbs[primary as usize];
                (p.version.clone(), self.clusters[cl as usize].seq)
            };
            let n = &mut self.dbs[db as usize];
            // Whatever it missed while down is fetched from the primary's binlog; modelled as
            // a clone of the primary's data (a replica that stayed up keeps streaming).
            if n.received < received {
                n.version = version;
                n.received = received;
            }
            n.stream_tail = cx.now();
        } else {
            let c = &mut self.clusters[cl as usize];
            c.failover.in_progress = false;
            c.failover.failed_checks = 0;
            // The source restarted (still the primary: no failover happened). Its replicas
            // reconnect and fetch from its binlog what was in flight when it died (GTID
            // auto-positioning); modelled, like a returning replica, as a copy of its data.
            let seq = c.seq;
            let others: Vec<u32> = c.nodes.iter().copied().filter(|n| *n != db).collect();
            for r in others {
                if self.state(Node::Db(r)).down.is_some() || self.dbs[r as usize].received >= seq {
                    continue;
                }
                let version = self.dbs[db as usize].version.clone();
                let n = &mut self.dbs[r as usize];
                n.version = version;
                n.received = seq;
                n.relay.clear();
                n.appliers.iter_mut().for_each(|a| *a = None);
                n.stream_tail = cx.now();
            }
        }
    }

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
