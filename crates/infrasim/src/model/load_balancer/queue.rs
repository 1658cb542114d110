//! The load balancer's queues, as HAProxy's src/queue.c keeps them: the backend queue, for
//! requests no server could take, and each server's own queue, for requests assigned to a
//! server that had no free slot (a `source` hash, a `leastconn` pick with room in its
//! `maxqueue`, a single backup). They are kept in one FIFO in arrival order; an entry's
//! call names the server it waits for (its `slot`), or [`ANY_SERVER`].
//!
//! * a request waits at most `timeout queue` (unset: `timeout connect`) → 503 `sQ`;
//! * when a slot frees on a server, the oldest entry waiting for that server — or for any
//!   server, if the server takes new traffic — gets it (`process_srv_queue()`,
//!   `pendconn_process_next_strm()`): a server's own queue is served even while it is DOWN;
//! * when a server is marked DOWN, with `option redispatch` the requests queued on it go back
//!   to the dispatcher (`pendconn_redistribute()`), and when no server is left at all, the
//!   backend queue is flushed with 503s.

use infrasim_engine::{Context, EventId, SimTime};

use super::ANY_SERVER;
use crate::model::World;
use crate::model::call::{FailReason, Outcome, Ref};
use crate::model::vocabulary::Ev;

impl World {
    /// Queues `parent` on server `pinned` (or in the backend queue, [`ANY_SERVER`]) for at
    /// most `timeout queue`, remembering its retry count `attempt` (HAProxy `pendconn_add()`).
    pub(super) fn lb_enqueue(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        parent: Ref,
        pinned: u32,
        attempt: u32,
    ) {
        let timeout = self.lbs[lb as usize].queue_timeout();
        let t = cx.schedule_in(timeout, Ev::LbQueueTimeout { lb, call: parent });
        let l = &mut self.lbs[lb as usize];
        l.queue.push_back((parent, t));
        l.queued.set(cx.now(), l.queue.len() as u64);
        if pinned != ANY_SERVER {
            l.views[pinned as usize].queued += 1;
        }
        if let Some(c) = self.calls.get_mut(parent) {
            c.queued = true;
            c.slot = pinned;
            c.attempt = attempt.min(u32::from(u8::MAX)) as u8;
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
                l.views[c.slot as usize].queued -= 1;
            }
            c.slot = ANY_SERVER;
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

    /// A slot may have freed on `slot` (a connection ended, the server came UP, its
    /// `maxconn` grew): while it has a free slot, give one to the oldest entry queued on it
    /// or — when the server takes new traffic (`px_ok`) — in the backend queue (HAProxy
    /// `process_srv_queue()`). A server's own queue is served even while it is DOWN
    /// (`pendconn_process_next_strm()` checks only its slots).
    pub(super) fn lb_dequeue(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        self.lbs[lb as usize].sync_warmup_maxconn(cx.now());
        loop {
            let l = &self.lbs[lb as usize];
            if l.queue.is_empty() || l.slot_full(slot) {
                return;
            }
            let px_ok = l.balancer.in_pool(slot);
            let pos = l.queue.iter().position(|(r, _)| {
                self.calls
                    .get(*r)
                    .is_none_or(|c| c.slot == slot as u32 || (px_ok && c.slot == ANY_SERVER))
            });
            let Some(pos) = pos else {
                return;
            };
            let attempt = self.calls.get(l.queue[pos].0).map(|c| u32::from(c.attempt));
            let Some((parent, timer)) = self.lb_unqueue_at(cx.now(), lb, pos) else {
                return;
            };
            cx.cancel(timer);
            match attempt {
                Some(attempt) => self.lb_connect(cx, lb, parent, slot as u32, attempt, false),
                None => self.lb_close_frontend(cx, lb),
            }
        }
    }

    /// Server `slot` was marked DOWN: HAProxy's `pendconn_redistribute()` (src/queue.c).
    /// With `option redispatch` the requests queued on it leave its queue and "it's left to
    /// the dispatcher to choose a server" — another server, or the backend queue (with a
    /// fresh `timeout queue`); without it they stay, served if its slots free (and then fail
    /// or are retried like any connection to it) or failing at `timeout queue`. When no
    /// server takes traffic any more, the backend queue is flushed: 503 `no_backend`.
    pub(super) fn lb_redistribute(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        let mut moved = Vec::new();
        if self.lbs[lb as usize].cfg.redispatch {
            let mut pos = 0;
            while pos < self.lbs[lb as usize].queue.len() {
                let r = self.lbs[lb as usize].queue[pos].0;
                let on_slot = self.calls.get(r).is_some_and(|c| c.slot == slot as u32);
                if !on_slot {
                    pos += 1;
                    continue;
                }
                let attempt = self.calls.get(r).map_or(0, |c| u32::from(c.attempt));
                if let Some((r, timer)) = self.lb_unqueue_at(cx.now(), lb, pos) {
                    cx.cancel(timer);
                    moved.push((r, attempt));
                }
            }
        }
        self.lb_flush_queue_if_unusable(cx, lb);
        for (parent, attempt) in moved {
            self.lb_dispatch_attempt(cx, lb, parent, attempt, Some(slot));
        }
    }

    /// When no server takes traffic at all, HAProxy flushes the backend queue with 503s
    /// (`pendconn_redistribute()`: "if (px->lbprm.tot_wact || px->lbprm.tot_wbck) goto
    /// done"); the requests queued on a server stay in its queue.
    pub(super) fn lb_flush_queue_if_unusable(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &self.lbs[lb as usize];
        if l.views.iter().any(|v| v.usable && v.weight > 0) {
            return;
        }
        let mut pos = 0;
        while pos < self.lbs[lb as usize].queue.len() {
            let r = self.lbs[lb as usize].queue[pos].0;
            let call = self.calls.get(r).map(|c| c.slot);
            if call.is_some_and(|s| s != ANY_SERVER) {
                pos += 1;
                continue;
            }
            if let Some((parent, timer)) = self.lb_unqueue_at(cx.now(), lb, pos) {
                if call.is_some() {
                    cx.cancel(timer);
                    self.lb_respond(cx, lb, parent, Outcome::Failed(FailReason::NoBackend));
                } else {
                    self.lb_close_frontend(cx, lb);
                }
            }
        }
    }
}
