//! Runs stopped from outside: a run past its time limit (`timeout`), and
//! runs still going when `close({ timeout })` runs out of time. JS cannot
//! interrupt a running function, so the worker is stopped (SIGTERM, then
//! SIGKILL after a grace); when it exits, the run it was running fails
//! with `TaskTimeoutError` (a timeout) or goes back unharmed (a close),
//! and the runs behind it go back as after any worker's end.

use super::workers::WorkerState;
use super::*;
use crate::error::{Code, CodedError};
use crate::sys::Signal;

/// How long a stopped worker has to exit after SIGTERM before SIGKILL.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);

/// Why the dispatcher stopped a worker that was running a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kill {
    /// This run went past its time limit.
    Timeout(u64),
    /// `close({ timeout })` ran out of time.
    Close,
}

impl Dispatcher {
    /// Stops workers whose running task is past its time limit, and, once
    /// `close({ timeout })` has waited long enough, every worker still
    /// running one.
    pub(super) fn run_deadlines(&mut self, now: Instant, wake: &mut impl FnMut(Instant)) {
        let mut closing_late = false;
        if let (Phase::Closing, Some(deadline)) = (self.phase, self.close_deadline) {
            closing_late = deadline <= now;
            if !closing_late {
                wake(deadline);
            }
        }
        let mut kills = Vec::new();
        for (&id, w) in &self.workers {
            if w.kill.is_some() {
                continue;
            }
            let Some(front) = w.sent.front() else {
                continue;
            };
            let Some(r) = self.runs.get(&front.run) else {
                continue;
            };
            if closing_late && r.started.is_some() {
                kills.push((id, Kill::Close));
            } else if let Some(deadline) = r.deadline {
                if deadline <= now {
                    kills.push((id, Kill::Timeout(front.run)));
                } else {
                    wake(deadline);
                }
            }
        }
        for (id, kill) in kills {
            self.kill_worker(id, kill, now);
            wake(now + KILL_GRACE);
        }
    }

    fn kill_worker(&mut self, id: u32, kill: Kill, now: Instant) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        match kill {
            Kill::Timeout(run) => {
                if let Some(r) = self.runs.get(&run) {
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
                let timeout = self.runs.get(&run).and_then(|r| {
                    let started = r.started?;
                    Some(r.deadline?.duration_since(started).as_millis())
                });
                let message = match (timeout, self.runs.get(&run)) {
                    (Some(ms), Some(r)) => format!(
                        "task {}:{} ran longer than its timeout of {ms} ms; its worker was stopped",
                        r.task.task_type, r.task.id
                    ),
                    _ => "the task ran longer than its timeout; its worker was stopped".to_owned(),
                };
                let error = CodedError::new(Code::TaskTimeout, message).to_json();
                let error = serde_json::value::RawValue::from_string(error)
                    .unwrap_or_else(|_| crate::channel::null());
                self.finish(run, Err(&error));
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
