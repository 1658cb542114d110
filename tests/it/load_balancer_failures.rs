//! End-to-end tests of how the load balancer handles failing servers, against HAProxy's
//! sources (issue 19): passive health (`observe`, `error-limit`, `on-error`,
//! src/check.c `__health_adjust()`), when a forced `fastinter` moves the next check
//! (`process_chk_conn()`), the health a server starts with after a (re)start
//! (src/server.c, `init-state`), how the algorithms treat saturated servers (src/lb_fwlc.c,
//! src/lb_fwrr.c, src/backend.c `get_server_rnd()`), what happens to the requests queued on
//! a server marked DOWN (src/queue.c `pendconn_redistribute()`), `slowstart` (src/server.c
//! `server_recalc_eweight()`, src/queue.c `srv_dynamic_maxconn()`), layer-7 retries
//! (`retry-on`, src/http_ana.c `do_l7_retry()`) and `on-marked-down shutdown-sessions`
//! (src/server.c `srv_shutdown_streams()`).
//!
//! Each test asserts a behaviour the model got wrong before issue 19 (the test says what
//! the old model did). Topology: clients → `lb` → app servers that make no database call;
//! latencies 1 ms client ↔ LB and 100 µs elsewhere, as in `load_balancer`.
//!
//! Run: `cargo test --release --test it load_balancer_failures::` (add `-- --nocapture` for
//! the measured numbers).

use infrasim::{FailReason, Outcome};
use serde_json::{Value, json};

