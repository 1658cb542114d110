//! Building scenarios in code: constructors that fill in the same defaults a scenario file
//! gets, and `with_*` methods that read like the topology they describe.
//!
//! ```
//! use infrasim::scenario::{AppServer, Clients, Database, Fault, LoadBalancer, Rate, Scenario};
//! use infrasim::engine::SimDuration;
//!
//! let scenario = Scenario::new("seed-1", SimDuration::from_secs(120), Clients::poisson("lb", Rate::per_second(300.0)))
//!     .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
//!     .with_app_server(AppServer::new("app1"))
//!     .with_app_server(AppServer::new("app2"))
//!     .with_database(Database::new("mysql", "db-primary").with_replica("db-replica"))
//!     .with_fault(Fault::crash("app1", SimDuration::from_secs(60), Some(SimDuration::from_secs(30))));
//! infrasim::scenario::validate(&scenario).unwrap();
//! // The same value a scenario file gives: it round-trips through JSON.
//! let json = serde_json::to_string(&scenario).unwrap();
//! assert_eq!(infrasim::scenario::parse(&json).unwrap(), scenario);
//! ```

use infrasim_engine::SimDuration;

use super::defaults::*;
use super::*;

impl Scenario {
    /// A scenario with the file defaults (seed 1, no warm-up, one replication, 1 s windows,
    /// 99 % window threshold) and no components yet.
    pub fn new(name: impl Into<String>, duration: SimDuration, clients: Clients) -> Self {
        Scenario {
            name: name.into(),
            description: String::new(),
            seed: seed_default(),
            duration,
            warmup: SimDuration::ZERO,
            replications: one_u32(),
            window: window_default(),
            window_threshold: window_threshold_default(),
            clients,
            load_balancers: Vec::new(),
            lb_pairs: Vec::new(),
            web_servers: Vec::new(),
            app_servers: Vec::new(),
            databases: Vec::new(),
            network: Network::default(),
            faults: Vec::new(),
            slos: Vec::new(),
            monitoring: None,
            firewalls: Vec::new(),
            attacks: Vec::new(),
        }
    }
    /// Sets the description.
    pub fn with_description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
    /// Sets the master seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the warm-up.
    pub fn with_warmup(mut self, warmup: SimDuration) -> Self {
        self.warmup = warmup;
        self
    }
    /// Sets the number of replications.
    pub fn with_replications(mut self, n: u32) -> Self {
        self.replications = n;
        self
    }
    /// Sets the window of the time series and of time-based availability.
    pub fn with_window(mut self, window: SimDuration, threshold: f64) -> Self {
        self.window = window;
        self.window_threshold = threshold;
        self
    }
    /// Adds a load balancer.
    pub fn with_load_balancer(mut self, lb: LoadBalancer) -> Self {
        self.load_balancers.push(lb);
        self
    }
    /// Adds an LB pair.
    pub fn with_lb_pair(mut self, pair: LbPair) -> Self {
        self.lb_pairs.push(pair);
        self
    }
    /// Adds a web server.
    pub fn with_web_server(mut self, w: WebServer) -> Self {
        self.web_servers.push(w);
        self
    }
    /// Adds an app server.
    pub fn with_app_server(mut self, a: AppServer) -> Self {
        self.app_servers.push(a);
        self
    }
    /// Adds a database cluster.
    pub fn with_database(mut self, d: Database) -> Self {
        self.databases.push(d);
        self
    }
    /// Adds a fault.
    pub fn with_fault(mut self, f: Fault) -> Self {
        self.faults.push(f);
        self
    }
    /// Adds an SLO check (`"availability>=0.999"`).
    pub fn with_slo(mut self, slo: impl Into<String>) -> Self {
        self.slos.push(slo.into());
        self
    }
    /// Replaces the network latencies.
    pub fn with_network(mut self, n: Network) -> Self {
        self.network = n;
        self
    }
    /// A load balancer by name, to adjust it.
    pub fn load_balancer_mut(&mut self, name: &str) -> Option<&mut LoadBalancer> {
        self.load_balancers.iter_mut().find(|l| l.name == name)
    }
    /// An app server by name, to adjust it.
    pub fn app_server_mut(&mut self, name: &str) -> Option<&mut AppServer> {
        self.app_servers.iter_mut().find(|a| a.name == name)
    }
}

