//! The simulation: a model, a clock, a queue and a run loop.
//!
//! A model plugs in by implementing [`Model`]: one closed event enum, one `handle` method.
//! The engine pops the next event, advances the clock to its time and calls `handle` with a
//! [`Context`], through which the model reads `now`, schedules and cancels events, derives
//! random streams and asks the run to stop. A model of many component kinds keeps one event
//! enum with a variant per kind (or per component message) and dispatches to each
//! component's own method — a `match`, no trait objects, no downcasts, and events stored by
//! value in the queue, so the hot path allocates nothing.
//!
//! ```
//! use infrasim_engine::{Context, Model, SimDuration, Simulation};
//!
//! /// A clock that ticks every second and counts its ticks.
//! struct Ticker { ticks: u32 }
//! enum Ev { Tick }
//!
//! impl Model for Ticker {
//!     type Event = Ev;
//!     fn handle(&mut self, _ev: Ev, cx: &mut Context<'_, Ev>) {
//!         self.ticks += 1;
//!         cx.schedule_in(SimDuration::from_secs(1), Ev::Tick);
//!     }
//! }
//!
//! let mut sim = Simulation::new(Ticker { ticks: 0 }, 1);
//! sim.schedule_in(SimDuration::ZERO, Ev::Tick);
//! let out = sim.run_until("10s".parse().unwrap());
//! assert_eq!(sim.model().ticks, 11); // t = 0, 1, …, 10 s
//! assert_eq!(out.events, 11);
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashSet;

use crate::queue::{AnyQueue, EventQueue, Key, QueueKind, key, key_seq, key_time};
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};

/// A model: the state of everything simulated and its reaction to events.
pub trait Model {
    /// The events this model schedules and reacts to (a closed enum, stored by value).
    type Event;

    /// Reacts to `event`, which fires at `cx.now()`: change state, schedule more events.
    fn handle(&mut self, event: Self::Event, cx: &mut Context<'_, Self::Event>);
}

/// Identifies a scheduled event, so it can be cancelled (timeouts, health-check timers).
///
/// The key is held as its two `u64` halves (time, then sequence: the same order as the
/// `u128`), so an id is 8-byte aligned: models keep ids in their per-request records, and a
/// 16-byte-aligned field would pad every such record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    time: u64,
    seq: u64,
}

impl EventId {
    fn new(k: Key) -> Self {
        EventId {
            time: (k >> 64) as u64,
            seq: k as u64,
        }
    }

    fn key(self) -> Key {
        (Key::from(self.time) << 64) | Key::from(self.seq)
    }

    /// When the event is (or was) due.
    pub fn time(self) -> SimTime {
        key_time(self.key())
    }
}

/// Why a run call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No event is pending.
    QueueEmpty,
    /// The next event is after the time limit; the clock now stands at the limit.
    TimeReached,
    /// The event-count limit of this call was reached.
    EventLimit,
    /// The caller's predicate returned false.
    Predicate,
    /// The model called [`Context::stop`].
    Requested,
}

/// What a run call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// Events processed by this call (cancelled events are not counted).
    pub events: u64,
    /// Why it returned.
    pub stop: StopReason,
    /// The clock when it returned.
    pub now: SimTime,
}

/// The clock and the pending events: the part of a simulation a [`Context`] exposes.
#[derive(Debug)]
struct Scheduler<E> {
    queue: AnyQueue<E>,
    now: SimTime,
    /// Next insertion sequence number. Starts at 1 so that key 0 never exists and
    /// `last_popped == 0` means "nothing popped yet".
    next_seq: u64,
    /// The key of the last event taken off the queue. Keys come off in increasing order, so a
    /// key ≤ this one has already fired (or was cancelled and discarded): that makes
    /// [`Context::cancel`] exact without searching the queue.
    last_popped: Key,
    /// Sequence numbers of pending events that were cancelled: tombstones, removed when the
    /// event reaches the front. Only looked up, never iterated.
    cancelled: FxHashSet<u64>,
    /// The same tombstones by key, smallest first. A tombstone's event is still queued and
    /// keys come off in increasing order, so the popped key is a tombstone exactly when it
    /// equals the smallest: the run loop compares one number per event instead of hashing.
    cancelled_keys: BinaryHeap<Reverse<Key>>,
    /// The sequence number of the smallest tombstone (`u64::MAX` when none, a number no
    /// event gets). Sequence numbers are unique, so comparing them is comparing keys, in
    /// one 64-bit comparison instead of two.
    next_cancelled_seq: u64,
    stop_requested: bool,
}

