//! Bad scenario files get an error naming the JSON path, what was found and what was expected
//! — never a panic, never a silent default. Each test starts from a small valid scenario,
//! breaks one thing (or several) and checks the exact path and the key words of the message.
//! The last tests run the `infrasim` binary and check its exit codes: 2 for a bad file or bad
//! arguments, 1 when an SLO check fails, 0 otherwise.

use std::path::PathBuf;
use std::process::{Command, Output};

use infrasim::{Error, ScenarioError};
use serde_json::{Value, json};

use crate::util::scenario_files;

/// A small valid scenario: one LB, two app servers, a primary and a replica.
fn base() -> Value {
    json!({
        "name": "errors-base",
        "duration": "10s",
        "clients": {
            "target": "lb",
            "arrival": { "poisson": { "rate": "100/s" } }
        },
        "load_balancers": [
            { "name": "lb", "servers": [ { "server": "app1" }, { "server": "app2" } ] }
        ],
        "app_servers": [ { "name": "app1" }, { "name": "app2" } ],
        "databases": [
            {
                "name": "mysql",
                "primary": { "name": "db1" },
                "replicas": [ { "name": "db2" } ]
            }
        ],
        "faults": [ { "crash": { "target": "app1", "at": "5s", "duration": "2s" } } ],
        "slos": [ "availability>=0.9" ]
    })
}

fn parse(v: &Value) -> Result<infrasim::Scenario, Error> {
    infrasim::scenario::parse(&serde_json::to_string_pretty(v).expect("serializes"))
}

/// Expects a parse error (syntax, unknown key, wrong type) at `path` whose message contains
/// every one of `words`.
fn expect_parse_error(text: &str, path: &str, words: &[&str]) -> (usize, usize) {
    match infrasim::scenario::parse(text) {
        Err(Error::Parse {
            path: p,
            message,
            line,
            column,
        }) => {
            assert_eq!(p, path, "wrong path; message: {message}");
            for w in words {
                assert!(
                    message.contains(w),
                    "message {message:?} lacks {w:?} (path {p})"
                );
            }
            assert!(line >= 1 && column >= 1, "line {line} column {column}");
            (line, column)
        }
        Err(e) => panic!("expected a parse error at {path}, got: {e}"),
        Ok(_) => panic!("expected a parse error at {path}, but it parsed"),
    }
}

/// Every validation error.
fn invalid(v: &Value) -> Vec<ScenarioError> {
    match parse(v) {
        Err(Error::Invalid(errors)) => {
            assert!(!errors.is_empty());
            errors
        }
        Err(e) => panic!("expected validation errors, got: {e}"),
        Ok(_) => panic!("expected validation errors, but it is valid"),
    }
}

/// Expects exactly one validation error, at `path`, whose `found` and `expected` contain the
/// given words.
fn expect_invalid(v: &Value, path: &str, found: &[&str], expected: &[&str]) {
    let errors = invalid(v);
    assert_eq!(
        errors.len(),
        1,
        "expected one error at {path}, got: {errors:#?}"
    );
    assert_error(&errors[0], path, found, expected);
}

fn assert_error(e: &ScenarioError, path: &str, found: &[&str], expected: &[&str]) {
    assert_eq!(e.path, path, "wrong path in {e}");
    for w in found {
        assert!(e.found.contains(w), "found {:?} lacks {w:?} ({e})", e.found);
    }
    for w in expected {
        assert!(
            e.expected.contains(w),
            "expected {:?} lacks {w:?} ({e})",
            e.expected
        );
    }
    // The Display form carries all three parts.
    let shown = e.to_string();
    assert!(shown.starts_with(path) && shown.contains("found") && shown.contains("expected"));
}

#[test]
fn the_base_scenario_is_valid() {
    parse(&base()).expect("the base scenario is valid");
}

/// The network's pair tables bound the number of components: one too many is named.
#[test]
fn too_many_components() {
    let mut v = base();
    // 1 LB + 2 database nodes already: 4093 app servers make 4096, the limit.
    let apps = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({ "name": format!("app{}", i + 1) }))
            .collect()
    };
    v["app_servers"] = json!(apps(4093));
    assert!(parse(&v).is_ok(), "4096 components are allowed");
    v["app_servers"] = json!(apps(4094));
    expect_invalid(
        &v,
        "databases[0].replicas[0]",
        &["4097 components"],
        &["at most 4096 components"],
    );
    v["app_servers"] = json!(apps(5000));
    expect_invalid(
        &v,
        "app_servers[4095]",
        &["5003 components"],
        &["at most 4096", "every pair"],
    );
}

