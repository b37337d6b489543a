//! Answers the dispatcher gives: synchronous queries of the in-memory
//! queue, and `TaskQueue` calls from JS or workers that resolve promises.

use super::*;

impl Dispatcher {
    pub(super) fn query(&mut self, query: Query) -> Option<String> {
        match query {
            Query::FindById(id) => self.queue.get(&id).map(|(t, on)| t.to_json(on)),
            Query::RemoveById(id) => Some(self.queue.remove(&id).to_string()),
            Query::Tasks => {
                let all: Vec<String> = self
                    .queue
                    .all()
                    .iter()
                    .map(|(t, on)| t.to_json(*on))
                    .collect();
                Some(crate::master::events::json_array(&all))
            }
            Query::AvailableTasks => {
                let due: Vec<String> = self
                    .queue
                    .available(now_ms())
                    .iter()
                    .map(|t| t.to_json(false))
                    .collect();
                Some(crate::master::events::json_array(&due))
            }
            Query::Stats => {
                let now = now_ms();
                let stats = serde_json::json!({
                    "workers": self.workers.values().filter(|w| !w.stopping).count(),
                    "readyWorkers": self.workers.values().filter(|w| w.ready && !w.stopping).count(),
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

    /// A `TaskQueue` call from JS or a worker; answered now or by a `Cmd::Reply`.
    pub(super) fn request(&mut self, origin: Origin, req: u64, op: &str, args: Box<RawValue>) {
        if op == "addTask" {
            let task = match NewTask::parse(&args) {
                Ok(task) => task,
                Err(e) => return self.reply(origin, req, Err(e)),
            };
            if task.in_memory {
                let result = self.add(task.into_task()).map(|id| calls::json_string(&id));
                return self.reply(origin, req, result);
            }
            self.persistent.insert(origin, req, task.into_task());
        } else if calls::is_collection_call(op) {
            let store = match self.persistent.store() {
                Ok(store) => store,
                Err(e) => return self.reply(origin, req, Err(format!("TaskQueue.{op}: {e}"))),
            };
            let (tx, op) = (self.tx.clone(), op.to_owned());
            tokio::spawn(async move {
                let result = calls::collection_call(&store, &op, &args)
                    .await
                    .map_err(|e| format!("TaskQueue.{op}: {e}"));
                let changed = op == "update" || op == "remove";
                let _ = tx.send(Cmd::Reply {
                    origin,
                    req,
                    result,
                    changed,
                });
            });
        } else {
            self.reply(origin, req, Err(format!("unknown TaskQueue call {op:?}")));
        }
    }

    pub(super) fn reply(&mut self, origin: Origin, req: u64, result: Result<String, String>) {
        let (ok, value) = match result {
            Ok(json) => (true, to_raw(&json)),
            Err(message) => (false, error_json("Error", &message)),
        };
        match origin {
            Origin::Js => {
                self.js_requests = self.js_requests.saturating_sub(1);
                self.events.push(format!(
                    r#"{{"type":"reply","req":{req},"ok":{ok},"value":{}}}"#,
                    value.get()
                ));
            }
            Origin::Worker(id) => {
                if let Some(w) = self.workers.get(&id) {
                    send(w, &ToWorker::Reply { req, ok, value });
                }
            }
        }
    }
}
