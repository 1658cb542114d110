//! The infrastructure models against queueing theory: an app server with c workers, Poisson
//! arrivals and exponential service is an M/M/c queue (Erlang C); with a bounded accept queue
//! it is M/M/c/K and refuses the blocked arrivals. The closed forms
//! ([`infrasim_engine::theory`]) must fall inside the 95 % confidence intervals computed from
//! independent replications (fixed seeds: deterministic), each interval no wider than 3 % of
//! the closed form; and a service rate 5 % off must be rejected.

use infrasim::engine::SimDuration;
use infrasim::scenario::{AppServer, Clients, Network, Rate, Scenario};
use infrasim_engine::theory::{mmc_mean_response, mmck_blocking};

/// Clients straight into one app server, no network latency, static requests only (no
/// database calls), exponential service of mean 1/μ; 20 replications.
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
        ..Network::default()
    })
    .with_app_server(app)
    .with_seed(20261122)
    .with_replications(20)
}

/// The M/M/4 app server at ρ = 0.9 (λ = 360/s, μ = 100/s per worker) with its mean service
/// time scaled by `1 / mu_scale`: the 95 % CI of the mean response time, and W by Erlang C.
fn mmc_response(mu_scale: f64) -> (infrasim::report::Report, f64) {
    let (c, mu, lambda) = (4u32, 100.0, 360.0);
    let service = SimDuration::from_secs_f64(0.010 / mu_scale);
    let s = app_queue(c, 100_000, lambda, service);
    (
        infrasim::run(&s).unwrap(),
        mmc_mean_response(c, lambda, mu) * 1000.0,
    )
}

#[test]
fn app_server_is_an_mmc_queue() {
    let (r, w_ms) = mmc_response(1.0);
    let ci = &r.confidence["latency_ms.mean"];
    assert!(
        ci.contains(w_ms),
        "M/M/4 at ρ = 0.9: W = {w_ms:.3} ms, simulated {:.3} ± {:.3}",
        ci.mean,
        ci.half_width
    );
    assert!(
        ci.half_width < 0.03 * w_ms,
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

/// The same check catches a service rate 5 % off: its interval then excludes W.
#[test]
fn a_five_percent_error_in_the_service_rate_is_caught() {
    for scale in [1.05, 0.95] {
        let (r, w_ms) = mmc_response(scale);
        let ci = &r.confidence["latency_ms.mean"];
        assert!(
            !ci.contains(w_ms),
            "μ × {scale}: W = {w_ms:.3} ms still inside {:.3} ± {:.3}",
            ci.mean,
            ci.half_width
        );
    }
}

/// A connection that finds every worker busy and the accept queue full has its SYN dropped
/// (Linux, `tcp_abort_on_overflow` 0): with a client that gives up before the SYN is
/// retransmitted (1 s), the blocked fraction is M/M/c/K's P_K, and those requests time out.
#[test]
fn a_full_accept_queue_blocks_like_mmck() {
    // c = 2, 3 queue places (K = 5), ρ = 0.9 per server: λ = 180/s, μ = 100/s.
    let (c, k, mu, lambda) = (2u32, 5u32, 100.0, 180.0);
    let mut s = app_queue(c, k - c, lambda, SimDuration::from_millis(10));
    s.clients.timeout = SimDuration::from_millis(500);
    let r = infrasim::run(&s).unwrap();
    let pk = mmck_blocking(c, k, lambda / mu);
    let blocked = r.confidence["availability"].clone();
    // 1 − availability = blocked fraction (plus the few requests in flight at the end).
    let (lo, hi) = (1.0 - blocked.high, 1.0 - blocked.low);
    assert!(
        lo <= pk && pk <= hi,
        "M/M/2/5: P_K = {pk:.5}, simulated in [{lo:.5}, {hi:.5}]"
    );
    assert!(
        blocked.half_width < 0.03 * pk,
        "tight CI: ±{:.5} against P_K = {pk:.5}",
        blocked.half_width
    );
    assert_eq!(r.requests.failed["connection_refused"], 0);
    let timed_out = r.requests.failed["timeout"];
    let dropped = r.components["app"].rejected;
    assert!(
        timed_out > 0 && dropped >= timed_out,
        "{dropped} SYNs dropped, {timed_out} timed out"
    );
}

/// With the client's default timeout the dropped SYN is retransmitted after 1 s (then 3 s,
/// 7 s …) and served: a full accept queue costs most blocked requests a second or more, not
/// their success. Only a request blocked on every retransmission within the client's timeout
/// fails — a few percent of P_K here, where the retransmissions add to the load.
#[test]
fn a_full_accept_queue_delays_instead_of_refusing() {
    let (c, k, mu, lambda) = (2u32, 5u32, 100.0, 180.0);
    let mut s = app_queue(c, k - c, lambda, SimDuration::from_millis(10));
    s.replications = 1;
    s.duration = SimDuration::from_secs(100);
    let r = infrasim::run(&s).unwrap();
    let pk = mmck_blocking(c, k, lambda / mu);
    let offered = r.requests.offered as f64;
    let dropped = r.components["app"].rejected as f64;
    let failed: u64 = r.requests.failed.values().sum();
    let timed_out = r.requests.failed["timeout"];
    eprintln!("P_K {pk:.4}: {dropped} SYNs dropped, {failed} of {offered} failed");
    assert!(
        dropped > pk * offered,
        "{dropped} of {offered} SYNs dropped"
    );
    assert_eq!(failed, timed_out, "{:?}", r.requests.failed);
    assert!((failed as f64) < 0.2 * pk * offered, "{failed} failed");
    // The blocked share waits a retransmission timeout or more.
    let p99 = r.latency_ms.p99_ms;
    assert!(p99 >= 1000.0, "p99 {p99} ms");
}
