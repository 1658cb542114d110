//! TCP under failure (`crate::model::tcp` in the library): a lost or dropped segment is
//! retransmitted, so loss, a dead peer, a full accept queue and a frontend at `maxconn` cost
//! time, and fail a request only when the retransmissions outlast a timeout. And health
//! checks go through the server like any client: a hung server whose backlog is full fails
//! its TCP checks, and an HTTP check waits for a worker.
//!
//! Each test states the formula or the real behaviour it checks; the tolerances are binomial
//! intervals (z = 4) or the model's own resolution, stated next to each assertion.

use infrasim::{FailReason, Outcome, RequestRecord};
use serde_json::{Value, json};

use crate::util::{Log, app, assert_conservation, close, constant, crash, observe, run};

fn latency_s(r: &RequestRecord) -> f64 {
    r.finished_at.as_secs_f64() - r.offered_at.as_secs_f64()
}

/// The share of `log`'s requests for which `pred` holds.
fn share(log: &Log, pred: impl Fn(&RequestRecord) -> bool) -> f64 {
    log.requests.iter().filter(|r| pred(r)).count() as f64 / log.requests.len() as f64
}

/// A binomial proportion's expected value `p` is within z = 4 standard errors of `x` (n trials).
fn binomial_close(x: f64, p: f64, n: usize) -> bool {
    (x - p).abs() <= 4.0 * (p * (1.0 - p) / n as f64).sqrt()
}

/// Clients straight to one app server 10 ms away, with 2 % loss on that hop for the whole
/// run. Each request crosses four segments: the SYN and SYN-ACK (a loss of either costs the
/// SYN's 1 s timer), the request and the response (a loss costs the data timer,
/// RTT + max(2·RTT, 200 ms) = 220 ms). So a request is delayed with probability
/// 1 − (1 − p)⁴ = 7.76 %, by a second or more with 1 − (1 − p)² = 3.96 % (three losses of one
/// data segment in a row, 1.54 s, are p³: negligible), and fails only if its SYN is lost on
/// every retransmission within the client's 30 s timeout (≈ 10⁻⁷): none of 40 000.
#[test]
fn loss_on_a_hop_costs_retransmission_delays_not_requests() {
    let p: f64 = 0.02;
    let v = json!({
        "name": "lossy", "duration": "200s", "warmup": "0s",
        "clients": { "target": "app1", "arrival": { "poisson": { "rate": "200/s" } },
                     "mix": { "read": 0.0, "write": 0.0, "static": 1.0 } },
        "network": { "latency": "100us", "client_latency": "10ms" },
        "app_servers": [ app("app1", 64, constant("1ms")) ],
        "faults": [ { "link_degrade": { "a": "app1", "b": "clients", "at": "0s", "loss": p } } ]
    });
    let (r, log) = observe(&v, 31);
    assert_conservation("lossy hop", &r);
    let n = log.requests.len();
    assert!(n > 39_000, "{n} requests");
    assert_eq!(
        log.requests
            .iter()
            .filter(|q| q.outcome != Outcome::Ok)
            .count(),
        0
    );
    let base = 0.021;
    let delayed = share(&log, |q| latency_s(q) > base + 0.1);
    let over_1s = share(&log, |q| latency_s(q) >= 1.0);
    let data_only = share(&log, |q| (0.2..1.0).contains(&latency_s(q)));
    let q2 = (1.0 - p) * (1.0 - p);
    let (p_delayed, p_syn) = (1.0 - q2 * q2, 1.0 - q2);
    eprintln!(
        "delayed {delayed:.4} (expected {p_delayed:.4}), ≥ 1 s {over_1s:.4} ({p_syn:.4}), \
         data only {data_only:.4} ({:.4})",
        (1.0 - p_syn) * p_syn
    );
    assert!(binomial_close(delayed, p_delayed, n), "delayed {delayed}");
    assert!(binomial_close(over_1s, p_syn, n), "≥ 1 s {over_1s}");
    assert!(binomial_close(data_only, (1.0 - p_syn) * p_syn, n));
    // The delays are the timers themselves: one data loss is 21 + 220 ms, one SYN loss 1.021 s.
    let one_data_loss = share(&log, |q| close(latency_s(q), base + 0.220, 0.0005));
    let one_syn_loss = share(&log, |q| close(latency_s(q), base + 1.0, 0.0005));
    assert!(
        one_data_loss > 0.8 * (1.0 - p_syn) * p_syn,
        "{one_data_loss}"
    );
    assert!(one_syn_loss > 0.8 * p_syn, "{one_syn_loss}");
}

