//! The load balancer, with HAProxy's semantics (HAProxy configuration manual, sections
//! `balance`, `check`, `maxconn`, `timeout`, `retries`, `option redispatch`, `backup`,
//! `observe`; source files src/backend.c, src/check.c, src/queue.c):
//!
//! * a request costs CPU on one of the node's cores, then a server is chosen by the
//!   `balance` algorithm among the servers the LB *believes* up ([`crate::balance`]);
//! * a server at its `maxconn` is skipped by non-hash algorithms; when every usable server is
//!   full the request waits in the backend queue (or the chosen server's queue for `source`)
//!   for at most `timeout queue` (→ 503, `sQ`);
//! * a connection that is refused (RST) is retried on the same server after a turn-around
//!   delay of min(`timeout connect`, 1 s); one that times out is retried at once; with
//!   `option redispatch` a retry may go to another server (`stream_choose_redispatch()`),
//!   chosen avoiding the one that failed (`assign_server()`);
//!   after `retries` (3) extra attempts the request fails with 503;
//! * a request accepted by a server that does not answer within `timeout server` fails with
//!   504; a server that dies mid-request resets the connection (502). Neither is retried
//!   (`retry-on` defaults to `conn-failure` only);
//! * active health checks follow HAProxy's hysteresis exactly ([`health_update`]), passive
//!   observation (`observe`, `error-limit`, `on-error`) feeds the same counter.

use std::collections::VecDeque;

use infrasim_engine::stats::TimeWeighted;
use infrasim_engine::{Context, EventId, SimDuration, SimTime, TimeoutQueue};

use crate::balance::{Algorithm, Balancer, ServerView};
use crate::call::{Call, FailReason, NOT_CONNECTED, Outcome, Parent, Ref, Slab};
use crate::scenario::{CheckKind, HealthCheck, LbTimeouts, Observe, ObserveLayer, OnError};
use crate::world::{Ev, Msg, Node, World};

/// Marks an unpinned queue entry (any server will do).
const ANY_SERVER: u32 = u32::MAX;

/// Flag on the `slot` of an [`Ev::LbRetry`]: the retry is redispatched (a server is chosen
/// when it fires, avoiding `slot`) rather than sent to `slot` again.
const REDISPATCH: u32 = 1 << 31;

/// One server of the backend, as the LB knows it.
#[derive(Clone, Debug)]
pub(crate) struct Backend {
    pub node: Node,
    pub weight: u32,
    pub maxconn: u32,
    pub maxqueue: u32,
    pub backup: bool,
}

/// HAProxy's health state of one server.
#[derive(Clone, Debug)]
pub(crate) struct Health {
    /// HAProxy's `health` counter, in `0 ..= rise + fall − 1`; UP iff ≥ rise.
    pub health: u32,
    /// What the LB believes.
    pub up: bool,
    /// Sequence number of the check in progress (to ignore late answers).
    pub seq: u32,
    /// Timer of the check in progress (its timeout) or of the next check.
    pub timer: Option<EventId>,
    /// Whether a check is in progress.
    pub checking: bool,
    /// Consecutive errors observed on real traffic.
    pub errors: u32,
    /// `on-error` forced `fastinter` for the next check.
    pub force_fast: bool,
}

/// The load balancer's configuration, resolved.
#[derive(Clone, Debug)]
pub(crate) struct LbConfig {
    pub check: HealthCheck,
    pub observe: Option<Observe>,
    pub timeouts: LbTimeouts,
    pub retries: u32,
    pub redispatch: bool,
    pub maxconn: u32,
    pub cores: u32,
    pub cost: SimDuration,
    pub hashing: bool,
}

/// A load balancer's state.
pub(crate) struct LoadBalancer {
    pub cfg: LbConfig,
    pub servers: Vec<Backend>,
    pub balancer: Balancer,
    pub views: Vec<ServerView>,
    pub health: Vec<Health>,
    /// Requests being served by each server (HAProxy `cur_sess`).
    pub conns: Vec<u32>,
    /// Requests waiting for a server slot, with their `timeout queue` events (the server
    /// they are pinned to, or [`ANY_SERVER`], is the call's `slot`).
    pub queue: VecDeque<(Ref, EventId)>,
    pub queued_on: Vec<u32>,
    pub cpu_busy: u32,
    pub cpu_queue: VecDeque<Ref>,
    /// Client connections held (frontend `maxconn`).
    pub frontend: u32,
    /// Busy cores over time.
    pub busy: TimeWeighted,
    /// Backend queue length over time.
    pub queued: TimeWeighted,
    /// Requests answered.
    pub served: u64,
    /// Client connections refused (frontend `maxconn`).
    pub rejected: u64,
    /// Deadlines of the connections to servers.
    pub timeouts: TimeoutQueue<Ref>,
}

