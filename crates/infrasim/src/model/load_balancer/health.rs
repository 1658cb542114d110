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

/// What an `on-error` trigger does to the health counter (src/check.c `__health_adjust()`):
/// `None` for `fastinter` (which only forces fast checks); otherwise the (health, up) after
/// the simulated failed check — `fail-check` fails one; `sudden-death` first lowers a
/// health above `rise` to `rise + 1`, so the first trigger leaves a fully-up server UP at
/// `rise` and the second marks it DOWN; `mark-down` starts from `rise`: DOWN at once.
pub(crate) fn on_error_health(
    mode: OnError,
    health: u32,
    up: bool,
    rise: u32,
    fall: u32,
) -> Option<(u32, bool)> {
    let from = match mode {
        OnError::Fastinter => return None,
        OnError::FailCheck => health,
        OnError::SuddenDeath if health > rise => rise + 1,
        OnError::SuddenDeath => health,
        OnError::MarkDown => rise,
    };
    Some(health_update(from, up, false, rise, fall))
}

/// What passive health (`observe`) sees of one connection to a server: HAProxy's
/// `HANA_STATUS_*` events (include/haproxy/check-t.h), reported by the request path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Observed {
    /// The connection was established (`HANA_STATUS_L4_OK`, src/stream.c
    /// `back_establish()`).
    L4Ok,
    /// The connection failed: refused or timed out (`HANA_STATUS_L4_ERR`, src/backend.c
    /// `back_handle_st_cer()`).
    L4Err,
    /// A response that is not a server error: status < 500, 501 or 505
    /// (`HANA_STATUS_HTTP_OK`, src/http_ana.c `http_wait_for_response()`).
    HttpOk,
    /// A 5xx response, a read error, a close without a response or a read timeout
    /// (`HANA_STATUS_HTTP_STS`, `_READ_ERROR`, `_BROKEN_PIPE`, `_READ_TIMEOUT`).
    HttpErr,
}

/// What one [`Observed`] event means for the count of consecutive errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Analysis {
    Ignore,
    Good,
    Error,
}

impl Observed {
    /// HAProxy's `analyze_statuses` table (src/check.c): `layer4` counts connection
    /// failures and is reset by established connections, ignoring HTTP; `layer7` counts
    /// connection failures and HTTP errors and is reset by good HTTP responses, ignoring
    /// established connections.
    fn analysis(self, layer: ObserveLayer) -> Analysis {
        match (layer, self) {
            (_, Observed::L4Err) => Analysis::Error,
            (ObserveLayer::Layer4, Observed::L4Ok) => Analysis::Good,
            (ObserveLayer::Layer4, _) | (ObserveLayer::Layer7, Observed::L4Ok) => Analysis::Ignore,
            (ObserveLayer::Layer7, Observed::HttpOk) => Analysis::Good,
            (ObserveLayer::Layer7, Observed::HttpErr) => Analysis::Error,
        }
    }
}

impl LoadBalancer {
    /// The interval before the next check of `slot`: HAProxy's `srv_getinter()`
    /// (src/server.c) — `inter` only when fully up (health = `rise + fall − 1`) and no
    /// `on-error` forced fast checks (`CHK_ST_FASTINTER`); `downinter` when the server is
    /// DOWN with health 0, even when forced; `fastinter` otherwise (each defaulting to
    /// `inter`).
    pub(super) fn next_interval(&self, slot: usize) -> SimDuration {
        let c = &self.cfg.check;
        let h = &self.health[slot];
        if !h.fastinter && h.health == c.rise + c.fall - 1 {
            c.inter
        } else if !h.up && h.health == 0 {
            c.downinter.unwrap_or(c.inter)
        } else {
            c.fastinter.unwrap_or(c.inter)
        }
    }

