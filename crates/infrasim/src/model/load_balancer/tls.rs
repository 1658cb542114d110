//! The load balancer's client connections and their TLS termination (HAProxy `bind ...
//! ssl`), when the workload models connections (`crate::model::connection`).
//!
//! * A new connection holds a frontend slot (`maxconn` counts connections: busy ones in
//!   `frontend`, idle keep-alive ones in [`LbConn::idle`]) and costs a core
//!   `cpu.per_connection` (accept and close) plus, with TLS, its handshake; a request on a
//!   reused connection skips both. The handshake's CPU goes through the LB's cores with
//!   every other piece of work (one FIFO of the cores: they saturate as M/M/c or M/D/c).
//! * The handshake's round trips come after the server's CPU: TLS 1.2 full 2, TLS 1.2
//!   resumed 1, TLS 1.3 1, TLS 1.3 with early data 0 (RFC 5246, RFC 8446); the request's
//!   first segment reaches the LB then. With the TCP handshake the client paid before its
//!   ClientHello, a new connection's first request takes 1 + {2, 1, 0} + 1 round trips.
//!   Each round trip's two flights may be lost on the client link and are retransmitted on
//!   TCP's data timers (`Network::retransmission_delay`).
//! * Resumption: the client offers the session it got last (a ticket or a session ID).
//!   With tickets (HAProxy's default) the LB resumes it if it holds the key that sealed it:
//!   with `shared_ticket_keys` any member of the pair does (keys from a shared file, kept
//!   across restarts); otherwise only the LB that issued it, and not after it restarted
//!   (HAProxy generates random keys at start). Without tickets the LB's own session cache
//!   (`tune.ssl.cachesize` entries, oldest evicted first, lost on a crash) must hold it. In
//!   both cases a session older than `tune.ssl.lifetime` is not resumed. So after a VRRP
//!   takeover without shared keys every client's next connection is a full handshake on
//!   the new master.
//!
//! CPU costs per core (defaults; sources in `docs/models.md` §TLS):
//! * full handshake: RSA-2048 755 µs, RSA-3072 3058 µs, ECDSA P-256 233 µs. HAProxy's
//!   doc/intro.txt §3.6 measures 1300 new HTTPS connections/s per core with RSA-2048
//!   (769 µs each, connection and request included: 769 − 8 − 6 = 755 µs for the
//!   handshake); the other keys replace RSA-2048's signature (0.56 ms, OpenSSL `speed`:
//!   1780 signs/s) with theirs (RSA-3072 2.87 ms, 349/s; ECDSA P-256 0.04 ms, 24 900/s);
//! * resumed handshake: TLS 1.2 62 µs (HAProxy: 13 100 resumed HTTPS requests/s, 76 µs
//!   each, less the connection and the request), TLS 1.3 118 µs (its resumption adds an
//!   X25519 key exchange, `psk_dhe_ke`: 17 800/s, 56 µs);
//! * bulk encryption `bulk_per_kb` × `kb_per_request` per request; re-encryption to the
//!   servers 2.1 µs per request more, on the LB and on the server (HAProxy: 160 000
//!   keep-alive HTTPS requests/s against 243 000 cleartext ones: 6.25 − 4.12 µs), plus the
//!   bulk again (the server's decryption is added to its service time).

use std::collections::VecDeque;

use infrasim_engine::{Context, SimDuration, SimTime};

use crate::model::call::Ref;
use crate::model::connection::{ConnUse, Handshake, Session};
use crate::model::tcp::Attempt;
use crate::model::vocabulary::{Ev, Node};
use crate::model::{Received, World};
use crate::scenario::{KeyType, Tls, TlsVersion};

/// HAProxy doc/intro.txt §3.6: 1/160 000 s − 1/243 000 s, TLS's share of a keep-alive
/// request's CPU.
pub(crate) const TLS_PER_REQUEST: SimDuration = SimDuration::from_nanos(2_100);

/// Kinds of CPU work, in the report's order.
pub(crate) const CPU_KINDS: [&str; 5] = [
    "full_handshakes",
    "resumed_handshakes",
    "connections",
    "requests",
    "tls_requests",
];

/// A piece of work for the LB's cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CpuJob {
    /// The per-request work (and its encryption).
    Request,
    /// A new connection's accept and close, and its TLS handshake.
    Connection,
}

/// The LB's connection state and what it measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct LbConn {
    /// Changes when its sockets are lost (a crash, or its virtual address moving away).
    pub epoch: u32,
    /// Changes when its process restarts (new ticket keys, empty session cache).
    pub key_epoch: u32,
    /// Idle keep-alive connections it holds (they count in `maxconn`).
    pub idle: u32,
    /// CPU spent by kind ([`CPU_KINDS`]), ns, after the warm-up.
    pub cpu_ns: [u64; 5],
    /// Handshakes after the warm-up: full, resumed, and of the resumed those with early data.
    pub handshakes: [u64; 3],
    /// Connections accepted after the warm-up.
    pub accepted: u64,
}

