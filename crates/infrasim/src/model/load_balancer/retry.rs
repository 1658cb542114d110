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
//!   it leaves at once;
//! * `retry-on` says which failures are retried ([`RetryPolicy`]): connection failures by
//!   default (`conn-failure`; without it a failed connection is answered at once), and on
//!   request, failures after the request was sent — HAProxy's layer-7 retries
//!   (src/http_ana.c `do_l7_retry()`): the server closed the connection without answering
//!   (`empty-response`), `timeout server` struck (`response-timeout`), or it answered one of
//!   the listed statuses. They count against the same `retries`, choose to redispatch the
//!   same way, and leave at once, with no turn-around. Once `retries` is spent the failure
//!   reaches the client as it would have without `retry-on`.

use infrasim_engine::{Context, SimDuration};

use crate::scenario::RetryOn;

use super::REDISPATCH;
use super::request_path::Attempt;
use crate::model::World;
use crate::model::call::{FailReason, Outcome, Ref};
use crate::model::vocabulary::{Ev, Node};

/// Bits of [`RetryPolicy`], HAProxy's `PR_RE_*` (include/haproxy/proxy-t.h).
const CONN_FAILURE: u32 = 1;
const EMPTY_RESPONSE: u32 = 1 << 1;
const RESPONSE_TIMEOUT: u32 = 1 << 2;
const JUNK_RESPONSE: u32 = 1 << 3;
const EARLY_ERROR: u32 = 1 << 4;
/// The retryable statuses, in [`RetryPolicy`]'s bits from `1 << 8` on.
const STATUSES: [u16; 12] = [401, 403, 404, 408, 421, 425, 429, 500, 501, 502, 503, 504];

/// A backend's `retry-on`, HAProxy's `retry_type` bit set (src/proxy.c
/// `proxy_parse_retry_on()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy(u32);

impl RetryPolicy {
    /// The policy a list of keywords asks for. `all-retryable-errors` is `conn-failure`,
    /// `empty-response`, `junk-response`, `response-timeout`, `0rtt-rejected`, 500, 502, 503
    /// and 504.
    pub(crate) fn of(keywords: &[RetryOn]) -> Self {
        let status = |code: u16| {
            let i = STATUSES.iter().position(|&c| c == code).unwrap_or(0);
            1u32 << (8 + i)
        };
        let mut bits = 0;
        for k in keywords {
            bits |= match k {
                RetryOn::None => 0,
                RetryOn::ConnFailure => CONN_FAILURE,
                RetryOn::EmptyResponse => EMPTY_RESPONSE,
                RetryOn::JunkResponse => JUNK_RESPONSE,
                RetryOn::ResponseTimeout => RESPONSE_TIMEOUT,
                RetryOn::ZeroRttRejected => EARLY_ERROR,
                RetryOn::S401 => status(401),
                RetryOn::S403 => status(403),
                RetryOn::S404 => status(404),
                RetryOn::S408 => status(408),
                RetryOn::S421 => status(421),
                RetryOn::S425 => status(425),
                RetryOn::S429 => status(429),
                RetryOn::S500 => status(500),
                RetryOn::S501 => status(501),
                RetryOn::S502 => status(502),
                RetryOn::S503 => status(503),
                RetryOn::S504 => status(504),
                RetryOn::AllRetryableErrors => {
                    CONN_FAILURE
                        | EMPTY_RESPONSE
                        | JUNK_RESPONSE
                        | RESPONSE_TIMEOUT
                        | EARLY_ERROR
                        | status(500)
                        | status(502)
                        | status(503)
                        | status(504)
                }
            };
        }
        RetryPolicy(bits)
    }

    /// `conn-failure`: a connection that failed before the server accepted it is retried.
    pub(crate) fn conn_failure(self) -> bool {
        self.0 & CONN_FAILURE != 0
    }

    /// `empty-response`: a connection the server closed after accepting the request, with
    /// nothing received, is retried (`PR_RE_DISCONNECTED`).
    pub(crate) fn empty_response(self) -> bool {
        self.0 & EMPTY_RESPONSE != 0
    }

    /// `response-timeout`: a `timeout server` is retried (`PR_RE_TIMEOUT`).
    pub(crate) fn response_timeout(self) -> bool {
        self.0 & RESPONSE_TIMEOUT != 0
    }

