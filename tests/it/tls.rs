//! Keep-alive connections and TLS termination at the load balancer, against formulas.
//!
//! The network's latency is fixed per link (clients ↔ LB 10 ms one way: RTT = 20 ms; 0 inside
//! the datacentre) and the app server's service time constant (1 ms, with workers to spare),
//! so a request's latency is a sum of known terms plus the LB cores' queueing:
//!
//! * a new connection's first request: TCP 1 RTT, the ClientHello ½ RTT, the handshake's CPU,
//!   the handshake's remaining round trips (TLS 1.2 full 2, TLS 1.3 1, none without TLS),
//!   the request's last ½ RTT… in all `(1 + k + 1)` RTT + CPU + service (`k` = 0 without
//!   TLS, where the request follows the SYN's round trip directly: 2 RTT);
//! * the LB's cores serve every piece of work from one FIFO, each at a constant cost: with
//!   only handshakes costing CPU they are an M/D/c queue — exact Pollaczek–Khinchine for one
//!   core, Cosmetatos' approximation for c cores (half Erlang C's M/M/c wait, corrected),
//!   always below M/M/c's wait; at saturation they complete `cores / cost` connections per
//!   second: 1300/s per core for RSA-2048 (HAProxy's figure, 769 µs with the connection's
//!   and the request's CPU), 13 158/s resumed in TLS 1.2 (76 µs: HAProxy's 13 100/s);
//! * after a VRRP takeover, clients' sessions are unknown to the new master unless the pair
//!   shares its ticket keys.

use infrasim::report::Report;
use infrasim_engine::theory::mmc_mean_wait;
use serde_json::{Value, json};

use crate::util::{app, constant, run};

/// Clients (Poisson at `rate`/s, static requests only, `addresses` addresses, keep-alive
/// `conns`) → one LB (`lb` merged into its defaults) → one app server (1 ms, 10 000
/// workers). Clients ↔ LB 10 ms one way, 0 elsewhere.
fn scenario(rate: u32, addresses: u32, conns: Value, lb: Value, duration: &str) -> Value {
    let mut lbv = json!({ "name": "lb", "servers": [ { "server": "app" } ] });
    for (k, v) in lb.as_object().expect("object") {
        lbv[k] = v.clone();
    }
    json!({
        "name": "tls",
        "duration": duration,
        "warmup": "2s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": format!("{rate}/s") } },
            "mix": { "read": 0, "write": 0, "static": 1 },
            "addresses": addresses,
            "timeout": "30s",
            "connections": conns
        },
        "network": { "latency": "0s", "client_latency": "10ms" },
        "load_balancers": [ lbv ],
        "app_servers": [ app("app", 10_000, constant("1ms")) ]
    })
}

/// Every handshake full: no tickets, no cache.
fn full_only(version: &str) -> Value {
    json!({ "version": version, "session_tickets": false, "cache_size": 0 })
}

fn conns(r: &Report) -> &infrasim::report::ConnectionsReport {
    r.connections.as_ref().expect("a connections section")
}

const RTT_MS: f64 = 20.0;

#[test]
fn tls12_costs_one_round_trip_more_than_tls13_on_a_new_connection() {
    let one_per_conn = json!({ "requests_per_connection": 1 });
    let first = |tls: Option<Value>| {
        let mut lb = json!({});
        if let Some(t) = tls {
            lb["tls"] = t;
        }
        let r = run(&scenario(20, 1000, one_per_conn.clone(), lb, "60s"), 7, 1);
        let c = conns(&r);
        assert_eq!(c.reused, 0, "one request per connection");
        c.first_request_latency_ms.mean_ms
    };
    let (plain, v13, v12) = (
        first(None),
        first(Some(full_only("1.3"))),
        first(Some(full_only("1.2"))),
    );
    // CPU: 8 µs per connection, 6 µs per request, 755 µs per RSA-2048 full handshake; the app
    // server's 1 ms. The queueing at 20/s (ρ < 2 %) costs microseconds.
    let (conn, req, full, service) = (0.008, 0.006, 0.755, 1.0);
    let expect_plain = 2.0 * RTT_MS + conn + req + service;
    let expect_13 = 3.0 * RTT_MS + conn + full + req + service;
    let expect_12 = 4.0 * RTT_MS + conn + full + req + service;
    for (name, got, want) in [
        ("no TLS", plain, expect_plain),
        ("TLS 1.3", v13, expect_13),
        ("TLS 1.2", v12, expect_12),
    ] {
        assert!(
            (got - want).abs() < 0.02,
            "{name}: first request {got:.4} ms, expected {want:.4} ms"
        );
    }
    assert!(
        (v12 - v13 - RTT_MS).abs() < 0.02,
        "TLS 1.2 − TLS 1.3 = {:.4} ms, one RTT = {RTT_MS} ms",
        v12 - v13
    );
}

