//! The load balancer's request path, as HAProxy handles a request (HAProxy configuration
//! manual: `maxconn`, `timeout connect|server|queue`, `retries`, `option redispatch`;
//! src/backend.c, src/queue.c):
//!
//! * the frontend accepts the client's connection (up to `maxconn`), a core spends the
//!   per-request CPU on it, and the `balance` algorithm picks a server among those the LB
//!   believes up ([`super::balance`]);
//! * a server at its `maxconn` is skipped by non-hash algorithms; when every usable server is
//!   full the request waits in the backend queue (or the chosen server's queue for `source`)
//!   for at most `timeout queue` (→ 503, `sQ`);
//! * a refused connection (RST) is retried on the same server after a turn-around of
//!   min(`timeout connect`, 1 s); one that times out is retried at once; with `option
//!   redispatch` a retry may go to another server (`stream_choose_redispatch()`), chosen
//!   avoiding the one that failed (`assign_server()`); after `retries` (3) extra attempts the
//!   request fails with 503;
//! * a request accepted by a server that does not answer within `timeout server` fails with
//!   504; a server that dies mid-request resets the connection (502). Neither is retried
//!   (`retry-on` defaults to `conn-failure` only).
//!
//! Every connection to a server ends through one place ([`World::lb_child_ended`]): its slot
//! is freed, passive health observes the outcome, and the slot goes to the oldest queued
//! request that may use it.

use infrasim_engine::{Context, EventId, SimDuration, SimTime};

use super::health::Observed;
use super::{ANY_SERVER, REDISPATCH};
use crate::model::World;
use crate::model::call::{Call, FailReason, Outcome, Parent, Ref, Slab};
use crate::model::vocabulary::{Ev, Msg, Node};

/// A finished attempt to reach a server, as the request path needs it: the request it
/// served, the server slot, the attempt number, and whether the server had accepted it.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    parent: Ref,
    slot: u32,
    attempt: u32,
    connected: bool,
}

