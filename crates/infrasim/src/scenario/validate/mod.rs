//! Validation: every problem of a scenario collected at once, each with its JSON path, the
//! value found and what was expected; and, for a scenario with none, every reference
//! resolved ([`Validated`]).
//!
//! The checks are grouped by what they look at: the limits that keep a run finite
//! (`limits`), the workload (`workload`), the components and their references
//! (`topology`), and the faults (`faults`). Names are registered first, so a reference
//! resolves whatever the order of the file.

mod connection;
mod faults;
mod limits;
mod monitoring;
mod security;
mod topology;
mod workload;

use std::collections::BTreeMap;

use infrasim_engine::SimDuration;

pub use limits::MAX_COMPONENTS;

use super::check::Check;
use super::resolve::{Entry, FaultTarget, Names, Node, Validated, Watched};
use super::security::{Ports, ResolvedAttack, ResolvedFirewall};
use super::{DistSpec, Scenario};
use crate::error::{Error, ScenarioError};

/// Checks a scenario's consistency; returns every problem found, or the scenario with its
/// references resolved.
pub fn validate(s: &Scenario) -> Result<Validated<'_>, Error> {
    let mut v = Validator::default();
    v.check(s);
    v.finish(s)
}

/// Largest mean of a distribution: 100 years, in seconds.
const MAX_MEAN_S: f64 = 100.0 * 365.25 * 86_400.0;

/// What a name refers to: a component or a group, with its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    Lb(u32),
    Pair(u32),
    Web(u32),
    App(u32),
    Cluster(u32),
    DbNode(u32),
    Firewall(u32),
    /// A cluster's failover manager (`failover.manager`): a network endpoint only.
    Manager(u32),
}

/// The kinds of components (not groups).
const COMPONENT_KINDS: [Kind; 4] = [Kind::Lb, Kind::Web, Kind::App, Kind::DbNode];

/// The kinds of things a reference may be allowed to name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Lb,
    Pair,
    Web,
    App,
    Cluster,
    DbNode,
    Firewall,
    Manager,
}

impl Named {
    fn kind(self) -> Kind {
        match self {
            Named::Lb(_) => Kind::Lb,
            Named::Pair(_) => Kind::Pair,
            Named::Web(_) => Kind::Web,
            Named::App(_) => Kind::App,
            Named::Cluster(_) => Kind::Cluster,
            Named::DbNode(_) => Kind::DbNode,
            Named::Firewall(_) => Kind::Firewall,
            Named::Manager(_) => Kind::Manager,
        }
    }

    /// The component it is, if it is one (groups are not).
    fn node(self) -> Option<Node> {
        match self {
            Named::Lb(i) => Some(Node::Lb(i)),
            Named::Web(i) => Some(Node::Web(i)),
            Named::App(i) => Some(Node::App(i)),
            Named::DbNode(i) => Some(Node::Db(i)),
            Named::Manager(i) => Some(Node::Manager(i)),
            Named::Pair(_) | Named::Cluster(_) | Named::Firewall(_) => None,
        }
    }
}

/// The checks' state: the problems found so far, the names defined, and what each
/// reference resolved to (`None` where it did not resolve: a problem was recorded then).
#[derive(Default)]
struct Validator {
    errors: Vec<ScenarioError>,
    names: BTreeMap<String, Named>,
    entry: Option<Entry>,
    backends: Vec<Vec<Option<Node>>>,
    pair_members: Vec<[Option<Node>; 2]>,
    upstreams: Vec<Option<Option<Node>>>,
    app_clusters: Vec<Option<Option<u32>>>,
    links: Vec<(Option<Node>, Option<Node>)>,
    fault_targets: Vec<Option<FaultTarget>>,
    watched: Option<Watched>,
    firewalls: Vec<ResolvedFirewall>,
    ports: Ports,
    attacks: Vec<Option<ResolvedAttack>>,
}

impl Validator {
    fn err(
        &mut self,
        path: impl Into<String>,
        found: impl std::fmt::Display,
        expected: impl Into<String>,
    ) {
        self.errors.push(ScenarioError::new(path, found, expected));
    }