impl<E> Scheduler<E> {
    fn new(kind: QueueKind) -> Self {
        Scheduler {
            queue: AnyQueue::new(kind),
            now: SimTime::ZERO,
            next_seq: 1,
            last_popped: 0,
            cancelled: FxHashSet::default(),
            cancelled_keys: BinaryHeap::new(),
            next_cancelled_seq: u64::MAX,
            stop_requested: false,
        }
    }

    #[inline(always)]
    fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        assert!(
            at >= self.now,
            "scheduled an event at {at}, before now ({}): time never goes backwards",
            self.now
        );
        let k = key(at, self.next_seq);
        self.next_seq += 1;
        self.queue.push(k, event);
        EventId::new(k)
    }

    #[inline]
    fn cancel(&mut self, id: EventId) -> bool {
        let k = id.key();
        if k <= self.last_popped || key_seq(k) >= self.next_seq {
            return false;
        }
        if !self.cancelled.insert(key_seq(k)) {
            return false;
        }
        self.cancelled_keys.push(Reverse(k));
        self.next_cancelled_seq = self.smallest_tombstone_seq();
        true
    }

    /// Whether the event of key `k`, just popped, was cancelled (and forgets its tombstone).
    #[inline]
    fn take_tombstone(&mut self, k: Key) -> bool {
        debug_assert!(
            self.cancelled_keys.peek().is_none_or(|r| k <= r.0),
            "a tombstone was skipped"
        );
        if key_seq(k) != self.next_cancelled_seq {
            return false;
        }
        self.cancelled.remove(&key_seq(k));
        self.cancelled_keys.pop();
        self.next_cancelled_seq = self.smallest_tombstone_seq();
        true
    }

    fn smallest_tombstone_seq(&self) -> u64 {
        self.cancelled_keys
            .peek()
            .map_or(u64::MAX, |r| key_seq(r.0))
    }

    fn pending(&self) -> usize {
        self.queue.len() - self.cancelled.len()
    }
}

/// What a model sees while it reacts to an event.
pub struct Context<'a, E> {
    sched: &'a mut Scheduler<E>,
    streams: &'a RngStreams,
}

impl<E> Context<'_, E> {
    /// The current simulated time (the time of the event being handled).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.sched.now
    }

    /// Schedules `event` at `at`. Panics if `at` is in the past: that is a model bug.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        self.sched.schedule_at(at, event)
    }

    /// Schedules `event` after `delay` (zero delay: after every event already due now). A
    /// delay reaching past the end of representable time (584 years — a heavy-tailed draw)
    /// schedules at [`SimTime::MAX`]: an event that no run reaches, rather than a panic.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        let at = self.sched.now.saturating_add(delay);
        self.sched.schedule_at(at, event)
    }

    /// Cancels a pending event. Returns whether it was pending: false if it already fired or
    /// was already cancelled. O(1); the event is discarded when it reaches the front.
    #[inline]
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.sched.cancel(id)
    }

    /// Asks the run loop to return after this event ([`StopReason::Requested`]).
    pub fn stop(&mut self) {
        self.sched.stop_requested = true;
    }

    /// The run's random streams, to derive a generator for a stable key.
    pub fn streams(&self) -> &RngStreams {
        self.streams
    }

    /// Shorthand for `self.streams().stream(key)`.
    pub fn stream(&self, key: &str) -> SimRng {
        self.streams.stream(key)
    }

    /// Number of pending (not cancelled) events.
    pub fn pending(&self) -> usize {
        self.sched.pending()
    }
}