#[test]
fn unknown_key_is_rejected_with_its_path() {
    let mut v = base();
    v["load_balancers"][0]["servers"][0]["wieght"] = json!(2);
    let text = serde_json::to_string_pretty(&v).expect("serializes");
    let (line, _) = expect_parse_error(
        &text,
        "load_balancers[0].servers[0].wieght",
        &["unknown field `wieght`", "expected one of", "`weight`"],
    );
    let expected_line = text
        .lines()
        .position(|l| l.contains("wieght"))
        .expect("the key is there")
        + 1;
    assert_eq!(line, expected_line, "the error points at the misspelt key");
}

#[test]
fn unknown_top_level_key_is_rejected() {
    let mut v = base();
    v["replicatons"] = json!(3);
    expect_parse_error(
        &v.to_string(),
        "replicatons",
        &["unknown field `replicatons`", "`replications`"],
    );
}

#[test]
fn backend_naming_no_server() {
    let mut v = base();
    v["load_balancers"][0]["servers"][1]["server"] = json!("app9");
    expect_invalid(
        &v,
        "load_balancers[0].servers[1].server",
        &["\"app9\"", "no such component"],
        &["web server or an app server"],
    );
}

#[test]
fn backend_naming_a_database_node() {
    let mut v = base();
    v["load_balancers"][0]["servers"][1]["server"] = json!("db1");
    expect_invalid(
        &v,
        "load_balancers[0].servers[1].server",
        &["\"db1\""],
        &["web server or an app server"],
    );
}

/// `init-state down` without health checks would leave the server DOWN for good: only a
/// passing check brings it up.
#[test]
fn init_state_down_without_health_checks() {
    let mut v = base();
    v["load_balancers"][0]["check"] = json!({ "enabled": false });
    v["load_balancers"][0]["servers"][1]["init_state"] = json!("fully-down");
    expect_invalid(
        &v,
        "load_balancers[0].servers[1].init_state",
        &["\"fully-down\""],
        &["health checks are off"],
    );
    v["load_balancers"][0]["servers"][1]["init_state"] = json!("fully-up");
    parse(&v).expect("fully-up is fine without checks");
}

#[test]
fn negative_rate() {
    let mut v = base();
    v["clients"]["arrival"]["poisson"]["rate"] = json!("-5/s");
    expect_invalid(
        &v,
        "clients.arrival.poisson.rate",
        &["-5/s"],
        &["rate greater than 0"],
    );
}

#[test]
fn zero_rate() {
    let mut v = base();
    v["clients"]["arrival"] = json!({ "constant": { "rate": "0/s" } });
    expect_invalid(
        &v,
        "clients.arrival.constant.rate",
        &["0/s"],
        &["rate greater than 0"],
    );
}

#[test]
fn rate_that_does_not_parse() {
    let mut v = base();
    v["clients"]["arrival"]["poisson"]["rate"] = json!("100 per second");
    expect_parse_error(
        &v.to_string(),
        "clients.arrival.poisson.rate",
        &["\"100 per second\"", "<number>/<unit>"],
    );
}

#[test]
fn app_server_using_a_database_that_does_not_exist() {
    let mut v = base();
    v["app_servers"][1]["database"] = json!("mysql-eu");
    expect_invalid(
        &v,
        "app_servers[1].database",
        &["\"mysql-eu\"", "no such component"],
        &["database cluster"],
    );
}

#[test]
fn app_server_naming_a_replica_as_its_database() {
    // A database node is not a cluster: the app talks to the cluster, which routes.
    let mut v = base();
    v["app_servers"][0]["database"] = json!("db2");
    expect_invalid(
        &v,
        "app_servers[0].database",
        &["\"db2\""],
        &["database cluster"],
    );
}

#[test]
fn failover_without_a_replica_to_promote() {
    let mut v = base();
    v["databases"][0]["replicas"] = json!([]);
    v["databases"][0]["failover"] = json!({ "mode": "automatic" });
    let errors = invalid(&v);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_error(&errors[0], "databases[0].failover.mode", &[], &["replica"]);
}

