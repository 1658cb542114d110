//! Scenario files: one experiment, as JSON (or built in code with the same types).
//!
//! The types here are what a scenario file deserializes into, field for field, with
//! `deny_unknown_fields` everywhere so a misspelt key is an error, never a silent default.
//! Defaults are the real systems' defaults, each cited where it is declared. [`load`] parses
//! and validates a file; validation collects every problem with its JSON path
//! ([`crate::error::ScenarioError`]) and, for a scenario with none, resolves every name it
//! uses ([`Validated`]): what building the model consumes.

mod builder;
pub(crate) mod check;
mod connection;
mod defaults;
mod dist;
mod monitoring;
mod parse;
mod rate;
pub(crate) mod resolve;
pub(crate) mod security;
mod validate;

use infrasim_engine::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use connection::{Connections, KeyType, Tls, TlsVersion};
pub use dist::DistSpec;
pub use monitoring::{
    DeadMansSwitch, Monitoring, MonitoringCrash, Nagios, OnCall, Prometheus, Repair, RepairAfter,
    Rule, Users,
};
pub use parse::{load, parse};
pub use rate::Rate;
pub use resolve::Validated;
pub(crate) use resolve::{Entry, FaultTarget, Names, Node, Watched};
pub use security::{
    Attack, AttackKind, ConntrackTimeouts, Firewall, FirewallRule, RateLimit, RateTrack, RuleAction,
};
pub use validate::{MAX_COMPONENTS, validate};

/// The JSON Schema of scenario files (draft 2020-12), pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

use defaults::*;

/// One experiment: the topology, the workload, the faults and the SLOs to check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Master seed of every random stream (overridable with `--seed`).
    #[serde(default = "seed_default")]
    pub seed: u64,
    /// Simulated time measured after the warm-up.
    pub duration: SimDuration,
    /// Simulated time before measuring starts (requests offered in it are not counted).
    #[serde(default)]
    pub warmup: SimDuration,
    /// Independent replications (each with its own derived seed).
    #[serde(default = "one_u32")]
    pub replications: u32,
    /// Width of the windows of the time series and of time-based availability.
    #[serde(default = "window_default")]
    pub window: SimDuration,
    /// A window is "available" when its success ratio is at least this.
    #[serde(default = "window_threshold_default")]
    pub window_threshold: f64,
    /// The workload.
    pub clients: Clients,
    /// HAProxy-like load balancers.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    /// Pairs of load balancers: keepalived active-passive, or active-active behind DNS.
    #[serde(default)]
    pub lb_pairs: Vec<LbPair>,
    /// nginx-like web servers (serve static content, proxy dynamic requests).
    #[serde(default)]
    pub web_servers: Vec<WebServer>,
    /// Application servers (workers, accept queue, database calls).
    #[serde(default)]
    pub app_servers: Vec<AppServer>,
    /// MySQL-like primary-replica clusters.
    #[serde(default)]
    pub databases: Vec<Database>,
    /// Latency between components.
    #[serde(default)]
    pub network: Network,
    /// Failures and operations injected during the run.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// SLO assertions checked after the run (`"availability>=0.999"`, `"p99<=250ms"`).
    #[serde(default)]
    pub slos: Vec<String>,
    /// Who notices failures and when their repair starts (absent: every repair runs on
    /// its fault's own timer, as if someone were always watching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// Stateful firewalls between zones (absent: every component is reachable from
    /// anything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<Firewall>,
    /// Floods beside the workload (never counted as offered requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attacks: Vec<Attack>,
}

/// Request classes: what a request does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A dynamic page that reads the database.
    Read,
    /// A dynamic page that writes the database.
    Write,
    /// A static file, served by the web tier alone.
    Static,
}

impl Class {
    /// All classes, in report order.
    pub const ALL: [Class; 3] = [Class::Read, Class::Write, Class::Static];
    /// Dense index (0, 1, 2).
    pub fn index(self) -> usize {
        self as usize
    }
    /// The class's name in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Static => "static",
        }
    }
}

/// A value per request class. All three are required when the field is written, so a
/// forgotten class is an error rather than a silent zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerClass<T> {
    /// For `read` requests.
    pub read: T,
    /// For `write` requests.
    pub write: T,
    /// For `static` requests.
    pub r#static: T,
}

impl<T> PerClass<T> {
    /// The value for `class`.
    pub fn get(&self, class: Class) -> &T {
        match class {
            Class::Read => &self.read,
            Class::Write => &self.write,
            Class::Static => &self.r#static,
        }
    }
}

/// The workload: who sends what, how often, and how patiently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// Where requests enter: a load balancer, an LB pair, a web server or an app server.
    pub target: String,
    /// How requests arrive.
    pub arrival: Arrival,
    /// Relative weights of the request classes.
    #[serde(default = "mix_default")]
    pub mix: PerClass<f64>,
    /// The keys database requests touch.
    #[serde(default)]
    pub keys: Keys,
    /// Number of distinct client source addresses (matters to `source` hashing, DNS caching
    /// and read-your-writes tracking).
    #[serde(default = "addresses_default")]
    pub addresses: u32,
    /// How long a client waits for a response before giving up (browsers and HTTP client
    /// libraries commonly use 30 s).
    #[serde(default = "client_timeout_default")]
    pub timeout: SimDuration,
    /// Client retries after a failure (off by default).
    #[serde(default)]
    pub retries: Option<ClientRetries>,
    /// Keep-alive connections per client address; absent: every request on a connection
    /// of its own, with no handshake modelled (the historical model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<Connections>,
}

