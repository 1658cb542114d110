//! The event queue, behind one small interface so implementations can be swapped and
//! benchmarked against each other.
//!
//! Every event carries a [`Key`]: its time in the high 64 bits and a global insertion sequence
//! number in the low 64 bits. Ordering by the key orders by time, then by insertion, so
//! simultaneous events fire in the order they were scheduled — the stable tie-break that makes
//! runs reproducible. Keys are unique (the sequence never repeats).
//!
//! Simulated time only moves forward and the sequence only grows, so the keys a simulation pops
//! never decrease, and every key pushed is larger than the last key popped. That *monotone*
//! property is what a radix heap exploits ([`RadixHeap`]): it costs amortised
//! O(log C) bit operations per event and touches memory mostly sequentially, where a binary
//! heap's sift-down misses the cache at every level once a million events are pending.
//! [`WheelQueue`], the default, puts a timing wheel in front of radix heaps, so that the many
//! near-future events of a model of infrastructure are ordered with about one move each.
//! [`BinaryHeapQueue`] (std's `BinaryHeap`) is kept as the reference implementation.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::collections::VecDeque;

use crate::time::SimTime;

/// An event's position in the order: `(time << 64) | sequence`.
pub type Key = u128;

/// Builds the key of an event at `time` with insertion sequence `seq`.
#[inline]
pub const fn key(time: SimTime, seq: u64) -> Key {
    ((time.as_nanos() as u128) << 64) | seq as u128
}

/// The time part of a key.
#[inline]
pub const fn key_time(k: Key) -> SimTime {
    SimTime::from_nanos((k >> 64) as u64)
}

/// The sequence part of a key.
#[inline]
pub const fn key_seq(k: Key) -> u64 {
    k as u64
}

/// A monotone priority queue of events keyed by [`Key`].
///
/// Contract (checked in debug builds): every pushed key is greater than the last popped key.
pub trait EventQueue<E> {
    /// Adds an event.
    fn push(&mut self, key: Key, event: E);
    /// The smallest key, without removing it. Takes `&mut self` because a radix heap
    /// reorganises its buckets to find the minimum.
    fn peek_key(&mut self) -> Option<Key>;
    /// Removes and returns the event with the smallest key.
    fn pop(&mut self) -> Option<(Key, E)>;
    /// Removes and returns the event with the smallest key if that key is at most `limit`
    /// (one search instead of a peek and a pop: the run loop's hot path).
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        match self.peek_key() {
            Some(k) if k <= limit => self.pop(),
            _ => None,
        }
    }
    /// Number of events held.
    fn len(&self) -> usize;
    /// Whether no event is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The queue a [`crate::Simulation`] runs on: always the [`WheelQueue`], alone or checked
/// event by event against a reference implementation (see [`AnyQueue`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueKind {
    /// [`WheelQueue`] alone: a timing wheel in front of radix heaps, the fast default.
    #[default]
    Wheel,
    /// The wheel, checked against a [`RadixHeap`].
    Radix,
    /// The wheel, checked against a [`BinaryHeapQueue`] (`std::collections::BinaryHeap`).
    BinaryHeap,
}

/// Number of radix buckets: bucket 0 holds keys equal to the last popped key, bucket `i ≥ 1`
/// keys whose highest bit differing from it is bit `i − 1` (128-bit keys).
const BUCKETS: usize = 129;

/// A monotone radix heap over 128-bit keys (Ahuja, Mehlhorn, Orlin & Tarjan, 1990).
///
/// Buckets are `Vec`s whose capacity is kept when they empty, so after warm-up pushing and
/// popping allocate nothing.
#[derive(Debug)]
pub struct RadixHeap<E> {
    buckets: Vec<Vec<Slot<E>>>,
    /// The last key popped (or the minimum found by the last refill); all held keys are ≥ it.
    last: Key,
    /// Keys pushed below `last` after a peek moved `last` up to a key not yet popped (a run
    /// stopped before its next event, then something was scheduled in between): sorted in
    /// decreasing order, all below every bucketed key, popped first.
    below: Vec<Slot<E>>,
    /// Bit `i` set ⇔ bucket `i` is non-empty: finding the first non-empty bucket is a
    /// `trailing_zeros`, not a scan over 129 vectors.
    nonempty: [u64; 3],
    len: usize,
}