/// A TLS-terminating LB's settings and session cache.
#[derive(Clone, Debug)]
pub(crate) struct LbTls {
    pub version: TlsVersion,
    pub full: SimDuration,
    pub resumed: SimDuration,
    pub early_data: bool,
    pub tickets: bool,
    pub shared_keys: bool,
    pub cache_size: u32,
    pub lifetime: SimDuration,
    /// Bulk encryption per request.
    pub bulk: SimDuration,
    pub to_servers: bool,
    /// The session cache: each client address's entry (when created), and the creation
    /// order for eviction.
    cache: Vec<SimTime>,
    order: VecDeque<(u32, SimTime)>,
}

/// [`LbTls::cache`] of an address with no session.
const NO_ENTRY: SimTime = SimTime::MAX;

/// CPU of a full handshake with this key (see the module's documentation for sources).
pub(crate) fn full_cost(key: KeyType) -> SimDuration {
    match key {
        KeyType::Rsa2048 => SimDuration::from_micros(755),
        KeyType::Rsa3072 => SimDuration::from_micros(3058),
        KeyType::EcdsaP256 => SimDuration::from_micros(233),
    }
}

/// CPU of a resumed handshake in this version.
pub(crate) fn resumed_cost(version: TlsVersion) -> SimDuration {
    match version {
        TlsVersion::V12 => SimDuration::from_micros(62),
        TlsVersion::V13 => SimDuration::from_micros(118),
    }
}

impl LbTls {
    pub(crate) fn new(t: &Tls, addresses: u32) -> LbTls {
        let bulk = SimDuration::from_secs_f64(t.bulk_per_kb.as_secs_f64() * t.kb_per_request);
        LbTls {
            version: t.version,
            full: t.full_handshake.unwrap_or(full_cost(t.key)),
            resumed: t.resumed_handshake.unwrap_or(resumed_cost(t.version)),
            early_data: t.early_data,
            tickets: t.session_tickets,
            shared_keys: t.shared_ticket_keys,
            cache_size: t.cache_size,
            lifetime: t.lifetime,
            bulk,
            to_servers: t.to_servers,
            cache: if t.session_tickets {
                Vec::new()
            } else {
                vec![NO_ENTRY; addresses as usize]
            },
            order: VecDeque::new(),
        }
    }

    /// Round trips between the server's handshake CPU and the request's arrival.
    pub(crate) fn round_trips(&self, h: Handshake) -> u32 {
        match (h, self.version) {
            (Handshake::Full, TlsVersion::V12) => 2,
            (Handshake::Early, _) | (Handshake::None, _) => 0,
            _ => 1,
        }
    }

    /// Whether the session `s` a client offers from address `addr` is resumed by LB `lb`
    /// (whose process incarnation is `key_epoch`) at `now`.
    fn resumes(&self, lb: u32, key_epoch: u32, addr: u32, s: Session, now: SimTime) -> bool {
        if now.saturating_since(s.issued) >= self.lifetime {
            return false;
        }
        if self.tickets {
            self.shared_keys || (s.lb == lb && s.key_epoch == key_epoch)
        } else {
            s.lb == lb
                && s.key_epoch == key_epoch
                && self.cache.get(addr as usize) == Some(&s.issued)
        }
    }

    /// A full handshake created a session for `addr`: the cache keeps it, evicting the
    /// oldest entry when full.
    fn cache_insert(&mut self, addr: u32, now: SimTime) {
        if self.tickets || self.cache_size == 0 {
            return;
        }
        while self.order.len() >= self.cache_size as usize {
            let Some((a, at)) = self.order.pop_front() else {
                break;
            };
            if self.cache[a as usize] == at {
                self.cache[a as usize] = NO_ENTRY;
            }
        }
        self.cache[addr as usize] = now;
        self.order.push_back((addr, now));
    }

    /// The process died: its cache (shared memory) is gone.
    fn cache_clear(&mut self) {
        self.cache.fill(NO_ENTRY);
        self.order.clear();
    }
}

/// How a client call reaches the LB, connection-wise.
pub(super) enum Arrival {
    /// The workload models no connections: the call is its own connection.
    Legacy,
    /// The call opens its connection.
    New,
    /// The call travels on a connection the LB already holds.
    Reused,
    /// The call travels on a connection this LB no longer has (it crashed or lost the
    /// address since): the kernel answers with a reset.
    Stale,
}

