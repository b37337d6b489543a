//! Answers the dispatcher gives: synchronous queries of the in-memory
//! queue, and `TaskQueue` calls from JS or workers that resolve promises.

use super::*;
use crate::channel::ToWorker;
use crate::master::calls::{self, NewTask};
use crate::master::events::json_array;
use crate::master::persistent::{is_series, Insert};
use serde_json::value::RawValue;

pub(super) use crate::master::calls::Origin;

impl Dispatcher {
    pub(super) fn answer(&mut self, query: Query) -> Option<String> {
        match query {
            Query::FindById(id) => self.queue.get(&id).map(|(t, on)| t.to_json(on)),
            Query::RemoveById(id) => self.queue.remove(&id).map(|(t, on)| t.to_json(on)),
            Query::Tasks => {
                let all: Vec<String> = self
                    .queue
                    .all()
                    .iter()
                    .map(|(t, on)| t.to_json(*on))
                    .collect();
                Some(json_array(&all))
            }
            Query::AvailableTasks => {
                let due: Vec<String> = self
                    .queue
                    .available(now_ms())
                    .iter()
                    .map(|t| t.to_json(false))
                    .collect();
                Some(json_array(&due))
            }
            Query::Stats => {
                let now = now_ms();
                let stats = serde_json::json!({
                    "workers": self.workers.values().filter(|w| !w.is_stopping()).count(),
                    "readyWorkers": self.workers.values().filter(|w| w.is_live()).count(),
                    "running": self.runs.len(),
                    "inMemory": {
                        "queued": self.queue.waiting(),
                        "available": self.queue.available_count(now),
                    },
                    "persistent": self.persistent.stats(),
                    "paused": self.paused,
                    "counters": &self.counters,
                });
                Some(stats.to_string())
            }
        }
    }

    /// A `TaskQueue` call from JS or a worker; answered now, or when its
    /// database job ends.
    pub(super) fn request(&mut self, origin: Origin, req: u64, op: &str, args: Box<RawValue>) {
        match op {
            "addTask" | "addTasks" => {
                let many = op == "addTasks";
                match NewTask::parse_call(&args, many) {
                    Ok(tasks) => self.add_new(origin, req, tasks, many),
                    Err(e) => self.reply(origin, req, Err(e.in_call(op))),
                }
            }
            op if calls::is_collection_call(op) => {
                if let Err(e) = self.persistent.call(origin, req, op, args) {
                    self.reply(origin, req, Err(e.in_call(op)));
                }
            }
            other => {
                let e = CodedError::invalid(format!("unknown TaskQueue call {other:?}"));
                self.reply(origin, req, Err(e));
            }
        }
    }

    /// Adds a call's tasks: in-memory ones at once (all or none: a
    /// duplicate `_id` fails the call before any is queued), persistent
    /// ones in the next insert; answered when all are in.
    pub(super) fn add_new(
        &mut self,
        origin: Origin,
        req: u64,
        tasks: Vec<(bool, Task, bool)>,
        many: bool,
    ) {
        let op = if many { "addTasks" } else { "addTask" };
        let mut seen = std::collections::HashSet::new();
        for (index, (in_memory, task, _)) in tasks.iter().enumerate() {
            let mut taken = || self.queue.get(&task.id).is_some() && !is_series(task);
            if *in_memory && (taken() || !seen.insert(&*task.id)) {
                let e = CodedError::new(
                    Code::DuplicateId,
                    format!("an in-memory task with _id {:?} already exists", task.id),
                );
                return self.reply(
                    origin,
                    req,
                    Err(calls::at_index(e, index, many).in_call(op)),
                );
            }
        }
        let ids: Vec<String> = tasks.iter().map(|(_, t, _)| t.id.to_string()).collect();
        let mut persistent = Vec::new();
        for (index, (in_memory, task, made_id)) in tasks.into_iter().enumerate() {
            if !in_memory {
                persistent.push((index, task, made_id));
            } else if self.queue.get(&task.id).is_none() {
                // A series already queued under this _id stays as it is.
                let _ = self.add(task, now_ms());
            }
        }
        if persistent.is_empty() {
            return self.reply(origin, req, Ok(calls::ids_answer(&ids, many)));
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
        let value = crate::channel::raw_or_null(json);
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
                if let Some(w) = self.workers.get_mut(&id) {
                    w.send(&ToWorker::Reply { req, ok, value });
                }
            }
        }
    }
}
