//! End-to-end tests of high availability (issue 4): availability algebra against closed forms,
//! keepalived/VRRP takeover times, active-active pairs behind DNS, the writes an asynchronous
//! failover loses, and the write outage of each database failover mode.
//!
//! Every run uses a fixed seed (replications derive theirs from it), so every verdict is
//! reproducible; the tolerances are justified next to each assertion.

use std::sync::OnceLock;

use infrasim::engine::SimDuration;
use infrasim::report::{Outage, Report};
use serde_json::{Value, json};

use crate::util::{Log, app, close, constant, crash, db_app, detection_window, observe, run};

/// Times at which `component` became VRRP master.
fn masters(log: &Log, component: &str) -> Vec<f64> {
    log.times_starting(component, "VRRP MASTER")
}

fn outages<'a>(r: &'a Report, class: &str) -> Vec<&'a Outage> {
    r.outages.iter().filter(|o| o.class == class).collect()
}

/// Requests offered in [from, to) (whole windows of the first replication) that failed.
fn failed_between(r: &Report, from: f64, to: f64) -> u64 {
    let ts = r.timeseries.as_ref().expect("time series");
    ts.rows
        .iter()
        .filter(|w| w.t_s + ts.window_s > from + 1e-9 && w.t_s < to - 1e-9)
        .map(|w| w.failed.iter().sum::<u64>())
        .sum()
}

// ---------------------------------------------------------------------------------------
// (a) Availability algebra
// ---------------------------------------------------------------------------------------

const MTBF: f64 = 60.0;
const MTTR: f64 = 15.0;
/// Request rate of the algebra scenarios.
const RATE: f64 = 100.0;

/// App servers failing at random (exponential MTBF 60 s / MTTR 15 s, process crashes: a dead
/// server refuses connections at once), 100 req/s, one hour per replication.
fn algebra(servers: &[&str], lb_check: Option<Value>, window: &str) -> Value {
    let mut v = json!({
        "name": "algebra",
        "duration": "3600s",
        "warmup": "0s",
        "window": window,
        "clients": {
            "target": if lb_check.is_some() { "lb" } else { servers[0] },
            "arrival": {"poisson": {"rate": format!("{RATE}/s")}},
            "mix": {"read": 0.0, "write": 0.0, "static": 1.0},
            "timeout": "5s"
        },
        // 32 workers, 1 ms of CPU, no database.
        "app_servers": servers.iter().map(|s| app(s, 32, constant("1ms"))).collect::<Vec<_>>(),
        "faults": servers.iter().map(|s| json!({"random": {
            "target": s,
            "ttf": {"exponential": {"mean": format!("{MTBF}s")}},
            "ttr": {"exponential": {"mean": format!("{MTTR}s")}}
        }})).collect::<Vec<_>>()
    });
    if let Some(check) = lb_check {
        // `retries 0`: a request sent to a dead server fails at once, so the failing interval
        // is exactly the exposure interval (HAProxy's default 3 retries, 1 s apart on the same
        // server, would shift failures by up to 3 s and blur the algebra).
        v["load_balancers"] = json!([{
            "name": "lb",
            "retries": 0,
            "servers": servers.iter().map(|s| json!({"server": s})).collect::<Vec<_>>(),
            "check": check
        }]);
    }
    v
}

/// Extra down time that window quantization adds to each down interval. A window counts as
/// down when its success ratio is below 0.99; with `n` requests per window hitting the dead
/// server at rate `rate`, the window holding an edge of the interval is down as soon as one of
/// them fails (two when ≈ 100 requests share the window: 1 failure in 100 is still 0.99).
/// The edge overlaps a window by x ~ U(0, w), the window is down with probability
/// P(≥ k failures in x), and the two edges together cost 2·w·E[P] for a true w:
/// `δ = w − 2k(1 − e^{−rate·w})/rate` (k = 1 or 2).
fn window_bias(w: f64, rate: f64, k: f64) -> f64 {
    w - 2.0 * k * (1.0 - infrasim::engine::math::exp(-rate * w)) / rate
}

/// One server, targeted directly, MTBF 60 s, MTTR 15 s: A = 60/75 = 0.8.
///
/// * **Requests** (Poisson arrivals see time averages): the 95 % CI of request availability
///   over 16 one-hour replications contains 0.8 (measured 0.8006 ± 0.0145).
/// * **Time** (fraction of good windows) is biased *down* by the window granularity: every
///   failure makes its two edge windows bad although the server was up for part of them,
///   δ(w) per failure ([`window_bias`]), so E[time availability] = A − δ(w)/(MTBF + MTTR).
///   With 250 ms windows δ = 0.23 s, bias −0.003: both 0.8 and the corrected 0.797 lie in the
///   CI (measured 0.7974 ± 0.0145). With 1 s windows δ ≈ 0.97 s, bias −0.013: the corrected
///   0.787 lies in the CI (measured 0.7874 ± 0.0147; 0.8 is only at its edge, by luck of the
///   seed, so it is not asserted).
/// * The window bias itself is checked sharply: the same sample paths (same seed) measured with
///   both window widths differ by (δ(1 s) − δ(250 ms))/75 = 0.0099 (measured 0.0100); the
///   difference hardly depends on the random faults (sd ≈ 0.0004), so ±0.0015 is tight: a
///   model that counted outages differently (e.g. marked a window down only when most of it
///   failed) would miss it.
/// * There is no detection delay here (nothing to detect: clients hit the server itself and a
///   dead process refuses connections at once), so no other bias applies.
///
/// A 95 % interval misses the truth one time in twenty by construction: the seed (7) was
/// fixed before the first run, not tuned (seed 107, for one, misses 0.8 with 0.774 ± 0.019).
/// With 160 replications the request availability is 0.7973 ± 0.0052: no hidden bias.
#[test]
fn single_server_time_availability_matches_mtbf_over_mtbf_plus_mttr() {
    let a = MTBF / (MTBF + MTTR);
    let fine = run(&algebra(&["app1"], None, "250ms"), 7, 16);
    let coarse = run(&algebra(&["app1"], None, "1s"), 7, 16);
    let req = &fine.confidence["availability"];
    let t_fine = &fine.confidence["time_availability"];
    let t_coarse = &coarse.confidence["time_availability"];
    let bias_fine = window_bias(0.25, RATE, 1.0) / (MTBF + MTTR);
    // 1 s windows hold ≈ 100 requests: one failure is bad half the time, two always.
    let bias_coarse = window_bias(1.0, RATE, 1.5) / (MTBF + MTTR);
    eprintln!(
        "single server: requests {:.4} ± {:.4}; time(250 ms) {:.4} ± {:.4} (expect {:.4}); \
         time(1 s) {:.4} ± {:.4} (expect {:.4})",
        req.mean,
        req.half_width,
        t_fine.mean,
        t_fine.half_width,
        a - bias_fine,
        t_coarse.mean,
        t_coarse.half_width,
        a - bias_coarse
    );
    assert!(req.contains(a), "request availability {req:?} vs {a}");
    assert!(req.half_width < 0.03 * a && t_fine.half_width < 0.03 * a);
    assert!(t_fine.contains(a), "time availability {t_fine:?} vs {a}");
    assert!(t_fine.contains(a - bias_fine));
    assert!(t_coarse.contains(a - bias_coarse), "{t_coarse:?}");
    let diff = t_fine.mean - t_coarse.mean;
    let expect = bias_coarse - bias_fine;
    assert!(
        close(diff, expect, 0.0015),
        "window bias {diff} vs {expect}"
    );
    // Same faults in both runs: the window width changes the measure, not the sample path.
    assert_eq!(fine.availability, coarse.availability);
}

