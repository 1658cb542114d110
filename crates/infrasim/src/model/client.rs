//! Clients: the workload. Open-loop arrivals (Poisson, constant, a piecewise rate schedule,
//! load spikes) or closed-loop users with think times; a mix of request classes; keys drawn
//! uniformly or by Zipf's law; many source addresses; a timeout and optional retries with
//! exponential backoff and jitter.

use infrasim_engine::dist::Dist;
use infrasim_engine::math;
use infrasim_engine::rng::{below, open01};
use infrasim_engine::ziggurat::exp1;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, SimTime, TimeoutQueue};

use crate::model::Received;
use crate::model::World;
use crate::model::call::{Call, FailReason, Outcome, Parent, Ref, Request, Slab};
use crate::model::tcp::Attempt;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::{self, Arrival, Class, ClientRetries, Entry, Fault};

/// How arrivals are generated.
#[derive(Debug)]
pub(crate) enum ArrivalProcess {
    /// Poisson with a piecewise-constant rate.
    Poisson,
    /// Evenly spaced at the current rate.
    Constant,
    /// Closed loop.
    Closed { users: u32, think: Dist },
}

impl ArrivalProcess {
    /// The process a scenario's arrival asks for and its base rate curve (before spikes).
    fn of(arrival: &Arrival) -> (ArrivalProcess, Vec<(SimTime, f64)>) {
        match arrival {
            Arrival::Poisson { rate } => (
                ArrivalProcess::Poisson,
                vec![(SimTime::ZERO, rate.as_per_second())],
            ),
            Arrival::Constant { rate } => (
                ArrivalProcess::Constant,
                vec![(SimTime::ZERO, rate.as_per_second())],
            ),
            Arrival::Schedule { steps } => (
                ArrivalProcess::Poisson,
                steps
                    .iter()
                    .map(|st| (SimTime::ZERO.saturating_add(st.at), st.rate.as_per_second()))
                    .collect(),
            ),
            Arrival::Closed { users, think } => (
                ArrivalProcess::Closed {
                    users: *users,
                    think: think.validated(),
                },
                vec![(SimTime::ZERO, 0.0)],
            ),
        }
    }
}

/// A piecewise-constant rate: `(start, events per second)`, starts increasing, first at 0.
/// Spikes are folded in at build time, so the rate at any instant is one lookup.
#[derive(Clone, Debug)]
pub(crate) struct RateCurve {
    pub steps: Vec<(SimTime, f64)>,
}

impl RateCurve {
    /// A piecewise-constant rate multiplied by the load spikes (start, end, factor) active
    /// at each instant.
    fn with_spikes(base: &[(SimTime, f64)], spikes: &[(SimTime, SimTime, f64)]) -> RateCurve {
        let mut points: Vec<SimTime> = base.iter().map(|b| b.0).collect();
        for (a, b, _) in spikes {
            points.push(*a);
            points.push(*b);
        }
        points.sort_unstable();
        points.dedup();
        let steps = points
            .into_iter()
            .map(|t| {
                let i = base.partition_point(|(s, _)| *s <= t).saturating_sub(1);
                let factor: f64 = spikes
                    .iter()
                    .filter(|(a, b, _)| *a <= t && t < *b)
                    .map(|s| s.2)
                    .product();
                (t, base[i].1 * factor)
            })
            .collect();
        RateCurve { steps }
    }

    fn step_at(&self, t: SimTime) -> usize {
        self.steps
            .partition_point(|(s, _)| *s <= t)
            .saturating_sub(1)
    }

    /// The time of the next event of a Poisson process with this rate, after `now`: spend an
    /// Exp(1) amount of "intensity" across the steps (exact for piecewise-constant rates).
    fn next_poisson(&self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        let mut need = exp1(rng);
        let mut i = self.step_at(now);
        let mut t = now;
        loop {
            let rate = self.steps[i].1;
            let end = self.steps.get(i + 1).map(|s| s.0);
            if rate > 0.0 {
                let dt = need / rate;
                let cand = t.saturating_add(SimDuration::from_secs_f64(dt));
                match end {
                    Some(e) if cand >= e => {
                        need -= rate * (e - t).as_secs_f64();
                    }
                    _ => return Some(cand.max(t)),
                }
            }
            match end {
                Some(e) => {
                    t = e;
                    i += 1;
                }
                None => return None,
            }
        }
    }

