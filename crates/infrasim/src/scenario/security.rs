//! The `firewalls` and `attacks` sections: stateful packet filters between zones, and flood
//! traffic beside the workload. Their defaults are the real systems', cited where declared.

use std::collections::BTreeMap;

use infrasim_engine::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Class, Rate};

/// A stateful firewall (Linux netfilter with conntrack): the components of each zone sit
/// behind it; every connection between two of its zones crosses it (clients, and the
/// components it does not list, are in the `internet` zone). A device of its own: it can
/// crash (a `crash` fault naming it), and while it is down nothing crosses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// Its name (a fault target).
    pub name: String,
    /// Zone name → the components in it (`internet` is implicit and may not be listed).
    pub zones: BTreeMap<String, Vec<String>>,
    /// Rules, first match wins (iptables order); a connection no rule matches is dropped
    /// (default deny).
    #[serde(default)]
    pub rules: Vec<FirewallRule>,
    /// `nf_conntrack_max`: connections tracked at once; a full table drops new flows
    /// ("nf_conntrack: table full, dropping packet"). Default 262144: the kernel sets it to
    /// `nf_conntrack_buckets`, RAM/16384 clamped to 262144, reached from 4 GiB of RAM
    /// (Linux Documentation/networking/nf_conntrack-sysctl.rst).
    #[serde(default = "conntrack_max_default")]
    pub conntrack_max: u32,
    /// Conntrack timeouts (nf_conntrack-sysctl.rst defaults).
    #[serde(default)]
    pub conntrack_timeouts: ConntrackTimeouts,
}

/// `nf_conntrack_max` default for a host of 4 GiB or more (nf_conntrack-sysctl.rst).
fn conntrack_max_default() -> u32 {
    262_144
}

/// How long conntrack keeps an entry in each TCP state (Linux nf_conntrack-sysctl.rst).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConntrackTimeouts {
    /// `nf_conntrack_tcp_timeout_syn_sent`: a SYN nobody answered (default 120 s).
    #[serde(default = "syn_sent_default")]
    pub syn_sent: SimDuration,
    /// `nf_conntrack_tcp_timeout_syn_recv`: a SYN answered by a SYN-ACK, the handshake not
    /// completed (default 60 s).
    #[serde(default = "syn_recv_default")]
    pub syn_recv: SimDuration,
    /// `nf_conntrack_tcp_timeout_time_wait`: a closed connection (default 120 s).
    #[serde(default = "time_wait_default")]
    pub time_wait: SimDuration,
}

fn syn_sent_default() -> SimDuration {
    SimDuration::from_secs(120)
}
fn syn_recv_default() -> SimDuration {
    SimDuration::from_secs(60)
}
fn time_wait_default() -> SimDuration {
    SimDuration::from_secs(120)
}

impl Default for ConntrackTimeouts {
    fn default() -> Self {
        ConntrackTimeouts {
            syn_sent: syn_sent_default(),
            syn_recv: syn_recv_default(),
            time_wait: time_wait_default(),
        }
    }
}

/// A firewall rule: connections from `from` to `to` (on `port`) are allowed or dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    /// `internet`, a zone of this firewall, or a component.
    pub from: String,
    /// A zone of this firewall, or a component.
    pub to: String,
    /// The destination port (absent: any). Each component listens on its kind's port: load
    /// balancers 443 with `tls` and 80 without; web servers 80, or 443 when a load balancer
    /// re-encrypts to them (`tls.to_servers`); app servers 8080, or 8443 re-encrypted to;
    /// database nodes 3306.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `allow` or `deny`.
    pub action: RuleAction,
}

/// What a rule does with a matching connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Let it through (iptables `ACCEPT`).
    Allow,
    /// Drop its SYN silently (iptables `DROP`): the sender retransmits it.
    Deny,
}

/// A flood beside the workload. Its traffic uses the same resources as the clients' and is
/// never counted as offered requests; the report's `attacks` section counts it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attack {
    /// Its name (the key of its random stream and of its report entry).
    pub name: String,
    /// `syn_flood`, `http_flood` or `connect_flood`.
    pub kind: AttackKind,
    /// What it aims at: a component name; absent, the clients' entry point (`syn_flood` and
    /// `http_flood` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Poisson rate of SYNs (`syn_flood`) or connections (the others).
    pub rate: Rate,
    /// Distinct source addresses, drawn uniformly per connection.
    #[serde(default = "one")]
    pub sources: u32,
    /// When it starts.
    #[serde(default)]
    pub at: SimDuration,
    /// How long it lasts (absent: until the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// What each request asks for (`http_flood`, and `connect_flood` to a web or app
    /// server; a `connect_flood` to a database node sends a read query). Default `read`.
    #[serde(default = "read")]
    pub class: Class,
}

