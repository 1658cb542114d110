//! The hops that carry user data, and whether they carry it encrypted.
//!
//! A request's data crosses up to five kinds of hop: the clients to the entry point (HTTP,
//! or HTTPS when the load balancer terminates TLS: HAProxy `bind :443 ssl`), the load
//! balancer to its servers (HTTP, or TLS again with `tls.to_servers`: HAProxy `server ...
//! ssl`), a web server to its upstream (nginx `proxy_pass http://`: no TLS option is
//! modelled, so always in the clear), an app server to its database (the MySQL protocol, over
//! TLS as `databases[].tls.clients` says: by default `PREFERRED`, encrypted with the server's
//! self-signed certificate, not verified), and the primary to its replicas (the binlog
//! stream, in the clear unless `tls.replication`: `SOURCE_SSL` defaults to 0). The graph says which hop is plain and which zones it joins
//! (from the firewalls: the clients and every component a firewall does not list are in its
//! `internet` zone); the baseline run proves the finding by what the hop carried in the
//! clear. A hop that carries user data across the internet unencrypted is the finding that
//! matters most; a plain hop inside a zone is reported as what remains.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::report::Report;
use crate::scenario::security::Verdict;
use crate::scenario::{Node, Scenario, SslMode, TlsVersion, Validated, validate};

use super::Proof;
use super::topology::{cluster_nodes, entry_members};

/// One hop of user data, what protects it, and what it carried in the baseline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// Where the data comes from (`clients`, or the components, comma-separated).
    pub from: String,
    /// Where it goes (the components, comma-separated).
    pub to: String,
    /// What travels on it: `HTTP requests`, `HTTP to the servers`, `HTTP to the upstream`,
    /// `MySQL queries` or `MySQL replication`.
    pub carries: String,
    /// The protocol as configured: `HTTPS (TLS 1.3)`, `HTTP`, `MySQL over TLS (PREFERRED:
    /// certificate not verified)`, `MySQL binlog (SOURCE_SSL=0)`…
    pub protocol: String,
    /// Whether the data is encrypted on this hop.
    pub encrypted: bool,
    /// The zones it joins, one entry per firewall it crosses (`internet → dmz (fw)`), or
    /// the zone both ends share; empty without firewalls.
    pub zones: Vec<String>,
    /// Whether one end is on the internet: the clients, or a component no firewall lists
    /// when there are firewalls.
    pub crosses_internet: bool,
    /// Requests (or queries, or replicated write transactions) the hop carried in the
    /// baseline run: for the entry hop the load balancer's served requests, for a load
    /// balancer's hop the requests it routed, for the web servers' the upstream's served, for
    /// the database the nodes' served queries, for replication the acknowledged writes (with
    /// several clusters, the primary's served queries).
    pub carried: u64,
    /// For a plain hop: `confirmed` when the baseline run carried data on it in the clear;
    /// absent when it carried nothing (a standby's hop) or is encrypted.
    pub proof: Option<Proof>,
}

impl Hop {
    /// User data in the clear across the internet: the finding that matters most.
    pub fn plain_on_the_internet(&self) -> bool {
        !self.encrypted && self.crosses_internet
    }
}

