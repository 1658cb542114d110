//! The load balancer's request path, as HAProxy handles a request (HAProxy configuration
//! manual: `maxconn`, `maxqueue`, `timeout connect|server|queue`; src/backend.c,
//! src/queue.c):
//!
//! * the frontend accepts the client's connection (up to `maxconn`), a core spends the
//!   per-request CPU on it, and the dispatcher assigns a server (`assign_server_and_queue()`):
//!   the `balance` algorithm picks among the servers the LB believes up ([`super::balance`],
//!   which says how each algorithm treats saturated servers); a server with no free slot, or
//!   with requests already queued on it, takes the request into its own queue (or fails it
//!   with 503 when its `maxqueue` is reached); when the algorithm finds every server
//!   saturated the request waits in the backend queue (`super::queue`);
//! * a refused or timed-out connection is retried (`super::retry`);
//! * a request accepted by a server that does not answer within `timeout server` fails with
//!   504; a server that dies mid-request resets the connection (502); an error answer is
//!   passed through. None is retried by default (`retry-on` defaults to `conn-failure`
//!   only); `retry-on` may ask for each (`super::retry`);
//! * `on-marked-down shutdown-sessions`: when a server is marked DOWN its sessions are
//!   killed, 500 to their clients, not retried ([`World::lb_shutdown_sessions`]).
//!
//! Every connection to a server ends through one place ([`World::lb_child_ended`]), which
//! tells passive health what it saw; the connection's slot is then given back
//! ([`World::lb_release`]: the oldest queued request that may use it takes it) unless a
//! retry on the same server keeps it.

use infrasim_engine::{Context, SimDuration, SimTime};

use super::ANY_SERVER;
use super::balance::Algorithm;
use super::health::Observed;
use super::retry::http_status;
use super::tls::{Arrival, CpuJob};
use crate::model::call::{Call, FailReason, Outcome, Parent, Ref, Slab};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::{Received, World};

/// A finished attempt to reach a server, as the request path needs it: the request it
/// served, the server slot (still held), the attempt number, and whether the server had
/// accepted it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Attempt {
    pub parent: Ref,
    pub slot: u32,
    pub attempt: u32,
    pub connected: bool,
}

/// Where the dispatcher puts a request (HAProxy `assign_server_and_queue()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assigned {
    /// A connection slot on this server.
    Server(u32),
    /// A place in this server's queue, or in the backend queue ([`ANY_SERVER`]).
    Queued(u32),
    /// The chosen server's queue is at its `maxqueue`: 503 (`SRV_STATUS_FULL`).
    QueueFull,
    /// No server takes traffic: 503 (`SRV_STATUS_NOSRV`).
    NoServer,
}

impl World {
    /// A client's connection reaches the frontend. Below `maxconn` HAProxy takes it at once;
    /// at `maxconn` it stops accepting and the connection waits in the listening socket's
    /// backlog (HAProxy configuration manual, `maxconn` and `backlog`: the backlog defaults
    /// to the frontend's `maxconn`, and Linux caps it at `net.core.somaxconn`); when that is
    /// full too the kernel drops the SYN and the client retransmits it.
    ///
    /// With modelled connections (`super::tls`), `maxconn` counts idle keep-alive
    /// connections too, and a request on a connection already held is taken at once.
    pub(super) fn lb_accept(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) -> Received {
        let now = cx.now();
        match self.lb_conn_arrival(lb, call) {
            Arrival::Stale => return self.lb_conn_stale(cx, call),
            Arrival::Reused => {
                self.lb_take(cx, lb, call);
                return Received::Taken;
            }
            Arrival::New | Arrival::Legacy => {}
        }
        // `tcp-request connection reject`: a new connection only.
        if self.lbs[lb as usize].stick.is_some()
            && let Some(addr) = self.calls.get(call).map(|c| c.addr)
            && self.lb_conn_rejected(now, lb, addr)
        {
            self.reply(cx, call, Outcome::Failed(FailReason::RateLimited));
            return Received::Taken;
        }
        let idle = self.lb_idle_conns(lb);
        let l = &mut self.lbs[lb as usize];
        if l.cfg.maxconn > 0 && l.frontend + idle >= l.cfg.maxconn {
            if l.backlog.len() >= l.backlog_limit() {
                l.rejected += 1;
                return Received::Dropped;
            }
            if let Some(c) = self.calls.get_mut(call) {
                // The kernel completed the handshake: the client is connected.
                c.connected_at = now;
                l.backlog.push_back(call);
            }
            return Received::Taken;
        }
        self.lb_take(cx, lb, call);
        Received::Taken
    }

