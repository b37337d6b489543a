//! A run's end: done or failed (its event, its log line, its write to
//! MongoDB), or taken back unstarted to its old place in its queue.

use super::*;
use crate::master::calls;
use crate::master::events;
use crate::master::persistent::Completion;
use crate::queue::mongo::Claimed;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One attempt at a task, from dispatch to its outcome.
pub(crate) struct Run {
    pub(super) worker: u32,
    pub(super) task_id: String,
    pub(super) task_type: String,
    /// The task as sent to the worker (EJSON); its `done`/`error` event carries it.
    pub(super) task: String,
    /// When it started; `None` while it waits behind another run.
    pub(super) started: Option<Instant>,
    /// A persistent task's claim; `None` for an in-memory task (which stays
    /// in the in-memory queue while it runs).
    pub(super) claimed: Option<Claimed>,
}

/// A run's outcome: its value (absent for `undefined`), or its error.
pub(super) type Outcome<'a> = Result<Option<&'a RawValue>, &'a RawValue>;

impl Dispatcher {
    /// Records the outcome of a run and emits its event (a persistent one
    /// once MongoDB reflects it).
    pub(super) fn finish(&mut self, run: u64, outcome: Outcome) {
        let Some((r, next)) = self.unassign(run) else {
            return;
        };
        let now = Instant::now();
        self.last_work_at = now;
        let took = r.started.map_or(0, |at| now.duration_since(at).as_millis());
        match outcome {
            Ok(_) => {
                self.counters.done += 1;
                self.logger
                    .task(&r.task_type, &r.task_id, format_args!("done in {took} ms"));
            }
            Err(error) => {
                self.counters.failed += 1;
                self.logger.error(&format!(
                    "task {}:{} failed after {took} ms: {}",
                    r.task_type,
                    r.task_id,
                    error_message(error)
                ));
            }
        }
        // Sent ahead, the next run on that worker starts (and says so) now.
        if let Some(next) = next.and_then(|run| self.runs.get(&run)) {
            self.logger
                .task(&next.task_type, &next.task_id, format_args!("started"));
        }
        let event = match outcome {
            Ok(value) if self.listening.done => Some(JsEvent::Done {
                task: &r.task,
                value,
            }),
            Err(value) if self.listening.error => Some(JsEvent::Error {
                task: &r.task,
                value,
            }),
            _ => None,
        };
        match r.claimed {
            // The event waits until MongoDB reflects the outcome.
            Some(claimed) => self.persistent.complete(Completion {
                id: claimed.id,
                token: claimed.token,
                event: event.as_ref().map(events::serialize),
                error: outcome.err().map(|e| calls::last_error(Some(e))),
            }),
            None => {
                self.queue.complete(&r.task_id);
                if let Some(event) = event {
                    self.events.push(&event);
                }
            }
        }
    }

    /// Forgets `run` and takes it off its worker. When it was the one running,
    /// the next one in that worker's FIFO starts now: its duration counts
    /// from here, not from when it was sent ahead; that next run is returned.
    pub(super) fn unassign(&mut self, run: u64) -> Option<(Run, Option<u64>)> {
        let r = self.runs.remove(&run)?;
        let Some(w) = self.workers.get_mut(&r.worker) else {
            return Some((r, None));
        };
        let now = Instant::now();
        let was_running = w.sent.front().is_some_and(|s| s.run == run);
        if was_running {
            w.sent.pop_front();
        } else {
            w.sent.retain(|s| s.run != run);
        }
        w.sent_bytes = w.sent_bytes.saturating_sub(r.task.len());
        let mut started = None;
        match w.sent.front() {
            None => w.idle_since = now,
            Some(next) if was_running => {
                if let Some(next_run) = self.runs.get_mut(&next.run) {
                    next_run.started = Some(now);
                    started = Some(next.run);
                }
            }
            Some(_) => {}
        }
        Some((r, started))
    }

    /// Puts a run its worker never started back in its queue, at its old place.
    pub(super) fn take_back(&mut self, run: u64) {
        // Only runs that never started come back, so none starts after them.
        let Some((r, _)) = self.unassign(run) else {
            return;
        };
        match r.claimed {
            Some(claimed) => self.persistent.put_back(claimed),
            // `false` means it was removed meanwhile: nothing to put back.
            None => drop(self.queue.requeue(&r.task_id)),
        }
    }
}

/// The `message` of a serialized error, for log lines.
fn error_message(error: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: Option<String>,
    }
    serde_json::from_str::<Message>(error.get())
        .ok()
        .and_then(|m| m.message)
        .unwrap_or_else(|| error.get().to_owned())
}