    /// The next event of an evenly spaced process at the rate in force now.
    fn next_constant(&self, now: SimTime) -> Option<SimTime> {
        let mut i = self.step_at(now);
        loop {
            let rate = self.steps[i].1;
            if rate > 0.0 {
                let at = now.saturating_add(
                    SimDuration::from_secs_f64(1.0 / rate).max(SimDuration::from_nanos(1)),
                );
                return Some(at);
            }
            i += 1;
            if i >= self.steps.len() {
                return None;
            }
            if self.steps[i].0 > now {
                return Some(self.steps[i].0);
            }
        }
    }
}

/// Zipf(s) over 1..=n by rejection-inversion (Hörmann & Derflinger, 1996): O(1) memory and
/// time whatever n, so 50 million keys cost nothing.
#[derive(Clone, Debug)]
pub(crate) struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    cut: f64,
}

fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        math::ln_1p(x) / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        math::exp_m1(x) / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

impl Zipf {
    pub(crate) fn new(n: u32, s: f64) -> Self {
        let mut z = Zipf {
            n: f64::from(n),
            s,
            h_x1: 0.0,
            h_n: 0.0,
            cut: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.cut = 2.0 - z.h_integral_inv(z.h_integral(2.5) - z.h(2.0));
        z
    }
    fn h(&self, x: f64) -> f64 {
        math::exp(-self.s * math::ln(x))
    }
    fn h_integral(&self, x: f64) -> f64 {
        let lx = math::ln(x);
        helper2((1.0 - self.s) * lx) * lx
    }
    fn h_integral_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        math::exp(helper1(t) * x)
    }
    /// A key in `0..n` (rank − 1: key 0 is the most popular).
    pub(crate) fn sample(&self, rng: &mut SimRng) -> u32 {
        loop {
            let u = self.h_n + open01(rng) * (self.h_x1 - self.h_n);
            let x = self.h_integral_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.cut || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u32 - 1;
            }
        }
    }
}

/// The client population.
pub(crate) struct Clients {
    pub entry: Entry,
    pub process: ArrivalProcess,
    pub curve: RateCurve,
    /// Cumulative class weights (read, write, static), normalised.
    pub mix_cum: [f64; 3],
    pub key_count: u32,
    pub zipf: Option<Zipf>,
    pub addresses: u32,
    pub timeout: SimDuration,
    pub retries: Option<ClientRetries>,
    pub rng_arrivals: SimRng,
    pub rng_requests: SimRng,
    pub rng_retry: SimRng,
    /// Client timeouts of every attempt (one wake-up event serves them all).
    pub timeouts: TimeoutQueue<(Ref, u16)>,
    /// DNS cache per address when entering through a DNS pair: (member, expires).
    pub dns: Vec<(u8, SimTime)>,
    /// DNS round-robin rotation counter.
    pub dns_rr: u32,
    /// Session reads: the fraction of reads that read back their address's last write,
    /// how recent it must be, each address's last acknowledged write (key, when), and the
    /// draws deciding which reads are such (their own stream, so that turning sessions on
    /// leaves every other draw unchanged).
    pub read_own_writes: f64,
    pub own_write_window: SimDuration,
    pub sessions: Vec<(u32, SimTime)>,
    pub rng_sessions: SimRng,
    /// The work of the next request: requests are numbered in the order they are offered,
    /// so the n-th request of two runs with the same workload carries the same work.
    pub next_work: u32,
}

