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

#![warn(missing_docs)]

pub mod audit;
pub mod balance;
mod build;
pub mod call;
mod client;
mod database;
pub mod error;
mod fault;
mod keepalived;
pub mod load_balancer;
mod metrics;
mod names;
mod network;
pub mod observer;
pub mod report;
pub mod run;
pub mod scenario;
mod server;
pub mod slo;
pub mod sweep;
mod world;

pub use infrasim_engine as engine;

pub use call::{FailReason, Outcome};
pub use error::{Error, ScenarioError};
pub use observer::{Observer, RequestRecord};
pub use report::Report;
pub use run::{Progress, RunOptions, run, run_observed, run_with, run_with_progress};
pub use scenario::{Class, Scenario};
pub use slo::{Check, CheckResult};
pub use sweep::{run_many, run_many_with_progress, sweep};

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
