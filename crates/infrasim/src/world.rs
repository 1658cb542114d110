//! The built model: every component's state, the events they exchange, and the dispatch.
//!
//! Components never call each other. They exchange [`Msg`]s through the [`network`]
//! (crate::network), which adds latency and decides whether a message arrives at all (a
//! crashed host, a partition, a lossy link), and they set timers on themselves. Each real
//! thing's state and reactions live in its own module (`client`, `load_balancer`, `server`,
//! `database`, `keepalived`, `fault`); this module only routes events to them.

use infrasim_engine::{Context, Model, SimTime};

use crate::call::{Call, Outcome, Ref, Request, Slab};
use crate::client::Clients;
use crate::database::{Cluster, DbNode};
use crate::fault::FaultState;
use crate::keepalived::Pair;
use crate::load_balancer::LoadBalancer;
use crate::metrics::Metrics;
use crate::network::Network;
use crate::observer::Observer;
use crate::server::{AppServer, WebServer};

/// A component, by kind and index. `Clients` stands for the whole client population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// The clients (one network location: "the internet").
    Clients,
    /// Load balancer `i`.
    Lb(u32),
    /// Web server `i`.
    Web(u32),
    /// App server `i`.
    App(u32),
    /// Database node `i` (all clusters' nodes, numbered together).
    Db(u32),
}

/// The events of the model.
///
/// `repr(u8)`: the variant is a plain tag byte, so dispatching on it is one table jump.
/// Laid out by the compiler, the tag hid in a niche of [`Msg`]'s own tag and every dispatch
/// first decoded it (a subtraction and a conditional move: 1.1 % of the topology bench's
/// instructions). The size stays 32 bytes because `Deliver`'s ends are 16-bit.
#[derive(Debug)]
#[repr(u8)]
pub(crate) enum Ev {
    /// The next open-loop arrival.
    Arrival,
    /// A closed-loop user sends its next request.
    UserSend { user: u32 },
    /// The client timeout queue's wake-up.
    ClientTimeouts,
    /// A client retries a failed request after its backoff.
    ClientRetry { req: Ref },
    /// A message arrives (the network already applied latency). The ends are dense network
    /// indices ([`Network::node`] names them): two `u16`s instead of two 8-byte [`Node`]s
    /// keep the event, which the queue moves several times, at 32 bytes with its own tag
    /// byte (validation bounds the components to 4096).
    Deliver { from: u16, to: u16, msg: Msg },
    /// The wake-up of a load balancer's connection deadlines.
    LbTimeouts { lb: u32 },
    /// The wake-up of a web server's upstream timeout queue.
    WebTimeouts { web: u32 },
    /// The wake-up of an app server's database timeout queue.
    AppTimeouts { app: u32 },
    /// A load balancer core finished the per-request work for `call`.
    LbCpuDone { lb: u32, call: Ref },
    /// A queued request waited `timeout queue`.
    LbQueueTimeout { lb: u32, call: Ref },
    /// A load balancer retries a connection after its turn-around delay.
    LbRetry {
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
    },
    /// Time for a load balancer's next health check of a server.
    CheckStart { lb: u32, slot: u32 },
    /// A health check got no answer in time.
    CheckTimeout { lb: u32, slot: u32, seq: u32 },
    /// A server finished the CPU part of a job.
    WorkDone { node: Node, job: Ref },
    /// A replica's applier finished applying a write.
    ApplyDone { db: u32, applier: u32 },
    /// A semi-synchronous commit waited `rpl_semi_sync_source_timeout`.
    SemiSyncTimeout { cluster: u32, seq: u64 },
    /// ProxySQL-like lag sampling.
    LagCheck { cluster: u32 },
    /// Failover manager's periodic primary check.
    FailoverCheck { cluster: u32 },
    /// The failover manager (or operator) promotes a replica.
    Promote { cluster: u32, epoch: u32 },
    /// The DNS service health-checks an active-active pair's addresses.
    DnsCheck { pair: u32 },
    /// A keepalived node sends its advertisement.
    VrrpAdvert { pair: u32, member: u32 },
    /// A keepalived backup's master-down timer expired.
    VrrpMasterDown { pair: u32, member: u32, epoch: u32 },
    /// A fault starts or ends.
    Fault { idx: u32, start: bool },
    /// The end of a measurement window.
    WindowTick,
}

/// Messages between components.
///
/// `repr(u8)` as [`Ev`], so that receivers dispatch on a plain tag byte; fields are in
/// declaration order then, which is why `Replicate` lists its `u32` first (24 bytes, not 32).
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum Msg {
    /// A connection carrying a request.
    Call(Ref),
    /// The response to a call.
    Reply { call: Ref, outcome: Outcome },
    /// A TCP reset: connection refused, or broken mid-request.
    Reset(Ref),
    /// A health-check probe.
    Probe { lb: u32, slot: u32, seq: u32 },
    /// A health-check answer.
    ProbeReply {
        lb: u32,
        slot: u32,
        seq: u32,
        ok: bool,
    },
    /// A binlog event reaching a replica's relay log.
    Replicate {
        key: u32,
        seq: u64,
        committed_at: SimTime,
    },
    /// A semi-sync acknowledgement from a replica.
    ReplAck { seq: u64 },
    /// A VRRP advertisement.
    Advert {
        pair: u32,
        member: u32,
        priority: u32,
    },
}

/// Per-component liveness: what faults did to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NodeState {
    /// Down, and how.
    pub down: Option<crate::scenario::CrashMode>,
    /// Service-time multiplier (gray failure).
    pub slowdown: f64,
    /// Probability of answering an error (gray failure).
    pub error_rate: f64,
    /// Drained for maintenance: load balancers send it nothing new.
    pub drained: bool,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            down: None,
            slowdown: 1.0,
            error_rate: 0.0,
            drained: false,
        }
    }
}

