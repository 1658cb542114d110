//! Web servers (nginx-like) and application servers: a pool of workers and an accept queue.
//!
//! A request that finds a free worker starts at once; otherwise it waits in the accept
//! queue; when the queue is full the connection is refused (the listen backlog overflows,
//! the client or LB sees a RST). A web server serves `static` requests itself and proxies
//! dynamic ones to its upstream; an app server spends its service time, then makes its
//! database calls one after another (a thread-per-request worker blocks on each query), then
//! answers. Gray failures multiply the service time and turn answers into errors.

use std::collections::VecDeque;

use infrasim_engine::dist::Dist;
use infrasim_engine::rng::open01;
use infrasim_engine::stats::TimeWeighted;
use infrasim_engine::{Context, SimDuration, SimRng, SimTime, TimeoutQueue};

use crate::call::{Call, DbOp, FailReason, NOT_CONNECTED, Outcome, Parent, Ref, Slab};
use crate::scenario::Class;
use crate::world::{Ev, Msg, Node, World};

/// Workers and an accept queue, with their occupancy statistics.
pub(crate) struct WorkerPool<J> {
    pub workers: u32,
    pub queue_limit: u32,
    pub running: Slab<J>,
    pub queue: VecDeque<J>,
    pub busy: TimeWeighted,
    pub queued: TimeWeighted,
    pub served: u64,
    pub rejected: u64,
}

impl<J> WorkerPool<J> {
    pub(crate) fn new(workers: u32, queue_limit: u32) -> Self {
        WorkerPool {
            workers,
            queue_limit,
            running: Slab::default(),
            queue: VecDeque::new(),
            busy: TimeWeighted::new(SimTime::ZERO, 0),
            queued: TimeWeighted::new(SimTime::ZERO, 0),
            served: 0,
            rejected: 0,
        }
    }

    /// Admits a job: `Ok(Some(ref))` runs now, `Ok(None)` waits, `Err(job)` is refused.
    pub(crate) fn admit(&mut self, now: SimTime, job: J) -> Result<Option<Ref>, J> {
        if (self.running.len() as u32) < self.workers {
            let r = self.running.insert(job);
            self.busy.set(now, self.running.len() as u64);
            Ok(Some(r))
        } else if (self.queue.len() as u32) < self.queue_limit {
            self.queue.push_back(job);
            self.queued.set(now, self.queue.len() as u64);
            Ok(None)
        } else {
            self.rejected += 1;
            Err(job)
        }
    }

    /// Ends a running job; returns it and, if one was waiting, the next job now running.
    pub(crate) fn finish(&mut self, now: SimTime, r: Ref) -> Option<(J, Option<Ref>)> {
        let job = self.running.remove(r)?;
        self.served += 1;
        let next = self.queue.pop_front().map(|j| {
            self.queued.set(now, self.queue.len() as u64);
            self.running.insert(j)
        });
        self.busy.set(now, self.running.len() as u64);
        Some((job, next))
    }

    /// Drops every job (crash); returns them.
    pub(crate) fn clear(&mut self, now: SimTime) -> Vec<J> {
        let refs: Vec<Ref> = self.running.iter().map(|(r, _)| r).collect();
        let mut out: Vec<J> = refs
            .into_iter()
            .filter_map(|r| self.running.remove(r))
            .collect();
        out.extend(self.queue.drain(..));
        self.busy.set(now, 0);
        self.queued.set(now, 0);
        out
    }

    /// Restart the occupancy statistics at the end of the warm-up.
    pub(crate) fn reset_stats(&mut self, now: SimTime) {
        self.busy.reset(now);
        self.queued.reset(now);
        self.served = 0;
        self.rejected = 0;
    }
}

/// What a server is doing for one request.
#[derive(Debug)]
pub(crate) struct Job {
    /// The incoming call it serves.
    pub call: Ref,
    pub class: Class,
    pub key: u32,
    pub addr: u32,
    /// Database calls still to make (app servers).
    pub db_left: u32,
    /// The outstanding call to the upstream or the database.
    pub sub: Option<Ref>,
    /// Read retries already spent on other database nodes.
    pub db_retries: u32,
}