impl LoadBalancer {
    pub(crate) fn new(
        cfg: LbConfig,
        algorithm: Algorithm,
        allbackups: bool,
        servers: Vec<Backend>,
    ) -> Self {
        let n = servers.len();
        let full = cfg.check.rise + cfg.check.fall - 1;
        let views = servers
            .iter()
            .map(|s| ServerView {
                weight: s.weight,
                usable: true,
                backup: s.backup,
                load: 0,
                maxconn: s.maxconn,
            })
            .collect();
        let mut lb = LoadBalancer {
            cfg,
            balancer: Balancer::new(algorithm, allbackups, n),
            views,
            health: vec![
                Health {
                    health: full,
                    up: true,
                    seq: 0,
                    timer: None,
                    checking: false,
                    errors: 0,
                    force_fast: false,
                };
                n
            ],
            conns: vec![0; n],
            queue: VecDeque::new(),
            queued_on: vec![0; n],
            cpu_busy: 0,
            cpu_queue: VecDeque::new(),
            frontend: 0,
            busy: TimeWeighted::new(SimTime::ZERO, 0),
            queued: TimeWeighted::new(SimTime::ZERO, 0),
            served: 0,
            rejected: 0,
            timeouts: TimeoutQueue::new(),
            servers,
        };
        lb.balancer.refresh(&lb.views);
        lb
    }

    /// The interval before the next check of `slot` (HAProxy `srv_getinter()`): `inter` when
    /// fully up, `downinter` when fully down, `fastinter` in between or when forced.
    fn next_interval(&self, slot: usize) -> SimDuration {
        let c = &self.cfg.check;
        let h = &self.health[slot];
        let full = c.rise + c.fall - 1;
        if h.force_fast || (h.health != 0 && h.health != full) {
            c.fastinter.unwrap_or(c.inter)
        } else if h.health == 0 {
            c.downinter.unwrap_or(c.inter)
        } else {
            c.inter
        }
    }

    /// How long a check that gets no answer at all takes to fail. HAProxy (src/tcpcheck.c,
    /// `tcpcheck_eval_connect()`) arms the check's timer at `inter`, or at
    /// min(`inter`, `timeout connect`) when `timeout check` is set; only once the connection
    /// is established does `timeout check` bound the wait for the answer. A server that
    /// gets no answer to its probe here is unreachable (dead host, partition, lost packet):
    /// its connection never establishes, so the connect bound applies, not `timeout check`.
    /// (A live server answers its probes at once in this model, so the read phase never
    /// times out.) See `semantics.md` §2.1: blackhole with `timeout check` set, d = min(5, 2).
    fn check_deadline(&self) -> SimDuration {
        let c = &self.cfg.check;
        match c.timeout {
            None => c.inter,
            Some(_) => self.cfg.timeouts.connect.min(c.inter),
        }
    }

    /// Restart the statistics at the end of the warm-up.
    pub(crate) fn reset_stats(&mut self, now: SimTime) {
        self.busy.reset(now);
        self.queued.reset(now);
        self.served = 0;
        self.rejected = 0;
    }

    fn queue_timeout(&self) -> SimDuration {
        self.cfg.timeouts.queue.unwrap_or(self.cfg.timeouts.connect)
    }

    fn slot_full(&self, slot: usize) -> bool {
        let m = self.servers[slot].maxconn;
        m > 0 && self.conns[slot] >= m
    }
}

/// HAProxy's health counter update (src/check.c): a failure decrements the counter and, once
/// it drops below `rise`, the server is DOWN with the counter at 0; a success increments it
/// and, once it reaches `rise`, the server is UP with the counter at `rise + fall − 1`. So
/// from fully UP exactly `fall` consecutive failures mark a server down, and from DOWN
/// exactly `rise` consecutive successes bring it back; one success fully restores a
/// partially failed UP server. Returns the new (health, up).
pub fn health_update(health: u32, up: bool, ok: bool, rise: u32, fall: u32) -> (u32, bool) {
    let full = rise + fall - 1;
    if ok {
        let h = health + 1;
        if h >= rise { (full, true) } else { (h, up) }
    } else {
        let h = health.saturating_sub(1);
        if h < rise { (0, false) } else { (h, up) }
    }
}

