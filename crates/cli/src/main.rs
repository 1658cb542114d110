//! The `infrasim` command: run, validate and compare scenarios, check SLOs.

mod output;
mod page;
mod timeline;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use infrasim::compare::Seeds;
use infrasim::engine::SimDuration;
use infrasim::shard::{Origin, Shard};
use infrasim::{Check, Report, RunOptions, Scenario};

/// `println!` through [`emit`].
macro_rules! emitln {
    ($($t:tt)*) => {
        emit(&(format!($($t)*) + "\n"))
    };
}

#[derive(Parser)]
#[command(
    name = "infrasim",
    version,
    about = "Deterministic discrete-event simulator of web infrastructure",
    long_about = "Describe clients, load balancers, web/app servers and a primary-replica database in a \
                  scenario file; inject failures; get availability and latency you can reproduce.",
    after_help = "Examples:\n  \
        infrasim run scenarios/01-single-lb.json\n  \
        infrasim run scenarios/01-single-lb.json --seed 7 --replications 10 --json\n  \
        infrasim run scenarios/05-remedied.json --out out/ --check 'availability>=0.999' --check 'p99<=250ms'\n  \
        infrasim validate scenarios/*.json\n  \
        infrasim compare scenarios/01-single-lb.json scenarios/05-remedied.json --replications 20\n  \
        infrasim audit scenarios/01-single-lb.json --crash 60s\n  \
        infrasim sweep grid.json --out sweep/\n  \
        infrasim run x.json --replications 100 --shard-count 8 --partial 'part-{index}.json'\n  \
        infrasim merge part-*.json --out merged/\n\n\
        Exit codes: 0 success, 1 an SLO check failed, 2 bad file or arguments."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its report.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Master seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Replications (overrides the scenario's).
        #[arg(long)]
        replications: Option<u32>,
        /// Measured duration, e.g. 10m (overrides the scenario's).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<SimDuration>,
        /// Print the report as JSON on stdout instead of the summary.
        #[arg(long)]
        json: bool,
        /// Write report.json, report.html (the page: no network needed to view it),
        /// timeseries.csv and timeline.svg into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// SLO assertion, repeatable: 'availability>=0.999', 'write.availability>=0.99',
        /// 'p99<=250ms', 'lost_writes==0'. Exit code 1 if any fails.
        #[arg(long = "check")]
        checks: Vec<String>,
        /// Worker threads for replications (default: all cores; results do not depend on it).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        shard: ShardArgs,
    },
    /// Run a grid sweep (GRID.json: a base scenario, JSON paths into it and their values) and
    /// print its CSV: each point's metrics with 95 % intervals across replications.
    Sweep {
        /// The grid file (docs/sweep.md).
        grid: PathBuf,
        /// Replications of each point (overrides the grid's).
        #[arg(long)]
        replications: Option<u32>,
        /// Master seed (overrides the grid's and the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the JSON (every point's report) instead of the CSV.
        #[arg(long)]
        json: bool,
        /// Write sweep.csv and sweep.json into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores; results do not depend on it).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        shard: ShardArgs,
    },
    /// Merge the partial results of a sharded run or sweep (every shard once) into exactly
    /// what the unsharded command prints and writes.
    Merge {
        /// The parts (files written by --shard or --shard-count), in any order.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// As `run --json` / `sweep --json`.
        #[arg(long)]
        json: bool,
        /// As `run --out` / `sweep --out`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// As `run --check` (a merged run only).
        #[arg(long = "check")]
        checks: Vec<String>,
    },
    /// Check scenario files and report every problem found.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run several scenarios with common random numbers and compare their key metrics.
    Compare {
        /// Scenario files (the first is the baseline).
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        /// Replications per scenario.
        #[arg(long, default_value_t = 10)]
        replications: u32,
        /// Master seed shared by every scenario (default: the first scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Measured duration (overrides the scenarios').
        #[arg(long, value_parser = parse_duration)]
        duration: Option<SimDuration>,
        /// SLO assertion applied to every scenario but the first (the baseline), repeatable.
        #[arg(long = "check")]
        checks: Vec<String>,
        /// Apply the --check assertions to the baseline (the first file) too.
        #[arg(long)]
        check_baseline: bool,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Worker threads.
        #[arg(long)]
        threads: Option<usize>,
        /// Give each scenario its own seeds instead of common random numbers (to see what
        /// common random numbers buy: the differences' intervals widen).
        #[arg(long)]
        independent: bool,
    },
    /// Find the single points of failure: crash each component in turn and rank what it costs.
    Audit {
        /// The scenario file.
        file: PathBuf,
        /// How long each component stays crashed (starting a third into the run).
        #[arg(long, value_parser = parse_duration, default_value = "60s")]
        crash: SimDuration,
        /// Crash the host (nothing answers) instead of the process (connections refused).
        #[arg(long)]
        host: bool,
        /// Replications per variant.
        #[arg(long)]
        replications: Option<u32>,
        /// Master seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Measured duration (overrides the scenario's).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<SimDuration>,
        /// Print the audit as JSON.
        #[arg(long)]
        json: bool,
        /// Also write audit.json and the verdict page report.html to this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Candidate designs (scenario files, typically with the same faults): each is run
        /// against FILE with common random numbers and the remedies are ranked by measured
        /// availability gain.
        #[arg(long, num_args = 1.., value_name = "CANDIDATE")]
        against: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
}

