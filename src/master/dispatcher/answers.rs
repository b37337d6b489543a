//! Answers the dispatcher gives: synchronous queries of the in-memory
//! queue and the pool, and requests (`TaskQueue` calls from JS or workers)
//! answered by a reply.

use super::pool::WorkerState;
use super::Dispatcher;
use crate::error::{Code, CodedError};
use crate::master::api::Query;
use crate::master::metrics::{Gauges, Queue};
use crate::master::persistent::Insert;
use crate::master::requests::{self, NewTask};
use crate::task::now_ms;
use crate::wire::events::JsEvent;
use crate::wire::frames::ToWorker;
use crate::wire::payload::Blob;
use crate::wire::request::{CancelArgs, Op, SetLimitsArgs};
use crate::wire::{self, json_array, raw_or_null};
use serde_json::value::RawValue;
use tokio::time::Instant;

pub(super) use crate::master::requests::Origin;

impl Dispatcher {
    pub(super) fn answer(&mut self, query: Query) -> Option<String> {
        match query {
            Query::FindById(id) => self.queue.get(&id).map(|(t, on)| wire::task::object(t, on)),
            Query::RemoveById(id) => self
                .queue
                .remove(&id)
                .map(|(t, on)| wire::task::object(&t, on)),
            Query::Tasks => {
                let all: Vec<String> = self
                    .queue
                    .all()
                    .iter()
                    .map(|(t, on)| wire::task::object(t, *on))
                    .collect();
                Some(json_array(&all))
            }
            Query::AvailableTasks => {
                let due: Vec<String> = self
                    .queue
                    .available(now_ms())
                    .iter()
                    .map(|t| wire::task::object(t, false))
                    .collect();
                Some(json_array(&due))
            }
            Query::Stats => Some(self.stats().to_string()),
            Query::Workers => Some(self.workers_view().to_string()),
        }
    }

    /// Each worker as `cluster.workers()` gives it; times as ms since the
    /// epoch (the facade makes Dates of them).
    pub(super) fn workers_view(&self) -> serde_json::Value {
        let (now, now_ms) = (Instant::now(), now_ms());
        let wall = |at: Instant| now_ms - now.saturating_duration_since(at).as_millis() as i64;
        let workers: Vec<serde_json::Value> = self
            .pool
            .workers()
            .map(|(id, w)| {
                let run = w.front().and_then(|run| self.pool.run(run));
                let task = run.and_then(|r| {
                    Some(serde_json::json!({
                        "_id": &*r.task.id,
                        "taskType": &*r.task.task_type,
                        "startedAt": wall(r.started?),
                    }))
                });
                let state = match w.state {
                    WorkerState::Starting => "starting",
                    WorkerState::Ready if task.is_some() => "running",
                    WorkerState::Ready => "ready",
                    WorkerState::Retiring | WorkerState::Stopping { .. } => "retiring",
                };
                serde_json::json!({
                    "id": id,
                    "pid": w.link.pid(),
                    "state": state,
                    "task": task,
                    "runs": w.runs,
                    "rssBytes": w.link.rss_bytes(),
                    "startedAt": wall(w.spawned_at),
                })
            })
            .collect();
        serde_json::Value::Array(workers)
    }

    pub(super) fn stats(&mut self) -> serde_json::Value {
        let now = now_ms();
        let workers = || self.pool.workers().map(|(_, w)| w);
        serde_json::json!({
            "workers": workers().filter(|w| !w.is_stopping()).count(),
            "readyWorkers": workers().filter(|w| w.is_live()).count(),
            "running": self.pool.runs(),
            "inMemory": {
                "queued": self.queue.waiting(),
                "available": self.queue.available_count(now),
            },
            "persistent": self.persistent.stats(),
            "paused": self.lifecycle.paused(),
            "counters": &self.counters,
            "recentExits": self.exits.view(),
        })
    }

    /// A request from JS; answered now, or when its database job ends. An
    /// add whose arguments are bad fails at once (JS throws it where the
    /// add is made).
    pub(super) fn js_request(
        &mut self,
        req: u64,
        op: Op,
        args: Box<RawValue>,
        blobs: Vec<Blob>,
    ) -> Result<(), CodedError> {
        // Counted first: an answer can come within the call.
        self.js_requests += 1;
        let started = self.request(Origin::Js, req, op, args, blobs);
        if started.is_err() {
            self.js_requests -= 1;
        }
        started
    }

    /// A request from a worker; a bad one is answered with its error.
    pub(super) fn worker_request(&mut self, worker: u32, req: u64, op: Op, args: Box<RawValue>) {
        let origin = Origin::Worker(worker);
        if let Err(e) = self.request(origin, req, op, args, Vec::new()) {
            self.reply(origin, req, Err(e));
        }
    }