#[test]
fn semi_sync_without_a_replica() {
    let mut v = base();
    v["databases"][0]["replicas"] = json!([]);
    v["databases"][0]["replication"] = json!({ "mode": "semi-sync" });
    expect_invalid(
        &v,
        "databases[0].replication.mode",
        &["semi-sync", "without replicas"],
        &["a replica to acknowledge writes"],
    );
}

#[test]
fn probability_above_one() {
    let mut v = base();
    v["faults"] = json!([ { "degrade": { "target": "app2", "at": "1s", "error_rate": 1.5 } } ]);
    expect_invalid(
        &v,
        "faults[0].degrade.error_rate",
        &["1.5"],
        &["probability between 0 and 1"],
    );
}

#[test]
fn negative_probability() {
    let mut v = base();
    v["window_threshold"] = json!(-0.1);
    expect_invalid(
        &v,
        "window_threshold",
        &["-0.1"],
        &["probability between 0 and 1"],
    );
}

#[test]
fn proxy_loop() {
    // lb → web1 → lb: a request would travel in a circle.
    let mut v = base();
    v["web_servers"] = json!([ { "name": "web1", "upstream": "lb" } ]);
    v["load_balancers"][0]["servers"] = json!([ { "server": "web1" } ]);
    expect_invalid(
        &v,
        "web_servers",
        &["proxy loop", "lb", "web1"],
        &["flow one way"],
    );
}

#[test]
fn fault_on_a_component_that_does_not_exist() {
    let mut v = base();
    v["faults"][0]["crash"]["target"] = json!("db-primary");
    expect_invalid(
        &v,
        "faults[0].crash.target",
        &["\"db-primary\"", "no such component"],
        &["load balancer, web server, app server or database node"],
    );
}

#[test]
fn fault_after_the_end_of_the_run() {
    let mut v = base();
    v["faults"][0]["crash"]["at"] = json!("1m");
    expect_invalid(
        &v,
        "faults[0].crash.at",
        &["1m"],
        &["before the end of the run"],
    );
}

#[test]
fn duration_that_does_not_parse() {
    let mut v = base();
    v["duration"] = json!("5 minutes");
    expect_parse_error(&v.to_string(), "duration", &["5 minutes"]);
}

#[test]
fn negative_duration_does_not_parse() {
    let mut v = base();
    v["faults"][0]["crash"]["duration"] = json!("-2s");
    expect_parse_error(&v.to_string(), "faults[0].crash.duration", &["-2s"]);
}

#[test]
fn zero_duration() {
    let mut v = base();
    v["duration"] = json!("0s");
    // The fault at 5 s is then after the end of the run, too: both are reported.
    let errors = invalid(&v);
    assert_error(&errors[0], "duration", &["0s"], &["greater than zero"]);
    assert!(
        errors.iter().any(|e| e.path == "faults[0].crash.at"),
        "{errors:#?}"
    );
}

#[test]
fn duplicate_names() {
    let mut v = base();
    v["app_servers"][1]["name"] = json!("app1");
    v["load_balancers"][0]["servers"] = json!([ { "server": "app1" } ]);
    expect_invalid(
        &v,
        "app_servers[1].name",
        &["\"app1\""],
        &["not used by another component"],
    );
}

#[test]
fn duplicate_names_across_kinds() {
    let mut v = base();
    v["databases"][0]["replicas"][0]["name"] = json!("lb");
    expect_invalid(
        &v,
        "databases[0].replicas[0].name",
        &["\"lb\""],
        &["not used by another component"],
    );
}

#[test]
fn zero_workers() {
    let mut v = base();
    v["app_servers"][0]["workers"] = json!(0);
    expect_invalid(&v, "app_servers[0].workers", &["0"], &["integer ≥ 1"]);
}

#[test]
fn negative_coefficient_of_variation() {
    let mut v = base();
    v["app_servers"][0]["service"] = json!({
        "read": { "lognormal": { "mean": "10ms", "cv": -0.5 } },
        "write": { "exponential": { "mean": "15ms" } },
        "static": { "constant": "1ms" }
    });
    expect_invalid(
        &v,
        "app_servers[0].service.read",
        &["lognormal", "-0.5"],
        &["a valid distribution", "cv"],
    );
}

