//! A run's end: done, failed for good, failed with a retry to come, or
//! (for a series) rescheduled; its event, its log line, its write to
//! MongoDB. Or taken back unstarted to its old place in its queue.

use super::run::{Run, RunTask, Source, Start, StopKind};
use super::Dispatcher;
use crate::log::Fields;
use crate::master::metrics::Outcome as Measured;
use crate::master::persistent::{Completion, Write};
use crate::master::requests;
use crate::policy::Retry;
use crate::task::now_ms;
use crate::wire::events::{self, Outcome as Event};
use crate::wire::frames::Value;
use crate::wire::raw_or_null;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;
use tokio::time::Instant;

/// A run's outcome: its value (absent for `undefined`), or its error.
pub(super) type Outcome<'a> = Result<Option<Value<'a>>, &'a RawValue>;

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
    pub(super) fn finish(&mut self, run: u64, outcome: Outcome, ran: Option<Duration>) {
        let Some((r, next)) = self.pool.unassign(run) else {
            return;
        };
        self.limit_ended(&r.task);
        let now = Instant::now();
        self.after_run(r.worker, now);
        self.conclude(r, outcome, now, ran);
        // Sent ahead, the next run on that worker starts now (logged after
        // this one's end).
        if let Some(next) = next {
            self.start_next(next, now);
        }
    }

    /// Run `next`, sent ahead, starts now on its worker.
    fn start_next(&mut self, next: u64, now: Instant) {
        let start = Start {
            now,
            default_timeout: self.config.task_timeout,
            logger: &self.logger,
        };
        self.pool.start(next, &start);
        self.observe_start(next);
    }

    /// A run that started now: how long after its due date (`metrics`).
    pub(super) fn observe_start(&mut self, run: u64) {
        if let Some(r) = self.pool.run(run).filter(|r| r.started.is_some()) {
            let waited = (now_ms() - r.task.due) as f64 / 1000.0;
            self.metrics.started(&r.task.task_type, waited);
        }
    }

    /// A run's end, its outcome given: what becomes of its task, its
    /// event, its log line. A stopped run ends with its stop's error.
    /// `ran`: how long the run took by its worker's clock, when it said
    /// (else from when the master saw it start to now).
    fn conclude(&mut self, r: Run, outcome: Outcome, now: Instant, ran: Option<Duration>) {
        self.last_work_at = now;
        let ran_for = ran.or_else(|| r.started.map(|at| now.duration_since(at)));
        let took = ran_for.map_or(0, |d| d.as_millis());
        let stopped = r
            .stop
            .as_ref()
            .map(|s| (s.kind, raw_or_null(s.error().to_json())));
        let (outcome, cancelled) = match &stopped {
            Some((kind, error)) => (Err(&**error), *kind == StopKind::Cancel),
            None => (outcome, false),
        };
        let (worker, queue) = (r.worker, r.queue());
        let (task, source) = (r.task, r.source);
        let attempt = task.failures + 1;
        let policy = task.policy.as_deref();
        let repeat = policy.and_then(|p| p.repeat.as_ref());
        let retry = policy.and_then(|p| p.retry).or(self.config.retry);
        let then = match (outcome, retry) {
            // A cancelled task ends, whatever its retries and series say.
            _ if cancelled => Next::End,
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
        let measured = match (&then, outcome, stopped.as_ref().map(|(kind, _)| *kind)) {
            (Next::Retry(..), _, _) => Measured::Retried,
            (_, Ok(_), _) => Measured::Done,
            (_, Err(_), Some(StopKind::Cancel)) => Measured::Cancelled,
            (_, Err(_), Some(StopKind::Timeout)) => Measured::TimedOut,
            (_, Err(_), None) => Measured::Failed,
        };
        self.metrics.finished(
            &task.task_type,
            queue,
            measured,
            ran_for.map(|d| d.as_secs_f64()),
        );
        self.log_outcome(&task, worker, outcome, took, &then);
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
                event: event.map(|e| events::serialize_outcome(e, task.row)),
                write: match (then, outcome.err().map(|e| requests::last_error(Some(e)))) {
                    (Next::Retry(at, _), Some(error)) => Write::Retry {
                        due: at,
                        error,
                        slot,
                    },
                    (Next::Repeat(at), error) => Write::Reschedule { due: at, error },
                    (_, Some(error)) => Write::Fail(error),
                    (_, None) => Write::Delete,
                },
                progress: None,
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
                    (Some(event), _) => self.events.push_outcome(event, &task.row),
                    (None, _) => {}
                }
            }
        }
    }

    fn log_outcome(
        &mut self,
        task: &RunTask,
        worker: u32,
        outcome: Outcome,
        took: u128,
        then: &Next,
    ) {
        let fields = Fields::task(&task.task_type, &task.id)
            .in_worker(worker, self.pool.pid(worker))
            .took(took);
        match outcome {
            Ok(_) => {
                self.counters.done += 1;
                self.logger
                    .task("done", &fields, format_args!("done in {took} ms"));
            }
            Err(error) => {
                let (message, code) = error_message(error);
                let event = match then {
                    Next::Retry(..) => "retry",
                    _ => "failed",
                };
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
                let fields = match &code {
                    Some(code) => fields.code(code),
                    None => fields,
                };
                self.logger.error_event(
                    event,
                    &format!(
                        "task {}:{} {what} after {took} ms: {message}",
                        task.task_type, task.id
                    ),
                    &fields,
                );
            }
        }
    }

    /// Puts a run its worker never started back in its queue, at its old place.
    pub(super) fn take_back(&mut self, run: u64) {
        // Only runs that never started come back. One handed back for
        // missing its start deadline was first in its worker's queue: the
        // next one starts now.
        let Some((r, next)) = self.pool.take_back(run) else {
            return;
        };
        if let Some(next) = next {
            self.start_next(next, Instant::now());
        }
        self.limit_ended(&r.task);
        // Stopped (cancelled) before it started: it ends, it does not go back.
        if r.stop.is_some() {
            return self.conclude(r, Ok(None), Instant::now(), None);
        }
        match r.source {
            Source::Claimed(claimed) => self.persistent.put_back(*claimed),
            // `false` means it was removed meanwhile: nothing to put back.
            Source::Memory(place) => drop(self.queue.requeue(place)),
        }
    }
}

/// The `message` and `code` of a serialized error, for log lines.
fn error_message(error: &RawValue) -> (String, Option<String>) {
    #[derive(Deserialize)]
    struct Message {
        message: Option<String>,
        code: Option<serde_json::Value>,
    }
    let read = serde_json::from_str::<Message>(error.get()).ok();
    let code = read
        .as_ref()
        .and_then(|m| m.code.as_ref())
        .and_then(|c| c.as_str().map(str::to_owned));
    let message = read
        .and_then(|m| m.message)
        .unwrap_or_else(|| error.get().to_owned());
    (message, code)
}
