//! The dashboard's calls into the addon (`Board.call(op, args)`): each an
//! `BoardOp` and its arguments, answered by JSON text. `BOARD_OPS`,
//! `TASK_STATES` and `SORTS` in `lib/wire.js` name the same values.
//!
//! Answers (all dates as ms since the epoch, task documents as EJSON):
//!
//! | op | answer |
//! | --- | --- |
//! | `overview` | `{ now, counts: { at, ms, exact: false, estimatedTotal, byType: [{ taskType, due, scheduled, running, failed, recurring, total }] } \| null, oldestDueAt, limits: [{ taskType, limits, inUse: { running, masters, startsInWindow } }] }` |
//! | `list` | `{ tasks: [summary], next: cursor \| null }` |
//! | `task` | `{ task: document \| null, now }` |
//! | `masters` | `{ masters: [registry document], now }` |
//! | an action | `{ changed: n }` |

use crate::error::CodedError;
use serde::Deserialize;

/// What `Board.call` resolves with: `{"ok":true,"value":answer}`, or
/// `{"ok":false,"value":{name,message,code}}` (`readBoardAnswer` in
/// `lib/wire.js` reads it).
pub(crate) fn answer(result: Result<String, CodedError>) -> String {
    match result {
        Ok(value) => format!(r#"{{"ok":true,"value":{value}}}"#),
        Err(e) => format!(r#"{{"ok":false,"value":{}}}"#, e.to_json()),
    }
}

/// A dashboard call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoardOp {
    /// Counts per task type and state (cached, counted in the background)
    /// and the oldest due task's due date. No arguments.
    Overview,
    /// A page of tasks. Arguments: `ListArgs`.
    List,
    /// One task's whole document. Arguments: `IdArgs`.
    Task,
    /// The live masters of the registry. No arguments.
    Masters,
    /// A failed task due again now, its attempts and error reset: `IdArgs`.
    Retry,
    /// Every failed task of a type, in one update: `TypeArgs`.
    RetryFailed,
    /// A queued task due now: `IdArgs`.
    RunNow,
    /// A queued or running task cancelled (as `TaskQueue.cancel`): `IdArgs`.
    Cancel,
    /// A task that is not running, removed: `IdArgs`.
    Remove,
    /// Every failed task of a type, removed: `TypeArgs`.
    RemoveFailed,
    /// A master asked, through its registry document, to pause or resume:
    /// `MasterArgs`.
    Pause,
    Resume,
}

impl BoardOp {
    pub(crate) const ALL: [BoardOp; 12] = [
        BoardOp::Overview,
        BoardOp::List,
        BoardOp::Task,
        BoardOp::Masters,
        BoardOp::Retry,
        BoardOp::RetryFailed,
        BoardOp::RunNow,
        BoardOp::Cancel,
        BoardOp::Remove,
        BoardOp::RemoveFailed,
        BoardOp::Pause,
        BoardOp::Resume,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            BoardOp::Overview => "overview",
            BoardOp::List => "list",
            BoardOp::Task => "task",
            BoardOp::Masters => "masters",
            BoardOp::Retry => "retry",
            BoardOp::RetryFailed => "retryFailed",
            BoardOp::RunNow => "runNow",
            BoardOp::Cancel => "cancel",
            BoardOp::Remove => "remove",
            BoardOp::RemoveFailed => "removeFailed",
            BoardOp::Pause => "pause",
            BoardOp::Resume => "resume",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<BoardOp> {
        BoardOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A task's state as the dashboard filters and counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum TaskState {
    /// Waiting, and due now.
    Due,
    /// Waiting for a later due date.
    Scheduled,
    /// Claimed by a master (`onGoing`).
    Running,
    /// Failed for good.
    Failed,
    /// A series (`repeat`), whatever its state.
    Recurring,
}

#[cfg_attr(not(debug_assertions), allow(dead_code))]
impl TaskState {
    pub(crate) const ALL: [TaskState; 5] = [
        TaskState::Due,
        TaskState::Scheduled,
        TaskState::Running,
        TaskState::Failed,
        TaskState::Recurring,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TaskState::Due => "due",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Failed => "failed",
            TaskState::Recurring => "recurring",
        }
    }
}

/// The orders a task list can take; each is served by an index
/// (`queue::mongo::board`), with `_id` breaking ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Sort {
    /// Highest first.
    Priority,
    /// Soonest first.
    DueDate,
    /// Newest first.
    CreatedAt,
}

impl Sort {
    pub(crate) const ALL: [Sort; 3] = [Sort::Priority, Sort::DueDate, Sort::CreatedAt];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Sort::Priority => "priority",
            Sort::DueDate => "dueDate",
            Sort::CreatedAt => "createdAt",
        }
    }

    /// The direction of the field: 1 ascending, -1 descending.
    pub(crate) fn direction(self) -> i32 {
        match self {
            Sort::Priority | Sort::CreatedAt => -1,
            Sort::DueDate => 1,
        }
    }
}

/// `list`'s arguments; the facade has checked each (400 otherwise).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ListArgs {
    #[serde(default)]
    pub(crate) task_type: Option<String>,
    #[serde(default)]
    pub(crate) state: Option<TaskState>,
    #[serde(default)]
    pub(crate) id_prefix: Option<String>,
    pub(crate) sort: Sort,
    /// The `next` of the page before (opaque to JS).
    #[serde(default)]
    pub(crate) after: Option<String>,
    pub(crate) limit: u32,
}

/// A call on one task.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdArgs {
    pub(crate) id: String,
}

/// A call on the failed tasks of one type.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TypeArgs {
    pub(crate) task_type: String,
}

/// A call on one master of the registry (its `_id`).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct MasterArgs {
    pub(crate) master: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_reads_back_from_its_name() {
        for op in BoardOp::ALL {
            assert_eq!(BoardOp::parse(op.name()), Some(op));
        }
        assert_eq!(BoardOp::parse("drop"), None);
    }

    #[test]
    fn list_arguments_refuse_what_they_do_not_know() {
        let args: ListArgs =
            serde_json::from_str(r#"{"sort":"dueDate","state":"failed","limit":50}"#).unwrap();
        assert_eq!(args.sort, Sort::DueDate);
        assert_eq!(args.state, Some(TaskState::Failed));
        assert!(serde_json::from_str::<ListArgs>(r#"{"sort":"x","limit":1}"#).is_err());
        assert!(
            serde_json::from_str::<ListArgs>(r#"{"sort":"priority","limit":1,"y":1}"#).is_err()
        );
    }
}
