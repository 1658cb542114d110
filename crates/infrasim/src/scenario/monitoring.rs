//! The `monitoring` section: who notices a failure, and when its repair starts.
//!
//! A Prometheus-like system (scrapes, alert rules with `for`, Alertmanager's `group_wait`) or
//! a Nagios-like one (check interval, retry interval, attempts until a HARD state); the
//! on-call person it pages (response time); the users who complain when the monitoring does
//! not see it first; a dead man's switch that notices the monitoring itself is down. Faults
//! with `repair: {"after": "detection"}` come back only when a person has been told, has
//! responded and has fixed them. Each real-world default is cited where it is declared.

use infrasim_engine::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DistSpec;

/// Who watches the infrastructure and who repairs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// A Prometheus-like system (scrapes, rules, Alertmanager). At most one of
    /// `prometheus` and `nagios`; neither: nothing watches, users report what hurts them.
    #[serde(default)]
    pub prometheus: Option<Prometheus>,
    /// A Nagios-like system (active service checks, soft and hard states).
    #[serde(default)]
    pub nagios: Option<Nagios>,
    /// The on-call person notifications page.
    #[serde(default)]
    pub on_call: OnCall,
    /// Users who report what hurts them (with or without a monitoring system).
    #[serde(default)]
    pub users: Users,
    /// The monitoring system's own crash (alerts stop while it is down).
    #[serde(default)]
    pub crash: Option<MonitoringCrash>,
    /// An independent heartbeat checker that notices the monitoring is down.
    #[serde(default)]
    pub dead_mans_switch: Option<DeadMansSwitch>,
}

/// Prometheus with Alertmanager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prometheus {
    /// How often each target is scraped. Default 1 m: Prometheus `config/config.go`
    /// `DefaultGlobalConfig.ScrapeInterval` (the shipped sample `prometheus.yml` sets 15 s).
    #[serde(default = "minute")]
    pub scrape_interval: SimDuration,
    /// How long a scrape waits for an answer. Default 10 s: `DefaultGlobalConfig.ScrapeTimeout`.
    #[serde(default = "ten_seconds")]
    pub scrape_timeout: SimDuration,
    /// How often the rules are evaluated. Default 1 m: `DefaultGlobalConfig.EvaluationInterval`.
    #[serde(default = "minute")]
    pub evaluation_interval: SimDuration,
    /// Alertmanager: how long a new alert group waits before its first notification.
    /// Default 30 s: prometheus/alertmanager `dispatch/route.go` `DefaultRouteOpts.GroupWait`.
    #[serde(default = "thirty_seconds")]
    pub group_wait: SimDuration,
    /// Alertmanager: how long before a group with new alerts notifies again. Default 5 m:
    /// `DefaultRouteOpts.GroupInterval`.
    #[serde(default = "five_minutes")]
    pub group_interval: SimDuration,
    /// The alert rules.
    pub rules: Vec<Rule>,
}