#[test]
fn reused_connections_skip_the_handshakes_and_carry_the_configured_requests() {
    let r = run(
        &scenario(
            100,
            10,
            json!({ "requests_per_connection": 10 }),
            json!({ "tls": { "version": "1.2" } }),
            "60s",
        ),
        3,
        1,
    );
    let c = conns(&r);
    assert!(
        (9.5..=10.0).contains(&c.requests_per_connection),
        "requests per connection {:.3}, configured 10",
        c.requests_per_connection
    );
    assert!(
        c.closed["requests_per_connection"] as f64 >= 0.95 * c.opened as f64,
        "{:?}",
        c.closed
    );
    // A reused connection's request: 1 RTT + 6 µs + 1 ms.
    let want = RTT_MS + 0.006 + 1.0;
    assert!(
        (c.reused_latency_ms.mean_ms - want).abs() < 0.02,
        "reused {:.4} ms, expected {want:.4}",
        c.reused_latency_ms.mean_ms
    );
    // A first request: TLS 1.2, resumed (1 RTT) once each address has its session.
    let hs = &c.load_balancers["lb"].handshakes;
    assert!(hs.resumed > 10 * hs.full, "{hs:?}");
}

#[test]
fn lb_keep_alive_timeout_closes_idle_connections() {
    // Each address sends every 10 s on average; the LB keeps an idle connection 50 ms.
    let r = run(
        &scenario(
            100,
            1000,
            json!({}),
            json!({ "timeouts": { "http_keep_alive": "50ms" } }),
            "30s",
        ),
        5,
        1,
    );
    let c = conns(&r);
    assert!(c.requests_per_connection < 1.01, "{c:?}");
    assert!(
        c.closed["lb_idle"] as f64 > 0.98 * c.opened as f64,
        "{:?}",
        c.closed
    );
    assert_eq!(c.closed["client_idle"], 0);
}

/// An LB (`cores` cores) offered new connections (one request each) at `rate`/s from
/// `addresses` addresses: its report.
fn offered(cores: u32, rate: f64, addresses: u32, tls: Value) -> Report {
    let lb = json!({ "cpu": { "cores": cores }, "tls": tls });
    let conns = json!({ "requests_per_connection": 1, "max_per_address": 0 });
    let mut v = scenario(rate.round() as u32, addresses, conns, lb, "20s");
    // At the start every connection of an address is a full handshake until its first one
    // completes: a backlog the warm-up lets the cores clear.
    v["warmup"] = json!("10s");
    run(&v, 11, 1)
}

/// The LB's capacity is `cores / cost`: offered 90 % of it, its cores are busy λ·cost/c of
/// the time and the first requests wait little; offered 110 %, the cores never rest and the
/// queue grows for the whole run (seconds of wait). (Past saturation, a FIFO of the cores
/// completes fewer requests than the capacity: handshakes of connections that arrive keep
/// taking turns before the requests of the connections already shaken hands with.)
fn assert_capacity(what: &str, cores: u32, per_conn_s: f64, addresses: u32, tls: Value) {
    let capacity = f64::from(cores) / per_conn_s;
    let r = offered(cores, 0.9 * capacity, addresses, tls.clone());
    let u = r.components["lb"].utilization;
    assert!(
        (u - 0.9).abs() < 0.015,
        "{what}, {cores} cores at 90 % of {capacity:.0}/s: utilization {u:.4}"
    );
    let w = conns(&r).first_request_latency_ms.mean_ms;
    assert!(
        w < 100.0,
        "{what}: stable below capacity, first request {w:.1} ms"
    );
    let r = offered(cores, 1.1 * capacity, addresses, tls);
    let u = r.components["lb"].utilization;
    let w = conns(&r).first_request_latency_ms.mean_ms;
    assert!(
        u > 0.995 && w > 1000.0,
        "{what}, {cores} cores at 110 % of {capacity:.0}/s: utilization {u:.4}, first request {w:.0} ms"
    );
}

