//! The network: latency between components, partitions, lossy links, and who is reachable.
//!
//! Every message between two components goes through [`Network::send`], which drops it if
//! the sender's or receiver's host is down, if the two are partitioned, or by the link's loss
//! probability, and otherwise delivers it after the link's one-way latency. Latencies are a
//! dense matrix over component indices: a lookup, not a search, on the hot path.

use infrasim_engine::rng::open01;
use std::collections::BTreeMap;

use infrasim_engine::{Context, RngStreams, SimDuration, SimRng};

use crate::model::firewall::{Dropped, Firewalls, Flow};
use crate::model::tcp::{Attempt, Transport};
use crate::model::vocabulary::{Ev, Msg, Node, NodeState};
use crate::scenario::{self, CrashMode, Names};

/// Links, their state, and the liveness of every component.
pub(crate) struct Network {
    n: usize,
    n_lb: u32,
    n_web: u32,
    n_app: u32,
    n_db: u32,
    latency: Vec<SimDuration>,
    extra: Vec<SimDuration>,
    /// `latency + extra` per link, kept in step with both: the one lookup a message needs.
    delay: Vec<SimDuration>,
    loss: Vec<f64>,
    partitions: Vec<u32>,
    states: Vec<NodeState>,
    /// The node at each dense index (the inverse of [`Network::idx`]): a message in flight
    /// names its ends by dense index, which keeps the event small and spares the receiving
    /// side an index computation.
    nodes: Vec<Node>,
    /// Each node's name, by dense index (the keys of the links' random streams).
    names: Vec<String>,
    streams: RngStreams,
    /// The loss draws of each directed link that has lost a message so far, keyed by the
    /// link's ends: a stream per link (`link/<from>><to>`), so that traffic on one link
    /// leaves the draws of every other unchanged.
    loss_rngs: BTreeMap<(usize, usize), SimRng>,
    /// Any loss configured at all (skips the draw on the hot path when not).
    lossy_links: u32,
    /// Nodes down in any mode.
    nodes_down: u32,
    /// Nodes slowed down or answering errors (gray failures).
    degraded: u32,
    /// Hosts crashed whole ([`CrashMode::Host`]): their messages are dropped.
    hosts_down: u32,
    /// Directed links with at least one partition on them.
    partitioned_links: u32,
    /// Anything at all that can drop a message: a dead host, a partition, a lossy link or
    /// a firewall. Kept in step with the three counts, so that a message on a healthy
    /// network (nearly every message of nearly every run) costs one test instead of three
    /// lookups.
    impaired: bool,
    /// The scenario's firewalls, if any (`model::firewall`).
    pub(crate) firewalls: Option<Box<Firewalls>>,
}

impl Network {
    /// The network of a scenario: its default latencies, then each `links` entry's own
    /// (`ends` are the entries' resolved endpoints, in order).
    pub(crate) fn of(
        spec: &scenario::Network,
        names: &Names,
        ends: &[(Node, Node)],
        streams: &RngStreams,
    ) -> Self {
        let counts = [
            names.lb.len() as u32,
            names.web.len() as u32,
            names.app.len() as u32,
            names.db_count(),
            names.manager.len() as u32,
        ];
        let node_names = std::iter::once("clients".to_string())
            .chain(names.lb.iter().cloned())
            .chain(names.web.iter().cloned())
            .chain(names.app.iter().cloned())
            .chain(names.db.iter().cloned())
            .chain(names.manager.iter().cloned())
            .collect();
        let mut net = Network::new(
            counts,
            spec.latency,
            spec.client_latency,
            *streams,
            node_names,
        );
        for (link, &(a, b)) in spec.links.iter().zip(ends) {
            net.set_latency(a, b, link.latency);
        }
        net
    }