/// What happened to an event taken off the queue.
enum Dispatched {
    /// It had been cancelled: dropped.
    Discarded,
    /// The model handled it.
    Handled,
    /// The model handled it and asked the run to stop.
    StopRequested,
}

/// A model, its clock and its pending events.
pub struct Simulation<M: Model> {
    model: M,
    sched: Scheduler<M::Event>,
    streams: RngStreams,
    events_processed: u64,
}

impl<M: Model> std::fmt::Debug for Simulation<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("now", &self.sched.now)
            .field("pending", &self.sched.pending())
            .field("events_processed", &self.events_processed)
            .field("master_seed", &self.streams.master_seed())
            .finish_non_exhaustive()
    }
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` at time zero whose random streams derive from `seed`, with the
    /// default ([`crate::queue::WheelQueue`]) queue.
    pub fn new(model: M, seed: u64) -> Self {
        Self::with_queue(model, seed, QueueKind::default())
    }

    /// As [`Simulation::new`]; with [`QueueKind::Radix`] or [`QueueKind::BinaryHeap`] the
    /// timing wheel is checked against that implementation at every event (a panic if they
    /// disagree) — for tests of the engine, at the cost of a second queue.
    pub fn with_queue(model: M, seed: u64, kind: QueueKind) -> Self {
        Simulation {
            model,
            sched: Scheduler::new(kind),
            streams: RngStreams::new(seed),
            events_processed: 0,
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// The model, mutably (e.g. to reset statistics at the end of a warm-up).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }
    /// Consumes the simulation, returning the model.
    pub fn into_model(self) -> M {
        self.model
    }
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.sched.now
    }
    /// Events processed since the start.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }
    /// Number of pending (not cancelled) events.
    pub fn pending(&self) -> usize {
        self.sched.pending()
    }
    /// The random streams of this run.
    pub fn streams(&self) -> &RngStreams {
        &self.streams
    }

    /// Schedules an event from outside the model (initial arrivals, injected faults).
    pub fn schedule_at(&mut self, at: SimTime, event: M::Event) -> EventId {
        self.sched.schedule_at(at, event)
    }
    /// Schedules an event `delay` after now, from outside the model (saturating, as
    /// [`Context::schedule_in`]).
    pub fn schedule_in(&mut self, delay: SimDuration, event: M::Event) -> EventId {
        let at = self.sched.now.saturating_add(delay);
        self.sched.schedule_at(at, event)
    }
    /// Cancels a pending event from outside the model; see [`Context::cancel`].
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.sched.cancel(id)
    }

    /// Runs model code with a [`Context`] outside event handling (e.g. to start components at
    /// time zero), so it can schedule with the same API it uses when reacting.
    pub fn with_context<R>(
        &mut self,
        f: impl FnOnce(&mut M, &mut Context<'_, M::Event>) -> R,
    ) -> R {
        let mut cx = Context {
            sched: &mut self.sched,
            streams: &self.streams,
        };
        f(&mut self.model, &mut cx)
    }

    /// Processes the next event, if any. Returns its time.
    pub fn step(&mut self) -> Option<SimTime> {
        let out = self.run_unconditional(SimTime::MAX, 1);
        (out.events == 1).then_some(out.now)
    }

    /// Processes every event due at or before `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) -> RunOutcome {
        self.run_unconditional(until, u64::MAX)
    }

    /// Processes at most `n` events.
    pub fn run_events(&mut self, n: u64) -> RunOutcome {
        self.run_unconditional(SimTime::MAX, n)
    }

    /// Processes events while `keep_going(model, now)` holds (checked before each event).
    pub fn run_while(&mut self, keep_going: impl FnMut(&M, SimTime) -> bool) -> RunOutcome {
        self.run_inner(SimTime::MAX, u64::MAX, keep_going)
    }

    /// Processes events until none is pending or the model asks to stop.
    pub fn run(&mut self) -> RunOutcome {
        self.run_unconditional(SimTime::MAX, u64::MAX)
    }

    /// The run loop without a predicate: one queue search per event (`pop_at_most`) instead
    /// of a peek and a pop. Same events, same order, same outcome as [`Self::run_inner`].
    fn run_unconditional(&mut self, until: SimTime, max_events: u64) -> RunOutcome {
        let mut events = 0u64;
        let limit = key(until, u64::MAX);
        let stop = loop {
            if events >= max_events {
                break StopReason::EventLimit;
            }
            let Some((k, event)) = self.sched.queue.pop_unconfirmed(limit) else {
                self.sched.queue.confirm_pop(limit, None);
                let empty = self.sched.queue.is_empty();
                if until != SimTime::MAX {
                    self.sched.now = self.sched.now.max(until);
                }
                break if empty {
                    StopReason::QueueEmpty
                } else {
                    StopReason::TimeReached
                };
            };
            let dispatched = self.dispatch(k, event);
            // Everything the model scheduled meanwhile is later than `k`, so the reference
            // queue's next key is still `k`.
            self.sched.queue.confirm_pop(limit, Some(k));
            match dispatched {
                Dispatched::Discarded => continue,
                Dispatched::Handled => events += 1,
                Dispatched::StopRequested => {
                    events += 1;
                    break StopReason::Requested;
                }
            }
        };
        self.events_processed += events;
        RunOutcome {
            events,
            stop,
            now: self.sched.now,
        }
    }

    /// Hands an event taken off the queue to the model. The clock reaches every event taken
    /// off the queue, discarded (cancelled) ones included, so that nothing can later be
    /// scheduled below `last_popped`.
    #[inline]
    fn dispatch(&mut self, k: Key, event: M::Event) -> Dispatched {
        debug_assert!(k > self.sched.last_popped, "queue popped out of order");
        self.sched.last_popped = k;
        self.sched.now = key_time(k);
        if self.sched.take_tombstone(k) {
            return Dispatched::Discarded;
        }
        let mut cx = Context {
            sched: &mut self.sched,
            streams: &self.streams,
        };
        self.model.handle(event, &mut cx);
        if self.sched.stop_requested {
            self.sched.stop_requested = false;
            Dispatched::StopRequested
        } else {
            Dispatched::Handled
        }
    }

    /// Processes events with every stop condition at once: a time limit, an event limit and a
    /// predicate. The other `run_*` methods are this with the unused limits wide open.
    pub fn run_with(
        &mut self,
        until: SimTime,
        max_events: u64,
        keep_going: impl FnMut(&M, SimTime) -> bool,
    ) -> RunOutcome {
        self.run_inner(until, max_events, keep_going)
    }

    #[inline]
    fn run_inner(
        &mut self,
        until: SimTime,
        max_events: u64,
        mut keep_going: impl FnMut(&M, SimTime) -> bool,
    ) -> RunOutcome {
        let mut events = 0u64;
        let stop = loop {
            if events >= max_events {
                break StopReason::EventLimit;
            }
            let Some(k) = self.sched.queue.peek_key() else {
                if until != SimTime::MAX {
                    self.sched.now = self.sched.now.max(until);
                }
                break StopReason::QueueEmpty;
            };
            let at = key_time(k);
            if at > until {
                self.sched.now = self.sched.now.max(until);
                break StopReason::TimeReached;
            }
            if !keep_going(&self.model, self.sched.now) {
                break StopReason::Predicate;
            }
            let (k, event) = self.sched.queue.pop().expect("peeked a key");
            match self.dispatch(k, event) {
                Dispatched::Discarded => continue,
                Dispatched::Handled => events += 1,
                Dispatched::StopRequested => {
                    events += 1;
                    break StopReason::Requested;
                }
            }
        };
        self.events_processed += events;
        RunOutcome {
            events,
            stop,
            now: self.sched.now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the (time, label) of every event it receives; label-driven actions.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(u64, u32)>,
        to_cancel: Vec<EventId>,
    }

    impl Model for Recorder {
        type Event = u32;
        fn handle(&mut self, ev: u32, cx: &mut Context<'_, u32>) {
            self.seen.push((cx.now().as_nanos(), ev));
            if ev == 100 {
                for id in self.to_cancel.drain(..) {
                    cx.cancel(id);
                }
            }
            if ev == 999 {
                cx.stop();
            }
        }
    }

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn fires_in_time_then_insertion_order() {
        for kind in [QueueKind::Wheel, QueueKind::Radix, QueueKind::BinaryHeap] {
            let mut sim = Simulation::with_queue(Recorder::default(), 1, kind);
            sim.schedule_at(t(10), 1);
            sim.schedule_at(t(5), 2);
            sim.schedule_at(t(10), 3);
            sim.schedule_at(t(5), 4);
            let out = sim.run();
            assert_eq!(out.stop, StopReason::QueueEmpty);
            assert_eq!(out.events, 4);
            assert_eq!(sim.model().seen, vec![(5, 2), (5, 4), (10, 1), (10, 3)]);
        }
    }

    #[test]
    fn cancel_is_exact() {
        let mut sim = Simulation::new(Recorder::default(), 1);
        let a = sim.schedule_at(t(10), 1);
        let b = sim.schedule_at(t(20), 2);
        assert!(sim.cancel(a));
        assert!(!sim.cancel(a), "double cancel reports false");
        assert_eq!(sim.pending(), 1);
        sim.run();
        assert_eq!(sim.model().seen, vec![(20, 2)]);
        assert!(!sim.cancel(b), "cancelling a fired event reports false");
    }

    #[test]
    fn model_can_cancel_from_inside() {
        let mut sim = Simulation::new(Recorder::default(), 1);
        let later = sim.schedule_at(t(50), 7);
        sim.model_mut().to_cancel.push(later);
        sim.schedule_at(t(1), 100);
        sim.run();
        assert_eq!(sim.model().seen, vec![(1, 100)]);
    }

    #[test]
    fn run_until_stops_at_limit_and_sets_clock() {
        let mut sim = Simulation::new(Recorder::default(), 1);
        sim.schedule_at(t(10), 1);
        sim.schedule_at(t(30), 2);
        let out = sim.run_until(t(20));
        assert_eq!(out.stop, StopReason::TimeReached);
        assert_eq!(out.events, 1);
        assert_eq!(sim.now(), t(20));
        let out = sim.run_until(t(100));
        assert_eq!(out.stop, StopReason::QueueEmpty);
        assert_eq!(sim.now(), t(100));
        assert_eq!(sim.events_processed(), 2);
    }

    #[test]
    fn event_limit_predicate_and_stop_request() {
        let mut sim = Simulation::new(Recorder::default(), 1);
        for i in 0..10 {
            sim.schedule_at(t(i), i as u32);
        }
        assert_eq!(sim.run_events(3).stop, StopReason::EventLimit);
        assert_eq!(sim.step(), Some(t(3)));
        let out = sim.run_while(|m, _| m.seen.len() < 6);
        assert_eq!(out.stop, StopReason::Predicate);
        assert_eq!(sim.model().seen.len(), 6);
        sim.schedule_at(t(7), 999);
        let out = sim.run();
        assert_eq!(out.stop, StopReason::Requested);
        // Event 999 at t=7 was scheduled after event 7 at t=7, so it fires after it.
        assert_eq!(sim.model().seen.last(), Some(&(7, 999)));
    }

    #[test]
    #[should_panic(expected = "time never goes backwards")]
    fn scheduling_in_the_past_panics() {
        let mut sim = Simulation::new(Recorder::default(), 1);
        sim.schedule_at(t(10), 1);
        sim.run();
        sim.schedule_at(t(5), 2);
    }
}
