//! What comes in: JS calls (`Cmd`, `Query`), and what other threads left
//! in the inbox (a worker's exit, a database result). Each ends in
//! `advance`.

use super::{Dispatcher, Listening};
use crate::error::{Code, CodedError};
use crate::log::Fields;
use crate::master::api::{Cmd, Query};
use crate::master::inbox::Input;
use crate::master::metrics::{Outcome, Queue};
use crate::master::persistent::StoreEvent;
use crate::task::now_ms;
use crate::wire::events::JsEvent;
use crate::wire::payload::Blob;
use crate::wire::{self, raw_or_null};
use tokio::time::Instant;

impl Dispatcher {
    /// Runs a JS call; it fails for bad arguments (an unreadable batch of
    /// adds, a request's), and once the dispatcher has failed.
    pub(crate) fn command(&mut self, cmd: Cmd) -> Result<(), CodedError> {
        self.check_alive()?;
        let result = match cmd {
            Cmd::AddTasks(batch, blobs) => self.add_rows(&batch, blobs),
            Cmd::Configure(config) => {
                crate::log::set_json(config.json_logs);
                self.logger.set_level(config.logs);
                self.persistent.configure(config.persistent.clone());
                self.config = *config;
                self.set_configured_limits();
                Ok(())
            }
            Cmd::Initialize => {
                self.lifecycle = self.lifecycle.initialize();
                Ok(())
            }
            Cmd::SetRefreshRate(rate) => {
                self.config.refresh_rate = rate;
                Ok(())
            }
            Cmd::Request {
                req,
                op,
                args,
                blobs,
            } => self.js_request(req, op, args, blobs),
            Cmd::IpcReply { worker, run, msg } => {
                self.ipc_reply(worker, run, msg);
                Ok(())
            }
            Cmd::Listening {
                done,
                error,
                retry,
                progress,
            } => {
                self.listening = Listening {
                    done,
                    error,
                    retry,
                    progress,
                };
                Ok(())
            }
            Cmd::Pause => {
                self.pause();
                Ok(())
            }
            Cmd::Resume => {
                self.lifecycle = self.lifecycle.resume();
                Ok(())
            }
            Cmd::Close { timeout } => {
                if !self.lifecycle.closing() {
                    self.lifecycle = self.lifecycle.close(timeout.map(|t| Instant::now() + t));
                    self.rebalance = true;
                }
                Ok(())
            }
        };
        self.advance();
        result
    }

    /// Stops starting tasks (`pause()`, or a dashboard through the registry).
    pub(super) fn pause(&mut self) {
        let was = self.lifecycle;
        self.lifecycle = self.lifecycle.pause();
        // What waits in the workers has not started: it comes back.
        self.rebalance |= was != self.lifecycle;
    }

    /// Answers a JS call that only reads the in-memory queue or the pool.
    pub(crate) fn query(&mut self, query: Query) -> Result<Option<String>, CodedError> {
        self.check_alive()?;
        Ok(self.answer(query))
    }

    /// Inputs other threads left (worker exits, database results), then a
    /// look at everything (a worker's wake-up or the timer come here too).
    pub(crate) fn inputs(&mut self, inputs: Vec<Input>) {
        if self.check_alive().is_err() {
            return;
        }
        for input in inputs {
            match input {
                Input::WorkerExited { worker, exit } => self.worker_exited(worker, exit),
                Input::Store(event) => self.store_event(event),
                Input::Written { worker } => self.written(worker),
            }
        }
        self.advance();
    }

    /// The facade's batch of in-memory adds (add rows, `wire::task`). Their
    /// ids were made by the facade, unique by construction.
    fn add_rows(&mut self, batch: &str, blobs: Vec<Blob>) -> Result<(), CodedError> {
        let tasks = wire::task::parse_add_rows(batch, blobs)
            .map_err(|e| CodedError::new(Code::InvalidArg, e))?;
        let now = now_ms();
        for task in tasks {
            self.metrics.added(&task.task_type, Queue::Memory, 1);
            if let Err(refused) = self.queue.push(task, now) {
                self.logger.error(&format!(
                    "an in-memory task with _id {:?} already exists",
                    refused.0.id
                ));
            }
        }
        Ok(())
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
        let handled = self.persistent.handle(
            event,
            &self.logger,
            &mut self.events,
            self.config.refresh_rate,
            self.pool.any_idle(),
        );
        for task_type in &handled.added {
            self.metrics.added(task_type, Queue::Persistent, 1);
        }
        for (task_type, limits) in handled.limits {
            self.set_local_limits(&task_type, limits);
        }
        for (origin, req, answer) in handled.answers {
            self.reply(origin, req, answer);
        }
        self.cancelled(handled.cancelled);
        if !handled.metrics.is_empty() {
            self.answer_metrics(&handled.metrics);
        }
        for (claimed, message) in handled.refused {
            self.fail_cancelled(claimed, &message);
        }
        if let Some(request) = handled.master_request {
            self.master_request(request);
        }
        // Already failed in MongoDB: each ends with its error event now.
        for document in handled.undecodable {
            self.counters.failed += 1;
            let error = document.error();
            let task_type = serde_json::from_str::<serde_json::Value>(&document.task_json)
                .ok()
                .and_then(|t| t["taskType"].as_str().map(str::to_owned))
                .unwrap_or_default();
            self.metrics.finished(
                &task_type.as_str().into(),
                Queue::Persistent,
                Outcome::Failed,
                None,
            );
            self.logger.error_event(
                "failed",
                &error.message,
                &Fields {
                    task_type: Some(&task_type),
                    code: Some(error.code.as_str()),
                    ..Fields::default()
                },
            );
            if self.listening.error {
                let value = raw_or_null(error.to_json());
                let task = raw_or_null(document.task_json);
                self.events.push(&JsEvent::Error {
                    task: &task,
                    value: &value,
                    data_part: None,
                });
            }
        }
    }
}
