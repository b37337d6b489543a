//! A task's three forms across JS and Rust, one field order for both rows:
//!
//! | form | where | shape |
//! | --- | --- | --- |
//! | run row | runs to workers, outcome events | `[_id, taskType, priority, createdAt, dueOffset, data, onGoing, extra?]` |
//! | add row | the facade's batch of in-memory adds | `[_id, taskType, priority, createdAt, dueOffset, data, carrier?]` |
//! | object | answers of calls (`findById`, `tasks()`...) | `{ _id, taskType, priority, createdAt, dueDate, data, progress?, group?, onGoing }` |
//!
//! Dates are ms numbers in rows (`dueOffset` = `dueDate - createdAt`, mostly
//! 0: a small integer parses without the floating-point path a 13-digit one
//! takes) and `{"$date": ms}` in the object form; `data` is EJSON text,
//! carried as is. `lib/wire.js` reads and writes the same shapes, with the
//! indices of `ROW_FIELDS`.

use crate::task::{push_int, Task};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

/// The fields of a row, in order (`ROW` in `lib/wire.js`); an add row is
/// the first six, and its seventh is a traced add's carrier. The last,
/// `extra`, is there only for a task with a group, a start deadline or
/// added in a traced span: `{ group?, startBy?, attempt?, queue?,
/// carrier? }` (`startBy`: this machine's epoch ms after which the worker
/// hands the run back unstarted, for a rate; the last three what the
/// worker's run span needs).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) const ROW_FIELDS: [&str; 8] = [
    "_id",
    "taskType",
    "priority",
    "createdAt",
    "dueOffset",
    "data",
    "onGoing",
    "extra",
];

/// The run row of `task`, as runs and outcome events carry it.
pub(crate) fn row(task: &Task, on_going: bool) -> String {
    let mut out = Vec::with_capacity(64 + task.id.len() + task.task_type.len() + task.data.len());
    out.push(b'[');
    json_str(&mut out, &task.id);
    out.push(b',');
    json_str(&mut out, &task.task_type);
    for n in [
        task.priority,
        task.created_at,
        task.due_date - task.created_at,
    ] {
        out.push(b',');
        push_int(&mut out, n);
    }
    out.push(b',');
    out.extend_from_slice(task.data.as_bytes());
    out.extend_from_slice(if on_going { b",true]" } else { b",false]" });
    String::from_utf8(out).unwrap_or_else(|_| "null".to_owned())
}

/// The run row of `task` for a worker, from `queue` (`"memory"` or
/// `"persistent"`): with its group, the deadline of its start, and what
/// its run span needs when it was traced.
pub(crate) fn run_row(task: &Task, queue: &str, start_by: Option<i64>) -> String {
    let mut row = row(task, true);
    if task.trace.is_none() && task.group.is_none() && start_by.is_none() {
        return row;
    }
    row.pop();
    let mut extra = Vec::with_capacity(64);
    extra.extend_from_slice(b",{");
    let field = |extra: &mut Vec<u8>, name: &str| {
        if extra.len() > 2 {
            extra.push(b',');
        }
        let _ = write!(extra, r#""{name}":"#);
    };
    if let Some(group) = &task.group {
        field(&mut extra, "group");
        json_str(&mut extra, group);
    }
    if let Some(at) = start_by {
        field(&mut extra, "startBy");
        push_int(&mut extra, at);
    }
    if let Some(carrier) = &task.trace {
        field(&mut extra, "attempt");
        let _ = write!(
            extra,
            r#"{},"queue":"{queue}","carrier":{carrier}"#,
            task.failures + 1
        );
    }
    extra.extend_from_slice(b"}]");
    row.push_str(std::str::from_utf8(&extra).unwrap_or("}]"));
    row
}

/// The facade's batch of in-memory adds, `[addRow, ...]` (plain tasks
/// only: one with a policy or its own `_id` is a request).
pub(crate) fn parse_add_rows(json: &str) -> Result<Vec<Task>, String> {
    /// Strings borrowed from the batch where they hold no escape.
    #[derive(serde::Deserialize)]
    struct AddRow<'a>(
        #[serde(borrow)] Cow<'a, str>,
        #[serde(borrow)] Cow<'a, str>,
        i64,
        f64,
        f64,
        &'a RawValue,
        #[serde(default, borrow)] Option<&'a RawValue>,
    );
    let rows: Vec<AddRow> =
        serde_json::from_str(json).map_err(|e| format!("unreadable batch of adds: {e}"))?;
    // A burst is mostly of one type: its tasks share one copy.
    let mut last_type: Option<Arc<str>> = None;
    Ok(rows
        .into_iter()
        .map(
            |AddRow(id, task_type, priority, created_at, due_offset, data, carrier)| {
                let task_type = match &last_type {
                    Some(t) if **t == *task_type => t.clone(),
                    _ => last_type.insert(Arc::from(task_type)).clone(),
                };
                let created_at = created_at as i64;
                Task {
                    id: Arc::from(id),
                    task_type,
                    priority,
                    created_at,
                    due_date: created_at + due_offset as i64,
                    data: data.get().to_owned(),
                    trace: carrier.map(|c| c.get().into()),
                    ..Task::default()
                }
            },
        )
        .collect())
}

