//! The load balancer, with HAProxy's semantics. Its request path (accept, CPU, assign a
//! server, connect, answer) is in `request_path`, its queues in `queue`, its retries in
//! `retry`, its health checking (active checks and passive observation) in `health`, its
//! `balance` algorithms in `balance`; this module holds its state, builds it from the
//! scenario, routes its messages, and handles its crash and restart and an operator's
//! weight changes and drains.

mod balance;
mod health;
mod queue;
mod request_path;
mod retry;
mod slowstart;
mod stick_table;
pub(crate) mod tls;

use std::collections::{BTreeSet, VecDeque};

use infrasim_engine::stats::TimeWeighted;
use infrasim_engine::{Context, EventId, RngStreams, SimDuration, SimRng, SimTime, TimeoutQueue};

use crate::model::call::Ref;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::{Received, World};
use crate::scenario::{
    self, Balance, CrashMode, HealthCheck, InitState, LbTimeouts, Observe, OnMarkedDown,
};
use balance::{Algorithm, Balancer, ServerView};
use retry::RetryPolicy;

/// Linux `net.core.somaxconn` default since 5.4 (ip-sysctl): the largest listen backlog.
const SOMAXCONN: u32 = 4096;

/// Marks an unpinned queue entry (any server will do).
const ANY_SERVER: u32 = u32::MAX;

/// Flag on the `slot` of an [`Ev::LbRetry`]: the retry is redispatched (a server is chosen
/// when it fires, avoiding `slot`) rather than sent to `slot` again.
const REDISPATCH: u32 = 1 << 31;

/// One server of the backend, as the LB knows it.
#[derive(Clone, Debug)]
pub(crate) struct Backend {
    pub node: Node,
    pub weight: u32,
    pub maxconn: u32,
    pub maxqueue: u32,
    pub backup: bool,
    /// `init-state`: the health and state the server starts with.
    pub init_state: InitState,
    /// `slowstart` in whole seconds, rounded up as HAProxy stores it (src/server.c
    /// `srv_parse_slowstart()`: `(val + 999) / 1000`); 0 = off.
    pub slowstart_s: u64,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_sessions: bool,
}

/// HAProxy's health state of one server.
#[derive(Clone, Debug)]
pub(crate) struct Health {
    /// HAProxy's `health` counter, in `0 ..= rise + fall − 1`; UP iff ≥ rise.
    pub health: u32,
    /// What the LB believes.
    pub up: bool,
    /// Sequence number of the check in progress (to ignore late answers).
    pub seq: u32,
    /// Timer of the check in progress (its timeout) or of the next check.
    pub timer: Option<EventId>,
    /// Whether a check is in progress.
    pub checking: bool,
    /// When the next check is due, while none is in progress (HAProxy: the check task's
    /// expiry, which a forced `fastinter` may only bring forward).
    pub next_at: SimTime,
    /// Consecutive errors observed on real traffic (HAProxy `consecutive_errors`).
    pub errors: u32,
    /// `on-error` forced `fastinter` (HAProxy `CHK_ST_FASTINTER`), until the next check's
    /// timer is set.
    pub fastinter: bool,
    /// HAProxy's `last_change`: the whole second of the server's last state change.
    pub last_change_s: u64,
    /// The next tick of the server's `slowstart` warm-up task, while it is `STARTING`.
    pub warmup: Option<EventId>,
    /// The connection of the HTTP check in progress (a call a server worker serves).
    pub call: Option<Ref>,
}

/// The load balancer's configuration, resolved.
#[derive(Clone, Debug)]
pub(crate) struct LbConfig {
    pub check: HealthCheck,
    pub observe: Option<Observe>,
    pub timeouts: LbTimeouts,
    pub retries: u32,
    pub redispatch: bool,
    /// `retry-on`: which failures are retried.
    pub retry_on: RetryPolicy,
    pub maxconn: u32,
    pub cores: u32,
    pub cost: SimDuration,
    /// CPU per client connection (with `clients.connections`).
    pub per_connection: SimDuration,
    pub hashing: bool,
}

