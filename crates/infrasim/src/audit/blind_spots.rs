//! Blind spots: components whose failure no alert rule pages anyone about.
//!
//! A load balancer's health check or a failover manager *acts* on a failure — it takes the
//! server out, it promotes a replica — but tells no one; the dead component then stays dead
//! behind the redundancy until something else reveals it (the latent failures of the
//! monitoring model, `docs/models.md` §15). What tells a person is an alert rule that watches
//! the component (`target_down` on it, `lb_servers_up` on a load balancer in front of it, a
//! Nagios check of it), a service-wide rule its failure trips, or users complaining about
//! what hurts them. The graph says which applies to each component; a run that crashes the
//! component for good, with the scenario's monitoring, proves it — or contradicts it.
//!
//! The monitoring system is watched too: a single point of failure of its own kind (while it
//! is down nothing pages), whose own crash only a dead man's switch reports.

use serde::{Deserialize, Serialize};

use infrasim_engine::SimDuration;

use crate::error::Error;
use crate::report::Report;
use crate::scenario::{
    Class, CrashMode, Fault, Monitoring, MonitoringCrash, Rule, Scenario, validate,
};

use super::Proof;
use super::topology::Exposure;

/// Who is told when a component fails, as configured, and what a run showed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// The component.
    pub component: String,
    /// Its kind (as in the findings).
    pub kind: String,
    /// The alert rules and checks that page a person when it fails.
    pub alerted_by: Vec<String>,
    /// What acts on its failure without telling anyone (health checks, keepalived, a
    /// failover manager).
    pub handled_by: Vec<String>,
    /// Whether its failure hurts enough requests for users to complain (with a complaint
    /// channel: a `monitoring` section with `users` enabled).
    pub users_notice: bool,
    /// A blind spot: no alert rule pages anyone about it.
    pub blind_spot: bool,
    /// How a person learns of it, as configured: `alert`, `users` or `never`.
    pub expected: String,
    /// In the run that crashed it for good: seconds from the crash to the page, if any.
    pub noticed_after_s: Option<f64>,
    /// What paged (the alert's name, `UsersComplain`), if anything.
    pub noticed_by: Option<String>,
    /// How long the run watched after the crash, seconds.
    pub watched_s: f64,
    /// Whether the run agrees with `expected`.
    pub proof: Proof,
}

/// The monitoring's components as the graph classifies them: every load balancer, web, app
/// and database node and every firewall of `s`, with what would tell a person of its
/// failure.
fn classify(s: &Scenario, exposures: &[Exposure]) -> Result<Vec<Watch>, Error> {
    validate(s)?;
    let all = super::components(s);
    let total_mix: f64 = Class::ALL.iter().map(|c| *s.clients.mix.get(*c)).sum();
    // The share of all requests a component's failure should fail while it lasts.
    let share = |name: &str| -> f64 {
        exposures
            .iter()
            .filter(|e| e.element == name)
            .map(|e| {
                let class = Class::ALL
                    .into_iter()
                    .find(|c| c.name() == e.class)
                    .expect("a class name");
                e.expected_loss * s.clients.mix.get(class) / total_mix.max(f64::MIN_POSITIVE)
            })
            .sum()
    };
    let mut out = Vec::with_capacity(all.len());
    for (name, kind) in all {
        let loss = share(&name);
        let alerted_by = match &s.monitoring {
            Some(m) => alerts_for(s, m, &name, kind != "firewall", loss),
            None => Vec::new(),
        };
        let handled_by = handlers(s, &name);
        let users_notice = s
            .monitoring
            .as_ref()
            .is_some_and(|m| m.users.enabled && loss >= m.users.bad_ratio);
        let blind_spot = alerted_by.is_empty();
        let expected = if !blind_spot {
            "alert"
        } else if users_notice {
            "users"
        } else {
            "never"
        };
        out.push(Watch {
            component: name,
            kind: kind.to_string(),
            alerted_by,
            handled_by,
            users_notice,
            blind_spot,
            expected: expected.to_string(),
            noticed_after_s: None,
            noticed_by: None,
            watched_s: 0.0,
            proof: Proof::Confirmed,
        });
    }
    if let Some(w) = s.monitoring.as_ref().and_then(monitoring_watch) {
        out.push(w);
    }
    Ok(out)
}

