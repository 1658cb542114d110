//! Fault injection: crashes (for a while or for good), random failures from time-to-failure
//! and time-to-repair distributions, gray failures (slow, or answering errors), network
//! partitions and degraded links, load spikes, and operations (set a weight, drain a server).
//!
//! Work in flight on a crashed component is lost: with the host up (`process`) the kernel
//! resets every connection and callers fail at once; with the host gone (`host`) callers
//! wait for their own timeouts. Each occurrence of a fault is recorded with its injection and
//! recovery times; the report adds when it was detected and what it cost.

use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime};

use crate::model::World;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario::{CrashMode, Fault, FaultTarget};

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
        /// None: repaired after detection.
        ttr: Option<Dist>,
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
    /// A firewall crashes: nothing crosses it until it comes back (`model::firewall`).
    FirewallCrash {
        fw: u32,
        duration: Option<SimDuration>,
    },
}

/// One occurrence of a fault.
#[derive(Clone, Debug)]
pub(crate) struct Occurrence {
    pub fault: u32,
    pub injected_at: SimTime,
    pub recovered_at: Option<SimTime>,
    /// What the monitoring made of it (a `monitoring` section only).
    pub noticed: Noticed,
}

/// Who noticed a fault occurrence, and when its repair started (see `model::monitoring`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Noticed {
    /// The alert that led a person to it: when it fired (or users complained) and its name.
    pub alert: Option<(SimTime, &'static str)>,
    /// When a person was paged about it.
    pub notified_at: Option<SimTime>,
    /// When that person acknowledged the page (and started repairing it, if it needs them).
    pub acked_at: Option<SimTime>,
    /// When the repair started (repairs after detection only).
    pub repair_started_at: Option<SimTime>,
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
    /// Repair after detection: how long a person takes to fix it, once they acknowledged.
    pub repair: Option<Dist>,
    /// The repair times' stream (`repair/<kind>/<target>#k`: apart from the failure times,
    /// so that a design with monitoring fails at the same times as one without).
    pub repair_rng: SimRng,
}

impl FaultState {
    /// A fault of the scenario, acting on its resolved `target`. Its random stream (random
    /// failures' times) is keyed by what the fault is — its kind and target — and `ordinal`,
    /// its rank among the scenario's faults of that kind on that target: inserting or
    /// reordering other faults leaves its failure and repair times unchanged.
    pub(crate) fn new(
        spec: &Fault,
        target: FaultTarget,
        ordinal: u32,
        streams: &RngStreams,
    ) -> Self {
        let (label, target_name) = describe(spec);
        FaultState {
            kind: FaultKind::of(spec, target),
            rng: streams.stream(&format!("{}#{ordinal}", stream_key(spec))),
            label,
            target: target_name,
            first_at: spec.starts_at().map(|d| SimTime::ZERO.saturating_add(d)),
            active: false,
            owns_down: false,
            repair: spec.repair().map(|r| r.time.validated()),
            repair_rng: streams.stream(&format!(
                "repair/{}/{}#{ordinal}",
                spec.kind(),
                describe(spec).1
            )),
        }
    }
}

/// The key of a fault's random stream before its ordinal: `fault/<kind>/<target>`.
pub(crate) fn stream_key(spec: &Fault) -> String {
    format!("fault/{}/{}", spec.kind(), describe(spec).1)
}

