//! Parsing and validation: every problem collected, each with its JSON path.

use std::collections::{BTreeMap, BTreeSet};

use infrasim_engine::SimDuration;
use petgraph::graph::DiGraph;

use super::{Arrival, DistSpec, Fault, PairMode, Scenario};
use crate::error::{Error, ScenarioError};
use crate::slo::Check;

/// Reads, parses and validates a scenario file.
pub fn load(path: impl AsRef<std::path::Path>) -> Result<Scenario, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Parses and validates a scenario from JSON text.
pub fn parse(text: &str) -> Result<Scenario, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = match serde_path_to_error::deserialize(&mut de) {
        Ok(s) => s,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = (inner.line(), inner.column());
            // serde_json appends " at line L column C"; we report those separately.
            let mut message = inner.to_string();
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            return Err(Error::Parse {
                path,
                message,
                line,
                column,
            });
        }
    };
    if let Err(e) = de.end() {
        return Err(Error::Parse {
            path: ".".into(),
            message: "trailing characters after the scenario".into(),
            line: e.line(),
            column: e.column(),
        });
    }
    validate(&scenario)?;
    Ok(scenario)
}

/// Checks a scenario's consistency; returns every problem found.
pub fn validate(s: &Scenario) -> Result<(), Error> {
    let mut v = Validator::default();
    v.check(s);
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(v.errors))
    }
}

/// Largest mean of a distribution: 100 years, in seconds.
const MAX_MEAN_S: f64 = 100.0 * 365.25 * 86_400.0;

/// Largest duration written in a file: 100 years (36 525 days).
const MAX_DURATION: SimDuration = SimDuration::from_secs(36_525 * 86_400);

/// Most components a scenario may hold (load balancers, web and app servers, database
/// nodes). The network keeps dense tables over every ordered pair of them (latency, extra
/// latency, loss, partitions: ≈ 36 bytes a pair, 600 MB at this size), and a message in
/// flight names its ends by a 16-bit index.
pub const MAX_COMPONENTS: usize = 4096;

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Lb,
    Pair,
    Web,
    App,
    Cluster,
    DbNode,
}

#[derive(Default)]
struct Validator {
    errors: Vec<ScenarioError>,
    names: BTreeMap<String, Kind>,
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