impl Clients {
    /// Poisson arrivals at `rate` into `target`, with the default mix (70 % reads, 20 %
    /// writes, 10 % static), 10 000 uniform keys, 1000 addresses, a 30 s timeout, no retries.
    pub fn poisson(target: impl Into<String>, rate: Rate) -> Self {
        Self::with_arrival(target, Arrival::Poisson { rate })
    }
    /// `users` closed-loop users with exponential think times of mean `think`.
    pub fn closed(target: impl Into<String>, users: u32, think: SimDuration) -> Self {
        Self::with_arrival(
            target,
            Arrival::Closed {
                users,
                think: DistSpec::exponential(think),
            },
        )
    }
    /// Any arrival process, with the default mix, keys, addresses and timeout.
    pub fn with_arrival(target: impl Into<String>, arrival: Arrival) -> Self {
        Clients {
            target: target.into(),
            arrival,
            mix: mix_default(),
            keys: Keys::default(),
            addresses: addresses_default(),
            timeout: client_timeout_default(),
            retries: None,
            connections: None,
        }
    }
    /// Sets the class mix (relative weights).
    pub fn mix(mut self, read: f64, write: f64, r#static: f64) -> Self {
        self.mix = PerClass {
            read,
            write,
            r#static,
        };
        self
    }
    /// Sets the client timeout.
    pub fn timeout(mut self, t: SimDuration) -> Self {
        self.timeout = t;
        self
    }
    /// Gives the clients keep-alive connections.
    pub fn connections(mut self, c: Connections) -> Self {
        self.connections = Some(c);
        self
    }
}

impl BackendServer {
    /// A server in a backend with HAProxy's defaults (weight 1, no maxconn, not backup).
    pub fn new(server: impl Into<String>) -> Self {
        BackendServer {
            server: server.into(),
            weight: weight_default(),
            maxconn: 0,
            maxqueue: 0,
            backup: false,
            init_state: InitState::None,
            slowstart: SimDuration::ZERO,
            on_marked_down: OnMarkedDown::None,
        }
    }
    /// Sets the weight.
    pub fn weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }
    /// Marks it `backup`.
    pub fn backup(mut self) -> Self {
        self.backup = true;
        self
    }
}

impl LoadBalancer {
    /// A load balancer with HAProxy's defaults (roundrobin, checks every 2 s with rise 2 and
    /// fall 3, retries 3, no redispatch, connect 5 s / server 50 s) over these servers.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        servers: impl IntoIterator<Item = S>,
    ) -> Self {
        LoadBalancer {
            name: name.into(),
            balance: balance_default(),
            hash_type: HashTypeSpec::default(),
            draws: draws_default(),
            servers: servers.into_iter().map(BackendServer::new).collect(),
            check: HealthCheck::default(),
            observe: None,
            timeouts: LbTimeouts::default(),
            retries: lb_retries_default(),
            redispatch: false,
            retry_on: retry_on_default(),
            allbackups: false,
            maxconn: 0,
            cpu: LbCpu::default(),
            rate_limit: None,
            tls: None,
        }
    }
    /// Terminates TLS.
    pub fn tls(mut self, t: Tls) -> Self {
        self.tls = Some(t);
        self
    }
    /// Sets the algorithm.
    pub fn balance(mut self, b: Balance) -> Self {
        self.balance = b;
        self
    }
    /// Sets `inter`, `rise` and `fall` of the health checks.
    pub fn check(mut self, inter: SimDuration, rise: u32, fall: u32) -> Self {
        self.check.inter = inter;
        self.check.rise = rise;
        self.check.fall = fall;
        self
    }
    /// Turns `option redispatch` on.
    pub fn redispatch(mut self) -> Self {
        self.redispatch = true;
        self
    }
    /// Adds a server entry.
    pub fn server(mut self, s: BackendServer) -> Self {
        self.servers.push(s);
        self
    }
}

