//! Monitoring: who notices a failure and when its repair starts. Detection delays against
//! the phases of Prometheus and Nagios (scrape, evaluation, `for`, `group_wait`; checks,
//! retries), the scrape timeout of a vanished host, `for` against a blip, gray failures seen
//! by the error ratio and not by `up`, repair after detection against MTBF / (MTBF + MTTR),
//! latent failures behind redundancy against the alternating-renewal algebra, and the
//! monitoring's own crash.

use serde_json::{Value, json};

use crate::util::{app, constant, exp, run};

/// One app server taking the clients directly (1 request/s), crashing at 600 s in `mode`,
/// for good (or repaired after detection when `repair` is set).
fn single_server(monitoring: Value, mode: &str, minutes: u32) -> Value {
    json!({
        "name": "monitored-server",
        "duration": format!("{minutes}m"),
        "window": "10s",
        "clients": { "target": "app1", "arrival": { "poisson": { "rate": "1/s" } } },
        "app_servers": [ app("app1", 4, constant("5ms")) ],
        "faults": [ { "crash": { "target": "app1", "at": "600s", "mode": mode } } ],
        "monitoring": monitoring
    })
}

fn prometheus(scrape: &str, hold: &str) -> Value {
    json!({
        "prometheus": {
            "scrape_interval": scrape,
            "evaluation_interval": scrape,
            "rules": [ { "target_down": { "for": hold } } ]
        },
        "users": { "enabled": false }
    })
}

/// The pooled time from the crash to the page, over `reps` replications: (n, mean, min, max).
fn notify_delay(v: &Value, reps: u32) -> (u64, f64, f64, f64) {
    let r = run(v, 11, reps);
    let ops = r
        .operations
        .expect("a monitoring section reports operations");
    let d = ops.time_to_notify_s.expect("every crash was paged");
    eprintln!(
        "time to notify: n {} mean {:.1} s, {:.1}..{:.1} s",
        d.n, d.mean, d.min, d.max
    );
    (d.n, d.mean, d.min, d.max)
}

/// Tuned Prometheus (15 s scrape and evaluation, `for: 1m`, `group_wait` 30 s): the page
/// comes U(0,15) + U(0,15) + 60 + 30 s after a crash — 90 to 120 s, mean 105 s. Each
/// replication draws its own scrape and evaluation phases.
#[test]
fn tuned_prometheus_pages_90_to_120_s_after_a_crash() {
    let reps = 40;
    let (n, mean, min, max) =
        notify_delay(&single_server(prometheus("15s", "1m"), "process", 20), reps);
    assert_eq!(n, u64::from(reps));
    assert!(min > 90.0 && max <= 120.0, "range {min}..{max}");
    // sd of the sum of two U(0,15): 15·√(2/12) = 6.1 s; 4 standard errors.
    let se = 15.0 * (2.0f64 / 12.0).sqrt() / f64::from(reps).sqrt();
    assert!((mean - 105.0).abs() < 4.0 * se, "mean {mean}");
}

/// Prometheus defaults (1 m scrape and evaluation) with the common `for: 5m`: 330–450 s
/// (5.5–7.5 min), mean 390 s.
#[test]
fn default_prometheus_pages_5_5_to_7_5_min_after_a_crash() {
    let reps = 40;
    let mut m = prometheus("1m", "5m");
    // The defaults, written out by leaving the intervals unset.
    m["prometheus"] = json!({ "rules": [ { "target_down": { "for": "5m" } } ] });
    let (n, mean, min, max) = notify_delay(&single_server(m, "process", 30), reps);
    assert_eq!(n, u64::from(reps));
    assert!(min > 330.0 && max <= 450.0, "range {min}..{max}");
    let se = 60.0 * (2.0f64 / 12.0).sqrt() / f64::from(reps).sqrt();
    assert!((mean - 390.0).abs() < 4.0 * se, "mean {mean}");
}