#[test]
fn histogram_with_inverted_bin() {
    let mut v = base();
    v["databases"][0]["primary"]["read_service"] =
        json!({ "histogram": { "bins": [ { "low": "5ms", "high": "1ms", "weight": 1.0 } ] } });
    expect_invalid(
        &v,
        "databases[0].primary.read_service",
        &["histogram", "5ms"],
        &["a valid distribution", "edge"],
    );
}

#[test]
fn distribution_with_an_infinite_mean() {
    // Pareto with shape ≤ 1 has no mean: draws would run past the end of simulated time.
    let mut v = base();
    v["databases"][0]["replication"] =
        json!({ "apply": { "pareto": { "shape": 0.8, "scale": "1ms" } } });
    expect_invalid(
        &v,
        "databases[0].replication.apply",
        &["pareto", "mean inf"],
        &["finite mean of at most 100 years"],
    );
}

#[test]
fn duration_beyond_a_century() {
    let mut v = base();
    v["load_balancers"][0]["timeouts"] = json!({ "connect": "213503d" });
    expect_invalid(
        &v,
        "load_balancers[0].timeouts.connect",
        &["213503d"],
        &["at most 36525d"],
    );
}

#[test]
fn too_many_random_draws() {
    let mut v = base();
    v["load_balancers"][0]["balance"] = json!("random");
    v["load_balancers"][0]["draws"] = json!(4_000_000_000u32);
    expect_invalid(
        &v,
        "load_balancers[0].draws",
        &["4000000000"],
        &["between 1 and 100 draws"],
    );
}

#[test]
fn closed_loop_users_that_never_think() {
    // With zero latencies and service times they would loop forever at one instant.
    let mut v = base();
    v["clients"]["arrival"] = json!({ "closed": { "users": 10, "think": { "constant": "0s" } } });
    expect_invalid(
        &v,
        "clients.arrival.closed.think",
        &["constant", "0s"],
        &["mean greater than zero"],
    );
}

#[test]
fn health_check_interval_below_a_millisecond() {
    let mut v = base();
    v["load_balancers"][0]["check"] = json!({ "inter": "1us" });
    expect_invalid(
        &v,
        "load_balancers[0].check.inter",
        &["1us"],
        &["period of at least 1ms", "HAProxy"],
    );
}

#[test]
fn unknown_balance_algorithm() {
    let mut v = base();
    v["load_balancers"][0]["balance"] = json!("round-robin");
    expect_parse_error(
        &v.to_string(),
        "load_balancers[0].balance",
        &[
            "unknown variant `round-robin`",
            "`roundrobin`",
            "`leastconn`",
        ],
    );
}

#[test]
fn bad_slo_expression() {
    let mut v = base();
    v["slos"] = json!(["availability>=0.9", "availability=>0.99"]);
    expect_invalid(&v, "slos[1]", &["availability=>0.99"], &["SLO check"]);
}

#[test]
fn slo_without_operator() {
    let mut v = base();
    v["slos"] = json!(["p99 under 250ms"]);
    expect_invalid(
        &v,
        "slos[0]",
        &["p99 under 250ms"],
        &["no comparison operator"],
    );
}

#[test]
fn wrong_type() {
    let mut v = base();
    v["app_servers"][0]["workers"] = json!("16");
    expect_parse_error(
        &v.to_string(),
        "app_servers[0].workers",
        &["invalid type: string \"16\"", "u32"],
    );
}

#[test]
fn negative_integer() {
    let mut v = base();
    v["replications"] = json!(-3);
    expect_parse_error(&v.to_string(), "replications", &["-3", "u32"]);
}

#[test]
fn missing_required_field() {
    let mut v = base();
    v.as_object_mut().expect("object").remove("duration");
    expect_parse_error(&v.to_string(), ".", &["missing field `duration`"]);
}

#[test]
fn trailing_garbage() {
    let text = format!(
        "{} }}",
        serde_json::to_string_pretty(&base()).expect("serializes")
    );
    let (line, _) = expect_parse_error(&text, ".", &["trailing characters"]);
    assert_eq!(line, text.lines().count(), "points at the last line");
}

