//! Replication as a stream that resumes (MySQL 8.4 manual: replication threads, GTID
//! auto-positioning, `replica_net_timeout`, `replica_parallel_workers`,
//! `replica_preserve_commit_order`; SHOW REPLICA STATUS), each behaviour against its formula:
//!
//! * a replica back from a crash fetches what it missed and applies it at its applier
//!   capacity: its lag right after the return is the outage T, and it drains in
//!   T·λ/(μ·N − λ);
//! * a partition or a lossy link delays the binlog, never drops it: once the replica has
//!   caught up, stale reads are back at the no-fault baseline;
//! * `Seconds_Behind_Source` measures the applier only: 0 on a silently partitioned replica
//!   until `replica_net_timeout` (60 s) ends the connection, then NULL; the true lag is
//!   reported beside it;
//! * parallel appliers: N workers apply independent writes up to N times as fast (less when
//!   apply times vary: commits wait for their turn), and writes of one key apply one after
//!   another (writeset dependency).

use infrasim::report::Report;
use serde_json::{Value, json};

use crate::util::{crash, db_app, run, within};

/// `writes` per second (Poisson) and `reads` per second straight to one app server; a primary
/// and one replica `db-r1` whose appliers (`appliers`) each take 2 ms (exponential) per
/// write: capacity 500·N writes/s. 1 s windows, no warm-up unless given.
fn stream(writes: f64, reads: f64, appliers: u32, keys: u32, duration: &str) -> Value {
    let total = writes + reads;
    json!({
        "name": "replication-stream",
        "duration": duration,
        "warmup": "0s",
        "window": "1s",
        "clients": {
            "target": "app",
            "arrival": {"poisson": {"rate": format!("{total}/s")}},
            "mix": {"read": reads / total, "write": writes / total, "static": 0.0},
            "keys": {"count": keys},
            "addresses": 1000,
            "timeout": "5s"
        },
        "app_servers": [db_app("app", 128)],
        "databases": [{
            "name": "db",
            "primary": {"name": "db-primary", "workers": 64},
            "replicas": [{"name": "db-r1", "workers": 64}],
            "replication": {
                "apply": {"exponential": {"mean": "2ms"}},
                "appliers": appliers
            }
        }]
    })
}

/// The window starting at `t_s`.
fn row(r: &Report, t_s: f64) -> &infrasim::report::WindowRow {
    let ts = r.timeseries.as_ref().expect("time series");
    ts.rows
        .iter()
        .find(|w| (w.t_s - t_s).abs() < 1e-6)
        .expect("window")
}

/// Reported (`Seconds_Behind_Source`) and true lag at the end of the window starting at
/// `t_s`, in seconds.
fn lags(r: &Report, t_s: f64) -> (f64, f64) {
    let w = row(r, t_s);
    (w.max_lag_ms / 1e3, w.max_true_lag_ms / 1e3)
}

/// A replica's process dies at 20 s for T = 20 s under λ = 300 writes/s; one applier of
/// capacity μ = 500/s. On its return at 40 s its receiver reconnects, fetches the 6 000
/// events it missed and the applier works through them: the lag is the outage (≈ 20 s) at
/// the return, and falls as lag(t) = t − (20 + (t − 40)·μ/λ), reaching 0 after
/// T·λ/(μ − λ) = 30 s, at 70 s. (The old model copied the primary's data: lag 0 at once.)
#[test]
fn a_returning_replica_catches_up_at_its_applier_capacity() {
    let mut v = stream(300.0, 0.0, 1, 100_000, "100s");
    v["faults"] = json!([crash("db-r1", 20.0, Some(20.0), "process")]);
    let r = run(&v, 41, 1);
    let at = |t: f64| lags(&r, t).0;
    eprintln!(
        "lag at 40.x: {:.2}, 50.x: {:.2}, 60.x: {:.2}, 68.x: {:.2}, 72.x: {:.2}",
        at(40.0),
        at(50.0),
        at(60.0),
        at(68.0),
        at(72.0)
    );
    // End of the 40 s window: 1 s after the return, lag = 41 − (20 + 5/3) = 19.3 s.
    assert!(within(at(40.0), 19.3, 0.08), "lag at 41 s: {}", at(40.0));
    // 51 s: 51 − (20 + 11·5/3) = 12.7 s; 61 s: 6.0 s.
    assert!(within(at(50.0), 12.7, 0.12), "lag at 51 s: {}", at(50.0));
    assert!(within(at(60.0), 6.0, 0.25), "lag at 61 s: {}", at(60.0));
    // Caught up at ≈ 70 s: still behind at 66 s, done by 76 s.
    let caught = (40..100)
        .map(f64::from)
        .find(|t| at(*t) < 0.1)
        .expect("caught up");
    eprintln!("caught up in the window starting at {caught} s (formula: 70 s)");
    assert!((66.0..=76.0).contains(&caught), "caught up at {caught}");
    // Reported and true lag agree once the receiver is connected again.
    let (rep, tru) = lags(&r, 50.0);
    assert!((rep - tru).abs() < 0.01, "{rep} vs {tru}");
}