/// The monitoring system itself, when there is one (Prometheus or Nagios): a single point of
/// failure of its own kind — while it is down nothing pages about anything — found only by a
/// dead man's switch (an external heartbeat checker: Prometheus' always-firing `Watchdog`
/// alert); without one, its own failure is a blind spot.
fn monitoring_watch(m: &Monitoring) -> Option<Watch> {
    let name = match (&m.prometheus, &m.nagios) {
        (Some(_), _) => MONITORING_PROMETHEUS,
        (None, Some(_)) => MONITORING_NAGIOS,
        (None, None) => return None,
    };
    // Prometheus sends its always-firing `Watchdog` alert; a Nagios is watched by an
    // external freshness check of its heartbeat.
    let heartbeat = if name == MONITORING_PROMETHEUS {
        "dead man's switch (Watchdog heartbeat)"
    } else {
        "dead man's switch (heartbeat check)"
    };
    let alerted_by: Vec<String> = m
        .dead_mans_switch
        .iter()
        .map(|_| heartbeat.to_string())
        .collect();
    let blind_spot = alerted_by.is_empty();
    Some(Watch {
        component: name.to_string(),
        kind: "monitoring".to_string(),
        alerted_by,
        handled_by: Vec::new(),
        users_notice: false,
        blind_spot,
        expected: if blind_spot { "never" } else { "alert" }.to_string(),
        noticed_after_s: None,
        noticed_by: None,
        watched_s: 0.0,
        proof: Proof::Confirmed,
    })
}

/// The names the monitoring system's row goes by.
const MONITORING_PROMETHEUS: &str = "prometheus";
const MONITORING_NAGIOS: &str = "nagios";

/// The rules and checks of `m` that page someone when `name` fails, whose failure fails
/// `loss` of all requests. A firewall is no scrape target and no Nagios host (`scraped`
/// false): only a service-wide rule its failure trips can page about it.
fn alerts_for(s: &Scenario, m: &Monitoring, name: &str, scraped: bool, loss: f64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &m.prometheus {
        for rule in &p.rules {
            match rule {
                Rule::TargetDown { targets, .. }
                    if scraped && (targets.is_empty() || targets.iter().any(|t| t == name)) =>
                {
                    out.push("target_down (up == 0)".to_string());
                }
                Rule::LbServersUp { lb, below, .. } => {
                    let behind = s
                        .load_balancers
                        .iter()
                        .find(|l| &l.name == lb)
                        .is_some_and(|l| {
                            let up = l.servers.iter().filter(|b| !b.backup).count() as u32;
                            l.servers.iter().any(|b| b.server == name) && up > 0 && up - 1 < *below
                        });
                    if behind {
                        out.push(format!("lb_servers_up on {lb} < {below}"));
                    }
                }
                Rule::ErrorRatio { above, scope, .. }
                    if scope.as_deref().is_none_or(|x| x == "service") && loss > *above =>
                {
                    out.push(format!("error_ratio (service) > {above}"));
                }
                _ => {}
            }
        }
    }
    if let Some(n) = &m.nagios
        && scraped
        && (n.targets.is_empty() || n.targets.iter().any(|t| t == name))
    {
        out.push("Nagios service check".to_string());
    }
    out
}

/// What acts on `name`'s failure without telling anyone.
fn handlers(s: &Scenario, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in &s.load_balancers {
        if l.servers.iter().any(|b| b.server == name) && (l.check.enabled || l.observe.is_some()) {
            out.push(format!("health checks of {}", l.name));
        }
    }
    for p in &s.lb_pairs {
        if p.members.iter().any(|m| m == name) {
            out.push(format!("the other member of {}", p.name));
        }
    }
    for d in &s.databases {
        if d.primary.name == name && d.failover.mode == crate::scenario::FailoverMode::Automatic {
            out.push("the failover manager".to_string());
        }
    }
    out
}

