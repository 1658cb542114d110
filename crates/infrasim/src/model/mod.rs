//! The built model: the [`World`] that holds every component, and the dispatch of events to
//! them.
//!
//! Each real thing has its own module, owning its state and its reactions to events: the
//! workload (`client`), the load balancer (`load_balancer`: its request path, its health
//! checks, its balance algorithms), the web and app servers (`server`), the database
//! (`database`: queries, replication, read routing, failover), the keepalived pair
//! (`vrrp`) and the DNS pair (`dns`), faults (`fault`). Beside them: the shared
//! vocabulary of events and messages (`vocabulary`, which names no component), requests and
//! calls (`call`), the network every message crosses (`network`), what a run measures
//! (`metrics`, `measure`) and the observer hooks (`observer`).
//!
//! Components talk to each other through [`Msg`]s sent over the network, which adds latency
//! and decides whether a message arrives at all (a crashed host, a partition, a lossy link),
//! and through timers they set on themselves. Where one component acts on another without a
//! message, it does so through one named interface of the world: faults crash and restart
//! components through [`World::crash`] and [`World::restart`]; an operator's weight change or
//! drain reaches the load balancers through [`World::server_admin_changed`]; an app server
//! asks the database tier where a query goes (ProxySQL's routing, in `database::routing`);
//! clients ask the LB pair where its address points (`vrrp`, `dns`).

pub(crate) mod attack;
pub(crate) mod call;
pub(crate) mod client;
pub(crate) mod connection;
pub(crate) mod database;
pub(crate) mod dns;
pub(crate) mod fault;
pub(crate) mod firewall;
pub(crate) mod load_balancer;
pub(crate) mod measure;
pub(crate) mod metrics;
pub(crate) mod monitoring;
pub(crate) mod network;
pub mod observer;
pub(crate) mod server;
pub(crate) mod tcp;
pub(crate) mod vocabulary;
pub(crate) mod vrrp;
pub(crate) mod windows;
pub(crate) mod worker_pool;

use infrasim_engine::{Context, Model, SimDuration, SimTime, WorkRng};

use crate::scenario::{CrashMode, Names};
use call::{Call, Outcome, Ref, Request, Slab, Tier};
use client::Clients;
use database::{Cluster, DbNode};
use dns::DnsPair;
use fault::{FaultState, Occurrence};
use load_balancer::LoadBalancer;
use metrics::Metrics;
use network::Network;
use observer::Observer;
use server::{AppServer, WebServer};
use tcp::Attempt;
use vocabulary::{Ev, Msg, Node, NodeState};
use vrrp::VrrpPair;

/// The whole simulated infrastructure: every component's state, the requests and calls in
/// flight, the network, the faults and what is measured. Its fields are the model's own:
/// the pipeline outside builds it from [`Components`] and reads what a run leaves through
/// [`World::finish`].
pub(crate) struct World {
    requests: Slab<Request>,
    calls: Slab<Call>,
    clients: Clients,
    /// The clients' keep-alive connections, when the workload models them.
    conns: Option<connection::Pool>,
    lbs: Vec<LoadBalancer>,
    /// Keepalived pairs (active-passive).
    vrrp: Vec<VrrpPair>,
    /// DNS pairs (active-active).
    dns: Vec<DnsPair>,
    webs: Vec<WebServer>,
    apps: Vec<AppServer>,
    dbs: Vec<DbNode>,
    clusters: Vec<Cluster>,
    net: Network,
    faults: Vec<FaultState>,
    /// Every fault occurrence so far.
    occurrences: Vec<Occurrence>,
    metrics: Metrics,
    observer: Option<Box<dyn Observer + Send>>,
    /// Names of components, by node (for reports and observers).
    names: Names,
    /// Which server job owns each outstanding sub-call, by the call's slab index.
    sub_owner: Vec<Option<(Ref, Ref)>>,
    warmup_end: SimTime,
    end: SimTime,
    /// Index of the row of the time series the next tick closes.
    next_window: usize,
    /// The root of the generators that draw each request's service demands.
    work_key: u64,
    /// The monitoring and the people it pages, if the scenario has a `monitoring` section.
    ops: Option<Box<monitoring::Ops>>,
    /// The attacks, if the scenario has an `attacks` section.
    attacks: Option<Box<attack::Attacks>>,
}

