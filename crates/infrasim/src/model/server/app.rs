//! Application servers: a request takes its service time, then makes its database calls one
//! after another (a thread-per-request worker blocks on each query), then answers. Queries go
//! where ProxySQL-like read routing sends them; a connection not accepted within ProxySQL's
//! connect timeout is a connection failure (a read is retried on another node, which is
//! shunned); a query not answered within `db_timeout` fails the request.

use infrasim_engine::dist::Dist;
use infrasim_engine::{Context, RngStreams, SimDuration, SimRng, TimeoutQueue, WorkRng};

use super::{Job, sub_call_ended};
use crate::model::call::{Call, DbOp, FailReason, Outcome, Parent, Ref, Tier};
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::model::worker_pool::WorkerPool;
use crate::model::{Received, World};
use crate::scenario::{self, Class};

/// An application server.
pub(crate) struct AppServer {
    pub pool: WorkerPool<Job>,
    pub service: [Dist; 3],
    pub db_calls: [u32; 3],
    pub cluster: Option<u32>,
    pub db_timeout: SimDuration,
    pub rng: SimRng,
    /// Deadlines of database calls: (call, whether the connect phase is over).
    pub timeouts: TimeoutQueue<(Ref, bool)>,
}

impl AppServer {
    /// An app server as the scenario describes it, with the database cluster it calls.
    pub(crate) fn new(
        spec: &scenario::AppServer,
        cluster: Option<u32>,
        streams: &RngStreams,
    ) -> Self {
        let service = |c: Class| spec.service.get(c).validated();
        AppServer {
            pool: WorkerPool::new(spec.workers, spec.queue),
            service: [
                service(Class::Read),
                service(Class::Write),
                service(Class::Static),
            ],
            db_calls: [
                spec.db_calls.read,
                spec.db_calls.write,
                spec.db_calls.r#static,
            ],
            cluster,
            db_timeout: spec.db_timeout,
            rng: streams.stream(&format!("app/{}", spec.name)),
            timeouts: TimeoutQueue::default(),
        }
    }
}

/// ProxySQL `connect_timeout_server` default 1000 ms: a connection to a database node that
/// is not accepted within it is abandoned and the query tried elsewhere.
const DB_CONNECT_TIMEOUT: SimDuration = SimDuration::from_millis(1000);
/// Reads retried on another node after a connection failure (ProxySQL retries
/// transparently, `connect_retries_on_failure`).
const DB_READ_RETRIES: u32 = 2;

impl AppServer {
    /// How long after a query is sent its connection deadline falls: ProxySQL's connect
    /// timeout, or the whole `db_timeout` if that is shorter. The one place this is decided:
    /// a query's own deadline is derived back from its connection deadline with it.
    fn db_connect_wait(&self) -> SimDuration {
        DB_CONNECT_TIMEOUT.min(self.db_timeout)
    }
}

impl World {
    pub(crate) fn app_receive(&mut self, cx: &mut Context<'_, Ev>, i: u32, msg: Msg) -> Received {
        let me = Node::App(i);
        match msg {
            Msg::Call(call) => match self.accept_into(cx, me, call) {
                Ok(Some(job)) => self.app_start(cx, i, job),
                Ok(None) => {}
                Err(dropped) => return dropped,
            },
            Msg::Reply { call, outcome } => self.app_db_done(cx, i, call, outcome, false),
            Msg::Reset(call) => {
                let connected = self
                    .calls
                    .get(call)
                    .is_some_and(|c| c.connected().is_some());
                self.app_db_done(
                    cx,
                    i,
                    call,
                    Outcome::Failed(FailReason::DatabaseUnavailable),
                    !connected,
                );
            }
            Msg::Probe { lb, slot, seq } => return self.answer_probe(cx, me, (lb, slot, seq)),
            _ => {}
        }
        Received::Taken
    }

    pub(super) fn app_start(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let k = self.slowdown(Node::App(i));
        let work_key = self.work_key;
        let tls = (self.apps[i as usize].pool.running.get(job))
            .map_or(SimDuration::ZERO, |j| self.backend_tls_cost(j.call));
        let a = &mut self.apps[i as usize];
        let Some(j) = a.pool.running.get_mut(job) else {
            return;
        };
        j.db_left = if j.check {
            0
        } else {
            a.db_calls[j.class.index()]
        };
        let mut demand = WorkRng::new(work_key, u64::from(j.work) << 8 | Tier::App as u64);
        let d = a.service[j.class.index()].sample(&mut demand) + tls;
        let d = if k == 1.0 { d } else { d.mul_f64(k) };
        cx.schedule_in(
            d,
            Ev::WorkDone {
                node: Node::App(i),
                job,
            },
        );
    }

    pub(crate) fn app_work_done(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        if self.apps[i as usize].pool.running.get(job).is_none() {
            return;
        }
        if self.errors_now(Node::App(i)) {
            self.server_finish(
                cx,
                Node::App(i),
                job,
                Outcome::Failed(FailReason::ServerError),
            );
            return;
        }
        self.app_next_db_call(cx, i, job);
    }

