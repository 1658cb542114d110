//! Firewalls, attack traffic and rate limiting against their formulas:
//!
//! * a flood that shares an app server with the clients blocks them as the M/M/c/K queue of
//!   the sum of both rates predicts (`infrasim_engine::theory::mmck_blocking`);
//! * HAProxy-style rate limiting keeps the clients' availability through an HTTP flood, and
//!   denies clients behind a shared address when their per-address rate is above the limit
//!   (and only then);
//! * connections to a database from the internet succeed without a firewall and are dropped
//!   with one; a firewall rule set that blocks the scenario's own traffic is refused;
//! * a full conntrack table drops new flows: the table admits `conntrack_max` flows per
//!   `time_wait`;
//! * a SYN flood with syncookies on (the Linux default) costs the clients nothing, and with
//!   syncookies off it blocks their connections;
//! * a firewall crash drops everything through it.
//!
//! Attack traffic is never counted as offered requests: conservation holds for the clients'.

use infrasim_engine::theory::mmck_blocking;
use serde_json::{Value, json};

use crate::util::{app, assert_conservation, exp, run};

/// Clients straight into one app server (`c` workers, `queue` places, exponential 10 ms
/// service, no database), no network latency, a 500 ms client timeout (shorter than the
/// first SYN retransmission, so a dropped SYN is a failed request), and `attacks`.
fn shared_app(c: u32, queue: u32, lambda: f64, attacks: Value) -> Value {
    let mut a = app("app", c, exp("10ms"));
    a["queue"] = json!(queue);
    json!({
        "name": "flood-vs-mmck",
        "seed": 7,
        "duration": "300s",
        "warmup": "20s",
        "clients": {
            "target": "app",
            "arrival": { "poisson": { "rate": format!("{lambda}/s") } },
            "mix": { "read": 1.0, "write": 0.0, "static": 0.0 },
            "timeout": "500ms"
        },
        "network": { "latency": "0s", "client_latency": "0s" },
        "app_servers": [a],
        "attacks": attacks
    })
}

/// A connect flood straight to the app server takes workers and queue places exactly as the
/// clients do: the clients' blocking probability is the M/M/c/K blocking of λ_legit +
/// λ_attack (PASTA: Poisson arrivals see the time average), and the attack's share blocked
/// is the same. Without the attack, the clients' blocking is that of λ_legit alone.
#[test]
fn a_flood_blocks_clients_as_the_mmck_queue_of_both_rates_predicts() {
    let (c, queue, mu, legit, attack) = (4u32, 4u32, 100.0, 150.0, 250.0);
    let flood = json!([{
        "name": "flood", "kind": "connect_flood", "target": "app",
        "rate": format!("{attack}/s"), "sources": 100
    }]);
    let r = run(&shared_app(c, queue, legit, flood), 7, 1);
    assert_conservation("flood", &r);
    let pk = mmck_blocking(c, c + queue, (legit + attack) / mu);
    let blocked = 1.0 - r.availability;
    // Binomial standard error on ~42 000 requests: ≈ 0.002; 4 of them.
    assert!(
        (blocked - pk).abs() < 0.008,
        "clients blocked {blocked:.4}, M/M/{c}/{} predicts {pk:.4}",
        c + queue
    );
    let a = &r.attacks["flood"];
    let a_blocked = a.dropped.backlog as f64 / a.offered as f64;
    assert!(
        (a_blocked - pk).abs() < 0.008,
        "attack blocked {a_blocked:.4} vs {pk:.4}"
    );
    // Every connection counted ends once: served, dropped or failed, but for the few open
    // at either end of the measured period (counted at their start or end only).
    let failed: u64 = a.failed.values().sum();
    let ended = (a.served + a.dropped.backlog + failed) as i64;
    assert!(
        (a.offered as i64 - ended).abs() < 50,
        "{} offered, {ended} ended",
        a.offered
    );
    assert!(
        r.requests.offered < 50_000,
        "attack traffic is not offered requests: {}",
        r.requests.offered
    );
    let calm = run(&shared_app(c, queue, legit, json!([])), 7, 1);
    let pk0 = mmck_blocking(c, c + queue, legit / mu);
    assert!(
        (1.0 - calm.availability - pk0).abs() < 0.004 && pk > 10.0 * pk0,
        "without the flood: {:.4} vs {pk0:.4}",
        1.0 - calm.availability
    );
}

