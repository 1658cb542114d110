//! Engine benchmarks.
//!
//! * `hold/engine/N` and `hold/bare_heap/N`, N = 10³ and 10⁶: the classic *hold* model —
//!   N events pending; each operation pops the earliest and schedules one at now + Exp(mean
//!   1 µs) (integer nanoseconds). `engine` is a [`Model`] whose handler calls
//!   `cx.schedule_in` (so it pays for the whole event loop: queue, cancellation check, clock,
//!   dispatch); `bare_heap` is a loop on `std::collections::BinaryHeap<Reverse<(time, seq)>>`,
//!   the floor a general-purpose queue gives. Both read the same precomputed Exp draws in the
//!   same order, so they see the same event times. The N events are scheduled once, outside
//!   the measurement; every iteration then runs [`OPS`] hold operations on the same queue (the
//!   hold model keeps N constant, so the state stays representative). Throughput = events/s.
//! * `mm1/customers`: a whole M/M/1 simulation (ρ = 0.8, exponential draws from the engine's
//!   `Dist`, response times recorded in a `Histogram`), in simulated customers per second.
//!
//! Run: `cargo bench --bench engine` (about two minutes).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use infrasim_engine::dist::Dist;
use infrasim_engine::stats::Histogram;
use infrasim_engine::{Context, Model, RngStreams, SimDuration, SimRng, SimTime, Simulation};

/// Hold operations (= events) per measured iteration.
const OPS: u64 = 1_000_000;
/// Number of precomputed Exp draws (a power of two, cycled through).
const DRAWS: usize = 1 << 20;
const MASK: usize = DRAWS - 1;

/// Exp(mean 1 µs) draws in integer nanoseconds, from the engine's distribution and a fixed
/// ChaCha stream: the same sequence for every variant.
fn exp_draws() -> Vec<u64> {
    let d = Dist::exponential(SimDuration::from_micros(1)).expect("valid mean");
    let mut rng = RngStreams::new(42).stream("hold");
    (0..DRAWS).map(|_| d.sample(&mut rng).as_nanos()).collect()
}

/// The hold model on the engine: each event schedules its successor.
struct Hold {
    draws: Vec<u64>,
    next: usize,
}

impl Model for Hold {
    type Event = ();
    #[inline]
    fn handle(&mut self, _ev: (), cx: &mut Context<'_, ()>) {
        let d = self.draws[self.next & MASK];
        self.next += 1;
        cx.schedule_in(SimDuration::from_nanos(d), ());
    }
}

/// The same model on a bare binary heap of `(time, seq)`.
struct BareHold {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    draws: Vec<u64>,
    next: usize,
    seq: u64,
}

impl BareHold {
    #[inline]
    fn run(&mut self, ops: u64) -> u64 {
        let mut now = 0;
        for _ in 0..ops {
            let Reverse((t, _)) = self.heap.pop().expect("N > 0 events pending");
            now = t;
            let d = self.draws[self.next & MASK];
            self.next += 1;
            self.heap.push(Reverse((t + d, self.seq)));
            self.seq += 1;
        }
        now
    }
}

fn hold(c: &mut Criterion) {
    let draws = exp_draws();
    let mut g = c.benchmark_group("hold");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(OPS));
    for n in [1_000usize, 1_000_000] {
        // Prefill (not measured): draws 0..n, then the hold operations continue at draw n.
        let mut sim = Simulation::new(
            Hold {
                draws: draws.clone(),
                next: n,
            },
            1,
        );
        for &d in &draws[..n] {
            sim.schedule_at(SimTime::from_nanos(d), ());
        }
        g.bench_function(BenchmarkId::new("engine", n), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(sim.run_events(OPS));
                }
                start.elapsed()
            });
        });
        assert_eq!(sim.pending(), n);
        drop(sim);

        let mut bare = BareHold {
            heap: BinaryHeap::with_capacity(n + 1),
            draws: draws.clone(),
            next: n,
            seq: 0,
        };
        for &d in &draws[..n] {
            bare.heap.push(Reverse((d, bare.seq)));
            bare.seq += 1;
        }
        g.bench_function(BenchmarkId::new("bare_heap", n), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(bare.run(OPS));
                }
                start.elapsed()
            });
        });
        assert_eq!(bare.heap.len(), n);
    }
    g.finish();
}

/// Simulated customers per measured iteration of `mm1/customers`.
const CUSTOMERS: u64 = 200_000;

#[derive(Clone, Copy)]
enum Ev {
    Arrival,
    Departure,
}

/// M/M/1, FIFO: the model of the theory tests, reduced to what a benchmark needs. It asks the
/// run to stop once `target` customers have departed.
struct Mm1 {
    interarrival: Dist,
    service: Dist,
    arrival_rng: SimRng,
    service_rng: SimRng,
    /// Arrival times of the customers in the system, the one in service first.
    queue: VecDeque<SimTime>,
    response: Histogram,
    departed: u64,
    target: u64,
}

impl Mm1 {
    fn new(rho: f64, seed: u64) -> Self {
        let streams = RngStreams::new(seed);
        let ms = Dist::exponential(SimDuration::from_millis(1)).expect("valid mean");
        Mm1 {
            interarrival: ms.scaled(1.0 / rho),
            service: ms,
            arrival_rng: streams.stream("arrivals"),
            service_rng: streams.stream("service"),
            queue: VecDeque::new(),
            response: Histogram::new(),
            departed: 0,
            target: 0,
        }
    }
}

impl Model for Mm1 {
    type Event = Ev;
    fn handle(&mut self, ev: Ev, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        match ev {
            Ev::Arrival => {
                let gap = self.interarrival.sample(&mut self.arrival_rng);
                cx.schedule_in(gap, Ev::Arrival);
                self.queue.push_back(now);
                if self.queue.len() == 1 {
                    let s = self.service.sample(&mut self.service_rng);
                    cx.schedule_in(s, Ev::Departure);
                }
            }
            Ev::Departure => {
                let arrived = self.queue.pop_front().expect("a customer in service");
                self.response.record((now - arrived).as_nanos());
                if !self.queue.is_empty() {
                    let s = self.service.sample(&mut self.service_rng);
                    cx.schedule_in(s, Ev::Departure);
                }
                self.departed += 1;
                if self.departed == self.target {
                    cx.stop();
                }
            }
        }
    }
}

fn mm1(c: &mut Criterion) {
    let mut g = c.benchmark_group("mm1");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(CUSTOMERS));
    let mut sim = Simulation::new(Mm1::new(0.8, 7), 7);
    sim.schedule_at(SimTime::ZERO, Ev::Arrival);
    g.bench_function("customers", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                sim.model_mut().target += CUSTOMERS;
                black_box(sim.run());
            }
            start.elapsed()
        });
    });
    g.finish();
}

criterion_group!(benches, hold, mm1);
criterion_main!(benches);
