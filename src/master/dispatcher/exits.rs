//! The last worker exits that were not clean stops (a crash, a kill, a
//! failed start), each with the task it was blamed for: what a dashboard
//! shows of a pool's recent troubles (`stats().recentExits`, and the
//! masters' registry).

use crate::sys::Exit;
use std::collections::VecDeque;

/// How many exits are kept.
const KEPT: usize = 20;

#[derive(Default)]
pub(super) struct RecentExits {
    exits: VecDeque<serde_json::Value>,
}

impl RecentExits {
    /// A worker ended at `at` (ms); `task` is the `(_id, taskType)` of the
    /// run it was blamed for, if any.
    pub(super) fn record(
        &mut self,
        at: i64,
        worker: u32,
        pid: u32,
        exit: &Exit,
        task: Option<(&str, &str)>,
    ) {
        if self.exits.len() == KEPT {
            self.exits.pop_front();
        }
        self.exits.push_back(serde_json::json!({
            "at": at,
            "id": worker,
            "pid": pid,
            "code": exit.code,
            "signal": exit.signal,
            "task": task.map(|(id, task_type)| serde_json::json!({ "_id": id, "taskType": task_type })),
        }));
    }

    /// Newest first.
    pub(super) fn view(&self) -> serde_json::Value {
        serde_json::Value::Array(self.exits.iter().rev().cloned().collect())
    }
}