/// A vanished host answers the scrape only by its timeout (10 s): `up` is 0 ten seconds
/// later than for a refused connection, so the page comes up to one evaluation interval
/// later — 10 s later on average, between 100 and 130 s after the crash.
#[test]
fn a_blackholed_target_adds_up_to_the_scrape_timeout() {
    let reps = 40;
    let (_, process, ..) =
        notify_delay(&single_server(prometheus("15s", "1m"), "process", 20), reps);
    let (n, host, min, max) =
        notify_delay(&single_server(prometheus("15s", "1m"), "host", 20), reps);
    assert_eq!(n, u64::from(reps));
    assert!(min > 100.0 && max <= 130.0, "range {min}..{max}");
    // Same seeds, same phases: each replication's difference is 0 or 15 s (P = 1/3, 2/3).
    let se = 15.0 * (2.0f64 / 9.0).sqrt() / f64::from(reps).sqrt();
    assert!(
        (host - process - 10.0).abs() < 4.0 * se,
        "{process} → {host}"
    );
}

/// Nagios `generic-service` (check every 10 min, retry every 2 min, 3 attempts): HARD, and
/// the page, U(0,10 min) + 2·2 min after a crash — 4 to 14 min, mean 9 min.
#[test]
fn nagios_pages_at_the_hard_state() {
    let reps = 40;
    let m = json!({ "nagios": {}, "users": { "enabled": false } });
    let mut v = single_server(m, "process", 40);
    let (n, mean, min, max) = notify_delay(&v, reps);
    assert_eq!(n, u64::from(reps));
    assert!(min >= 240.0 && max <= 840.0, "range {min}..{max}");
    let se = 600.0 / 12f64.sqrt() / f64::from(reps).sqrt();
    assert!((mean - 540.0).abs() < 4.0 * se, "mean {mean}");
    // A 12-minute crash holds a check (every 10 min) and its two retries (every minute):
    // HARD, then resolved by the first check after the crash ends, within 10 min.
    v["faults"][0]["crash"]["duration"] = json!("12m");
    v["monitoring"]["nagios"] = json!({ "retry_interval": "1m" });
    let r = run(&v, 6, 1);
    let ops = r.operations.unwrap();
    assert_eq!(ops.alerts.len(), 1, "{:?}", ops.alerts);
    let resolved = ops.alerts[0].resolved_at_s.expect("resolved");
    assert!(
        resolved > 1320.0 && resolved <= 1320.0 + 600.0,
        "{:?}",
        ops.alerts
    );
}

/// A 30-second crash with `for: 2m` never fires (the alert is pending, then resolved);
/// without `for` the same blip fires.
#[test]
fn for_keeps_a_blip_from_firing() {
    let blip = |hold: &str| {
        let mut v = single_server(prometheus("15s", hold), "process", 20);
        v["faults"][0]["crash"]["duration"] = json!("30s");
        let r = run(&v, 5, 1);
        r.operations
            .unwrap()
            .alerts
            .iter()
            .filter(|a| a.alert == "TargetDown")
            .count()
    };
    assert_eq!(blip("0s"), 1, "without `for` the blip fires");
    assert_eq!(blip("2m"), 0, "`for: 2m` outlasts a 30 s blip");
}

/// Two app servers behind a load balancer, `redispatch` on (a retry goes to the other
/// server, so one dead server costs users nothing); checks every 10 s keep long runs cheap.
fn pair(faults: Value, monitoring: Value, days: u32, rate: &str) -> Value {
    json!({
        "name": "pair",
        "duration": format!("{days}d"),
        "window": "1m",
        "clients": { "target": "lb", "arrival": { "poisson": { "rate": rate } } },
        "load_balancers": [ {
            "name": "lb",
            "servers": [ { "server": "app1" }, { "server": "app2" } ],
            "check": { "inter": "10s", "rise": 2, "fall": 3 },
            "timeouts": { "connect": "5s", "server": "30s" },
            "retries": 3,
            "redispatch": true
        } ],
        "app_servers": [ app("app1", 4, constant("5ms")), app("app2", 4, constant("5ms")) ],
        "faults": faults,
        "monitoring": monitoring
    })
}