/// The object form of `task`, as calls answer with it.
pub(crate) fn object(task: &Task, on_going: bool) -> String {
    let mut out = Vec::with_capacity(112 + task.id.len() + task.task_type.len() + task.data.len());
    out.extend_from_slice(br#"{"_id":"#);
    json_str(&mut out, &task.id);
    out.extend_from_slice(br#","taskType":"#);
    json_str(&mut out, &task.task_type);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        r#","priority":{},"createdAt":{{"$date":{}}},"dueDate":{{"$date":{}}},"data":"#,
        task.priority, task.created_at, task.due_date
    );
    out.extend_from_slice(task.data.as_bytes());
    if let Some(progress) = &task.progress {
        out.extend_from_slice(br#","progress":"#);
        out.extend_from_slice(progress.as_bytes());
    }
    if let Some(group) = &task.group {
        out.extend_from_slice(br#","group":"#);
        json_str(&mut out, group);
    }
    out.extend_from_slice(if on_going {
        br#","onGoing":true}"#
    } else {
        br#","onGoing":false}"#
    });
    String::from_utf8(out).unwrap_or_else(|_| "null".to_owned())
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_rows_parse_with_their_data_untouched_and_share_their_type() {
        let tasks = parse_add_rows(
            r#"[["a","T\"x",3,10,10,{"d":[1,{"$date":5}]}],["b\u0062","T\"x",-1,7,0,{}],["c","U",1,0,0,{}]]"#,
        )
        .unwrap();
        assert_eq!(tasks.len(), 3);
        assert_eq!(&*tasks[0].task_type, "T\"x");
        assert_eq!(
            (tasks[0].priority, tasks[0].created_at, tasks[0].due_date),
            (3, 10, 20)
        );
        assert_eq!(tasks[0].data, r#"{"d":[1,{"$date":5}]}"#);
        assert_eq!(&*tasks[1].id, "bb");
        assert!(Arc::ptr_eq(&tasks[0].task_type, &tasks[1].task_type));
        assert_eq!(&*tasks[2].task_type, "U");
        assert!(parse_add_rows("[[1]]").is_err());
    }

    #[test]
    fn the_object_and_the_row_keep_upstream_names_and_raw_data() {
        let task = Task {
            id: "abc".into(),
            task_type: "T".into(),
            priority: 3,
            created_at: 1,
            due_date: 2,
            data: r#"{"a":[1,{"$date":5}]}"#.into(),
            ..Task::default()
        };
        assert_eq!(
            object(&task, true),
            r#"{"_id":"abc","taskType":"T","priority":3,"createdAt":{"$date":1},"dueDate":{"$date":2},"data":{"a":[1,{"$date":5}]},"onGoing":true}"#
        );
        assert_eq!(
            row(&task, true),
            r#"["abc","T",3,1,1,{"a":[1,{"$date":5}]},true]"#
        );
    }
}
