//! HAProxy's `balance` algorithms as a pure, event-free component.
//!
//! A [`Balancer`] answers one question: *which server gets this new request?* It knows nothing
//! about events or time; the caller hands it a slice of [`ServerView`]s (what the load balancer
//! currently believes about each server) and gets back a server index, or `None` when no
//! server can take traffic (HAProxy answers 503 "no server available").
//!
//! Every behaviour follows the HAProxy configuration manual (section 4, keywords `balance`,
//! `hash-type`, `weight`, `backup`, `option allbackups`), with the implementation details taken
//! from HAProxy's sources where the manual is silent (`src/lb_chash.c`, `src/lb_map.c`,
//! `src/backend.c`, `include/haproxy/tools.h`).
//!
//! # Cost model
//!
//! All tables (the pool of eligible servers, the weighted map, the consistent-hash ring, the
//! cumulative weight table) are rebuilt in [`Balancer::refresh`], which the caller invokes when
//! any server's `usable`, `weight` or `backup` changed — as HAProxy recomputes its trees on a
//! server state change. [`Balancer::pick_avoiding`] never allocates.
//!
//! # Determinism
//!
//! No hash maps, no global state: the same sequence of `refresh`/`pick` calls with the same
//! random stream gives the same picks on every platform.

#![warn(missing_docs)]

use infrasim_engine::rng::{SimRng, below};

use crate::scenario::{self, Balance, HashTypeSpec};

/// HAProxy's weight scale: each unit of user weight is worth 16 units of effective weight
/// (`BE_WEIGHT_SCALE`, `include/haproxy/backend-t.h`), so a server sits on the consistent-hash
/// ring `16 × weight` times (`src/lb_chash.c`).
pub const BE_WEIGHT_SCALE: u32 = 16;

/// The largest server weight HAProxy accepts (`weight`: "the weight … between 0 and 256";
/// `SRV_UWGHT_MAX`, `include/haproxy/server-t.h`). Larger values are clamped to it.
pub const MAX_WEIGHT: u32 = 256;

/// The span of ring keys reserved per server: `SRV_EWGHT_RANGE = 256 × 16`. A ring point's key
/// is `full_hash(puid × SRV_EWGHT_RANGE + replica)` (`src/lb_chash.c`, `chash_compute_node_key`).
const SRV_EWGHT_RANGE: u32 = MAX_WEIGHT * BE_WEIGHT_SCALE;

/// The largest effective weight, `SRV_EWGHT_MAX = SRV_UWGHT_MAX × BE_WEIGHT_SCALE`
/// (include/haproxy/server-t.h): the scale of the leastconn tree keys.
const SRV_EWGHT_MAX: u32 = MAX_WEIGHT * BE_WEIGHT_SCALE;

/// How a hash-based algorithm (here `balance source`) maps a hash to a server — HAProxy's
/// `hash-type` keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashType {
    /// `hash-type map-based` (HAProxy's default): "the hash table is a static array containing
    /// all alive servers"; the hash is taken modulo the total weight of the running servers.
    /// Static: weight changes are ignored (only drain to 0 and back is honoured), and when a
    /// server goes up or down "most mappings are changed".
    #[default]
    MapBased,
    /// `hash-type consistent`: "the hash table is a tree filled with many occurrences of each
    /// server"; when a server goes down only its own clients move. Dynamic (weight changes
    /// rebuild the ring), but the distribution is "never very smooth".
    Consistent,
}

/// A load-balancing algorithm — HAProxy's `balance` keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `balance roundrobin`: "each server is used in turns, according to their weights";
    /// dynamic (runtime weight changes take effect). Modelled as smooth weighted round robin
    /// (nginx's algorithm; HAProxy's own tree-based scheduler interleaves the same way). The
    /// manual limits it to 4095 active servers per backend; this model does not need the cap.
    RoundRobin,
    /// `balance static-rr`: like roundrobin but "changing a server's weight on the fly will
    /// have no effect"; a server coming back up "is always immediately reintroduced". Each
    /// server's weight is latched the first time it is seen non-zero; only a drain to 0 (and
    /// back) is honoured afterwards, as HAProxy only accepts `set weight` 0 % or 100 % for
    /// static algorithms.
    StaticRr,
    /// `balance leastconn`: "the server with the lowest number of connections receives the
    /// connection"; "round-robin is performed within groups of servers of the same load";
    /// queued requests count too. Servers are ordered by HAProxy's tree key
    /// (src/lb_fwlc.c `fwlc_queue_srv()`): 0 when idle, else (inflight + 1) × 4096 /
    /// eweight, inflight = served + queued.
    LeastConn,
    /// `balance first`: "the first server with available connection slots receives the
    /// connection"; servers are taken by increasing id (here: index) and the next one is used
    /// once one reaches its `maxconn`. Weight is ignored (except 0, which drains). All
    /// saturated: none (the request waits in the backend queue).
    First,
    /// `balance source`: "the source IP address is hashed and divided by the total weight of
    /// the running servers", so "the same client IP address will always reach the same server
    /// as long as no server goes down or up".
    Source {
        /// How the hash is mapped to a server (`hash-type`).
        hash_type: HashType,
    },
    /// `balance random(<draws>)`: a weighted random server; with `draws` > 1, "that many
    /// servers will be picked at random and the least loaded of them will be used" (power of
    /// two choices for `draws = 2`, HAProxy ≥ 3.3's default). `draws = 0` is treated as 1.
    Random {
        /// How many weighted random candidates are drawn per request.
        draws: u32,
    },
}

impl Algorithm {
    /// Whether weights may change at run time (HAProxy's `BE_LB_PROP_DYN`): all but
    /// `static-rr` and map-based hashing. Only dynamic algorithms ramp a server's weight
    /// during `slowstart`.
    pub fn is_dynamic(&self) -> bool {
        !matches!(
            self,
            Algorithm::StaticRr
                | Algorithm::Source {
                    hash_type: HashType::MapBased
                }
        )
    }

