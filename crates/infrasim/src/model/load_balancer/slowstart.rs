//! HAProxy's `slowstart` (HAProxy configuration manual, `slowstart`): a server that comes
//! back UP does not take its full share at once. It is `STARTING` for `slowstart` seconds,
//! during which
//!
//! * its effective weight grows in steps: at the UP transition `weight × 1/16`, then, at
//!   every tick of its warm-up task, `weight × w/16` with w = (16·e + S) / S, e the whole
//!   seconds since it came UP and S the slowstart in whole seconds (src/server.c
//!   `server_recalc_eweight()`) — dynamic algorithms only (`BE_LB_PROP_DYN`); `static-rr`
//!   and map-based hashing keep the full weight;
//! * its connection limit grows: max(1, `maxconn` × ⌊100·e/S⌋ / 100), evaluated whenever it
//!   is used, at one-second resolution (src/queue.c `srv_dynamic_maxconn()`);
//! * the warm-up task runs every max(1000, S/20) milliseconds — S being kept in seconds,
//!   that is every second below 20 000 s of slowstart, not the "1/20th of the slowstart
//!   interval" its comment intends (src/server.c `server_warmup()`) — recomputes the
//!   weight and serves the server's queue; at the first tick with e ≥ S the server is
//!   `RUNNING` at full weight.
//!
//! The elapsed time counts from HAProxy's `last_change`, the whole second of the server's
//! last state change. At the UP transition the server's queue is served before
//! `last_change` moves, so its connection limit there still counts from the DOWN transition
//! (full, if it was down for at least S). At start-up and after a restart servers are
//! `RUNNING`: slowstart applies only to a server coming back UP.

use infrasim_engine::{Context, SimDuration, SimTime};

use super::LoadBalancer;
use super::balance::BE_WEIGHT_SCALE;
use crate::model::World;
use crate::model::vocabulary::Ev;

/// `server_recalc_eweight()`'s weight step w of a server `STARTING` for `elapsed_s` whole
/// seconds of a `slowstart_s`-second slowstart: (16·e + S) / S, at most 16.
pub(crate) fn warmup_step(elapsed_s: u64, slowstart_s: u64) -> u32 {
    let scale = u64::from(BE_WEIGHT_SCALE);
    ((scale * elapsed_s + slowstart_s) / slowstart_s.max(1)).min(scale) as u32
}

/// `srv_dynamic_maxconn()` of a `STARTING` server with this `maxconn` (> 0): max(1,
/// `maxconn` × ⌊100·e/S⌋ / 100) while e < S, `maxconn` after.
pub(crate) fn warmup_maxconn(maxconn: u32, elapsed_s: u64, slowstart_s: u64) -> u32 {
    if elapsed_s >= slowstart_s {
        return maxconn;
    }
    let ratio = 100 * elapsed_s / slowstart_s;
    (u64::from(maxconn) * ratio / 100).max(1) as u32
}

/// The period of the warm-up task: `MAX(1000, s->slowstart / 20)` milliseconds, with
/// `slowstart` in seconds.
fn warmup_period(slowstart_s: u64) -> SimDuration {
    SimDuration::from_millis((slowstart_s / 20).max(1000))
}

/// Whole seconds of simulated time, HAProxy's `ns_to_sec(now_ns)`.
pub(super) fn whole_seconds(t: SimTime) -> u64 {
    t.as_nanos() / 1_000_000_000
}

impl LoadBalancer {
    /// Whether server `slot` is warming up (HAProxy state `STARTING`).
    pub(super) fn starting(&self, slot: usize) -> bool {
        self.health[slot].warmup.is_some()
    }

    /// Brings the connection limits of warming servers to `now` (`srv_dynamic_maxconn()` is
    /// evaluated whenever a limit is used).
    pub(super) fn sync_warmup_maxconn(&mut self, now: SimTime) {
        if self.health.iter().all(|h| h.warmup.is_none()) {
            return;
        }
        let now_s = whole_seconds(now);
        for s in 0..self.servers.len() {
            let b = &self.servers[s];
            if self.health[s].warmup.is_none() || b.maxconn == 0 {
                continue;
            }
            let since = self.health[s].last_change_s;
            self.views[s].maxconn = if now_s < since {
                b.maxconn
            } else {
                warmup_maxconn(b.maxconn, now_s - since, b.slowstart_s)
            };
        }
    }
}