/// A load balancer's state.
pub(crate) struct LoadBalancer {
    pub cfg: LbConfig,
    pub servers: Vec<Backend>,
    pub balancer: Balancer,
    /// What the balancer sees of each server, and the LB's count of the requests holding a
    /// slot on it (`served`) and queued on it (`queued`).
    pub views: Vec<ServerView>,
    pub health: Vec<Health>,
    /// Requests waiting for a server slot, with their `timeout queue` events: the backend
    /// queue and every server's queue in one FIFO (the server a request is queued on, or
    /// [`ANY_SERVER`] for the backend queue, is the call's `slot`; the call's `attempt`
    /// holds its retry count).
    pub queue: VecDeque<(Ref, EventId)>,
    /// Requests in their retry turn-around (src/backend.c `back_handle_st_cer()`, state
    /// `SC_ST_TAR`): an `Ev::LbRetry` is due for each; a crash forgets them.
    pub turnaround: BTreeSet<Ref>,
    pub cpu_busy: u32,
    /// Work waiting for a core: the call, the kind of work and its CPU time.
    pub cpu_queue: VecDeque<(Ref, tls::CpuJob, SimDuration)>,
    /// Client connections held (frontend `maxconn`).
    pub frontend: u32,
    /// Client connections the kernel completed while the frontend was at `maxconn`, waiting
    /// in the listening socket's backlog to be accepted.
    pub backlog: VecDeque<Ref>,
    /// Whether an [`Ev::LbAcceptBacklog`] is scheduled.
    pub accept_pending: bool,
    /// Busy cores over time.
    pub busy: TimeWeighted,
    /// Backend queue length over time.
    pub queued: TimeWeighted,
    /// Requests answered.
    pub served: u64,
    /// Client SYNs dropped because the frontend was at `maxconn` and its backlog full.
    pub rejected: u64,
    /// Deadlines of the connections to servers.
    /// Deadlines of the connections to servers, each with its connection's `timeout
    /// connect` deadline.
    pub timeouts: TimeoutQueue<(Ref, SimTime)>,
    /// The random stream of `random` balancing draws.
    pub rng: SimRng,
    /// Rate limiting per source (`stick_table`), if configured.
    pub stick: Option<stick_table::StickTable>,
    /// Client connections: epochs, idle ones, CPU by kind, handshakes.
    pub conn: tls::LbConn,
    /// TLS termination, if configured.
    pub tls: Option<tls::LbTls>,
}

impl LoadBalancer {
    /// A load balancer as the scenario describes it, its backend's servers resolved, each
    /// server in its `init-state`.
    pub(crate) fn new(
        spec: &scenario::LoadBalancer,
        servers: &[Node],
        streams: &RngStreams,
    ) -> Self {
        let servers: Vec<Backend> = spec
            .servers
            .iter()
            .zip(servers)
            .map(|(b, &node)| Backend {
                node,
                weight: b.weight,
                maxconn: b.maxconn,
                maxqueue: b.maxqueue,
                backup: b.backup,
                init_state: b.init_state,
                slowstart_s: b.slowstart.as_nanos().div_ceil(1_000_000).div_ceil(1000),
                shutdown_sessions: b.on_marked_down == OnMarkedDown::ShutdownSessions,
            })
            .collect();
        let cfg = LbConfig {
            check: spec.check.clone(),
            observe: spec.observe.clone(),
            timeouts: spec.timeouts.clone(),
            retries: spec.retries,
            redispatch: spec.redispatch,
            retry_on: RetryPolicy::of(&spec.retry_on),
            maxconn: spec.maxconn,
            cores: spec.cpu.cores,
            cost: spec.cpu.per_request,
            per_connection: spec.cpu.per_connection,
            hashing: spec.balance == Balance::Source,
        };
        let n = servers.len();
        let views = servers
            .iter()
            .map(|s| ServerView {
                weight: s.weight,
                usable: true,
                backup: s.backup,
                served: 0,
                queued: 0,
                maxconn: s.maxconn,
                maxqueue: s.maxqueue,
                warmup: 0,
            })
            .collect();
        let health = Health {
            health: 0,
            up: true,
            seq: 0,
            timer: None,
            checking: false,
            next_at: SimTime::ZERO,
            errors: 0,
            fastinter: false,
            last_change_s: 0,
            warmup: None,
            call: None,
        };
        let mut lb = LoadBalancer {
            cfg,
            balancer: Balancer::new(Algorithm::of(spec), spec.allbackups, n),
            views,
            health: vec![health; n],
            queue: VecDeque::new(),
            turnaround: BTreeSet::new(),
            cpu_busy: 0,
            cpu_queue: VecDeque::new(),
            frontend: 0,
            backlog: VecDeque::new(),
            accept_pending: false,
            busy: TimeWeighted::new(SimTime::ZERO, 0),
            queued: TimeWeighted::new(SimTime::ZERO, 0),
            served: 0,
            rejected: 0,
            timeouts: TimeoutQueue::new(),
            rng: streams.stream(&format!("lb/{}", spec.name)),
            servers,
            stick: spec.rate_limit.as_ref().map(stick_table::StickTable::new),
            conn: tls::LbConn::default(),
            tls: None,
        };
        lb.init_health();
        lb
    }