/// An entry of the radix heap: the key as two `u64` halves, so an entry is 8-byte aligned
/// rather than 16 (a `u128` would pad a 40-byte event to a 64-byte entry; this is 56). The
/// refill loop moves entries between buckets, so their size is its memory traffic.
#[derive(Debug)]
struct Slot<E> {
    hi: u64,
    lo: u64,
    event: E,
}

impl<E> Slot<E> {
    #[inline]
    fn new(key: Key, event: E) -> Self {
        Slot {
            hi: (key >> 64) as u64,
            lo: key as u64,
            event,
        }
    }
    #[inline]
    fn key(&self) -> Key {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
    }
    #[inline]
    fn into_pair(self) -> (Key, E) {
        (self.key(), self.event)
    }
}

impl<E> Default for RadixHeap<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> RadixHeap<E> {
    /// An empty heap.
    pub fn new() -> Self {
        RadixHeap {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            last: 0,
            below: Vec::new(),
            nonempty: [0; 3],
            len: 0,
        }
    }

    #[inline]
    fn bucket_of(&self, k: Key) -> usize {
        (128 - (k ^ self.last).leading_zeros()) as usize
    }

    /// The bucket whose last entry is the minimum, if the heap holds anything (the `below`
    /// list aside). A bucket holding a single entry holds the minimum as it is: it is used
    /// in place, without the move to bucket 0 (with few events pending, the common case).
    /// Otherwise the first non-empty bucket is redistributed ([`Self::refill_from`]).
    #[inline]
    fn min_bucket(&mut self) -> Option<usize> {
        if self.nonempty[0] & 1 != 0 {
            return Some(0);
        }
        let i = self.first_nonempty()?;
        if self.buckets[i].len() == 1 {
            return Some(i);
        }
        self.refill_from(i);
        Some(0)
    }

    /// Takes bucket `i`'s minimum as the new `last` and redistributes its items into lower
    /// buckets (the minimum into bucket 0). Each item only ever moves to a strictly lower
    /// bucket, hence the amortised bound.
    fn refill_from(&mut self, i: usize) {
        self.nonempty[i / 64] &= !(1u64 << (i % 64));
        let (lower, upper) = self.buckets.split_at_mut(i);
        let bucket = &mut upper[0];
        let last = bucket
            .iter()
            .map(Slot::key)
            .min()
            .expect("bucket is non-empty");
        self.last = last;
        for slot in bucket.drain(..) {
            let j = (128 - (slot.key() ^ last).leading_zeros()) as usize;
            debug_assert!(j < i, "radix heap item did not move to a lower bucket");
            lower[j].push(slot);
            self.nonempty[j / 64] |= 1u64 << (j % 64);
        }
    }

    /// Removes the last entry of bucket `b`, which [`Self::min_bucket`] returned.
    #[inline]
    fn take_from(&mut self, b: usize) -> Slot<E> {
        let item = self.buckets[b].pop().expect("min_bucket is non-empty");
        if self.buckets[b].is_empty() {
            self.nonempty[b / 64] &= !(1u64 << (b % 64));
        }
        // Taking a single entry in place from bucket `b` makes it the new `last`: every other
        // entry sits in a higher bucket, whose bits above `b` agree with it, so none moves.
        self.last = item.key();
        self.len -= 1;
        item
    }

    #[inline]
    fn first_nonempty(&self) -> Option<usize> {
        self.nonempty
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }
}

