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
use crate::scenario::{self, FailoverMode, Fencing, PromotionPolicy, ReadPolicy, ReplicationMode};

/// A binlog event: a committed write, at its position in the primary's binlog.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// The write's GTID (a cluster-wide sequence number; also the key's version).
    pub seq: u64,
    pub committed_at: SimTime,
    pub key: u32,
    /// Acknowledged to the client (counted as lost if the cluster goes on without it).
    pub acked: bool,
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

/// One applier worker's transaction: binlog position, event, and whether it finished and
/// waits for its turn to commit (`replica_preserve_commit_order`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub pos: u64,
    pub ev: Event,
    pub done: bool,
}

/// A replica's receiver (I/O) thread and its connection to the source's binlog dump thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Receiver {
    /// Connected to `source` (`Replica_IO_Running: Yes`); otherwise reconnecting.
    pub connected: bool,
    pub source: u32,
    /// The connection's incarnation: bumped at every (dis)connection, so that what was in
    /// flight on an older connection is recognised and ignored.
    pub conn: u32,
    /// Last binlog position the dump thread put on this connection.
    pub sent: u64,
    /// When the last segment sent arrives (a TCP stream is FIFO).
    pub tail: SimTime,
    /// A segment is being retransmitted (or the connection is dead and the receiver does
    /// not know yet): later events queue behind it.
    pub blocked: bool,
    /// When the receiver last heard from the source (an event or a heartbeat).
    pub last_heard: SimTime,
}

/// One database server.
pub(crate) struct DbNode {
    pub cluster: u32,
    pub pool: WorkerPool<Query>,
    pub read_service: Dist,
    pub write_service: Dist,
    /// Version (commit sequence) of each key in this node's data.
    pub version: Vec<u64>,
    /// Binlog position of the last event in the relay log.
    pub received: u64,
    /// Every event up to this position is applied (committed in source order).
    pub applied: u64,
    /// Next relay-log position to hand to an applier.
    pub next: u64,
    /// What each applier worker is applying.
    pub appliers: Vec<Option<Slot>>,
    pub link: Receiver,
    /// A replaced primary holding errant transactions: out of the cluster until rebuilt.
    pub out: bool,
    /// Out and writable (restarted without fencing): it takes writes (split brain).
    pub rogue: bool,
    /// Bumped at each crash and rebuild, so that stale rebuilds are ignored.
    pub epoch: u32,
    /// When it last crashed.
    pub crashed_at: SimTime,
    /// Gray-failure error draws.
    pub rng: SimRng,
    /// The binlog's extra transit delay to this node (as a replica), and its appliers'
    /// times: each replica's own streams, so adding a replica leaves the others' draws
    /// unchanged.
    pub delay_rng: SimRng,
    pub apply_rng: SimRng,
}