    /// Whether an answer with this HTTP status is retried (src/http_ana.c
    /// `l7_status_match()`).
    pub(crate) fn status(self, code: u16) -> bool {
        STATUSES
            .iter()
            .position(|&c| c == code)
            .is_some_and(|i| self.0 & (1 << (8 + i)) != 0)
    }
}

/// The HTTP status of a server's error answer, as `retry-on` matches it: a gray failure or
/// an application whose database is unavailable answers 500; nginx in front of a dead or
/// refusing upstream 502, of one that timed out 504; the 503s are HAProxy's own (a server
/// that is itself a load balancer).
pub(crate) fn http_status(reason: FailReason) -> u16 {
    match reason {
        FailReason::ServerError | FailReason::DatabaseUnavailable => 500,
        FailReason::ConnectionRefused => 502,
        FailReason::NoBackend | FailReason::QueueTimeout | FailReason::ConnectTimeout => 503,
        FailReason::ServerTimeout | FailReason::Timeout => 504,
        FailReason::RateLimited => 429,
    }
}

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
        // src/backend.c: "if (s->conn_retries >= s->max_retries || !(s->be->retry_type &
        // PR_RE_CONN_FAILED))" the connection error is final.
        if a.attempt >= l.cfg.retries || !l.cfg.retry_on.conn_failure() {
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

    /// A layer-7 retry (src/http_ana.c `do_l7_retry()`) of an attempt whose request reached
    /// the server and failed there, `retry-on` having asked for it: with retries left, the
    /// retry count grows, the request is redispatched or not as for a connection retry
    /// (`stream_choose_redispatch()`) — giving its slot back or keeping it — and leaves at
    /// once. Returns false, touching nothing, when `retries` is spent: the failure then
    /// goes to the client.
    pub(super) fn lb_l7_retry(&mut self, cx: &mut Context<'_, Ev>, lb: u32, a: Attempt) -> bool {
        if a.attempt >= self.lbs[lb as usize].cfg.retries {
            return false;
        }
        let next = a.attempt + 1;
        if self.lb_choose_redispatch(lb, a.slot, next) {
            self.lb_release(cx, lb, a.slot);
            self.lb_dispatch_attempt(cx, lb, a.parent, next, Some(a.slot as usize));
        } else {
            self.lb_connect(cx, lb, a.parent, a.slot, next, true);
        }
        true
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
            self.lb_close_frontend(cx, lb);
            return;
        }
        if redispatch {
            self.lb_dispatch_attempt(cx, lb, parent, attempt, Some(slot as usize));
        } else {
            self.lb_connect(cx, lb, parent, slot, attempt, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_on_keywords_set_haproxys_bits() {
        let default = RetryPolicy::of(&[RetryOn::ConnFailure]);
        assert!(default.conn_failure());
        assert!(!default.empty_response() && !default.response_timeout());
        assert!(STATUSES.iter().all(|&c| !default.status(c)));
        let none = RetryPolicy::of(&[RetryOn::None]);
        assert!(!none.conn_failure() && !none.empty_response());
        // A status alone does not retry failed connections.
        let only_503 = RetryPolicy::of(&[RetryOn::S503]);
        assert!(!only_503.conn_failure());
        assert!(only_503.status(503) && !only_503.status(500) && !only_503.status(200));
        // all-retryable-errors: conn-failure, empty-response, junk-response,
        // response-timeout, 0rtt-rejected, 500, 502, 503, 504 — not 401..429 nor 501.
        let all = RetryPolicy::of(&[RetryOn::AllRetryableErrors]);
        assert!(all.conn_failure() && all.empty_response() && all.response_timeout());
        let retried: Vec<u16> = STATUSES
            .iter()
            .copied()
            .filter(|&c| all.status(c))
            .collect();
        assert_eq!(retried, vec![500, 502, 503, 504]);
    }

    #[test]
    fn server_failures_map_to_their_statuses() {
        assert_eq!(http_status(FailReason::ServerError), 500);
        assert_eq!(http_status(FailReason::DatabaseUnavailable), 500);
        assert_eq!(http_status(FailReason::ServerTimeout), 504);
        assert_eq!(http_status(FailReason::NoBackend), 503);
    }
}