    /// HAProxy takes a client connection: it holds a frontend slot, and a core spends the
    /// per-request CPU on it before the request is dispatched (a new connection's work, its
    /// TLS handshake, comes first: `super::tls`).
    fn lb_take(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
        let now = cx.now();
        let l = &mut self.lbs[lb as usize];
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        c.connected_at = c.connected().unwrap_or(now);
        c.slot = ANY_SERVER;
        l.frontend += 1;
        let job = self.lb_conn_first_job(lb, call, now);
        self.lb_cpu_start(cx, lb, call, job);
    }

    /// Gives `job` for `call` to a free core, or queues it for one (one FIFO for every kind
    /// of work). Request work that costs nothing dispatches at once.
    pub(super) fn lb_cpu_start(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        call: Ref,
        job: CpuJob,
    ) {
        let now = cx.now();
        let cost = self.lb_job_cost(lb, call, job, now);
        let l = &mut self.lbs[lb as usize];
        if cost.is_zero() && job == CpuJob::Request {
            self.lb_dispatch(cx, lb, call);
        } else if l.cpu_busy < l.cfg.cores {
            l.cpu_busy += 1;
            l.busy.set(now, u64::from(l.cpu_busy));
            let epoch = l.conn.epoch;
            cx.schedule_in(cost, job_done(lb, call, job, epoch));
        } else {
            l.cpu_queue.push_back((call, job, cost));
        }
    }

    /// A core finished its work: it takes the oldest waiting job.
    pub(super) fn lb_cpu_freed(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let now = cx.now();
        let l = &mut self.lbs[lb as usize];
        l.cpu_busy = l.cpu_busy.saturating_sub(1);
        if let Some((next, job, cost)) = l.cpu_queue.pop_front() {
            l.cpu_busy += 1;
            let epoch = l.conn.epoch;
            cx.schedule_in(cost, job_done(lb, next, job, epoch));
        }
        l.busy.set(now, u64::from(l.cpu_busy));
    }

    /// A frontend slot freed while connections wait in the backlog: HAProxy resumes its
    /// listener and accepts them, oldest first, up to `maxconn` (on the next turn of its
    /// event loop: an event, so that a connection closing never re-enters the request path).
    pub(crate) fn lb_accept_backlog(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        self.lbs[lb as usize].accept_pending = false;
        if self.state(Node::Lb(lb)).down.is_some() {
            return;
        }
        loop {
            let idle = self.lb_idle_conns(lb);
            let l = &mut self.lbs[lb as usize];
            if l.cfg.maxconn > 0 && l.frontend + idle >= l.cfg.maxconn {
                return;
            }
            let Some(call) = l.backlog.pop_front() else {
                return;
            };
            if self.calls.get(call).is_some() {
                self.lb_take(cx, lb, call);
            }
        }
    }

    pub(crate) fn lb_cpu_done(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
        self.lb_cpu_freed(cx, lb);
        if self.calls.get(call).is_some() {
            self.lb_dispatch(cx, lb, call);
        } else {
            self.lb_close_frontend(cx, lb);
        }
    }

    /// Answers the client side of a request and forgets it.
    pub(super) fn lb_respond(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        outcome: Outcome,
    ) {
        self.lb_conn_responded(lb, parent);
        self.lb_close_frontend(cx, lb);
        self.lbs[lb as usize].served += 1;
        self.reply(cx, parent, outcome);
    }

    /// A client connection the load balancer held is closed: answered, or its client has
    /// gone (timed out, or reset) while the request was being handled.
    pub(super) fn lb_close_frontend(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        l.frontend = l.frontend.saturating_sub(1);
        if !l.backlog.is_empty() && !l.accept_pending {
            l.accept_pending = true;
            cx.schedule_in(SimDuration::ZERO, Ev::LbAcceptBacklog { lb });
        }
    }

