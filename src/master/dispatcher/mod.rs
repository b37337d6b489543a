//! The single owner of master state: the in-memory queue, the pool of
//! workers and their runs, the persistent side, the lifecycle. It lives on
//! the master's JS thread and is driven from there: JS calls (`Cmd`),
//! wake-ups from a worker's socket, inputs other threads left in the inbox,
//! and its own timer. Each call ends in `advance`, which reads the workers'
//! rings, makes a round of decisions, writes to the workers, and says when
//! it next needs to run. Nothing ticks.
//!
//! Why the JS thread: a task then costs two wake-ups, as with `node:cluster`
//! (master JS -> worker JS -> master JS), not five. The cost: a master
//! whose JS thread is busy dispatches nothing meanwhile (as upstream).
//!
//! Each part owns its state, and the others ask it:
//!
//! - `lifecycle`: running, paused, closing, closed, as one state.
//! - `pool`: the workers, the runs in flight, what each worker holds.
//! - `run`: one attempt at a task.
//! - `inputs`: JS calls, worker exits and database results coming in.
//! - `frames`: a worker's frames read, its lines written, its exit.
//! - `prefetch`: choosing the next task and worker, recalling runs sent ahead.
//! - `outcomes`: a run's end: done, retried, rescheduled, failed, taken back.
//! - `steering`: progress reports; runs stopped from outside (cancel,
//!   timeout) through their signal; `TaskQueue.cancel`.
//! - `deadlines`: stopped runs given `cancelGrace`, then their workers
//!   stopped; `close({ timeout })`.
//! - `scaling`: growing and shrinking the pool.
//! - `recycling`: retiring workers after `workerMaxTasks` runs or past
//!   `workerMaxMemory`.
//! - `limiting`: runs counted against their type's limits (`Limiter`).
//! - `answers`: queries, requests and their replies.
//! - `exits`: the last worker exits, with the task each was blamed for.
//! - `registry`: this master's heartbeat in the masters' registry, and
//!   the pause or resume a dashboard asked for through it.

mod answers;
mod deadlines;
mod exits;
mod frames;
mod inputs;
mod lifecycle;
mod limiting;
mod outcomes;
mod pool;
mod prefetch;
mod recycling;
mod registry;
mod run;
mod scaling;
mod steering;
#[cfg(test)]
mod tests;

use super::api::{Config, KeepAlive};
use super::limiter::Limiter;
use super::metrics::Metrics;
use super::persistent::{Persistent, StoreLink};
use super::process::Spawner;
use crate::error::{Code, CodedError};
use crate::log::Logger;
use crate::queue::memory::MemoryQueue;
use crate::task::now_ms;
use crate::wire::events::{Events, JsEvent};
use crate::wire::payload::Payload;
use lifecycle::Lifecycle;
use pool::Pool;
use scaling::Spawning;
use std::time::Duration;
use tokio::time::Instant;

/// Rounds of reading and deciding one `advance` makes before it yields to
/// JS (and asks to run again at once): workers that answer faster than
/// the master reads must not starve the master's own event loop.
const MAX_ROUNDS: usize = 16;

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
    /// Workers retired by `workerMaxTasks` or `workerMaxMemory`.
    workers_retired: u64,
    /// Workers that died or timed out before they were ready.
    worker_start_failures: u64,
    /// ms from spawn to ready of the most recent worker.
    last_worker_start_ms: Option<f64>,
}

/// Which events JS listens to: the others are not built.
#[derive(Debug, Clone, Copy)]
struct Listening {
    done: bool,
    error: bool,
    retry: bool,
    progress: bool,
}

/// The earliest of the times a round needs to look again.
#[derive(Default)]
struct Wake(Option<Instant>);

impl Wake {
    fn at(&mut self, at: Instant) {
        self.0 = Some(self.0.map_or(at, |w| w.min(at)));
    }
}

/// When `advance` must run again, and what JS's one timer was told.
#[derive(Default)]
struct Timer {
    /// When `advance` next needs to run, if nothing else happens first.
    wake_at: Option<Instant>,
    /// When JS's timer goes off (the earliest `wake_at` it was told of).
    js_timer: Option<Instant>,
}