/// How requests arrive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// Open loop, Poisson process (exponential inter-arrival times) at a rate.
    Poisson {
        /// Mean arrival rate (`"800/s"`).
        rate: Rate,
    },
    /// Open loop, evenly spaced arrivals.
    Constant {
        /// Arrival rate.
        rate: Rate,
    },
    /// Open loop, Poisson with a piecewise-constant rate: each step's rate holds from its
    /// `at` until the next step (a daily curve, a spike).
    Schedule {
        /// Steps in increasing `at` order; the first must be at `"0s"`.
        steps: Vec<RateStep>,
    },
    /// Closed loop: `users` users, each sending one request, waiting for its outcome, then
    /// thinking.
    Closed {
        /// Number of users.
        users: u32,
        /// Think time between a response and the next request.
        think: DistSpec,
    },
}

/// One step of a rate schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateStep {
    /// When this rate starts (time since the start of the run, warm-up included).
    pub at: SimDuration,
    /// The rate from then on.
    pub rate: Rate,
}

/// The keys database requests touch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Number of distinct keys.
    #[serde(default = "key_count_default")]
    pub count: u32,
    /// Zipf exponent s: key k (1-based) has weight 1/k^s. 0 = uniform.
    #[serde(default)]
    pub zipf: f64,
    /// Fraction of reads that read back the key their client address last wrote (a
    /// session reading its own write), when that write was acknowledged within
    /// `own_write_window`; other reads draw their key as above. 0 (default): none.
    #[serde(default)]
    pub read_own_writes: f64,
    /// How recent a session's own write must be for a read to read it back.
    #[serde(default = "own_write_window_default")]
    pub own_write_window: SimDuration,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            count: key_count_default(),
            zipf: 0.0,
            read_own_writes: 0.0,
            own_write_window: own_write_window_default(),
        }
    }
}

/// Client retries with exponential backoff and jitter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRetries {
    /// Retries after the first attempt.
    #[serde(default = "client_retries_default")]
    pub max: u32,
    /// Backoff before the first retry; doubled at each further retry.
    #[serde(default = "client_backoff_default")]
    pub backoff: SimDuration,
    /// Cap of the backoff.
    #[serde(default = "client_max_backoff_default")]
    pub max_backoff: SimDuration,
    /// Fraction of the backoff drawn uniformly at random (0 = none, 1 = "full jitter").
    #[serde(default = "one_f64")]
    pub jitter: f64,
}

/// HAProxy's `balance` algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// `roundrobin`: smooth weighted round robin, dynamic weights.
    Roundrobin,
    /// `static-rr`: weighted round robin, weights fixed at start.
    StaticRr,
    /// `leastconn`: fewest connections (per weight).
    Leastconn,
    /// `first`: the first server with a free slot.
    First,
    /// `source`: hash of the client address.
    Source,
    /// `random`: random server (see `draws`; HAProxy's default draws is 2).
    Random,
}

/// HAProxy `hash-type`: how hash-based algorithms map keys to servers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HashTypeSpec {
    /// Static map: `hash % total weight` (HAProxy default).
    #[default]
    MapBased,
    /// Consistent hashing ring.
    Consistent,
}

/// A load balancer (HAProxy semantics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Unique name.
    pub name: String,
    /// Balancing algorithm. Default `roundrobin` (HAProxy ≤ 3.2's default; 3.3 changed it to
    /// `random`, see the HAProxy configuration manual, `balance`).
    #[serde(default = "balance_default")]
    pub balance: Balance,
    /// `hash-type` for `source`.
    #[serde(default)]
    pub hash_type: HashTypeSpec,
    /// Draws for `random` (HAProxy default 2: "power of two choices").
    #[serde(default = "draws_default")]
    pub draws: u32,
    /// The backend's servers.
    pub servers: Vec<BackendServer>,
    /// Active health checks.
    #[serde(default)]
    pub check: HealthCheck,
    /// Passive health: observe real traffic (`observe`, `error-limit`, `on-error`).
    #[serde(default)]
    pub observe: Option<Observe>,
    /// HAProxy timeouts.
    #[serde(default)]
    pub timeouts: LbTimeouts,
    /// `retries`: extra connection attempts (HAProxy default 3, `CONN_RETRIES`).
    #[serde(default = "lb_retries_default")]
    pub retries: u32,
    /// `option redispatch`: allow a retry to go to another server (off by default).
    #[serde(default)]
    pub redispatch: bool,
    /// `retry-on`: the failures that are retried, within `retries` (HAProxy configuration
    /// manual, `retry-on`; default `conn-failure` only, src/proxy.c `p->retry_type =
    /// PR_RE_CONN_FAILED`). `none` must be alone.
    #[serde(default = "retry_on_default")]
    pub retry_on: Vec<RetryOn>,
    /// `option allbackups`: use every backup server at once, not only the first.
    #[serde(default)]
    pub allbackups: bool,
    /// Frontend `maxconn`: concurrent client connections; 0 = unlimited.
    #[serde(default)]
    pub maxconn: u32,
    /// The LB node's own processing capacity.
    #[serde(default)]
    pub cpu: LbCpu,
    /// Rate limiting per source address (HAProxy stick table; absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// TLS termination (needs `clients.connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// A server in a backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendServer {
    /// A web or app server's name.
    pub server: String,
    /// `weight` (HAProxy default 1, range 0–256).
    #[serde(default = "weight_default")]
    pub weight: u32,
    /// `maxconn`: concurrent requests; 0 = unlimited (HAProxy default).
    #[serde(default)]
    pub maxconn: u32,
    /// `maxqueue`: requests queued for this server; 0 = unlimited (HAProxy default).
    #[serde(default)]
    pub maxqueue: u32,
    /// `backup`: used only when every non-backup server is down.
    #[serde(default)]
    pub backup: bool,
    /// `init-state`: the state the server is in when the load balancer (re)starts (HAProxy
    /// configuration manual, `init-state`; src/server.c). Default `none`: UP at health
    /// `rise`, so the first failed check marks it DOWN.
    #[serde(default)]
    pub init_state: InitState,
    /// `slowstart`: after the server comes back UP, its effective weight and its `maxconn`
    /// ramp up linearly over this time (HAProxy configuration manual, `slowstart`; src/server.c
    /// `server_recalc_eweight()`, src/queue.c `srv_dynamic_maxconn()`). HAProxy keeps it in
    /// whole seconds, rounded up. Default 0: off, the server takes its full share at once.
    #[serde(default)]
    pub slowstart: SimDuration,
    /// `on-marked-down`: what happens to the server's established sessions when it is
    /// marked DOWN (HAProxy configuration manual, `on-marked-down`). Default: nothing, they
    /// continue.
    #[serde(default)]
    pub on_marked_down: OnMarkedDown,
}

