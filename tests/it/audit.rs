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
    // Plain HTTP from the internet, proved by what the baseline run carried in the clear;
    // every other hop plain too.
    let entry = &a.hops[0];
    assert_eq!((entry.from.as_str(), entry.to.as_str()), ("clients", "lb"));
    assert_eq!(entry.protocol, "HTTP");
    assert!(entry.plain_on_the_internet());
    assert_eq!(entry.proof, Some(Proof::Confirmed));
    assert!(entry.carried > 10_000, "{entry:?}");
    assert_eq!(a.hops.len(), 4);
    // MySQL's default: the app servers' connections use TLS (ssl-mode PREFERRED, the
    // server's self-signed certificate); the binlog stream does not (SOURCE_SSL=0).
    let plain: Vec<&str> = a
        .hops
        .iter()
        .filter(|h| !h.encrypted)
        .map(|h| h.carries.as_str())
        .collect();
    assert_eq!(
        plain,
        ["HTTP requests", "HTTP to the servers", "MySQL replication"]
    );
    assert!(a.hops.iter().all(|h| h.proof.is_some() != h.encrypted));
    // No firewall: the app servers and the database are exposed beyond the entry point.
    let exposed: Vec<&str> = a
        .exposure
        .iter()
        .filter(|r| r.exposed && !r.entry)
        .map(|r| r.component.as_str())
        .collect();
    assert_eq!(exposed, ["app1", "app2", "db-primary", "db-replica"]);
    // The verdict's summary names each part; the replica's exposure is contradicted by its
    // run (its refusals send the reads to the primary) and said so.
    let v = &a.summary;
    assert_eq!(
        v.single_points,
        [
            "lb (read, write, static)",
            "db-primary (write)",
            "clients ↔ lb (read, write, static)"
        ]
    );
    assert_eq!(v.exposed, exposed);
    assert_eq!(v.plain_on_the_internet, ["clients → lb"]);
    assert_eq!(
        v.plain_inside,
        ["lb → app1, app2", "db-primary → db-replica"]
    );
    assert_eq!(
        v.blind_spots,
        ["lb", "app1", "app2", "db-primary", "db-replica"]
    );
    assert_eq!(v.contradicted, ["db-replica (exposure)"]);
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

/// The remedied design (seed 5: a keepalived pair terminating TLS 1.3, three app servers,
/// automatic failover, a firewall with a DMZ, tuned Prometheus alerts) reports only what
/// truly remains: the single firewall as the one single point of failure (for every class,
/// proved by its crash), no component exposed beyond the entry point (every flood dropped
/// at the firewall), no blind spot (each crash pages — the firewall's through the service's
/// error ratio), and no hop in the clear across the internet; the plain hops inside the
/// internal zone (LB → apps, apps → MySQL, replication) remain and are named.
#[test]
fn the_remedied_design_reports_only_what_remains() {
    let s = infrasim::scenario::load("scenarios/05-remedied.json").unwrap();
    // A minute: while the firewall is down the clients' segments are lost and retransmitted
    // (1, 3, 7, 15 s … after the first), so the requests of the crash's last 15–30 s get
    // through after it, within the 30 s timeout — as with a partition.
    let a = audited(&s, 60, CrashMode::Process);
    assert_eq!(
        spofs(&a),
        pairs(&[("fw", "read"), ("fw", "write"), ("fw", "static")])
    );
    assert!(a.findings.iter().all(|f| f.proof == Proof::Confirmed));
    for f in a.single_points() {
        assert_eq!(f.exposure.kind, "firewall");
        assert!((0.6..1.0).contains(&f.measured_loss), "{f:?}");
    }
    // The automatic failover still costs the writes of its detection and promotion.
    let primary = a
        .findings
        .iter()
        .find(|f| f.exposure.element == "db-primary" && f.exposure.class == "write")
        .unwrap();
    assert!(primary.measured_loss > 0.0 && primary.measured_loss < 0.5);

    for r in &a.exposure {
        assert!(r.entry || !r.exposed, "{r:?}");
        if !r.entry {
            assert_eq!(r.blocked_by, ["fw"], "{r:?}");
            assert_eq!(r.flood_served, 0, "{r:?}");
            assert!(r.flood_dropped_at_firewall > 0, "{r:?}");
            assert_eq!(r.proof, Some(Proof::Confirmed), "{r:?}");
        }
    }

    // Eight servers and databases, the firewall, and Prometheus itself.
    assert_eq!(a.watches.len(), 10);
    for w in &a.watches {
        assert!(!w.blind_spot, "{w:?}");
        assert_eq!(w.proof, Proof::Confirmed, "{w:?}");
        assert!(w.noticed_after_s.is_some(), "{w:?}");
    }
    let fw = a.watches.iter().find(|w| w.component == "fw").unwrap();
    assert_eq!(fw.noticed_by.as_deref(), Some("HighErrorRatio"));
    // A dead Prometheus is found by the dead man's switch: 5 minutes after the last
    // heartbeat, which came at most a minute before the crash.
    let prom = a.watches.iter().find(|w| w.kind == "monitoring").unwrap();
    assert_eq!(prom.component, "prometheus");
    assert_eq!(prom.noticed_by.as_deref(), Some("DeadMansSwitch"));
    let after = prom.noticed_after_s.unwrap();
    assert!((240.0..=300.0).contains(&after), "{prom:?}");

    assert!(
        a.hops.iter().all(|h| !h.plain_on_the_internet()),
        "{:?}",
        a.hops
    );
    let plain: Vec<(&str, &str, &str)> = a
        .hops
        .iter()
        .filter(|h| !h.encrypted)
        .map(|h| (h.from.as_str(), h.to.as_str(), h.carries.as_str()))
        .collect();
    assert_eq!(
        plain,
        [
            ("lb1", "app1, app2, app3", "HTTP to the servers"),
            ("lb2", "app1, app2, app3", "HTTP to the servers"),
            (
                "db-primary",
                "db-replica1, db-replica2",
                "MySQL replication"
            ),
        ]
    );
    let entry: Vec<_> = a.hops.iter().filter(|h| h.from == "clients").collect();
    assert_eq!(entry.len(), 2);
    for h in entry {
        assert!(h.encrypted && h.protocol == "HTTPS (TLS 1.3)", "{h:?}");
        assert_eq!(h.zones, ["internet → dmz (fw)"]);
    }
    // The LB pair's hop to the servers crosses the firewall from the DMZ; the database's
    // stays inside the internal zone.
    assert_eq!(a.hops[2].zones, ["dmz → internal (fw)"]);
    assert_eq!(a.hops[4].zones, ["internal"]);
    // What remains, by name.
    let v = &a.summary;
    assert_eq!(v.single_points, ["fw (read, write, static)"]);
    assert!(v.exposed.is_empty() && v.plain_on_the_internet.is_empty());
    assert!(v.blind_spots.is_empty() && v.contradicted.is_empty());
    assert_eq!(v.plain_inside.len(), 3);
    assert_eq!(
        v.single_monitoring,
        ["prometheus (its dead man's switch pages when it dies)"]
    );
}