#[test]
fn truncated_file() {
    let text = serde_json::to_string_pretty(&base()).expect("serializes");
    let cut = &text[..text.len() / 2];
    match infrasim::scenario::parse(cut) {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn weight_out_of_range() {
    let mut v = base();
    v["load_balancers"][0]["servers"][0]["weight"] = json!(300);
    expect_invalid(
        &v,
        "load_balancers[0].servers[0].weight",
        &["300"],
        &["between 0 and 256"],
    );
}

#[test]
fn vrrp_pair_of_app_servers() {
    let mut v = base();
    v["lb_pairs"] =
        json!([ { "name": "vip", "mode": "active-passive", "members": ["lb", "app1"] } ]);
    expect_invalid(
        &v,
        "lb_pairs[0].members[1]",
        &["\"app1\""],
        &["a load balancer"],
    );
}

/// The base scenario with a pair of `lb` and `lb2` (keepalived) as the clients' entry.
fn pair_base() -> Value {
    let mut v = base();
    let lb2 = json!({ "name": "lb2", "servers": [ { "server": "app1" } ] });
    v["load_balancers"]
        .as_array_mut()
        .expect("a list")
        .push(lb2);
    v["lb_pairs"] =
        json!([ { "name": "vip", "mode": "active-passive", "members": ["lb", "lb2"] } ]);
    v["clients"]["target"] = json!("vip");
    v
}

/// keepalived ignores `nopreempt` and `preempt_delay` on an instance whose initial state is
/// MASTER; the scenario says so instead of ignoring them.
#[test]
fn nopreempt_or_preempt_delay_with_a_master_member() {
    let mut v = pair_base();
    parse(&v).expect("the keepalived base is valid");
    v["lb_pairs"][0]["preempt"] = json!(false);
    parse(&v).expect("nopreempt alone starts both members in BACKUP");
    v["lb_pairs"][0]["initial_state"] = json!(["MASTER", "BACKUP"]);
    expect_invalid(
        &v,
        "lb_pairs[0].initial_state[0]",
        &["MASTER"],
        &["BACKUP", "preempt is off or preempt_delay is set"],
    );
    v["lb_pairs"][0]["preempt"] = json!(true);
    v["lb_pairs"][0]["preempt_delay"] = json!("2s");
    v["lb_pairs"][0]["initial_state"] = json!(["BACKUP", "MASTER"]);
    expect_invalid(&v, "lb_pairs[0].initial_state[1]", &["MASTER"], &["BACKUP"]);
    v["lb_pairs"][0]["initial_state"] = json!(["BACKUP", "BACKUP"]);
    parse(&v).expect("preempt_delay with both members in BACKUP");
    v["lb_pairs"][0]["preempt_delay"] = json!("1001s");
    expect_invalid(
        &v,
        "lb_pairs[0].preempt_delay",
        &["1001s"],
        &["at most 1000s"],
    );
    v["lb_pairs"][0]["initial_state"] = json!(["PRIMARY", "BACKUP"]);
    expect_parse_error(
        &v.to_string(),
        "lb_pairs[0].initial_state[0]",
        &["unknown variant `PRIMARY`", "`MASTER`"],
    );
}

/// `vrrp_script`: keepalived's ranges (weight −253…253, interval in milliseconds), rise and
/// fall at least 1, and no unknown key.
#[test]
fn vrrp_script_out_of_range() {
    let mut v = pair_base();
    v["lb_pairs"][0]["vrrp_script"] = json!({ "weight": 254 });
    expect_invalid(
        &v,
        "lb_pairs[0].vrrp_script.weight",
        &["254"],
        &["between -253 and 253"],
    );
    v["lb_pairs"][0]["vrrp_script"] = json!({ "fall": 0, "interval": "500us" });
    let errors = invalid(&v);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        "lb_pairs[0].vrrp_script.interval",
        &["500us"],
        &["at least 1ms", "milliseconds"],
    );
    assert_error(
        &errors[1],
        "lb_pairs[0].vrrp_script.fall",
        &["0"],
        &["between 1 and 1000"],
    );
    v["lb_pairs"][0]["vrrp_script"] = json!({ "timeout": "2s" });
    expect_parse_error(
        &v.to_string(),
        "lb_pairs[0].vrrp_script.timeout",
        &["unknown field `timeout`", "`interval`"],
    );
}

/// Route 53 has eight health-checking regions: between 1 and 8 checker regions.
#[test]
fn dns_checker_regions_out_of_range() {
    let mut v = pair_base();
    v["lb_pairs"][0]["mode"] = json!("active-active");
    for n in [0, 9] {
        v["lb_pairs"][0]["dns_checker_regions"] = json!(n);
        expect_invalid(
            &v,
            "lb_pairs[0].dns_checker_regions",
            &[&n.to_string()],
            &["between 1 and 8"],
        );
    }
}

#[test]
fn several_errors_are_collected_at_once() {
    let mut v = base();
    v["app_servers"][0]["workers"] = json!(0);
    v["clients"]["target"] = json!("haproxy");
    v["faults"][0]["crash"]["target"] = json!("app7");
    v["window_threshold"] = json!(2.0);
    v["slos"] = json!(["p99<=fast"]);
    let errors = invalid(&v);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for p in [
        "app_servers[0].workers",
        "clients.target",
        "faults[0].crash.target",
        "window_threshold",
        "slos[0]",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    assert_eq!(errors.len(), 5, "{errors:#?}");
    // The error's Display lists them all.
    let shown = Error::Invalid(errors).to_string();
    assert!(shown.starts_with("5 problem(s) in the scenario"), "{shown}");
    assert_eq!(shown.lines().count(), 6, "{shown}");
}

#[test]
fn run_with_zero_replications_is_an_error() {
    let s = parse(&base()).expect("valid");
    let opts = infrasim::RunOptions {
        replications: Some(0),
        ..Default::default()
    };
    match infrasim::run_with(&s, &opts) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("replications"), "{m}"),
        other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
    }
}

