//! Timeout queues: many timers of one kind for the price of one event.
//!
//! Network code sets a timeout on nearly everything (a connection, a query, a request) and
//! almost every timeout is disarmed because the answer came first. Scheduling each one as an
//! event costs a queue insertion, a cancellation and, in a radix heap, several moves of an
//! entry that lies far in the future. Timeouts of one kind share one duration, so their
//! deadlines arrive in the order they were set: a FIFO holds them, and a single wake-up event
//! at the earliest deadline serves the whole queue. Disarming is lazy — the owner checks, when
//! a deadline expires, whether the thing it guards is still pending (with a generation, so a
//! reused slot is not mistaken for the original).
//!
//! Deadlines pushed out of order (a timeout whose duration varies) go to a small sorted side
//! list, so the queue is exact whatever the order.

use std::collections::VecDeque;

use crate::sim::Context;
use crate::time::SimTime;

/// Deadlines with their payloads, and the one wake-up event that serves them.
#[derive(Debug)]
pub struct TimeoutQueue<T> {
    fifo: VecDeque<(SimTime, T)>,
    /// Deadlines earlier than the FIFO's tail, sorted by decreasing deadline (pop from the end).
    spill: Vec<(SimTime, T)>,
    /// The time of the earliest wake-up event scheduled and not yet handled.
    armed: Option<SimTime>,
}

impl<T> Default for TimeoutQueue<T> {
    fn default() -> Self {
        TimeoutQueue {
            fifo: VecDeque::new(),
            spill: Vec::new(),
            armed: None,
        }
    }
}

