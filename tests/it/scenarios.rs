//! End-to-end checks of every shipped scenario (`scenarios/*.json`):
//!
//! * it parses and validates, and it also validates against the JSON Schema printed by
//!   `infrasim schema` (so the schema and the parser agree on the shipped files);
//! * it runs, twice, and both reports serialize to byte-identical JSON (determinism);
//! * every request is accounted for: per class and in total,
//!   `offered == succeeded + Σ failed + in_flight`;
//! * with three replications the report is the same on one thread and on every core;
//! * the report matches the golden file `tests/golden/<name>.json` byte for byte, and the
//!   three-replication report (its confidence intervals included) matches
//!   `tests/golden/replications/<name>.json`.
//!
//! Regenerate the golden files after an intended change of the model or the report with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --release --test it scenarios
//! ```
//!
//! and review the diff (`git diff tests/golden`) before committing it. Runs take seconds in
//! release and minutes unoptimised, so the running tests are ignored in debug builds; CI runs
//! `cargo test --workspace --release`.

use std::path::Path;

use infrasim::{RunOptions, Scenario};
use rayon::prelude::*;

use crate::util::{assert_conservation, root, scenario_files, to_json};

/// The seed topologies of the design brief: each must exist as a scenario file.
const SEED_SCENARIOS: [&str; 6] = [
    "01-single-lb",
    "01b-lb-pair-active-passive",
    "02-active-active-app",
    "03-backup-server",
    "04-three-tier",
    "05-remedied",
];

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

fn load(path: &Path) -> Scenario {
    infrasim::scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first line where two texts differ, for a short failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (None, None) => return "no difference in lines (line endings?)".into(),
            (x, y) => {
                return format!(
                    "first difference at line {line}:\n  golden: {}\n  actual: {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                );
            }
        }
    }
}

fn updating_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with `tests/golden/<name>.json` (or rewrites it with `UPDATE_GOLDEN=1`).
/// Returns a description of the mismatch, if any.
fn check_golden(name: &str, actual: &str) -> Option<String> {
    let path = root().join("tests/golden").join(format!("{name}.json"));
    let actual = format!("{actual}\n");
    if updating_golden() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create tests/golden");
        std::fs::write(&path, &actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return None;
    }
    match std::fs::read_to_string(&path) {
        Err(e) => Some(format!(
            "{name}: cannot read golden file {} ({e}); create it with \
             UPDATE_GOLDEN=1 cargo test --release --test it scenarios",
            path.display()
        )),
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{name}: report differs from {}; {}\n  (if the change is intended: \
             UPDATE_GOLDEN=1 cargo test --release --test it scenarios, then review the diff)",
            path.display(),
            first_difference(&expected, &actual)
        )),
    }
}

#[test]
fn the_seed_topologies_exist() {
    let names: Vec<String> = scenario_files().iter().map(|p| stem(p)).collect();
    for seed in SEED_SCENARIOS {
        assert!(
            names.iter().any(|n| n == seed),
            "scenarios/{seed}.json is missing"
        );
    }
}

#[test]
fn every_scenario_validates_and_says_what_it_shows() {
    for path in scenario_files() {
        let s = load(&path);
        let name = stem(&path);
        assert_eq!(
            s.name,
            name,
            "{}: `name` should be the file name",
            path.display()
        );
        assert!(
            s.description.len() >= 80,
            "{}: the description should say what the scenario shows",
            path.display()
        );
        assert!(
            !s.faults.is_empty() || !s.attacks.is_empty(),
            "{}: a shipped scenario injects at least one fault or attack",
            path.display()
        );
        // Serializing and parsing again gives the same scenario.
        let text = serde_json::to_string(&s).expect("a scenario serializes");
        let again = infrasim::scenario::parse(&text)
            .unwrap_or_else(|e| panic!("{}: does not round-trip: {e}", path.display()));
        assert_eq!(again, s, "{}: round trip changed it", path.display());
    }
}

#[test]
fn every_scenario_validates_against_the_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&infrasim::scenario::schema_json()).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).expect("readable");
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    // The schema is strict too: a misspelt key is rejected, as the parser rejects it.
    let mut value: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("scenarios/01-single-lb.json")).expect("readable"),
    )
    .expect("JSON");
    value["load_balancers"][0]["servers"][0]["wieght"] = 2.into();
    assert!(
        !validator.is_valid(&value),
        "the schema accepts an unknown key"
    );
}

/// Runs every scenario (twice), checks determinism, conservation and the golden report.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow unoptimised: cargo test --release")]
fn every_scenario_runs_deterministically_and_matches_its_golden_report() {
    let problems: Vec<String> = scenario_files()
        .par_iter()
        .map(|path| {
            let name = stem(path);
            let s = load(path);
            let first = infrasim::run(&s).unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
            let second = infrasim::run(&s).unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
            assert_conservation(&name, &first);
            let (a, b) = (to_json(&first), to_json(&second));
            assert!(
                a == b,
                "{name}: two runs differ: {}",
                first_difference(&a, &b)
            );
            assert!(
                a.len() < 16 * 1024,
                "{name}: the report is {} bytes; keep golden files small",
                a.len()
            );
            check_golden(&name, &a)
        })
        .flatten()
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// No golden file is left behind for a scenario that no longer exists.
#[test]
fn every_golden_file_has_a_scenario() {
    let names: Vec<String> = scenario_files().iter().map(|p| stem(p)).collect();
    let dir = root().join("tests/golden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("directory entry").path();
        if p.extension().is_some_and(|x| x == "json") {
            let n = stem(&p);
            assert!(
                names.contains(&n),
                "{} has no scenarios/{n}.json: delete it",
                p.display()
            );
        }
    }
}

/// With replications, the report does not depend on the number of threads, and it matches its
/// golden file: the confidence intervals (Student-t quantiles included) are pinned too.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow unoptimised: cargo test --release")]
fn replications_give_the_same_report_on_one_thread_and_on_all() {
    let mut problems = Vec::new();
    for path in scenario_files() {
        let name = stem(&path);
        let s = load(&path);
        let opts = |threads| RunOptions {
            replications: Some(3),
            threads,
            ..RunOptions::default()
        };
        let one = infrasim::run_with(&s, &opts(Some(1)))
            .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
        let all = infrasim::run_with(&s, &opts(None))
            .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
        assert_eq!(one.replications, 3, "{name}");
        assert_conservation(&name, &one);
        let (a, b) = (to_json(&one), to_json(&all));
        assert!(
            a == b,
            "{name}: 1 thread vs all threads: {}",
            first_difference(&a, &b)
        );
        if let Some(problem) = check_golden(&format!("replications/{name}"), &a) {
            problems.push(problem);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
