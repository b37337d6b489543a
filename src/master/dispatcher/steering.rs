//! Steering tasks while they run: their progress reports, and stopping
//! them from outside. A stopped run (cancelled, or past its time limit,
//! `deadlines`) has its `job.signal` aborted; it ends with the stop's
//! error whatever it answers, and a worker that does not end it within
//! `cancelGrace` is stopped. A cancelled task is never retried, and a
//! cancelled series ends. Queued tasks end at once when cancelled.

use super::answers::Origin;
use super::run::{Source, Stop, StopKind};
use super::Dispatcher;
use crate::error::{Code, CodedError};
use crate::log::Fields;
use crate::master::metrics::{Outcome, Queue};
use crate::master::persistent::Cancelled;
use crate::queue::mongo::Claimed;
use crate::wire::events::{JsEvent, Outcome as Event};
use crate::wire::frames::ToWorker;
use crate::wire::raw_or_null;
use crate::wire::request::CancelArgs;
use mongodb::bson::Bson;
use serde_json::value::RawValue;
use tokio::time::Instant;

impl Dispatcher {
    /// A run's latest progress: its event, and where its task is kept.
    pub(super) fn on_progress(&mut self, run: u64, value: &RawValue) {
        let Some(r) = self.pool.run(run) else {
            return;
        };
        match &r.source {
            Source::Memory(place) => self.queue.set_progress(*place, value.get()),
            Source::Claimed(claimed) => self.persistent.progress(claimed, value.get()),
        }
        if self.listening.progress {
            self.events
                .push_outcome(Event::Progress(value), &r.task.row);
        }
    }

    /// Stops `run` from outside: it ends with `kind`'s error (saying
    /// `message`), its signal aborted now.
    pub(super) fn stop_run(&mut self, run: u64, kind: StopKind, message: String, now: Instant) {
        let stop = Stop {
            kind,
            message,
            at: now,
            killed: false,
        };
        let reason = raw_or_null(stop.error().to_json());
        if let Some(worker) = self.pool.stop(run, stop) {
            if let Some(w) = self.pool.worker_mut(worker) {
                w.send(&ToWorker::Abort { run, reason });
            }
        }
    }

    /// `TaskQueue.cancel`: by `_id` in memory and in MongoDB, or by
    /// selector in MongoDB. Answered with how many tasks it cancelled,
    /// once MongoDB has them.
    pub(super) fn cancel(&mut self, origin: Origin, req: u64, args: CancelArgs) {
        // The reason, when given, is the error's message, as it is.
        let message = args
            .reason
            .clone()
            .unwrap_or_else(|| "the task was cancelled".to_owned());
        let mut count = 0;
        if let Some(id) = &args.id {
            count += self.cancel_in_memory(id, &message);
        }
        let selector = match &args.id {
            Some(id) => serde_json::json!({ "_id": id }),
            None => args.selector.clone(),
        };
        if let Err(e) = self
            .persistent
            .cancel(origin, req, selector, message, count)
        {
            // No persistent queue: an in-memory cancel is all there is.
            if args.id.is_some() && e.code == Code::NoPersistentQueue {
                return self.reply(origin, req, Ok(count.to_string()));
            }
            self.reply(origin, req, Err(e.in_call("cancel")));
        }
    }

    /// Cancels the in-memory task `id`: a queued one ends now, a running
    /// one is stopped. How many it cancelled (0 or 1).
    fn cancel_in_memory(&mut self, id: &str, message: &str) -> usize {
        let Some((_, running)) = self.queue.get(id) else {
            return 0;
        };
        let now = Instant::now();
        if running {
            let run = self.pool.find_run(|r| {
                matches!(r.source, Source::Memory(_)) && &*r.task.id == id && r.stop.is_none()
            });
            return match run {
                Some(run) => {
                    self.stop_run(run, StopKind::Cancel, message.to_owned(), now);
                    1
                }
                // Already stopped: counted once.
                None => 0,
            };
        }
        let Some((task, _)) = self.queue.remove(id) else {
            return 0;
        };
        self.counters.failed += 1;
        self.metrics
            .finished(&task.task_type, Queue::Memory, Outcome::Cancelled, None);
        self.logger.error_event(
            "cancelled",
            &format!(
                "task {}:{} cancelled before it ran: {message}",
                task.task_type, task.id
            ),
            &Fields::task(&task.task_type, &task.id).code(Code::TaskCancelled.as_str()),
        );
        if self.listening.error {
            let error = CodedError::new(Code::TaskCancelled, message);
            let row = raw_or_null(crate::wire::task::row(&task, false));
            let value = raw_or_null(error.to_json());
            self.events.push(&JsEvent::Error {
                task: &row,
                value: &value,
                data_part: None,
            });
        }
        1
    }

    /// What MongoDB's side of a cancel changed: queued tasks it ended
    /// (their error events), and running ones it marked, which are
    /// stopped here when this master holds them (another master sees its
    /// own in its change stream or at its next lease renewal).
    pub(super) fn cancelled(&mut self, cancelled: Cancelled) {
        for (task_type, task_json, error) in cancelled.ended {
            self.counters.failed += 1;
            self.metrics.finished(
                &task_type.as_str().into(),
                Queue::Persistent,
                Outcome::Cancelled,
                None,
            );
            self.logger.error_event(
                "cancelled",
                &format!(
                    "a {task_type} task was cancelled before it ran: {}",
                    error.message
                ),
                &Fields {
                    task_type: Some(&task_type),
                    code: Some(error.code.as_str()),
                    ..Fields::default()
                },
            );
            if self.listening.error {
                let task = raw_or_null(task_json);
                let value = raw_or_null(error.to_json());
                self.events.push(&JsEvent::Error {
                    task: &task,
                    value: &value,
                    data_part: None,
                });
            }
        }
        for (id, message) in cancelled.requested {
            self.cancel_claimed(&id, &message);
        }
    }

    /// A cancel was asked for the persistent task `id`: stopped if it runs
    /// here, failed if it waits here, claimed.
    pub(super) fn cancel_claimed(&mut self, id: &Bson, message: &str) {
        let run = self.pool.find_run(|r| match &r.source {
            Source::Claimed(c) => &c.id == id && r.stop.is_none(),
            Source::Memory(_) => false,
        });
        if let Some(run) = run {
            self.stop_run(run, StopKind::Cancel, message.to_owned(), Instant::now());
        } else if let Some(claimed) = self.persistent.take_claimed(id) {
            self.fail_cancelled(claimed, message);
        }
    }

    /// A claimed task that will not run: cancelled while it waited. It is
    /// failed under its claim, and its error event fires once it is.
    pub(super) fn fail_cancelled(&mut self, claimed: Claimed, message: &str) {
        let task = &claimed.task;
        let error = CodedError::new(Code::TaskCancelled, message);
        self.counters.failed += 1;
        self.metrics
            .finished(&task.task_type, Queue::Persistent, Outcome::Cancelled, None);
        self.logger.error_event(
            "cancelled",
            &format!(
                "task {}:{} cancelled before it ran: {message}",
                task.task_type, task.id
            ),
            &Fields::task(&task.task_type, &task.id).code(error.code.as_str()),
        );
        let event = self.listening.error.then(|| {
            let task = raw_or_null(crate::wire::task::row(task, false));
            let value = raw_or_null(error.to_json());
            crate::wire::events::serialize(&JsEvent::Error {
                task: &task,
                value: &value,
                data_part: None,
            })
        });
        self.persistent.fail_claimed(claimed, &error, event);
    }
}