/// Failover progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FailoverState {
    pub failed_checks: u32,
    pub in_progress: bool,
    /// Bumped at each promotion so stale Promote events are ignored.
    pub epoch: u32,
    /// The candidate applying its relay log before it takes writes.
    pub draining: Option<u32>,
    /// The candidate's relay-log end when replication stopped.
    pub stop_received: u64,
    /// When the last automatic failover finished (`RecoveryPeriodBlockSeconds`).
    pub last_automatic: Option<SimTime>,
    /// When the manager's checks of the primary began to fail (the first of a run).
    pub first_failed: Option<SimTime>,
    /// When the manager declared the primary dead.
    pub detected_at: Option<SimTime>,
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
    pub net_timeout: SimDuration,
    pub connect_retry: SimDuration,
    pub policy: ReadPolicy,
    pub max_lag: SimDuration,
    pub lag_check: SimDuration,
    pub failover_mode: FailoverMode,
    pub promotion_policy: PromotionPolicy,
    pub apply_wait: SimDuration,
    pub recovery_block: SimDuration,
    pub fencing: Fencing,
    pub rebuild_time: SimDuration,
    pub rejoin_errant: bool,
    pub replica_agreement: bool,
    pub operator_delay: SimDuration,
    pub check_interval: SimDuration,
    pub failed_checks_needed: u32,
    pub promotion: SimDuration,
    pub failover: FailoverState,
    /// Last GTID handed out.
    pub seq: u64,
    /// The primary's binlog from position `base + 1` on (older events, applied by every
    /// member, are purged).
    pub binlog: VecDeque<Event>,
    pub base: u64,
    /// Latest client-visible version of each key.
    pub committed: Vec<u64>,
    /// Commits waiting for a semi-sync acknowledgement: (binlog position, query job).
    pub waiting: VecDeque<(u64, Ref)>,
    /// Each client's last write: (key, seq), for read-your-writes.
    pub last_write: Vec<(u32, u64)>,
    /// ProxySQL-like shunning of nodes after connection errors, until this time.
    pub shunned_until: Vec<SimTime>,
    /// Last sampled `Seconds_Behind_Source` of each node, whole seconds (NULL sampled as
    /// ProxySQL's `monitor_slave_lag_when_null`, 60 s).
    pub sampled_lag: Vec<u64>,
    /// Keys written on a rogue old primary (split brain), and how many.
    pub divergent: Vec<bool>,
    pub divergent_count: u64,
    /// Split-brain writes acknowledged on the rogue node since it came back.
    pub rogue_writes: u64,
    pub rr: u32,
    /// A replaced primary up and writable (no fencing), taking writes.
    pub rogue: Option<u32>,
    /// Write round robin while a rogue node is writable.
    pub wrr: u32,
}