impl<E> RadixHeap<E> {
    /// Adds an entry already in slot form (the wheel hands over whole slots).
    #[inline]
    fn push_slot(&mut self, slot: Slot<E>) {
        self.len += 1;
        let key = slot.key();
        if key < self.last {
            let at = self.below.partition_point(|s| s.key() > key);
            self.below.insert(at, slot);
            return;
        }
        let b = self.bucket_of(key);
        self.buckets[b].push(slot);
        self.nonempty[b / 64] |= 1u64 << (b % 64);
    }
}

impl<E> EventQueue<E> for RadixHeap<E> {
    #[inline]
    fn push(&mut self, key: Key, event: E) {
        self.push_slot(Slot::new(key, event));
    }

    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        if let Some(s) = self.below.last() {
            return Some(s.key());
        }
        let b = self.min_bucket()?;
        self.buckets[b].last().map(Slot::key)
    }

    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        if let Some(item) = self.below.pop() {
            self.len -= 1;
            return Some(item.into_pair());
        }
        let b = self.min_bucket()?;
        Some(self.take_from(b).into_pair())
    }

    #[inline]
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        if let Some(s) = self.below.last() {
            if s.key() > limit {
                return None;
            }
            self.len -= 1;
            return self.below.pop().map(Slot::into_pair);
        }
        let b = self.min_bucket()?;
        if self.buckets[b].last().expect("non-empty").key() > limit {
            return None;
        }
        Some(self.take_from(b).into_pair())
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Entries the current slot keeps in a sorted deque before it hands them to a radix heap.
const SMALL_SLOT: usize = 32;

/// The events of the wheel's current slot, in key order.
///
/// A slot of a few microseconds usually holds one to three events, for which a sorted deque
/// (most pushes land at the back: later sequence numbers) is far cheaper than a radix heap's
/// bucket moves. A burst (thousands of events at one instant) would make sorted insertion
/// quadratic, so past [`SMALL_SLOT`] entries everything moves to a [`RadixHeap`] until the
/// slot is drained.
#[derive(Debug)]
struct CurrentSlot<E> {
    /// Sorted by increasing key; empty while `big` is in use.
    small: VecDeque<Slot<E>>,
    big: RadixHeap<E>,
}

impl<E> CurrentSlot<E> {
    fn new() -> Self {
        CurrentSlot {
            small: VecDeque::new(),
            big: RadixHeap::new(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.small.is_empty() && self.big.is_empty()
    }

    #[inline]
    fn len(&self) -> usize {
        self.small.len() + self.big.len()
    }

    /// Records that `key` was popped while this slot was empty: the radix heap's floor.
    #[inline]
    fn popped_elsewhere(&mut self, key: Key) {
        if self.big.is_empty() {
            self.big.last = key;
        }
    }

    #[inline(always)]
    fn push_slot(&mut self, slot: Slot<E>) {
        if !self.big.is_empty() {
            self.big.push_slot(slot);
        } else {
            self.push_small(slot);
        }
    }

    /// [`Self::push_slot`] while the slot is small: out of line, so the inlined push is just
    /// the test and the radix heap's few lines when a burst has the radix heap in use.
    #[inline(never)]
    fn push_small(&mut self, slot: Slot<E>) {
        if self.small.len() >= SMALL_SLOT {
            for s in self.small.drain(..) {
                self.big.push_slot(s);
            }
            self.big.push_slot(slot);
            return;
        }
        let key = slot.key();
        match (self.small.front(), self.small.back()) {
            (_, Some(b)) if b.key() < key => self.small.push_back(slot),
            // A wheel slot's list is drained newest first, so an event moved into the
            // current slot often precedes everything already there.
            (Some(f), _) if f.key() > key => self.small.push_front(slot),
            (Some(_), _) => {
                let at = self.small.partition_point(|s| s.key() < key);
                self.small.insert(at, slot);
            }
            (None, _) => self.small.push_back(slot),
        }
    }

    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        if !self.big.is_empty() {
            return self.big.peek_key();
        }
        self.small.front().map(Slot::key)
    }

    #[inline]
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        if !self.big.is_empty() {
            return self.big.pop_at_most(limit);
        }
        if self.small.front()?.key() > limit {
            return None;
        }
        let item = self.small.pop_front().expect("non-empty");
        if self.small.is_empty() {
            self.popped_elsewhere(item.key());
        }
        Some(item.into_pair())
    }
}

