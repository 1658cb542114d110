//! The faults: what each acts on (resolved), when it starts (inside the run), and its
//! parameters.

use infrasim_engine::SimDuration;

use super::{Kind, Named, Validator};
use crate::scenario::resolve::{FaultTarget, Node};
use crate::scenario::{Arrival, Fault, Repair, Scenario};

/// What a crash, a random failure or a drain may target.
const COMPONENTS: [Kind; 4] = [Kind::Lb, Kind::Web, Kind::App, Kind::DbNode];
const COMPONENTS_WHAT: &str = "a load balancer, web server, app server or database node";

impl Validator {
    /// Every fault, its target resolved.
    pub(super) fn faults(&mut self, s: &Scenario) {
        let horizon = s.warmup.saturating_add(s.duration);
        for (i, f) in s.faults.iter().enumerate() {
            let p = format!("faults[{i}]");
            let target = self.fault(s, &p, f, horizon);
            self.fault_targets.push(target);
        }
    }

    /// A fault's own checks, in the order their problems are listed; what it acts on.
    fn fault(
        &mut self,
        s: &Scenario,
        p: &str,
        f: &Fault,
        horizon: SimDuration,
    ) -> Option<FaultTarget> {
        let start = |v: &mut Self| {
            if let Some(at) = f.starts_at() {
                v.at_in_run(p, &format!("{}.at", f.kind()), at, horizon);
            }
        };
        match f {
            Fault::Crash {
                target,
                duration,
                repair,
                ..
            } => {
                if let Some(&Named::Firewall(fw)) = self.names.get(target.as_str()) {
                    start(self);
                    if let Some(d) = duration {
                        self.positive(format!("{p}.crash.duration"), *d);
                    }
                    if repair.is_some() {
                        self.err(
                            format!("{p}.crash.repair"),
                            "a repair after detection of a firewall",
                            "a firewall crash with a `duration` (or none: for good)",
                        );
                    }
                    return Some(FaultTarget::Firewall(fw));
                }
                let node = self.component(format!("{p}.crash.target"), target);
                start(self);
                if let Some(d) = duration {
                    self.positive(format!("{p}.crash.duration"), *d);
                }
                self.repair(
                    s,
                    &format!("{p}.crash"),
                    repair.as_ref(),
                    duration.is_some(),
                );
                node.map(FaultTarget::Node)
            }
            Fault::Random {
                target,
                ttf,
                ttr,
                repair,
                ..
            } => {
                let node = self.component(format!("{p}.random.target"), target);
                self.dist(format!("{p}.random.ttf"), ttf);
                if ttf.build().is_ok_and(|d| d.mean() < 1e-3) {
                    self.err(
                        format!("{p}.random.ttf"),
                        serde_json::to_string(ttf).unwrap_or_else(|_| format!("{ttf:?}")),
                        "a mean time to failure of at least 1ms",
                    );
                }
                match (ttr, repair) {
                    (Some(ttr), None) => self.dist(format!("{p}.random.ttr"), ttr),
                    (None, Some(_)) => {}
                    (Some(_), Some(_)) => self.err(
                        format!("{p}.random.repair"),
                        "both `ttr` and `repair`",
                        "one of `ttr` (a repair on its own timer) and `repair`",
                    ),
                    (None, None) => self.err(
                        format!("{p}.random"),
                        "neither `ttr` nor `repair`",
                        "a time to repair `ttr`, or `repair: {\"after\": \"detection\", …}`",
                    ),
                }
                self.repair(s, &format!("{p}.random"), repair.as_ref(), false);
                node.map(FaultTarget::Node)
            }
            Fault::Degrade {
                target,
                slowdown,
                error_rate,
                duration,
                repair,
                ..
            } => {
                self.repair(
                    s,
                    &format!("{p}.degrade"),
                    repair.as_ref(),
                    duration.is_some(),
                );
                let node = self.expect_node(
                    format!("{p}.degrade.target"),
                    target,
                    &[Kind::Web, Kind::App, Kind::DbNode],
                    "a web server, app server or database node",
                );
                start(self);
                if !(slowdown.is_finite() && *slowdown > 0.0 && *slowdown <= 1e6) {
                    self.err(
                        format!("{p}.degrade.slowdown"),
                        slowdown,
                        "a factor greater than 0 (1 = normal speed)",
                    );
                }
                self.probability(format!("{p}.degrade.error_rate"), *error_rate);
                node.map(FaultTarget::Node)
            }
            Fault::Partition { a, b, .. } => {
                let target = self.partition(p, a, b);
                start(self);
                target
            }
            Fault::LinkDegrade { a, b, loss, .. } => {
                let a = self.endpoint(format!("{p}.link_degrade.a"), a);
                let b = self.endpoint(format!("{p}.link_degrade.b"), b);
                self.probability(format!("{p}.link_degrade.loss"), *loss);
                start(self);
                Some(FaultTarget::Link(a?, b?))
            }
            Fault::Spike {
                duration, factor, ..
            } => {
                start(self);
                self.spike(s, p, *duration, *factor);
                Some(FaultTarget::Clients)
            }
            Fault::SetWeight {
                lb, server, weight, ..
            } => {
                let target = self.lb_server(format!("{p}.set_weight"), s, lb, server);
                if *weight > 256 {
                    self.err(
                        format!("{p}.set_weight.weight"),
                        weight,
                        "a weight between 0 and 256",
                    );
                }
                start(self);
                target
            }
            Fault::Drain { server, .. } => {
                let node = self.expect_node(
                    format!("{p}.drain.server"),
                    server,
                    &[Kind::Web, Kind::App],
                    "a web server or an app server",
                );
                start(self);
                node.map(FaultTarget::Node)
            }
        }
    }

