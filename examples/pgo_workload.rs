//! Example: the training workload of a profile-guided build (`scripts/pgo`).
//!
//! Runs every scenario file given on the command line through the library, as embedding code
//! does, and prints one line per scenario. `scripts/pgo bench` builds this example
//! instrumented, runs it on the shipped scenarios (`scenarios/*.json`, not the benches'
//! own scenarios) and feeds the recorded branch and call counts back to the compiler for
//! the benches. An example rather than the command-line tool: examples and benches link the
//! same build of the library (dev-dependencies unify features, which changes the library's
//! symbol names and so which profile entries match), so the profile recorded here applies
//! function for function to `cargo bench`.
//!
//! Run: `cargo run --release --example pgo_workload -- scenarios/*.json`

use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: pgo_workload SCENARIO.json...");
        return ExitCode::from(2);
    }
    for path in &paths {
        let report = match infrasim::scenario::load(path).and_then(|s| infrasim::run(&s)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::from(2);
            }
        };
        let r = &report.requests;
        // Every offered request ends exactly once: a run that breaks the law is no
        // workload to train the compiler on.
        assert_eq!(
            r.offered,
            r.succeeded + r.failed_total() + r.in_flight,
            "{path}: requests not conserved"
        );
        println!(
            "{path}: {} offered, availability {:.4}",
            r.offered, report.availability
        );
    }
    ExitCode::SUCCESS
}