impl LbPair {
    /// A keepalived active-passive pair (advert_int 1 s, priorities 150/100, VRRP v2,
    /// preempt, `chk_haproxy` every 1 s with weight 0); the first member starts as master.
    pub fn active_passive(
        name: impl Into<String>,
        master: impl Into<String>,
        backup: impl Into<String>,
    ) -> Self {
        LbPair {
            name: name.into(),
            mode: PairMode::ActivePassive,
            members: [master.into(), backup.into()],
            advert_int: advert_int_default(),
            priorities: priorities_default(),
            vrrp_version: vrrp_version_default(),
            preempt: true,
            preempt_delay: preempt_delay_default(),
            initial_state: None,
            vrrp_script: VrrpScript::default(),
            dns_ttl: dns_ttl_default(),
            client_failover: false,
            dns_check_interval: dns_check_interval_default(),
            dns_failure_threshold: dns_failure_threshold_default(),
            dns_checker_regions: dns_checker_regions_default(),
        }
    }
    /// Two load balancers behind DNS round robin with this TTL.
    pub fn active_active(
        name: impl Into<String>,
        a: impl Into<String>,
        b: impl Into<String>,
        dns_ttl: SimDuration,
    ) -> Self {
        LbPair {
            mode: PairMode::ActiveActive,
            dns_ttl,
            ..Self::active_passive(name, a, b)
        }
    }
    /// Sets the members' keepalived priorities.
    pub fn priorities(mut self, first: u32, second: u32) -> Self {
        self.priorities = [first, second];
        self
    }
    /// Sets the members' keepalived `state` at start.
    pub fn initial_state(mut self, first: VrrpState, second: VrrpState) -> Self {
        self.initial_state = Some([first, second]);
        self
    }
    /// Sets keepalived's `preempt_delay`.
    pub fn preempt_delay(mut self, d: SimDuration) -> Self {
        self.preempt_delay = d;
        self
    }
    /// Sets the tracked `vrrp_script` (`chk_haproxy`).
    pub fn vrrp_script(mut self, script: VrrpScript) -> Self {
        self.vrrp_script = script;
        self
    }
}

impl VrrpScript {
    /// A `vrrp_script` run every `interval`, `fall` failures to fail and `rise` successes to
    /// recover, adjusting the priority by `weight` (0: FAULT on failure).
    pub fn new(interval: SimDuration, fall: u32, rise: u32, weight: i32) -> Self {
        VrrpScript {
            interval,
            fall,
            rise,
            weight,
        }
    }
}

impl WebServer {
    /// An nginx-like web server serving static files itself and proxying dynamic requests
    /// to `upstream` (a load balancer or an app server), if given.
    pub fn new(name: impl Into<String>, upstream: Option<&str>) -> Self {
        WebServer {
            name: name.into(),
            workers: web_workers_default(),
            queue: web_queue_default(),
            static_service: static_service_default(),
            proxy_service: proxy_service_default(),
            upstream: upstream.map(str::to_string),
            upstream_timeout: proxy_timeout_default(),
        }
    }
}

impl AppServer {
    /// An app server with the defaults (16 workers, queue 128, exponential service 10 ms
    /// reads / 15 ms writes / 1 ms static, 3 DB calls per read and 1 per write).
    pub fn new(name: impl Into<String>) -> Self {
        AppServer {
            name: name.into(),
            workers: app_workers_default(),
            queue: app_queue_default(),
            service: app_service_default(),
            db_calls: db_calls_default(),
            database: None,
            db_timeout: db_timeout_default(),
        }
    }
    /// Sets the number of workers.
    pub fn workers(mut self, n: u32) -> Self {
        self.workers = n;
        self
    }
    /// Sets every class's service time to an exponential with this mean.
    pub fn exponential_service(mut self, mean: SimDuration) -> Self {
        let d = DistSpec::exponential(mean);
        self.service = PerClass {
            read: d.clone(),
            write: d.clone(),
            r#static: d,
        };
        self
    }
    /// Sets the database calls per class.
    pub fn db_calls(mut self, read: u32, write: u32, r#static: u32) -> Self {
        self.db_calls = PerClass {
            read,
            write,
            r#static,
        };
        self
    }
}