    /// The algorithm a scenario's load balancer asks for.
    pub(crate) fn of(spec: &scenario::LoadBalancer) -> Self {
        match spec.balance {
            Balance::Roundrobin => Algorithm::RoundRobin,
            Balance::StaticRr => Algorithm::StaticRr,
            Balance::Leastconn => Algorithm::LeastConn,
            Balance::First => Algorithm::First,
            Balance::Source => Algorithm::Source {
                hash_type: match spec.hash_type {
                    HashTypeSpec::MapBased => HashType::MapBased,
                    HashTypeSpec::Consistent => HashType::Consistent,
                },
            },
            Balance::Random => Algorithm::Random { draws: spec.draws },
        }
    }
}

/// What the load balancer believes about one server at the moment of a pick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerView {
    /// The server's `weight` (0..=256, larger values are clamped). 0 puts it in "drain" mode:
    /// "the server will not receive any new traffic from the load balancer".
    pub weight: u32,
    /// The load balancer believes the server UP (health checks pass) and not in maintenance.
    pub usable: bool,
    /// The server has the `backup` flag: used "only when all other non-backup servers are
    /// unavailable".
    pub backup: bool,
    /// Requests holding a connection slot on the server (HAProxy's `served`).
    pub served: u32,
    /// Requests queued on this server, waiting for one of its slots (HAProxy's
    /// `queueslength`).
    pub queued: u32,
    /// The server's connection limit now: `maxconn`, ramped during `slowstart`
    /// (`srv_dynamic_maxconn()`); 0 = unlimited.
    pub maxconn: u32,
    /// The server's `maxqueue` (0 = unlimited).
    pub maxqueue: u32,
    /// The weight step of a server warming up after `slowstart`, 1 to [`BE_WEIGHT_SCALE`]:
    /// its effective weight is `weight × warmup` where a running server's is `weight × 16`
    /// (src/server.c `server_recalc_eweight()`); 0 = not warming up. Dynamic algorithms
    /// only: static ones ignore it.
    pub warmup: u32,
}

impl ServerView {
    /// The weight the algorithms use: `weight` clamped to [`MAX_WEIGHT`].
    fn clamped_weight(&self) -> u32 {
        self.weight.min(MAX_WEIGHT)
    }

    /// The effective weight of dynamic algorithms, HAProxy's `eweight`: `weight × 16`, or
    /// `weight × warmup` while warming up.
    fn eweight(&self) -> u32 {
        let step = if self.warmup == 0 {
            BE_WEIGHT_SCALE
        } else {
            self.warmup.min(BE_WEIGHT_SCALE)
        };
        self.clamped_weight() * step
    }

    /// May take new traffic at all: believed UP and weight > 0 (HAProxy's
    /// `srv_willbe_usable()` requires a non-zero effective weight).
    fn eligible(&self) -> bool {
        self.usable && self.weight > 0
    }

    /// Saturated for the round-robin, `first` and `random` lookups: it has a `maxconn` and
    /// either requests already queued on it or every slot taken — the negation of
    /// `!srv->maxconn || (!srv->queueslength && srv->served < srv_dynamic_maxconn(srv))`
    /// (src/lb_fwrr.c, src/lb_map.c, src/lb_fas.c; src/backend.c `get_server_rnd()`).
    pub fn saturated(&self) -> bool {
        self.maxconn > 0 && (self.queued > 0 || self.served >= self.maxconn)
    }

    /// Still a candidate for `leastconn` (src/lb_fwlc.c `fwlc_get_next_server()`):
    /// `!maxconn || served + queueslength < srv_dynamic_maxconn + maxqueue`. A full server
    /// whose own queue has room (`maxqueue` > 0) may still be chosen — the request then
    /// waits in that server's queue; with `maxqueue` 0 a full server is skipped.
    fn leastconn_candidate(&self) -> bool {
        self.maxconn == 0 || self.served + self.queued < self.maxconn + self.maxqueue
    }
}

/// Bob Jenkins' 32-bit full-avalanche integer hash followed by a multiplication by a large
/// prime, exactly HAProxy's `full_hash()` (`include/haproxy/tools.h`), used for `source`
/// hashing and for placing servers on the consistent-hash ring. Every input bit affects every
/// output bit, so neighbouring client addresses land far apart.
/// See <http://burtleburtle.net/bob/hash/integer.html>.
pub fn full_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

/// Chooses a server for each new request according to one HAProxy `balance` algorithm.
///
/// Backup handling follows `backup` and `option allbackups`: backups are considered only when
/// no non-backup server is eligible (usable with weight > 0); then "only the first operational
/// backup server is used" (lowest index), unless `allbackups` is set, in which case the
/// algorithm runs over all eligible backups.
#[derive(Clone, Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    allbackups: bool,
    refreshed: bool,
    /// Eligible servers currently taking traffic, ascending index.
    pool: Vec<usize>,
    /// Per pool position: the weight the algorithm uses (live or latched).
    pool_weights: Vec<u32>,
    /// Whether the pool is made of backups (selects the consistent-hash ring).
    pool_is_backup: bool,
    /// Per server: membership of `pool`.
    in_pool: Vec<bool>,
    /// Per server: weight latched for static algorithms (0 = not yet seen non-zero).
    latched: Vec<u32>,
    /// Per server: smooth weighted round-robin "current weight".
    rr_current: Vec<i64>,
    /// Leastconn: pool position where the next tie scan starts.
    lc_cursor: usize,
    /// Random: cumulative weights over `pool` (`cumulative[k] = Σ pool_weights[..=k]`).
    cumulative: Vec<u64>,
    /// Map-based source: one server index per unit of total weight.
    map: Vec<u32>,
    /// Consistent source: (key, server) sorted, for non-backup (0) and backup (1) servers.
    rings: [Vec<(u32, u32)>; 2],
    /// Per server (weight, backup) the rings were built from.
    ring_basis: Vec<(u32, bool)>,
}

impl Balancer {
    /// A balancer for `n_servers` servers (a capacity hint: [`refresh`](Self::refresh) adapts
    /// to the slice it is given). `allbackups` is HAProxy's `option allbackups`: "use all
    /// backup servers at a time" instead of only the first one.
    pub fn new(algorithm: Algorithm, allbackups: bool, n_servers: usize) -> Self {
        Balancer {
            algorithm,
            allbackups,
            refreshed: false,
            pool: Vec::with_capacity(n_servers),
            pool_weights: Vec::with_capacity(n_servers),
            pool_is_backup: false,
            in_pool: vec![false; n_servers],
            latched: vec![0; n_servers],
            rr_current: vec![0; n_servers],
            lc_cursor: 0,
            cumulative: Vec::with_capacity(n_servers),
            map: Vec::new(),
            rings: [Vec::new(), Vec::new()],
            ring_basis: Vec::new(),
        }
    }

