//! The `firewalls` and `attacks` sections: zones and rules resolved, the scenario's own
//! traffic checked against the rules (a rule set that blocks it is an error, not a silent
//! outage), and each attack's target.

use infrasim_engine::SimDuration;

use super::{Kind, Named, Validator};
use crate::scenario::resolve::Node;
use crate::scenario::security::{Match, Ports, ResolvedAttack, ResolvedFirewall, Verdict};
use crate::scenario::{AttackKind, Scenario};

/// At most this many firewalls (a connection's firewalls are a 32-bit mask).
const MAX_FIREWALLS: usize = 32;
/// The fastest flood: a million connections (or SYNs) per second, a run of 10⁸ events per
/// simulated minute and a half.
const MAX_ATTACK_RATE: f64 = 1e6;
/// The most source addresses of one attack.
const MAX_SOURCES: u32 = 100_000_000;

impl Validator {
    /// Firewalls and attacks.
    pub(super) fn security(&mut self, s: &Scenario) {
        if s.firewalls.len() > MAX_FIREWALLS {
            self.err(
                "firewalls",
                format!("{} firewalls", s.firewalls.len()),
                format!("at most {MAX_FIREWALLS} firewalls"),
            );
        }
        self.ports = Ports::of(s, &self.backends);
        for (i, f) in s.firewalls.iter().enumerate() {
            let fw = self.firewall(i, f);
            self.firewalls.push(fw);
        }
        if self.errors.is_empty() {
            self.own_traffic_allowed(s);
        }
        for (i, lb) in s.load_balancers.iter().enumerate() {
            if let Some(r) = &lb.rate_limit {
                let p = format!("load_balancers[{i}].rate_limit");
                self.period(
                    format!("{p}.period"),
                    r.period,
                    SimDuration::from_millis(1),
                    "HAProxy's rates count milliseconds",
                );
                self.at_least(format!("{p}.size"), r.size, 1);
                self.positive(format!("{p}.expire"), r.expire);
                if !(100..=599).contains(&r.deny_status) {
                    self.err(
                        format!("{p}.deny_status"),
                        r.deny_status,
                        "an HTTP status between 100 and 599 (usually 429)",
                    );
                }
            }
        }
        let horizon = s.warmup.saturating_add(s.duration);
        for i in 0..s.attacks.len() {
            let resolved = self.attack(s, i, horizon);
            self.attacks.push(resolved);
        }
    }

    fn firewall(&mut self, i: usize, f: &crate::scenario::Firewall) -> ResolvedFirewall {
        let p = format!("firewalls[{i}]");
        let mut fw = ResolvedFirewall::default();
        let zone_names: Vec<&String> = f.zones.keys().collect();
        for (z, (zone, members)) in f.zones.iter().enumerate() {
            let zp = format!("{p}.zones.{zone}");
            if zone.is_empty() || zone == "internet" {
                self.err(
                    zp.clone(),
                    format!("{zone:?}"),
                    "a zone name other than \"\" and \"internet\" (the implicit zone of the clients and of every component not listed)",
                );
            }
            for (k, m) in members.iter().enumerate() {
                let path = format!("{zp}[{k}]");
                let Some(node) = self.expect_node(
                    path.clone(),
                    m,
                    &[Kind::Lb, Kind::Web, Kind::App, Kind::DbNode],
                    "a load balancer, web server, app server or database node",
                ) else {
                    continue;
                };
                if fw.zone(node).is_some() {
                    self.err(path, format!("{m:?}"), "a component in one zone only");
                } else {
                    fw.zone_of.push((node, z as u32));
                }
            }
        }
        if f.conntrack_max == 0 {
            self.err(format!("{p}.conntrack_max"), 0, "an integer ≥ 1");
        }
        let t = &f.conntrack_timeouts;
        for (name, d) in [
            ("syn_sent", t.syn_sent),
            ("syn_recv", t.syn_recv),
            ("time_wait", t.time_wait),
        ] {
            self.positive(format!("{p}.conntrack_timeouts.{name}"), d);
        }
        for (k, r) in f.rules.iter().enumerate() {
            let rp = format!("{p}.rules[{k}]");
            let from = self.rule_side(&format!("{rp}.from"), &r.from, &zone_names);
            let to = self.rule_side(&format!("{rp}.to"), &r.to, &zone_names);
            if r.port == Some(0) {
                self.err(format!("{rp}.port"), 0, "a port between 1 and 65535");
            }
            if let (Some(from), Some(to)) = (from, to) {
                let allow = r.action == crate::scenario::RuleAction::Allow;
                fw.rules.push((from, to, r.port, allow));
            }
        }
        fw
    }