/// The components a world is made of, each built from its spec (`crate::build`).
pub(crate) struct Components {
    pub clients: Clients,
    /// The clients' connections, if modelled.
    pub conns: Option<connection::Pool>,
    pub lbs: Vec<LoadBalancer>,
    pub vrrp: Vec<VrrpPair>,
    pub dns: Vec<DnsPair>,
    pub webs: Vec<WebServer>,
    pub apps: Vec<AppServer>,
    pub dbs: Vec<DbNode>,
    pub clusters: Vec<Cluster>,
    pub net: Network,
    pub faults: Vec<FaultState>,
    pub names: Names,
    /// The root of the generators of requests' service demands (the workload's).
    pub work_key: u64,
    /// The monitoring, if any.
    pub ops: Option<monitoring::Ops>,
    /// The attacks, if any.
    pub attacks: Option<attack::Attacks>,
}

impl World {
    /// A world at time zero: nothing in flight, measuring from the end of `warmup` for
    /// `duration` in windows of `window` (available when their success ratio is at least
    /// `window_threshold`).
    pub(crate) fn new(
        c: Components,
        warmup: SimDuration,
        duration: SimDuration,
        window: SimDuration,
        window_threshold: f64,
    ) -> World {
        let warmup_end = SimTime::ZERO.saturating_add(warmup);
        World {
            requests: Slab::default(),
            calls: Slab::default(),
            clients: c.clients,
            conns: c.conns,
            lbs: c.lbs,
            vrrp: c.vrrp,
            dns: c.dns,
            webs: c.webs,
            apps: c.apps,
            dbs: c.dbs,
            clusters: c.clusters,
            net: c.net,
            faults: c.faults,
            occurrences: Vec::new(),
            metrics: Metrics::new(warmup_end, window, duration, window_threshold),
            observer: None,
            names: c.names,
            sub_owner: Vec::new(),
            warmup_end,
            end: warmup_end.saturating_add(duration),
            next_window: 0,
            work_key: c.work_key,
            ops: c.ops.map(Box::new),
            attacks: c.attacks.map(Box::new),
        }
    }

    /// Attaches an observer of finished requests and state changes.
    pub(crate) fn observe(&mut self, observer: Box<dyn Observer + Send>) {
        self.observer = Some(observer);
    }

    /// When measuring starts.
    pub(crate) fn warmup_end(&self) -> SimTime {
        self.warmup_end
    }

    /// When the run ends.
    pub(crate) fn end(&self) -> SimTime {
        self.end
    }

    /// Takes `node` down in `mode`: the component loses its work (see each component's
    /// crash). Returns false if it was already down.
    pub(crate) fn crash(&mut self, cx: &mut Context<'_, Ev>, node: Node, mode: CrashMode) -> bool {
        if self.state(node).down.is_some() {
            return false;
        }
        self.net.set_down(node, Some(mode));
        match node {
            Node::Lb(i) => {
                self.lb_crash(cx, i);
                self.pair_member_changed(cx, node, true, mode == CrashMode::Host);
            }
            Node::Web(_) | Node::App(_) => self.server_crash(cx, node),
            Node::Db(i) => self.db_crash(cx, i),
            Node::Clients | Node::Manager(_) => {}
        }
        true
    }

    /// Brings `node` back (a no-op if it is up).
    pub(crate) fn restart(&mut self, cx: &mut Context<'_, Ev>, node: Node) {
        if self.state(node).down.is_none() {
            return;
        }
        self.net.set_down(node, None);
        match node {
            Node::Lb(i) => {
                self.lb_restart(cx, i);
                self.pair_member_changed(cx, node, false, false);
            }
            Node::Db(i) => self.db_restart(cx, i),
            Node::Web(_) | Node::App(_) | Node::Clients | Node::Manager(_) => {}
        }
    }

