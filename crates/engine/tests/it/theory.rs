//! Validation of the engine against queueing theory.
//!
//! Each test builds a queueing station on the engine (a [`Model`] driven by a [`Simulation`],
//! exponential inter-arrival and service times from [`Dist`], measurements with the engine's
//! [`Histogram`], [`TimeWeighted`] and [`ConfidenceInterval`]) and checks that the 95 %
//! confidence interval over independent replications contains the closed-form answer of
//! [`infrasim_engine::theory`]:
//!
//! * M/M/1 at ρ = 0.5, 0.8, 0.95: mean response time `1/(μ−λ)` and its p50, p90, p99
//!   (the response time is exponential with rate `μ−λ`, so its q-quantile is
//!   `−ln(1−q)/(μ−λ)`);
//! * Little's law `L = λW` (ρ = 0.8): the time-average number in system from a
//!   [`TimeWeighted`] gauge, against `λW`, plus the exact sample-path identity;
//! * M/M/c, c = 4, ρ = 0.9: probability of waiting (Erlang C) and mean wait `C/(cμ−λ)`;
//! * M/M/c/K, c = 2, K = 5, ρ = 0.9: blocking probability `P_K`.
//!
//! # How the checks are made robust (and why they are deterministic)
//!
//! * One replication = one simulation with its own seed, a warm-up whose statistics are
//!   discarded, then a measurement window; it yields one sample per quantity (its mean
//!   response time, its p99, …). Replications are independent, so a Student-t interval over
//!   them is valid, although customers within a run are strongly correlated.
//! * **The tolerance comes from the confidence interval, not from hope**: a check passes iff
//!   the closed form lies inside the 95 % CI computed from the data *and* the CI's half-width
//!   is at most 3 % of the closed form (so inflated variance cannot make a check pass
//!   vacuously). Run lengths and replication counts make the half-widths about 0.1–2 % of the
//!   value, which is what makes a 5 % modelling error visible — and a test shows it does.
//! * **Seeds are fixed**, so every run of this file draws the same numbers and gives the same
//!   verdicts: the test is deterministic, not flaky. Replication `i` of a test uses
//!   `RngStreams::new(THEORY_SEED).replication(test_id).replication(i)`. With 95 % intervals and
//!   20 checks, some seeds make one check fail by bad luck: sweeping `INFRASIM_THEORY_SEED`
//!   over 1..=12, 4 of the 12 seeds had exactly one of the 20 checks outside its interval
//!   (4 misses in 240 checks, no seed with two; the checks within one model are correlated).
//!   That is why the seed is fixed: the one below was picked once, before any run, and not
//!   tuned against the checks; with it every check passes. A sweep prints each miss with its
//!   interval and the expected value, to judge it.
//! * The histogram's quantiles are within 1/256 relative error of the exact sample quantile;
//!   that bias is small against the percentile half-widths.
//!
//! # The tests catch a 5 % error
//!
//! [`a_five_percent_error_in_the_service_rate_is_caught`] runs the same models with the
//! simulated service rate 5 % above and 5 % below the μ the closed forms assume: the headline
//! check of each must then reject its closed form. Run with `--nocapture` to see every
//! interval. The simulation tests are long (seconds in release, minutes unoptimised), so they
//! are ignored in unoptimised builds; the closed forms themselves are unit-tested in the engine
//! (`infrasim_engine::theory`).

use std::collections::VecDeque;

use infrasim_engine::dist::Dist;
use infrasim_engine::stats::{ConfidenceInterval, Histogram, TimeWeighted};
use infrasim_engine::theory::{
    erlang_c, exponential_quantile, mm1_mean_in_system, mm1_mean_response, mmc_mean_response,
    mmc_mean_wait, mmck_blocking,
};
use infrasim_engine::{Context, Model, RngStreams, SimDuration, SimRng, SimTime, Simulation};

/// Master seed of every simulation in this file (override: `INFRASIM_THEORY_SEED`).
const THEORY_SEED: u64 = 0x1A2B_3C4D_2026;
/// Confidence level of every check.
const LEVEL: f64 = 0.95;
/// Service rate μ, per millisecond (mean service time 1 ms). Every rate below is per ms and
/// every time in ms.
const MU: f64 = 1.0;

