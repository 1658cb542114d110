//! Turns a validated [`Scenario`] into a runnable [`World`]: names resolved to dense indices,
//! distributions built, random streams derived from (seed, component name).

use infrasim_engine::{RngStreams, SimDuration, SimTime};

use crate::balance::{Algorithm, HashType};
use crate::call::Slab;
use crate::client::{ArrivalProcess, Clients, Entry, RateCurve, Zipf};
use crate::database::{Cluster, DbNode, FailoverState};
use crate::error::{Error, ScenarioError};
use crate::fault::{FaultKind, FaultState};
use crate::keepalived::{Pair, Vrrp};
use crate::load_balancer::{Backend, LbConfig, LoadBalancer};
use crate::metrics::Metrics;
use crate::names::Names;
use crate::network::Network;
use crate::scenario::{
    Arrival, Balance, Class, Fault, HashTypeSpec, PairMode, ReplicationMode, Scenario,
};
use crate::server::{AppServer, WebServer, WorkerPool};
use crate::world::{Node, World};

fn invalid(path: &str, found: impl std::fmt::Display, expected: &str) -> Error {
    Error::Invalid(vec![ScenarioError::new(path, found, expected)])
}

/// Builds the world for one replication. The caller has validated the scenario once for all
/// its replications (`run_many`, `run_observed`); the lookups here still fail with an error,
/// never a panic, if it has not.
pub(crate) fn build(s: &Scenario, seed: u64) -> Result<World, Error> {
    let streams = RngStreams::new(seed);
    let mut names = Names::default();
    for (i, lb) in s.load_balancers.iter().enumerate() {
        names.add(&lb.name, Node::Lb(i as u32));
    }
    for (i, w) in s.web_servers.iter().enumerate() {
        names.add(&w.name, Node::Web(i as u32));
    }
    for (i, a) in s.app_servers.iter().enumerate() {
        names.add(&a.name, Node::App(i as u32));
    }
    let mut db_idx = 0u32;
    for d in &s.databases {
        for n in std::iter::once(&d.primary).chain(&d.replicas) {
            names.add(&n.name, Node::Db(db_idx));
            db_idx += 1;
        }
    }
    let node = |name: &str| {
        names
            .node(name)
            .ok_or_else(|| invalid("", format!("{name:?}"), "a component name"))
    };

    let warmup_end = SimTime::ZERO.saturating_add(s.warmup);
    let end = warmup_end.saturating_add(s.duration);

    // ----- network -----
    let counts = [
        s.load_balancers.len() as u32,
        s.web_servers.len() as u32,
        s.app_servers.len() as u32,
        db_idx,
    ];
    let mut net = Network::new(
        counts,
        s.network.latency,
        s.network.client_latency,
        streams.stream("network"),
    );
    for l in &s.network.links {
        net.set_latency(node(&l.a)?, node(&l.b)?, l.latency);
    }

    // ----- load balancers -----
    let mut lbs = Vec::new();
    let mut lb_rngs = Vec::new();
    for lb in &s.load_balancers {
        let algorithm = match lb.balance {
            Balance::Roundrobin => Algorithm::RoundRobin,
            Balance::StaticRr => Algorithm::StaticRr,
            Balance::Leastconn => Algorithm::LeastConn,
            Balance::First => Algorithm::First,
            Balance::Source => Algorithm::Source {
                hash_type: match lb.hash_type {
                    HashTypeSpec::MapBased => HashType::MapBased,
                    HashTypeSpec::Consistent => HashType::Consistent,
                },
            },
            Balance::Random => Algorithm::Random { draws: lb.draws },
        };
        let servers = lb
            .servers
            .iter()
            .map(|b| {
                Ok(Backend {
                    node: node(&b.server)?,
                    weight: b.weight,
                    maxconn: b.maxconn,
                    maxqueue: b.maxqueue,
                    backup: b.backup,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let cfg = LbConfig {
            check: lb.check.clone(),
            observe: lb.observe.clone(),
            timeouts: lb.timeouts.clone(),
            retries: lb.retries,
            redispatch: lb.redispatch,
            maxconn: lb.maxconn,
            cores: lb.cpu.cores,
            cost: lb.cpu.per_request,
            hashing: lb.balance == Balance::Source,
        };
        lbs.push(LoadBalancer::new(cfg, algorithm, lb.allbackups, servers));
        lb_rngs.push(streams.stream(&format!("lb/{}", lb.name)));
    }

    // ----- pairs -----
    let mut pairs = Vec::new();
    for p in &s.lb_pairs {
        pairs.push(Pair {
            members: [node(&p.members[0])?, node(&p.members[1])?],
            active_active: p.mode == PairMode::ActiveActive,
            client_failover: p.client_failover,
            dns_check_interval: p.dns_check_interval,
            dns_failure_threshold: p.dns_failure_threshold,
            dns_failures: [0, 0],
            dns_ttl: p.dns_ttl,
            advert_int: p.advert_int,
            priorities: p.priorities,
            version: p.vrrp_version,
            preempt: p.preempt,
            vip_owner: None,
            state: [Vrrp::Backup, Vrrp::Backup],
            epoch: [0, 0],
        });
    }

    let build_dist = |path: String, d: &crate::scenario::DistSpec| {
        d.build()
            .map_err(|e| invalid(&path, format!("{d:?}"), &e.to_string()))
    };

    // ----- servers -----
    let mut webs = Vec::new();
    for (i, w) in s.web_servers.iter().enumerate() {
        webs.push(WebServer {
            pool: WorkerPool::new(w.workers, w.queue),
            static_service: build_dist(
                format!("web_servers[{i}].static_service"),
                &w.static_service,
            )?,
            proxy_service: build_dist(format!("web_servers[{i}].proxy_service"), &w.proxy_service)?,
            upstream: w.upstream.as_deref().map(node).transpose()?,
            upstream_timeout: w.upstream_timeout,
            rng: streams.stream(&format!("web/{}", w.name)),
            timeouts: Default::default(),
        });
    }
    let cluster_of = |name: Option<&str>| -> Option<u32> {
        match name {
            Some(n) => s
                .databases
                .iter()
                .position(|d| d.name == n)
                .map(|i| i as u32),
            None if s.databases.len() == 1 => Some(0),
            None => None,
        }
    };
    let mut apps = Vec::new();
    for (i, a) in s.app_servers.iter().enumerate() {
        let d = |c: Class| {
            build_dist(
                format!("app_servers[{i}].service.{}", c.name()),
                a.service.get(c),
            )
        };
        apps.push(AppServer {
            pool: WorkerPool::new(a.workers, a.queue),
            service: [d(Class::Read)?, d(Class::Write)?, d(Class::Static)?],
            db_calls: [a.db_calls.read, a.db_calls.write, a.db_calls.r#static],
            cluster: cluster_of(a.database.as_deref()),
            db_timeout: a.db_timeout,
            rng: streams.stream(&format!("app/{}", a.name)),
            timeouts: Default::default(),
        });
    }

    // ----- databases -----
    let keys = s.clients.keys.count as usize;
    let mut dbs = Vec::new();
    let mut clusters = Vec::new();
    for (ci, d) in s.databases.iter().enumerate() {
        let mut nodes = Vec::new();
        for (j, n) in std::iter::once(&d.primary).chain(&d.replicas).enumerate() {
            let p = if j == 0 {
                "primary".to_string()
            } else {
                format!("replicas[{}]", j - 1)
            };
            nodes.push(dbs.len() as u32);
            dbs.push(DbNode {
                cluster: ci as u32,
                pool: WorkerPool::new(n.workers, n.queue),
                read_service: build_dist(
                    format!("databases[{ci}].{p}.read_service"),
                    &n.read_service,
                )?,
                write_service: build_dist(
                    format!("databases[{ci}].{p}.write_service"),
                    &n.write_service,
                )?,
                version: vec![0; keys],
                received: 0,
                relay: Default::default(),
                appliers: vec![None; d.replication.appliers as usize],
                stream_tail: SimTime::ZERO,
                rng: streams.stream(&format!("db/{}", n.name)),
            });
        }
        let n = nodes.len();
        clusters.push(Cluster {
            primary: nodes[0],
            nodes,
            mode: d.replication.mode,
            semi_sync_on: d.replication.mode == ReplicationMode::SemiSync,
            semi_sync_timeout: d.replication.semi_sync_timeout,
            delay: build_dist(
                format!("databases[{ci}].replication.delay"),
                &d.replication.delay,
            )?,
            apply: build_dist(
                format!("databases[{ci}].replication.apply"),
                &d.replication.apply,
            )?,
            policy: d.read_routing.policy,
            max_lag: d.read_routing.max_replication_lag,
            lag_check: d.read_routing.lag_check_interval,
            failover_mode: d.failover.mode,
            operator_delay: d.failover.operator_delay,
            check_interval: d.failover.check_interval,
            failed_checks_needed: d.failover.failed_checks,
            promotion: d.failover.promotion,
            failover: FailoverState::default(),
            seq: 0,
            committed: vec![0; keys],
            acked: Default::default(),
            waiting: Default::default(),
            last_write: vec![(u32::MAX, 0); s.clients.addresses as usize],
            shunned_until: vec![SimTime::ZERO; n],
            sampled_lag: vec![SimDuration::ZERO; n],
            rr: 0,
            rng: streams.stream(&format!("cluster/{}", d.name)),
        });
    }

    // ----- faults -----
    let mut faults = Vec::new();
    let mut spikes = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let rng = streams.stream(&format!("fault/{i}"));
        let (kind, label, target, first_at) = match f {
            Fault::Crash {
                target,
                at,
                duration,
                mode,
            } => (
                FaultKind::Crash {
                    node: node(target)?,
                    mode: *mode,
                    duration: *duration,
                },
                format!("crash ({})", mode_name(*mode)),
                target.clone(),
                Some(*at),
            ),
            Fault::Random {
                target,
                ttf,
                ttr,
                mode,
            } => (
                FaultKind::Random {
                    node: node(target)?,
                    mode: *mode,
                    ttf: build_dist(format!("faults[{i}].random.ttf"), ttf)?,
                    ttr: build_dist(format!("faults[{i}].random.ttr"), ttr)?,
                },
                format!("random failure ({})", mode_name(*mode)),
                target.clone(),
                None,
            ),
            Fault::Degrade {
                target,
                at,
                duration,
                slowdown,
                error_rate,
            } => (
                FaultKind::Degrade {
                    node: node(target)?,
                    duration: *duration,
                    slowdown: *slowdown,
                    error_rate: *error_rate,
                },
                format!("degrade (×{slowdown} service, {error_rate} errors)"),
                target.clone(),
                Some(*at),
            ),
            Fault::Partition { a, b, at, duration } => (
                FaultKind::Partition {
                    a: node(a)?,
                    b: node(b)?,
                    duration: *duration,
                },
                "partition".to_string(),
                format!("{a} | {b}"),
                Some(*at),
            ),
            Fault::LinkDegrade {
                a,
                b,
                at,
                duration,
                extra_latency,
                loss,
            } => (
                FaultKind::LinkDegrade {
                    a: node(a)?,
                    b: node(b)?,
                    duration: *duration,
                    extra: *extra_latency,
                    loss: *loss,
                },
                format!("link degrade (+{extra_latency}, {loss} loss)"),
                format!("{a} - {b}"),
                Some(*at),
            ),
            Fault::Spike {
                at,
                duration,
                factor,
            } => {
                spikes.push((
                    SimTime::ZERO.saturating_add(*at),
                    SimTime::ZERO.saturating_add(*at).saturating_add(*duration),
                    *factor,
                ));
                (
                    FaultKind::Spike {
                        duration: *duration,
                    },
                    format!("load spike ×{factor}"),
                    "clients".to_string(),
                    Some(*at),
                )
            }
            Fault::SetWeight {
                lb,
                server,
                at,
                weight,
            } => {
                let lb_idx = s
                    .load_balancers
                    .iter()
                    .position(|l| &l.name == lb)
                    .unwrap_or(0) as u32;
                (
                    FaultKind::SetWeight {
                        lb: lb_idx,
                        node: node(server)?,
                        weight: *weight,
                    },
                    format!("set weight {weight} on {lb}"),
                    server.clone(),
                    Some(*at),
                )
            }
            Fault::Drain {
                server,
                at,
                duration,
            } => (
                FaultKind::Drain {
                    node: node(server)?,
                    duration: *duration,
                },
                "drain".to_string(),
                server.clone(),
                Some(*at),
            ),
        };
        faults.push(FaultState {
            kind,
            label,
            target,
            first_at: first_at.map(|d| SimTime::ZERO.saturating_add(d)),
            rng,
            active: false,
            owns_down: false,
        });
    }

    // ----- clients -----
    let c = &s.clients;
    let entry = match names.node(&c.target) {
        Some(n) => Entry::Node(n),
        None => Entry::Pair(
            s.lb_pairs
                .iter()
                .position(|p| p.name == c.target)
                .ok_or_else(|| {
                    invalid(
                        "clients.target",
                        format!("{:?}", c.target),
                        "a component name",
                    )
                })? as u32,
        ),
    };
    let (process, base) = match &c.arrival {
        Arrival::Poisson { rate } => (
            ArrivalProcess::Poisson,
            vec![(SimTime::ZERO, rate.as_per_second())],
        ),
        Arrival::Constant { rate } => (
            ArrivalProcess::Constant,
            vec![(SimTime::ZERO, rate.as_per_second())],
        ),
        Arrival::Schedule { steps } => (
            ArrivalProcess::Poisson,
            steps
                .iter()
                .map(|st| (SimTime::ZERO.saturating_add(st.at), st.rate.as_per_second()))
                .collect(),
        ),
        Arrival::Closed { users, think } => (
            ArrivalProcess::Closed {
                users: *users,
                think: build_dist("clients.arrival.closed.think".into(), think)?,
            },
            vec![(SimTime::ZERO, 0.0)],
        ),
    };
    let curve = fold_spikes(&base, &spikes);
    let total = c.mix.read + c.mix.write + c.mix.r#static;
    let mix_cum = [c.mix.read / total, (c.mix.read + c.mix.write) / total, 1.0];

    let clients = Clients {
        entry,
        process,
        curve,
        mix_cum,
        key_count: c.keys.count,
        zipf: (c.keys.zipf > 0.0).then(|| Zipf::new(c.keys.count, c.keys.zipf)),
        addresses: c.addresses,
        timeout: c.timeout,
        retries: c.retries.clone(),
        rng_arrivals: streams.stream("clients/arrivals"),
        rng_requests: streams.stream("clients/requests"),
        rng_retry: streams.stream("clients/retries"),
        timeouts: Default::default(),
        dns: vec![
            (0, SimTime::ZERO);
            if matches!(entry, Entry::Pair(_)) {
                c.addresses as usize
            } else {
                0
            }
        ],
        dns_rr: 0,
    };

    Ok(World {
        requests: Slab::default(),
        calls: Slab::default(),
        clients,
        lbs,
        lb_rngs,
        pairs,
        webs,
        apps,
        dbs,
        clusters,
        net,
        faults,
        occurrences: Vec::new(),
        metrics: Metrics::new(warmup_end, s.window, s.duration),
        observer: None,
        names,
        sub_owner: Vec::new(),
        warmup_end,
        end,
        next_window: 0,
    })
}

fn mode_name(m: crate::scenario::CrashMode) -> &'static str {
    match m {
        crate::scenario::CrashMode::Process => "process",
        crate::scenario::CrashMode::Host => "host",
    }
}

/// Multiplies a piecewise-constant rate by the spikes active at each instant.
fn fold_spikes(base: &[(SimTime, f64)], spikes: &[(SimTime, SimTime, f64)]) -> RateCurve {
    let mut points: Vec<SimTime> = base.iter().map(|b| b.0).collect();
    for (a, b, _) in spikes {
        points.push(*a);
        points.push(*b);
    }
    points.sort_unstable();
    points.dedup();
    let steps = points
        .into_iter()
        .map(|t| {
            let i = base.partition_point(|(s, _)| *s <= t).saturating_sub(1);
            let factor: f64 = spikes
                .iter()
                .filter(|(a, b, _)| *a <= t && t < *b)
                .map(|s| s.2)
                .product();
            (t, base[i].1 * factor)
        })
        .collect();
    RateCurve { steps }
}