    /// The generator of the service demand that `work` makes at `tier`: the same request
    /// draws the same numbers at a tier wherever it is served (each server applies its own
    /// distribution and speed to them), so two designs compared see the same requests doing
    /// the same work.
    #[inline]
    fn demand(&self, work: u32, tier: Tier) -> WorkRng {
        WorkRng::new(self.work_key, u64::from(work) << 8 | tier as u64)
    }

    /// Liveness of a node.
    #[inline]
    fn state(&self, node: Node) -> &NodeState {
        self.net.state(node)
    }

    /// Sends a message; the network decides when (and whether) it arrives.
    #[inline]
    fn send(&mut self, cx: &mut Context<'_, Ev>, from: Node, to: Node, msg: Msg) {
        self.net.send(cx, from, to, msg);
    }

    /// Replies to a call: the callee sends the outcome back to the caller.
    fn reply(&mut self, cx: &mut Context<'_, Ev>, call: Ref, outcome: Outcome) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (from, to) = (c.callee, c.caller);
        self.send(cx, from, to, Msg::Reply { call, outcome });
    }

    /// Resets a call's connection (RST from the callee's host).
    fn reset(&mut self, cx: &mut Context<'_, Ev>, call: Ref) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (from, to) = (c.callee, c.caller);
        self.send(cx, from, to, Msg::Reset(call));
    }

    /// A message arrives at dense index `to`. A host that is down does not receive it, and
    /// a receiver may drop it on arrival (a full listen backlog drops a SYN): either way the
    /// sender retransmits it as TCP does. Inlined into the run loop: both of those are the
    /// rare paths, kept out of line.
    #[inline]
    fn deliver(&mut self, cx: &mut Context<'_, Ev>, from: u32, to: u32, attempt: u8, msg: Msg) {
        if self.net.down_at(to).is_some() {
            self.deliver_to_down(cx, from, to, attempt, msg);
            return;
        }
        if self.attacks.as_deref().is_some_and(|a| a.drops_syns)
            && matches!(msg, Msg::Call(_) | Msg::Probe { .. })
            && !Attempt::from_byte(attempt).is_data()
            && self.syn_dropped_at(cx.now(), to as usize)
        {
            self.dropped_on_arrival(cx, from, to, attempt, msg);
            return;
        }
        let (src, dst) = (self.net.node(from), self.net.node(to));
        let received = match dst {
            Node::Clients => self.client_receive(cx, msg),
            Node::Lb(i) => self.lb_receive(cx, i, src, msg),
            Node::Web(i) => self.web_receive(cx, i, msg),
            Node::App(i) => self.app_receive(cx, i, msg),
            Node::Db(i) => self.db_receive(cx, i, src, msg),
            // The manager's checks are not messages (see `database::failover`).
            Node::Manager(_) => Received::Taken,
        };
        if received == Received::Dropped {
            self.dropped_on_arrival(cx, from, to, attempt, msg);
        }
    }

    /// A message reaches a component that is down. A dead host receives nothing (the sender
    /// retransmits); a dead process's host answers as its kernel would: a new connection is
    /// refused with a RST, a TCP check fails at once, a VRRP advertisement still reaches
    /// keepalived, and everything else finds no one listening.
    #[cold]
    #[inline(never)]
    fn deliver_to_down(
        &mut self,
        cx: &mut Context<'_, Ev>,
        from: u32,
        to: u32,
        attempt: u8,
        msg: Msg,
    ) {
        let (src, dst) = (self.net.node(from), self.net.node(to));
        match (self.net.down_at(to), msg) {
            (Some(CrashMode::Host), _) => self.dropped_on_arrival(cx, from, to, attempt, msg),
            (
                _,
                Msg::Advert {
                    pair,
                    member,
                    priority,
                },
            ) => self.vrrp_receive(cx, pair, member, priority, src),
            (_, Msg::Call(c)) => self.reset(cx, c),
            (_, Msg::Probe { lb, slot, seq }) => {
                let ok = false;
                self.send(cx, dst, src, Msg::ProbeReply { lb, slot, seq, ok });
            }
            _ => {}
        }
    }