/// The same hop with heavy loss (p = 0.3) and a client that gives up after 2.5 s: a request
/// fails exactly when its retransmissions outlast the timeout. Its SYN handshake succeeds on
/// transmission k (at 0 or 1 s; the next, at 3 s, is too late) with probability
/// (1 − q)qᵏ, q = 1 − (1 − p)²; its request and its response are each lost m times with
/// probability pᵐ(1 − p), costing 0.22·(2ᵐ − 1) s; it succeeds when 0.021 s plus those delays
/// stay below 2.5 s. Summing over the cases gives the success probability the run must show.
#[test]
fn heavy_loss_fails_what_the_retransmissions_cannot_deliver_in_time() {
    let (p, timeout, base, rto) = (0.3_f64, 2.5, 0.021, 0.22);
    let v = json!({
        "name": "lossy", "duration": "100s", "warmup": "0s",
        "clients": { "target": "app1", "arrival": { "poisson": { "rate": "200/s" } },
                     "mix": { "read": 0.0, "write": 0.0, "static": 1.0 }, "timeout": "2500ms" },
        "network": { "latency": "100us", "client_latency": "10ms" },
        "app_servers": [ app("app1", 64, constant("1ms")) ],
        "faults": [ { "link_degrade": { "a": "app1", "b": "clients", "at": "0s", "loss": p } } ]
    });
    let (r, log) = observe(&v, 36);
    assert_conservation("heavy loss", &r);
    let q = 1.0 - (1.0 - p) * (1.0 - p);
    let mut success = 0.0;
    let mut p_syn = 1.0 - q;
    for syn in [0.0, 1.0] {
        let mut p_req = 1.0 - p;
        for a in 0..12 {
            let mut p_rep = 1.0 - p;
            for b in 0..12 {
                let delay = |m: i32| rto * (f64::from(1 << m) - 1.0);
                if base + syn + delay(a) + delay(b) < timeout {
                    success += p_syn * p_req * p_rep;
                }
                p_rep *= p;
            }
            p_req *= p;
        }
        p_syn *= q;
    }
    // Requests offered in the last 2.5 s may still be in flight at the end, the slow ones
    // first: count only those that had their whole timeout inside the run.
    let done: Vec<_> = log
        .requests
        .iter()
        .filter(|q| q.offered_at.as_secs_f64() < 97.0)
        .collect();
    let n = done.len();
    let ok = done.iter().filter(|q| q.outcome == Outcome::Ok).count() as f64 / n as f64;
    eprintln!("p = {p}: success {ok:.4}, expected {success:.4} ({n} requests)");
    assert!(
        binomial_close(ok, success, n),
        "success {ok}, expected {success}"
    );
    let timed_out = done
        .iter()
        .filter(|q| q.outcome == Outcome::Failed(FailReason::Timeout))
        .count();
    assert_eq!(timed_out + (ok * n as f64).round() as usize, n);
}