/// Every hop of `s` that carries user data, in the request's order, with what the baseline
/// run `base` of `s` carried on it.
pub fn hops(s: &Scenario, base: &Report) -> Result<Vec<Hop>, Error> {
    let v = validate(s)?;
    let n = &v.names;
    let served = |name: &str| base.components.get(name).map_or(0, |c| c.served);
    let mut out = Vec::new();
    // The clients to each entry member: HTTPS where a load balancer terminates TLS, plain
    // HTTP otherwise (a server the clients target directly included).
    for e in entry_members(&v) {
        let tls = match e {
            Node::Lb(i) => v.scenario.load_balancers[i as usize].tls.as_ref(),
            _ => None,
        };
        out.push(hop(
            &v,
            &[(Node::Clients, e)],
            "HTTP requests",
            tls.map_or("HTTP".to_string(), |t| {
                format!("HTTPS (TLS {})", version(t.version))
            }),
            tls.is_some(),
            served(n.name(e)),
        ));
    }
    for (l, servers) in v.backends.iter().enumerate() {
        let lb = &v.scenario.load_balancers[l];
        let reencrypts = lb.tls.as_ref().is_some_and(|t| t.to_servers);
        let arcs: Vec<(Node, Node)> = servers.iter().map(|&b| (Node::Lb(l as u32), b)).collect();
        let routed = base
            .components
            .get(&lb.name)
            .map_or(0, |c| c.routed.values().sum());
        out.push(hop(
            &v,
            &arcs,
            "HTTP to the servers",
            if reencrypts {
                "HTTPS (re-encrypted)".to_string()
            } else {
                "HTTP".to_string()
            },
            reencrypts,
            routed,
        ));
    }
    // The web servers that share an upstream are one hop (what the upstream served is
    // what they sent it together).
    let mut upstreams: Vec<Node> = Vec::new();
    for up in v.upstreams.iter().flatten() {
        if !upstreams.contains(up) {
            upstreams.push(*up);
        }
    }
    for up in upstreams {
        let webs: Vec<Node> = (0..v.upstreams.len() as u32)
            .filter(|&w| v.upstreams[w as usize] == Some(up))
            .map(Node::Web)
            .collect();
        let arcs: Vec<(Node, Node)> = webs.iter().map(|&w| (w, up)).collect();
        out.push(hop(
            &v,
            &arcs,
            "HTTP to the upstream",
            "HTTP".to_string(),
            false,
            served(n.name(up)),
        ));
    }
    let clusters = v.scenario.databases.len();
    for (c, d) in v.scenario.databases.iter().enumerate() {
        let nodes = cluster_nodes(&v, c as u32);
        let apps: Vec<Node> = (0..v.scenario.app_servers.len() as u32)
            .filter(|&a| v.app_clusters[a as usize] == Some(c as u32))
            .map(Node::App)
            .collect();
        if apps.is_empty() {
            // Nobody calls this cluster: it carries no user data.
            continue;
        }
        let arcs: Vec<(Node, Node)> = apps
            .iter()
            .flat_map(|&a| nodes.iter().map(move |&db| (a, db)))
            .collect();
        let queries = nodes.iter().map(|&x| served(n.name(x))).sum();
        let (protocol, encrypted) = match d.tls.clients {
            SslMode::Disabled => ("MySQL (ssl-mode DISABLED)", false),
            SslMode::Preferred => ("MySQL over TLS (PREFERRED: certificate not verified)", true),
            SslMode::Required => ("MySQL over TLS (REQUIRED: certificate not verified)", true),
            SslMode::VerifyCa => ("MySQL over TLS (VERIFY_CA)", true),
            SslMode::VerifyIdentity => ("MySQL over TLS (VERIFY_IDENTITY)", true),
        };
        out.push(hop(
            &v,
            &arcs,
            "MySQL queries",
            protocol.to_string(),
            encrypted,
            queries,
        ));
        if nodes.len() > 1 {
            let arcs: Vec<(Node, Node)> = nodes[1..].iter().map(|&r| (nodes[0], r)).collect();
            // The binlog carries the acknowledged writes; with several clusters their split
            // is not counted, and the primary's served queries (reads included) bound it.
            let writes = if clusters == 1 {
                base.classes.get("write").map_or(0, |c| c.succeeded)
            } else {
                served(n.name(nodes[0]))
            };
            let (protocol, encrypted) = if d.tls.replication {
                ("MySQL binlog over TLS (SOURCE_SSL=1)", true)
            } else {
                ("MySQL binlog (SOURCE_SSL=0)", false)
            };
            out.push(hop(
                &v,
                &arcs,
                "MySQL replication",
                protocol.to_string(),
                encrypted,
                writes,
            ));
        }
    }
    Ok(out)
}

fn version(t: TlsVersion) -> &'static str {
    match t {
        TlsVersion::V12 => "1.2",
        TlsVersion::V13 => "1.3",
    }
}

/// A hop over `arcs` (all from one side to another): its sides named from them, its zones
/// from the firewalls.
fn hop(
    v: &Validated<'_>,
    arcs: &[(Node, Node)],
    carries: &str,
    protocol: String,
    encrypted: bool,
    carried: u64,
) -> Hop {
    // Each side: its ends in order of first appearance (`clients`, or component names).
    let side = |end: fn(&(Node, Node)) -> Node| {
        let mut seen: Vec<Node> = Vec::new();
        for x in arcs.iter().map(end) {
            if !seen.contains(&x) {
                seen.push(x);
            }
        }
        let names: Vec<&str> = seen.iter().map(|&x| v.names.name(x)).collect();
        names.join(", ")
    };
    // On the internet side: the clients, or (with firewalls) a component no firewall lists.
    let outside = |x: Node| {
        x == Node::Clients
            || (!v.firewalls.is_empty() && v.firewalls.iter().all(|fw| fw.zone(x).is_none()))
    };
    let mut zones: Vec<String> = Vec::new();
    let mut crosses_internet = false;
    for &(a, b) in arcs {
        crosses_internet |= outside(a) || outside(b);
        for (fw, spec) in v.firewalls.iter().zip(&v.scenario.firewalls) {
            if fw.zone(a).is_none() && fw.zone(b).is_none() {
                // This firewall knows neither end: not its hop.
                continue;
            }
            let z = match fw.verdict(a, b, v.ports.port(b)) {
                Verdict::NotCrossed => fw.zone_name(a, spec).to_string(),
                _ => format!(
                    "{} → {} ({})",
                    fw.zone_name(a, spec),
                    fw.zone_name(b, spec),
                    spec.name
                ),
            };
            if !zones.contains(&z) {
                zones.push(z);
            }
        }
    }
    Hop {
        from: side(|arc| arc.0),
        to: side(|arc| arc.1),
        carries: carries.to_string(),
        protocol,
        encrypted,
        zones,
        crosses_internet,
        carried,
        proof: (!encrypted && carried > 0).then_some(Proof::Confirmed),
    }
}
