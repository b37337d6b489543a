//! Runs stopped from outside: a run past its time limit (`timeout`), and
//! runs still going when `close({ timeout })` runs out of time. JS cannot
//! interrupt a running function, so the worker is stopped (SIGTERM, then
//! SIGKILL after a grace); when it exits, the run it was running fails
//! with `TaskTimeoutError` (a timeout) or goes back unharmed (a close),
//! and the runs behind it go back as after any worker's end.

use super::lifecycle::Lifecycle;
use super::pool::{Kill, WorkerState};
use super::scaling::STOP_GRACE;
use super::{Dispatcher, Wake};
use crate::error::{Code, CodedError};
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
        let mut kills = Vec::new();
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
            if closing_late && r.started.is_some() {
                kills.push((id, Kill::Close));
            } else if let Some(deadline) = r.deadline {
                if deadline <= now {
                    kills.push((id, Kill::Timeout(front)));
                } else {
                    wake.at(deadline);
                }
            }
        }
        for (id, kill) in kills {
            self.kill_worker(id, kill, now);
            wake.at(now + KILL_GRACE);
        }
    }

    fn kill_worker(&mut self, id: u32, kill: Kill, now: Instant) {
        match kill {
            Kill::Timeout(run) => {
                if let Some(r) = self.pool.run(run) {
                    self.logger.warn(&format!(
                        "task {}:{} ran past its timeout; stopping worker {id}",
                        r.task.task_type, r.task.id
                    ));
                }
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
            Some(Kill::Timeout(run)) if run == lost => {
                let timeout = self.pool.run(run).and_then(|r| {
                    let started = r.started?;
                    Some(r.deadline?.duration_since(started).as_millis())
                });
                let message = match (timeout, self.pool.run(run)) {
                    (Some(ms), Some(r)) => format!(
                        "task {}:{} ran longer than its timeout of {ms} ms; its worker was stopped",
                        r.task.task_type, r.task.id
                    ),
                    _ => "the task ran longer than its timeout; its worker was stopped".to_owned(),
                };
                let error = CodedError::new(Code::TaskTimeout, message).to_json();
                self.finish(run, Err(&crate::wire::raw_or_null(error)));
                true
            }
            // Stopped for another run (it ended as the timeout came), or by
            // close(): the run it had started is not to blame.
            Some(_) => {
                self.take_back(lost);
                true
            }
            None => false,
        }
    }
}
