//! End-to-end tests of the database tier (issue 3): replication lag is an *outcome* of the
//! replica applier's capacity, stale reads and read-your-writes violations follow the lag, and
//! read routing steers around dead and lagging replicas.
//!
//! Every scenario sends its clients straight to one application server (no load balancer:
//! nothing but the database is under test), gives the app a constant 1 ms of CPU and one
//! database call per request, and uses a fixed seed, so every number below is reproducible.
//!
//! # The lag law
//!
//! With one applier serving writes at rate μ = 1/apply and writes committed at rate λ > μ,
//! the applier falls behind linearly. By time t it has applied ≈ μt events; the one it is
//! applying was committed at ≈ μt/λ. MySQL's `Seconds_Behind_Source` — and this model's lag —
//! is *now − commit time of the event being applied*, so
//!
//! ```text
//!   lag(t) ≈ t·(1 − μ/λ)            while writes keep coming  (800/s, 2 ms: 0.375·t)
//!   backlog(t) = (λ − μ)·t events,  which take (λ·apply − 1)·t to drain (0.6·t)
//! ```
//!
//! When the writes stop at T, the lag keeps growing (the applier is still working through
//! events committed ever longer ago) until the backlog is drained at T·λ·apply, where it peaks
//! at exactly `(λ·apply − 1)·T` — the drain time — and drops to zero. Both laws are asserted.

use infrasim::report::Report;
use serde_json::{Value, json};

use crate::util::{crash, db_app, run, within};

/// A primary with `replicas` replicas (`db-r1`, `db-r2`, …) behind one app server.
/// `writes` per second are offered (a Poisson stream), plus `reads` per second.
/// One applier whose apply time is exponential with mean 2 ms (capacity 500 writes/s).
fn cluster(writes: f64, reads: f64, policy: &str, replicas: usize) -> Value {
    let total = writes + reads;
    json!({
        "name": "db-tier",
        "duration": "60s",
        "warmup": "0s",
        "window": "1s",
        "clients": {
            "target": "app",
            "arrival": {"poisson": {"rate": format!("{total}/s")}},
            "mix": {"read": reads / total, "write": writes / total, "static": 0.0},
            "keys": {"count": 100},
            "addresses": 20,
            "timeout": "5s"
        },
        "app_servers": [db_app("app", 64)],
        "databases": [{
            "name": "db",
            "primary": {"name": "db-primary"},
            "replicas": (1..=replicas).map(|i| json!({"name": format!("db-r{i}")}))
                .collect::<Vec<_>>(),
            "replication": {
                "delay": {"constant": "500us"},
                "apply": {"exponential": {"mean": "2ms"}},
                "appliers": 1
            },
            "read_routing": {"policy": policy}
        }]
    })
}

/// The lag sampled at the end of the window that starts at `t_s` seconds.
fn lag_at(r: &Report, t_s: f64) -> f64 {
    let ts = r.timeseries.as_ref().expect("time series");
    let row = ts
        .rows
        .iter()
        .find(|w| (w.t_s + ts.window_s - t_s).abs() < 1e-9)
        .expect("a window ends there");
    row.max_lag_ms / 1000.0
}

fn served(r: &Report, name: &str) -> u64 {
    r.components[name].served
}