/// The extra exposure of a pair when one server dies while the other is up: the failure
/// hits `rate/2` requests per second for `exposure` seconds, and the window quantization adds
/// [`window_bias`] for requests arriving at rate/2.
fn pair_prediction(exposure: f64, w: f64) -> (f64, f64) {
    let a = MTBF / (MTBF + MTTR);
    let u2 = (1.0 - a) * (1.0 - a);
    // Failures per second of either server while the other is up, and of both-down periods.
    let single = 2.0 * a / (MTBF + MTTR);
    let both = 2.0 * (1.0 - a) / (MTBF + MTTR);
    let requests = 1.0 - u2 - single * exposure / 2.0;
    let time = 1.0
        - u2
        - single * (exposure + window_bias(w, RATE / 2.0, 1.0))
        - both * window_bias(w, RATE, 1.0);
    (requests, time)
}

/// The active-active pair with fast checks (`inter 100ms rise 1 fall 1`), 16 replications of
/// an hour; run once, shared by the two pair tests.
fn fast_pair() -> &'static Report {
    static FAST: OnceLock<Report> = OnceLock::new();
    FAST.get_or_init(|| {
        let fast = json!({"inter": "100ms", "rise": 1, "fall": 1});
        run(&algebra(&["app1", "app2"], Some(fast), "250ms"), 8, 16)
    })
}

/// Two independent servers, active-active behind one HAProxy with fast checks (`inter 100ms
/// rise 1 fall 1`): the closed form for a parallel pair is 1 − (1 − A)² = 0.96.
///
/// * Requests: the 95 % CI contains 0.96 (measured 0.9612 ± 0.0063). The only extra loss is
///   the detection window, ≈ 0.05 s per failure at half the traffic: 0.0005, inside the CI.
/// * Time: each failure of one server while the other is up (2A/75 = 0.0213/s) makes a bad
///   window while the LB has not yet noticed — 0.05 s of detection plus ≈ 0.21 s of window
///   quantization — and each both-down period gets the single-server window bias: predicted
///   0.953 (measured 0.9552 ± 0.0064), so the CI contains the corrected value and the
///   measure stays within 0.01 of the closed form.
#[test]
fn active_active_pair_approaches_parallel_availability_when_detection_is_fast() {
    let r = fast_pair();
    let a = MTBF / (MTBF + MTTR);
    let closed = 1.0 - (1.0 - a) * (1.0 - a);
    // Detection: the next check, U(0, 100 ms): 0.05 s on average.
    let (req_pred, time_pred) = pair_prediction(0.05, 0.25);
    let req = &r.confidence["availability"];
    let time = &r.confidence["time_availability"];
    eprintln!(
        "fast pair: requests {:.4} ± {:.4} (closed form {closed:.4}, predicted {req_pred:.4}); \
         time {:.4} ± {:.4} (predicted {time_pred:.4})",
        req.mean, req.half_width, time.mean, time.half_width
    );
    assert!(req.contains(closed), "{req:?}");
    assert!(req.contains(req_pred));
    assert!(time.contains(time_pred), "{time:?} vs {time_pred}");
    assert!(req.half_width < 0.03 * req_pred && time.half_width < 0.03 * time_pred);
}

/// The algebra catches a 5 % error in *unavailability*, not only in availability. One server,
/// failing often (MTBF 6 s, MTTR 1.5 s: U = 0.2, 960 failure cycles per two-hour replication,
/// 16 replications): the 95 % CI of request availability contains A = 0.8 and is narrow
/// enough (half-width < 2.5 % of U) to exclude what an MTBF or MTTR 5 % off would give —
/// 0.8077, 0.7917, 0.7921, 0.8081 — and U itself 5 % off (0.79, 0.81).
#[test]
fn unavailability_five_percent_off_is_caught() {
    let (mtbf, mttr) = (6.0, 1.5);
    let mut v = algebra(&["app1"], None, "1s");
    v["duration"] = json!("7200s");
    v["faults"][0]["random"]["ttf"]["exponential"]["mean"] = json!(format!("{mtbf}s"));
    v["faults"][0]["random"]["ttr"]["exponential"]["mean"] = json!(format!("{mttr}s"));
    let r = run(&v, 11, 16);
    let req = &r.confidence["availability"];
    let avail = |f: f64, r: f64| f / (f + r);
    let a = avail(mtbf, mttr);
    eprintln!(
        "U = 0.2: availability {:.5} ± {:.5}",
        req.mean, req.half_width
    );
    assert!(req.contains(a), "{req:?} vs {a}");
    assert!(
        req.half_width < 0.025 * (1.0 - a),
        "half-width {} against U = {}",
        req.half_width,
        1.0 - a
    );
    for (what, wrong) in [
        ("MTBF × 1.05", avail(mtbf * 1.05, mttr)),
        ("MTBF × 0.95", avail(mtbf * 0.95, mttr)),
        ("MTTR × 1.05", avail(mtbf, mttr * 1.05)),
        ("MTTR × 0.95", avail(mtbf, mttr * 0.95)),
        ("U × 1.05", 1.0 - (1.0 - a) * 1.05),
        ("U × 0.95", 1.0 - (1.0 - a) * 0.95),
    ] {
        assert!(!req.contains(wrong), "{what}: {wrong} is inside {req:?}");
    }
}

/// The same pair with slow detection — `inter 2s fall 3` (HAProxy's defaults; `rise 1` and
/// `downinter 100ms` so that only *detection* is slow, not re-admission). A dead server is
/// marked down U(0, 2 s) + 2 × 2 s = 4–6 s after it dies (semantics §2.1), and meanwhile round
/// robin sends it half the requests. A failure shorter than that is never detected, so the
/// exposure per failure is E[min(D, T)] = MTTR·(1 − E[e^{−T/MTTR}]) = 4.25 s.
///
/// Predicted: requests 1 − 0.04 − 0.0213 × 4.25 / 2 = 0.9147 (measured 0.9146 ± 0.0065),
/// time 1 − 0.04 − 0.0213 × (4.25 + 0.21) − 0.0053 × 0.23 = 0.8638 (measured
/// 0.8619 ± 0.0079). Against the fast pair (time 0.9552): slow detection costs 9 points of
/// time availability and more than doubles the request unavailability (3.9 % → 8.5 %) — with
/// default checks the pair buys barely half of what the parallel closed form promises over
/// one server (0.80). The CIs must contain the predictions up to 0.005: a
/// second-order term is left out (a server that died during a both-down period is still
/// undetected when the other comes back: ≈ +0.002 of request and +0.004 of time
/// unavailability at most).
#[test]
fn slow_detection_pulls_pair_availability_down() {
    let slow = json!({"inter": "2s", "fall": 3, "rise": 1, "downinter": "100ms"});
    let r = run(&algebra(&["app1", "app2"], Some(slow), "250ms"), 8, 16);
    let f = fast_pair();
    // E[min(D, T)], D ~ Exp(MTTR), T ~ U(lo, hi): the detection window of `inter 2s fall 3`
    // for a dead process (U(4 s, 6 s)).
    let (lo, hi) = detection_window(SimDuration::from_secs(2), 3, SimDuration::ZERO);
    let (lo, hi) = (lo.as_secs_f64(), hi.as_secs_f64());
    let e_t = infrasim::engine::math::exp(-lo / MTTR)
        * (1.0 - infrasim::engine::math::exp(-(hi - lo) / MTTR))
        * MTTR
        / (hi - lo);
    let exposure = MTTR * (1.0 - e_t);
    let (req_pred, time_pred) = pair_prediction(exposure, 0.25);
    let req = &r.confidence["availability"];
    let time = &r.confidence["time_availability"];
    let fast_time = f.confidence["time_availability"].mean;
    eprintln!(
        "slow pair: exposure {exposure:.3} s; requests {:.4} ± {:.4} (predicted {req_pred:.4}); \
         time {:.4} ± {:.4} (predicted {time_pred:.4}); fast pair time {fast_time:.4}",
        req.mean, req.half_width, time.mean, time.half_width
    );
    assert!(close(req.mean, req_pred, req.half_width + 0.005), "{req:?}");
    assert!(
        close(time.mean, time_pred, time.half_width + 0.005),
        "{time:?}"
    );
    assert!(
        fast_time - time.mean > 0.06,
        "slow detection costs: {fast_time} vs {time:?}"
    );
    let u_fast = 1.0 - f.confidence["availability"].mean;
    assert!(
        1.0 - req.mean > 1.8 * u_fast,
        "unavailability {} vs {u_fast}",
        1.0 - req.mean
    );
}

