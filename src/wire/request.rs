//! Requests: the `TaskQueue` calls that JS (in the master, or a worker
//! through its master) makes into the dispatcher and that are answered
//! later by a reply with the same number. `OPS` in `lib/wire.js` names the
//! same operations.

use crate::limits::Limits;
use crate::policy::{RepeatSpec, Retry};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// A request's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Arguments: one `TaskArgs`.
    AddTask,
    /// Arguments: an array of `TaskArgs`.
    AddTasks,
    /// The collection calls; arguments: `CollectionArgs`.
    Find,
    FindOne,
    Count,
    Remove,
    Update,
    /// Arguments: `CancelArgs`.
    Cancel,
    /// `cluster.metrics()`; no arguments. Answered with `metrics::Family`s.
    Metrics,
    /// Arguments: `SetLimitsArgs`.
    SetLimits,
}

impl Op {
    pub(crate) const ALL: [Op; 10] = [
        Op::AddTask,
        Op::AddTasks,
        Op::Find,
        Op::FindOne,
        Op::Count,
        Op::Remove,
        Op::Update,
        Op::Cancel,
        Op::Metrics,
        Op::SetLimits,
    ];

    /// Its name on the wire, and in `TaskQueue.<name>` of error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::AddTask => "addTask",
            Op::AddTasks => "addTasks",
            Op::Find => "find",
            Op::FindOne => "findOne",
            Op::Count => "count",
            Op::Remove => "remove",
            Op::Update => "update",
            Op::Cancel => "cancel",
            Op::Metrics => "metrics",
            Op::SetLimits => "setLimits",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A task as `addTask` sends it: the facade has checked every field and
/// set `createdAt` (the one clock a task's dates come from).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskArgs {
    #[serde(rename = "_id")]
    pub(crate) id: Option<String>,
    pub(crate) task_type: String,
    pub(crate) priority: i64,
    pub(crate) created_at: i64,
    pub(crate) due_date: i64,
    pub(crate) in_memory: bool,
    pub(crate) data: Box<RawValue>,
    #[serde(default)]
    pub(crate) retry: Option<Retry>,
    #[serde(default)]
    pub(crate) timeout: Option<u64>,
    #[serde(default)]
    pub(crate) repeat: Option<RepeatSpec>,
    /// How many blobs `data` refers to, taken in order from the request's
    /// list (see `wire::payload`).
    #[serde(default)]
    pub(crate) blobs: usize,
    /// A traced add's carrier (`{ traceparent, tracestate? }`).
    #[serde(default)]
    pub(crate) trace: Option<Box<RawValue>>,
    #[serde(default)]
    pub(crate) group: Option<String>,
}

/// `TaskQueue.setLimits(taskType, limits)`: `null` clears them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetLimitsArgs {
    pub(crate) task_type: String,
    pub(crate) limits: Option<Limits>,
}

/// A collection call's arguments, as the facade sends them.
#[derive(Deserialize, Default)]
pub(crate) struct CollectionArgs {
    /// `null` is Meteor's falsy selector, which matches nothing.
    #[serde(default)]
    pub(crate) selector: Value,
    #[serde(default)]
    pub(crate) modifier: Value,
    #[serde(default)]
    pub(crate) options: Value,
}

/// `TaskQueue.cancel`'s arguments: an `_id` (in memory or persistent) or
/// a selector (persistent tasks), and what the error will say.
#[derive(Deserialize)]
pub(crate) struct CancelArgs {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) selector: Value,
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_reads_back_from_its_name() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(op));
        }
        assert_eq!(Op::parse("drop"), None);
    }
}
