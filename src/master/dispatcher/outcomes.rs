//! A run's end: done, failed for good, failed with a retry to come, or
//! (for a series) rescheduled; its event, its log line, its write to
//! MongoDB. Or taken back unstarted to its old place in its queue.

use super::*;
use crate::channel::raw_or_null;
use crate::master::calls;
use crate::master::events;
use crate::master::persistent::{Completion, Write};
use crate::policy::{Policy, Retry};
use crate::queue::memory::Place;
use crate::queue::mongo::Claimed;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// What a run needs of its task.
pub(crate) struct RunTask {
    pub(super) id: Arc<str>,
    pub(super) task_type: Arc<str>,
    /// The task as sent to the worker (`Task::to_row`); its events carry it.
    /// Plain text: it becomes a `RawValue` (a validating parse) only for an
    /// event that carries it, not for the `done` columns of the hot path.
    pub(super) row: String,
    /// When the occurrence this run belongs to was due: its `dueDate`, or
    /// for a retry of a series' run, the slot it was retried from.
    pub(super) occurrence: i64,
    /// Attempts that failed before this one.
    pub(super) failures: u32,
    pub(super) policy: Option<Arc<Policy>>,
}

impl RunTask {
    pub(super) fn of(task: &Task) -> RunTask {
        RunTask {
            id: task.id.clone(),
            task_type: task.task_type.clone(),
            // Data is JSON the encoder (or the BSON reader) wrote.
            row: task.to_row(true),
            occurrence: task.slot.unwrap_or(task.due_date),
            failures: task.failures,
            policy: task.policy.clone(),
        }
    }
}

/// Where a run's task is kept while it runs.
pub(crate) enum Source {
    /// In the in-memory queue, marked as running.
    Memory(Place),
    /// Claimed in MongoDB. Boxed: a claim holds a whole task, and inline it
    /// made every entry of the map of runs 408 bytes instead of 152, its
    /// lookups cache misses.
    Claimed(Box<Claimed>),
}

/// One attempt at a task, from dispatch to its outcome.
pub(crate) struct Run {
    pub(super) worker: u32,
    pub(super) task: RunTask,
    pub(super) source: Source,
    /// When it started; `None` while it waits behind another run.
    pub(super) started: Option<Instant>,
    /// When its time limit is up, if it has one.
    pub(super) deadline: Option<Instant>,
}

impl Run {
    /// The run starts now (it was sent to an idle worker, or the run before
    /// it ended): its duration and its time limit count from here.
    pub(super) fn start(
        &mut self,
        now: Instant,
        default_timeout: Option<Duration>,
        logger: &Logger,
    ) {
        self.started = Some(now);
        let timeout = self
            .task
            .policy
            .as_ref()
            .and_then(|p| p.timeout)
            .or(default_timeout);
        self.deadline = timeout.map(|t| now + t);
        logger.task(&self.task.task_type, &self.task.id, format_args!("started"));
    }
}

/// A run's outcome: its value (absent for `undefined`), or its error.
pub(super) type Outcome<'a> = Result<Option<&'a RawValue>, &'a RawValue>;