/// HAProxy `on-marked-down` (src/server.c `srv_update_status()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnMarkedDown {
    /// No action (HAProxy default): established sessions continue.
    #[default]
    None,
    /// `shutdown-sessions`: every session on the server is killed when it is marked DOWN
    /// (`srv_shutdown_streams()`), and the requests queued on it are redistributed.
    ShutdownSessions,
}

/// One `retry-on` keyword (HAProxy configuration manual, `retry-on`; src/proxy.c
/// `proxy_parse_retry_on()`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum RetryOn {
    /// Never retry.
    #[serde(rename = "none")]
    None,
    /// The connection failed (refused, reset before acceptance, `timeout connect`).
    #[serde(rename = "conn-failure")]
    ConnFailure,
    /// The server closed the connection after the request was sent, with nothing received.
    #[serde(rename = "empty-response")]
    EmptyResponse,
    /// Something not looking like an HTTP response (never happens in the model).
    #[serde(rename = "junk-response")]
    JunkResponse,
    /// `timeout server` struck while waiting for the response.
    #[serde(rename = "response-timeout")]
    ResponseTimeout,
    /// TLS early data rejected (no TLS in the model: never happens).
    #[serde(rename = "0rtt-rejected")]
    ZeroRttRejected,
    /// HTTP 401.
    #[serde(rename = "401")]
    S401,
    /// HTTP 403.
    #[serde(rename = "403")]
    S403,
    /// HTTP 404.
    #[serde(rename = "404")]
    S404,
    /// HTTP 408.
    #[serde(rename = "408")]
    S408,
    /// HTTP 421.
    #[serde(rename = "421")]
    S421,
    /// HTTP 425.
    #[serde(rename = "425")]
    S425,
    /// HTTP 429.
    #[serde(rename = "429")]
    S429,
    /// HTTP 500.
    #[serde(rename = "500")]
    S500,
    /// HTTP 501.
    #[serde(rename = "501")]
    S501,
    /// HTTP 502.
    #[serde(rename = "502")]
    S502,
    /// HTTP 503.
    #[serde(rename = "503")]
    S503,
    /// HTTP 504.
    #[serde(rename = "504")]
    S504,
    /// `conn-failure`, `empty-response`, `junk-response`, `response-timeout`,
    /// `0rtt-rejected`, 500, 502, 503 and 504.
    #[serde(rename = "all-retryable-errors")]
    AllRetryableErrors,
}

/// HAProxy `init-state` (include/haproxy/server.h `srv_set_init_state()`): a server's state
/// and health counter when the load balancer (re)starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InitState {
    /// HAProxy's default (no `init-state`): UP with health `rise` ("up, but will fall down
    /// at first failure", src/server.c) — the same as `up`.
    #[default]
    None,
    /// UP with full health (`rise + fall − 1`): DOWN after `fall` failed checks.
    FullyUp,
    /// UP with health `rise`: DOWN at the first failed check.
    Up,
    /// DOWN with health `rise − 1`: UP at the first passing check.
    Down,
    /// DOWN with health 0: UP after `rise` passing checks.
    FullyDown,
}

impl InitState {
    /// The (health, up) a server starts with, `rise`/`fall` being its check's.
    pub(crate) fn health(self, rise: u32, fall: u32) -> (u32, bool) {
        match self {
            InitState::None | InitState::Up => (rise, true),
            InitState::FullyUp => (rise + fall - 1, true),
            InitState::Down => (rise - 1, false),
            InitState::FullyDown => (0, false),
        }
    }
}

