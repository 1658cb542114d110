//! Attack traffic: floods beside the workload, from the internet zone (the clients' side of
//! the network). Each attack is a Poisson stream of SYNs or connections at its rate from
//! `sources` addresses (drawn uniformly; addresses apart from the clients'), on its own
//! random stream `attack/NAME`, so an attack never moves the workload's draws.
//!
//! * **`syn_flood`**: spoofed SYNs that never complete the handshake. Each crosses the
//!   firewalls on its way (an unassured conntrack entry, `model::firewall`) and reaches its
//!   target's listening socket. There it waits in the SYN queue for the ACK that never comes
//!   while the kernel retransmits its SYN-ACK: `tcp_synack_retries` = 5 (Linux ip-sysctl),
//!   so it leaves after 1 + 2 + 4 + 8 + 16 + 32 = 63 s. Once the queue holds `syn_backlog`
//!   such requests, with `tcp_syncookies` = 1 (the Linux default) the kernel answers further
//!   SYNs with a cookie and keeps no state (`tcp_conn_request()`, net/ipv4/tcp_input.c):
//!   legitimate connections complete as before. With syncookies off, every SYN that finds
//!   the queue full is dropped, the clients' included: they retransmit (1 s, 3 s, …).
//! * **`http_flood`**: complete requests through the entry point (or a named component),
//!   made like the clients' (a class, a key, a source address): they take load-balancer CPU
//!   and connections, server workers and queue places, database connections, exactly as the
//!   clients' do, and the rate limit of a load balancer sees their sources.
//! * **`connect_flood`**: connections straight to a component's port, each carrying one
//!   request (an HTTP request to a web or app server, a read query to a database node).
//!   Only possible where no firewall blocks the path.
//!
//! Simplifications: an attack connection whose SYN is dropped — by a firewall, or by the
//! target's kernel (a full accept queue) — is counted and abandoned (flood tools open new
//! connections rather than wait on retransmissions); the clients' SYNs are retransmitted as
//! Linux does. Attack traffic never counts as offered
//! requests; its own counts (after the warm-up) are in the report's `attacks` section.

use std::collections::VecDeque;

use infrasim_engine::rng::{below, splitmix64};
use infrasim_engine::ziggurat::exp1;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime};
use serde::{Deserialize, Serialize};

use crate::model::World;
use crate::model::call::{Call, DbOp, FailReason, Outcome, Parent};
use crate::model::firewall::{Dropped, Flow};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::security::ResolvedAttack;
use crate::scenario::{Attack, AttackKind, Class, CrashMode, Entry};

/// Linux `tcp_synack_retries` default 5 (ip-sysctl.rst): a half-open connection's SYN-ACK
/// is sent at 0, 1, 3, 7, 15 and 31 s and the request dropped at 63 s.
pub(crate) const SYN_RECV_LIFETIME: SimDuration = SimDuration::from_secs(63);

/// What one attack counted (after the warm-up).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackTally {
    /// The attack's name.
    pub name: String,
    /// `syn_flood`, `http_flood` or `connect_flood`.
    pub kind: String,
    /// SYNs (`syn_flood`) or connections sent.
    pub offered: u64,
    /// Dropped by a firewall rule (or its default deny).
    pub dropped_firewall: u64,
    /// Dropped because a firewall's conntrack table was full.
    pub dropped_conntrack_full: u64,
    /// Lost because a firewall on the way was down.
    pub dropped_firewall_down: u64,
    /// `syn_flood`: SYNs that took a place in the target's SYN queue.
    pub syn_queued: u64,
    /// `syn_flood`: SYNs answered with a SYN cookie (queue full, syncookies on).
    pub syn_cookies: u64,
    /// SYNs dropped at the target: its accept queue or SYN queue full (a `syn_flood`'s with
    /// syncookies off), or its host down.
    pub dropped_backlog: u64,
    /// Connections served: a successful answer.
    pub served: u64,
    /// Connections that failed, by reason (a load balancer's rate limit: `rate_limited`).
    pub failed: Vec<u64>,
}

/// One attack's state.
struct AttackState {
    kind: AttackKind,
    target: Option<Node>,
    rate: f64,
    sources: u32,
    /// The first address of its sources.
    addr_base: u32,
    start: SimTime,
    end: SimTime,
    class: Class,
    rng: SimRng,
    /// Connections (or SYNs) sent so far (the work serial of its requests).
    sent: u64,
    tally: AttackTally,
}