use crate::util::{
    Log, app, assert_conservation, constant, crash, failed, fingerprinted_apps, latency_s,
    lb_scenario, observe, poisson, server_of,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// [`lb_scenario`] with 1000 client addresses, no warm-up and a 60 s client timeout.
fn scenario(duration: &str, arrival: Value, lb: Value, apps: Vec<Value>, faults: Value) -> Value {
    let mut s = lb_scenario(duration, arrival, 1000, lb, apps, faults);
    s["name"] = json!("lb-failures");
    s["warmup"] = json!("0s");
    s["clients"]["timeout"] = json!("60s");
    s
}

/// Requests at a constant rate (`"100/s"`).
fn constant_rate(rate: &str) -> Value {
    json!({ "constant": { "rate": rate } })
}

/// Two app servers of 16 workers with a constant 1 ms service.
fn two_apps() -> Vec<Value> {
    vec![
        app("app1", 16, constant("1ms")),
        app("app2", 16, constant("1ms")),
    ]
}

/// A gray failure of `target` from `at_s` seconds for `duration_s`: every answer an error.
fn all_errors(target: &str, at_s: u32, duration_s: u32) -> Value {
    json!({ "degrade": { "target": target, "at": format!("{at_s}s"),
                         "duration": format!("{duration_s}s"), "error_rate": 1.0 } })
}

/// The first time after `after` s at which `lb` reported `what` (e.g. `"app1 DOWN"`).
fn first_after(log: &Log, what: &str, after: f64) -> Option<f64> {
    log.times("lb", what).into_iter().find(|&t| t >= after)
}

// ---------------------------------------------------------------------------------------------
// 1. on-error (src/check.c __health_adjust())
// ---------------------------------------------------------------------------------------------

/// app1 answers every request with an error from 10 s; TCP checks keep passing (its process
/// is alive). `observe layer7`, `error-limit 10`, `on-error sudden-death`: the first trigger
/// (10 errors, about 0.2 s at 50/s to app1) lowers health from `rise + fall − 1` to
/// `rise + 1` and fails a check (health `rise`: still UP); the second trigger fails another:
/// health < `rise`, DOWN. The old model reset health to `rise` at every trigger and never
/// marked the server DOWN while its TCP checks passed.
#[test]
fn sudden_death_marks_a_server_down_at_the_second_trigger() {
    let s = scenario(
        "14s",
        constant_rate("100/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                "observe": { "layer": "layer7", "error_limit": 10, "on_error": "sudden-death" } }),
        two_apps(),
        json!([all_errors("app1", 10, 60)]),
    );
    let (r, log) = observe(&s, 41);
    assert_conservation("sudden-death", &r);
    let down = first_after(&log, "app1 DOWN", 10.0).expect("app1 marked DOWN");
    // 20 consecutive errors at 50/s to app1: 0.4 s (a passing check in between would
    // restore full health, but the next one is up to 2 s away).
    eprintln!(
        "sudden-death: app1 DOWN {:.3} s after the errors began",
        down - 10.0
    );
    assert!(down - 10.0 > 0.35 && down - 10.0 < 0.45, "DOWN at {down}");
    // The 20 errors (one more if the check at 10 s came after the first error and cleared
    // the count), none after DOWN.
    assert!(
        (20..=21).contains(&failed(&r, "server_error")),
        "{:?}",
        r.requests.failed
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A forced fastinter brings a check forward, never postpones it (process_chk_conn())
// ---------------------------------------------------------------------------------------------

/// app1 answers only errors from 10 s, and its HTTP check fails as well. `observe layer7`,
/// `error-limit 1`, `on-error fastinter`, `fastinter 1s`: every error forces fast checks.
/// HAProxy moves the next check to now + `fastinter` only when that is sooner, so the
/// checks go on and three failed checks mark app1 DOWN within about 3 s. The old model
/// re-armed the check `fastinter` after every trigger: with an error every 20 ms the check
/// was postponed for ever and app1 was never marked DOWN.
#[test]
fn a_forced_fastinter_never_postpones_the_next_check() {
    let s = scenario(
        "20s",
        constant_rate("100/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                "check": { "kind": "http", "inter": "2s", "fastinter": "1s" },
                "observe": { "layer": "layer7", "error_limit": 1, "on_error": "fastinter" } }),
        two_apps(),
        json!([all_errors("app1", 10, 60)]),
    );
    let (r, log) = observe(&s, 47);
    assert_conservation("fastinter", &r);
    let down = first_after(&log, "app1 DOWN", 10.0).expect("app1 marked DOWN");
    // The first failing check comes within 1 s (the regular one, or the one brought
    // forward to the first error + 1 s); two more follow `fastinter` apart.
    eprintln!(
        "forced fastinter: app1 DOWN {:.3} s after the errors began",
        down - 10.0
    );
    assert!(down - 10.0 > 2.0 && down - 10.0 < 3.01, "DOWN at {down}");
}

// ---------------------------------------------------------------------------------------------
// 3. A passing check clears the count of consecutive errors (set_server_check_status())
// ---------------------------------------------------------------------------------------------

/// app1 answers only errors from 10 s, at 2 requests per second; its TCP check (every 1 s)
/// passes. `error-limit 5`, `on-error mark-down`: HAProxy clears the count at every passing
/// check ("clear consecutive_errors if observing is enabled"), so it never reaches 5 and
/// app1 stays UP. The old model did not clear it at a check: DOWN after 5 errors (2.5 s).
#[test]
fn a_passing_check_clears_the_consecutive_errors() {
    let s = scenario(
        "30s",
        constant_rate("4/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                "check": { "inter": "1s" },
                "observe": { "layer": "layer7", "error_limit": 5, "on_error": "mark-down" } }),
        two_apps(),
        json!([all_errors("app1", 10, 60)]),
    );
    let (r, log) = observe(&s, 53);
    assert_conservation("checks clear errors", &r);
    assert_eq!(
        log.times("lb", "app1 DOWN"),
        Vec::<f64>::new(),
        "{:?}",
        log.changes
    );
    // Every request app1 got from 10 s failed: about 2/s for 20 s.
    assert!(
        (38..=42).contains(&failed(&r, "server_error")),
        "{:?}",
        r.requests.failed
    );
}

/// A successful answer clears the count too (`HANA_STATUS_HTTP_OK`; so it did before issue
/// 19): app1 fails one request in two (error rate 0.5), so 16 consecutive errors are rare
/// (about 1500 × 2⁻¹⁷ ≈ 0.01 runs of them in 30 s at 50/s); with `error-limit 16` it stays
/// UP, where counting every error would mark it DOWN after about 32 requests.
#[test]
fn a_successful_answer_clears_the_consecutive_errors() {
    let s = scenario(
        "40s",
        constant_rate("100/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                "observe": { "layer": "layer7", "error_limit": 16, "on_error": "mark-down" } }),
        two_apps(),
        json!([{ "degrade": { "target": "app1", "at": "10s", "error_rate": 0.5 } }]),
    );
    let (r, log) = observe(&s, 59);
    assert_eq!(
        log.times("lb", "app1 DOWN"),
        Vec::<f64>::new(),
        "{:?}",
        log.changes
    );
    let errors = failed(&r, "server_error");
    assert!((700..=850).contains(&errors), "{errors}");
}

// ---------------------------------------------------------------------------------------------
// 4. After a (re)start a server's health is `rise` (src/server.c)
// ---------------------------------------------------------------------------------------------

/// app1's process dies at 5 s for good and is marked DOWN; then the LB's process crashes
/// at 20 s and restarts at 21 s. HAProxy starts every server at health `rise` ("up, but
/// will fall down at first failure"), so the first check after the restart (app1 is the
/// first server: its check runs at once) marks app1 DOWN again. The old model restarted at
/// full health: DOWN only after `fall` = 3 failed checks, ≥ 4 s later, while app1 got half
/// the requests (refused, retried, 503).
#[test]
fn after_a_restart_one_failed_check_marks_a_dead_server_down() {
    let s = scenario(
        "30s",
        constant_rate("100/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ] }),
        two_apps(),
        json!([
            crash("app1", 5.0, None, "process"),
            crash("lb", 20.0, Some(1.0), "process")
        ]),
    );
    let (r, log) = observe(&s, 61);
    assert_conservation("lb restart", &r);
    let down = first_after(&log, "app1 DOWN", 21.0).expect("app1 DOWN after the restart");
    eprintln!("after the LB restart: app1 DOWN after {:.4} s", down - 21.0);
    assert!(
        down - 21.0 < 0.001,
        "DOWN {} s after the restart",
        down - 21.0
    );
    // Nothing offered after the restart is refused (requests sent to app1 before its DOWN
    // are retried on it: none, as the check comes first).
    let late_refused = log
        .failed_with(FailReason::ConnectionRefused)
        .iter()
        .filter(|q| q.offered_at.as_secs_f64() > 21.0)
        .count();
    assert_eq!(late_refused, 0);
}

/// `init-state down` (include/haproxy/server.h `srv_set_init_state()`: health `rise − 1`,
/// DOWN): app2 takes no request until its first check passes — at 1 s, the second of two
/// servers' checks being staggered over the first interval — and then its share.
#[test]
fn init_state_down_waits_for_the_first_passing_check() {
    let s = scenario(
        "4s",
        constant_rate("100/s"),
        json!({ "servers": [ { "server": "app1" }, { "server": "app2", "init_state": "down" } ] }),
        fingerprinted_apps(2),
        json!([]),
    );
    let (r, log) = observe(&s, 67);
    assert_conservation("init-state down", &r);
    let up = log.times("lb", "app2 UP");
    assert_eq!(up.len(), 1, "{:?}", log.changes);
    assert!((up[0] - 1.0002).abs() < 1e-4, "UP at {}", up[0]);
    let on_app2: Vec<f64> = log
        .requests
        .iter()
        .filter(|q| server_of(q) == 2)
        .map(|q| q.offered_at.as_secs_f64())
        .collect();
    assert!(on_app2.iter().all(|&t| t > up[0] - 0.002), "{on_app2:?}");
    assert!(on_app2.len() > 130, "{}", on_app2.len());
}

// ---------------------------------------------------------------------------------------------
// 5. Saturated servers: each algorithm as its HAProxy lookup treats them
// ---------------------------------------------------------------------------------------------

/// The share of successful requests that waited in the LB's queue: their latency exceeds
/// the 100 ms service plus the round trips.
fn queued_share(log: &Log) -> f64 {
    let ok: Vec<f64> = log
        .requests
        .iter()
        .filter(|q| q.outcome == Outcome::Ok)
        .map(latency_s)
        .collect();
    ok.iter().filter(|&&l| l > 0.1 + 0.0025).count() as f64 / ok.len() as f64
}

/// `balance random(1)` over two servers of `maxconn 1` (100 ms each, 8 requests/s): HAProxy's
/// `get_server_rnd()` draws a server and, if it is full, "pretend[s] we have none so that we
/// reach the backend's queue" — no second draw. A request arriving while one server is busy
/// waits one time in two although the other is free; only when both are busy did the old
/// model queue (it drew again up to once per server). Measured: 41 % of the requests
/// queued, 27 % with the old model.
#[test]
fn random_queues_when_its_pick_is_full() {
    let s = scenario(
        "120s",
        poisson("8/s"),
        json!({ "balance": "random", "draws": 1,
                "servers": [ { "server": "app1", "maxconn": 1 }, { "server": "app2", "maxconn": 1 } ] }),
        vec![
            app("app1", 4, constant("100ms")),
            app("app2", 4, constant("100ms")),
        ],
        json!([]),
    );
    let (r, log) = observe(&s, 71);
    assert_conservation("random full pick", &r);
    let share = queued_share(&log);
    eprintln!("random(1), maxconn 1: {:.3} of the requests queued", share);
    assert!(share > 0.35, "{share}");
}

/// `balance leastconn` with app1 (weight 3, `maxconn 1`) and app2 (weight 1, `maxconn 10`):
/// app1's key stays the lowest while it serves its one request, but src/lb_fwlc.c skips a
/// server whose `served + queued` reached `maxconn + maxqueue`, so requests go to app2 and
/// none waits. The old model picked the full app1 again and again and queued them.
#[test]
fn leastconn_skips_full_servers() {
    let s = scenario(
        "60s",
        poisson("15/s"),
        json!({ "balance": "leastconn",
                "servers": [ { "server": "app1", "weight": 3, "maxconn": 1 },
                             { "server": "app2", "weight": 1, "maxconn": 10 } ] }),
        vec![
            app("app1", 16, constant("100ms")),
            app("app2", 16, constant("100ms")),
        ],
        json!([]),
    );
    let (r, log) = observe(&s, 73);
    assert_conservation("leastconn maxconn", &r);
    let share = queued_share(&log);
    eprintln!("leastconn, app1 full: {share:.4} of the requests queued");
    // app2 (10 slots, about 1 in use on average) is full only with a burst of 10.
    assert!(share < 0.001, "{share}");
    assert_eq!(r.requests.failed_total(), 0);
}

/// A redispatched retry goes through the dispatcher like a new request
/// (`assign_server_and_queue()`): a full server takes it into its queue, it does not get
/// one connection more than its `maxconn`. `balance source` (consistent) with `option
/// redispatch`; app1's process dies at 10 s; app2 has `maxconn 1` and one worker, so a
/// second concurrent connection would wait in its accept queue. The retries of app1's
/// requests are redispatched (on the last retry, or once app1 is DOWN) to app2: queued in
/// the LB, app2's accept queue stays empty. The old model connected them to app2 at once:
/// they waited in app2's accept queue (with no accept queue, before the TCP model, app2
/// refused them). (TCP checks occupy no place in the accept queue.)
#[test]
fn a_redispatched_retry_respects_maxconn() {
    let mut apps = vec![
        app("app1", 4, constant("100ms")),
        app("app2", 1, constant("100ms")),
    ];
    let s = {
        let mut s = scenario(
            "30s",
            poisson("8/s"),
            json!({ "balance": "source", "hash_type": "consistent", "redispatch": true,
                    "servers": [ { "server": "app1" }, { "server": "app2", "maxconn": 1 } ] }),
            std::mem::take(&mut apps),
            json!([crash("app1", 10.0, None, "process")]),
        );
        s["app_servers"][1]["queue"] = json!(16);
        s
    };
    let (r, log) = observe(&s, 79);
    assert_conservation("redispatch maxconn", &r);
    eprintln!(
        "redispatch to a full server: app2's longest accept queue {}, failed {:?}",
        r.components["app2"].max_queue, r.requests.failed
    );
    assert!(first_after(&log, "app1 DOWN", 10.0).is_some());
    assert_eq!(r.components["app2"].max_queue, 0);
    assert_eq!(r.components["app2"].rejected, 0);
    assert_eq!(failed(&r, "connection_refused"), 0);
}

// ---------------------------------------------------------------------------------------------
// 6. The queue of a server marked DOWN (src/queue.c pendconn_redistribute())
// ---------------------------------------------------------------------------------------------

/// `balance source` over two servers of `maxconn 4` (50 ms each, 40 requests/s): a request
/// hashed to a full server waits in that server's queue. app1's host dies at 10 s: its four
/// requests in service hang, and the requests hashed to it queue behind them until the
/// checks (inter 500 ms, fall 2) mark it DOWN, about 1.5 s later. With `option redispatch`
/// HAProxy then hands them back to the dispatcher (`pendconn_redistribute()`): they are
/// served by app2. Without it they stay in app1's queue and fail at `timeout queue`. The old
/// model left them there in both cases.
#[test]
fn requests_queued_on_a_server_marked_down_are_redispatched() {
    let run = |redispatch: bool| {
        let s = scenario(
            "25s",
            poisson("40/s"),
            json!({ "balance": "source", "redispatch": redispatch,
                    "check": { "inter": "500ms", "fall": 2 },
                    "timeouts": { "queue": "8s", "server": "20s" },
                    "servers": [ { "server": "app1", "maxconn": 4 },
                                 { "server": "app2", "maxconn": 4 } ] }),
            vec![
                app("app1", 16, constant("50ms")),
                app("app2", 16, constant("50ms")),
            ],
            json!([crash("app1", 10.0, None, "host")]),
        );
        let (r, log) = observe(&s, 83);
        assert_conservation(&format!("redistribute, redispatch {redispatch}"), &r);
        let down = first_after(&log, "app1 DOWN", 10.0).expect("app1 DOWN");
        // Requests offered between the crash and DOWN that waited and then succeeded.
        let moved = log
            .requests
            .iter()
            .filter(|q| {
                let t = q.offered_at.as_secs_f64();
                t > 10.0 && t < down - 0.01 && q.outcome == Outcome::Ok && latency_s(q) > 0.1
            })
            .count();
        eprintln!(
            "redispatch {redispatch}: DOWN after {:.3} s, {moved} queued requests served \
             elsewhere, failed {:?}",
            down - 10.0,
            r.requests.failed
        );
        (moved, failed(&r, "queue_timeout"))
    };
    let (moved, timed_out) = run(true);
    assert!(moved > 15, "{moved}");
    assert_eq!(timed_out, 0);
    let (moved, timed_out) = run(false);
    assert_eq!(moved, 0);
    assert!(timed_out > 15, "{timed_out}");
}

// ---------------------------------------------------------------------------------------------
// 7. slowstart (src/server.c server_recalc_eweight(), server_warmup())
// ---------------------------------------------------------------------------------------------

/// app1 (`slowstart 16s`) and app2 under `roundrobin`, 100 requests/s. app1's process is
/// down from 5 s to 15 s (marked DOWN at 10 s, after `fall` 3 checks 2 s apart); its
/// checks bring it back UP at some time U (`rise` 2 checks). From then its
/// effective weight is `weight × w` with w = 1 at the transition and, at each tick of the
/// warm-up task (every second from U), w = (16·e + S)/S = e + 1 for e whole seconds since
/// U, S = 16 — against app2's 16. So in the k-th second after U app1 takes
/// (k + 1)/(k + 17) of the requests; after 16 s, half. Without `slowstart`, half at once.
/// The old model had no slowstart.
#[test]
fn slowstart_ramps_a_recovered_server_linearly() {
    let run = |slowstart: &str| {
        let s = scenario(
            "45s",
            constant_rate("100/s"),
            json!({ "servers": [ { "server": "app1", "slowstart": slowstart },
                                 { "server": "app2" } ] }),
            fingerprinted_apps(2),
            json!([crash("app1", 5.0, Some(10.0), "process")]),
        );
        let (r, log) = observe(&s, 89);
        assert_conservation("slowstart", &r);
        let up = first_after(&log, "app1 UP", 15.0).expect("app1 back UP");
        // app1's share of each whole second after U.
        let share: Vec<f64> = (0..20)
            .map(|k| {
                let (lo, hi) = (up + f64::from(k), up + f64::from(k) + 1.0);
                let in_second: Vec<u32> = log
                    .requests
                    .iter()
                    .filter(|q| q.outcome == Outcome::Ok)
                    .filter(|q| (lo..hi).contains(&(q.offered_at.as_secs_f64() + 0.0011)))
                    .map(server_of)
                    .collect();
                in_second.iter().filter(|&&s| s == 1).count() as f64 / in_second.len() as f64
            })
            .collect();
        (up, share)
    };
    let (up, share) = run("16s");
    eprintln!("slowstart 16 s: UP at {up:.3} s, app1's share per second {share:.3?}");
    for (k, &got) in share.iter().enumerate() {
        let w = (k as f64 + 1.0).min(16.0);
        let expect = w / (w + 16.0);
        // ±2 requests of the 100 in a second (smooth round-robin rounding, and a request
        // in flight at a weight change).
        assert!(
            (got - expect).abs() <= 0.021,
            "second {k} after UP: share {got:.3}, formula {expect:.3}"
        );
    }
    let (_, share) = run("0s");
    assert!(share.iter().all(|&s| (s - 0.5).abs() <= 0.011), "{share:?}");
}

/// The same recovery under `leastconn` at 400 requests/s (app1 10 ms, app2 11 ms: about 2
/// requests in progress on each). HAProxy's key (inflight + 1) × 4096 / eweight grows 16
/// times faster on a server at weight step 1, so the recovered server takes a small share
/// until its weight catches up; without `slowstart` it takes about half at once (the old
/// model: "a recovered server … under leastconn wins every pick until its load catches
/// up").
#[test]
fn slowstart_holds_back_a_recovered_server_under_leastconn() {
    let run = |slowstart: &str| {
        let s = scenario(
            "45s",
            poisson("400/s"),
            json!({ "balance": "leastconn",
                    "servers": [ { "server": "app1", "slowstart": slowstart },
                                 { "server": "app2" } ] }),
            vec![
                app("app1", 64, constant("10ms")),
                app("app2", 64, constant("11ms")),
            ],
            json!([crash("app1", 5.0, Some(10.0), "process")]),
        );
        let (r, log) = observe(&s, 109);
        assert_conservation("slowstart leastconn", &r);
        let up = first_after(&log, "app1 UP", 15.0).expect("app1 back UP");
        let share = |from: f64, to: f64| {
            let served: Vec<f64> = log
                .requests
                .iter()
                .filter(|q| q.outcome == Outcome::Ok)
                .filter(|q| (up + from..up + to).contains(&q.offered_at.as_secs_f64()))
                .map(latency_s)
                .collect();
            // app1's requests take 10 ms + 2.2 ms of round trips, app2's 11 ms + 2.2 ms.
            served.iter().filter(|&&l| l < 0.0127).count() as f64 / served.len() as f64
        };
        (share(0.0, 1.0), share(8.0, 9.0), share(20.0, 25.0))
    };
    let (first, middle, late) = run("16s");
    let (at_once, _, _) = run("0s");
    eprintln!(
        "leastconn, slowstart 16 s: app1's share {first:.3} in the first second, \
         {middle:.3} in the 9th, {late:.3} after; without slowstart {at_once:.3} at once"
    );
    assert!(first < 0.25, "{first}");
    assert!(middle > first + 0.1 && middle < late, "{middle}");
    assert!(late > 0.4, "{late}");
    assert!(at_once > 0.4, "{at_once}");
}

// ---------------------------------------------------------------------------------------------
// 8. retry-on: layer-7 retries (src/http_ana.c do_l7_retry())
// ---------------------------------------------------------------------------------------------

/// app1 answers every request with an error (500) from 5 s for 10 s; its TCP checks pass,
/// so it stays UP and takes half of the requests (100/s, `roundrobin`). By default
/// (`retry-on conn-failure`) each of those is a 500 for the client: ≈ 500. With `retry-on
/// 500` and `option redispatch`, a non-hash algorithm with two active servers redispatches
/// every retry (`stream_choose_redispatch()`), avoiding app1: no failure at all. Without
/// `redispatch` the retries go to app1 again — four errors in a row — and still fail. The
/// old model never retried an answered request.
#[test]
fn retry_on_500_with_redispatch_turns_errors_into_successes() {
    let run = |retry_on: Value, redispatch: bool| {
        let s = scenario(
            "20s",
            constant_rate("100/s"),
            json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                    "retry_on": retry_on, "redispatch": redispatch }),
            two_apps(),
            json!([all_errors("app1", 5, 10)]),
        );
        let (r, log) = observe(&s, 97);
        assert_conservation("retry-on 500", &r);
        assert!(log.times("lb", "app1 DOWN").is_empty());
        r
    };
    let plain = run(json!(["conn-failure"]), true);
    let retried = run(json!(["conn-failure", "500"]), true);
    let same_server = run(json!(["conn-failure", "500"]), false);
    let (a, b, c) = (
        failed(&plain, "server_error"),
        failed(&retried, "server_error"),
        failed(&same_server, "server_error"),
    );
    eprintln!(
        "app1 answering 500: failed without retry-on {a}, retry-on 500 + redispatch {b}, \
         retry-on 500 alone {c}"
    );
    assert!((490..=510).contains(&a), "{a}");
    assert_eq!(b, 0);
    assert_eq!(c, a);
    assert_eq!(retried.requests.failed_total(), 0);
}

/// app1 is slowed 1000× (a 1 s service) from 5 s for 10 s; `timeout server 200ms`. Its
/// requests time out (504); with `retry-on response-timeout` and `option redispatch` they
/// are retried on app2 at once and succeed, 200 ms late. The old model answered 504.
#[test]
fn retry_on_response_timeout_retries_on_another_server() {
    let run = |retry_on: Value| {
        let s = scenario(
            "20s",
            constant_rate("100/s"),
            json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                    "timeouts": { "server": "200ms" },
                    "retry_on": retry_on, "redispatch": true }),
            two_apps(),
            json!([{ "degrade": { "target": "app1", "at": "5s", "duration": "10s",
                                  "slowdown": 1000 } }]),
        );
        let (r, log) = observe(&s, 101);
        assert_conservation("retry-on response-timeout", &r);
        (r, log)
    };
    let (plain, _) = run(json!(["conn-failure"]));
    let (retried, log) = run(json!(["response-timeout", "conn-failure"]));
    let (a, b) = (
        failed(&plain, "server_timeout"),
        failed(&retried, "server_timeout"),
    );
    eprintln!(
        "app1 slowed: server_timeout without retry-on {a}, with {b}; failed {:?}, {:?}",
        plain.requests.failed, retried.requests.failed
    );
    assert!(a > 400, "{a}");
    assert_eq!(b, 0);
    assert_eq!(retried.requests.failed_total(), 0);
    // The retried ones took the 200 ms timeout plus a fresh attempt on app2.
    let slow = log
        .requests
        .iter()
        .filter(|q| latency_s(q) > 0.2 && latency_s(q) < 0.21)
        .count();
    assert!(slow as u64 > a * 9 / 10, "{slow} retried of {a}");
}