impl World {
    pub(super) fn lb_accept(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref) {
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
            self.lb_close_frontend(lb);
        }
    }

    /// Answers the client side of a request and forgets it.
    fn lb_respond(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref, outcome: Outcome) {
        self.lb_close_frontend(lb);
        self.lbs[lb as usize].served += 1;
        self.reply(cx, parent, outcome);
    }

    /// A client connection the load balancer held is closed: answered, or its client has
    /// gone (timed out, or reset) while the request was being handled.
    fn lb_close_frontend(&mut self, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        l.frontend = l.frontend.saturating_sub(1);
    }

    /// Chooses a server for a request (or queues it, or fails it with 503).
    fn lb_dispatch(&mut self, cx: &mut Context<'_, Ev>, lb: u32, parent: Ref) {
        let Some(addr) = self.calls.get(parent).map(|c| c.addr) else {
            self.lb_close_frontend(lb);
            return;
        };
        let l = &mut self.lbs[lb as usize];
        let n = l.servers.len();
        let mut picked = l.balancer.pick(&l.views, addr, &mut l.rng);
        if let Some(s) = picked {
            if l.slot_full(s) && !l.cfg.hashing {
                // Non-hash algorithms skip full servers (HAProxy's fwrr/leastconn trees only
                // hold servers with free slots).
                picked = None;
                for _ in 0..n {
                    match l.balancer.pick(&l.views, addr, &mut l.rng) {
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
    pub(super) fn lb_dequeue(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
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
                None => self.lb_close_frontend(lb),
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
            self.lb_close_frontend(lb);
            return;
        };
        let carried = p.carried();
        let l = &mut self.lbs[lb as usize];
        let s = slot as usize;
        l.conns[s] += 1;
        l.views[s].load += 1;
        let server = l.servers[s].node;
        let connect = l.cfg.timeouts.connect;
        let now = cx.now();
        let call = Call::new(Parent::Call(parent), Node::Lb(lb), server, carried);
        let child = self.calls.insert(call.on_slot(slot, attempt));
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

    /// A connection to a server ended — answered, reset, or past its deadline: frees its
    /// slot, tells passive health what was observed (a failed connection; or an
    /// established one, then `answer`: what the response, or its absence, was), and hands
    /// the slot to the oldest queued request that may use it. Returns the attempt that
    /// ended, or None when there is nothing left to answer: the connection was already
    /// gone, or the client left meanwhile (its connection is closed then).
    fn lb_child_ended(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        child: Ref,
        answer: Observed,
    ) -> Option<Attempt> {
        let c = self.calls.remove(child)?;
        let l = &mut self.lbs[lb as usize];
        let s = c.slot as usize;
        l.conns[s] = l.conns[s].saturating_sub(1);
        l.views[s].load = l.views[s].load.saturating_sub(1);
        let Parent::Call(parent) = c.parent else {
            return None;
        };
        if c.connected().is_some() {
            self.lb_observe(cx, lb, c.slot, Observed::L4Ok);
            self.lb_observe(cx, lb, c.slot, answer);
        } else {
            self.lb_observe(cx, lb, c.slot, Observed::L4Err);
        }
        self.lb_dequeue(cx, lb, s);
        if self.calls.get(parent).is_none() {
            self.lb_close_frontend(lb);
            return None;
        }
        Some(Attempt {
            parent,
            slot: c.slot,
            attempt: u32::from(c.attempt),
            connected: c.connected().is_some(),
        })
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
        if let Some(a) = self.lb_child_ended(cx, lb, child, answer) {
            self.lb_respond(cx, lb, a.parent, outcome);
        }
    }

    pub(super) fn lb_child_reset(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref) {
        let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) else {
            return;
        };
        if a.connected {
            // The server died mid-request: 502, not retried (retry-on conn-failure only).
            self.lb_respond(cx, lb, a.parent, Outcome::Failed(FailReason::ServerError));
        } else {
            self.lb_retry_or_fail(cx, lb, a, false);
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

    /// A connection's deadline passed: `timeout server` for an accepted one (504, the server
    /// is observed failing at layer 7), `timeout connect` for one never accepted (retried).
    fn lb_call_deadline(&mut self, cx: &mut Context<'_, Ev>, lb: u32, child: Ref) {
        let now = cx.now();
        let server_timeout = self.lbs[lb as usize].cfg.timeouts.server;
        let Some(c) = self.calls.get(child) else {
            return;
        };
        match c.connected() {
            Some(at) if now < at + server_timeout => {
                let deadline = at + server_timeout;
                self.lbs[lb as usize]
                    .timeouts
                    .push(cx, deadline, child, || Ev::LbTimeouts { lb });
            }
            Some(_) => {
                if let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) {
                    let timeout = Outcome::Failed(FailReason::ServerTimeout);
                    self.lb_respond(cx, lb, a.parent, timeout);
                }
            }
            None => {
                if let Some(a) = self.lb_child_ended(cx, lb, child, Observed::HttpErr) {
                    self.lb_retry_or_fail(cx, lb, a, true);
                }
            }
        }
    }

    /// HAProxy's connection retry (src/backend.c, `stream_choose_redispatch()`).
    fn lb_retry_or_fail(&mut self, cx: &mut Context<'_, Ev>, lb: u32, a: Attempt, timed_out: bool) {
        let Attempt {
            parent,
            slot,
            attempt,
            ..
        } = a;
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
        let pick = l
            .balancer
            .pick_avoiding(&l.views, addr, &mut l.rng, Some(failed as usize));
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
            self.lb_close_frontend(lb);
            return;
        }
        if slot & REDISPATCH != 0 {
            self.lb_redispatch(cx, lb, parent, slot & !REDISPATCH, attempt);
        } else {
            self.lb_connect(cx, lb, parent, slot, attempt);
        }
    }

    /// When no server at all is usable, HAProxy flushes the backend queue with 503s.
    pub(super) fn lb_flush_queue_if_unusable(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
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
                    self.lb_close_frontend(lb);
                }
            }
        }
    }
}

/// Whether an LB connection deadline no longer guards anything (the call ended).
fn lb_deadline_disarmed(calls: &Slab<Call>, lb: u32, child: Ref) -> bool {
    calls.get(child).is_none_or(|c| c.caller != Node::Lb(lb))
}
