//! Closed forms of the classic Markovian queues, to validate a simulation against: build the
//! queue on the engine, run independent replications, and check that the confidence interval
//! of each measure contains the value computed here (this is how the engine's and the models'
//! own theory tests work).
//!
//! Rates may be in any unit (per second, per millisecond) as long as arrival and service
//! rates share it; times then come out in the reciprocal unit. The offered load is
//! `a = λ/μ` (in Erlangs), the utilisation of `c` servers `ρ = λ/(cμ)`.
//!
//! | queue | measure | function |
//! |---|---|---|
//! | M/M/1 | mean response time `W`, mean wait `Wq` | [`mm1_mean_response`], [`mm1_mean_wait`] |
//! | M/M/1 | mean number in system `L`, waiting `Lq` | [`mm1_mean_in_system`], [`mm1_mean_queue`] |
//! | M/M/c/c | blocking probability (Erlang B) | [`erlang_b`] |
//! | M/M/c | probability of waiting (Erlang C) | [`erlang_c`] |
//! | M/M/c | mean wait `Wq`, mean response time `W` | [`mmc_mean_wait`], [`mmc_mean_response`] |
//! | M/M/c/K | blocking probability `P_K` | [`mmck_blocking`] |
//! | exponential | quantile (e.g. of the M/M/1 response time) | [`exponential_quantile`] |
//!
//! Every function is computed without overflow for any number of servers or places: Erlang B
//! by its recurrence (every intermediate value is a probability), Erlang C from Erlang B, the
//! M/M/c/K normalisation as a nested sum relative to the last state. Arguments outside the
//! model's domain (an unstable queue, a probability outside `[0, 1)`) panic, as a test should.
//!
//! # References
//!
//! * L. Kleinrock, *Queueing Systems, Volume 1: Theory*, Wiley, 1975, chapter 3
//!   ("Birth–death queueing systems in equilibrium": M/M/1, M/M/m, M/M/m/m, M/M/m/K).
//! * D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals of Queueing
//!   Theory*, 4th ed., Wiley, 2008, chapter 2 ("Simple Markovian queueing models": M/M/1,
//!   M/M/c, M/M/c/K, Erlang's loss formula).
//!
//! # Example
//!
//! ```
//! use infrasim_engine::theory::{erlang_c, mm1_mean_response, mmc_mean_response};
//!
//! // M/M/1 at ρ = 0.8 (λ = 0.8/ms, μ = 1/ms): W = 1/(μ − λ) = 5 ms.
//! assert!((mm1_mean_response(0.8, 1.0) - 5.0).abs() < 1e-12);
//! // M/M/4 at ρ = 0.9 (λ = 3.6/ms, μ = 1/ms): 78.8 % of the arrivals wait, W = 2.97 ms.
//! assert!((erlang_c(4, 3.6) - 0.787_753).abs() < 1e-6);
//! assert!((mmc_mean_response(4, 3.6, 1.0) - 2.969_383).abs() < 1e-6);
//! ```

/// Panics unless `0 ≤ λ < μ` (finite): the M/M/1 queue is stable.
fn assert_stable_mm1(lambda: f64, mu: f64) {
    assert!(
        lambda >= 0.0 && mu.is_finite() && lambda < mu,
        "M/M/1 needs 0 ≤ λ < μ (a stable queue), got λ = {lambda}, μ = {mu}"
    );
}

/// Mean response (sojourn) time of an M/M/1 queue with arrival rate `λ` and service rate
/// `μ`: `W = 1/(μ − λ)`.
///
/// The response time is itself exponential with rate `μ − λ` (FIFO), so its quantiles are
/// [`exponential_quantile`]`(μ − λ, q)`. Kleinrock (1975), Gross et al. (2008): M/M/1.
///
/// # Panics
///
/// Unless `0 ≤ λ < μ`.
pub fn mm1_mean_response(lambda: f64, mu: f64) -> f64 {
    assert_stable_mm1(lambda, mu);
    1.0 / (mu - lambda)
}

/// Mean wait in queue (before service) of an M/M/1 queue: `Wq = ρ/(μ − λ)`, `ρ = λ/μ`.
///
/// # Panics
///
/// Unless `0 ≤ λ < μ`.
pub fn mm1_mean_wait(lambda: f64, mu: f64) -> f64 {
    assert_stable_mm1(lambda, mu);
    lambda / mu / (mu - lambda)
}

/// Mean number in system of an M/M/1 queue: `L = λ/(μ − λ) = ρ/(1 − ρ)`, which is Little's
/// law `L = λW` applied to [`mm1_mean_response`].
///
/// # Panics
///
/// Unless `0 ≤ λ < μ`.
pub fn mm1_mean_in_system(lambda: f64, mu: f64) -> f64 {
    assert_stable_mm1(lambda, mu);
    lambda / (mu - lambda)
}

