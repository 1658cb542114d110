//! The shared vocabulary of the model: which component ([`Node`]), the events the run loop
//! dispatches ([`Ev`]), the messages components exchange ([`Msg`]) and what faults did to a
//! component ([`NodeState`]). It names no component's state, so every component can speak it
//! without depending on any other.

use infrasim_engine::SimTime;

use crate::model::call::{Outcome, Ref};
use crate::scenario::CrashMode;

/// Which component: the scenario's component identity, as validation resolved names to it.
pub(crate) use crate::scenario::Node;

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
    /// indices (`Network::node` names them): two `u16`s instead of two 8-byte [`Node`]s
    /// keep the event, which the queue moves several times, at 32 bytes with its own tag
    /// byte (validation bounds the components to 4096). `attempt` is the TCP transmission
    /// that arrived ([`crate::model::tcp::Attempt`]), so that a receiver that drops it (a
    /// full accept queue, a host that died meanwhile) lets the sender retransmit on time.
    Deliver {
        from: u16,
        to: u16,
        attempt: u8,
        msg: Msg,
    },
    /// A TCP sender's retransmission timer fired for a segment that was lost: it sends
    /// `msg` again as transmission `attempt` (see [`crate::model::tcp`]).
    Resend {
        from: u16,
        to: u16,
        attempt: u8,
        msg: Msg,
    },
    /// The wake-up of a load balancer's connection deadlines.
    LbTimeouts { lb: u32 },
    /// The wake-up of a web server's upstream timeout queue.
    WebTimeouts { web: u32 },
    /// The wake-up of an app server's database timeout queue.
    AppTimeouts { app: u32 },
    /// A load balancer's frontend has room again: accept connections from its backlog.
    LbAcceptBacklog { lb: u32 },
    /// A load balancer core finished the per-request work for `call`.
    LbCpuDone { lb: u32, call: Ref },
    /// A load balancer core finished a new connection's work (accept, TLS handshake) for
    /// `call` (`epoch`: the LB's connection epoch then).
    LbConnCpuDone { lb: u32, call: Ref, epoch: u32 },
    /// A TLS handshake's remaining round trips are over: the request reaches the LB.
    LbTlsDone { lb: u32, call: Ref, epoch: u32 },
    /// A client's TCP handshake completed: the call's first segment leaves.
    ConnOpen { call: Ref },
    /// The wake-up of the clients' idle connections' closing times.
    ConnIdle,
    /// A queued request waited `timeout queue`.
    LbQueueTimeout { lb: u32, call: Ref },
    /// A load balancer retries a connection after its turn-around delay.
    LbRetry {
        lb: u32,
        parent: Ref,
        slot: u32,
        attempt: u32,
    },
    /// A load balancer recomputes the weight of a server warming up after `slowstart`.
    LbWarmup { lb: u32, slot: u32 },
    /// Time for a load balancer's next health check of a server.
    CheckStart { lb: u32, slot: u32 },
    /// A health check got no answer in time.
    CheckTimeout { lb: u32, slot: u32, seq: u32 },
    /// A server finished the CPU part of a job.
    WorkDone { node: Node, job: Ref },
    /// A replica's applier worker finished applying the event at binlog position `pos`.
    ApplyDone { db: u32, applier: u32, pos: u64 },
    /// Binlog events up to position `upto` reach a replica's relay log on connection `conn`;
    /// they left the source at `sent` (lost if the source died before).
    BinlogArrive {
        db: u32,
        conn: u32,
        upto: u64,
        sent: SimTime,
    },
    /// A lost binlog segment's retransmission timer fired (`attempt`: a [`crate::model::tcp::Attempt`]).
    BinlogResend { db: u32, conn: u32, attempt: u8 },
    /// A replica's receiver checks whether it heard from its source within `replica_net_timeout`.
    ReceiverTimeout { db: u32, conn: u32 },
    /// A replica's receiver tries to reconnect (`SOURCE_CONNECT_RETRY`).
    ReceiverRetry { db: u32, conn: u32 },
    /// The source closed a replica's connection (its process died: the kernel's FIN).
    SourceClosed { db: u32, conn: u32 },
    /// A semi-synchronous commit (at binlog position `pos`) waited `rpl_semi_sync_source_timeout`.
    SemiSyncTimeout { cluster: u32, pos: u64 },
    /// ProxySQL-like lag sampling.
    LagCheck { cluster: u32 },
    /// Failover manager's periodic primary check.
    FailoverCheck { cluster: u32 },
    /// The failover manager (or operator) promotes a replica.
    Promote { cluster: u32, epoch: u32 },
    /// orchestrator's wait for the candidate to apply its relay log ran out.
    PromoteDeadline { cluster: u32, epoch: u32 },
    /// A replaced primary has been rebuilt as a replica.
    DbRebuilt { db: u32, epoch: u32 },
    /// One checker region of the DNS service health-checks an active-active pair's addresses.
    DnsCheck { pair: u32, region: u32 },
    /// A keepalived master sends its advertisement (`epoch`: its advert chain's generation).
    VrrpAdvert { pair: u32, member: u32, epoch: u32 },
    /// A keepalived backup's master-down timer expired.
    VrrpMasterDown { pair: u32, member: u32, epoch: u32 },
    /// A keepalived node runs its tracked script (`epoch`: keepalived's incarnation there).
    VrrpScript { pair: u32, member: u32, epoch: u32 },
    /// The gateway re-resolves a keepalived pair's VIP (its ARP entry went stale).
    VrrpArp { pair: u32, epoch: u32 },
    /// A fault starts or ends.
    Fault { idx: u32, start: bool },
    /// Attack `idx` sends its next SYN or connection (`model::attack`).
    Attack { idx: u32 },
    /// The monitoring and the people it pages (`model::monitoring`).
    Ops(OpsEv),
    /// The end of a measurement window.
    WindowTick,
}

