//! One replication: build the world, run it to the end (in steps, so progress can be
//! reported), and collect what it leaves.

use infrasim_engine::{RngStreams, SimTime, Simulation};

use super::Progress;
use crate::build::build;
use crate::model::measure::RunData;
use crate::model::observer::Observer;
use crate::scenario::Validated;

/// The seed of replication `i`: the master seed itself for the first, so a one-replication
/// run with `--seed N` is exactly seed N; derived seeds for the others.
pub fn replication_seed(master: u64, i: u32) -> u64 {
    if i == 0 {
        master
    } else {
        RngStreams::new(master)
            .replication(u64::from(i))
            .master_seed()
    }
}

/// Steps a run is cut into so progress can be reported; stopping and resuming a run does not
/// change its events (the queue is exact across stops), so the result is the same.
const PROGRESS_STEPS: u64 = 64;

/// Runs one replication of a validated scenario with this seed.
pub(crate) fn run_replication(
    v: &Validated<'_>,
    seed: u64,
    observer: Option<Box<dyn Observer + Send>>,
    progress: Option<&Progress>,
) -> RunData {
    let mut world = build(v, seed);
    if let Some(o) = observer {
        world.observe(o);
    }
    let warmup_end = world.warmup_end();
    let end = world.end();
    let mut sim = Simulation::new(world, seed);
    sim.with_context(|w, cx| w.start(cx));
    let mut last = SimTime::ZERO;
    let mut warm = warmup_end == SimTime::ZERO;
    if warm {
        sim.model_mut().reset_stats(SimTime::ZERO);
    }
    for k in 1..=PROGRESS_STEPS {
        let t = SimTime::from_nanos(
            (u128::from(end.as_nanos()) * u128::from(k) / u128::from(PROGRESS_STEPS)) as u64,
        );
        if !warm && t >= warmup_end {
            // Every event before the warm-up's end, none at it: a request offered exactly at
            // the end is measured, so the statistics restart before it is counted.
            sim.run_until(SimTime::from_nanos(warmup_end.as_nanos() - 1));
            sim.model_mut().reset_stats(warmup_end);
            warm = true;
        }
        sim.run_until(t);
        if let Some(p) = progress {
            p.add_done((t - last).as_nanos());
        }
        last = t;
    }
    let events = sim.events_processed();
    sim.into_model().finish(events)
}
