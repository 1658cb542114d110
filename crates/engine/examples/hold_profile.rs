//! Profiling aid: the hold model at N pending events (not part of CI).
use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, Model, RngStreams, SimDuration, SimTime, Simulation};
struct Hold {
    draws: Vec<u64>,
    next: usize,
}
impl Model for Hold {
    type Event = ();
    fn handle(&mut self, _ev: (), cx: &mut Context<'_, ()>) {
        let d = self.draws[self.next & ((1 << 20) - 1)];
        self.next += 1;
        cx.schedule_in(SimDuration::from_nanos(d), ());
    }
}
fn main() {
    let n: usize = std::env::args().nth(1).map_or(1000, |s| s.parse().unwrap());
    let d = Dist::exponential(SimDuration::from_micros(1)).unwrap();
    let mut rng = RngStreams::new(42).stream("hold");
    let draws: Vec<u64> = (0..1 << 20)
        .map(|_| d.sample(&mut rng).as_nanos())
        .collect();
    let mut sim = Simulation::new(
        Hold {
            draws: draws.clone(),
            next: n,
        },
        1,
    );
    for &x in &draws[..n] {
        sim.schedule_at(SimTime::from_nanos(x), ());
    }
    let t = std::time::Instant::now();
    let ops: u64 = std::env::args()
        .nth(2)
        .map_or(20_000_000, |s| s.parse().unwrap());
    sim.run_events(ops);
    let e = t.elapsed().as_secs_f64();
    println!("N={n}: {:.2} M events/s", ops as f64 / e / 1e6);
}
