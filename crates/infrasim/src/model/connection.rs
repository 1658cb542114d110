//! Client connections: HTTP/1.1 keep-alive, as browsers hold them (`clients.connections`).
//!
//! Each client address keeps a few connections to the entry point (6 at most by default,
//! as browsers do per host). A request takes an idle connection to where the address now
//! points, or opens a new one — paying the TCP handshake, one round trip, before its first
//! segment leaves — or waits for one when all are busy. One request at a time travels on a
//! connection (no pipelining). A connection closes when it has carried
//! `requests_per_connection` requests (the last one says `Connection: close`), when it has
//! been idle for the client's `keep_alive` or the load balancer's `timeout http-keep-alive`
//! (whichever is shorter closes it), when its request times out at the client (HTTP/1.1
//! cannot cancel a request but by closing), or when it is reset: the load balancer crashed,
//! or its virtual address moved to the other member, which has no state for it. A reset
//! fails the request in flight on it; the next request opens a new connection.
//!
//! The load balancer's side (its per-connection CPU, `maxconn` counting connections, the
//! TLS handshake) is in `load_balancer::tls`; a call carries its connection's identity to
//! it ([`ConnUse`], in a table by call, as the segments would).

use std::collections::VecDeque;

use infrasim_engine::stats::Histogram;
use infrasim_engine::{Context, SimDuration, SimTime, TimeoutQueue};

use crate::model::World;
use crate::model::call::{Outcome, Ref};
use crate::model::tcp::Attempt;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::Connections;

/// A TLS session a client holds for the entry point: who issued it, when, and under which
/// of the issuer's ticket keys (they change when its process restarts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Session {
    pub lb: u32,
    pub issued: SimTime,
    pub key_epoch: u32,
}

/// What a call's connection is, as its segments tell the load balancer: the client address
/// and connection, whether the call opens it, whether it is its last request, and the TLS
/// session the client offers (its ClientHello's ticket or session ID).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnUse {
    pub addr: u32,
    pub id: u32,
    pub new: bool,
    pub last: bool,
    pub session: Option<Session>,
    /// The TLS handshake the LB chose (set when it accepts the connection).
    pub handshake: Handshake,
}

/// The TLS handshake of a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// No TLS (or not decided yet).
    None,
    /// A full handshake (the server signs).
    Full,
    /// An abbreviated one: the client's session was resumed.
    Resumed,
    /// TLS 1.3 resumption with early data (0-RTT): the request rides with the ClientHello.
    Early,
}

/// One client connection.
#[derive(Clone, Copy, Debug)]
struct Conn {
    id: u32,
    /// Where it is connected (set when accepted, the address may have moved meanwhile).
    node: Node,
    /// That load balancer's connection epoch when it accepted it.
    epoch: u32,
    /// Whether the LB accepted it.
    accepted: bool,
    /// Requests sent on it.
    sent: u32,
    busy: bool,
    /// While idle: when it closes, and whether the LB's timeout closes it (else the client's).
    closes_at: SimTime,
    lb_closes: bool,
}

/// Why a connection closed (the report's names, in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Closed {
    /// Idle for the client's `keep_alive`.
    ClientIdle = 0,
    /// Idle for the LB's `timeout http-keep-alive`.
    LbIdle = 1,
    /// Carried `requests_per_connection` requests.
    Limit = 2,
    /// Its request timed out at the client, which closed it.
    Abandoned = 3,
    /// Reset: the LB crashed or lost the address.
    Reset = 4,
}

impl Closed {
    pub(crate) const NAMES: [&'static str; 5] = [
        "client_idle",
        "lb_idle",
        "requests_per_connection",
        "client_timeout",
        "reset",
    ];
}

/// What the connections measured after the warm-up.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnStats {
    /// Connections opened.
    pub opened: u64,
    /// Requests sent (on new and reused connections).
    pub requests: u64,
    /// Of those, on a reused connection.
    pub reused: u64,
    /// Connections closed, by [`Closed`].
    pub closed: [u64; 5],
    /// Latency of the successful requests whose (last) attempt opened its connection.
    pub first_latency: Histogram,
    /// And of those sent on a reused connection.
    pub reused_latency: Histogram,
}

/// The client side of every connection.
pub(crate) struct Pool {
    per_conn: u32,
    keep_alive: SimDuration,
    max: u32,
    /// Each address's connections (at most `max`).
    per_addr: Vec<Vec<Conn>>,
    /// Each address's calls waiting for a connection.
    waiting: Vec<VecDeque<Ref>>,
    /// Each address's TLS session.
    pub sessions: Vec<Option<Session>>,
    /// The connection of each client call, by call index (checked against the call).
    uses: Vec<Option<(Ref, ConnUse)>>,
    next_id: u32,
    /// Idle connections' closing times.
    idle: TimeoutQueue<(u32, u32)>,
    pub stats: ConnStats,
}