/// How long after a crash a run must go on to see the slowest way a person could learn of
/// it: scrape, evaluation, `for`, `group_wait` (or Nagios' checks and retries), and the
/// users' hold and report delay — twice over, and at least ten minutes (without a
/// `monitoring` section nothing can page anyone, and the run keeps its own length).
fn horizon(m: Option<&Monitoring>) -> SimDuration {
    let Some(m) = m else {
        // Nothing can page anyone: the run's own length proves it.
        return SimDuration::ZERO;
    };
    let mut need = SimDuration::ZERO;
    if let Some(p) = &m.prometheus {
        let hold = p
            .rules
            .iter()
            .map(|r| match r {
                Rule::TargetDown { hold, .. }
                | Rule::ErrorRatio { hold, .. }
                | Rule::LatencyQuantile { hold, .. }
                | Rule::ReplicationLag { hold, .. }
                | Rule::LbServersUp { hold, .. } => *hold,
            })
            .max()
            .unwrap_or(SimDuration::ZERO);
        let ranges = p
            .rules
            .iter()
            .map(|r| match r {
                Rule::ErrorRatio { range, .. } | Rule::LatencyQuantile { range, .. } => *range,
                _ => SimDuration::ZERO,
            })
            .max()
            .unwrap_or(SimDuration::ZERO);
        need = need.max(
            p.scrape_interval
                .saturating_add(p.scrape_timeout)
                .saturating_add(p.evaluation_interval)
                .saturating_add(hold)
                .saturating_add(ranges)
                .saturating_add(p.group_wait),
        );
    }
    if let Some(n) = &m.nagios {
        let checks = n
            .check_interval
            .saturating_add(SimDuration::from_nanos(
                n.retry_interval
                    .as_nanos()
                    .saturating_mul(u64::from(n.max_check_attempts)),
            ))
            .saturating_add(n.check_timeout);
        need = need.max(checks);
    }
    if let Some(d) = &m.dead_mans_switch {
        need = need.max(d.interval.saturating_add(d.timeout));
    }
    if m.users.enabled {
        need = need.max(
            m.users
                .hold
                .saturating_add(m.users.report_delay)
                .saturating_add(SimDuration::from_secs(120)),
        );
    }
    SimDuration::from_nanos(need.as_nanos().saturating_mul(2)).max(SimDuration::from_secs(600))
}

/// Each component of `s` crashed for good at `at` (absolute simulated time), with the
/// scenario's monitoring and no other fault, watched long enough for the slowest page.
pub(super) fn variants(
    s: &Scenario,
    exposures: &[Exposure],
    at: SimDuration,
    mode: CrashMode,
) -> Result<(Vec<Watch>, Vec<Scenario>), Error> {
    let watches = classify(s, exposures)?;
    let watch_for = horizon(s.monitoring.as_ref());
    let measured_until = at.saturating_sub(s.warmup).saturating_add(watch_for);
    let runs = watches
        .iter()
        .map(|w| {
            let mut v = super::alone(s);
            v.duration = v.duration.max(measured_until);
            if w.kind == "monitoring" {
                if let Some(m) = v.monitoring.as_mut() {
                    m.crash = Some(MonitoringCrash {
                        at,
                        duration: None,
                        repair: None,
                    });
                }
            } else {
                v.faults.push(Fault::Crash {
                    target: w.component.clone(),
                    at,
                    duration: None,
                    mode,
                    repair: None,
                });
            }
            v
        })
        .collect();
    Ok((watches, runs))
}

/// Fills each watch's proof from the report of its run (`runs[i]` the scenario it ran).
pub(super) fn prove(watches: &mut [Watch], reports: &[Report], runs: &[Scenario], at: SimDuration) {
    for ((w, r), run) in watches.iter_mut().zip(reports).zip(runs) {
        let paged = if w.kind == "monitoring" {
            // Its own outage, paged by the dead man's switch if anything.
            r.operations
                .as_ref()
                .and_then(|o| o.monitoring_outages.first())
                .and_then(|o| o.noticed_at_s)
                .map(|t| (t, Some("DeadMansSwitch".to_string())))
        } else {
            let fault = r.faults.iter().find(|f| f.target == w.component);
            fault.and_then(|f| f.notified_at_s.map(|t| (t, f.alert.clone())))
        };
        let at_s = at.as_secs_f64();
        w.watched_s = run.warmup.saturating_add(run.duration).as_secs_f64() - at_s;
        w.noticed_after_s = paged.as_ref().map(|(t, _)| t - at_s);
        w.noticed_by = paged.and_then(|(_, a)| a);
        let seen = match w.noticed_by.as_deref() {
            None => "never",
            Some("UsersComplain") => "users",
            Some(_) => "alert",
        };
        w.proof = if seen == w.expected {
            Proof::Confirmed
        } else {
            Proof::Contradicted
        };
    }
}