// ---------------------------------------------------------------------------------------
// The command-line tool.

/// A scenario file in a fresh temporary directory.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infrasim-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn infrasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infrasim"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

fn code(o: &Output) -> i32 {
    o.status
        .code()
        .expect("exited normally, not killed by a signal")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A short valid scenario for the CLI (10 s measured, no SLOs of its own).
fn cli_scenario() -> Value {
    let mut v = base();
    v["slos"] = json!([]);
    v
}

#[test]
fn cli_bad_file_exits_2_with_the_path_and_message() {
    let mut v = cli_scenario();
    v["app_servers"][0]["wieght"] = json!(1);
    let f = temp_file("unknown-key.json", &v.to_string());
    let o = infrasim(&["run", f.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2, "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("app_servers[0].wieght"), "{err}");
    assert!(err.contains("unknown field `wieght`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&o).is_empty(), "nothing on stdout: {}", stdout(&o));
}

#[test]
fn cli_invalid_scenario_exits_2_listing_every_problem() {
    let mut v = cli_scenario();
    v["app_servers"][0]["workers"] = json!(0);
    v["faults"][0]["crash"]["target"] = json!("app7");
    let f = temp_file("invalid.json", &v.to_string());
    let o = infrasim(&["run", f.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2, "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(err.contains("app_servers[0].workers: found 0"), "{err}");
    assert!(err.contains("faults[0].crash.target"), "{err}");
    // `validate` reports the same problems, also with exit code 2.
    let o = infrasim(&["validate", f.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(
        stdout(&o).contains("app_servers[0].workers"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn cli_missing_file_exits_2() {
    let o = infrasim(&["run", "/nonexistent/scenario.json"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("/nonexistent/scenario.json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn cli_bad_arguments_exit_2() {
    let f = temp_file("ok-args.json", &cli_scenario().to_string());
    let f = f.to_str().expect("utf-8");
    for args in [
        vec!["run", f, "--duration", "ten seconds"],
        vec!["run", f, "--check", "availability=>0.9"],
        vec!["run", f, "--replications", "-1"],
        vec!["frobnicate"],
    ] {
        let o = infrasim(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{args:?}: no message");
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn cli_failed_check_exits_1_and_passing_checks_exit_0() {
    let f = temp_file("checks.json", &cli_scenario().to_string());
    let f = f.to_str().expect("utf-8");
    // Availability cannot exceed 1: this check fails.
    let o = infrasim(&["run", f, "--check", "availability>1"]);
    assert_eq!(code(&o), 1, "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("check FAILED: availability>1"),
        "{}",
        stderr(&o)
    );

    let o = infrasim(&[
        "run",
        f,
        "--check",
        "availability>=0",
        "--check",
        "lost_writes==0",
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(
        stdout(&o).contains("check passed: availability>=0"),
        "{}",
        stdout(&o)
    );

    // An SLO written in the file counts like --check.
    let mut v = cli_scenario();
    v["slos"] = json!(["availability>1"]);
    let g = temp_file("slo-in-file.json", &v.to_string());
    let o = infrasim(&["run", g.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code(&o), 1, "stderr: {}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("--json prints the report");
    assert!(report["availability"].as_f64().is_some());
}

#[test]
fn cli_validate_accepts_the_shipped_scenarios() {
    let files: Vec<String> = scenario_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let o = infrasim(&args);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert_eq!(stdout(&o).matches(": OK").count(), files.len());
}

/// `retry-on`: HAProxy's keywords only (src/proxy.c `proxy_parse_retry_on()`), at least one,
/// `none` alone.
#[test]
fn retry_on_keywords() {
    let mut v = base();
    v["load_balancers"][0]["retry_on"] = json!(["conn-failure", "505"]);
    expect_parse_error(
        &v.to_string(),
        "load_balancers[0].retry_on[1]",
        &["unknown variant `505`", "`conn-failure`", "`503`"],
    );
    v["load_balancers"][0]["retry_on"] = json!(["none", "503"]);
    expect_invalid(
        &v,
        "load_balancers[0].retry_on",
        &["[\"none\",\"503\"]"],
        &["`none` alone"],
    );
    v["load_balancers"][0]["retry_on"] = json!([]);
    expect_invalid(
        &v,
        "load_balancers[0].retry_on",
        &["[]"],
        &["at least one retry-on keyword"],
    );
    v["load_balancers"][0]["retry_on"] = json!(["all-retryable-errors", "404"]);
    parse(&v).expect("a list of keywords");
}

/// `slowstart`: HAProxy parses milliseconds, 1 ms to 2147483647 ms; `on_marked_down` is
/// `none` or `shutdown-sessions`.
#[test]
fn slowstart_and_on_marked_down() {
    let mut v = base();
    v["load_balancers"][0]["servers"][1]["slowstart"] = json!("30d");
    expect_invalid(
        &v,
        "load_balancers[0].servers[1].slowstart",
        &["30d"],
        &["2147483647ms", "slowstart"],
    );
    v["load_balancers"][0]["servers"][1]["slowstart"] = json!("30s");
    v["load_balancers"][0]["servers"][1]["on_marked_down"] = json!("shutdown-backup-sessions");
    expect_parse_error(
        &v.to_string(),
        "load_balancers[0].servers[1].on_marked_down",
        &["unknown variant", "`shutdown-sessions`"],
    );
    v["load_balancers"][0]["servers"][1]["on_marked_down"] = json!("shutdown-sessions");
    parse(&v).expect("slowstart and shutdown-sessions");
}

#[test]
fn repair_after_detection_without_monitoring() {
    let mut v = base();
    v["faults"][0]["crash"] = json!({ "target": "app1", "at": "5s",
        "repair": { "after": "detection", "time": { "constant": "1m" } } });
    expect_invalid(
        &v,
        "faults[0].crash.repair",
        &["without a `monitoring` section"],
        &["a `monitoring` section"],
    );
}

#[test]
fn random_failure_with_both_ttr_and_repair() {
    let mut v = base();
    v["monitoring"] = json!({});
    v["faults"][0] = json!({ "random": { "target": "app1",
        "ttf": { "exponential": { "mean": "1h" } }, "ttr": { "constant": "1m" },
        "repair": { "after": "detection", "time": { "constant": "1m" } } } });
    expect_invalid(
        &v,
        "faults[0].random.repair",
        &["both `ttr` and `repair`"],
        &["one of `ttr`"],
    );
}

/// The monitoring's own crash ends either after `duration` or on repair, as a fault does, and
/// says so in the same words.
#[test]
fn monitoring_crash_with_both_duration_and_repair() {
    let mut v = base();
    v["monitoring"] = json!({ "crash": { "at": "5s", "duration": "1m",
        "repair": { "after": "detection", "time": { "constant": "1m" } } } });
    expect_invalid(
        &v,
        "monitoring.crash.repair",
        &["both `duration` and `repair`"],
        &["one of `duration` (a fixed end) and `repair`"],
    );
    v["monitoring"]["crash"]
        .as_object_mut()
        .expect("an object")
        .remove("duration");
    parse(&v).expect("repair alone");
}

#[test]
fn random_failure_with_neither_ttr_nor_repair() {
    let mut v = base();
    v["faults"][0] = json!({ "random": { "target": "app1",
        "ttf": { "exponential": { "mean": "1h" } } } });
    expect_invalid(&v, "faults[0].random", &["neither"], &["`ttr`"]);
}

#[test]
fn scrape_timeout_longer_than_the_scrape_interval() {
    let mut v = base();
    v["monitoring"] = json!({ "prometheus": { "scrape_interval": "15s", "scrape_timeout": "20s",
        "rules": [ { "target_down": {} } ] } });
    expect_invalid(
        &v,
        "monitoring.prometheus.scrape_timeout",
        &["20s"],
        &["at most the scrape interval (15s)"],
    );
}

#[test]
fn monitoring_rule_naming_a_database_as_its_scope() {
    let mut v = base();
    v["monitoring"] = json!({ "prometheus": { "rules": [
        { "error_ratio": { "above": 0.05, "scope": "db1" } },
        { "lb_servers_up": { "lb": "app1", "below": 2 } }
    ] } });
    let errors = invalid(&v);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        "monitoring.prometheus.rules[0].error_ratio.scope",
        &["\"db1\""],
        &["a web or app server, or \"service\""],
    );
    assert_error(
        &errors[1],
        "monitoring.prometheus.rules[1].lb_servers_up.lb",
        &["\"app1\""],
        &["a load balancer"],
    );
}

#[test]
fn range_shorter_than_two_scrapes() {
    let mut v = base();
    v["monitoring"] = json!({ "prometheus": { "rules": [
        { "error_ratio": { "above": 0.05, "range": "1m" } }
    ] } });
    expect_invalid(
        &v,
        "monitoring.prometheus.rules[0].error_ratio.range",
        &["1m"],
        &["a rate needs two samples"],
    );
}

#[test]
fn both_monitoring_systems() {
    let mut v = base();
    v["monitoring"] = json!({ "prometheus": { "rules": [] }, "nagios": {} });
    expect_invalid(
        &v,
        "monitoring",
        &["both"],
        &["at most one monitoring system"],
    );
}

#[test]
fn unknown_monitoring_key() {
    let mut v = base();
    v["monitoring"] = json!({ "prometheus": { "scrape_intervall": "15s", "rules": [] } });
    expect_parse_error(
        &serde_json::to_string_pretty(&v).unwrap(),
        "monitoring.prometheus.scrape_intervall",
        &["unknown field"],
    );
}

#[test]
fn tls_and_connections_are_validated() {
    // TLS lives on connections.
    let mut v = base();
    v["load_balancers"][0]["tls"] = json!({});
    expect_invalid(
        &v,
        "load_balancers[0].tls",
        &["clients.connections"],
        &["clients.connections"],
    );
    // Early data is TLS 1.3's.
    v["clients"]["connections"] = json!({});
    v["load_balancers"][0]["tls"] = json!({ "version": "1.2", "early_data": true });
    expect_invalid(&v, "load_balancers[0].tls.early_data", &["true"], &["1.3"]);
    // Durations in range.
    v["load_balancers"][0]["tls"] = json!({ "lifetime": "0s" });
    expect_invalid(
        &v,
        "load_balancers[0].tls.lifetime",
        &["0s"],
        &["greater than zero"],
    );
    v["load_balancers"][0]["tls"] = json!({});
    v["clients"]["connections"] = json!({ "keep_alive": "2d" });
    expect_invalid(&v, "clients.connections.keep_alive", &["2d"], &["at most"]);
    v["clients"]["connections"] = json!({});
    v["load_balancers"][0]["timeouts"] = json!({ "http_keep_alive": "0s" });
    expect_invalid(
        &v,
        "load_balancers[0].timeouts.http_keep_alive",
        &["0s"],
        &["greater than zero"],
    );
    // Unknown keys and bad enum values are parse errors with their path.
    let mut v = base();
    v["clients"]["connections"] = json!({ "keepalive": "1s" });
    let text = serde_json::to_string_pretty(&v).expect("serializes");
    expect_parse_error(&text, "clients.connections.keepalive", &["keepalive"]);
    let mut v = base();
    v["clients"]["connections"] = json!({});
    v["load_balancers"][0]["tls"] = json!({ "key": "rsa-1024" });
    let text = serde_json::to_string_pretty(&v).expect("serializes");
    expect_parse_error(&text, "load_balancers[0].tls.key", &["rsa-1024"]);
}