/// Which share of the work this process runs, and where its partial result goes.
#[derive(clap::Args, Clone, Debug, Default)]
struct ShardArgs {
    /// Run only shard K of N (replications, and sweep points, split deterministically) and
    /// write a partial result for `infrasim merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Run one of N shards, its index K from $JOB_COMPLETION_INDEX (a Kubernetes Indexed
    /// Job) or else $SLURM_ARRAY_TASK_ID (a Slurm job array).
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    shard_count: Option<u32>,
    /// Where the partial result goes (default: stdout); `{index}` becomes K.
    #[arg(long, value_name = "PATH")]
    partial: Option<String>,
}

/// The variables batch schedulers set to the index of an array task, in the order read.
const SHARD_INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

impl ShardArgs {
    fn shard(&self) -> Result<Option<Shard>, Failure> {
        if let Some(s) = &self.shard {
            return Ok(Some(s.parse::<Shard>()?));
        }
        let Some(n) = self.shard_count else {
            if self.partial.is_some() {
                return Err(
                    anyhow::anyhow!("--partial needs --shard K/N or --shard-count N").into(),
                );
            }
            return Ok(None);
        };
        for var in SHARD_INDEX_VARS {
            if let Ok(v) = std::env::var(var) {
                let k = v.trim().parse::<u32>().map_err(|_| {
                    anyhow::anyhow!(
                        "${var} is {v:?}: expected a shard index 0 to {}",
                        n.saturating_sub(1)
                    )
                })?;
                return Ok(Some(Shard::new(k, n)?));
            }
        }
        Err(anyhow::anyhow!(
            "--shard-count {n} takes the shard index from $JOB_COMPLETION_INDEX (Kubernetes \
             Indexed Job) or $SLURM_ARRAY_TASK_ID (Slurm job array), and neither is set; \
             give --shard K/{n} instead"
        )
        .into())
    }

    /// Writes a partial result where --partial says.
    fn write(&self, part: &infrasim::shard::Partial) -> Result<(), Failure> {
        let text = serde_json::to_string(part).context("serialising the partial result")? + "\n";
        match &self.partial {
            Some(path) => {
                let path = path.replace("{index}", &part.shard.index.to_string());
                std::fs::write(&path, text).with_context(|| format!("writing {path}"))?;
            }
            None => emit(&text),
        }
        Ok(())
    }
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    s.parse::<SimDuration>().map_err(|e| e.to_string())
}

/// A failure with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 2,
            error: e.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("infrasim: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn load(path: &Path) -> Result<Scenario, Failure> {
    infrasim::scenario::load(path)
        .with_context(|| format!("in scenario {}", path.display()))
        .map_err(Failure::from)
}

