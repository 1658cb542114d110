//! What several test modules need, written once: the shipped scenario files, pieces of
//! scenarios written as JSON (app servers, distributions, crashes), runs with a fixed seed,
//! with or without an observer logging every request and state change, and the checks and
//! formulas the modules share (conservation of requests, tolerances, HAProxy's detection
//! window). Only the library's public API is used.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use infrasim::engine::{SimDuration, SimTime};
use infrasim::{FailReason, Observer, Outcome, Report, RequestRecord, RunOptions, Scenario};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// The root package's directory, which holds `scenarios/` and `tests/golden/`.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped scenario, `scenarios/*.json`, sorted by name.
pub fn scenario_files() -> Vec<PathBuf> {
    let dir = root().join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", dir.display());
    files
}

// ---------------------------------------------------------------------------------------------
// Scenarios written as JSON
// ---------------------------------------------------------------------------------------------

/// A constant duration distribution (`"1ms"`).
pub fn constant(d: &str) -> Value {
    json!({ "constant": d })
}

/// An exponential duration distribution of this mean (`"5ms"`).
pub fn exp(mean: &str) -> Value {
    json!({ "exponential": { "mean": mean } })
}

/// Poisson arrivals at `rate` (`"500/s"`).
pub fn poisson(rate: &str) -> Value {
    json!({ "poisson": { "rate": rate } })
}

/// An app server that needs nothing behind it: `workers` workers, the same service time for
/// every class, no database call.
pub fn app(name: &str, workers: u32, service: Value) -> Value {
    json!({
        "name": name,
        "workers": workers,
        "service": { "read": service, "write": service, "static": service },
        "db_calls": { "read": 0, "write": 0, "static": 0 }
    })
}

/// Servers `app1` … `appn` of 64 workers whose constant service times are 1, 2, … ms, so
/// that at low load a request's latency tells which server served it ([`server_of`]).
pub fn fingerprinted_apps(n: u32) -> Vec<Value> {
    (1..=n)
        .map(|k| app(&format!("app{k}"), 64, constant(&format!("{k}ms"))))
        .collect()
}

/// The load balancer tests' topology: clients (`arrival`, `addresses` source addresses,
/// reads only, 30 s timeout) → `lb` (the `lb` object, named here) → `apps`, each app server
/// with an accept queue of 10 000 (so that only the LB refuses or queues requests), with
/// these faults. Latencies: 1 ms client ↔ LB, 100 µs elsewhere.
pub fn lb_scenario(
    duration: &str,
    arrival: Value,
    addresses: u32,
    mut lb: Value,
    mut apps: Vec<Value>,
    faults: Value,
) -> Value {
    lb["name"] = json!("lb");
    for a in &mut apps {
        a["queue"] = json!(10000);
    }
    json!({
        "name": "lb-test",
        "seed": 1,
        "duration": duration,
        "clients": {
            "target": "lb",
            "arrival": arrival,
            "mix": { "read": 1.0, "write": 0.0, "static": 0.0 },
            "addresses": addresses,
            "timeout": "30s"
        },
        "load_balancers": [lb],
        "app_servers": apps,
        "network": { "latency": "100us", "client_latency": "1ms" },
        "faults": faults
    })
}

/// An app server in front of a database: `workers` workers, 1 ms of CPU per request and one
/// database call per read and per write (none for static requests).
pub fn db_app(name: &str, workers: u32) -> Value {
    let mut v = app(name, workers, constant("1ms"));
    v["db_calls"] = json!({ "read": 1, "write": 1, "static": 0 });
    v
}

