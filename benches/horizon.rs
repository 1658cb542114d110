//! Long horizons: a simulated year of issue 24's workload (`benches/scenarios/year.json`:
//! two app servers behind one load balancer, random crashes with MTBF 7 days and 30 days),
//! at 0.05 requests/s (1.6 M requests) so an iteration takes about a second.
//!
//! `horizon/year_1h_windows` and `horizon/year_100ms_windows` run the same requests and
//! faults with 8 760 and 315 M windows: windows cost nothing unless they see traffic, so the
//! two take the same time (issue 24 asks for a ratio ≤ 1.2).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infrasim::{RunOptions, Scenario};

const RATE: &str = "0.05/s";

fn year(window: &str) -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/scenarios/year.json");
    let text = std::fs::read_to_string(path).expect("benches/scenarios/year.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["clients"]["arrival"]["poisson"]["rate"] = RATE.into();
    v["window"] = window.into();
    infrasim::scenario::parse(&v.to_string()).expect("bench scenario is valid")
}

fn bench_horizon(c: &mut Criterion) {
    let requests = (0.05 * 365.0 * 86_400.0) as u64;
    let mut g = c.benchmark_group("horizon");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    let opts = RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    };
    for (name, window) in [("year_1h_windows", "1h"), ("year_100ms_windows", "100ms")] {
        let scenario = year(window);
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = infrasim::run_with(&scenario, &opts).expect("runs");
                assert!(r.requests.offered > requests * 9 / 10);
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_horizon);
criterion_main!(benches);