/// `retry-on none` retries nothing, not even a refused connection (src/backend.c: "if
/// (s->conn_retries >= s->max_retries || !(s->be->retry_type & PR_RE_CONN_FAILED))"): a
/// dead app1 process refuses connections until it is marked DOWN, and each refusal is a 503
/// at once; with the default `conn-failure` and `option redispatch` each is retried on
/// app2 at once (two active servers, `roundrobin`) and succeeds.
#[test]
fn retry_on_none_answers_the_first_refusal() {
    let run = |retry_on: Value| {
        let s = scenario(
            "10s",
            constant_rate("100/s"),
            json!({ "servers": [ { "server": "app1" }, { "server": "app2" } ],
                    "retry_on": retry_on, "redispatch": true }),
            two_apps(),
            json!([crash("app1", 5.0, None, "process")]),
        );
        let (r, _) = observe(&s, 103);
        assert_conservation("retry-on none", &r);
        r
    };
    let none = run(json!(["none"]));
    let default = run(json!(["conn-failure"]));
    let (a, b) = (
        failed(&none, "connection_refused"),
        failed(&default, "connection_refused"),
    );
    eprintln!("app1 refusing: connection_refused with retry-on none {a}, conn-failure {b}");
    assert!(a > 0, "{a}");
    assert_eq!(b, 0);
}