fn parse_checks(exprs: &[String]) -> Result<Vec<Check>, Failure> {
    exprs
        .iter()
        .map(|e| {
            e.parse::<Check>().map_err(|reason| {
                Failure::from(anyhow::anyhow!("bad --check {e:?}: {reason}; expected e.g. 'availability>=0.999' or 'p99<=250ms'"))
            })
        })
        .collect()
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Run {
            file,
            seed,
            replications,
            duration,
            json,
            out,
            checks,
            threads,
            shard,
        } => {
            let opts = RunOptions {
                seed,
                replications,
                duration,
                threads,
                ..RunOptions::default()
            };
            match shard.shard()? {
                Some(k) => {
                    refuse_outputs_with_shard(json, out.is_some(), !checks.is_empty())?;
                    let scenario = load(&file)?;
                    let origin = Origin::Run {
                        file: file.display().to_string(),
                    };
                    let label = format!("simulating {} (shard {k})", scenario.name);
                    let part = with_progress(&label, &opts, |opts| {
                        infrasim::shard::run_shard(origin, std::slice::from_ref(&scenario), opts, k)
                    })?;
                    shard.write(&part)?;
                    Ok(0)
                }
                None => run(&file, &opts, json, out.as_deref(), &checks),
            }
        }
        Command::Sweep {
            grid,
            replications,
            seed,
            json,
            out,
            threads,
            shard,
        } => {
            let opts = RunOptions {
                seed,
                replications,
                threads,
                ..RunOptions::default()
            };
            sweep(&grid, &opts, json, out.as_deref(), &shard)
        }
        Command::Merge {
            parts,
            json,
            out,
            checks,
        } => merge(&parts, json, out.as_deref(), &checks),
        Command::Validate { files } => Ok(validate(&files)),
        Command::Compare {
            files,
            replications,
            seed,
            duration,
            checks,
            check_baseline,
            json,
            threads,
            independent,
        } => {
            let opts = RunOptions {
                seed,
                replications: Some(replications),
                duration,
                threads,
                ..RunOptions::default()
            };
            let seeds = if independent {
                Seeds::Independent
            } else {
                Seeds::Common
            };
            compare(&files, &opts, seeds, &checks, check_baseline, json)
        }
        Command::Audit {
            file,
            crash,
            host,
            replications,
            seed,
            duration,
            json,
            out,
            against,
        } => {
            let opts = RunOptions {
                seed,
                replications,
                duration,
                ..RunOptions::default()
            };
            let outputs = AuditOutputs {
                json,
                out: out.as_deref(),
                against: &against,
            };
            audit(&file, crash, host, &opts, &outputs)
        }
        Command::Schema => {
            emit(&(infrasim::scenario::schema_json() + "\n"));
            Ok(0)
        }
    }
}

/// `infrasim run`: the report (summary or JSON), the output files, the SLO checks.
fn run(
    file: &Path,
    opts: &RunOptions,
    json: bool,
    out: Option<&Path>,
    checks: &[String],
) -> Result<u8, Failure> {
    let mut check_list = parse_checks(checks)?;
    let scenario = load(file)?;
    check_list.extend(parse_checks(&scenario.slos)?);
    let label = format!("simulating {}", scenario.name);
    let report = with_progress(&label, opts, |opts| infrasim::run_with(&scenario, opts))?;
    print_run(&report, file, check_list, json, out)
}

/// What `run` prints and writes for a report (and `merge` for a merged run).
fn print_run(
    report: &Report,
    file: &Path,
    check_list: Vec<Check>,
    json: bool,
    out: Option<&Path>,
) -> Result<u8, Failure> {
    if let Some(dir) = out {
        write_outputs(dir, report, file)?;
    }
    let results: Vec<_> = check_list.iter().map(|c| c.evaluate(report)).collect();
    if json {
        emitln!(
            "{}",
            serde_json::to_string_pretty(report).context("serialising the report")?
        );
    } else {
        emit(&output::summary(report, file));
        if let Some(dir) = out {
            emitln!(
                "wrote {}/report.json, report.html, timeseries.csv, timeline.svg",
                dir.display()
            );
        }
    }
    Ok(report_checks(&results, json))
}

fn refuse_outputs_with_shard(json: bool, out: bool, checks: bool) -> Result<(), Failure> {
    if json || out || checks {
        return Err(anyhow::anyhow!(
            "a shard writes a partial result (--partial); give --json, --out and --check to \
             `infrasim merge`"
        )
        .into());
    }
    Ok(())
}

/// A grid file and its base scenario's JSON.
fn load_grid(path: &Path) -> Result<(infrasim::sweep::Grid, serde_json::Value), Failure> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let grid: infrasim::sweep::Grid = serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow::anyhow!("{}: at {}: {}", path.display(), e.path(), e.inner()))?;
    let base_path = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&grid.scenario);
    let base_text = std::fs::read_to_string(&base_path)
        .with_context(|| format!("reading the grid's scenario {}", base_path.display()))?;
    let base: serde_json::Value = serde_json::from_str(&base_text)
        .with_context(|| format!("in scenario {}", base_path.display()))?;
    Ok((grid, base))
}

