//! The workload: the clients' entry point, arrival process, request mix, keys, addresses,
//! timeout and retries.

use super::{Kind, Named, Validator};
use crate::scenario::resolve::Entry;
use crate::scenario::{Arrival, Class, Scenario};

impl Validator {
    /// The workload: where it enters, how it arrives, what it asks for.
    pub(super) fn clients(&mut self, s: &Scenario) {
        let c = &s.clients;
        let target = self.expect_ref(
            "clients.target".into(),
            &c.target,
            &[Kind::Lb, Kind::Pair, Kind::Web, Kind::App],
            "a load balancer, LB pair, web server or app server",
        );
        self.entry = target.and_then(|t| match t {
            Named::Pair(i) => Some(Entry::pair(s, i as usize)),
            other => other.node().map(Entry::Node),
        });
        self.arrival(&c.arrival);
        let w = [c.mix.read, c.mix.write, c.mix.r#static];
        for (cls, x) in Class::ALL.iter().zip(w) {
            if !(x.is_finite() && x >= 0.0) {
                self.err(format!("clients.mix.{}", cls.name()), x, "a weight ≥ 0");
            }
        }
        if w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() <= 0.0 {
            self.err(
                "clients.mix",
                "all weights 0",
                "at least one class with a positive weight",
            );
        }
        self.at_least("clients.keys.count".into(), c.keys.count, 1);
        if !(c.keys.zipf.is_finite() && c.keys.zipf >= 0.0) {
            self.err(
                "clients.keys.zipf",
                c.keys.zipf,
                "an exponent ≥ 0 (0 = uniform)",
            );
        }
        self.probability(
            "clients.keys.read_own_writes".into(),
            c.keys.read_own_writes,
        );
        self.positive(
            "clients.keys.own_write_window".into(),
            c.keys.own_write_window,
        );
        if c.keys.count > 50_000_000 {
            self.err(
                "clients.keys.count",
                c.keys.count,
                "at most 50 000 000 keys",
            );
        }
        self.at_least("clients.addresses".into(), c.addresses, 1);
        if c.addresses > 50_000_000 {
            self.err(
                "clients.addresses",
                c.addresses,
                "at most 50 000 000 addresses",
            );
        }
        self.positive("clients.timeout".into(), c.timeout);
        if let Some(r) = &c.retries {
            self.probability("clients.retries.jitter".into(), r.jitter);
            if r.max > 100 {
                self.err("clients.retries.max", r.max, "at most 100 retries");
            }
        }
    }

    /// The arrival process: positive, bounded rates; a schedule that starts at 0 and moves
    /// forward; closed-loop users that think.
    fn arrival(&mut self, arrival: &Arrival) {
        let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1e9;
        match arrival {
            Arrival::Poisson { rate } | Arrival::Constant { rate } => {
                let variant = if matches!(arrival, Arrival::Poisson { .. }) {
                    "poisson"
                } else {
                    "constant"
                };
                if !rate_ok(rate.as_per_second()) {
                    self.err(
                        format!("clients.arrival.{variant}.rate"),
                        rate,
                        "a rate greater than 0 and at most 1e9/s",
                    );
                }
            }
            Arrival::Schedule { steps } => {
                if steps.is_empty() {
                    self.err("clients.arrival.schedule.steps", "[]", "at least one step");
                } else if !steps[0].at.is_zero() {
                    self.err(
                        "clients.arrival.schedule.steps[0].at",
                        steps[0].at,
                        "\"0s\" (the first step starts the run)",
                    );
                }
                for (i, st) in steps.iter().enumerate() {
                    let r = st.rate.as_per_second();
                    if !(r.is_finite() && (0.0..=1e9).contains(&r)) {
                        self.err(
                            format!("clients.arrival.schedule.steps[{i}].rate"),
                            st.rate,
                            "a rate between 0 and 1e9/s",
                        );
                    }
                    if i > 0 && st.at <= steps[i - 1].at {
                        self.err(
                            format!("clients.arrival.schedule.steps[{i}].at"),
                            st.at,
                            "a time after the previous step's",
                        );
                    }
                }
            }
            Arrival::Closed { users, think } => {
                self.at_least("clients.arrival.closed.users".into(), *users, 1);
                if *users > 10_000_000 {
                    self.err(
                        "clients.arrival.closed.users",
                        users,
                        "at most 10 000 000 users",
                    );
                }
                self.dist("clients.arrival.closed.think".into(), think);
                // With no think time, zero latencies and zero service times, the users
                // would send requests forever at one instant: simulated time would stop.
                if think.build().is_ok_and(|d| d.mean() <= 0.0) {
                    self.err(
                        "clients.arrival.closed.think",
                        serde_json::to_string(think).unwrap_or_else(|_| format!("{think:?}")),
                        "a think time with a mean greater than zero",
                    );
                }
            }
        }
    }
}
