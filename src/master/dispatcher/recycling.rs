//! Workers retired before they leak: after `workerMaxTasks` runs, or once
//! their resident memory passes `workerMaxMemory` (read between runs, from
//! outside the worker), a worker finishes the run it runs, hands back what
//! was sent ahead, and is stopped; a fresh one takes over (`scaling`).
//! Nothing fails, is lost or runs twice for it.

use super::pool::WorkerState;
use super::Dispatcher;
use crate::log::Fields;
use std::time::Duration;
use tokio::time::Instant;

/// A worker's memory is read at most this often: reading it costs a few
/// system calls, and a busy worker ends thousands of runs a second.
const MEMORY_READ_EVERY: Duration = Duration::from_millis(50);

impl Dispatcher {
    /// A run of worker `id` ended: it is retired if it has run all it may,
    /// or holds too much memory.
    pub(super) fn after_run(&mut self, id: u32, now: Instant) {
        let limits = self.config.recycling;
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        w.runs += 1;
        if w.state != WorkerState::Ready {
            return;
        }
        let pid = w.link.pid();
        let why = if limits.max_runs.is_some_and(|max| w.runs >= max) {
            Some(format!("after {} runs (workerMaxTasks)", w.runs))
        } else if let Some(max) = limits.max_memory {
            let due = w
                .memory_read_at
                .is_none_or(|at| now.duration_since(at) >= MEMORY_READ_EVERY);
            let rss = if due {
                w.memory_read_at = Some(now);
                w.link.rss_bytes()
            } else {
                None
            };
            rss.filter(|&rss| rss > max).map(|rss| {
                format!(
                    "its resident memory, {} MiB, is above workerMaxMemory ({} MiB)",
                    rss >> 20,
                    max >> 20
                )
            })
        } else {
            None
        };
        if let Some(why) = why {
            self.counters.workers_retired += 1;
            self.logger.info(
                "worker_retired",
                &format!(
                    "worker {id} (pid {pid}) retired: {why}; it finishes its run and a fresh worker takes over"
                ),
                &Fields::worker(id, pid),
            );
            self.pool.retire(id);
        }
    }
}