fn sweep(
    path: &Path,
    opts: &RunOptions,
    json: bool,
    out: Option<&Path>,
    shard: &ShardArgs,
) -> Result<u8, Failure> {
    let (grid, base) = load_grid(path)?;
    let k = shard.shard()?;
    if let Some(k) = k {
        refuse_outputs_with_shard(json, out.is_some(), false)?;
        let scenarios = grid
            .scenarios(&base)
            .with_context(|| format!("in grid {}", path.display()))?;
        let origin = Origin::Sweep {
            file: path.display().to_string(),
            grid: grid.clone(),
        };
        let opts = grid.options(opts);
        let part = with_progress(&format!("sweeping (shard {k})"), &opts, |opts| {
            infrasim::shard::run_shard(origin, &scenarios, opts, k)
        })?;
        shard.write(&part)?;
        return Ok(0);
    }
    let result = with_progress("sweeping", opts, |opts| {
        infrasim::sweep::run_grid(&grid, &base, opts)
    })
    .map_err(|f| Failure {
        code: f.code,
        error: f.error.context(format!("in grid {}", path.display())),
    })?;
    print_sweep(&result, json, out)
}

/// What `sweep` prints and writes (and `merge` for a merged sweep).
fn print_sweep(
    result: &infrasim::sweep::GridSweep,
    json: bool,
    out: Option<&Path>,
) -> Result<u8, Failure> {
    let csv = result.csv();
    let json_text =
        serde_json::to_string_pretty(&result.json()).context("serialising the sweep")? + "\n";
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("sweep.csv"), &csv)
            .with_context(|| format!("writing {}/sweep.csv", dir.display()))?;
        std::fs::write(dir.join("sweep.json"), &json_text)
            .with_context(|| format!("writing {}/sweep.json", dir.display()))?;
    }
    if json {
        emit(&json_text);
    } else {
        emit(&csv);
    }
    Ok(0)
}

fn merge(
    parts: &[PathBuf],
    json: bool,
    out: Option<&Path>,
    checks: &[String],
) -> Result<u8, Failure> {
    let mut loaded = Vec::with_capacity(parts.len());
    for p in parts {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let part: infrasim::shard::Partial = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a partial result of infrasim --shard",
                p.display()
            )
        })?;
        loaded.push(part);
    }
    let scenarios = loaded[0].scenarios.clone();
    let (origin, reports) = infrasim::shard::merge(&loaded)?;
    match origin {
        Origin::Run { file } => {
            let mut check_list = parse_checks(checks)?;
            check_list.extend(parse_checks(&scenarios[0].slos)?);
            print_run(&reports[0], Path::new(&file), check_list, json, out)
        }
        Origin::Sweep { grid, .. } => {
            if !checks.is_empty() {
                return Err(anyhow::anyhow!("--check applies to a merged run, not a sweep").into());
            }
            print_sweep(&infrasim::sweep::grid_result(&grid, reports), json, out)
        }
    }
}

/// `infrasim validate`: each file OK or its problems; exit code 2 if any is bad.
fn validate(files: &[PathBuf]) -> u8 {
    let mut bad = 0;
    for f in files {
        match infrasim::scenario::load(f) {
            Ok(_) => emitln!("{}: OK", f.display()),
            Err(e) => {
                bad += 1;
                emitln!("{}: {e}", f.display());
            }
        }
    }
    if bad > 0 { 2 } else { 0 }
}