/// Every attack, and the SYN queues its SYN floods fill.
pub(crate) struct Attacks {
    list: Vec<AttackState>,
    /// Per dense network index: the expiry times of the half-open connections flood SYNs
    /// hold in that node's SYN queue (empty for nodes no SYN flood targets).
    syn_queues: Vec<VecDeque<SimTime>>,
    syncookies: bool,
    syn_backlog: usize,
    key_count: u32,
    warmup_end: SimTime,
    /// Whether a full SYN queue drops the clients' SYNs (a SYN flood with syncookies off).
    pub(crate) drops_syns: bool,
}

impl Attacks {
    /// The scenario's attacks (None: none). Their source addresses follow the clients'.
    pub(crate) fn new(
        specs: &[Attack],
        resolved: &[ResolvedAttack],
        s: &crate::scenario::Scenario,
        nodes: usize,
        streams: &RngStreams,
    ) -> Option<Attacks> {
        if specs.is_empty() {
            return None;
        }
        let horizon = SimTime::ZERO.saturating_add(s.warmup.saturating_add(s.duration));
        let mut base = s.clients.addresses;
        let list = specs
            .iter()
            .zip(resolved)
            .map(|(a, r)| {
                let addr_base = base;
                base = base.saturating_add(a.sources);
                let start = SimTime::ZERO.saturating_add(a.at);
                AttackState {
                    kind: a.kind,
                    target: r.target,
                    rate: a.rate.as_per_second(),
                    sources: a.sources,
                    addr_base,
                    start,
                    end: a
                        .duration
                        .map_or(horizon, |d| start.saturating_add(d).min(horizon)),
                    class: a.class,
                    rng: streams.stream(&format!("attack/{}", a.name)),
                    sent: 0,
                    tally: AttackTally {
                        name: a.name.clone(),
                        kind: a.kind.name().to_string(),
                        failed: vec![0; FailReason::ALL.len()],
                        ..AttackTally::default()
                    },
                }
            })
            .collect();
        let syn_flood = specs.iter().any(|a| a.kind == AttackKind::SynFlood);
        Some(Attacks {
            list,
            syn_queues: vec![VecDeque::new(); nodes],
            syncookies: s.network.syncookies,
            syn_backlog: s.network.syn_backlog as usize,
            key_count: s.clients.keys.count,
            warmup_end: SimTime::ZERO.saturating_add(s.warmup),
            drops_syns: syn_flood && !s.network.syncookies,
        })
    }

    /// What each attack counted, in scenario order.
    pub(crate) fn tallies(&self) -> Vec<AttackTally> {
        self.list.iter().map(|a| a.tally.clone()).collect()
    }

    /// Whether the SYN queue of the node at dense index `j` is full of flood SYNs now.
    pub(crate) fn syn_queue_full(&mut self, now: SimTime, j: usize) -> bool {
        let q = &mut self.syn_queues[j];
        while q.front().is_some_and(|t| *t <= now) {
            q.pop_front();
        }
        q.len() >= self.syn_backlog
    }
}

impl World {
    /// Schedules each attack's first SYN or connection.
    pub(crate) fn start_attacks(&mut self, cx: &mut Context<'_, Ev>) {
        let Some(atk) = self.attacks.as_deref_mut() else {
            return;
        };
        for (i, a) in atk.list.iter_mut().enumerate() {
            if let Some(t) = next_after(a, a.start) {
                cx.schedule_at(t, Ev::Attack { idx: i as u32 });
            }
        }
    }

    /// Attack `idx` sends its next SYN or connection, and schedules the one after.
    pub(crate) fn on_attack(&mut self, cx: &mut Context<'_, Ev>, idx: u32) {
        let now = cx.now();
        let Some(atk) = self.attacks.as_deref_mut() else {
            return;
        };
        let measured = now >= atk.warmup_end;
        let key_count = atk.key_count;
        let a = &mut atk.list[idx as usize];
        if let Some(t) = next_after(a, now) {
            cx.schedule_at(t, Ev::Attack { idx });
        }
        let src = below(&mut a.rng, u64::from(a.sources)) as u32;
        let addr = a.addr_base.saturating_add(src);
        let key = below(&mut a.rng, u64::from(key_count.max(1))) as u32;
        let serial = a.sent;
        a.sent += 1;
        let (kind, class, target) = (a.kind, a.class, a.target);
        if measured {
            a.tally.offered += 1;
        }
        let target = match target {
            Some(t) => t,
            None => self.attack_entry(src),
        };
        match kind {
            AttackKind::SynFlood => self.flood_syn(now, idx, target, measured),
            AttackKind::HttpFlood | AttackKind::ConnectFlood => {
                // The attack's own work serials, apart from the clients' (common random
                // numbers: the clients' requests keep theirs).
                let work = (splitmix64(u64::from(idx) << 40 | serial) >> 32) as u32;
                let mut call = Call::new(
                    Parent::Attack(idx),
                    Node::Clients,
                    target,
                    (class, key, addr, work),
                );
                if let Node::Db(db) = target {
                    call = call.query(DbOp::Read, db, 0);
                }
                let call = self.calls.insert(call);
                self.send(cx, Node::Clients, target, Msg::Call(call));
                if let Some(d) = self.net.take_firewall_drop() {
                    // The flood tool abandons the connection; its retransmission finds
                    // the call gone.
                    self.calls.remove(call);
                    if measured {
                        self.attack_dropped(idx, d);
                    }
                }
            }
        }
    }