impl World {
    /// What a client call arriving at LB `lb` is, connection-wise; a request on an idle
    /// connection leaves the idle count.
    pub(super) fn lb_conn_arrival(&mut self, lb: u32, call: Ref) -> Arrival {
        let Some(pool) = self.conns.as_ref() else {
            return Arrival::Legacy;
        };
        let Some(u) = pool.use_of(call) else {
            return Arrival::Legacy;
        };
        if u.new {
            return Arrival::New;
        }
        if !self.conns_alive_on(lb, u) {
            return Arrival::Stale;
        }
        let l = &mut self.lbs[lb as usize];
        l.conn.idle = l.conn.idle.saturating_sub(1);
        Arrival::Reused
    }

    /// Whether the connection of `u` is one of LB `lb`'s current sockets.
    fn conns_alive_on(&self, lb: u32, u: ConnUse) -> bool {
        self.conns
            .as_ref()
            .and_then(|p| p.conn_state(u.addr, u.id))
            .is_some_and(|(node, epoch)| {
                node == Node::Lb(lb) && epoch == self.lbs[lb as usize].conn.epoch
            })
    }

    /// The LB answered a stale connection's segment with a reset.
    pub(super) fn lb_conn_stale(&mut self, cx: &mut Context<'_, Ev>, call: Ref) -> Received {
        self.reset(cx, call);
        Received::Taken
    }

    /// Client connections counted against `maxconn` besides the busy ones.
    pub(super) fn lb_idle_conns(&self, lb: u32) -> u32 {
        self.lbs[lb as usize].conn.idle
    }

    /// The LB took `call` (it holds a frontend slot): its cores do the connection's work
    /// first when the call opens a connection (accept, and the TLS handshake), else the
    /// request's.
    pub(super) fn lb_conn_first_job(&mut self, lb: u32, call: Ref, now: SimTime) -> CpuJob {
        let Some(u) = self.conns.as_ref().and_then(|p| p.use_of(call)) else {
            return CpuJob::Request;
        };
        if !u.new {
            return CpuJob::Request;
        }
        self.conn_accepted(lb, call);
        let l = &mut self.lbs[lb as usize];
        let measured = now >= self.warmup_end;
        if measured {
            l.conn.accepted += 1;
        }
        let key_epoch = l.conn.key_epoch;
        let h = match &l.tls {
            None => Handshake::None,
            Some(t) => match u.session {
                Some(s) if t.resumes(lb, key_epoch, u.addr, s, now) => {
                    if t.early_data {
                        Handshake::Early
                    } else {
                        Handshake::Resumed
                    }
                }
                _ => Handshake::Full,
            },
        };
        if measured {
            match h {
                Handshake::Full => l.conn.handshakes[0] += 1,
                Handshake::Resumed => l.conn.handshakes[1] += 1,
                Handshake::Early => {
                    l.conn.handshakes[1] += 1;
                    l.conn.handshakes[2] += 1;
                }
                Handshake::None => {}
            }
        }
        if let Some(pool) = self.conns.as_mut() {
            pool.set_handshake(call, h);
        }
        CpuJob::Connection
    }

    /// The CPU a job costs on LB `lb`, recorded by kind after the warm-up.
    pub(super) fn lb_job_cost(
        &mut self,
        lb: u32,
        call: Ref,
        job: CpuJob,
        now: SimTime,
    ) -> SimDuration {
        let measured = now >= self.warmup_end;
        let handshake = self
            .conns
            .as_ref()
            .and_then(|p| p.use_of(call))
            .map_or(Handshake::None, |u| u.handshake);
        let l = &mut self.lbs[lb as usize];
        match job {
            CpuJob::Request => {
                let tls = l.tls.as_ref().map_or(SimDuration::ZERO, |t| {
                    if t.to_servers {
                        t.bulk
                            .saturating_add(t.bulk)
                            .saturating_add(TLS_PER_REQUEST)
                    } else {
                        t.bulk
                    }
                });
                if measured {
                    l.conn.cpu_ns[3] += l.cfg.cost.as_nanos();
                    l.conn.cpu_ns[4] += tls.as_nanos();
                }
                l.cfg.cost.saturating_add(tls)
            }
            CpuJob::Connection => {
                let per_conn = l.cfg.per_connection;
                let hs = match (&l.tls, handshake) {
                    (Some(t), Handshake::Full) => t.full,
                    (Some(t), Handshake::Resumed | Handshake::Early) => t.resumed,
                    _ => SimDuration::ZERO,
                };
                if measured {
                    l.conn.cpu_ns[2] += per_conn.as_nanos();
                    let k = if handshake == Handshake::Full { 0 } else { 1 };
                    l.conn.cpu_ns[k] += hs.as_nanos();
                }
                per_conn.saturating_add(hs)
            }
        }
    }

