//! Replication, as MySQL does it (MySQL 8.4 Reference Manual: replication threads, semi-
//! synchronous replication, `replica_parallel_workers`, `replica_preserve_commit_order`,
//! `replica_net_timeout`).
//!
//! * A committed write gets the next GTID and the next position in the primary's binlog.
//!   Each replica's binlog dump thread sends it on that replica's TCP connection: it
//!   arrives after the link's latency plus `delay`, never before the previous one (FIFO). A
//!   segment lost on the link (loss, a partition) is retransmitted on TCP's timer and
//!   everything after it waits behind it: loss and partitions delay events, never drop them.
//! * The receiver writes what arrives to the relay log (`received`); under semi-sync it
//!   acknowledges it on the same connection. If it hears nothing (no event, no heartbeat)
//!   for `replica_net_timeout` it drops the connection; it reconnects at once, then every
//!   `SOURCE_CONNECT_RETRY`, and resumes from its last received position (GTID
//!   auto-positioning): the dump thread sends everything after it.
//! * The applier (coordinator + `replica_parallel_workers` workers) hands relay-log events
//!   out in order; an event waits while a worker applies an earlier one of the same key
//!   (writeset dependency), and workers commit in source order
//!   (`replica_preserve_commit_order`): a worker that finished waits for its turn.
//! * Semi-synchronous replication (AFTER_SYNC) holds the commit's answer until one replica
//!   acknowledges receipt; after `rpl_semi_sync_source_timeout` (10 s) the primary falls
//!   back to asynchronous, and returns to semi-sync when a replica has caught up.

use infrasim_engine::{Context, SimTime};

use super::Slot;
use crate::model::World;
use crate::model::call::{Outcome, Ref};
use crate::model::tcp::Attempt;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::{CrashMode, ReplicationMode};

