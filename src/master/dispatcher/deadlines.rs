//! Runs stopped from outside, when their time is up: a run past its time
//! limit (`timeout`) has its signal aborted (`steering`); a stopped run
//! (timed out or cancelled) still going `cancelGrace` later, and runs
//! still going when `close({ timeout })` runs out of time, have their
//! worker stopped (SIGTERM, then SIGKILL after a grace): JS cannot
//! interrupt a running function. When the worker exits, a stopped run
//! ends with its stop's error, a closing one goes back unharmed, and the
//! runs behind it go back as after any worker's end.

use super::lifecycle::Lifecycle;
use super::pool::{Kill, WorkerState};
use super::run::StopKind;
use super::scaling::STOP_GRACE;
use super::{Dispatcher, Wake};
use crate::sys::Signal;
use std::time::Duration;
use tokio::time::Instant;

/// How long a stopped worker has to exit after SIGTERM before SIGKILL.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);

impl Dispatcher {
    /// Workers that outlive their grace are killed; runs past their time
    /// limit, or still going when `close({ timeout })` ran out of time,
    /// have their workers stopped.
    pub(super) fn enforce_deadlines(&mut self, now: Instant, wake: &mut Wake) {
        self.stop_timeouts(now, wake);
        self.run_deadlines(now, wake);
    }

    /// Kills workers that did not exit within their grace of being stopped.
    fn stop_timeouts(&mut self, now: Instant, wake: &mut Wake) {
        for (id, w) in self.pool.workers_mut() {
            let WorkerState::Stopping { kill_at: Some(at) } = w.state else {
                continue;
            };
            if at > now {
                wake.at(at);
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

    /// Stops workers whose running task is past its time limit, and, once
    /// `close({ timeout })` has waited long enough, every worker still
    /// running one.
    fn run_deadlines(&mut self, now: Instant, wake: &mut Wake) {
        let mut closing_late = false;
        if let Lifecycle::Closing {
            deadline: Some(deadline),
        } = self.lifecycle
        {
            closing_late = deadline <= now;
            if !closing_late {
                wake.at(deadline);
            }
        }
        let grace = self.config.cancel_grace;
        let mut kills = Vec::new();
        let mut timeouts = Vec::new();
        for (id, w) in self.pool.workers() {
            if w.kill.is_some() {
                continue;
            }
            let Some(front) = w.front() else {
                continue;
            };
            let Some(r) = self.pool.run(front) else {
                continue;
            };
            let Some(started) = r.started else {
                continue;
            };
            if closing_late {
                kills.push((id, Kill::Close));
            } else if let Some(stop) = &r.stop {
                // Its signal was aborted: it has `cancelGrace` to end.
                let kill_at = stop.at.max(started) + grace;
                if kill_at <= now {
                    kills.push((id, Kill::Stop(front)));
                } else {
                    wake.at(kill_at);
                }
            } else if let Some(deadline) = r.deadline {
                if deadline <= now {
                    timeouts.push(front);
                } else {
                    wake.at(deadline);
                }
            }
        }
        for run in timeouts {
            let message = self.pool.run(run).and_then(|r| {
                let limit = r.deadline?.duration_since(r.started?).as_millis();
                Some(format!(
                    "task {}:{} ran longer than its timeout of {limit} ms",
                    r.task.task_type, r.task.id
                ))
            });
            let message =
                message.unwrap_or_else(|| "the task ran longer than its timeout".to_owned());
            self.stop_run(run, StopKind::Timeout, message, now);
            wake.at(now + grace);
        }
        for (id, kill) in kills {
            self.kill_worker(id, kill, now);
            wake.at(now + KILL_GRACE);
        }
    }

    fn kill_worker(&mut self, id: u32, kill: Kill, now: Instant) {
        match kill {
            Kill::Stop(run) => {
                if let Some(r) = self.pool.run(run) {
                    self.logger.warn(&format!(
                        "task {}:{} did not end within cancelGrace of its signal's abort; stopping worker {id}",
                        r.task.task_type, r.task.id
                    ));
                }
                self.pool.mark_killed(run);
            }
            Kill::Close => self.logger.warn(&format!(
                "close(): worker {id} still runs a task after the timeout; stopping it (the task goes back to its queue)"
            )),
        }
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        w.kill = Some(kill);
        w.state = WorkerState::Stopping {
            kill_at: Some(now + KILL_GRACE),
        };
        w.link.signal(Signal::Term);
    }

    /// What becomes of the run `lost` of a worker that exited after the
    /// dispatcher stopped it: `true` when this handled it.
    pub(super) fn lost_to_kill(&mut self, kill: Option<Kill>, lost: u64) -> bool {
        match kill {
            // It ends with its stop's error (`finish` gives it).
            Some(Kill::Stop(run)) if run == lost => {
                self.finish(run, Ok(None), None);
                true
            }
            // Stopped for another run (it ended as the kill came), or by
            // close(): the run it had started is not to blame.
            Some(_) => {
                self.take_back(lost);
                true
            }
            None => false,
        }
    }
}
