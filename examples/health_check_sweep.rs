//! Example: a sweep of HAProxy's health-check `inter` × `fall`, showing detection time
//! against availability, written as CSV.
//!
//! ```text
//! clients ──► lb (checks: inter × fall) ──► app1 (crashes at 60 s, for good), app2
//! ```
//!
//! HAProxy marks a server down at the `fall`-th consecutive failed check, so a process crash
//! (the check fails within a round trip) is detected between (fall − 1)·inter and fall·inter
//! after the death; until then the LB keeps sending half the traffic to the dead server, and
//! those requests fail. This example demonstrates `sweep`, `grid`, `to_csv` and reading each
//! point's fault report, and checks the detection window for every point.
//! Run: `cargo run --release --example health_check_sweep > sweep.csv`

use infrasim::RunOptions;
use infrasim::engine::SimDuration;
use infrasim::scenario::{AppServer, Clients, Fault, LoadBalancer, Rate, Scenario};
use infrasim::sweep::{grid, sweep, to_csv};

fn main() {
    let s = SimDuration::from_secs;
    let base = Scenario::new(
        "hc-sweep",
        s(120),
        Clients::poisson("lb", Rate::per_second(200.0)).mix(0.0, 0.0, 1.0),
    )
    .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
    .with_app_server(AppServer::new("app1"))
    .with_app_server(AppServer::new("app2"))
    .with_fault(Fault::crash("app1", SimDuration::from_millis(60_317), None));

    let inters = [SimDuration::from_millis(500), s(2), s(5)];
    let falls = [2u32, 3, 5];
    let points = grid(&inters, &falls);
    let opts = RunOptions {
        replications: Some(4),
        ..RunOptions::default()
    };
    let rows = sweep(
        &base,
        &points,
        |sc, &(inter, fall)| {
            sc.load_balancers[0].check.inter = inter;
            sc.load_balancers[0].check.fall = fall;
        },
        &opts,
    )
    .expect("valid sweep");

    let csv = to_csv(
        &rows,
        &["inter_s", "fall"],
        |(inter, fall)| vec![inter.as_secs_f64().to_string(), fall.to_string()],
        &[("availability", "availability"), ("p99", "latency_ms.p99")],
    );
    // Detection time of the first replication of each point, as an extra column.
    let mut lines = csv.lines();
    println!("{},detection_s", lines.next().unwrap_or_default());
    let mut previous: Option<(f64, f64)> = None;
    for (line, row) in lines.zip(&rows) {
        let (inter, fall) = row.params;
        let f = &row.report.faults[0];
        let detection = f.detected_at_s.expect("health checks detect the crash") - f.injected_at_s;
        println!("{line},{detection:.3}");
        // HAProxy's definition, with fastinter = inter and a check that fails at once.
        let lo = inter.as_secs_f64() * f64::from(fall - 1);
        let hi = inter.as_secs_f64() * f64::from(fall) + 0.01;
        assert!(
            detection >= lo && detection <= hi,
            "inter {inter} fall {fall}: detected after {detection} s, expected in [{lo}, {hi}]"
        );
        let product = inter.as_secs_f64() * f64::from(fall);
        if let Some((p, d)) = previous
            && product >= 2.0 * p
        {
            assert!(detection > d, "detection grows with inter × fall");
        }
        previous = Some((product, detection));
    }
    // Slower detection costs availability: the slowest point loses more than the fastest.
    let a_fast = rows[0].metric("availability").unwrap();
    let a_slow = rows[rows.len() - 1].metric("availability").unwrap();
    assert!(
        a_slow < a_fast,
        "availability {a_slow} (inter 5 s, fall 5) < {a_fast} (inter 0.5 s, fall 2)"
    );
}
