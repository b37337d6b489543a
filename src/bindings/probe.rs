//! Test support, in debug builds only (the test suite's build): the Rust
//! side of every wire shape, for `__test__/wire.test.mjs` to run samples
//! through both sides. Left out of the typings.

use super::parts::{handover, Handover};
use crate::error::{self, CodedError};
use crate::master::requests::NewTask;
use crate::task::Task;
use crate::wire::board::{BoardOp, IdArgs, ListArgs, MasterArgs, Sort, TaskState, TypeArgs};
use crate::wire::events::{self, Events, JsEvent};
use crate::wire::frames::{self, Line, ToMaster, ToWorker};
use crate::wire::payload::{Blob, Payload, LARGE};
use crate::wire::request::Op;
use crate::wire::{self, raw_or_null};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// A task as the samples give it: dates in ms, `data` as JSON, and the
/// blobs it refers to, if any.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sample {
    #[serde(rename = "_id")]
    id: String,
    task_type: String,
    priority: i64,
    created_at: i64,
    due_date: i64,
    data: Box<RawValue>,
    #[serde(default)]
    blobs: Vec<SampleBlob>,
    trace: Option<Box<RawValue>>,
    #[serde(default)]
    failures: u32,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    start_by: Option<i64>,
}

/// A blob as samples give it: `{ "text": "..." }` or `{ "bytes": [1, 2] }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum SampleBlob {
    Text(String),
    Bytes(Vec<u8>),
}

impl SampleBlob {
    fn blob(self) -> Blob {
        match self {
            SampleBlob::Text(text) => Blob::text(text),
            SampleBlob::Bytes(bytes) => Blob::bytes(bytes),
        }
    }
}

fn payload(json: &RawValue, blobs: Vec<SampleBlob>) -> Payload {
    Payload::new(
        json.get().to_owned(),
        blobs.into_iter().map(SampleBlob::blob).collect(),
    )
}

impl Sample {
    fn task(self) -> Task {
        Task {
            id: self.id.into(),
            task_type: self.task_type.into(),
            priority: self.priority,
            created_at: self.created_at,
            due_date: self.due_date,
            data: payload(&self.data, self.blobs),
            trace: self.trace.map(|t| t.get().into()),
            failures: self.failures,
            group: self.group.map(Into::into),
            ..Task::default()
        }
    }
}

/// A task as the samples give it back.
fn sample(task: &Task) -> Value {
    let mut sample = json!({
        "_id": &*task.id,
        "taskType": &*task.task_type,
        "priority": task.priority,
        "createdAt": task.created_at,
        "dueDate": task.due_date,
        "data": serde_json::from_str::<Value>(&task.data.inline()).unwrap_or(Value::Null),
    });
    if let Some(trace) = &task.trace {
        sample["trace"] = serde_json::from_str(trace).unwrap_or(Value::Null);
    }
    sample
}

fn read<T: for<'a> Deserialize<'a>>(input: &str) -> std::result::Result<T, String> {
    serde_json::from_str(input).map_err(|e| e.to_string())
}

/// Runs one side of a shape: `kind` names it, `input` is JSON.
#[napi(skip_typescript)]
pub fn wire_probe(kind: String, input: String) -> Result<String> {
    probe(&kind, &input).map_err(|e| Error::new(Status::InvalidArg, format!("{kind}: {e}")))
}

