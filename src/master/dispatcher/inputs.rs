//! What comes in: JS calls (`Cmd`), and what other threads left in the
//! inbox (a worker's exit, a database result). Each ends in `pump`.

use super::*;
use crate::queue::memory::DuplicateId;

impl Dispatcher {
    /// Runs a JS call; only `AddTask` can fail (a duplicate `_id`).
    pub(crate) fn command(&mut self, cmd: Cmd) -> Result<(), CodedError> {
        self.check_alive()?;
        let result = match cmd {
            Cmd::AddTasks(batch) => {
                let tasks =
                    Task::parse_batch(&batch).map_err(|e| CodedError::new(Code::InvalidArg, e))?;
                let now = now_ms();
                for task in tasks {
                    if let Err(e) = self.add(task, now) {
                        self.logger.error(&e.message);
                    }
                }
                Ok(())
            }
            Cmd::Configure(config) => {
                self.logger.set_level(config.logs);
                self.persistent.configure(config.persistent.clone());
                self.config = *config;
                Ok(())
            }
            Cmd::Initialize => {
                if self.phase == Phase::Waiting {
                    self.phase = Phase::Dispatching;
                }
                Ok(())
            }
            Cmd::SetRefreshRate(rate) => {
                self.config.refresh_rate = rate;
                Ok(())
            }
            Cmd::Request { req, op, args } => {
                self.js_requests += 1;
                self.request(answers::Origin::Js, req, &op, args);
                Ok(())
            }
            Cmd::IpcReply { worker, run, msg } => {
                self.ipc_reply(worker, run, msg);
                Ok(())
            }
            Cmd::Listening { done, error, retry } => {
                self.listening = Listening { done, error, retry };
                Ok(())
            }
            Cmd::Unblocked { worker } => {
                self.unblocked(worker);
                Ok(())
            }
            Cmd::Pause => {
                if !self.paused {
                    self.paused = true;
                    // What waits in the workers has not started: it comes back.
                    self.rebalance = true;
                }
                Ok(())
            }
            Cmd::Resume => {
                self.paused = false;
                Ok(())
            }
            Cmd::Close { timeout } => {
                if self.phase != Phase::Closing {
                    self.phase = Phase::Closing;
                    self.close_deadline = timeout.map(|t| Instant::now() + t);
                    self.rebalance = true;
                }
                Ok(())
            }
        };
        self.pump();
        result
    }

    /// Inputs other threads left (worker exits, database results), then a
    /// look at everything (a worker's wake-up or the timer come here too).
    pub(crate) fn inputs(&mut self, inputs: Vec<Input>) {
        if self.phase == Phase::Failed {
            return;
        }
        for input in inputs {
            match input {
                Input::Worker(WorkerEvent::Exited { worker, exit }) => {
                    self.worker_exited(worker, exit)
                }
                Input::Store(event) => self.store_event(event),
            }
        }
        self.pump();
    }

    /// Queues an in-memory task (a series added again is `add_new`'s case);
    /// `now` (ms) tells whether it is due yet.
    pub(super) fn add(&mut self, task: Task, now: i64) -> Result<(), CodedError> {
        self.queue.push(task, now).map_err(|DuplicateId(task)| {
            CodedError::new(
                Code::DuplicateId,
                format!("an in-memory task with _id {:?} already exists", task.id),
            )
        })
    }

    fn store_event(&mut self, event: StoreEvent) {
        match &event {
            StoreEvent::Panicked(why) => {
                return self.fail(&format!("a database job panicked: {why}"))
            }
            StoreEvent::Answered {
                origin,
                req,
                result,
            } => self.reply(*origin, *req, result.clone()),
            _ => {}
        }
        let workers_idle = self.workers.values().any(Worker::is_idle);
        let handled = self.persistent.handle(
            event,
            &self.logger,
            &mut self.events,
            self.config.refresh_rate,
            workers_idle,
        );
        for (origin, req, answer) in handled.answers {
            self.reply(origin, req, answer);
        }
        // Already failed in MongoDB: each ends with its error event now.
        for document in handled.undecodable {
            self.counters.failed += 1;
            let error = document.error();
            self.logger.error(&error.message);
            if self.listening.error {
                let value = channel::raw_or_null(error.to_json());
                let task = channel::raw_or_null(document.task_json);
                self.events.push(&JsEvent::Error {
                    task: &task,
                    value: &value,
                });
            }
        }
    }
}