// ---------------------------------------------------------------------------------------------
// The model: a FIFO station with c exponential servers and an optional capacity
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    /// A service completion of the customer that arrived at `arrived`.
    Departure {
        arrived: SimTime,
    },
    /// End of warm-up: statistics restart here.
    WarmupEnd,
}

/// An M/M/c/K station: Poisson arrivals, `servers` exponential servers, FIFO, at most
/// `capacity` customers in the system (None: unbounded).
struct Station {
    servers: usize,
    capacity: Option<usize>,
    interarrival: Dist,
    service: Dist,
    arrival_rng: SimRng,
    service_rng: SimRng,
    /// Arrival times of the customers waiting for a server, oldest first.
    waiting: VecDeque<SimTime>,
    /// Arrival times of the customers in service.
    in_service: Vec<SimTime>,

    // Statistics since the end of warm-up.
    since: SimTime,
    /// Response (sojourn) times of customers departing in the window, ns.
    response: Histogram,
    /// Waits of customers starting service in the window, ns (0 for those served at once).
    wait: Histogram,
    /// Arrivals in the window (accepted or blocked).
    arrivals: u64,
    /// Arrivals that found every server busy (and were accepted).
    waited: u64,
    /// Arrivals turned away because the system was full.
    blocked: u64,
    /// Number in system, time-weighted.
    in_system: TimeWeighted,
    /// Exact Σ over customers of the time each spent in the system inside the window, ns, for
    /// departed customers; the ones still present are added at the end.
    departed_area: u128,
}

impl Station {
    fn new(p: &Params, seed: u64) -> Self {
        let streams = RngStreams::new(seed);
        let ms = Dist::exponential(SimDuration::from_millis(1)).expect("1 ms is a valid mean");
        Station {
            servers: p.servers,
            capacity: p.capacity,
            interarrival: ms.scaled(1.0 / p.lambda),
            service: ms.scaled(1.0 / (p.mu * p.mu_scale)),
            arrival_rng: streams.stream("arrivals"),
            service_rng: streams.stream("service"),
            waiting: VecDeque::new(),
            in_service: Vec::with_capacity(p.servers),
            since: SimTime::ZERO,
            response: Histogram::new(),
            wait: Histogram::new(),
            arrivals: 0,
            waited: 0,
            blocked: 0,
            in_system: TimeWeighted::new(SimTime::ZERO, 0),
            departed_area: 0,
        }
    }

    fn start_service(&mut self, arrived: SimTime, cx: &mut Context<'_, Ev>) {
        if arrived >= self.since {
            self.wait.record((cx.now() - arrived).as_nanos());
        }
        self.in_service.push(arrived);
        let d = self.service.sample(&mut self.service_rng);
        cx.schedule_in(d, Ev::Departure { arrived });
    }

    /// Time in system inside the window of a customer that arrived at `arrived` and left (or
    /// is still there) at `until`.
    fn clipped(&self, arrived: SimTime, until: SimTime) -> u128 {
        u128::from(until.saturating_since(arrived.max(self.since)).as_nanos())
    }
}

impl Model for Station {
    type Event = Ev;