    /// The receiver did not take transmission `attempt` of `msg` (its host is down, its
    /// backlog full): the sender's timer fires as if it was lost on the way.
    #[cold]
    #[inline(never)]
    fn dropped_on_arrival(
        &mut self,
        cx: &mut Context<'_, Ev>,
        from: u32,
        to: u32,
        attempt: u8,
        msg: Msg,
    ) {
        if let Msg::Call(c) = msg
            && !Attempt::from_byte(attempt).is_data()
            && let Some(call::Call {
                parent: call::Parent::Attack(a),
                ..
            }) = self.calls.get(c)
        {
            // A flood tool abandons a connection whose SYN was dropped (`model::attack`).
            let a = *a;
            self.calls.remove(c);
            self.attack_syn_dropped(cx.now(), a);
            return;
        }
        let (i, j) = (from as usize, to as usize);
        let mut attempt = Attempt::from_byte(attempt);
        if msg.transport() != tcp::Transport::Data && attempt.is_data() {
            // A connection that finds no room when its request arrives starts over.
            attempt = Attempt::FIRST;
        }
        let spent = self.net.latency_between(i, j);
        self.net.retransmit(cx, i, j, msg, attempt, spent);
    }

    /// A sender's retransmission timer fired for `msg`: send it again, unless the connection
    /// was abandoned meanwhile (its call ended, its check finished). A client's SYN to a
    /// virtual IP goes to whichever load balancer holds the address now.
    fn resend(&mut self, cx: &mut Context<'_, Ev>, from: u32, to: u32, attempt: u8, msg: Msg) {
        let wanted = match msg {
            Msg::Call(call) | Msg::Reply { call, .. } => self.calls.get(call).is_some(),
            Msg::Probe { lb, slot, seq } | Msg::ProbeReply { lb, slot, seq, .. } => {
                let h = &self.lbs[lb as usize].health[slot as usize];
                h.checking && h.seq == seq
            }
            _ => true,
        };
        if !wanted {
            return;
        }
        let (i, mut j) = (from as usize, to as usize);
        let attempt = Attempt::from_byte(attempt);
        if let Msg::Call(call) = msg
            && i == 0
            && !attempt.is_data()
        {
            match self.client_syn_target(call) {
                Some(node) => j = self.net.idx(node),
                None => {
                    // Nobody holds the address: the SYN goes nowhere.
                    self.net
                        .retransmit(cx, i, j, msg, attempt, SimDuration::ZERO);
                    return;
                }
            }
        }
        self.net.transmit(cx, i, j, msg, attempt);
    }
}

/// What a receiver did with a message that reached it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Taken in (or deliberately ignored).
    Taken,
    /// Dropped on arrival by the receiving kernel (a full listen backlog): TCP retransmits it.
    Dropped,
}

impl Model for World {
    type Event = Ev;