/// A returning replica copies nothing from a dead primary. One replica, down from 10 s to
/// 25 s; the primary's host dies at 20 s for good; the operator promotes the replica at 50 s.
/// It missed every write from 10 s to 20 s (it could not reconnect: its source is dead), so
/// those ≈ 10 s × 200 writes/s = 2 000 acknowledged writes are lost, for the reason "not
/// received". (The old model copied the dead primary's data into the returning replica,
/// and counted 0.) With an MHA-like promotion and a primary whose *process* died (its host
/// reachable over SSH), the dead primary's binlog is fetched and applied: nothing is lost.
#[test]
fn a_replica_returning_while_the_primary_is_dead_copies_nothing() {
    let case = |mode: &str, policy: &str| {
        let mut v = stream(200.0, 0.0, 4, 100_000, "80s");
        v["databases"][0]["failover"] =
            json!({"mode": "manual", "operator_delay": "30s", "policy": policy});
        v["faults"] = json!([
            crash("db-r1", 10.0, Some(15.0), "process"),
            crash("db-primary", 20.0, None, mode)
        ]);
        run(&v, 42, 1)
    };
    let host = case("host", "orchestrator");
    let d = host.database.as_ref().unwrap();
    eprintln!(
        "host crash, orchestrator: lost {} ({:?})",
        d.lost_writes, d.lost_writes_by_reason
    );
    assert_eq!(d.failovers, 1);
    // Poisson: 2 000 ± 45; 4 sd.
    assert!(
        (1820..=2180).contains(&d.lost_writes),
        "{} lost",
        d.lost_writes
    );
    assert_eq!(d.lost_writes_by_reason.not_received, d.lost_writes);
    let mha = case("process", "mha");
    let d = mha.database.as_ref().unwrap();
    eprintln!("process crash, MHA: lost {}", d.lost_writes);
    assert_eq!(d.failovers, 1);
    assert_eq!(d.lost_writes, 0);
}

/// No gaps: both a 10 s partition between the primary and the replica and 10 s of 30 % loss
/// on their link only delay the binlog. Measured from 45 s on (the warm-up hides the fault
/// and the catch-up), stale reads are at the no-fault baseline (the old model left every key
/// written during the cut stale on the replica until rewritten: ≈ 1 % of all reads here).
/// During the partition the replica's receiver waits on TCP's retransmissions
/// (200 ms + RTT, doubling: the one at ≈ 12.6 s after the cut gets through), so the true lag
/// peaks near 12.6 s, while `Seconds_Behind_Source` stays 0 (its relay log is applied);
/// the backlog then drains at the appliers' capacity.
#[test]
fn partitions_and_loss_delay_the_binlog_and_leave_no_gaps() {
    let base = |faults: Value| {
        let mut v = stream(200.0, 600.0, 4, 20_000, "90s");
        v["faults"] = faults;
        v
    };
    let clean = run(&base(json!([])), 43, 1);
    let cut =
        json!([{"partition": {"a": "db-primary", "b": "db-r1", "at": "20s", "duration": "10s"}}]);
    let lossy = json!([{"link_degrade": {"a": "db-primary", "b": "db-r1", "at": "20s",
        "duration": "10s", "loss": 0.3}}]);
    let partitioned = run(&base(cut.clone()), 43, 1);
    let (rep, tru) = lags(&partitioned, 29.0);
    eprintln!("during the partition (30 s): reported {rep:.2} s, true {tru:.2} s");
    assert!(rep < 0.1, "Seconds_Behind_Source {rep}");
    assert!(within(tru, 10.0, 0.05), "true lag {tru}");
    let (_, after) = lags(&partitioned, 31.0);
    assert!(
        within(after, 12.0, 0.1),
        "true lag at 32 s (retransmission at 32.6 s): {after}"
    );
    // 2 520 events to apply at ≈ 1 160/s (4 workers, see below): caught up by ≈ 35.5 s.
    let (_, caught) = lags(&partitioned, 35.0);
    assert!(caught < 0.5, "caught up by 36 s: {caught}");
    for (name, faults) in [("partition", cut), ("loss", lossy)] {
        let mut v = base(faults);
        let mut c = base(json!([]));
        v["warmup"] = json!("45s");
        c["warmup"] = json!("45s");
        let (f, c) = (run(&v, 43, 1), run(&c, 43, 1));
        let (sf, sc) = (
            f.database.as_ref().unwrap().stale_reads,
            c.database.as_ref().unwrap().stale_reads,
        );
        let reads = f.classes["read"].succeeded;
        eprintln!("{name}: stale reads after 45 s {sf} vs baseline {sc} of {reads} reads");
        // The baseline: reads of keys written within the last few ms (≈ 0.1 % here).
        assert!(
            sf as f64 <= sc as f64 * 1.3 + 10.0,
            "{name}: {sf} stale vs {sc}"
        );
    }
    let _ = clean;
}

