//! Common random numbers that hold: every random stream is keyed by what it belongs to, so
//! changing one part of a scenario leaves every other part's draws unchanged.
//!
//! * Each request's work is drawn when it is offered and carried with it: the same request
//!   costs the same wherever it is routed (changing the balance algorithm changes no demand).
//! * A fault's stream is keyed by its kind and target: adding a fault leaves the others'
//!   failure and repair times unchanged.
//! * A replica's replication delays and apply times are its own: adding a replica leaves the
//!   others' lag unchanged.
//! * `compare` with common random numbers measures a difference much more tightly than with
//!   independent seeds.

use infrasim::compare::{Seeds, compare};
use infrasim::scenario::Scenario;
use infrasim::{Outcome, RunOptions};
use serde_json::{Value, json};

use crate::util::{app, exp, observe, run};

/// Two identical app servers behind one load balancer, at 2 requests/s: each request is
/// served alone, so its latency is the network's plus its own service demand.
fn pair(balance: &str) -> Value {
    json!({
        "name": "crn",
        "duration": "600s",
        "clients": {
            "target": "lb",
            "arrival": {"poisson": {"rate": "2/s"}},
            "mix": {"read": 0.0, "write": 0.0, "static": 1.0}
        },
        "load_balancers": [{
            "name": "lb",
            "balance": balance,
            "servers": [{"server": "app1"}, {"server": "app2"}]
        }],
        "app_servers": [app("app1", 8, exp("20ms")), app("app2", 8, exp("20ms"))]
    })
}

#[test]
fn changing_the_balance_algorithm_leaves_every_request_s_demand_identical() {
    let latencies = |balance: &str| -> Vec<(u64, u64)> {
        let (r, log) = observe(&pair(balance), 5);
        assert_eq!(r.requests.failed_total(), 0);
        let mut v: Vec<(u64, u64)> = log
            .requests
            .iter()
            .filter(|x| x.outcome == Outcome::Ok)
            .map(|x| {
                let offered = x.offered_at.as_nanos();
                (offered, x.finished_at.as_nanos() - offered)
            })
            .collect();
        v.sort_unstable();
        v
    };
    let rr = latencies("roundrobin");
    assert!(rr.len() > 1000);
    for balance in ["leastconn", "random", "first"] {
        let other = latencies(balance);
        assert_eq!(other.len(), rr.len(), "{balance}");
        // Same offers, same latency each: the demand came with the request.
        let differing = rr.iter().zip(&other).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "{balance}: {differing} requests cost differently"
        );
    }
    // And the two servers did share the work differently.
    let (a, b) = (run(&pair("roundrobin"), 5, 1), run(&pair("first"), 5, 1));
    assert_ne!(
        a.components["app2"].served, b.components["app2"].served,
        "the algorithms route differently"
    );
}

/// Random failures of app1, with or without other faults listed before and after it.
fn faulty(extra: bool) -> Value {
    let random = |target: &str, mtbf: &str| {
        json!({"random": {
            "target": target,
            "ttf": {"exponential": {"mean": mtbf}},
            "ttr": {"exponential": {"mean": "5s"}}
        }})
    };
    let mut faults = vec![random("app1", "30s")];
    if extra {
        faults.insert(0, random("app2", "20s"));
        faults.insert(
            0,
            json!({"crash": {"target": "app2", "at": "100s", "duration": "10s"}}),
        );
        faults.push(random("app1", "90s"));
    }
    let mut v = pair("roundrobin");
    v["faults"] = json!(faults);
    v
}

#[test]
fn adding_unrelated_faults_leaves_a_fault_s_occurrences_unchanged() {
    let times = |v: &Value| -> Vec<(f64, Option<f64>)> {
        run(v, 9, 1)
            .faults
            .iter()
            .filter(|f| f.target == "app1" && f.fault.starts_with("random"))
            .map(|f| (f.injected_at_s, f.recovered_at_s))
            .collect()
    };
    let alone = times(&faulty(false));
    let with_others = times(&faulty(true));
    assert!(alone.len() > 5, "{alone:?}");
    // The first random fault on app1 keeps its stream: its occurrences are all there, at the
    // same instants (the second random fault on app1 adds its own).
    for occurrence in &alone {
        assert!(
            with_others.contains(occurrence),
            "{occurrence:?} missing from {with_others:?}"
        );
    }
    assert!(with_others.len() > alone.len());
}

