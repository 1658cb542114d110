//! Requests and calls: what travels through the topology.
//!
//! A **request** is what a client offers: it ends exactly once — succeeded, failed with a
//! reason, or still in flight at the end of the run. A **call** is one hop of it: a
//! connection from a caller (the client, a load balancer, a web server, an app server) to a
//! callee, carrying the request's class and key. A load balancer that retries makes a new call
//! per attempt; an app server makes one call per database query.
//!
//! Both live in slabs (vectors with free lists) and are named by [`Ref`] — an index plus a
//! generation — so a message about a call that has since ended (a late reply after a
//! timeout, a reply to a client that already gave up) is recognised as stale and dropped,
//! and the slots are reused: the hot path allocates nothing once the slabs have grown.

use infrasim_engine::SimTime;
use infrasim_engine::rng::splitmix64;

use crate::scenario::Class;
use crate::scenario::Node;

/// A slab index with a generation: stale references are detected, never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ref {
    idx: u32,
    generation: u32,
}

impl Ref {
    /// The slot index (for dense per-request tables).
    pub fn index(self) -> usize {
        self.idx as usize
    }
}

/// A vector of reusable slots, each tagged with a generation.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// The most recently freed slot ([`NO_SLOT`]: none); each free slot names the next in
    /// its `next_free`, so reuse is last-freed-first.
    free: u32,
    live: usize,
}

/// The end of a slab's free list.
const NO_SLOT: u32 = u32::MAX;

/// A slab slot: the generation, the free-list link and the value, aligned to a cache line. A
/// [`Call`] or a [`Request`] slot is 64 bytes, so each is exactly one line and a lookup
/// (generation check included) touches one line instead of two: unaligned 72-byte slots
/// straddled lines 7 times in 8. The free list threads through the slots themselves (the
/// link fits in the line's padding), so freeing and reusing a slot touch only that line and
/// the slab's head, not a separate vector.
#[derive(Debug)]
#[repr(align(64))]
struct Slot<T> {
    generation: u32,
    next_free: u32,
    value: Option<T>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: NO_SLOT,
            live: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Always inlined: called out of line, the value is built on the caller's stack with
    /// narrow stores and read back with 16-byte loads, which cannot be store-forwarded (the
    /// profile showed most of the function's time on those loads).
    #[inline(always)]
    pub(crate) fn insert(&mut self, value: T) -> Ref {
        self.live += 1;
        let idx = self.free;
        if let Some(slot) = self.slots.get_mut(idx as usize) {
            self.free = slot.next_free;
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(value);
            Ref {
                idx,
                generation: slot.generation,
            }
        } else {
            let idx = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NO_SLOT)
                .expect("fewer than 2^32 - 1 live items");
            self.slots.push(Slot {
                generation: 0,
                next_free: NO_SLOT,
                value: Some(value),
            });
            Ref { idx, generation: 0 }
        }
    }

    #[inline]
    pub(crate) fn get(&self, r: Ref) -> Option<&T> {
        match self.slots.get(r.idx as usize) {
            Some(Slot {
                generation,
                value: Some(v),
                ..
            }) if *generation == r.generation => Some(v),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, r: Ref) -> Option<&mut T> {
        match self.slots.get_mut(r.idx as usize) {
            Some(Slot {
                generation,
                value: Some(v),
                ..
            }) if *generation == r.generation => Some(v),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, r: Ref) -> Option<T> {
        match self.slots.get_mut(r.idx as usize) {
            Some(Slot {
                generation,
                next_free,
                value: v @ Some(_),
            }) if *generation == r.generation => {
                *next_free = self.free;
                self.free = r.idx;
                self.live -= 1;
                v.take()
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Live items in slot order (deterministic).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Ref, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, slot)| {
            slot.value.as_ref().map(|v| {
                (
                    Ref {
                        idx: i as u32,
                        generation: slot.generation,
                    },
                    v,
                )
            })
        })
    }
}

/// Why a request (or a call) failed. The names are the report's failure reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailReason {
    /// The client gave up waiting (its timeout).
    Timeout,
    /// The connection was refused or reset before the request was accepted (RST: a dead
    /// process, a full accept queue).
    ConnectionRefused,
    /// The load balancer had no usable server (HAProxy 503, "no server available").
    NoBackend,
    /// Waited too long in the load balancer's queue for a server slot (HAProxy 503, `sQ`).
    QueueTimeout,
    /// The load balancer could not connect to a server within `timeout connect`, retries
    /// included (HAProxy 503, `sC`).
    ConnectTimeout,
    /// The server accepted the request but did not answer within `timeout server` (504, `sH`).
    ServerTimeout,
    /// The server answered an error or the connection broke mid-request (500/502).
    ServerError,
    /// The application could not reach the database (no primary, dead node, query timeout).
    DatabaseUnavailable,
    /// A load balancer's rate limit denied the request (HAProxy `http-request deny`, 429
    /// with `deny_status 429`) or rejected its connection (`tcp-request connection reject`).
    RateLimited,
}

