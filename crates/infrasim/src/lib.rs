//! # infrasim
//!
//! Simulate classic web infrastructure — clients, HAProxy-like load balancers (single, or a
//! keepalived pair, or active-active behind DNS), nginx-like web servers, application servers
//! and a MySQL-like primary-replica database — inject failures at its single points of
//! failure, and measure availability and latency with numbers you can reproduce.
//!
//! ```text
//!   clients ──► load balancer(s) ──► web / app servers ──► database
//!               (balance, checks,     (workers, queues,     (primary + replicas,
//!                retries, queues)      service times)        replication, failover)
//! ```
//!
//! Data flows one way: [`Scenario`] (from a JSON file or built in code) → validated →
//! built into a model → run on [`infrasim_engine`] → statistics → [`Report`].

//!
//! # Tutorial
//!
//! ## 1. Run a scenario file
//!
//! ```no_run
//! let scenario = infrasim::scenario::load("scenarios/01-single-lb.json")?;
//! let report = infrasim::run(&scenario)?;
//! println!("availability {:.4}, p99 {:.1} ms", report.availability, report.latency_ms.p99_ms);
//! # Ok::<(), infrasim::Error>(())
//! ```
//!
//! Every problem in a file comes back at once, each with its JSON path, the value found and
//! what was expected ([`Error::Invalid`], [`Error::Parse`]).
//!
//! ## 2. Build a topology in code
//!
//! The builders fill in the same defaults a file gets (HAProxy's, keepalived's, MySQL's), and
//! the value serializes to the same JSON ([`scenario::Scenario`] is the file format):
//!
//! ```
//! use infrasim::engine::SimDuration;
//! use infrasim::scenario::{AppServer, Clients, Database, LoadBalancer, Rate, Scenario};
//!
//! let s = Scenario::new("two-apps", SimDuration::from_secs(30), Clients::poisson("lb", Rate::per_second(200.0)))
//!     .with_load_balancer(LoadBalancer::new("lb", ["app1", "app2"]))
//!     .with_app_server(AppServer::new("app1"))
//!     .with_app_server(AppServer::new("app2"))
//!     .with_database(Database::new("mysql", "primary").with_replica("replica"));
//! let report = infrasim::run(&s).unwrap();
//! assert_eq!(report.requests.offered,
//!            report.requests.succeeded + report.requests.failed_total() + report.requests.in_flight);
//! ```
//!
//! ## 3. Replications, comparisons and sweeps
//!
//! [`run_with`] takes [`RunOptions`] — seed, replications, duration, threads, a progress
//! counter, observers — and runs replications in parallel, adding the 95 % confidence
//! interval of each key metric ([`Report::confidence`]); results are identical at any thread
//! count. [`run_many`] runs several scenarios with the same options and common random
//! numbers (each component's random stream depends only on the seed and its name),
//! [`sweep::sweep`] a parameter grid, and [`audit::audit`] crashes each component in turn to
//! find the single points of failure.
//!
//! ## 4. Observe a run
//!
//! An [`Observer`] receives every finished request and every component state change, to
//! compute metrics the report does not have ([`RunOptions::observe`]: one observer per
//! replication, made by a function you give).
//!
//! ## 5. Gate on SLOs
//!
//! [`Check`]s such as `availability>=0.999` or `p99<=250ms` evaluate against a report.
//!
//! # Examples
//!
//! These are the files in `examples/`, compiled here (run them with
//! `cargo run --release --example NAME`).
//!
//! ## The seed design, built in code
//!
//! ```no_run
#![doc = include_str!("../../../examples/seed_design.rs")]
//! ```
//!
//! ## A sweep of health-check `inter` × `fall`
//!
//! ```no_run
#![doc = include_str!("../../../examples/health_check_sweep.rs")]
//! ```
//!
//! ## A custom observer
//!
//! ```no_run
#![doc = include_str!("../../../examples/custom_observer.rs")]
//! ```

#![warn(missing_docs)]

pub mod audit;
mod build;
pub mod compare;
pub mod error;
mod model;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod slo;
pub mod sweep;

pub use infrasim_engine as engine;

pub use error::{Error, ScenarioError};
pub use model::call::{FailReason, Outcome};
pub use model::observer::{Observer, RequestRecord};
pub use report::Report;
pub use run::{ObserverFactory, Progress, RunId, RunOptions, run, run_many, run_with};
pub use scenario::{Class, Scenario};
pub use slo::{Check, CheckResult};
pub use sweep::sweep;

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