/// HAProxy active health checks (`check`, `inter`, `fastinter`, `downinter`, `rise`, `fall`,
/// `timeout check`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `check` on every server. Without checks a server is always considered available.
    #[serde(default = "true_default")]
    pub enabled: bool,
    /// `inter` (HAProxy default 2000 ms, `DEF_CHKINTR`).
    #[serde(default = "inter_default")]
    pub inter: SimDuration,
    /// `fastinter`, used while transitionally up or down (default = `inter`).
    #[serde(default)]
    pub fastinter: Option<SimDuration>,
    /// `downinter`, used while fully down (default = `inter`).
    #[serde(default)]
    pub downinter: Option<SimDuration>,
    /// `rise` (default 2, `DEF_RISETIME`).
    #[serde(default = "rise_default")]
    pub rise: u32,
    /// `fall` (default 3, `DEF_FALLTIME`).
    #[serde(default = "fall_default")]
    pub fall: u32,
    /// `timeout check`: extra read timeout; unset ⇒ the whole check is bounded by `inter`.
    #[serde(default)]
    pub timeout: Option<SimDuration>,
    /// `tcp` (a connect succeeds: default) or `http` (`option httpchk`: the server must
    /// answer 2xx/3xx, so a server answering errors fails it).
    #[serde(default)]
    pub kind: CheckKind,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true,
            inter: inter_default(),
            fastinter: None,
            downinter: None,
            rise: rise_default(),
            fall: fall_default(),
            timeout: None,
            kind: CheckKind::Tcp,
        }
    }
}

/// What a health check verifies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Layer 4: the TCP connection is accepted.
    #[default]
    Tcp,
    /// Layer 7: `option httpchk`, 2xx/3xx expected.
    Http,
}

/// Passive health checking (`observe layer4|layer7`, `error-limit`, `on-error`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    /// `layer4` (connection errors) or `layer7` (also 5xx and timeouts).
    #[serde(default = "observe_layer_default")]
    pub layer: ObserveLayer,
    /// `error-limit` (HAProxy default 10, `DEF_HANA_ERRLIMIT`).
    #[serde(default = "error_limit_default")]
    pub error_limit: u32,
    /// `on-error` (HAProxy default `fail-check`).
    #[serde(default)]
    pub on_error: OnError,
}

/// `observe` layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObserveLayer {
    /// Connection failures only.
    Layer4,
    /// Connection failures, 5xx responses and timeouts.
    Layer7,
}

/// `on-error` action after `error-limit` consecutive observed errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Count as one failed check and switch to `fastinter` (HAProxy default).
    #[default]
    FailCheck,
    /// Only switch to `fastinter`.
    Fastinter,
    /// One more failed check marks the server down.
    SuddenDeath,
    /// Mark the server down at once.
    MarkDown,
}

/// HAProxy timeouts. HAProxy has no defaults for connect/server/client (infinite, with a
/// warning); these are the values of the manual's examples (`timeout connect 5000ms`,
/// `timeout client 50000ms`, `timeout server 50000ms`, HAProxy configuration manual §2.10).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LbTimeouts {
    /// `timeout connect`.
    #[serde(default = "timeout_connect_default")]
    pub connect: SimDuration,
    /// `timeout server`: waiting for the server's response.
    #[serde(default = "timeout_server_default")]
    pub server: SimDuration,
    /// `timeout queue`: waiting for a server slot (unset ⇒ `timeout connect`).
    #[serde(default)]
    pub queue: Option<SimDuration>,
    /// `timeout http-keep-alive`: how long an idle client connection is kept open. Unset, it
    /// is `timeout http-request`, else `timeout client` (HAProxy configuration manual),
    /// neither of which is modelled: the LB then never closes an idle connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_keep_alive: Option<SimDuration>,
}

impl Default for LbTimeouts {
    fn default() -> Self {
        LbTimeouts {
            connect: timeout_connect_default(),
            server: timeout_server_default(),
            queue: None,
            http_keep_alive: None,
        }
    }
}

/// The load balancer node's own capacity: each request costs CPU on one of its cores.
/// HAProxy's intro (§3.6) measures ≈ 6 µs per keep-alive request per core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LbCpu {
    /// Cores (HAProxy threads).
    #[serde(default = "one_u32")]
    pub cores: u32,
    /// CPU time per request.
    #[serde(default = "lb_cost_default")]
    pub per_request: SimDuration,
    /// CPU time per client connection (accept and close), charged when
    /// `clients.connections` is set.
    #[serde(default = "lb_conn_cost_default")]
    pub per_connection: SimDuration,
}

impl Default for LbCpu {
    fn default() -> Self {
        LbCpu {
            cores: 1,
            per_request: lb_cost_default(),
            per_connection: lb_conn_cost_default(),
        }
    }
}

