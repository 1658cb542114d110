//! Fault injection: crashes (for a while or for good), random failures from time-to-failure
//! and time-to-repair distributions, gray failures (slow, or answering errors), network
//! partitions and degraded links, load spikes, and operations (set a weight, drain a server).
//!
//! Work in flight on a crashed component is lost: with the host up (`process`) the kernel
//! resets every connection and callers fail at once; with the host gone (`host`) callers
//! wait for their own timeouts. Each occurrence of a fault is recorded with its injection and
//! recovery times; the report adds when it was detected and what it cost.

use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, SimDuration, SimRng, SimTime};

use crate::scenario::CrashMode;
use crate::world::{Ev, Node, World};

/// A fault, resolved to nodes.
#[derive(Debug)]
pub(crate) enum FaultKind {
    Crash {
        node: Node,
        mode: CrashMode,
        duration: Option<SimDuration>,
    },
    Random {
        node: Node,
        mode: CrashMode,
        ttf: Dist,
        ttr: Dist,
    },
    Degrade {
        node: Node,
        duration: Option<SimDuration>,
        slowdown: f64,
        error_rate: f64,
    },
    Partition {
        a: Node,
        b: Node,
        duration: Option<SimDuration>,
    },
    LinkDegrade {
        a: Node,
        b: Node,
        duration: Option<SimDuration>,
        extra: SimDuration,
        loss: f64,
    },
    Spike {
        duration: SimDuration,
    },
    SetWeight {
        lb: u32,
        node: Node,
        weight: u32,
    },
    Drain {
        node: Node,
        duration: Option<SimDuration>,
    },
}

/// One occurrence of a fault.
#[derive(Clone, Debug)]
pub(crate) struct Occurrence {
    pub fault: u32,
    pub injected_at: SimTime,
    pub recovered_at: Option<SimTime>,
}

/// A fault and its occurrences.
pub(crate) struct FaultState {
    pub kind: FaultKind,
    pub label: String,
    pub target: String,
    pub first_at: Option<SimTime>,
    pub rng: SimRng,
    pub active: bool,
    /// Whether this fault's start actually took its node down (not already down).
    pub owns_down: bool,
}

impl FaultKind {
    /// The node a fault acts on, if one.
    pub(crate) fn node(&self) -> Option<Node> {
        match self {
            FaultKind::Crash { node, .. }
            | FaultKind::Random { node, .. }
            | FaultKind::Degrade { node, .. }
            | FaultKind::Drain { node, .. }
            | FaultKind::SetWeight { node, .. } => Some(*node),
            _ => None,
        }
    }
}

impl World {
    /// Schedules every fault's first start.
    pub(crate) fn start_faults(&mut self, cx: &mut Context<'_, Ev>) {
        for i in 0..self.faults.len() {
            let f = &mut self.faults[i];
            let at = match &f.kind {
                FaultKind::Random { ttf, .. } => {
                    Some(SimTime::ZERO.saturating_add(ttf.sample(&mut f.rng)))
                }
                _ => f.first_at,
            };
            if let Some(at) = at.filter(|t| *t < self.end) {
                cx.schedule_at(
                    at,
                    Ev::Fault {
                        idx: i as u32,
                        start: true,
                    },
                );
            }
        }
    }