/// One HAProxy (1 core, 6 µs per request) in front of two app servers of 16 workers
/// (10 ms reads, no database) — `maxconn` 16 per server, as HAProxy's manual advises, and
/// `timeout queue` 1 s, so excess requests wait at the load balancer and are shed there —
/// 400 requests/s from `addresses` client addresses, an optional HTTP flood and an optional
/// rate limit on the load balancer.
fn seed_like(addresses: u32, flood: Option<f64>, rate_limit: Option<Value>) -> Value {
    let mut lb = json!({
        "name": "lb",
        "servers": [ { "server": "app1", "maxconn": 16 }, { "server": "app2", "maxconn": 16 } ],
        "check": { "enabled": false },
        "timeouts": { "queue": "1s" }
    });
    if let Some(rl) = rate_limit {
        lb["rate_limit"] = rl;
    }
    let attacks = match flood {
        Some(rate) => json!([{
            "name": "http", "kind": "http_flood", "rate": format!("{rate}/s"),
            "sources": 20, "at": "40s", "duration": "100s"
        }]),
        None => json!([]),
    };
    json!({
        "name": "http-flood",
        "seed": 11,
        "duration": "120s",
        "warmup": "30s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "400/s" } },
            "mix": { "read": 1.0, "write": 0.0, "static": 0.0 },
            "addresses": addresses,
            "timeout": "10s"
        },
        "load_balancers": [lb],
        "app_servers": [app("app1", 16, exp("10ms")), app("app2", 16, exp("10ms"))],
        "attacks": attacks
    })
}

/// An HTTP flood above the servers' capacity (2 × 16 workers / 10 ms: C = 3 200/s; flood
/// 6 400/s for 100 of the 120 measured seconds) through an unprotected load balancer: the
/// servers serve C of the λ = 6 800/s offered, blind to whose request it is, so the clients
/// keep the share C/λ while it lasts — availability ≈ (20 + 100·C/λ)/120. Behind an
/// `http_req_rate` limit of 100 per 10 s per source, each of the flood's 20 sources
/// (320/s) is denied after its first 100 requests, so the servers see almost none of it and the
/// clients (5 000 addresses, 0.08/s each) keep their availability, none denied.
#[test]
fn rate_limiting_keeps_clients_available_through_an_http_flood() {
    let calm = run(&seed_like(5000, None, None), 11, 1);
    let flooded = run(&seed_like(5000, Some(6400.0), None), 11, 1);
    let limit = json!({ "track": "http_req_rate", "period": "10s", "limit": 100 });
    let limited = run(&seed_like(5000, Some(6400.0), Some(limit)), 11, 1);
    for (name, r) in [
        ("calm", &calm),
        ("flooded", &flooded),
        ("limited", &limited),
    ] {
        assert_conservation(name, r);
    }
    assert!(calm.availability > 0.999, "calm: {}", calm.availability);
    let predicted = (20.0 + 100.0 * 3200.0 / 6800.0) / 120.0;
    assert!(
        (flooded.availability - predicted).abs() < 0.03,
        "flooded: {} vs the shared-capacity share {predicted:.3}",
        flooded.availability
    );
    assert!(
        limited.availability > 0.998,
        "limited: {}",
        limited.availability
    );
    assert_eq!(limited.requests.failed["rate_limited"], 0);
    let a = &limited.attacks["http"];
    let denied = a.failed["rate_limited"] as f64 / a.offered as f64;
    // 20 sources × 100 allowed in the first 10 s, then the sliding rate stays above 100.
    let allowed = 1.0 - denied;
    assert!(
        allowed < 0.01,
        "the flood passed {:.4} of its requests",
        allowed
    );
}