    /// A network of `counts` = [load balancers, web servers, app servers, database nodes,
    /// failover managers] with one latency between components and another to the clients.
    fn new(
        counts: [u32; 5],
        default_latency: SimDuration,
        client_latency: SimDuration,
        streams: RngStreams,
        names: Vec<String>,
    ) -> Self {
        let [n_lb, n_web, n_app, n_db, n_mgr] = counts;
        let n = 1 + (n_lb + n_web + n_app + n_db + n_mgr) as usize;
        // Validation bounds the components (`MAX_COMPONENTS`), so that a message in flight
        // can name its ends by 16-bit index.
        assert!(n <= 1 << 16, "{n} network nodes exceed 16-bit indices");
        let mut latency = vec![default_latency; n * n];
        for i in 0..n {
            latency[i] = client_latency;
            latency[i * n] = client_latency;
            latency[i * n + i] = SimDuration::ZERO;
        }
        let nodes = std::iter::once(Node::Clients)
            .chain((0..n_lb).map(Node::Lb))
            .chain((0..n_web).map(Node::Web))
            .chain((0..n_app).map(Node::App))
            .chain((0..n_db).map(Node::Db))
            .chain((0..n_mgr).map(Node::Manager))
            .collect();
        let delay = latency.clone();
        Network {
            n,
            n_lb,
            n_web,
            n_app,
            n_db,
            latency,
            extra: vec![SimDuration::ZERO; n * n],
            delay,
            loss: vec![0.0; n * n],
            partitions: vec![0; n * n],
            states: vec![NodeState::default(); n],
            nodes,
            names,
            streams,
            loss_rngs: BTreeMap::new(),
            lossy_links: 0,
            nodes_down: 0,
            degraded: 0,
            hosts_down: 0,
            partitioned_links: 0,
            impaired: false,
            firewalls: None,
        }
    }

    /// Puts the scenario's firewalls on the links they filter.
    pub(crate) fn with_firewalls(mut self, firewalls: Option<Firewalls>) -> Self {
        self.firewalls = firewalls.map(Box::new);
        self.update_impaired();
        self
    }

    /// The node at each dense index.
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn update_impaired(&mut self) {
        self.impaired = self.hosts_down > 0
            || self.partitioned_links > 0
            || self.lossy_links > 0
            || self.firewalls.is_some();
    }

    /// A SYN from `a` to `b` that opens `flow`, through the firewalls on the way: let through
    /// or dropped, and where. Used for traffic that does not go through [`Network::send`]
    /// (spoofed SYNs).
    pub(crate) fn firewall_syn(
        &mut self,
        now: infrasim_engine::SimTime,
        a: Node,
        b: Node,
        flow: Flow,
    ) -> Result<(), Dropped> {
        let (i, j) = (self.idx(a), self.idx(b));
        match self.firewalls.as_deref_mut() {
            Some(fw) => fw.syn(now, i, j, flow),
            None => Ok(()),
        }
    }

    /// Where the last transmission lost to a firewall was dropped, once.
    pub(crate) fn take_firewall_drop(&mut self) -> Option<Dropped> {
        self.firewalls
            .as_deref_mut()
            .and_then(|f| f.last_drop.take())
    }

    /// Dense index of a node.
    #[inline]
    pub(crate) fn idx(&self, node: Node) -> usize {
        match node {
            Node::Clients => 0,
            Node::Lb(i) => 1 + i as usize,
            Node::Web(i) => 1 + (self.n_lb + i) as usize,
            Node::App(i) => 1 + (self.n_lb + self.n_web + i) as usize,
            Node::Db(i) => 1 + (self.n_lb + self.n_web + self.n_app + i) as usize,
            Node::Manager(i) => 1 + (self.n_lb + self.n_web + self.n_app + self.n_db + i) as usize,
        }
    }

    /// The node at dense index `i` (as carried by [`Ev::Deliver`]).
    #[inline]
    pub(crate) fn node(&self, i: u32) -> Node {
        self.nodes[i as usize]
    }

    /// How the node at dense index `i` is down, if it is. While every node is up (nearly
    /// every delivery of nearly every run) this is one test, not a lookup.
    #[inline]
    pub(crate) fn down_at(&self, i: u32) -> Option<CrashMode> {
        if self.nodes_down == 0 {
            return None;
        }
        self.states[i as usize].down
    }

    fn set_latency(&mut self, a: Node, b: Node, d: SimDuration) {
        let (i, j) = (self.idx(a), self.idx(b));
        for k in [i * self.n + j, j * self.n + i] {
            self.latency[k] = d;
            self.delay[k] = d.saturating_add(self.extra[k]);
        }
    }

    pub(crate) fn state(&self, node: Node) -> &NodeState {
        &self.states[self.idx(node)]
    }

    /// The service-time multiplier of `node` (1 unless a gray failure slows it). One test
    /// while no node is degraded.
    #[inline]
    pub(crate) fn slowdown(&self, node: Node) -> f64 {
        if self.degraded == 0 {
            return 1.0;
        }
        self.states[self.idx(node)].slowdown
    }