    /// Rebuilds the tables after any server's `usable`, `weight` or `backup` changed (HAProxy
    /// recomputes its load-balancing trees and maps on every server state change). Loads and
    /// `maxconn` are read at pick time and need no refresh.
    pub fn refresh(&mut self, servers: &[ServerView]) {
        let n = servers.len();
        self.refreshed = true;
        self.in_pool.resize(n, false);
        self.latched.resize(n, 0);
        self.rr_current.resize(n, 0);
        for (latched, s) in self.latched.iter_mut().zip(servers) {
            if *latched == 0 {
                *latched = s.clamped_weight();
            }
        }

        // Pool: eligible primaries; else the first eligible backup, or all with allbackups.
        self.pool.clear();
        self.pool
            .extend((0..n).filter(|&i| servers[i].eligible() && !servers[i].backup));
        self.pool_is_backup = self.pool.is_empty();
        if self.pool_is_backup {
            let backups = (0..n).filter(|&i| servers[i].eligible() && servers[i].backup);
            if self.allbackups {
                self.pool.extend(backups);
            } else {
                self.pool.extend(backups.take(1));
            }
        }
        self.in_pool.fill(false);
        for &i in &self.pool {
            self.in_pool[i] = true;
        }

        // Weights: static algorithms use the latched user weight, dynamic ones the live
        // effective weight (`weight × 16`, less while warming up).
        let dynamic = self.algorithm.is_dynamic();
        self.pool_weights.clear();
        for &i in &self.pool {
            let w = if dynamic {
                servers[i].eweight()
            } else {
                self.latched[i]
            };
            self.pool_weights.push(w.max(1));
        }

        // Round robin: servers leaving the pool forget their position in the sequence.
        for (cur, &member) in self.rr_current.iter_mut().zip(&self.in_pool) {
            if !member {
                *cur = 0;
            }
        }
        if !self.pool.is_empty() {
            self.lc_cursor %= self.pool.len();
        }

        match self.algorithm {
            Algorithm::Random { .. } => {
                self.cumulative.clear();
                let mut acc = 0u64;
                for &w in &self.pool_weights {
                    acc += u64::from(w);
                    self.cumulative.push(acc);
                }
            }
            Algorithm::Source {
                hash_type: HashType::MapBased,
            } => self.rebuild_map(),
            Algorithm::Source {
                hash_type: HashType::Consistent,
            } => self.rebuild_rings(servers),
            _ => {}
        }
    }

    /// HAProxy's `recalc_server_map()` (`src/lb_map.c`): one slot per unit of total weight,
    /// filled by the same smooth interleaving as round robin so each server's slots are
    /// spread over the table.
    fn rebuild_map(&mut self) {
        self.map.clear();
        let total: i64 = self.pool_weights.iter().map(|&w| i64::from(w)).sum();
        let mut score = vec![0i64; self.pool.len()];
        for _ in 0..total {
            let mut best = 0;
            for (k, &w) in self.pool_weights.iter().enumerate() {
                score[k] += i64::from(w);
                if score[k] > score[best] {
                    best = k;
                }
            }
            score[best] -= total;
            self.map.push(self.pool[best] as u32);
        }
    }