impl Clients {
    /// The workload as the scenario describes it, entering at `entry`, with the scenario's
    /// load spikes folded into its rate curve.
    pub(crate) fn new(
        spec: &scenario::Clients,
        entry: Entry,
        faults: &[Fault],
        streams: &RngStreams,
    ) -> Self {
        let (process, base) = ArrivalProcess::of(&spec.arrival);
        let spikes: Vec<(SimTime, SimTime, f64)> = faults
            .iter()
            .filter_map(|f| match f {
                Fault::Spike {
                    at,
                    duration,
                    factor,
                } => {
                    let start = SimTime::ZERO.saturating_add(*at);
                    Some((start, start.saturating_add(*duration), *factor))
                }
                _ => None,
            })
            .collect();
        let mix = &spec.mix;
        let total = mix.read + mix.write + mix.r#static;
        let dns_caches = match entry {
            Entry::Dns(_) => spec.addresses as usize,
            Entry::Node(_) | Entry::Vip(_) => 0,
        };
        Clients {
            entry,
            process,
            curve: RateCurve::with_spikes(&base, &spikes),
            mix_cum: [mix.read / total, (mix.read + mix.write) / total, 1.0],
            key_count: spec.keys.count,
            zipf: (spec.keys.zipf > 0.0).then(|| Zipf::new(spec.keys.count, spec.keys.zipf)),
            addresses: spec.addresses,
            timeout: spec.timeout,
            retries: spec.retries.clone(),
            rng_arrivals: streams.stream("clients/arrivals"),
            rng_requests: streams.stream("clients/requests"),
            rng_retry: streams.stream("clients/retries"),
            timeouts: TimeoutQueue::default(),
            dns: vec![(0, SimTime::ZERO); dns_caches],
            dns_rr: 0,
            read_own_writes: spec.keys.read_own_writes,
            own_write_window: spec.keys.own_write_window,
            sessions: if spec.keys.read_own_writes > 0.0 {
                vec![(u32::MAX, SimTime::ZERO); spec.addresses as usize]
            } else {
                Vec::new()
            },
            rng_sessions: streams.stream("clients/sessions"),
            next_work: 0,
        }
    }
}

impl World {
    /// Schedules the first arrivals (open loop) or wakes every user (closed loop).
    pub(crate) fn start_clients(&mut self, cx: &mut Context<'_, Ev>) {
        match &self.clients.process {
            ArrivalProcess::Closed { users, .. } => {
                let users = *users;
                for u in 0..users {
                    // Users start spread over the first second so they are not synchronised.
                    let offset = SimDuration::from_nanos(below(
                        &mut self.clients.rng_arrivals,
                        1_000_000_000,
                    ));
                    cx.schedule_in(offset, Ev::UserSend { user: u });
                }
            }
            _ => self.schedule_next_arrival(cx),
        }
    }

    fn schedule_next_arrival(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        let next = match self.clients.process {
            ArrivalProcess::Poisson => self
                .clients
                .curve
                .next_poisson(now, &mut self.clients.rng_arrivals),
            ArrivalProcess::Constant => self.clients.curve.next_constant(now),
            ArrivalProcess::Closed { .. } => None,
        };
        if let Some(at) = next.filter(|t| *t < self.end) {
            cx.schedule_at(at, Ev::Arrival);
        }
    }

    pub(crate) fn on_arrival(&mut self, cx: &mut Context<'_, Ev>) {
        self.new_request(cx, None);
        self.schedule_next_arrival(cx);
    }

    pub(crate) fn on_user_send(&mut self, cx: &mut Context<'_, Ev>, user: u32) {
        if cx.now() < self.end {
            self.new_request(cx, Some(user));
        }
    }

