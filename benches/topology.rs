//! Whole-topology throughput: simulated requests per second of wall time.
//!
//! `topology/two_servers`: Poisson clients → one LB (roundrobin, health checks on) → two app
//! servers → a MySQL primary and one replica, reads 3 DB calls, writes 1.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infrasim::{RunOptions, Scenario};

/// Requests per measured run: rate × duration.
const RATE_PER_S: u64 = 2_000;
const DURATION_S: u64 = 50;

fn two_servers() -> Scenario {
    let json = format!(
        r#"{{
        "name": "bench-two-servers",
        "seed": 1,
        "duration": "{DURATION_S}s",
        "clients": {{
            "target": "lb",
            "arrival": {{ "poisson": {{ "rate": "{RATE_PER_S}/s" }} }},
            "mix": {{ "read": 0.7, "write": 0.2, "static": 0.1 }},
            "keys": {{ "count": 1000 }},
            "addresses": 1000
        }},
        "load_balancers": [ {{ "name": "lb", "balance": "roundrobin",
            "servers": [ {{ "server": "app1" }}, {{ "server": "app2" }} ] }} ],
        "app_servers": [ {{ "name": "app1", "workers": 32 }}, {{ "name": "app2", "workers": 32 }} ],
        "databases": [ {{ "name": "db", "primary": {{ "name": "primary" }},
            "replicas": [ {{ "name": "replica" }} ] }} ]
    }}"#
    );
    infrasim::scenario::parse(&json).expect("bench scenario is valid")
}

fn bench_topology(c: &mut Criterion) {
    let scenario = two_servers();
    let requests = RATE_PER_S * DURATION_S;
    let mut g = c.benchmark_group("topology");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    let opts = RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    };
    g.bench_function("two_servers", |b| {
        b.iter(|| {
            let r = infrasim::run_with(&scenario, &opts).expect("runs");
            assert!(r.requests.offered > requests * 9 / 10);
            r
        })
    });
    g.finish();
}

criterion_group!(benches, bench_topology);
criterion_main!(benches);