/// An nginx-like web server.
pub(crate) struct WebServer {
    pub pool: WorkerPool<Job>,
    pub static_service: Dist,
    pub proxy_service: Dist,
    pub upstream: Option<Node>,
    pub upstream_timeout: SimDuration,
    pub rng: SimRng,
    /// Deadlines of upstream calls.
    pub timeouts: TimeoutQueue<(Ref, bool)>,
}

/// An application server.
pub(crate) struct AppServer {
    pub pool: WorkerPool<Job>,
    pub service: [Dist; 3],
    pub db_calls: [u32; 3],
    pub cluster: Option<u32>,
    pub db_timeout: SimDuration,
    pub rng: SimRng,
    /// Deadlines of database calls: (call, whether the connect phase is over).
    pub timeouts: TimeoutQueue<(Ref, bool)>,
}

/// ProxySQL `connect_timeout_server` default 1000 ms: a connection to a database node that
/// is not accepted within it is abandoned and the query tried elsewhere.
const DB_CONNECT_TIMEOUT: SimDuration = SimDuration::from_millis(1000);
/// Reads retried on another node after a connection failure (ProxySQL retries
/// transparently, `connect_retries_on_failure`).
const DB_READ_RETRIES: u32 = 2;

impl AppServer {
    /// How long after a query is sent its connection deadline falls: ProxySQL's connect
    /// timeout, or the whole `db_timeout` if that is shorter. The one place this is decided:
    /// a query's own deadline is derived back from its connection deadline with it.
    fn db_connect_wait(&self) -> SimDuration {
        DB_CONNECT_TIMEOUT.min(self.db_timeout)
    }
}

impl World {
    fn job_from_call(&self, call: Ref) -> Option<Job> {
        let c = self.calls.get(call)?;
        Some(Job {
            call,
            class: c.class,
            key: c.key,
            addr: c.addr,
            db_left: 0,
            sub: None,
            db_retries: 0,
        })
    }