#[test]
fn full_handshake_capacity_is_cores_over_the_per_connection_cost() {
    // 769 µs per connection (8 accept + 755 RSA-2048 full handshake + 6 request): 1300/s
    // per core, HAProxy's measured figure.
    for cores in [1u32, 4] {
        assert_capacity("RSA-2048", cores, 769e-6, 1_000_000, full_only("1.3"));
    }
    // ECDSA P-256: 233 µs a handshake, 247 µs a connection: ≈ 4050/s per core.
    let mut ecdsa = full_only("1.3");
    ecdsa["key"] = json!("ecdsa-p256");
    assert_capacity("ECDSA P-256", 1, 247e-6, 1_000_000, ecdsa);
}

#[test]
fn resumption_moves_capacity_between_the_full_and_resumed_figures() {
    // Few addresses, tickets: after each address's first handshake every one resumes.
    // TLS 1.2: 8 + 62 + 6 = 76 µs a connection, 13 158/s (HAProxy measured 13 100/s).
    assert_capacity("resumed TLS 1.2", 1, 76e-6, 50, json!({ "version": "1.2" }));
    // TLS 1.3 resumption adds a key exchange: 8 + 118 + 6 = 132 µs, 7576/s.
    assert_capacity(
        "resumed TLS 1.3",
        1,
        132e-6,
        50,
        json!({ "version": "1.3" }),
    );
    // A session cache half the size of the client population: some sessions are evicted
    // before their address comes back. The cores' load follows the measured resumption
    // ratio r: λ (r · 62 µs + (1 − r) · 755 µs + 14 µs).
    let tls = json!({ "version": "1.2", "session_tickets": false, "cache_size": 1000 });
    let lambda = 800.0;
    let r = offered(1, lambda, 2000, tls);
    let ratio = conns(&r).load_balancers["lb"].handshakes.resumption_ratio;
    assert!((0.1..0.9).contains(&ratio), "a mix: r = {ratio}");
    let predicted = lambda * (ratio * 62e-6 + (1.0 - ratio) * 755e-6 + 14e-6);
    let u = r.components["lb"].utilization;
    assert!(
        (u / predicted - 1.0).abs() < 0.02,
        "r = {ratio:.3}: utilization {u:.4}, predicted {predicted:.4}"
    );
    let by_kind = &conns(&r).load_balancers["lb"].cpu_utilization;
    let sum: f64 = by_kind.values().sum();
    assert!(
        (sum / u - 1.0).abs() < 0.01,
        "CPU by kind {by_kind:?} sums to {sum}, utilization {u}"
    );
}

/// Mean wait for a core of connections whose only CPU is a 755 µs handshake, at `rho`.
fn handshake_wait_ms(cores: u32, rho: f64) -> (f64, f64) {
    let s = 755e-6;
    let lambda = rho * f64::from(cores) / s;
    let lb = json!({
        "cpu": { "cores": cores, "per_request": "0s", "per_connection": "0s" },
        "tls": full_only("1.3")
    });
    let r = run(
        &scenario(
            lambda.round() as u32,
            1_000_000,
            json!({ "requests_per_connection": 1 }),
            lb,
            "120s",
        ),
        13,
        1,
    );
    let first = conns(&r).first_request_latency_ms.mean_ms;
    // 3 RTT + the handshake + the app's 1 ms, and the wait.
    (first - (3.0 * RTT_MS + s * 1e3 + 1.0), lambda)
}