/// A gray failure (app2 answers half its requests with errors, its TCP checks pass) is
/// caught by the error-ratio rule, on the service and on app2, never by `up`.
#[test]
fn a_gray_failure_is_caught_by_the_error_ratio_not_by_up() {
    let faults = json!([ { "degrade": { "target": "app2", "at": "10m", "error_rate": 0.5 } } ]);
    let m = json!({
        "prometheus": {
            "scrape_interval": "15s", "evaluation_interval": "15s",
            "rules": [
                { "target_down": { "for": "1m" } },
                { "error_ratio": { "above": 0.05, "range": "2m", "for": "1m" } },
                { "error_ratio": { "above": 0.05, "range": "2m", "for": "1m", "scope": "app2" } }
            ]
        }
    });
    let r = run(&pair(faults, m, 1, "5/s"), 3, 1);
    let ops = r.operations.unwrap();
    let fired = |name: &str, about: &str| {
        ops.alerts
            .iter()
            .any(|a| a.alert == name && a.about == about && a.fired_at_s > 600.0)
    };
    assert!(fired("HighErrorRatio", "service"), "{:?}", ops.alerts);
    assert!(fired("HighErrorRatio", "app2"), "{:?}", ops.alerts);
    assert!(
        !ops.alerts.iter().any(|a| a.alert == "TargetDown"),
        "{:?}",
        ops.alerts
    );
    let f = &r.faults[0];
    assert_eq!(f.alert.as_deref(), Some("HighErrorRatio"));
    // Errors are 25 % of the service's requests from 600 s: the 2-minute rate passes 5 %
    // within a scrape or two, then `for` 1 m and `group_wait` 30 s.
    let d = f.notified_at_s.unwrap() - 600.0;
    eprintln!("gray failure paged after {d:.1} s");
    assert!((90.0..=150.0).contains(&d), "paged {d} s after the fault");
}

/// One server, random crashes (exponential, mean 3 h), each repaired 10 min after the
/// on-call person acknowledged (response exponential, mean 5 min), which is after tuned
/// Prometheus paged (mean 105 s): availability = MTBF / (MTBF + 105 + 300 + 600 s).
#[test]
fn repair_after_detection_gives_mtbf_over_mtbf_plus_detect_respond_repair() {
    let mut v = single_server(prometheus("15s", "1m"), "process", 1);
    v["duration"] = json!("3d");
    v["window"] = json!("1m");
    v["faults"] = json!([ { "random": {
        "target": "app1", "ttf": exp("3h"),
        "repair": { "after": "detection", "time": constant("10m") }
    } } ]);
    v["monitoring"]["on_call"] = json!({ "response": exp("5m") });
    let r = run(&v, 21, 24);
    let mtbf = 3.0 * 3600.0;
    let expect = mtbf / (mtbf + 105.0 + 300.0 + 600.0);
    let ci = &r.confidence["availability"];
    eprintln!(
        "single server: expected {expect:.5}, measured {:.5} [{:.5}, {:.5}]",
        ci.mean, ci.low, ci.high
    );
    assert!(
        ci.low - 0.002 <= expect && expect <= ci.high + 0.002,
        "expected {expect}, measured {} [{}, {}]",
        ci.mean,
        ci.low,
        ci.high
    );
    let ops = r.operations.unwrap();
    let ttr = ops.time_to_repair_s.unwrap();
    assert!(
        (ttr.mean - 1005.0).abs() < 60.0,
        "time to repair {}",
        ttr.mean
    );
}

