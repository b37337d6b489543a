//! A task's three forms across JS and Rust, one field order for both rows:
//!
//! | form | where | shape |
//! | --- | --- | --- |
//! | run row | runs to workers, outcome events | `[_id, taskType, priority, createdAt, dueOffset, data, onGoing, extra?]` |
//! | add row | the facade's batch of in-memory adds | `[_id, taskType, priority, createdAt, dueOffset, data, carrier?, blobCount?]` |
//! | object | answers of calls (`findById`, `tasks()`...) | `{ _id, taskType, priority, createdAt, dueDate, data, progress?, group?, onGoing }` |
//!
//! Dates are ms numbers in rows (`dueOffset` = `dueDate - createdAt`, mostly
//! 0: a small integer parses without the floating-point path a 13-digit one
//! takes) and `{"$date": ms}` in the object form; `data` is EJSON text,
//! carried as is. `lib/wire.js` reads and writes the same shapes, with the
//! indices of `ROW_FIELDS`.

use super::payload::{check_size, Blob, Payload};
use crate::task::{push_int, Task};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

/// The fields of a row, in order (`ROW` in `lib/wire.js`); an add row is
/// the first six, its seventh a traced add's carrier (or `null`) and its
/// eighth how many blobs its data refers to, when any. The last,
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

/// The run row of `task`, as runs and outcome events carry it, as one
/// text (large data written in, see `Row::into_inline`).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) fn row(task: &Task, on_going: bool) -> String {
    Row::of(task, on_going).into_inline()
}

/// A task's run row, as its worker and its outcome events get it. Small
/// data is written into the text; large data (`Payload::is_large`) stays
/// beside it, shared rather than copied, and goes where the text leaves a
/// gap.
pub(crate) struct Row {
    text: String,
    /// Large data, and the place of its gap in `text` (boxed: a run holds
    /// its row, and most rows have none).
    large: Option<Box<(Payload, usize)>>,
}

impl Row {
    pub(crate) fn of(task: &Task, on_going: bool) -> Row {
        let large = task.data.is_large();
        let inline = if large { 0 } else { task.data.json().len() };
        let mut out = Vec::with_capacity(64 + task.id.len() + task.task_type.len() + inline);
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
        let gap = out.len();
        if !large {
            out.extend_from_slice(task.data.json().as_bytes());
        }
        out.extend_from_slice(if on_going { b",true]" } else { b",false]" });
        Row {
            text: String::from_utf8(out).unwrap_or_else(|_| "null".to_owned()),
            large: large.then(|| Box::new((task.data.clone(), gap))),
        }
    }

    /// The run row of `task` for a worker, from `queue` (`"memory"` or
    /// `"persistent"`): with its group, the deadline of its start, and
    /// what its run span needs when it was traced, in `extra` (after the
    /// data's gap).
    pub(crate) fn run(task: &Task, queue: &str, start_by: Option<i64>) -> Row {
        let mut row = Row::of(task, true);
        if task.trace.is_none() && task.group.is_none() && start_by.is_none() {
            return row;
        }
        row.text.pop();
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
        row.text
            .push_str(std::str::from_utf8(&extra).unwrap_or("}]"));
        row
    }

    /// Bytes of the row, its data's blobs included.
    pub(crate) fn len(&self) -> usize {
        self.text.len() + self.large.as_ref().map_or(0, |large| large.0.size())
    }

    /// A row whose data is in `text`.
    pub(crate) fn from_text(text: String) -> Row {
        Row { text, large: None }
    }

    /// The whole text when the data is in it.
    pub(crate) fn text(&self) -> Option<&str> {
        self.large.is_none().then_some(self.text.as_str())
    }

    /// The whole text when the data is in it, else the row itself.
    pub(crate) fn into_text(self) -> Result<String, Row> {
        match self.large {
            None => Ok(self.text),
            Some(_) => Err(self),
        }
    }

    /// The text before and after the gap, and the large data that goes there.
    pub(crate) fn large(&self) -> Option<(&str, &Payload, &str)> {
        let (data, gap) = &**self.large.as_ref()?;
        Some((&self.text[..*gap], data, &self.text[*gap..]))
    }

    /// The row with `null` where the large data goes (which then travels
    /// apart), or the whole row.
    pub(crate) fn without_data(&self) -> Cow<'_, str> {
        match self.large() {
            None => Cow::Borrowed(&self.text),
            Some((head, _, tail)) => Cow::Owned(format!("{head}null{tail}")),
        }
    }

    /// The row as one text, its data written in whatever its size (blobs as
    /// strings and base64), for where nothing can travel beside it.
    pub(crate) fn into_inline(self) -> String {
        match self.large() {
            None => self.text,
            Some((head, data, tail)) => {
                let data = data.inline();
                let mut out = String::with_capacity(head.len() + data.len() + tail.len());
                out.push_str(head);
                out.push_str(&data);
                out.push_str(tail);
                out
            }
        }
    }
}