#[test]
fn handshakes_queue_for_the_cores_as_md1_and_mdc() {
    // One core, ρ = 0.7: M/D/1, Pollaczek–Khinchine Wq = ρ S / (2 (1 − ρ)).
    let s_ms = 0.755;
    let (w, _) = handshake_wait_ms(1, 0.7);
    let pk = 0.7 * s_ms / (2.0 * 0.3);
    assert!(
        (w / pk - 1.0).abs() < 0.08,
        "M/D/1: Wq {w:.4} ms, P-K {pk:.4} ms"
    );
    // Four cores, ρ = 0.8: below M/M/4's Erlang C wait, near Cosmetatos' M/D/c
    // approximation ½ Wq(M/M/c) (1 + (1 − ρ)(c − 1)(√(4 + 5c) − 2) / (16 ρ c)).
    let (c, rho) = (4u32, 0.8);
    let (w, lambda) = handshake_wait_ms(c, rho);
    let mmc = mmc_mean_wait(c, lambda, 1.0 / (s_ms / 1e3)) * 1e3;
    let cf = f64::from(c);
    let cosmetatos = 0.5
        * mmc
        * (1.0 + (1.0 - rho) * (cf - 1.0) * ((4.0 + 5.0 * cf).sqrt() - 2.0) / (16.0 * rho * cf));
    assert!(
        w < mmc,
        "M/D/4 waits less than M/M/4: {w:.4} vs {mmc:.4} ms"
    );
    assert!(
        (w / cosmetatos - 1.0).abs() < 0.10,
        "M/D/4: Wq {w:.4} ms, Cosmetatos {cosmetatos:.4} ms (M/M/4 {mmc:.4})"
    );
}

/// An active-passive pair whose master's host dies at 20 s for good; `shared`: the members
/// share their ticket keys. Returns (lb1, lb2) handshakes after the warm-up.
fn takeover(shared: bool) -> (Report, [infrasim::report::Handshakes; 2]) {
    let tls = json!({ "version": "1.3", "shared_ticket_keys": shared });
    let lb = |name: &str| json!({ "name": name, "servers": [ { "server": "app" } ], "tls": tls });
    let v = json!({
        "name": "takeover",
        "duration": "55s",
        "warmup": "5s",
        "clients": {
            "target": "vip",
            "arrival": { "poisson": { "rate": "200/s" } },
            "mix": { "read": 0, "write": 0, "static": 1 },
            "addresses": 500,
            "timeout": "30s",
            "connections": { "keep_alive": "2s" }
        },
        "network": { "latency": "0s", "client_latency": "10ms" },
        "load_balancers": [ lb("lb1"), lb("lb2") ],
        "lb_pairs": [ {
            "name": "vip", "mode": "active-passive", "members": [ "lb1", "lb2" ],
            "advert_int": "1s", "priorities": [ 150, 100 ]
        } ],
        "app_servers": [ app("app", 10_000, constant("1ms")) ],
        "faults": [ { "crash": { "target": "lb1", "at": "20s", "mode": "host" } } ]
    });
    let r = run(&v, 17, 1);
    let c = conns(&r);
    let hs = ["lb1", "lb2"].map(|n| c.load_balancers[n].handshakes.clone());
    (r, hs)
}

#[test]
fn a_takeover_without_shared_ticket_keys_lands_full_handshakes_on_the_new_master() {
    // 500 addresses, each sending every 2.5 s on average: all of them reconnect to lb2 in the
    // 35 s after the takeover. Keep-alive 2 s: many connections are new anyway, resumed
    // while the session is valid where it is offered.
    let (_, [lb1, lb2]) = takeover(false);
    assert!(lb1.full < 100, "before: sessions resumed on lb1 ({lb1:?})");
    // Every address's first connection to lb2 is a full handshake, and more than one
    // where an address opens several at once (requests piled up during the takeover).
    assert!(
        lb2.full >= 475,
        "each address's first connection to lb2 is a full handshake: {lb2:?}"
    );
    let (_, [_, shared2]) = takeover(true);
    assert!(
        shared2.full < 10,
        "shared ticket keys: lb2 resumes lb1's sessions ({shared2:?})"
    );
    assert!(shared2.resumed > lb2.resumed, "{shared2:?} vs {lb2:?}");
}