fn probe(kind: &str, input: &str) -> std::result::Result<String, String> {
    Ok(match kind {
        // Names each side keeps: row fields, request ops, error codes.
        "names" => json!({
            "rowFields": wire::task::ROW_FIELDS,
            "ops": Op::ALL.map(Op::name),
            "codes": error::ALL.map(|c| (c.as_str(), c.name())),
            "maxFrame": wire::framing::MAX_FRAME,
            "boardOps": BoardOp::ALL.map(BoardOp::name),
            "taskStates": TaskState::ALL.map(TaskState::name),
            "sorts": Sort::ALL.map(Sort::name),
        })
        .to_string(),
        // Rust writes: a task's run row and object form.
        "row" => wire::task::row(&read::<Sample>(input)?.task(), true),
        "runRow" => {
            let sample = read::<Sample>(input)?;
            let start_by = sample.start_by;
            wire::task::run_row(&sample.task(), "persistent", start_by)
        }
        "object" => wire::task::object(&read::<Sample>(input)?.task(), false),
        // Rust reads what JS wrote: a batch of add rows, a request's tasks.
        "addRows" => {
            let tasks = wire::task::parse_add_rows(input, Vec::new())?;
            Value::Array(tasks.iter().map(sample).collect()).to_string()
        }
        "request" => {
            #[derive(Deserialize)]
            struct Request {
                op: String,
                args: Box<RawValue>,
            }
            let r: Request = read(input)?;
            let op = Op::parse(&r.op).ok_or("unknown op")?;
            let tasks = NewTask::parse_request(&r.args, op == Op::AddTasks, Vec::new())
                .map_err(|e: CodedError| e.message)?;
            let tasks: Vec<Value> = tasks
                .iter()
                .map(|t| {
                    let mut s = sample(&t.task);
                    s["inMemory"] = t.in_memory.into();
                    s["madeId"] = t.made_id.into();
                    s
                })
                .collect();
            Value::Array(tasks).to_string()
        }
        // The dashboard's arguments, as Rust reads what JS wrote.
        "board" => {
            #[derive(Deserialize)]
            struct Call {
                op: String,
                args: Box<RawValue>,
            }
            let call: Call = read(input)?;
            let op = BoardOp::parse(&call.op).ok_or("unknown board op")?;
            let args = call.args.get();
            match op {
                BoardOp::List => {
                    let a: ListArgs = read(args)?;
                    json!({
                        "taskType": a.task_type,
                        "state": a.state.map(TaskState::name),
                        "idPrefix": a.id_prefix,
                        "sort": a.sort.name(),
                        "after": a.after,
                        "limit": a.limit,
                    })
                }
                BoardOp::Task
                | BoardOp::Retry
                | BoardOp::RunNow
                | BoardOp::Cancel
                | BoardOp::Remove => {
                    json!({ "id": read::<IdArgs>(args)?.id })
                }
                BoardOp::RetryFailed | BoardOp::RemoveFailed => {
                    json!({ "taskType": read::<TypeArgs>(args)?.task_type })
                }
                BoardOp::Pause | BoardOp::Resume => {
                    json!({ "master": read::<MasterArgs>(args)?.master })
                }
                BoardOp::Overview | BoardOp::Masters => json!({}),
            }
            .to_string()
        }
        // A dashboard answer as `Board.call` resolves: `{ ok, value }` in,
        // the answer (or the error, its code by name) written by Rust.
        "boardAnswer" => {
            #[derive(Deserialize)]
            struct Given {
                ok: bool,
                value: Box<RawValue>,
            }
            let given: Given = read(input)?;
            let result = if given.ok {
                Ok(given.value.get().to_owned())
            } else {
                let code = error::ALL
                    .into_iter()
                    .find(|c| c.as_str() == given.value.get().trim_matches('"'))
                    .ok_or("unknown code")?;
                Err(CodedError::new(code, "m \"q\""))
            };
            wire::board::answer(result)
        }
        // A worker's frame, read as the master reads it.
        "frame" => frame(&ToMaster::decode(input.as_bytes())?)?,
        // Events, as the dispatcher hands them: `done` with a value (in a
        // row, they become a `doneBatch`), then an `error` and a `retry`.
        "events" => {
            #[derive(Deserialize)]
            struct Outcome {
                task: Sample,
                value: Option<Box<RawValue>>,
            }
            let mut events = Events::default();
            let outcomes: Vec<Outcome> = read(input)?;
            let mut last = None;
            for o in outcomes {
                let task = o.task.task();
                let value = o
                    .value
                    .as_deref()
                    .map(|raw| frames::Value { raw, large: None });
                events.push_done(&task, wire::task::Row::of(&task, true), value);
                last = Some(task);
            }
            if let Some(task) = last {
                let row = raw_or_null(wire::task::row(&task, true));
                let error = raw_or_null(r#"{"name":"Error","message":"m"}"#.to_owned());
                events.push(&JsEvent::Error {
                    task: &row,
                    value: &error,
                    data_part: None,
                });
                events.push(&JsEvent::Retry {
                    task: &row,
                    value: &error,
                    attempt: 2,
                    next_run_at: wire::events::Date(task.due_date),
                    data_part: None,
                });
            }
            events.take().0
        }
        other => return Err(format!("unknown probe {other:?}")),
    })
}

/// Runs one side of a shape that is bytes rather than text: `kind` names
/// it, `input` is JSON.
#[napi(skip_typescript)]
pub fn wire_probe_bytes(kind: String, input: String) -> Result<Buffer> {
    probe_bytes(&kind, &input)
        .map(Buffer::from)
        .map_err(|e| Error::new(Status::InvalidArg, format!("{kind}: {e}")))
}

fn probe_bytes(kind: &str, input: &str) -> std::result::Result<Vec<u8>, String> {
    Ok(match kind {
        // A master's line (one frame), as Rust writes it: runs (`[run,
        // sample]`) and messages.
        "line" => {
            let mut line = Line::default();
            for item in read::<Vec<Value>>(input)? {
                match item {
                    Value::Array(run) => {
                        let number = run.first().and_then(Value::as_u64).unwrap_or(0);
                        let task =
                            read::<Sample>(&run.get(1).cloned().unwrap_or_default().to_string())?;
                        line.push_run(number, &wire::task::Row::of(&task.task(), true));
                    }
                    message => line.push(&to_worker(message)?),
                }
            }
            line.take().concat()
        }
        other => return Err(format!("unknown probe {other:?}")),
    })
}

/// Outcome events of tasks whose data or value may be large, as the
/// dispatcher hands them to JS: the JSON alone, or with its parts.
#[napi(skip_typescript)]
pub fn wire_probe_handover(input: String) -> Result<Either<String, Handover>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Ended {
        task: Sample,
        value: Option<Box<RawValue>>,
        #[serde(default)]
        value_blobs: Vec<SampleBlob>,
        #[serde(default)]
        error: bool,
    }
    let outcomes: Vec<Ended> =
        read(&input).map_err(|e| Error::new(Status::InvalidArg, format!("handover: {e}")))?;
    let mut events = Events::default();
    for o in outcomes {
        let task = o.task.task();
        let row = wire::task::Row::of(&task, true);
        let value = o.value.as_deref();
        let large = value
            .filter(|raw| !o.value_blobs.is_empty() || raw.get().len() >= LARGE)
            .map(|raw| payload(raw, o.value_blobs));
        let value = value.map(|raw| frames::Value {
            raw,
            large: large.as_ref(),
        });
        if o.error {
            let error = raw_or_null(r#"{"name":"Error","message":"m"}"#.to_owned());
            events.push_outcome(events::Outcome::Error(&error), &row);
        } else {
            events.push_done(&task, row, value);
        }
    }
    Ok(handover(events.take()))
}

/// A `ToWorker` message from its JSON (as JS reads it).
fn to_worker(message: Value) -> std::result::Result<ToWorker, String> {
    let raw = |key: &str| raw_or_null(message.get(key).cloned().unwrap_or_default().to_string());
    let number = |key: &str| message.get(key).and_then(Value::as_u64).unwrap_or(0);
    Ok(match message.get("type").and_then(Value::as_str) {
        Some("ipcReply") => ToWorker::IpcReply {
            run: number("run"),
            msg: raw("msg"),
        },
        Some("reply") => ToWorker::Reply {
            req: number("req"),
            ok: message.get("ok").and_then(Value::as_bool).unwrap_or(false),
            value: raw("value"),
        },
        Some("recall") => ToWorker::Recall {
            runs: read(&message.get("runs").cloned().unwrap_or_default().to_string())?,
        },
        Some("abort") => ToWorker::Abort {
            run: number("run"),
            reason: raw("reason"),
        },
        Some("stop") => ToWorker::Stop,
        other => return Err(format!("unknown message type {other:?}")),
    })
}

/// A frame as the master understood it.
fn frame(msg: &ToMaster) -> std::result::Result<String, String> {
    let parse = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null);
    Ok(match msg {
        ToMaster::Ready => json!({ "type": "ready" }),
        ToMaster::Done { run, us, value } => {
            json!({ "type": "done", "run": run, "us": us, "value": value.map(parse) })
        }
        ToMaster::Failed { run, us, error } => {
            json!({ "type": "failed", "run": run, "us": us, "error": parse(error) })
        }
        ToMaster::Recalled { runs } => json!({ "type": "recalled", "runs": runs }),
        ToMaster::Ipc { run, msg } => json!({ "type": "ipc", "run": run, "msg": parse(msg) }),
        ToMaster::Progress { run, value } => {
            json!({ "type": "progress", "run": run, "value": parse(value) })
        }
        ToMaster::Request { req, op, args } => {
            json!({ "type": "request", "req": req, "op": op.name(), "args": parse(args) })
        }
    }
    .to_string())
}