    fn handle(&mut self, ev: Ev, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        match ev {
            Ev::Arrival => {
                let gap = self.interarrival.sample(&mut self.arrival_rng);
                cx.schedule_in(gap, Ev::Arrival);
                self.arrivals += 1;
                let n = self.in_service.len() + self.waiting.len();
                if self.capacity.is_some_and(|k| n >= k) {
                    self.blocked += 1;
                    return;
                }
                self.in_system.add(now, 1);
                if self.in_service.len() < self.servers {
                    self.start_service(now, cx);
                } else {
                    self.waited += 1;
                    self.waiting.push_back(now);
                }
            }
            Ev::Departure { arrived } => {
                self.response.record((now - arrived).as_nanos());
                self.in_system.add(now, -1);
                self.departed_area += self.clipped(arrived, now);
                let i = self
                    .in_service
                    .iter()
                    .position(|&a| a == arrived)
                    .expect("a departing customer was in service");
                self.in_service.swap_remove(i);
                if let Some(next) = self.waiting.pop_front() {
                    self.start_service(next, cx);
                }
            }
            Ev::WarmupEnd => {
                self.since = now;
                self.response.clear();
                self.wait.clear();
                self.arrivals = 0;
                self.waited = 0;
                self.blocked = 0;
                self.in_system.reset(now);
                self.departed_area = 0;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replications
// ---------------------------------------------------------------------------------------------

/// One station and its run plan.
struct Params {
    /// Arrival rate, per ms.
    lambda: f64,
    /// Nominal service rate per server, per ms (the simulated one is `mu · mu_scale`).
    mu: f64,
    servers: usize,
    capacity: Option<usize>,
    warmup_ms: u64,
    window_ms: u64,
    replications: u64,
    /// The simulated service rate is `mu · mu_scale` while the closed forms keep `mu`: 1 for
    /// the validation, 1.05 or 0.95 to inject a known 5 % modelling error.
    mu_scale: f64,
}

/// What one replication measured over its window (times in ms).
#[derive(Debug)]
struct Rep {
    mean_response: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    mean_wait: f64,
    p_wait: f64,
    p_block: f64,
    /// Time-average number in system (from the `TimeWeighted` gauge).
    l: f64,
    /// Observed arrival rate of accepted customers, per ms.
    lambda_hat: f64,
}

const NS_PER_MS: f64 = 1e6;

fn run_replication(p: &Params, seed: u64) -> Rep {
    let mut sim = Simulation::new(Station::new(p, seed), seed);
    let warmup = SimTime::ZERO + SimDuration::from_millis(p.warmup_ms);
    let end = warmup + SimDuration::from_millis(p.window_ms);
    sim.schedule_at(SimTime::ZERO, Ev::Arrival);
    sim.schedule_at(warmup, Ev::WarmupEnd);
    sim.run_until(end);
    assert_eq!(sim.now(), end);
    let m = sim.model();

    // Little's law on the sample path, exactly: the gauge's integral of the number in system
    // equals the sum over customers of their time in the system inside the window.
    let present: u128 = m
        .waiting
        .iter()
        .chain(&m.in_service)
        .map(|&a| m.clipped(a, end))
        .sum();
    assert_eq!(
        m.in_system.area(end),
        m.departed_area + present,
        "TimeWeighted area ≠ Σ time in system (seed {seed})"
    );

    let window = p.window_ms as f64;
    let q = |x| m.response.quantile(x).expect("customers departed") as f64 / NS_PER_MS;
    let accepted = m.arrivals - m.blocked;
    Rep {
        mean_response: m.response.mean().expect("customers departed") / NS_PER_MS,
        p50: q(0.50),
        p90: q(0.90),
        p99: q(0.99),
        mean_wait: m.wait.mean().expect("customers served") / NS_PER_MS,
        p_wait: m.waited as f64 / accepted as f64,
        p_block: m.blocked as f64 / m.arrivals as f64,
        l: m.in_system.mean(end),
        lambda_hat: accepted as f64 / window,
    }
}

/// Runs the replications of test `test_id` (each with its own fixed seed), on every core.
fn replicate(test_id: u64, p: &Params) -> Vec<Rep> {
    let base = RngStreams::new(theory_seed()).replication(test_id);
    let seeds: Vec<u64> = (0..p.replications)
        .map(|i| base.replication(i).master_seed())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = seeds.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|&seed| run_replication(p, seed))
                        .collect::<Vec<Rep>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("replication panicked"))
            .collect::<Vec<Rep>>()
    })
}

