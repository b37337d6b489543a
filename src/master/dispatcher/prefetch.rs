//! Choosing what runs where. A worker holds up to `prefetch` runs (it runs
//! them one at a time, in order), so a busy pool does not pay a round trip
//! per task. Sending ahead never reorders: runs a better waiting task
//! outranks are recalled first (the worker hands back those it has not
//! started), and runs waiting behind a long task are recalled when another
//! worker is idle, or when a new one is ready.

use super::outcomes::{Run, RunTask, Source};
use super::*;
use crate::channel::ToWorker;
use crate::task::RunOrder;

/// Runs a worker may hold when the next task is a persistent one: claims
/// parked in a worker are hidden from other masters sharing the collection.
const PERSISTENT_AHEAD: usize = 2;
/// Task JSON a worker may hold before it gets more: with large `data`,
/// sending 64 tasks ahead would move the queue into the workers' memory.
const AHEAD_BYTES: usize = 1 << 20;

/// A task's place across both queues: in-memory tasks before persistent
/// ones, then the queue's own order. Greater runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    in_memory: bool,
    order: RunOrder,
}

fn persistent_rank(task: &Task) -> Rank {
    Rank {
        in_memory: false,
        order: RunOrder::of(task, 0),
    }
}

/// A run as its worker's FIFO holds it: what recalling needs, without
/// looking the run up.
pub(super) struct Sent {
    pub(super) run: u64,
    rank: Rank,
    /// A `Recall` for it was sent.
    recalling: bool,
}

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
        if self.idle_beside_waiting() {
            self.recall(now_ms, true);
        }
    }

    /// Asks workers for runs sent ahead that should not wait where they are:
    /// those a waiting task outranks, and with `all`, every one of them.
    pub(super) fn recall(&mut self, now_ms: i64, all: bool) {
        if self.config.prefetch <= 1 {
            return;
        }
        let best = self
            .queue
            .peek_next(now_ms)
            .map(|order| Rank {
                in_memory: true,
                order,
            })
            .or_else(|| self.persistent.peek().map(persistent_rank));
        if best.is_none() && !all {
            return;
        }
        for w in self.workers.values_mut() {
            if w.is_stopping() || w.sent.len() < 2 {
                continue;
            }
            let mut runs = Vec::new();
            for s in w.sent.iter_mut().skip(1) {
                if !s.recalling && (all || best.is_some_and(|b| b > s.rank)) {
                    s.recalling = true;
                    runs.push(s.run);
                }
            }
            if !runs.is_empty() {
                w.send(&ToWorker::Recall { runs });
            }
        }
    }

    fn idle_beside_waiting(&self) -> bool {
        let live = || self.workers.values().filter(|w| w.is_live());
        live().any(|w| w.sent.is_empty())
            && live().any(|w| w.sent.iter().skip(1).any(|s| !s.recalling))
    }

    /// Hands due tasks to ready workers with room, each to the one with the
    /// fewest runs, so an idle worker is always served first.
    fn dispatch(&mut self, now_ms: i64) {
        loop {
            // A claimed persistent task waits in a worker's FIFO only behind
            // one other: claims parked there would be hidden from other
            // masters, and from the claim logic that sees workers drain the
            // buffer faster than claims come back.
            let room = if self.queue.available_count(now_ms) > 0 {
                self.config.prefetch
            } else {
                self.config.prefetch.min(PERSISTENT_AHEAD)
            };
            let Some(id) = self
                .workers
                .iter()
                .filter(|(_, w)| {
                    w.is_live()
                        && w.sent.len() < room
                        && (w.sent.is_empty() || w.sent_bytes < AHEAD_BYTES)
                })
                .min_by_key(|(_, w)| w.sent.len())
                .map(|(id, _)| *id)
            else {
                return;
            };
            let Some(next) = self.next_task(now_ms) else {
                return;
            };
            self.assign(id, next);
        }
    }

    fn assign(&mut self, id: u32, next: Next) {
        let Next { task, rank, source } = next;
        let run = self.next_run;
        self.next_run += 1;
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.line.push_run(run, &task.row);
        // Sent ahead, it starts (and says so) when the one before it ends.
        let starts_now = w.sent.is_empty();
        w.sent_bytes += task.row.len();
        w.sent.push_back(Sent {
            run,
            rank,
            recalling: false,
        });
        let mut r = Run {
            worker: id,
            task,
            source,
            started: None,
            deadline: None,
        };
        if starts_now {
            r.start(Instant::now(), self.config.task_timeout, &self.logger);
        }
        self.runs.insert(run, r);
    }

    /// The next task to run: in-memory ones always before persistent ones.
    fn next_task(&mut self, now_ms: i64) -> Option<Next> {
        if let Some((task, order, place)) = self.queue.take_next(now_ms) {
            let rank = Rank {
                in_memory: true,
                order,
            };
            return Some(Next {
                task: RunTask::of(task),
                rank,
                source: Source::Memory(place),
            });
        }
        let claimed = Box::new(self.persistent.take()?);
        Some(Next {
            task: RunTask::of(&claimed.task),
            rank: persistent_rank(&claimed.task),
            source: Source::Claimed(claimed),
        })
    }
}
