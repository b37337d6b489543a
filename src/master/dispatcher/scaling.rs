//! Growing and shrinking the pool: spawning workers when tasks wait (after
//! a growing backoff once spawns fail or workers die while starting),
//! stopping idle ones per `keepAlive`, killing those that never start.

use super::lifecycle::Lifecycle;
use super::pool::WorkerState;
use super::{Dispatcher, Wake};
use crate::master::api::KeepAlive;
use crate::sys::Signal;
use crate::wire::events::JsEvent;
use crate::wire::frames::ToWorker;
use std::time::Duration;
use tokio::time::Instant;

/// A worker that does not exit within this long after `Stop` is killed.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(5);
/// First wait before spawning again after a worker failed to start.
pub(super) const SPAWN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_SPAWN_BACKOFF: Duration = Duration::from_secs(30);

/// When spawning may happen again after failures, and which failure was
/// last told.
pub(super) struct Spawning {
    /// No spawn before this.
    after: Option<Instant>,
    /// The wait after the next failure.
    backoff: Duration,
    /// What the last failure logged looked like (how it ended, its last
    /// words): a streak of the same failure is logged once.
    logged: Option<String>,
}

impl Default for Spawning {
    fn default() -> Self {
        Spawning {
            after: None,
            backoff: SPAWN_BACKOFF,
            logged: None,
        }
    }
}

impl Spawning {
    /// A spawn failed, or a worker died before it was ready: no spawn for
    /// a while, longer each time. Returns when spawning may resume, and
    /// the wait.
    pub(super) fn failed(&mut self, now: Instant) -> (Instant, Duration) {
        let wait = self.backoff;
        let after = now + wait;
        self.after = Some(after);
        self.backoff = (self.backoff * 2).min(MAX_SPAWN_BACKOFF);
        (after, wait)
    }

    /// Whether a failure that looks like `signature` is to be logged: the
    /// first of a streak, or one unlike the one logged last.
    pub(super) fn tell(&mut self, signature: String) -> bool {
        let new = self.logged.as_deref() != Some(signature.as_str());
        self.logged = Some(signature);
        new
    }

    /// A worker became ready: the next failure waits the shortest time and
    /// is logged.
    pub(super) fn started(&mut self) {
        self.backoff = SPAWN_BACKOFF;
        self.logged = None;
    }

    /// Whether spawning may happen at `now`; if not, when it may.
    fn wait(&mut self, now: Instant) -> Option<Instant> {
        match self.after {
            Some(after) if after > now => Some(after),
            _ => {
                self.after = None;
                None
            }
        }
    }
}

impl Dispatcher {
    /// Spawns workers for the tasks waiting, stops idle ones.
    pub(super) fn scale(&mut self, waiting: usize, now: Instant, wake: &mut Wake) {
        if self.lifecycle.dispatching() {
            self.scale_up(waiting, now, wake);
        }
        self.scale_down(waiting, now, wake);
    }

    fn scale_up(&mut self, waiting: usize, now: Instant, wake: &mut Wake) {
        let live = self.pool.workers().filter(|(_, w)| w.in_service()).count();
        let starting = self
            .pool
            .workers()
            .filter(|(_, w)| w.state == WorkerState::Starting)
            .count();
        let wanted = match self.config.keep_alive {
            KeepAlive::Always => self.config.max_workers,
            _ => (live - starting + waiting).min(self.config.max_workers),
        };
        if wanted <= live {
            return;
        }
        if let Some(after) = self.spawning.wait(now) {
            wake.at(after);
            return;
        }
        for _ in live..wanted {
            let id = self.pool.next_worker_id();
            match self.spawner.spawn(id, &self.config.spawn) {
                Ok(mut link) => {
                    self.counters.workers_started += 1;
                    if let Some(fd) = link.take_js_fd() {
                        self.events.push(&JsEvent::Spawned { worker: id, fd });
                    }
                    let budget = self.config.recycling.max_runs;
                    self.pool.add_worker(id, link, now, budget);
                    wake.at(now + self.config.worker_start_timeout);
                }
                Err(e) => {
                    let (after, wait) = self.spawning.failed(now);
                    if self.spawning.tell(e.to_string()) {
                        self.logger.error(&format!(
                            "could not start a worker process: {e}; trying again in {}, then less often",
                            seconds(wait)
                        ));
                    }
                    wake.at(after);
                    return;
                }
            }
        }
    }

    fn scale_down(&mut self, waiting: usize, now: Instant, wake: &mut Wake) {
        // Paused, the pool stays as it is; closed or closing, it goes.
        let stopping_all = !matches!(self.lifecycle, Lifecycle::Running | Lifecycle::Paused);
        let mut to_stop = Vec::new();
        for (id, w) in self.pool.workers() {
            match w.state {
                WorkerState::Stopping { .. } => continue,
                // Retired: stopped once it has finished what it holds.
                WorkerState::Retiring => {
                    if w.is_empty() {
                        to_stop.push(id);
                    }
                    continue;
                }
                WorkerState::Starting => {
                    let deadline = w.spawned_at + self.config.worker_start_timeout;
                    if stopping_all || deadline <= now {
                        to_stop.push(id);
                    } else {
                        wake.at(deadline);
                    }
                    continue;
                }
                WorkerState::Ready => {}
            }
            if !w.is_empty() || (waiting > 0 && !stopping_all) {
                continue;
            }
            let deadline = match self.config.keep_alive {
                _ if stopping_all => now,
                KeepAlive::Always => continue,
                KeepAlive::Never => w.idle_since + self.config.refresh_rate,
                KeepAlive::For(d) => self.last_work_at + d,
            };
            if deadline <= now {
                to_stop.push(id);
            } else {
                wake.at(deadline);
            }
        }
        for id in to_stop {
            self.stop_worker(id, now, stopping_all);
        }
    }

    fn stop_worker(&mut self, id: u32, now: Instant, stopping_all: bool) {
        let timeout = self.config.worker_start_timeout;
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        if w.state == WorkerState::Starting {
            // A worker still starting has nothing to finish. Stopped for
            // taking too long, it failed to start (told when it exits).
            if !stopping_all {
                w.start_failure = Some(format!(
                    "did not get ready within workerStartTimeout ({} ms) and was killed",
                    timeout.as_millis()
                ));
            }
            w.state = WorkerState::Stopping { kill_at: None };
            w.link.signal(Signal::Kill);
            return;
        }
        w.state = WorkerState::Stopping {
            kill_at: Some(now + STOP_GRACE),
        };
        w.send(&ToWorker::Stop);
    }
}

/// A wait as a person reads it: "0.5 s", "30 s".
pub(super) fn seconds(wait: Duration) -> String {
    format!("{} s", wait.as_millis() as f64 / 1000.0)
}
