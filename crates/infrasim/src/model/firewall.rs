//! Stateful firewalls (Linux netfilter with conntrack) between zones.
//!
//! Each firewall puts the components it lists into zones; the clients, and every component
//! it does not list, are in its `internet` zone. A connection between two of its zones
//! crosses it; one inside a zone does not. For a connection that crosses it:
//!
//! * **Rules**, first match wins (iptables order), default deny. A denied connection's SYN
//!   is dropped silently (`DROP`): the sender retransmits it on TCP's timers
//!   ([`crate::model::tcp`]) and, after `tcp_syn_retries`, gives up. Segments of an
//!   established connection are not re-checked (the usual `ESTABLISHED,RELATED` accept).
//! * **Conntrack.** Every new flow that passes takes an entry; entries leave by their
//!   state's timeout (`nf_conntrack_tcp_timeout_*`, Linux nf_conntrack-sysctl.rst). A
//!   connection that completes its handshake is *assured* and stays, the model takes it,
//!   until `time_wait` after it opened (its life, milliseconds, is small beside 120 s); a
//!   spoofed SYN the server answers stays unassured for `syn_recv` (60 s), one nobody
//!   answers for `syn_sent` (120 s). At `nf_conntrack_max` the kernel first evicts an
//!   unassured entry (`early_drop()` in net/netfilter/nf_conntrack_core.c: a SYN flood's
//!   entries make room for real connections); with none to evict it drops the new flow's
//!   packet ("nf_conntrack: table full, dropping packet") and the sender retransmits.
//! * **Crash.** While a firewall is down every segment that crosses it is lost (the hosts
//!   behind it see a partition). It comes back with an empty table; connections in flight
//!   through it are picked up again mid-stream (`nf_conntrack_tcp_loose` = 1, the default),
//!   so only the time it was down costs them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use infrasim_engine::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

use crate::scenario::security::{Ports, ResolvedFirewall, Verdict};
use crate::scenario::{Firewall, Node};

/// Where a firewall dropped a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// A rule (or the default policy) denied it.
    Denied,
    /// The conntrack table was full of assured connections.
    ConntrackFull,
    /// The firewall is down.
    Down,
}

/// What a firewall counted (after the warm-up): one replication's, or — pooled — a
/// report's (`report::FirewallReport`, the same type).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallCounts {
    /// New flows let through (each SYN transmission that crossed it).
    pub new_flows: u64,
    /// SYNs dropped by a rule or the default policy.
    pub denied: u64,
    /// SYNs dropped because the conntrack table was full.
    pub conntrack_full: u64,
    /// Unassured entries evicted to make room (`early_drop`).
    pub early_drops: u64,
    /// Segments lost because the firewall was down.
    pub down_drops: u64,
    /// Most entries in the table at once (pooled: the largest over the replications).
    pub conntrack_peak: u64,
}

impl FirewallCounts {
    /// Adds another replication's counts: sums, and the larger peak.
    pub fn pool(&mut self, other: &FirewallCounts) {
        self.new_flows += other.new_flows;
        self.denied += other.denied;
        self.conntrack_full += other.conntrack_full;
        self.early_drops += other.early_drops;
        self.down_drops += other.down_drops;
        self.conntrack_peak = self.conntrack_peak.max(other.conntrack_peak);
    }
}

/// A firewall's counts in one replication, with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallTally {
    /// The firewall's name.
    pub name: String,
    /// What it counted.
    pub counts: FirewallCounts,
}

/// One firewall's state.
struct FirewallState {
    max: usize,
    syn_sent: SimDuration,
    syn_recv: SimDuration,
    time_wait: SimDuration,
    /// Expiry times of assured and unassured entries (soonest first).
    assured: BinaryHeap<Reverse<SimTime>>,
    unassured: BinaryHeap<Reverse<SimTime>>,
    tally: FirewallTally,
}

impl FirewallState {
    fn len(&self) -> usize {
        self.assured.len() + self.unassured.len()
    }

    /// Entries whose timeout passed leave the table.
    fn expire(&mut self, now: SimTime) {
        for heap in [&mut self.assured, &mut self.unassured] {
            while heap.peek().is_some_and(|Reverse(t)| *t <= now) {
                heap.pop();
            }
        }
    }
}

