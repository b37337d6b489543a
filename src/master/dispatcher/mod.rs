//! The single owner of master state: the in-memory queue, the workers, the
//! runs in flight and the persistent side. It lives on the master's JS
//! thread and is driven from there: JS calls (`Cmd`), wake-ups from a
//! worker's socket, inputs other threads left in the inbox, and its own
//! timer. Each call ends in `pump`, which reads the workers' rings,
//! dispatches, scales the pool, starts database work, writes to the
//! workers, and says when it next needs to run. Nothing ticks.
//!
//! Why the JS thread: a task then costs two wake-ups, as with `node:cluster`
//! (master JS -> worker JS -> master JS), not five. The cost: a master
//! whose JS thread is busy dispatches nothing meanwhile (as upstream).
//!
//! - `workers`: a worker's frames, its start and its exit.
//! - `prefetch`: choosing the next task and worker, recalling runs sent ahead.
//! - `outcomes`: a run's end: done, failed, taken back.
//! - `scaling`: growing and shrinking the pool.
//! - `inputs`: JS calls, worker exits and database results coming in.
//! - `answers`: queries and `TaskQueue` calls.

mod answers;
mod inputs;
mod limits;
mod outcomes;
mod prefetch;
mod scaling;
#[cfg(test)]
mod tests;
mod workers;

use super::api::{Cmd, Config, KeepAlive, Query};
use super::events::{Events, JsEvent};
use super::inbox::{Input, WorkerEvent};
use super::persistent::{Persistent, StoreEvent, StoreLink};
use super::pool::Spawner;
use crate::channel;
use crate::error::{Code, CodedError};
use crate::log::Logger;
use crate::queue::memory::MemoryQueue;
use crate::task::{now_ms, Task};
use ahash::AHashMap as HashMap;
use outcomes::Source;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use workers::Worker;

pub(crate) use outcomes::Run;

/// Rounds of reading and dispatching one `pump` makes before it yields to
/// JS (and asks to run again at once): workers that answer faster than
/// the master reads must not starve the master's own event loop.
const MAX_ROUNDS: usize = 16;

/// Where the dispatcher is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not dispatching yet (before `initialize()`, or after `close()`).
    Waiting,
    Dispatching,
    /// `close()`: running tasks finish, claims go back, workers stop.
    Closing,
    /// A bug stopped it; every call fails from now on.
    Failed,
}

/// Counters for `cluster.stats()`.
#[derive(Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Counters {
    done: u64,
    failed: u64,
    /// Failed attempts retried.
    retried: u64,
    workers_started: u64,
    workers_exited: u64,
    /// ms from spawn to ready of the most recent worker.
    last_worker_start_ms: Option<f64>,
}

/// Which events JS listens to: the others are not built.
#[derive(Debug, Clone, Copy)]
struct Listening {
    done: bool,
    error: bool,
    retry: bool,
}

pub(crate) struct Dispatcher {
    config: Config,
    logger: Logger,
    spawner: Box<dyn Spawner>,
    queue: MemoryQueue,
    workers: BTreeMap<u32, Worker>,
    runs: HashMap<u64, Run>,
    next_worker: u32,
    next_run: u64,
    phase: Phase,
    spawn_after: Option<Instant>,
    spawn_backoff: Duration,
    last_work_at: Instant,
    events: Events,
    persistent: Persistent,
    /// JS calls not answered yet: their promises hold the process.
    js_requests: usize,
    counters: Counters,
    /// A worker became ready: spread runs sent ahead over the pool again.
    rebalance: bool,
    listening: Listening,
    /// When `pump` next needs to run, if nothing else happens first.
    wake_at: Option<Instant>,
    /// When JS's timer goes off (the earliest `wake_at` it was told of).
    js_timer: Option<Instant>,
    /// `pause()`: nothing starts until `resume()`.
    paused: bool,
    /// `close({ timeout })`: when running tasks are stopped and handed back.
    close_deadline: Option<Instant>,
}

impl Dispatcher {
    pub(crate) fn new(spawner: Box<dyn Spawner>, store: StoreLink) -> Self {
        let config = Config::default();
        Dispatcher {
            logger: Logger::new(config.logs),
            config,
            spawner,
            queue: MemoryQueue::default(),
            workers: BTreeMap::new(),
            runs: HashMap::default(),
            next_worker: 1,
            next_run: 1,
            phase: Phase::Waiting,
            spawn_after: None,
            spawn_backoff: scaling::SPAWN_BACKOFF,
            last_work_at: Instant::now(),
            events: Events::default(),
            persistent: Persistent::new(store),
            js_requests: 0,
            counters: Counters::default(),
            rebalance: false,
            listening: Listening {
                done: true,
                error: true,
                retry: true,
            },
            wake_at: None,
            js_timer: None,
            paused: false,
            close_deadline: None,
        }
    }

    pub(crate) fn query(&mut self, query: Query) -> Result<Option<String>, CodedError> {
        self.check_alive()?;
        Ok(self.answer(query))
    }

    /// What the socket of `worker` would not take, for JS to write.
    pub(crate) fn take_blocked(&mut self, worker: u32) -> Vec<u8> {
        self.workers
            .get_mut(&worker)
            .map(|w| w.link.take_blocked())
            .unwrap_or_default()
    }