    fn request(
        &mut self,
        origin: Origin,
        req: u64,
        op: Op,
        args: Box<RawValue>,
        blobs: Vec<Blob>,
    ) -> Result<(), CodedError> {
        match op {
            Op::AddTask | Op::AddTasks => {
                let many = op == Op::AddTasks;
                let tasks =
                    NewTask::parse_request(&args, many, blobs).map_err(|e| e.in_call(op.name()))?;
                self.add_new(origin, req, tasks, many);
            }
            Op::Cancel => {
                let args: CancelArgs = serde_json::from_str(args.get()).map_err(|e| {
                    CodedError::invalid(format!("bad arguments: {e}")).in_call("cancel")
                })?;
                self.cancel(origin, req, args);
            }
            Op::Metrics => self.metrics_request(origin, req),
            Op::SetLimits => {
                let args = SetLimitsArgs::parse(&args)?;
                self.set_limits(origin, req, args);
            }
            Op::Find | Op::FindOne | Op::Count | Op::Remove | Op::Update => {
                if let Err(e) = self.persistent.call(origin, req, op, args) {
                    self.reply(origin, req, Err(e.in_call(op.name())));
                }
            }
        }
        Ok(())
    }

    /// `cluster.metrics()`: answered now, or once the persistent queue's
    /// depth is counted (it is counted at most every few seconds).
    fn metrics_request(&mut self, origin: Origin, req: u64) {
        if self.persistent.depth_for(origin, req) {
            self.answer_metrics(&[(origin, req)]);
        }
    }

    /// Answers `metrics` requests with every family, gauges as they are now.
    pub(super) fn answer_metrics(&mut self, waiting: &[(Origin, u64)]) {
        let mut depth: Vec<(String, Queue, u64)> = Vec::new();
        for (task, running) in self.queue.all() {
            if running {
                continue;
            }
            match depth.iter_mut().find(|(t, _, _)| *t == *task.task_type) {
                Some(entry) => entry.2 += 1,
                None => depth.push((task.task_type.to_string(), Queue::Memory, 1)),
            }
        }
        for (task_type, n) in self.persistent.depth() {
            depth.push((task_type.clone(), Queue::Persistent, *n));
        }
        let mut workers = [
            ("starting", 0),
            ("ready", 0),
            ("running", 0),
            ("retiring", 0),
        ];
        for (_, w) in self.pool.workers() {
            let state = match w.state {
                WorkerState::Starting => 0,
                WorkerState::Ready if w.front().is_some() => 2,
                WorkerState::Ready => 1,
                WorkerState::Retiring | WorkerState::Stopping { .. } => 3,
            };
            workers[state].1 += 1;
        }
        let gauges = Gauges {
            depth,
            running: self.pool.runs() as u64,
            workers: workers.to_vec(),
            reachable: self
                .persistent
                .enabled()
                .then(|| self.persistent.reachable()),
        };
        let json = serde_json::to_string(&self.metrics.families(&gauges)).unwrap_or_default();
        for &(origin, req) in waiting {
            self.reply(origin, req, Ok(json.clone()));
        }
    }

    /// Adds a request's tasks: in-memory ones at once (all or none: a
    /// duplicate `_id` fails the request before any is queued), persistent
    /// ones in the next insert; answered when all are in.
    pub(super) fn add_new(&mut self, origin: Origin, req: u64, tasks: Vec<NewTask>, many: bool) {
        let op = if many { Op::AddTasks } else { Op::AddTask };
        let ids: Vec<String> = tasks.iter().map(|t| t.task.id.to_string()).collect();
        let (in_memory, persistent): (Vec<_>, Vec<_>) = tasks
            .into_iter()
            .enumerate()
            .partition(|(_, t)| t.in_memory);
        let indices: Vec<usize> = in_memory.iter().map(|(index, _)| *index).collect();
        let tasks = in_memory.into_iter().map(|(_, t)| t.task).collect();
        let queued = self.queue.push_all(tasks, now_ms());
        for task_type in queued.as_deref().unwrap_or_default() {
            self.metrics.added(task_type, Queue::Memory, 1);
        }
        if let Err(duplicate) = queued {
            let e = CodedError::new(
                Code::DuplicateId,
                format!(
                    "an in-memory task with _id {:?} already exists",
                    duplicate.id
                ),
            );
            let index = indices[duplicate.index];
            return self.reply(
                origin,
                req,
                Err(requests::at_index(e, index, many).in_call(op.name())),
            );
        }
        if persistent.is_empty() {
            return self.reply(origin, req, Ok(requests::ids_answer(&ids, many)));
        }
        self.persistent.insert(Insert {
            origin,
            req,
            many,
            ids,
            tasks: persistent,
        });
    }

    pub(super) fn reply(&mut self, origin: Origin, req: u64, result: Result<String, CodedError>) {
        let (ok, json) = match result {
            Ok(json) => (true, json),
            Err(e) => (false, e.to_json()),
        };
        let value = raw_or_null(json);
        match origin {
            Origin::Js => {
                self.js_requests = self.js_requests.saturating_sub(1);
                self.events.push(&JsEvent::Reply {
                    req,
                    ok,
                    value: &value,
                });
            }
            Origin::Worker(id) => {
                if let Some(w) = self.pool.worker_mut(id) {
                    w.send(&ToWorker::Reply { req, ok, value });
                }
            }
        }
    }
}