/// What kind of flow a SYN opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// A real connection (it will complete its handshake: assured).
    Connection,
    /// A spoofed SYN (never completed): answered by a SYN-ACK (`true`) or not.
    Spoofed { answered: bool },
}

/// Every firewall of a scenario, with what each does to each directed link.
pub(crate) struct Firewalls {
    n: usize,
    /// Per directed link (dense `i * n + j`): the firewalls it crosses, a bit each.
    crosses: Vec<u32>,
    /// Per directed link: 1 + the first crossed firewall that denies a new connection on it
    /// (0: none does).
    denied_by: Vec<u8>,
    fws: Vec<FirewallState>,
    /// The firewalls down now, a bit each.
    down: u32,
    warmup_end: SimTime,
    /// Where the last transmission the network lost to a firewall was dropped (read once by
    /// whoever sent it: attack traffic counts it).
    pub last_drop: Option<Dropped>,
}

impl Firewalls {
    /// The firewalls of a scenario over the network's dense `nodes` (None: no firewall).
    pub(crate) fn new(
        specs: &[Firewall],
        resolved: &[ResolvedFirewall],
        ports: &Ports,
        nodes: &[Node],
        warmup_end: SimTime,
    ) -> Option<Firewalls> {
        if specs.is_empty() {
            return None;
        }
        let n = nodes.len();
        let mut crosses = vec![0u32; n * n];
        let mut denied_by = vec![0u8; n * n];
        let port: Vec<u16> = nodes.iter().map(|&x| ports.port(x)).collect();
        for (f, fw) in resolved.iter().enumerate() {
            // Each node's zone, looked up once (n² pairs follow).
            let zones: Vec<Option<u32>> = nodes.iter().map(|&x| fw.zone(x)).collect();
            for (i, &a) in nodes.iter().enumerate() {
                for (j, &b) in nodes.iter().enumerate() {
                    if i == j || zones[i] == zones[j] {
                        continue;
                    }
                    let k = i * n + j;
                    match fw.verdict_in(a, zones[i], b, zones[j], port[j]) {
                        Verdict::NotCrossed => {}
                        Verdict::Allowed => crosses[k] |= 1 << f,
                        Verdict::Denied => {
                            crosses[k] |= 1 << f;
                            if denied_by[k] == 0 {
                                denied_by[k] = f as u8 + 1;
                            }
                        }
                    }
                }
            }
        }
        let fws = specs
            .iter()
            .map(|s| FirewallState {
                max: s.conntrack_max as usize,
                syn_sent: s.conntrack_timeouts.syn_sent,
                syn_recv: s.conntrack_timeouts.syn_recv,
                time_wait: s.conntrack_timeouts.time_wait,
                assured: BinaryHeap::new(),
                unassured: BinaryHeap::new(),
                tally: FirewallTally {
                    name: s.name.clone(),
                    ..FirewallTally::default()
                },
            })
            .collect();
        Some(Firewalls {
            n,
            crosses,
            denied_by,
            fws,
            down: 0,
            warmup_end,
            last_drop: None,
        })
    }

    /// Whether the link from dense `i` to `j` crosses any firewall.
    #[inline]
    pub(crate) fn crossed(&self, i: usize, j: usize) -> bool {
        self.crosses[i * self.n + j] != 0
    }

    /// Whether the link from `i` to `j` crosses a firewall that is down now.
    pub(crate) fn down_between(&self, i: usize, j: usize) -> bool {
        self.crosses[i * self.n + j] & self.down != 0
    }

    /// Whether a segment from `i` to `j` crosses a firewall that is down now (counted).
    pub(crate) fn blocked_by_down(&mut self, now: SimTime, i: usize, j: usize) -> bool {
        let mask = self.crosses[i * self.n + j] & self.down;
        if mask == 0 {
            return false;
        }
        if now >= self.warmup_end {
            let f = mask.trailing_zeros() as usize;
            self.fws[f].tally.counts.down_drops += 1;
        }
        true
    }