    /// A core finished a new connection's work for `call` (its accept and handshake): the
    /// LB sends its handshake messages, and the request arrives the handshake's remaining
    /// round trips later (at once with early data or without TLS).
    pub(crate) fn lb_conn_cpu_done(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        call: Ref,
        epoch: u32,
    ) {
        if self.lbs[lb as usize].conn.epoch != epoch {
            // The LB crashed meanwhile: its cores' work went with it.
            return;
        }
        let now = cx.now();
        self.lb_cpu_freed(cx, lb);
        let Some(u) = self.conns.as_ref().and_then(|p| p.use_of(call)) else {
            self.lb_close_frontend(cx, lb);
            return;
        };
        if self.calls.get(call).is_none() {
            self.lb_close_frontend(cx, lb);
            return;
        }
        let l = &mut self.lbs[lb as usize];
        let key_epoch = l.conn.key_epoch;
        let mut rtts = 0;
        if let Some(t) = l.tls.as_mut() {
            rtts = t.round_trips(u.handshake);
            let new_session = match u.handshake {
                Handshake::Full => {
                    t.cache_insert(u.addr, now);
                    true
                }
                // TLS 1.3 servers send a new ticket after every handshake.
                Handshake::Resumed | Handshake::Early => t.tickets && t.version == TlsVersion::V13,
                Handshake::None => false,
            };
            if new_session && let Some(pool) = self.conns.as_mut() {
                pool.sessions[u.addr as usize] = Some(Session {
                    lb,
                    issued: now,
                    key_epoch,
                });
            }
        }
        if rtts == 0 {
            self.lb_cpu_start(cx, lb, call, CpuJob::Request);
            return;
        }
        // Each round trip is two flights (the LB's, then the client's) that the client link
        // may lose: a lost one is retransmitted on the data timers, as any segment of an
        // established connection.
        let at = Node::Lb(lb);
        let rtt = self.net.rtt(Node::Clients, at);
        let flights = 2 * rtts;
        match self
            .net
            .retransmission_delay(at, Node::Clients, flights, Attempt::data())
        {
            Some(extra) => {
                let wait = SimDuration::from_nanos(rtt.as_nanos().saturating_mul(u64::from(rtts)));
                let wait = wait.saturating_add(extra);
                cx.schedule_in(wait, Ev::LbTlsDone { lb, call, epoch });
            }
            // The handshake never completes: the client's timeout ends the request.
            None => self.lb_close_frontend(cx, lb),
        }
    }

    /// The handshake's last round trip is over: the request's first segment arrives.
    pub(crate) fn lb_tls_done(&mut self, cx: &mut Context<'_, Ev>, lb: u32, call: Ref, epoch: u32) {
        if self.lbs[lb as usize].conn.epoch != epoch {
            return;
        }
        if self.calls.get(call).is_none() {
            self.lb_close_frontend(cx, lb);
            return;
        }
        self.lb_cpu_start(cx, lb, call, CpuJob::Request);
    }

    /// The LB answered the request of `call`: its keep-alive connection, unless that was
    /// its last request, turns idle (still counted in `maxconn`).
    pub(super) fn lb_conn_responded(&mut self, lb: u32, call: Ref) {
        let Some(u) = self.conns.as_ref().and_then(|p| p.use_of(call)) else {
            return;
        };
        if !u.last {
            self.lbs[lb as usize].conn.idle += 1;
        }
    }

    /// An idle connection closed: its slot is free for connections in the backlog.
    pub(crate) fn lb_conn_closed_idle(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        l.conn.idle = l.conn.idle.saturating_sub(1);
        // Frees the slot through the frontend's accounting (which resumes the listener).
        l.frontend += 1;
        self.lb_close_frontend(cx, lb);
    }

    /// What a server spends decrypting a request re-encrypted by the LB that sent `call`
    /// (`tls.to_servers`): TLS's share of a keep-alive request plus the bulk.
    pub(crate) fn backend_tls_cost(&self, call: Ref) -> SimDuration {
        let Some(Node::Lb(l)) = self.calls.get(call).map(|c| c.caller) else {
            return SimDuration::ZERO;
        };
        match &self.lbs[l as usize].tls {
            Some(t) if t.to_servers => TLS_PER_REQUEST.saturating_add(t.bulk),
            _ => SimDuration::ZERO,
        }
    }

    /// The LB lost every client socket: a crash (`restart`: its process, so its ticket
    /// keys and session cache, are gone too) or its virtual address moving away.
    pub(crate) fn lb_conn_lost(&mut self, lb: u32, restart: bool) {
        let l = &mut self.lbs[lb as usize];
        l.conn.epoch = l.conn.epoch.wrapping_add(1);
        l.conn.idle = 0;
        if restart {
            l.conn.key_epoch = l.conn.key_epoch.wrapping_add(1);
            if let Some(t) = l.tls.as_mut() {
                t.cache_clear();
            }
        }
    }
}