    /// Makes the job's next database call, or answers when none is left.
    fn app_next_db_call(&mut self, cx: &mut Context<'_, Ev>, i: u32, job: Ref) {
        let a = &self.apps[i as usize];
        let Some(j) = a.pool.running.get(job) else {
            return;
        };
        if j.db_left == 0 {
            self.server_finish(cx, Node::App(i), job, Outcome::Ok);
            return;
        }
        let Some(cluster) = a.cluster else {
            self.server_finish(cx, Node::App(i), job, Outcome::Ok);
            return;
        };
        // A write request's calls are writes; reads (and static) read.
        let op = if j.class == Class::Write {
            DbOp::Write
        } else {
            DbOp::Read
        };
        let carried = (j.class, j.key, j.addr, j.work);
        let parent = j.call;
        // Queries are numbered within the request, so a read retried elsewhere is the same work.
        let index = a.db_calls[j.class.index()] - j.db_left;
        let connect_wait = a.db_connect_wait();
        let target = self.db_route(cx.now(), cluster, op);
        let now = cx.now();
        let call = Call::new(
            Parent::Call(parent),
            Node::App(i),
            Node::Db(target),
            carried,
        );
        let sub = self.calls.insert(call.query(op, target, index));
        let deadline = now + connect_wait;
        let calls = &self.calls;
        self.apps[i as usize].timeouts.push_discarding(
            cx,
            deadline,
            (sub, false),
            |t| sub_call_ended(calls, t),
            || Ev::AppTimeouts { app: i },
        );
        if let Some(j) = self.apps[i as usize].pool.running.get_mut(job) {
            j.sub = Some(sub);
        }
        self.sub_owner_set(sub, job);
        self.send(cx, Node::App(i), Node::Db(target), Msg::Call(sub));
    }

    /// A database call ended. `conn_failure`: the connection itself failed, so a read may
    /// be retried on another node (and the node is shunned, as ProxySQL does).
    fn app_db_done(
        &mut self,
        cx: &mut Context<'_, Ev>,
        i: u32,
        sub: Ref,
        outcome: Outcome,
        conn_failure: bool,
    ) {
        let Some(job) = self.sub_owner_take(sub) else {
            return;
        };
        let Some(c) = self.calls.remove(sub) else {
            return;
        };
        let a = &mut self.apps[i as usize];
        let Some(j) = a.pool.running.get_mut(job) else {
            return;
        };
        j.sub = None;
        match outcome {
            Outcome::Ok => {
                j.db_left -= 1;
                j.db_retries = 0;
                self.app_next_db_call(cx, i, job);
            }
            Outcome::Failed(_) => {
                let cluster = a.cluster;
                let retry =
                    conn_failure && c.db_op == Some(DbOp::Read) && j.db_retries < DB_READ_RETRIES;
                if retry {
                    j.db_retries += 1;
                }
                if conn_failure && let Some(cl) = cluster {
                    self.db_shun(cx.now(), cl, c.slot);
                }
                if retry {
                    self.app_next_db_call(cx, i, job);
                } else {
                    self.server_finish(
                        cx,
                        Node::App(i),
                        job,
                        Outcome::Failed(FailReason::DatabaseUnavailable),
                    );
                }
            }
        }
    }

    /// Database call deadlines: a connection not accepted within ProxySQL's connect timeout
    /// is a connection failure (the read may go elsewhere); a query not answered within
    /// `db_timeout` fails the request.
    pub(crate) fn app_timeouts(&mut self, cx: &mut Context<'_, Ev>, i: u32) {
        let now = cx.now();
        let a = &self.apps[i as usize];
        let query_after_connect = a.db_timeout - a.db_connect_wait();
        while let Some((at, (sub, query_phase))) =
            self.apps[i as usize].timeouts.pop_expired_entry(now)
        {
            let Some(c) = self.calls.get(sub) else {
                continue;
            };
            let unavailable = Outcome::Failed(FailReason::DatabaseUnavailable);
            match (query_phase, c.connected()) {
                (false, Some(_)) => {
                    // The connection deadline was set at the query's start plus the connect
                    // timeout: the query's own deadline counts from the same start.
                    let deadline = at + query_after_connect;
                    if deadline > now {
                        self.apps[i as usize]
                            .timeouts
                            .push(cx, deadline, (sub, true), || Ev::AppTimeouts { app: i });
                    } else {
                        self.app_db_done(cx, i, sub, unavailable, false);
                    }
                }
                (false, None) => self.app_db_done(cx, i, sub, unavailable, true),
                (true, _) => self.app_db_done(cx, i, sub, unavailable, false),
            }
        }
        let calls = &self.calls;
        self.apps[i as usize].timeouts.rearm_discarding(
            cx,
            |t| sub_call_ended(calls, t),
            || Ev::AppTimeouts { app: i },
        );
    }
}