    /// Every check, in the order their problems are listed.
    fn check(&mut self, s: &Scenario) {
        self.define_names(s);
        self.component_count(s);
        self.durations_bounded(s);
        self.run_settings(s);
        self.clients(s);
        self.load_balancers(s);
        self.connections_and_tls(s);
        self.pairs(s);
        self.web_servers(s);
        self.app_servers(s);
        self.databases(s);
        self.links(s);
        self.faults(s);
        self.monitoring(s);
        self.security(s);
        self.slos(s);
        self.proxy_loops(s);
    }

    /// Registers every name, so that references resolve whatever the order in the file.
    fn define_names(&mut self, s: &Scenario) {
        for (i, lb) in s.load_balancers.iter().enumerate() {
            let named = Named::Lb(i as u32);
            self.name(format!("load_balancers[{i}].name"), &lb.name, named);
        }
        for (i, p) in s.lb_pairs.iter().enumerate() {
            let named = Named::Pair(i as u32);
            self.name(format!("lb_pairs[{i}].name"), &p.name, named);
        }
        for (i, w) in s.web_servers.iter().enumerate() {
            let named = Named::Web(i as u32);
            self.name(format!("web_servers[{i}].name"), &w.name, named);
        }
        for (i, a) in s.app_servers.iter().enumerate() {
            let named = Named::App(i as u32);
            self.name(format!("app_servers[{i}].name"), &a.name, named);
        }
        // Database nodes are numbered across clusters, each primary before its replicas.
        let mut db = 0u32;
        for (i, d) in s.databases.iter().enumerate() {
            let cluster = Named::Cluster(i as u32);
            self.name(format!("databases[{i}].name"), &d.name, cluster);
            let primary = format!("databases[{i}].primary.name");
            self.name(primary, &d.primary.name, Named::DbNode(db));
            db += 1;
            for (j, r) in d.replicas.iter().enumerate() {
                let path = format!("databases[{i}].replicas[{j}].name");
                self.name(path, &r.name, Named::DbNode(db));
                db += 1;
            }
        }
        for (i, f) in s.firewalls.iter().enumerate() {
            let named = Named::Firewall(i as u32);
            self.name(format!("firewalls[{i}].name"), &f.name, named);
        }
        for (i, d) in s.databases.iter().enumerate() {
            if let Some(m) = &d.failover.manager {
                let path = format!("databases[{i}].failover.manager");
                self.name(path, m, Named::Manager(i as u32));
            }
        }
    }

    fn name(&mut self, path: String, name: &str, named: Named) {
        if name.is_empty() {
            self.err(path, "\"\"", "a non-empty name");
        } else if name == "clients" {
            self.err(
                path,
                "\"clients\"",
                "a name other than \"clients\" (reserved for the workload)",
            );
        } else if self.names.contains_key(name) {
            // The first definition keeps the name, so references to it are not reported too.
            self.err(
                path,
                format!("{name:?}"),
                "a name not used by another component",
            );
        } else {
            self.names.insert(name.to_string(), named);
        }
    }

    /// A reference to something of one of the `allowed` kinds: what it names, or a problem.
    fn expect_ref(
        &mut self,
        path: String,
        name: &str,
        allowed: &[Kind],
        what: &str,
    ) -> Option<Named> {
        match self.names.get(name).copied() {
            Some(n) if allowed.contains(&n.kind()) => return Some(n),
            Some(_) => self.err(path, format!("{name:?}"), format!("the name of {what}")),
            None => self.err(
                path,
                format!("{name:?} (no such component)"),
                format!("the name of {what}"),
            ),
        }
        None
    }

    /// A reference to one component (not a group) of the `allowed` kinds.
    fn expect_node(
        &mut self,
        path: String,
        name: &str,
        allowed: &[Kind],
        what: &str,
    ) -> Option<Node> {
        self.expect_ref(path, name, allowed, what)
            .and_then(Named::node)
    }