/// The whole simulated infrastructure.
pub(crate) struct World {
    pub requests: Slab<Request>,
    pub calls: Slab<Call>,
    pub clients: Clients,
    pub lbs: Vec<LoadBalancer>,
    /// Each load balancer's random stream (`random` balancing draws).
    pub lb_rngs: Vec<infrasim_engine::SimRng>,
    pub pairs: Vec<Pair>,
    pub webs: Vec<WebServer>,
    pub apps: Vec<AppServer>,
    pub dbs: Vec<DbNode>,
    pub clusters: Vec<Cluster>,
    pub net: Network,
    pub faults: Vec<FaultState>,
    /// Every fault occurrence so far.
    pub occurrences: Vec<crate::fault::Occurrence>,
    pub metrics: Metrics,
    pub observer: Option<Box<dyn Observer + Send>>,
    /// Names of components, by node (for reports and observers).
    pub names: crate::names::Names,
    /// Which server job owns each outstanding sub-call, by the call's slab index.
    pub sub_owner: Vec<Option<(Ref, Ref)>>,
    pub warmup_end: SimTime,
    pub end: SimTime,
    /// Index of the window the next tick closes.
    pub next_window: usize,
}

impl World {
    /// Liveness of a node.
    #[inline]
    pub fn state(&self, node: Node) -> &NodeState {
        self.net.state(node)
    }

    /// Sends a message; the network decides when (and whether) it arrives.
    #[inline]
    pub fn send(&mut self, cx: &mut Context<'_, Ev>, from: Node, to: Node, msg: Msg) {
        self.net.send(cx, from, to, msg);
    }

    /// Replies to a call: the callee sends the outcome back to the caller.
    pub fn reply(&mut self, cx: &mut Context<'_, Ev>, call: Ref, outcome: Outcome) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (from, to) = (c.callee, c.caller);
        self.send(cx, from, to, Msg::Reply { call, outcome });
    }

    /// Resets a call's connection (RST from the callee's host).
    pub fn reset(&mut self, cx: &mut Context<'_, Ev>, call: Ref) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let (from, to) = (c.callee, c.caller);
        self.send(cx, from, to, Msg::Reset(call));
    }

    fn deliver(&mut self, cx: &mut Context<'_, Ev>, from: u32, to: u32, msg: Msg) {
        let down = self.net.down_at(to);
        let (from, to) = (self.net.node(from), self.net.node(to));
        match down {
            Some(crate::scenario::CrashMode::Host) => return,
            Some(crate::scenario::CrashMode::Process) if !matches!(msg, Msg::Advert { .. }) => {
                // The host's kernel answers: new connections are refused with a RST; a probe
                // fails at once; everything else finds no one listening.
                match msg {
                    Msg::Call(c) => self.reset(cx, c),
                    Msg::Probe { lb, slot, seq } => self.send(
                        cx,
                        to,
                        from,
                        Msg::ProbeReply {
                            lb,
                            slot,
                            seq,
                            ok: false,
                        },
                    ),
                    _ => {}
                }
                return;
            }
            _ => {}
        }
        match to {
            Node::Clients => self.client_receive(cx, msg),
            Node::Lb(i) => self.lb_receive(cx, i, from, msg),
            Node::Web(i) => self.web_receive(cx, i, msg),
            Node::App(i) => self.app_receive(cx, i, msg),
            Node::Db(i) => self.db_receive(cx, i, from, msg),
        }
    }
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
            Ev::Deliver { from, to, msg } => self.deliver(cx, from.into(), to.into(), msg),
            Ev::WebTimeouts { web } => self.web_timeouts(cx, web),
            Ev::LbTimeouts { lb } => self.lb_timeouts(cx, lb),
            Ev::AppTimeouts { app } => self.app_timeouts(cx, app),
            Ev::LbCpuDone { lb, call } => self.lb_cpu_done(cx, lb, call),
            Ev::LbQueueTimeout { lb, call } => self.lb_queue_timeout(cx, lb, call),
            Ev::LbRetry {
                lb,
                parent,
                slot,
                attempt,
            } => self.lb_retry(cx, lb, parent, slot, attempt),
            Ev::CheckStart { lb, slot } => self.check_start(cx, lb, slot),
            Ev::CheckTimeout { lb, slot, seq } => self.check_result(cx, lb, slot, seq, false),
            Ev::WorkDone { node, job } => match node {
                Node::Web(i) => self.web_work_done(cx, i, job),
                Node::App(i) => self.app_work_done(cx, i, job),
                Node::Db(i) => self.db_work_done(cx, i, job),
                Node::Lb(_) | Node::Clients => unreachable!("no jobs there"),
            },
            Ev::ApplyDone { db, applier } => self.apply_done(cx, db, applier),
            Ev::SemiSyncTimeout { cluster, seq } => self.semi_sync_timeout(cx, cluster, seq),
            Ev::LagCheck { cluster } => self.lag_check(cx, cluster),
            Ev::FailoverCheck { cluster } => self.failover_check(cx, cluster),
            Ev::Promote { cluster, epoch } => self.promote(cx, cluster, epoch),
            Ev::VrrpAdvert { pair, member } => self.vrrp_advert(cx, pair, member),
            Ev::DnsCheck { pair } => self.dns_check(cx, pair),
            Ev::VrrpMasterDown {
                pair,
                member,
                epoch,
            } => self.vrrp_master_down(cx, pair, member, epoch),
            Ev::Fault { idx, start } => self.on_fault(cx, idx, start),
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