// ---------------------------------------------------------------------------------------------
// 9. on-marked-down shutdown-sessions (src/server.c srv_shutdown_streams())
// ---------------------------------------------------------------------------------------------

/// app1's host dies at 10 s with requests in service (500 ms each, 40 requests/s): they
/// hang. The checks (inter 500 ms, fall 2) mark it DOWN about 1.5 s later. By default its
/// sessions continue: the established ones until `timeout server` (504 after 20 s), the
/// connecting ones through their retries (503 after 4 × 5 s). With `on-marked-down
/// shutdown-sessions` they are all killed when it is marked DOWN: 500 at that moment, not
/// retried. The old model had no `on-marked-down`.
#[test]
fn shutdown_sessions_kills_the_sessions_of_a_server_marked_down() {
    let run = |on_marked_down: &str| {
        let s = scenario(
            "40s",
            poisson("40/s"),
            json!({ "check": { "inter": "500ms", "fall": 2 },
                    "timeouts": { "server": "20s" },
                    "servers": [ { "server": "app1", "on_marked_down": on_marked_down },
                                 { "server": "app2" } ] }),
            vec![
                app("app1", 64, constant("500ms")),
                app("app2", 64, constant("500ms")),
            ],
            json!([crash("app1", 10.0, None, "host")]),
        );
        let (r, log) = observe(&s, 107);
        assert_conservation(&format!("on-marked-down {on_marked_down}"), &r);
        let down = first_after(&log, "app1 DOWN", 10.0).expect("app1 DOWN");
        let last_failure = log
            .requests
            .iter()
            .filter(|q| q.outcome != Outcome::Ok)
            .map(|q| q.finished_at.as_secs_f64())
            .fold(0.0, f64::max);
        (r, down, last_failure)
    };
    let (kept, _, kept_last) = run("none");
    let (shut, down, shut_last) = run("shutdown-sessions");
    eprintln!(
        "app1 host dead: default failed {:?} (last at {kept_last:.2} s); shutdown-sessions \
         failed {:?}, last at {shut_last:.3} s, DOWN at {down:.3} s",
        kept.requests.failed, shut.requests.failed
    );
    // ≈ 40/s × 1/2 × 0.5 s = 10 in service at the crash, and ≈ 30 sent to app1 until DOWN.
    assert!(failed(&kept, "server_timeout") >= 5);
    assert!(kept_last > 29.0, "{kept_last}");
    assert_eq!(failed(&shut, "server_timeout"), 0);
    assert_eq!(failed(&shut, "connect_timeout"), 0);
    assert_eq!(
        shut.requests.failed_total(),
        failed(&shut, "server_error"),
        "{:?}",
        shut.requests.failed
    );
    assert!(failed(&shut, "server_error") >= 20);
    assert!(
        (shut_last - down).abs() < 0.01,
        "{shut_last} vs DOWN {down}"
    );
}