    /// Assigns a new request (its first attempt).
    fn lb_dispatch(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref) {
        if self.lbs[lb as usize].stick.is_some()
            && let Some(addr) = self.calls.get(parent).map(|c| c.addr)
            && self.lb_request_denied(cx.now(), lb, addr)
        {
            let denied = Outcome::Failed(FailReason::RateLimited);
            self.lb_respond(cx, lb, parent, denied);
            return;
        }
        self.lb_dispatch_attempt(cx, lb, parent, 0, None);
    }

    /// Assigns `parent` — a new request, a redispatched retry (numbered `attempt`, avoiding
    /// the server that failed), or a request taken out of a DOWN server's queue — and
    /// connects it, queues it, or answers 503.
    pub(super) fn lb_dispatch_attempt(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        attempt: u32,
        avoid: Option<usize>,
    ) {
        let Some(addr) = self.calls.get(parent).map(|c| c.addr) else {
            self.lb_close_frontend(cx, lb);
            return;
        };
        let l = &mut self.lbs[lb as usize];
        l.sync_warmup_maxconn(cx.now());
        match l.assign(addr, avoid) {
            Assigned::Server(s) => self.lb_connect(cx, lb, parent, s, attempt, false),
            Assigned::Queued(s) => self.lb_enqueue(cx, lb, parent, s, attempt),
            Assigned::QueueFull => {
                self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::QueueTimeout));
            }
            Assigned::NoServer => {
                self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::NoBackend));
            }
        }
    }

    /// Opens a connection to server `slot` for `parent` (attempt number `attempt`), taking a
    /// connection slot on it unless the request `held` one (a retry on the same server).
    pub(super) fn lb_connect(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
        held: bool,
    ) {
        let Some(p) = self.calls.get(parent) else {
            if held {
                self.lb_release(cx, lb, slot);
            }
            self.lb_close_frontend(cx, lb);
            return;
        };
        let carried = p.carried();
        let l = &mut self.lbs[lb as usize];
        let s = slot as usize;
        if !held {
            l.views[s].served += 1;
        }
        let server = l.servers[s].node;
        let (connect, server_timeout) = (l.cfg.timeouts.connect, l.cfg.timeouts.server);
        let now = cx.now();
        let call = Call::new(Parent::Call(parent), Node::Lb(lb), server, carried);
        let child = self.calls.insert(call.on_slot(slot, attempt));
        let calls = &self.calls;
        // The first look at the connection comes at `timeout connect`, or sooner when
        // `timeout server` is shorter (it may expire before the connect deadline).
        self.lbs[lb as usize].timeouts.push_discarding(
            cx,
            now + connect.min(server_timeout),
            (child, now + connect),
            |&(c, _)| lb_deadline_disarmed(calls, lb, c),
            || Ev::LbTimeouts { lb },
        );
        self.metrics.routed(lb, slot, server);
        self.send(cx, Node::Lb(lb), server, Msg::Call(child));
    }

    /// A connection to a server ended — answered, reset, or past its deadline: tells passive
    /// health what was observed (a failed connection; or an established one, then
    /// `answer`: what the response, or its absence, was). Returns the attempt that ended,
    /// still holding its slot, or None when there is nothing left to answer: the connection
    /// was already gone, or the client left meanwhile (its slot and connection are given
    /// back then).
    fn lb_child_ended(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        child: Ref,
        answer: Observed,
    ) -> Option<Attempt> {
        let c = self.calls.remove(child)?;
        if let Parent::Check { seq } = c.parent {
            // An HTTP health check's connection: it holds no server slot; it passes on a
            // good answer only.
            self.check_result(cx, lb, c.slot, seq, answer == Observed::HttpOk);
            return None;
        }
        let Parent::Call(parent) = c.parent else {
            return None;
        };
        if c.connected().is_some() {
            self.lb_observe(cx, lb, c.slot, Observed::L4Ok);
            self.lb_observe(cx, lb, c.slot, answer);
        } else {
            self.lb_observe(cx, lb, c.slot, Observed::L4Err);
        }
        if self.calls.get(parent).is_none() {
            self.lb_release(cx, lb, c.slot);
            self.lb_close_frontend(cx, lb);
            return None;
        }
        Some(Attempt {
            parent,
            slot: c.slot,
            attempt: u32::from(c.attempt),
            connected: c.connected().is_some(),
        })
    }

    /// Gives back a connection slot on server `slot`, to the oldest queued request that may
    /// use it (HAProxy `sess_change_server()`, then `process_srv_queue()`).
    pub(super) fn lb_release(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: u32) {
        let v = &mut self.lbs[lb as usize].views[slot as usize];
        v.served = v.served.saturating_sub(1);
        self.lb_dequeue(cx, lb, slot as usize);
    }

    /// Answers the client with what the server answered, giving the slot back first.
    fn lb_answer(&mut self, cx: &mut Context<'_, Ev>, lb: u32, a: Attempt, outcome: Outcome) {
        self.lb_release(cx, lb, a.slot);
        self.lb_respond(cx, lb, a.parent, outcome);
    }

    pub(super) fn lb_child_reply(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        child: Ref,
        outcome: Outcome,
    ) {
        let answer = match outcome {
            Outcome::Ok => Observed::HttpOk,
            Outcome::Failed(_) => Observed::HttpErr,
        };
        let Some(a) = self.lb_child_ended(cx, lb, child, answer) else {
            return;
        };
        let policy = self.lbs[lb as usize].cfg.retry_on;
        if let Outcome::Failed(reason) = outcome
            && policy.status(http_status(reason))
            && self.lb_l7_retry(cx, lb, a)
        {
            return;
        }
        self.lb_answer(cx, lb, a, outcome);
    }

    pub(super) fn lb_child_reset(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref) {
        let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) else {
            return;
        };
        if a.connected {
            // The server closed the connection mid-request: 502, unless `retry-on
            // empty-response` retries it.
            let policy = self.lbs[lb as usize].cfg.retry_on;
            if policy.empty_response() && self.lb_l7_retry(cx, lb, a) {
                return;
            }
            self.lb_answer(cx, lb, a, Outcome::Failed(FailReason::ServerError));
        } else {
            self.lb_connection_failed(cx, lb, a, false);
        }
    }

    /// `on-marked-down shutdown-sessions`: server `slot` was marked DOWN and every session on
    /// it is killed (src/server.c `srv_shutdown_streams()`, src/stream.c
    /// `stream_shutdown_self()`): the connection to the server is closed and its slot given
    /// back, and the stream's `srv_error` handler answers the client —
    /// `http_return_srv_error()`, with no connection error recorded: 500. A killed stream is
    /// not retried. The kill is asynchronous in HAProxy (the streams are woken), so it comes
    /// after the DOWN transition's `pendconn_redistribute()`.
    pub(super) fn lb_shutdown_sessions(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: u32) {
        let me = Node::Lb(lb);
        let killed: Vec<Ref> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.caller == me && c.slot == slot && matches!(c.parent, Parent::Call(_))
            })
            .map(|(r, _)| r)
            .collect();
        for child in killed {
            let Some(Parent::Call(parent)) = self.calls.remove(child).map(|c| c.parent) else {
                continue;
            };
            if self.calls.get(parent).is_none() {
                self.lb_release(cx, lb, slot);
                self.lb_close_frontend(cx, lb);
                continue;
            }
            let a = Attempt {
                parent,
                slot,
                attempt: 0,
                connected: true,
            };
            self.lb_answer(cx, lb, a, Outcome::Failed(FailReason::ServerError));
        }
    }

    /// The wake-up of the LB's connection deadlines: `timeout connect` for a connection not
    /// yet accepted, then `timeout server` from the moment it was (one queue serves both; a
    /// deadline is re-queued when the connection turns out to be established, or not yet
    /// past its connect deadline).
    pub(crate) fn lb_timeouts(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let now = cx.now();
        while let Some((child, connect_by)) = self.lbs[lb as usize].timeouts.pop_expired(now) {
            if self
                .calls
                .get(child)
                .is_some_and(|c| c.caller == Node::Lb(lb))
            {
                self.lb_call_deadline(cx, lb, child, connect_by);
            }
        }
        let calls = &self.calls;
        self.lbs[lb as usize].timeouts.rearm_discarding(
            cx,
            |&(child, _)| lb_deadline_disarmed(calls, lb, child),
            || Ev::LbTimeouts { lb },
        );
    }

    /// A connection's deadline passed: `timeout server` for an accepted one (504, the server
    /// is observed failing at layer 7), `timeout connect` for one never accepted (retried).
    /// A connection still connecting before its connect deadline is looked at again at the
    /// earlier of that deadline and `timeout server` from now: were it accepted meanwhile,
    /// its `timeout server` could not expire sooner.
    fn lb_call_deadline(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        child: Ref,
        connect_by: SimTime,
    ) {
        let now = cx.now();
        let server_timeout = self.lbs[lb as usize].cfg.timeouts.server;
        let Some(c) = self.calls.get(child) else {
            return;
        };
        let again = match c.connected() {
            Some(at) if now < at + server_timeout => Some(at + server_timeout),
            None if now < connect_by => Some(connect_by.min(now + server_timeout)),
            _ => None,
        };
        if let Some(deadline) = again {
            self.lbs[lb as usize]
                .timeouts
                .push(cx, deadline, (child, connect_by), || Ev::LbTimeouts { lb });
            return;
        }
        match c.connected() {
            Some(_) => {
                if let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) {
                    let policy = self.lbs[lb as usize].cfg.retry_on;
                    if policy.response_timeout() && self.lb_l7_retry(cx, lb, a) {
                        return;
                    }
                    let timeout = Outcome::Failed(FailReason::ServerTimeout);
                    self.lb_answer(cx, lb, a, timeout);
                }
            }
            None => {
                if let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) {
                    self.lb_connection_failed(cx, lb, a, true);
                }
            }
        }
    }
}