/// The binlog is purged below what every member applied once this many events accumulate.
const PURGE_EVERY: usize = 1024;
/// The most binlog events kept (≈ 100 MB), whatever a long-dead member still lacks: MySQL
/// purges old binlogs too (`binlog_expire_logs_seconds`); a replica that needs purged events
/// must be re-cloned (error 1236), which the model does when it reconnects.
const MAX_BINLOG: u64 = 1 << 22;

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
        c.binlog.push_back(super::Event {
            seq,
            committed_at: now,
            key,
            acked: false,
        });
        let pos = c.head();
        if c.binlog.len().is_multiple_of(PURGE_EVERY) {
            self.db_purge_binlog(cl);
        }
        self.dbs[db as usize].version[key as usize] = seq;
        // By index, not by a collected list of replicas: no allocation per write.
        for at in 0..self.clusters[cl as usize].nodes.len() {
            let r = self.clusters[cl as usize].nodes[at];
            if r != db {
                self.db_stream_send(cx, cl, db, r, pos);
            }
        }
        let c = &mut self.clusters[cl as usize];
        if c.mode == ReplicationMode::SemiSync && c.semi_sync_on {
            c.waiting.push_back((pos, job));
            let t = c.semi_sync_timeout;
            // Attack traffic's sources have no session (`model::attack`).
            if let Some(w) = c.last_write.get_mut(addr as usize) {
                *w = (key, seq);
            }
            cx.schedule_in(t, Ev::SemiSyncTimeout { cluster: cl, pos });
        } else {
            self.db_make_visible(cl, pos, key, seq, addr);
            self.db_finish(cx, db, job, Outcome::Ok);
        }
    }

    /// The dump thread of replica `r` sends the event at `pos` from `source`.
    fn db_stream_send(&mut self, cx: &mut Context<'_, Ev>, cl: u32, source: u32, r: u32, pos: u64) {
        let now = cx.now();
        let link = self.dbs[r as usize].link;
        if !link.connected || link.source != source {
            return; // fetched when the receiver reconnects
        }
        self.dbs[r as usize].link.sent = pos;
        if link.blocked {
            return; // queued behind a segment being retransmitted
        }
        let (s, d) = (Node::Db(source), Node::Db(r));
        if self.net.segment_lost_now(s, d) {
            let first = Attempt::data();
            let rtt = self.net.rtt(s, d);
            self.dbs[r as usize].link.blocked = true;
            cx.schedule_in(
                first.rto(rtt),
                Ev::BinlogResend {
                    db: r,
                    conn: link.conn,
                    attempt: first.next().byte(),
                },
            );
            return;
        }
        let lat = self.net.latency(s, d);
        let n = &mut self.dbs[r as usize];
        // The dump thread reads the binlog and writes the event to the socket after
        // `delay`; then it crosses the link.
        let extra = self.clusters[cl as usize].delay.sample(&mut n.delay_rng);
        let sent = now.saturating_add(extra);
        let arrive = sent.saturating_add(lat).max(n.link.tail);
        n.link.tail = arrive;
        cx.schedule_at(
            arrive,
            Ev::BinlogArrive {
                db: r,
                conn: link.conn,
                upto: pos,
                sent,
            },
        );
    }

    /// A lost binlog segment's retransmission timer fired.
    pub(crate) fn binlog_resend(
        &mut self,
        cx: &mut Context<'_, Ev>,
        db: u32,
        conn: u32,
        attempt: u8,
    ) {
        let now = cx.now();
        let link = self.dbs[db as usize].link;
        if link.conn != conn || !link.connected || !link.blocked {
            return;
        }
        let (s, d) = (Node::Db(link.source), Node::Db(db));
        if self.state(s).down == Some(CrashMode::Host) {
            return; // what had not left the dead host is lost with it
        }
        let a = Attempt::from_byte(attempt);
        if self.net.segment_lost_now(s, d) {
            if !a.last() {
                let rtt = self.net.rtt(s, d);
                cx.schedule_in(
                    a.rto(rtt),
                    Ev::BinlogResend {
                        db,
                        conn,
                        attempt: a.next().byte(),
                    },
                );
            }
            return; // past tcp_retries2 the connection is dead; the receiver times out
        }
        let arrive = now.saturating_add(self.net.latency(s, d));
        // Retransmitted from the socket: it left the source's process long ago (a dead
        // process's kernel still sends it).
        let sent = self.dbs[link.source as usize].crashed_at.min(now);
        let n = &mut self.dbs[db as usize];
        n.link.blocked = false;
        n.link.tail = arrive;
        cx.schedule_at(
            arrive,
            Ev::BinlogArrive {
                db,
                conn,
                upto: link.sent,
                sent,
            },
        );
        if self.state(s).down.is_some() {
            // The source's process died meanwhile: its kernel closes the connection after
            // delivering the data.
            cx.schedule_at(arrive, Ev::SourceClosed { db, conn });
        }
    }

    /// Binlog events up to `upto` reach the relay log of `db`.
    pub(crate) fn binlog_arrive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        db: u32,
        conn: u32,
        upto: u64,
        sent: SimTime,
    ) {
        let now = cx.now();
        if self.state(Node::Db(db)).down.is_some() {
            return;
        }
        let source = self.dbs[db as usize].link.source;
        if self.state(Node::Db(source)).down.is_some()
            && self.dbs[source as usize].crashed_at < sent
        {
            // The source died before its dump thread sent the event: it never left.
            return;
        }
        let n = &mut self.dbs[db as usize];
        if n.link.conn != conn || !n.link.connected {
            return;
        }
        n.link.last_heard = now;
        if upto <= n.received {
            return;
        }
        n.received = upto;
        let source = n.link.source;
        let cl = n.cluster;
        if self.clusters[cl as usize].mode == ReplicationMode::SemiSync {
            self.send(
                cx,
                Node::Db(db),
                Node::Db(source),
                Msg::ReplAck { pos: upto },
            );
        }
        self.db_start_appliers(cx, db);
    }

    /// The primary's process died: each connected replica gets the data already in its
    /// socket, then the FIN.
    pub(super) fn db_source_closing(&mut self, cx: &mut Context<'_, Ev>, cl: u32, source: u32) {
        let now = cx.now();
        for at in 0..self.clusters[cl as usize].nodes.len() {
            let r = self.clusters[cl as usize].nodes[at];
            let link = self.dbs[r as usize].link;
            if r == source || !link.connected || link.source != source || link.blocked {
                continue; // a blocked stream is closed after its retransmission gets through
            }
            let fin = now
                .saturating_add(self.net.latency(Node::Db(source), Node::Db(r)))
                .max(link.tail);
            cx.schedule_at(
                fin,
                Ev::SourceClosed {
                    db: r,
                    conn: link.conn,
                },
            );
        }
    }

    /// The source closed the connection: the receiver tries to reconnect.
    pub(crate) fn source_closed(&mut self, cx: &mut Context<'_, Ev>, db: u32, conn: u32) {
        let link = self.dbs[db as usize].link;
        if link.conn != conn || !link.connected {
            return;
        }
        self.db_disconnect(db);
        self.db_receiver_connect(cx, db);
    }

    /// The receiver's read timed out? It has heard nothing for `replica_net_timeout`
    /// unless a heartbeat (sent by an idle source every half of it) got through.
    pub(crate) fn receiver_timeout(&mut self, cx: &mut Context<'_, Ev>, db: u32, conn: u32) {
        let now = cx.now();
        let link = self.dbs[db as usize].link;
        if link.conn != conn || !link.connected || self.state(Node::Db(db)).down.is_some() {
            return;
        }
        let cl = self.dbs[db as usize].cluster;
        let timeout = self.clusters[cl as usize].net_timeout;
        let deadline = link.last_heard.saturating_add(timeout);
        if now < deadline {
            cx.schedule_at(deadline, Ev::ReceiverTimeout { db, conn });
            return;
        }
        let (s, d) = (Node::Db(link.source), Node::Db(db));
        let heartbeats =
            self.state(s).down.is_none() && !self.net.partitioned(s, d) && !link.blocked;
        if heartbeats {
            self.dbs[db as usize].link.last_heard = now;
            cx.schedule_in(timeout, Ev::ReceiverTimeout { db, conn });
            return;
        }
        self.db_disconnect(db);
        self.db_receiver_connect(cx, db);
    }

    /// The receiver's reconnection timer (`SOURCE_CONNECT_RETRY`) fired.
    pub(crate) fn receiver_retry(&mut self, cx: &mut Context<'_, Ev>, db: u32, conn: u32) {
        let link = self.dbs[db as usize].link;
        if link.conn != conn || link.connected {
            return;
        }
        self.db_receiver_connect(cx, db);
    }

    /// The receiver drops its connection (`Replica_IO_Running: Connecting`).
    pub(super) fn db_disconnect(&mut self, db: u32) {
        let l = &mut self.dbs[db as usize].link;
        l.connected = false;
        l.blocked = false;
        l.conn += 1;
    }

    /// The receiver of `db` connects to the cluster's primary, or schedules its next
    /// attempt. Connected, it asks for everything after its last received position.
    pub(super) fn db_receiver_connect(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        let now = cx.now();
        let n = &self.dbs[db as usize];
        let cl = n.cluster;
        let c = &self.clusters[cl as usize];
        if self.state(Node::Db(db)).down.is_some()
            || n.out
            || c.primary == db
            || n.link.connected
            || c.failover.draining.is_some()
        {
            return;
        }
        let source = c.primary;
        let (s, d) = (Node::Db(source), Node::Db(db));
        let conn = n.link.conn;
        if self.state(s).down.is_some() || self.net.partitioned(s, d) {
            let retry = c.connect_retry;
            cx.schedule_in(retry, Ev::ReceiverRetry { db, conn });
            return;
        }
        let head = c.head();
        let timeout = c.net_timeout;
        if n.received < c.base || n.applied < c.base {
            // What it lacks was purged from the binlog: it is re-cloned from the primary
            // (modelled as done at once).
            let version = self.dbs[source as usize].version.clone();
            let n = &mut self.dbs[db as usize];
            n.version = version;
            n.received = head;
            n.applied = head;
            n.next = head + 1;
            n.appliers.iter_mut().for_each(|a| *a = None);
        }
        // The handshake and the dump request take a round trip; the backlog follows.
        let rtt = self.net.rtt(s, d);
        let arrive = now
            .saturating_add(rtt)
            .saturating_add(self.net.latency(s, d));
        let n = &mut self.dbs[db as usize];
        let conn = conn + 1;
        n.link = super::Receiver {
            connected: true,
            source,
            conn,
            sent: head.max(n.received),
            tail: arrive,
            blocked: false,
            last_heard: now,
        };
        if head > n.received {
            cx.schedule_at(
                arrive,
                Ev::BinlogArrive {
                    db,
                    conn,
                    upto: head,
                    sent: now,
                },
            );
        }
        cx.schedule_in(timeout, Ev::ReceiverTimeout { db, conn });
    }

    /// Hands relay-log events to free applier workers, in order; the coordinator waits
    /// when the next event's key is being applied by a worker (writeset dependency).
    pub(super) fn db_start_appliers(&mut self, cx: &mut Context<'_, Ev>, db: u32) {
        if self.state(Node::Db(db)).down.is_some() {
            return;
        }
        let cl = self.dbs[db as usize].cluster;
        let k = self.net.slowdown(Node::Db(db));
        let c = &self.clusters[cl as usize];
        let n = &mut self.dbs[db as usize];
        while n.next <= n.received {
            let Some(free) = n.appliers.iter().position(Option::is_none) else {
                break;
            };
            let Some(&ev) = c.event(n.next) else {
                break;
            };
            if n.appliers.iter().flatten().any(|s| s.ev.key == ev.key) {
                break;
            }
            let pos = n.next;
            n.next += 1;
            n.appliers[free] = Some(Slot {
                pos,
                ev,
                done: false,
            });
            let d = c.apply.sample(&mut n.apply_rng);
            let d = if k == 1.0 { d } else { d.mul_f64(k) };
            cx.schedule_in(
                d,
                Ev::ApplyDone {
                    db,
                    applier: free as u32,
                    pos,
                },
            );
        }
    }

    /// A worker finished applying; workers commit in source order.
    pub(crate) fn apply_done(&mut self, cx: &mut Context<'_, Ev>, db: u32, applier: u32, pos: u64) {
        if self.state(Node::Db(db)).down.is_some() {
            return;
        }
        let n = &mut self.dbs[db as usize];
        match n.appliers.get_mut(applier as usize) {
            Some(Some(s)) if s.pos == pos => s.done = true,
            _ => return,
        }
        // Commit every finished transaction whose predecessors have committed.
        loop {
            let next = n.applied + 1;
            let Some(slot) = n
                .appliers
                .iter_mut()
                .find(|s| s.is_some_and(|s| s.pos == next))
            else {
                break;
            };
            let s = slot.expect("found");
            if !s.done {
                break;
            }
            *slot = None;
            n.applied = next;
            let v = &mut n.version[s.ev.key as usize];
            if *v < s.ev.seq {
                *v = s.ev.seq;
            }
        }
        let cl = n.cluster;
        let drained = n.applied >= n.received;
        if drained && self.clusters[cl as usize].failover.draining == Some(db) {
            self.db_finish_promotion(cx, cl);
            return;
        }
        self.db_start_appliers(cx, db);
    }

    /// The commit is acknowledged to the client and visible to every session.
    fn db_make_visible(&mut self, cl: u32, pos: u64, key: u32, seq: u64, addr: u32) {
        let c = &mut self.clusters[cl as usize];
        if c.committed[key as usize] < seq {
            c.committed[key as usize] = seq;
        }
        if let Some(e) = c.event_mut(pos) {
            e.acked = true;
        }
        if let Some(w) = c.last_write.get_mut(addr as usize) {
            *w = (key, seq);
        }
    }

    /// A replica acknowledged receipt up to `pos`: release the semi-sync commits up to it.
    pub(super) fn db_ack(&mut self, cx: &mut Context<'_, Ev>, db: u32, pos: u64) {
        let cl = self.dbs[db as usize].cluster;
        if self.clusters[cl as usize].primary != db {
            return;
        }
        let c = &mut self.clusters[cl as usize];
        let head = c.head();
        c.semi_sync_resume_check(head, pos);
        while let Some(&(p, job)) = self.clusters[cl as usize].waiting.front() {
            if p > pos {
                break;
            }
            self.clusters[cl as usize].waiting.pop_front();
            self.db_release_commit(cx, cl, db, p, job);
        }
    }

    fn db_release_commit(
        &mut self,
        cx: &mut Context<'_, Ev>,
        cl: u32,
        db: u32,
        pos: u64,
        job: Ref,
    ) {
        let Some(q) = self.dbs[db as usize].pool.running.get(job) else {
            return;
        };
        let (key, addr) = (q.key, q.addr);
        let seq = self.clusters[cl as usize].event(pos).map_or(0, |e| e.seq);
        self.db_make_visible(cl, pos, key, seq, addr);
        self.db_finish(cx, db, job, Outcome::Ok);
    }

    pub(crate) fn semi_sync_timeout(&mut self, cx: &mut Context<'_, Ev>, cl: u32, pos: u64) {
        let c = &mut self.clusters[cl as usize];
        if !c.waiting.iter().any(|(p, _)| *p == pos) {
            return;
        }
        // `rpl_semi_sync_source_timeout` expired: fall back to asynchronous replication and
        // release every waiting commit.
        c.semi_sync_on = false;
        let primary = c.primary;
        let waiting: Vec<(u64, Ref)> = c.waiting.drain(..).collect();
        self.metrics.semi_sync_fallback(cx.now());
        for (p, job) in waiting {
            self.db_release_commit(cx, cl, primary, p, job);
        }
    }

    /// Purges the binlog below what every member (up or down) has applied.
    pub(super) fn db_purge_binlog(&mut self, cl: u32) {
        let c = &self.clusters[cl as usize];
        let min = c
            .nodes
            .iter()
            .filter(|n| **n != c.primary && !self.dbs[**n as usize].out)
            .map(|n| self.dbs[*n as usize].applied)
            .min()
            .unwrap_or(u64::MAX)
            .min(c.head())
            .max(c.head().saturating_sub(MAX_BINLOG));
        let c = &mut self.clusters[cl as usize];
        let purge = min.saturating_sub(c.base) as usize;
        c.binlog.drain(..purge);
        c.base += purge as u64;
    }
}

impl super::Cluster {
    /// Semi-sync resumes once a replica has caught up with the primary's binlog
    /// (`received` is that replica's relay-log end).
    pub(super) fn semi_sync_resume_check(&mut self, head: u64, received: u64) {
        if !self.semi_sync_on && self.mode == ReplicationMode::SemiSync && received >= head {
            self.semi_sync_on = true;
        }
    }
}
