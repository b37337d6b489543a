//! Growing and shrinking the pool: spawning workers when tasks wait,
//! stopping idle ones per `keepAlive`, killing those that never start or
//! do not stop when asked.

use super::workers::{Worker, WorkerState};
use super::*;
use crate::channel::ToWorker;
use crate::sys::Signal;

/// A worker that does not exit within this long after `Stop` is killed.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(5);
/// First wait before spawning again after a worker failed to start.
pub(super) const SPAWN_BACKOFF: Duration = Duration::from_millis(500);
pub(super) const MAX_SPAWN_BACKOFF: Duration = Duration::from_secs(30);

impl Dispatcher {
    pub(super) fn scale_up(
        &mut self,
        waiting: usize,
        now: Instant,
        wake: &mut impl FnMut(Instant),
    ) {
        let live = self.workers.values().filter(|w| !w.is_stopping()).count();
        let starting = self
            .workers
            .values()
            .filter(|w| w.state == WorkerState::Starting)
            .count();
        let wanted = match self.config.keep_alive {
            KeepAlive::Always => self.config.max_workers,
            _ => (live - starting + waiting).min(self.config.max_workers),
        };
        if wanted <= live {
            return;
        }
        if let Some(after) = self.spawn_after {
            if after > now {
                wake(after);
                return;
            }
            self.spawn_after = None;
        }
        for _ in live..wanted {
            let id = self.next_worker;
            self.next_worker += 1;
            match self.spawner.spawn(id, &self.config.spawn) {
                Ok(mut link) => {
                    self.counters.workers_started += 1;
                    if let Some(fd) = link.take_js_fd() {
                        self.events.push(&JsEvent::Spawned { worker: id, fd });
                    }
                    self.workers.insert(id, Worker::new(link, now));
                    wake(now + self.config.worker_start_timeout);
                }
                Err(e) => {
                    self.logger
                        .error(&format!("could not start a worker process: {e}"));
                    let after = now + self.spawn_backoff;
                    self.spawn_after = Some(after);
                    self.spawn_backoff = (self.spawn_backoff * 2).min(MAX_SPAWN_BACKOFF);
                    wake(after);
                    return;
                }
            }
        }
    }

    pub(super) fn scale_down(
        &mut self,
        waiting: usize,
        now: Instant,
        wake: &mut impl FnMut(Instant),
    ) {
        let stopping_all = self.phase != Phase::Dispatching;
        let mut to_stop = Vec::new();
        for (id, w) in &self.workers {
            match w.state {
                WorkerState::Stopping { .. } => continue,
                WorkerState::Starting => {
                    let deadline = w.spawned_at + self.config.worker_start_timeout;
                    if stopping_all || deadline <= now {
                        to_stop.push(*id);
                    } else {
                        wake(deadline);
                    }
                    continue;
                }
                WorkerState::Ready => {}
            }
            if !w.sent.is_empty() || (waiting > 0 && !stopping_all) {
                continue;
            }
            let deadline = match self.config.keep_alive {
                _ if stopping_all => now,
                KeepAlive::Always => continue,
                KeepAlive::Never => w.idle_since + self.config.refresh_rate,
                KeepAlive::For(d) => self.last_work_at + d,
            };
            if deadline <= now {
                to_stop.push(*id);
            } else {
                wake(deadline);
            }
        }
        for id in to_stop {
            self.stop_worker(id, now);
        }
    }

    pub(super) fn stop_worker(&mut self, id: u32, now: Instant) {
        let closing = self.phase != Phase::Dispatching;
        let timeout = self.config.worker_start_timeout;
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if w.state == WorkerState::Starting {
            // A worker still starting has nothing to finish.
            if !closing {
                self.logger.error(&format!(
                    "worker {id} did not start within {timeout:?}; killing it"
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

    /// Kills workers that did not exit within their grace of being stopped.
    pub(super) fn stop_timeouts(&mut self, now: Instant, wake: &mut impl FnMut(Instant)) {
        for (id, w) in self.workers.iter_mut() {
            let WorkerState::Stopping { kill_at: Some(at) } = w.state else {
                continue;
            };
            if at > now {
                wake(at);
                continue;
            }
            // A worker stopped for a timeout or close() was warned about
            // when it was stopped (with its own, shorter grace).
            if w.kill.is_none() {
                self.logger.warn(&format!(
                    "worker {id} did not exit within {STOP_GRACE:?} of being stopped; killing it"
                ));
            }
            w.state = WorkerState::Stopping { kill_at: None };
            w.link.signal(Signal::Kill);
        }
    }
}