impl DbNode {
    /// A database server with the defaults (32 workers, exponential 1 ms reads, 3 ms writes).
    pub fn new(name: impl Into<String>) -> Self {
        DbNode {
            name: name.into(),
            workers: db_workers_default(),
            queue: db_queue_default(),
            read_service: db_read_default(),
            write_service: db_write_default(),
        }
    }
}

impl Database {
    /// A cluster with a primary, no replicas yet, async replication, reads to replicas and
    /// no failover.
    pub fn new(name: impl Into<String>, primary: impl Into<String>) -> Self {
        Database {
            name: name.into(),
            primary: DbNode::new(primary),
            replicas: Vec::new(),
            replication: Replication::default(),
            read_routing: ReadRouting::default(),
            failover: Failover::default(),
            tls: DatabaseTls::default(),
        }
    }
    /// Adds a replica with the node defaults.
    pub fn with_replica(mut self, name: impl Into<String>) -> Self {
        self.replicas.push(DbNode::new(name));
        self
    }
    /// Sets the replication mode.
    pub fn replication_mode(mut self, mode: ReplicationMode) -> Self {
        self.replication.mode = mode;
        self
    }
    /// Sets the failover mode (automatic failover uses orchestrator-like defaults).
    pub fn failover(mut self, mode: FailoverMode) -> Self {
        self.failover.mode = mode;
        self
    }
}

impl Fault {
    /// The fault's kind, as its key in a file (`crash`, `random`, `degrade`, `partition`,
    /// `link_degrade`, `spike`, `set_weight`, `drain`).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::Random { .. } => "random",
            Fault::Degrade { .. } => "degrade",
            Fault::Partition { .. } => "partition",
            Fault::LinkDegrade { .. } => "link_degrade",
            Fault::Spike { .. } => "spike",
            Fault::SetWeight { .. } => "set_weight",
            Fault::Drain { .. } => "drain",
        }
    }

    /// When the fault starts, for the faults that start at a planned time (random failures
    /// have none).
    pub fn starts_at(&self) -> Option<SimDuration> {
        match self {
            Fault::Crash { at, .. }
            | Fault::Degrade { at, .. }
            | Fault::Partition { at, .. }
            | Fault::LinkDegrade { at, .. }
            | Fault::Spike { at, .. }
            | Fault::SetWeight { at, .. }
            | Fault::Drain { at, .. } => Some(*at),
            Fault::Random { .. } => None,
        }
    }

    /// How the fault's repair starts, if a person repairs it (`repair: {"after": …}`).
    pub fn repair(&self) -> Option<&Repair> {
        match self {
            Fault::Crash { repair, .. }
            | Fault::Random { repair, .. }
            | Fault::Degrade { repair, .. } => repair.as_ref(),
            _ => None,
        }
    }

    /// A process crash of `target` at `at`, for `duration` (None: for good).
    pub fn crash(
        target: impl Into<String>,
        at: SimDuration,
        duration: Option<SimDuration>,
    ) -> Self {
        Fault::Crash {
            target: target.into(),
            at,
            duration,
            mode: CrashMode::Process,
            repair: None,
        }
    }
    /// A host crash (nothing answers: peers wait for their timeouts).
    pub fn host_crash(
        target: impl Into<String>,
        at: SimDuration,
        duration: Option<SimDuration>,
    ) -> Self {
        Fault::Crash {
            target: target.into(),
            at,
            duration,
            mode: CrashMode::Host,
            repair: None,
        }
    }
    /// Random failures with exponential times to failure and to repair of these means.
    pub fn random_exponential(
        target: impl Into<String>,
        mtbf: SimDuration,
        mttr: SimDuration,
    ) -> Self {
        Fault::Random {
            target: target.into(),
            ttf: DistSpec::exponential(mtbf),
            ttr: Some(DistSpec::exponential(mttr)),
            mode: CrashMode::Process,
            repair: None,
        }
    }
}
