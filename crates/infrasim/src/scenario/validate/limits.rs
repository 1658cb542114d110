//! The limits that keep a run finite and its tables bounded: how many components, how long
//! any duration may be.

use infrasim_engine::SimDuration;

use super::Validator;
use crate::scenario::{Arrival, Fault, Scenario};

/// Largest duration written in a file: 100 years (36 525 days).
const MAX_DURATION: SimDuration = SimDuration::from_secs(36_525 * 86_400);

/// Most components a scenario may hold (load balancers, web and app servers, database
/// nodes). The network keeps dense tables over every ordered pair of them (latency, extra
/// latency, loss, partitions: ≈ 36 bytes a pair, 600 MB at this size), and a message in
/// flight names its ends by a 16-bit index.
pub const MAX_COMPONENTS: usize = 4096;

impl Validator {
    /// At most [`MAX_COMPONENTS`] components; the error names the first one beyond.
    pub(super) fn component_count(&mut self, s: &Scenario) {
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

    /// Every duration of the file is at most [`MAX_DURATION`], so that sums of them (a
    /// time plus a timeout plus a backoff) stay far from the end of simulated time.
    pub(super) fn durations_bounded(&mut self, s: &Scenario) {
        let mut all = run_durations(s);
        all.extend(component_durations(s));
        all.extend(fault_durations(s));
        for (path, d) in all {
            if d > MAX_DURATION {
                self.err(path, d, "a duration of at most 36525d (100 years)");
            }
        }
    }
}

/// The run's, the workload's and the network's durations, with their paths.
fn run_durations(s: &Scenario) -> Vec<(String, SimDuration)> {
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
    all
}

/// Every component's durations (timeouts, intervals, costs), with their paths, in file order.
fn component_durations(s: &Scenario) -> Vec<(String, SimDuration)> {
    let mut all = Vec::new();
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
        let p = format!("lb_pairs[{i}]");
        all.push((format!("{p}.advert_int"), pair.advert_int));
        all.push((format!("{p}.dns_ttl"), pair.dns_ttl));
        all.push((format!("{p}.dns_check_interval"), pair.dns_check_interval));
        all.push((format!("{p}.preempt_delay"), pair.preempt_delay));
        all.push((
            format!("{p}.vrrp_script.interval"),
            pair.vrrp_script.interval,
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
            (
                format!("{p}.replication.net_timeout"),
                d.replication.net_timeout,
            ),
            (
                format!("{p}.replication.connect_retry"),
                d.replication.connect_retry,
            ),
            (
                format!("{p}.failover.apply_wait_timeout"),
                d.failover.apply_wait_timeout,
            ),
            (
                format!("{p}.failover.recovery_block"),
                d.failover.recovery_block,
            ),
            (
                format!("{p}.failover.rebuild_time"),
                d.failover.rebuild_time,
            ),
        ]);
    }
    for (i, l) in s.network.links.iter().enumerate() {
        all.push((format!("network.links[{i}].latency"), l.latency));
    }
    all
}

/// Every fault's times and durations, with their paths.
fn fault_durations(s: &Scenario) -> Vec<(String, SimDuration)> {
    let mut all = Vec::new();
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
    all
}
