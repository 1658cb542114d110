//! The load balancer's health checking, as HAProxy does it (HAProxy configuration manual:
//! `check`, `inter`, `fastinter`, `downinter`, `rise`, `fall`, `timeout check`, `observe`,
//! `error-limit`, `on-error`; src/check.c, src/tcpcheck.c):
//!
//! * **active checks**: each server is probed every `inter` (`fastinter` while transitionally
//!   up or down, `downinter` while fully down), the first checks staggered over one `inter`;
//!   a probe that gets no answer fails after the check deadline; the result moves HAProxy's
//!   health counter ([`health_update`]), and crossing `rise`/`fall` changes what the LB
//!   believes;
//! * **passive observation** (`observe layer4|layer7`): errors seen on real traffic count
//!   towards `error-limit`, and `on-error` then forces fast checks, fails a check, or marks
//!   the server down.
//!
//! A server marked DOWN leaves the balancer's pool; when no server is usable, the backend
//! queue is flushed with 503s; a server marked UP takes queued requests at once.

use infrasim_engine::rng::splitmix64;
use infrasim_engine::{Context, SimDuration};

use super::LoadBalancer;
use crate::model::World;
use crate::model::call::{Call, Parent};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::{CheckKind, Class, ObserveLayer, OnError};

/// HAProxy's health counter update (src/check.c): a failure decrements the counter and, once
/// it drops below `rise`, the server is DOWN with the counter at 0; a success increments it
/// and, once it reaches `rise`, the server is UP with the counter at `rise + fall − 1`. So
/// from fully UP exactly `fall` consecutive failures mark a server down, and from DOWN
/// exactly `rise` consecutive successes bring it back; one success fully restores a
/// partially failed UP server. Returns the new (health, up).
pub(crate) fn health_update(health: u32, up: bool, ok: bool, rise: u32, fall: u32) -> (u32, bool) {
    let full = rise + fall - 1;
    if ok {
        let h = health + 1;
        if h >= rise { (full, true) } else { (h, up) }
    } else {
        let h = health.saturating_sub(1);
        if h < rise { (0, false) } else { (h, up) }
    }
}

/// The work of HTTP check `seq` of server `slot` by load balancer `lb`: a 32-bit mix of the
/// three, so each check draws its own service time.
fn check_work(lb: u32, slot: u32, seq: u32) -> u32 {
    (splitmix64(u64::from(lb) << 48 ^ u64::from(slot) << 32 ^ u64::from(seq)) >> 32) as u32
}

impl LoadBalancer {
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
    /// times out.) A blackholed server with `timeout check` set thus fails each check after
    /// min(`timeout connect`, `inter`).
    fn check_deadline(&self) -> SimDuration {
        let c = &self.cfg.check;
        match c.timeout {
            None => c.inter,
            Some(_) => self.cfg.timeouts.connect.min(c.inter),
        }
    }
}

impl World {
    pub(super) fn start_checks(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
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
        if l.cfg.check.kind == CheckKind::Http {
            // An HTTP check is a request like any other: it waits for a free slot in the
            // server's accept queue and for a worker, and fails on an error answer.
            let carried = (Class::Static, 0, 0, check_work(lb, slot, seq));
            let call = Call::new(Parent::Check { seq }, Node::Lb(lb), server, carried);
            let call = self.calls.insert(call.on_slot(slot, 0));
            self.lbs[lb as usize].health[slot as usize].call = Some(call);
            self.send(cx, Node::Lb(lb), server, Msg::Call(call));
        } else {
            self.send(cx, Node::Lb(lb), server, Msg::Probe { lb, slot, seq });
        }
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
        if let Some(call) = h.call.take() {
            // HAProxy closes the check's connection; a late answer finds it gone.
            self.calls.remove(call);
        }
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        h.force_fast = false;
        let (rise, fall) = (l.cfg.check.rise, l.cfg.check.fall);
        let (nh, up) = health_update(h.health, h.up, ok, rise, fall);
        self.apply_health(cx, lb, slot, nh, up);
        let l = &mut self.lbs[lb as usize];
        let next = l.next_interval(slot as usize);
        l.health[slot as usize].timer = Some(cx.schedule_in(next, Ev::CheckStart { lb, slot }));
    }

    /// Passive health (`observe`): `error` is an observed error on `slot`; `layer7` says
    /// whether it is only visible at layer 7 (an HTTP error or a response timeout).
    pub(super) fn lb_observe(
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
