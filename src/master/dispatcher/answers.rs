//! Answers the dispatcher gives: synchronous queries of the in-memory
//! queue, and `TaskQueue` calls from JS or workers that resolve promises.

use super::*;
use crate::channel::ToWorker;
use crate::master::calls::{self, NewTask};
use crate::master::events::json_array;
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
                    "counters": &self.counters,
                });
                Some(stats.to_string())
            }
        }
    }

    /// A `TaskQueue` call from JS or a worker; answered now, or when its
    /// database job ends.
    pub(super) fn request(&mut self, origin: Origin, req: u64, op: &str, args: Box<RawValue>) {
        if op == "addTask" {
            let task = match NewTask::parse(&args) {
                Ok(task) => task,
                Err(e) => return self.reply(origin, req, Err(e)),
            };
            if task.in_memory {
                let task = task.into_task();
                let id = calls::json_string(&task.id);
                let result = self.add(task).map(|()| id);
                return self.reply(origin, req, result);
            }
            self.persistent.insert(origin, req, task.into_task());
        } else if calls::is_collection_call(op) {
            if let Err(e) = self.persistent.call(origin, req, op, args) {
                self.reply(origin, req, Err(e.in_call(op)));
            }
        } else {
            let e = CodedError::new(Code::InvalidArg, format!("unknown TaskQueue call {op:?}"));
            self.reply(origin, req, Err(e));
        }
    }

    pub(super) fn reply(&mut self, origin: Origin, req: u64, result: Result<String, CodedError>) {
        let (ok, json) = match result {
            Ok(json) => (true, json),
            Err(e) => (false, e.to_json()),
        };
        let value = RawValue::from_string(json).unwrap_or_else(|_| crate::channel::null());
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