    /// Accepts a connection into a pool, or refuses it. Returns the job to start, if any.
    fn accept_into(&mut self, cx: &mut Context<'_, Ev>, node: Node, call: Ref) -> Option<Ref> {
        let job = self.job_from_call(call)?;
        let now = cx.now();
        let pool = match node {
            Node::Web(i) => &mut self.webs[i as usize].pool,
            Node::App(i) => &mut self.apps[i as usize].pool,
            _ => unreachable!("only servers have pools"),
        };
        match pool.admit(now, job) {
            Ok(start) => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.connected_at = now;
                }
                start
            }
            Err(_) => {
                self.reset(cx, call);
                None
            }
        }
    }

    fn slowdown(&self, node: Node) -> f64 {
        self.net.slowdown(node)
    }

    fn errors_now(&mut self, node: Node) -> bool {
        let p = self.net.error_rate(node);
        if p <= 0.0 {
            return false;
        }
        let rng = match node {
            Node::Web(i) => &mut self.webs[i as usize].rng,
            Node::App(i) => &mut self.apps[i as usize].rng,
            _ => return false,
        };
        open01(rng) < p
    }

    // ----- web servers -----

    pub(crate) fn web_receive(&mut self, cx: &mut Context<'_, Ev>, i: u32, msg: Msg) {
        let me = Node::Web(i);
        match msg {
            Msg::Call(call) => {
                if let Some(job) = self.accept_into(cx, me, call) {
                    self.web_start(cx, i, job);
                }
            }
            Msg::Reply { call, outcome } => self.web_sub_done(cx, i, call, outcome),
            Msg::Reset(call) => {
                self.web_sub_done(cx, i, call, Outcome::Failed(FailReason::ServerError))
            }
            Msg::Probe { lb, slot, seq } => {
                let ok = !self.errors_now(me);
                self.answer_probe(cx, me, lb, slot, seq, ok);
            }
            _ => {}
        }
    }

    fn web_start(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let k = self.slowdown(Node::Web(i));
        let w = &mut self.webs[i as usize];
        let Some(j) = w.pool.running.get(job) else {
            return;
        };
        let d = if j.class == Class::Static || w.upstream.is_none() {
            w.static_service.sample(&mut w.rng)
        } else {
            w.proxy_service.sample(&mut w.rng)
        };
        let d = if k == 1.0 { d } else { d.mul_f64(k) };
        cx.schedule_in(
            d,
            Ev::WorkDone {
                node: Node::Web(i),
                job,
            },
        );
    }

    pub(crate) fn web_work_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let w = &self.webs[i as usize];
        let Some(j) = w.pool.running.get(job) else {
            return;
        };
        if j.class == Class::Static || w.upstream.is_none() {
            let outcome = if self.errors_now(Node::Web(i)) {
                Outcome::Failed(FailReason::ServerError)
            } else {
                Outcome::Ok
            };
            self.server_finish(cx, Node::Web(i), job, outcome);
            return;
        }
        let upstream = w.upstream.expect("checked");
        let timeout = w.upstream_timeout;
        let (class, key, addr) = (j.class, j.key, j.addr);
        let now = cx.now();
        let sub = self.calls.insert(Call {
            parent: Parent::Call(j.call),
            caller: Node::Web(i),
            callee: upstream,
            class,
            key,
            addr,
            db_op: None,
            slot: 0,
            attempt: 0,
            connected_at: NOT_CONNECTED,
            queued: false,
        });
        let calls = &self.calls;
        self.webs[i as usize].timeouts.push_discarding(
            cx,
            now + timeout,
            (sub, true),
            |t| sub_call_ended(calls, t),
            || Ev::WebTimeouts { web: i },
        );
        if let Some(j) = self.webs[i as usize].pool.running.get_mut(job) {
            j.sub = Some(sub);
        }
        // The job waits for the upstream; remember which job owns the sub-call.
        self.sub_owner_set(sub, job);
        self.send(cx, Node::Web(i), upstream, Msg::Call(sub));
    }

    fn web_sub_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, sub: Ref, outcome: Outcome) {
        let Some(job) = self.sub_owner_take(sub) else {
            return;
        };
        self.calls.remove(sub);
        self.server_finish(cx, Node::Web(i), job, outcome);
    }

    /// nginx `proxy_connect_timeout` / `proxy_read_timeout` expired: 504 Gateway Timeout.
    pub(crate) fn web_timeouts(&mut self, cx: &mut Context<'_, Ev>, i: u32) {
        let now = cx.now();
        while let Some((sub, _)) = self.webs[i as usize].timeouts.pop_expired(now) {
            if self.calls.get(sub).is_some() {
                self.web_sub_done(cx, i, sub, Outcome::Failed(FailReason::ServerTimeout));
            }
        }
        let calls = &self.calls;
        self.webs[i as usize].timeouts.rearm_discarding(
            cx,
            |t| sub_call_ended(calls, t),
            || Ev::WebTimeouts { web: i },
        );
    }

    // ----- app servers -----

    pub(crate) fn app_receive(&mut self, cx: &mut Context<'_, Ev>, i: u32, msg: Msg) {
        let me = Node::App(i);
        match msg {
            Msg::Call(call) => {
                if let Some(job) = self.accept_into(cx, me, call) {
                    self.app_start(cx, i, job);
                }
            }
            Msg::Reply { call, outcome } => self.app_db_done(cx, i, call, outcome, false),
            Msg::Reset(call) => {
                let connected = self
                    .calls
                    .get(call)
                    .is_some_and(|c| c.connected().is_some());
                self.app_db_done(
                    cx,
                    i,
                    call,
                    Outcome::Failed(FailReason::DatabaseUnavailable),
                    !connected,
                );
            }
            Msg::Probe { lb, slot, seq } => {
                let ok = !self.errors_now(me);
                self.answer_probe(cx, me, lb, slot, seq, ok);
            }
            _ => {}
        }
    }

    fn app_start(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let k = self.slowdown(Node::App(i));
        let a = &mut self.apps[i as usize];
        let Some(j) = a.pool.running.get_mut(job) else {
            return;
        };
        j.db_left = a.db_calls[j.class.index()];
        let d = a.service[j.class.index()].sample(&mut a.rng);
        let d = if k == 1.0 { d } else { d.mul_f64(k) };
        cx.schedule_in(
            d,
            Ev::WorkDone {
                node: Node::App(i),
                job,
            },
        );
    }

    pub(crate) fn app_work_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        if self.apps[i as usize].pool.running.get(job).is_none() {
            return;
        }
        if self.errors_now(Node::App(i)) {
            self.server_finish(
                cx,
                Node::App(i),
                job,
                Outcome::Failed(FailReason::ServerError),
            );
            return;
        }
        self.app_next_db_call(cx, i, job);
    }

    /// Makes the job's next database call, or answers when none is left.
    fn app_next_db_call(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let a = &self.apps[i as usize];
        let Some(j) = a.pool.running.get(job) else {
            return;
        };
        if j.db_left == 0 {
            self.server_finish(cx, Node::App(i), job, Outcome::Ok);
            return;
        }
        let Some(cluster) = a.cluster else {
            self.server_finish(cx, Node::App(i), job, Outcome::Ok);
            return;
        };
        // A write request's calls are writes; reads (and static) read.
        let op = if j.class == Class::Write {
            DbOp::Write
        } else {
            DbOp::Read
        };
        let (key, addr, class, parent) = (j.key, j.addr, j.class, j.call);
        let connect_wait = a.db_connect_wait();
        let target = self.db_route(cx.now(), cluster, op);
        let now = cx.now();
        let sub = self.calls.insert(Call {
            parent: Parent::Call(parent),
            caller: Node::App(i),
            callee: Node::Db(target),
            class,
            key,
            addr,
            db_op: Some(op),
            slot: target,
            attempt: 0,
            connected_at: NOT_CONNECTED,
            queued: false,
        });
        let deadline = now + connect_wait;
        let calls = &self.calls;
        self.apps[i as usize].timeouts.push_discarding(
            cx,
            deadline,
            (sub, false),
            |t| sub_call_ended(calls, t),
            || Ev::AppTimeouts { app: i },
        );
        if let Some(j) = self.apps[i as usize].pool.running.get_mut(job) {
            j.sub = Some(sub);
        }
        self.sub_owner_set(sub, job);
        self.send(cx, Node::App(i), Node::Db(target), Msg::Call(sub));
    }

    /// A database call ended. `conn_failure`: the connection itself failed, so a read may
    /// be retried on another node (and the node is shunned, as ProxySQL does).
    fn app_db_done(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: u32,
        sub: Ref,
        outcome: Outcome,
        conn_failure: bool,
    ) {
        let Some(job) = self.sub_owner_take(sub) else {
            return;
        };
        let Some(c) = self.calls.remove(sub) else {
            return;
        };
        let a = &mut self.apps[i as usize];
        let Some(j) = a.pool.running.get_mut(job) else {
            return;
        };
        j.sub = None;
        match outcome {
            Outcome::Ok => {
                j.db_left -= 1;
                j.db_retries = 0;
                self.app_next_db_call(cx, i, job);
            }
            Outcome::Failed(_) => {
                let cluster = a.cluster;
                let retry =
                    conn_failure && c.db_op == Some(DbOp::Read) && j.db_retries < DB_READ_RETRIES;
                if retry {
                    j.db_retries += 1;
                }
                if conn_failure && let Some(cl) = cluster {
                    self.db_shun(cx.now(), cl, c.slot);
                }
                if retry {
                    self.app_next_db_call(cx, i, job);
                } else {
                    self.server_finish(
                        cx,
                        Node::App(i),
                        job,
                        Outcome::Failed(FailReason::DatabaseUnavailable),
                    );
                }
            }
        }
    }

    /// Database call deadlines: a connection not accepted within ProxySQL's connect timeout
    /// is a connection failure (the read may go elsewhere); a query not answered within
    /// `db_timeout` fails the request.
    pub(crate) fn app_timeouts(&mut self, cx: &mut Context<'_, Ev>, i: u32) {
        let now = cx.now();
        let a = &self.apps[i as usize];
        let query_after_connect = a.db_timeout - a.db_connect_wait();
        while let Some((at, (sub, query_phase))) =
            self.apps[i as usize].timeouts.pop_expired_entry(now)
        {
            let Some(c) = self.calls.get(sub) else {
                continue;
            };
            let unavailable = Outcome::Failed(FailReason::DatabaseUnavailable);
            match (query_phase, c.connected()) {
                (false, Some(_)) => {
                    // The connection deadline was set at the query's start plus the connect
                    // timeout: the query's own deadline counts from the same start.
                    let deadline = at + query_after_connect;
                    if deadline > now {
                        self.apps[i as usize]
                            .timeouts
                            .push(cx, deadline, (sub, true), || Ev::AppTimeouts { app: i });
                    } else {
                        self.app_db_done(cx, i, sub, unavailable, false);
                    }
                }
                (false, None) => self.app_db_done(cx, i, sub, unavailable, true),
                (true, _) => self.app_db_done(cx, i, sub, unavailable, false),
            }
        }
        let calls = &self.calls;
        self.apps[i as usize].timeouts.rearm_discarding(
            cx,
            |t| sub_call_ended(calls, t),
            || Ev::AppTimeouts { app: i },
        );
    }

    // ----- shared -----

    /// Answers a job's caller, frees the worker and starts the next queued job.
    fn server_finish(&mut self, cx: &mut Context<'_, Ev>, node: Node, job: Ref, outcome: Outcome) {
        let now = cx.now();
        let pool = match node {
            Node::Web(i) => &mut self.webs[i as usize].pool,
            Node::App(i) => &mut self.apps[i as usize].pool,
            _ => unreachable!("only servers have pools"),
        };
        let Some((j, next)) = pool.finish(now, job) else {
            return;
        };
        self.reply(cx, j.call, outcome);
        if let Some(next) = next {
            match node {
                Node::Web(i) => self.web_start(cx, i, next),
                Node::App(i) => self.app_start(cx, i, next),
                _ => {}
            }
        }
    }

    /// Takes a server down: its jobs are lost. With the host still up (process crash) the
    /// kernel resets every connection, so callers learn at once; with the host gone they
    /// wait for their timeouts.
    pub(crate) fn server_set_down(&mut self, cx: &mut Context<'_, Ev>, node: Node) {
        let now = cx.now();
        let process = self.state(node).down == Some(crate::scenario::CrashMode::Process);
        let jobs = match node {
            Node::Web(i) => self.webs[i as usize].pool.clear(now),
            Node::App(i) => self.apps[i as usize].pool.clear(now),
            _ => return,
        };
        for j in jobs {
            if let Some(sub) = j.sub {
                self.sub_owner_take(sub);
                self.calls.remove(sub);
            }
            if process {
                self.reset(cx, j.call);
            }
        }
    }

    /// Remembers which job owns a sub-call (its `slot` field is the callee's index for
    /// database calls, so the owner goes in a side table keyed by the call's slab index).
    fn sub_owner_set(&mut self, sub: Ref, job: Ref) {
        let i = sub.index();
        if self.sub_owner.len() <= i {
            self.sub_owner.resize(i + 1, None);
        }
        self.sub_owner[i] = Some((sub, job));
    }

    fn sub_owner_take(&mut self, sub: Ref) -> Option<Ref> {
        let slot = self.sub_owner.get_mut(sub.index())?;
        match *slot {
            Some((s, job)) if s == sub => {
                *slot = None;
                Some(job)
            }
            _ => None,
        }
    }
}

/// Whether a web or app server's deadline entry no longer guards anything: its sub-call ended.
fn sub_call_ended(calls: &Slab<Call>, &(sub, _): &(Ref, bool)) -> bool {
    calls.get(sub).is_none()
}
