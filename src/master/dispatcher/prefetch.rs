//! Choosing what runs where. A worker holds up to `prefetch` runs (it runs
//! them one at a time, in order), so a busy pool does not pay a round trip
//! per task. Sending ahead never reorders: runs a better waiting task
//! outranks are recalled first (the worker hands back those it has not
//! started), and runs waiting behind a long task are recalled when another
//! worker is idle, or when a new one is ready.

use super::run::{Rank, RunTask, Source, Start};
use super::Dispatcher;
use crate::master::metrics::Queue;
use tokio::time::Instant;

/// Runs a worker may hold when the next task is a persistent one: claims
/// parked in a worker are hidden from other masters sharing the collection.
const PERSISTENT_AHEAD: usize = 2;
/// Task rows a worker may hold before it gets more: with large `data`,
/// sending 64 tasks ahead would move the queue into the workers' memory.
const AHEAD_BYTES: usize = 1 << 20;

/// A task ready to hand to a worker, from either queue.
struct Next {
    task: RunTask,
    rank: Rank,
    source: Source,
}

impl Dispatcher {
    /// Recalls what should not wait where it is, then dispatches.
    pub(super) fn prefetch_round(&mut self, now_ms: i64) {
        // Recall first: messages reach a worker in order, so it drops what
        // it hands back before it sees the better task.
        let rebalance = std::mem::take(&mut self.rebalance);
        self.recall(now_ms, rebalance);
        self.dispatch(now_ms);
        // A worker left idle while others hold runs they have not started
        // (tasks of uneven length): share those out again.
        if self.pool.idle_beside_waiting() {
            self.recall(now_ms, true);
        }
    }

    /// Asks workers for runs sent ahead that should not wait where they are:
    /// those a waiting task outranks, and with `all`, every one of them.
    pub(super) fn recall(&mut self, now_ms: i64, all: bool) {
        if self.config.prefetch <= 1 {
            return;
        }
        if all {
            return self.pool.recall_all();
        }
        let best = self
            .queue
            .peek_next(now_ms)
            .map(|order| Rank {
                in_memory: true,
                order,
            })
            .or_else(|| self.persistent.peek().map(Rank::persistent));
        if let Some(best) = best {
            self.pool.recall_outranked(best);
        }
    }

    /// Hands due tasks to ready workers with room, each to the one with the
    /// fewest runs, so an idle worker is always served first.
    fn dispatch(&mut self, now_ms: i64) {
        loop {
            // A claimed persistent task waits in a worker's queue only
            // behind one other: claims parked there would be hidden from
            // other masters, and from the claim logic that sees workers
            // drain the buffer faster than claims come back.
            let room = if self.queue.available_count(now_ms) > 0 {
                self.config.prefetch
            } else {
                self.config.prefetch.min(PERSISTENT_AHEAD)
            };
            let Some(id) = self.pool.least_loaded(room, AHEAD_BYTES) else {
                return;
            };
            let held = self.pool.held(id);
            let Some(Next { task, rank, source }) = self.next_task(now_ms, held) else {
                return;
            };
            let start = Start {
                now: Instant::now(),
                default_timeout: self.config.task_timeout,
                logger: &self.logger,
            };
            // Counted only where some type is limited (no clones on the hot path).
            let limited =
                (!self.limiter.is_empty()).then(|| (task.task_type.clone(), task.group.clone()));
            if let Some(run) = self.pool.assign(id, task, rank, source, &start) {
                self.observe_start(run);
                if let Some((task_type, group)) = limited {
                    self.limit_sent(&task_type, group.as_ref());
                }
            }
        }
    }

    /// The next task to run (for a worker that holds `held` runs):
    /// in-memory ones always before persistent ones.
    fn next_task(&mut self, now_ms: i64, held: usize) -> Option<Next> {
        if let Some((task, order, place)) = self.queue.take_next(now_ms, held) {
            let start_by = self.limiter.start_deadline(&task.task_type, now_ms);
            return Some(Next {
                task: RunTask::of(task, Queue::Memory, start_by),
                rank: Rank {
                    in_memory: true,
                    order,
                },
                source: Source::Memory(place),
            });
        }
        let limiter = &mut self.limiter;
        let claimed = Box::new(self.persistent.take(|task| {
            limiter.admits(&task.task_type, task.group.as_ref(), held == 0, now_ms)
        })?);
        // The earlier of this master's rate deadline and the fleet's.
        let start_by = [
            self.limiter.start_deadline(&claimed.task.task_type, now_ms),
            self.persistent.start_deadline(&claimed, now_ms),
        ]
        .into_iter()
        .flatten()
        .min();
        Some(Next {
            task: RunTask::of(&claimed.task, Queue::Persistent, start_by),
            rank: Rank::persistent(&claimed.task),
            source: Source::Claimed(claimed),
        })
    }
}