    /// The probability that `node` answers an error (0 unless a gray failure). One test
    /// while no node is degraded.
    #[inline]
    pub(crate) fn error_rate(&self, node: Node) -> f64 {
        if self.degraded == 0 {
            return 0.0;
        }
        self.states[self.idx(node)].error_rate
    }

    /// Sets the gray failure of `node`: its service-time multiplier and error probability
    /// (1 and 0: healthy again).
    pub(crate) fn set_degraded(&mut self, node: Node, slowdown: f64, error_rate: f64) {
        let i = self.idx(node);
        let was = is_degraded(&self.states[i]);
        self.states[i].slowdown = slowdown;
        self.states[i].error_rate = error_rate;
        recount(&mut self.degraded, was, is_degraded(&self.states[i]));
    }

    /// Drains `node` for maintenance (`on`) or puts it back in service.
    pub(crate) fn set_drained(&mut self, node: Node, on: bool) {
        let i = self.idx(node);
        self.states[i].drained = on;
    }

    /// Takes `node` down in the given mode (`Some`) or brings it back (`None`).
    pub(crate) fn set_down(&mut self, node: Node, down: Option<CrashMode>) {
        let i = self.idx(node);
        let before = self.states[i].down;
        self.states[i].down = down;
        recount(&mut self.nodes_down, before.is_some(), down.is_some());
        let host = Some(CrashMode::Host);
        recount(&mut self.hosts_down, before == host, down == host);
        self.update_impaired();
    }

    /// Starts (`on`) or ends a partition between `a` and `b` (partitions may overlap).
    pub(crate) fn partition(&mut self, a: Node, b: Node, on: bool) {
        let (i, j) = (self.idx(a), self.idx(b));
        for k in [i * self.n + j, j * self.n + i] {
            let before = self.partitions[k];
            self.partitions[k] = if on {
                before + 1
            } else {
                before.saturating_sub(1)
            };
            recount(
                &mut self.partitioned_links,
                before > 0,
                self.partitions[k] > 0,
            );
        }
        self.update_impaired();
    }

    /// Adds (or removes, `on = false`) extra latency and loss on the link `a`–`b`.
    pub(crate) fn degrade(&mut self, a: Node, b: Node, extra: SimDuration, loss: f64, on: bool) {
        let (i, j) = (self.idx(a), self.idx(b));
        for k in [i * self.n + j, j * self.n + i] {
            if on {
                self.extra[k] = self.extra[k].saturating_add(extra);
                self.loss[k] = 1.0 - (1.0 - self.loss[k]) * (1.0 - loss);
            } else {
                self.extra[k] = self.extra[k].saturating_sub(extra);
                self.loss[k] = if loss >= 1.0 {
                    0.0
                } else {
                    (1.0 - (1.0 - self.loss[k]) / (1.0 - loss)).max(0.0)
                };
            }
            self.delay[k] = self.latency[k].saturating_add(self.extra[k]);
        }
        if loss > 0.0 {
            if on {
                self.lossy_links += 1;
            } else {
                self.lossy_links = self.lossy_links.saturating_sub(1);
            }
        }
        self.update_impaired();
    }

    /// Whether a connection from `a` to `b` can be made now: neither host is down, no
    /// partition, and the link does not lose everything (a process crash leaves the host
    /// reachable: it answers with a reset).
    pub(crate) fn reachable(&self, a: Node, b: Node) -> bool {
        let (i, j) = (self.idx(a), self.idx(b));
        let host = Some(CrashMode::Host);
        self.states[i].down != host
            && self.states[j].down != host
            && self.partitions[i * self.n + j] == 0
            && self.loss[i * self.n + j] < 1.0
            && self.loss[j * self.n + i] < 1.0
    }

    /// Whether `a` and `b` are partitioned from each other.
    pub(crate) fn partitioned(&self, a: Node, b: Node) -> bool {
        self.partitions[self.idx(a) * self.n + self.idx(b)] > 0
    }

    /// Sends `msg` from `a` to `b`: it arrives after the link's latency, or — lost on the
    /// way — TCP retransmits it later ([`crate::model::tcp`]).
    #[inline]
    pub(crate) fn send(&mut self, cx: &mut Context<'_, Ev>, a: Node, b: Node, msg: Msg) {
        let (i, j) = (self.idx(a), self.idx(b));
        self.transmit(cx, i, j, msg, Attempt::FIRST);
    }

