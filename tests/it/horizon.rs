//! Long horizons: a simulated year runs in flat memory (the windows cost nothing; only the
//! requests and the faults do).
//!
//! The peak is measured in a child process (this test binary, re-run with only
//! `horizon::year_child`), so the other tests running in this process do not count: the
//! child runs a simulated year of issue 24's workload (two app servers behind one load
//! balancer, random crashes with MTBF 7 days and 30 days) and prints its peak resident set
//! (`VmHWM` in `/proc/self/status`, Linux). Before windows were judged as requests end,
//! the per-window statistics alone took ≈ 250 bytes × 31.5 M windows ≈ 7.9 GB.

use std::process::Command;

use infrasim::RunOptions;

use crate::util::root;

const CHILD_ENV: &str = "INFRASIM_HORIZON_CHILD";
/// The bound of issue 24.
const PEAK_LIMIT_KB: u64 = 100 * 1024;

/// The year scenario of `benches/scenarios/year.json`, at `rate` and in windows of `window`.
fn year(rate: &str, window: &str) -> infrasim::Scenario {
    let text = std::fs::read_to_string(root().join("benches/scenarios/year.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["clients"]["arrival"]["poisson"]["rate"] = rate.into();
    v["window"] = window.into();
    infrasim::scenario::parse(&v.to_string()).expect("valid")
}

/// Runs in the child process only (see the module's documentation).
#[test]
#[ignore = "run by a_simulated_year_runs_in_flat_memory in a child process"]
fn year_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // 0.1 requests/s: 3.2 M requests, 31.5 M one-second windows.
    let s = year("0.1/s", "1s");
    let opts = RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    };
    let r = infrasim::run_with(&s, &opts).expect("runs");
    let expect = 0.1 * 365.0 * 86_400.0;
    assert!(crate::util::within(r.requests.offered as f64, expect, 0.01));
    // Crashes happened and were measured: some windows were unavailable.
    assert!(r.time_availability < 1.0 && r.time_availability > 0.99);
    assert!(!r.outages.is_empty());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    println!("peak_rss_kb={}", hwm.trim().trim_end_matches("kB").trim());
}

#[test]
fn a_simulated_year_runs_in_flat_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc/self/status: peak memory is measured on Linux only");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "horizon::year_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak_rss_kb=").nth(1))
        .expect("the child printed its peak")
        .trim()
        .parse()
        .unwrap();
    eprintln!("simulated year: peak resident set {peak} kB");
    assert!(
        peak < PEAK_LIMIT_KB,
        "a simulated year peaked at {peak} kB, over {PEAK_LIMIT_KB} kB"
    );
}