    fn new_request(&mut self, cx: &mut Context<'_, Ev>, user: Option<u32>) {
        let c = &mut self.clients;
        let u = open01(&mut c.rng_requests);
        let class = if u < c.mix_cum[0] {
            Class::Read
        } else if u < c.mix_cum[1] {
            Class::Write
        } else {
            Class::Static
        };
        let mut key = match &c.zipf {
            Some(z) => z.sample(&mut c.rng_requests),
            None => below(&mut c.rng_requests, u64::from(c.key_count)) as u32,
        };
        let addr = match user {
            Some(u) => u % c.addresses,
            None => below(&mut c.rng_requests, u64::from(c.addresses)) as u32,
        };
        if class == Class::Read && c.read_own_writes > 0.0 {
            // A session reading back its own recent write.
            let (own, at) = c.sessions[addr as usize];
            let recent = own != u32::MAX && cx.now().saturating_since(at) <= c.own_write_window;
            if open01(&mut c.rng_sessions) < c.read_own_writes && recent {
                key = own;
            }
        }
        let work = c.next_work;
        c.next_work = c.next_work.wrapping_add(1);
        let now = cx.now();
        let measured = now >= self.warmup_end;
        let req = self.requests.insert(Request {
            class,
            key,
            work,
            addr,
            user,
            offered_at: now,
            measured,
            attempts: 0,
            armed: false,
            arm: 0,
            call: None,
            entry: Node::Clients,
        });
        self.metrics.offered(now, class, measured);
        self.start_attempt(cx, req, None);
    }

    /// Resolves the entry point for a client address: the component its connection goes
    /// to, or None when nothing holds the address (a VIP with no master).
    fn resolve_entry(&mut self, now: SimTime, addr: u32, avoid: Option<Node>) -> Option<Node> {
        match self.clients.entry {
            Entry::Node(n) => Some(n),
            Entry::Vip(p) => self.vrrp[p as usize].vip(),
            Entry::Dns(p) => {
                let pair = &self.dns[p as usize];
                let members = pair.members;
                if let Some(avoid) = avoid {
                    // The client tries the other address of the record.
                    return members.iter().copied().find(|m| *m != avoid);
                }
                let serves = [pair.serves(0), pair.serves(1)];
                let ttl = pair.ttl;
                let slot = &mut self.clients.dns[addr as usize];
                if slot.1 <= now {
                    // Round robin over the addresses the DNS service still hands out (both,
                    // if its health checks withdrew both).
                    let mut m = (self.clients.dns_rr % 2) as u8;
                    self.clients.dns_rr = self.clients.dns_rr.wrapping_add(1);
                    if !serves[m as usize] && serves[1 - m as usize] {
                        m = 1 - m;
                    }
                    *slot = (m, now.saturating_add(ttl));
                }
                Some(members[slot.0 as usize])
            }
        }
    }

    fn start_attempt(&mut self, cx: &mut Context<'_, Ev>, req: Ref, avoid: Option<Node>) {
        let now = cx.now();
        let Some(r) = self.requests.get(req) else {
            return;
        };
        let carried = (r.class, r.key, r.addr, r.work);
        let addr = r.addr;
        let entry = self.resolve_entry(now, addr, avoid);
        let fast_failover = avoid.is_none() && self.client_failover();
        let r = self.requests.get_mut(req).expect("checked above");
        r.attempts += 1;
        let wait = if fast_failover {
            // Browsers move to the next address of a record after a failed connection
            // (RFC 8305 staggers attempts; a blackholed address costs a connect timeout).
            self.clients.timeout.min(SimDuration::from_secs(3))
        } else {
            self.clients.timeout
        };
        r.arm = r.arm.wrapping_add(1);
        r.armed = true;
        let arm = r.arm;
        let requests = &self.requests;
        self.clients.timeouts.push_discarding(
            cx,
            now + wait,
            (req, arm),
            |t| client_timeout_disarmed(requests, t),
            || Ev::ClientTimeouts,
        );
        let r = self.requests.get_mut(req).expect("checked above");
        // With no holder of the address (a VIP between masters) the SYN goes nowhere and is
        // retransmitted; it is addressed to a member of the pair meanwhile.
        let target = entry.unwrap_or(match self.clients.entry {
            Entry::Vip(p) => self.vrrp[p as usize].members[0],
            Entry::Dns(p) => self.dns[p as usize].members[0],
            Entry::Node(n) => n,
        });
        r.entry = target;
        let call = Call::new(Parent::Request(req), Node::Clients, target, carried);
        let call = self.calls.insert(call);
        self.requests.get_mut(req).expect("checked above").call = Some(call);
        if self.connections_on() {
            // On a keep-alive connection (`model::connection`).
            self.conn_route(cx, call, target);
        } else if entry.is_some() {
            self.send(cx, Node::Clients, target, Msg::Call(call));
        } else {
            let j = self.net.idx(target);
            let syn = Msg::Call(call);
            self.net
                .retransmit(cx, 0, j, syn, Attempt::FIRST, SimDuration::ZERO);
        }
    }

