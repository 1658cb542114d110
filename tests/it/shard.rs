//! Sharding and sweeps: `run --shard`, `sweep --shard` and `merge` give byte for byte what
//! the unsharded commands give, for every shipped scenario at 1, 2 and 5 shards, each
//! shard a separate process that finds its index as a batch system gives it
//! (`--shard K/N`, `$JOB_COMPLETION_INDEX`, `$SLURM_ARRAY_TASK_ID`); parts that do not make
//! one whole are refused with a message saying why; a grid sweep runs its points with
//! common random numbers and reports confidence intervals per point.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{root, scenario_files};

/// Replications of the sharded runs: enough for confidence intervals, few enough to run
/// every shipped scenario four times.
const REPS: &str = "2";

fn infrasim(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infrasim"));
    c.args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("infrasim runs")
}

fn ok(o: Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "infrasim failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("infrasim-shard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `n` shards of `cmd` (`run FILE --replications R` or `sweep GRID`) as separate
/// processes into `dir`; the shard index comes from `--shard K/N` with one shard, from
/// `$JOB_COMPLETION_INDEX` with 2, from `$SLURM_ARRAY_TASK_ID` otherwise.
fn shards(cmd: &[&str], n: u32, dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let pattern = dir.join("part-{index}.json").display().to_string();
    let count = n.to_string();
    for k in 0..n {
        let mut args = cmd.to_vec();
        let (env, explicit) = match n {
            1 => (vec![], format!("{k}/{n}")),
            2 => (vec![("JOB_COMPLETION_INDEX", k.to_string())], String::new()),
            _ => (vec![("SLURM_ARRAY_TASK_ID", k.to_string())], String::new()),
        };
        if explicit.is_empty() {
            args.extend(["--shard-count", &count]);
        } else {
            args.extend(["--shard", &explicit]);
        }
        args.extend(["--partial", &pattern]);
        ok(infrasim(&args, &env));
    }
    (0..n)
        .map(|k| dir.join(format!("part-{k}.json")).display().to_string())
        .collect()
}

/// The same exit code, stdout and stderr.
fn same(a: &Output, b: &Output) -> bool {
    a.status.code() == b.status.code() && a.stdout == b.stdout && a.stderr == b.stderr
}

fn merge(parts: &[String], extra: &[&str]) -> Output {
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(extra);
    infrasim(&args, &[])
}

#[test]
fn merged_shards_give_the_unsharded_report_byte_for_byte_for_every_shipped_scenario() {
    for file in scenario_files() {
        let f = file.display().to_string();
        let run = ["run", f.as_str(), "--replications", REPS];
        // A scenario's own SLOs may fail (exit code 1): the merge must say the same.
        let whole_json = infrasim(&[&run[..], &["--json"]].concat(), &[]);
        let whole_text = infrasim(&run, &[]);
        assert!(whole_text.status.code().is_some_and(|c| c < 2), "{f}");
        for n in [1, 2, 5] {
            let dir = tmp(&format!("{}-{n}", file.file_stem().unwrap().display()));
            let parts = shards(&run, n, &dir);
            let merged_json = merge(&parts, &["--json"]);
            assert!(
                same(&merged_json, &whole_json),
                "{f}, {n} shards: the merged JSON report differs from the unsharded one"
            );
            let merged_text = merge(&parts, &[]);
            assert!(
                same(&merged_text, &whole_text),
                "{f}, {n} shards: the merged summary differs from the unsharded one"
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn a_merged_run_writes_the_same_files_and_checks_the_same_slos() {
    // 10b has monitoring: its alerts reach the CSV (`alerts_fired`, `pages`), the SVG
    // and the report's `operations` from the first replication's summary alone.
    for (name, code) in [("05-remedied", 1), ("10b-remedied-monitoring-defaults", 0)] {
        let f = root()
            .join(format!("scenarios/{name}.json"))
            .display()
            .to_string();
        // Both write into the same directory (its name is in the summary), one after the other.
        let base = tmp(&format!("files-{name}"));
        let (out, whole) = (base.join("out"), base.join("whole"));
        let out_arg = out.display().to_string();
        let check = ["--check", "availability>=0.9999999"];
        let run = ["run", f.as_str(), "--replications", "3"];
        let w = infrasim(&[&run[..], &["--out", &out_arg], &check].concat(), &[]);
        assert_eq!(w.status.code(), Some(code), "{name}: the check's exit code");
        std::fs::rename(&out, &whole).unwrap();
        let parts = shards(&run, 2, &base.join("parts"));
        let m = merge(&parts, &[&["--out", out_arg.as_str()][..], &check].concat());
        assert!(
            same(&w, &m),
            "{name}: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        let merged = out;
        for file in [
            "report.json",
            "report.html",
            "timeseries.csv",
            "timeline.svg",
        ] {
            let a = std::fs::read(whole.join(file)).unwrap();
            let b = std::fs::read(merged.join(file)).unwrap();
            assert!(a == b, "{name}: {file} differs");
        }
        if code == 0 {
            let csv = std::fs::read_to_string(whole.join("timeseries.csv")).unwrap();
            assert!(csv.lines().next().unwrap().ends_with(",alerts_fired,pages"));
            let report = std::fs::read_to_string(whole.join("report.json")).unwrap();
            assert!(report.contains("\"operations\""));
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}

/// Parts that do not make one whole: the merge exits 2 and says why.
#[test]
fn merge_refuses_parts_that_do_not_belong_together() {
    let dir = tmp("mismatch");
    let one = root()
        .join("scenarios/01-single-lb.json")
        .display()
        .to_string();
    let two = root()
        .join("scenarios/02-active-active-app.json")
        .display()
        .to_string();
    let part = |file: &str, shard: &str, extra: &[&str], name: &str| {
        let path = dir.join(name).display().to_string();
        let mut args = vec!["run", file, "--duration", "30s"];
        if !extra.contains(&"--replications") {
            args.extend(["--replications", "2"]);
        }
        args.extend(extra);
        args.extend(["--shard", shard, "--partial", &path]);
        ok(infrasim(&args, &[]));
        path
    };
    let a0 = part(&one, "0/2", &[], "a0.json");
    let a1 = part(&one, "1/2", &[], "a1.json");
    let b1 = part(&two, "1/2", &[], "b1.json");
    let seed1 = part(&one, "1/2", &["--seed", "99"], "seed1.json");
    let reps1 = part(&one, "1/2", &["--replications", "4"], "reps1.json");
    let c1 = part(&one, "1/3", &[], "c1.json");
    let cases: [(&[&String], &str); 6] = [
        (&[&a0, &b1], "scenario"),
        (&[&a0, &seed1], "seed"),
        (&[&a0, &reps1], "replications"),
        (&[&a0, &c1], "shards"),
        (&[&a0], "shard 1/2 is missing"),
        (&[&a0, &a0, &a1], "given 2 times"),
    ];
    for (parts, why) in cases {
        let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        let o = merge(&parts, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{why}: {err}");
        assert!(
            err.contains("cannot merge") && err.contains(why),
            "{why}: {err}"
        );
    }
    // Something that is not a part at all.
    let o = merge(std::slice::from_ref(&one), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a partial result"));
    // The whole set merges.
    ok(merge(&[a1, a0], &[]));
}

#[test]
fn shard_count_without_a_scheduler_index_is_an_error() {
    let f = root()
        .join("scenarios/01-single-lb.json")
        .display()
        .to_string();
    let o = infrasim(&["run", &f, "--shard-count", "4"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("JOB_COMPLETION_INDEX") && err.contains("SLURM_ARRAY_TASK_ID"));
    let o = infrasim(
        &["run", &f, "--shard-count", "4"],
        &[("SLURM_ARRAY_TASK_ID", "4".into())],
    );
    assert_eq!(o.status.code(), Some(2), "index 4 of 4 shards");
    let o = infrasim(&["run", &f, "--shard", "2/2"], &[]);
    assert_eq!(o.status.code(), Some(2), "index 2 of 2 shards");
}

fn write_grid(dir: &Path) -> PathBuf {
    let base = root().join("scenarios/02-active-active-app.json");
    let grid = serde_json::json!({
        "scenario": base.display().to_string(),
        "replications": 3,
        "parameters": [
            { "path": "load_balancers[0].check.inter", "values": ["500ms", "3s"] },
            { "path": "window_threshold", "values": [0.95] }
        ],
        "metrics": ["availability", "time_availability", "requests.offered"]
    });
    let path = dir.join("grid.json");
    std::fs::write(&path, grid.to_string()).unwrap();
    path
}

#[test]
fn a_sharded_sweep_merges_into_the_unsharded_csv_and_json() {
    let dir = tmp("sweep");
    let grid = write_grid(&dir);
    let g = grid.display().to_string();
    let whole = dir.join("whole");
    let csv = ok(infrasim(
        &["sweep", &g, "--out", &whole.display().to_string()],
        &[],
    ));
    let text = String::from_utf8(csv.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "load_balancers[0].check.inter,window_threshold,availability,availability_ci_low,\
         availability_ci_high,time_availability,time_availability_ci_low,\
         time_availability_ci_high,requests.offered,requests.offered_ci_low,\
         requests.offered_ci_high"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("500ms,0.95,"));
    for n in [2, 5] {
        let parts = shards(&["sweep", &g], n, &dir.join(format!("parts{n}")));
        let merged = dir.join(format!("merged{n}"));
        let out = ok(merge(&parts, &["--out", &merged.display().to_string()]));
        assert!(out == csv, "{n} shards: merged CSV differs");
        for name in ["sweep.csv", "sweep.json"] {
            let a = std::fs::read(whole.join(name)).unwrap();
            let b = std::fs::read(merged.join(name)).unwrap();
            assert!(a == b, "{n} shards: {name} differs");
        }
    }
    // A sweep's parts and a run's parts do not merge.
    let sweep_part = shards(&["sweep", &g], 1, &dir.join("one"));
    let f = root()
        .join("scenarios/02-active-active-app.json")
        .display()
        .to_string();
    let run_part = shards(&["run", &f], 1, &dir.join("run"));
    let o = merge(&[sweep_part[0].clone(), run_part[0].clone()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sweep"));
}

#[test]
fn a_grid_sweep_uses_common_random_numbers_and_gives_intervals_per_point() {
    let dir = tmp("crn");
    let grid_path = write_grid(&dir);
    let grid: infrasim::sweep::Grid =
        serde_json::from_str(&std::fs::read_to_string(&grid_path).unwrap()).unwrap();
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("scenarios/02-active-active-app.json")).unwrap(),
    )
    .unwrap();
    let opts = infrasim::RunOptions::default();
    let result = infrasim::sweep::run_grid(&grid, &base, &opts).unwrap();
    assert_eq!(result.points.len(), 2);
    let (fast, slow) = (&result.points[0].report, &result.points[1].report);
    // The check interval does not touch the clients: the same requests arrive at both points.
    assert_eq!(fast.requests.offered, slow.requests.offered);
    assert_eq!(fast.replicates["throughput_per_s"].len(), 3);
    // A slower check notices the crash later: more requests fail.
    assert!(fast.requests.failed_total() < slow.requests.failed_total());
    for p in &result.points {
        let ci = &p.report.confidence["availability"];
        assert!(ci.low <= ci.mean && ci.mean <= ci.high);
    }
    // The library's sweep with the same scenarios is the same run.
    let mut s =
        infrasim::scenario::load(root().join("scenarios/02-active-active-app.json")).unwrap();
    s.replications = 3;
    s.window_threshold = 0.95;
    let points = infrasim::sweep::sweep(
        &s,
        &["500ms", "3s"],
        |s, inter| s.load_balancers[0].check.inter = inter.parse().unwrap(),
        &opts,
    )
    .unwrap();
    for (a, b) in points.iter().zip(&result.points) {
        assert_eq!(
            crate::util::to_json(&a.report),
            crate::util::to_json(&b.report)
        );
    }
}

#[test]
fn a_bad_grid_names_the_point_and_the_path() {
    let dir = tmp("bad-grid");
    let base = root().join("scenarios/02-active-active-app.json");
    let cases = [
        (
            serde_json::json!({ "scenario": base, "parameters": [
                { "path": "load_balancers[0].check.inter", "values": ["0s"] } ] }),
            "load_balancers[0].check.inter",
        ),
        (
            serde_json::json!({ "scenario": base, "parameters": [
                { "path": "app_servers[9].workers", "values": [2] } ] }),
            "out of range",
        ),
        (
            serde_json::json!({ "scenario": base, "parametres": [] }),
            "parametres",
        ),
    ];
    for (grid, expect) in cases {
        let path = dir.join("g.json");
        std::fs::write(&path, grid.to_string()).unwrap();
        let o = infrasim(&["sweep", &path.display().to_string()], &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{expect}: {err}");
    }
}
