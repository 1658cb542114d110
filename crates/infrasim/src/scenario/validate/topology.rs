//! The components and the references between them: load balancers and their backends, LB
//! pairs, web and app servers, database clusters, network links, and the rule that
//! requests flow one way.

use std::collections::{BTreeMap, BTreeSet};

use infrasim_engine::SimDuration;
use petgraph::graph::DiGraph;

use super::{Kind, Named, Validator};
use crate::scenario::resolve::Node;
use crate::scenario::{
    BackendServer, Class, FailoverMode, InitState, LbPair, LoadBalancer, PairMode, ReplicationMode,
    RetryOn, Scenario, VrrpScript, VrrpState,
};

impl Validator {
    /// Load balancers: their backends (resolved), checks, timeouts, retries and CPU.
    pub(super) fn load_balancers(&mut self, s: &Scenario) {
        for (i, lb) in s.load_balancers.iter().enumerate() {
            let p = format!("load_balancers[{i}]");
            if lb.servers.is_empty() {
                self.err(format!("{p}.servers"), "[]", "at least one server");
            }
            let mut seen = BTreeSet::new();
            let mut servers = Vec::with_capacity(lb.servers.len());
            for (j, srv) in lb.servers.iter().enumerate() {
                let sp = format!("{p}.servers[{j}]");
                let server = self.expect_node(
                    format!("{sp}.server"),
                    &srv.server,
                    &[Kind::Web, Kind::App],
                    "a web server or an app server",
                );
                servers.push(server);
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
                self.backend_server(&sp, srv, lb);
            }
            self.backends.push(servers);
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
            // src/proxy.c `proxy_parse_retry_on()`: at least one keyword; `none` alone.
            if lb.retry_on.is_empty() {
                self.err(
                    format!("{p}.retry_on"),
                    "[]",
                    "at least one retry-on keyword (`none` to never retry)",
                );
            } else if lb.retry_on.len() > 1 && lb.retry_on.contains(&RetryOn::None) {
                self.err(
                    format!("{p}.retry_on"),
                    serde_json::to_string(&lb.retry_on).unwrap_or_default(),
                    "`none` alone (HAProxy: \"'none' keyword only usable alone\")",
                );
            }
            self.at_least(format!("{p}.cpu.cores"), lb.cpu.cores, 1);
            if lb.cpu.cores > 1024 {
                self.err(format!("{p}.cpu.cores"), lb.cpu.cores, "at most 1024 cores");
            }
        }
    }

    /// One `servers[]` entry's HAProxy server options that depend on the backend.
    fn backend_server(&mut self, sp: &str, srv: &BackendServer, lb: &LoadBalancer) {
        // HAProxy parses `slowstart` in milliseconds: 1 ms to 2 147 483 647 ms (~24.8 days).
        let ms = SimDuration::from_millis(1);
        let max = SimDuration::from_millis(2_147_483_647);
        if !srv.slowstart.is_zero() && (srv.slowstart < ms || srv.slowstart > max) {
            self.err(
                format!("{sp}.slowstart"),
                srv.slowstart,
                "0 (off) or a duration between 1ms and 2147483647ms (HAProxy `slowstart`)",
            );
        }
        if !lb.check.enabled && matches!(srv.init_state, InitState::Down | InitState::FullyDown) {
            self.err(
                format!("{sp}.init_state"),
                format!("{:?}", kebab(&srv.init_state)),
                "`none`, `up` or `fully-up` when health checks are off: only a passing check \
                 brings a server that starts DOWN up",
            );
        }
    }

