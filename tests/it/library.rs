//! The library face: determinism across thread counts, code ⇄ JSON round trips, and
//! confidence intervals that shrink as replications grow.

use infrasim::engine::SimDuration;
use infrasim::scenario::{AppServer, Clients, Database, Fault, LoadBalancer, Rate, Scenario};
use infrasim::{RunOptions, run_many, run_with};

use crate::util::to_json;

fn seed_design() -> Scenario {
    let s = SimDuration::from_secs;
    Scenario::new(
        "library-seed",
        s(60),
        Clients::poisson("lb", Rate::per_second(300.0)),
    )
    .with_warmup(s(5))
    .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
    .with_app_server(AppServer::new("app1"))
    .with_app_server(AppServer::new("app2"))
    .with_database(Database::new("mysql", "db-primary").with_replica("db-replica"))
    .with_fault(Fault::crash("app2", s(20), Some(s(10))))
}

#[test]
fn replications_are_identical_with_one_thread_and_all_threads() {
    let scenario = seed_design();
    let one = RunOptions {
        replications: Some(6),
        threads: Some(1),
        ..RunOptions::default()
    };
    let all = RunOptions {
        threads: None,
        ..one.clone()
    };
    let a = run_with(&scenario, &one).unwrap();
    let b = run_with(&scenario, &all).unwrap();
    assert_eq!(a.replications, 6);
    assert_eq!(to_json(&a), to_json(&b));
    // And run_many (what `compare` uses) gives the same report for the same scenario.
    let c = run_many(std::slice::from_ref(&scenario), &all).unwrap();
    assert_eq!(to_json(&a), to_json(&c[0]));
}

#[test]
fn a_scenario_built_in_code_round_trips_through_json_and_runs_the_same() {
    let built = seed_design();
    let text = serde_json::to_string_pretty(&built).unwrap();
    let dir = std::env::temp_dir().join(format!("infrasim-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seed.json");
    std::fs::write(&path, &text).unwrap();
    let loaded = infrasim::scenario::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(loaded, built);
    let from_code = infrasim::run(&built).unwrap();
    let from_file = infrasim::run(&loaded).unwrap();
    assert_eq!(to_json(&from_code), to_json(&from_file));
    assert!(from_code.requests.offered > 15_000);
}

#[test]
fn confidence_intervals_shrink_as_replications_grow() {
    let scenario = seed_design();
    let width = |n: u32| {
        let r = run_with(
            &scenario,
            &RunOptions {
                replications: Some(n),
                duration: Some(SimDuration::from_secs(30)),
                ..RunOptions::default()
            },
        )
        .unwrap();
        let ci = &r.confidence["latency_ms.mean"];
        assert!(ci.contains(ci.mean));
        ci.half_width
    };
    let (w4, w16, w64) = (width(4), width(16), width(64));
    // The half-width falls like t(n−1)·s/√n: in expectation by 3.0 from n = 4 to 16 and by
    // 2.1 from 16 to 64; s itself is noisy at n = 4, hence the looser first bound.
    assert!(
        w16 < w4,
        "half-width {w4} with 4 replications, {w16} with 16"
    );
    assert!(
        w64 < w16 / 1.5,
        "half-width {w16} with 16 replications, {w64} with 64"
    );
    assert!(
        w64 < w4 / 3.0,
        "half-width {w4} with 4 replications, {w64} with 64"
    );
}

#[test]
fn common_random_numbers_make_a_change_in_one_place_a_sharp_comparison() {
    // The same scenario with a different app2 worker count: app1's service-time stream and
    // the arrivals are the same (streams are keyed by component name), so the two runs
    // differ only through app2.
    let base = seed_design();
    let mut other = base.clone();
    other.app_server_mut("app2").unwrap().workers = 8;
    let reports = run_many(&[base, other], &RunOptions::default()).unwrap();
    assert_eq!(
        reports[0].requests.offered, reports[1].requests.offered,
        "same arrivals"
    );
    assert_eq!(
        reports[0].classes["static"].offered, reports[1].classes["static"].offered,
        "same class mix"
    );
}

#[test]
fn compare_on_two_seed_scenarios_narrows_its_intervals_with_more_replications() {
    // What `infrasim compare` runs: both files, common random numbers, one parallel pool.
    let files = ["scenarios/01-single-lb.json", "scenarios/05-remedied.json"];
    let scenarios: Vec<Scenario> = files
        .iter()
        .map(|f| infrasim::scenario::load(f).unwrap())
        .collect();
    // The mean latency, not a percentile: a percentile is read off histogram buckets, and
    // a few replications can all land in the same bucket (half-width 0).
    let widths = |n: u32| -> Vec<f64> {
        let opts = RunOptions {
            replications: Some(n),
            duration: Some(SimDuration::from_secs(120)),
            ..RunOptions::default()
        };
        run_many(&scenarios, &opts)
            .unwrap()
            .iter()
            .map(|r| r.confidence["latency_ms.mean"].half_width)
            .collect()
    };
    let (w4, w16) = (widths(4), widths(16));
    for (i, file) in files.iter().enumerate() {
        assert!(
            w16[i] < w4[i],
            "{file}: mean latency half-width {} with 4 replications, {} with 16",
            w4[i],
            w16[i]
        );
    }
}

/// A request offered exactly at the end of the warm-up is measured, and counted once:
/// constant-rate arrivals with a warm-up that is a multiple of their period offer one at that
/// very instant (the statistics used to restart after it was counted, losing its offer).
#[test]
fn a_request_offered_exactly_at_the_warm_up_s_end_is_counted_once() {
    for rate in ["10/s", "4/s", "1000/s"] {
        let v = serde_json::json!({
            "name": "warm-up edge",
            "duration": "20s",
            "warmup": "10s",
            "clients": {
                "target": "app",
                "arrival": {"constant": {"rate": rate}},
                "mix": {"read": 0.0, "write": 0.0, "static": 1.0}
            },
            "app_servers": [{"name": "app"}]
        });
        let r = crate::util::run(&v, 1, 1);
        crate::util::assert_conservation(rate, &r);
        assert!(r.requests.succeeded > 0);
    }
}
