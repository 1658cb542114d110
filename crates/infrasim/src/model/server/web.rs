//! nginx-like web servers: a static request is served by the web server itself; a dynamic
//! one is proxied to its upstream (a load balancer or an app server), waiting at most
//! `upstream_timeout` (nginx `proxy_connect_timeout` / `proxy_read_timeout`: 504 after it).

use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, TimeoutQueue};

use super::{Job, sub_call_ended};
use crate::model::call::{Call, FailReason, Outcome, Parent, Ref, Tier};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::worker_pool::WorkerPool;
use crate::model::{Received, World};
use crate::scenario::{self, Class};

/// An nginx-like web server.
pub(crate) struct WebServer {
    pub pool: WorkerPool<Job>,
    pub static_service: Dist,
    pub proxy_service: Dist,
    pub upstream: Option<Node>,
    pub upstream_timeout: SimDuration,
    pub rng: SimRng,
    /// Deadlines of upstream calls.
    pub timeouts: TimeoutQueue<(Ref, bool)>,
}

impl WebServer {
    /// A web server as the scenario describes it, its upstream resolved.
    pub(crate) fn new(
        spec: &scenario::WebServer,
        upstream: Option<Node>,
        streams: &RngStreams,
    ) -> Self {
        WebServer {
            pool: WorkerPool::new(spec.workers, spec.queue),
            static_service: spec.static_service.validated(),
            proxy_service: spec.proxy_service.validated(),
            upstream,
            upstream_timeout: spec.upstream_timeout,
            rng: streams.stream(&format!("web/{}", spec.name)),
            timeouts: TimeoutQueue::default(),
        }
    }
}

impl World {
    pub(crate) fn web_receive(&mut self, cx: &mut Context<'_, Ev>, i: u32, msg: Msg) -> Received {
        let me = Node::Web(i);
        match msg {
            Msg::Call(call) => match self.accept_into(cx, me, call) {
                Ok(Some(job)) => self.web_start(cx, i, job),
                Ok(None) => {}
                Err(dropped) => return dropped,
            },
            Msg::Reply { call, outcome } => self.web_sub_done(cx, i, call, outcome),
            Msg::Reset(call) => {
                self.web_sub_done(cx, i, call, Outcome::Failed(FailReason::ServerError))
            }
            Msg::Probe { lb, slot, seq } => return self.answer_probe(cx, me, (lb, slot, seq)),
            _ => {}
        }
        Received::Taken
    }

    pub(super) fn web_start(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let k = self.slowdown(Node::Web(i));
        let w = &self.webs[i as usize];
        let Some(j) = w.pool.running.get(job) else {
            return;
        };
        let mut demand = self.demand(j.work, Tier::Web);
        let tls = self.backend_tls_cost(j.call);
        let d = if j.class == Class::Static || w.upstream.is_none() {
            w.static_service.sample(&mut demand)
        } else {
            w.proxy_service.sample(&mut demand)
        } + tls;
        let d = if k == 1.0 { d } else { d.mul_f64(k) };
        cx.schedule_in(
            d,
            Ev::WorkDone {
                node: Node::Web(i),
                job,
            },
        );
    }

    pub(crate) fn web_work_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let w = &self.webs[i as usize];
        let Some(j) = w.pool.running.get(job) else {
            return;
        };
        if j.class == Class::Static || w.upstream.is_none() {
            let outcome = if self.errors_now(Node::Web(i)) {
                Outcome::Failed(FailReason::ServerError)
            } else {
                Outcome::Ok
            };
            self.server_finish(cx, Node::Web(i), job, outcome);
            return;
        }
        let upstream = w.upstream.expect("checked");
        let timeout = w.upstream_timeout;
        let carried = (j.class, j.key, j.addr, j.work);
        let now = cx.now();
        let call = Call::new(Parent::Call(j.call), Node::Web(i), upstream, carried);
        let sub = self.calls.insert(call);
        let calls = &self.calls;
        self.webs[i as usize].timeouts.push_discarding(
            cx,
            now + timeout,
            (sub, true),
            |t| sub_call_ended(calls, t),
            || Ev::WebTimeouts { web: i },
        );
        if let Some(j) = self.webs[i as usize].pool.running.get_mut(job) {
            j.sub = Some(sub);
        }
        // The job waits for the upstream; remember which job owns the sub-call.
        self.sub_owner_set(sub, job);
        self.send(cx, Node::Web(i), upstream, Msg::Call(sub));
    }

    fn web_sub_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, sub: Ref, outcome: Outcome) {
        let Some(job) = self.sub_owner_take(sub) else {
            return;
        };
        self.calls.remove(sub);
        self.server_finish(cx, Node::Web(i), job, outcome);
    }

    /// nginx `proxy_connect_timeout` / `proxy_read_timeout` expired: 504 Gateway Timeout.
    pub(crate) fn web_timeouts(&mut self, cx: &mut Context<'_, Ev>, i: u32) {
        let now = cx.now();
        while let Some((sub, _)) = self.webs[i as usize].timeouts.pop_expired(now) {
            if self.calls.get(sub).is_some() {
                self.web_sub_done(cx, i, sub, Outcome::Failed(FailReason::ServerTimeout));
            }
        }
        let calls = &self.calls;
        self.webs[i as usize].timeouts.rearm_discarding(
            cx,
            |t| sub_call_ended(calls, t),
            || Ev::WebTimeouts { web: i },
        );
    }
}
