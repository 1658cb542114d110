//! Rate limiting at the load balancer, as HAProxy does it with a stick table keyed by the
//! client's source address (HAProxy configuration manual, `stick-table`, `track-sc0`,
//! `sc_http_req_rate`, `src_conn_rate`, `http-request deny`, `tcp-request connection
//! reject`):
//!
//! ```text
//! stick-table type ip size 1m expire 5m store http_req_rate(10s)
//! http-request track-sc0 src
//! http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100 }
//! ```
//!
//! * **`http_req_rate(period)`**: each request is counted, then denied if the source's rate
//!   is above the limit. The deny answers 429 (the usual `deny_status 429`; HAProxy's `deny`
//!   answers 403 by default) after the load balancer's per-request CPU: the request never
//!   reaches a server.
//! * **`conn_rate(period)`**: each new connection is counted, then rejected at accept if
//!   the rate is above the limit (`tcp-request connection reject`): closed before any CPU
//!   is spent on a request. Rejected connections still count in the rate.
//! * The rate is HAProxy's sliding estimate over the period (`read_freq_ctr_period()`,
//!   include/haproxy/freq_ctr.h): the events of the current period plus those of the
//!   previous one weighted by the part of it still inside the window.
//! * Each load balancer has its own table (no `peers` synchronisation): a pair's standby
//!   starts from an empty table when it takes over. An entry not touched for `expire` is
//!   gone; when the table holds `size` entries a new source is not tracked (HAProxy purges
//!   the oldest *expired* entries first; the model purges expired ones, then lets the
//!   untracked source through).
//!
//! Legitimate clients behind a shared address (few `clients.addresses`: NAT, a proxy) share
//! one rate: above the limit they are denied too, with the failure reason `rate_limited`.

use std::collections::BTreeMap;

use infrasim_engine::{SimDuration, SimTime};

use crate::scenario::{RateLimit, RateTrack};

/// One source's counters: the start of its current period, the events in it and in the
/// previous one, and when it was last touched.
#[derive(Clone, Copy, Debug)]
struct Entry {
    period_start: SimTime,
    curr: u32,
    prev: u32,
    touched: SimTime,
}

/// A load balancer's stick table.
#[derive(Debug)]
pub(crate) struct StickTable {
    pub track: RateTrack,
    period: SimDuration,
    limit: u32,
    size: usize,
    expire: SimDuration,
    entries: BTreeMap<u32, Entry>,
    /// Requests or connections denied (after the warm-up).
    pub denied: u64,
}

impl StickTable {
    pub(crate) fn new(spec: &RateLimit) -> StickTable {
        StickTable {
            track: spec.track,
            period: spec.period,
            limit: spec.limit,
            size: spec.size as usize,
            expire: spec.expire,
            entries: BTreeMap::new(),
            denied: 0,
        }
    }

    /// Counts one event of source `addr` at `now`; whether its rate is now above the limit.
    pub(crate) fn hit(&mut self, now: SimTime, addr: u32) -> bool {
        if !self.entries.contains_key(&addr) && self.entries.len() >= self.size {
            let expire = self.expire;
            self.entries
                .retain(|_, e| now.saturating_since(e.touched) < expire);
            if self.entries.len() >= self.size {
                return false; // not tracked
            }
        }
        let period = self.period;
        let fresh = Entry {
            period_start: now,
            curr: 0,
            prev: 0,
            touched: now,
        };
        let e = self.entries.entry(addr).or_insert(fresh);
        if now.saturating_since(e.touched) >= self.expire {
            *e = fresh;
        }
        e.touched = now;
        let elapsed = now.saturating_since(e.period_start);
        if elapsed >= period {
            // Rotate: the current period becomes the previous one (or both are stale).
            let periods = elapsed.as_nanos() / period.as_nanos().max(1);
            e.prev = if periods == 1 { e.curr } else { 0 };
            e.curr = 0;
            e.period_start =
                SimTime::from_nanos(e.period_start.as_nanos() + periods * period.as_nanos());
        }
        e.curr = e.curr.saturating_add(1);
        rate(e, now, period) > f64::from(self.limit)
    }
}

/// HAProxy's sliding rate over `period`: the current period's events plus the previous
/// period's weighted by the share of it still inside the window.
fn rate(e: &Entry, now: SimTime, period: SimDuration) -> f64 {
    let p = period.as_nanos().max(1) as f64;
    let into = now.saturating_since(e.period_start).as_nanos() as f64;
    f64::from(e.curr) + f64::from(e.prev) * ((p - into) / p).max(0.0)
}

impl crate::model::World {
    /// `tcp-request connection reject if { src_conn_rate gt N }`: whether load balancer
    /// `lb` rejects this new client connection (counted in the rate either way).
    pub(super) fn lb_conn_rejected(&mut self, now: SimTime, lb: u32, addr: u32) -> bool {
        let measured = now >= self.warmup_end;
        match self.lbs[lb as usize].stick.as_mut() {
            Some(t) if t.track == RateTrack::ConnRate => {
                let over = t.hit(now, addr);
                if over && measured {
                    t.denied += 1;
                }
                over
            }
            _ => false,
        }
    }

    /// `http-request track-sc0 src` + `http-request deny if { sc_http_req_rate(0) gt N }`:
    /// whether load balancer `lb` denies this request.
    pub(super) fn lb_request_denied(&mut self, now: SimTime, lb: u32, addr: u32) -> bool {
        let measured = now >= self.warmup_end;
        match self.lbs[lb as usize].stick.as_mut() {
            Some(t) if t.track == RateTrack::HttpReqRate => {
                let over = t.hit(now, addr);
                if over && measured {
                    t.denied += 1;
                }
                over
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(limit: u32) -> StickTable {
        StickTable::new(&RateLimit {
            track: RateTrack::HttpReqRate,
            period: SimDuration::from_secs(10),
            limit,
            size: 2,
            expire: SimDuration::from_secs(60),
            deny_status: 429,
        })
    }

    /// A source sending 2 events per second against a limit of 10 per 10 s is cut after
    /// its 10th event of the first period; the previous period weighs on the next one.
    #[test]
    fn sliding_rate_over_the_period() {
        let mut t = table(10);
        let mut denied = Vec::new();
        for k in 0..40u64 {
            let now = SimTime::from_nanos(k * 500_000_000);
            denied.push(t.hit(now, 7));
        }
        assert!(denied[..10].iter().all(|d| !d), "{denied:?}");
        assert!(denied[10..20].iter().all(|d| *d), "{denied:?}");
        // In the second period, 20 previous events weigh (10 - x)/10 · 20 + current.
        assert!(denied[20..].iter().all(|d| *d));
        let mut t = table(10);
        assert!(!t.hit(SimTime::ZERO, 1));
        assert!(!t.hit(SimTime::ZERO, 2));
        for _ in 0..20 {
            assert!(!t.hit(SimTime::ZERO, 3), "table full: not tracked");
        }
    }
}