/// Overload: 800 writes/s against an applier that does 500/s. The lag grows linearly as
/// `(1 − μ/λ)·t = 0.375·t`, i.e. 11.25 s at 30 s and 22.5 s at 60 s (measured: 10.94 s and
/// 22.20 s). When the writes stop at 60 s the backlog of 18 000 events drains by
/// 60·λ·apply = 96 s, and the lag peaks there at (λ·apply − 1)·60 = 36 s (measured 36.13 s,
/// in the window ending at 96 s).
///
/// Tolerances: the applier's count of completions by t is a Poisson-like process (exponential
/// apply times) with sd √(μt) ≈ 173 at 60 s, and the commit times carry the same noise from the
/// arrivals: together ≈ 0.3 s, 1.4 % of 22.5 s. ±6 % is > 3 σ; a model whose apply time is
/// off by 10 % (lag slope 0.43 or 0.31 instead of 0.375) or that ran two appliers where one
/// was configured fails.
#[test]
fn lag_grows_without_bound_when_writes_outpace_the_applier() {
    let mut v = cluster(800.0, 0.0, "replicas", 1);
    v["duration"] = json!("110s");
    v["clients"]["arrival"] = json!({"schedule": {"steps": [
        {"at": "0s", "rate": "800/s"},
        {"at": "60s", "rate": "0/s"}
    ]}});
    let r = run(&v, 11, 1);
    let (mid, end) = (lag_at(&r, 30.0), lag_at(&r, 60.0));
    eprintln!("lag at 30 s = {mid:.3} s, at 60 s = {end:.3} s");
    assert!(within(mid, 0.375 * 30.0, 0.06), "lag at 30 s: {mid} s");
    assert!(within(end, 0.375 * 60.0, 0.06), "lag at 60 s: {end} s");
    assert!(within(end / mid, 2.0, 0.06), "linear growth: {end} / {mid}");

    // The peak is the drain time of the backlog, at the end of the drain.
    let ts = r.timeseries.as_ref().unwrap();
    let (peak_row, peak) = ts
        .rows
        .iter()
        .map(|w| (w, w.max_lag_ms / 1000.0))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let peak_at = peak_row.t_s + ts.window_s;
    eprintln!("peak lag {peak:.3} s at {peak_at} s");
    assert!(
        within(peak, 36.0, 0.05),
        "peak lag {peak} s, expected (λ·apply − 1)·T = 36 s"
    );
    assert!(
        (peak_at - 96.0).abs() <= 3.0,
        "caught up at {peak_at} s, expected 96 s"
    );
    assert_eq!(lag_at(&r, 100.0), 0.0, "caught up by 100 s");
    let db = r.database.as_ref().unwrap();
    assert!(within(db.replication_lag_ms.max / 1000.0, peak, 1e-3));
}

/// Below capacity: 200 writes/s against 500/s (ρ = 0.4). The applier is an M/M/1 queue whose
/// sojourn time is exponential with mean 2/(1 − 0.4) = 3.3 ms and p99 = ln 100 · 3.3 ms =
/// 15.4 ms; the lag sampled every 100 ms (600 samples) is the age of the event being applied
/// plus the 0.5 ms transit, so its p99 stays below 20 ms (measured 12.7 ms, mean 1.6 ms) and
/// the lag at the end is as small — against 22 s when the same applier is overloaded.
#[test]
fn lag_stays_small_below_the_applier_capacity() {
    let mut v = cluster(200.0, 0.0, "replicas", 1);
    v["window"] = json!("100ms");
    let r = run(&v, 12, 1);
    let lag = &r.database.as_ref().unwrap().replication_lag_ms;
    eprintln!("lag below capacity: {lag:?}");
    assert!(lag.p99 < 20.0, "p99 lag {} ms", lag.p99);
    assert!(lag.mean < 5.0, "mean lag {} ms", lag.mean);
    assert!(
        lag_at(&r, 60.0) < 0.020,
        "lag at the end {}",
        lag_at(&r, 60.0)
    );
    assert_eq!(r.requests.failed_total(), 0);
}

/// Stale reads follow the lag. 100 keys, writes uniform over them.
///
/// * Below capacity (200 writes/s, 200 reads/s): a read of key k on the replica is stale iff a
///   write of k is committed but not yet applied there. Writes of one key arrive at
///   r = 2/s and each takes T = 0.5 ms transit + 3.33 ms M/M/1 sojourn to be applied, so
///   P(stale) = 1 − exp(−r·E[T]) = 0.76 % (measured 0.77 %). Three replications give ≈ 36 000
///   reads and ≈ 275 stale ones: Poisson sd 6 %; ±25 % is 4 σ.
/// * Overloaded (800 writes/s): lag of seconds, a key is rewritten every 125 ms, so nearly
///   every replica read is stale (measured 99.5 %).
#[test]
fn stale_reads_rise_with_lag() {
    let low = run(&cluster(200.0, 200.0, "replicas", 1), 13, 3);
    let high = run(&cluster(800.0, 800.0, "replicas", 1), 13, 1);
    let (lo, hi) = (low.database.unwrap(), high.database.unwrap());
    eprintln!(
        "stale: below capacity {} ({:.4}), overloaded {} ({:.4})",
        lo.stale_reads, lo.stale_read_ratio, hi.stale_reads, hi.stale_read_ratio
    );
    let expect = 1.0 - infrasim::engine::math::exp(-2.0_f64 * (0.5e-3 + 2e-3 / 0.6));
    assert!(
        within(lo.stale_read_ratio, expect, 0.25),
        "stale ratio {} below capacity, expected {expect}",
        lo.stale_read_ratio
    );
    assert!(
        hi.stale_read_ratio > 0.95,
        "overloaded: {}",
        hi.stale_read_ratio
    );
    assert!(hi.stale_reads > 30 * lo.stale_reads / 3);
}