// ---------------------------------------------------------------------------------------
// (b) Load balancer pairs
// ---------------------------------------------------------------------------------------

/// keepalived defaults: advert_int 1 s, priorities 150 (lb1, initial master) / 100 (lb2).
const ADVERT: f64 = 1.0;
/// VRRPv2 skew time of the backup (priority 100): (256 − 100)/256 s.
const SKEW_BACKUP: f64 = 156.0 / 256.0;
/// Skew time of lb1 (priority 150).
const SKEW_MASTER: f64 = 106.0 / 256.0;
/// Same-datacentre one-way latency (the default): an advert arrives 100 µs after it is sent.
const HOP: f64 = 100e-6;

/// Clients (200 req/s, 2 s timeout) → `target` (an LB pair or a single LB) → one app server.
/// 100 ms windows so outages are measured to ±0.1 s.
fn lb_scenario(target: &str, pair: Option<Value>, faults: Value) -> Value {
    let mut v = json!({
        "name": "lbs",
        "duration": "80s",
        "warmup": "0s",
        "window": "100ms",
        "clients": {
            "target": target,
            "arrival": {"poisson": {"rate": "200/s"}},
            "mix": {"read": 0.0, "write": 0.0, "static": 1.0},
            "timeout": "2s",
            "addresses": 1000
        },
        "load_balancers": [
            {"name": "lb1", "servers": [{"server": "app1"}]},
            {"name": "lb2", "servers": [{"server": "app1"}]}
        ],
        "app_servers": [app("app1", 32, constant("1ms"))],
        "faults": faults
    });
    if let Some(p) = pair {
        v["lb_pairs"] = json!([p]);
    }
    v
}

fn active_passive(preempt: bool) -> Value {
    json!({"name": "vip", "mode": "active-passive", "members": ["lb1", "lb2"], "preempt": preempt})
}

/// The master's host dies. Adverts leave lb1 at whole seconds (0, 1, 2, …) and arrive 100 µs
/// later; the backup's master-down timer, reset by each, expires
/// Master_Down_Interval = 3 × advert_int + (256 − 100)/256 s = 3.609 s after the last one
/// (keepalived.conf(5): "if advert_int is 1, and priority is 128, the instance would normally
/// wait 3.5 seconds"). So the takeover comes 20.0001 + 3.609 = 23.609 s whether the host died
/// at 20.1, 20.5 or 20.9 s: outages of 3.51, 3.11 and 2.71 s — the MDI minus up to one
/// advert_int. The report's `detected_at_s` is the takeover; the client-visible outage (100 ms
/// windows) spans [crash, takeover − 1 s] to one window: requests offered in the last second
/// before the takeover get through on their SYN's first retransmission (`crate::model::tcp`).
///
/// When lb1 comes back at crash + 30 s it starts as BACKUP, discards lb2's lower-priority
/// adverts and, with `preempt` (the default), takes the VIP back when its own timer expires,
/// 3 + 106/256 = 3.414 s later: a second, short disruption (the connections lb2 held are
/// reset: measured 0–3 failed requests). With `nopreempt` the VIP stays on lb2.
#[test]
fn keepalived_backup_takes_over_after_the_master_down_interval() {
    let mdi = 3.0 * ADVERT + SKEW_BACKUP;
    let mut preempt_failures = 0;
    for at in [20.1, 20.5, 20.9] {
        let faults = json!([crash("lb1", at, Some(30.0), "host")]);
        let (r, log) = observe(&lb_scenario("vip", Some(active_passive(true)), faults), 21);
        let f = &r.faults[0];
        let takeover = f.detected_at_s.expect("the backup took over");
        let out = outages(&r, "all");
        eprintln!(
            "host crash at {at}: takeover {takeover:.4} ({:.3} s), outages {:?}, masters {:?}",
            takeover - at,
            out.iter().map(|o| (o.start_s, o.end_s)).collect::<Vec<_>>(),
            (masters(&log, "lb1"), masters(&log, "lb2"))
        );
        assert_eq!(f.detected_by.as_deref(), Some("VRRP takeover by lb2"));
        assert!(
            close(takeover, 20.0 + HOP + mdi, 1e-6),
            "takeover at {takeover}"
        );
        assert!((mdi - ADVERT..=mdi).contains(&(takeover - at)));
        // The outage: from the window of the crash to one SYN retransmission timeout before
        // the takeover. A request offered in the last second before the takeover has its
        // SYN retransmitted 1 s later — to the new master, since the gratuitous ARP moved
        // the VIP — and succeeds late; one offered earlier is retransmitted next at 3 s,
        // after the clients' 2 s timeout.
        assert!(close(out[0].start_s, at, 0.1 + 1e-9), "{:?}", out[0]);
        assert!(
            close(out[0].end_s, takeover - 1.0, 0.1 + 1e-9),
            "{:?}",
            out[0]
        );
        let late = (r.latency_ms.max_ms, r.requests.failed["timeout"]);
        assert!(
            late.0 >= 1000.0,
            "no request waited a retransmission: {late:?}"
        );
        // Preemption when lb1 is back: the VIP moves again and the requests lb2 was still
        // serving are reset — a burst of a few failures (≈ 2 requests are mid-way at 200/s),
        // and nothing else fails after the takeover.
        let back = at + 30.0;
        assert_eq!(masters(&log, "lb2"), vec![takeover]);
        let lb1 = masters(&log, "lb1");
        assert_eq!(lb1.len(), 1);
        assert!(
            close(lb1[0], back + 3.0 * ADVERT + SKEW_MASTER, 1e-6),
            "{lb1:?}"
        );
        let burst = failed_between(&r, lb1[0] - 0.1, lb1[0] + 0.1);
        assert_eq!(failed_between(&r, takeover + 0.1, lb1[0] - 0.1), 0);
        assert_eq!(failed_between(&r, lb1[0] + 0.1, 80.0), 0);
        assert!(burst <= 10, "{burst} failures at the preemption");
        preempt_failures += burst;
    }
    assert!(preempt_failures > 0, "preemption resets connections");
    // nopreempt: the VIP stays where it is.
    let faults = json!([crash("lb1", 20.5, Some(30.0), "host")]);
    let (r, log) = observe(&lb_scenario("vip", Some(active_passive(false)), faults), 21);
    assert!(masters(&log, "lb1").is_empty());
    assert_eq!(outages(&r, "all").len(), 1);
    assert_eq!(failed_between(&r, 25.0, 80.0), 0);
}

/// HAProxy dies on the master but the host stays up. `vrrp_script chk_haproxy` (interval 1 s,
/// weight 0) notices at the next run, the master enters FAULT and sends a priority-0 advert,
/// and the backup takes over after its skew time alone (0.609 s): takeover at the next whole
/// second + 100 µs + 0.609 s, i.e. 0.61–1.61 s after the crash (semantics §3.1: "≈ 0.5–1.6 s
/// after HAProxy death"), instead of the 2.6–3.6 s of a host crash. Until the script fails
/// clients get connection refused; in FAULT the master has removed the VIP, so a SYN sent
/// during the backup's skew is dropped and retransmitted a second later, to the new master:
/// the outage ends when the script fails, at 21 s (measured, to the 100 ms window: 0.9, 0.5
/// and 0.1 s).
#[test]
fn keepalived_chk_haproxy_makes_the_master_resign() {
    for at in [20.1, 20.5, 20.9] {
        let faults = json!([crash("lb1", at, Some(30.0), "process")]);
        let (r, log) = observe(&lb_scenario("vip", Some(active_passive(true)), faults), 22);
        let takeover = r.faults[0].detected_at_s.expect("the backup took over");
        let out = outages(&r, "all");
        eprintln!(
            "process crash at {at}: takeover {takeover:.4} ({:.3} s), outages {:?}",
            takeover - at,
            out.iter()
                .map(|o| (o.start_s, o.end_s, o.cause.as_str()))
                .collect::<Vec<_>>()
        );
        assert!(
            close(takeover, 21.0 + HOP + SKEW_BACKUP, 1e-6),
            "takeover at {takeover}"
        );
        assert!((SKEW_BACKUP..=SKEW_BACKUP + ADVERT).contains(&(takeover - at)));
        assert_eq!(masters(&log, "lb2"), vec![takeover]);
        assert!(close(out[0].start_s, at, 0.1 + 1e-9));
        assert!(close(out[0].end_s, 21.0, 0.1 + 1e-9), "{:?}", out[0]);
        assert_eq!(out[0].cause, "connection_refused");
    }
}