    fn name(&mut self, path: String, name: &str, kind: Kind) {
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
            self.names.insert(name.to_string(), kind);
        }
    }

    fn kind_of(&self, name: &str) -> Option<Kind> {
        self.names.get(name).copied()
    }

    fn expect_ref(&mut self, path: String, name: &str, allowed: &[Kind], what: &str) {
        match self.kind_of(name) {
            Some(k) if allowed.contains(&k) => {}
            Some(_) => self.err(path, format!("{name:?}"), format!("the name of {what}")),
            None => self.err(
                path,
                format!("{name:?} (no such component)"),
                format!("the name of {what}"),
            ),
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

    /// At most [`MAX_COMPONENTS`] components; the error names the first one beyond.
    fn component_count(&mut self, s: &Scenario) {
        let db_nodes: usize = s.databases.iter().map(|d| 1 + d.replicas.len()).sum();
        let total = s.load_balancers.len() + s.web_servers.len() + s.app_servers.len() + db_nodes;
        if total <= MAX_COMPONENTS {
            return;
        }
        // Every component's path, in file order; the one at index MAX_COMPONENTS is the first
        // beyond the limit (formatting them all is only paid on this error).
        let array = |name: &'static str, n: usize| (0..n).map(move |i| format!("{name}[{i}]"));
        let db_paths = s.databases.iter().enumerate().flat_map(|(i, d)| {
            std::iter::once(format!("databases[{i}].primary"))
                .chain((0..d.replicas.len()).map(move |j| format!("databases[{i}].replicas[{j}]")))
        });
        let path = array("load_balancers", s.load_balancers.len())
            .chain(array("web_servers", s.web_servers.len()))
            .chain(array("app_servers", s.app_servers.len()))
            .chain(db_paths)
            .nth(MAX_COMPONENTS)
            .expect("more than MAX_COMPONENTS components");
        self.err(
            path,
            format!("{total} components"),
            format!(
                "at most {MAX_COMPONENTS} components in all (load balancers, web and app \
                 servers, database nodes): the network keeps a table over every pair of them"
            ),
        );
    }

    fn check(&mut self, s: &Scenario) {
        // Names first, so references can be resolved whatever the order in the file.
        for (i, lb) in s.load_balancers.iter().enumerate() {
            self.name(format!("load_balancers[{i}].name"), &lb.name, Kind::Lb);
        }
        for (i, p) in s.lb_pairs.iter().enumerate() {
            self.name(format!("lb_pairs[{i}].name"), &p.name, Kind::Pair);
        }
        for (i, w) in s.web_servers.iter().enumerate() {
            self.name(format!("web_servers[{i}].name"), &w.name, Kind::Web);
        }
        for (i, a) in s.app_servers.iter().enumerate() {
            self.name(format!("app_servers[{i}].name"), &a.name, Kind::App);
        }
        for (i, d) in s.databases.iter().enumerate() {
            self.name(format!("databases[{i}].name"), &d.name, Kind::Cluster);
            self.name(
                format!("databases[{i}].primary.name"),
                &d.primary.name,
                Kind::DbNode,
            );
            for (j, r) in d.replicas.iter().enumerate() {
                self.name(
                    format!("databases[{i}].replicas[{j}].name"),
                    &r.name,
                    Kind::DbNode,
                );
            }
        }

        self.component_count(s);
        self.durations_bounded(s);
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
        let horizon = s.warmup.saturating_add(s.duration);
        if s.window.as_nanos() > 0 && s.duration.as_nanos() / s.window.as_nanos() > 50_000_000 {
            self.err(
                "window",
                s.window,
                "a window such that duration / window ≤ 50 000 000",
            );
        }

        self.clients(s);
        self.load_balancers(s);
        self.pairs(s);
        for (i, w) in s.web_servers.iter().enumerate() {
            let p = format!("web_servers[{i}]");
            self.at_least(format!("{p}.workers"), w.workers, 1);
            self.dist(format!("{p}.static_service"), &w.static_service);
            self.dist(format!("{p}.proxy_service"), &w.proxy_service);
            self.positive(format!("{p}.upstream_timeout"), w.upstream_timeout);
            if let Some(u) = &w.upstream {
                self.expect_ref(
                    format!("{p}.upstream"),
                    u,
                    &[Kind::Lb, Kind::App],
                    "a load balancer or an app server",
                );
            }
        }
        for (i, a) in s.app_servers.iter().enumerate() {
            let p = format!("app_servers[{i}]");
            self.at_least(format!("{p}.workers"), a.workers, 1);
            for c in super::Class::ALL {
                self.dist(format!("{p}.service.{}", c.name()), a.service.get(c));
                if *a.db_calls.get(c) > 1000 {
                    self.err(
                        format!("{p}.db_calls.{}", c.name()),
                        a.db_calls.get(c),
                        "at most 1000 database calls per request",
                    );
                }
            }
            self.positive(format!("{p}.db_timeout"), a.db_timeout);
            let calls = a.db_calls.read + a.db_calls.write + a.db_calls.r#static;
            match &a.database {
                Some(db) => self.expect_ref(
                    format!("{p}.database"),
                    db,
                    &[Kind::Cluster],
                    "a database cluster",
                ),
                // Without any database the app servers are stateless: no database calls.
                None if calls > 0 && s.databases.len() > 1 => self.err(
                    format!("{p}.database"),
                    format!(
                        "nothing, with {} database clusters defined",
                        s.databases.len()
                    ),
                    "the name of the database cluster this app server calls (db_calls > 0)",
                ),
                None => {}
            }
        }
        for (i, d) in s.databases.iter().enumerate() {
            let p = format!("databases[{i}]");
            let nodes = std::iter::once(("primary".to_string(), &d.primary)).chain(
                d.replicas
                    .iter()
                    .enumerate()
                    .map(|(j, r)| (format!("replicas[{j}]"), r)),
            );
            for (np, n) in nodes {
                self.at_least(format!("{p}.{np}.workers"), n.workers, 1);
                self.dist(format!("{p}.{np}.read_service"), &n.read_service);
                self.dist(format!("{p}.{np}.write_service"), &n.write_service);
            }
            self.dist(format!("{p}.replication.delay"), &d.replication.delay);
            self.dist(format!("{p}.replication.apply"), &d.replication.apply);
            self.at_least(
                format!("{p}.replication.appliers"),
                d.replication.appliers,
                1,
            );
            // MySQL caps `replica_parallel_workers` at 1024.
            if d.replication.appliers > 1024 {
                self.err(
                    format!("{p}.replication.appliers"),
                    d.replication.appliers,
                    "at most 1024 applier threads (MySQL's replica_parallel_workers limit)",
                );
            }
            self.positive(
                format!("{p}.replication.semi_sync_timeout"),
                d.replication.semi_sync_timeout,
            );
            self.period(
                format!("{p}.read_routing.lag_check_interval"),
                d.read_routing.lag_check_interval,
                SimDuration::from_millis(1),
                "ProxySQL intervals are in milliseconds",
            );
            self.period(
                format!("{p}.failover.check_interval"),
                d.failover.check_interval,
                SimDuration::from_millis(1),
                "failover managers poll in milliseconds or more",
            );
            self.at_least(
                format!("{p}.failover.failed_checks"),
                d.failover.failed_checks,
                1,
            );
            if d.failover.mode != super::FailoverMode::None && d.replicas.is_empty() {
                self.err(
                    format!("{p}.failover.mode"),
                    format!("{:?}", d.failover.mode),
                    "\"none\" for a cluster without replicas (nothing to promote)",
                );
            }
            if d.replication.mode == super::ReplicationMode::SemiSync && d.replicas.is_empty() {
                self.err(
                    format!("{p}.replication.mode"),
                    "\"semi-sync\" without replicas",
                    "a replica to acknowledge writes, or \"async\"",
                );
            }
        }
        for (i, l) in s.network.links.iter().enumerate() {
            self.endpoint(format!("network.links[{i}].a"), &l.a);
            self.endpoint(format!("network.links[{i}].b"), &l.b);
        }
        self.faults(s, horizon);
        for (i, slo) in s.slos.iter().enumerate() {
            if let Err(e) = slo.parse::<Check>() {
                self.err(
                    format!("slos[{i}]"),
                    format!("{slo:?}"),
                    format!("an SLO check such as \"availability>=0.999\" ({e})"),
                );
            }
        }
        self.proxy_loops(s);
    }

    /// Every duration of the file is at most [`MAX_DURATION`], so that sums of them (a
    /// time plus a timeout plus a backoff) stay far from the end of simulated time.
    fn durations_bounded(&mut self, s: &Scenario) {
        let mut all: Vec<(String, SimDuration)> = vec![
            ("duration".into(), s.duration),
            ("warmup".into(), s.warmup),
            ("window".into(), s.window),
            ("clients.timeout".into(), s.clients.timeout),
            ("network.latency".into(), s.network.latency),
            ("network.client_latency".into(), s.network.client_latency),
        ];
        if let Some(r) = &s.clients.retries {
            all.push(("clients.retries.backoff".into(), r.backoff));
            all.push(("clients.retries.max_backoff".into(), r.max_backoff));
        }
        if let Arrival::Schedule { steps } = &s.clients.arrival {
            for (i, st) in steps.iter().enumerate() {
                all.push((format!("clients.arrival.schedule.steps[{i}].at"), st.at));
            }
        }
        for (i, lb) in s.load_balancers.iter().enumerate() {
            let p = format!("load_balancers[{i}]");
            let c = &lb.check;
            all.push((format!("{p}.check.inter"), c.inter));
            let optional = [
                ("check.fastinter", c.fastinter),
                ("check.downinter", c.downinter),
                ("check.timeout", c.timeout),
                ("timeouts.queue", lb.timeouts.queue),
            ];
            for (field, d) in optional {
                if let Some(d) = d {
                    all.push((format!("{p}.{field}"), d));
                }
            }
            all.push((format!("{p}.timeouts.connect"), lb.timeouts.connect));
            all.push((format!("{p}.timeouts.server"), lb.timeouts.server));
            all.push((format!("{p}.cpu.per_request"), lb.cpu.per_request));
        }
        for (i, pair) in s.lb_pairs.iter().enumerate() {
            all.push((format!("lb_pairs[{i}].advert_int"), pair.advert_int));
            all.push((format!("lb_pairs[{i}].dns_ttl"), pair.dns_ttl));
            all.push((
                format!("lb_pairs[{i}].dns_check_interval"),
                pair.dns_check_interval,
            ));
        }
        for (i, w) in s.web_servers.iter().enumerate() {
            all.push((
                format!("web_servers[{i}].upstream_timeout"),
                w.upstream_timeout,
            ));
        }
        for (i, a) in s.app_servers.iter().enumerate() {
            all.push((format!("app_servers[{i}].db_timeout"), a.db_timeout));
        }
        for (i, d) in s.databases.iter().enumerate() {
            let p = format!("databases[{i}]");
            all.extend([
                (
                    format!("{p}.replication.semi_sync_timeout"),
                    d.replication.semi_sync_timeout,
                ),
                (
                    format!("{p}.read_routing.max_replication_lag"),
                    d.read_routing.max_replication_lag,
                ),
                (
                    format!("{p}.read_routing.lag_check_interval"),
                    d.read_routing.lag_check_interval,
                ),
                (
                    format!("{p}.failover.operator_delay"),
                    d.failover.operator_delay,
                ),
                (
                    format!("{p}.failover.check_interval"),
                    d.failover.check_interval,
                ),
                (format!("{p}.failover.promotion"), d.failover.promotion),
            ]);
        }
        for (i, l) in s.network.links.iter().enumerate() {
            all.push((format!("network.links[{i}].latency"), l.latency));
        }
        for (i, f) in s.faults.iter().enumerate() {
            let p = format!("faults[{i}]");
            let (kind, at, duration) = match f {
                Fault::Crash { at, duration, .. } => ("crash", Some(*at), *duration),
                Fault::Random { .. } => ("random", None, None),
                Fault::Degrade { at, duration, .. } => ("degrade", Some(*at), *duration),
                Fault::Partition { at, duration, .. } => ("partition", Some(*at), *duration),
                Fault::LinkDegrade {
                    at,
                    duration,
                    extra_latency,
                    ..
                } => {
                    all.push((format!("{p}.link_degrade.extra_latency"), *extra_latency));
                    ("link_degrade", Some(*at), *duration)
                }
                Fault::Spike { at, duration, .. } => ("spike", Some(*at), Some(*duration)),
                Fault::SetWeight { at, .. } => ("set_weight", Some(*at), None),
                Fault::Drain { at, duration, .. } => ("drain", Some(*at), *duration),
            };
            if let Some(at) = at {
                all.push((format!("{p}.{kind}.at"), at));
            }
            if let Some(d) = duration {
                all.push((format!("{p}.{kind}.duration"), d));
            }
        }
        for (path, d) in all {
            if d > MAX_DURATION {
                self.err(path, d, "a duration of at most 36525d (100 years)");
            }
        }
    }

    /// A network endpoint: a component with an address of its own (not an LB pair or a
    /// database cluster, which are groups), or the clients.
    fn endpoint(&mut self, path: String, name: &str) {
        match self.kind_of(name) {
            _ if name == "clients" => {}
            Some(Kind::Lb | Kind::Web | Kind::App | Kind::DbNode) => {}
            Some(Kind::Pair | Kind::Cluster) => self.err(
                path,
                format!("{name:?} (an LB pair or a database cluster)"),
                "one component's name (a load balancer, web or app server, database node) or \"clients\"",
            ),
            None => self.err(
                path,
                format!("{name:?} (no such component)"),
                "a component name or \"clients\"",
            ),
        }
    }

    fn clients(&mut self, s: &Scenario) {
        let c = &s.clients;
        self.expect_ref(
            "clients.target".into(),
            &c.target,
            &[Kind::Lb, Kind::Pair, Kind::Web, Kind::App],
            "a load balancer, LB pair, web server or app server",
        );
        let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1e9;
        match &c.arrival {
            Arrival::Poisson { rate } | Arrival::Constant { rate } => {
                let variant = if matches!(c.arrival, Arrival::Poisson { .. }) {
                    "poisson"
                } else {
                    "constant"
                };
                if !rate_ok(rate.as_per_second()) {
                    self.err(
                        format!("clients.arrival.{variant}.rate"),
                        rate,
                        "a rate greater than 0 and at most 1e9/s",
                    );
                }
            }
            Arrival::Schedule { steps } => {
                if steps.is_empty() {
                    self.err("clients.arrival.schedule.steps", "[]", "at least one step");
                } else if !steps[0].at.is_zero() {
                    self.err(
                        "clients.arrival.schedule.steps[0].at",
                        steps[0].at,
                        "\"0s\" (the first step starts the run)",
                    );
                }
                for (i, st) in steps.iter().enumerate() {
                    let r = st.rate.as_per_second();
                    if !(r.is_finite() && (0.0..=1e9).contains(&r)) {
                        self.err(
                            format!("clients.arrival.schedule.steps[{i}].rate"),
                            st.rate,
                            "a rate between 0 and 1e9/s",
                        );
                    }
                    if i > 0 && st.at <= steps[i - 1].at {
                        self.err(
                            format!("clients.arrival.schedule.steps[{i}].at"),
                            st.at,
                            "a time after the previous step's",
                        );
                    }
                }
            }
            Arrival::Closed { users, think } => {
                self.at_least("clients.arrival.closed.users".into(), *users, 1);
                if *users > 10_000_000 {
                    self.err(
                        "clients.arrival.closed.users",
                        users,
                        "at most 10 000 000 users",
                    );
                }
                self.dist("clients.arrival.closed.think".into(), think);
                // With no think time, zero latencies and zero service times, the users
                // would send requests forever at one instant: simulated time would stop.
                if think.build().is_ok_and(|d| d.mean() <= 0.0) {
                    self.err(
                        "clients.arrival.closed.think",
                        serde_json::to_string(think).unwrap_or_else(|_| format!("{think:?}")),
                        "a think time with a mean greater than zero",
                    );
                }
            }
        }
        let w = [c.mix.read, c.mix.write, c.mix.r#static];
        for (cls, x) in super::Class::ALL.iter().zip(w) {
            if !(x.is_finite() && x >= 0.0) {
                self.err(format!("clients.mix.{}", cls.name()), x, "a weight ≥ 0");
            }
        }
        if w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() <= 0.0 {
            self.err(
                "clients.mix",
                "all weights 0",
                "at least one class with a positive weight",
            );
        }
        self.at_least("clients.keys.count".into(), c.keys.count, 1);
        if !(c.keys.zipf.is_finite() && c.keys.zipf >= 0.0) {
            self.err(
                "clients.keys.zipf",
                c.keys.zipf,
                "an exponent ≥ 0 (0 = uniform)",
            );
        }
        if c.keys.count > 50_000_000 {
            self.err(
                "clients.keys.count",
                c.keys.count,
                "at most 50 000 000 keys",
            );
        }
        self.at_least("clients.addresses".into(), c.addresses, 1);
        if c.addresses > 50_000_000 {
            self.err(
                "clients.addresses",
                c.addresses,
                "at most 50 000 000 addresses",
            );
        }
        self.positive("clients.timeout".into(), c.timeout);
        if let Some(r) = &c.retries {
            self.probability("clients.retries.jitter".into(), r.jitter);
            if r.max > 100 {
                self.err("clients.retries.max", r.max, "at most 100 retries");
            }
        }
    }

    fn load_balancers(&mut self, s: &Scenario) {
        for (i, lb) in s.load_balancers.iter().enumerate() {
            let p = format!("load_balancers[{i}]");
            if lb.servers.is_empty() {
                self.err(format!("{p}.servers"), "[]", "at least one server");
            }
            let mut seen = BTreeSet::new();
            for (j, srv) in lb.servers.iter().enumerate() {
                let sp = format!("{p}.servers[{j}]");
                self.expect_ref(
                    format!("{sp}.server"),
                    &srv.server,
                    &[Kind::Web, Kind::App],
                    "a web server or an app server",
                );
                if !seen.insert(srv.server.as_str()) {
                    self.err(
                        format!("{sp}.server"),
                        format!("{:?}", srv.server),
                        "a server listed once in this backend",
                    );
                }
                if srv.weight > 256 {
                    self.err(
                        format!("{sp}.weight"),
                        srv.weight,
                        "a weight between 0 and 256 (HAProxy)",
                    );
                }
            }
            if lb.draws == 0 || lb.draws > 100 {
                self.err(format!("{p}.draws"), lb.draws, "between 1 and 100 draws");
            }
            let c = &lb.check;
            let ms = SimDuration::from_millis(1);
            let why = "HAProxy timers are in milliseconds";
            self.period(format!("{p}.check.inter"), c.inter, ms, why);
            if let Some(f) = c.fastinter {
                self.period(format!("{p}.check.fastinter"), f, ms, why);
            }
            if let Some(d) = c.downinter {
                self.period(format!("{p}.check.downinter"), d, ms, why);
            }
            self.at_least(format!("{p}.check.rise"), c.rise, 1);
            self.at_least(format!("{p}.check.fall"), c.fall, 1);
            if let Some(o) = &lb.observe {
                self.at_least(format!("{p}.observe.error_limit"), o.error_limit, 1);
            }
            self.positive(format!("{p}.timeouts.connect"), lb.timeouts.connect);
            self.positive(format!("{p}.timeouts.server"), lb.timeouts.server);
            if let Some(q) = lb.timeouts.queue {
                self.positive(format!("{p}.timeouts.queue"), q);
            }
            if lb.retries > 100 {
                self.err(format!("{p}.retries"), lb.retries, "at most 100 retries");
            }
            self.at_least(format!("{p}.cpu.cores"), lb.cpu.cores, 1);
            if lb.cpu.cores > 1024 {
                self.err(format!("{p}.cpu.cores"), lb.cpu.cores, "at most 1024 cores");
            }
        }
    }

    fn pairs(&mut self, s: &Scenario) {
        let mut used = BTreeSet::new();
        for (i, pair) in s.lb_pairs.iter().enumerate() {
            let p = format!("lb_pairs[{i}]");
            for (j, m) in pair.members.iter().enumerate() {
                self.expect_ref(
                    format!("{p}.members[{j}]"),
                    m,
                    &[Kind::Lb],
                    "a load balancer",
                );
                if !used.insert(m.as_str()) {
                    self.err(
                        format!("{p}.members[{j}]"),
                        format!("{m:?}"),
                        "a load balancer in at most one pair, listed once",
                    );
                }
            }
            for (j, pr) in pair.priorities.iter().enumerate() {
                if !(1..=254).contains(pr) {
                    self.err(
                        format!("{p}.priorities[{j}]"),
                        pr,
                        "a VRRP priority between 1 and 254",
                    );
                }
            }
            if !matches!(pair.vrrp_version, 2 | 3) {
                self.err(format!("{p}.vrrp_version"), pair.vrrp_version, "2 or 3");
            }
            self.period(
                format!("{p}.dns_check_interval"),
                pair.dns_check_interval,
                SimDuration::from_millis(1),
                "a health-check period",
            );
            self.at_least(
                format!("{p}.dns_failure_threshold"),
                pair.dns_failure_threshold,
                1,
            );
            if pair.dns_failure_threshold > 1000 {
                self.err(
                    format!("{p}.dns_failure_threshold"),
                    pair.dns_failure_threshold,
                    "at most 1000 failed checks",
                );
            }
            // VRRPv3 carries the interval in centiseconds (RFC 5798 §5.2.7), v2 in seconds.
            self.period(
                format!("{p}.advert_int"),
                pair.advert_int,
                SimDuration::from_millis(10),
                "VRRP advertises in centiseconds at the finest",
            );
            if pair.mode == PairMode::ActivePassive
                && pair.vrrp_version == 2
                && pair.advert_int.as_nanos() % 1_000_000_000 != 0
            {
                self.err(
                    format!("{p}.advert_int"),
                    pair.advert_int,
                    "whole seconds with VRRP v2 (sub-second adverts need vrrp_version 3)",
                );
            }
        }
    }

    fn faults(&mut self, s: &Scenario, horizon: SimDuration) {
        let comp = [Kind::Lb, Kind::Web, Kind::App, Kind::DbNode];
        let what = "a load balancer, web server, app server or database node";
        for (i, f) in s.faults.iter().enumerate() {
            let p = format!("faults[{i}]");
            let at_in_run = |v: &mut Self, field: &str, at: SimDuration| {
                if at >= horizon {
                    v.err(
                        format!("{p}.{field}"),
                        at,
                        format!("a time before the end of the run ({horizon})"),
                    );
                }
            };
            match f {
                Fault::Crash {
                    target,
                    at,
                    duration,
                    ..
                } => {
                    self.expect_ref(format!("{p}.crash.target"), target, &comp, what);
                    at_in_run(self, "crash.at", *at);
                    if let Some(d) = duration {
                        self.positive(format!("{p}.crash.duration"), *d);
                    }
                }
                Fault::Random {
                    target, ttf, ttr, ..
                } => {
                    self.expect_ref(format!("{p}.random.target"), target, &comp, what);
                    self.dist(format!("{p}.random.ttf"), ttf);
                    if ttf.build().is_ok_and(|d| d.mean() < 1e-3) {
                        self.err(
                            format!("{p}.random.ttf"),
                            serde_json::to_string(ttf).unwrap_or_else(|_| format!("{ttf:?}")),
                            "a mean time to failure of at least 1ms",
                        );
                    }
                    self.dist(format!("{p}.random.ttr"), ttr);
                }
                Fault::Degrade {
                    target,
                    at,
                    slowdown,
                    error_rate,
                    ..
                } => {
                    self.expect_ref(
                        format!("{p}.degrade.target"),
                        target,
                        &[Kind::Web, Kind::App, Kind::DbNode],
                        "a web server, app server or database node",
                    );
                    at_in_run(self, "degrade.at", *at);
                    if !(slowdown.is_finite() && *slowdown > 0.0 && *slowdown <= 1e6) {
                        self.err(
                            format!("{p}.degrade.slowdown"),
                            slowdown,
                            "a factor greater than 0 (1 = normal speed)",
                        );
                    }
                    self.probability(format!("{p}.degrade.error_rate"), *error_rate);
                }
                Fault::Partition { a, b, at, .. } => {
                    self.endpoint(format!("{p}.partition.a"), a);
                    self.endpoint(format!("{p}.partition.b"), b);
                    if a == b {
                        self.err(
                            format!("{p}.partition.b"),
                            format!("{b:?}"),
                            "a component other than `a`",
                        );
                    }
                    at_in_run(self, "partition.at", *at);
                }
                Fault::LinkDegrade { a, b, at, loss, .. } => {
                    self.endpoint(format!("{p}.link_degrade.a"), a);
                    self.endpoint(format!("{p}.link_degrade.b"), b);
                    self.probability(format!("{p}.link_degrade.loss"), *loss);
                    at_in_run(self, "link_degrade.at", *at);
                }
                Fault::Spike {
                    at,
                    duration,
                    factor,
                } => {
                    at_in_run(self, "spike.at", *at);
                    self.positive(format!("{p}.spike.duration"), *duration);
                    if !(factor.is_finite() && *factor >= 0.0 && *factor <= 1e6) {
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
                Fault::SetWeight {
                    lb,
                    server,
                    at,
                    weight,
                } => {
                    self.lb_server(format!("{p}.set_weight"), s, lb, server);
                    if *weight > 256 {
                        self.err(
                            format!("{p}.set_weight.weight"),
                            weight,
                            "a weight between 0 and 256",
                        );
                    }
                    at_in_run(self, "set_weight.at", *at);
                }
                Fault::Drain { server, at, .. } => {
                    self.expect_ref(
                        format!("{p}.drain.server"),
                        server,
                        &[Kind::Web, Kind::App],
                        "a web server or an app server",
                    );
                    at_in_run(self, "drain.at", *at);
                }
            }
        }
    }

    fn lb_server(&mut self, p: String, s: &Scenario, lb: &str, server: &str) {
        match s.load_balancers.iter().find(|l| l.name == lb) {
            None => self.err(
                format!("{p}.lb"),
                format!("{lb:?} (no such load balancer)"),
                "the name of a load balancer",
            ),
            Some(l) => {
                if !l.servers.iter().any(|x| x.server == server) {
                    self.err(
                        format!("{p}.server"),
                        format!("{server:?}"),
                        format!("a server of load balancer {lb:?}"),
                    );
                }
            }
        }
    }

    /// A request must not be able to travel in a circle: LB → web → LB → … (petgraph cycle
    /// detection over the "forwards to" graph).
    fn proxy_loops(&mut self, s: &Scenario) {
        let all: Vec<String> = self.names.keys().cloned().collect();
        let mut g = DiGraph::<&str, ()>::new();
        let mut idx = BTreeMap::new();
        for name in &all {
            idx.insert(name.as_str(), g.add_node(name.as_str()));
        }
        let mut edge = |a: &str, b: &str| {
            if let (Some(&x), Some(&y)) = (idx.get(a), idx.get(b)) {
                g.add_edge(x, y, ());
            }
        };
        for lb in &s.load_balancers {
            for srv in &lb.servers {
                edge(&lb.name, &srv.server);
            }
        }
        for p in &s.lb_pairs {
            for m in &p.members {
                edge(&p.name, m);
            }
        }
        for w in &s.web_servers {
            if let Some(u) = &w.upstream {
                edge(&w.name, u);
            }
        }
        if petgraph::algo::is_cyclic_directed(&g) {
            let sccs = petgraph::algo::tarjan_scc(&g);
            let mut loops = Vec::new();
            for scc in sccs
                .into_iter()
                .filter(|c| c.len() > 1 || c.iter().any(|&n| g.contains_edge(n, n)))
            {
                let mut names: Vec<&str> = scc.iter().map(|&n| g[n]).collect();
                names.sort_unstable();
                loops.push(names.join(" → "));
            }
            loops.sort();
            for names in loops {
                self.err(
                    "web_servers",
                    format!("a proxy loop through {names}"),
                    "requests to flow one way: load balancer → web → app",
                );
            }
        }
    }
}
