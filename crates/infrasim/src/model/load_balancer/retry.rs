//! The load balancer's retries, as HAProxy handles a failed connection to a server
//! (HAProxy configuration manual: `retries`, `option redispatch`; src/backend.c
//! `back_handle_st_cer()`, include/haproxy/stream.h `stream_choose_redispatch()`):
//!
//! * a refused (RST) or timed-out connection is retried, up to `retries` (3) extra attempts,
//!   then answered with 503;
//! * with `option redispatch` a retry goes back to the dispatcher (a server chosen afresh,
//!   avoiding the one that failed; it may have to queue) when the failed server is not
//!   running, on the last retry, and on every retry for non-hash algorithms with more than
//!   one active server; otherwise it goes to the same server, keeping its connection slot;
//! * after a RST the retry waits a turn-around of min(`timeout connect`, 1 s) — only when it
//!   retries the same server or the backend has at most one active server; after a timeout
//!   it leaves at once.

use infrasim_engine::{Context, SimDuration};

use super::REDISPATCH;
use super::request_path::Attempt;
use crate::model::World;
use crate::model::call::{FailReason, Outcome, Ref};
use crate::model::vocabulary::{Ev, Node};

impl World {
    /// A connection to a server failed before it was accepted (`timed_out`: `timeout
    /// connect`; else a RST): retry it or answer 503 (src/backend.c `back_handle_st_cer()`).
    /// The attempt still holds its connection slot on the server.
    pub(super) fn lb_connection_failed(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        a: Attempt,
        timed_out: bool,
    ) {
        let l = &self.lbs[lb as usize];
        if a.attempt >= l.cfg.retries {
            let reason = if timed_out {
                FailReason::ConnectTimeout
            } else {
                FailReason::ConnectionRefused
            };
            self.lb_release(cx, lb, a.slot);
            self.lb_respond(cx, lb, a.parent, Outcome::Failed(reason));
            return;
        }
        let next = a.attempt + 1;
        let redispatch = self.lb_choose_redispatch(lb, a.slot, next);
        if redispatch {
            // `sess_change_server(s, NULL)`: the slot goes back to the queue.
            self.lb_release(cx, lb, a.slot);
        }
        let l = &self.lbs[lb as usize];
        // After an asynchronous error (RST) HAProxy waits a turn-around of min(timeout
        // connect, 1 s) — "only when we're retrying on the same server", or when the backend
        // has at most one active server (`(sc->state == SC_ST_ASS || s->be->srv_act <= 1)`).
        // After a connect timeout it retries at once.
        if !timed_out && (!redispatch || l.active_servers() <= 1) {
            let turnaround = l.cfg.timeouts.connect.min(SimDuration::from_secs(1));
            let slot = if redispatch {
                a.slot | REDISPATCH
            } else {
                a.slot
            };
            self.lbs[lb as usize].turnaround.insert(a.parent);
            let retry = Ev::LbRetry {
                lb,
                parent: a.parent,
                slot,
                attempt: next,
            };
            cx.schedule_in(turnaround, retry);
        } else if redispatch {
            self.lb_dispatch_attempt(cx, lb, a.parent, next, Some(a.slot as usize));
        } else {
            self.lb_connect(cx, lb, a.parent, a.slot, next, true);
        }
    }

    /// Whether the retry numbered `next` of a request that failed on server `slot` goes back
    /// to the dispatcher (include/haproxy/stream.h `stream_choose_redispatch()`): only with
    /// `option redispatch`, and then when the server is not running (DOWN, or warming up in
    /// `slowstart`: `cur_state < SRV_ST_RUNNING`), on the last retry (`redispatch` without an
    /// interval is −1: every `retries`-th retry), or when the algorithm is not a hash and
    /// more than one active server takes traffic.
    pub(super) fn lb_choose_redispatch(&self, lb: u32, slot: u32, next: u32) -> bool {
        let l = &self.lbs[lb as usize];
        let s = slot as usize;
        l.cfg.redispatch
            && (!l.health[s].up
                || l.starting(s)
                || next == l.cfg.retries
                || (!l.cfg.hashing && l.active_servers() > 1))
    }

    /// The end of a retry's turn-around (`Ev::LbRetry`): the same server again, on the slot
    /// the request kept, or the dispatcher when the retry was redispatched. A retry whose
    /// stream the load balancer lost meanwhile (it crashed) is dropped.
    pub(crate) fn lb_retry(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
    ) {
        if self.state(Node::Lb(lb)).down.is_some()
            || !self.lbs[lb as usize].turnaround.remove(&parent)
        {
            return;
        }
        let redispatch = slot & REDISPATCH != 0;
        let slot = slot & !REDISPATCH;
        if self.calls.get(parent).is_none() {
            if !redispatch {
                self.lb_release(cx, lb, slot);
            }
            self.lb_close_frontend(lb);
            return;
        }
        if redispatch {
            self.lb_dispatch_attempt(cx, lb, parent, attempt, Some(slot as usize));
        } else {
            self.lb_connect(cx, lb, parent, slot, attempt, true);
        }
    }
}
