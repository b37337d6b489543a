//! Requests (`TaskQueue` calls that need an answer, from JS in the master
//! or from a worker): the tasks of an add, and the collection calls run
//! against MongoDB (their arguments read as Meteor reads them, in
//! `meteor`). Their shapes are in `wire::request`. Answers are JSON texts
//! for the facade to decode; failures carry a stable code.

mod meteor;

use crate::error::{Code, CodedError};
use crate::policy::PolicySpec;
use crate::queue::ejson;
use crate::queue::mongo::Store;
use crate::task::{new_id, now_ms, Task};
use crate::wire::payload::{check_size, Blob, Payload};
use crate::wire::request::{CollectionArgs, Op, SetLimitsArgs, TaskArgs};
use crate::wire::{json_array, json_string};
use mongodb::bson::{Bson, Document};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

/// Who asked, so the answer goes back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Js,
    Worker(u32),
}

/// A task an add request brings.
pub(crate) struct NewTask {
    pub(crate) task: Task,
    /// For the in-memory queue (else persistent).
    pub(crate) in_memory: bool,
    /// Its `_id` was made here, not given by the caller.
    pub(crate) made_id: bool,
}

impl NewTask {
    /// The tasks of an `addTask` request (one) or an `addTasks` request (an
    /// array), with the blobs of their data, in order.
    pub(crate) fn parse_request(
        args: &RawValue,
        many: bool,
        blobs: Vec<Blob>,
    ) -> Result<Vec<NewTask>, CodedError> {
        let bad = |e: serde_json::Error| CodedError::invalid(format!("bad arguments: {e}"));
        let tasks: Vec<TaskArgs> = if many {
            serde_json::from_str(args.get()).map_err(bad)?
        } else {
            vec![serde_json::from_str(args.get()).map_err(bad)?]
        };
        let named: usize = tasks.iter().map(|t| t.blobs).sum();
        if named != blobs.len() {
            return Err(CodedError::invalid(format!(
                "bad arguments: the tasks' data refers to {named} blobs, and {} came",
                blobs.len()
            )));
        }
        let mut blobs = blobs.into_iter();
        tasks
            .into_iter()
            .enumerate()
            .map(|(index, t)| {
                let own = blobs.by_ref().take(t.blobs).collect();
                NewTask::of(t, own).map_err(|e| at_index(e, index, many))
            })
            .collect()
    }

    fn of(args: TaskArgs, blobs: Vec<Blob>) -> Result<NewTask, CodedError> {
        let data = Payload::new(args.data.get().to_owned(), blobs);
        check_size(&data).map_err(CodedError::invalid)?;
        let policy = PolicySpec {
            retry: args.retry,
            timeout: args.timeout,
            repeat: args.repeat,
        }
        .into_policy()
        .map_err(CodedError::invalid)?;
        Ok(NewTask {
            in_memory: args.in_memory,
            made_id: args.id.is_none(),
            task: Task {
                id: args.id.unwrap_or_else(new_id).into(),
                task_type: args.task_type.into(),
                priority: args.priority,
                created_at: args.created_at,
                due_date: args.due_date,
                data,
                policy,
                trace: args.trace.map(|t| t.get().into()),
                group: args.group.map(Arc::from),
                ..Task::default()
            },
        })
    }
}

/// The error the master would answer request `op` with for its arguments,
/// if they are bad (`Ok` for a collection call: its arguments are read
/// where it runs).
pub(crate) fn check(op: &str, args: &str) -> Result<(), CodedError> {
    let op = Op::parse(op)
        .ok_or_else(|| CodedError::invalid(format!("unknown TaskQueue call {op:?}")))?;
    let args = RawValue::from_string(args.to_owned())
        .map_err(|e| CodedError::invalid(format!("bad arguments: {e}")))?;
    match op {
        Op::AddTask | Op::AddTasks => NewTask::parse_request(&args, op == Op::AddTasks, Vec::new())
            .map(drop)
            .map_err(|e| e.in_call(op.name())),
        Op::SetLimits => SetLimitsArgs::parse(&args).map(drop),
        _ => Ok(()),
    }
}