/// Clients behind few addresses (NAT) share their address's rate: 400/s over 2 addresses is
/// 200/s each, 2 000 per 10 s against a limit of 1 000 — HAProxy counts denied requests in
/// the rate too, so the estimate stays near 2 000 and almost every request is denied. Over
/// 100 addresses (4/s, 40 per 10 s, the Poisson tail above 1 000 nil) none is.
#[test]
fn nated_clients_are_denied_when_their_shared_rate_is_above_the_limit() {
    let limit = json!({ "track": "http_req_rate", "period": "10s", "limit": 1000 });
    let nat = run(&seed_like(2, None, Some(limit.clone())), 11, 1);
    let spread = run(&seed_like(100, None, Some(limit)), 11, 1);
    assert_conservation("nat", &nat);
    let denied = nat.requests.failed["rate_limited"] as f64 / nat.requests.offered as f64;
    assert!(denied > 0.9, "NAT: denied {denied:.4}");
    assert_eq!(spread.requests.failed["rate_limited"], 0);
    assert!(spread.availability > 0.999);
    // Connection-rate limiting rejects at accept with the same reason.
    let conn = json!({ "track": "conn_rate", "period": "10s", "limit": 1000 });
    let nat_conn = run(&seed_like(2, None, Some(conn)), 11, 1);
    let denied = nat_conn.requests.failed["rate_limited"] as f64 / nat_conn.requests.offered as f64;
    assert!(denied > 0.9, "NAT, conn_rate: denied {denied:.4}");
}

/// Seed design 1's shape (LB, app server, a database primary) with a connect flood on the
/// database port from the internet; `firewall`: the database behind a firewall that lets
/// the internet reach the load balancer only.
fn db_exposed(firewall: bool) -> Value {
    let mut s = json!({
        "name": "db-exposed",
        "seed": 3,
        "duration": "60s",
        "warmup": "10s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "200/s" } },
            "mix": { "read": 0.8, "write": 0.2, "static": 0.0 }
        },
        "load_balancers": [ { "name": "lb", "servers": [ { "server": "app1" } ] } ],
        "app_servers": [ { "name": "app1", "workers": 32 } ],
        "databases": [ { "name": "mysql", "primary": { "name": "db", "workers": 8, "queue": 50 } } ],
        "attacks": [ {
            "name": "db-flood", "kind": "connect_flood", "target": "db",
            "rate": "20000/s", "sources": 50, "at": "20s", "duration": "30s"
        } ]
    });
    if firewall {
        s["firewalls"] = json!([{
            "name": "fw",
            "zones": { "dmz": ["lb"], "internal": ["app1", "db"] },
            "rules": [
                { "from": "internet", "to": "lb", "port": 80, "action": "allow" },
                { "from": "dmz", "to": "internal", "port": 8080, "action": "allow" }
            ]
        }]);
    }
    s
}

/// Without a firewall the flood's connections reach the database (they are served, or
/// refused when its queue is full) and the clients' queries starve while it lasts (half the
/// measured time); with the firewall every
/// one of its SYNs is dropped at the firewall and the clients do not notice.
#[test]
fn database_connections_from_the_internet_succeed_without_a_firewall_only() {
    let open = run(&db_exposed(false), 3, 1);
    let closed = run(&db_exposed(true), 3, 1);
    assert_conservation("open", &open);
    assert_conservation("closed", &closed);
    let a = &open.attacks["db-flood"];
    assert!(a.served > 100_000, "served {}", a.served);
    assert_eq!(a.dropped.firewall, 0);
    assert!(open.availability < 0.8, "open: {}", open.availability);
    let a = &closed.attacks["db-flood"];
    assert_eq!(a.served, 0);
    assert_eq!(a.dropped.firewall, a.offered);
    assert!(a.offered > 500_000);
    assert!(
        closed.availability > 0.999,
        "closed: {}",
        closed.availability
    );
    let fw = &closed.firewalls["fw"];
    assert_eq!(fw.denied, a.offered);
    assert_eq!(fw.conntrack_full, 0);
}

