//! Events from the dispatcher to JS: a typed enum, serialized into one JSON
//! array per hand-over, so JS parses a whole batch at once (`EVENT` and
//! `readDoneBatch` in `lib/wire.js`). Payloads that only JS reads (tasks,
//! results, IPC messages) stay raw JSON; large ones (`Payload::is_large`)
//! go beside the array as parts, which events name by number
//! (`dataPart`, `valuePart`), and JS reads only what a listener asks for.

use super::frames::Value;
use super::payload::Payload;
use super::raw_or_null;
use super::task::Row;
use crate::task::{push_int, Task};
use serde::Serialize;
use serde_json::value::RawValue;
use std::io::Write;
use std::sync::Arc;

/// In `done`, `error` and `retry` events the task is the row the worker got
/// (`wire::task::row`); JS makes it an object only when a listener listens.
/// (`done` events of in-memory tasks in a row go as columns instead, see
/// `DoneColumns`.)
/// A document that could not be read comes as the object it was.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum JsEvent<'a> {
    /// A task finished; `value` is absent when it returned `undefined` or
    /// when it is the part `value_part`. A task whose data is the part
    /// `data_part` has `null` in its row instead.
    #[serde(rename_all = "camelCase")]
    Done {
        task: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<&'a RawValue>,
        #[serde(skip_serializing_if = "Option::is_none")]
        data_part: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value_part: Option<usize>,
    },
    /// A task failed for good.
    #[serde(rename_all = "camelCase")]
    Error {
        task: &'a RawValue,
        value: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        data_part: Option<usize>,
    },
    /// An attempt failed and the task will run again at `next_run_at`.
    #[serde(rename_all = "camelCase")]
    Retry {
        task: &'a RawValue,
        value: &'a RawValue,
        attempt: u32,
        next_run_at: Date,
        #[serde(skip_serializing_if = "Option::is_none")]
        data_part: Option<usize>,
    },
    /// A running task's latest `job.progress(value)`.
    #[serde(rename_all = "camelCase")]
    Progress {
        task: &'a RawValue,
        value: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        data_part: Option<usize>,
    },
    /// A task's IPC message, for the `messageBroker`.
    Ipc {
        worker: u32,
        run: u64,
        msg: &'a RawValue,
    },
    /// The answer to a JS `TaskQueue` call.
    Reply {
        req: u64,
        ok: bool,
        value: &'a RawValue,
    },
    /// A worker started; JS watches `fd` (its own copy of the worker's
    /// socket) for the worker's wake-ups.
    Spawned { worker: u32, fd: i32 },
    /// A worker is gone; JS closes its copy of the socket.
    Retired { worker: u32 },
    /// `close()` finished.
    Closed,
    /// The dispatcher failed and stopped; every pending call must fail.
    Fatal { message: &'a str },
    /// JS's one timer: call `timerFired` in `ms`, instead of at the later
    /// time it holds.
    Timer { ms: f64 },
}

/// A date as EJSON writes it: `{"$date": ms}`.
pub(crate) struct Date(pub(crate) i64);

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$date", &self.0)?;
        map.end()
    }
}