    /// Transmission `attempt` of `msg` from dense index `i` to `j`, after the link's latency.
    #[inline]
    pub(crate) fn transmit(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: usize,
        j: usize,
        msg: Msg,
        attempt: Attempt,
    ) {
        let lat = self.delay[i * self.n + j];
        self.transmit_after(cx, i, j, msg, attempt, lat);
    }

    /// [`Network::transmit`] with a given transit time. Always inlined into
    /// [`Network::send`], so the message goes from the caller's registers into the event:
    /// passed out of line, it is built on the stack and reloaded with wider loads than its
    /// stores, a store-forwarding stall on every hop (a sixth of this function's profile).
    /// Inlining `send` as well, into every caller, was slower (+4 %).
    #[inline(always)]
    fn transmit_after(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: usize,
        j: usize,
        msg: Msg,
        attempt: Attempt,
        delay: SimDuration,
    ) {
        if self.impaired && self.lost(cx, i, j, msg, attempt) {
            return;
        }
        cx.schedule_in(
            delay,
            Ev::Deliver {
                // Below 2^16: checked when the network was built.
                from: i as u16,
                to: j as u16,
                attempt: attempt.byte(),
                msg,
            },
        );
    }

    /// Decides whether transmission `attempt` of `msg` from `i` to `j` is lost, and if so
    /// arms the sender's retransmission (or, past its retry limit, tells a connecting caller
    /// that the connection failed). Only asked when something is impaired.
    #[inline(never)]
    fn lost(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: usize,
        j: usize,
        msg: Msg,
        attempt: Attempt,
    ) -> bool {
        if self.states[i].down == Some(CrashMode::Host) {
            return true; // the sender's host is gone, and its retransmissions with it
        }
        if let Some(fw) = self.firewalls.as_deref_mut()
            && fw.crossed(i, j)
        {
            let now = cx.now();
            let dropped = match msg.transport() {
                Transport::Connect { .. } if !attempt.is_data() => {
                    fw.syn(now, i, j, Flow::Connection).err()
                }
                _ => fw.blocked_by_down(now, i, j).then_some(Dropped::Down),
            };
            if let Some(d) = dropped {
                fw.last_drop = Some(d);
                self.retransmit(cx, i, j, msg, attempt, SimDuration::ZERO);
                return true;
            }
        }
        // The transmission whose timer the sender arms if this one is lost.
        let mut lost_one = attempt;
        let lost = match msg.transport() {
            Transport::Datagram => self.partitions[i * self.n + j] > 0 || self.loss_draw(i, j),
            Transport::Reset => self.partitions[i * self.n + j] > 0,
            Transport::Data => self.segment_lost(i, j),
            Transport::Connect { .. } if attempt.is_data() => self.segment_lost(i, j),
            Transport::Connect { data } => {
                self.handshake_lost(i, j) || {
                    // The handshake is done; the request itself may still be lost.
                    lost_one = Attempt::data();
                    data && self.loss_draw(i, j)
                }
            }
        };
        if lost {
            self.retransmit(cx, i, j, msg, lost_one, SimDuration::ZERO);
        }
        lost
    }

    /// A connection's handshake from `i` to `j` fails this time: the SYN cannot reach a live
    /// host, or the SYN or the SYN-ACK is lost.
    fn handshake_lost(&mut self, i: usize, j: usize) -> bool {
        self.segment_lost(i, j) || self.loss_draw(j, i)
    }

    /// A segment from `i` to `j` does not arrive: a partition, a dead host, or loss.
    fn segment_lost(&mut self, i: usize, j: usize) -> bool {
        self.partitions[i * self.n + j] > 0
            || self.states[j].down == Some(CrashMode::Host)
            || self.loss_draw(i, j)
    }