/// `Seconds_Behind_Source` and the silent source. The primary's host dies at 20 s (never
/// back, no failover): the replica hears nothing, and only after `replica_net_timeout`
/// (60 s) does its receiver drop the connection; from then on the lag is NULL. Windows of
/// 1 s sample it once each: NULL from 80 s to the end at 120 s, 40 samples (±1). When the
/// primary's *process* dies, its kernel closes the connection (FIN): NULL at once, ≈ 100
/// samples. A 100 s partition from 20 s, the primary alive: `Seconds_Behind_Source` reads 0
/// for 60 s while the true lag grows with the cut, then NULL.
#[test]
fn seconds_behind_source_is_null_once_the_receiver_notices() {
    let case = |fault: Value| {
        let mut v = stream(100.0, 0.0, 4, 100_000, "120s");
        v["faults"] = json!([fault]);
        run(&v, 44, 1)
    };
    let host = case(crash("db-primary", 20.0, None, "host"));
    let process = case(crash("db-primary", 20.0, None, "process"));
    let nulls = |r: &Report| r.database.as_ref().unwrap().lag_null_samples;
    eprintln!(
        "NULL samples: host crash {}, process crash {}",
        nulls(&host),
        nulls(&process)
    );
    assert!((39..=41).contains(&nulls(&host)), "{}", nulls(&host));
    assert!((99..=101).contains(&nulls(&process)), "{}", nulls(&process));
    let cut = case(
        json!({"partition": {"a": "db-primary", "b": "db-r1", "at": "20s", "duration": "100s"}}),
    );
    let (rep, tru) = lags(&cut, 69.0);
    eprintln!(
        "partition, at 70 s: reported {rep} s, true {tru} s; NULL samples {}",
        nulls(&cut)
    );
    assert!(rep < 0.1);
    assert!(within(tru, 50.0, 0.02), "true lag {tru}");
    assert!((39..=41).contains(&nulls(&cut)), "{}", nulls(&cut));
    let d = cut.database.as_ref().unwrap();
    assert!(
        d.true_replication_lag_ms.max > 90_000.0,
        "{:?}",
        d.true_replication_lag_ms
    );
    assert!(
        d.replication_lag_ms.max < 1_000.0,
        "{:?}",
        d.replication_lag_ms
    );
}

