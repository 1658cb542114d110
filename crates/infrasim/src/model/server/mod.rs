//! Web servers (nginx-like, `web`) and application servers (`app`): each a pool of workers
//! with an accept queue ([`crate::model::worker_pool`]). What both share is here: accepting a
//! connection (or refusing it when the queue is full), gray failures (slower service,
//! errors), answering health checks, finishing a job, and losing every job in a crash.

mod app;
mod web;

use infrasim_engine::Context;
use infrasim_engine::rng::open01;

pub(crate) use app::AppServer;
pub(crate) use web::WebServer;

use crate::model::call::{Call, Outcome, Parent, Ref, Slab};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::worker_pool::WorkerPool;
use crate::model::{Received, World};
use crate::scenario::{Class, CrashMode};

/// What a server is doing for one request.
#[derive(Debug)]
pub(crate) struct Job {
    /// The incoming call it serves.
    pub call: Ref,
    pub class: Class,
    pub key: u32,
    pub addr: u32,
    /// The request's work (see [`crate::model::call::Call::work`]).
    pub work: u32,
    /// Database calls still to make (app servers).
    pub db_left: u32,
    /// The outstanding call to the upstream or the database.
    pub sub: Option<Ref>,
    /// Read retries already spent on other database nodes.
    pub db_retries: u32,
    /// A load balancer's HTTP health check (served like a static request, without database
    /// calls).
    pub check: bool,
}

impl World {
    fn job_from_call(&self, call: Ref) -> Option<Job> {
        let c = self.calls.get(call)?;
        Some(Job {
            call,
            class: c.class,
            key: c.key,
            addr: c.addr,
            work: c.work,
            db_left: 0,
            sub: None,
            db_retries: 0,
            check: matches!(c.parent, Parent::Check { .. }),
        })
    }

    /// Accepts a connection into a pool. Returns the job to start, if any, or `Err` when the
    /// accept queue (the listen backlog) is full: the kernel drops the SYN
    /// (`tcp_abort_on_overflow` 0, the Linux default) and the caller retransmits it.
    fn accept_into(
        &mut self,
        cx: &mut Context<'_, Ev>,
        node: Node,
        call: Ref,
    ) -> Result<Option<Ref>, Received> {
        let Some(job) = self.job_from_call(call) else {
            return Ok(None);
        };
        let now = cx.now();
        match self.pool_mut(node).admit(now, job) {
            Ok(start) => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.connected_at = now;
                }
                Ok(start)
            }
            Err(_) => Err(Received::Dropped),
        }
    }

    fn pool_mut(&mut self, node: Node) -> &mut WorkerPool<Job> {
        match node {
            Node::Web(i) => &mut self.webs[i as usize].pool,
            Node::App(i) => &mut self.apps[i as usize].pool,
            _ => unreachable!("only servers have pools"),
        }
    }

    fn slowdown(&self, node: Node) -> f64 {
        self.net.slowdown(node)
    }

    fn errors_now(&mut self, node: Node) -> bool {
        let p = self.net.error_rate(node);
        if p <= 0.0 {
            return false;
        }
        let rng = match node {
            Node::Web(i) => &mut self.webs[i as usize].rng,
            Node::App(i) => &mut self.apps[i as usize].rng,
            _ => return false,
        };
        open01(rng) < p
    }

    /// Answers a job's caller, frees the worker and starts the next queued job.
    fn server_finish(&mut self, cx: &mut Context<'_, Ev>, node: Node, job: Ref, outcome: Outcome) {
        let now = cx.now();
        let Some((j, next)) = self.pool_mut(node).finish(now, job) else {
            return;
        };
        if let Some(ops) = self.ops.as_deref_mut()
            && let Some(c) = self.calls.get(j.call)
        {
            ops.server_answered(node, outcome, now.saturating_since(c.connected_at));
        }
        self.reply(cx, j.call, outcome);
        if let Some(next) = next {
            match node {
                Node::Web(i) => self.web_start(cx, i, next),
                Node::App(i) => self.app_start(cx, i, next),
                _ => {}
            }
        }
    }

    /// A TCP health check reaches a server: the kernel completes the handshake if the
    /// listen backlog has room (the check passes; HAProxy then closes the connection), and
    /// drops the SYN if it is full, so a saturated or hung server's checks time out.
    fn answer_probe(
        &mut self,
        cx: &mut Context<'_, Ev>,
        me: Node,
        (lb, slot, seq): (u32, u32, u32),
    ) -> Received {
        if self.pool_mut(me).backlog_full() {
            self.pool_mut(me).rejected += 1;
            return Received::Dropped;
        }
        let ok = true;
        self.send(cx, me, Node::Lb(lb), Msg::ProbeReply { lb, slot, seq, ok });
        Received::Taken
    }

    /// Takes a server down: its jobs are lost. With the host still up (process crash) the
    /// kernel resets every connection, so callers learn at once; with the host gone they
    /// wait for their timeouts.
    pub(crate) fn server_crash(&mut self, cx: &mut Context<'_, Ev>, node: Node) {
        let now = cx.now();
        let process = self.state(node).down == Some(CrashMode::Process);
        let jobs = match node {
            Node::Web(i) => self.webs[i as usize].pool.clear(now),
            Node::App(i) => self.apps[i as usize].pool.clear(now),
            _ => return,
        };
        for j in jobs {
            if let Some(sub) = j.sub {
                self.sub_owner_take(sub);
                self.calls.remove(sub);
            }
            if process {
                self.reset(cx, j.call);
            }
        }
    }

    /// Remembers which job owns a sub-call (its `slot` field is the callee's index for
    /// database calls, so the owner goes in a side table keyed by the call's slab index).
    fn sub_owner_set(&mut self, sub: Ref, job: Ref) {
        let i = sub.index();
        if self.sub_owner.len() <= i {
            self.sub_owner.resize(i + 1, None);
        }
        self.sub_owner[i] = Some((sub, job));
    }

    fn sub_owner_take(&mut self, sub: Ref) -> Option<Ref> {
        let slot = self.sub_owner.get_mut(sub.index())?;
        match *slot {
            Some((s, job)) if s == sub => {
                *slot = None;
                Some(job)
            }
            _ => None,
        }
    }
}

/// Whether a web or app server's deadline entry no longer guards anything: its sub-call ended.
fn sub_call_ended(calls: &Slab<Call>, &(sub, _): &(Ref, bool)) -> bool {
    calls.get(sub).is_none()
}