fn one() -> u32 {
    1
}
fn read() -> Class {
    Class::Read
}

/// The kinds of flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Spoofed SYNs that never complete the handshake (fills SYN queues and conntrack).
    SynFlood,
    /// Complete HTTP requests through the entry point, like the clients'.
    HttpFlood,
    /// Connections straight to a component's port, each carrying one request (an HTTP
    /// request to a web or app server, a read query to a database node).
    ConnectFlood,
}

impl AttackKind {
    /// Its name in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::SynFlood => "syn_flood",
            AttackKind::HttpFlood => "http_flood",
            AttackKind::ConnectFlood => "connect_flood",
        }
    }
}

/// HTTP (IANA `http`): a load balancer without `tls`, a web server spoken to in clear.
pub(crate) const HTTP: u16 = 80;
/// HTTPS (IANA `https`, RFC 2818): a load balancer terminating TLS (HAProxy
/// `bind :443 ssl crt ...`), a web server its load balancer re-encrypts to (nginx
/// `listen 443 ssl`).
pub(crate) const HTTPS: u16 = 443;
/// An application server's HTTP connector: 8080 (IANA `http-alt`; Tomcat's default
/// connector in conf/server.xml, and most application servers').
pub(crate) const APP_HTTP: u16 = 8080;
/// An application server's TLS connector: 8443 (Tomcat's SSL/TLS connector in
/// conf/server.xml and its SSL How-To, `<Connector port="8443" ... SSLEnabled="true">`;
/// Jetty's and WildFly's default HTTPS port too).
pub(crate) const APP_HTTPS: u16 = 8443;
/// MySQL's `port` default (MySQL Reference Manual, server system variables).
pub(crate) const MYSQL: u16 = 3306;
/// A failover manager's HTTP API: orchestrator's `ListenAddress` default `:3000`.
pub(crate) const MANAGER: u16 = 3000;

/// The port each component listens on, resolved once at validation from the scenario: a
/// load balancer serves HTTPS on [`HTTPS`] with `tls`, HTTP on [`HTTP`] without; a web or
/// app server that a load balancer re-encrypts to (`tls.to_servers`) listens on its TLS
/// port ([`HTTPS`], [`APP_HTTPS`]), any other on its HTTP port ([`HTTP`], [`APP_HTTP`]);
/// database nodes on [`MYSQL`], failover managers on [`MANAGER`]. A server that one load
/// balancer re-encrypts to and another reaches in clear is given its TLS port (one port per
/// component: `docs/models.md` §15b).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ports {
    /// Each load balancer's port, in scenario order.
    pub lb: Vec<u16>,
    /// Each web server's.
    pub web: Vec<u16>,
    /// Each app server's.
    pub app: Vec<u16>,
}

impl Ports {
    /// The ports of `s`'s components; `backends` are each load balancer's servers as
    /// resolved (an unresolved one is skipped: validation reports it).
    pub(crate) fn of(s: &super::Scenario, backends: &[Vec<Option<super::Node>>]) -> Ports {
        let mut ports = Ports {
            lb: s
                .load_balancers
                .iter()
                .map(|lb| if lb.tls.is_some() { HTTPS } else { HTTP })
                .collect(),
            web: vec![HTTP; s.web_servers.len()],
            app: vec![APP_HTTP; s.app_servers.len()],
        };
        for (lb, servers) in s.load_balancers.iter().zip(backends) {
            if !lb.tls.as_ref().is_some_and(|t| t.to_servers) {
                continue;
            }
            for node in servers.iter().flatten() {
                match *node {
                    super::Node::Web(i) => ports.web[i as usize] = HTTPS,
                    super::Node::App(i) => ports.app[i as usize] = APP_HTTPS,
                    _ => {}
                }
            }
        }
        ports
    }

    /// The port `node` listens on.
    pub(crate) fn port(&self, node: super::Node) -> u16 {
        let at = |v: &[u16], i: u32| v.get(i as usize).copied().unwrap_or(0);
        match node {
            super::Node::Lb(i) => at(&self.lb, i),
            super::Node::Web(i) => at(&self.web, i),
            super::Node::App(i) => at(&self.app, i),
            super::Node::Db(_) => MYSQL,
            super::Node::Manager(_) => MANAGER,
            super::Node::Clients => 0,
        }
    }
}