    pub(crate) fn on_fault(&mut self, cx: &mut Context<'_, Ev>, idx: u32, start: bool) {
        let now = cx.now();
        let i = idx as usize;
        if self.faults[i].active == start {
            return;
        }
        self.faults[i].active = start;
        if start {
            self.occurrences.push(Occurrence {
                fault: idx,
                injected_at: now,
                recovered_at: None,
            });
        } else if let Some(o) = self
            .occurrences
            .iter_mut()
            .rev()
            .find(|o| o.fault == idx && o.recovered_at.is_none())
        {
            o.recovered_at = Some(now);
        }
        if let Some(obs) = self.observer.as_mut() {
            let f = &self.faults[i];
            obs.state_changed(
                now,
                &f.target,
                &format!("{} {}", f.label, if start { "starts" } else { "ends" }),
            );
        }
        let end_after = |d: Option<SimDuration>| d;
        let mut schedule_end: Option<SimDuration> = None;
        match &self.faults[i].kind {
            FaultKind::Crash {
                node,
                mode,
                duration,
            } => {
                let (node, mode, duration) = (*node, *mode, *duration);
                if start {
                    let took = self.set_down(cx, node, mode);
                    self.faults[i].owns_down = took;
                    schedule_end = end_after(duration);
                } else if self.faults[i].owns_down {
                    self.set_up(cx, node);
                }
            }
            FaultKind::Random { node, mode, .. } => {
                let (node, mode) = (*node, *mode);
                let f = &mut self.faults[i];
                let FaultKind::Random { ttf, ttr, .. } = &f.kind else {
                    unreachable!()
                };
                if start {
                    let repair = ttr.sample(&mut f.rng);
                    schedule_end = Some(repair);
                    let took = self.set_down(cx, node, mode);
                    self.faults[i].owns_down = took;
                } else {
                    let next = ttf.sample(&mut f.rng);
                    if self.faults[i].owns_down {
                        self.set_up(cx, node);
                    }
                    if now.saturating_add(next) < self.end {
                        cx.schedule_in(next, Ev::Fault { idx, start: true });
                    }
                }
            }
            FaultKind::Degrade {
                node,
                duration,
                slowdown,
                error_rate,
            } => {
                let (node, duration, slowdown, error_rate) =
                    (*node, *duration, *slowdown, *error_rate);
                if start {
                    self.net.set_degraded(node, slowdown, error_rate);
                    schedule_end = duration;
                } else {
                    self.net.set_degraded(node, 1.0, 0.0);
                }
            }
            FaultKind::Partition { a, b, duration } => {
                let (a, b, duration) = (*a, *b, *duration);
                self.net.partition(a, b, start);
                if start {
                    schedule_end = duration;
                }
            }
            FaultKind::LinkDegrade {
                a,
                b,
                duration,
                extra,
                loss,
            } => {
                let (a, b, duration, extra, loss) = (*a, *b, *duration, *extra, *loss);
                self.net.degrade(a, b, extra, loss, start);
                if start {
                    schedule_end = duration;
                }
            }
            FaultKind::Spike { duration } => {
                // The rate curve already holds the spike; this only marks it in the report.
                if start {
                    schedule_end = Some(*duration);
                }
            }
            FaultKind::SetWeight { lb, node, weight } => {
                let (lb, node, weight) = (*lb, *node, *weight);
                if start {
                    self.lb_refresh_server(cx, node, Some((lb, weight)));
                    // An operation has no "end": record it as instantaneous.
                    if let Some(o) = self.occurrences.last_mut() {
                        o.recovered_at = Some(now);
                    }
                }
            }
            FaultKind::Drain { node, duration } => {
                let (node, duration) = (*node, *duration);
                self.net.set_drained(node, start);
                self.lb_refresh_server(cx, node, None);
                if start {
                    schedule_end = duration;
                }
            }
        }
        if let Some(d) = schedule_end
            && now.saturating_add(d) < self.end
        {
            cx.schedule_in(d, Ev::Fault { idx, start: false });
        }
    }

    /// Takes a node down; returns false if it was already down.
    fn set_down(&mut self, cx: &mut Context<'_, Ev>, node: Node, mode: CrashMode) -> bool {
        if self.state(node).down.is_some() {
            return false;
        }
        self.net.set_down(node, Some(mode));
        match node {
            Node::Lb(i) => {
                self.lb_set_down(cx, i, true);
                self.pair_member_changed(cx, node, true, mode == CrashMode::Host);
            }
            Node::Web(_) | Node::App(_) => self.server_set_down(cx, node),
            Node::Db(i) => self.db_set_down(cx, i),
            Node::Clients => {}
        }
        true
    }

    fn set_up(&mut self, cx: &mut Context<'_, Ev>, node: Node) {
        if self.state(node).down.is_none() {
            return;
        }
        self.net.set_down(node, None);
        match node {
            Node::Lb(i) => {
                self.lb_set_down(cx, i, false);
                self.pair_member_changed(cx, node, false, false);
            }
            Node::Db(i) => self.db_set_up(cx, i),
            _ => {}
        }
    }
}