impl Pool {
    pub(crate) fn new(spec: &Connections, addresses: u32) -> Pool {
        let n = addresses as usize;
        Pool {
            per_conn: spec.requests_per_connection,
            keep_alive: spec.keep_alive,
            max: spec.max_per_address,
            per_addr: vec![Vec::new(); n],
            waiting: vec![VecDeque::new(); n],
            sessions: vec![None; n],
            uses: Vec::new(),
            next_id: 0,
            idle: TimeoutQueue::new(),
            stats: ConnStats::default(),
        }
    }

    /// The connection a client call travels on, if it is one of the pool's.
    pub(crate) fn use_of(&self, call: Ref) -> Option<ConnUse> {
        match self.uses.get(call.index()) {
            Some(Some((r, u))) if *r == call => Some(*u),
            _ => None,
        }
    }

    /// Records the handshake the LB chose for the connection `call` opens.
    pub(crate) fn set_handshake(&mut self, call: Ref, h: Handshake) {
        if let Some(Some((r, u))) = self.uses.get_mut(call.index())
            && *r == call
        {
            u.handshake = h;
        }
    }

    /// `call` goes on connection `id` of address `addr` — a `new` one or a reused one, its
    /// `last` request or not — and is counted when `measured`.
    fn start_use(&mut self, call: Ref, addr: u32, id: u32, new: bool, last: bool, measured: bool) {
        let u = ConnUse {
            addr,
            id,
            new,
            last,
            session: self.sessions[addr as usize],
            handshake: Handshake::None,
        };
        let i = call.index();
        if self.uses.len() <= i {
            self.uses.resize(i + 1, None);
        }
        self.uses[i] = Some((call, u));
        if measured {
            self.stats.requests += 1;
            if new {
                self.stats.opened += 1;
            } else {
                self.stats.reused += 1;
            }
        }
    }

    fn conn_mut(&mut self, addr: u32, id: u32) -> Option<&mut Conn> {
        self.per_addr
            .get_mut(addr as usize)?
            .iter_mut()
            .find(|c| c.id == id)
    }

    fn remove(&mut self, addr: u32, id: u32) -> Option<Conn> {
        let v = self.per_addr.get_mut(addr as usize)?;
        let i = v.iter().position(|c| c.id == id)?;
        Some(v.swap_remove(i))
    }

    /// Closes connection `id` of `addr` for the reason `why` (counted after the warm-up,
    /// `measured`); `why` of `None` counts it by who timed it out while idle. Returns it,
    /// if it was still open.
    fn close(&mut self, addr: u32, id: u32, why: Option<Closed>, measured: bool) -> Option<Conn> {
        let c = self.remove(addr, id)?;
        if measured {
            let k = why.unwrap_or(if c.lb_closes {
                Closed::LbIdle
            } else {
                Closed::ClientIdle
            });
            self.stats.closed[k as usize] += 1;
        }
        Some(c)
    }

    /// Where an accepted connection is connected and under which of its LB's epochs.
    pub(crate) fn conn_state(&self, addr: u32, id: u32) -> Option<(Node, u32)> {
        let c = self
            .per_addr
            .get(addr as usize)?
            .iter()
            .find(|c| c.id == id)?;
        c.accepted.then_some((c.node, c.epoch))
    }
}

/// Whether an idle-closing deadline no longer guards anything: its connection closed or
/// carries a request (a later deadline is pushed when it turns idle again).
fn not_idle(per_addr: &[Vec<Conn>], &(addr, id): &(u32, u32)) -> bool {
    !per_addr
        .get(addr as usize)
        .is_some_and(|v| v.iter().any(|c| c.id == id && !c.busy))
}

/// Where a request goes.
enum Pick {
    Reuse(u32),
    Open,
    Wait,
}

impl World {
    /// Whether the workload models connections.
    #[inline]
    pub(crate) fn connections_on(&self) -> bool {
        self.conns.is_some()
    }

    /// The connection epoch of `node`: a load balancer's changes when its sockets are lost
    /// (a crash, or its virtual address moving away); other entry points keep theirs.
    fn conn_epoch(&self, node: Node) -> u32 {
        match node {
            Node::Lb(i) => self.lbs[i as usize].conn.epoch,
            _ => 0,
        }
    }