/// Two load balancers sharing the entry point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LbPair {
    /// Unique name; clients may target it.
    pub name: String,
    /// `active-passive` (keepalived/VRRP floating IP) or `active-active` (DNS round robin).
    pub mode: PairMode,
    /// The two load balancers; in active-passive the one that starts as master is given by
    /// `initial_state` (by default the first).
    pub members: [String; 2],
    /// keepalived `advert_int` (default 1 s, `VRRP_ADVER_DFL`).
    #[serde(default = "advert_int_default")]
    pub advert_int: SimDuration,
    /// keepalived `priority` of each member (default 100, `VRRP_PRIO_DFL`; the man page
    /// recommends the master 50 above the others, so 150 / 100 here).
    #[serde(default = "priorities_default")]
    pub priorities: [u32; 2],
    /// VRRP version: 2 (IPv4 default) or 3; changes the skew time.
    #[serde(default = "vrrp_version_default")]
    pub vrrp_version: u32,
    /// keepalived `preempt` (default on): a returning higher-priority node takes the VIP back.
    /// Off is keepalived's `nopreempt`, which needs `initial_state` BACKUP on both members.
    #[serde(default = "true_default")]
    pub preempt: bool,
    /// keepalived `preempt_delay` (default 0, at most 1000 s; keepalived.conf(5)): after it
    /// starts or becomes BACKUP, a higher-priority node keeps accepting a lower-priority
    /// master's adverts for this long before it discards them and preempts. Needs
    /// `initial_state` BACKUP on both members (keepalived clears it on a MASTER instance).
    #[serde(default = "preempt_delay_default")]
    pub preempt_delay: SimDuration,
    /// keepalived `state` of each member (`MASTER` or `BACKUP`). Absent: `["MASTER",
    /// "BACKUP"]`, or `["BACKUP", "BACKUP"]` when `preempt` is off or `preempt_delay` is set
    /// ([`LbPair::initial_states`]).
    #[serde(default)]
    pub initial_state: Option<[VrrpState; 2]>,
    /// The `vrrp_script` both members track (the usual `chk_haproxy`: is the local HAProxy
    /// process alive?), with keepalived's defaults.
    #[serde(default)]
    pub vrrp_script: VrrpScript,
    /// Active-active: the DNS record's TTL, for which a client keeps its resolved address.
    #[serde(default = "dns_ttl_default")]
    pub dns_ttl: SimDuration,
    /// Active-active: whether a client that fails to connect retries the other address at
    /// once (browsers do; many HTTP libraries do not).
    #[serde(default)]
    pub client_failover: bool,
    /// Active-active: how often the DNS service health-checks each address (Route 53
    /// `RequestInterval`, default 30 s). A failing address stops being handed out.
    #[serde(default = "dns_check_interval_default")]
    pub dns_check_interval: SimDuration,
    /// Active-active: consecutive failed checks before a checker considers an address
    /// unhealthy, and consecutive passing checks before it considers it healthy again
    /// (Route 53 `FailureThreshold`, default 3: the same threshold both ways).
    #[serde(default = "dns_failure_threshold_default")]
    pub dns_failure_threshold: u32,
    /// Active-active: how many regions' health checkers check each address (1–8; default 3,
    /// the fewest Route 53 lets you choose), staggered across `dns_check_interval`. An
    /// address is handed out while more than 18 % of them consider it healthy.
    #[serde(default = "dns_checker_regions_default")]
    pub dns_checker_regions: u32,
}

impl LbPair {
    /// The members' keepalived `state` at start: `initial_state` if given; otherwise the
    /// first member MASTER and the second BACKUP, or both BACKUP when `preempt` is off or
    /// `preempt_delay` is set — keepalived ignores `nopreempt` and `preempt_delay` on an
    /// instance whose initial state is MASTER (keepalived.conf(5): "For this to work, the
    /// initial state must not be MASTER"; vrrp.c `vrrp_complete_instance` clears them).
    pub fn initial_states(&self) -> [VrrpState; 2] {
        match self.initial_state {
            Some(s) => s,
            None if !self.preempt || !self.preempt_delay.is_zero() => {
                [VrrpState::Backup, VrrpState::Backup]
            }
            None => [VrrpState::Master, VrrpState::Backup],
        }
    }
}

/// keepalived's `state` keyword: the state a VRRP instance is configured to start in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    /// `state MASTER`: the node meant to be master.
    Master,
    /// `state BACKUP`.
    Backup,
}

/// keepalived's `vrrp_script` tracked by a pair's members (`track_script`): the script run
/// every `interval` on each node, here the usual `chk_haproxy` (is the local HAProxy process
/// alive?). Defaults from keepalived: `interval` 1 s (`VRRP_SCRIPT_DI`, vrrp_track.h), `rise`
/// and `fall` 1 (vrrp_data.c `alloc_vrrp_script`), `weight` 0 (`VRRP_SCRIPT_DW`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VrrpScript {
    /// Time between two runs of the script (keepalived `interval`, default 1 s, resolution
    /// 1 ms).
    #[serde(default = "script_interval_default")]
    pub interval: SimDuration,
    /// Consecutive failures before the script is considered failed (`fall`, default 1).
    #[serde(default = "script_fall_default")]
    pub fall: u32,
    /// Consecutive successes before a failed script is considered good again (`rise`,
    /// default 1).
    #[serde(default = "script_rise_default")]
    pub rise: u32,
    /// `weight`, −253…253 (default 0). 0: a failed script puts the instance in FAULT (a
    /// master resigns with a priority-0 advert). Negative: the priority drops by |weight|
    /// while the script fails; positive: it rises by `weight` while the script succeeds.
    #[serde(default = "script_weight_default")]
    pub weight: i32,
}

impl Default for VrrpScript {
    fn default() -> Self {
        VrrpScript {
            interval: script_interval_default(),
            fall: script_fall_default(),
            rise: script_rise_default(),
            weight: script_weight_default(),
        }
    }
}

/// How an LB pair shares the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PairMode {
    /// keepalived: one master holds the virtual IP, the backup takes over.
    ActivePassive,
    /// Both take traffic; clients reach them through DNS round robin.
    ActiveActive,
}

/// An nginx-like web server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebServer {
    /// Unique name.
    pub name: String,
    /// Worker slots (concurrent requests).
    #[serde(default = "web_workers_default")]
    pub workers: u32,
    /// Accept queue (listen backlog); full ⇒ connection refused. nginx's default backlog is
    /// 511 (`listen ... backlog=`, nginx docs).
    #[serde(default = "web_queue_default")]
    pub queue: u32,
    /// Time to serve a static file.
    #[serde(default = "static_service_default")]
    pub static_service: DistSpec,
    /// Time spent proxying a dynamic request (on top of the upstream's time).
    #[serde(default = "proxy_service_default")]
    pub proxy_service: DistSpec,
    /// Where dynamic requests go: a load balancer or an app server.
    #[serde(default)]
    pub upstream: Option<String>,
    /// nginx `proxy_connect_timeout` (default 60 s) and `proxy_read_timeout` (60 s).
    #[serde(default = "proxy_timeout_default")]
    pub upstream_timeout: SimDuration,
}

