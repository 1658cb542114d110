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
//!
//! This module holds the nodes' and clusters' state and serves queries; replication is in
//! `replication`, ProxySQL-like read routing in `routing`, failover in `failover`.

mod failover;
mod replication;
mod routing;

use std::collections::VecDeque;

use infrasim_engine::dist::Dist;
use infrasim_engine::rng::open01;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime};

use crate::model::call::{DbOp, FailReason, Outcome, Ref, Tier};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::worker_pool::WorkerPool;
use crate::model::{Received, World};
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
    /// The query's work (see [`crate::model::call::Call::work`]).
    pub work: u32,
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
    /// Gray-failure error draws.
    pub rng: SimRng,
    /// The binlog's transit delay to this node (as a replica), and its appliers' times: each
    /// replica's own streams, so adding a replica leaves the others' draws unchanged.
    pub delay_rng: SimRng,
    pub apply_rng: SimRng,
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
                delay_rng: streams.stream(&format!("replication/{}/delay", n.name)),
                apply_rng: streams.stream(&format!("replication/{}/apply", n.name)),
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
        };
        (cluster, dbs)
    }
}

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

    pub(crate) fn db_receive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        db: u32,
        from: Node,
        msg: Msg,
    ) -> Received {
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
        Received::Taken
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
            work: c.work,
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
        let n = &self.dbs[db as usize];
        let Some(q) = n.pool.running.get(job) else {
            return;
        };
        let mut demand = self.demand(q.work, Tier::Db);
        let d = match q.op {
            DbOp::Read => n.read_service.sample(&mut demand),
            DbOp::Write => n.write_service.sample(&mut demand),
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
}