impl FailReason {
    /// Every reason, in report order.
    pub const ALL: [FailReason; 9] = [
        FailReason::Timeout,
        FailReason::ConnectionRefused,
        FailReason::NoBackend,
        FailReason::QueueTimeout,
        FailReason::ConnectTimeout,
        FailReason::ServerTimeout,
        FailReason::ServerError,
        FailReason::DatabaseUnavailable,
        FailReason::RateLimited,
    ];

    /// Dense index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The reason's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::ConnectionRefused => "connection_refused",
            FailReason::NoBackend => "no_backend",
            FailReason::QueueTimeout => "queue_timeout",
            FailReason::ConnectTimeout => "connect_timeout",
            FailReason::ServerTimeout => "server_timeout",
            FailReason::ServerError => "server_error",
            FailReason::DatabaseUnavailable => "database_unavailable",
            FailReason::RateLimited => "rate_limited",
        }
    }
}

/// How a call ended, as its caller learns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A successful response.
    Ok,
    /// An error response (or a failure the callee reports).
    Failed(FailReason),
}

/// A database operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbOp {
    /// A read of a key.
    Read,
    /// A write of a key.
    Write,
}

/// A request offered by a client.
#[derive(Debug)]
pub(crate) struct Request {
    pub class: Class,
    pub key: u32,
    /// The request's work: which service demand it carries to every tier (see [`Call::work`]).
    pub work: u32,
    /// Client source address (also the client's identity for read-your-writes).
    pub addr: u32,
    /// Closed-loop user, if any.
    pub user: Option<u32>,
    /// When it was first offered.
    pub offered_at: SimTime,
    /// Whether it was offered after the warm-up (only those are reported).
    pub measured: bool,
    /// Client attempts made so far (1 + retries; at most 101, validation bounds retries).
    pub attempts: u16,
    /// Whether the current attempt's timeout is armed (disarmed lazily: the deadline stays
    /// in the client's timeout queue and is ignored when it expires).
    pub armed: bool,
    /// Generation of the arming, so an old deadline never fires a later attempt (wrapping:
    /// a request is armed a few times, never 65 536).
    pub arm: u16,
    /// The current attempt's call.
    pub call: Option<Ref>,
    /// The entry point the current attempt went to (for DNS fail-over bookkeeping).
    pub entry: Node,
}

/// Who waits for a call's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parent {
    /// The client's request.
    Request(Ref),
    /// Another call (the one the caller is serving).
    Call(Ref),
    /// A load balancer's HTTP health check number `seq` of the server in the call's `slot`.
    Check { seq: u32 },
    /// A connection of attack number `n` (`model::attack`): never an offered request.
    Attack(u32),
}

/// One hop of a request: a connection from `caller` to `callee`.
#[derive(Debug)]
pub(crate) struct Call {
    pub parent: Parent,
    pub caller: Node,
    pub callee: Node,
    pub class: Class,
    pub key: u32,
    pub addr: u32,
    /// For database calls.
    pub db_op: Option<DbOp>,
    /// Caller's index of the target (backend server slot of an LB, database node).
    pub slot: u32,
    /// Attempt number at the caller (LB retries): 0 for the first (at most 100: validation
    /// bounds `retries`).
    pub attempt: u8,
    /// The work this call asks of its callee: the request's serial number, or for a database
    /// query the request's work mixed with the query's index. The callee draws its service
    /// time from a generator seeded with it ([`infrasim_engine::WorkRng`]), so a request
    /// costs the same wherever it is routed (common random numbers).
    pub work: u32,
    /// When the callee accepted the connection; [`NOT_CONNECTED`] while connecting (a
    /// sentinel rather than an `Option`: 8 bytes instead of 16 in a record every hop makes).
    pub connected_at: SimTime,
    /// Whether the call sits in a load balancer's queue waiting for a server slot.
    pub queued: bool,
}