impl FaultKind {
    /// The fault a spec describes, acting on its resolved `target`.
    fn of(spec: &Fault, target: FaultTarget) -> FaultKind {
        let node = match target {
            FaultTarget::Node(n) | FaultTarget::Backend { server: n, .. } => n,
            FaultTarget::Link(a, _) => a,
            FaultTarget::Clients | FaultTarget::Firewall(_) => Node::Clients,
        };
        if let (FaultTarget::Firewall(fw), Fault::Crash { duration, .. }) = (target, spec) {
            return FaultKind::FirewallCrash {
                fw,
                duration: *duration,
            };
        }
        let (a, b) = match target {
            FaultTarget::Link(a, b) => (a, b),
            _ => (node, node),
        };
        match *spec {
            Fault::Crash { duration, mode, .. } => FaultKind::Crash {
                node,
                mode,
                duration,
            },
            Fault::Random {
                ref ttf,
                ref ttr,
                mode,
                ..
            } => FaultKind::Random {
                node,
                mode,
                ttf: ttf.validated(),
                ttr: ttr.as_ref().map(|d| d.validated()),
            },
            Fault::Degrade {
                duration,
                slowdown,
                error_rate,
                ..
            } => FaultKind::Degrade {
                node,
                duration,
                slowdown,
                error_rate,
            },
            Fault::Partition { duration, .. } => FaultKind::Partition { a, b, duration },
            Fault::LinkDegrade {
                duration,
                extra_latency,
                loss,
                ..
            } => FaultKind::LinkDegrade {
                a,
                b,
                duration,
                extra: extra_latency,
                loss,
            },
            Fault::Spike { duration, .. } => FaultKind::Spike { duration },
            Fault::SetWeight { weight, .. } => FaultKind::SetWeight {
                lb: match target {
                    FaultTarget::Backend { lb, .. } => lb,
                    _ => 0,
                },
                node,
                weight,
            },
            Fault::Drain { duration, .. } => FaultKind::Drain { node, duration },
        }
    }

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

    /// A fault starts or ends: its occurrence is recorded, then it acts.
    pub(crate) fn on_fault(&mut self, cx: &mut Context<'_, Ev>, idx: u32, start: bool) {
        let now = cx.now();
        let i = idx as usize;
        if self.faults[i].active == start {
            return;
        }
        self.faults[i].active = start;
        self.record_occurrence(now, idx, start);
        let ends_after = if start {
            self.fault_starts(cx, i)
        } else {
            self.fault_ends(cx, i);
            None
        };
        if let Some(d) = ends_after
            && now.saturating_add(d) < self.end
        {
            cx.schedule_in(d, Ev::Fault { idx, start: false });
        }
    }

