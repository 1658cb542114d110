//! The `monitoring` section: periods, thresholds, and what its rules and checks watch.

use infrasim_engine::SimDuration;

use super::{COMPONENT_KINDS, Kind, Validator};
use crate::scenario::resolve::{Node, Watched};
use crate::scenario::{Monitoring, Rule, Scenario};

/// Most samples a range rule keeps per series (range / scrape interval).
const MAX_RANGE_SAMPLES: u64 = 10_000;

impl Validator {
    pub(super) fn monitoring(&mut self, s: &Scenario) {
        let Some(m) = &s.monitoring else {
            return;
        };
        let every = every_component(s);
        let mut watched = Watched::default();
        let second = SimDuration::from_secs(1);
        if m.prometheus.is_some() && m.nagios.is_some() {
            self.err(
                "monitoring",
                "both `prometheus` and `nagios`",
                "at most one monitoring system",
            );
        }
        if let Some(p) = &m.prometheus {
            let why = "Prometheus' intervals are set in seconds";
            self.period(
                "monitoring.prometheus.scrape_interval".into(),
                p.scrape_interval,
                second,
                why,
            );
            self.period(
                "monitoring.prometheus.evaluation_interval".into(),
                p.evaluation_interval,
                second,
                why,
            );
            self.period(
                "monitoring.prometheus.group_interval".into(),
                p.group_interval,
                second,
                why,
            );
            self.positive(
                "monitoring.prometheus.scrape_timeout".into(),
                p.scrape_timeout,
            );
            if p.scrape_timeout > p.scrape_interval {
                // Prometheus refuses it: "scrape timeout greater than scrape interval".
                self.err(
                    "monitoring.prometheus.scrape_timeout",
                    p.scrape_timeout,
                    format!("at most the scrape interval ({})", p.scrape_interval),
                );
            }
            for (i, r) in p.rules.iter().enumerate() {
                let path = format!("monitoring.prometheus.rules[{i}].{}", r.key());
                let nodes = self.rule(s, &path, r, p.scrape_interval, &every);
                watched.rules.push(nodes);
            }
        }
        if let Some(n) = &m.nagios {
            let why = "Nagios' intervals are set in (fractions of) minutes";
            self.period(
                "monitoring.nagios.check_interval".into(),
                n.check_interval,
                second,
                why,
            );
            self.period(
                "monitoring.nagios.retry_interval".into(),
                n.retry_interval,
                second,
                why,
            );
            self.at_least(
                "monitoring.nagios.max_check_attempts".into(),
                n.max_check_attempts,
                1,
            );
            self.positive("monitoring.nagios.check_timeout".into(), n.check_timeout);
            watched.nagios = self.targets("monitoring.nagios.targets", &n.targets, &every);
        }
        self.people(s, m);
        self.watched = Some(watched);
    }

    fn people(&mut self, s: &Scenario, m: &Monitoring) {
        self.dist("monitoring.on_call.response".into(), &m.on_call.response);
        let u = &m.users;
        if !(u.bad_ratio > 0.0 && u.bad_ratio <= 1.0) {
            self.err(
                "monitoring.users.bad_ratio",
                u.bad_ratio,
                "a fraction greater than 0 and at most 1",
            );
        }
        self.positive("monitoring.users.slow".into(), u.slow);
        if let Some(c) = &m.crash {
            let horizon = s.warmup.saturating_add(s.duration);
            if c.at >= horizon {
                self.err(
                    "monitoring.crash.at",
                    c.at,
                    format!("a time before the end of the run ({horizon})"),
                );
            }
            if let Some(d) = c.duration {
                self.positive("monitoring.crash.duration".into(), d);
            }
            self.repair(
                s,
                "monitoring.crash",
                c.repair.as_ref(),
                c.duration.is_some(),
            );
        }
        if let Some(d) = &m.dead_mans_switch {
            self.period(
                "monitoring.dead_mans_switch.interval".into(),
                d.interval,
                SimDuration::from_secs(1),
                "heartbeats are sent every few seconds at most",
            );
            self.positive("monitoring.dead_mans_switch.timeout".into(), d.timeout);
        }
    }

    /// One rule's checks; the components it watches.
    fn rule(
        &mut self,
        s: &Scenario,
        p: &str,
        r: &Rule,
        scrape: SimDuration,
        every: &[Node],
    ) -> Vec<Node> {
        let range_ok = |v: &mut Self, range: SimDuration| {
            let n = range.as_nanos() / scrape.as_nanos().max(1);
            if !(2..=MAX_RANGE_SAMPLES).contains(&n) {
                v.err(
                    format!("{p}.range"),
                    range,
                    format!(
                        "a range of 2 to {MAX_RANGE_SAMPLES} scrape intervals ({scrape}): a rate \
                         needs two samples"
                    ),
                );
            }
        };
        match r {
            Rule::TargetDown { targets, .. } => {
                self.targets(&format!("{p}.targets"), targets, every)
            }
            Rule::ErrorRatio {
                above,
                range,
                scope,
                ..
            } => {
                if !(0.0..1.0).contains(above) {
                    self.err(format!("{p}.above"), above, "a ratio from 0 to below 1");
                }
                range_ok(self, *range);
                self.scope(p, scope.as_deref())
            }
            Rule::LatencyQuantile {
                quantile,
                above,
                range,
                scope,
                ..
            } => {
                if !(*quantile > 0.0 && *quantile < 1.0) {
                    self.err(
                        format!("{p}.quantile"),
                        quantile,
                        "a quantile between 0 and 1",
                    );
                }
                self.positive(format!("{p}.above"), *above);
                range_ok(self, *range);
                self.scope(p, scope.as_deref())
            }
            Rule::ReplicationLag { above, .. } => {
                self.positive(format!("{p}.above"), *above);
                if s.databases.iter().all(|d| d.replicas.is_empty()) {
                    self.err(
                        p.to_string(),
                        "a replication-lag rule without replicas",
                        "a database with at least one replica",
                    );
                }
                every
                    .iter()
                    .copied()
                    .filter(|n| matches!(n, Node::Db(_)))
                    .collect()
            }
            Rule::LbServersUp { lb, below, .. } => {
                self.at_least(format!("{p}.below"), *below, 1);
                self.expect_node(format!("{p}.lb"), lb, &[Kind::Lb], "a load balancer")
                    .into_iter()
                    .collect()
            }
        }
    }

    fn scope(&mut self, p: &str, scope: Option<&str>) -> Vec<Node> {
        match scope {
            None | Some("service") => Vec::new(),
            Some(name) => self
                .expect_node(
                    format!("{p}.scope"),
                    name,
                    &[Kind::Web, Kind::App],
                    "a web or app server, or \"service\"",
                )
                .into_iter()
                .collect(),
        }
    }

    /// Components named in a list (default: every one).
    fn targets(&mut self, p: &str, names: &[String], every: &[Node]) -> Vec<Node> {
        if names.is_empty() {
            return every.to_vec();
        }
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                self.expect_node(
                    format!("{p}[{i}]"),
                    n,
                    &COMPONENT_KINDS,
                    "a load balancer, web server, app server or database node",
                )
            })
            .collect()
    }
}

/// Every component of the scenario, in report order.
fn every_component(s: &Scenario) -> Vec<Node> {
    let n = crate::scenario::resolve::Names::of(s);
    (0..n.lb.len() as u32)
        .map(Node::Lb)
        .chain((0..n.web.len() as u32).map(Node::Web))
        .chain((0..n.app.len() as u32).map(Node::App))
        .chain((0..n.db.len() as u32).map(Node::Db))
        .collect()
}