/// A keepalived pair; the master's host dies at 20.5 s and the backup takes the VIP at
/// 23.609 s (3 × advert_int + skew). A client SYN sent to the VIP meanwhile reaches the dead
/// host and is lost; its retransmissions (1, 3, 7 s after it) go wherever the VIP points when
/// they leave, so the first one after the takeover reaches lb2 and the request succeeds late.
/// With a 10 s client timeout only the requests lb1 held at the crash fail (≈ 0.2 in flight at
/// 200/s); before TCP retransmissions every request of the gap failed (≈ 620).
#[test]
fn a_master_host_crash_fails_only_the_requests_in_flight() {
    let v = json!({
        "name": "vip", "duration": "60s", "warmup": "0s", "window": "100ms",
        "clients": { "target": "vip", "arrival": { "poisson": { "rate": "200/s" } },
                     "mix": { "read": 0.0, "write": 0.0, "static": 1.0 },
                     "timeout": "10s", "addresses": 1000 },
        "load_balancers": [
            { "name": "lb1", "servers": [ { "server": "app1" } ] },
            { "name": "lb2", "servers": [ { "server": "app1" } ] }
        ],
        "lb_pairs": [ { "name": "vip", "mode": "active-passive", "members": ["lb1", "lb2"] } ],
        "app_servers": [ app("app1", 32, constant("1ms")) ],
        "faults": [ crash("lb1", 20.5, Some(30.0), "host") ]
    });
    let (r, log) = observe(&v, 32);
    assert_conservation("VIP master host crash", &r);
    let takeover = r.faults[0].detected_at_s.expect("the backup took over");
    assert!(close(takeover, 23.6095, 0.001), "takeover at {takeover}");
    let failed: Vec<_> = log
        .requests
        .iter()
        .filter(|q| q.outcome != Outcome::Ok)
        .collect();
    eprintln!("takeover {takeover:.4}; failed {failed:?}");
    assert!(failed.len() <= 2, "{} failed", failed.len());
    for q in &failed {
        assert!(
            q.offered_at.as_secs_f64() < 20.5,
            "offered after the crash: {q:?}"
        );
    }
    // Client ↔ LB ↔ server and back, and the service: what a request takes untouched.
    let base = log
        .requests
        .iter()
        .filter(|q| q.offered_at.as_secs_f64() < 20.0)
        .map(latency_s)
        .fold(f64::INFINITY, f64::min);
    let mut gap = 0;
    for q in &log.requests {
        let t0 = q.offered_at.as_secs_f64();
        if !(20.5..takeover - 0.001).contains(&t0) {
            continue;
        }
        gap += 1;
        // The first SYN to leave after the takeover: 1, 3 or 7 s after the first.
        let wait = [1.0, 3.0, 7.0]
            .into_iter()
            .find(|s| t0 + s >= takeover)
            .expect("within 7 s");
        let lat = latency_s(q);
        assert!(
            close(lat, wait + base, 0.0005),
            "offered at {t0}: latency {lat}, expected {wait} s + {base}"
        );
    }
    assert!(gap > 500, "{gap} requests offered in the gap");
}

/// Behind one load balancer with frontend `maxconn` 4, an app server taking 100 ms per
/// request. HAProxy stops accepting at `maxconn`; further connections wait in the listening
/// socket's backlog (as long as `maxconn`, here 4) and are accepted as slots free, and when
/// the backlog is full the kernel drops the SYN and the client retransmits it. So below
/// capacity (30/s against 40/s) nothing is refused and nothing fails — requests wait — where
/// the frontend used to refuse the excess; above it (60/s) the excess fails by the clients'
/// timeout, never by a reset.
#[test]
fn a_frontend_at_maxconn_holds_connections_in_its_backlog() {
    let scenario = |rate: &str| {
        json!({
            "name": "maxconn", "duration": "100s", "warmup": "0s",
            "clients": { "target": "lb", "arrival": { "poisson": { "rate": rate } },
                         "mix": { "read": 0.0, "write": 0.0, "static": 1.0 }, "timeout": "10s" },
            "load_balancers": [ { "name": "lb", "maxconn": 4, "servers": [ { "server": "app1" } ] } ],
            "app_servers": [ app("app1", 64, constant("100ms")) ]
        })
    };
    let r = run(&scenario("30/s"), 33, 1);
    assert_conservation("maxconn below capacity", &r);
    let failed: u64 = r.requests.failed.values().sum();
    eprintln!(
        "30/s: {failed} failed, p99 {} ms, {} SYNs dropped",
        r.latency_ms.p99_ms, r.components["lb"].rejected
    );
    assert_eq!(failed, 0);
    assert!(r.latency_ms.p99_ms > 150.0, "nobody waited in the backlog");
    let r = run(&scenario("60/s"), 33, 1);
    assert_conservation("maxconn above capacity", &r);
    eprintln!(
        "60/s: failed {:?}, {} SYNs dropped",
        r.requests.failed, r.components["lb"].rejected
    );
    assert_eq!(r.requests.failed["connection_refused"], 0);
    assert!(r.requests.failed["timeout"] > 0);
    assert!(r.components["lb"].rejected > 0);
    // The frontend serves at its capacity, 4 connections / 100 ms.
    assert!(
        close(r.throughput_per_s, 40.0, 1.0),
        "{}",
        r.throughput_per_s
    );
}

