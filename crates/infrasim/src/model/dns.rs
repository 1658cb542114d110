//! An active-active pair of load balancers behind DNS: two addresses in one record, handed
//! out round robin, no takeover at all. The DNS service health-checks each address from
//! several checker regions, as Route 53 does (Amazon Route 53 Developer Guide, "How Amazon
//! Route 53 determines whether a health check is healthy"; API reference, HealthCheckConfig):
//! every `dns_check_interval` each region checks each address, the regions' checks staggered
//! across the interval; a region changes its verdict after `dns_failure_threshold`
//! consecutive results against it — the same threshold both ways — and an address is handed
//! out while more than 18 % of the regions consider it healthy. Clients cache the answer for
//! the TTL (see `client`), so when one LB dies the clients that resolved to it keep failing
//! until detection plus their cache's expiry, unless they retry the other address
//! (`client_failover`, as browsers do).

use infrasim_engine::{Context, SimDuration};

use crate::model::World;
use crate::model::vocabulary::{Ev, Node};
use crate::scenario;

/// One checker region's view of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Checker {
    /// Its verdict: healthy until enough data says otherwise ("Route 53 considers a new
    /// health check to be healthy until there's enough data to determine the actual status").
    pub healthy: bool,
    /// Consecutive results against the verdict.
    pub against: u32,
}

impl Checker {
    const NEW: Checker = Checker {
        healthy: true,
        against: 0,
    };

    /// One check's result: `threshold` results in a row against the verdict flip it (Route
    /// 53 `FailureThreshold`: "the number of consecutive health checks that an endpoint must
    /// pass or fail … to change the current status … from unhealthy to healthy or vice
    /// versa").
    pub(crate) fn observe(&mut self, ok: bool, threshold: u32) {
        if ok == self.healthy {
            self.against = 0;
            return;
        }
        self.against += 1;
        if self.against >= threshold {
            self.healthy = ok;
            self.against = 0;
        }
    }
}

/// Route 53's aggregation: an endpoint is healthy when more than 18 % of the health
/// checkers report it healthy (Developer Guide, "How Amazon Route 53 determines whether a
/// health check is healthy"). In integers: 100 × healthy > 18 × checkers.
pub(crate) fn more_than_18_percent(healthy: u32, checkers: u32) -> bool {
    100 * u64::from(healthy) > 18 * u64::from(checkers)
}

/// A DNS round-robin pair.
pub(crate) struct DnsPair {
    pub members: [Node; 2],
    /// Clients move to the other address after a failed connection.
    pub client_failover: bool,
    pub ttl: SimDuration,
    /// Each region checks each address this often.
    pub check_interval: SimDuration,
    pub failure_threshold: u32,
    /// Each checker region's view of each member.
    pub checkers: Vec<[Checker; 2]>,
    /// Whether the DNS service hands out each member's address.
    pub serving: [bool; 2],
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
            checkers: vec![[Checker::NEW; 2]; spec.dns_checker_regions as usize],
            serving: [true, true],
        }
    }

    /// Whether the DNS service hands out member `m`'s address.
    pub(crate) fn serves(&self, m: usize) -> bool {
        self.serving[m]
    }

    /// When `region` first checks: region r of n at (r + 1)/n of the interval, so the
    /// regions' checks are spread evenly across it (Route 53's checkers "don't coordinate
    /// with one another"; evenly spread is their average). One region checks at the end of
    /// the first interval.
    fn first_check(&self, region: usize) -> SimDuration {
        let n = self.checkers.len() as u64;
        let r = region as u64 + 1;
        SimDuration::from_nanos(
            (u128::from(self.check_interval.as_nanos()) * u128::from(r) / u128::from(n)) as u64,
        )
    }

    /// Recomputes which addresses are handed out from the regions' verdicts.
    fn aggregate(&mut self) {
        let n = self.checkers.len() as u32;
        for m in 0..2 {
            let healthy = self.checkers.iter().filter(|c| c[m].healthy).count() as u32;
            self.serving[m] = more_than_18_percent(healthy, n);
        }
    }
}

impl World {
    /// Every checker region of the DNS service starts checking its pair's addresses.
    pub(crate) fn start_dns(&mut self, cx: &mut Context<'_, Ev>) {
        for p in 0..self.dns.len() {
            for region in 0..self.dns[p].checkers.len() {
                let first = self.dns[p].first_check(region);
                let ev = Ev::DnsCheck {
                    pair: p as u32,
                    region: region as u32,
                };
                cx.schedule_in(first, ev);
            }
        }
    }