/// log2 of a wheel slot's width in nanoseconds: 2¹² ns ≈ 4 µs. Narrower than the common
/// short delays (an LB's 6 µs per request, a 100 µs hop), so they land in the wheel rather
/// than in the current slot's heap; measured on the topology bench against 2¹⁰–2¹⁴ ns.
const WHEEL_SHIFT: u32 = 12;
/// log2 of the number of wheel slots: 2¹² slots of 4 µs cover the next ≈ 16.8 ms (a
/// client's 10 ms internet hop included).
const WHEEL_BITS: u32 = 12;
const WHEEL_SLOTS: u64 = 1 << WHEEL_BITS;
const WHEEL_MASK: u64 = WHEEL_SLOTS - 1;
/// The end of a wheel slot's list (and of the free list).
const NIL: u32 = u32::MAX;

/// An event in the wheel: a node of its slot's singly linked list, or of the free list.
#[derive(Debug)]
struct WheelEntry<E> {
    slot: Option<Slot<E>>,
    next: u32,
}

/// A timing wheel in front of two radix heaps (the default queue).
///
/// Events of a simulation of infrastructure are mostly near-future (a network hop, a service
/// time: micro- to milliseconds) and few are pending at once. In a plain radix heap each of
/// them is moved several times between buckets before it is popped, and the moves dominate
/// the cost of an event. Here time is cut into slots of 2^`WHEEL_SHIFT` = 2^12 ns (≈ 4 µs):
///
/// * `cur` (a sorted deque, or a [`RadixHeap`] in a burst) holds the events
///   of the current slot and earlier;
/// * the wheel holds, unsorted, the events of the next 2^`WHEEL_BITS` − 1 = 4095 slots, one
///   linked list per slot threaded through a single pool (so an event goes where the last
///   freed one was, in a cache line just used, rather than into one of 4096 separate
///   vectors), with a two-level bitmap of the non-empty slots;
/// * `far` (a [`RadixHeap`]) holds everything beyond the wheel (health-check intervals,
///   timeouts, window ticks).
///
/// When `cur` is empty the cursor moves to the earliest non-empty slot (wheel or `far`) and
/// that slot's events move into `cur`, which orders them (few per slot, so cheaply). An event
/// is thus moved about once before it is ordered, instead of once per radix level. The order
/// is exactly the radix heap's (key order); only the work differs.
#[derive(Debug)]
pub struct WheelQueue<E> {
    /// Events whose slot is at most `cur_slot`.
    cur: CurrentSlot<E>,
    /// The slot the cursor stands on (absolute: `time >> WHEEL_SHIFT`).
    cur_slot: u64,
    /// Slot `s` with `cur_slot < s < cur_slot + WHEEL_SLOTS` is the list starting at
    /// `heads[s & WHEEL_MASK]` (`NIL`: empty). A fixed-size array, so that indexing it with
    /// a masked position needs no bounds check (one compare and branch fewer per push and
    /// per pop); boxed, to keep its 16 KB off the stack and out of the struct.
    heads: Box<[u32; WHEEL_SLOTS as usize]>,
    /// The wheel's events, and free entries chained from `free`.
    pool: Vec<WheelEntry<E>>,
    free: u32,
    /// Bit per wheel position: non-empty.
    occupied: [u64; (WHEEL_SLOTS / 64) as usize],
    /// Bit per word of `occupied`: non-zero.
    summary: u64,
    /// Events held in the wheel.
    wheel_len: usize,
    /// Events at or beyond `cur_slot + WHEEL_SLOTS` when pushed.
    far: RadixHeap<E>,
    /// The slot of `far`'s earliest event (`u64::MAX` when empty), kept up to date so that
    /// popping a lone wheel event does not search `far`'s buckets each time.
    far_slot: u64,
}

