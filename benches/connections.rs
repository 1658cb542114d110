//! The connection path's cost: seed design 01 (`scenarios/01-single-lb.json`) as shipped —
//! every request its own connection, no handshake modelled — against the same with
//! `clients.connections` (browsers' keep-alive defaults) and TLS 1.3 terminated at the load
//! balancer (RSA-2048, session tickets): simulated requests per second of wall time.
//!
//! `connections/plain` and `connections/keep_alive_tls13`; the run is one replication on one
//! thread, the elements its offered requests.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use infrasim::scenario::{Connections, Tls, TlsVersion};
use infrasim::{RunOptions, Scenario};

fn seed_01() -> Scenario {
    infrasim::scenario::parse(include_str!("../scenarios/01-single-lb.json"))
        .expect("scenario 01 is valid")
}

fn with_tls(mut s: Scenario) -> Scenario {
    s.clients.connections = Some(Connections::default());
    for lb in &mut s.load_balancers {
        lb.tls = Some(Tls {
            version: TlsVersion::V13,
            ..Tls::default()
        });
    }
    s
}

fn bench_connections(c: &mut Criterion) {
    let opts = RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    };
    let mut g = c.benchmark_group("connections");
    g.sample_size(10);
    for (name, scenario) in [
        ("plain", seed_01()),
        ("keep_alive_tls13", with_tls(seed_01())),
    ] {
        let offered = infrasim::run_with(&scenario, &opts)
            .expect("runs")
            .requests
            .offered;
        g.throughput(Throughput::Elements(offered));
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = infrasim::run_with(&scenario, &opts).expect("runs");
                assert_eq!(r.requests.offered, offered);
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_connections);
criterion_main!(benches);