/// An alert rule, written the way people write them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// `up == 0` for `for`: a scrape target (every component, or `targets`) is not answering.
    TargetDown {
        /// The components watched (default: every load balancer, web, app and database node).
        #[serde(default)]
        targets: Vec<String>,
        /// How long the condition must hold at every evaluation before the alert fires
        /// (Prometheus `for`; default none: it fires at the first evaluation).
        #[serde(default, rename = "for")]
        hold: SimDuration,
    },
    /// `rate(errors[range]) / rate(requests[range]) > above` for `for`.
    ErrorRatio {
        /// Error ratio that fires (0–1).
        above: f64,
        /// The range of the rate (default 5 m, the common `[5m]`).
        #[serde(default = "five_minutes")]
        range: SimDuration,
        /// Prometheus `for`.
        #[serde(default, rename = "for")]
        hold: SimDuration,
        /// What is counted: `service` (every request as clients see it; the default) or a
        /// web/app server (the answers it gives).
        #[serde(default)]
        scope: Option<String>,
    },
    /// `histogram_quantile(quantile, rate(duration_bucket[range])) > above` for `for`.
    LatencyQuantile {
        /// The quantile (0–1; default 0.99).
        #[serde(default = "p99")]
        quantile: f64,
        /// Latency that fires.
        above: SimDuration,
        /// The range of the rate (default 5 m).
        #[serde(default = "five_minutes")]
        range: SimDuration,
        /// Prometheus `for`.
        #[serde(default, rename = "for")]
        hold: SimDuration,
        /// `service` (default) or a web/app server.
        #[serde(default)]
        scope: Option<String>,
    },
    /// A replica's replication lag (mysqld_exporter's seconds behind source) above `above`.
    ReplicationLag {
        /// Lag that fires.
        above: SimDuration,
        /// Prometheus `for`.
        #[serde(default, rename = "for")]
        hold: SimDuration,
    },
    /// A load balancer sees fewer than `below` servers UP (HAProxy exporter's active servers).
    LbServersUp {
        /// The load balancer.
        lb: String,
        /// Fires when fewer servers than this are UP.
        below: u32,
        /// Prometheus `for`.
        #[serde(default, rename = "for")]
        hold: SimDuration,
    },
}

/// Nagios: an active service check of each component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nagios {
    /// Between checks while OK. Default 10 m: nagioscore
    /// `sample-config/template-object/templates.cfg.in`, template `generic-service`
    /// (`check_interval 10`, `interval_length` 60 s).
    #[serde(default = "ten_minutes")]
    pub check_interval: SimDuration,
    /// Between re-checks in a SOFT problem state. Default 2 m: `generic-service`
    /// `retry_interval 2`.
    #[serde(default = "two_minutes")]
    pub retry_interval: SimDuration,
    /// Consecutive failed checks that make the state HARD (and notify). Default 3:
    /// `generic-service` `max_check_attempts 3`.
    #[serde(default = "three")]
    pub max_check_attempts: u32,
    /// How long a check waits for an unreachable host. Default 10 s: the `check_tcp` /
    /// `check_http` plugins' default timeout (`-t`, 10 s).
    #[serde(default = "ten_seconds")]
    pub check_timeout: SimDuration,
    /// The components checked (default: every one).
    #[serde(default)]
    pub targets: Vec<String>,
}

/// The on-call person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnCall {
    /// From a page to its acknowledgment (the person starts working on it). Default:
    /// exponential with mean 5 min — a modelling assumption (a paged, awake on-call
    /// engineer; common incident-response targets acknowledge a page within 5–15 minutes).
    #[serde(default = "response_default")]
    pub response: DistSpec,
}

impl Default for OnCall {
    fn default() -> Self {
        OnCall {
            response: response_default(),
        }
    }
}

/// Users who report what hurts them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Whether users report at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A minute is bad when more than this fraction of its finished requests failed or
    /// were slow. Default 0.1 (an assumption: one page load in ten failing is noticed).
    #[serde(default = "bad_ratio_default")]
    pub bad_ratio: f64,
    /// A success slower than this counts as bad. Default 10 s (an assumption: users give up
    /// on pages well before their browser's timeout).
    #[serde(default = "slow_default")]
    pub slow: SimDuration,
    /// How long minutes must stay bad before users complain. Default 5 m (an assumption).
    #[serde(default = "five_minutes", rename = "for")]
    pub hold: SimDuration,
    /// From the complaint to a page reaching the on-call person (support ticket, escalation).
    /// Default 30 m (an assumption).
    #[serde(default = "report_delay_default")]
    pub report_delay: SimDuration,
}

impl Default for Users {
    fn default() -> Self {
        Users {
            enabled: true,
            bad_ratio: bad_ratio_default(),
            slow: slow_default(),
            hold: five_minutes(),
            report_delay: report_delay_default(),
        }
    }
}