impl<E> Default for WheelQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> WheelQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        WheelQueue {
            cur: CurrentSlot::new(),
            cur_slot: 0,
            heads: vec![NIL; WHEEL_SLOTS as usize]
                .into_boxed_slice()
                .try_into()
                .expect("WHEEL_SLOTS entries"),
            pool: Vec::new(),
            free: NIL,
            occupied: [0; (WHEEL_SLOTS / 64) as usize],
            summary: 0,
            wheel_len: 0,
            far: RadixHeap::new(),
            far_slot: u64::MAX,
        }
    }

    #[inline]
    fn slot_of(key: Key) -> u64 {
        ((key >> 64) as u64) >> WHEEL_SHIFT
    }

    /// The first occupied wheel position at or after `from` (no wrap-around).
    #[inline]
    fn occupied_from(&self, from: usize) -> Option<usize> {
        let w = from / 64;
        let bits = self.occupied[w] & (u64::MAX << (from % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        let words = self.summary & u64::MAX.checked_shl(w as u32 + 1).unwrap_or(0);
        if words == 0 {
            return None;
        }
        let w = words.trailing_zeros() as usize;
        Some(w * 64 + self.occupied[w].trailing_zeros() as usize)
    }

    /// The earliest non-empty wheel slot (absolute), if any.
    #[inline]
    fn next_wheel_slot(&self) -> Option<u64> {
        if self.wheel_len == 0 {
            return None;
        }
        let here = self.cur_slot & WHEEL_MASK;
        // Slot `cur_slot` itself is never in the wheel, so searching from the next position
        // and then from 0 finds the earliest.
        let pos = self
            .occupied_from(((here + 1) & WHEEL_MASK) as usize)
            .or_else(|| self.occupied_from(0))
            .expect("wheel_len > 0 but no slot is occupied") as u64;
        Some(self.cur_slot + (pos.wrapping_sub(here) & WHEEL_MASK))
    }

    /// Takes the event out of pool entry `at` and puts the entry on the free list.
    #[inline]
    fn release(&mut self, at: usize) -> Slot<E> {
        let e = &mut self.pool[at];
        let item = e.slot.take().expect("listed entries hold events");
        e.next = self.free;
        self.free = at as u32;
        item
    }

    /// With `cur` empty, when the next slot is a wheel slot holding a single event and `far`
    /// has nothing in it (the common case: events are sparse at this resolution), that event
    /// is the minimum: it is taken straight from the wheel (or left there if it is above
    /// `limit`: `Some(None)`), without passing through `cur`. `None`: take the general path.
    #[inline]
    fn take_lone(&mut self, limit: Key) -> Option<Option<(Key, E)>> {
        let slot = self.next_wheel_slot()?;
        let pos = (slot & WHEEL_MASK) as usize;
        let head = self.heads[pos] as usize;
        let entry = &self.pool[head];
        if entry.next != NIL || self.far_slot <= slot {
            return None;
        }
        if entry
            .slot
            .as_ref()
            .expect("listed entries hold events")
            .key()
            > limit
        {
            return Some(None);
        }
        self.heads[pos] = NIL;
        let item = self.release(head);
        let key = item.key();
        self.occupied[pos / 64] &= !(1u64 << (pos % 64));
        if self.occupied[pos / 64] == 0 {
            self.summary &= !(1u64 << (pos / 64));
        }
        self.wheel_len -= 1;
        self.cur_slot = slot;
        // `cur` is empty: later pushes into this slot are ordered relative to this key.
        self.cur.popped_elsewhere(key);
        Some(Some(item.into_pair()))
    }

    /// When `cur` is empty: moves the cursor to the earliest non-empty slot and that slot's
    /// events (from the wheel and from `far`) into `cur`.
    #[inline]
    fn advance(&mut self) {
        if !self.cur.is_empty() {
            return;
        }
        let from_wheel = self.next_wheel_slot();
        let from_far = (self.far_slot != u64::MAX).then_some(self.far_slot);
        let slot = match (from_wheel, from_far) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        self.cur_slot = slot;
        if from_wheel == Some(slot) {
            let pos = (slot & WHEEL_MASK) as usize;
            self.occupied[pos / 64] &= !(1u64 << (pos % 64));
            if self.occupied[pos / 64] == 0 {
                self.summary &= !(1u64 << (pos / 64));
            }
            let mut at = std::mem::replace(&mut self.heads[pos], NIL);
            while at != NIL {
                let next = self.pool[at as usize].next;
                let item = self.release(at as usize);
                self.wheel_len -= 1;
                self.cur.push_slot(item);
                at = next;
            }
        }
        if from_far == Some(slot) {
            while let Some(k) = self.far.peek_key() {
                if Self::slot_of(k) != slot {
                    break;
                }
                let (k, e) = self.far.pop().expect("peeked");
                self.cur.push_slot(Slot::new(k, e));
            }
            self.far_slot = self.far.peek_key().map_or(u64::MAX, Self::slot_of);
        }
    }
}

impl<E> EventQueue<E> for WheelQueue<E> {
    #[inline(always)]
    fn push(&mut self, key: Key, event: E) {
        let s = Self::slot_of(key);
        if s <= self.cur_slot {
            self.cur.push_slot(Slot::new(key, event));
        } else if s - self.cur_slot < WHEEL_SLOTS {
            let pos = (s & WHEEL_MASK) as usize;
            let entry = WheelEntry {
                slot: Some(Slot::new(key, event)),
                next: self.heads[pos],
            };
            self.heads[pos] = if self.free == NIL {
                let at = u32::try_from(self.pool.len()).expect("fewer than 2^32 wheel events");
                self.pool.push(entry);
                at
            } else {
                let at = self.free;
                let e = &mut self.pool[at as usize];
                self.free = e.next;
                *e = entry;
                at
            };
            self.occupied[pos / 64] |= 1u64 << (pos % 64);
            self.summary |= 1u64 << (pos / 64);
            self.wheel_len += 1;
        } else {
            self.far_slot = self.far_slot.min(s);
            self.far.push(key, event);
        }
    }

    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        self.advance();
        self.cur.peek_key()
    }

    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        self.pop_at_most(Key::MAX)
    }

    #[inline]
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        if self.cur.is_empty()
            && let Some(item) = self.take_lone(limit)
        {
            return item;
        }
        self.advance();
        self.cur.pop_at_most(limit)
    }

    fn len(&self) -> usize {
        self.cur.len() + self.wheel_len + self.far.len()
    }
}