impl super::LoadBalancer {
    /// HAProxy's `assign_server()` then `assign_server_and_queue()` (src/backend.c): no
    /// server taking traffic → 503; for `roundrobin`, `static-rr` and `first`, a non-empty
    /// backend queue (with requests in service) means every server is full, so the request
    /// joins it; otherwise the algorithm picks (avoiding `avoid`), none meaning saturation →
    /// the backend queue; the picked server gives a slot if it has one free and no request
    /// queued on it (its dynamic `maxconn`), else the request joins its queue — or 503 when
    /// that queue is at `maxqueue`.
    fn assign(&mut self, addr: u32, avoid: Option<usize>) -> Assigned {
        if self.balancer.is_empty(&self.views) {
            return Assigned::NoServer;
        }
        let queue_first = matches!(
            self.balancer.algorithm(),
            Algorithm::RoundRobin | Algorithm::StaticRr | Algorithm::First
        );
        if queue_first
            && !self.queue.is_empty()
            && self.backend_queued() > 0
            && self.views.iter().any(|v| v.served > 0)
        {
            return Assigned::Queued(ANY_SERVER);
        }
        let pick = self
            .balancer
            .pick_avoiding(&self.views, addr, &mut self.rng, avoid);
        let Some(s) = pick else {
            return Assigned::Queued(ANY_SERVER);
        };
        let v = &self.views[s];
        if v.maxconn == 0 || (v.queued == 0 && v.served < v.maxconn) {
            Assigned::Server(s as u32)
        } else if v.maxqueue > 0 && v.queued >= v.maxqueue {
            Assigned::QueueFull
        } else {
            Assigned::Queued(s as u32)
        }
    }
}

/// The event that ends `job` on a core.
fn job_done(lb: u32, call: Ref, job: CpuJob, epoch: u32) -> Ev {
    match job {
        CpuJob::Request => Ev::LbCpuDone { lb, call },
        CpuJob::Connection => Ev::LbConnCpuDone { lb, call, epoch },
    }
}

/// Whether an LB connection deadline no longer guards anything (the call ended).
fn lb_deadline_disarmed(calls: &Slab<Call>, lb: u32, child: Ref) -> bool {
    calls.get(child).is_none_or(|c| c.caller != Node::Lb(lb))
}