    /// Where a client's retransmitted SYN for `call` goes: to a virtual IP's current holder
    /// (the call follows it), elsewhere to the same address. None when nobody holds the VIP.
    pub(crate) fn client_syn_target(&mut self, call: Ref) -> Option<Node> {
        let c = self.calls.get(call)?;
        let (callee, parent) = (c.callee, c.parent);
        let Entry::Vip(p) = self.clients.entry else {
            return Some(callee);
        };
        let node = self.vrrp[p as usize].vip()?;
        if node != callee {
            self.calls.get_mut(call).expect("checked").callee = node;
            if let Parent::Request(req) = parent
                && let Some(r) = self.requests.get_mut(req)
            {
                r.entry = node;
            }
        }
        Some(node)
    }

    /// Whether clients move to the other address of a DNS record after a failed connection.
    fn client_failover(&self) -> bool {
        match self.clients.entry {
            Entry::Dns(p) => self.dns[p as usize].client_failover,
            Entry::Node(_) | Entry::Vip(_) => false,
        }
    }

    pub(crate) fn client_receive(&mut self, cx: &mut Context<'_, Ev>, msg: Msg) -> Received {
        match msg {
            Msg::Reply { call, outcome } => match self.calls.remove(call) {
                Some(Call {
                    parent: Parent::Request(req),
                    ..
                }) => {
                    let first = self.conn_call_ended(cx, call, outcome, false);
                    self.attempt_done(cx, req, call, outcome, first);
                }
                Some(Call {
                    parent: Parent::Attack(a),
                    ..
                }) => self.attack_ended(cx.now(), a, outcome),
                _ => {}
            },
            Msg::Reset(call) => {
                let removed = self.calls.remove(call);
                if let Some(Call {
                    parent: Parent::Attack(a),
                    ..
                }) = removed
                {
                    let refused = Outcome::Failed(FailReason::ConnectionRefused);
                    self.attack_ended(cx.now(), a, refused);
                }
                if let Some(Call {
                    parent: Parent::Request(req),
                    callee,
                    ..
                }) = removed
                {
                    let failed = Outcome::Failed(FailReason::ConnectionRefused);
                    let first = self.conn_call_ended(cx, call, failed, true);
                    if self.client_failover()
                        && self.requests.get(req).is_some_and(|r| r.call == Some(call))
                    {
                        let r = self.requests.get_mut(req).expect("checked");
                        r.armed = false;
                        r.attempts -= 1;
                        self.start_attempt(cx, req, Some(callee));
                        return Received::Taken;
                    }
                    self.attempt_done(cx, req, call, failed, first);
                }
            }
            _ => {}
        }
        Received::Taken
    }

    /// The wake-up of the client timeout queue: every expired, still armed attempt times out.
    pub(crate) fn on_client_timeouts(&mut self, cx: &mut Context<'_, Ev>) {
        let now = cx.now();
        while let Some((req, arm)) = self.clients.timeouts.pop_expired(now) {
            if self
                .requests
                .get(req)
                .is_some_and(|r| r.armed && r.arm == arm)
            {
                self.on_client_timeout(cx, req);
            }
        }
        let requests = &self.requests;
        self.clients.timeouts.rearm_discarding(
            cx,
            |t| client_timeout_disarmed(requests, t),
            || Ev::ClientTimeouts,
        );
    }

