//! The report's `connections` section (with `clients.connections`): connections opened
//! and reused, why they closed, the latency of a connection's first request against the
//! others', and per load balancer its handshakes and its CPU by kind of work.

use std::collections::BTreeMap;

use infrasim_engine::stats::{Histogram, LatencySummary};
use serde::{Deserialize, Serialize};

use super::replication::Replication;
use crate::model::connection::Closed;
use crate::model::load_balancer::tls::CPU_KINDS;
use crate::model::measure::RunData;
use crate::scenario::Scenario;

/// One load balancer's connections in one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbConnectionsTally {
    /// Its name.
    pub name: String,
    /// Its cores.
    pub cores: u32,
    /// Client connections it accepted.
    pub accepted: u64,
    /// Handshakes: full, resumed, resumed with early data.
    pub handshakes: Vec<u64>,
    /// CPU spent, ns, by kind (`full_handshakes`, `resumed_handshakes`, `connections`,
    /// `requests`, `tls_requests`).
    pub cpu_ns: Vec<u64>,
}

/// The connections of one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsTally {
    /// Connections opened.
    pub opened: u64,
    /// Requests sent on connections.
    pub requests: u64,
    /// Of those, on a reused connection.
    pub reused: u64,
    /// Connections closed, by reason.
    pub closed: Vec<u64>,
    /// Latency of successful requests that opened their connection (ns).
    pub first_latency: Histogram,
    /// Latency of successful requests on a reused connection (ns).
    pub reused_latency: Histogram,
    /// Each load balancer, in file order.
    pub load_balancers: Vec<LbConnectionsTally>,
}

/// A load balancer's handshakes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handshakes {
    /// Full handshakes (the server signs).
    pub full: u64,
    /// Resumed sessions (tickets or session cache).
    pub resumed: u64,
    /// Of the resumed, with early data (0-RTT).
    pub early_data: u64,
    /// resumed / (full + resumed) (0 with no handshake).
    pub resumption_ratio: f64,
}

/// A load balancer's connections, pooled over the replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbConnectionsReport {
    /// Client connections accepted.
    pub accepted: u64,
    /// TLS handshakes.
    pub handshakes: Handshakes,
    /// Share of its cores' time spent on each kind of work (`full_handshakes`,
    /// `resumed_handshakes`, `connections`, `requests`, `tls_requests`: bulk encryption and
    /// re-encryption to the servers).
    pub cpu_utilization: BTreeMap<String, f64>,
    /// Core-seconds per measured second on each kind of work (the same divided by
    /// nothing: cores busy on average).
    pub cpu_cores: BTreeMap<String, f64>,
}

/// The `connections` section of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsReport {
    /// Connections opened, all replications.
    pub opened: u64,
    /// Requests sent on connections.
    pub requests: u64,
    /// Of those, on a connection opened before.
    pub reused: u64,
    /// requests / opened.
    pub requests_per_connection: f64,
    /// Connections closed, by reason: `client_idle`, `lb_idle` (`timeout http-keep-alive`),
    /// `requests_per_connection`, `client_timeout`, `reset`.
    pub closed: BTreeMap<String, u64>,
    /// Latency of successful requests that opened their connection (handshakes included).
    pub first_request_latency_ms: LatencySummary,
    /// Latency of successful requests on a reused connection.
    pub reused_latency_ms: LatencySummary,
    /// Per load balancer.
    pub load_balancers: BTreeMap<String, LbConnectionsReport>,
}

/// A replication's connections, if the workload models them.
pub(super) fn tally(run: &RunData) -> Option<ConnectionsTally> {
    let c = run.connections.as_ref()?;
    Some(ConnectionsTally {
        opened: c.stats.opened,
        requests: c.stats.requests,
        reused: c.stats.reused,
        closed: c.stats.closed.to_vec(),
        first_latency: c.stats.first_latency.clone(),
        reused_latency: c.stats.reused_latency.clone(),
        load_balancers: c
            .lbs
            .iter()
            .map(|(name, cores, l)| LbConnectionsTally {
                name: name.clone(),
                cores: *cores,
                accepted: l.accepted,
                handshakes: l.handshakes.to_vec(),
                cpu_ns: l.cpu_ns.to_vec(),
            })
            .collect(),
    })
}

/// The section, pooled over the replications.
pub(super) fn report(s: &Scenario, runs: &[Replication]) -> Option<ConnectionsReport> {
    let tallies: Vec<&ConnectionsTally> =
        runs.iter().filter_map(|r| r.connections.as_ref()).collect();
    let first = tallies.first()?;
    let sum = |f: &dyn Fn(&ConnectionsTally) -> u64| tallies.iter().map(|t| f(t)).sum::<u64>();
    let opened = sum(&|t| t.opened);
    let requests = sum(&|t| t.requests);
    let mut first_h = Histogram::new();
    let mut reused_h = Histogram::new();
    for t in &tallies {
        first_h.merge(&t.first_latency);
        reused_h.merge(&t.reused_latency);
    }
    let closed = Closed::NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let v = tallies
                .iter()
                .map(|t| t.closed.get(i).copied().unwrap_or(0))
                .sum();
            (n.to_string(), v)
        })
        .collect();
    let seconds = s.duration.as_secs_f64() * tallies.len() as f64;
    let load_balancers = first
        .load_balancers
        .iter()
        .enumerate()
        .map(|(i, l0)| {
            let lbs: Vec<&LbConnectionsTally> = tallies
                .iter()
                .filter_map(|t| t.load_balancers.get(i))
                .collect();
            let hs = |k: usize| {
                lbs.iter()
                    .map(|l| l.handshakes.get(k).copied().unwrap_or(0))
                    .sum::<u64>()
            };
            let (full, resumed, early) = (hs(0), hs(1), hs(2));
            let cores_busy = |k: usize| {
                let ns: u64 = lbs
                    .iter()
                    .map(|l| l.cpu_ns.get(k).copied().unwrap_or(0))
                    .sum();
                if seconds > 0.0 {
                    ns as f64 / 1e9 / seconds
                } else {
                    0.0
                }
            };
            let cpu_cores: BTreeMap<String, f64> = CPU_KINDS
                .iter()
                .enumerate()
                .map(|(k, n)| (n.to_string(), cores_busy(k)))
                .collect();
            let cpu_utilization = cpu_cores
                .iter()
                .map(|(k, v)| (k.clone(), v / f64::from(l0.cores.max(1))))
                .collect();
            (
                l0.name.clone(),
                LbConnectionsReport {
                    accepted: lbs.iter().map(|l| l.accepted).sum(),
                    handshakes: Handshakes {
                        full,
                        resumed,
                        early_data: early,
                        resumption_ratio: ratio(resumed, full + resumed),
                    },
                    cpu_utilization,
                    cpu_cores,
                },
            )
        })
        .collect();
    Some(ConnectionsReport {
        opened,
        requests,
        reused: sum(&|t| t.reused),
        requests_per_connection: ratio(requests, opened),
        closed,
        first_request_latency_ms: first_h.summary_ms(),
        reused_latency_ms: reused_h.summary_ms(),
        load_balancers,
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