/// What one side of a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// The `internet` zone: the clients and every component the firewall does not list.
    Internet,
    /// A zone of the firewall, by index in its `zones` (name order).
    Zone(u32),
    /// One component.
    Node(super::Node),
}

/// A firewall as validation resolved it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResolvedFirewall {
    /// Each listed component and its zone (index in name order; `internet` unlisted).
    pub zone_of: Vec<(super::Node, u32)>,
    /// The rules: from, to, port, allow.
    pub rules: Vec<(Match, Match, Option<u16>, bool)>,
}

/// A firewall's verdict on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The connection does not cross this firewall (both ends in one zone).
    NotCrossed,
    /// It crosses and a rule allows it.
    Allowed,
    /// It crosses and is dropped (a `deny` rule, or no rule: default deny).
    Denied,
}

impl ResolvedFirewall {
    /// The zone of `node` (`None`: internet).
    pub(crate) fn zone(&self, node: super::Node) -> Option<u32> {
        self.zone_of.iter().find(|(n, _)| *n == node).map(|x| x.1)
    }

    /// The name of `node`'s zone in `spec` (this firewall's section): `internet` when the
    /// firewall does not list it.
    pub(crate) fn zone_name<'s>(&self, node: super::Node, spec: &'s Firewall) -> &'s str {
        self.zone(node)
            .and_then(|z| spec.zones.keys().nth(z as usize))
            .map_or("internet", String::as_str)
    }

    /// What this firewall does with a connection from `a` to `b`'s `port`.
    pub(crate) fn verdict(&self, a: super::Node, b: super::Node, port: u16) -> Verdict {
        self.verdict_in(a, self.zone(a), b, self.zone(b), port)
    }

    /// [`ResolvedFirewall::verdict`] with the ends' zones already looked up.
    pub(crate) fn verdict_in(
        &self,
        a: super::Node,
        za: Option<u32>,
        b: super::Node,
        zb: Option<u32>,
        port: u16,
    ) -> Verdict {
        if za == zb {
            return Verdict::NotCrossed;
        }
        let matches = |m: Match, node: super::Node, zone: Option<u32>| match m {
            Match::Internet => zone.is_none(),
            Match::Zone(z) => zone == Some(z),
            Match::Node(n) => n == node,
        };
        for &(from, to, p, allow) in &self.rules {
            if matches(from, a, za) && matches(to, b, zb) && p.is_none_or(|p| p == port) {
                return if allow {
                    Verdict::Allowed
                } else {
                    Verdict::Denied
                };
            }
        }
        Verdict::Denied
    }
}

/// An attack as validation resolved it: its target (`None`: the clients' entry point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedAttack {
    pub target: Option<super::Node>,
}

/// Rate limiting at a load balancer, HAProxy stick-table style (`model::load_balancer::
/// stick_table`): per source address, a request or connection rate over a period, above
/// which requests are denied (429) or connections rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// `http_req_rate` (deny requests, `http-request deny`) or `conn_rate` (reject
    /// connections, `tcp-request connection reject`).
    pub track: RateTrack,
    /// The period of the rate (HAProxy `http_req_rate(<period>)`), e.g. `"10s"`.
    pub period: SimDuration,
    /// Deny above this many events per period (`gt N`).
    pub limit: u32,
    /// Entries in the table (HAProxy `size`; default 1m = 1 048 576).
    #[serde(default = "table_size_default")]
    pub size: u32,
    /// An entry untouched this long is gone (HAProxy `expire`; default 5m, the manual's
    /// rate-limiting examples).
    #[serde(default = "table_expire_default")]
    pub expire: SimDuration,
    /// The status of a denied request: 429 (`deny_status 429`, the usual configuration;
    /// HAProxy's `deny` answers 403 without it). Reported, not otherwise used.
    #[serde(default = "deny_status_default")]
    pub deny_status: u16,
}

fn table_size_default() -> u32 {
    1 << 20
}
fn table_expire_default() -> SimDuration {
    SimDuration::from_secs(300)
}
fn deny_status_default() -> u16 {
    429
}

/// What a stick table counts per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateTrack {
    /// HTTP requests (`sc_http_req_rate`): excess requests answered 429.
    HttpReqRate,
    /// New connections (`src_conn_rate`): excess connections rejected at accept.
    ConnRate,
}