/// An event in [`BinaryHeapQueue`], ordered by key only (min-heap through reversed `Ord`).
#[derive(Debug)]
struct HeapEntry<E> {
    key: Key,
    event: E,
}

impl<E> PartialEq for HeapEntry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for HeapEntry<E> {}
impl<E> PartialOrd for HeapEntry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for HeapEntry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// `std::collections::BinaryHeap` behind [`EventQueue`]: the baseline the radix heap must beat.
#[derive(Debug)]
pub struct BinaryHeapQueue<E> {
    heap: BinaryHeap<HeapEntry<E>>,
}

impl<E> Default for BinaryHeapQueue<E> {
    fn default() -> Self {
        BinaryHeapQueue {
            heap: BinaryHeap::new(),
        }
    }
}

impl<E> EventQueue<E> for BinaryHeapQueue<E> {
    #[inline]
    fn push(&mut self, key: Key, event: E) {
        self.heap.push(HeapEntry { key, event });
    }
    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        self.heap.peek().map(|e| e.key)
    }
    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        self.heap.pop().map(|e| (e.key, e.event))
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The queue a simulation holds: always a [`WheelQueue`], optionally cross-checked against
/// a reference implementation.
///
/// With [`QueueKind::Radix`] or [`QueueKind::BinaryHeap`] every key pushed is also pushed
/// into that queue, and every key the wheel pops must be the one the reference pops — a
/// panic otherwise. Tests run whole simulations this way, so the wheel is checked against
/// the simple implementations event by event, under cancellations, stops and outside
/// scheduling. The wheel is a plain field, popped directly: reaching it through an enum of
/// the three implementations, or choosing between their results, measured 8–11 % slower
/// on the topology bench.
#[derive(Debug)]
pub struct AnyQueue<E> {
    wheel: WheelQueue<E>,
    check: Option<Box<Reference>>,
}