    fn on_client_timeout(&mut self, cx: &mut Context<'_, Ev>, req: Ref) {
        let Some(r) = self.requests.get_mut(req) else {
            return;
        };
        r.armed = false;
        let call = r.call.take();
        // With fast fail-over, a connection not accepted within the connect wait moves to
        // the other address; otherwise the client has waited its whole timeout.
        if self.client_failover() {
            let callee = call
                .and_then(|c| self.calls.get(c))
                .map(|c| (c.callee, c.connected().is_some()));
            if let Some((callee, false)) = callee {
                if let Some(c) = call {
                    self.conn_abandoned(cx, c);
                    self.calls.remove(c);
                }
                let r = self.requests.get_mut(req).expect("checked");
                r.attempts -= 1;
                self.start_attempt(cx, req, Some(callee));
                return;
            }
            if let Some((_, true)) = callee {
                // Connected: keep waiting for the rest of the client timeout.
                let elapsed = SimDuration::from_secs(3).min(self.clients.timeout);
                let rest = self.clients.timeout.saturating_sub(elapsed);
                if !rest.is_zero() {
                    let r = self.requests.get_mut(req).expect("checked");
                    r.call = call;
                    r.armed = true;
                    r.arm = r.arm.wrapping_add(1);
                    let arm = r.arm;
                    let at = cx.now() + rest;
                    self.clients
                        .timeouts
                        .push(cx, at, (req, arm), || Ev::ClientTimeouts);
                    return;
                }
            }
        }
        if let Some(c) = call {
            // The client closes the connection; servers may still be working on it.
            self.conn_abandoned(cx, c);
            self.calls.remove(c);
        }
        self.attempt_failed(cx, req, FailReason::Timeout);
    }

    /// `first`: whether the attempt opened its connection (None without connections).
    fn attempt_done(
        &mut self,
        cx: &mut Context<'_, Ev>,
        req: Ref,
        call: Ref,
        outcome: Outcome,
        first: Option<bool>,
    ) {
        let Some(r) = self.requests.get_mut(req) else {
            return;
        };
        if r.call != Some(call) {
            return;
        }
        r.call = None;
        r.armed = false;
        if outcome == Outcome::Ok
            && r.measured
            && let Some(first) = first
        {
            let latency = cx.now() - r.offered_at;
            self.conn_record_latency(first, latency);
        }
        match outcome {
            Outcome::Ok => self.finish_request(cx, req, Outcome::Ok),
            Outcome::Failed(reason) => self.attempt_failed(cx, req, reason),
        }
    }

    fn attempt_failed(&mut self, cx: &mut Context<'_, Ev>, req: Ref, reason: FailReason) {
        let Some(r) = self.requests.get(req) else {
            return;
        };
        if let Some(policy) = &self.clients.retries
            && u32::from(r.attempts) <= policy.max
        {
            // Exponential backoff, capped, with a jittered fraction (AWS "full jitter"
            // when jitter = 1).
            let exp = u32::from(r.attempts.saturating_sub(1)).min(30);
            let base = policy.backoff.as_secs_f64() * f64::from(1u32 << exp);
            let base = base.min(policy.max_backoff.as_secs_f64());
            let wait = base * (1.0 - policy.jitter)
                + base * policy.jitter * open01(&mut self.clients.rng_retry);
            cx.schedule_in(SimDuration::from_secs_f64(wait), Ev::ClientRetry { req });
            return;
        }
        self.finish_request(cx, req, Outcome::Failed(reason));
    }

    pub(crate) fn on_client_retry(&mut self, cx: &mut Context<'_, Ev>, req: Ref) {
        self.start_attempt(cx, req, None);
    }

