//! Exposure: the components reachable from the internet zone beyond the intended entry
//! point.
//!
//! On the graph, a component is exposed when no firewall drops a connection from the
//! clients' side (the `internet` zone) to its port: without any firewall every component is.
//! The intended entry point (the clients' target, or the members of the LB pair they
//! target) is reachable by design and is listed as such. Each finding is proved by a run:
//! a `connect_flood` straight to the component's port, at twice what it can serve, for the
//! attack window; an exposed component's flood must hurt the clients (a share of their
//! requests lost during the attack, or their p99 latency doubled), a protected one's must
//! not (its SYNs dropped at the firewall). A finding the run contradicts is reported as such.

use serde::{Deserialize, Serialize};

use infrasim_engine::SimDuration;

use crate::error::Error;
use crate::report::Report;
use crate::run::{RunOptions, run_many};
use crate::scenario::security::Verdict;
use crate::scenario::{Attack, AttackKind, Class, Node, Rate, Scenario, validate};

use super::Proof;

/// The share of the clients' requests during the attack that must fail for it to "hurt".
const HURT_LOSS: f64 = 0.05;
/// Or the factor by which their p99 latency must grow.
const HURT_P99: f64 = 2.0;

/// A component's exposure to the internet, and what a flood on its port did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reach {
    /// The component.
    pub component: String,
    /// Its kind (`load_balancer`, `web_server`, `app_server`, `database`).
    pub kind: String,
    /// The port it listens on.
    pub port: u16,
    /// The intended entry point (reachable by design).
    pub entry: bool,
    /// Reachable from the internet zone: no firewall drops a connection to its port.
    pub exposed: bool,
    /// What drops such a connection (the firewalls' names), if anything.
    pub blocked_by: Vec<String>,
    /// The flood's rate in its run (connections per second).
    pub flood_per_s: f64,
    /// Of the flood's connections, served by the component.
    pub flood_served: u64,
    /// Of them, dropped at a firewall.
    pub flood_dropped_at_firewall: u64,
    /// The clients' requests lost during the attack, beyond the baseline, per unit of the
    /// attack's share of the measured time (≈ 1: all of them).
    pub measured_loss: f64,
    /// The clients' p99 latency in the attack's run over the baseline's.
    pub p99_ratio: f64,
    /// `confirmed` when the run agrees (an exposed component's flood hurts, a protected
    /// one's does not), `contradicted` otherwise; absent for the entry point (not run).
    pub proof: Option<Proof>,
}

/// What a component can serve per second, roughly: workers over mean service time.
fn capacity(s: &Scenario, node: Node) -> f64 {
    let per = |workers: u32, mean_s: f64| f64::from(workers) / mean_s.max(1e-6);
    match node {
        Node::Lb(i) => {
            let l = &s.load_balancers[i as usize];
            per(l.cpu.cores, l.cpu.per_request.as_secs_f64())
        }
        Node::Web(i) => {
            let w = &s.web_servers[i as usize];
            per(w.workers, mean(&w.static_service))
        }
        Node::App(i) => {
            let a = &s.app_servers[i as usize];
            per(a.workers, mean(a.service.get(Class::Read)))
        }
        Node::Db(i) => {
            let n = s
                .databases
                .iter()
                .flat_map(|d| std::iter::once(&d.primary).chain(&d.replicas))
                .nth(i as usize)
                .expect("a database node");
            per(n.workers, mean(&n.read_service))
        }
        // Not probed: the manager is not among the components flooded.
        Node::Clients | Node::Manager(_) => 0.0,
    }
}

/// The clients' open-loop rate (its largest step), per second; 0 for closed-loop users.
fn clients_rate(s: &Scenario) -> f64 {
    use crate::scenario::Arrival;
    match &s.clients.arrival {
        Arrival::Poisson { rate } | Arrival::Constant { rate } => rate.as_per_second(),
        Arrival::Schedule { steps } => steps
            .iter()
            .map(|st| st.rate.as_per_second())
            .fold(0.0, f64::max),
        Arrival::Closed { .. } => 0.0,
    }
}

fn mean(d: &crate::scenario::DistSpec) -> f64 {
    d.build().map_or(0.01, |x| x.mean())
}