    /// Every event since the last take, with a `timer` event when `pump`
    /// must run before the timer JS holds. A timer that goes off early is
    /// harmless (`timer_fired` asks again), so a time that moved later, as
    /// the idle deadline does after every task, costs JS nothing.
    pub(crate) fn take_events(&mut self) -> String {
        self.logger.flush();
        if let Some(at) = self.wake_at {
            if self.js_timer.is_none_or(|held| at < held) {
                self.js_timer = Some(at);
                let ms = at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0;
                self.events.push(&JsEvent::Timer { ms });
            }
        }
        self.events.take()
    }

    /// JS's timer went off: the next take announces the time to come back,
    /// whatever it is.
    pub(crate) fn timer_fired(&mut self) {
        self.js_timer = None;
    }

    /// Whether the master has work, so JS holds its event loop open.
    pub(crate) fn busy(&self) -> bool {
        match self.phase {
            Phase::Failed => false,
            Phase::Closing => true,
            Phase::Waiting | Phase::Dispatching => {
                self.js_requests > 0
                    || !self.persistent.settled()
                    || (self.phase == Phase::Dispatching
                        && (!self.queue.is_empty()
                            || !self.runs.is_empty()
                            || self.config.keep_alive == KeepAlive::Always
                            || self.persistent.busy()))
            }
        }
    }

    /// Stops for good after a bug: kills the workers and tells JS, which
    /// fails every pending call. Nothing of the state is trusted after.
    pub(crate) fn fail(&mut self, why: &str) {
        if self.phase == Phase::Failed {
            return;
        }
        self.phase = Phase::Failed;
        self.logger
            .error(&format!("the meteor-cluster dispatcher stopped: {why}"));
        for w in self.workers.values() {
            w.link.signal(crate::sys::Signal::Kill);
        }
        self.events.push(&JsEvent::Fatal { message: why });
        self.wake_at = None;
    }

    fn check_alive(&self) -> Result<(), CodedError> {
        if self.phase == Phase::Failed {
            return Err(CodedError::new(
                Code::Closed,
                "the meteor-cluster dispatcher has stopped (see the error logged when it did)",
            ));
        }
        Ok(())
    }

    /// Reads the workers, dispatches, scales the pool, starts database work,
    /// writes to the workers; records when to run again.
    fn pump(&mut self) {
        for _ in 0..MAX_ROUNDS {
            self.read_workers();
            let wake_at = self.round();
            self.flush_workers();
            self.finish_closing();
            if self.arm_workers() {
                self.wake_at = wake_at;
                return;
            }
        }
        // Workers keep answering: come back at once, after JS had a turn.
        self.wake_at = Some(Instant::now());
    }

    /// One round of decisions; when the next timer is due.
    fn round(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut wake_at: Option<Instant> = None;
        let mut wake = |at: Instant| wake_at = Some(wake_at.map_or(at, |w: Instant| w.min(at)));

        let dispatching = self.phase == Phase::Dispatching && !self.paused;
        let now_ms = now_ms();
        if dispatching {
            self.prefetch_round(now_ms);
        } else if std::mem::take(&mut self.rebalance) {
            // Paused or closing: runs sent ahead have not started; back.
            self.recall(now_ms, true);
        }
        let in_memory = if dispatching {
            self.queue.available_count(now_ms)
        } else {
            0
        };
        // Runs sent ahead behind a running one wait too: they count when
        // deciding whether to start another worker.
        let behind: usize = self.workers.values().map(Worker::waiting_behind).sum();
        let waiting = in_memory
            + if dispatching {
                self.persistent.buffered() + behind
            } else {
                0
            };
        // Claim ahead: a task for every worker and one more round, after the
        // in-memory tasks, which always go first. Not `prefetch` per worker:
        // claims taken ahead are hidden from other masters sharing the
        // collection; the claim batch grows by itself while workers drain
        // a backlog faster than claims come back.
        let want = if dispatching {
            (2 * self.config.max_workers).saturating_sub(self.runs.len() + in_memory)
        } else {
            0
        };
        let connected = matches!(self.phase, Phase::Dispatching | Phase::Closing);
        let runs = &self.runs;
        let running = || {
            runs.values()
                .filter_map(|r| match &r.source {
                    Source::Claimed(c) => Some(c.token.clone()),
                    Source::Memory(_) => None,
                })
                .collect()
        };
        if let Some(at) = self.persistent.pump(want, dispatching, connected, running) {
            wake(at);
        }
        // Claims this master will not run now go back to the collection,
        // where other masters can take them.
        if self.phase == Phase::Closing || self.paused {
            self.persistent.release();
        }
        if waiting > 0 || !self.runs.is_empty() {
            self.last_work_at = now;
        }
        if dispatching {
            if let Some(due) = self.queue.next_due() {
                wake(now + Duration::from_millis((due - now_ms).max(0) as u64));
            }
            self.scale_up(waiting, now, &mut wake);
        }
        self.scale_down(waiting, now, &mut wake);
        self.stop_timeouts(now, &mut wake);
        self.run_deadlines(now, &mut wake);
        wake_at
    }

    fn finish_closing(&mut self) {
        if self.phase == Phase::Closing
            && self.runs.is_empty()
            && self.workers.is_empty()
            && self.persistent.settled()
        {
            self.phase = Phase::Waiting;
            self.events.push(&JsEvent::Closed);
        }
    }
}