    /// The run's own settings: duration, windows, replications. The number of windows is
    /// not bounded: a window without traffic costs nothing (`model/windows.rs`).
    fn run_settings(&mut self, s: &Scenario) {
        self.positive("duration".into(), s.duration);
        self.positive("window".into(), s.window);
        self.probability("window_threshold".into(), s.window_threshold);
        self.at_least("replications".into(), s.replications, 1);
        if s.replications > 100_000 {
            self.err(
                "replications",
                s.replications,
                "at most 100000 replications",
            );
        }
    }

    fn slos(&mut self, s: &Scenario) {
        for (i, slo) in s.slos.iter().enumerate() {
            if let Err(e) = slo.parse::<Check>() {
                self.err(
                    format!("slos[{i}]"),
                    format!("{slo:?}"),
                    format!("an SLO check such as \"availability>=0.999\" ({e})"),
                );
            }
        }
    }

    fn positive(&mut self, path: String, d: SimDuration) {
        if d.is_zero() {
            self.err(path, "0s", "a duration greater than zero");
        }
    }

    /// The period of a timer that fires again and again (health checks, adverts, polls):
    /// at least `min`, the resolution of the real setting, so a run cannot drown in
    /// timer events (a 1 ns check interval is 10⁹ events per simulated second).
    fn period(&mut self, path: String, d: SimDuration, min: SimDuration, why: &str) {
        if d < min {
            self.err(path, d, format!("a period of at least {min} ({why})"));
        }
    }

    fn probability(&mut self, path: String, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            self.err(path, p, "a probability between 0 and 1");
        }
    }

    fn at_least(&mut self, path: String, x: u32, min: u32) {
        if x < min {
            self.err(path, x, format!("an integer ≥ {min}"));
        }
    }

    fn dist(&mut self, path: String, d: &DistSpec) {
        match d.build() {
            Err(e) => self.err(
                path,
                serde_json::to_string(d).unwrap_or_else(|_| format!("{d:?}")),
                format!("a valid distribution ({e})"),
            ),
            // A mean beyond a century (a Weibull shape of 0.01, a Pareto shape ≤ 1) makes
            // draws run past the end of simulated time.
            Ok(x) if !(x.mean().is_finite() && x.mean() <= MAX_MEAN_S) => self.err(
                path,
                format!(
                    "{} (mean {} s)",
                    serde_json::to_string(d).unwrap_or_else(|_| format!("{d:?}")),
                    x.mean()
                ),
                "a distribution with a finite mean of at most 100 years",
            ),
            Ok(_) => {}
        }
    }

    /// The problems found, or the scenario with every reference resolved. Each reference
    /// that did not resolve recorded a problem, so with none recorded every one resolved;
    /// should a check ever let one through, the scenario is refused with a problem
    /// naming what was left unresolved rather than built wrong.
    fn finish(self, s: &Scenario) -> Result<Validated<'_>, Error> {
        if !self.errors.is_empty() {
            return Err(Error::Invalid(self.errors));
        }
        let resolved = || -> Option<Validated<'_>> {
            Some(Validated {
                scenario: s,
                names: Names::of(s),
                entry: self.entry?,
                backends: self
                    .backends
                    .into_iter()
                    .map(|b| b.into_iter().collect())
                    .collect::<Option<_>>()?,
                pair_members: self
                    .pair_members
                    .into_iter()
                    .map(|[a, b]| Some([a?, b?]))
                    .collect::<Option<_>>()?,
                upstreams: self.upstreams.into_iter().collect::<Option<_>>()?,
                app_clusters: self.app_clusters.into_iter().collect::<Option<_>>()?,
                links: self
                    .links
                    .into_iter()
                    .map(|(a, b)| Some((a?, b?)))
                    .collect::<Option<_>>()?,
                fault_targets: self.fault_targets.into_iter().collect::<Option<_>>()?,
                watched: self.watched,
                firewalls: self.firewalls,
                ports: self.ports,
                attacks: self.attacks.into_iter().collect::<Option<_>>()?,
            })
        };
        resolved().ok_or_else(|| {
            Error::Invalid(vec![ScenarioError::new(
                "",
                "a reference that validation did not resolve",
                "every name resolved (an internal error of infrasim: please report it)",
            )])
        })
    }
}