impl Cluster {
    /// Cluster `index` as the scenario describes it, and its nodes (primary first), numbered
    /// from `first_node` on: every key at version 0 everywhere, nothing in flight, every
    /// replica connected to the primary.
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
            .enumerate()
            .map(|(i, n)| DbNode {
                cluster: index,
                pool: WorkerPool::new(n.workers, n.queue),
                read_service: n.read_service.validated(),
                write_service: n.write_service.validated(),
                version: vec![0; keys],
                received: 0,
                applied: 0,
                next: 1,
                appliers: vec![None; spec.replication.appliers as usize],
                link: Receiver {
                    connected: i > 0,
                    source: first_node,
                    conn: 0,
                    sent: 0,
                    tail: SimTime::ZERO,
                    blocked: false,
                    last_heard: SimTime::ZERO,
                },
                out: false,
                rogue: false,
                epoch: 0,
                crashed_at: SimTime::ZERO,
                rng: streams.stream(&format!("db/{}", n.name)),
                delay_rng: streams.stream(&format!("replication/{}/delay", n.name)),
                apply_rng: streams.stream(&format!("replication/{}/apply", n.name)),
            })
            .collect();
        let n = dbs.len();
        let nodes: Vec<u32> = (first_node..first_node + n as u32).collect();
        let f = &spec.failover;
        let cluster = Cluster {
            primary: nodes[0],
            nodes,
            mode: spec.replication.mode,
            semi_sync_on: spec.replication.mode == ReplicationMode::SemiSync,
            semi_sync_timeout: spec.replication.semi_sync_timeout,
            delay: spec.replication.delay.validated(),
            apply: spec.replication.apply.validated(),
            net_timeout: spec.replication.net_timeout,
            connect_retry: spec.replication.connect_retry,
            policy: spec.read_routing.policy,
            max_lag: spec.read_routing.max_replication_lag,
            lag_check: spec.read_routing.lag_check_interval,
            failover_mode: f.mode,
            promotion_policy: f.policy,
            apply_wait: f.apply_wait_timeout,
            recovery_block: f.recovery_block,
            fencing: f.fencing,
            rebuild_time: f.rebuild_time,
            rejoin_errant: f.rejoin_errant,
            replica_agreement: f.agreement(),
            operator_delay: f.operator_delay,
            check_interval: f.check_interval,
            failed_checks_needed: f.failed_checks,
            promotion: f.promotion,
            failover: FailoverState::default(),
            seq: 0,
            binlog: VecDeque::new(),
            base: 0,
            committed: vec![0; keys],
            waiting: VecDeque::new(),
            last_write: vec![(u32::MAX, 0); clients.addresses as usize],
            shunned_until: vec![SimTime::ZERO; n],
            sampled_lag: vec![0; n],
            divergent: vec![false; keys],
            divergent_count: 0,
            rogue_writes: 0,
            rr: 0,
            rogue: None,
            wrr: 0,
        };
        (cluster, dbs)
    }

    /// The binlog position of the last event.
    pub(crate) fn head(&self) -> u64 {
        self.base + self.binlog.len() as u64
    }

    /// The event at binlog position `pos`, if not purged.
    pub(crate) fn event(&self, pos: u64) -> Option<&Event> {
        pos.checked_sub(self.base + 1)
            .and_then(|i| self.binlog.get(i as usize))
    }

    pub(crate) fn event_mut(&mut self, pos: u64) -> Option<&mut Event> {
        pos.checked_sub(self.base + 1)
            .and_then(|i| self.binlog.get_mut(i as usize))
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
    /// Starts the periodic tasks of every cluster (lag sampling, failover checks) and each
    /// replica's receiver timeout.
    pub(crate) fn start_databases(&mut self, cx: &mut Context<'_, Ev>) {
        for (i, c) in self.clusters.iter().enumerate() {
            let cluster = i as u32;
            if c.policy == ReadPolicy::ReplicasLagBounded {
                cx.schedule_in(c.lag_check, Ev::LagCheck { cluster });
            }
            if c.failover_mode == FailoverMode::Automatic {
                cx.schedule_in(c.check_interval, Ev::FailoverCheck { cluster });
            }
            for &db in &c.nodes {
                if db != c.primary {
                    let conn = self.dbs[db as usize].link.conn;
                    cx.schedule_in(c.net_timeout, Ev::ReceiverTimeout { db, conn });
                }
            }
        }
    }

    /// A replica's lag now, as `SHOW REPLICA STATUS` reports it (`Seconds_Behind_Source`,
    /// exact rather than whole seconds): the age of the oldest received event not yet
    /// applied, 0 when the relay log is applied, `None` (NULL) while the receiver is not
    /// connected — and its true lag: the age of the oldest event committed on the primary
    /// and not yet applied here, received or not.
    pub(crate) fn db_lags(&self, db: u32, now: SimTime) -> (Option<SimDuration>, SimDuration) {
        let n = &self.dbs[db as usize];
        let c = &self.clusters[n.cluster as usize];
        let age = |pos: u64| {
            c.event(pos)
                .map_or(SimDuration::ZERO, |e| now.saturating_since(e.committed_at))
        };
        let reported = if n.link.connected && n.applied < n.received {
            age(n.applied + 1)
        } else {
            SimDuration::ZERO
        };
        let true_lag = if n.applied < c.head() {
            age(n.applied + 1)
        } else {
            SimDuration::ZERO
        };
        (n.link.connected.then_some(reported), true_lag)
    }

    pub(crate) fn db_receive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        db: u32,
        _from: Node,
        msg: Msg,
    ) -> Received {
        match msg {
            Msg::Call(call) => self.db_accept(cx, db, call),
            Msg::ReplAck { pos } => self.db_ack(cx, db, pos),
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
                // Attack traffic's sources have no session (`model::attack`).
                let (wkey, wseq) = c.last_write.get(addr as usize).copied().unwrap_or((0, 0));
                if wkey == key && wseq > 0 && v < wseq {
                    self.metrics.ryw_violation(measured);
                }
                self.metrics.db_read(measured);
                self.db_finish(cx, db, job, Outcome::Ok);
            }
            DbOp::Write => {
                if self.dbs[db as usize].rogue {
                    // A replaced primary restarted writable: the write commits here, on a
                    // second primary (split brain), and is acknowledged.
                    let c = &mut self.clusters[cl as usize];
                    c.seq += 1;
                    let seq = c.seq;
                    c.rogue_writes += 1;
                    if !c.divergent[key as usize] {
                        c.divergent[key as usize] = true;
                        c.divergent_count += 1;
                    }
                    self.dbs[db as usize].version[key as usize] = seq;
                    self.metrics.split_brain_write(now >= self.warmup_end);
                    self.db_finish(cx, db, job, Outcome::Ok);
                    return;
                }
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
    /// their connections. A replica's receiver and appliers stop (its relay log and its
    /// applied position survive on disk). For the primary, manual failover starts the
    /// operator's clock, and on a process crash the kernel still delivers what the binlog
    /// dump threads had written to their sockets, then closes the connections (FIN): the
    /// replicas see it at once. A host crash is silent: the replicas notice it after
    /// `replica_net_timeout`.
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
        n.next = n.applied + 1;
        n.epoch += 1;
        n.crashed_at = now;
        n.link.connected = false;
        n.link.conn += 1;
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
            if process {
                self.db_source_closing(cx, cl, db);
            }
        }
    }

    /// A database node comes back. A replica's applier resumes on its relay log and its
    /// receiver reconnects to the primary and fetches what it missed (GTID
    /// auto-positioning). A replaced primary holding errant transactions stays out of the
    /// cluster until rebuilt (fenced as the scenario says); one without rejoins as a replica.
    pub(crate) fn db_restart(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        let now = cx.now();
        let cl = self.dbs[db as usize].cluster;
        let c = &self.clusters[cl as usize];
        if c.primary == db {
            let c = &mut self.clusters[cl as usize];
            c.failover.in_progress = false;
            c.failover.failed_checks = 0;
            // The replicas' old connections died with the process or the host; each
            // receiver finds out (a FIN already seen, or its `replica_net_timeout`) and
            // reconnects at its next attempt.
            return;
        }
        if self.dbs[db as usize].out {
            let fencing = c.fencing;
            let rebuild = c.rebuild_time;
            let n = &mut self.dbs[db as usize];
            let epoch = n.epoch;
            match fencing {
                Fencing::Stonith => {
                    // Kept down (powered off) until rebuilt.
                    self.net
                        .set_down(Node::Db(db), Some(crate::scenario::CrashMode::Host));
                }
                Fencing::None => {
                    n.rogue = true;
                    self.clusters[cl as usize].rogue = Some(db);
                    if let Some(obs) = self.observer.as_mut() {
                        obs.state_changed(
                            now,
                            self.names.name(Node::Db(db)),
                            "writable (split brain)",
                        );
                    }
                }
                Fencing::ReadOnly => {}
            }
            cx.schedule_in(rebuild, Ev::DbRebuilt { db, epoch });
            return;
        }
        self.db_start_appliers(cx, db);
        self.db_receiver_connect(cx, db);
    }

    /// A replaced primary has been rebuilt as a replica of the current primary: a fresh
    /// clone (its errant writes, and any split-brain writes, are gone).
    pub(crate) fn db_rebuilt(&mut self, cx: &mut Context<'_, Ev>, db: u32, epoch: u32) {
        let now = cx.now();
        let n = &self.dbs[db as usize];
        if n.epoch != epoch || !n.out {
            return;
        }
        let cl = n.cluster;
        let fenced_down = self.state(Node::Db(db)).down.is_some();
        if fenced_down && self.clusters[cl as usize].fencing != Fencing::Stonith {
            return; // crashed again meanwhile: rebuilt when it returns
        }
        if fenced_down {
            self.net.set_down(Node::Db(db), None);
        }
        let c = &mut self.clusters[cl as usize];
        let primary = c.primary;
        let head = c.head();
        // The split brain ends only with the rebuild of the node that took the writes (a
        // lost replica rebuilt meanwhile leaves it alone).
        let split = c.rogue == Some(db);
        let (rogue_writes, divergent) = if split {
            c.rogue = None;
            c.divergent.iter_mut().for_each(|d| *d = false);
            (
                std::mem::take(&mut c.rogue_writes),
                std::mem::take(&mut c.divergent_count),
            )
        } else {
            (0, 0)
        };
        let version = self.dbs[primary as usize].version.clone();
        let n = &mut self.dbs[db as usize];
        n.version = version;
        n.received = head;
        n.applied = head;
        n.next = head + 1;
        n.out = false;
        n.rogue = false;
        if split {
            self.metrics
                .split_brain_ended(now, Node::Db(db), rogue_writes, divergent);
        }
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(now, self.names.name(Node::Db(db)), "rebuilt as a replica");
        }
        self.db_receiver_connect(cx, db);
    }
}