fn theory_seed() -> u64 {
    std::env::var("INFRASIM_THEORY_SEED")
        .ok()
        .map_or(THEORY_SEED, |s| {
            s.parse().expect("INFRASIM_THEORY_SEED is a u64")
        })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Largest half-width of a check's 95 % interval, relative to the closed form: a check passes
/// only if its interval contains the closed form *and* is this narrow, so that inflated
/// variance cannot make it pass vacuously (and a 5 % error stays visible).
const MAX_REL_HALF_WIDTH: f64 = 0.03;

/// The 95 % CI over replications of `f(rep)` must contain `expected` and be narrower than
/// [`MAX_REL_HALF_WIDTH`]. Every check of a test is evaluated and printed before the test
/// fails, so a failure report lists them all.
struct Checks {
    title: String,
    lines: Vec<String>,
    /// Each check: its name, its interval, the closed form.
    results: Vec<(String, ConfidenceInterval, f64)>,
}

impl Checks {
    fn new(title: &str, p: &Params) -> Self {
        Checks {
            title: format!("{title} (mu scale {}, seed {})", p.mu_scale, theory_seed()),
            lines: Vec::new(),
            results: Vec::new(),
        }
    }

    fn ci(&mut self, name: &str, reps: &[Rep], f: impl Fn(&Rep) -> f64, expected: f64) {
        let xs: Vec<f64> = reps.iter().map(f).collect();
        let ci = ConfidenceInterval::from_samples(&xs, LEVEL);
        let ok = ci.contains(expected) && ci.half_width <= MAX_REL_HALF_WIDTH * expected.abs();
        let line = format!(
            "{:<4} {name:<22} expected {expected:>10.5}  CI {:>10.5} ± {:<9.5} ({:>5.2} %)  [{:.5}, {:.5}]  err {:+.2} %",
            if ok { "ok" } else { "FAIL" },
            ci.mean,
            ci.half_width,
            100.0 * ci.relative_half_width(),
            ci.low,
            ci.high,
            100.0 * (ci.mean - expected) / expected,
        );
        self.lines.push(line);
        self.results.push((name.to_string(), ci, expected));
    }

    /// Every interval contains its closed form and is narrow enough.
    fn finish(self) {
        println!("{}\n  {}", self.title, self.lines.join("\n  "));
        let failed: Vec<&str> = self
            .results
            .iter()
            .filter(|(_, ci, x)| {
                !(ci.contains(*x) && ci.half_width <= MAX_REL_HALF_WIDTH * x.abs())
            })
            .map(|(n, _, _)| n.as_str())
            .collect();
        // The lines printed above are shown with the failure (the harness replays the
        // captured output), so the message only names the failed checks.
        assert!(
            failed.is_empty(),
            "{}: the 95 % CI misses the closed form, or is wider than {} %, for {failed:?}",
            self.title,
            100.0 * MAX_REL_HALF_WIDTH,
        );
    }

    /// The check `name` rejects the closed form: its interval excludes it.
    fn rejects(self, name: &str) {
        println!("{}\n  {}", self.title, self.lines.join("\n  "));
        let (_, ci, x) = self
            .results
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no check {name}"));
        assert!(
            !ci.contains(*x),
            "{}: {name} does not catch the error: {ci:?} contains {x}",
            self.title
        );
    }
}

/// M/M/1 at load ρ: mean response time and its p50, p90, p99 against the exponential
/// distribution of rate μ−λ; at ρ = 0.8 also Little's law.
fn mm1(test_id: u64, rho: f64, window_ms: u64, mu_scale: f64) -> Checks {
    let p = Params {
        lambda: rho * MU,
        mu: MU,
        servers: 1,
        capacity: None,
        warmup_ms: 20_000,
        window_ms,
        replications: 20,
        mu_scale,
    };
    let reps = replicate(test_id, &p);
    // The response time is exponential with rate μ − λ.
    let rate = MU - p.lambda;
    let mut c = Checks::new(&format!("M/M/1 rho={rho}"), &p);
    c.ci(
        "mean response (ms)",
        &reps,
        |r| r.mean_response,
        mm1_mean_response(p.lambda, MU),
    );
    c.ci(
        "p50 response (ms)",
        &reps,
        |r| r.p50,
        exponential_quantile(rate, 0.50),
    );
    c.ci(
        "p90 response (ms)",
        &reps,
        |r| r.p90,
        exponential_quantile(rate, 0.90),
    );
    c.ci(
        "p99 response (ms)",
        &reps,
        |r| r.p99,
        exponential_quantile(rate, 0.99),
    );
    c.ci("P(wait)", &reps, |r| r.p_wait, rho);
    if rho == 0.8 {
        // Little: L = λW, with W = 1/(μ−λ).
        c.ci(
            "L (time-avg in system)",
            &reps,
            |r| r.l,
            mm1_mean_in_system(p.lambda, MU),
        );
        // And on each sample path, up to edge effects, L̂ = λ̂·Ŵ.
        for r in &reps {
            let lw = r.lambda_hat * r.mean_response;
            assert!(
                (r.l - lw).abs() <= 0.005 * r.l,
                "Little's law on a sample path: L = {} but λW = {lw}",
                r.l
            );
        }
    }
    c
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn mm1_rho_050() {
    mm1(1, 0.5, 50_000, 1.0).finish();
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn mm1_rho_080_and_littles_law() {
    mm1(2, 0.8, 200_000, 1.0).finish();
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn mm1_rho_095() {
    mm1(3, 0.95, 4_000_000, 1.0).finish();
}

/// M/M/4 at ρ = 0.9: probability of waiting (Erlang C) and mean wait Wq = C/(cμ−λ).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn mmc_c4_rho_090() {
    mmc(1.0).finish();
}

/// The M/M/4 checks, with the service rate scaled by `mu_scale`.
fn mmc(mu_scale: f64) -> Checks {
    let c = 4;
    let p = Params {
        lambda: 0.9 * f64::from(c) * MU,
        mu: MU,
        servers: c as usize,
        capacity: None,
        warmup_ms: 10_000,
        window_ms: 300_000,
        replications: 20,
        mu_scale,
    };
    let reps = replicate(4, &p);
    let mut checks = Checks::new("M/M/4 rho=0.9", &p);
    checks.ci(
        "P(wait) (Erlang C)",
        &reps,
        |r| r.p_wait,
        erlang_c(c, p.lambda / MU),
    );
    checks.ci(
        "mean wait Wq (ms)",
        &reps,
        |r| r.mean_wait,
        mmc_mean_wait(c, p.lambda, MU),
    );
    checks.ci(
        "mean response (ms)",
        &reps,
        |r| r.mean_response,
        mmc_mean_response(c, p.lambda, MU),
    );
    checks
}

/// M/M/2/5 at ρ = λ/(cμ) = 0.9: blocking probability P_K.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn mmck_c2_k5_rho_090() {
    mmck(1.0).finish();
}

/// The M/M/2/5 check, with the service rate scaled by `mu_scale`.
fn mmck(mu_scale: f64) -> Checks {
    let (c, k) = (2, 5);
    let p = Params {
        lambda: 0.9 * f64::from(c) * MU,
        mu: MU,
        servers: c as usize,
        capacity: Some(k as usize),
        warmup_ms: 1_000,
        window_ms: 100_000,
        replications: 20,
        mu_scale,
    };
    let reps = replicate(5, &p);
    let mut checks = Checks::new("M/M/2/5 rho=0.9", &p);
    checks.ci(
        "P(block) (P_K)",
        &reps,
        |r| r.p_block,
        mmck_blocking(c, k, p.lambda / MU),
    );
    checks
}

/// The checks catch a 5 % modelling error: with the simulated service rate 5 % above or below
/// the nominal μ the closed forms assume, the headline check of every model rejects the
/// closed form (M/M/1 at ρ = 0.95 is left out: it is the longest run, and the shorter ones
/// already show the point).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "long: cargo test --release -p infrasim-engine --test it"
)]
fn a_five_percent_error_in_the_service_rate_is_caught() {
    for scale in [1.05, 0.95] {
        mm1(1, 0.5, 50_000, scale).rejects("mean response (ms)");
        mm1(2, 0.8, 200_000, scale).rejects("mean response (ms)");
        mmc(scale).rejects("mean response (ms)");
        mmck(scale).rejects("P(block) (P_K)");
    }
}