/// An application server: workers, an accept queue, service times and database calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppServer {
    /// Unique name.
    pub name: String,
    /// Worker threads/processes: requests served at once.
    #[serde(default = "app_workers_default")]
    pub workers: u32,
    /// Accept queue limit; full ⇒ connection refused.
    #[serde(default = "app_queue_default")]
    pub queue: u32,
    /// CPU service time per class (excluding database calls).
    #[serde(default = "app_service_default")]
    pub service: PerClass<DistSpec>,
    /// Database round trips each class makes (e.g. read 3, write 1).
    #[serde(default = "db_calls_default")]
    pub db_calls: PerClass<u32>,
    /// The database cluster it talks to (default: the only one).
    #[serde(default)]
    pub database: Option<String>,
    /// Time the app waits for a database answer before failing the request.
    #[serde(default = "db_timeout_default")]
    pub db_timeout: SimDuration,
}

/// A MySQL-like primary-replica cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Unique name of the cluster.
    pub name: String,
    /// The primary.
    pub primary: DbNode,
    /// The replicas.
    #[serde(default)]
    pub replicas: Vec<DbNode>,
    /// How writes reach the replicas.
    #[serde(default)]
    pub replication: Replication,
    /// Where reads go.
    #[serde(default)]
    pub read_routing: ReadRouting,
    /// What happens when the primary dies.
    #[serde(default)]
    pub failover: Failover,
    /// TLS on the MySQL protocol, as the audit reports it (`audit::hops`); its CPU is not
    /// modelled.
    #[serde(default)]
    pub tls: DatabaseTls,
}

/// TLS on a cluster's MySQL connections: the app servers' and the replicas'.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseTls {
    /// The app servers' `ssl-mode`. Default `preferred`: since MySQL 5.7 the server
    /// generates a self-signed certificate at start-up (`auto_generate_certs` ON) and
    /// libmysql and Connector/J try TLS whenever the server offers it, without verifying the
    /// certificate (MySQL WL#7712; reference manual, "Configuring MySQL to Use Encrypted
    /// Connections"): encrypted, but open to a man in the middle.
    #[serde(default)]
    pub clients: SslMode,
    /// The replicas connect to the primary over TLS (`CHANGE REPLICATION SOURCE TO
    /// SOURCE_SSL=1`). Default false: `SOURCE_SSL` defaults to 0 (reference manual,
    /// CHANGE REPLICATION SOURCE TO), so the binlog stream travels in the clear.
    #[serde(default)]
    pub replication: bool,
}

/// A MySQL client's `--ssl-mode` (reference manual, "Command Options for Encrypted
/// Connections").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    /// No TLS.
    Disabled,
    /// TLS when the server offers it, certificate not verified (the default).
    #[default]
    Preferred,
    /// TLS or no connection, certificate not verified.
    Required,
    /// TLS, the server's certificate verified against the CA.
    VerifyCa,
    /// TLS, the certificate verified and its host name checked.
    VerifyIdentity,
}

/// A database server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbNode {
    /// Unique name.
    pub name: String,
    /// Concurrent queries (connection threads doing work).
    #[serde(default = "db_workers_default")]
    pub workers: u32,
    /// Queries waiting for a worker; full ⇒ error ("too many connections").
    #[serde(default = "db_queue_default")]
    pub queue: u32,
    /// Time to run a read query.
    #[serde(default = "db_read_default")]
    pub read_service: DistSpec,
    /// Time to run and commit a write.
    #[serde(default = "db_write_default")]
    pub write_service: DistSpec,
}

/// Replication from the primary to the replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// `async` (MySQL default) or `semi-sync`.
    #[serde(default)]
    pub mode: ReplicationMode,
    /// `rpl_semi_sync_source_timeout` (MySQL default 10 000 ms): then fall back to async.
    #[serde(default = "semi_sync_timeout_default")]
    pub semi_sync_timeout: SimDuration,
    /// Time for a binlog event to reach a replica's relay log.
    #[serde(default = "replication_delay_default")]
    pub delay: DistSpec,
    /// Time a replica's applier spends applying one write.
    #[serde(default = "apply_default")]
    pub apply: DistSpec,
    /// Applier threads (`replica_parallel_workers`, MySQL default 4 since 8.0.27; 1 = the
    /// classic single SQL thread). Transactions touching the same key never apply in
    /// parallel (writeset dependency tracking) and commit in source order
    /// (`replica_preserve_commit_order` ON).
    #[serde(default = "appliers_default")]
    pub appliers: u32,
    /// `replica_net_timeout` (MySQL default 60 s): a receiver that hears nothing from its
    /// source (no event, no heartbeat) for this long drops the connection and reconnects.
    #[serde(default = "net_timeout_default")]
    pub net_timeout: SimDuration,
    /// `SOURCE_CONNECT_RETRY` (MySQL default 60 s): the receiver's wait between attempts to
    /// reconnect to its source.
    #[serde(default = "connect_retry_default")]
    pub connect_retry: SimDuration,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            mode: ReplicationMode::Async,
            semi_sync_timeout: semi_sync_timeout_default(),
            delay: replication_delay_default(),
            apply: apply_default(),
            appliers: appliers_default(),
            net_timeout: net_timeout_default(),
            connect_retry: connect_retry_default(),
        }
    }
}