/// A single load balancer is a single point of failure: its outage is its repair time. Crashed
/// for 20 s at 20.5 s, every request offered meanwhile fails — process: refused at once
/// (outage [20.4, 40.5] s, 20 s plus the window holding the requests in flight at the crash);
/// host: the clients' 2 s timeout, except the requests offered in the last second, whose SYN
/// is retransmitted 1 s later to the restarted load balancer (outage [20.4, 39.5] s) — and
/// the first request after the restart succeeds: HAProxy starts with its servers UP.
#[test]
fn single_load_balancer_outage_equals_its_repair_time() {
    for mode in ["process", "host"] {
        let r = run(
            &lb_scenario("lb1", None, json!([crash("lb1", 20.5, Some(20.0), mode)])),
            23,
            1,
        );
        let out = outages(&r, "all");
        eprintln!("single LB, {mode} crash: outages {out:?}");
        let (cause, outage) = if mode == "process" {
            ("connection_refused", 20.0)
        } else {
            ("timeout", 19.0)
        };
        assert_eq!(out.len(), 1);
        assert!(close(out[0].start_s, 20.5, 0.1 + 1e-9));
        assert!(close(out[0].end_s, 20.5 + outage, 0.1 + 1e-9));
        assert!(close(out[0].end_s - out[0].start_s, outage, 0.2 + 1e-9));
        assert_eq!(out[0].cause, cause);
        assert!(close(r.faults[0].downtime_s, outage, 0.2 + 1e-9));
    }
}

fn active_active(ttl: &str, client_failover: bool) -> Value {
    json!({
        "name": "dns", "mode": "active-active", "members": ["lb1", "lb2"],
        "dns_ttl": ttl, "client_failover": client_failover
    })
}

/// Requests offered in [from, to) that failed, as a fraction of those offered.
fn failed_share(r: &Report, from: f64, to: f64) -> f64 {
    let ts = r.timeseries.as_ref().expect("time series");
    let rows = ts
        .rows
        .iter()
        .filter(|w| w.t_s + 1e-9 >= from && w.t_s + ts.window_s <= to + 1e-9);
    let (mut failed, mut offered) = (0, 0);
    for w in rows {
        failed += w.failed.iter().sum::<u64>();
        offered += w.offered;
    }
    failed as f64 / offered.max(1) as f64
}

/// Active-active behind DNS round robin (TTL 10 s), lb1's HAProxy dies from 20.5 s to 60.5 s.
///
/// Each of the 1 000 client addresses keeps its cached answer for the TTL; the answers
/// alternate between the two addresses, so ≈ half the clients point at lb1 at any time and
/// every request of theirs is refused (measured 50 % in the first TTL after the crash).
/// Plain DNS round robin has no health check: re-resolving clients are handed the dead address
/// just as often, so the failing share stays ≈ ½ until lb1 is back (measured 49.5 % from
/// crash + TTL to the repair) — the pair gives no availability for LB failures, only capacity.
/// With `client_failover` (browsers retry the next A record), a refused connection moves to
/// lb2 at once and nothing fails; if lb1's *host* vanishes instead, each such request first
/// waits the 3 s connect attempt (10 s client timeout; p99 latency measured 3.02 s) but still
/// succeeds.
#[test]
fn active_active_dns_clients_fail_while_pointed_at_the_dead_lb() {
    let faults = json!([crash("lb1", 20.5, Some(40.0), "process")]);
    let plain = run(
        &lb_scenario("dns", Some(active_active("10s", false)), faults.clone()),
        24,
        1,
    );
    let (first_ttl, later) = (
        failed_share(&plain, 20.6, 30.5),
        failed_share(&plain, 30.5, 60.5),
    );
    eprintln!(
        "DNS RR: failing share {first_ttl:.3} in the first TTL, {later:.3} after; outages {:?}",
        outages(&plain, "all")
            .iter()
            .map(|o| (o.start_s, o.end_s))
            .collect::<Vec<_>>()
    );
    assert!(close(first_ttl, 0.5, 0.1), "{first_ttl}");
    assert!(close(later, 0.5, 0.1), "{later}");
    assert_eq!(failed_share(&plain, 0.0, 20.4), 0.0);
    assert_eq!(failed_share(&plain, 60.6, 80.0), 0.0);
    let out = outages(&plain, "all");
    assert_eq!(out.len(), 1);
    assert!(close(out[0].start_s, 20.5, 0.1 + 1e-9) && close(out[0].end_s, 60.5, 0.1 + 1e-9));

    let browsers = run(
        &lb_scenario("dns", Some(active_active("10s", true)), faults),
        24,
        1,
    );
    assert_eq!(browsers.requests.failed_total(), 0);
    let host = json!([crash("lb1", 20.5, Some(40.0), "host")]);
    let mut v = lb_scenario("dns", Some(active_active("10s", true)), host);
    v["clients"]["timeout"] = json!("10s");
    let blackhole = run(&v, 24, 1);
    eprintln!(
        "client failover: refused → {} failed; blackholed → {} failed, p99 {} ms",
        browsers.requests.failed_total(),
        blackhole.requests.failed_total(),
        blackhole.latency_ms.p99_ms
    );
    assert_eq!(blackhole.requests.failed_total(), 0);
    assert!(blackhole.latency_ms.p99_ms > 3000.0);
}

/// What issue 4 asks of active-active DNS: "after one LB dies, the clients whose cached answer
/// points to it keep failing until the TTL runs out". That holds when the DNS service stops
/// handing out the dead address — a health-checked record (Route 53 failover; semantics
/// §3.2). Here it checks every 500 ms and withdraws an address after one failure, so the
/// failures last one TTL (10 s) plus at most 0.5 s of detection.
#[test]
fn active_active_dns_failures_last_about_one_ttl() {
    let faults = json!([crash("lb1", 20.5, Some(40.0), "process")]);
    let mut pair = active_active("10s", false);
    pair["dns_check_interval"] = json!("500ms");
    pair["dns_failure_threshold"] = json!(1);
    let r = run(&lb_scenario("dns", Some(pair), faults), 24, 1);
    // Every cache entry taken before the crash has expired 10 s after it.
    assert!(failed_share(&r, 20.6, 21.5) > 0.3);
    assert!(failed_share(&r, 31.0, 60.5) < 0.01);
    // Cached answers expire uniformly over the TTL, so the failing share falls linearly to
    // zero and the outage windows thin out towards its end: the outages span one TTL.
    let out = outages(&r, "all");
    let (first, last) = (
        out.first().expect("an outage"),
        out.last().expect("an outage"),
    );
    let span = last.end_s - first.start_s;
    assert!(close(first.start_s, 20.5, 0.2), "{out:?}");
    assert!(close(span, 10.0, 1.0), "outages span {span} s: {out:?}");
}

// ---------------------------------------------------------------------------------------
// (b′) keepalived: the tracked script, weights, short crashes, partitions, preemption, start
// ---------------------------------------------------------------------------------------

/// Master_Down_Interval of lb2 (priority 100, v2): 3 × 1 s + 156/256 s.
const MDI_BACKUP: f64 = 3.0 * ADVERT + SKEW_BACKUP;
/// Master_Down_Interval of lb1 (priority 150, v2): 3 × 1 s + 106/256 s.
const MDI_MASTER: f64 = 3.0 * ADVERT + SKEW_MASTER;

/// The default keepalived pair (priorities 150/100, preempt) with `extra` keys set.
fn keepalived(extra: Value) -> Value {
    let mut p = active_passive(true);
    for (k, v) in extra.as_object().expect("an object of keys") {
        p[k] = v.clone();
    }
    p
}