/// The hops read their protection from the scenario: TLS at the load balancer encrypts the
/// clients' hop, `tls.to_servers` the hop to the servers; the zones come from the firewall;
/// and what each hop carried is the baseline run's count.
#[test]
fn hops_read_encryption_and_zones_from_the_scenario() {
    let v = json!({
        "name": "hops", "seed": 3, "duration": "20s",
        "clients": { "target": "lb", "arrival": { "poisson": { "rate": "50/s" } },
                     "connections": {} },
        "load_balancers": [ { "name": "lb", "servers": [ { "server": "web" } ],
                              "tls": { "version": "1.2", "to_servers": true } } ],
        "web_servers": [ { "name": "web", "upstream": "app1" } ],
        "app_servers": [ { "name": "app1", "workers": 8 } ],
        "databases": [ { "name": "mysql", "primary": { "name": "db" } } ],
        "firewalls": [ { "name": "fw",
            "zones": { "dmz": ["lb"], "internal": ["web", "app1", "db"] },
            "rules": [ { "from": "internet", "to": "dmz", "port": 443, "action": "allow" },
                       { "from": "dmz", "to": "internal", "port": 443, "action": "allow" } ] },
            // An edge firewall that knows only the load balancer: the servers behind it are
            // in its `internet` zone, but `fw` lists them, so they are not on the internet.
            { "name": "edge", "zones": { "dmz": ["lb"] },
              "rules": [ { "from": "internet", "to": "dmz", "port": 443, "action": "allow" },
                         { "from": "dmz", "to": "internet", "action": "allow" } ] } ]
    });
    let s: Scenario = serde_json::from_value(v).unwrap();
    let base = infrasim::run(&s).unwrap();
    let hops = infrasim::audit::hops::hops(&s, &base).unwrap();
    let row = |from: &str| hops.iter().find(|h| h.from == from).unwrap();
    let entry = row("clients");
    assert_eq!(
        (entry.to.as_str(), entry.protocol.as_str(), entry.encrypted),
        ("lb", "HTTPS (TLS 1.2)", true)
    );
    assert!(entry.crosses_internet && entry.proof.is_none());
    assert_eq!(
        entry.zones,
        ["internet → dmz (fw)", "internet → dmz (edge)"]
    );
    assert_eq!(entry.carried, base.components["lb"].served);
    let to_web = row("lb");
    assert!(to_web.encrypted && !to_web.crosses_internet);
    assert_eq!(
        to_web.zones,
        ["dmz → internal (fw)", "dmz → internet (edge)"]
    );
    let upstream = row("web");
    assert_eq!(upstream.to, "app1");
    assert!(!upstream.encrypted && upstream.proof == Some(Proof::Confirmed));
    assert!(!upstream.crosses_internet);
    assert_eq!(upstream.zones, ["internal"]);
    assert_eq!(upstream.carried, base.components["app1"].served);
    let db = row("app1");
    assert_eq!(
        (db.to.as_str(), db.carries.as_str()),
        ("db", "MySQL queries")
    );
    assert_eq!(
        db.protocol,
        "MySQL over TLS (PREFERRED: certificate not verified)"
    );
    assert!(db.encrypted && db.carried > 0);
    // One node, no replication hop.
    assert_eq!(hops.len(), 4);
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

/// A firewall in front of one server of a load balancer that checks nothing is no single
/// point of failure, but its crash fails that server's share while it lasts — the LB keeps
/// sending it requests whose SYNs the dead firewall drops.
#[test]
fn a_firewall_behind_an_unchecked_load_balancer_loses_the_share_it_cuts_off() {
    let mut s = two_apps(json!({
        "name": "lb", "check": { "enabled": false }, "retries": 0,
        "servers": [ { "server": "app1", "weight": 2 }, { "server": "app2" }, { "server": "app3" } ]
    }));
    s.firewalls = serde_json::from_value(json!([ { "name": "fw",
        "zones": { "internal": ["app2"] },
        "rules": [ { "from": "internet", "to": "internal", "port": 8080, "action": "allow" } ] } ]))
    .unwrap();
    let e = exposures(&s).unwrap();
    let fw = e.iter().find(|x| x.element == "fw").unwrap();
    assert_eq!(
        (fw.kind.as_str(), fw.expected_loss),
        ("firewall", 0.25),
        "{fw:?}"
    );
    let a = audited(&s, 30, CrashMode::Process);
    let f = a
        .findings
        .iter()
        .find(|f| f.exposure.element == "fw")
        .unwrap();
    assert_eq!(f.proof, Proof::Confirmed, "{f:?}");
    assert!((0.15..0.4).contains(&f.measured_loss), "{f:?}");
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
/// failure it removes, keeps or adds. Against seed design 1's faults, the remedied design
/// (05) removes every one (and adds its single firewall) and gains most; the LB pair alone
/// (01b) keeps the primary for writes.
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
    assert!(r[0].spofs_kept.is_empty());
    // Its firewall is a single device in front of everything: a single point of its own.
    assert_eq!(r[0].spofs_added, ["fw (read, write, static)"]);
    assert_eq!(r[1].spofs_kept, ["db-primary (write)"]);
}

/// Blind spots. Seed design 1 has no monitoring: every component is one, and its run (each
/// crashed for good) pages no one. With Prometheus tuned (09c: 15 s scrapes, `for: 1m`),
/// none is, and each crash pages within the phases' bound (scrape + evaluation + `for` +
/// `group_wait` ≈ 90–120 s). With users as the only channel (09a), the load balancer and the
/// primary are found when users complain (after their 5-minute hold and 30-minute report
/// delay), the servers behind redundancy never.
#[test]
fn blind_spots_are_found_and_proved_by_runs_that_crash_each_component_for_good() {
    let load = |f: &str| infrasim::scenario::load(f).unwrap();
    let watches = |f: &str| {
        let a = audited(&load(f), 30, CrashMode::Process);
        for w in &a.watches {
            assert_eq!(w.proof, Proof::Confirmed, "{f}: {w:?}");
        }
        a.watches
    };
    let seed1 = watches("scenarios/01-single-lb.json");
    assert_eq!(seed1.len(), 5);
    assert!(seed1.iter().all(|w| w.blind_spot && w.expected == "never"));
    assert!(seed1.iter().all(|w| w.noticed_by.is_none()));

    assert!(seed1.iter().all(|w| w.kind != "monitoring"));

    let tuned = watches("scenarios/09c-seed1-monitoring-tuned.json");
    // Prometheus itself, without a dead man's switch, is one: its crash pages no one.
    let (prom, tuned): (Vec<_>, Vec<_>) = tuned.into_iter().partition(|w| w.kind == "monitoring");
    assert_eq!(prom.len(), 1);
    assert!(prom[0].blind_spot && prom[0].expected == "never" && prom[0].noticed_by.is_none());
    for w in &tuned {
        assert!(!w.blind_spot, "{w:?}");
        let after = w.noticed_after_s.unwrap();
        assert!((90.0..=125.0).contains(&after), "{w:?}");
    }

    let users = watches("scenarios/09a-seed1-monitoring-none.json");
    let expected = |name: &str| {
        users
            .iter()
            .find(|w| w.component == name)
            .map(|w| (w.expected.as_str(), w.noticed_after_s))
            .unwrap()
    };
    for name in ["lb", "db-primary"] {
        let (how, after) = expected(name);
        assert_eq!(how, "users");
        // 5 bad minutes (counted from the start of the first, which began up to a minute
        // before the crash), then 30 minutes to the page.
        let after = after.unwrap();
        assert!(after >= 34.0 * 60.0, "{name}: {after}");
    }
    for name in ["app1", "app2", "db-replica"] {
        assert_eq!(expected(name), ("never", None), "{name}");
    }
    assert!(users.iter().all(|w| w.blind_spot));
}
