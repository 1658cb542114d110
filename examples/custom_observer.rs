//! Example: a custom observer computing a metric the report does not have — the fraction of
//! *clients* (source addresses) that saw at least one failure, and the longest run of
//! consecutive failures — while one of two app servers crashes.
//!
//! ```text
//! clients (2000 addresses) ──► lb ──► app1 (crashes at 30 s for 20 s), app2
//! ```
//!
//! This example demonstrates the `Observer` trait and `RunOptions::observe`: the run calls
//! the observer for every finished request and every component state change, so research
//! code computes its own metrics without forking the models. Run: `cargo run --release --example custom_observer`

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use infrasim::engine::{SimDuration, SimTime};
use infrasim::scenario::{AppServer, Clients, Fault, LoadBalancer, Rate, Scenario};
use infrasim::{Observer, Outcome, RequestRecord, RunOptions};

#[derive(Default)]
struct ClientExperience {
    clients: BTreeSet<u32>,
    unhappy: BTreeSet<u32>,
    streak: u64,
    longest_streak: u64,
    changes: Vec<(SimTime, String)>,
}

/// The observer is moved into the run; results come back through a shared handle.
struct Probe(Arc<Mutex<ClientExperience>>);

impl Observer for Probe {
    fn request_finished(&mut self, r: &RequestRecord) {
        if !r.measured {
            return;
        }
        let mut m = self.0.lock().expect("not poisoned");
        m.clients.insert(r.client_addr);
        if let Outcome::Failed(_) = r.outcome {
            m.unhappy.insert(r.client_addr);
            m.streak += 1;
            m.longest_streak = m.longest_streak.max(m.streak);
        } else {
            m.streak = 0;
        }
    }
    fn state_changed(&mut self, at: SimTime, component: &str, what: &str) {
        self.0
            .lock()
            .expect("not poisoned")
            .changes
            .push((at, format!("{component}: {what}")));
    }
}

fn main() {
    let s = SimDuration::from_secs;
    let mut clients = Clients::poisson("lb", Rate::per_second(400.0)).mix(0.0, 0.0, 1.0);
    clients.addresses = 2000;
    let scenario = Scenario::new("observer", s(90), clients)
        .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
        .with_app_server(AppServer::new("app1"))
        .with_app_server(AppServer::new("app2"))
        .with_fault(Fault::crash("app1", s(30), Some(s(20))));

    let shared = Arc::new(Mutex::new(ClientExperience::default()));
    // Each replication gets its own observer from the factory; this run has one.
    let handle = shared.clone();
    let opts = RunOptions::default()
        .observe(move |_run| Some(Box::new(Probe(handle.clone())) as Box<dyn Observer + Send>));
    let report = infrasim::run_with(&scenario, &opts).expect("valid scenario");
    let m = shared.lock().expect("not poisoned");

    let unhappy = m.unhappy.len() as f64 / m.clients.len() as f64;
    println!(
        "requests: {} offered, availability {:.4}%",
        report.requests.offered,
        report.availability * 100.0
    );
    println!(
        "clients that saw at least one failure: {} of {} ({:.1}%)",
        m.unhappy.len(),
        m.clients.len(),
        unhappy * 100.0
    );
    println!("longest run of consecutive failures: {}", m.longest_streak);
    for (at, what) in &m.changes {
        println!("  {:>8.3}s  {what}", at.as_secs_f64());
    }

    // Roundrobin keeps sending every other request to app1 until the checks mark it down
    // (4–6 s with inter 2 s, fall 3): ~400/s × ½ × ~5 s ≈ 1000 failures spread over many of
    // the 2000 clients — far more clients than the 0.x % of failed requests suggests.
    let failed = report.requests.failed_total() as f64;
    assert!(failed > 300.0 && failed < 2500.0, "{failed} failures");
    assert!(
        unhappy > 0.2,
        "a short outage touches many clients: {unhappy}"
    );
    assert!(report.availability > 0.95);
    assert!(
        m.changes.iter().any(|(_, w)| w.contains("app1 DOWN")),
        "the LB marked app1 down"
    );
    assert!(
        m.changes.iter().any(|(_, w)| w.contains("app1 UP")),
        "and back up after recovery"
    );
}