/// What waits for a worker after the round's dispatch.
struct Demand {
    /// Tasks that could run now: due in memory, claimed, sent ahead.
    waiting: usize,
    /// Persistent tasks the pool could take now, to claim.
    claims: usize,
}

pub(crate) struct Dispatcher {
    config: Config,
    logger: Logger,
    spawner: Box<dyn Spawner>,
    queue: MemoryQueue,
    pool: Pool,
    lifecycle: Lifecycle,
    persistent: Persistent,
    events: Events,
    timer: Timer,
    spawning: Spawning,
    /// When a task last waited or ran (for `keepAlive: ms`).
    last_work_at: Instant,
    /// JS requests not answered yet: their promises hold the process.
    js_requests: usize,
    counters: Counters,
    /// Per task type, since the master started (`cluster.metrics()`).
    metrics: Metrics,
    limiter: Limiter,
    /// A worker became ready, or the pool stops dispatching: spread the
    /// runs sent ahead again (or hand them back).
    rebalance: bool,
    listening: Listening,
    exits: exits::RecentExits,
}

impl Dispatcher {
    pub(crate) fn new(spawner: Box<dyn Spawner>, store: StoreLink, config: Config) -> Self {
        crate::log::set_json(config.json_logs);
        let mut dispatcher = Dispatcher {
            logger: Logger::new(config.logs),
            persistent: Persistent::new(store, config.persistent.clone()),
            config,
            spawner,
            queue: MemoryQueue::default(),
            pool: Pool::default(),
            lifecycle: Lifecycle::Waiting { paused: false },
            events: Events::default(),
            timer: Timer::default(),
            spawning: Spawning::default(),
            last_work_at: Instant::now(),
            js_requests: 0,
            counters: Counters::default(),
            metrics: Metrics::default(),
            limiter: Limiter::default(),
            rebalance: false,
            listening: Listening {
                done: true,
                error: true,
                retry: true,
                progress: true,
            },
            exits: exits::RecentExits::default(),
        };
        dispatcher.set_configured_limits();
        dispatcher
    }

    /// Every event since the last take, with a `timer` event when `advance`
    /// must run before the timer JS holds, and the large payloads they name.
    /// A timer that goes off early is harmless (`timer_fired` asks again),
    /// so a time that moved later, as the idle deadline does after every
    /// task, costs JS nothing.
    pub(crate) fn take_events(&mut self) -> (String, Vec<Payload>) {
        self.logger.flush();
        if let Some(at) = self.timer.wake_at {
            if self.timer.js_timer.is_none_or(|held| at < held) {
                self.timer.js_timer = Some(at);
                let ms = at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0;
                self.events.push(&JsEvent::Timer { ms });
            }
        }
        self.events.take()
    }

    /// JS's timer went off: the next take announces the time to come back,
    /// whatever it is.
    pub(crate) fn timer_fired(&mut self) {
        self.timer.js_timer = None;
    }

    /// Whether the master has work, so JS holds its event loop open.
    pub(crate) fn busy(&self) -> bool {
        match self.lifecycle {
            Lifecycle::Failed => false,
            Lifecycle::Closing { .. } => true,
            Lifecycle::Running | Lifecycle::Paused => {
                self.js_requests > 0
                    || !self.persistent.settled()
                    || !self.queue.is_empty()
                    || self.pool.runs() > 0
                    || self.config.keep_alive == KeepAlive::Always
                    || self.persistent.busy()
            }
            Lifecycle::Waiting { .. } | Lifecycle::Closed => {
                self.js_requests > 0 || !self.persistent.settled()
            }
        }
    }

    /// Stops for good after a bug: kills the workers and tells JS, which
    /// fails every pending call. Nothing of the state is trusted after.
    pub(crate) fn fail(&mut self, why: &str) {
        if self.lifecycle == Lifecycle::Failed {
            return;
        }
        self.lifecycle = Lifecycle::Failed;
        self.logger
            .error(&format!("the meteor-cluster dispatcher stopped: {why}"));
        for (_, w) in self.pool.workers() {
            w.link.signal(crate::sys::Signal::Kill);
        }
        self.events.push(&JsEvent::Fatal { message: why });
        self.timer.wake_at = None;
    }

