//! An active-active pair of load balancers behind DNS: two addresses in one record, handed
//! out round robin, no takeover at all. The DNS service health-checks each address from the
//! internet (a Route 53-like check every `dns_check_interval`): an address that fails
//! `dns_failure_threshold` checks in a row is no longer handed out; one passing check
//! restores it. Clients cache the answer for the TTL (see `client`), so when one LB dies the
//! clients that resolved to it keep failing until detection plus their cache's expiry,
//! unless they retry the other address (`client_failover`, as browsers do).

use infrasim_engine::{Context, SimDuration};

use crate::model::World;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario;

/// A DNS round-robin pair.
pub(crate) struct DnsPair {
    pub members: [Node; 2],
    /// Clients move to the other address after a failed connection.
    pub client_failover: bool,
    pub ttl: SimDuration,
    /// The DNS service's health check of each address.
    pub check_interval: SimDuration,
    pub failure_threshold: u32,
    /// Consecutive failed health checks per member.
    pub failures: [u32; 2],
}

impl DnsPair {
    /// An active-active pair as the scenario describes it, its members resolved.
    pub(crate) fn new(spec: &scenario::LbPair, members: [Node; 2]) -> Self {
        DnsPair {
            members,
            client_failover: spec.client_failover,
            ttl: spec.dns_ttl,
            check_interval: spec.dns_check_interval,
            failure_threshold: spec.dns_failure_threshold,
            failures: [0, 0],
        }
    }

    /// Whether the DNS service hands out member `m`'s address.
    pub(crate) fn serves(&self, m: usize) -> bool {
        self.failures[m] < self.failure_threshold
    }
}

impl World {
    /// The DNS service starts health-checking every active-active pair's addresses.
    pub(crate) fn start_dns(&mut self, cx: &mut Context<'_, Ev>) {
        for p in 0..self.dns.len() {
            let every = self.dns[p].check_interval;
            cx.schedule_in(every, Ev::DnsCheck { pair: p as u32 });
        }
    }

    /// The DNS service checks each address of an active-active pair from the internet (the
    /// clients' side): an address that fails `dns_failure_threshold` checks in a row is no
    /// longer handed out; one passing check restores it. Clients keep a cached answer until
    /// its TTL runs out, so a dead LB keeps its clients for up to detection + TTL.
    pub(crate) fn dns_check(&mut self, cx: &mut Context<'_, Ev>, pair: u32) {
        let p = &self.dns[pair as usize];
        let members = p.members;
        for (m, node) in members.iter().enumerate() {
            let healthy =
                self.state(*node).down.is_none() && !self.net.partitioned(Node::Clients, *node);
            let f = &mut self.dns[pair as usize].failures[m];
            *f = if healthy { 0 } else { f.saturating_add(1) };
        }
        let every = self.dns[pair as usize].check_interval;
        cx.schedule_in(every, Ev::DnsCheck { pair });
    }
}