#[test]
fn connections_and_tls_runs_are_deterministic() {
    let v = scenario(
        300,
        200,
        json!({ "requests_per_connection": 5, "keep_alive": "1s" }),
        json!({ "tls": { "version": "1.3", "early_data": true }, "timeouts": { "http_keep_alive": "500ms" } }),
        "10s",
    );
    let a = crate::util::to_json(&run(&v, 23, 2));
    let b = crate::util::to_json(&run(&v, 23, 2));
    assert_eq!(a, b);
    let r = run(&v, 23, 1);
    let c = conns(&r);
    let hs = &c.load_balancers["lb"].handshakes;
    assert!(hs.early_data > 0 && hs.early_data == hs.resumed, "{hs:?}");
    // 0-RTT: a resumed connection's first request takes TCP's round trip and its own.
    assert!(c.first_request_latency_ms.p50_ms < 3.0 * RTT_MS, "{c:?}");
}

#[test]
fn an_lb_crash_resets_its_connections_and_clients_reconnect() {
    let mut v = scenario(200, 100, json!({}), json!({ "tls": {} }), "30s");
    v["faults"] = json!([ { "crash": { "target": "lb", "at": "10s", "duration": "2s" } } ]);
    let r = run(&v, 29, 1);
    let c = conns(&r);
    assert!(c.closed["reset"] > 0, "{:?}", c.closed);
    // After the restart the LB has new ticket keys: every address does a full handshake.
    let hs = &c.load_balancers["lb"].handshakes;
    assert!(hs.full >= 95, "{hs:?}");
    assert!(
        r.requests.failed["connection_refused"] > 0,
        "{:?}",
        r.requests.failed
    );
}

#[test]
fn re_encryption_to_the_servers_costs_both_sides() {
    let keep = json!({});
    let base = |to_servers: bool| {
        let lb = json!({ "tls": { "to_servers": to_servers } });
        run(&scenario(20, 10, keep.clone(), lb, "60s"), 31, 1)
    };
    let (plain, re) = (base(false), base(true));
    let latency = |r: &Report| conns(r).reused_latency_ms.mean_ms;
    // 2.1 µs on the LB, 2.1 µs on the server: +4.2 µs a request, at a load that queues nowhere.
    let extra = latency(&re) - latency(&plain);
    assert!(
        (extra - 0.0042).abs() < 0.0005,
        "re-encryption adds {extra:.5} ms"
    );
    let cpu = &conns(&re).load_balancers["lb"].cpu_cores;
    let per_s = re.requests.offered as f64 / 60.0;
    assert!(
        (cpu["tls_requests"] / (per_s * 2.1e-6) - 1.0).abs() < 0.02,
        "{cpu:?} at {per_s:.1} requests/s"
    );
}

#[test]
fn idle_keep_alive_connections_count_against_maxconn() {
    // 50 addresses, one request a second each, an LB with `maxconn 10`. Without `timeout
    // http-keep-alive` the first ten addresses' idle connections hold every slot (the
    // clients keep them 115 s): the others wait in the backlog, then their SYNs are dropped,
    // and they time out. With a 100 ms keep-alive timeout about 50 × (41 ms + 100 ms) ≈ 7
    // connections are open at a time: nobody waits.
    let with = |timeouts: Value| {
        let lb = json!({ "maxconn": 10, "timeouts": timeouts });
        let mut v = scenario(50, 50, json!({}), lb, "60s");
        v["clients"]["timeout"] = json!("5s");
        run(&v, 37, 1)
    };
    let stuck = with(json!({}));
    let freed = with(json!({ "http_keep_alive": "100ms" }));
    assert!(
        stuck.availability < 0.5,
        "idle connections hold maxconn: availability {}",
        stuck.availability
    );
    assert!(
        freed.availability > 0.999,
        "closed after 100 ms idle: availability {}",
        freed.availability
    );
    assert!(conns(&freed).closed["lb_idle"] > 0);
}