    /// Where an attack aimed at the entry point connects, from source `src`.
    fn attack_entry(&self, src: u32) -> Node {
        match self.clients.entry {
            Entry::Node(n) => n,
            Entry::Vip(p) => {
                let pair = &self.vrrp[p as usize];
                pair.vip().unwrap_or(pair.members[0])
            }
            Entry::Dns(p) => self.dns[p as usize].members[(src % 2) as usize],
        }
    }

    /// A spoofed SYN reaches `target` through the firewalls.
    fn flood_syn(&mut self, now: SimTime, idx: u32, target: Node, measured: bool) {
        let host_up = self.net.state(target).down != Some(CrashMode::Host);
        let flow = Flow::Spoofed { answered: host_up };
        if let Err(d) = self.net.firewall_syn(now, Node::Clients, target, flow) {
            if measured {
                self.attack_dropped(idx, d);
            }
            return;
        }
        let j = self.net.idx(target);
        let Some(atk) = self.attacks.as_deref_mut() else {
            return;
        };
        let up = self.net.state(target).down.is_none();
        let full = atk.syn_queue_full(now, j);
        let cookies = atk.syncookies;
        if up && !full {
            atk.syn_queues[j].push_back(now.saturating_add(SYN_RECV_LIFETIME));
        }
        let t = &mut atk.list[idx as usize].tally;
        if measured {
            match (up, full, cookies) {
                (false, _, _) | (true, true, false) => t.dropped_backlog += 1,
                (true, true, true) => t.syn_cookies += 1,
                (true, false, _) => t.syn_queued += 1,
            }
        }
    }

    fn attack_dropped(&mut self, idx: u32, d: Dropped) {
        let Some(atk) = self.attacks.as_deref_mut() else {
            return;
        };
        let t = &mut atk.list[idx as usize].tally;
        match d {
            Dropped::Denied => t.dropped_firewall += 1,
            Dropped::ConntrackFull => t.dropped_conntrack_full += 1,
            Dropped::Down => t.dropped_firewall_down += 1,
        }
    }

    /// A target's kernel dropped an attack connection's SYN (a full accept queue or SYN
    /// queue, a dead host): the flood tool abandons it.
    pub(crate) fn attack_syn_dropped(&mut self, now: SimTime, idx: u32) {
        if let Some(atk) = self.attacks.as_deref_mut()
            && now >= atk.warmup_end
        {
            atk.list[idx as usize].tally.dropped_backlog += 1;
        }
    }

    /// An attack connection ended at the attacker's side (its answer, or a reset).
    pub(crate) fn attack_ended(&mut self, now: SimTime, idx: u32, outcome: Outcome) {
        let Some(atk) = self.attacks.as_deref_mut() else {
            return;
        };
        if now < atk.warmup_end {
            return;
        }
        let t = &mut atk.list[idx as usize].tally;
        match outcome {
            Outcome::Ok => t.served += 1,
            Outcome::Failed(r) => t.failed[r.index()] += 1,
        }
    }

    /// Whether the listening socket at dense index `j` drops a client's SYN now: its SYN
    /// queue is full of flood SYNs and syncookies are off.
    #[cold]
    pub(crate) fn syn_dropped_at(&mut self, now: SimTime, j: usize) -> bool {
        match self.attacks.as_deref_mut() {
            Some(atk) if atk.drops_syns => atk.syn_queue_full(now, j),
            _ => false,
        }
    }
}

/// The attack's next SYN or connection after `now` (Poisson at its rate), if before its end.
fn next_after(a: &mut AttackState, now: SimTime) -> Option<SimTime> {
    let dt = exp1(&mut a.rng) / a.rate;
    let t = now.saturating_add(SimDuration::from_secs_f64(dt));
    (t < a.end).then_some(t)
}