    /// LB pairs: two load balancers each, then the keepalived and the DNS settings.
    pub(super) fn pairs(&mut self, s: &Scenario) {
        let mut used = BTreeSet::new();
        for (i, pair) in s.lb_pairs.iter().enumerate() {
            let p = format!("lb_pairs[{i}]");
            let mut members = [None, None];
            for (j, m) in pair.members.iter().enumerate() {
                members[j] = self.expect_node(
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
            self.pair_members.push(members);
            self.vrrp_settings(&p, pair);
            self.vrrp_script(&p, &pair.vrrp_script);
            self.dns_settings(&p, pair);
        }
    }

    /// keepalived: priorities, version, advert interval, `preempt_delay`, and the initial
    /// states that `nopreempt` and `preempt_delay` need.
    fn vrrp_settings(&mut self, p: &str, pair: &LbPair) {
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
        // VRRPv3 carries the interval in centiseconds (RFC 5798 §5.2.7), v2 in seconds.
        self.period(
            format!("{p}.advert_int"),
            pair.advert_int,
            SimDuration::from_millis(10),
            "VRRP advertises in centiseconds at the finest",
        );
        if pair.mode == PairMode::ActivePassive
            && pair.vrrp_version == 2
            && !pair.advert_int.as_nanos().is_multiple_of(1_000_000_000)
        {
            self.err(
                format!("{p}.advert_int"),
                pair.advert_int,
                "whole seconds with VRRP v2 (sub-second adverts need vrrp_version 3)",
            );
        }
        // keepalived.conf(5) `preempt_delay`: "Range: 0 (default) to 1000".
        if pair.preempt_delay > SimDuration::from_secs(1000) {
            self.err(
                format!("{p}.preempt_delay"),
                pair.preempt_delay,
                "at most 1000s (keepalived preempt_delay)",
            );
        }
        // keepalived ignores `nopreempt` and `preempt_delay` on a MASTER instance (vrrp.c
        // `vrrp_complete_instance` clears them with a warning): say so rather than ignore them.
        let needs_backup = !pair.preempt || !pair.preempt_delay.is_zero();
        if let (Some(states), true) = (pair.initial_state, needs_backup) {
            for (j, st) in states.iter().enumerate() {
                if *st == VrrpState::Master {
                    self.err(
                        format!("{p}.initial_state[{j}]"),
                        "\"MASTER\"",
                        "\"BACKUP\" when preempt is off or preempt_delay is set (keepalived \
                         ignores nopreempt and preempt_delay on a MASTER instance)",
                    );
                }
            }
        }
    }

    /// keepalived `vrrp_script`: interval (milliseconds), rise, fall, weight.
    fn vrrp_script(&mut self, p: &str, script: &VrrpScript) {
        let sp = format!("{p}.vrrp_script");
        self.period(
            format!("{sp}.interval"),
            script.interval,
            SimDuration::from_millis(1),
            "keepalived script intervals are in milliseconds",
        );
        for (key, n) in [("rise", script.rise), ("fall", script.fall)] {
            if !(1..=1000).contains(&n) {
                self.err(format!("{sp}.{key}"), n, "between 1 and 1000 script runs");
            }
        }
        if !(-253..=253).contains(&script.weight) {
            self.err(
                format!("{sp}.weight"),
                script.weight,
                "a weight between -253 and 253 (keepalived vrrp_script)",
            );
        }
    }

    /// DNS (active-active): check interval, failure threshold, checker regions.
    fn dns_settings(&mut self, p: &str, pair: &LbPair) {
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
        // Route 53 has eight health-checking regions (HealthCheckConfig `Regions`).
        if !(1..=8).contains(&pair.dns_checker_regions) {
            self.err(
                format!("{p}.dns_checker_regions"),
                pair.dns_checker_regions,
                "between 1 and 8 checker regions (Route 53 has eight)",
            );
        }
    }

    /// Web servers: workers, service times, the upstream they proxy to (resolved).
    pub(super) fn web_servers(&mut self, s: &Scenario) {
        for (i, w) in s.web_servers.iter().enumerate() {
            let p = format!("web_servers[{i}]");
            self.at_least(format!("{p}.workers"), w.workers, 1);
            self.dist(format!("{p}.static_service"), &w.static_service);
            self.dist(format!("{p}.proxy_service"), &w.proxy_service);
            self.positive(format!("{p}.upstream_timeout"), w.upstream_timeout);
            let upstream = match &w.upstream {
                Some(u) => self
                    .expect_node(
                        format!("{p}.upstream"),
                        u,
                        &[Kind::Lb, Kind::App],
                        "a load balancer or an app server",
                    )
                    .map(Some),
                None => Some(None),
            };
            self.upstreams.push(upstream);
        }
    }

    /// App servers: workers, service times and database calls per class, and the database
    /// cluster they call (resolved; the only cluster when there is one).
    pub(super) fn app_servers(&mut self, s: &Scenario) {
        for (i, a) in s.app_servers.iter().enumerate() {
            let p = format!("app_servers[{i}]");
            self.at_least(format!("{p}.workers"), a.workers, 1);
            for c in Class::ALL {
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
            let cluster = match &a.database {
                Some(db) => match self.expect_ref(
                    format!("{p}.database"),
                    db,
                    &[Kind::Cluster],
                    "a database cluster",
                ) {
                    Some(Named::Cluster(c)) => Some(Some(c)),
                    _ => None,
                },
                // Without any database the app servers are stateless: no database calls.
                None if calls > 0 && s.databases.len() > 1 => {
                    self.err(
                        format!("{p}.database"),
                        format!(
                            "nothing, with {} database clusters defined",
                            s.databases.len()
                        ),
                        "the name of the database cluster this app server calls (db_calls > 0)",
                    );
                    None
                }
                None => Some((s.databases.len() == 1).then_some(0)),
            };
            self.app_clusters.push(cluster);
        }
    }

    /// Database clusters: every node's workers and service times, replication, read
    /// routing and failover settings.
    pub(super) fn databases(&mut self, s: &Scenario) {
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
            self.replication(&p, d);
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
            if d.failover.mode != FailoverMode::None && d.replicas.is_empty() {
                self.err(
                    format!("{p}.failover.mode"),
                    format!("{:?}", d.failover.mode),
                    "\"none\" for a cluster without replicas (nothing to promote)",
                );
            }
            if d.replication.mode == ReplicationMode::SemiSync && d.replicas.is_empty() {
                self.err(
                    format!("{p}.replication.mode"),
                    "\"semi-sync\" without replicas",
                    "a replica to acknowledge writes, or \"async\"",
                );
            }
        }
    }

    /// A cluster's replication settings (`p` is the cluster's path).
    fn replication(&mut self, p: &str, d: &crate::scenario::Database) {
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
        self.positive(
            format!("{p}.replication.net_timeout"),
            d.replication.net_timeout,
        );
        self.positive(
            format!("{p}.replication.connect_retry"),
            d.replication.connect_retry,
        );
        self.positive(
            format!("{p}.failover.rebuild_time"),
            d.failover.rebuild_time,
        );
    }

    /// Network links: two endpoints each (resolved).
    pub(super) fn links(&mut self, s: &Scenario) {
        for (i, l) in s.network.links.iter().enumerate() {
            let a = self.endpoint(format!("network.links[{i}].a"), &l.a);
            let b = self.endpoint(format!("network.links[{i}].b"), &l.b);
            self.links.push((a, b));
        }
    }

    /// A network endpoint: a component with an address of its own (not an LB pair or a
    /// database cluster, which are groups), or the clients.
    pub(super) fn endpoint(&mut self, path: String, name: &str) -> Option<Node> {
        if name == "clients" {
            return Some(Node::Clients);
        }
        match self.names.get(name).copied() {
            Some(
                n @ (Named::Lb(_)
                | Named::Web(_)
                | Named::App(_)
                | Named::DbNode(_)
                | Named::Manager(_)),
            ) => {
                return n.node();
            }
            Some(Named::Pair(_) | Named::Cluster(_) | Named::Firewall(_)) => self.err(
                path,
                format!("{name:?} (an LB pair, a database cluster or a firewall)"),
                "one component's name (a load balancer, web or app server, database node, failover manager) or \"clients\"",
            ),
            None => self.err(
                path,
                format!("{name:?} (no such component)"),
                "a component name or \"clients\"",
            ),
        }
        None
    }

    /// A request must not be able to travel in a circle: LB → web → LB → … (petgraph cycle
    /// detection over the "forwards to" graph).
    pub(super) fn proxy_loops(&mut self, s: &Scenario) {
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

/// A unit enum's value as it is spelled in a scenario file (`"fully-down"`).
fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