    /// Schedules the next check of `slot` `after` from now, replacing any pending one, and
    /// clears the forced-`fastinter` flag as HAProxy does whenever it sets the check's
    /// timer after a check or advances it.
    pub(super) fn schedule_check(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: usize,
        after: SimDuration,
    ) {
        let h = &mut self.health[slot];
        if let Some(t) = h.timer.take() {
            cx.cancel(t);
        }
        h.fastinter = false;
        h.next_at = cx.now() + after;
        h.timer = Some(cx.schedule_in(
            after,
            Ev::CheckStart {
                lb,
                slot: slot as u32,
            },
        ));
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
    /// Schedules the first check of each server, staggered as HAProxy's `start_checks()`
    /// (src/check.c) spreads them: server *i* of *n* at *i* × interval / *n*, the interval
    /// being `srv_getinter()` at start-up (`fastinter` while a server's health is `rise`,
    /// not yet full).
    pub(super) fn start_checks(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        if !l.cfg.check.enabled {
            return;
        }
        let n = l.servers.len() as u64;
        for slot in 0..l.servers.len() {
            let inter = l.next_interval(slot).as_nanos();
            let offset = SimDuration::from_nanos(inter * slot as u64 / n.max(1));
            l.schedule_check(cx, lb, slot, offset);
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

    /// A check finished (answer or timeout): update health (src/check.c
    /// `set_server_check_status()`; a passing check also clears the count of consecutive
    /// errors observed on traffic, "if observing is enabled"), change the server's state if
    /// it crossed `rise` or dropped to 0, and schedule the next check `srv_getinter()` after
    /// this one completed — with a forced `fastinter` still applying — then clear the forced
    /// flag (`process_chk_conn()`, `update_timer`).
    pub(crate) fn check_result(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: u32,
        seq: u32,
        ok: bool,
    ) {
        let l = &mut self.lbs[lb as usize];
        let observing = l.cfg.observe.is_some();
        let h = &mut l.health[slot as usize];
        if !h.checking || h.seq != seq {
            return;
        }
        h.checking = false;
        if let Some(t) = h.timer.take() {
            cx.cancel(t);
        }
        if ok && observing {
            h.errors = 0;
        }
        if let Some(call) = h.call.take() {
            // HAProxy closes the check's connection; a late answer finds it gone.
            self.calls.remove(call);
        }
        let l = &mut self.lbs[lb as usize];
        let h = &mut l.health[slot as usize];
        let (rise, fall) = (l.cfg.check.rise, l.cfg.check.fall);
        let (nh, up) = health_update(h.health, h.up, ok, rise, fall);
        self.apply_health(cx, lb, slot, nh, up);
        let l = &mut self.lbs[lb as usize];
        let next = l.next_interval(slot as usize);
        l.schedule_check(cx, lb, slot as usize, next);
    }

    /// Passive health (`observe`): an event seen on real traffic to `slot`, classified as
    /// HAProxy's `__health_adjust()` (src/check.c) does with its `analyze_statuses` table:
    /// it resets the count of consecutive errors, counts one, or is ignored at this layer.
    /// At `error-limit` errors, every `on-error` mode forces `fastinter`
    /// (`CHK_ST_FASTINTER`), then: `fastinter` nothing more; `fail-check` one failed check
    /// (health − 1; below `rise` the server is DOWN with health 0); `sudden-death` first
    /// lowers a health above `rise` to `rise + 1`, then fails a check, so a fully-up server
    /// survives the first trigger at health `rise` and the second marks it DOWN;
    /// `mark-down` sets health to `rise`, then fails a check: DOWN at once. The count
    /// restarts after each trigger, and with `fastinter` set the check task is woken to
    /// bring the next check forward ([`World::advance_check`]). Nothing happens when the
    /// server has no health check (`health_adjust()` needs the check task).
    pub(super) fn lb_observe(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        slot: u32,
        ev: Observed,
    ) {
        let l = &mut self.lbs[lb as usize];
        let Some(obs) = l.cfg.observe.as_ref() else {
            return;
        };
        if !l.cfg.check.enabled {
            return;
        }
        let (limit, on_error) = (obs.error_limit, obs.on_error);
        let h = &mut l.health[slot as usize];
        match ev.analysis(obs.layer) {
            Analysis::Ignore => return,
            Analysis::Good => {
                h.errors = 0;
                return;
            }
            Analysis::Error => h.errors += 1,
        }
        if h.errors < limit {
            return;
        }
        h.fastinter = true;
        let (rise, fall) = (l.cfg.check.rise, l.cfg.check.fall);
        if let Some((nh, up)) = on_error_health(on_error, h.health, h.up, rise, fall) {
            self.apply_health(cx, lb, slot, nh, up);
        }
        let l = &mut self.lbs[lb as usize];
        l.health[slot as usize].errors = 0;
        if l.cfg.check.fastinter.is_some() {
            self.advance_check(cx, lb, slot as usize);
        }
    }

    /// The check task woken "too early" by `on-error` (src/check.c `process_chk_conn()`):
    /// with no check running, the next one is moved to now + `srv_getinter()` only if that
    /// is not later than when it was due — a forced `fastinter` brings a check forward, never
    /// postpones it — and the forced flag is cleared when the timer is reprogrammed. A
    /// running check keeps the flag: its completion schedules the next at `fastinter`.
    fn advance_check(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        let l = &mut self.lbs[lb as usize];
        if l.health[slot].checking {
            return;
        }
        let interval = l.next_interval(slot);
        if cx.now() + interval <= l.health[slot].next_at {
            l.schedule_check(cx, lb, slot, interval);
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
        if up {
            self.lb_start_warmup(cx, lb, s);
        } else {
            self.lb_stop_warmup(cx, lb, s);
        }
        let l = &mut self.lbs[lb as usize];
        l.balancer.refresh(&l.views);
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
        // `srv_update_status()` serves the queue of a server coming UP before its
        // `last_change` moves, so its warm-up limit there still counts from its DOWN
        // transition.
        if up {
            self.lb_dequeue(cx, lb, s);
        } else {
            self.lb_redistribute(cx, lb, s);
            if self.lbs[lb as usize].servers[s].shutdown_sessions {
                self.lb_shutdown_sessions(cx, lb, slot);
            }
        }
        self.lbs[lb as usize].health[s].last_change_s = super::slowstart::whole_seconds(cx.now());
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

    #[test]
    fn on_error_modes_follow_health_adjust() {
        let (rise, fall) = (2, 3);
        let full = rise + fall - 1;
        // sudden-death: UP at `rise` after the first trigger, DOWN at the second.
        let first = on_error_health(OnError::SuddenDeath, full, true, rise, fall);
        assert_eq!(first, Some((rise, true)));
        assert_eq!(
            on_error_health(OnError::SuddenDeath, rise, true, rise, fall),
            Some((0, false))
        );
        // From health rise + 1 (one failed check) the first trigger already leaves `rise`.
        assert_eq!(
            on_error_health(OnError::SuddenDeath, rise + 1, true, rise, fall),
            Some((rise, true))
        );
        // fail-check: one failed check per trigger, `fall` triggers from full health.
        let (mut h, mut up) = (full, true);
        for i in 0..fall {
            (h, up) = on_error_health(OnError::FailCheck, h, up, rise, fall).unwrap();
            assert_eq!(up, i + 1 < fall);
        }
        // mark-down: DOWN at once, from any health, also with rise 1.
        for h in [0, 1, rise, full] {
            assert_eq!(
                on_error_health(OnError::MarkDown, h, h >= rise, rise, fall),
                Some((0, false))
            );
        }
        assert_eq!(
            on_error_health(OnError::MarkDown, 1, true, 1, 1),
            Some((0, false))
        );
        // fastinter touches no health; a DOWN server stays DOWN at 0.
        assert_eq!(
            on_error_health(OnError::Fastinter, full, true, rise, fall),
            None
        );
        assert_eq!(
            on_error_health(OnError::SuddenDeath, 0, false, rise, fall),
            Some((0, false))
        );
    }

    #[test]
    fn observe_layers_classify_like_analyze_statuses() {
        use Analysis::*;
        use Observed::*;
        let l4 = [L4Ok, L4Err, HttpOk, HttpErr].map(|e| e.analysis(ObserveLayer::Layer4));
        assert_eq!(l4, [Good, Error, Ignore, Ignore]);
        let l7 = [L4Ok, L4Err, HttpOk, HttpErr].map(|e| e.analysis(ObserveLayer::Layer7));
        assert_eq!(l7, [Ignore, Error, Good, Error]);
    }
}