    /// A SYN from `i` to `j` opening a `flow`: let through (each crossed firewall tracks
    /// it) or dropped, and where.
    pub(crate) fn syn(
        &mut self,
        now: SimTime,
        i: usize,
        j: usize,
        flow: Flow,
    ) -> Result<(), Dropped> {
        let k = i * self.n + j;
        let mask = self.crosses[k];
        if mask == 0 {
            return Ok(());
        }
        let measured = now >= self.warmup_end;
        if self.blocked_by_down(now, i, j) {
            return Err(Dropped::Down);
        }
        if self.denied_by[k] != 0 {
            if measured {
                self.fws[self.denied_by[k] as usize - 1].tally.counts.denied += 1;
            }
            return Err(Dropped::Denied);
        }
        for f in 0..self.fws.len() {
            if mask & (1 << f) == 0 {
                continue;
            }
            let fw = &mut self.fws[f];
            fw.expire(now);
            if fw.len() >= fw.max {
                if fw.unassured.pop().is_some() {
                    if measured {
                        fw.tally.counts.early_drops += 1;
                    }
                } else {
                    if measured {
                        fw.tally.counts.conntrack_full += 1;
                    }
                    return Err(Dropped::ConntrackFull);
                }
            }
            match flow {
                Flow::Connection => fw.assured.push(Reverse(now.saturating_add(fw.time_wait))),
                Flow::Spoofed { answered } => {
                    let life = if answered { fw.syn_recv } else { fw.syn_sent };
                    fw.unassured.push(Reverse(now.saturating_add(life)));
                }
            }
            if measured {
                fw.tally.counts.new_flows += 1;
                fw.tally.counts.conntrack_peak =
                    fw.tally.counts.conntrack_peak.max(fw.len() as u64);
            }
        }
        Ok(())
    }

    /// Firewall `f` crashes (`true`) or comes back with an empty table.
    pub(crate) fn set_down(&mut self, f: u32, down: bool) {
        if down {
            self.down |= 1 << f;
        } else {
            self.down &= !(1 << f);
            let fw = &mut self.fws[f as usize];
            fw.assured.clear();
            fw.unassured.clear();
        }
    }

    /// What each firewall counted, in scenario order.
    pub(crate) fn tallies(&self) -> Vec<FirewallTally> {
        self.fws.iter().map(|f| f.tally.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::security::Match;

    fn one(max: u32) -> Firewalls {
        let spec: Firewall = serde_json::from_value(serde_json::json!({
            "name": "fw", "zones": { "dmz": ["lb"] }, "conntrack_max": max
        }))
        .expect("spec");
        let resolved = ResolvedFirewall {
            zone_of: vec![(Node::Lb(0), 0)],
            rules: vec![(Match::Internet, Match::Zone(0), Some(80), true)],
        };
        Firewalls::new(
            &[spec],
            &[resolved],
            &Ports {
                lb: vec![80],
                ..Ports::default()
            },
            &[Node::Clients, Node::Lb(0)],
            SimTime::ZERO,
        )
        .expect("one firewall")
    }

    /// A full table of assured entries drops new flows until the oldest time out; spoofed
    /// SYNs' unassured entries are evicted to make room (`early_drop`).
    #[test]
    fn full_table_drops_new_flows_and_evicts_unassured_entries() {
        let mut fw = one(2);
        let t = SimTime::ZERO;
        assert_eq!(fw.syn(t, 0, 1, Flow::Connection), Ok(()));
        assert_eq!(fw.syn(t, 0, 1, Flow::Connection), Ok(()));
        assert_eq!(
            fw.syn(t, 0, 1, Flow::Connection),
            Err(Dropped::ConntrackFull)
        );
        let later = t.saturating_add(SimDuration::from_secs(120));
        assert_eq!(fw.syn(later, 0, 1, Flow::Connection), Ok(()), "expired");
        let mut fw = one(2);
        let spoofed = Flow::Spoofed { answered: true };
        assert_eq!(fw.syn(t, 0, 1, spoofed), Ok(()));
        assert_eq!(fw.syn(t, 0, 1, spoofed), Ok(()));
        assert_eq!(fw.syn(t, 0, 1, Flow::Connection), Ok(()), "evicts one");
        assert_eq!(fw.tallies()[0].counts.early_drops, 1);
        assert_eq!(fw.syn(t, 1, 0, Flow::Connection), Err(Dropped::Denied));
        fw.set_down(0, true);
        assert_eq!(fw.syn(t, 0, 1, Flow::Connection), Err(Dropped::Down));
        fw.set_down(0, false);
        assert_eq!(fw.syn(t, 0, 1, Flow::Connection), Ok(()), "empty again");
    }
}