/// Read-your-writes: 20 client addresses each remember their last write. Overloaded
/// (800 writes/s, lag of seconds), a read by a client of the key it last wrote (1 read in 100:
/// 100 keys) almost always misses its write on the replica: 48 000 reads / 100 ≈ 480
/// violations expected (measured 485; Poisson sd 22, ±20 % is > 4 σ). Routing reads to the
/// primary (`read_routing: primary`) sends every read there, whatever the lag (no violation
/// or stale read can then happen: they are counted on replicas, so they are not asserted).
#[test]
fn read_your_writes_violations_need_replica_reads() {
    let replicas = run(&cluster(800.0, 800.0, "replicas", 1), 14, 1);
    let primary = run(&cluster(800.0, 800.0, "primary", 1), 14, 1);
    let (a, b) = (
        replicas.database.as_ref().unwrap(),
        primary.database.as_ref().unwrap(),
    );
    eprintln!(
        "ryw violations: replicas {} (stale {}), primary {} (stale {}); lag p99 {} vs {} ms",
        a.read_your_writes_violations,
        a.stale_reads,
        b.read_your_writes_violations,
        b.stale_reads,
        a.replication_lag_ms.p99,
        b.replication_lag_ms.p99
    );
    assert!(
        within(a.read_your_writes_violations as f64, 480.0, 0.20),
        "{} violations",
        a.read_your_writes_violations
    );
    // The replica lags just as much: the primary policy hides the lag, it does not remove it.
    assert!(b.replication_lag_ms.max > 20_000.0);
    assert_eq!(served(&primary, "db-r1"), 0);
}

/// Reads move away from a dead replica. Two replicas, 450 reads/s and 50 writes/s.
///
/// * `db-r1` crashes (process: connections refused) from 20 s to 40 s: the app retries the
///   read on the next node and ProxySQL-like shunning keeps `db-r1` out, so no read fails but
///   the few that were running on `db-r1` at the crash (measured: 0 of 27 169), and `db-r2`
///   serves the dead replica's share meanwhile.
/// * `db-r1`'s host vanishes instead: each read sent there waits the app's 1 s connect
///   timeout, then goes elsewhere; shunning (10 s) bounds how many do. With 64 app workers
///   those hung reads (≈ 225/s for 1 s) exhaust the pool and its backlog — the classic
///   cascade of a blackholed dependency — and the app's kernel drops new connections' SYNs:
///   the clients retransmit them 1 s later, so the cascade costs latency, not requests
///   (measured 502 SYNs dropped, read p99 1 021 ms, none failed); with 512 workers reads
///   ride it out.
/// * Both replicas die (process): reads go to the primary, which serves them all meanwhile;
///   only reads running on the replicas at the crash fail (measured 0).
///
/// Availability is counted over the requests that ended (a few are in flight at the end).
#[test]
fn reads_move_to_the_other_replica_or_the_primary_when_a_replica_dies() {
    // From 20 s to 40 s.
    let crash_20s = |target: &str, mode: &str| crash(target, 20.0, Some(20.0), mode);
    let mut cases = Vec::new();
    for (name, workers, faults) in [
        ("none", 64, json!([])),
        ("r1 process", 64, json!([crash_20s("db-r1", "process")])),
        (
            "r1 host, 512 workers",
            512,
            json!([crash_20s("db-r1", "host")]),
        ),
        (
            "both",
            64,
            json!([crash_20s("db-r1", "process"), crash_20s("db-r2", "process")]),
        ),
        (
            "r1 host, 64 workers",
            64,
            json!([crash_20s("db-r1", "host")]),
        ),
    ] {
        let mut v = cluster(50.0, 450.0, "replicas", 2);
        v["app_servers"][0]["workers"] = json!(workers);
        v["app_servers"][0]["queue"] = json!(128);
        v["faults"] = faults;
        let r = run(&v, 15, 1);
        let read = &r.classes["read"];
        eprintln!(
            "{name}: reads {} ended, failed {:?}, served p/r1/r2 {} {} {}",
            read.offered - read.in_flight,
            read.failed,
            served(&r, "db-primary"),
            served(&r, "db-r1"),
            served(&r, "db-r2")
        );
        cases.push(r);
    }
    let failed = |r: &Report| r.classes["read"].failed.values().sum::<u64>();
    let ended = |r: &Report| r.classes["read"].offered - r.classes["read"].in_flight;
    for r in &cases[..4] {
        assert!(failed(r) * 10_000 <= ended(r), "{} failed reads", failed(r));
    }
    let (p0, r1_0, r2_0) = (
        served(&cases[0], "db-primary"),
        served(&cases[0], "db-r1"),
        served(&cases[0], "db-r2"),
    );
    // Healthy: reads split evenly over the replicas, the primary only takes writes.
    assert_eq!(failed(&cases[0]), 0);
    assert!(within(r1_0 as f64, r2_0 as f64, 0.02));
    assert!(within(
        p0 as f64,
        cases[0].classes["write"].offered as f64,
        0.002
    ));
    // One replica dead for a third of the run: it misses a third of its share (process
    // crash: measured 9 104 against 13 587 × 2/3 = 9 058), the other takes it over.
    let (r1, r2) = (
        served(&cases[1], "db-r1") as f64,
        served(&cases[1], "db-r2") as f64,
    );
    assert!(
        within(r1, r1_0 as f64 * 2.0 / 3.0, 0.02),
        "db-r1 served {r1}"
    );
    assert!(
        within(r2, r2_0 as f64 * 4.0 / 3.0, 0.02),
        "db-r2 served {r2}"
    );
    // Host crash: when the 10 s shun runs out at ≈ 31 s the app tries `db-r1` again and hangs
    // another connect timeout, so it is out ≈ 22–24 s instead of 20 (measured 8 136 = 60 %).
    let (r1, r2) = (
        served(&cases[2], "db-r1") as f64,
        served(&cases[2], "db-r2") as f64,
    );
    let r1_share = r1 / r1_0 as f64;
    assert!(
        (0.56..=0.67).contains(&r1_share),
        "db-r1 served {r1_share} of its share"
    );
    assert!(
        within(r1 + r2, (r1_0 + r2_0) as f64, 0.002),
        "no read lost: {r1} + {r2}"
    );
    // Both dead: the primary serves a third of the reads on top of the writes.
    let both = &cases[3];
    let reads = both.classes["read"].offered as f64;
    let extra = served(both, "db-primary") as f64 - both.classes["write"].offered as f64;
    assert!(
        within(extra, reads / 3.0, 0.06),
        "primary served {extra} reads of {reads}"
    );
    // A blackholed replica with a small worker pool: the app's workers hang, its backlog
    // fills and its kernel drops SYNs; the clients retransmit them a second later.
    let cascade = &cases[4];
    let dropped = cascade.components["app"].rejected;
    let p99 = cascade.classes["read"].latency_ms.p99_ms;
    eprintln!("cascade: {dropped} SYNs dropped, read p99 {p99} ms");
    assert!(dropped > 100, "{dropped} SYNs dropped");
    assert!(p99 >= 1000.0, "read p99 {p99} ms");
    assert_eq!(failed(cascade), 0);
}