impl World {
    /// Server `slot` comes UP: with a `slowstart` it is `STARTING`, at weight step 1 under a
    /// dynamic algorithm (`server_recalc_eweight()` at the transition), its warm-up task due
    /// in one period (`_srv_update_status_op()`).
    pub(super) fn lb_start_warmup(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        let l = &mut self.lbs[lb as usize];
        let slowstart_s = l.servers[slot].slowstart_s;
        if slowstart_s == 0 {
            return;
        }
        if l.balancer.algorithm().is_dynamic() {
            l.views[slot].warmup = 1;
        }
        let t = cx.schedule_in(
            warmup_period(slowstart_s),
            Ev::LbWarmup {
                lb,
                slot: slot as u32,
            },
        );
        l.health[slot].warmup = Some(t);
    }

    /// Server `slot` is no longer warming up (marked DOWN, or the LB crashed): full weight
    /// and limit, no warm-up task.
    pub(super) fn lb_stop_warmup(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: usize) {
        let l = &mut self.lbs[lb as usize];
        if let Some(t) = l.health[slot].warmup.take() {
            cx.cancel(t);
        }
        l.views[slot].warmup = 0;
        l.views[slot].maxconn = l.servers[slot].maxconn;
    }

    /// A tick of a warming server's warm-up task (src/server.c `server_warmup()`): the weight
    /// step from the whole seconds since it came UP; at the end of the slowstart the server
    /// is `RUNNING` (a state change: `last_change` moves); then its queue is served and the
    /// next tick set while it still warms up.
    pub(crate) fn lb_warmup(&mut self, cx: &mut Context<'_, Ev>, lb: u32, slot: u32) {
        let s = slot as usize;
        let now_s = whole_seconds(cx.now());
        let l = &mut self.lbs[lb as usize];
        if l.health[s].warmup.take().is_none() {
            return;
        }
        let slowstart_s = l.servers[s].slowstart_s;
        let since = l.health[s].last_change_s;
        if now_s < since || now_s >= since + slowstart_s {
            l.health[s].last_change_s = now_s;
            l.views[s].warmup = 0;
            l.views[s].maxconn = l.servers[s].maxconn;
        } else {
            if l.balancer.algorithm().is_dynamic() {
                l.views[s].warmup = warmup_step(now_s - since, slowstart_s);
            }
            let t = cx.schedule_in(warmup_period(slowstart_s), Ev::LbWarmup { lb, slot });
            l.health[s].warmup = Some(t);
        }
        l.balancer.refresh(&l.views);
        self.lb_dequeue(cx, lb, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_ramps_in_sixteenths_from_one() {
        // 16 s of slowstart: one more sixteenth each second, full after 15 s.
        let steps: Vec<u32> = (0..=16).map(|e| warmup_step(e, 16)).collect();
        assert_eq!(steps, (1..=16).chain([16]).collect::<Vec<_>>());
        // 60 s: w = 1 + ⌊16·e/60⌋, a step every 3.75 s.
        assert_eq!(warmup_step(0, 60), 1);
        assert_eq!(warmup_step(3, 60), 1);
        assert_eq!(warmup_step(4, 60), 2);
        assert_eq!(warmup_step(30, 60), 9);
        assert_eq!(warmup_step(59, 60), 16);
        // 1 s: full at the first tick.
        assert_eq!(warmup_step(1, 1), 16);
    }

    #[test]
    fn the_connection_limit_ramps_by_whole_percents() {
        // maxconn 10 over 10 s: e connections after e seconds, at least one.
        let limits: Vec<u32> = (0..=10).map(|e| warmup_maxconn(10, e, 10)).collect();
        assert_eq!(limits, vec![1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        // maxconn 100 over 60 s: ⌊100·e/60⌋ %, 1 at first.
        assert_eq!(warmup_maxconn(100, 0, 60), 1);
        assert_eq!(warmup_maxconn(100, 30, 60), 50);
        assert_eq!(warmup_maxconn(100, 59, 60), 98);
    }

    #[test]
    fn the_warmup_task_runs_every_second_below_20000_s() {
        assert_eq!(warmup_period(60), SimDuration::from_secs(1));
        assert_eq!(warmup_period(19_999), SimDuration::from_secs(1));
        assert_eq!(warmup_period(40_000), SimDuration::from_secs(2));
    }
}