/// A duration in seconds as a scenario string, to the microsecond.
fn secs(s: f64) -> String {
    format!("{}us", (s * 1e6).round())
}

/// The first run of a script that runs at 0, `interval`, 2·`interval`, … at or after `t`.
fn next_run(t: f64, interval: f64) -> f64 {
    (t / interval).ceil() * interval
}

/// `vrrp_script chk_haproxy` with keepalived's weight 0 runs on its own timer (here from
/// t = 0, every `interval`). When
/// HAProxy dies, the runs fail; at the `fall`-th failure in a row the master enters FAULT
/// (keepalived `down_instance`) and resigns with a priority-0 advert, and the backup takes over
/// after its skew time alone: takeover = first failing run + (fall − 1)·interval + 100 µs +
/// 0.609 s, never more than fall × interval + 0.609 s after the crash (semantics §3.1: "add
/// script detection: interval × fall"). With `rise` 1 the first passing run after HAProxy
/// returns brings lb1 back as BACKUP, and it preempts one Master_Down_Interval (3.414 s)
/// later. Checked for three (interval, fall) settings and three crash phases each.
#[test]
fn vrrp_script_weight_zero_resigns_after_fall_failed_runs() {
    for (interval, fall) in [(1.0, 3u32), (0.5, 2), (0.3, 1)] {
        for at in [20.05, 20.45, 20.95] {
            let pair =
                keepalived(json!({"vrrp_script": {"interval": secs(interval), "fall": fall}}));
            let faults = json!([crash("lb1", at, Some(30.0), "process")]);
            let (r, log) = observe(&lb_scenario("vip", Some(pair), faults), 26);
            let fault = next_run(at, interval) + f64::from(fall - 1) * interval;
            let takeover = fault + HOP + SKEW_BACKUP;
            let faults_seen = log.times("lb1", "VRRP FAULT (chk_haproxy failed)");
            let lb2 = masters(&log, "lb2");
            let out = outages(&r, "all");
            eprintln!(
                "interval {interval} fall {fall}, crash at {at}: FAULT {faults_seen:?}, lb2 master \
                 {lb2:?} (expected {takeover:.6}), outage {:?}",
                out.first().map(|o| (o.start_s, o.end_s))
            );
            assert_eq!(faults_seen.len(), 1);
            assert!(
                close(faults_seen[0], fault, 1e-6),
                "FAULT at {faults_seen:?}"
            );
            assert_eq!(lb2.len(), 1);
            assert!(close(lb2[0], takeover, 1e-6), "takeover at {lb2:?}");
            let bound = f64::from(fall) * interval + HOP + SKEW_BACKUP;
            assert!(lb2[0] - at <= bound + 1e-9, "{} > {bound}", lb2[0] - at);
            // Refused until the script fails; SYNs sent in FAULT are retransmitted to lb2.
            assert!(close(out[0].start_s, at, 0.1 + 1e-9), "{:?}", out[0]);
            assert!(close(out[0].end_s, fault, 0.1 + 1e-9), "{:?}", out[0]);
            // Back: BACKUP at the first passing run, master a Master_Down_Interval later.
            let back = next_run(at + 30.0, interval);
            let lb1 = masters(&log, "lb1");
            assert_eq!(log.times("lb1", "VRRP BACKUP").len(), 1);
            assert!(close(log.times("lb1", "VRRP BACKUP")[0], back, 1e-6));
            assert_eq!(lb1.len(), 1);
            assert!(close(lb1[0], back + MDI_MASTER, 1e-6), "{lb1:?}");
        }
    }
}

/// A script with a weight never makes the master resign: it moves the effective priority
/// (keepalived vrrp_track.c `process_script_update_priority`) and the pair elects by priority.
///
/// * `weight -60`: lb1's HAProxy dies at 20.05, 20.45 or 20.95 s; the run at 21 s fails and
///   lb1 advertises 150 − 60 = 90 from the advert of 21 s on (script and adverts both run every
///   second from t = 0, the script's run first). lb2 (100, preempt) discards those
///   adverts, so its timer runs on from the last one it accepted — the advert of 20 s — and it
///   takes over its *whole* Master_Down_Interval later: 20.0001 + 3.609 = 23.609 s, whatever
///   the crash phase, two seconds after a weight-0 script would have let it (21.609 s). lb1
///   steps down on lb2's first advert and never enters FAULT.
/// * `weight 60`, priorities 100/100: both advertise 160 while their script succeeds; lb1's
///   failure drops it to 100 and lb2 takes over after *its* interval at 160: 3 + 96/256 s
///   after the advert of 20 s.
#[test]
fn vrrp_script_weight_moves_the_priority_and_the_backup_waits_its_whole_interval() {
    for at in [20.05, 20.45, 20.95] {
        let pair = keepalived(json!({"vrrp_script": {"weight": -60}}));
        let faults = json!([crash("lb1", at, Some(30.0), "process")]);
        let (r, log) = observe(&lb_scenario("vip", Some(pair), faults), 27);
        let takeover = 20.0 + HOP + MDI_BACKUP;
        let lb2 = masters(&log, "lb2");
        eprintln!(
            "weight -60, crash at {at}: lb2 master {lb2:?}, lb1 backup {:?}, outage {:?}",
            log.times("lb1", "VRRP BACKUP"),
            outages(&r, "all").first().map(|o| (o.start_s, o.end_s))
        );
        assert_eq!(lb2.len(), 1);
        assert!(close(lb2[0], takeover, 1e-6), "{lb2:?}");
        assert!(
            log.times("lb1", "VRRP FAULT (chk_haproxy failed)")
                .is_empty()
        );
        assert!(close(
            log.times("lb1", "VRRP BACKUP")[0],
            takeover + HOP,
            1e-6
        ));
        let out = outages(&r, "all");
        assert!(close(out[0].end_s, takeover, 0.1 + 1e-9), "{:?}", out[0]);
    }
    let mut pair = keepalived(json!({"vrrp_script": {"weight": 60}}));
    pair["priorities"] = json!([100, 100]);
    let faults = json!([crash("lb1", 20.5, Some(30.0), "process")]);
    let (_, log) = observe(&lb_scenario("vip", Some(pair), faults), 27);
    let lb2 = masters(&log, "lb2");
    assert_eq!(lb2.len(), 1);
    assert!(
        close(lb2[0], 20.0 + HOP + 3.0 + 96.0 / 256.0, 1e-6),
        "{lb2:?}"
    );
}

/// A weight that leaves the master at or above the backup's priority moves nothing: with
/// `weight -40` lb1 advertises 110 > 100, with `weight -50` exactly 100, which a backup accepts
/// (keepalived `vrrp_state_backup`: `hd->priority >= vrrp->effective_priority`). lb2 never
/// takes over, and every request of the 10 s crash is refused: one outage, the crash itself.
#[test]
fn vrrp_script_weight_too_small_keeps_the_master() {
    for weight in [-40, -50] {
        let pair = keepalived(json!({"vrrp_script": {"weight": weight}}));
        let faults = json!([crash("lb1", 20.5, Some(10.0), "process")]);
        let (r, log) = observe(&lb_scenario("vip", Some(pair), faults), 28);
        let out = outages(&r, "all");
        eprintln!(
            "weight {weight}: masters {:?} / {:?}, outages {:?}",
            masters(&log, "lb1"),
            masters(&log, "lb2"),
            out.iter().map(|o| (o.start_s, o.end_s)).collect::<Vec<_>>()
        );
        assert!(masters(&log, "lb2").is_empty() && masters(&log, "lb1").is_empty());
        assert_eq!(out.len(), 1);
        assert!(close(out[0].start_s, 20.5, 0.1 + 1e-9) && close(out[0].end_s, 30.5, 0.1 + 1e-9));
        assert_eq!(out[0].cause, "connection_refused");
    }
}