/// A rule set that blocks the scenario's own traffic (here the app server's queries to the
/// database, both in `internal`… and the load balancer's requests to the app server) is an
/// error naming the path, not a silent outage.
#[test]
fn a_rule_set_that_blocks_the_scenario_s_own_traffic_is_refused() {
    let mut s = db_exposed(true);
    s["firewalls"][0]["rules"] = json!([{ "from": "internet", "to": "lb", "action": "allow" }]);
    let text = serde_json::to_string(&s).unwrap();
    let err = infrasim::scenario::parse(&text)
        .and_then(|sc| infrasim::scenario::validate(&sc).map(|_| ()))
        .expect_err("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("firewalls[0].rules") && msg.contains("lb → app1:8080"),
        "{msg}"
    );
}

/// The firewall's port model: a load balancer with `tls` terminates HTTPS on 443 (HAProxy
/// `bind :443 ssl crt ...`), and an app server it re-encrypts to (`tls.to_servers`)
/// listens on 8443 (Tomcat's TLS connector). A rule set written for plain HTTP (internet →
/// lb:80, dmz → internal:8080) refuses the scenario's own traffic, naming each flow and
/// its real port; with 443 and 8443 it is accepted, and a run through it serves the clients
/// (the firewall's verdicts, precomputed per link, use the same ports).
#[test]
fn a_firewall_rule_for_port_80_refuses_https_and_one_for_443_lets_it_through() {
    let mut s = db_exposed(true);
    s["attacks"] = json!([]);
    s["clients"]["connections"] = json!({});
    s["load_balancers"][0]["tls"] = json!({ "version": "1.3", "to_servers": true });
    let check = |s: &Value| {
        let text = serde_json::to_string(s).unwrap();
        infrasim::scenario::parse(&text)
            .and_then(|sc| infrasim::scenario::validate(&sc).map(|_| ()))
            .map_err(|e| e.to_string())
    };
    let msg = check(&s).expect_err("port 80 refuses HTTPS");
    assert!(
        msg.contains("firewalls[0].rules")
            && msg.contains("clients → lb:443")
            && msg.contains("lb → app1:8443"),
        "{msg}"
    );
    s["firewalls"][0]["rules"][0]["port"] = json!(443);
    let msg = check(&s).expect_err("8080 refuses the re-encrypted hop");
    assert!(
        !msg.contains("clients → lb") && msg.contains("lb → app1:8443"),
        "{msg}"
    );
    s["firewalls"][0]["rules"][1]["port"] = json!(8443);
    check(&s).expect("443 and 8443 allow it");
    let r = run(&s, 3, 1);
    assert_conservation("https", &r);
    assert!(r.availability > 0.999, "{}", r.availability);
    assert_eq!(r.firewalls["fw"].denied, 0);
    // Without re-encryption the app server is back on 8080, and a rule for 8443 refuses it.
    s["load_balancers"][0]["tls"]["to_servers"] = json!(false);
    let msg = check(&s).expect_err("8443 refuses plain HTTP to the app server");
    assert!(msg.contains("lb → app1:8080"), "{msg}");
}

/// A firewall between the clients and the load balancer with `conntrack_max` 1 000 and
/// `time_wait` 120 s, 100 connections/s: the table fills in 10 s, then admits a new flow
/// only as an entry expires — 1 000 flows per 120 s. Over 240 s: 2 000 flows, the rest
/// dropped ("table full").
#[test]
fn a_full_conntrack_table_drops_new_flows() {
    let s = json!({
        "name": "conntrack",
        "seed": 5,
        "duration": "240s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "100/s" } },
            "mix": { "read": 0.0, "write": 0.0, "static": 1.0 }
        },
        "load_balancers": [ { "name": "lb", "servers": [ { "server": "app" } ] } ],
        "app_servers": [ app("app", 8, exp("1ms")) ],
        "firewalls": [ {
            "name": "fw",
            "zones": { "dmz": ["lb", "app"] },
            "rules": [ { "from": "internet", "to": "lb", "action": "allow" } ],
            "conntrack_max": 1000
        } ]
    });
    let r = run(&s, 5, 1);
    assert_conservation("conntrack", &r);
    let fw = &r.firewalls["fw"];
    assert_eq!(fw.conntrack_peak, 1000);
    assert!(
        (1990..=2010).contains(&fw.new_flows),
        "{} flows admitted",
        fw.new_flows
    );
    assert!(fw.conntrack_full > 10_000, "{} dropped", fw.conntrack_full);
    assert!(r.availability < 0.2, "{}", r.availability);
}

