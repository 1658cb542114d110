//! Example: the seed design (one HAProxy, two app servers, a MySQL primary with one async
//! replica) built in code, its primary crashed for a minute, availability and p99 per class.
//!
//! ```text
//! clients ──► lb (roundrobin) ──► app1, app2 ──► db-primary ──async──► db-replica
//! ```
//!
//! This example demonstrates: typed builders (no JSON), one run, reading the `Report`.
//! Run: `cargo run --release --example seed_design`

use infrasim::engine::SimDuration;
use infrasim::scenario::{AppServer, Clients, Database, Fault, LoadBalancer, Rate, Scenario};

fn main() {
    let s = |n| SimDuration::from_secs(n);
    let scenario = Scenario::new(
        "seed-design",
        s(300),
        Clients::poisson("lb", Rate::per_second(300.0)),
    )
    .with_description("seed design 1, primary crashed for 60 s, no failover")
    .with_warmup(s(10))
    .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
    .with_app_server(AppServer::new("app1"))
    .with_app_server(AppServer::new("app2"))
    .with_database(Database::new("mysql", "db-primary").with_replica("db-replica"))
    .with_fault(Fault::crash("db-primary", s(100), Some(s(60))));

    let report = infrasim::run(&scenario).expect("the scenario is valid");

    println!(
        "{:<8} {:>9} {:>13} {:>10}",
        "class", "offered", "availability", "p99 (ms)"
    );
    for (class, c) in &report.classes {
        println!(
            "{class:<8} {:>9} {:>12.4}% {:>10.2}",
            c.offered,
            c.availability * 100.0,
            c.latency_ms.p99_ms
        );
    }
    println!(
        "overall availability {:.4}%, p99 {:.2} ms",
        report.availability * 100.0,
        report.latency_ms.p99_ms
    );

    // The primary is a single point of failure for writes only: reads go on from the replica.
    let write = &report.classes["write"];
    let read = &report.classes["read"];
    assert!(
        write.availability < 0.9,
        "a 60 s primary outage in 300 s costs writes ~20 %"
    );
    assert!(read.availability > 0.999, "reads are served by the replica");
    let outage = report
        .outages
        .iter()
        .find(|o| o.class == "write")
        .expect("a write outage");
    assert!(
        (outage.end_s - outage.start_s - 60.0).abs() <= 2.0,
        "the write outage lasts the crash: {outage:?}"
    );
    assert_eq!(
        report.requests.offered,
        report.requests.succeeded + report.requests.failed_total() + report.requests.in_flight
    );
}