    /// Opens (at a start) or closes (at an end) the fault's occurrence, and tells the observer.
    fn record_occurrence(&mut self, now: SimTime, idx: u32, start: bool) {
        if start {
            self.occurrences.push(Occurrence {
                fault: idx,
                injected_at: now,
                recovered_at: None,
                noticed: Noticed::default(),
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
            let f = &self.faults[idx as usize];
            obs.state_changed(
                now,
                &f.target,
                &format!("{} {}", f.label, if start { "starts" } else { "ends" }),
            );
        }
    }

    /// Fault `i` acts; returns how long it lasts, if it ends by itself.
    fn fault_starts(&mut self, cx: &mut Context<'_, Ev>, i: usize) -> Option<SimDuration> {
        let f = &mut self.faults[i];
        match &mut f.kind {
            &mut FaultKind::Crash {
                node,
                mode,
                duration,
            } => {
                self.faults[i].owns_down = self.crash(cx, node, mode);
                duration
            }
            FaultKind::Random {
                node, mode, ttr, ..
            } => {
                let (node, mode) = (*node, *mode);
                let repair = ttr.as_ref().map(|d| d.sample(&mut f.rng));
                self.faults[i].owns_down = self.crash(cx, node, mode);
                repair
            }
            &mut FaultKind::Degrade {
                node,
                duration,
                slowdown,
                error_rate,
            } => {
                self.net.set_degraded(node, slowdown, error_rate);
                duration
            }
            &mut FaultKind::Partition { a, b, duration } => {
                self.net.partition(a, b, true);
                duration
            }
            &mut FaultKind::LinkDegrade {
                a,
                b,
                duration,
                extra,
                loss,
            } => {
                self.net.degrade(a, b, extra, loss, true);
                duration
            }
            // The rate curve already holds the spike; this only marks it in the report.
            &mut FaultKind::Spike { duration } => Some(duration),
            &mut FaultKind::SetWeight { lb, node, weight } => {
                self.server_admin_changed(cx, node, Some((lb, weight)));
                // An operation has no "end": record it as instantaneous.
                if let Some(o) = self.occurrences.last_mut() {
                    o.recovered_at = Some(cx.now());
                }
                None
            }
            &mut FaultKind::Drain { node, duration } => {
                self.net.set_drained(node, true);
                self.server_admin_changed(cx, node, None);
                duration
            }
            &mut FaultKind::FirewallCrash { fw, duration } => {
                if let Some(f) = self.net.firewalls.as_deref_mut() {
                    f.set_down(fw, true);
                }
                duration
            }
        }
    }

    /// Fault `i` ends: what it did is undone (a crashed component restarts, unless another
    /// fault had already taken it down); a random failure draws its next failure.
    fn fault_ends(&mut self, cx: &mut Context<'_, Ev>, i: usize) {
        let f = &mut self.faults[i];
        let owns_down = f.owns_down;
        match &mut f.kind {
            &mut FaultKind::Crash { node, .. } => {
                if owns_down {
                    self.restart(cx, node);
                }
            }
            FaultKind::Random { node, ttf, .. } => {
                let node = *node;
                let next = ttf.sample(&mut f.rng);
                if owns_down {
                    self.restart(cx, node);
                }
                if cx.now().saturating_add(next) < self.end {
                    cx.schedule_in(
                        next,
                        Ev::Fault {
                            idx: i as u32,
                            start: true,
                        },
                    );
                }
            }
            &mut FaultKind::Degrade { node, .. } => self.net.set_degraded(node, 1.0, 0.0),
            &mut FaultKind::Partition { a, b, .. } => self.net.partition(a, b, false),
            &mut FaultKind::LinkDegrade {
                a, b, extra, loss, ..
            } => self.net.degrade(a, b, extra, loss, false),
            FaultKind::Spike { .. } | FaultKind::SetWeight { .. } => {}
            &mut FaultKind::Drain { node, .. } => {
                self.net.set_drained(node, false);
                self.server_admin_changed(cx, node, None);
            }
            &mut FaultKind::FirewallCrash { fw, .. } => {
                if let Some(f) = self.net.firewalls.as_deref_mut() {
                    f.set_down(fw, false);
                }
            }
        }
    }
}

/// A fault's label and the name of its target, as reports show them.
fn describe(spec: &Fault) -> (String, String) {
    match spec {
        Fault::Crash { target, mode, .. } => {
            (format!("crash ({})", mode_name(*mode)), target.clone())
        }
        Fault::Random { target, mode, .. } => (
            format!("random failure ({})", mode_name(*mode)),
            target.clone(),
        ),
        Fault::Degrade {
            target,
            slowdown,
            error_rate,
            ..
        } => (
            format!("degrade (×{slowdown} service, {error_rate} errors)"),
            target.clone(),
        ),
        Fault::Partition { a, b, .. } => ("partition".to_string(), format!("{a} | {b}")),
        Fault::LinkDegrade {
            a,
            b,
            extra_latency,
            loss,
            ..
        } => (
            format!("link degrade (+{extra_latency}, {loss} loss)"),
            format!("{a} - {b}"),
        ),
        Fault::Spike { factor, .. } => (format!("load spike ×{factor}"), "clients".to_string()),
        Fault::SetWeight {
            lb, server, weight, ..
        } => (format!("set weight {weight} on {lb}"), server.clone()),
        Fault::Drain { server, .. } => ("drain".to_string(), server.clone()),
    }
}

fn mode_name(m: CrashMode) -> &'static str {
    match m {
        CrashMode::Process => "process",
        CrashMode::Host => "host",
    }
}