/// The run row of `task` for a worker, from `queue` (`"memory"` or
/// `"persistent"`), as one text (large data written in).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) fn run_row(task: &Task, queue: &str, start_by: Option<i64>) -> String {
    Row::run(task, queue, start_by).into_inline()
}

/// The facade's batch of in-memory adds, `[addRow, ...]` (plain tasks
/// only: one with a policy or its own `_id` is a request), and the blobs
/// of their data, in order: a row whose data refers to blobs says how
/// many in an eighth field (its seventh, the carrier, then `null` when
/// untraced).
pub(crate) fn parse_add_rows(json: &str, blobs: Vec<Blob>) -> Result<Vec<Task>, String> {
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
        #[serde(default)] usize,
    );
    let rows: Vec<AddRow> =
        serde_json::from_str(json).map_err(|e| format!("unreadable batch of adds: {e}"))?;
    let named: usize = rows.iter().map(|row| row.7).sum();
    if named != blobs.len() {
        return Err(format!(
            "a batch of adds whose data refers to {named} blobs came with {}",
            blobs.len()
        ));
    }
    let mut blobs = blobs.into_iter();
    // A burst is mostly of one type: its tasks share one copy.
    let mut last_type: Option<Arc<str>> = None;
    rows.into_iter()
        .map(
            |AddRow(id, task_type, priority, created_at, due_offset, data, carrier, count)| {
                let task_type = match &last_type {
                    Some(t) if **t == *task_type => t.clone(),
                    _ => last_type.insert(Arc::from(task_type)).clone(),
                };
                let data = match count {
                    0 => Payload::from(data.get()),
                    n => Payload::new(data.get().to_owned(), blobs.by_ref().take(n).collect()),
                };
                check_size(&data).map_err(|e| format!("task {id}: {e}"))?;
                let created_at = created_at as i64;
                Ok(Task {
                    id: Arc::from(id),
                    task_type,
                    priority,
                    created_at,
                    due_date: created_at + due_offset as i64,
                    data,
                    trace: carrier.map(|c| c.get().into()),
                    ..Task::default()
                })
            },
        )
        .collect()
}

/// The object form of `task`, as calls answer with it.
pub(crate) fn object(task: &Task, on_going: bool) -> String {
    let data = task.data.inline();
    let mut out = Vec::with_capacity(112 + task.id.len() + task.task_type.len() + data.len());
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
    out.extend_from_slice(data.as_bytes());
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
            Vec::new(),
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
        assert!(parse_add_rows("[[1]]", Vec::new()).is_err());
    }

    #[test]
    fn add_rows_take_a_carrier_then_their_blobs_in_order() {
        let tasks = parse_add_rows(
            r#"[["a","T",1,0,0,{"s":{"$binary":0}},{"traceparent":"00-x"},1],["b","T",1,0,0,{"t":[{"$binary":0},{"$binary":1}]},null,2],["c","T",1,0,0,{},{"traceparent":"00-y"}]]"#,
            vec![Blob::text("one".to_owned()), Blob::bytes(vec![2]), Blob::text("three".to_owned())],
        )
        .unwrap();
        assert_eq!(tasks[0].trace.as_deref(), Some(r#"{"traceparent":"00-x"}"#));
        assert_eq!(tasks[0].data.blobs(), [Blob::text("one".to_owned())]);
        assert_eq!(tasks[1].trace, None);
        assert_eq!(
            tasks[1].data.blobs(),
            [Blob::bytes(vec![2]), Blob::text("three".to_owned())]
        );
        assert_eq!(tasks[2].trace.as_deref(), Some(r#"{"traceparent":"00-y"}"#));
        assert!(tasks[2].data.blobs().is_empty());
        let short = parse_add_rows(r#"[["a","T",1,0,0,{},null,2]]"#, vec![Blob::bytes(vec![1])]);
        assert!(short.unwrap_err().contains("refers to 2 blobs came with 1"));
    }

    #[test]
    fn a_run_row_keeps_its_large_data_apart_and_its_extra_after_it() {
        let task = Task {
            id: "a".into(),
            task_type: "T".into(),
            data: Payload::new(
                r#"{"s":{"$binary":0}}"#.to_owned(),
                vec![Blob::text("x".repeat(10))],
            ),
            group: Some("g".into()),
            ..Task::default()
        };
        let row = Row::run(&task, "memory", None);
        let (head, data, tail) = row.large().unwrap();
        assert_eq!(head, r#"["a","T",0,0,0,"#);
        assert_eq!(data.blobs().len(), 1);
        assert_eq!(tail, r#",true,{"group":"g"}]"#);
        assert_eq!(
            run_row(&task, "memory", None),
            format!(
                r#"["a","T",0,0,0,{{"s":"{}"}},true,{{"group":"g"}}]"#,
                "x".repeat(10)
            )
        );
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