/// The event a run's outcome (or its progress) brings, before it has its
/// task.
#[derive(Clone, Copy)]
pub(crate) enum Outcome<'a> {
    Done(Option<Value<'a>>),
    Error(&'a RawValue),
    Retry {
        value: &'a RawValue,
        attempt: u32,
        at: i64,
    },
    Progress(&'a RawValue),
}

impl<'a> Outcome<'a> {
    /// Its event for the task of `row`, whose large data (if any) is the
    /// part `data_part`; a large value is added to `parts` (when given) or
    /// written in.
    fn event(
        self,
        row: &'a RawValue,
        data_part: Option<usize>,
        parts: Option<&mut Vec<Payload>>,
    ) -> JsEvent<'a> {
        match self {
            Outcome::Done(value) => {
                let large = value.and_then(|v| v.large);
                let value_part = match (large, parts) {
                    (Some(large), Some(parts)) => {
                        parts.push(large.clone());
                        Some(parts.len() - 1)
                    }
                    _ => None,
                };
                JsEvent::Done {
                    task: row,
                    value: value.filter(|_| value_part.is_none()).map(|v| v.raw),
                    data_part,
                    value_part,
                }
            }
            Outcome::Error(value) => JsEvent::Error {
                task: row,
                value,
                data_part,
            },
            Outcome::Retry { value, attempt, at } => JsEvent::Retry {
                task: row,
                value,
                attempt,
                next_run_at: Date(at),
                data_part,
            },
            Outcome::Progress(value) => JsEvent::Progress {
                task: row,
                value,
                data_part,
            },
        }
    }
}

/// Serialized events waiting for JS.
#[derive(Default)]
pub(crate) struct Events {
    /// A JSON array being written (no closing `]`), or empty.
    json: Vec<u8>,
    /// `done` events not written into `json` yet, as columns.
    done: DoneColumns,
    /// Large payloads the events name by their place here.
    parts: Vec<Payload>,
}

impl Events {
    pub(crate) fn push(&mut self, event: &JsEvent) {
        self.next_item();
        // Serializing our own event types into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.json, event);
    }

    /// Adds an event serialized earlier (one held back until MongoDB wrote
    /// its outcome).
    pub(crate) fn push_serialized(&mut self, json: &str) {
        self.next_item();
        self.json.extend_from_slice(json.as_bytes());
    }

    /// The event of a run's `outcome`, for the task of `row` (as its
    /// worker got it); its large data and value go beside the events.
    pub(crate) fn push_outcome(&mut self, outcome: Outcome, row: &Row) {
        let data_part = row.large().map(|(_, data, _)| {
            self.parts.push(data.clone());
            self.parts.len() - 1
        });
        let task = raw_or_null(row.without_data().into_owned());
        let event = outcome.event(&task, data_part, Some(&mut self.parts));
        self.push(&event);
    }

    /// A `done` event for `task` (an in-memory task that ran, so it is
    /// `onGoing`; `row` as its worker got it), as the next row of a
    /// `doneBatch` when nothing in it is large.
    pub(crate) fn push_done(&mut self, task: &Task, row: Row, value: Option<Value>) {
        let large = value.is_some_and(|v| v.large.is_some());
        match row.into_text() {
            Ok(text) if !large => self.done.push(task, text, value.map(|v| v.raw)),
            Ok(text) => self.push_outcome(Outcome::Done(value), &Row::from_text(text)),
            Err(row) => self.push_outcome(Outcome::Done(value), &row),
        }
    }

    /// Starts the next item of the array, after the `done` events before it.
    fn next_item(&mut self) {
        self.write_done();
        self.separate();
    }

    fn separate(&mut self) {
        self.json
            .push(if self.json.is_empty() { b'[' } else { b',' });
    }

    /// Writes the `done` events held as columns, if any, as one item.
    fn write_done(&mut self) {
        if !self.done.is_empty() {
            self.separate();
            self.done.write_to(&mut self.json);
        }
    }

    /// Every event since the last take, as one JSON array (`[]` for none),
    /// and the parts they name.
    pub(crate) fn take(&mut self) -> (String, Vec<Payload>) {
        self.write_done();
        let parts = std::mem::take(&mut self.parts);
        if self.json.is_empty() {
            return ("[]".to_owned(), parts);
        }
        let mut json = std::mem::take(&mut self.json);
        json.push(b']');
        // Everything written is serde_json's output or JSON text we were given.
        let json = String::from_utf8(json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        (json, parts)
    }
}

/// Consecutive `done` events of in-memory tasks, as one `doneBatch` event
/// of columns: V8 parses arrays of one kind of value about twice as fast
/// as one mixed row array per task (850 -> 440 ns per event, the listener's
/// task objects built, in a micro-benchmark). Types go as runs (`[type,
/// count, ...]`), `createdAt` as small offsets from `dateBase` and
/// `dueDates` as offsets from `createdAt`: a burst's tasks share their type
/// and nearly their dates, and small integers parse faster than 13-digit
/// ones (about 100 ns per event less to parse). A lone `done` event goes
/// as itself: one task's columns parse in twice the time and garbage of
/// its row (1.8 against 0.9 µs), and a task awaited alone is the common case.
#[derive(Default)]
struct DoneColumns {
    len: usize,
    /// The first task's own `done` event, written in case it stays alone.
    first: Vec<u8>,
    ids: Vec<u8>,
    /// Runs written so far, and the run being counted.
    types: Vec<u8>,
    type_run: Option<(Arc<str>, usize)>,
    priorities: Vec<u8>,
    date_base: i64,
    created_at: Vec<u8>,
    due_dates: Vec<u8>,
    data: Vec<u8>,
    /// `null` for a task that returned `undefined`; `undefined_at` lists those.
    values: Vec<u8>,
    undefined_at: Vec<u8>,
}

impl DoneColumns {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The columns with one entry per task.
    fn per_task(&mut self) -> [&mut Vec<u8>; 6] {
        [
            &mut self.ids,
            &mut self.priorities,
            &mut self.created_at,
            &mut self.due_dates,
            &mut self.data,
            &mut self.values,
        ]
    }

    fn push(&mut self, task: &Task, row: String, value: Option<&RawValue>) {
        if self.len == 0 {
            self.date_base = task.created_at;
            let task = raw_or_null(row);
            let event = Outcome::Done(value.map(|raw| Value { raw, large: None }));
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.first, &event.event(&task, None, None));
        } else {
            for column in self.per_task() {
                column.push(b',');
            }
        }
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.ids, &*task.id);
        match &mut self.type_run {
            Some((task_type, count)) if *task_type == task.task_type => *count += 1,
            run => {
                if let Some((task_type, count)) = run.take() {
                    Self::write_type_run(&mut self.types, &task_type, count);
                }
                *run = Some((task.task_type.clone(), 1));
            }
        }
        push_int(&mut self.priorities, task.priority);
        push_int(&mut self.created_at, task.created_at - self.date_base);
        push_int(&mut self.due_dates, task.due_date - task.created_at);
        // Small data has no blobs: its text is all of it.
        self.data.extend_from_slice(task.data.json().as_bytes());
        match value {
            Some(value) => self.values.extend_from_slice(value.get().as_bytes()),
            None => {
                self.values.extend_from_slice(b"null");
                if !self.undefined_at.is_empty() {
                    self.undefined_at.push(b',');
                }
                push_int(&mut self.undefined_at, self.len);
            }
        }
        self.len += 1;
    }

    fn write_type_run(types: &mut Vec<u8>, task_type: &str, count: usize) {
        if !types.is_empty() {
            types.push(b',');
        }
        let _ = serde_json::to_writer(&mut *types, task_type);
        types.push(b',');
        push_int(types, count);
    }

    /// Writes them as one `doneBatch` event (or a lone `done`) and starts over.
    fn write_to(&mut self, out: &mut Vec<u8>) {
        let alone = self.len == 1;
        self.len = 0;
        if alone {
            out.append(&mut self.first);
            self.type_run = None;
            self.undefined_at.clear();
            for column in self.per_task() {
                column.clear();
            }
            return;
        }
        self.first.clear();
        if let Some((task_type, count)) = self.type_run.take() {
            Self::write_type_run(&mut self.types, &task_type, count);
        }
        out.extend_from_slice(br#"{"type":"doneBatch","dateBase":"#);
        push_int(out, self.date_base);
        for (name, column) in [
            ("ids", &mut self.ids),
            ("types", &mut self.types),
            ("priorities", &mut self.priorities),
            ("createdAt", &mut self.created_at),
            ("dueDates", &mut self.due_dates),
            ("data", &mut self.data),
            ("values", &mut self.values),
            ("undefinedAt", &mut self.undefined_at),
        ] {
            let _ = write!(out, r#","{name}":["#);
            out.append(column);
            out.push(b']');
        }
        out.push(b'}');
    }
}

/// Serializes one event to JSON text (for events held back, see `Events`).
pub(crate) fn serialize(event: &JsEvent) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// Serializes the event of a run's `outcome` for the task of `row`, with
/// everything written in (for events held back until MongoDB has the
/// outcome; a persistent task's data is at most a MongoDB document).
pub(crate) fn serialize_outcome(outcome: Outcome, row: Row) -> String {
    let row = raw_or_null(row.into_inline());
    let inline;
    let outcome = match outcome {
        Outcome::Done(Some(Value {
            large: Some(large), ..
        })) => {
            inline = raw_or_null(large.inline().into_owned());
            Outcome::Done(Some(Value {
                raw: &inline,
                large: None,
            }))
        }
        other => other,
    };
    serialize(&outcome.event(&row, None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn events_are_handed_over_as_one_array_with_raw_payloads() {
        let mut events = Events::default();
        assert_eq!(events.take().0, "[]");
        events.push(&JsEvent::Done {
            task: &raw(r#"["a","T",1,2,3,{"at":{"$date":5}},true]"#),
            value: None,
            data_part: None,
            value_part: None,
        });
        events.push(&JsEvent::Reply {
            req: 3,
            ok: true,
            value: &raw("[1,2]"),
        });
        events.push_serialized(&serialize(&JsEvent::Closed));
        assert_eq!(
            events.take().0,
            r#"[{"type":"done","task":["a","T",1,2,3,{"at":{"$date":5}},true]},{"type":"reply","req":3,"ok":true,"value":[1,2]},{"type":"closed"}]"#
        );
        assert_eq!(events.take().0, "[]");
    }

    #[test]
    fn done_events_in_a_row_become_columns_in_their_place_and_a_lone_one_stays_itself() {
        let task = |id: &str, task_type: &str, priority: i64, created_at: i64| Task {
            id: id.into(),
            task_type: task_type.into(),
            priority,
            created_at,
            due_date: created_at + 1,
            data: r#"{"at":{"$date":5}}"#.into(),
            ..Task::default()
        };
        // As the dispatcher does: with the row the task's worker got.
        fn push_done(events: &mut Events, task: Task, value: Option<&RawValue>) {
            let value = value.map(|raw| Value { raw, large: None });
            events.push_done(&task, Row::of(&task, true), value)
        }
        let mut events = Events::default();
        push_done(&mut events, task("a", "T\"", 1, 20), Some(&raw("[1]")));
        push_done(&mut events, task("b", "T\"", -4, 18), None);
        push_done(&mut events, task("c", "U", 2, 20), None);
        push_done(&mut events, task("d", "T\"", 2, 21), None);
        events.push(&JsEvent::Closed);
        push_done(&mut events, task("e", "U", 0, 2), None);
        assert_eq!(
            events.take().0,
            concat!(
                r#"[{"type":"doneBatch","dateBase":20,"ids":["a","b","c","d"],"#,
                r#""types":["T\"",2,"U",1,"T\"",1],"priorities":[1,-4,2,2],"#,
                r#""createdAt":[0,-2,0,1],"dueDates":[1,1,1,1],"data":[{"at":{"$date":5}},"#,
                r#"{"at":{"$date":5}},{"at":{"$date":5}},{"at":{"$date":5}}],"#,
                r#""values":[[1],null,null,null],"undefinedAt":[1,2,3]},{"type":"closed"},"#,
                r#"{"type":"done","task":["e","U",0,2,1,{"at":{"$date":5}},true]}]"#
            )
        );
        assert_eq!(events.take().0, "[]");
        // A lone event leaves nothing behind in the columns.
        push_done(&mut events, task("f", "V", 3, 40), Some(&raw("7")));
        events.push(&JsEvent::Closed);
        push_done(&mut events, task("g", "U", 1, 50), Some(&raw("8")));
        push_done(&mut events, task("h", "U", 1, 51), None);
        assert_eq!(
            events.take().0,
            concat!(
                r#"[{"type":"done","task":["f","V",3,40,1,{"at":{"$date":5}},true],"value":7},"#,
                r#"{"type":"closed"},{"type":"doneBatch","dateBase":50,"ids":["g","h"],"types":["U",2],"#,
                r#""priorities":[1,1],"createdAt":[0,1],"dueDates":[1,1],"#,
                r#""data":[{"at":{"$date":5}},{"at":{"$date":5}}],"values":[8,null],"undefinedAt":[1]}]"#
            )
        );
    }

    #[test]
    fn large_data_and_values_go_beside_the_events_and_break_a_run_of_columns() {
        let small = Task {
            id: "s".into(),
            task_type: "T".into(),
            data: "{}".into(),
            ..Task::default()
        };
        let large_data = Payload::new(
            r#"{"s":{"$binary":0}}"#.to_owned(),
            vec![super::super::payload::Blob::text("x".to_owned())],
        );
        let big = Task {
            id: "b".into(),
            data: large_data.clone(),
            ..small.clone()
        };
        let value = Payload::new(
            r#"{"$binary":0}"#.to_owned(),
            vec![super::super::payload::Blob::bytes(vec![1u8])],
        );
        let raw_value = raw(value.json());
        let large_value = Value {
            raw: &raw_value,
            large: Some(&value),
        };
        let mut events = Events::default();
        events.push_done(&small, Row::of(&small, true), None);
        events.push_done(&small, Row::of(&small, true), None);
        events.push_done(&big, Row::of(&big, true), None);
        events.push_done(&small, Row::of(&small, true), Some(large_value));
        events.push_outcome(Outcome::Error(&raw("1")), &Row::of(&big, true));
        let (json, parts) = events.take();
        assert_eq!(
            json,
            concat!(
                r#"[{"type":"doneBatch","dateBase":0,"ids":["s","s"],"types":["T",2],"#,
                r#""priorities":[0,0],"createdAt":[0,0],"dueDates":[0,0],"data":[{},{}],"#,
                r#""values":[null,null],"undefinedAt":[0,1]},"#,
                r#"{"type":"done","task":["b","T",0,0,0,null,true],"dataPart":0},"#,
                r#"{"type":"done","task":["s","T",0,0,0,{},true],"valuePart":1},"#,
                r#"{"type":"error","task":["b","T",0,0,0,null,true],"value":1,"dataPart":2}]"#
            )
        );
        assert_eq!(parts, [large_data.clone(), value.clone(), large_data]);
        assert_eq!(
            serialize_outcome(Outcome::Done(Some(large_value)), Row::of(&big, true)),
            r#"{"type":"done","task":["b","T",0,0,0,{"s":"x"},true],"value":{"$binary":"AQ=="}}"#
        );
    }
}