    /// Every server's health and state at start-up, per its `init-state` (HAProxy:
    /// health `rise` by default, src/server.c "up, but will fall down at first failure";
    /// include/haproxy/server.h `srv_set_init_state()`). Without health checks every server
    /// is UP (validation allows no `init-state` that starts DOWN then).
    fn init_health(&mut self) {
        let (rise, fall) = (self.cfg.check.rise, self.cfg.check.fall);
        for ((h, v), s) in self
            .health
            .iter_mut()
            .zip(&mut self.views)
            .zip(&self.servers)
        {
            (h.health, h.up) = if self.cfg.check.enabled {
                s.init_state.health(rise, fall)
            } else {
                (rise + fall - 1, true)
            };
            h.errors = 0;
            h.fastinter = false;
            v.usable = h.up;
        }
        self.balancer.refresh(&self.views);
    }

    /// Restart the statistics at the end of the warm-up.
    pub(crate) fn reset_stats(&mut self, now: SimTime) {
        self.busy.reset(now);
        self.queued.reset(now);
        self.served = 0;
        self.rejected = 0;
    }

    fn queue_timeout(&self) -> SimDuration {
        self.cfg.timeouts.queue.unwrap_or(self.cfg.timeouts.connect)
    }

    /// The listening socket's backlog: HAProxy's `backlog` defaults to the frontend's
    /// `maxconn` (configuration manual, `backlog`), and Linux caps a listen backlog at
    /// `net.core.somaxconn` (4096 since Linux 5.4).
    fn backlog_limit(&self) -> usize {
        self.cfg.maxconn.min(SOMAXCONN) as usize
    }

    /// Whether server `slot` has no free connection slot (`served` ≥ its current
    /// `maxconn`; never with `maxconn` 0).
    fn slot_full(&self, slot: usize) -> bool {
        let v = &self.views[slot];
        v.maxconn > 0 && v.served >= v.maxconn
    }

    /// Requests in the backend queue (not queued on a server).
    fn backend_queued(&self) -> usize {
        let pinned: u32 = self.views.iter().map(|v| v.queued).sum();
        self.queue.len() - pinned as usize
    }

    /// Active (non-backup) servers taking traffic: HAProxy's `srv_act`.
    fn active_servers(&self) -> usize {
        self.views
            .iter()
            .filter(|v| v.usable && !v.backup && v.weight > 0)
            .count()
    }
}

impl World {
    /// Starts the health checks of every load balancer, staggered over the first `inter`
    /// as HAProxy spreads the first checks of a backend's servers.
    pub(crate) fn start_load_balancers(&mut self, cx: &mut Context<'_, Ev>) {
        for lb in 0..self.lbs.len() {
            self.start_checks(cx, lb as u32);
        }
    }