impl SetLimitsArgs {
    pub(crate) fn parse(args: &RawValue) -> Result<SetLimitsArgs, CodedError> {
        serde_json::from_str(args.get())
            .map_err(|e| CodedError::invalid(format!("bad arguments: {e}")).in_call("setLimits"))
    }
}

/// A selector as `remove` reads it (Meteor's falsy selectors match
/// nothing), as a filter.
pub(crate) fn selector_filter(selector: &Value) -> Result<Document, CodedError> {
    Ok(meteor::selector(selector)?.filter())
}

/// Why a collection call failed: the one coded error of the crate.
pub(crate) type CallError = CodedError;

/// Runs a collection call (`find`, `findOne`, `count`, `remove`, `update`).
pub(crate) async fn collection_call(
    store: &Store,
    op: Op,
    args: &RawValue,
) -> Result<String, CallError> {
    let args: CollectionArgs = serde_json::from_str(args.get())
        .map_err(|e| CallError::invalid(format!("bad {} arguments: {e}", op.name())))?;
    let selector = meteor::selector(&args.selector)?;
    let options = meteor::options(&args.options, "the options")?;
    let answer = match op {
        Op::Find | Op::FindOne => {
            let mut find = meteor::find_options(&options)?;
            if op == Op::FindOne {
                find.limit = Some(1);
            }
            let docs = store.find(selector.filter(), &find).await?;
            if op == Op::FindOne {
                docs.into_iter().next().unwrap_or_else(|| "null".to_owned())
            } else {
                json_array(&docs)
            }
        }
        Op::Count => store
            .count(selector.filter(), &meteor::find_options(&options)?)
            .await?
            .to_string(),
        Op::Remove => store.remove(selector.filter()).await?.to_string(),
        Op::Update => {
            let mut modifier = meteor::modifier(&args.modifier)?;
            let (filter, options) = meteor::update_args(selector, &mut modifier, &options)?;
            let updated = store.update(filter, modifier, &options).await?;
            let inserted_id = match &updated.inserted_id {
                Some(id) => bson_json(id, "insertedId")?,
                None => "null".to_owned(),
            };
            format!(
                r#"{{"numberAffected":{},"insertedId":{inserted_id}}}"#,
                updated.number_affected
            )
        }
        Op::AddTask | Op::AddTasks | Op::Cancel | Op::Metrics | Op::SetLimits => {
            return Err(CallError::invalid(format!(
                "{} is not a collection call",
                op.name()
            )))
        }
    };
    Ok(answer)
}

/// One BSON value as EJSON JSON text.
fn bson_json(value: &Bson, name: &str) -> Result<String, CallError> {
    let raw = mongodb::bson::RawBson::try_from(value.clone())
        .map_err(|e| CodedError::new(Code::Mongo, format!("{name}: {e}")))?;
    ejson::value_json(raw.as_raw_bson_ref(), &ejson::Path::Root(name))
        .map_err(|e| CodedError::new(Code::UndecodableDocument, e.to_string()))
}

/// The answer of an add: the `_id`s in order (`addTasks`), or the one `_id`.
pub(crate) fn ids_answer(ids: &[String], many: bool) -> String {
    if many {
        json_array(&ids.iter().map(|id| json_string(id)).collect::<Vec<_>>())
    } else {
        json_string(&ids[0])
    }
}

/// `e`, about the task at `index` of an `addTasks` call, says which one.
pub(crate) fn at_index(e: CodedError, index: usize, many: bool) -> CodedError {
    if many {
        CodedError::new(e.code, format!("tasks[{index}]: {}", e.message))
    } else {
        e
    }
}

/// The `lastError` written on a failed task, from the error the worker sent.
pub(crate) fn last_error(error: Option<&RawValue>) -> Document {
    let value: Value = error
        .and_then(|e| serde_json::from_str(e.get()).ok())
        .unwrap_or(Value::Null);
    let mut out = Document::new();
    for key in ["name", "message", "stack", "code", "exitCode", "signal"] {
        if let Some(v) = value.get(key) {
            if !v.is_null() {
                out.insert(key, ejson::to_bson(v));
            }
        }
    }
    out.insert("at", ejson::date(now_ms()));
    out
}
