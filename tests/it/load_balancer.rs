//! End-to-end tests of the load balancer against HAProxy's documented behaviour (issue 3).
//!
//! Each test builds a small scenario in JSON, runs it with a fixed seed and checks specific
//! numbers: the share of requests each server gets, tail latencies of competing algorithms,
//! the instant a health check marks a dead server DOWN (seen by an observer:
//! `util::observe`), the latency and reason of the requests that hit a dead server, queue
//! timeouts. The references are HAProxy's configuration manual and sources as summarised in
//! `semantics.md` §1–2.
//!
//! Topology of every test: clients → `lb` → app servers that make no database calls, so a
//! request's latency is client RTT + LB↔server RTT + the LB's CPU cost + queueing + service.
//!
//! Run: `cargo test --release --test it load_balancer::` (under a second of simulation);
//! add `-- --nocapture` to see the measured numbers each test prints.

use std::collections::{BTreeMap, BTreeSet};

use infrasim::engine::SimDuration;
use infrasim::{FailReason, Outcome, Report};
use serde_json::{Value, json};

use crate::util::{
    Log, app, assert_conservation, constant, crash, detection_window, exp, failed,
    fingerprinted_apps, latency_s, lb_scenario, observe, poisson, run, server_of,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn routed(r: &Report, server: &str) -> u64 {
    r.components["lb"].routed.get(server).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// 1. Weighted round robin
// ---------------------------------------------------------------------------------------------

/// `balance roundrobin` with weights 3:1 sends 75 % / 25 % of the requests (smooth weighted
/// round robin is exact over any whole cycle of 4).
#[test]
fn weighted_roundrobin_splits_3_to_1() {
    let s = lb_scenario(
        "20s",
        poisson("500/s"),
        1000,
        json!({ "balance": "roundrobin",
                "servers": [ { "server": "app1", "weight": 3 }, { "server": "app2", "weight": 1 } ] }),
        vec![app("app1", 16, exp("5ms")), app("app2", 16, exp("5ms"))],
        json!([]),
    );
    let r = run(&s, 7, 1);
    assert_conservation("weighted roundrobin", &r);
    let (a, b) = (routed(&r, "app1"), routed(&r, "app2"));
    let share = a as f64 / (a + b) as f64;
    eprintln!("weighted rr: app1 {a} app2 {b} share {share:.5}");
    assert!(a + b > 9_000, "about 10 000 requests routed, got {}", a + b);
    assert!((share - 0.75).abs() <= 0.01, "app1 share {share}");
    // Smooth WRR is exact: a a b a a a b a …, so the counts differ from 3:1 by at most 3.
    assert!(a.abs_diff(3 * b) <= 3, "app1 {a} vs 3 × app2 {b}");
    assert_eq!(r.requests.failed_total(), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. leastconn vs roundrobin with a slow server
// ---------------------------------------------------------------------------------------------

/// Two servers of 8 workers, one 4× slower (10 ms vs 40 ms): capacity 800 + 200 = 1000/s.
/// At 750/s (75 %) round robin sends 375/s to the slow server, beyond its 200/s, so its
/// queue grows for the whole run; leastconn follows the open connections and keeps both
/// servers stable. Same seed, same arrivals: the p99 of leastconn is far lower.
#[test]
fn leastconn_beats_roundrobin_p99_with_a_slow_server() {
    let run_algo = |balance: &str| {
        let s = lb_scenario(
            "20s",
            poisson("750/s"),
            1000,
            json!({ "balance": balance,
                    "servers": [ { "server": "fast" }, { "server": "slow" } ] }),
            vec![app("fast", 8, exp("10ms")), app("slow", 8, exp("40ms"))],
            json!([]),
        );
        run(&s, 11, 1)
    };
    let rr = run_algo("roundrobin");
    let lc = run_algo("leastconn");
    assert_conservation("roundrobin", &rr);
    assert_conservation("leastconn", &lc);
    eprintln!(
        "rr: p99 {} ms, slow routed {} util {:.3}; lc: p99 {} ms, slow routed {} util {:.3}",
        rr.latency_ms.p99_ms,
        routed(&rr, "slow"),
        rr.components["slow"].utilization,
        lc.latency_ms.p99_ms,
        routed(&lc, "slow"),
        lc.components["slow"].utilization
    );
    // Same arrivals in both runs (common random numbers).
    assert_eq!(rr.requests.offered, lc.requests.offered);
    assert_eq!(lc.requests.failed_total(), 0);
    // Round robin: exactly half to each server; the slow one saturates.
    assert!(routed(&rr, "slow").abs_diff(routed(&rr, "fast")) <= 1);
    assert!(rr.components["slow"].utilization > 0.99);
    // leastconn equalises open connections: with as many requests in flight on each, the
    // slow server completes (so receives) 1/5 of them; a little more as its queue builds up
    // (measured 22.7 %), far below round robin's 50 %.
    let lc_slow = routed(&lc, "slow") as f64 / lc.requests.offered as f64;
    assert!(
        (0.18..0.27).contains(&lc_slow),
        "leastconn slow share {lc_slow}"
    );
    assert!(lc.components["slow"].utilization < 0.95);
    assert!(
        lc.latency_ms.p99_ms < 200.0,
        "leastconn p99 {}",
        lc.latency_ms.p99_ms
    );
    assert!(
        rr.latency_ms.p99_ms > 5_000.0,
        "roundrobin p99 {}",
        rr.latency_ms.p99_ms
    );
    // Measured: 135 ms against 9 026 ms.
    assert!(rr.latency_ms.p99_ms > 20.0 * lc.latency_ms.p99_ms);
}

// ---------------------------------------------------------------------------------------------
// 3. source hashing: stickiness, and consistent hashing when a server leaves
// ---------------------------------------------------------------------------------------------

/// With one client address every request of `balance source` lands on the same server.
#[test]
fn source_keeps_one_client_on_one_server() {
    let servers = json!([ { "server": "app1" }, { "server": "app2" }, { "server": "app3" } ]);
    let apps = || {
        vec![
            app("app1", 16, exp("5ms")),
            app("app2", 16, exp("5ms")),
            app("app3", 16, exp("5ms")),
        ]
    };
    let one = lb_scenario(
        "10s",
        poisson("300/s"),
        1,
        json!({ "balance": "source", "servers": servers }),
        apps(),
        json!([]),
    );
    let r = run(&one, 3, 1);
    let counts: Vec<u64> = ["app1", "app2", "app3"]
        .iter()
        .map(|a| routed(&r, a))
        .collect();
    eprintln!("source, 1 address: {counts:?}");
    let used: Vec<&u64> = counts.iter().filter(|c| **c > 0).collect();
    assert_eq!(used.len(), 1, "one address, one server: {counts:?}");
    assert_eq!(*used[0], r.requests.offered);
    // Many addresses spread over the three servers.
    let many = lb_scenario(
        "10s",
        poisson("300/s"),
        3000,
        json!({ "balance": "source", "servers": servers }),
        apps(),
        json!([]),
    );
    let r = run(&many, 3, 1);
    for a in ["app1", "app2", "app3"] {
        let share = routed(&r, a) as f64 / r.requests.offered as f64;
        assert!((0.25..0.42).contains(&share), "{a} share {share}");
    }
}

/// Per client address: the set of servers that served its requests offered in `[from, to)`.
fn servers_by_address(log: &Log, from: f64, to: f64) -> BTreeMap<u32, BTreeSet<u32>> {
    let mut m: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for r in &log.requests {
        let t = r.offered_at.as_secs_f64();
        if r.outcome == Outcome::Ok && t >= from && t < to {
            m.entry(r.client_addr).or_default().insert(server_of(r));
        }
    }
    m
}

/// 4 servers, 200 client addresses, `balance source`; app3 is drained at 10 s. Returns
/// (addresses, addresses that were on app3, addresses of other servers that moved).
fn source_drain(hash_type: &str) -> (usize, usize, usize) {
    let s = lb_scenario(
        "20s",
        poisson("400/s"),
        200,
        json!({ "balance": "source", "hash_type": hash_type,
                "servers": [ { "server": "app1" }, { "server": "app2" },
                             { "server": "app3" }, { "server": "app4" } ] }),
        fingerprinted_apps(4),
        json!([ { "drain": { "server": "app3", "at": "10s" } } ]),
    );
    let (r, log) = observe(&s, 5);
    assert_eq!(r.requests.failed_total(), 0);
    let before = servers_by_address(&log, 0.0, 10.0);
    let after = servers_by_address(&log, 10.0, 20.0);
    // Stickiness: every address is served by exactly one server in each phase.
    for (addr, set) in before.iter().chain(after.iter()) {
        assert_eq!(set.len(), 1, "address {addr} served by {set:?}");
    }
    let first = |set: &BTreeSet<u32>| *set.iter().next().unwrap();
    assert!(
        after.values().all(|set| first(set) != 3),
        "drained app3 still served"
    );
    let mut on_app3 = 0;
    let mut others_moved = 0;
    let mut both = 0;
    for (addr, set) in &before {
        let Some(later) = after.get(addr) else {
            continue;
        };
        both += 1;
        if first(set) == 3 {
            on_app3 += 1;
        } else if first(set) != first(later) {
            others_moved += 1;
        }
    }
    (both, on_app3, others_moved)
}

/// `hash-type consistent`: when a server leaves, only its own clients move (≈ 1/n of them);
/// with the default `map-based` most clients of the surviving servers move too. This is
/// the end-to-end version of `balance::tests::source_consistent_moves_only_…`: the clients'
/// servers are read from the latencies of real requests, through the LB's drain handling.
#[test]
fn source_consistent_hashing_moves_only_the_leaving_servers_clients() {
    let (n, on_app3, moved) = source_drain("consistent");
    eprintln!("consistent: {n} addresses, {on_app3} on app3, {moved} others moved");
    assert_eq!(n, 200);
    assert_eq!(
        moved, 0,
        "clients of surviving servers must keep their server"
    );
    assert!(
        (30..=70).contains(&on_app3),
        "≈ 1/4 of 200 on app3: {on_app3}"
    );
    let (n, on_app3, moved) = source_drain("map-based");
    eprintln!("map-based: {n} addresses, {on_app3} on app3, {moved} others moved");
    assert!(
        moved > (n - on_app3) / 2,
        "map-based remaps most clients: {moved}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. random: power of two choices
// ---------------------------------------------------------------------------------------------

/// Four single-worker servers (10 ms exponential service, 100/s each) at 360/s: ρ = 0.9.
/// One random draw makes each server an M/M/1 queue at ρ = 0.9 (p99 ≈ ln(100)/(μ − λ) =
/// 460 ms); two draws and the less loaded candidate ("power of two choices", HAProxy's
/// default `random(2)`) cut the tail several-fold.
#[test]
fn random_two_draws_beats_one_draw_near_saturation() {
    let run_draws = |draws: u32| {
        let mut s = lb_scenario(
            "60s",
            poisson("360/s"),
            1000,
            json!({ "balance": "random", "draws": draws,
                    "servers": [ { "server": "app1" }, { "server": "app2" },
                                 { "server": "app3" }, { "server": "app4" } ] }),
            (1..=4)
                .map(|k| app(&format!("app{k}"), 1, exp("10ms")))
                .collect(),
            json!([]),
        );
        s["warmup"] = json!("10s");
        run(&s, 13, 1)
    };
    let one = run_draws(1);
    let two = run_draws(2);
    assert_conservation("random, 1 draw", &one);
    assert_conservation("random, 2 draws", &two);
    eprintln!(
        "random: draws 1 p99 {} ms mean {} ms; draws 2 p99 {} ms mean {} ms",
        one.latency_ms.p99_ms,
        one.latency_ms.mean_ms,
        two.latency_ms.p99_ms,
        two.latency_ms.mean_ms
    );
    assert_eq!(one.requests.failed_total() + two.requests.failed_total(), 0);
    for r in [&one, &two] {
        for k in 1..=4 {
            let u = r.components[&format!("app{k}")].utilization;
            assert!((0.84..0.96).contains(&u), "app{k} utilization {u}");
        }
    }
    // M/M/1 at ρ = 0.9: p99 of the sojourn time ≈ 460 ms (+ 2.2 ms of network); one minute
    // of it is a noisy estimate (seeds 1–4 gave 263–460 ms). Measured with seed 13: 425 ms
    // for one draw, 140 ms for two (seeds 1–4: 2.1–3.5× better).
    assert!(
        (250.0..700.0).contains(&one.latency_ms.p99_ms),
        "draws 1 p99 {}",
        one.latency_ms.p99_ms
    );
    assert!(two.latency_ms.p99_ms < 0.5 * one.latency_ms.p99_ms);
    assert!(two.latency_ms.mean_ms < 0.6 * one.latency_ms.mean_ms);
}

// ---------------------------------------------------------------------------------------------
// 5. backup servers
// ---------------------------------------------------------------------------------------------

fn backup_scenario(allbackups: bool, faults: Value) -> Value {
    lb_scenario(
        "25s",
        poisson("200/s"),
        1000,
        json!({ "balance": "roundrobin", "allbackups": allbackups,
                "servers": [ { "server": "app1" }, { "server": "app2" },
                             { "server": "app3", "backup": true },
                             { "server": "app4", "backup": true } ] }),
        fingerprinted_apps(4),
        faults,
    )
}

/// Backups take nothing while a primary is up; when both primaries crash, once the checks
/// mark them DOWN the first backup takes everything (both with `option allbackups`), and
/// when the primaries are back UP the backups stop.
#[test]
fn backup_servers_only_serve_when_every_primary_is_down() {
    let calm = run(&backup_scenario(false, json!([])), 17, 1);
    assert_eq!(routed(&calm, "app3"), 0);
    assert_eq!(routed(&calm, "app4"), 0);
    assert_eq!(
        routed(&calm, "app1") + routed(&calm, "app2"),
        calm.requests.offered
    );

    let crash = json!([
        { "crash": { "target": "app1", "at": "5s", "duration": "10s" } },
        { "crash": { "target": "app2", "at": "5s", "duration": "10s" } }
    ]);
    for allbackups in [false, true] {
        let (r, log) = observe(&backup_scenario(allbackups, crash.clone()), 17);
        assert_conservation(&format!("allbackups {allbackups}"), &r);
        let down = |a: &str| log.times("lb", &format!("{a} DOWN"))[0];
        let up = |a: &str| log.times("lb", &format!("{a} UP"))[0];
        let all_down = down("app1").max(down("app2"));
        let one_up = up("app1").min(up("app2"));
        eprintln!(
            "allbackups {allbackups}: down at {all_down:.3}, up at {one_up:.3}, routed {:?}",
            r.components["lb"].routed
        );
        assert!(all_down < 11.01 && one_up > 15.0);
        let mut backup_served = [0u32; 2];
        for rec in &log.requests {
            let t = rec.offered_at.as_secs_f64();
            let ok = rec.outcome == Outcome::Ok;
            if t < 5.0 || t > one_up {
                assert!(ok && server_of(rec) <= 2, "primary up at {t}: {rec:?}");
            } else if t > all_down && t < 15.0 {
                assert!(ok, "a backup is up at {t}: {rec:?}");
                let k = server_of(rec);
                assert!(k >= 3, "primaries are down at {t}, served by app{k}");
                backup_served[k as usize - 3] += 1;
            }
        }
        eprintln!("backups served {backup_served:?}");
        if allbackups {
            assert!(backup_served[0].abs_diff(backup_served[1]) <= 1);
        } else {
            assert_eq!(
                backup_served[1], 0,
                "only the first backup without allbackups"
            );
            assert_eq!(routed(&r, "app4"), 0);
        }
        // 200/s for the ≈ 4.5 s between the second DOWN and the primaries' restart.
        assert!(backup_served[0] + backup_served[1] > 800);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Health checks: detection of a dead server (fall) and of its return (rise)
// ---------------------------------------------------------------------------------------------

/// Round robin over app1 and app2 (constant 1 ms and 2 ms service, see
/// [`fingerprinted_apps`]) at 100/s, with these LB settings (merged into the LB object) and
/// faults.
fn two_servers(duration: &str, lb: Value, faults: Value) -> Value {
    let mut l = json!({ "balance": "roundrobin",
                        "servers": [ { "server": "app1" }, { "server": "app2" } ] });
    for (k, v) in lb.as_object().expect("an object") {
        l[k] = v.clone();
    }
    lb_scenario(
        duration,
        poisson("100/s"),
        1000,
        l,
        fingerprinted_apps(2),
        faults,
    )
}

/// The LB's dispatch of a request happens this long after the client offered it: the
/// client ↔ LB latency plus the LB's CPU cost.
const TO_DISPATCH: f64 = 0.001_006;

/// One crash of app1 at `t_c`; returns (DOWN − t_c, the log, the report), after checking
/// what happened to the requests: the ones the LB sent to app1 between the crash and the
/// DOWN (every other one, round robin) failed with `reason` after `fail_after` seconds; the
/// ones in service at the crash failed with a 502 (process crash only); all others
/// succeeded.
fn crash_and_detect(
    s: &Value,
    seed: u64,
    t_c: f64,
    reason: FailReason,
    fail_after: f64,
) -> (f64, Log, Report) {
    let (r, log) = observe(s, seed);
    assert_conservation(&format!("crash of app1 at {t_c} s, seed {seed}"), &r);
    let down = log.times("lb", "app1 DOWN");
    assert_eq!(down.len(), 1, "one DOWN: {:?}", log.changes);
    let down = down[0];
    let detected = r.faults[0].detected_at_s.expect("detected");
    assert!(
        (detected - down).abs() < 1e-6,
        "report {detected} vs observer {down}"
    );
    let in_window = |t: f64| t >= t_c - TO_DISPATCH && t < down - TO_DISPATCH;
    let offered_in_window = log
        .requests
        .iter()
        .filter(|q| in_window(q.offered_at.as_secs_f64()))
        .count();
    let mut failed_in_window = 0usize;
    for q in &log.requests {
        let t = q.offered_at.as_secs_f64();
        match q.outcome {
            Outcome::Ok => {}
            Outcome::Failed(FailReason::ServerError) => {
                assert!(
                    t < t_c,
                    "only requests in service at the crash get a 502: {q:?}"
                );
            }
            Outcome::Failed(why) => {
                assert_eq!(why, reason, "{q:?}");
                assert!(in_window(t), "failed outside the detection window: {q:?}");
                let lat = latency_s(q);
                assert!(
                    lat >= fail_after && lat < fail_after + 0.005,
                    "failed after {lat} s, expected {fail_after} s"
                );
                failed_in_window += 1;
            }
        }
    }
    // Round robin alternates, so half the requests dispatched in the window went to app1
    // (retries stay on app1 without `redispatch` and take no turn).
    assert!(
        failed_in_window.abs_diff(offered_in_window / 2) <= 1,
        "{failed_in_window} failed of {offered_in_window} dispatched while app1 was dead"
    );
    assert!(r.requests.failed["server_error"] <= 3);
    (down - t_c, log, r)
}

/// HAProxy marks a dead server DOWN at its `fall`-th consecutive failed check. For a process
/// crash (the host answers RST, a check fails at once) that is between (fall − 1)·inter and
/// fall·inter after the crash, depending on where the crash falls in the check period
/// (`semantics.md` §2.1: U + 2·fastinter, 4–6 s with the defaults). Eight crash instants
/// spread over the 2 s period; the requests sent to the dead server meanwhile fail with
/// `connection_refused` after the 3 retries' 1 s turn-arounds.
#[test]
fn health_checks_detect_a_process_crash_within_fall_checks() {
    let inter = SimDuration::from_secs(2);
    let (lo, hi) = detection_window(inter, 3, SimDuration::ZERO);
    let (lo, hi) = (lo.as_secs_f64(), hi.as_secs_f64());
    assert_eq!((lo, hi), (4.0, 6.0));
    let mut delays = Vec::new();
    for k in 0..8u32 {
        let t_c = 10.013 + 0.25 * f64::from(k);
        let s = two_servers(
            "22s",
            json!({}),
            json!([crash("app1", t_c, None, "process")]),
        );
        let (delay, _, _) = crash_and_detect(
            &s,
            100 + u64::from(k),
            t_c,
            FailReason::ConnectionRefused,
            3.0,
        );
        // Checks take one LAN round trip (200 µs) each; the period is inter + that.
        assert!(
            delay >= lo && delay <= hi + 0.001,
            "crash at {t_c}: DOWN after {delay} s, outside [{lo}, {hi}]"
        );
        delays.push(delay);
    }
    eprintln!("process crash, DOWN after {delays:.3?} s");
    let spread = delays.iter().cloned().fold(f64::MIN, f64::max)
        - delays.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 1.7,
        "crash phases cover the check period: spread {spread}"
    );
}

/// A dead host answers nothing: each failed check lasts its deadline d (`inter` without
/// `timeout check`, min(`timeout connect`, `inter`) with it: src/tcpcheck.c), and the next
/// check starts `inter` after it ends, so DOWN comes U + d + (fall − 1)·(inter + d) after the
/// crash: 10–12 s with the defaults, 7–9 s with `timeout connect 1s` + `timeout check`.
/// Requests sent to the dead host meanwhile fail after (retries + 1) × `timeout connect`.
#[test]
fn health_checks_detect_a_host_crash_within_fall_checks_of_deadline_d() {
    for (check, d, lo, hi) in [
        (json!({}), 2.0, 10.0, 12.0),
        (json!({ "timeout": "500ms" }), 1.0, 7.0, 9.0),
    ] {
        let (wlo, whi) =
            detection_window(SimDuration::from_secs(2), 3, SimDuration::from_secs_f64(d));
        assert_eq!((wlo.as_secs_f64(), whi.as_secs_f64()), (lo, hi));
        let mut delays = Vec::new();
        for k in 0..4u32 {
            let t_c = 10.013 + 0.5 * f64::from(k);
            let s = two_servers(
                "30s",
                json!({ "check": check, "timeouts": { "connect": "1s" } }),
                json!([crash("app1", t_c, None, "host")]),
            );
            let (delay, _, _) =
                crash_and_detect(&s, 200 + u64::from(k), t_c, FailReason::ConnectTimeout, 4.0);
            assert!(
                delay >= lo - 0.001 && delay <= hi + 0.001,
                "host crash at {t_c}, d = {d}: DOWN after {delay} s, outside [{lo}, {hi}]"
            );
            delays.push(delay);
        }
        eprintln!("host crash, d = {d} s: DOWN after {delays:.3?} s");
    }
}

/// After the crashed process restarts, the server is UP again after `rise` consecutive
/// successful checks: the first at the DOWN cadence (`downinter`), the others `fastinter`
/// apart — so between (rise − 1)·fastinter and downinter + (rise − 1)·fastinter after the
/// restart. With the defaults (rise 2, inter 2 s) that is 2–4 s; with `fastinter 500ms`,
/// `downinter 1s`, `rise 3`, `fall 2` it is 1–2 s, and DOWN comes within
/// [(fall − 1)·fastinter, inter + (fall − 1)·fastinter] = [0.5, 2.5] s of the crash.
#[test]
fn health_checks_bring_a_restarted_server_up_after_rise_checks() {
    let cases = [
        (json!({}), (4.0, 6.0), (2.0, 4.0)),
        (
            json!({ "inter": "2s", "fastinter": "500ms", "downinter": "1s", "rise": 3, "fall": 2 }),
            (0.5, 2.5),
            (1.0, 2.0),
        ),
    ];
    for (check, (dlo, dhi), (ulo, uhi)) in cases {
        let mut ups = Vec::new();
        for k in 0..6u32 {
            let t_c = 10.013 + 0.37 * f64::from(k);
            let t_r = t_c + 8.0;
            let s = two_servers(
                "25s",
                json!({ "check": check }),
                json!([crash("app1", t_c, Some(8.0), "process")]),
            );
            let (_, log) = observe(&s, 300 + u64::from(k));
            let down = log.times("lb", "app1 DOWN");
            let up = log.times("lb", "app1 UP");
            assert_eq!((down.len(), up.len()), (1, 1), "{:?}", log.changes);
            let (down, up) = (down[0] - t_c, up[0] - t_r);
            assert!(
                down >= dlo && down <= dhi + 0.001,
                "{check}: DOWN {down} s after the crash"
            );
            assert!(
                up >= ulo && up <= uhi + 0.001,
                "{check}: UP {up} s after the restart"
            );
            ups.push(up);
            // Once UP again, app1 serves: nothing offered after that fails.
            assert!(
                log.requests
                    .iter()
                    .all(|q| q.offered_at.as_secs_f64() < t_r || q.outcome == Outcome::Ok)
            );
        }
        eprintln!("{check}: UP after {ups:.3?} s");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Retries and redispatch
// ---------------------------------------------------------------------------------------------

/// app1's process crashes at 5 s for good (its host answers RST). Without `option
/// redispatch` HAProxy retries the same server 3 times, each after a turn-around of
/// min(`timeout connect`, 1 s), then answers 503: the requests it sent to app1 before the
/// checks marked it DOWN fail after 3 × 1 s (3 × 0.5 s with `timeout connect 500ms`).
#[test]
fn retries_on_a_refused_server_fail_after_three_turnarounds() {
    for (connect, turnaround) in [("5s", 1.0), ("500ms", 0.5)] {
        let s = two_servers(
            "15s",
            json!({ "timeouts": { "connect": connect } }),
            json!([crash("app1", 5.0, None, "process")]),
        );
        let (delay, log, r) =
            crash_and_detect(&s, 21, 5.0, FailReason::ConnectionRefused, 3.0 * turnaround);
        let refused = log.failed_with(FailReason::ConnectionRefused);
        let lats: Vec<f64> = refused.iter().map(|q| latency_s(q)).collect();
        let (min, max) = (
            lats.iter().cloned().fold(f64::MAX, f64::min),
            lats.iter().cloned().fold(f64::MIN, f64::max),
        );
        eprintln!(
            "connect {connect}: DOWN after {delay:.3} s, {} refused, latency {min:.4}–{max:.4} s",
            refused.len()
        );
        assert_eq!(refused.len() as u64, failed(&r, "connection_refused"));
        // ≈ 50/s to app1 for the 4–6 s before DOWN.
        assert!((150..=350).contains(&refused.len()), "{}", refused.len());
        // 3 turn-arounds + 4 connection attempts (200 µs each) + the client's round trip.
        let expect = 3.0 * turnaround + 4.0 * 0.000_2 + 2.0 * 0.001 + 0.000_006;
        assert!((min - expect).abs() < 1e-4 && (max - expect).abs() < 1e-4);
    }
}

/// With `option redispatch`, a non-hash algorithm and more than one active server, HAProxy
/// redispatches at the first retry, to another server (`stream_choose_redispatch()`;
/// `assign_server()` avoids the previous server): the requests sent to the dead app1
/// succeed on app2 one round trip later, and nothing but the requests in service at the
/// crash fails.
#[test]
fn redispatch_moves_refused_requests_to_another_server_at_once() {
    for balance in ["roundrobin", "leastconn", "random", "static-rr"] {
        let s = two_servers(
            "15s",
            json!({ "balance": balance, "redispatch": true }),
            json!([crash("app1", 5.0, None, "process")]),
        );
        let (r, log) = observe(&s, 23);
        assert_conservation(balance, &r);
        let down = log.times("lb", "app1 DOWN")[0];
        // app2 answers in 2.206 ms + 2 ms; a redispatched request spent one more LB ↔ server
        // round trip (200 µs) on app1's RST, and no turn-around.
        let (plain, redispatched) = (0.004_206, 0.004_406);
        let mut dispatched = 0;
        let mut moved = 0;
        for q in &log.requests {
            let t = q.offered_at.as_secs_f64();
            if t < 5.0 || q.outcome == Outcome::Failed(FailReason::ServerError) {
                continue;
            }
            assert_eq!(q.outcome, Outcome::Ok, "{balance}: {q:?}");
            let lat = latency_s(q);
            let is = |x: f64| (lat - x).abs() < 1e-5;
            assert!(is(plain) || is(redispatched), "{balance}: {lat} s");
            if t < down - TO_DISPATCH {
                dispatched += 1;
                moved += usize::from(is(redispatched));
            } else {
                assert!(is(plain), "{balance}: after DOWN only app2 is used");
            }
        }
        eprintln!(
            "{balance} + redispatch: {moved} of {dispatched} requests dispatched while app1 was \
             dead were redispatched; failed {:?}",
            r.requests.failed
        );
        assert_eq!(failed(&r, "connection_refused"), 0, "{balance}");
        assert_eq!(
            r.requests.failed_total(),
            failed(&r, "server_error"),
            "{balance}: only the requests in service at the crash fail"
        );
        assert!(failed(&r, "server_error") <= 3);
        // Which new requests tried app1 first. random: one in two. Round robin: nearly all
        // (measured 470 of 481), as each redispatch consumes app2's turn, so the next new
        // request's turn is app1's again. leastconn: nearly all too (470 of 481), since the
        // dead app1 never holds a connection (the "leastconn black hole").
        let share = moved as f64 / dispatched as f64;
        let expected = if balance == "random" {
            0.4..0.6
        } else {
            0.95..1.0
        };
        assert!(
            dispatched > 300 && expected.contains(&share),
            "{balance}: {moved} of {dispatched}"
        );
    }
}

/// With a hash algorithm (`balance source`) HAProxy does not redispatch at the first retry:
/// with `redispatch` (interval −1) retries 1 and 2 stay on the same server, 1 s apart, and
/// the last one goes elsewhere — with `hash-type consistent` the lookup avoids the failed
/// server, so the request succeeds after ≈ 2 s. (If the checks mark the server DOWN in the
/// meantime the retry is redispatched.) The map-based lookup cannot avoid a server
/// (src/lb_map.c `map_get_server_hash()` has no `avoid`), so its last retry — redispatched,
/// hence without a turn-around — hits the dead server again: 503 after 2 s instead of 3.
#[test]
fn redispatch_with_source_hashing_waits_for_the_last_retry() {
    let s = two_servers(
        "15s",
        json!({ "balance": "source", "hash_type": "consistent", "redispatch": true }),
        json!([crash("app1", 5.0, None, "process")]),
    );
    let (r, log) = observe(&s, 29);
    assert_conservation("source consistent + redispatch", &r);
    let down = log.times("lb", "app1 DOWN")[0];
    let mut two_s = 0;
    for q in &log.requests {
        let t = q.offered_at.as_secs_f64();
        if t < 5.0 || q.outcome != Outcome::Ok {
            continue;
        }
        let lat = latency_s(q);
        if lat > 0.1 {
            // Retried on app1: redispatched at the last retry, without a turn-around since
            // app2 is not the only active server (then served on app2)…
            assert!(t < down, "slow after DOWN: {q:?}");
            let full = 2.0 + 4.0 * 0.000_2 + 0.002_006;
            if t + full < down {
                // + 2 ms of service on app2.
                assert!((lat - full - 0.002).abs() < 1e-5, "{lat}");
                two_s += 1;
            } else {
                // … or app1 was marked DOWN meanwhile: the retry is redispatched, after a
                // turn-around as app2 is now the only active server (`srv_act <= 1`).
                assert!(lat < full + 1.1, "{lat}");
            }
        }
    }
    eprintln!(
        "source consistent + redispatch: {two_s} requests succeeded after 2 s, failed {:?}",
        r.requests.failed
    );
    assert_eq!(r.requests.failed_total(), failed(&r, "server_error"));
    assert!(two_s > 50);

    let s = two_servers(
        "15s",
        json!({ "balance": "source", "redispatch": true }),
        json!([crash("app1", 5.0, None, "process")]),
    );
    let (r, log) = observe(&s, 29);
    let down = log.times("lb", "app1 DOWN")[0];
    let refused = log.failed_with(FailReason::ConnectionRefused);
    eprintln!(
        "source map-based + redispatch: {} refused, failed {:?}",
        refused.len(),
        r.requests.failed
    );
    assert!(refused.len() > 50);
    for q in refused {
        // Two turn-arounds, then the redispatched last attempt went to app1 at once.
        let expect = 2.0 + 4.0 * 0.000_2 + 0.002_006;
        assert!((latency_s(q) - expect).abs() < 1e-6, "{}", latency_s(q));
        assert!(q.offered_at.as_secs_f64() + 2.0 < down);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. maxconn and the queue
// ---------------------------------------------------------------------------------------------

/// Two servers limited to `maxconn 2` (their 16 workers are never the limit) with a constant
/// 100 ms service: the backend serves 40/s. A 100/s burst fills the LB's queue; a request
/// that cannot get a slot within `timeout queue` (500 ms) fails with 503 `sQ`
/// (`queue_timeout`) exactly then; with `timeout queue` unset it is `timeout connect` (1 s).
#[test]
fn maxconn_queues_at_the_lb_and_times_out_after_timeout_queue() {
    for (timeouts, wait) in [
        (json!({ "queue": "500ms", "connect": "1s" }), 0.5),
        (json!({ "connect": "1s" }), 1.0),
    ] {
        let s = lb_scenario(
            "10s",
            json!({ "constant": { "rate": "100/s" } }),
            1000,
            json!({ "balance": "roundrobin", "timeouts": timeouts,
                    "servers": [ { "server": "app1", "maxconn": 2 },
                                 { "server": "app2", "maxconn": 2 } ] }),
            vec![
                app("app1", 16, constant("100ms")),
                app("app2", 16, constant("100ms")),
            ],
            json!([]),
        );
        let (r, log) = observe(&s, 31);
        assert_conservation(&format!("timeout queue {wait} s"), &r);
        let timed_out = log.failed_with(FailReason::QueueTimeout);
        let expect = wait + 2.0 * 0.001 + 0.000_006;
        for q in &timed_out {
            assert!((latency_s(q) - expect).abs() < 1e-6, "{}", latency_s(q));
        }
        let max_ok = log
            .requests
            .iter()
            .filter(|q| q.outcome == Outcome::Ok)
            .map(latency_s)
            .fold(0.0, f64::max);
        eprintln!(
            "queue {wait} s: {} queue timeouts, {} ok (max {max_ok:.4} s), util {:.4} / {:.4}, \
             lb mean queue {:.1}",
            timed_out.len(),
            r.requests.succeeded,
            r.components["app1"].utilization,
            r.components["app2"].utilization,
            r.components["lb"].mean_queue
        );
        assert_eq!(r.requests.failed_total(), timed_out.len() as u64);
        assert!(r.requests.offered.abs_diff(1000) <= 1);
        // Served: 4 slots × 10/s each for 10 s. The rest time out, but for the last
        // `timeout queue` × 100/s still queued at the end (measured: 549 and 499).
        assert!(
            r.requests.succeeded.abs_diff(400) <= 5,
            "{}",
            r.requests.succeeded
        );
        let expect_timeouts = 600.0 - 100.0 * wait;
        assert!((timed_out.len() as f64 - expect_timeouts).abs() <= 5.0);
        // No server ever has more than 2 requests: utilization 2/16 when saturated.
        for a in ["app1", "app2"] {
            let u = r.components[a].utilization;
            assert!(u <= 0.125 + 1e-9 && u > 0.12, "{a} utilization {u}");
        }
        // A served request waited less than the queue timeout, then 100 ms of service.
        assert!(max_ok < wait + 0.1 + 0.0025, "{max_ok}");
    }
}