    /// Sends client call `call` (request attempt to `target`) on a connection: an idle one
    /// to `target`, a new one (after the TCP handshake's round trip), or, when the address
    /// has all its connections busy, after one frees.
    pub(crate) fn conn_route(&mut self, cx: &mut Context<'_, Ev>, call: Ref, target: Node) {
        let now = cx.now();
        let Some(addr) = self.calls.get(call).map(|c| c.addr) else {
            return;
        };
        let epoch = self.conn_epoch(target);
        let measured = now >= self.warmup_end;
        let lbs = &self.lbs;
        let pool = self.conns.as_mut().expect("connections on");
        // Connections that died while idle: their LB lost its sockets (it crashed, or its
        // virtual address moved away).
        let mut dead = 0;
        pool.per_addr[addr as usize].retain(|c| {
            let now_epoch = match c.node {
                Node::Lb(i) => lbs[i as usize].conn.epoch,
                _ => 0,
            };
            let alive = c.busy || !c.accepted || c.epoch == now_epoch;
            dead += u64::from(!alive);
            alive
        });
        if measured {
            pool.stats.closed[Closed::Reset as usize] += dead;
        }
        let conns = &pool.per_addr[addr as usize];
        let pick = if let Some(c) = conns
            .iter()
            .filter(|c| !c.busy && c.node == target && now < c.closes_at)
            .min_by_key(|c| c.id)
        {
            Pick::Reuse(c.id)
        } else if pool.max == 0 || (conns.len() as u32) < pool.max {
            Pick::Open
        } else {
            Pick::Wait
        };
        match pick {
            Pick::Wait => pool.waiting[addr as usize].push_back(call),
            Pick::Reuse(id) => {
                let per_conn = pool.per_conn;
                let c = pool.conn_mut(addr, id).expect("picked");
                c.busy = true;
                c.sent += 1;
                let last = per_conn > 0 && c.sent >= per_conn;
                pool.start_use(call, addr, id, false, last, measured);
                self.client_send_call(cx, call);
            }
            Pick::Open => {
                let id = pool.next_id;
                pool.next_id = pool.next_id.wrapping_add(1);
                pool.per_addr[addr as usize].push(Conn {
                    id,
                    node: target,
                    epoch,
                    accepted: false,
                    sent: 1,
                    busy: true,
                    closes_at: SimTime::MAX,
                    lb_closes: false,
                });
                let last = pool.per_conn == 1;
                pool.start_use(call, addr, id, true, last, measured);
                // SYN, SYN-ACK: the first segment of the request (or the ClientHello)
                // leaves one round trip later.
                let rtt = self.net.rtt(Node::Clients, target);
                cx.schedule_in(rtt, Ev::ConnOpen { call });
            }
        }
    }

    /// The TCP handshake of a new connection completed: its first segment leaves.
    pub(crate) fn conn_open(&mut self, cx: &mut Context<'_, Ev>, call: Ref) {
        if self.calls.get(call).is_some() {
            self.client_send_call(cx, call);
        }
    }

    /// The client's first segment of `call` leaves towards its entry point: to the holder
    /// of a virtual address (the call follows it), or retransmitted while nobody holds it.
    /// On a new connection it goes as the connection's opening (the SYN's loss, firewall
    /// and backlog apply to it); on a reused one as data of an established connection.
    fn client_send_call(&mut self, cx: &mut Context<'_, Ev>, call: Ref) {
        let Some(callee) = self.calls.get(call).map(|c| c.callee) else {
            return;
        };
        let reused = self
            .conns
            .as_ref()
            .and_then(|p| p.use_of(call))
            .is_some_and(|u| !u.new);
        match self.client_syn_target(call) {
            Some(node) if reused => {
                let (i, j) = (self.net.idx(Node::Clients), self.net.idx(node));
                self.net
                    .transmit(cx, i, j, Msg::Call(call), Attempt::data());
            }
            Some(node) => self.send(cx, Node::Clients, node, Msg::Call(call)),
            None => {
                let j = self.net.idx(callee);
                self.net
                    .retransmit(cx, 0, j, Msg::Call(call), Attempt::FIRST, SimDuration::ZERO);
            }
        }
    }

    /// A load balancer accepted the connection `call` opens: it now belongs to that LB's
    /// current sockets.
    pub(crate) fn conn_accepted(&mut self, lb: u32, call: Ref) {
        let epoch = self.lbs[lb as usize].conn.epoch;
        let Some(pool) = self.conns.as_mut() else {
            return;
        };
        if let Some(u) = pool.use_of(call)
            && let Some(c) = pool.conn_mut(u.addr, u.id)
        {
            c.node = Node::Lb(lb);
            c.epoch = epoch;
            c.accepted = true;
        }
    }