impl World {
    /// Starts the health checks of every load balancer, staggered over the first `inter`
    /// as HAProxy spreads the first checks of a backend's servers.
    pub(crate) fn start_load_balancers(&mut self, cx: &mut Context<'_, Ev>) {
        for lb in 0..self.lbs.len() {
            self.start_checks(cx, lb as u32);
        }
    }

    fn start_checks(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        if !l.cfg.check.enabled {
            return;
        }
        let n = l.servers.len() as u64;
        let inter = l.cfg.check.inter.as_nanos();
        for slot in 0..l.servers.len() {
            let offset = SimDuration::from_nanos(inter * slot as u64 / n.max(1));
            let t = cx.schedule_in(
                offset,
                Ev::CheckStart {
                    lb,
                    slot: slot as u32,
                },
            );
            l.health[slot].timer = Some(t);
        }
    }

    /// Takes `lb` down (crash) or brings it back: a crash drops every connection it holds —
    /// with RSTs to its clients if the host is still up — and stops its checks; a restart
    /// starts with every server UP, as HAProxy does at start-up, and resumes the checks.
    pub(crate) fn lb_set_down(&mut self, cx: &mut Context<'_, Ev>, lb: u32, down: bool) {
        let me = Node::Lb(lb);
        let process = self.state(me).down == Some(crate::scenario::CrashMode::Process);
        if down {
            let held: Vec<(Ref, bool)> = self
                .calls
                .iter()
                .filter(|(_, c)| c.callee == me || c.caller == me)
                .map(|(r, c)| (r, c.callee == me))
                .collect();
            for (r, incoming) in held {
                if incoming && process {
                    self.reset(cx, r);
                }
                if !incoming {
                    self.calls.remove(r);
                }
            }
            let l = &mut self.lbs[lb as usize];
            for h in &mut l.health {
                if let Some(t) = h.timer.take() {
                    cx.cancel(t);
                }
                h.checking = false;
            }
            l.queue.clear();
            l.cpu_queue.clear();
            l.cpu_busy = 0;
            l.frontend = 0;
            l.conns.iter_mut().for_each(|c| *c = 0);
            l.queued_on.iter_mut().for_each(|c| *c = 0);
            for v in &mut l.views {
                v.load = 0;
            }
        } else {
            let l = &mut self.lbs[lb as usize];
            let full = l.cfg.check.rise + l.cfg.check.fall - 1;
            for (h, v) in l.health.iter_mut().zip(l.views.iter_mut()) {
                h.health = full;
                h.up = true;
                h.errors = 0;
                h.force_fast = false;
                v.usable = true;
            }
            let views = l.views.clone();
            l.balancer.refresh(&views);
            self.start_checks(cx, lb);
            for slot in 0..self.lbs[lb as usize].servers.len() {
                let node = self.lbs[lb as usize].servers[slot].node;
                self.metrics.lb_belief(cx.now(), Node::Lb(lb), node, true);
            }
        }
    }

    pub(crate) fn lb_receive(&mut self, cx: &mut Context<'_, Ev>, lb: u32, from: Node, msg: Msg) {
        match msg {
            Msg::Call(call) => self.lb_accept(cx, lb, call),
            Msg::Reply { call, outcome } => self.lb_child_reply(cx, lb, call, outcome),
            Msg::Reset(call) => self.lb_child_reset(cx, lb, call),
            Msg::ProbeReply {
                lb: l,
                slot,
                seq,
                ok,
            } if l == lb => {
                let h = &self.lbs[lb as usize].health[slot as usize];
                if h.checking && h.seq == seq {
                    self.check_result(cx, lb, slot, seq, ok);
                }
            }
            Msg::Advert {
                pair,
                member,
                priority,
            } => self.vrrp_receive(cx, pair, member, priority, from),
            _ => {}
        }
    }

    fn lb_accept(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
        let now = cx.now();
        let l = &mut self.lbs[lb as usize];
        if l.cfg.maxconn > 0 && l.frontend >= l.cfg.maxconn {
            // Beyond the frontend's maxconn the kernel's backlog overflows: refused.
            l.rejected += 1;
            self.reset(cx, call);
            return;
        }
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        c.connected_at = now;
        c.slot = ANY_SERVER;
        l.frontend += 1;
        if l.cfg.cost.is_zero() {
            self.lb_dispatch(cx, lb, call);
        } else if l.cpu_busy < l.cfg.cores {
            l.cpu_busy += 1;
            l.busy.set(now, u64::from(l.cpu_busy));
            let cost = l.cfg.cost;
            cx.schedule_in(cost, Ev::LbCpuDone { lb, call });
        } else {
            l.cpu_queue.push_back(call);
        }
    }