impl<T> TimeoutQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of deadlines held (expired-but-not-yet-drained and disarmed ones included).
    pub fn len(&self) -> usize {
        self.fifo.len() + self.spill.len()
    }

    /// Whether no deadline is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The earliest deadline held.
    pub fn next_deadline(&self) -> Option<SimTime> {
        let a = self.fifo.front().map(|x| x.0);
        let b = self.spill.last().map(|x| x.0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds a deadline. If it is earlier than the wake-up already scheduled (or none is),
    /// schedules `wake()` at the deadline.
    pub fn push<E>(
        &mut self,
        cx: &mut Context<'_, E>,
        deadline: SimTime,
        item: T,
        wake: impl FnOnce() -> E,
    ) {
        match self.fifo.back() {
            Some((last, _)) if deadline < *last => {
                let at = self.spill.partition_point(|(d, _)| *d > deadline);
                self.spill.insert(at, (deadline, item));
            }
            _ => self.fifo.push_back((deadline, item)),
        }
        if self.armed.is_none_or(|a| deadline < a) {
            self.armed = Some(deadline);
            cx.schedule_at(deadline.max(cx.now()), wake());
        }
    }

    /// Takes one deadline that has expired at `now` (earliest first), if any. Call it in a
    /// loop from the wake-up event's handler, then call [`TimeoutQueue::rearm`].
    pub fn pop_expired(&mut self, now: SimTime) -> Option<T> {
        self.pop_expired_entry(now).map(|(_, item)| item)
    }

    /// [`TimeoutQueue::pop_expired`] with the entry's deadline: for owners that derive a
    /// later deadline from it (a query's deadline from its connection deadline) instead of
    /// storing when the timed operation began.
    pub fn pop_expired_entry(&mut self, now: SimTime) -> Option<(SimTime, T)> {
        self.pop_earliest_if(|&(deadline, _)| deadline <= now)
    }

    /// Removes the entry with the earliest deadline (the FIFO's front or the spill list's
    /// last, the FIFO on a tie) if `take` accepts it.
    #[inline]
    fn pop_earliest_if(
        &mut self,
        take: impl FnOnce(&(SimTime, T)) -> bool,
    ) -> Option<(SimTime, T)> {
        let from_spill = match (self.fifo.front(), self.spill.last()) {
            (Some(f), Some(s)) => s.0 < f.0,
            (None, Some(_)) => true,
            _ => false,
        };
        if from_spill {
            if self.spill.last().is_some_and(take) {
                return self.spill.pop();
            }
        } else if self.fifo.front().is_some_and(take) {
            return self.fifo.pop_front();
        }
        None
    }

    /// After a wake-up has drained the expired deadlines: schedules the next wake-up, unless
    /// one is already scheduled early enough.
    pub fn rearm<E>(&mut self, cx: &mut Context<'_, E>, wake: impl FnOnce() -> E) {
        if self.armed.is_some_and(|a| a <= cx.now()) {
            self.armed = None;
        }
        if let Some(d) = self.next_deadline()
            && self.armed.is_none_or(|a| d < a)
        {
            self.armed = Some(d);
            cx.schedule_at(d.max(cx.now()), wake());
        }
    }

    /// Like [`TimeoutQueue::rearm`], but first discards, whatever their deadlines, the
    /// earliest entries that `disarmed` says no longer guard anything.
    ///
    /// Almost every timeout is disarmed long before it expires, so waking at each stale
    /// deadline would cost one event per timeout set. Skipping them here means the next wake-up
    /// is the deadline of the oldest timeout still armed: about one wake-up per timeout
    /// duration while everything answers in time, and still exactly at the deadline when
    /// something does not. The order of the remaining entries is unchanged.
    pub fn rearm_discarding<E>(
        &mut self,
        cx: &mut Context<'_, E>,
        disarmed: impl FnMut(&T) -> bool,
        wake: impl FnOnce() -> E,
    ) {
        self.discard_disarmed(disarmed, usize::MAX);
        self.rearm(cx, wake);
    }

    /// [`TimeoutQueue::push`] after dropping up to two disarmed entries from the front (see
    /// [`TimeoutQueue::discard_disarmed`]): two per push drains the front faster than pushes
    /// fill the back, so the queue stays near the number of timeouts armed.
    pub fn push_discarding<E>(
        &mut self,
        cx: &mut Context<'_, E>,
        deadline: SimTime,
        item: T,
        disarmed: impl FnMut(&T) -> bool,
        wake: impl FnOnce() -> E,
    ) {
        self.discard_disarmed(disarmed, 2);
        self.push(cx, deadline, item, wake);
    }

    /// Drops up to `at_most` of the earliest entries while `disarmed` holds for them.
    ///
    /// Called with a small bound before each [`TimeoutQueue::push`], it keeps the queue about
    /// as long as the number of timeouts actually armed (requests in flight) instead of
    /// everything set during one timeout duration — tens of thousands of entries for a 30 s
    /// timeout at 2 000 requests/s — so the entries stay in cache. Each entry is dropped once
    /// either way; the wake-up already scheduled is unaffected.
    pub fn discard_disarmed(&mut self, mut disarmed: impl FnMut(&T) -> bool, at_most: usize) {
        for _ in 0..at_most {
            if self.pop_earliest_if(|(_, x)| disarmed(x)).is_none() {
                return;
            }
        }
    }

    /// Forgets every deadline (a component crashed); a scheduled wake-up finds nothing.
    pub fn clear(&mut self) {
        self.fifo.clear();
        self.spill.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;
    use crate::{Model, Simulation};

    /// Sets timeouts of varying durations and records when each expires.
    struct Owner {
        q: TimeoutQueue<u32>,
        fired: Vec<(u64, u32)>,
    }

    enum Ev {
        Set(u32, u64),
        Wake,
    }

    impl Model for Owner {
        type Event = Ev;
        fn handle(&mut self, ev: Ev, cx: &mut Context<'_, Ev>) {
            match ev {
                Ev::Set(id, after) => {
                    let d = cx.now() + SimDuration::from_nanos(after);
                    self.q.push(cx, d, id, || Ev::Wake);
                }
                Ev::Wake => {
                    while let Some(id) = self.q.pop_expired(cx.now()) {
                        self.fired.push((cx.now().as_nanos(), id));
                    }
                    self.q.rearm(cx, || Ev::Wake);
                }
            }
        }
    }

    #[test]
    fn every_deadline_fires_at_its_time_in_order() {
        let mut sim = Simulation::new(
            Owner {
                q: TimeoutQueue::new(),
                fired: Vec::new(),
            },
            1,
        );
        // (set at, id, duration): out-of-order deadlines exercise the spill list.
        for (at, id, after) in [
            (0, 1, 100),
            (10, 2, 100),
            (20, 3, 10),
            (25, 4, 500),
            (30, 5, 1),
        ] {
            sim.schedule_at(SimTime::from_nanos(at), Ev::Set(id, after));
        }
        sim.run();
        assert_eq!(
            sim.model().fired,
            vec![(30, 3), (31, 5), (100, 1), (110, 2), (525, 4)]
        );
        assert!(sim.model().q.is_empty());
    }

    /// Timeouts that are disarmed before they expire: only the armed ones fire, at their
    /// deadlines, and the wake-ups skip the disarmed ones instead of visiting each.
    struct Lazy {
        q: TimeoutQueue<u32>,
        disarmed: Vec<bool>,
        fired: Vec<(u64, u32)>,
        wakes: u32,
        /// The longest the queue got before the first armed deadline was set (id 50).
        max_len_early: usize,
    }

    enum LazyEv {
        Set(u32),
        Disarm(u32),
        Wake,
    }

    impl Model for Lazy {
        type Event = LazyEv;
        fn handle(&mut self, ev: LazyEv, cx: &mut Context<'_, LazyEv>) {
            match ev {
                LazyEv::Set(id) => {
                    let disarmed = &self.disarmed;
                    let d = cx.now() + SimDuration::from_nanos(1_000);
                    self.q
                        .push_discarding(cx, d, id, |id| disarmed[*id as usize], || LazyEv::Wake);
                    if id < 50 {
                        self.max_len_early = self.max_len_early.max(self.q.len());
                    }
                }
                LazyEv::Disarm(id) => self.disarmed[id as usize] = true,
                LazyEv::Wake => {
                    self.wakes += 1;
                    while let Some(id) = self.q.pop_expired(cx.now()) {
                        if !self.disarmed[id as usize] {
                            self.fired.push((cx.now().as_nanos(), id));
                        }
                    }
                    let disarmed = &self.disarmed;
                    self.q
                        .rearm_discarding(cx, |id| disarmed[*id as usize], || LazyEv::Wake);
                }
            }
        }
    }

    #[test]
    fn discarding_rearm_wakes_only_for_armed_deadlines() {
        let mut sim = Simulation::new(
            Lazy {
                q: TimeoutQueue::new(),
                disarmed: vec![false; 101],
                fired: Vec::new(),
                wakes: 0,
                max_len_early: 0,
            },
            1,
        );
        for id in 1..=100u32 {
            sim.schedule_at(SimTime::from_nanos(u64::from(id)), LazyEv::Set(id));
            if id != 50 && id != 100 {
                sim.schedule_at(SimTime::from_nanos(u64::from(id) + 5), LazyEv::Disarm(id));
            }
        }
        sim.run();
        assert_eq!(sim.model().fired, vec![(1_050, 50), (1_100, 100)]);
        // The first deadline's wake-up (id 1, disarmed), then one per armed deadline.
        assert_eq!(sim.model().wakes, 3);
        // Discarding before each push keeps the queue at about the armed timeouts (each is
        // disarmed 5 ns after it is set, one is set per ns) instead of all 49 set so far.
        assert!(
            sim.model().max_len_early <= 7,
            "{}",
            sim.model().max_len_early
        );
        assert!(sim.model().q.is_empty());
    }

    /// Random timeouts, disarms and discards: exactly the deadlines still armed when they
    /// come fire, each at its deadline, however the disarmed ones were dropped (before pushes,
    /// in bounded batches, or when re-arming).
    struct Random {
        q: TimeoutQueue<usize>,
        disarmed: Vec<bool>,
        fired: Vec<(u64, usize)>,
    }

    #[derive(Clone, Copy)]
    enum RandomEv {
        Set { id: usize, dur: u64, discard: usize },
        Disarm(usize),
        Wake,
    }

    impl Model for Random {
        type Event = RandomEv;
        fn handle(&mut self, ev: RandomEv, cx: &mut Context<'_, RandomEv>) {
            match ev {
                RandomEv::Set { id, dur, discard } => {
                    let disarmed = &self.disarmed;
                    self.q.discard_disarmed(|i| disarmed[*i], discard);
                    let d = cx.now() + SimDuration::from_nanos(dur);
                    self.q.push(cx, d, id, || RandomEv::Wake);
                }
                RandomEv::Disarm(id) => self.disarmed[id] = true,
                RandomEv::Wake => {
                    while let Some(id) = self.q.pop_expired(cx.now()) {
                        if !self.disarmed[id] {
                            self.fired.push((cx.now().as_nanos(), id));
                        }
                    }
                    let disarmed = &self.disarmed;
                    self.q
                        .rearm_discarding(cx, |i| disarmed[*i], || RandomEv::Wake);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn armed_deadlines_fire_exactly_once_at_their_time(
            sets in proptest::collection::vec((0u64..100, 0u64..60, 0usize..4), 1..80),
            disarms in proptest::collection::vec((0usize..80, 0u64..150), 0..80),
        ) {
            // Sets and disarms at even times, durations odd: a disarm never ties a deadline.
            let mut sim = Simulation::new(
                Random { q: TimeoutQueue::new(), disarmed: vec![false; sets.len()], fired: Vec::new() },
                1,
            );
            let mut expected = Vec::new();
            for (id, &(at, half, discard)) in sets.iter().enumerate() {
                let (at, dur) = (2 * at, 2 * half + 1);
                sim.schedule_at(SimTime::from_nanos(at), RandomEv::Set { id, dur, discard });
                let deadline = at + dur;
                let disarmed_before = disarms
                    .iter()
                    .any(|&(i, x)| i % sets.len() == id && 2 * x < deadline);
                if !disarmed_before {
                    expected.push((deadline, id));
                }
            }
            for &(i, x) in &disarms {
                sim.schedule_at(SimTime::from_nanos(2 * x), RandomEv::Disarm(i % sets.len()));
            }
            sim.run();
            let mut fired = sim.model().fired.clone();
            fired.sort_unstable();
            expected.sort_unstable();
            proptest::prop_assert_eq!(fired, expected);
            proptest::prop_assert!(sim.model().q.is_empty());
        }
    }
}