/// Mean number waiting in queue of an M/M/1 queue: `Lq = ρ²/(1 − ρ) = λ²/(μ(μ − λ))`
/// (`= λ·Wq`).
///
/// # Panics
///
/// Unless `0 ≤ λ < μ`.
pub fn mm1_mean_queue(lambda: f64, mu: f64) -> f64 {
    assert_stable_mm1(lambda, mu);
    lambda * lambda / (mu * (mu - lambda))
}

/// Erlang B: the probability that an arrival to an M/M/c/c loss system (`c` servers, no
/// waiting room) with offered load `a = λ/μ` finds every server busy and is lost; by PASTA
/// also the fraction of time all `c` are busy.
///
/// `B(c, a) = (a^c/c!) / Σ_{k=0..c} a^k/k!`, computed by the recurrence
/// `B(0, a) = 1`, `B(k, a) = a·B(k−1, a) / (k + a·B(k−1, a))`, whose every step is a
/// probability: no factorial or power overflows, whatever `c` and `a`. The formula holds for
/// any service-time distribution with mean `1/μ` (M/G/c/c). Kleinrock (1975): M/M/m/m;
/// Gross et al. (2008): Erlang's loss formula.
///
/// # Panics
///
/// Unless `a` is finite and `≥ 0`.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    assert!(
        a >= 0.0 && a.is_finite(),
        "erlang_b needs a finite offered load a ≥ 0, got {a}"
    );
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the probability that an arrival to an M/M/c queue (`c` servers, unlimited
/// waiting room, FIFO) with offered load `a = λ/μ < c` has to wait.
///
/// `C(c, a) = (a^c/c! · c/(c−a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c−a))`, computed from Erlang
/// B as `C = c·B / (c − a·(1 − B))` with `B = `[`erlang_b`]`(c, a)`. For `c = 1` it is `ρ`.
/// Kleinrock (1975): M/M/m; Gross et al. (2008): M/M/c.
///
/// # Panics
///
/// Unless `c ≥ 1` and `0 ≤ a < c` (a stable queue).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let servers = f64::from(c);
    assert!(
        c >= 1 && a >= 0.0 && a < servers,
        "erlang_c needs c ≥ 1 and 0 ≤ a < c (a stable queue), got c = {c}, a = {a}"
    );
    let b = erlang_b(c, a);
    servers * b / (servers - a * (1.0 - b))
}

/// Mean wait in queue (before service) of an M/M/c queue with arrival rate `λ` and service
/// rate `μ` per server: `Wq = C(c, a)/(cμ − λ)`, `a = λ/μ`, `C` = [`erlang_c`]. Those who wait
/// wait `1/(cμ − λ)` on average (exponentially distributed).
///
/// # Panics
///
/// Unless `c ≥ 1` and `0 ≤ λ < cμ`.
pub fn mmc_mean_wait(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda)
}

/// Mean response (sojourn) time of an M/M/c queue: `W = Wq + 1/μ` ([`mmc_mean_wait`]).
///
/// # Panics
///
/// Unless `c ≥ 1` and `0 ≤ λ < cμ`.
pub fn mmc_mean_response(c: u32, lambda: f64, mu: f64) -> f64 {
    mmc_mean_wait(c, lambda, mu) + 1.0 / mu
}

/// Blocking probability `P_K` of an M/M/c/K queue (`c` servers, at most `K` customers in
/// the system, `K − c` waiting places) with offered load `a = λ/μ`: the stationary
/// probability of `K` in system, which by PASTA is the fraction of arrivals turned away.
///
/// `p_n ∝ a^n/n!` for `n ≤ c` and `a^n/(c!·c^(n−c))` for `c ≤ n ≤ K`, so
/// `P_K = 1 / Σ_{n=0..K} p_n/p_K`, and that sum is computed as the nested
/// `1 + f_K(1 + f_{K−1}(… (1 + f_1)))` with `f_m = min(m, c)/a`: no term overflows, and a sum
/// that does (a tiny `a`) gives the right limit `P_K = 0`. `K = c` is Erlang B
/// ([`erlang_b`]); `c = 1` gives M/M/1/K, `(1−ρ)ρ^K / (1−ρ^(K+1))`. Kleinrock (1975):
/// M/M/m/K; Gross et al. (2008): M/M/c/K.
///
/// # Panics
///
/// Unless `1 ≤ c ≤ K` and `a` is finite and `≥ 0`.
pub fn mmck_blocking(c: u32, k: u32, a: f64) -> f64 {
    assert!(
        c >= 1 && k >= c && a >= 0.0 && a.is_finite(),
        "mmck_blocking needs 1 ≤ c ≤ K and a finite a ≥ 0, got c = {c}, K = {k}, a = {a}"
    );
    let mut sum = 1.0;
    for m in 1..=k {
        sum = 1.0 + f64::from(m.min(c)) / a * sum;
    }
    1.0 / sum
}