    fn check_alive(&self) -> Result<(), CodedError> {
        if self.lifecycle == Lifecycle::Failed {
            return Err(CodedError::new(
                Code::Closed,
                "the meteor-cluster dispatcher has stopped (see the error logged when it did)",
            ));
        }
        Ok(())
    }

    /// Reads the workers, decides, writes to the workers; records when to
    /// run again.
    fn advance(&mut self) {
        for _ in 0..MAX_ROUNDS {
            self.read_workers();
            let wake_at = self.round();
            self.flush_workers();
            self.finish_closing();
            #[cfg(debug_assertions)]
            self.pool.check();
            if let Some(lazy) = self.arm_workers() {
                let look = lazy.then(|| Instant::now() + pool::LAZY_LOOK);
                self.timer.wake_at = wake_at.into_iter().chain(look).min();
                return;
            }
        }
        // Workers keep answering: come back at once, after JS had a turn.
        self.timer.wake_at = Some(Instant::now());
    }

    /// One round of decisions; when the next timer is due.
    fn round(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let now_ms = now_ms();
        let mut wake = Wake::default();
        // Windows that moved on free their types before dispatch.
        self.limit_tick(now, now_ms, &mut wake);
        self.place_runs(now_ms);
        let demand = self.demand(now_ms);
        self.drive_store(demand.claims, &mut wake);
        if demand.waiting > 0 || self.pool.runs() > 0 {
            self.last_work_at = now;
        }
        self.wake_when_due(now, now_ms, &mut wake);
        // And the windows this round's starts filled, when they free.
        self.limit_tick(now, now_ms, &mut wake);
        self.scale(demand.waiting, now, &mut wake);
        self.enforce_deadlines(now, &mut wake);
        wake.0
    }

    /// Runs to workers while dispatching; otherwise what was sent ahead
    /// comes back.
    fn place_runs(&mut self, now_ms: i64) {
        if self.lifecycle.dispatching() {
            self.prefetch_round(now_ms);
        } else if std::mem::take(&mut self.rebalance) {
            self.recall(now_ms, true);
        }
    }

    /// What waits for a worker now, and how many persistent tasks to claim:
    /// one for each worker that would start it now, after the in-memory
    /// tasks, which always go first. Nothing ahead of the workers: claims
    /// held by a master are hidden from the others sharing the collection,
    /// so a long task claimed ahead would wait here while another master
    /// sits idle. Only where workers drain a backlog faster than claims
    /// come back does the batch grow (`persistent::ahead`).
    fn demand(&mut self, now_ms: i64) -> Demand {
        if !self.lifecycle.dispatching() {
            return Demand {
                waiting: 0,
                claims: 0,
            };
        }
        let in_memory = self.queue.available_count(now_ms);
        Demand {
            // Runs sent ahead behind a running one wait too.
            waiting: in_memory + self.persistent.buffered() + self.pool.waiting_behind(),
            claims: self
                .config
                .max_workers
                .saturating_sub(self.pool.busy_workers() + in_memory),
        }
    }

    /// Starts the database work that is due; claims this master will not
    /// run now go back to the collection, where other masters can take them.
    fn drive_store(&mut self, claims: usize, wake: &mut Wake) {
        let pool = &self.pool;
        if let Some(at) = self.persistent.start_due_work(
            claims,
            self.lifecycle.dispatching(),
            self.lifecycle.connected(),
            || pool.claim_tokens(),
        ) {
            wake.at(at);
        }
        if self.lifecycle.handing_back() {
            self.persistent.release();
        }
        self.drive_registry(wake);
    }

    /// Wakes when the next scheduled in-memory task is due.
    fn wake_when_due(&mut self, now: Instant, now_ms: i64, wake: &mut Wake) {
        if !self.lifecycle.dispatching() {
            return;
        }
        if let Some(due) = self.queue.next_due() {
            wake.at(now + Duration::from_millis((due - now_ms).max(0) as u64));
        }
    }

    fn finish_closing(&mut self) {
        if self.lifecycle.closing()
            && self.pool.runs() == 0
            && !self.pool.has_workers()
            && self.persistent.settled()
        {
            self.lifecycle = Lifecycle::Closed;
            self.events.push(&JsEvent::Closed);
        }
    }
}