    /// One side of a rule: `internet`, a zone of the firewall, or a component.
    fn rule_side(&mut self, path: &str, name: &str, zones: &[&String]) -> Option<Match> {
        if name == "internet" {
            return Some(Match::Internet);
        }
        if let Some(z) = zones.iter().position(|z| *z == name) {
            return Some(Match::Zone(z as u32));
        }
        match self.names.get(name).copied().and_then(Named::node) {
            Some(n) => Some(Match::Node(n)),
            None => {
                self.err(
                    path,
                    format!("{name:?}"),
                    "\"internet\", a zone of this firewall, or a component's name",
                );
                None
            }
        }
    }

    /// Every connection the scenario itself makes must be allowed by every firewall it
    /// crosses: clients to the entry point, load balancers to their servers (requests and
    /// health checks), web servers to their upstream, app servers to their database nodes,
    /// database nodes to each other (replication, in either direction after a promotion).
    fn own_traffic_allowed(&mut self, s: &Scenario) {
        let mut flows: Vec<(Node, Node, &'static str)> = Vec::new();
        let entry_members: Vec<Node> = match self.names.get(&s.clients.target).copied() {
            Some(Named::Pair(i)) => self
                .pair_members
                .get(i as usize)
                .map(|m| m.iter().flatten().copied().collect())
                .unwrap_or_default(),
            Some(n) => n.node().into_iter().collect(),
            None => Vec::new(),
        };
        for n in entry_members {
            flows.push((Node::Clients, n, "the clients' requests"));
        }
        for (i, servers) in self.backends.iter().enumerate() {
            for n in servers.iter().flatten() {
                flows.push((Node::Lb(i as u32), *n, "requests and health checks"));
            }
        }
        for (i, up) in self.upstreams.iter().enumerate() {
            if let Some(Some(n)) = up {
                flows.push((Node::Web(i as u32), *n, "proxied requests"));
            }
        }
        let mut first = 0u32;
        let mut ranges = Vec::new();
        for d in &s.databases {
            let n = 1 + d.replicas.len() as u32;
            ranges.push(first..first + n);
            first += n;
        }
        for (i, c) in self.app_clusters.iter().enumerate() {
            if let Some(Some(c)) = c
                && let Some(r) = ranges.get(*c as usize)
            {
                for db in r.clone() {
                    flows.push((Node::App(i as u32), Node::Db(db), "database queries"));
                }
            }
        }
        for r in &ranges {
            for a in r.clone() {
                for b in r.clone() {
                    if a != b {
                        flows.push((Node::Db(a), Node::Db(b), "replication"));
                    }
                }
            }
        }
        let names = crate::scenario::Names::of(s);
        for (i, fw) in self.firewalls.clone().iter().enumerate() {
            for &(a, b, what) in &flows {
                let port = self.ports.port(b);
                if fw.verdict(a, b, port) == Verdict::Denied {
                    self.err(
                        format!("firewalls[{i}].rules"),
                        format!(
                            "no rule allowing {} → {}:{}",
                            names.name(a),
                            names.name(b),
                            port
                        ),
                        format!(
                            "a rule allowing the scenario's own traffic ({what}): without it every such connection is dropped"
                        ),
                    );
                }
            }
        }
    }

    fn attack(&mut self, s: &Scenario, i: usize, horizon: SimDuration) -> Option<ResolvedAttack> {
        let a = &s.attacks[i];
        let p = format!("attacks[{i}]");
        if a.name.is_empty() {
            self.err(format!("{p}.name"), "\"\"", "a non-empty name");
        } else if s.attacks[..i].iter().any(|b| b.name == a.name) {
            self.err(
                format!("{p}.name"),
                format!("{:?}", a.name),
                "a name not used by another attack",
            );
        }
        let rate = a.rate.as_per_second();
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_ATTACK_RATE) {
            self.err(
                format!("{p}.rate"),
                rate,
                format!("a rate above 0 and at most {MAX_ATTACK_RATE}/s"),
            );
        }
        if !(1..=MAX_SOURCES).contains(&a.sources) {
            self.err(
                format!("{p}.sources"),
                a.sources,
                format!("between 1 and {MAX_SOURCES} source addresses"),
            );
        }
        if a.at >= horizon {
            self.err(
                format!("{p}.at"),
                a.at,
                format!("a time before the end of the run ({horizon})"),
            );
        }
        if let Some(d) = a.duration {
            self.positive(format!("{p}.duration"), d);
        }
        let target = match (&a.target, a.kind) {
            (None, AttackKind::ConnectFlood) => {
                self.err(
                    format!("{p}.target"),
                    "none",
                    "the component a connect_flood connects to",
                );
                return None;
            }
            (None, _) => None,
            (Some(t), kind) => {
                let (kinds, what): (&[Kind], &str) = match kind {
                    AttackKind::HttpFlood => (
                        &[Kind::Lb, Kind::Web, Kind::App],
                        "a load balancer, web server or app server",
                    ),
                    _ => (
                        &[Kind::Lb, Kind::Web, Kind::App, Kind::DbNode],
                        "a load balancer, web server, app server or database node",
                    ),
                };
                Some(self.expect_node(format!("{p}.target"), t, kinds, what)?)
            }
        };
        Some(ResolvedAttack { target })
    }
}