/// Loss on the client link delays a new connection's first request by the retransmissions
/// it causes, never failing it (the retries outlast no timeout here): a lost SYN or SYN-ACK
/// (q = 1 − (1 − p)², either direction) waits for the SYN timer, 1 s doubling (RFC 6298
/// §2.1, Linux `TCP_TIMEOUT_INIT`: Σ q^k·2^(k−1) s), and every data flight — the request
/// (or ClientHello), each of the TLS handshake's flights (TLS 1.3: the LB's, then the
/// client's Finished with the request) and the response — for the data timer, RTT +
/// max(2·RTT, 200 ms) = 220 ms doubling (Σ p^k·220·2^(k−1) ms each). So TLS 1.3 adds two
/// lossy flights to plain HTTP's two. The mean growth of the first request's latency, from
/// paired replications (same seed with and without loss), holds the formula within its
/// 95 % interval — and excludes what it would be if the handshake's flights were immune.
#[test]
fn loss_on_the_client_link_delays_handshakes_by_the_expected_retransmissions() {
    use infrasim_engine::math::student_t_quantile;
    let p: f64 = 0.05;
    const RUN_S: u32 = 300;
    let q = 1.0 - (1.0 - p) * (1.0 - p);
    // Σ_{k=1..n} x^k · first · 2^(k−1): the k-th retransmission waits first · 2^(k−1), and
    // happens when the k first transmissions were all lost.
    let retransmissions = |x: f64, first_ms: f64, n: u32| {
        let (mut term, mut sum) = (x * first_ms, 0.0);
        for _ in 0..n {
            sum += term;
            term *= 2.0 * x;
        }
        sum
    };
    let syn_ms = retransmissions(q, 1000.0, 6);
    let data_ms = retransmissions(p, 220.0, 15);
    let growth = |tls: Option<Value>, seed: u64| {
        let mut lb = json!({});
        if let Some(t) = tls {
            lb["tls"] = t;
        }
        let per_conn = json!({ "requests_per_connection": 1, "max_per_address": 0 });
        let clean = scenario(200, 4000, per_conn, lb, &format!("{RUN_S}s"));
        let mut lossy = clean.clone();
        lossy["faults"] =
            json!([{ "link_degrade": { "a": "clients", "b": "lb", "at": "0s", "loss": p } }]);
        let first = |s: &Value| {
            let r = run(s, seed, 1);
            // Five SYN losses in a row (q⁵ ≈ 10⁻⁵) outlast the 30 s timeout: rare.
            let failed = r.requests.failed_total() as f64;
            assert!(
                failed <= 1e-3 * r.requests.offered as f64,
                "{failed} failed"
            );
            conns(&r).first_request_latency_ms.mean_ms
        };
        first(&lossy) - first(&clean)
    };
    for (name, tls, flights) in [
        ("no TLS", None, 2.0),
        ("TLS 1.3", Some(full_only("1.3")), 4.0),
    ] {
        let d: Vec<f64> = (1..=8).map(|s| growth(tls.clone(), s)).collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let sd = (d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        let half = student_t_quantile(0.975, n - 1.0) * sd / n.sqrt();
        let expect = syn_ms + flights * data_ms;
        // Requests still in flight at the end are not measured, and the slow ones are more
        // often among them: the measured mean is below E[D] by about E[D²]/T (≈ 2 s·E[D]/T:
        // most of D comes in whole seconds), under a millisecond here.
        let censored = 2.0 * expect / f64::from(RUN_S);
        eprintln!(
            "{name}: {mean:.2} ± {half:.2} ms later, expected {expect:.2} (SYN/SYN-ACK {syn_ms:.2}, {data_ms:.2} per data flight)"
        );
        assert!(
            mean >= expect - censored - half && mean <= expect + half,
            "{name}: first request {mean:.2} ± {half:.2} ms later with loss {p}, expected {expect:.2} ms (− {censored:.2} censored) ({d:?})"
        );
        if flights > 2.0 {
            let immune = syn_ms + 2.0 * data_ms;
            assert!(
                (mean - immune).abs() > half,
                "{name}: {mean:.2} ± {half:.2} ms cannot tell the TLS flights' loss apart"
            );
        }
    }
}