    /// Client call `call` ended (`ok`: a response arrived; otherwise a reset, or the
    /// client gave up). Frees or closes its connection, serves the next waiting request of
    /// the address, and returns whether the call had opened its connection (None: it had
    /// no connection).
    pub(crate) fn conn_call_ended(
        &mut self,
        cx: &mut Context<'_, Ev>,
        call: Ref,
        ended: Outcome,
        reset: bool,
    ) -> Option<bool> {
        let now = cx.now();
        let measured = now >= self.warmup_end;
        let pool = self.conns.as_mut()?;
        let u = pool.use_of(call)?;
        pool.uses[call.index()] = None;
        let Some(c) = pool.conn_mut(u.addr, u.id) else {
            // It closed meanwhile (reset while the response travelled).
            self.conn_serve_waiting(cx, u.addr);
            return Some(u.new);
        };
        let close = if reset {
            Some(Closed::Reset)
        } else if u.last {
            Some(Closed::Limit)
        } else {
            // An error response leaves an HTTP/1.1 connection open.
            let _ = ended;
            None
        };
        match close {
            Some(k) => {
                pool.close(u.addr, u.id, Some(k), measured);
            }
            None => {
                let node = c.node;
                let lb_timeout = match node {
                    Node::Lb(i) => self.lbs[i as usize].cfg.timeouts.http_keep_alive,
                    _ => None,
                };
                let keep = pool.keep_alive;
                let (after, lb_closes) = match lb_timeout {
                    Some(t) if t <= keep => (t, true),
                    _ => (keep, false),
                };
                let c = pool.conn_mut(u.addr, u.id).expect("found above");
                c.busy = false;
                c.closes_at = now.saturating_add(after);
                c.lb_closes = lb_closes;
                let at = c.closes_at;
                let Pool { idle, per_addr, .. } = pool;
                idle.push_discarding(
                    cx,
                    at,
                    (u.addr, u.id),
                    |t| not_idle(per_addr, t),
                    || Ev::ConnIdle,
                );
            }
        }
        self.conn_serve_waiting(cx, u.addr);
        Some(u.new)
    }

    /// A request whose attempt timed out at the client: the client closes its connection
    /// (the LB sees it close; a connection still opening is abandoned).
    pub(crate) fn conn_abandoned(&mut self, cx: &mut Context<'_, Ev>, call: Ref) {
        let now = cx.now();
        let measured = now >= self.warmup_end;
        let Some(pool) = self.conns.as_mut() else {
            return;
        };
        let Some(u) = pool.use_of(call) else {
            return;
        };
        pool.uses[call.index()] = None;
        pool.close(u.addr, u.id, Some(Closed::Abandoned), measured);
        self.conn_serve_waiting(cx, u.addr);
    }

    /// The next waiting request of `addr` (one whose client still waits) takes a
    /// connection.
    fn conn_serve_waiting(&mut self, cx: &mut Context<'_, Ev>, addr: u32) {
        loop {
            let Some(pool) = self.conns.as_mut() else {
                return;
            };
            let Some(call) = pool.waiting[addr as usize].pop_front() else {
                return;
            };
            if let Some(target) = self.calls.get(call).map(|c| c.callee) {
                self.conn_route(cx, call, target);
                return;
            }
        }
    }

    /// The wake-up of the idle connections' closing times: each still idle and due closes
    /// (by the client's `keep_alive` or the LB's `timeout http-keep-alive`), giving back
    /// its LB's connection slot.
    pub(crate) fn conn_idle_expired(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        let measured = now >= self.warmup_end;
        loop {
            let Some(pool) = self.conns.as_mut() else {
                return;
            };
            let Some((addr, id)) = pool.idle.pop_expired(now) else {
                break;
            };
            let Some(c) = pool.conn_mut(addr, id) else {
                continue;
            };
            if c.busy || c.closes_at > now {
                continue;
            }
            let c = pool.close(addr, id, None, measured).expect("found");
            if let Node::Lb(lb) = c.node
                && c.accepted
                && self.lbs[lb as usize].conn.epoch == c.epoch
            {
                self.lb_conn_closed_idle(cx, lb);
            }
        }
        if let Some(pool) = self.conns.as_mut() {
            let Pool { idle, per_addr, .. } = pool;
            idle.rearm_discarding(cx, |t| not_idle(per_addr, t), || Ev::ConnIdle);
        }
    }

    /// Records the latency of a successful request by whether its connection was new.
    pub(crate) fn conn_record_latency(&mut self, first: bool, latency: SimDuration) {
        if let Some(pool) = self.conns.as_mut() {
            let h = if first {
                &mut pool.stats.first_latency
            } else {
                &mut pool.stats.reused_latency
            };
            h.record_duration(latency);
        }
    }
}