    /// The sender of transmission `attempt` of `msg` (from `i` to `j`) learns that it did
    /// not arrive when its retransmission timer fires: it sends it again then, or gives up.
    /// `spent`: how long ago the transmission left (its transit time, when the receiver
    /// dropped it on arrival).
    pub(crate) fn retransmit(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: usize,
        j: usize,
        msg: Msg,
        attempt: Attempt,
        spent: SimDuration,
    ) {
        let attempt = match msg.transport() {
            Transport::Datagram | Transport::Reset => return,
            Transport::Data => attempt.as_data(),
            Transport::Connect { .. } => attempt,
        };
        let rtt = self.delay[i * self.n + j].saturating_add(self.delay[j * self.n + i]);
        let wait = attempt.rto(rtt).saturating_sub(spent);
        let (from, to) = (i as u16, j as u16);
        if !attempt.last() {
            let attempt = attempt.next().byte();
            cx.schedule_in(
                wait,
                Ev::Resend {
                    from,
                    to,
                    attempt,
                    msg,
                },
            );
        } else if let (Msg::Call(call), false) = (msg, attempt.is_data()) {
            // `connect()` fails (ETIMEDOUT): the caller learns it as a failed connection.
            cx.schedule_in(
                wait,
                Ev::Deliver {
                    from: to,
                    to: from,
                    attempt: 0,
                    msg: Msg::Reset(call),
                },
            );
        }
    }

    /// How much longer than their latency `flights` one-way flights between `a` and `b` take
    /// (the first from `a`, then alternating: a handshake's messages) when the link loses
    /// some: each lost flight is sent again when its sender's retransmission timer fires —
    /// [`Attempt::rto`] from `phase` (the SYN's timers or the data's), doubling, up to the
    /// phase's retry limit — each transmission drawn on its directed link's loss stream as
    /// every other segment's. `None`: a flight's retries ran out (its sender gives up). The
    /// draws are made now, for flights that leave later: a partition or a change of loss
    /// meanwhile is not seen by them (`docs/models.md` §4b).
    pub(crate) fn retransmission_delay(
        &mut self,
        a: Node,
        b: Node,
        flights: u32,
        phase: Attempt,
    ) -> Option<SimDuration> {
        if self.lossy_links == 0 {
            return Some(SimDuration::ZERO);
        }
        let (i, j) = (self.idx(a), self.idx(b));
        let rtt = self.delay[i * self.n + j].saturating_add(self.delay[j * self.n + i]);
        let mut extra = SimDuration::ZERO;
        for f in 0..flights {
            let (from, to) = if f % 2 == 0 { (i, j) } else { (j, i) };
            let mut attempt = phase;
            while self.loss_draw(from, to) {
                if attempt.last() {
                    return None;
                }
                extra = extra.saturating_add(attempt.rto(rtt));
                attempt = attempt.next();
            }
        }
        Some(extra)
    }

    /// Whether the link from `i` to `j` loses this segment, by its loss probability and its
    /// own random stream.
    fn loss_draw(&mut self, i: usize, j: usize) -> bool {
        if self.lossy_links == 0 {
            return false;
        }
        let p = self.loss[i * self.n + j];
        if p <= 0.0 {
            return false;
        }
        let (streams, names) = (&self.streams, &self.names);
        let rng = self
            .loss_rngs
            .entry((i, j))
            .or_insert_with(|| streams.stream(&format!("link/{}>{}", names[i], names[j])));
        open01(rng) < p
    }

    /// Whether a data segment sent from `a` to `b` now is lost: the sender's or the
    /// receiver's host is down, a partition, or the link's loss draw.
    pub(crate) fn segment_lost_now(&mut self, a: Node, b: Node) -> bool {
        if !self.impaired {
            return false;
        }
        let (i, j) = (self.idx(a), self.idx(b));
        self.states[i].down == Some(CrashMode::Host)
            || self.segment_lost(i, j)
            || self
                .firewalls
                .as_deref()
                .is_some_and(|f| f.down_between(i, j))
    }

    /// The one-way latency from `a` to `b` now (extra latency of a degraded link included).
    pub(crate) fn latency(&self, a: Node, b: Node) -> SimDuration {
        self.delay[self.idx(a) * self.n + self.idx(b)]
    }

    /// The round-trip time between `a` and `b` now.
    pub(crate) fn rtt(&self, a: Node, b: Node) -> SimDuration {
        self.latency(a, b).saturating_add(self.latency(b, a))
    }

    /// The one-way latency from `i` to `j` now.
    pub(crate) fn latency_between(&self, i: usize, j: usize) -> SimDuration {
        self.delay[i * self.n + j]
    }
}

#[cfg(test)]
impl Network {
    /// Whether a one-way segment from `i` to `j` is lost now (sender's host, partition, loss).
    fn drops(&mut self, i: usize, j: usize) -> bool {
        self.states[i].down == Some(CrashMode::Host)
            || self.partitions[i * self.n + j] > 0
            || self.loss_draw(i, j)
    }
}