/// The tiers whose service time a request's work decides (the seed of each tier's draws
/// differs, so the same work draws independent times at each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tier {
    Web = 1,
    App = 2,
    Db = 3,
}

/// The work of query number `index` of a request whose work is `work`: a 32-bit mix of the
/// two (SplitMix64's finaliser), so a request's queries draw independent service times and a
/// query retried on another node draws the same.
#[inline]
fn query_work(work: u32, index: u32) -> u32 {
    (splitmix64(u64::from(work) << 32 | u64::from(index)) >> 32) as u32
}

/// [`Call::connected_at`] of a call its callee has not accepted yet.
pub(crate) const NOT_CONNECTED: SimTime = SimTime::MAX;

impl Call {
    /// A connection from `caller` to `callee` on behalf of `parent`, carrying the request's
    /// class, key, client address and work: not yet accepted, not queued, the first attempt.
    #[inline]
    pub(crate) fn new(
        parent: Parent,
        caller: Node,
        callee: Node,
        (class, key, addr, work): (Class, u32, u32, u32),
    ) -> Call {
        Call {
            parent,
            caller,
            callee,
            class,
            key,
            addr,
            work,
            db_op: None,
            slot: 0,
            attempt: 0,
            connected_at: NOT_CONNECTED,
            queued: false,
        }
    }

    /// The same call, as attempt `attempt` on the caller's server `slot` (an LB's backend).
    #[inline]
    pub(crate) fn on_slot(self, slot: u32, attempt: u32) -> Call {
        Call {
            slot,
            attempt: attempt.min(u32::from(u8::MAX)) as u8,
            ..self
        }
    }

    /// The same call, as query number `index` of the request (`op`, to database node `db`).
    #[inline]
    pub(crate) fn query(self, op: DbOp, db: u32, index: u32) -> Call {
        Call {
            db_op: Some(op),
            slot: db,
            work: query_work(self.work, index),
            ..self
        }
    }

    /// What the call carries of its request: class, key, client address, work.
    #[inline]
    pub(crate) fn carried(&self) -> (Class, u32, u32, u32) {
        (self.class, self.key, self.addr, self.work)
    }

    /// When the callee accepted the connection, if it has.
    #[inline]
    pub fn connected(&self) -> Option<SimTime> {
        (self.connected_at != NOT_CONNECTED).then_some(self.connected_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call, a request, an app server's job and a database query fill one cache line
    /// each in their slabs (free-list link included): grow any and every lookup touches two
    /// lines again.
    #[test]
    fn hot_slots_are_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot<Call>>(), 64);
        assert_eq!(std::mem::size_of::<Slot<Request>>(), 64);
        assert_eq!(std::mem::size_of::<Slot<crate::model::server::Job>>(), 64);
        assert_eq!(
            std::mem::size_of::<Slot<crate::model::database::Query>>(),
            64
        );
    }

    /// A removed item's reference goes stale even once its slot is reused; slots are reused
    /// last-freed-first (the order the run's results depend on), and the slab grows only
    /// when none is free.
    #[test]
    fn slab_reuses_freed_slots_and_rejects_stale_refs() {
        let mut s = Slab::default();
        let a = s.insert('a');
        let b = s.insert('b');
        let c = s.insert('c');
        assert_eq!((a.index(), b.index(), c.index()), (0, 1, 2));
        assert_eq!(s.remove(a), Some('a'));
        assert_eq!(s.remove(a), None, "removed twice");
        assert_eq!(s.remove(c), Some('c'));
        assert_eq!(s.len(), 1);
        let d = s.insert('d');
        let e = s.insert('e');
        assert_eq!((d.index(), e.index()), (2, 0), "last freed, first reused");
        assert_eq!(s.insert('f').index(), 3, "grows when nothing is free");
        assert_eq!((s.get(a), s.get(c)), (None, None), "stale after reuse");
        assert_eq!(
            (s.get(e), s.get(d), s.get(b)),
            (Some(&'e'), Some(&'d'), Some(&'b'))
        );
        *s.get_mut(e).expect("live") = 'E';
        assert_eq!(s.get_mut(a), None);
        let live: Vec<char> = s.iter().map(|(_, v)| *v).collect();
        assert_eq!(live, ['E', 'b', 'd', 'f']);
        assert_eq!(s.len(), 4);
    }
}