/// A HAProxy crash that the script does not see `fall` times in a row moves nothing
/// (keepalived counts consecutive results: vrrp_scheduler.c `vrrp_script_child_thread`).
///
/// * `fall 3`, 1 s runs: a 1.9 s crash spans at most two runs, whatever its phase: no FAULT,
///   no takeover; the only failures are the requests refused during the crash itself (one
///   outage, [crash, crash + 1.9 s] to the 100 ms window).
/// * The same script and a 2.2 s crash from 20.95 s spans the runs at 21, 22 and 23 s: it is
///   the number of failed runs that counts, not the crash's length.
/// * keepalived's defaults (`fall 1`, 1 s): a 0.3 s crash between two runs moves nothing —
///   the model before this script existed moved the VIP away and back for it.
#[test]
fn short_haproxy_crash_moves_nothing() {
    let fall3 = keepalived(json!({"vrrp_script": {"fall": 3}}));
    for at in [20.05, 20.45, 20.95] {
        let faults = json!([crash("lb1", at, Some(1.9), "process")]);
        let (r, log) = observe(&lb_scenario("vip", Some(fall3.clone()), faults), 29);
        let out = outages(&r, "all");
        eprintln!(
            "1.9 s crash at {at}: changes {:?}, outages {:?}",
            log.changes
                .iter()
                .filter(|c| c.1.starts_with("lb"))
                .collect::<Vec<_>>(),
            out.iter().map(|o| (o.start_s, o.end_s)).collect::<Vec<_>>()
        );
        assert!(log.times_starting("lb1", "VRRP").is_empty());
        assert!(log.times_starting("lb2", "VRRP").is_empty());
        assert_eq!(out.len(), 1);
        assert!(close(out[0].start_s, at, 0.1 + 1e-9) && close(out[0].end_s, at + 1.9, 0.1 + 1e-9));
    }
    let faults = json!([crash("lb1", 20.95, Some(2.2), "process")]);
    let (_, log) = observe(&lb_scenario("vip", Some(fall3), faults), 29);
    assert_eq!(
        log.times("lb1", "VRRP FAULT (chk_haproxy failed)"),
        vec![23.0]
    );
    let faults = json!([crash("lb1", 20.2, Some(0.3), "process")]);
    let (r, log) = observe(&lb_scenario("vip", Some(active_passive(true)), faults), 29);
    assert!(
        log.times_starting("lb1", "VRRP").is_empty()
            && log.times_starting("lb2", "VRRP").is_empty()
    );
    assert_eq!(failed_between(&r, 20.6, 80.0), 0);
}

/// A partition between the two LBs from 20.5 s: lb2 hears no advert after the one of 20 s and
/// becomes master at 20.0001 + 3.609 = 23.609 s, while lb1 stays master: both claim the VIP.
/// What happens when the partition heals depends on whose advert crosses first (keepalived
/// vrrp.c `vrrp_state_master_rx`):
///
/// * Healed at 30.5 s: lb2's advert of 30.609 s (its adverts keep the phase of its takeover)
///   reaches lb1, which hears a lower priority, re-advertises at once and sends gratuitous ARPs
///   (`garp_lower_prio_repeat`): the VIP is lb1's again at 30.6096 s, and lb2 steps down on
///   lb1's advert 100 µs later. From then on lb2 is a backup: its death at 50.5 s costs nothing;
///   lb1's death at 50.5 s is taken over by lb2 one Master_Down_Interval after lb1's last
///   advert (lb1's adverts now keep the phase of its re-advert: 49.6096 s) — 53.219 s. Before
///   the fix, lb1 never took the VIP back and lb2's death at 50.5 s failed every later request
///   (5 429 of 16 266 offered).
/// * Equal priorities (100/100): the tie goes to the higher primary address, the first
///   member's here: the same story.
/// * Healed at 30.8 s: lb1's advert of 31 s reaches lb2 first, and lb2 steps down without an
///   advert of its own (`vrrp_higher_prio_send_advert` is off by default), so lb1 never hears
///   a lower priority and sends no gratuitous ARP. The gateway keeps sending VIP packets to
///   lb2, which has removed the VIP, until its ARP entry goes stale — 30 s after lb2's last
///   gratuitous ARPs (23.609 + 5 s) — and its probes fail (5 s + 3 × 1 s): at 66.609 s it
///   re-resolves the VIP to lb1. Every request in between times out; none after.
#[test]
fn lb_partition_heals_and_the_vip_returns_to_the_higher_priority() {
    let partition = |heal: f64| json!({"partition": {"a": "lb1", "b": "lb2", "at": "20500ms", "duration": secs(heal - 20.5)}});
    let lb2_master = 20.0 + HOP + MDI_BACKUP;
    let reclaim = lb2_master + 7.0 + HOP;
    for (prio, victim) in [
        ([150, 100], "lb2"),
        ([150, 100], "lb1"),
        ([100, 100], "lb1"),
    ] {
        let mut pair = active_passive(true);
        pair["priorities"] = json!(prio);
        let faults = json!([partition(30.5), crash(victim, 50.5, None, "host")]);
        let (r, log) = observe(&lb_scenario("vip", Some(pair), faults), 25);
        eprintln!(
            "{prio:?}, {victim} dies: lb1 {:?}, lb2 {:?}, failed at the reclaim {}, after 51 s {}",
            log.times_starting("lb1", "VRRP"),
            log.times_starting("lb2", "VRRP"),
            failed_between(&r, 30.5, 30.7),
            failed_between(&r, 51.0, 80.0)
        );
        assert!(close(masters(&log, "lb2")[0], lb2_master, 1e-6));
        assert!(close(
            log.times("lb1", "VRRP MASTER (reclaims the VIP)")[0],
            reclaim,
            1e-6
        ));
        assert!(close(
            log.times("lb2", "VRRP BACKUP")[0],
            reclaim + HOP,
            1e-6
        ));
        // The reclaim resets the requests lb2 was serving (≈ rate × latency).
        assert!(failed_between(&r, 30.5, 30.7) <= 10);
        assert_eq!(failed_between(&r, 30.7, 50.4), 0);
        if victim == "lb2" {
            assert_eq!(failed_between(&r, 50.4, 80.0), 0, "lb2 was a backup");
        } else {
            let takeover = reclaim + 19.0 + HOP + MDI_BACKUP;
            let lb2 = masters(&log, "lb2");
            assert_eq!(lb2.len(), 2);
            assert!(close(lb2[1], takeover, 1e-6), "{lb2:?}");
            assert_eq!(failed_between(&r, takeover + 0.1, 80.0), 0);
        }
    }
    // lb1's advert crosses first: lb2 steps down silently; the gateway's ARP entry decides.
    let mut v = lb_scenario(
        "vip",
        Some(active_passive(true)),
        json!([partition(30.8), crash("lb1", 80.5, None, "host")]),
    );
    v["duration"] = json!("100s");
    let (r, log) = observe(&v, 25);
    let resolved = lb2_master + 5.0 + 30.0 + 8.0;
    eprintln!(
        "healed at 30.8: lb1 {:?}, lb2 {:?}, failed in [31.1, 66.5) {:.3} of offered",
        log.times_starting("lb1", "VRRP"),
        log.times_starting("lb2", "VRRP"),
        failed_share(&r, 31.1, 66.5)
    );
    assert!(
        log.times("lb1", "VRRP MASTER (reclaims the VIP)")
            .is_empty()
    );
    assert!(close(log.times("lb2", "VRRP BACKUP")[0], 31.0 + HOP, 1e-6));
    let lb1 = log.times("lb1", "VRRP MASTER reached again (gateway ARP re-resolved)");
    assert_eq!(lb1.len(), 1);
    assert!(close(lb1[0], resolved, 1e-6), "{lb1:?}");
    // Lost in the blackhole, but for the last second's requests: their SYN is retransmitted
    // 1 s later, after the gateway re-resolved the VIP (the clients' timeout is 2 s).
    assert!(failed_share(&r, 31.1, resolved - 1.0) > 0.99);
    assert_eq!(failed_between(&r, resolved - 0.9, 80.4), 0);
    // lb1 dies at 80.5: lb2 takes over after lb1's advert of 80 s.
    let lb2 = masters(&log, "lb2");
    assert!(close(lb2[1], 80.0 + HOP + MDI_BACKUP, 1e-6), "{lb2:?}");
}