/// One app server behind a load balancer, 200 requests/s, and a SYN flood at the load
/// balancer of 5 000 SYNs/s for 60 s: its SYN queue (4 096) fills in under a second. With
/// syncookies (Linux default) the clients are untouched and the flood is answered with
/// cookies; without, the clients' SYNs are dropped while the queue is full.
#[test]
fn a_syn_flood_hurts_only_without_syncookies() {
    let s = |cookies: bool| {
        json!({
            "name": "syn",
            "seed": 9,
            "duration": "90s",
            "warmup": "10s",
            "clients": {
                "target": "lb",
                "arrival": { "poisson": { "rate": "200/s" } },
                "mix": { "read": 0.0, "write": 0.0, "static": 1.0 }
            },
            "network": { "syncookies": cookies },
            "load_balancers": [ { "name": "lb", "servers": [ { "server": "app" } ] } ],
            "app_servers": [ app("app", 8, exp("1ms")) ],
            "attacks": [ {
                "name": "syn", "kind": "syn_flood", "rate": "5000/s",
                "sources": 100000, "at": "20s", "duration": "60s"
            } ]
        })
    };
    let on = run(&s(true), 9, 1);
    let off = run(&s(false), 9, 1);
    assert_conservation("on", &on);
    assert_conservation("off", &off);
    assert!(on.availability > 0.999, "syncookies: {}", on.availability);
    let a = &on.attacks["syn"];
    assert_eq!(a.syn_queued, 4096);
    assert!(a.syn_cookies > 250_000);
    assert!(
        off.availability < 0.6,
        "no syncookies: {}",
        off.availability
    );
    assert!(off.attacks["syn"].dropped.backlog > 250_000);
}

/// A firewall that crashes for 20 s drops everything through it: the clients' requests in
/// that time fail (after their retransmissions outlast the 10 s client timeout).
#[test]
fn a_firewall_crash_drops_everything_through_it() {
    let s = json!({
        "name": "fw-crash",
        "seed": 4,
        "duration": "100s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "100/s" } },
            "mix": { "read": 0.0, "write": 0.0, "static": 1.0 },
            "timeout": "10s"
        },
        "load_balancers": [ { "name": "lb", "servers": [ { "server": "app" } ] } ],
        "app_servers": [ app("app", 8, exp("1ms")) ],
        "firewalls": [ {
            "name": "fw",
            "zones": { "dmz": ["lb", "app"] },
            "rules": [ { "from": "internet", "to": "lb", "action": "allow" } ]
        } ],
        "faults": [ { "crash": { "target": "fw", "at": "40s", "duration": "20s" } } ]
    });
    let r = run(&s, 4, 1);
    assert_conservation("fw-crash", &r);
    let failed = r.requests.failed["timeout"] as f64;
    // A request fails when its SYN and its retransmissions (at 1, 3 and 7 s, before the
    // 10 s timeout) all fall in the outage: offered in [40 s, 53 s), ≈ 13 s × 100/s.
    assert!((1_150.0..1_450.0).contains(&failed), "{failed} timed out");
    assert!(r.firewalls["fw"].down_drops > 0);
    assert_eq!(r.faults.len(), 1);
}

