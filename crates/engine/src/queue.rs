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
//! property is what a radix heap exploits ([`RadixHeap`], the default): it costs amortised
//! O(log C) bit operations per event and touches memory mostly sequentially, where a binary
//! heap's sift-down misses the cache at every level once a million events are pending.
//! [`BinaryHeapQueue`] (std's `BinaryHeap`) is kept as the reference implementation.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

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

/// Which queue implementation a [`crate::Simulation`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueKind {
    /// [`RadixHeap`]: the fast default.
    #[default]
    Radix,
    /// [`BinaryHeapQueue`]: `std::collections::BinaryHeap`, the baseline.
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

    /// Makes bucket 0 non-empty if the heap is: finds the first non-empty bucket, takes its
    /// minimum as the new `last`, and redistributes its items into lower buckets. Each item
    /// only ever moves to a strictly lower bucket, hence the amortised bound.
    fn refill(&mut self) {
        if self.nonempty[0] & 1 != 0 || self.len == 0 {
            return;
        }
        let i = self
            .first_nonempty()
            .expect("len > 0 but every bucket is empty");
        self.nonempty[i / 64] &= !(1u64 << (i % 64));
        let mut bucket = std::mem::take(&mut self.buckets[i]);
        self.last = bucket
            .iter()
            .map(Slot::key)
            .min()
            .expect("bucket is non-empty");
        for slot in bucket.drain(..) {
            let j = self.bucket_of(slot.key());
            debug_assert!(j < i, "radix heap item did not move to a lower bucket");
            self.buckets[j].push(slot);
            self.nonempty[j / 64] |= 1u64 << (j % 64);
        }
        // Give the (now empty) vector back so its capacity is reused.
        self.buckets[i] = bucket;
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

impl<E> EventQueue<E> for RadixHeap<E> {
    #[inline]
    fn push(&mut self, key: Key, event: E) {
        self.len += 1;
        if key < self.last {
            let at = self.below.partition_point(|s| s.key() > key);
            self.below.insert(at, Slot::new(key, event));
            return;
        }
        let b = self.bucket_of(key);
        self.buckets[b].push(Slot::new(key, event));
        self.nonempty[b / 64] |= 1u64 << (b % 64);
    }

    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        if let Some(s) = self.below.last() {
            return Some(s.key());
        }
        self.refill();
        self.buckets[0].last().map(Slot::key)
    }

    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        if let Some(item) = self.below.pop() {
            self.len -= 1;
            return Some(item.into_pair());
        }
        self.refill();
        let item = self.buckets[0].pop()?;
        if self.buckets[0].is_empty() {
            self.nonempty[0] &= !1;
        }
        self.len -= 1;
        Some(item.into_pair())
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
        self.refill();
        let top = self.buckets[0].last()?;
        if top.key() > limit {
            return None;
        }
        let item = self.buckets[0].pop().expect("non-empty");
        if self.buckets[0].is_empty() {
            self.nonempty[0] &= !1;
        }
        self.len -= 1;
        Some(item.into_pair())
    }

    fn len(&self) -> usize {
        self.len
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

/// The queue a simulation holds: one of the implementations, chosen at construction.
/// An enum rather than a trait object so the hot path is a predictable branch, not an
/// indirect call that blocks inlining.
#[derive(Debug)]
pub enum AnyQueue<E> {
    /// See [`RadixHeap`].
    Radix(RadixHeap<E>),
    /// See [`BinaryHeapQueue`].
    BinaryHeap(BinaryHeapQueue<E>),
}

impl<E> AnyQueue<E> {
    /// An empty queue of the given kind.
    pub fn new(kind: QueueKind) -> Self {
        match kind {
            QueueKind::Radix => AnyQueue::Radix(RadixHeap::new()),
            QueueKind::BinaryHeap => AnyQueue::BinaryHeap(BinaryHeapQueue::default()),
        }
    }
}

impl<E> EventQueue<E> for AnyQueue<E> {
    #[inline]
    fn push(&mut self, key: Key, event: E) {
        match self {
            AnyQueue::Radix(q) => q.push(key, event),
            AnyQueue::BinaryHeap(q) => q.push(key, event),
        }
    }
    #[inline]
    fn peek_key(&mut self) -> Option<Key> {
        match self {
            AnyQueue::Radix(q) => q.peek_key(),
            AnyQueue::BinaryHeap(q) => q.peek_key(),
        }
    }
    #[inline]
    fn pop(&mut self) -> Option<(Key, E)> {
        match self {
            AnyQueue::Radix(q) => q.pop(),
            AnyQueue::BinaryHeap(q) => q.pop(),
        }
    }
    #[inline]
    fn pop_at_most(&mut self, limit: Key) -> Option<(Key, E)> {
        match self {
            AnyQueue::Radix(q) => q.pop_at_most(limit),
            AnyQueue::BinaryHeap(q) => q.pop_at_most(limit),
        }
    }
    fn len(&self) -> usize {
        match self {
            AnyQueue::Radix(q) => q.len(),
            AnyQueue::BinaryHeap(q) => q.len(),
        }
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
    }
}