/// Both servers fail at random (exponential, mean 6 h each), repaired after detection.
/// Without monitoring, one dead server is invisible (the LB routes around it): it stays dead
/// until the other dies too, users are hurt, complain (5 bad minutes, reported 30 min
/// later), and the person repairs both. Alternating renewal: a cycle is both up (mean
/// MTBF/2), one latent (MTBF), both down (D = complaint ≈ 276 s + 1800 s + response 300 s +
/// repair 600 s); unavailability = D / (1.5·MTBF + D). With tuned Prometheus each failure
/// is repaired in about 1005 s and the pair is almost never down.
#[test]
fn latent_failures_behind_redundancy_cost_what_alternating_renewal_predicts() {
    let faults = json!([
        { "random": { "target": "app1", "ttf": exp("6h"),
            "repair": { "after": "detection", "time": constant("10m") } } },
        { "random": { "target": "app2", "ttf": exp("6h"),
            "repair": { "after": "detection", "time": constant("10m") } } }
    ]);
    let users = json!({ "on_call": { "response": exp("5m") } });
    let r = run(&pair(faults.clone(), users, 12, "0.25/s"), 8, 16);
    let mtbf = 6.0 * 3600.0;
    let d = 276.0 + 1800.0 + 300.0 + 600.0;
    let expect = 1.0 - d / (1.5 * mtbf + d);
    let ci = &r.confidence["availability"];
    eprintln!(
        "pair, users only: expected {expect:.5}, measured {:.5} [{:.5}, {:.5}]",
        ci.mean, ci.low, ci.high
    );
    assert!(
        ci.low - 0.005 <= expect && expect <= ci.high + 0.005,
        "expected {expect}, measured {} [{}, {}]",
        ci.mean,
        ci.low,
        ci.high
    );
    // Latent time per cycle: the first failure's MTBF plus both failures' time to the page.
    let latent = 12.0 * 86400.0 * (mtbf + 2.0 * 2076.0) / (1.5 * mtbf + d);
    let unnoticed = r.operations.as_ref().unwrap().unnoticed_s;
    eprintln!("latent failure time {unnoticed:.0} s per replication, expected {latent:.0} s");
    assert!(
        (unnoticed / latent - 1.0).abs() < 0.15,
        "{unnoticed} vs {latent}"
    );

    let mut m = prometheus("15s", "1m");
    m["on_call"] = json!({ "response": exp("5m") });
    let watched = run(&pair(faults, m, 12, "0.25/s"), 8, 8);
    eprintln!("pair, tuned Prometheus: {:.5}", watched.availability);
    // Each server is down u = 1005 / (MTBF + 1005) of the time; both at once about u².
    let u = 1005.0 / (mtbf + 1005.0);
    let unnoticed = watched.operations.as_ref().unwrap().unnoticed_s;
    assert!(
        unnoticed < 0.02 * latent,
        "latent time with monitoring {unnoticed} s"
    );
    assert!(
        watched.availability > 1.0 - 3.0 * u * u,
        "with monitoring {} (u² = {})",
        watched.availability,
        u * u
    );
}

/// The monitoring crashes at 5 min and app1 at 10 min: no alert while it is down. A dead
/// man's switch (heartbeat every minute, 5 min silence) pages; once the monitoring is
/// repaired, `TargetDown` fires for app1.
#[test]
fn a_dead_mans_switch_notices_the_monitoring_is_down() {
    let mut v = single_server(prometheus("15s", "1m"), "process", 60);
    v["faults"][0]["crash"]["repair"] = json!({ "after": "detection", "time": constant("5m") });
    v["monitoring"]["on_call"] = json!({ "response": constant("2m") });
    v["monitoring"]["crash"] = json!({ "at": "300s",
        "repair": { "after": "detection", "time": constant("10m") } });
    let silent = run(&v, 4, 1);
    assert!(silent.operations.as_ref().unwrap().alerts.is_empty());
    assert_eq!(silent.faults[0].notified_at_s, None);

    v["monitoring"]["dead_mans_switch"] = json!({});
    let r = run(&v, 4, 1);
    let ops = r.operations.unwrap();
    let out = &ops.monitoring_outages[0];
    let noticed = out.noticed_at_s.unwrap();
    // The last heartbeat was less than a minute before the crash: 5 min of silence later.
    assert!((540.0..=600.0).contains(&noticed), "noticed at {noticed}");
    let up = out.up_at_s.unwrap();
    assert_eq!(up, noticed + 120.0 + 600.0);
    let f = &r.faults[0];
    assert_eq!(f.alert.as_deref(), Some("TargetDown"));
    let paged = f.notified_at_s.unwrap();
    assert!(
        paged > up + 90.0 && paged <= up + 120.0,
        "paged {paged}, up {up}"
    );
}