/// `replica_parallel_workers` and `replica_preserve_commit_order`. Capacity is measured as
/// λ·(1 − lag(t)/t) under an overload of λ = 3 000 writes/s over 100 000 keys:
///
/// * 1 worker of 2 ms: μ = 500/s;
/// * 4 workers of a constant 2 ms: 4μ = 2 000/s (they finish in dispatch order, so commit
///   order costs nothing);
/// * 4 workers of 2 ms exponential: a worker done before its predecessors waits for its
///   turn to commit, holding its slot: ≈ 2.3μ (measured 1 162/s), between μ and 4μ.
///
/// And writeset dependency: at 800 writes/s (within the 4 workers' capacity) the lag stays in
/// milliseconds over 100 000 keys; on one hot key every write waits for the previous one
/// and the applier is back to μ = 500/s: the lag grows as (1 − μ/λ)·t = 0.375·t, 11.25 s at
/// 30 s.
#[test]
fn parallel_appliers_preserve_commit_order_and_collapse_on_a_hot_key() {
    let capacity = |n: u32, apply: Value| {
        let mut v = stream(3000.0, 0.0, n, 100_000, "30s");
        v["databases"][0]["replication"]["apply"] = apply;
        let r = run(&v, 45, 1);
        3000.0 * (1.0 - lags(&r, 29.0).0 / 30.0)
    };
    let one = capacity(1, json!({"exponential": {"mean": "2ms"}}));
    let four_constant = capacity(4, json!({"constant": "2ms"}));
    let four_exp = capacity(4, json!({"exponential": {"mean": "2ms"}}));
    eprintln!(
        "capacity: 1 worker {one:.0}/s, 4 constant {four_constant:.0}/s, 4 exponential {four_exp:.0}/s"
    );
    assert!(within(one, 500.0, 0.05), "{one}");
    assert!(within(four_constant, 2000.0, 0.02), "{four_constant}");
    assert!((2.0 * one..2.7 * one).contains(&four_exp), "{four_exp}");
    let spread = run(&stream(800.0, 0.0, 4, 100_000, "30s"), 45, 1);
    let hot = run(&stream(800.0, 0.0, 4, 1, "30s"), 45, 1);
    let (ls, lh) = (lags(&spread, 29.0).0, lags(&hot, 29.0).0);
    eprintln!("lag at 30 s: 100 000 keys {ls:.3} s, one key {lh:.2} s");
    assert!(ls < 0.1, "{ls}");
    assert!(within(lh, 11.25, 0.08), "{lh}");
}

/// Each replica has its own distance: its binlog and its acknowledgements cross the links to
/// it, and a semi-sync commit waits for the *fastest* acknowledgement. With one replica
/// 100 µs away and one 50 ms away, a commit waits `delay` + one near round trip (≈ 0.7 ms
/// more than async at the median); with both far, `delay` + 100 ms.
#[test]
fn semi_sync_waits_for_the_nearest_replica() {
    let case = |mode: &str, far: &[&str]| {
        let mut v = stream(100.0, 0.0, 4, 100_000, "30s");
        v["databases"][0]["replicas"] = json!([{"name": "db-r1"}, {"name": "db-r2"}]);
        v["databases"][0]["replication"]["mode"] = json!(mode);
        let links: Vec<Value> = far
            .iter()
            .map(|r| json!({"a": "db-primary", "b": r, "latency": "50ms"}))
            .collect();
        v["network"] = json!({"links": links});
        let r = run(&v, 47, 1);
        r.classes["write"].latency_ms.p50_ms
    };
    let async_ = case("async", &["db-r2"]);
    let near = case("semi-sync", &["db-r2"]);
    let far = case("semi-sync", &["db-r1", "db-r2"]);
    eprintln!("write p50: async {async_:.2} ms, semi-sync near+far {near:.2}, both far {far:.2}");
    assert!((0.3..2.0).contains(&(near - async_)), "{near} vs {async_}");
    assert!(within(far - async_, 100.5, 0.03), "{far} vs {async_}");
}

/// `timeseries.csv` carries the true lag beside the reported one: during a 10 s partition
/// between the primary and the replica (20–30 s), the window ending at 30 s shows
/// `max_lag_ms` ≈ 0 (`Seconds_Behind_Source`: the relay log is applied) and
/// `max_true_lag_ms` ≈ 10 000 (the oldest write not yet received is 10 s old).
#[test]
fn the_csv_shows_the_true_lag_beside_the_reported_one() {
    let mut v = stream(200.0, 600.0, 4, 20_000, "40s");
    v["faults"] =
        json!([{"partition": {"a": "db-primary", "b": "db-r1", "at": "20s", "duration": "10s"}}]);
    let dir = std::env::temp_dir().join(format!("infrasim-csv-lag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.json");
    std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
    let out = dir.join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_infrasim"))
        .args(["run", file.to_str().unwrap(), "--seed", "43", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).expect(name);
    let (reported, true_lag) = (col("max_lag_ms"), col("max_true_lag_ms"));
    assert_eq!(
        true_lag,
        reported + 1,
        "the true lag sits beside the reported one"
    );
    let row: Vec<f64> = lines
        .map(|l| {
            l.split(',')
                .map(|x| x.parse().unwrap_or(0.0))
                .collect::<Vec<f64>>()
        })
        .find(|r| r[0] == 29.0)
        .expect("the window starting at 29 s");
    eprintln!(
        "window 29–30 s: max_lag_ms {} max_true_lag_ms {}",
        row[reported], row[true_lag]
    );
    assert!(row[reported] < 100.0);
    assert!(within(row[true_lag], 10_000.0, 0.05));
    let _ = std::fs::remove_dir_all(&dir);
}
