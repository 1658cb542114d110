//! The audit: single points of failure found on the topology graph, each proved (or
//! contradicted) by the run that crashes it or, for a link, partitions it.

use infrasim::RunOptions;
use infrasim::audit::{Audit, Proof, audit, exposures};
use infrasim::engine::SimDuration;
use infrasim::scenario::{CrashMode, Scenario};
use serde_json::{Value, json};

use crate::util::app;

fn audited(s: &Scenario, crash_s: u64, mode: CrashMode) -> Audit {
    audit(
        s,
        SimDuration::from_secs(crash_s),
        mode,
        &RunOptions {
            duration: Some(SimDuration::from_secs(120)),
            ..RunOptions::default()
        },
    )
    .unwrap()
}

/// (element, class) of every single point of failure.
fn spofs(a: &Audit) -> Vec<(String, String)> {
    a.single_points()
        .map(|f| (f.exposure.element.clone(), f.exposure.class.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Seed design 1: the load balancer for every class and the primary (no failover) for
/// writes, and the clients' link to the load balancer (partitioned in its run); the two app
/// servers are not. Every finding is confirmed by its run: a SPOF's
/// crash fails about all of its class while it lasts, a redundant member's only the few
/// requests before the checks take it out.
#[test]
fn seed_design_1_has_the_lb_and_the_primary_as_single_points_proved_by_runs() {
    let s = infrasim::scenario::load("scenarios/01-single-lb.json").unwrap();
    let a = audited(&s, 60, CrashMode::Process);
    assert_eq!(a.rows[0].component, "(none)");
    assert_eq!(
        spofs(&a),
        pairs(&[
            ("lb", "read"),
            ("lb", "write"),
            ("lb", "static"),
            ("db-primary", "write"),
            ("clients ↔ lb", "read"),
            ("clients ↔ lb", "write"),
            ("clients ↔ lb", "static"),
        ])
    );
    for f in &a.findings {
        assert_eq!(f.proof, Proof::Confirmed, "{f:?}");
        if f.exposure.kind == "link" {
            // A partition is not a crash: the clients' SYNs are retransmitted (1, 3, 7,
            // 15 s … after the first), and those whose next retransmission falls after the
            // heal, within the clients' 30 s timeout, succeed late. Of 60 s, the requests of
            // roughly the last 15–30 s get through.
            assert!((0.5..0.85).contains(&f.measured_loss), "{f:?}");
        } else if f.exposure.is_spof() {
            assert!(f.measured_loss > 0.9, "{f:?}");
        } else {
            assert!(f.measured_loss < 0.2, "{f:?}");
        }
    }
    // The simulation's own criterion agrees row by row.
    let row = |c: &str| a.rows.iter().find(|r| r.component == c).unwrap();
    assert_eq!(row("lb").spof_for, ["read", "static", "write"]);
    assert_eq!(row("db-primary").spof_for, ["write"]);
    assert!(row("app1").spof_for.is_empty());
}

/// Seed design 1 as the write-ups draw it, with a single app server: that server joins the
/// load balancer as a single point of failure for every class.
#[test]
fn with_one_app_server_the_app_server_is_a_single_point_too() {
    let text =
        std::fs::read_to_string(crate::util::root().join("scenarios/01-single-lb.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["app_servers"].as_array_mut().unwrap().truncate(1);
    v["load_balancers"][0]["servers"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let s: Scenario = serde_json::from_value(v).unwrap();
    let a = audited(&s, 60, CrashMode::Process);
    let found = spofs(&a);
    for class in ["read", "write", "static"] {
        assert!(
            found.contains(&("app1".to_string(), class.to_string())),
            "{found:?}"
        );
    }
    assert!(found.contains(&("db-primary".to_string(), "write".to_string())));
    let app1 = a.findings.iter().filter(|f| f.exposure.element == "app1");
    for f in app1 {
        assert_eq!(f.proof, Proof::Confirmed, "{f:?}");
        assert!(f.measured_loss > 0.9, "{f:?}");
    }
}

/// The remedied design (a keepalived pair, three app servers, automatic failover): no
/// single point of failure, and the runs agree.
#[test]
fn the_remedied_design_has_no_single_point_of_failure() {
    let s = infrasim::scenario::load("scenarios/05-remedied.json").unwrap();
    let a = audited(&s, 30, CrashMode::Process);
    assert_eq!(spofs(&a), Vec::<(String, String)>::new());
    assert!(a.findings.iter().all(|f| f.proof == Proof::Confirmed));
    // The automatic failover still costs the writes of its detection and promotion.
    let primary = a
        .findings
        .iter()
        .find(|f| f.exposure.element == "db-primary" && f.exposure.class == "write")
        .unwrap();
    assert!(primary.measured_loss > 0.0 && primary.measured_loss < 0.5);
}

fn two_apps(lb: Value) -> Scenario {
    let v = json!({
        "name": "audit",
        "seed": 7,
        "duration": "2m",
        "warmup": "10s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "100/s" } },
            "mix": { "read": 0.0, "write": 0.0, "static": 1.0 },
            "timeout": "5s"
        },
        "load_balancers": [lb],
        "app_servers": [app("app1", 8, json!({"exponential": {"mean": "10ms"}})),
                        app("app2", 8, json!({"exponential": {"mean": "10ms"}})),
                        app("app3", 8, json!({"exponential": {"mean": "10ms"}}))]
    });
    serde_json::from_value(v).unwrap()
}

/// Behind a load balancer that checks nothing, a server is not a single point of failure
/// but its crash fails its weight's share of the requests for as long as it lasts.
#[test]
fn an_unchecked_backend_loses_its_weight_share() {
    let s = two_apps(json!({
        "name": "lb", "check": { "enabled": false }, "retries": 0,
        "servers": [ { "server": "app1", "weight": 2 }, { "server": "app2" }, { "server": "app3" } ]
    }));
    let e = exposures(&s).unwrap();
    let loss = |n: &str| {
        e.iter()
            .find(|x| x.element == n && x.class == "static")
            .unwrap()
            .expected_loss
    };
    assert_eq!((loss("app1"), loss("app2"), loss("lb")), (0.5, 0.25, 1.0));
    let a = audited(&s, 30, CrashMode::Process);
    for f in a
        .findings
        .iter()
        .filter(|f| f.exposure.element.starts_with("app"))
    {
        // Process crash: refused at once, no retry: exactly its share fails.
        assert!(
            (f.measured_loss - f.exposure.expected_loss).abs() < 0.05,
            "{f:?}"
        );
    }
}

/// A finding the run contradicts is reported, not hidden: checks every hour never notice a
/// 30-second crash, so the heavy server's share (three quarters) fails although the graph
/// sees three checked servers.
#[test]
fn a_finding_the_simulation_contradicts_is_reported() {
    let s = two_apps(json!({
        "name": "lb", "check": { "inter": "1h" }, "retries": 0,
        "servers": [ { "server": "app1", "weight": 6 }, { "server": "app2" }, { "server": "app3" } ]
    }));
    let a = audited(&s, 30, CrashMode::Process);
    let app1 = a
        .findings
        .iter()
        .find(|f| f.exposure.element == "app1")
        .unwrap();
    assert!(!app1.exposure.is_spof());
    assert_eq!(app1.proof, Proof::Contradicted, "{app1:?}");
    assert!(app1.measured_loss > 0.7, "{app1:?}");
    let app2 = a
        .findings
        .iter()
        .find(|f| f.exposure.element == "app2")
        .unwrap();
    assert_eq!(app2.proof, Proof::Confirmed, "{app2:?}");
}

/// `audit A --against B C`: the candidates run against the audited design with common random
/// numbers and are ranked by measured availability gain, each with the single points of
/// failure it removes or keeps. Against seed design 1's faults, the remedied design (05)
/// removes every one and gains most; the LB pair alone (01b) keeps the primary for writes.
#[test]
fn remedies_are_ranked_by_measured_gain_with_the_spofs_they_remove() {
    use infrasim::audit::remedies;
    let load = |f: &str| infrasim::scenario::load(f).unwrap();
    let base = load("scenarios/01-single-lb.json");
    let candidates = [
        load("scenarios/01b-lb-pair-active-passive.json"),
        load("scenarios/05-remedied.json"),
    ];
    let opts = RunOptions {
        replications: Some(3),
        ..RunOptions::default()
    };
    let r = remedies(&base, &candidates, &opts).unwrap();
    let names: Vec<&str> = r.iter().map(|x| x.scenario.as_str()).collect();
    assert_eq!(names, ["05-remedied", "01b-lb-pair-active-passive"]);
    for x in &r {
        // The LB's 20 s crash is a fifteenth of the 300 s: both remedies win it back (the
        // remedied design also the primary's 60 s for writes), and the paired interval says so.
        let ci = x.availability_gain_ci.as_ref().unwrap();
        assert!(ci.low > 0.04, "{x:?}");
        assert!(x.availability_gain > 0.0);
    }
    assert_eq!(
        r[0].spofs_removed,
        [
            "lb (read, write, static)",
            "db-primary (write)",
            "clients ↔ lb (read, write, static)"
        ]
    );
    assert!(r[0].spofs_kept.is_empty() && r[0].spofs_added.is_empty());
    assert_eq!(r[1].spofs_kept, ["db-primary (write)"]);
}