/// Keeps `count` (of things in some condition) in step as one thing enters (`was` false,
/// `is` true) or leaves (the reverse) the condition.
fn recount(count: &mut u32, was: bool, is: bool) {
    match (was, is) {
        (false, true) => *count += 1,
        (true, false) => *count -= 1,
        _ => {}
    }
}

/// Whether a node's state holds a gray failure.
fn is_degraded(s: &NodeState) -> bool {
    s.slowdown != 1.0 || s.error_rate != 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrasim_engine::RngStreams;

    /// One load balancer, one app server, one database node.
    fn net() -> Network {
        Network::new(
            [1, 0, 1, 1, 0],
            SimDuration::from_micros(100),
            SimDuration::from_millis(10),
            RngStreams::new(1),
            ["clients", "lb", "app", "db"].map(String::from).to_vec(),
        )
    }

    /// The one-test fast path must agree with the three lookups it stands for: every kind
    /// of impairment drops what it should, overlapping ones count, and a network whose
    /// impairments all ended is healthy again.
    #[test]
    fn impairments_drop_messages_and_end_cleanly() {
        let mut n = net();
        let (lb, app, db) = (Node::Lb(0), Node::App(0), Node::Db(0));
        let (l, a, d) = (n.idx(lb), n.idx(app), n.idx(db));
        assert!(!n.impaired);

        n.partition(lb, app, true);
        n.partition(lb, app, true);
        assert!(n.impaired && n.drops(l, a) && n.drops(a, l));
        assert!(!n.drops(a, d), "other links are untouched");
        n.partition(lb, app, false);
        assert!(
            n.impaired && n.drops(l, a),
            "one of two overlapping partitions remains"
        );
        n.partition(lb, app, false);
        assert!(!n.impaired && !n.drops(l, a));

        n.set_down(app, Some(CrashMode::Process));
        assert!(
            !n.impaired,
            "a crashed process leaves its host on the network"
        );
        assert_eq!(n.down_at(a as u32), Some(CrashMode::Process));
        assert_eq!(n.down_at(d as u32), None);
        n.set_down(app, Some(CrashMode::Host));
        assert!(n.impaired && n.drops(a, d) && !n.drops(d, l));
        assert_eq!(n.down_at(a as u32), Some(CrashMode::Host));
        n.set_down(app, None);
        assert!(!n.impaired);
        assert_eq!(n.down_at(a as u32), None);

        n.set_degraded(db, 3.0, 0.5);
        assert_eq!((n.slowdown(db), n.error_rate(db)), (3.0, 0.5));
        assert_eq!((n.slowdown(app), n.error_rate(app)), (1.0, 0.0));
        n.set_degraded(db, 1.0, 0.0);
        assert_eq!(n.degraded, 0);
        assert!(!n.impaired, "a gray failure drops nothing");

        n.degrade(app, db, SimDuration::ZERO, 1.0, true);
        assert!(n.impaired && n.drops(a, d) && n.drops(d, a) && !n.drops(l, a));
        n.degrade(app, db, SimDuration::ZERO, 1.0, false);
        assert!(!n.impaired && !n.drops(a, d));
    }

    /// Each directed link draws its losses from its own stream: loss on another link, and
    /// the messages it carries, leave a link's drop decisions unchanged.
    #[test]
    fn a_link_s_losses_do_not_depend_on_other_links() {
        let (lb, app, db) = (Node::Lb(0), Node::App(0), Node::Db(0));
        let mut alone = net();
        let mut busy = net();
        let (l, a, d) = (alone.idx(lb), alone.idx(app), alone.idx(db));
        alone.degrade(lb, app, SimDuration::ZERO, 0.5, true);
        busy.degrade(lb, app, SimDuration::ZERO, 0.5, true);
        busy.degrade(app, db, SimDuration::ZERO, 0.5, true);
        let mut decisions = (Vec::new(), Vec::new());
        for k in 0..400 {
            decisions.0.push(alone.drops(l, a));
            if k % 3 == 0 {
                busy.drops(a, d);
                busy.drops(a, l);
            }
            decisions.1.push(busy.drops(l, a));
        }
        assert_eq!(decisions.0, decisions.1);
        let lost = decisions.0.iter().filter(|x| **x).count();
        assert!((150..250).contains(&lost), "{lost} of 400 lost at p = 0.5");
    }
}
