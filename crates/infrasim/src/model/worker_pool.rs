//! A server's workers and accept queue: a request that finds a free worker starts at once;
//! otherwise it waits in the accept queue; when the queue is full the listen backlog
//! overflows and the kernel drops the connection's SYN (the caller retransmits it, see
//! `crate::model::tcp`). Web servers, app servers and
//! database nodes each have one.

use std::collections::VecDeque;

use infrasim_engine::SimTime;
use infrasim_engine::stats::TimeWeighted;

use crate::model::call::{Ref, Slab};

/// Workers and an accept queue, with their occupancy statistics.
pub(crate) struct WorkerPool<J> {
    pub workers: u32,
    pub queue_limit: u32,
    pub running: Slab<J>,
    pub queue: VecDeque<J>,
    pub busy: TimeWeighted,
    pub queued: TimeWeighted,
    pub served: u64,
    pub rejected: u64,
}

impl<J> WorkerPool<J> {
    pub(crate) fn new(workers: u32, queue_limit: u32) -> Self {
        WorkerPool {
            workers,
            queue_limit,
            running: Slab::default(),
            queue: VecDeque::new(),
            busy: TimeWeighted::new(SimTime::ZERO, 0),
            queued: TimeWeighted::new(SimTime::ZERO, 0),
            served: 0,
            rejected: 0,
        }
    }

    /// Admits a job: `Ok(Some(ref))` runs now, `Ok(None)` waits, `Err(job)` is refused.
    pub(crate) fn admit(&mut self, now: SimTime, job: J) -> Result<Option<Ref>, J> {
        if (self.running.len() as u32) < self.workers {
            let r = self.running.insert(job);
            self.busy.set(now, self.running.len() as u64);
            Ok(Some(r))
        } else if (self.queue.len() as u32) < self.queue_limit {
            self.queue.push_back(job);
            self.queued.set(now, self.queue.len() as u64);
            Ok(None)
        } else {
            self.rejected += 1;
            Err(job)
        }
    }

    /// Whether a new connection finds no room: every worker busy and the accept queue full.
    pub(crate) fn backlog_full(&self) -> bool {
        (self.running.len() as u32) >= self.workers && (self.queue.len() as u32) >= self.queue_limit
    }

    /// Ends a running job; returns it and, if one was waiting, the next job now running.
    pub(crate) fn finish(&mut self, now: SimTime, r: Ref) -> Option<(J, Option<Ref>)> {
        let job = self.running.remove(r)?;
        self.served += 1;
        let next = self.queue.pop_front().map(|j| {
            self.queued.set(now, self.queue.len() as u64);
            self.running.insert(j)
        });
        self.busy.set(now, self.running.len() as u64);
        Some((job, next))
    }

    /// Drops every job (crash); returns them.
    pub(crate) fn clear(&mut self, now: SimTime) -> Vec<J> {
        let refs: Vec<Ref> = self.running.iter().map(|(r, _)| r).collect();
        let mut out: Vec<J> = refs
            .into_iter()
            .filter_map(|r| self.running.remove(r))
            .collect();
        out.extend(self.queue.drain(..));
        self.busy.set(now, 0);
        self.queued.set(now, 0);
        out
    }

    /// Restart the occupancy statistics at the end of the warm-up.
    pub(crate) fn reset_stats(&mut self, now: SimTime) {
        self.busy.reset(now);
        self.queued.reset(now);
        self.served = 0;
        self.rejected = 0;
    }
}