    /// The consistent-hash rings (`src/lb_chash.c`): every server with weight > 0 appears
    /// eweight times (`16 × weight`; less while warming up after `slowstart`), at keys
    /// `full_hash(puid × 4096 + replica)` with `puid = index + 1`.
    /// Down servers stay on the ring and are skipped at lookup, so their points keep their
    /// places; rebuilt only when a weight or backup flag changed.
    fn rebuild_rings(&mut self, servers: &[ServerView]) {
        let basis_unchanged = self.ring_basis.len() == servers.len()
            && self
                .ring_basis
                .iter()
                .zip(servers)
                .all(|(&(w, b), s)| w == s.eweight() && b == s.backup);
        if basis_unchanged {
            return;
        }
        self.ring_basis.clear();
        self.ring_basis
            .extend(servers.iter().map(|s| (s.eweight(), s.backup)));
        for ring in &mut self.rings {
            ring.clear();
        }
        for (i, s) in servers.iter().enumerate() {
            let puid = (i as u32).wrapping_add(1);
            let ring = &mut self.rings[usize::from(s.backup)];
            for replica in 0..s.eweight() {
                let key = full_hash(puid.wrapping_mul(SRV_EWGHT_RANGE).wrapping_add(replica));
                ring.push((key, i as u32));
            }
        }
        for ring in &mut self.rings {
            ring.sort_unstable();
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// Whether no server is eligible at all (HAProxy: `tot_weight` 0, 503 "no server
    /// available"), as opposed to every eligible one being saturated.
    pub fn is_empty(&mut self, servers: &[ServerView]) -> bool {
        if !self.refreshed {
            self.refresh(servers);
        }
        self.pool.is_empty()
    }

    /// Whether `server` is among those taking new traffic: HAProxy's `px_ok` in
    /// `process_srv_queue()` (src/queue.c) — usable, and a backup only when no active server
    /// is and it is the first backup or `allbackups` is set. Only such a server takes
    /// requests from the backend queue.
    pub fn in_pool(&self, server: usize) -> bool {
        self.in_pool.get(server).copied().unwrap_or(false)
    }

    /// [`pick_avoiding`](Self::pick_avoiding) with no server to avoid.
    #[cfg(test)]
    pub fn pick(
        &mut self,
        servers: &[ServerView],
        client_addr: u32,
        rng: &mut SimRng,
    ) -> Option<usize> {
        self.pick_avoiding(servers, client_addr, rng, None)
    }

    /// The server for a request, or `None`: no server is eligible (see
    /// [`is_empty`](Self::is_empty)), or the algorithm found every candidate saturated and
    /// the request waits in the backend queue (HAProxy's `SRV_STATUS_FULL`). `client_addr`
    /// is the IPv4 source address (used by `source` only); `rng` is drawn from by `random`
    /// only, and not at all when a single server is eligible.
    ///
    /// How each algorithm treats saturated servers follows its HAProxy lookup: round robin,
    /// `static-rr` and `first` skip saturated servers ([`ServerView::saturated`]) — round
    /// robin consuming their turns — and find none when all are; `leastconn` skips servers
    /// with no room left in their slots and queue together; `random` draws as usual, then
    /// answers none if its pick is saturated (`get_server_rnd()`: "pretend we have none",
    /// no new draw); `source` ignores saturation (the caller queues on the server). When the
    /// only server taking traffic is the first backup (`allbackups` off), round robin,
    /// `leastconn` and `first` return it whatever its load (HAProxy's `fbck`). Calls
    /// [`refresh`](Self::refresh) itself the first time if the caller has not.
    ///
    /// `avoid` is the server a redispatched request failed on: HAProxy's `assign_server()`
    /// (src/backend.c) passes the previous server to every lookup "trying to avoid the same
    /// server" — `fwrr_get_next_server()`, `fwlc_get_next_server()`, `fas_get_next_server()`
    /// skip it, `get_server_rnd()` and `chash_get_server_hash()` look past it — and still
    /// return it when it is the only choice. The map-based hash lookup
    /// (`map_get_server_hash()`, src/lb_map.c) takes no server to avoid, so `source` with
    /// `hash-type map-based` may return `avoid` again.
    pub fn pick_avoiding(
        &mut self,
        servers: &[ServerView],
        client_addr: u32,
        rng: &mut SimRng,
        avoid: Option<usize>,
    ) -> Option<usize> {
        if !self.refreshed {
            self.refresh(servers);
        }
        debug_assert_eq!(
            servers.len(),
            self.in_pool.len(),
            "refresh() with these servers"
        );
        if self.pool.is_empty() {
            return None;
        }
        let first_backup = self.pool_is_backup && !self.allbackups;
        if first_backup
            && matches!(
                self.algorithm,
                Algorithm::RoundRobin | Algorithm::LeastConn | Algorithm::First
            )
        {
            return Some(self.pool[0]);
        }
        // Only a pool member can be avoided.
        let avoid = avoid.filter(|&a| self.in_pool.get(a).copied().unwrap_or(false));
        match self.algorithm {
            Algorithm::RoundRobin | Algorithm::StaticRr => self.pick_smooth_rr(servers, avoid),
            Algorithm::LeastConn => self.pick_leastconn(servers, avoid),
            Algorithm::First => self.pick_first(servers, avoid),
            Algorithm::Source {
                hash_type: HashType::MapBased,
            } => Some(self.map[full_hash(client_addr) as usize % self.map.len()] as usize),
            Algorithm::Source {
                hash_type: HashType::Consistent,
            } => Some(self.pick_ring(full_hash(client_addr), avoid)),
            Algorithm::Random { draws } => {
                let pick = if self.pool.len() == 1 {
                    self.pool[0]
                } else {
                    self.pick_random(servers, draws, rng, avoid)
                };
                (!servers[pick].saturated()).then_some(pick)
            }
        }
    }

    /// Smooth weighted round robin: every server's current weight grows by its weight, the
    /// largest wins (ties → lowest index) and pays back the total. A winner that is
    /// saturated, or the server to avoid, has its turn consumed all the same and the next
    /// turn is taken, as HAProxy's `fwrr_get_next_server()` (src/lb_fwrr.c) requeues skipped
    /// servers "just as if they were consumed" (`map_get_server_rr()`, src/lb_map.c, moves
    /// past them); the avoided server is taken when it is the only one not saturated. None
    /// when every server is saturated (no turn is consumed then).
    fn pick_smooth_rr(&mut self, servers: &[ServerView], avoid: Option<usize>) -> Option<usize> {
        let free = |i: usize| !servers[i].saturated();
        if !self.pool.iter().any(|&i| free(i)) {
            return None;
        }
        let only_avoided = self.pool.iter().all(|&i| !free(i) || Some(i) == avoid);
        // Smooth WRR gives every member a turn within one cycle of the total weight, so a
        // free server wins within that many turns.
        loop {
            let best = self.smooth_rr_step();
            if free(best) && (Some(best) != avoid || only_avoided) {
                return Some(best);
            }
        }
    }

    /// One turn of smooth weighted round robin.
    fn smooth_rr_step(&mut self) -> usize {
        let mut total = 0i64;
        let mut best = usize::MAX;
        let mut best_cur = i64::MIN;
        for (&i, &w) in self.pool.iter().zip(&self.pool_weights) {
            let w = i64::from(w);
            total += w;
            self.rr_current[i] += w;
            if self.rr_current[i] > best_cur {
                best_cur = self.rr_current[i];
                best = i;
            }
        }
        self.rr_current[best] -= total;
        best
    }

    /// The lowest HAProxy leastconn key ([`Balancer::leastconn_key`]) among the candidates
    /// ([`ServerView::leastconn_candidate`]), scanning from a rotating start so equally
    /// loaded servers take turns; `avoid` only if it is the only candidate; none if there is
    /// no candidate.
    fn pick_leastconn(&mut self, servers: &[ServerView], avoid: Option<usize>) -> Option<usize> {
        let len = self.pool.len();
        let start = self.lc_cursor % len;
        let mut best: Option<(u64, usize)> = None;
        let mut avoided = None;
        for step in 0..len {
            let pos = (start + step) % len;
            let i = self.pool[pos];
            if !servers[i].leastconn_candidate() {
                continue;
            }
            if Some(i) == avoid {
                avoided = Some(pos);
                continue;
            }
            let key = self.leastconn_key(servers, pos);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, pos));
            }
        }
        let pos = best.map(|(_, p)| p).or(avoided)?;
        self.lc_cursor = (pos + 1) % len;
        Some(self.pool[pos])
    }

    /// HAProxy's leastconn tree key (src/lb_fwlc.c `fwlc_queue_srv()`): 0 for an idle server,
    /// else (inflight + 1) × `SRV_EWGHT_MAX` / eweight, inflight = served + queued, eweight
    /// = weight × [`BE_WEIGHT_SCALE`] (less while warming up, so a warming server's key
    /// grows up to 16 times faster with its load — though idle, it is still first).
    fn leastconn_key(&self, servers: &[ServerView], pos: usize) -> u64 {
        let s = &servers[self.pool[pos]];
        let inflight = u64::from(s.served + s.queued);
        if inflight == 0 {
            return 0;
        }
        (inflight + 1) * u64::from(SRV_EWGHT_MAX) / u64::from(self.pool_weights[pos])
    }

    /// The lowest-index server that is not saturated, other than `avoid` if another one is
    /// free (src/lb_fas.c `fas_get_next_server()`); none when all are saturated.
    fn pick_first(&self, servers: &[ServerView], avoid: Option<usize>) -> Option<usize> {
        let free = |i: &usize| !servers[*i].saturated();
        self.pool
            .iter()
            .copied()
            .filter(free)
            .find(|&i| Some(i) != avoid)
            .or_else(|| self.pool.iter().copied().find(free))
    }

    /// The first ring point clockwise from `hash` (key ≥ hash, wrapping) whose server is in
    /// the pool. HAProxy's `chash_get_server_hash()` takes the nearer of the two neighbouring
    /// points instead; both keep the defining property that only a leaving server's clients
    /// move.
    ///
    /// `avoid` is looked past, as `chash_get_server_hash()` does with its `avoid` argument.
    fn pick_ring(&self, hash: u32, avoid: Option<usize>) -> usize {
        let ring = &self.rings[usize::from(self.pool_is_backup)];
        let start = ring.partition_point(|&(key, _)| key < hash);
        let len = ring.len();
        (0..len)
            .map(|step| ring[(start + step) % len].1 as usize)
            .find(|&i| self.in_pool[i] && Some(i) != avoid)
            .unwrap_or(self.pool[0])
    }

    /// `draws` weighted random candidates; the one serving fewer requests relative to its
    /// weight wins (ties → the earliest draw). HAProxy's `get_server_rnd()` (`src/backend.c`)
    /// compares `served × eweight` the same way (queued requests do not count).
    ///
    /// Every draw avoids `avoid` (HAProxy's `get_server_rnd()` passes it to each ring
    /// lookup): the draw is made over the other servers' weights only.
    fn pick_random(
        &self,
        servers: &[ServerView],
        draws: u32,
        rng: &mut SimRng,
        avoid: Option<usize>,
    ) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        // The avoided server's slice [lo, hi) of the cumulative weights is cut out.
        let cut = avoid
            .and_then(|a| self.pool.iter().position(|&i| i == a))
            .map(|p| {
                let lo = if p == 0 { 0 } else { self.cumulative[p - 1] };
                (lo, self.cumulative[p])
            });
        let span = cut.map_or(total, |(lo, hi)| total - (hi - lo));
        let mut best: Option<usize> = None;
        for _ in 0..draws.max(1) {
            let mut r = below(rng, span);
            if let Some((lo, hi)) = cut
                && r >= lo
            {
                r += hi - lo;
            }
            let pos = self.cumulative.partition_point(|&c| c <= r);
            best = match best {
                Some(b) if !self.serves_less(servers, pos, b) => Some(b),
                _ => Some(pos),
            };
        }
        self.pool[best.unwrap_or(0)]
    }

    /// Whether pool position `a` serves strictly fewer requests, relative to weight, than
    /// `b` (`served_a × w_b < served_b × w_a`).
    fn serves_less(&self, servers: &[ServerView], a: usize, b: usize) -> bool {
        let (ia, ib) = (self.pool[a], self.pool[b]);
        let (wa, wb) = (
            u64::from(self.pool_weights[a]),
            u64::from(self.pool_weights[b]),
        );
        u64::from(servers[ia].served) * wb < u64::from(servers[ib].served) * wa
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrasim_engine::rng::RngStreams;
    use proptest::prelude::*;

    fn up(weight: u32) -> ServerView {
        ServerView {
            weight,
            usable: true,
            ..ServerView::default()
        }
    }

    fn backup(weight: u32) -> ServerView {
        ServerView {
            backup: true,
            ..up(weight)
        }
    }

    fn rng() -> SimRng {
        RngStreams::new(1).stream("balance-test")
    }

    fn balancer(algorithm: Algorithm, servers: &[ServerView]) -> Balancer {
        let mut b = Balancer::new(algorithm, false, servers.len());
        b.refresh(servers);
        b
    }

    fn picks(b: &mut Balancer, servers: &[ServerView], n: usize) -> Vec<usize> {
        let mut r = rng();
        (0..n)
            .map(|_| b.pick(servers, 0, &mut r).unwrap())
            .collect()
    }

    fn counts(seq: &[usize], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &i in seq {
            c[i] += 1;
        }
        c
    }

    #[test]
    fn full_hash_matches_haproxy() {
        // Values from HAProxy's C full_hash(), compiled and run.
        assert_eq!(full_hash(0), 0xab4e_d927);
        assert_eq!(full_hash(1), 0x3486_81b6);
        assert_eq!(full_hash(0xC0A8_0001), 0xcb63_c81e);
        assert_eq!(full_hash(4096), 0x49c2_008b);
        assert_eq!(full_hash(u32::MAX), 0x7e64_c182);
    }

    #[test]
    fn roundrobin_3_to_1_is_exact_and_smooth() {
        let s = [up(3), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        let seq = picks(&mut b, &s, 4000);
        assert_eq!(counts(&seq, 2), vec![3000, 1000]);
        assert_eq!(&seq[..8], &[0, 0, 1, 0, 0, 0, 1, 0][..]);
        // Smooth: a a b a, repeating. (A cyclic 3:1 sequence must contain a run of 3, but
        // never 4; the interleaving is clearer with 5:1:1, below.)
        let longest = seq
            .chunk_by(|a, b| a == b)
            .map(<[usize]>::len)
            .max()
            .unwrap();
        assert!(longest <= 3, "longest run {longest}");
    }

    #[test]
    fn roundrobin_matches_nginx_smooth_sequence() {
        let s = [up(5), up(1), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        // nginx's documented sequence for weights 5,1,1: a a b a c a a.
        assert_eq!(picks(&mut b, &s, 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn roundrobin_skips_unusable_and_follows_weight_changes() {
        let mut s = [up(1), up(1), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        s[1].usable = false;
        b.refresh(&s);
        let seq = picks(&mut b, &s, 100);
        assert!(!seq.contains(&1));
        assert_eq!(counts(&seq, 3), vec![50, 0, 50]);

        s[1].usable = true;
        s[2].weight = 3;
        b.refresh(&s);
        let seq = picks(&mut b, &s, 500);
        assert_eq!(counts(&seq, 3), vec![100, 100, 300]);

        s[0].weight = 0; // drain
        b.refresh(&s);
        let seq = picks(&mut b, &s, 400);
        assert_eq!(counts(&seq, 3), vec![0, 100, 300]);
    }

    #[test]
    fn static_rr_ignores_weight_changes_but_honours_up_down() {
        let mut s = [up(3), up(1)];
        let mut b = balancer(Algorithm::StaticRr, &s);
        assert_eq!(counts(&picks(&mut b, &s, 400), 2), vec![300, 100]);
        s[0].weight = 1;
        s[1].weight = 5;
        b.refresh(&s);
        assert_eq!(counts(&picks(&mut b, &s, 400), 2), vec![300, 100]);
        s[0].usable = false;
        b.refresh(&s);
        assert_eq!(counts(&picks(&mut b, &s, 10), 2), vec![0, 10]);
        s[0].usable = true;
        b.refresh(&s);
        assert_eq!(counts(&picks(&mut b, &s, 400), 2), vec![300, 100]);
        // The same change under roundrobin is followed.
        let mut d = balancer(Algorithm::RoundRobin, &[up(3), up(1)]);
        d.refresh(&s);
        assert_eq!(counts(&picks(&mut d, &s, 600), 2), vec![100, 500]);
    }

    #[test]
    fn leastconn_picks_least_loaded_and_rotates_ties() {
        let mut s = [up(1), up(1), up(1)];
        s[0].served = 5;
        s[1].served = 2;
        s[2].queued = 7;
        let mut b = balancer(Algorithm::LeastConn, &s);
        assert_eq!(picks(&mut b, &s, 3), vec![1, 1, 1]);

        for v in &mut s {
            v.served = 4;
            v.queued = 0;
        }
        let seq = picks(&mut b, &s, 6);
        let mut sorted = seq[..3].to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2], "ties rotate: {seq:?}");
        assert_eq!(seq[..3], seq[3..]);

        // Relative to weight: load 6 at weight 3 (2/unit) beats load 3 at weight 1.
        let s = [
            ServerView { served: 3, ..up(1) },
            ServerView { served: 6, ..up(3) },
        ];
        let mut b = balancer(Algorithm::LeastConn, &s);
        assert_eq!(picks(&mut b, &s, 2), vec![1, 1]);
    }

    #[test]
    fn first_fills_servers_in_order() {
        let mut s = [
            ServerView {
                maxconn: 3,
                ..up(1)
            },
            ServerView {
                maxconn: 3,
                ..up(1)
            },
            ServerView {
                maxconn: 3,
                ..up(1)
            },
        ];
        let mut b = balancer(Algorithm::First, &s);
        let mut r = rng();
        let mut seq = Vec::new();
        for _ in 0..6 {
            let i = b.pick(&s, 0, &mut r).unwrap();
            s[i].served += 1;
            seq.push(i);
        }
        assert_eq!(seq, vec![0, 0, 0, 1, 1, 1]);
        s[2].served = 3;
        assert_eq!(b.pick(&s, 0, &mut r), None, "all full → the backend queue");
        s[0].served = 1;
        assert_eq!(b.pick(&s, 0, &mut r), Some(0));
        s[0].queued = 1;
        assert_eq!(
            b.pick(&s, 0, &mut r),
            None,
            "a queue on the server saturates it"
        );
        // maxconn 0 = unlimited: always the first usable.
        let s = [
            ServerView {
                served: 1000,
                ..up(1)
            },
            up(1),
        ];
        let mut b = balancer(Algorithm::First, &s);
        assert_eq!(picks(&mut b, &s, 3), vec![0, 0, 0]);
    }

    fn full(weight: u32, served: u32, maxconn: u32) -> ServerView {
        ServerView {
            served,
            maxconn,
            ..up(weight)
        }
    }

    #[test]
    fn roundrobin_skips_saturated_servers_consuming_their_turns() {
        // a a b a with weights 3:1; a full: b at every pick; none when both are full.
        let mut s = [full(3, 2, 2), full(1, 0, 2)];
        for algo in [Algorithm::RoundRobin, Algorithm::StaticRr] {
            let mut b = balancer(algo.clone(), &s);
            assert_eq!(picks(&mut b, &s, 3), vec![1, 1, 1], "{algo:?}");
            s[1].served = 2;
            assert_eq!(b.pick(&s, 0, &mut rng()), None, "{algo:?}");
            // A request queued on a server saturates it too.
            s[1].served = 0;
            s[1].queued = 1;
            assert_eq!(b.pick(&s, 0, &mut rng()), None, "{algo:?}");
            s[1].queued = 0;
        }
        // The skipped turns are consumed: with a free again, the sequence goes on.
        let mut s = [up(3), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        assert_eq!(picks(&mut b, &s, 2), vec![0, 0]);
        s[0] = full(3, 1, 1);
        assert_eq!(picks(&mut b, &s, 1), vec![1]);
        s[0].served = 0;
        assert_eq!(picks(&mut b, &s, 4), vec![0, 0, 0, 1]);
        // Only the avoided server is free: it is returned.
        let s = [full(1, 1, 1), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        assert_eq!(b.pick_avoiding(&s, 0, &mut rng(), Some(1)), Some(1));
    }

    #[test]
    fn leastconn_skips_full_servers_unless_their_queue_has_room() {
        // Weight 3 keeps app 0's key lowest, but it is full: app 1 takes the request.
        let mut s = [full(3, 1, 1), full(1, 1, 10)];
        let mut b = balancer(Algorithm::LeastConn, &s);
        assert_eq!(picks(&mut b, &s, 3), vec![1, 1, 1]);
        // With room in its queue (maxqueue 2) the full server is still chosen: the caller
        // queues the request on it, until served + queued reaches maxconn + maxqueue.
        s[0].maxqueue = 2;
        assert_eq!(picks(&mut b, &s, 1), vec![0]);
        s[0].queued = 2;
        assert_eq!(picks(&mut b, &s, 1), vec![1]);
        // Nothing left with room: none (the backend queue).
        s[1].served = 10;
        assert_eq!(b.pick(&s, 0, &mut rng()), None);
        // The key: idle servers first (key 0), whatever their weight.
        let s = [full(1, 0, 0), full(16, 1, 0)];
        let mut b = balancer(Algorithm::LeastConn, &s);
        assert_eq!(picks(&mut b, &s, 1), vec![0]);
    }

    #[test]
    fn random_answers_none_when_its_pick_is_full() {
        // One draw over two servers, the second full: about half the picks are none, and
        // none of them is the free server drawn again.
        let s = [up(1), full(1, 1, 1)];
        let mut b = balancer(Algorithm::Random { draws: 1 }, &s);
        let mut r = rng();
        let got: Vec<Option<usize>> = (0..4000).map(|_| b.pick(&s, 0, &mut r)).collect();
        let none = got.iter().filter(|p| p.is_none()).count();
        assert!(got.iter().all(|p| matches!(p, None | Some(0))));
        assert!(none.abs_diff(2000) < 150, "{none}");
        // Two draws compare `served`, not queued requests.
        let s = [ServerView { queued: 5, ..up(1) }, full(1, 1, 0)];
        let mut b = balancer(Algorithm::Random { draws: 8 }, &s);
        assert_eq!(picks(&mut b, &s, 20), vec![0; 20]);
    }

    #[test]
    fn the_first_backup_is_returned_even_when_full() {
        let s = [
            ServerView {
                usable: false,
                ..up(1)
            },
            ServerView {
                backup: true,
                ..full(1, 1, 1)
            },
        ];
        for algo in [
            Algorithm::RoundRobin,
            Algorithm::LeastConn,
            Algorithm::First,
        ] {
            let mut b = balancer(algo.clone(), &s);
            assert_eq!(b.pick(&s, 0, &mut rng()), Some(1), "{algo:?}");
        }
        for algo in [Algorithm::StaticRr, Algorithm::Random { draws: 2 }] {
            let mut b = balancer(algo.clone(), &s);
            assert_eq!(b.pick(&s, 0, &mut rng()), None, "{algo:?}");
        }
    }

    fn source_assignments(b: &mut Balancer, s: &[ServerView], n: u32) -> Vec<usize> {
        let mut r = rng();
        (0..n)
            .map(|k| b.pick(s, 0x0A00_0000 + k, &mut r).unwrap())
            .collect()
    }

    #[test]
    fn source_map_based_is_sticky_and_weighted() {
        let s = [up(1), up(1), up(2)];
        let mut b = balancer(
            Algorithm::Source {
                hash_type: HashType::MapBased,
            },
            &s,
        );
        let first = source_assignments(&mut b, &s, 10_000);
        assert_eq!(first, source_assignments(&mut b, &s, 10_000));
        let c = counts(&first, 3);
        for (got, want) in c.iter().zip([2500, 2500, 5000]) {
            assert!(got.abs_diff(want) < 300, "{c:?}");
        }
    }

    fn moved_after_removing_one_of_four(hash_type: HashType) -> (usize, usize) {
        let mut s = [up(1); 4];
        let mut b = balancer(Algorithm::Source { hash_type }, &s);
        let before = source_assignments(&mut b, &s, 10_000);
        s[2].usable = false;
        b.refresh(&s);
        let after = source_assignments(&mut b, &s, 10_000);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let stayed_wrongly = before
            .iter()
            .zip(&after)
            .filter(|&(&a, &b)| a != 2 && a != b)
            .count();
        assert!(!after.contains(&2));
        (moved, stayed_wrongly)
    }

    #[test]
    fn source_consistent_moves_only_the_leaving_servers_clients() {
        let (moved, others_moved) = moved_after_removing_one_of_four(HashType::Consistent);
        assert_eq!(
            others_moved, 0,
            "clients of surviving servers must stay put"
        );
        assert!((2000..=3000).contains(&moved), "moved {moved} of 10 000");
        let (moved_map, _) = moved_after_removing_one_of_four(HashType::MapBased);
        assert!(moved_map > 4000, "map-based moved only {moved_map}");
    }

    #[test]
    fn source_consistent_server_returning_takes_back_its_clients() {
        let mut s = [up(1); 4];
        let algo = Algorithm::Source {
            hash_type: HashType::Consistent,
        };
        let mut b = balancer(algo, &s);
        let before = source_assignments(&mut b, &s, 2000);
        s[1].usable = false;
        b.refresh(&s);
        s[1].usable = true;
        b.refresh(&s);
        assert_eq!(before, source_assignments(&mut b, &s, 2000));
    }

    #[test]
    fn random_two_draws_prefer_the_less_loaded() {
        let s = [
            ServerView { served: 0, ..up(1) },
            ServerView {
                served: 10,
                ..up(1)
            },
        ];
        let share_of_loaded = |draws: u32| {
            let mut b = balancer(Algorithm::Random { draws }, &s);
            let seq = picks(&mut b, &s, 10_000);
            counts(&seq, 2)[1]
        };
        // One draw: 50 %. Two draws: the loaded one only when drawn twice, 25 %.
        assert!(share_of_loaded(1).abs_diff(5000) < 250);
        assert!(share_of_loaded(2).abs_diff(2500) < 250);
        assert!(share_of_loaded(16) < 10);
    }

    #[test]
    fn random_respects_weights_and_is_deterministic() {
        let s = [up(1), up(3)];
        let mut a = balancer(Algorithm::Random { draws: 1 }, &s);
        let mut b = balancer(Algorithm::Random { draws: 1 }, &s);
        let sa = picks(&mut a, &s, 8000);
        assert_eq!(sa, picks(&mut b, &s, 8000));
        assert!(counts(&sa, 2)[1].abs_diff(6000) < 250);
    }

    #[test]
    fn backups_only_when_no_primary_and_first_backup_unless_allbackups() {
        let mut s = [up(1), up(1), backup(1), backup(1)];
        for allbackups in [false, true] {
            let mut b = Balancer::new(Algorithm::RoundRobin, allbackups, 4);
            s[0].usable = true;
            b.refresh(&s);
            assert!(picks(&mut b, &s, 20).iter().all(|&i| i < 2));
            s[0].usable = false;
            b.refresh(&s);
            assert_eq!(picks(&mut b, &s, 4), vec![1, 1, 1, 1]);
            s[1].weight = 0; // a drained primary takes no traffic: backups take over
            b.refresh(&s);
            let c = counts(&picks(&mut b, &s, 20), 4);
            if allbackups {
                assert_eq!(c, vec![0, 0, 10, 10]);
            } else {
                assert_eq!(c, vec![0, 0, 20, 0]);
            }
            s[2].usable = false;
            b.refresh(&s);
            assert_eq!(counts(&picks(&mut b, &s, 6), 4), vec![0, 0, 0, 6]);
            s[1].weight = 1;
            s[2].usable = true;
        }
    }

    #[test]
    fn nothing_usable_gives_none() {
        let algos = [
            Algorithm::RoundRobin,
            Algorithm::StaticRr,
            Algorithm::LeastConn,
            Algorithm::First,
            Algorithm::Source {
                hash_type: HashType::MapBased,
            },
            Algorithm::Source {
                hash_type: HashType::Consistent,
            },
            Algorithm::Random { draws: 2 },
        ];
        let s = [
            ServerView {
                usable: false,
                ..up(1)
            },
            up(0),
            ServerView {
                usable: false,
                ..backup(1)
            },
        ];
        for algo in algos {
            let mut b = Balancer::new(algo.clone(), true, 3);
            assert_eq!(b.pick(&s, 7, &mut rng()), None);
            let mut empty = Balancer::new(algo, true, 0);
            assert_eq!(empty.pick(&[], 7, &mut rng()), None);
        }
    }

    #[test]
    fn pick_avoiding_skips_the_failed_server_unless_it_is_the_only_one() {
        let algos = [
            Algorithm::RoundRobin,
            Algorithm::StaticRr,
            Algorithm::LeastConn,
            Algorithm::First,
            Algorithm::Source {
                hash_type: HashType::Consistent,
            },
            Algorithm::Random { draws: 1 },
            Algorithm::Random { draws: 2 },
        ];
        for algo in algos {
            let mut s = [up(1), up(2), up(1)];
            s[1].served = 0; // the least loaded: leastconn and random(2) would prefer it
            s[0].served = 3;
            s[2].served = 3;
            let mut b = balancer(algo.clone(), &s);
            let mut r = rng();
            for addr in 0..200 {
                let got = b.pick_avoiding(&s, addr, &mut r, Some(1));
                assert!(matches!(got, Some(0 | 2)), "{algo:?} picked {got:?}");
            }
            // The only server left is returned even if it is to be avoided.
            s[0].usable = false;
            s[2].usable = false;
            b.refresh(&s);
            assert_eq!(b.pick_avoiding(&s, 7, &mut r, Some(1)), Some(1), "{algo:?}");
        }
        // Round robin: an avoided server's turn is consumed (a b | b avoided → a | b …) —
        // with 3:1 weights, a a b a: the 2nd a is avoided, b is taken, then the 4th a.
        let s = [up(1), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        let mut r = rng();
        assert_eq!(b.pick(&s, 0, &mut r), Some(0));
        assert_eq!(b.pick_avoiding(&s, 0, &mut r, Some(1)), Some(0));
        assert_eq!(b.pick(&s, 0, &mut r), Some(1));
        let s = [up(3), up(1)];
        let mut b = balancer(Algorithm::RoundRobin, &s);
        assert_eq!(b.pick(&s, 0, &mut r), Some(0));
        assert_eq!(b.pick_avoiding(&s, 0, &mut r, Some(0)), Some(1));
        assert_eq!(b.pick(&s, 0, &mut r), Some(0));
        assert_eq!(b.pick(&s, 0, &mut r), Some(0));
        // Map-based source hashing cannot avoid (src/lb_map.c): same server as `pick`.
        let s = [up(1), up(1), up(1)];
        let algo = Algorithm::Source {
            hash_type: HashType::MapBased,
        };
        let mut b = balancer(algo, &s);
        let mut r = rng();
        for addr in 0..50 {
            let home = b.pick(&s, addr, &mut r).unwrap();
            assert_eq!(b.pick_avoiding(&s, addr, &mut r, Some(home)), Some(home));
        }
    }

    fn algorithm_strategy() -> impl Strategy<Value = Algorithm> {
        prop_oneof![
            Just(Algorithm::RoundRobin),
            Just(Algorithm::StaticRr),
            Just(Algorithm::LeastConn),
            Just(Algorithm::First),
            Just(Algorithm::Source {
                hash_type: HashType::MapBased
            }),
            Just(Algorithm::Source {
                hash_type: HashType::Consistent
            }),
            (0u32..4).prop_map(|draws| Algorithm::Random { draws }),
        ]
    }

    fn server_strategy() -> impl Strategy<Value = ServerView> {
        (0u32..4, any::<bool>(), any::<bool>(), 0u32..5, 0u32..3).prop_map(
            |(weight, usable, backup, served, maxconn)| ServerView {
                weight,
                usable,
                backup,
                served,
                maxconn,
                ..ServerView::default()
            },
        )
    }

    proptest! {
        #[test]
        fn pick_respects_usability_and_backup_rules(
            algo in algorithm_strategy(),
            allbackups in any::<bool>(),
            states in prop::collection::vec(prop::collection::vec(server_strategy(), 6), 1..5),
            addrs in prop::collection::vec(any::<u32>(), 8),
        ) {
            let mut b = Balancer::new(algo, allbackups, 6);
            let mut r = rng();
            for s in &states {
                b.refresh(s);
                let eligible = |i: usize| s[i].usable && s[i].weight > 0;
                let any_primary = (0..6).any(|i| eligible(i) && !s[i].backup);
                let first_backup = (0..6).find(|&i| eligible(i) && s[i].backup);
                let some_saturated = (0..6).any(|i| eligible(i) && s[i].saturated());
                for &addr in &addrs {
                    match b.pick(s, addr, &mut r) {
                        None => prop_assert!(
                            (!any_primary && first_backup.is_none()) || some_saturated
                        ),
                        Some(i) => {
                            prop_assert!(eligible(i), "picked ineligible {i}");
                            prop_assert_eq!(s[i].backup, !any_primary);
                            if s[i].backup && !allbackups {
                                prop_assert_eq!(Some(i), first_backup);
                            }
                        }
                    }
                }
            }
        }
    }
}