/// The other rules fire on what they watch: a slowed-down server trips the latency rule on
/// it (and not `up`), a dead one the load balancer's count of servers UP (which pages about
/// the server the LB sees DOWN), a replica slowed down to fall behind the lag rule.
#[test]
fn latency_lb_servers_up_and_lag_rules_fire_on_what_they_watch() {
    let faults = json!([
        { "degrade": { "target": "app1", "at": "10m", "duration": "10m", "slowdown": 100 } },
        { "crash": { "target": "app2", "at": "30m",
            "repair": { "after": "detection", "time": constant("5m") } } }
    ]);
    let m = json!({
        "prometheus": {
            "scrape_interval": "15s", "evaluation_interval": "15s",
            "rules": [
                { "latency_quantile": { "quantile": 0.99, "above": "250ms", "range": "1m",
                    "for": "1m", "scope": "app1" } },
                { "lb_servers_up": { "lb": "lb", "below": 2, "for": "1m" } }
            ]
        },
        "on_call": { "response": constant("1m") },
        "users": { "enabled": false }
    });
    let mut v = pair(faults, m, 1, "5/s");
    v["duration"] = json!("1h");
    let r = run(&v, 2, 1);
    let ops = r.operations.unwrap();
    let first = |name: &str| {
        ops.alerts
            .iter()
            .find(|a| a.alert == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", ops.alerts))
    };
    // 5 ms × 100 = 500 ms per request on app1: p99 above 250 ms from the first scrape after
    // 600 s on, then `for` 1 m.
    let lat = first("HighLatency");
    assert_eq!(lat.about, "app1");
    assert!(lat.fired_at_s > 660.0 && lat.fired_at_s <= 720.0, "{lat:?}");
    assert!(lat.resolved_at_s.unwrap() > 1200.0);
    let lb = first("LbServersDown");
    assert_eq!(lb.about, "lb");
    // The LB marks app2 DOWN ~30 s (3 checks, 10 s apart) after the crash, then a scrape,
    // an evaluation, `for` 1 m and `group_wait` 30 s.
    assert!(
        lb.fired_at_s > 1800.0 + 60.0 && lb.fired_at_s <= 1800.0 + 40.0 + 30.0 + 60.0,
        "{lb:?}"
    );
    let crash = &r.faults[1];
    assert_eq!(crash.alert.as_deref(), Some("LbServersDown"));
    let paged = crash.notified_at_s.unwrap();
    assert_eq!(crash.recovered_at_s, Some(paged + 60.0 + 300.0));
    // The degrade was never paged about by `up`: the latency alert led to it.
    assert_eq!(r.faults[0].alert.as_deref(), Some("HighLatency"));

    // A replica applying 1000× slower than its primary commits falls behind.
    let db = json!({
        "name": "lagging",
        "duration": "30m",
        "clients": { "target": "app1", "arrival": { "poisson": { "rate": "20/s" } },
            "mix": { "read": 0.5, "write": 0.5, "static": 0.0 } },
        "app_servers": [ crate::util::db_app("app1", 8) ],
        "databases": [ { "name": "mysql", "primary": { "name": "db1" },
            "replicas": [ { "name": "db2" } ] } ],
        "faults": [ { "degrade": { "target": "db2", "at": "5m", "slowdown": 1000 } } ],
        "monitoring": { "prometheus": { "scrape_interval": "15s", "evaluation_interval": "15s",
            "rules": [ { "replication_lag": { "above": "30s", "for": "1m" } } ] },
            "users": { "enabled": false } }
    });
    let r = run(&db, 3, 1);
    let ops = r.operations.unwrap();
    let lag = ops
        .alerts
        .iter()
        .find(|a| a.alert == "ReplicationLag")
        .expect("lag alert");
    assert_eq!(lag.about, "db2");
    assert!(lag.fired_at_s > 300.0 + 30.0 + 60.0, "{lag:?}");
    assert_eq!(r.faults[0].alert.as_deref(), Some("ReplicationLag"));
}