    pub(crate) fn lb_cpu_done(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
        let now = cx.now();
        let l = &mut self.lbs[lb as usize];
        l.cpu_busy = l.cpu_busy.saturating_sub(1);
        if let Some(next) = l.cpu_queue.pop_front() {
            l.cpu_busy += 1;
            let cost = l.cfg.cost;
            cx.schedule_in(cost, Ev::LbCpuDone { lb, call: next });
        }
        l.busy.set(now, u64::from(l.cpu_busy));
        if self.calls.get(call).is_some() {
            self.lb_dispatch(cx, lb, call);
        } else {
            self.lbs[lb as usize].frontend -= 1;
        }
    }

    /// Answers the client side of a request and forgets it.
    fn lb_respond(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref, outcome: Outcome) {
        let l = &mut self.lbs[lb as usize];
        l.frontend = l.frontend.saturating_sub(1);
        l.served += 1;
        self.reply(cx, parent, outcome);
    }

    /// Chooses a server for a request (or queues it, or fails it with 503).
    fn lb_dispatch(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref) {
        let addr = match self.calls.get(parent) {
            Some(c) => c.addr,
            None => {
                self.lbs[lb as usize].frontend -= 1;
                return;
            }
        };
        let l = &mut self.lbs[lb as usize];
        let rng = &mut self.lb_rngs[lb as usize];
        let n = l.servers.len();
        let mut picked = l.balancer.pick(&l.views, addr, rng);
        if let Some(s) = picked {
            if l.slot_full(s) && !l.cfg.hashing {
                // Non-hash algorithms skip full servers (HAProxy's fwrr/leastconn trees only
                // hold servers with free slots).
                picked = None;
                for _ in 0..n {
                    match l.balancer.pick(&l.views, addr, rng) {
                        Some(t) if !l.slot_full(t) => {
                            picked = Some(t);
                            break;
                        }
                        _ => {}
                    }
                }
                if picked.is_none() {
                    self.lb_enqueue(cx, lb, parent, ANY_SERVER);
                    return;
                }
            } else if l.slot_full(s) {
                if l.servers[s].maxqueue > 0 && l.queued_on[s] >= l.servers[s].maxqueue {
                    self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::QueueTimeout));
                } else {
                    self.lb_enqueue(cx, lb, parent, s as u32);
                }
                return;
            }
        }
        match picked {
            Some(s) => self.lb_connect(cx, lb, parent, s as u32, 0),
            None => self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::NoBackend)),
        }
    }

    fn lb_enqueue(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref, pinned: u32) {
        let timeout = self.lbs[lb as usize].queue_timeout();
        let t = cx.schedule_in(timeout, Ev::LbQueueTimeout { lb, call: parent });
        let l = &mut self.lbs[lb as usize];
        l.queue.push_back((parent, t));
        l.queued.set(cx.now(), l.queue.len() as u64);
        if pinned != ANY_SERVER {
            l.queued_on[pinned as usize] += 1;
            l.views[pinned as usize].load += 1;
        }
        if let Some(c) = self.calls.get_mut(parent) {
            c.queued = true;
            c.slot = pinned;
        }
    }

    /// Takes the queue's entry at `pos`: the waiting call and its `timeout queue` event.
    fn lb_unqueue_at(&mut self, now: SimTime, lb: u32, pos: usize) -> Option<(Ref, EventId)> {
        let l = &mut self.lbs[lb as usize];
        let (r, timer) = l.queue.remove(pos)?;
        l.queued.set(now, l.queue.len() as u64);
        if let Some(c) = self.calls.get_mut(r) {
            c.queued = false;
            if c.slot != ANY_SERVER {
                l.queued_on[c.slot as usize] -= 1;
                l.views[c.slot as usize].load -= 1;
            }
        }
        Some((r, timer))
    }

    pub(crate) fn lb_queue_timeout(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
        let queued = self.calls.get(call).is_some_and(|c| c.queued);
        if !queued {
            return;
        }
        if let Some(pos) = self.lbs[lb as usize]
            .queue
            .iter()
            .position(|(r, _)| *r == call)
        {
            self.lb_unqueue_at(cx.now(), lb, pos);
            self.lb_respond(cx, lb, call, Outcome::Failed(FailReason::QueueTimeout));
        }
    }

    /// A slot freed on `slot`: serve the oldest queued request that may use it.
    fn lb_dequeue(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        loop {
            let l = &self.lbs[lb as usize];
            if l.queue.is_empty() || l.slot_full(slot) || !l.views[slot].usable {
                return;
            }
            let pos = l.queue.iter().position(|(r, _)| {
                self.calls
                    .get(*r)
                    .is_none_or(|c| c.slot == ANY_SERVER || c.slot == slot as u32)
            });
            let Some(pos) = pos else {
                return;
            };
            let Some((parent, timer)) = self.lb_unqueue_at(cx.now(), lb, pos) else {
                return;
            };
            match self.calls.get(parent) {
                Some(_) => {
                    cx.cancel(timer);
                    self.lb_connect(cx, lb, parent, slot as u32, 0);
                }
                None => self.lbs[lb as usize].frontend -= 1,
            }
        }
    }

    /// Opens a connection to server `slot` for `parent` (attempt number `attempt`).
    fn lb_connect(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
    ) {
        let Some(p) = self.calls.get(parent) else {
            self.lbs[lb as usize].frontend -= 1;
            return;
        };
        let (class, key, addr) = (p.class, p.key, p.addr);
        let l = &mut self.lbs[lb as usize];
        let s = slot as usize;
        l.conns[s] += 1;
        l.views[s].load += 1;
        let server = l.servers[s].node;
        let connect = l.cfg.timeouts.connect;
        let now = cx.now();
        let child = self.calls.insert(Call {
            parent: Parent::Call(parent),
            caller: Node::Lb(lb),
            callee: server,
            class,
            key,
            addr,
            db_op: None,
            slot,
            attempt,
            connected_at: NOT_CONNECTED,
            queued: false,
        });
        let calls = &self.calls;
        self.lbs[lb as usize].timeouts.push_discarding(
            cx,
            now + connect,
            child,
            |&c| lb_deadline_disarmed(calls, lb, c),
            || Ev::LbTimeouts { lb },
        );
        self.metrics.routed(lb, slot, server);
        self.send(cx, Node::Lb(lb), server, Msg::Call(child));
    }

    /// Releases a server slot held by a finished child call and returns (parent, slot, attempt).
    fn lb_release(&mut self, lb: u32, child: Ref) -> Option<(Ref, u32, u32, bool)> {
        let c = self.calls.remove(child)?;
        let l = &mut self.lbs[lb as usize];
        let s = c.slot as usize;
        l.conns[s] = l.conns[s].saturating_sub(1);
        l.views[s].load = l.views[s].load.saturating_sub(1);
        let Parent::Call(parent) = c.parent else {
            return None;
        };
        Some((parent, c.slot, c.attempt, c.connected().is_some()))
    }

    fn lb_child_reply(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref, outcome: Outcome) {
        let Some((parent, slot, _, _)) = self.lb_release(lb, child) else {
            return;
        };
        let err = matches!(outcome, Outcome::Failed(_));
        self.lb_observe(cx, lb, slot, err, true);
        self.lb_dequeue(cx, lb, slot as usize);
        if self.calls.get(parent).is_some() {
            self.lb_respond(cx, lb, parent, outcome);
        } else {
            self.lbs[lb as usize].frontend -= 1;
        }
    }

    fn lb_child_reset(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref) {
        let Some((parent, slot, attempt, connected)) = self.lb_release(lb, child) else {
            return;
        };
        self.lb_observe(cx, lb, slot, true, false);
        self.lb_dequeue(cx, lb, slot as usize);
        if self.calls.get(parent).is_none() {
            self.lbs[lb as usize].frontend -= 1;
            return;
        }
        if connected {
            // The server died mid-request: 502, not retried (retry-on conn-failure only).
            self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::ServerError));
        } else {
            self.lb_retry_or_fail(cx, lb, parent, slot, attempt, false);
        }
    }

    /// The wake-up of the LB's connection deadlines: `timeout connect` for a connection not
    /// yet accepted, then `timeout server` from the moment it was (one queue serves both; a
    /// deadline is re-queued when the connection turns out to be established).
    pub(crate) fn lb_timeouts(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let now = cx.now();
        while let Some(child) = self.lbs[lb as usize].timeouts.pop_expired(now) {
            if self
                .calls
                .get(child)
                .is_some_and(|c| c.caller == Node::Lb(lb))
            {
                self.lb_call_deadline(cx, lb, child);
            }
        }
        let calls = &self.calls;
        self.lbs[lb as usize].timeouts.rearm_discarding(
            cx,
            |&child| lb_deadline_disarmed(calls, lb, child),
            || Ev::LbTimeouts { lb },
        );
    }

    fn lb_call_deadline(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref) {
        let now = cx.now();
        let server_timeout = self.lbs[lb as usize].cfg.timeouts.server;
        let Some(c) = self.calls.get_mut(child) else {
            return;
        };
        if let Some(at) = c.connected() {
            let deadline = at + server_timeout;
            if now < deadline {
                self.lbs[lb as usize]
                    .timeouts
                    .push(cx, deadline, child, || Ev::LbTimeouts { lb });
                return;
            }
            let Some((parent, slot, _, _)) = self.lb_release(lb, child) else {
                return;
            };
            self.lb_observe(cx, lb, slot, true, true);
            self.lb_dequeue(cx, lb, slot as usize);
            if self.calls.get(parent).is_some() {
                self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::ServerTimeout));
            } else {
                self.lbs[lb as usize].frontend -= 1;
            }
        } else {
            let Some((parent, slot, attempt, _)) = self.lb_release(lb, child) else {
                return;
            };
            self.lb_observe(cx, lb, slot, true, false);
            self.lb_dequeue(cx, lb, slot as usize);
            if self.calls.get(parent).is_none() {
                self.lbs[lb as usize].frontend -= 1;
                return;
            }
            self.lb_retry_or_fail(cx, lb, parent, slot, attempt, true);
        }
    }

    /// HAProxy's connection retry (src/backend.c, `stream_choose_redispatch()`).
    fn lb_retry_or_fail(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
        timed_out: bool,
    ) {
        let l = &self.lbs[lb as usize];
        if attempt >= l.cfg.retries {
            let reason = if timed_out {
                FailReason::ConnectTimeout
            } else {
                FailReason::ConnectionRefused
            };
            self.lb_respond(cx, lb, parent, Outcome::Failed(reason));
            return;
        }
        let next = attempt + 1;
        let active_up = l
            .views
            .iter()
            .filter(|v| v.usable && !v.backup && v.weight > 0)
            .count();
        let redispatch = l.cfg.redispatch
            && (!l.views[slot as usize].usable
                || next == l.cfg.retries
                || (!l.cfg.hashing && active_up > 1));
        // After an asynchronous error (RST) HAProxy waits a turn-around of min(timeout
        // connect, 1 s) before the next attempt — "only when we're retrying on the same
        // server": not when the stream is redispatched, unless the backend has at most one
        // active server (src/backend.c `back_handle_st_cer()`: `(sc->state == SC_ST_ASS ||
        // s->be->srv_act <= 1)`). After a connect timeout it retries at once.
        let turnaround = if timed_out {
            SimDuration::ZERO
        } else {
            l.cfg.timeouts.connect.min(SimDuration::from_secs(1))
        };
        if redispatch && (timed_out || active_up > 1) {
            self.lb_redispatch(cx, lb, parent, slot, next);
            return;
        }
        // The server is chosen when the turn-around ends (a redispatched stream is
        // assigned after it, in state SC_ST_REQ): the event carries the flag.
        let slot = if redispatch { slot | REDISPATCH } else { slot };
        cx.schedule_in(
            turnaround,
            Ev::LbRetry {
                lb,
                parent,
                slot,
                attempt: next,
            },
        );
    }

    /// Sends a retry to a server chosen afresh, avoiding the one that just failed: HAProxy's
    /// `assign_server()` rebalances a redispatched stream "trying to avoid the same server".
    fn lb_redispatch(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        failed: u32,
        attempt: u32,
    ) {
        let addr = self.calls.get(parent).map_or(0, |c| c.addr);
        let l = &mut self.lbs[lb as usize];
        let pick = l.balancer.pick_avoiding(
            &l.views,
            addr,
            &mut self.lb_rngs[lb as usize],
            Some(failed as usize),
        );
        match pick {
            Some(s) => self.lb_connect(cx, lb, parent, s as u32, attempt),
            None => self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::NoBackend)),
        }
    }

    pub(crate) fn lb_retry(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
    ) {
        if self.state(Node::Lb(lb)).down.is_some() {
            return;
        }
        if self.calls.get(parent).is_none() {
            self.lbs[lb as usize].frontend -= 1;
            return;
        }
        if slot & REDISPATCH != 0 {
            self.lb_redispatch(cx, lb, parent, slot & !REDISPATCH, attempt);
        } else {
            self.lb_connect(cx, lb, parent, slot, attempt);
        }
    }

    /// Passive health (`observe`): `error` is an observed error on `slot`; `layer7` says
    /// whether it is only visible at layer 7 (an HTTP error or a response timeout).
    fn lb_observe(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: u32,
        error: bool,
        layer7: bool,
    ) {
        let l = &mut self.lbs[lb as usize];
        let Some(obs) = l.cfg.observe.clone() else {
            return;
        };
        let h = &mut l.health[slot as usize];
        if !error || (layer7 && obs.layer == ObserveLayer::Layer4) {
            if !error {
                h.errors = 0;
            }
            return;
        }
        h.errors += 1;
        if h.errors < obs.error_limit {
            return;
        }
        h.errors = 0;
        let (rise, fall) = (l.cfg.check.rise, l.cfg.check.fall);
        match obs.on_error {
            OnError::Fastinter => h.force_fast = true,
            OnError::FailCheck => {
                h.force_fast = true;
                let (nh, up) = health_update(h.health, h.up, false, rise, fall);
                self.apply_health(cx, lb, slot, nh, up);
            }
            OnError::SuddenDeath => {
                h.force_fast = true;
                let nh = if h.up { rise } else { 0 };
                let up = h.up;
                self.apply_health(cx, lb, slot, nh, up);
            }
            OnError::MarkDown => {
                self.apply_health(cx, lb, slot, 0, false);
            }
        }
        // A forced fastinter takes effect at once if the next check is further away.
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        if h.force_fast && !h.checking && l.cfg.check.enabled {
            if let Some(t) = h.timer.take() {
                cx.cancel(t);
            }
            let fast = l.cfg.check.fastinter.unwrap_or(l.cfg.check.inter);
            h.timer = Some(cx.schedule_in(fast, Ev::CheckStart { lb, slot }));
        }
    }

    /// Sets a server's health counter and belief, refreshing the balancer on a change.
    fn apply_health(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: u32,
        health: u32,
        up: bool,
    ) {
        let l = &mut self.lbs[lb as usize];
        let s = slot as usize;
        l.health[s].health = health;
        if l.health[s].up == up {
            return;
        }
        l.health[s].up = up;
        l.views[s].usable = up && !self.net.state(l.servers[s].node).drained;
        let views = l.views.clone();
        l.balancer.refresh(&views);
        let node = l.servers[s].node;
        self.metrics.lb_belief(cx.now(), Node::Lb(lb), node, up);
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(
                cx.now(),
                self.names.name(Node::Lb(lb)),
                &format!(
                    "{} {}",
                    self.names.name(node),
                    if up { "UP" } else { "DOWN" }
                ),
            );
        }
        if up {
            self.lb_dequeue(cx, lb, s);
        } else {
            self.lb_flush_queue_if_unusable(cx, lb);
        }
    }

    /// When no server at all is usable, HAProxy flushes the backend queue with 503s.
    fn lb_flush_queue_if_unusable(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &self.lbs[lb as usize];
        if l.views.iter().any(|v| v.usable && v.weight > 0) {
            return;
        }
        while !self.lbs[lb as usize].queue.is_empty() {
            if let Some((parent, timer)) = self.lb_unqueue_at(cx.now(), lb, 0) {
                if self.calls.get(parent).is_some() {
                    cx.cancel(timer);
                    self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::NoBackend));
                } else {
                    self.lbs[lb as usize].frontend -= 1;
                }
            }
        }
    }

    /// An operator changed a server's weight or drain state: refresh what the LB sees.
    pub(crate) fn lb_refresh_server(
        &mut self,
        cx: &mut Context<'_, Ev>,
        node: Node,
        weight: Option<(u32, u32)>,
    ) {
        for lb in 0..self.lbs.len() {
            let l = &mut self.lbs[lb];
            let mut changed = false;
            for s in 0..l.servers.len() {
                if l.servers[s].node != node {
                    continue;
                }
                if let Some((target_lb, w)) = weight
                    && target_lb as usize == lb
                {
                    l.views[s].weight = w;
                    changed = true;
                }
                let usable = l.health[s].up && !self.net.state(node).drained;
                if l.views[s].usable != usable {
                    l.views[s].usable = usable;
                    changed = true;
                }
            }
            if changed {
                let views = l.views.clone();
                l.balancer.refresh(&views);
                for s in 0..self.lbs[lb].servers.len() {
                    self.lb_dequeue(cx, lb as u32, s);
                }
            }
        }
    }

    pub(crate) fn check_start(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: u32) {
        if self.state(Node::Lb(lb)).down.is_some() {
            return;
        }
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        h.seq = h.seq.wrapping_add(1);
        h.checking = true;
        let seq = h.seq;
        let deadline = self.lbs[lb as usize].check_deadline();
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        h.timer = Some(cx.schedule_in(deadline, Ev::CheckTimeout { lb, slot, seq }));
        let server = l.servers[slot as usize].node;
        self.send(cx, Node::Lb(lb), server, Msg::Probe { lb, slot, seq });
    }

    /// A check finished (answer or timeout): update health, schedule the next check
    /// `interval` after this one completed (src/check.c).
    pub(crate) fn check_result(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: u32,
        seq: u32,
        ok: bool,
    ) {
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        if !h.checking || h.seq != seq {
            return;
        }
        h.checking = false;
        if let Some(t) = h.timer.take() {
            cx.cancel(t);
        }
        h.force_fast = false;
        let (rise, fall) = (l.cfg.check.rise, l.cfg.check.fall);
        let (nh, up) = health_update(h.health, h.up, ok, rise, fall);
        self.apply_health(cx, lb, slot, nh, up);
        let l = &mut self.lbs[lb as usize];
        let next = l.next_interval(slot as usize);
        l.health[slot as usize].timer = Some(cx.schedule_in(next, Ev::CheckStart { lb, slot }));
    }

    /// A server answers a health check: a TCP check passes if it accepts the connection; an
    /// HTTP check (`option httpchk`) fails when the server answers errors.
    pub(crate) fn answer_probe(
        &mut self,
        cx: &mut Context<'_, Ev>,
        me: Node,
        lb: u32,
        slot: u32,
        seq: u32,
        rng_ok: bool,
    ) {
        let http = self.lbs[lb as usize].cfg.check.kind == CheckKind::Http;
        let ok = !http || rng_ok;
        self.send(cx, me, Node::Lb(lb), Msg::ProbeReply { lb, slot, seq, ok });
    }
}