/// A write-only workload on a primary and replica `db-r1`; with `extra`, a second replica
/// `db-r2` with the same replication settings.
fn replicated(extra: bool) -> Value {
    let mut replicas = vec![json!({"name": "db-r1"})];
    if extra {
        replicas.push(json!({"name": "db-r2"}));
    }
    json!({
        "name": "replicas",
        "duration": "120s",
        "window": "1s",
        "clients": {
            "target": "app",
            "arrival": {"poisson": {"rate": "200/s"}},
            "mix": {"read": 0.0, "write": 1.0, "static": 0.0}
        },
        "app_servers": [{"name": "app", "workers": 64, "db_calls": {"read": 0, "write": 1, "static": 0}}],
        "databases": [{
            "name": "db",
            "primary": {"name": "db-p", "workers": 64},
            "replicas": replicas,
            "replication": {
                "delay": {"exponential": {"mean": "2ms"}},
                "apply": {"exponential": {"mean": "4ms"}}
            }
        }]
    })
}

/// Each window's largest replication lag: with `db-r1` alone, `db-r1`'s; with `db-r2` too,
/// the larger of the two. If `db-r1` keeps its own draws, the second is never below the first
/// and equals it in every window where `db-r2` lags less — about half of them, since the two
/// replicas are alike. Had adding `db-r2` reshuffled `db-r1`'s draws (one stream for the
/// cluster), the maxima would differ in nearly every window and fall below in many.
#[test]
fn adding_a_replica_leaves_another_replica_s_lag_unchanged() {
    let lags = |v: &Value| -> Vec<f64> {
        let r = run(v, 3, 1);
        let ts = r.timeseries.expect("time series");
        ts.rows.iter().map(|w| w.max_lag_ms).collect()
    };
    let one = lags(&replicated(false));
    let two = lags(&replicated(true));
    assert_eq!(one.len(), two.len());
    let lagging = one.iter().filter(|&&l| l > 0.0).count();
    assert!(lagging > 50, "db-r1 lags in {lagging} windows");
    assert!(
        one.iter().zip(&two).all(|(a, b)| b >= a),
        "a window where db-r1's lag changed when db-r2 was added"
    );
    let same = one
        .iter()
        .zip(&two)
        .filter(|(a, b)| **a > 0.0 && a == b)
        .count();
    assert!(
        same * 10 > lagging * 3,
        "db-r1's lag is the maximum in only {same} of {lagging} windows"
    );
}

#[test]
fn common_random_numbers_tighten_a_comparison() {
    let load = |f: &str| infrasim::scenario::load(f).unwrap();
    let (mut lean, mut remedied) = (
        load("scenarios/01-single-lb.json"),
        load("scenarios/05-remedied.json"),
    );
    // The two topologies on the healthy path: what common random numbers share there is
    // every arrival and every service demand. (Under their faults the difference is
    // dominated by a few requests that wait a TCP retransmission, which no shared stream
    // correlates.)
    lean.faults.clear();
    remedied.faults.clear();
    let opts = RunOptions {
        replications: Some(10),
        duration: Some(infrasim::engine::SimDuration::from_secs(120)),
        ..RunOptions::default()
    };
    let scenarios: Vec<Scenario> = vec![lean, remedied];
    let common = compare(&scenarios, &opts, Seeds::Common).unwrap();
    let independent = compare(&scenarios, &opts, Seeds::Independent).unwrap();
    let width = |c: &infrasim::compare::Comparison, key: &str| c.differences[1][key].half_width;
    for key in ["latency_ms.mean", "throughput_per_s"] {
        let (w_crn, w_ind) = (width(&common, key), width(&independent, key));
        eprintln!("{key}: difference ± {w_crn} with common random numbers, ± {w_ind} without");
        assert!(w_crn < w_ind, "{key}: {w_crn} vs {w_ind}");
    }
    // The baseline is the same run either way.
    assert_eq!(common.reports[0], independent.reports[0]);
}