/// `preempt_delay` (keepalived.conf(5): "Seconds of delay until preemption after getting the
/// advertisement timeout at startup or when seeing a lower priority master"). lb1's host dies
/// at 20.5 s and returns at 50.5 s; keepalived starts in BACKUP and hears lb2 (100) at
/// t₀ = 50.6096 s, the first of lb2's adverts (each at 23.609 + k s, arriving 100 µs later).
///
/// * Without the delay lb1 discards lb2's adverts and becomes master a Master_Down_Interval
///   after starting: 50.5 + 3.414 s.
/// * With `preempt_delay` D, keepalived `vrrp_state_backup` accepts lower-priority adverts —
///   each restarting the timer — until t₀ + D, and discards them from then on: lb1 becomes
///   master 3.414 s after the last advert that arrived before t₀ + D, i.e. at
///   t₀ + (⌈D⌉ − 1) s + 3.414 s. For D = 2 s: 55.024 s (1.11 s later than without); D = 5.5 s:
///   59.024 s (5.11 s later). The preemption is delayed by D less up to one advert interval:
///   the man page's "approximately 5.5 seconds" for D = 2 and a 3.5 s interval.
///
/// `preempt_delay` needs both members in BACKUP (keepalived ignores it on a MASTER instance);
/// setting it makes that the default, and the run still starts with lb1, the higher priority,
/// as master.
#[test]
fn preempt_delay_delays_the_preemption() {
    let back = 50.5;
    let t0 = 20.0 + HOP + MDI_BACKUP + 27.0 + HOP;
    for (delay, expected) in [
        (0.0, back + MDI_MASTER),
        (2.0, t0 + 1.0 + MDI_MASTER),
        (5.5, t0 + 5.0 + MDI_MASTER),
    ] {
        let pair = keepalived(json!({"preempt_delay": secs(delay)}));
        let faults = json!([crash("lb1", 20.5, Some(back - 20.5), "host")]);
        let (r, log) = observe(&lb_scenario("vip", Some(pair), faults), 30);
        let lb1 = masters(&log, "lb1");
        eprintln!("preempt_delay {delay}: lb1 master again at {lb1:?} (expected {expected:.6})");
        assert_eq!(lb1.len(), 1);
        assert!(close(lb1[0], expected, 1e-6), "{lb1:?}");
        if delay > 0.0 {
            let later = lb1[0] - (back + MDI_MASTER);
            assert!(later > delay - ADVERT && later <= delay, "{later}");
        }
        // The run started with lb1 master: nothing failed before the crash.
        assert_eq!(failed_between(&r, 0.0, 20.4), 0);
    }
}

/// keepalived's `state` at start. The run starts with keepalived settled: a member configured
/// MASTER holds the VIP from t = 0; a BACKUP member listens with a fresh master-down timer.
///
/// * `["BACKUP", "MASTER"]`, priorities 150/100: lb2 serves from t = 0 (nothing fails) and lb1,
///   higher and preempting, discards its adverts and takes the VIP when its own timer expires,
///   3.414 s after the start.
/// * `["MASTER", "MASTER"]`: both advertise at once; lb2 hears the higher priority and steps
///   down 100 µs in, lb1 hears the lower one and keeps the VIP; nothing fails.
/// * A restart does not go faster for a MASTER: keepalived ≥ 2.0 starts a non-owner instance
///   (priority < 255, no sync group) in BACKUP with a whole Master_Down_Interval whatever its
///   `state` (vrrp_scheduler.c `vrrp_init_state`; keepalived.conf(5): "otherwise the instance
///   will wait between 3 and 4 advert intervals"). lb1's host back at 30.5 s makes it master at
///   30.5 + 3.414 s with `state MASTER` as with `state BACKUP`.
#[test]
fn initial_state_decides_the_first_master_but_not_a_restart() {
    let mut pair = keepalived(json!({"initial_state": ["BACKUP", "MASTER"]}));
    let (r, log) = observe(&lb_scenario("vip", Some(pair.clone()), json!([])), 31);
    eprintln!(
        "[BACKUP, MASTER]: lb1 {:?}, lb2 {:?}",
        masters(&log, "lb1"),
        masters(&log, "lb2")
    );
    assert_eq!(masters(&log, "lb1"), vec![MDI_MASTER]);
    assert!(masters(&log, "lb2").is_empty());
    assert_eq!(failed_between(&r, 0.0, MDI_MASTER - 0.1), 0);
    assert_eq!(failed_between(&r, MDI_MASTER + 0.1, 80.0), 0);
    pair["initial_state"] = json!(["MASTER", "MASTER"]);
    let (r, log) = observe(&lb_scenario("vip", Some(pair), json!([])), 31);
    let lb2 = log.times("lb2", "VRRP BACKUP");
    assert!(lb2.len() == 1 && close(lb2[0], HOP, 1e-9), "{lb2:?}");
    assert!(masters(&log, "lb1").is_empty() && masters(&log, "lb2").is_empty());
    assert_eq!(r.requests.failed_total(), 0);
    for states in [json!(["MASTER", "BACKUP"]), json!(["BACKUP", "BACKUP"])] {
        let pair = keepalived(json!({"initial_state": states}));
        let faults = json!([crash("lb1", 20.5, Some(10.0), "host")]);
        let (_, log) = observe(&lb_scenario("vip", Some(pair), faults), 31);
        let lb1 = masters(&log, "lb1");
        eprintln!("{states}: lb1 master again at {lb1:?}");
        assert_eq!(lb1.len(), 1);
        assert!(close(lb1[0], 30.5 + MDI_MASTER, 1e-6), "{states}: {lb1:?}");
    }
}

// ---------------------------------------------------------------------------------------
// (b″) DNS: Route 53-like health checks
// ---------------------------------------------------------------------------------------

/// A health-checked active-active record with 1 s checks and a 1 s TTL.
fn checked_dns(regions: u32, interval: &str, threshold: u32) -> Value {
    let mut pair = active_active("1s", false);
    pair["dns_checker_regions"] = json!(regions);
    pair["dns_check_interval"] = json!(interval);
    pair["dns_failure_threshold"] = json!(threshold);
    pair
}

/// Route 53's `FailureThreshold` holds both ways ("the number of consecutive health checks
/// that an endpoint must pass or fail … to change the current status … from unhealthy to
/// healthy or vice versa"). One checker region, a check every second (the first at 1 s),
/// threshold 3; lb1's HAProxy is down from 20.5 to 30.5 s:
///
/// * the checks at 21, 22 and 23 s fail: the address is withdrawn at 23 s; with a 1 s TTL
///   nothing fails from 24.5 s until lb1 is back;
/// * the checks at 31, 32 and 33 s pass: the address is handed out again at 33 s — not at
///   31 s, as it was when one passing check restored it;
/// * a 1.5 s crash fails two checks only (21 and 22 s): nothing is withdrawn.
#[test]
fn dns_record_returns_only_after_threshold_passing_checks() {
    let faults = json!([crash("lb1", 20.5, Some(10.0), "process")]);
    let (r, log) = observe(
        &lb_scenario("dns", Some(checked_dns(1, "1s", 3)), faults),
        32,
    );
    let (out, back) = (
        log.times("lb1", "DNS withdraws its address"),
        log.times("lb1", "DNS hands out its address again"),
    );
    eprintln!(
        "threshold 3: withdrawn {out:?}, back {back:?}; failing share while withdrawn {:.4}",
        failed_share(&r, 24.5, 30.5)
    );
    assert_eq!((out, back), (vec![23.0], vec![33.0]));
    assert_eq!(failed_share(&r, 24.5, 30.5), 0.0);
    let faults = json!([crash("lb1", 20.5, Some(1.5), "process")]);
    let (_, log) = observe(
        &lb_scenario("dns", Some(checked_dns(1, "1s", 3)), faults),
        32,
    );
    assert!(log.times_starting("lb1", "DNS").is_empty());
}