/// Every component's exposure on the graph (validating `s`), in the scenario's order.
fn classify(s: &Scenario) -> Result<Vec<(Node, Reach)>, Error> {
    let v = validate(s)?;
    let entry: Vec<&str> = match s.lb_pairs.iter().find(|p| p.name == s.clients.target) {
        Some(p) => p.members.iter().map(String::as_str).collect(),
        None => vec![s.clients.target.as_str()],
    };
    let n = &v.names;
    let nodes = (0..n.lb.len() as u32)
        .map(Node::Lb)
        .chain((0..n.web.len() as u32).map(Node::Web))
        .chain((0..n.app.len() as u32).map(Node::App))
        .chain((0..n.db.len() as u32).map(Node::Db));
    Ok(nodes
        .map(|node| {
            let name = n.name(node).to_string();
            let port = v.ports.port(node);
            let blocked_by: Vec<String> = v
                .firewalls
                .iter()
                .zip(&s.firewalls)
                .filter(|(fw, _)| fw.verdict(Node::Clients, node, port) == Verdict::Denied)
                .map(|(_, spec)| spec.name.clone())
                .collect();
            let kind = match node {
                Node::Lb(_) => "load_balancer",
                Node::Web(_) => "web_server",
                Node::App(_) => "app_server",
                _ => "database",
            };
            let reach = Reach {
                entry: entry.contains(&name.as_str()),
                component: name,
                kind: kind.to_string(),
                port,
                exposed: blocked_by.is_empty(),
                blocked_by,
                flood_per_s: 0.0,
                flood_served: 0,
                flood_dropped_at_firewall: 0,
                measured_loss: 0.0,
                p99_ratio: 1.0,
                proof: None,
            };
            (node, reach)
        })
        .collect())
}

/// Each component's exposure, each (but the entry point) proved by a run flooding its port
/// for `window` from `at`, against a baseline without the flood (the scenario's own faults
/// and attacks removed; common random numbers).
pub fn exposure(
    scenario: &Scenario,
    at: SimDuration,
    window: SimDuration,
    opts: &RunOptions,
) -> Result<Vec<Reach>, Error> {
    let mut reach = classify(scenario)?;
    let clean = super::alone(scenario);
    let mut runs = vec![clean.clone()];
    let probed: Vec<usize> = (0..reach.len()).filter(|&k| !reach[k].1.entry).collect();
    for &k in &probed {
        let (node, r) = &mut reach[k];
        let rate = 2.0 * capacity(scenario, *node) + clients_rate(&clean);
        r.flood_per_s = rate.min(1e6);
        let mut s = clean.clone();
        s.attacks.push(Attack {
            name: format!("flood-{}", r.component),
            kind: AttackKind::ConnectFlood,
            target: Some(r.component.clone()),
            rate: Rate::per_second(r.flood_per_s),
            sources: 100,
            at,
            duration: Some(window),
            class: Class::Read,
        });
        runs.push(s);
    }
    let reports = run_many(&runs, opts)?;
    let base = &reports[0];
    let duration = opts.duration.unwrap_or(scenario.duration);
    let share = window.as_secs_f64() / duration.as_secs_f64();
    for (i, &k) in probed.iter().enumerate() {
        let run: &Report = &reports[1 + i];
        let r = &mut reach[k].1;
        let a = run.attacks.values().next();
        r.flood_served = a.map_or(0, |a| a.served);
        r.flood_dropped_at_firewall = a.map_or(0, |a| a.dropped.firewall);
        r.measured_loss = ((base.availability - run.availability) / share).max(0.0);
        r.p99_ratio = if base.latency_ms.p99_ms > 0.0 {
            run.latency_ms.p99_ms / base.latency_ms.p99_ms
        } else {
            1.0
        };
        let hurt = r.measured_loss >= HURT_LOSS || r.p99_ratio >= HURT_P99;
        r.proof = Some(if hurt == r.exposed {
            Proof::Confirmed
        } else {
            Proof::Contradicted
        });
    }
    Ok(reach.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `port` column is the port each component really listens on: 443 for a load
    /// balancer with `tls`, 8443 for an app server it re-encrypts to, 3306 for MySQL; and a
    /// firewall allowing the internet only to 443 exposes nothing on 80.
    #[test]
    fn the_port_column_follows_tls() {
        let s: Scenario = serde_json::from_value(serde_json::json!({
            "name": "ports", "duration": "10s",
            "clients": { "target": "lb", "arrival": { "poisson": { "rate": "10/s" } },
                         "connections": {} },
            "load_balancers": [ { "name": "lb", "servers": [ { "server": "app1" } ],
                                  "tls": { "to_servers": true } } ],
            "app_servers": [ { "name": "app1" } ],
            "databases": [ { "name": "mysql", "primary": { "name": "db" } } ],
            "firewalls": [ { "name": "fw",
                "zones": { "dmz": ["lb"], "internal": ["app1", "db"] },
                "rules": [ { "from": "internet", "to": "lb", "port": 443, "action": "allow" },
                           { "from": "dmz", "to": "internal", "action": "allow" } ] } ]
        }))
        .expect("scenario");
        let found = classify(&s).expect("valid");
        let ports: Vec<(&str, u16, bool)> = found
            .iter()
            .map(|(_, r)| (r.component.as_str(), r.port, r.exposed))
            .collect();
        assert_eq!(
            ports,
            [
                ("lb", 443, true),
                ("app1", 8443, false),
                ("db", 3306, false)
            ]
        );
    }
}
