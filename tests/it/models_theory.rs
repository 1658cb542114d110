//! The infrastructure models against queueing theory: an app server with c workers, Poisson
//! arrivals and exponential service is an M/M/c queue (Erlang C); with a bounded accept queue
//! it is M/M/c/K and refuses the blocked arrivals. The closed forms must fall inside the 95 %
//! confidence intervals computed from independent replications (fixed seeds: deterministic).

use infrasim::engine::SimDuration;
use infrasim::scenario::{AppServer, Clients, Network, Rate, Scenario};
use infrasim::{RunOptions, run_with};

/// Erlang C: probability that an arrival waits in M/M/c with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    last / (sum + last)
}

/// M/M/c/K blocking probability (K = c + queue places).
fn mmck_blocking(c: u32, k: u32, a: f64) -> f64 {
    let mut p = vec![1.0f64];
    for n in 1..=k {
        let prev = p[n as usize - 1];
        let servers = f64::from(n.min(c));
        p.push(prev * a / servers);
    }
    let total: f64 = p.iter().sum();
    p[k as usize] / total
}

/// Clients straight into one app server, no network latency, static requests only (no
/// database calls), exponential service of mean 1/μ.
fn app_queue(workers: u32, queue: u32, lambda: f64, mean_service: SimDuration) -> Scenario {
    let mut app = AppServer::new("app")
        .workers(workers)
        .exponential_service(mean_service);
    app.queue = queue;
    Scenario::new(
        "mmc",
        SimDuration::from_secs(400),
        Clients::poisson("app", Rate::per_second(lambda)).mix(0.0, 0.0, 1.0),
    )
    .with_warmup(SimDuration::from_secs(20))
    .with_network(Network {
        latency: SimDuration::ZERO,
        client_latency: SimDuration::ZERO,
        links: Vec::new(),
    })
    .with_app_server(app)
    .with_seed(20261122)
}

#[test]
fn erlang_c_known_value() {
    // c = 2, a = 1: C = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // c = 1 reduces to ρ.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    // M/M/1/1 (Erlang B with one server): a / (1 + a).
    assert!((mmck_blocking(1, 1, 0.5) - 0.5 / 1.5).abs() < 1e-12);
}

#[test]
fn app_server_is_an_mmc_queue() {
    // c = 4, ρ = 0.9: λ = 360/s, μ = 100/s per worker.
    let (c, mu, lambda) = (4u32, 100.0, 360.0);
    let s = app_queue(c, 100_000, lambda, SimDuration::from_millis(10));
    let r = run_with(
        &s,
        &RunOptions {
            replications: Some(20),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let a = lambda / mu;
    let wq = erlang_c(c, a) / (f64::from(c) * mu - lambda);
    let w_ms = (wq + 1.0 / mu) * 1000.0;
    let ci = &r.confidence["latency_ms.mean"];
    assert!(
        ci.contains(w_ms),
        "M/M/4 at ρ = 0.9: W = {w_ms:.3} ms, simulated {:.3} ± {:.3}",
        ci.mean,
        ci.half_width
    );
    assert!(
        ci.half_width < 0.03 * ci.mean,
        "tight CI: ±{:.3} ms",
        ci.half_width
    );
    let util = r.components["app"].utilization;
    assert!((util - 0.9).abs() < 0.01, "utilization {util}");
    assert_eq!(
        r.availability,
        1.0 - r.requests.in_flight as f64 / r.requests.offered as f64
    );
}

#[test]
fn a_full_accept_queue_refuses_like_mmck() {
    // c = 2, 3 queue places (K = 5), ρ = 0.9 per server: λ = 180/s, μ = 100/s.
    let (c, k, mu, lambda) = (2u32, 5u32, 100.0, 180.0);
    let s = app_queue(c, k - c, lambda, SimDuration::from_millis(10));
    let r = run_with(
        &s,
        &RunOptions {
            replications: Some(20),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let pk = mmck_blocking(c, k, lambda / mu);
    let blocked = r.confidence["availability"].clone();
    // 1 − availability = blocked fraction (plus the few requests in flight at the end).
    let (lo, hi) = (1.0 - blocked.high, 1.0 - blocked.low);
    assert!(
        lo <= pk && pk <= hi,
        "M/M/2/5: P_K = {pk:.5}, simulated in [{lo:.5}, {hi:.5}]"
    );
    assert!(r.requests.failed["connection_refused"] > 0);
}