    /// The request's one and only end.
    fn finish_request(&mut self, cx: &mut Context<'_, Ev>, req: Ref, outcome: Outcome) {
        let Some(r) = self.requests.remove(req) else {
            return;
        };
        let now = cx.now();
        let latency = now - r.offered_at;
        if r.class == Class::Write
            && outcome == Outcome::Ok
            && let Some(s) = self.clients.sessions.get_mut(r.addr as usize)
        {
            *s = (r.key, now);
        }
        self.metrics
            .finished(now, r.offered_at, r.class, r.measured, outcome, latency);
        self.ops_request_finished(outcome, latency);
        if let Some(obs) = self.observer.as_mut() {
            obs.request_finished(&crate::model::observer::RequestRecord {
                class: r.class,
                offered_at: r.offered_at,
                finished_at: now,
                outcome,
                attempts: u32::from(r.attempts),
                measured: r.measured,
                client_addr: r.addr,
            });
        }
        if let Some(user) = r.user
            && let ArrivalProcess::Closed { think, .. } = &self.clients.process
        {
            let d = think.sample(&mut self.clients.rng_arrivals);
            cx.schedule_in(d, Ev::UserSend { user });
        }
    }
}

/// Whether a client timeout entry no longer guards anything: the request ended, or this
/// attempt's timeout was disarmed or superseded (a later `arm`).
fn client_timeout_disarmed(requests: &Slab<Request>, &(req, arm): &(Ref, u16)) -> bool {
    !requests.get(req).is_some_and(|r| r.armed && r.arm == arm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrasim_engine::RngStreams;

    #[test]
    fn zipf_favours_low_ranks_and_matches_frequencies() {
        let z = Zipf::new(100, 1.0);
        let mut rng = RngStreams::new(1).stream("z");
        let mut counts = [0u32; 100];
        let n = 200_000;
        for _ in 0..n {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        let h: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
        for k in [1usize, 2, 10] {
            let expect = n as f64 / (k as f64 * h);
            let got = f64::from(counts[k - 1]);
            assert!(
                (got - expect).abs() < 5.0 * expect.sqrt(),
                "rank {k}: {got} vs {expect}"
            );
        }
    }

    #[test]
    fn poisson_curve_spends_intensity_across_steps() {
        let curve = RateCurve {
            steps: vec![
                (SimTime::ZERO, 0.0),
                (SimTime::from_nanos(1_000_000_000), 1000.0),
            ],
        };
        let mut rng = RngStreams::new(2).stream("p");
        let t = curve.next_poisson(SimTime::ZERO, &mut rng).unwrap();
        assert!(
            t >= SimTime::from_nanos(1_000_000_000),
            "no arrivals while the rate is 0"
        );
        let mut n = 0;
        let mut now = SimTime::from_nanos(1_000_000_000);
        let end = SimTime::from_nanos(11_000_000_000);
        while let Some(next) = curve.next_poisson(now, &mut rng) {
            if next >= end {
                break;
            }
            n += 1;
            now = next;
        }
        assert!(
            (n as f64 - 10_000.0).abs() < 5.0 * 100.0,
            "{n} arrivals in 10 s at 1000/s"
        );
    }

    /// Known answers: Zipf keys (s = 0.9 over 10 000 keys, as the shipped scenarios draw them,
    /// and s = 1.0 over 100 000) and the bits of the inverse it is built on. A platform or
    /// dependency change that moves one bit of the floating-point path fails here.
    #[test]
    fn zipf_known_answers() {
        let mut rng = RngStreams::new(20_261_203).stream("kat");
        let z = Zipf::new(10_000, 0.9);
        let keys: Vec<u32> = (0..12).map(|_| z.sample(&mut rng)).collect();
        assert_eq!(
            keys,
            [51, 4, 2947, 475, 5, 2533, 234, 95, 0, 81, 262, 0],
            "s = 0.9"
        );
        let z = Zipf::new(100_000, 1.0);
        let keys: Vec<u32> = (0..12).map(|_| z.sample(&mut rng)).collect();
        assert_eq!(
            keys,
            [40, 9, 8, 81341, 0, 103, 20, 167, 1194, 174, 77, 12],
            "s = 1.0"
        );
        let bits = [0.5, 3.25, 77.0].map(|x| z.h_integral_inv(z.h_integral(x)).to_bits());
        assert_eq!(
            bits,
            [
                4602678819172646912,
                4614500768194494464,
                4635118810238550018
            ],
            "h_integral_inv ∘ h_integral"
        );
    }
}