/// A crash of `target` at `at_s` seconds (to the microsecond), for `duration_s` seconds or
/// for good, in `mode` (`"process"`: connections refused; `"host"`: nothing answers).
pub fn crash(target: &str, at_s: f64, duration_s: Option<f64>, mode: &str) -> Value {
    let us = |s: f64| format!("{}us", (s * 1e6).round());
    let mut c = json!({ "target": target, "at": us(at_s), "mode": mode });
    if let Some(d) = duration_s {
        c["duration"] = json!(us(d));
    }
    json!({ "crash": c })
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/// Parses a scenario written as JSON; it must be valid.
fn parse(v: &Value) -> Scenario {
    infrasim::scenario::parse(&v.to_string()).unwrap_or_else(|e| panic!("invalid scenario: {e}"))
}

fn options(seed: u64, reps: u32) -> RunOptions {
    RunOptions {
        seed: Some(seed),
        replications: Some(reps),
        ..RunOptions::default()
    }
}

/// Runs a scenario written as JSON with a fixed seed and `reps` replications (in parallel).
pub fn run(v: &Value, seed: u64, reps: u32) -> Report {
    infrasim::run_with(&parse(v), &options(seed, reps)).expect("runs")
}

/// Runs one replication of a scenario written as JSON with a fixed seed, and returns what an
/// observer saw of it.
pub fn observe(v: &Value, seed: u64) -> (Report, Log) {
    let log = Arc::new(Mutex::new(Log::default()));
    let handle = Arc::clone(&log);
    let opts = options(seed, 1).observe(move |_| {
        Some(Box::new(Recorder(Arc::clone(&handle))) as Box<dyn Observer + Send>)
    });
    let report = infrasim::run_with(&parse(v), &opts).expect("observed run");
    let log = std::mem::take(&mut *log.lock().unwrap());
    (report, log)
}

/// What an observer saw: every finished request and every state change (a server marked
/// DOWN or UP by a load balancer, a VRRP takeover, a promotion, a fault), in order.
#[derive(Default)]
pub struct Log {
    /// Every finished request, in the order they finished.
    pub requests: Vec<RequestRecord>,
    /// Every state change, as `(when, component, what)`.
    pub changes: Vec<(SimTime, String, String)>,
}

impl Log {
    /// When `component` reported exactly `what` (e.g. `"lb"`, `"app1 DOWN"`), in seconds.
    pub fn times(&self, component: &str, what: &str) -> Vec<f64> {
        self.times_where(component, |w| w == what)
    }

    /// When `component` reported something starting with `prefix`, in seconds.
    pub fn times_starting(&self, component: &str, prefix: &str) -> Vec<f64> {
        self.times_where(component, |w| w.starts_with(prefix))
    }

    fn times_where(&self, component: &str, what: impl Fn(&str) -> bool) -> Vec<f64> {
        self.changes
            .iter()
            .filter(|(_, c, w)| c == component && what(w))
            .map(|(t, _, _)| t.as_secs_f64())
            .collect()
    }

    /// The requests that failed for this reason.
    pub fn failed_with(&self, reason: FailReason) -> Vec<&RequestRecord> {
        self.requests
            .iter()
            .filter(|r| r.outcome == Outcome::Failed(reason))
            .collect()
    }
}

/// The observer behind [`observe`]: appends to a shared [`Log`].
struct Recorder(Arc<Mutex<Log>>);

impl Observer for Recorder {
    fn request_finished(&mut self, record: &RequestRecord) {
        self.0.lock().unwrap().requests.push(record.clone());
    }

    fn state_changed(&mut self, at: SimTime, component: &str, what: &str) {
        self.0
            .lock()
            .unwrap()
            .changes
            .push((at, component.to_string(), what.to_string()));
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// A report as pretty JSON (the golden files' form), to compare reports byte for byte.
pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes")
}

/// Every offered request is accounted for: `offered == succeeded + Σ failed + in_flight`, per
/// class and in total; the classes add up to the totals; some request was offered.
pub fn assert_conservation(name: &str, r: &Report) {
    let mut sums = [0u64; 4];
    for (class, c) in &r.classes {
        let failed: u64 = c.failed.values().sum();
        assert_eq!(
            c.offered,
            c.succeeded + failed + c.in_flight,
            "{name}: class {class}: offered {} != succeeded {} + failed {failed} + in flight {}",
            c.offered,
            c.succeeded,
            c.in_flight
        );
        for (s, x) in sums
            .iter_mut()
            .zip([c.offered, c.succeeded, failed, c.in_flight])
        {
            *s += x;
        }
    }
    let t = &r.requests;
    assert_eq!(
        t.offered,
        t.succeeded + t.failed_total() + t.in_flight,
        "{name}: totals do not add up: {t:?}"
    );
    assert_eq!(
        sums,
        [t.offered, t.succeeded, t.failed_total(), t.in_flight],
        "{name}: the classes do not add up to the totals"
    );
    assert!(t.offered > 0, "{name}: no request was offered");
}

/// A request's latency in seconds, from its offer to its end.
pub fn latency_s(r: &RequestRecord) -> f64 {
    r.finished_at.as_secs_f64() - r.offered_at.as_secs_f64()
}

/// The server (1-based) of [`fingerprinted_apps`] that served a successful request, from its
/// latency in the load balancer tests' topology: 2 × 1 ms client ↔ LB, 2 × 100 µs LB ↔
/// server, 6 µs of LB CPU, then k ms of service on `appk`.
pub fn server_of(r: &RequestRecord) -> u32 {
    let ms = latency_s(r) * 1e3 - 2.206;
    let k = ms.round();
    assert!(
        (ms - k).abs() < 0.05 && k >= 1.0,
        "latency {} ms is no server's fingerprint",
        ms + 2.206
    );
    k as u32
}

/// How many requests failed for `reason` (a report key such as `"connect_refused"`).
pub fn failed(r: &Report, reason: &str) -> u64 {
    r.requests.failed[reason]
}

/// `x` is within `rel` (relative) of `expect`.
pub fn within(x: f64, expect: f64, rel: f64) -> bool {
    (x - expect).abs() <= rel * expect
}

/// `x` is within `tol` (absolute) of `expect`.
pub fn close(x: f64, expect: f64, tol: f64) -> bool {
    (x - expect).abs() <= tol
}

/// The interval after a server's death in which HAProxy marks it DOWN, when each check
/// fails `d` after it starts (≈ one round trip for a refused connection, the check deadline
/// for a dead host) and fastinter = inter: the first failing check starts U ∈ (0, inter]
/// after the death and ends d later, and each of the `fall − 1` further checks starts
/// `inter` after the previous one ended (HAProxy src/check.c), so
/// T = U + d + (fall − 1)·(inter + d): with the defaults 4–6 s for a crashed process
/// (d ≈ 0), 10–12 s for a dead host (d = inter = 2 s).
pub fn detection_window(
    inter: SimDuration,
    fall: u32,
    d: SimDuration,
) -> (SimDuration, SimDuration) {
    let lo = (inter + d) * u64::from(fall.saturating_sub(1)) + d;
    (lo, lo + inter)
}