/// The shipped pair: seed design 1 under the same attacks, both with keep-alive connections,
/// as written (12a: plain HTTP, no firewall, no rate limit) and with HTTPS (TLS 1.3 at the
/// load balancer), a firewall and a rate limit (12b). `compare` (common random numbers, 3
/// replications) shows the gain in availability as an interval above zero; 12b's flood is
/// mostly denied by the rate limit, its database flood all dropped at the firewall, and its
/// clients are never limited. 12b's load balancer does TLS handshakes — full ones for the
/// clients' first connections and resumed ones after — and 12a's none; the first request
/// of a 12b connection pays the TLS round trip on top of the TCP one, so it is slower than
/// a reused connection's by at least two client RTTs (20 ms each in the seed design).
#[test]
fn compare_shows_what_https_the_firewall_and_the_rate_limit_buy_on_seed_1() {
    use infrasim::compare::{Seeds, compare};
    let load = |f: &str| infrasim::scenario::load(crate::util::root().join(f)).expect("loads");
    let scenarios = vec![
        load("scenarios/12a-seed1-under-attack.json"),
        load("scenarios/12b-seed1-firewall-under-attack.json"),
    ];
    let opts = infrasim::RunOptions {
        replications: Some(3),
        ..infrasim::RunOptions::default()
    };
    let c = compare(&scenarios, &opts, Seeds::Common).unwrap();
    let (a, b) = (&c.reports[0], &c.reports[1]);
    let gain = &c.differences[1]["availability"];
    assert!(
        gain.low > 0.1,
        "availability {:.4} → {:.4}, difference {gain:?}",
        a.availability,
        b.availability
    );
    assert!(b.availability > 0.995, "12b: {}", b.availability);
    assert_eq!(b.requests.failed["rate_limited"], 0);
    let db = &b.attacks["db-flood"];
    assert_eq!((db.served, db.dropped.firewall), (0, db.offered));
    assert!(a.attacks["db-flood"].served > 0);
    let http = &b.attacks["http-flood"];
    assert!(http.failed["rate_limited"] as f64 > 0.99 * http.offered as f64);
    let handshakes = |r: &infrasim::Report| {
        let c = r.connections.as_ref().expect("clients.connections in both");
        let h = &c.load_balancers["lb"].handshakes;
        (h.full, h.resumed)
    };
    assert_eq!(handshakes(a), (0, 0), "12a is plain HTTP");
    let (full, resumed) = handshakes(b);
    assert!(
        full > 0 && resumed > 0,
        "12b: {full} full, {resumed} resumed"
    );
    let c = b.connections.as_ref().unwrap();
    assert!(c.opened < c.requests / 50, "keep-alive: {c:?}");
    let rtt_ms = 40.0;
    assert!(
        c.first_request_latency_ms.p50_ms - c.reused_latency_ms.p50_ms > rtt_ms,
        "first {} vs reused {}",
        c.first_request_latency_ms.p50_ms,
        c.reused_latency_ms.p50_ms
    );
    let cpu = &c.load_balancers["lb"].cpu_utilization;
    assert!(cpu["full_handshakes"] > 0.0 && cpu["resumed_handshakes"] > 0.0);
}