/// Replication mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationMode {
    /// The commit returns without waiting for any replica.
    #[default]
    Async,
    /// The commit waits for one replica's acknowledgement (AFTER_SYNC), or for the timeout.
    SemiSync,
}

/// Read routing, as the application or a ProxySQL-like proxy does it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRouting {
    /// The policy.
    #[serde(default)]
    pub policy: ReadPolicy,
    /// ProxySQL `max_replication_lag` for `replicas-lag-bounded`.
    #[serde(default = "max_lag_default")]
    pub max_replication_lag: SimDuration,
    /// ProxySQL `monitor_replication_lag_interval` (default 10 000 ms): how often lag is sampled.
    #[serde(default = "lag_check_default")]
    pub lag_check_interval: SimDuration,
}

impl Default for ReadRouting {
    fn default() -> Self {
        ReadRouting {
            policy: ReadPolicy::Replicas,
            max_replication_lag: max_lag_default(),
            lag_check_interval: lag_check_default(),
        }
    }
}

/// Where reads go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReadPolicy {
    /// Round robin over the live replicas (the primary if none).
    #[default]
    Replicas,
    /// Always the primary.
    Primary,
    /// Replicas whose last sampled lag is within `max_replication_lag`, else the primary.
    ReplicasLagBounded,
}

/// Primary failover.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    /// `none`, `manual` or `automatic`.
    #[serde(default)]
    pub mode: FailoverMode,
    /// Manual: the operator's delay from the crash to the promotion.
    #[serde(default = "operator_delay_default")]
    pub operator_delay: SimDuration,
    /// Automatic: check interval (orchestrator polls every `InstancePollSeconds` = 5 s).
    #[serde(default = "failover_check_default")]
    pub check_interval: SimDuration,
    /// Automatic: consecutive failed checks before declaring the primary dead.
    #[serde(default = "failover_checks_default")]
    pub failed_checks: u32,
    /// Time to promote the chosen replica and repoint the application.
    #[serde(default = "promotion_default")]
    pub promotion: SimDuration,
    /// How the candidate is promoted: `orchestrator` (default) or `mha`.
    #[serde(default)]
    pub policy: PromotionPolicy,
    /// orchestrator `InstanceBulkOperationsWaitTimeoutSeconds` (default 10 s): how long the
    /// candidate may apply its relay log before what is still unapplied is discarded.
    #[serde(default = "apply_wait_default")]
    pub apply_wait_timeout: SimDuration,
    /// orchestrator `RecoveryPeriodBlockSeconds` (default 3 600 s): no second automatic
    /// failover of the cluster within this time of the last one.
    #[serde(default = "recovery_block_default")]
    pub recovery_block: SimDuration,
    /// What keeps a replaced primary that comes back from taking writes.
    #[serde(default)]
    pub fencing: Fencing,
    /// Time to rebuild a replaced primary holding errant transactions into a replica (a
    /// fresh clone of the new primary).
    #[serde(default = "rebuild_time_default")]
    pub rebuild_time: SimDuration,
    /// Automatic: declare the primary dead only once every live replica has lost it too
    /// (its receiver disconnected), as orchestrator's DeadMaster analysis requires; off: the
    /// manager's own checks decide alone.
    /// Absent: on for the `orchestrator` policy (what orchestrator does), off for `mha`
    /// (MHA's master monitor decides alone unless a `secondary_check_script` is set).
    #[serde(default)]
    pub replica_agreement: Option<bool>,
    /// The failover manager's host: a name of its own, placed in the network like a
    /// component (usable in `network.links`, `partition` and `link_degrade`), from which
    /// its checks of the primary travel. Absent: an unnamed host at the default latency.
    #[serde(default)]
    pub manager: Option<String>,
    /// Let a replaced primary rejoin as a replica at once even with errant transactions
    /// (its extra writes stay in its data: divergent keys).
    #[serde(default)]
    pub rejoin_errant: bool,
}

impl Failover {
    /// Whether the manager waits for the replicas' agreement: as set, else on for the
    /// orchestrator-like policy (orchestrator's DeadMaster analysis: "Master cannot be
    /// reached by orchestrator and none of its replicas is replicating",
    /// go/inst/analysis_dao.go) and off for the MHA-like one (MHA's monitor pings the
    /// master alone unless a `secondary_check_script` is configured).
    pub fn agreement(&self) -> bool {
        self.replica_agreement
            .unwrap_or(self.policy == PromotionPolicy::Orchestrator)
    }
}

/// How a failover manager promotes its candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionPolicy {
    /// Wait up to `apply_wait_timeout` for the candidate to apply its relay log, then
    /// discard what is still unapplied (those writes are lost).
    #[default]
    Orchestrator,
    /// Apply every relay log first — and the dead primary's missing binlog when its host is
    /// reachable — however long it takes.
    Mha,
}

/// Fencing of a replaced primary that restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Fencing {
    /// It restarts with `read_only` = ON (`super_read_only`), as MySQL operators configure:
    /// it takes no writes.
    #[default]
    ReadOnly,
    /// STONITH: it is kept down until rebuilt.
    Stonith,
    /// None: it restarts writable, and a ProxySQL-like router that sees `read_only` = 0
    /// sends it writes beside the new primary (split brain).
    None,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            mode: FailoverMode::None,
            operator_delay: operator_delay_default(),
            check_interval: failover_check_default(),
            failed_checks: failover_checks_default(),
            promotion: promotion_default(),
            policy: PromotionPolicy::Orchestrator,
            apply_wait_timeout: apply_wait_default(),
            recovery_block: recovery_block_default(),
            fencing: Fencing::ReadOnly,
            rebuild_time: rebuild_time_default(),
            replica_agreement: None,
            manager: None,
            rejoin_errant: false,
        }
    }
}