/// Two app servers behind a load balancer with checks every 2 s (`fall` 3); at 20 s app2
/// hangs (every request takes 10⁵ times longer). `queue` is app2's accept queue.
fn hung_server(kind: &str, queue: u32) -> Value {
    let mut a2 = app("app2", 4, constant("1ms"));
    a2["queue"] = json!(queue);
    json!({
        "name": "hung", "duration": "60s", "warmup": "0s",
        "clients": { "target": "lb", "arrival": { "poisson": { "rate": "100/s" } },
                     "mix": { "read": 0.0, "write": 0.0, "static": 1.0 }, "timeout": "10s" },
        "load_balancers": [ { "name": "lb", "check": { "inter": "2s", "kind": kind },
                              "servers": [ { "server": "app1" }, { "server": "app2" } ] } ],
        "app_servers": [ app("app1", 16, constant("1ms")), a2 ],
        "faults": [ { "degrade": { "target": "app2", "at": "20s", "slowdown": 100000.0 } } ]
    })
}

/// A hung server whose accept queue fills (4 workers and 8 places fill in ≈ 0.25 s at 50/s):
/// its kernel drops every SYN, so each check fails at its deadline (`inter`, 2 s) and the
/// third consecutive failure marks it DOWN: the first failing check starts within one period
/// of the hang, so DOWN falls 10 s (deadline + 2 × (interval + deadline)) after a start in
/// [20, 22.3] s. With a TCP check, before checks went through the server's backlog, the hung
/// server was never marked down.
#[test]
fn a_hung_server_with_a_full_backlog_fails_its_checks() {
    for kind in ["tcp", "http"] {
        let (r, log) = observe(&hung_server(kind, 8), 34);
        assert_conservation("hung server", &r);
        let down = log.times("lb", "app2 DOWN");
        eprintln!("{kind} check: app2 DOWN at {down:?}");
        assert_eq!(down.len(), 1, "{kind}: {:?}", log.changes);
        assert!(
            (30.0..32.3).contains(&down[0]),
            "{kind}: DOWN at {}",
            down[0]
        );
        assert!(log.times("lb", "app2 UP").is_empty());
    }
}

/// A hung server whose accept queue never fills: its kernel still completes handshakes, so a
/// TCP check passes and the server stays UP (as with HAProxy), while an HTTP check waits in
/// the accept queue for a worker that never comes, fails at its deadline, and the server is
/// marked DOWN after `fall` checks (in [30, 32] s, as above). Before, an HTTP check was
/// answered at once and the hung server stayed UP.
#[test]
fn an_http_check_waits_for_a_worker() {
    let (_, tcp) = observe(&hung_server("tcp", 100_000), 35);
    assert!(tcp.times("lb", "app2 DOWN").is_empty(), "{:?}", tcp.changes);
    let (_, http) = observe(&hung_server("http", 100_000), 35);
    let down = http.times("lb", "app2 DOWN");
    assert_eq!(down.len(), 1, "{:?}", http.changes);
    assert!((30.0..32.1).contains(&down[0]), "DOWN at {}", down[0]);
    // Healthy, app2's workers serve its HTTP checks (one per 2 s) besides the requests the
    // load balancer sends it; a TCP check costs them nothing.
    for (kind, checks) in [("http", 30), ("tcp", 0)] {
        let mut v = hung_server(kind, 8);
        v["faults"] = json!([]);
        let r = run(&v, 35, 1);
        let extra = r.components["app2"].served - r.components["lb"].routed["app2"];
        assert!(
            extra.abs_diff(checks) <= 1,
            "{kind}: {extra} served beyond requests"
        );
    }
    // A process crash still refuses the check's connection at once.
    let mut v = hung_server("http", 8);
    v["faults"] = json!([crash("app2", 20.0, None, "process")]);
    let (_, log) = observe(&v, 35);
    let down = log.times("lb", "app2 DOWN");
    assert!((24.0..26.0).contains(&down[0]), "DOWN at {down:?}");
    assert!(log.failed_with(FailReason::ConnectionRefused).len() < 300);
}