/// The interval after a server's death in which HAProxy marks it DOWN, when each check
/// fails `d` after it starts (≈ one round trip for a refused connection, the check deadline
/// for a dead host) and fastinter = inter: the first failing check starts U ∈ (0, inter]
/// after the death and ends d later, and each of the `fall − 1` further checks starts
/// `inter` after the previous one ended (src/check.c), so
/// T = U + d + (fall − 1)·(inter + d) (`semantics.md` §2.1): with the defaults 4–6 s for a
/// crashed process (d ≈ 0), 10–12 s for a dead host (d = inter = 2 s). Exposed for tests
/// and docs.
pub fn detection_window(
    inter: SimDuration,
    fall: u32,
    d: SimDuration,
) -> (SimDuration, SimDuration) {
    let lo = (inter + d) * u64::from(fall.saturating_sub(1)) + d;
    (lo, lo + inter)
}

/// Whether an LB connection deadline no longer guards anything (the call ended).
fn lb_deadline_disarmed(calls: &Slab<Call>, lb: u32, child: Ref) -> bool {
    calls.get(child).is_none_or(|c| c.caller != Node::Lb(lb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_hysteresis() {
        let (rise, fall) = (2, 3);
        let full = rise + fall - 1;
        // From fully up, exactly `fall` failures mark down.
        let (mut h, mut up) = (full, true);
        for i in 0..fall {
            (h, up) = health_update(h, up, false, rise, fall);
            assert_eq!(up, i + 1 < fall, "after {} failures", i + 1);
        }
        assert_eq!(h, 0);
        // From down, exactly `rise` successes mark up, at full health.
        (h, up) = health_update(h, up, true, rise, fall);
        assert!(!up);
        (h, up) = health_update(h, up, true, rise, fall);
        assert!(up);
        assert_eq!(h, full);
        // One success restores a partially failed server fully.
        (h, up) = health_update(h, up, false, rise, fall);
        (h, up) = health_update(h, up, false, rise, fall);
        assert!(up && h == rise);
        (h, up) = health_update(h, up, true, rise, fall);
        assert!(up && h == full);
    }
}