/// Failover mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailoverMode {
    /// Writes fail until the primary is repaired.
    #[default]
    None,
    /// An operator promotes a replica after `operator_delay`.
    Manual,
    /// A failover manager detects and promotes (orchestrator-like).
    Automatic,
}

/// Network latency between components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency of every hop not listed in `links` (same-datacentre LAN).
    #[serde(default = "latency_default")]
    pub latency: SimDuration,
    /// One-way latency from the clients to the entry point (the internet).
    #[serde(default = "client_latency_default")]
    pub client_latency: SimDuration,
    /// Links with their own latency.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Linux `net.ipv4.tcp_syncookies` on every host: when a listener's SYN queue is full,
    /// answer SYNs with a cookie instead of dropping them (default 1, on: Linux
    /// Documentation/networking/ip-sysctl.rst).
    #[serde(default = "syncookies_default")]
    pub syncookies: bool,
    /// A listener's SYN queue (half-open connections): the listen backlog, which Linux caps
    /// at `net.core.somaxconn`, 4096 since Linux 5.4 (ip-sysctl.rst; HAProxy's backlog
    /// defaults to the frontend's `maxconn`).
    #[serde(default = "syn_backlog_default")]
    pub syn_backlog: u32,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: latency_default(),
            client_latency: client_latency_default(),
            links: Vec::new(),
            syncookies: syncookies_default(),
            syn_backlog: syn_backlog_default(),
        }
    }
}

fn syncookies_default() -> bool {
    true
}
fn syn_backlog_default() -> u32 {
    4096
}

/// A link between two components with its own one-way latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One end (component name, or `clients`).
    pub a: String,
    /// The other end.
    pub b: String,
    /// One-way latency.
    pub latency: SimDuration,
}

/// A failure or operation injected into the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The component crashes at `at`; it comes back after `duration` (or never).
    Crash {
        /// Component name.
        target: String,
        /// When.
        at: SimDuration,
        /// For how long; absent = for good.
        #[serde(default)]
        duration: Option<SimDuration>,
        /// `process` (the host answers connections with RST: fast errors) or `host` (the
        /// host vanishes: callers wait for their timeouts).
        #[serde(default)]
        mode: CrashMode,
        /// Instead of `duration`: back when a person was paged about it, responded and
        /// fixed it (needs a `monitoring` section).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repair: Option<Repair>,
    },
    /// Random failures through the run: time to failure and time to repair distributions.
    Random {
        /// Component name.
        target: String,
        /// Time to failure (e.g. `{"exponential": {"mean": "30d"}}`).
        ttf: DistSpec,
        /// Time to repair (on its own timer; exactly one of `ttr` and `repair`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttr: Option<DistSpec>,
        /// Crash mode of each failure.
        #[serde(default)]
        mode: CrashMode,
        /// Instead of `ttr`: each failure is back when a person was paged about it,
        /// responded and fixed it (needs a `monitoring` section).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repair: Option<Repair>,
    },
    /// Gray failure: up, but slow (service × `slowdown`) and/or answering errors with
    /// probability `error_rate`.
    Degrade {
        /// Component name.
        target: String,
        /// When.
        at: SimDuration,
        /// For how long; absent = for good.
        #[serde(default)]
        duration: Option<SimDuration>,
        /// Service-time multiplier (1 = normal).
        #[serde(default = "one_f64")]
        slowdown: f64,
        /// Probability that a request is answered with an error.
        #[serde(default)]
        error_rate: f64,
        /// Instead of `duration`: ends when a person was paged about it, responded and
        /// fixed it (needs a `monitoring` section).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repair: Option<Repair>,
    },
    /// Network partition between two components: messages between them are lost.
    Partition {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// When.
        at: SimDuration,
        /// For how long; absent = for good.
        #[serde(default)]
        duration: Option<SimDuration>,
    },
    /// Extra latency and/or packet loss on a link.
    LinkDegrade {
        /// One end.
        a: String,
        /// The other end.
        b: String,
        /// When.
        at: SimDuration,
        /// For how long; absent = for good.
        #[serde(default)]
        duration: Option<SimDuration>,
        /// Added one-way latency.
        #[serde(default)]
        extra_latency: SimDuration,
        /// Probability that a message is lost.
        #[serde(default)]
        loss: f64,
    },
    /// Load spike: the arrival rate × `factor` between `at` and `at + duration`.
    Spike {
        /// When.
        at: SimDuration,
        /// For how long.
        duration: SimDuration,
        /// Rate multiplier.
        factor: f64,
    },
    /// Set a backend server's weight in a load balancer (HAProxy `set weight`).
    SetWeight {
        /// Load balancer name.
        lb: String,
        /// Server name.
        server: String,
        /// When.
        at: SimDuration,
        /// New weight (0–256).
        weight: u32,
    },
    /// Drain a server for maintenance: no new requests from load balancers (HAProxy
    /// `set server … state drain`), then back.
    Drain {
        /// Server name.
        server: String,
        /// When.
        at: SimDuration,
        /// For how long; absent = for good.
        #[serde(default)]
        duration: Option<SimDuration>,
    },
}

/// How a component crashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrashMode {
    /// The process dies, the host stays: connections are refused/reset at once.
    #[default]
    Process,
    /// The host (or its network) vanishes: nothing answers; peers wait for timeouts.
    Host,
}