/// Exposure in the audit (issue 23). Seed design 1 has no firewall: the app servers and
/// both database nodes are reachable from the internet beyond the load balancer, and a
/// connection flood on each one's port (twice what it serves, 20 s) hurts the clients —
/// confirmed by its run for the app servers and the primary; the replica's is absorbed by
/// the reads' fallback to the primary (contradicted, and reported so). Behind 12b's firewall nothing is exposed beyond the load
/// balancer: each flood is dropped at the firewall and the clients do not notice — again each
/// confirmed.
#[test]
fn the_audit_finds_seed_1_s_app_servers_and_database_exposed_and_the_firewalled_design_not() {
    use infrasim::audit::Proof;
    use infrasim::audit::exposure::exposure;
    use infrasim::engine::SimDuration;
    let load = |f: &str| infrasim::scenario::load(crate::util::root().join(f)).expect("loads");
    let opts = infrasim::RunOptions {
        duration: Some(SimDuration::from_secs(90)),
        ..infrasim::RunOptions::default()
    };
    let (at, window) = (SimDuration::from_secs(60), SimDuration::from_secs(20));
    let seed1 = load("scenarios/01-single-lb.json");
    let open = exposure(&seed1, at, window, &opts).unwrap();
    let exposed: Vec<&str> = open
        .iter()
        .filter(|r| r.exposed && !r.entry)
        .map(|r| r.component.as_str())
        .collect();
    assert_eq!(exposed, ["app1", "app2", "db-primary", "db-replica"]);
    let lb = open.iter().find(|r| r.component == "lb").unwrap();
    assert!(lb.entry && lb.proof.is_none());
    for r in open.iter().filter(|r| !r.entry) {
        assert!(
            r.flood_served > 0 && r.flood_dropped_at_firewall == 0,
            "{r:?}"
        );
        // The replica's flood is absorbed: its "too many connections" make the app servers
        // retry each read on the primary, so the clients see no loss — a finding the run
        // contradicts, reported as such. The others hurt.
        let expect = if r.component == "db-replica" {
            Proof::Contradicted
        } else {
            Proof::Confirmed
        };
        assert_eq!(r.proof, Some(expect), "{r:?}");
    }
    let mut walled = seed1.clone();
    walled.firewalls = load("scenarios/12b-seed1-firewall-under-attack.json").firewalls;
    // 12b's load balancer serves HTTPS (443); seed 1's plain HTTP on 80.
    assert_eq!(walled.firewalls[0].rules[0].port, Some(443));
    walled.firewalls[0].rules[0].port = Some(80);
    let closed = exposure(&walled, at, window, &opts).unwrap();
    for r in closed.iter().filter(|r| !r.entry) {
        assert!(!r.exposed && r.blocked_by == ["fw"], "{r:?}");
        assert_eq!(r.proof, Some(Proof::Confirmed), "{r:?}");
        assert_eq!(r.flood_served, 0);
        assert!(r.flood_dropped_at_firewall > 0);
    }
    // A finding the run contradicts is reported as such: an app server no load balancer
    // sends traffic to is reachable (exposed), but flooding it hurts no client.
    let mut spare = seed1.clone();
    let mut extra = spare.app_servers[0].clone();
    extra.name = "spare".into();
    spare.app_servers.push(extra);
    let found = exposure(&spare, at, window, &opts).unwrap();
    let r = found.iter().find(|r| r.component == "spare").unwrap();
    assert!(r.exposed && r.flood_served > 0, "{r:?}");
    assert_eq!(r.proof, Some(Proof::Contradicted), "{r:?}");
}

/// Bad `firewalls`, `attacks` and `rate_limit` values are each reported with their path,
/// all at once.
#[test]
fn bad_security_settings_are_reported_with_their_paths() {
    let mut s = db_exposed(true);
    s["firewalls"][0]["zones"]["internet"] = json!(["app1"]);
    s["firewalls"][0]["rules"][1]["from"] = json!("nowhere");
    s["firewalls"][0]["rules"][1]["port"] = json!(0);
    s["firewalls"][0]["conntrack_max"] = json!(0);
    s["attacks"][0]["rate"] = json!("0/s");
    s["attacks"][0]["sources"] = json!(0);
    s["attacks"].as_array_mut().unwrap().push(json!({
        "name": "db-flood", "kind": "connect_flood", "rate": "1/s"
    }));
    s["load_balancers"][0]["rate_limit"] =
        json!({ "track": "conn_rate", "period": "0s", "limit": 5, "deny_status": 42 });
    let text = serde_json::to_string(&s).unwrap();
    let err = infrasim::scenario::parse(&text)
        .and_then(|sc| infrasim::scenario::validate(&sc).map(|_| ()))
        .expect_err("refused")
        .to_string();
    for path in [
        "firewalls[0].zones.internet",
        "firewalls[0].zones.internet[0]",
        "firewalls[0].rules[1].from",
        "firewalls[0].rules[1].port",
        "firewalls[0].conntrack_max",
        "attacks[0].rate",
        "attacks[0].sources",
        "attacks[1].name",
        "attacks[1].target",
        "load_balancers[0].rate_limit.period",
        "load_balancers[0].rate_limit.deny_status",
    ] {
        assert!(
            err.contains(&format!("{path}:")),
            "{path} missing from:\n{err}"
        );
    }
}