/// The keys of a reference queue that checks the wheel.
#[derive(Debug)]
enum Reference {
    Radix(RadixHeap<()>),
    BinaryHeap(BinaryHeapQueue<()>),
}

impl<E> AnyQueue<E> {
    /// An empty queue of the given kind.
    pub fn new(kind: QueueKind) -> Self {
        let check = match kind {
            QueueKind::Wheel => None,
            QueueKind::Radix => Some(Box::new(Reference::Radix(RadixHeap::new()))),
            QueueKind::BinaryHeap => {
                Some(Box::new(Reference::BinaryHeap(BinaryHeapQueue::default())))
            }
        };
        AnyQueue {
            wheel: WheelQueue::new(),
            check,
        }
    }

    /// [`EventQueue::pop_at_most`] on the wheel alone, for the run loop, which then calls
    /// [`Self::confirm_pop`] once it has dispatched the event: checking right away would
    /// keep the popped event in memory across the (cold) check, which measured 7 % of the
    /// topology bench's wall time.
    #[inline(always)]
    pub fn pop_unconfirmed(&mut self, limit: Key) -> Option<(Key, E)> {
        self.wheel.pop_at_most(limit)
    }

    /// With a reference queue, checks that `popped` is what it pops for `limit`.
    #[inline(always)]
    pub fn confirm_pop(&mut self, limit: Key, popped: Option<Key>) {
        if let Some(c) = &mut self.check {
            c.check_pop(limit, popped);
        }
    }
}

impl Reference {
    #[cold]
    #[inline(never)]
    fn push(&mut self, key: Key) {
        match self {
            Reference::Radix(q) => q.push(key, ()),
            Reference::BinaryHeap(q) => q.push(key, ()),
        }
    }

    /// The reference's answer to the same `pop_at_most` must be the wheel's.
    #[cold]
    #[inline(never)]
    fn check_pop(&mut self, limit: Key, wheel: Option<Key>) {
        let expected = match self {
            Reference::Radix(q) => q.pop_at_most(limit),
            Reference::BinaryHeap(q) => q.pop_at_most(limit),
        };
        assert_eq!(
            wheel,
            expected.map(|(k, ())| k),
            "the timing wheel popped a different event than the reference queue"
        );
    }

    #[cold]
    #[inline(never)]
    fn check_peek(&mut self, wheel: Option<Key>) {
        let expected = match self {
            Reference::Radix(q) => q.peek_key(),
            Reference::BinaryHeap(q) => q.peek_key(),
        };
        assert_eq!(wheel, expected, "the timing wheel's minimum differs");
    }
}