/// Checker regions combine as Route 53 documents: an address is healthy while more than 18 %
/// of the checkers report it healthy. Three regions (the default), each checking every 3 s,
/// staggered by a third of the interval — region r at (r + 1) s + 3k s — threshold 2. lb1 is
/// down from 20.5 to 30.5 s:
///
/// * the region checking at 21 and 24 s turns its verdict at 24 s, the one at 22/25 s at 25 s,
///   the one at 23/26 s at 26 s. With one or two regions down the third still makes 33 % >
///   18 %: the address is withdrawn only at 26 s, when none sees it healthy;
/// * back at 30.5 s, the first region to see two passes (31, 34 s) is enough (33 %): handed
///   out again at 34 s, the others following at 35 and 36 s;
/// * a partition between the clients and lb1 fails every region's check as the crash does
///   (the checkers see the LB from the clients' side): the same 26 s and 34 s.
///
/// That one region alone cut off from an LB cannot withdraw it is the 18 % rule itself
/// (unit test `dns::tests::more_than_18_percent_of_checkers_keep_an_address`): the model
/// places every region on the clients' side, so a partition between one region and an LB
/// cannot be written.
#[test]
fn dns_checker_regions_stagger_and_combine() {
    for fault in [
        crash("lb1", 20.5, Some(10.0), "process"),
        json!({"partition": {"a": "clients", "b": "lb1", "at": "20500ms", "duration": "10s"}}),
    ] {
        let faults = json!([fault]);
        let (_, log) = observe(
            &lb_scenario("dns", Some(checked_dns(3, "3s", 2)), faults),
            33,
        );
        let (out, back) = (
            log.times("lb1", "DNS withdraws its address"),
            log.times("lb1", "DNS hands out its address again"),
        );
        eprintln!("3 regions, threshold 2: withdrawn {out:?}, back {back:?}");
        assert_eq!((out, back), (vec![26.0], vec![34.0]));
    }
}

// ---------------------------------------------------------------------------------------
// (c), (d) Database failover
// ---------------------------------------------------------------------------------------

/// 1 000 req/s straight to one app server: half reads (one query each, to the replicas), half
/// writes (one commit each, to the primary). Primary + two replicas; 100 ms windows.
fn db_scenario(replication: Value, failover: Value, faults: Value) -> Value {
    json!({
        "name": "db-failover",
        "duration": "60s",
        "warmup": "0s",
        "window": "100ms",
        "clients": {
            "target": "app",
            "arrival": {"poisson": {"rate": "1000/s"}},
            "mix": {"read": 0.5, "write": 0.5, "static": 0.0},
            "keys": {"count": 1000},
            "timeout": "15s"
        },
        "app_servers": [db_app("app", 256)],
        "databases": [{
            "name": "db",
            "primary": {"name": "db-primary"},
            "replicas": [{"name": "db-r1"}, {"name": "db-r2"}],
            "replication": replication,
            "failover": failover
        }],
        "faults": faults
    })
}

/// orchestrator-like automatic failover: a check every second, dead after 3 failed checks,
/// 2 s to promote.
fn automatic() -> Value {
    json!({"mode": "automatic", "check_interval": "1s", "failed_checks": 3, "promotion": "2s"})
}

/// Lost writes. The primary's process dies at 20.5 s under 500 writes/s; the binlog reaches
/// the replicas' relay logs 20 ms after the commit (a replica in another zone).
///
/// * Asynchronous: a commit is acknowledged at once, so the writes acknowledged in the last
///   20 ms before the crash never reach any replica, and the promotion loses them:
///   λ·delay = 500/s × 20 ms = 10 per failover. Over 4 replications: 40 expected (Poisson
///   sd 6.3; measured 35); [22, 58] is ±3 sd.
/// * Semi-synchronous (AFTER_SYNC): a commit is acknowledged only once a replica has it in its
///   relay log, and the most advanced replica is promoted, so none is lost — at the price of
///   the round trip on every commit (write latency +20 ms: measured 44 ms vs 24 ms).
#[test]
fn async_failover_loses_writes_and_semi_sync_does_not() {
    let faults = json!([crash("db-primary", 20.5, Some(20.0), "process")]);
    let repl = |mode: &str| json!({"mode": mode, "delay": {"constant": "20ms"}});
    let a = run(
        &db_scenario(repl("async"), automatic(), faults.clone()),
        31,
        4,
    );
    let s = run(&db_scenario(repl("semi-sync"), automatic(), faults), 31, 4);
    let (da, ds) = (a.database.as_ref().unwrap(), s.database.as_ref().unwrap());
    let (la, ls) = (
        a.classes["write"].latency_ms.p50_ms,
        s.classes["write"].latency_ms.p50_ms,
    );
    eprintln!(
        "lost writes: async {} ({} failovers, first replication {}), semi-sync {} ({} \
         failovers, {} fallbacks); write p50 {la:.1} vs {ls:.1} ms",
        da.lost_writes,
        da.failovers,
        a.faults[0].lost_writes,
        ds.lost_writes,
        ds.failovers,
        ds.semi_sync_fallbacks
    );
    assert_eq!(da.failovers, 4);
    assert!(
        (22..=58).contains(&da.lost_writes),
        "{} lost",
        da.lost_writes
    );
    assert!(a.faults[0].lost_writes > 0);
    assert_eq!(ds.failovers, 4);
    assert_eq!(ds.semi_sync_fallbacks, 0);
    assert_eq!(ds.lost_writes, 0);
    assert!(
        close(ls - la, 20.0, 2.0),
        "semi-sync costs the round trip: {la} → {ls}"
    );
}

/// The write outage of each failover mode when the primary's process dies at 20.5 s for 20 s
/// (reads keep going to the replicas throughout: ≥ 99.9 % of them succeed in every mode).
///
/// * `none`: writes fail until the primary is back: [20.5, 40.5], 20 s.
/// * `manual` with `operator_delay` 10 s: the operator promotes a replica at 30.5: 10 s.
/// * `automatic`, checks every 1 s (at whole seconds), 3 failed checks, 2 s promotion: the
///   checks at 21, 22 and 23 s fail, the primary is declared dead at 23 s (the report's
///   `detected_at_s`) and a replica takes writes at 25 s: 4.5 s. In general the outage is
///   (k − 1)·interval + promotion … k·interval + promotion = 4–5 s after the crash.
///
/// Each outage is read from the report's `write` outages (100 ms windows: ±0.1 s).
#[test]
fn database_failover_modes_bound_the_write_outage() {
    let faults = json!([crash("db-primary", 20.5, Some(20.0), "process")]);
    let repl = json!({"mode": "async"});
    for (mode, failover, end, failovers) in [
        ("none", json!({"mode": "none"}), 40.5, 0),
        (
            "manual",
            json!({"mode": "manual", "operator_delay": "10s"}),
            30.5,
            1,
        ),
        ("automatic", automatic(), 25.0, 1),
    ] {
        let r = run(&db_scenario(repl.clone(), failover, faults.clone()), 32, 1);
        let w = outages(&r, "write");
        let read = &r.classes["read"];
        let read_failed: u64 = read.failed.values().sum();
        eprintln!(
            "{mode}: write outages {:?}, read failures {read_failed} of {}, fault {:?}",
            w.iter().map(|o| (o.start_s, o.end_s)).collect::<Vec<_>>(),
            read.offered,
            r.faults[0]
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(close(w[0].start_s, 20.5, 0.1 + 1e-9));
        assert!(close(w[0].end_s, end, 0.1 + 1e-9), "{mode}: {:?}", w[0]);
        assert_eq!(w[0].cause, "database_unavailable");
        assert!(
            read_failed * 1000 <= read.offered,
            "{mode}: {read_failed} reads failed"
        );
        assert!(outages(&r, "read").is_empty());
        assert_eq!(r.database.as_ref().unwrap().failovers, failovers);
        if mode == "automatic" {
            assert_eq!(r.faults[0].detected_at_s, Some(23.0));
            assert_eq!(r.faults[0].detected_by.as_deref(), Some("failover manager"));
        }
    }
}