    /// The load balancer crashes: every connection it holds is dropped — its clients get a
    /// RST if the host is still up (process crash) — its queues are lost and its checks
    /// stop.
    pub(crate) fn lb_crash(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let me = Node::Lb(lb);
        let process = self.state(me).down == Some(CrashMode::Process);
        // Connections it accepted (or its kernel completed, in the backlog) and connections
        // it opened; a client SYN still being retransmitted towards it is held by nobody.
        let held: Vec<(Ref, bool)> = self
            .calls
            .iter()
            .filter(|(_, c)| (c.callee == me && c.connected().is_some()) || c.caller == me)
            .map(|(r, c)| (r, c.callee == me))
            .collect();
        for (r, incoming) in held {
            if incoming {
                // The stream is gone with the process: not queued any more.
                if let Some(c) = self.calls.get_mut(r) {
                    c.queued = false;
                }
                if process {
                    self.reset(cx, r);
                }
            } else {
                self.calls.remove(r);
            }
        }
        for slot in 0..self.lbs[lb as usize].servers.len() {
            self.lb_stop_warmup(cx, lb, slot);
        }
        let l = &mut self.lbs[lb as usize];
        for h in &mut l.health {
            if let Some(t) = h.timer.take() {
                cx.cancel(t);
            }
            h.checking = false;
            h.call = None;
        }
        l.queue.clear();
        l.turnaround.clear();
        l.backlog.clear();
        l.cpu_queue.clear();
        l.cpu_busy = 0;
        l.frontend = 0;
        for v in &mut l.views {
            v.served = 0;
            v.queued = 0;
        }
        self.lb_conn_lost(lb, true);
    }

    /// The load balancer restarts: every server in its `init-state` (by default UP at health
    /// `rise`, so one failed check marks a dead server DOWN), as HAProxy starts, and the
    /// checks resume, staggered.
    pub(crate) fn lb_restart(&mut self, cx: &mut Context<'_, Ev>, lb: u32) {
        let l = &mut self.lbs[lb as usize];
        l.init_health();
        for (s, v) in l.views.iter_mut().enumerate() {
            v.usable = l.health[s].up && !self.net.state(l.servers[s].node).drained;
        }
        l.balancer.refresh(&l.views);
        self.start_checks(cx, lb);
        for slot in 0..self.lbs[lb as usize].servers.len() {
            let l = &self.lbs[lb as usize];
            let (node, up) = (l.servers[slot].node, l.health[slot].up);
            self.metrics.lb_belief(cx.now(), Node::Lb(lb), node, up);
        }
    }

    pub(crate) fn lb_receive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        lb: u32,
        from: Node,
        msg: Msg,
    ) -> Received {
        match msg {
            Msg::Call(call) => return self.lb_accept(cx, lb, call),
            Msg::Reply { call, outcome } => self.lb_child_reply(cx, lb, call, outcome),
            Msg::Reset(call) => self.lb_child_reset(cx, lb, call),
            Msg::ProbeReply {
                lb: l,
                slot,
                seq,
                ok,
            } if l == lb => {
                let h = &self.lbs[lb as usize].health[slot as usize];
                if h.checking && h.seq == seq {
                    self.check_result(cx, lb, slot, seq, ok);
                }
            }
            Msg::Advert {
                pair,
                member,
                priority,
            } => self.vrrp_receive(cx, pair, member, priority, from),
            _ => {}
        }
        Received::Taken
    }

    /// An operator changed a server's weight (on load balancer `weight.0`, to `weight.1`) or
    /// its drain state: every load balancer that has the server refreshes what it sees.
    pub(crate) fn server_admin_changed(
        &mut self,
        cx: &mut Context<'_, Ev>,
        node: Node,
        weight: Option<(u32, u32)>,
    ) {
        for lb in 0..self.lbs.len() {
            let l = &mut self.lbs[lb];
            let mut changed = false;
            for s in 0..l.servers.len() {
                if l.servers[s].node != node {
                    continue;
                }
                if let Some((target_lb, w)) = weight
                    && target_lb as usize == lb
                {
                    l.views[s].weight = w;
                    changed = true;
                }
                let usable = l.health[s].up && !self.net.state(node).drained;
                if l.views[s].usable != usable {
                    l.views[s].usable = usable;
                    changed = true;
                }
            }
            if changed {
                l.balancer.refresh(&l.views);
                for s in 0..self.lbs[lb].servers.len() {
                    self.lb_dequeue(cx, lb as u32, s);
                }
            }
        }
    }
}