/// The monitoring system's own crash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringCrash {
    /// When.
    pub at: SimDuration,
    /// For how long (absent: until repaired after detection, or for good).
    #[serde(default)]
    pub duration: Option<SimDuration>,
    /// Repaired when someone notices (the dead man's switch).
    #[serde(default)]
    pub repair: Option<Repair>,
}

/// A heartbeat (Prometheus' always-firing `Watchdog` alert) expected by an external service
/// that pages when it stops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadMansSwitch {
    /// How often the heartbeat is sent. Default 1 m (an assumption: the Watchdog route's
    /// `repeat_interval` set to a minute, as dead-man's-switch services suggest).
    #[serde(default = "minute")]
    pub interval: SimDuration,
    /// Silence after which it pages. Default 5 m (an assumption: a grace of a few periods).
    #[serde(default = "five_minutes")]
    pub timeout: SimDuration,
}

/// When a fault's component comes back: once a person has been told, has responded and has
/// fixed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    /// What starts the repair: `detection` (a page about it reached the on-call person).
    pub after: RepairAfter,
    /// From the acknowledgment to the component back in service.
    pub time: DistSpec,
}

/// What starts a repair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepairAfter {
    /// A person was paged about it and acknowledged.
    Detection,
}

impl Rule {
    /// The rule's name, as alerts show it (Prometheus' `alertname`).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::TargetDown { .. } => "TargetDown",
            Rule::ErrorRatio { .. } => "HighErrorRatio",
            Rule::LatencyQuantile { .. } => "HighLatency",
            Rule::ReplicationLag { .. } => "ReplicationLag",
            Rule::LbServersUp { .. } => "LbServersDown",
        }
    }

    /// Its `for`.
    pub fn hold(&self) -> SimDuration {
        match self {
            Rule::TargetDown { hold, .. }
            | Rule::ErrorRatio { hold, .. }
            | Rule::LatencyQuantile { hold, .. }
            | Rule::ReplicationLag { hold, .. }
            | Rule::LbServersUp { hold, .. } => *hold,
        }
    }

    /// Its key in a file.
    pub fn key(&self) -> &'static str {
        match self {
            Rule::TargetDown { .. } => "target_down",
            Rule::ErrorRatio { .. } => "error_ratio",
            Rule::LatencyQuantile { .. } => "latency_quantile",
            Rule::ReplicationLag { .. } => "replication_lag",
            Rule::LbServersUp { .. } => "lb_servers_up",
        }
    }
}

impl Prometheus {
    /// Prometheus' and Alertmanager's defaults with these rules.
    pub fn defaults(rules: Vec<Rule>) -> Self {
        Prometheus {
            scrape_interval: minute(),
            scrape_timeout: ten_seconds(),
            evaluation_interval: minute(),
            group_wait: thirty_seconds(),
            group_interval: five_minutes(),
            rules,
        }
    }
}

fn minute() -> SimDuration {
    SimDuration::from_secs(60)
}
fn ten_seconds() -> SimDuration {
    SimDuration::from_secs(10)
}
fn thirty_seconds() -> SimDuration {
    SimDuration::from_secs(30)
}
fn five_minutes() -> SimDuration {
    SimDuration::from_secs(300)
}
fn ten_minutes() -> SimDuration {
    SimDuration::from_secs(600)
}
fn two_minutes() -> SimDuration {
    SimDuration::from_secs(120)
}
fn three() -> u32 {
    3
}
fn yes() -> bool {
    true
}
fn p99() -> f64 {
    0.99
}
fn bad_ratio_default() -> f64 {
    0.1
}
fn slow_default() -> SimDuration {
    SimDuration::from_secs(10)
}
fn report_delay_default() -> SimDuration {
    SimDuration::from_secs(1800)
}
fn response_default() -> DistSpec {
    DistSpec::Exponential {
        mean: SimDuration::from_secs(300),
    }
}