    /// Inlined into the engine's run loop (its one caller in a run). Called instead — an
    /// indirect call through the GOT from the engine crate's generic code, with the event
    /// passed through a stack copy — it cost 10 % of the topology bench's wall time for
    /// about the same instruction count.
    #[inline]
    fn handle(&mut self, ev: Ev, cx: &mut Context<'_, Ev>) {
        match ev {
            Ev::Arrival => self.on_arrival(cx),
            Ev::UserSend { user } => self.on_user_send(cx, user),
            Ev::ClientTimeouts => self.on_client_timeouts(cx),
            Ev::ClientRetry { req } => self.on_client_retry(cx, req),
            Ev::Deliver {
                from,
                to,
                attempt,
                msg,
            } => self.deliver(cx, from.into(), to.into(), attempt, msg),
            Ev::Resend {
                from,
                to,
                attempt,
                msg,
            } => self.resend(cx, from.into(), to.into(), attempt, msg),
            Ev::WebTimeouts { web } => self.web_timeouts(cx, web),
            Ev::LbTimeouts { lb } => self.lb_timeouts(cx, lb),
            Ev::AppTimeouts { app } => self.app_timeouts(cx, app),
            Ev::LbAcceptBacklog { lb } => self.lb_accept_backlog(cx, lb),
            Ev::LbCpuDone { lb, call } => self.lb_cpu_done(cx, lb, call),
            Ev::LbConnCpuDone { lb, call, epoch } => self.lb_conn_cpu_done(cx, lb, call, epoch),
            Ev::LbTlsDone { lb, call, epoch } => self.lb_tls_done(cx, lb, call, epoch),
            Ev::ConnOpen { call } => self.conn_open(cx, call),
            Ev::ConnIdle => self.conn_idle_expired(cx),
            Ev::LbQueueTimeout { lb, call } => self.lb_queue_timeout(cx, lb, call),
            Ev::LbRetry {
                lb,
                parent,
                slot,
                attempt,
            } => self.lb_retry(cx, lb, parent, slot, attempt),
            Ev::LbWarmup { lb, slot } => self.lb_warmup(cx, lb, slot),
            Ev::CheckStart { lb, slot } => self.check_start(cx, lb, slot),
            Ev::CheckTimeout { lb, slot, seq } => self.check_result(cx, lb, slot, seq, false),
            Ev::WorkDone { node, job } => match node {
                Node::Web(i) => self.web_work_done(cx, i, job),
                Node::App(i) => self.app_work_done(cx, i, job),
                Node::Db(i) => self.db_work_done(cx, i, job),
                Node::Lb(_) | Node::Clients | Node::Manager(_) => unreachable!("no jobs there"),
            },
            Ev::ApplyDone { db, applier, pos } => self.apply_done(cx, db, applier, pos),
            Ev::BinlogArrive {
                db,
                conn,
                upto,
                sent,
            } => self.binlog_arrive(cx, db, conn, upto, sent),
            Ev::BinlogResend { db, conn, attempt } => self.binlog_resend(cx, db, conn, attempt),
            Ev::ReceiverTimeout { db, conn } => self.receiver_timeout(cx, db, conn),
            Ev::ReceiverRetry { db, conn } => self.receiver_retry(cx, db, conn),
            Ev::SourceClosed { db, conn } => self.source_closed(cx, db, conn),
            Ev::PromoteDeadline { cluster, epoch } => self.promote_deadline(cx, cluster, epoch),
            Ev::DbRebuilt { db, epoch } => self.db_rebuilt(cx, db, epoch),
            Ev::SemiSyncTimeout { cluster, pos } => self.semi_sync_timeout(cx, cluster, pos),
            Ev::LagCheck { cluster } => self.lag_check(cx, cluster),
            Ev::FailoverCheck { cluster } => self.failover_check(cx, cluster),
            Ev::Promote { cluster, epoch } => self.promote(cx, cluster, epoch),
            Ev::VrrpAdvert {
                pair,
                member,
                epoch,
            } => self.vrrp_advert(cx, pair, member, epoch),
            Ev::DnsCheck { pair, region } => self.dns_check(cx, pair, region),
            Ev::VrrpMasterDown {
                pair,
                member,
                epoch,
            } => self.vrrp_master_down(cx, pair, member, epoch),
            Ev::VrrpScript {
                pair,
                member,
                epoch,
            } => self.vrrp_script(cx, pair, member, epoch),
            Ev::VrrpArp { pair, epoch } => self.vrrp_arp_resolved(cx, pair, epoch),
            Ev::Fault { idx, start } => self.on_fault(cx, idx, start),
            Ev::Attack { idx } => self.on_attack(cx, idx),
            Ev::Ops(e) => self.on_ops(cx, e),
            Ev::WindowTick => self.on_window_tick(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue moves events by value several times each: keep them small.
    #[test]
    fn events_stay_small() {
        assert!(
            std::mem::size_of::<Ev>() <= 32,
            "{}",
            std::mem::size_of::<Ev>()
        );
    }
}