/// `infrasim compare`: every scenario with the same seed and replications (the first
/// scenario's seed unless given; each its own with `--independent`), side by side, and each
/// one's difference from the first; the checks apply to all but the baseline unless asked.
fn compare(
    files: &[PathBuf],
    opts: &RunOptions,
    seeds: Seeds,
    checks: &[String],
    check_baseline: bool,
    json: bool,
) -> Result<u8, Failure> {
    let check_list = parse_checks(checks)?;
    let scenarios = files
        .iter()
        .map(|f| load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let comparison = with_progress("simulating", opts, |opts| {
        infrasim::compare::compare(&scenarios, opts, seeds)
    })?;
    let reports = &comparison.reports;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    if json {
        let v: Vec<_> = names
            .iter()
            .zip(reports)
            .zip(&comparison.differences)
            .map(|((n, r), d)| serde_json::json!({"file": n, "report": r, "difference": d}))
            .collect();
        emitln!(
            "{}",
            serde_json::to_string_pretty(&v).context("serialising")?
        );
    } else {
        emit(&output::comparison(&names, &comparison, seeds));
    }
    let mut code = 0;
    let skip = usize::from(!check_baseline);
    for (n, r) in names.iter().zip(reports).skip(skip) {
        let results: Vec<_> = check_list.iter().map(|c| c.evaluate(r)).collect();
        if !results.is_empty() && !json {
            emitln!("checks for {n}:");
        }
        code = code.max(report_checks(&results, json));
    }
    Ok(code)
}

/// `infrasim audit`: each component crashed in turn.
fn audit(
    file: &Path,
    crash: SimDuration,
    host: bool,
    opts: &RunOptions,
    outputs: &AuditOutputs<'_>,
) -> Result<u8, Failure> {
    let AuditOutputs { json, out, against } = *outputs;
    let scenario = load(file)?;
    let candidates = against
        .iter()
        .map(|f| load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = if host {
        infrasim::scenario::CrashMode::Host
    } else {
        infrasim::scenario::CrashMode::Process
    };
    let mut audit = with_progress("auditing", opts, |opts| {
        infrasim::audit::audit(&scenario, crash, mode, opts)
    })?;
    audit.remedies = with_progress("running the candidates", opts, |opts| {
        infrasim::audit::remedies(&scenario, &candidates, opts)
    })?;
    let text = serde_json::to_string_pretty(&audit).context("serialising the audit")? + "\n";
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_file(dir, "audit.json", text.clone())?;
        let page = page::audit(&scenario.name, &file.display().to_string(), crash, &audit);
        write_file(dir, "report.html", page)?;
    }
    if json {
        emit(&text);
    } else {
        emit(&output::audit(&scenario.name, crash, &audit));
        if let Some(dir) = out {
            emitln!("wrote {}/audit.json, report.html", dir.display());
        }
    }
    Ok(0)
}

/// Where `infrasim audit` writes, and the designs it ranks against the audited one.
struct AuditOutputs<'a> {
    json: bool,
    out: Option<&'a Path>,
    against: &'a [PathBuf],
}

/// Writes to stdout; a closed pipe (`infrasim … | head`) ends the program quietly, as Unix
/// tools do, instead of panicking.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("infrasim: writing to stdout: {e}");
        std::process::exit(2);
    }
}

/// Prints each check's result; returns 1 if any failed.
fn report_checks(results: &[infrasim::CheckResult], quiet_pass: bool) -> u8 {
    let mut code = 0;
    for r in results {
        let actual = r
            .actual
            .map_or("missing".to_string(), |a| format!("{a:.6}"));
        if r.passed {
            if !quiet_pass {
                emitln!("check passed: {} (actual {actual})", r.check);
            }
        } else {
            code = 1;
            eprintln!("check FAILED: {} (actual {actual})", r.check);
        }
    }
    code
}

/// Writes `contents` to `dir/name`, saying which file when it cannot.
fn write_file(dir: &Path, name: &str, contents: String) -> Result<(), Failure> {
    std::fs::write(dir.join(name), contents)
        .with_context(|| format!("writing {}/{name}", dir.display()))?;
    Ok(())
}

fn write_outputs(dir: &Path, report: &Report, file: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report).context("serialising the report")?;
    write_file(dir, "report.json", json + "\n")?;
    write_file(
        dir,
        "report.html",
        page::run(report, &file.display().to_string()),
    )?;
    if let Some(ts) = &report.timeseries {
        write_file(dir, "timeseries.csv", timeline::csv(ts))?;
        write_file(dir, "timeline.svg", timeline::svg(ts, &report.scenario))?;
    }
    Ok(())
}

/// Runs `f` with `opts` plus a progress counter and, when it takes more than about a
/// second and stderr is a terminal, shows a progress bar on stderr (simulated time done over
/// every replication).
fn with_progress<T>(
    label: &str,
    opts: &RunOptions,
    f: impl FnOnce(&RunOptions) -> Result<T, infrasim::Error>,
) -> Result<T, Failure> {
    let progress = Arc::new(infrasim::Progress::new());
    let opts = RunOptions {
        progress: Some(progress.clone()),
        ..opts.clone()
    };
    let done = AtomicBool::new(false);
    let show = std::io::stderr().is_terminal();
    let out = std::thread::scope(|scope| {
        if show {
            scope.spawn(|| progress_bar(label, &progress, &done));
        }
        let out = f(&opts);
        done.store(true, Ordering::Relaxed);
        out
    });
    Ok(out?)
}

/// Draws the progress bar until `done`, once a second has passed.
fn progress_bar(label: &str, progress: &infrasim::Progress, done: &AtomicBool) {
    let start = std::time::Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if bar.is_none() && start.elapsed() >= std::time::Duration::from_secs(1) {
            let pb = indicatif::ProgressBar::new(1000);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {percent:>3}% {elapsed}/{eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_message(label.to_string());
            bar = Some(pb);
        }
        if let Some(pb) = &bar {
            pb.set_position((progress.fraction() * 1000.0) as u64);
        }
    }
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
}
