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

use infrasim::{FailReason, Outcome, Report, RequestRecord};
use serde_json::{Value, json};

use crate::util::{Log, app, assert_conservation, constant, crash, observe};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A scenario: clients (`arrival`) → `lb` (the `lb` object, named here) → `apps` (each with
/// an accept queue of 10 000, so only the LB queues), with these faults.
fn scenario(
    duration: &str,
    arrival: Value,
    mut lb: Value,
    mut apps: Vec<Value>,
    faults: Value,
) -> Value {
    lb["name"] = json!("lb");
    for a in &mut apps {
        a["queue"] = json!(10000);
    }
    json!({
        "name": "lb-failures",
        "seed": 1,
        "duration": duration,
        "warmup": "0s",
        "clients": {
            "target": "lb",
            "arrival": arrival,
            "mix": { "read": 1.0, "write": 0.0, "static": 0.0 },
            "addresses": 1000,
            "timeout": "60s"
        },
        "load_balancers": [lb],
        "app_servers": apps,
        "network": { "latency": "100us", "client_latency": "1ms" },
        "faults": faults
    })
}

/// Requests at a constant rate (`"100/s"`).
fn constant_rate(rate: &str) -> Value {
    json!({ "constant": { "rate": rate } })
}

/// Poisson arrivals at `rate`.
fn poisson(rate: &str) -> Value {
    json!({ "poisson": { "rate": rate } })
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

fn failed(r: &Report, reason: &str) -> u64 {
    r.requests.failed[reason]
}

fn latency_s(r: &RequestRecord) -> f64 {
    r.finished_at.as_secs_f64() - r.offered_at.as_secs_f64()
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

/// Servers whose constant service times are 1, 2, … ms, so that at low load a request's
/// latency tells which server served it.
fn fingerprinted_apps(n: u32) -> Vec<Value> {
    (1..=n)
        .map(|k| app(&format!("app{k}"), 64, constant(&format!("{k}ms"))))
        .collect()
}

/// The server (1-based) that served a successful request, from its latency: 2 × 1 ms
/// client ↔ LB, 2 × 100 µs LB ↔ server, 6 µs of LB CPU, then k ms of service on `appk`.
fn server_of(r: &RequestRecord) -> u32 {
    let ms = latency_s(r) * 1e3 - 2.206;
    let k = ms.round();
    assert!(
        (ms - k).abs() < 0.05 && k >= 1.0,
        "latency {ms} ms is no fingerprint"
    );
    k as u32
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
/// redispatch`; app1's process dies at 10 s; app2 has `maxconn 1`, one worker and no accept
/// queue, so a second concurrent connection would be refused. The retries of app1's
/// requests are redispatched (on the last retry, or once app1 is DOWN) to app2: queued,
/// never refused by app2. The old model connected them to app2 at once: app2 refused some.
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
        s["app_servers"][1]["queue"] = json!(0);
        s
    };
    let (r, log) = observe(&s, 79);
    assert_conservation("redispatch maxconn", &r);
    eprintln!(
        "redispatch to a full server: app2 refused {}, failed {:?}",
        r.components["app2"].rejected, r.requests.failed
    );
    assert!(first_after(&log, "app1 DOWN", 10.0).is_some());
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
