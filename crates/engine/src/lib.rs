//! # infrasim-engine
//!
//! A deterministic discrete-event simulation engine. It knows time, ordering, randomness and
//! statistics — nothing about load balancers or databases.
//!
//! ```text
//!   Model (your state + reactions)          Simulation (this crate)
//!   ┌───────────────────────────┐   event    ┌──────────────────────────────┐
//!   │ fn handle(&mut self, e,   │ ◄───────── │ queue ordered by (time, seq) │
//!   │           cx: &mut Ctx)   │ ─────────► │ now, event count, stop rules │
//!   └───────────────────────────┘ schedule / └──────────────────────────────┘
//!                                  cancel
//! ```
//!
//! * [`time`]: integer nanosecond [`SimTime`] / [`SimDuration`], human duration strings.
//! * [`queue`]: the event queue behind one small trait ([`queue::EventQueue`]): a timing
//!   wheel in front of monotone radix heaps by default, a plain radix heap and `std`'s binary
//!   heap for comparison.
//! * [`sim`]: [`Simulation`], the [`Model`] trait and the [`Context`] a model reacts through.
//! * [`rng`]: named random streams from (master seed, stable key).
//! * [`dist`]: duration distributions (service, inter-arrival, failure and repair times).
//! * [`ziggurat`]: standard exponential draws without a logarithm (the hot sampler).
//! * [`stats`]: counters, time-weighted gauges, log-linear histograms, replication summaries.
//! * [`timer`]: timeout queues — many timers of one kind for the price of one event.
//! * [`theory`]: closed forms (M/M/1, Erlang B and C, M/M/c/K) to validate models against.

#![warn(missing_docs)]

pub mod dist;
pub mod math;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod stats;
pub mod theory;
pub mod time;
pub mod timer;
pub mod ziggurat;

pub use rng::{RngStreams, SimRng, WorkRng};
pub use sim::{Context, EventId, Model, RunOutcome, Simulation, StopReason};
pub use time::{SimDuration, SimTime};
pub use timer::TimeoutQueue;