    /// One checker region checks both addresses of an active-active pair from the internet
    /// (the clients' side): an address passes when its LB is up (a crashed HAProxy process
    /// fails the check as a dead host does) and not partitioned from the clients. The
    /// region's verdicts, then the addresses handed out, follow; clients keep a cached answer
    /// until its TTL runs out, so a dead LB keeps its clients for up to detection + TTL.
    pub(crate) fn dns_check(&mut self, cx: &mut Context<'_, Ev>, pair: u32, region: u32) {
        let p = &self.dns[pair as usize];
        let members = p.members;
        let results = members.map(|node| {
            self.state(node).down.is_none() && !self.net.partitioned(Node::Clients, node)
        });
        let p = &mut self.dns[pair as usize];
        let threshold = p.failure_threshold;
        for (c, ok) in p.checkers[region as usize].iter_mut().zip(results) {
            c.observe(ok, threshold);
        }
        let before = p.serving;
        p.aggregate();
        let (after, every) = (p.serving, p.check_interval);
        cx.schedule_in(every, Ev::DnsCheck { pair, region });
        for m in (0..2).filter(|m| before[*m] != after[*m]) {
            let what = if after[m] {
                "DNS hands out its address again"
            } else {
                "DNS withdraws its address"
            };
            if let Some(obs) = self.observer.as_mut() {
                obs.state_changed(cx.now(), self.names.name(members[m]), what);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Route 53's rule, "more than 18 %": with one checker per region, one of three regions
    /// suffices (33 %), one of eight does not (12.5 %) but two do (25 %); exactly 18 % is not
    /// enough.
    #[test]
    fn more_than_18_percent_of_checkers_keep_an_address() {
        assert!(more_than_18_percent(1, 1));
        assert!(!more_than_18_percent(0, 1));
        assert!(more_than_18_percent(1, 3));
        assert!(!more_than_18_percent(0, 3));
        assert!(more_than_18_percent(1, 5), "20 %");
        assert!(!more_than_18_percent(1, 6), "16.7 %");
        assert!(!more_than_18_percent(1, 8), "12.5 %");
        assert!(more_than_18_percent(2, 8), "25 %");
        assert!(!more_than_18_percent(9, 50), "exactly 18 %");
        assert!(more_than_18_percent(10, 50), "20 %");
    }

    /// The threshold holds both ways: `threshold` failures in a row to turn unhealthy,
    /// `threshold` passes in a row to turn healthy again; a contrary result starts over.
    #[test]
    fn failure_threshold_applies_both_ways() {
        let mut c = Checker::NEW;
        for ok in [false, false, true, false, false] {
            c.observe(ok, 3);
            assert!(c.healthy);
        }
        c.observe(false, 3);
        assert!(!c.healthy, "third failure in a row");
        for ok in [true, true, false, true, true] {
            c.observe(ok, 3);
            assert!(!c.healthy);
        }
        c.observe(true, 3);
        assert!(c.healthy, "third pass in a row");
    }

    /// Regions check at evenly spread offsets; an address is withdrawn only when the regions
    /// that still see it healthy are 18 % or fewer.
    #[test]
    fn regions_stagger_and_combine() {
        let mut spec = scenario::LbPair::active_active("dns", "a", "b", SimDuration::from_secs(60));
        spec.dns_checker_regions = 3;
        spec.dns_failure_threshold = 1;
        let mut p = DnsPair::new(&spec, [Node::Lb(0), Node::Lb(1)]);
        let firsts: Vec<u64> = (0..3).map(|r| p.first_check(r).as_nanos()).collect();
        assert_eq!(firsts, [10_000_000_000, 20_000_000_000, 30_000_000_000]);
        for r in 0..2 {
            p.checkers[r][0].observe(false, 1);
            p.aggregate();
            assert!(p.serves(0), "{} of 3 regions still see it", 2 - r);
        }
        p.checkers[2][0].observe(false, 1);
        p.aggregate();
        assert!(!p.serves(0) && p.serves(1));
        p.checkers[1][0].observe(true, 1);
        p.aggregate();
        assert!(p.serves(0), "one region of three is enough to return");
    }
}