/// The `q`-quantile of an exponential distribution with this rate: `−ln(1 − q)/rate`
/// (computed with `ln_1p`, accurate for small `q`). With rate `μ − λ` it is the `q`-quantile
/// of an M/M/1 queue's response time ([`mm1_mean_response`]).
///
/// # Panics
///
/// Unless `rate > 0` and `0 ≤ q < 1`.
pub fn exponential_quantile(rate: f64, q: f64) -> f64 {
    assert!(
        rate > 0.0 && (0.0..1.0).contains(&q),
        "exponential_quantile needs rate > 0 and 0 ≤ q < 1, got rate = {rate}, q = {q}"
    );
    -crate::math::ln_1p(-q) / rate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, expected: f64) -> bool {
        (x - expected).abs() < 1e-12
    }

    #[test]
    fn mm1_matches_hand_computed_values() {
        // λ = 0.8, μ = 1 (ρ = 0.8): W = 5, Wq = 4, L = 4, Lq = 3.2.
        assert!(close(mm1_mean_response(0.8, 1.0), 5.0));
        assert!(close(mm1_mean_wait(0.8, 1.0), 4.0));
        assert!(close(mm1_mean_in_system(0.8, 1.0), 4.0));
        assert!(close(mm1_mean_queue(0.8, 1.0), 3.2));
        // λ = 300/s, μ = 400/s: W = 10 ms, and Little's law L = λW, Lq = λWq.
        let (lambda, mu) = (300.0, 400.0);
        assert!(close(mm1_mean_response(lambda, mu), 0.01));
        assert!(close(
            mm1_mean_in_system(lambda, mu),
            lambda * mm1_mean_response(lambda, mu)
        ));
        assert!(close(
            mm1_mean_queue(lambda, mu),
            lambda * mm1_mean_wait(lambda, mu)
        ));
        // An idle queue: no wait, W = 1/μ.
        assert!(close(mm1_mean_wait(0.0, 2.0), 0.0));
        assert!(close(mm1_mean_response(0.0, 2.0), 0.5));
    }

    #[test]
    #[should_panic(expected = "stable")]
    fn mm1_rejects_an_unstable_queue() {
        mm1_mean_response(1.0, 1.0);
    }

    #[test]
    fn erlang_b_matches_hand_computed_values() {
        // c = 0: every arrival is lost.
        assert!(close(erlang_b(0, 3.0), 1.0));
        // c = 1: a / (1 + a).
        assert!(close(erlang_b(1, 0.5), 0.5 / 1.5));
        // c = 2, a = 1: (1/2) / (1 + 1 + 1/2) = 0.2.
        assert!(close(erlang_b(2, 1.0), 0.2));
        // c = 3, a = 2: (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
        assert!(close(erlang_b(3, 2.0), 4.0 / 19.0));
        // No load, no loss.
        assert!(close(erlang_b(3, 0.0), 0.0));
    }

    #[test]
    fn erlang_c_matches_hand_computed_values() {
        // c = 1: the probability of waiting in M/M/1 is ρ.
        assert!(close(erlang_c(1, 0.5), 0.5));
        assert!(close(erlang_c(1, 0.7), 0.7));
        // c = 2, a = 1: Σ_{k<2} = 1 + 1 = 2; a²/2!·2/(2−1) = 1; C = 1/3.
        assert!(close(erlang_c(2, 1.0), 1.0 / 3.0));
        // c = 4, a = 3.6 (the case the theory tests simulate):
        // Σ_{k<4} a^k/k! = 1 + 3.6 + 6.48 + 7.776 = 18.856;
        // a⁴/4! · 4/0.4 = 6.9984 · 10 = 69.984; C = 69.984 / 88.84 = 0.787753…
        assert!(close(erlang_c(4, 3.6), 69.984 / 88.84));
        // Mean wait C/(cμ − λ) and response Wq + 1/μ; M/M/1 as the case c = 1.
        assert!(close(
            mmc_mean_wait(4, 3.6, 1.0),
            69.984 / 88.84 / (4.0 - 3.6)
        ));
        assert!(close(
            mmc_mean_response(4, 3.6, 1.0),
            69.984 / 88.84 / 0.4 + 1.0
        ));
        assert!(close(mmc_mean_wait(1, 0.8, 1.0), mm1_mean_wait(0.8, 1.0)));
        assert!(close(
            mmc_mean_response(1, 0.8, 1.0),
            mm1_mean_response(0.8, 1.0)
        ));
    }

    #[test]
    fn mmck_blocking_matches_hand_computed_values() {
        // K = c is Erlang B: c = 2, a = 1: (1/2) / (1 + 1 + 1/2) = 0.2.
        assert!(close(mmck_blocking(2, 2, 1.0), 0.2));
        assert!(close(mmck_blocking(3, 3, 2.0), erlang_b(3, 2.0)));
        // M/M/1/1 (Erlang B with one server): a / (1 + a).
        assert!(close(mmck_blocking(1, 1, 0.5), 0.5 / 1.5));
        // c = 2, K = 3, a = 1: p ∝ 1, 1, 1/2, 1/4 → P_3 = 0.25 / 2.75 = 1/11.
        assert!(close(mmck_blocking(2, 3, 1.0), 1.0 / 11.0));
        // c = 2, K = 5, a = 1.8 (the case the theory tests simulate):
        // p ∝ 1, 1.8, 1.62, 1.458, 1.3122, 1.18098 (sum 8.37118) → P_5 = 1.18098 / 8.37118.
        assert!(close(mmck_blocking(2, 5, 1.8), 1.18098 / 8.37118));
        // M/M/1/K: P_K = (1−ρ)ρ^K / (1−ρ^(K+1)); ρ = 0.5, K = 2: 0.125 / 0.875 = 1/7.
        assert!(close(mmck_blocking(1, 2, 0.5), 1.0 / 7.0));
        // No load, no loss.
        assert_eq!(mmck_blocking(2, 5, 0.0), 0.0);
    }

    /// The recurrences give the textbook sums wherever those are safe to compute.
    #[test]
    fn recurrences_match_the_textbook_sums() {
        for c in 1..=30u32 {
            for a in [0.1, 0.5, 1.0, 2.5, 0.7 * f64::from(c), 0.99 * f64::from(c)] {
                // Σ_{k<c} a^k/k! and a^c/c!.
                let mut term = 1.0;
                let mut sum = 0.0;
                for k in 0..c {
                    sum += term;
                    term *= a / f64::from(k + 1);
                }
                let b = term / (sum + term);
                assert!((erlang_b(c, a) / b - 1.0).abs() < 1e-12, "B({c}, {a})");
                if a < f64::from(c) {
                    let top = term * f64::from(c) / (f64::from(c) - a);
                    let erl = top / (sum + top);
                    assert!((erlang_c(c, a) / erl - 1.0).abs() < 1e-12, "C({c}, {a})");
                }
                for k in [c, c + 1, 2 * c + 3] {
                    let mut p = 1.0;
                    let mut total = 1.0;
                    for n in 1..=k {
                        p *= a / f64::from(n.min(c));
                        total += p;
                    }
                    let pk = mmck_blocking(c, k, a);
                    assert!((pk / (p / total) - 1.0).abs() < 1e-12, "P_K({c}, {k}, {a})");
                }
            }
        }
    }

    /// Where the textbook sums of `a^k/k!` overflow (a^c for a = 900, c = 1000 is 1e2954),
    /// the recurrences stay finite and in range.
    #[test]
    fn large_systems_stay_finite() {
        let b = erlang_b(1_000, 900.0);
        assert!(b > 0.0 && b < 0.01, "{b}");
        let c = erlang_c(1_000, 900.0);
        assert!(c > 0.0 && c < 1.0 && c > b, "{c}");
        let p = mmck_blocking(1_000, 2_000, 1_500.0);
        assert!(p > 0.3 && p < 0.34, "{p}"); // ≈ 1 − 1/ρ = 1/3 for ρ = 1.5
        assert_eq!(mmck_blocking(1, 2_000, 1e-3), 0.0);
    }

    #[test]
    fn exponential_quantiles() {
        assert!(close(
            exponential_quantile(2.0, 0.5),
            std::f64::consts::LN_2 / 2.0
        ));
        assert!(close(
            exponential_quantile(0.2, 0.99),
            crate::math::ln(100f64) / 0.2
        ));
        assert_eq!(exponential_quantile(1.0, 0.0), 0.0);
        // Small q: ln_1p keeps the digits that −ln(1 − q) loses.
        let q = 1e-12;
        assert!((exponential_quantile(1.0, q) / q - 1.0).abs() < 1e-9);
    }
}