/// ProxySQL-like `replicas-lag-bounded` routing with `max_replication_lag` 1 s sampled every
/// 1 s. Overloaded (lag 0.375·t), ProxySQL compares whole seconds of `Seconds_Behind_Source`:
/// the lag must reach 2 s (floor > 1) before the replica is shunned — the sample at 6 s
/// (2.25 s) is the first, where an exact comparison would have shunned it at 3 s (1.125 s).
/// From then on every read goes to the primary. The replica serves 6 s of the 60 s of reads
/// (10 % ≈ 4 800 reads; measured 4 765) and the stale-read ratio falls from 99 % to the first
/// 6 s' share (measured 9.5 %). Below capacity the lag never reaches the bound and the
/// replica serves every read.
#[test]
fn lag_bounded_routing_sends_reads_to_the_primary_when_the_replica_lags() {
    let bounded = |writes: f64| {
        let mut v = cluster(writes, 800.0, "replicas-lag-bounded", 1);
        v["databases"][0]["read_routing"]["max_replication_lag"] = json!("1s");
        v["databases"][0]["read_routing"]["lag_check_interval"] = json!("1s");
        v
    };
    let over = run(&bounded(800.0), 16, 1);
    let under = run(&bounded(200.0), 16, 1);
    let reads = over.classes["read"].succeeded as f64;
    let on_replica = served(&over, "db-r1") as f64;
    let db = over.database.as_ref().unwrap();
    eprintln!(
        "lag-bounded overloaded: replica served {on_replica} of {reads} reads, stale ratio {:.4}",
        db.stale_read_ratio
    );
    assert!(
        within(on_replica, reads * 6.0 / 60.0, 0.15),
        "{on_replica} reads on the replica"
    );
    assert!(
        db.stale_read_ratio < 0.11,
        "stale ratio {}",
        db.stale_read_ratio
    );
    assert!(
        db.stale_read_ratio > 0.08,
        "the first 6 s are stale: {}",
        db.stale_read_ratio
    );
    // Below capacity: every read on the replica (counts include the few in flight at the end).
    let under_reads = under.classes["read"].offered as f64;
    assert!(within(served(&under, "db-r1") as f64, under_reads, 0.001));
    let under_writes = under.classes["write"].offered as f64;
    assert!(within(
        served(&under, "db-primary") as f64,
        under_writes,
        0.001
    ));
}

