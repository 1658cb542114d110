//! Nagios: an active service check (`check_tcp`) of each component, soft and hard states.
//!
//! Each component is checked every `check_interval` at its own phase. A failed check
//! puts the service in a SOFT problem state and re-checks it every `retry_interval`; the
//! `max_check_attempts`-th consecutive failure makes the state HARD, which notifies at once
//! (nagioscore docs, "State Types": notifications are sent on HARD state changes). Then it
//! is checked every `check_interval` again. A check of a vanished host fails only at its
//! timeout; of a dead process, at once (connection refused).

use infrasim_engine::{Context, RngStreams, SimDuration, SimTime};

use super::{AlertRecord, Reach, uniform_below};
use crate::model::World;
use crate::model::vocabulary::{Ev, Node, OpsEv};
use crate::scenario::{Nagios, Names};

struct Check {
    node: Node,
    phase: SimDuration,
    /// Consecutive failed checks.
    attempts: u32,
    /// In a HARD problem state.
    hard: bool,
    /// When the first failed check of this problem ran.
    first_failed: SimTime,
    /// The alert record of the HARD state.
    log: usize,
}

pub(super) struct NagiosState {
    check_interval: SimDuration,
    retry_interval: SimDuration,
    max_attempts: u32,
    timeout: SimDuration,
    checks: Vec<Check>,
}

impl NagiosState {
    pub(super) fn new(
        n: &Nagios,
        targets: &[Node],
        names: &Names,
        streams: &RngStreams,
    ) -> NagiosState {
        let checks = targets
            .iter()
            .map(|&node| {
                let mut rng = streams.stream(&format!("monitoring/check/{}", names.name(node)));
                Check {
                    node,
                    phase: uniform_below(&mut rng, n.check_interval),
                    attempts: 0,
                    hard: false,
                    first_failed: SimTime::ZERO,
                    log: 0,
                }
            })
            .collect();
        NagiosState {
            check_interval: n.check_interval,
            retry_interval: n.retry_interval,
            max_attempts: n.max_check_attempts,
            timeout: n.check_timeout,
            checks,
        }
    }

    pub(super) fn start(&self, cx: &mut Context<'_, Ev>) {
        for (i, c) in self.checks.iter().enumerate() {
            cx.schedule_in(c.phase, Ev::Ops(OpsEv::Check { target: i as u32 }));
        }
    }

    /// A restarted Nagios: every service starts OK again (retained state aside, see
    /// models.md).
    pub(super) fn restart(&mut self) {
        for c in &mut self.checks {
            c.attempts = 0;
            c.hard = false;
        }
    }
}

impl World {
    /// Nagios runs a check of target `target`.
    pub(super) fn nagios_check(&mut self, cx: &mut Context<'_, Ev>, target: u32) {
        let Some(ops) = self.ops.as_deref() else {
            return;
        };
        let Some(n) = ops.nagios.as_ref() else {
            return;
        };
        if ops.down {
            let next = n.check_interval;
            if cx.now().saturating_add(next) < self.end {
                cx.schedule_in(next, Ev::Ops(OpsEv::Check { target }));
            }
            return;
        }
        let timeout = n.timeout;
        match self.reach(n.checks[target as usize].node) {
            Reach::Up => self.nagios_result(cx, target, true),
            Reach::Refused => self.nagios_result(cx, target, false),
            Reach::Blackholed => {
                if cx.now().saturating_add(timeout) < self.end {
                    cx.schedule_in(timeout, Ev::Ops(OpsEv::CheckTimedOut { target }));
                }
            }
        }
    }

    /// A check's result: SOFT and HARD states, the notification, the next check.
    pub(super) fn nagios_result(&mut self, cx: &mut Context<'_, Ev>, target: u32, ok: bool) {
        let now = cx.now();
        let end = self.end;
        let Some(ops) = self.ops.as_deref_mut() else {
            return;
        };
        let Some(n) = ops.nagios.as_mut() else {
            return;
        };
        let max = n.max_attempts;
        let c = &mut n.checks[target as usize];
        let mut page = None;
        let next = if ok {
            if c.hard {
                // Recovery: the HARD problem state ends.
                ops.log.alerts[c.log].resolved_at = Some(now);
            }
            c.attempts = 0;
            c.hard = false;
            n.check_interval
        } else {
            if c.attempts == 0 {
                c.first_failed = now;
            }
            c.attempts = c.attempts.saturating_add(1);
            if !c.hard && c.attempts >= max {
                c.hard = true;
                c.log = ops.log.alerts.len();
                ops.log.alerts.push(AlertRecord {
                    name: "NagiosServiceCritical",
                    about: Some(c.node),
                    pending_at: c.first_failed,
                    fired_at: now,
                    notified_at: Some(now),
                    resolved_at: None,
                });
                page = Some(c.node);
            }
            if c.hard {
                n.check_interval
            } else {
                n.retry_interval
            }
        };
        if now.saturating_add(next) < end {
            cx.schedule_in(next, Ev::Ops(OpsEv::Check { target }));
        }
        if let Some(node) = page {
            self.notify(
                cx,
                super::prometheus::About::Node(node),
                (now, "NagiosServiceCritical"),
            );
        }
    }
}