/// What becomes of a task after a run.
enum Next {
    /// Its retry, at this time (ms).
    Retry(i64, Retry),
    /// The next run of its series, at this time.
    Repeat(i64),
    /// Nothing: it is done, or failed for good.
    End,
}

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
        let (task, source) = (r.task, r.source);
        let attempt = task.failures + 1;
        let policy = task.policy.as_deref();
        let repeat = policy.and_then(|p| p.repeat.as_ref());
        let retry = policy.and_then(|p| p.retry).or(self.config.retry);
        let then = match (outcome, retry) {
            (Err(_), Some(retry)) if retry.allows_after(attempt) => {
                Next::Retry(now_ms() + retry.delay_after(attempt) as i64, retry)
            }
            _ => match repeat {
                Some(repeat) => repeat
                    .next(task.occurrence, now_ms())
                    .map_or(Next::End, Next::Repeat),
                None => Next::End,
            },
        };
        // A retry of a series' run remembers its slot: the series goes on
        // from there, not from when the retry happened to run.
        let slot = repeat.map(|_| task.occurrence);
        self.log_outcome(&task, outcome, took, &then);
        // Sent ahead, the next run on that worker starts now.
        if let Some(next) = next {
            let timeout = self.config.task_timeout;
            if let Some(n) = self.runs.get_mut(&next) {
                n.start(now, timeout, &self.logger);
            }
        }
        let event = match (&then, outcome) {
            (Next::Retry(at, _), Err(value)) if self.listening.retry => Some(Event::Retry {
                value,
                attempt,
                at: *at,
            }),
            (Next::Retry(..), _) => None,
            (_, Ok(value)) if self.listening.done => Some(Event::Done(value)),
            (_, Err(value)) if self.listening.error => Some(Event::Error(value)),
            _ => None,
        };
        match source {
            // The event waits until MongoDB reflects the outcome.
            Source::Claimed(claimed) => self.persistent.complete(Completion {
                id: claimed.id,
                token: claimed.token,
                event: event.map(|e| events::serialize(&e.of(&raw_or_null(task.row)))),
                write: match (then, outcome.err().map(|e| calls::last_error(Some(e)))) {
                    (Next::Retry(at, _), Some(error)) => Write::Retry {
                        due: at,
                        error,
                        slot,
                    },
                    (Next::Repeat(at), error) => Write::Reschedule { due: at, error },
                    (_, Some(error)) => Write::Fail(error),
                    (_, None) => Write::Delete,
                },
            }),
            Source::Memory(place) => {
                // A task removed while it ran (`removeById`) stays removed.
                let ended = match then {
                    Next::Retry(at, _) => {
                        self.queue.requeue_at(place, at, attempt, slot);
                        None
                    }
                    Next::Repeat(at) => {
                        self.queue.requeue_at(place, at, 0, None);
                        None
                    }
                    Next::End => self.queue.complete(place),
                };
                match (event, ended) {
                    // The bulk of a busy pool's events, written as columns.
                    (Some(Event::Done(value)), Some(ended)) => {
                        self.events.push_done(&ended, task.row, value)
                    }
                    (Some(event), _) => self.events.push(&event.of(&raw_or_null(task.row))),
                    (None, _) => {}
                }
            }
        }
    }

    fn log_outcome(&mut self, task: &RunTask, outcome: Outcome, took: u128, then: &Next) {
        match outcome {
            Ok(_) => {
                self.counters.done += 1;
                self.logger
                    .task(&task.task_type, &task.id, format_args!("done in {took} ms"));
            }
            Err(error) => {
                let what = match then {
                    Next::Retry(at, retry) => {
                        self.counters.retried += 1;
                        format!(
                            "failed (attempt {} of {}, retried at {})",
                            task.failures + 1,
                            retry.limit + 1,
                            crate::log::iso8601(*at)
                        )
                    }
                    _ => {
                        self.counters.failed += 1;
                        "failed".to_owned()
                    }
                };
                self.logger.error(&format!(
                    "task {}:{} {what} after {took} ms: {}",
                    task.task_type,
                    task.id,
                    error_message(error)
                ));
            }
        }
    }

    /// Forgets `run` and takes it off its worker. When it was the one
    /// running, the next one in that worker's FIFO starts now (the caller
    /// starts it); that next run is returned.
    pub(super) fn unassign(&mut self, run: u64) -> Option<(Run, Option<u64>)> {
        let r = self.runs.remove(&run)?;
        let Some(w) = self.workers.get_mut(&r.worker) else {
            return Some((r, None));
        };
        let was_running = w.sent.front().is_some_and(|s| s.run == run);
        if was_running {
            w.sent.pop_front();
        } else {
            w.sent.retain(|s| s.run != run);
        }
        w.sent_bytes = w.sent_bytes.saturating_sub(r.task.row.len());
        let next = match w.sent.front() {
            None => {
                w.idle_since = Instant::now();
                None
            }
            Some(next) if was_running => Some(next.run),
            Some(_) => None,
        };
        Some((r, next))
    }

    /// Puts a run its worker never started back in its queue, at its old place.
    pub(super) fn take_back(&mut self, run: u64) {
        // Only runs that never started come back, so none starts after them.
        let Some((r, _)) = self.unassign(run) else {
            return;
        };
        match r.source {
            Source::Claimed(claimed) => self.persistent.put_back(*claimed),
            // `false` means it was removed meanwhile: nothing to put back.
            Source::Memory(place) => drop(self.queue.requeue(place)),
        }
    }
}

/// The event a run's outcome brings, before it has its task.
enum Event<'a> {
    Done(Option<&'a RawValue>),
    Error(&'a RawValue),
    Retry {
        value: &'a RawValue,
        attempt: u32,
        at: i64,
    },
}

impl<'a> Event<'a> {
    fn of(self, task: &'a RawValue) -> JsEvent<'a> {
        match self {
            Event::Done(value) => JsEvent::Done { task, value },
            Event::Error(value) => JsEvent::Error { task, value },
            Event::Retry { value, attempt, at } => JsEvent::Retry {
                task,
                value,
                attempt,
                next_run_at: events::Date(at),
            },
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