impl<E> EventQueue<E> for AnyQueue<E> {
    #[inline(always)]
    fn push(&mut self, key: Key, event: E) {
        self.wheel.push(key, event);
        if let Some(c) = &mut self.check {
            c.push(key);
        }
    }
    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        let k = self.wheel.peek_key();
        if let Some(c) = &mut self.check {
            c.check_peek(k);
        }
        k
    }
    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        self.pop_at_most(Key::MAX)
    }
    #[inline]
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        let item = self.pop_unconfirmed(limit);
        self.confirm_pop(limit, item.as_ref().map(|(k, _)| *k));
        item
    }
    fn len(&self) -> usize {
        self.wheel.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain<Q: EventQueue<u32>>(q: &mut Q) -> Vec<Key> {
        let mut out = Vec::new();
        while let Some((k, _)) = q.pop() {
            out.push(k);
        }
        out
    }

    #[test]
    fn radix_pops_in_key_order_with_fifo_ties() {
        let mut q = RadixHeap::new();
        let t = |ns| SimTime::from_nanos(ns);
        q.push(key(t(5), 0), 0);
        q.push(key(t(1), 1), 1);
        q.push(key(t(5), 2), 2);
        q.push(key(t(1), 3), 3);
        assert_eq!(q.len(), 4);
        assert_eq!(q.peek_key(), Some(key(t(1), 1)));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
        assert!(q.is_empty());
    }

    proptest! {
        /// Interleaved pushes (always above the last popped key) and pops give the same
        /// sequence from the radix heap and the binary heap.
        #[test]
        fn radix_matches_binary_heap(ops in proptest::collection::vec((0u64..1_000_000, any::<bool>()), 1..400)) {
            let mut r = RadixHeap::new();
            let mut b = BinaryHeapQueue::default();
            let mut now = 0u64;
            let mut seq = 0u64;
            for (delta, pop) in ops {
                if pop {
                    let x = r.pop();
                    let y = b.pop();
                    prop_assert_eq!(x.map(|p| p.0), y.map(|p| p.0));
                    if let Some((k, _)) = x { now = key_time(k).as_nanos(); }
                } else {
                    let k = key(SimTime::from_nanos(now + delta % 1000 * (delta % 3)), seq);
                    seq += 1;
                    r.push(k, 0u32);
                    b.push(k, 0u32);
                }
            }
            prop_assert_eq!(drain(&mut r), drain(&mut b));
        }

        /// The same for the wheel, with delays from nanoseconds to beyond the wheel's horizon
        /// (so `cur`, the wheel and `far` all take part), peeks that move the cursor before a
        /// push lands below the peeked key, and a stop-at-limit pop as the run loop does.
        #[test]
        fn wheel_matches_binary_heap(ops in proptest::collection::vec((0u64..40, 0u64..1000, 0u8..4), 1..600)) {
            let mut w = WheelQueue::new();
            let mut b = BinaryHeapQueue::default();
            let mut now = 0u64;
            let mut seq = 0u64;
            for (scale, x, op) in ops {
                match op {
                    0 => {
                        let x = w.pop();
                        let y = b.pop();
                        prop_assert_eq!(x.map(|p| p.0), y.map(|p| p.0));
                        if let Some((k, _)) = x { now = key_time(k).as_nanos(); }
                    }
                    1 => {
                        prop_assert_eq!(w.peek_key(), b.peek_key());
                        let limit = key(SimTime::from_nanos(now + (x << (scale % 28))), u64::MAX);
                        let x = w.pop_at_most(limit);
                        let y = b.pop_at_most(limit);
                        prop_assert_eq!(x.map(|p| p.0), y.map(|p| p.0));
                        if let Some((k, _)) = x { now = key_time(k).as_nanos(); }
                    }
                    _ => {
                        let k = key(SimTime::from_nanos(now + (x << scale) / 1000), seq);
                        seq += 1;
                        w.push(k, 0u32);
                        b.push(k, 0u32);
                    }
                }
                prop_assert_eq!(w.len(), b.len());
            }
            prop_assert_eq!(drain(&mut w), drain(&mut b));
        }
    }
}