/// What the monitoring and the on-call person do, at their own times.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OpsEv {
    /// Prometheus scrapes target `target`.
    Scrape { target: u32 },
    /// A blackholed target's scrape timed out.
    ScrapeTimedOut { target: u32 },
    /// Prometheus evaluates its rules.
    Evaluate,
    /// Alertmanager flushes alert group `group` (notifies what is new in it).
    Flush { group: u32 },
    /// Nagios checks target `target`.
    Check { target: u32 },
    /// A Nagios check of an unreachable host timed out.
    CheckTimedOut { target: u32 },
    /// The users' minute: were enough of its requests bad?
    UsersTick,
    /// Users' complaint (the `alert`-th alert) reaches the on-call person.
    UsersReport { alert: u32 },
    /// The on-call person acknowledges the page about fault occurrence `occ`.
    Ack { occ: u32 },
    /// The monitoring system crashes (`up` false) or comes back (`up` true).
    MonitorCrash { up: bool },
    /// The dead man's switch checks whether heartbeats stopped (crash `epoch`).
    DeadMansSwitch { epoch: u32 },
    /// The on-call person acknowledges the dead man's switch page (crash `epoch`).
    MonitorAck { epoch: u32 },
}

/// Messages between components.
///
/// `repr(u8)` as [`Ev`], so that receivers dispatch on a plain tag byte; fields are in
/// declaration order then.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum Msg {
    /// A connection carrying a request.
    Call(Ref),
    /// The response to a call.
    Reply { call: Ref, outcome: Outcome },
    /// A TCP reset: connection refused, or broken mid-request.
    Reset(Ref),
    /// A TCP health check's connection attempt (its SYN): it passes once the server's
    /// kernel accepts the connection. (An HTTP check is a [`Msg::Call`] a worker serves.)
    Probe { lb: u32, slot: u32, seq: u32 },
    /// A TCP health check's answer: the SYN-ACK (`ok`) or a RST.
    ProbeReply {
        lb: u32,
        slot: u32,
        seq: u32,
        ok: bool,
    },
    /// A semi-sync acknowledgement from a replica: its relay log holds the binlog up to `pos`.
    ReplAck { pos: u64 },
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
    pub down: Option<CrashMode>,
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