/// The app's `db_timeout` counts from when the query was sent, not from when its connection
/// was accepted (that deadline, ProxySQL's 1 s connect timeout, comes first and is where the
/// query's own deadline is derived from). A query the database takes 1.9 s to answer
/// succeeds under a 2 s `db_timeout`; one that takes 2.1 s fails as `database_unavailable`,
/// and the app worker waiting for it is released 2 s after the query was sent: the app's
/// busy time per request is 2.001 s (3 s if the deadline counted from the connection
/// deadline, 1 s if the connection deadline were taken for the query's).
#[test]
fn a_query_times_out_db_timeout_after_it_was_sent() {
    let with_service = |read: &str| {
        let mut v = cluster(0.0, 2.0, "replicas", 1);
        v["duration"] = json!("30s");
        v["app_servers"][0]["db_timeout"] = json!("2s");
        v["databases"][0]["replicas"][0]["read_service"] = json!({ "constant": read });
        run(&v, 5, 1)
    };
    let fast = with_service("1900ms");
    assert_eq!(
        fast.requests.failed.values().sum::<u64>(),
        0,
        "{:?}",
        fast.requests
    );
    assert!(fast.requests.succeeded > 40);
    // 1 ms of app CPU, a 100 µs hop each way to the database, 1.9 s of query: ≈ 1.90 s.
    let max = fast.latency_ms.max_ms;
    assert!((1900.0..1950.0).contains(&max), "{max}");

    let slow = with_service("2100ms");
    assert_eq!(slow.requests.succeeded, 0);
    let failed = slow.requests.failed["database_unavailable"];
    assert!(failed > 40 && failed + slow.requests.in_flight == slow.requests.offered);
    // Busy worker-seconds over the run, per request (the last ones are cut by the end).
    let app = &slow.components["app"];
    let hold = app.utilization * 30.0 * 64.0 / slow.requests.offered as f64;
    assert!(
        (1.85..2.05).contains(&hold),
        "worker held {hold} s per request"
    );
}

/// Sessions that read their own writes (`clients.keys.read_own_writes` 1: every read of an
/// address that wrote within the last 5 s reads that key back). 100 addresses each write and
/// read at 3/s; the binlog reaches the replica 300 ms after the commit (`delay`). A read
/// violates read-your-writes when it reaches the replica before the write is applied there:
/// the client hears the ack ≈ 10 ms after the commit and its read reaches the replica ≈ 10 ms
/// later, while the write lands there ≈ 300 ms after the commit: a violation when the time τ
/// since the address's last write is below ≈ 280 ms. τ is exponential at the address's write
/// rate (3/s), so P = 1 − e^(−3 × 0.28) ≈ 0.57 of session reads (measured 0.53: a read
/// issued while a newer write of its address is still in flight is not counted, the
/// database comparing against the address's latest write). Under primary routing: 0.
#[test]
fn read_your_writes_sessions_violate_by_the_chance_of_an_unapplied_own_write() {
    let case = |policy: &str| {
        let mut v = cluster(300.0, 300.0, policy, 1);
        v["clients"]["addresses"] = json!(100);
        v["clients"]["keys"] = json!({"count": 100_000, "read_own_writes": 1.0});
        v["warmup"] = json!("10s");
        v["databases"][0]["replication"]["delay"] = json!({"constant": "300ms"});
        v["databases"][0]["replication"]["appliers"] = json!(4);
        run(&v, 46, 1)
    };
    let replicas = case("replicas");
    let primary = case("primary");
    let reads = replicas.classes["read"].succeeded as f64;
    let v = replicas
        .database
        .as_ref()
        .unwrap()
        .read_your_writes_violations as f64;
    let expect = 1.0 - infrasim_engine::math::exp(-3.0 * 0.28);
    eprintln!(
        "session reads: {v} violations of {reads} reads ({:.3}; formula {expect:.3}); primary {}",
        v / reads,
        primary
            .database
            .as_ref()
            .unwrap()
            .read_your_writes_violations
    );
    assert!(within(v / reads, expect, 0.08), "{}", v / reads);
    assert_eq!(
        primary
            .database
            .as_ref()
            .unwrap()
            .read_your_writes_violations,
        0
    );
}
