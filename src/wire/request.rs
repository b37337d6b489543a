//! Requests: the `TaskQueue` calls that JS (in the master, or a worker
//! through its master) makes into the dispatcher and that are answered
//! later by a reply with the same number. `OPS` in `lib/wire.js` names the
//! same operations.

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
}

impl Op {
    pub(crate) const ALL: [Op; 7] = [
        Op::AddTask,
        Op::AddTasks,
        Op::Find,
        Op::FindOne,
        Op::Count,
        Op::Remove,
        Op::Update,
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
