//! The report's `attacks` and `firewalls` sections: each attack's traffic and where it was
//! dropped or served, each firewall's flows and drops, pooled over the replications.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Replication;
use super::reasons_map;

/// One attack, all replications pooled (counts after the warm-up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackReport {
    /// `syn_flood`, `http_flood` or `connect_flood`.
    pub kind: String,
    /// SYNs (`syn_flood`) or connections sent.
    pub offered: u64,
    /// Where they were dropped before reaching the target's application.
    pub dropped: AttackDrops,
    /// `syn_flood`: SYNs that took a place in the target's SYN queue.
    pub syn_queued: u64,
    /// `syn_flood`: SYNs answered with a SYN cookie (queue full, syncookies on).
    pub syn_cookies: u64,
    /// Connections served (a successful answer).
    pub served: u64,
    /// Connections that failed at the target or on the way, by reason.
    pub failed: BTreeMap<String, u64>,
}

/// Where attack traffic was dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackDrops {
    /// By a firewall rule (or its default deny).
    pub firewall: u64,
    /// A firewall's conntrack table was full.
    pub conntrack_full: u64,
    /// A firewall on the way was down.
    pub firewall_down: u64,
    /// At the target's kernel: its accept queue (or, for a `syn_flood` with syncookies off,
    /// its SYN queue) full, or its host down.
    pub backlog: u64,
}

/// One firewall, all replications pooled (counts after the warm-up): the model's counts,
/// summed (the peak: the largest).
pub type FirewallReport = crate::model::firewall::FirewallCounts;

/// Each attack, by name.
pub(super) fn attacks(runs: &[Replication]) -> BTreeMap<String, AttackReport> {
    let mut out: BTreeMap<String, AttackReport> = BTreeMap::new();
    let mut failed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in runs {
        for a in &r.attacks {
            let e = out.entry(a.name.clone()).or_insert_with(|| AttackReport {
                kind: a.kind.clone(),
                offered: 0,
                dropped: AttackDrops {
                    firewall: 0,
                    conntrack_full: 0,
                    firewall_down: 0,
                    backlog: 0,
                },
                syn_queued: 0,
                syn_cookies: 0,
                served: 0,
                failed: BTreeMap::new(),
            });
            e.offered += a.offered;
            e.dropped.firewall += a.dropped_firewall;
            e.dropped.conntrack_full += a.dropped_conntrack_full;
            e.dropped.firewall_down += a.dropped_firewall_down;
            e.dropped.backlog += a.dropped_backlog;
            e.syn_queued += a.syn_queued;
            e.syn_cookies += a.syn_cookies;
            e.served += a.served;
            let f = failed
                .entry(a.name.clone())
                .or_insert_with(|| vec![0; a.failed.len()]);
            for (x, y) in f.iter_mut().zip(&a.failed) {
                *x += y;
            }
        }
    }
    for (name, f) in failed {
        if let Some(e) = out.get_mut(&name) {
            e.failed = reasons_map(&f);
        }
    }
    out
}

/// Each firewall, by name.
pub(super) fn firewalls(runs: &[Replication]) -> BTreeMap<String, FirewallReport> {
    let mut out: BTreeMap<String, FirewallReport> = BTreeMap::new();
    for r in runs {
        for f in &r.firewalls {
            out.entry(f.name.clone()).or_default().pool(&f.counts);
        }
    }
    out
}