    /// A fault's (or the monitoring's own crash's) `repair` under path `p`: it needs someone
    /// to notice (a `monitoring` section), and it replaces the fault's own end (`duration`).
    pub(super) fn repair(&mut self, s: &Scenario, p: &str, repair: Option<&Repair>, timed: bool) {
        let Some(r) = repair else {
            return;
        };
        if s.monitoring.is_none() {
            self.err(
                format!("{p}.repair"),
                "a repair after detection without a `monitoring` section",
                "a `monitoring` section (who notices, who repairs)",
            );
        }
        if timed {
            self.err(
                format!("{p}.repair"),
                "both `duration` and `repair`",
                "one of `duration` (a fixed end) and `repair`",
            );
        }
        self.dist(format!("{p}.repair.time"), &r.time);
    }

    /// A component a crash or random failure may hit.
    fn component(&mut self, path: String, name: &str) -> Option<Node> {
        self.expect_node(path, name, &COMPONENTS, COMPONENTS_WHAT)
    }

    fn at_in_run(&mut self, p: &str, field: &str, at: SimDuration, horizon: SimDuration) {
        if at >= horizon {
            self.err(
                format!("{p}.{field}"),
                at,
                format!("a time before the end of the run ({horizon})"),
            );
        }
    }

    fn partition(&mut self, p: &str, a: &str, b: &str) -> Option<FaultTarget> {
        let na = self.endpoint(format!("{p}.partition.a"), a);
        let nb = self.endpoint(format!("{p}.partition.b"), b);
        if a == b {
            self.err(
                format!("{p}.partition.b"),
                format!("{b:?}"),
                "a component other than `a`",
            );
        }
        Some(FaultTarget::Link(na?, nb?))
    }

    fn spike(&mut self, s: &Scenario, p: &str, duration: SimDuration, factor: f64) {
        self.positive(format!("{p}.spike.duration"), duration);
        if !(factor.is_finite() && (0.0..=1e6).contains(&factor)) {
            self.err(format!("{p}.spike.factor"), factor, "a rate multiplier ≥ 0");
        }
        if matches!(s.clients.arrival, Arrival::Closed { .. }) {
            self.err(
                format!("{p}.spike"),
                "a spike with closed-loop clients",
                "an open-loop arrival process (poisson, constant or schedule)",
            );
        }
    }

    /// A server of a named load balancer's backend.
    fn lb_server(
        &mut self,
        p: String,
        s: &Scenario,
        lb: &str,
        server: &str,
    ) -> Option<FaultTarget> {
        let Some(l) = s.load_balancers.iter().position(|l| l.name == lb) else {
            self.err(
                format!("{p}.lb"),
                format!("{lb:?} (no such load balancer)"),
                "the name of a load balancer",
            );
            return None;
        };
        if !s.load_balancers[l]
            .servers
            .iter()
            .any(|x| x.server == server)
        {
            self.err(
                format!("{p}.server"),
                format!("{server:?}"),
                format!("a server of load balancer {lb:?}"),
            );
            return None;
        }
        let node = self.names.get(server).copied().and_then(Named::node)?;
        Some(FaultTarget::Backend {
            lb: l as u32,
            server: node,
        })
    }
}
