//! The engine's integration tests, one binary (`cargo test --release -p infrasim-engine
//! --test it`; one topic: add its module path as a filter, e.g. `theory::`):
//!
//! * [`properties`]: property tests of the core guarantees (time order, insertion order of
//!   ties, cancellation, one trace per seed, every queue kind agreeing) over random
//!   schedules; the failures proptest has found are replayed from
//!   `tests/proptest-regressions/properties.txt`;
//! * [`theory`]: queueing stations built on the engine against the closed forms of
//!   [`infrasim_engine::theory`], inside confidence intervals over replications.

mod properties;
mod theory;
