//! `TaskQueue` calls that need an answer, from JS in the master or from a
//! worker: their arguments, and the collection calls run against MongoDB
//! (their arguments read as Meteor reads them, in `meteor`). Answers are
//! JSON texts for the facade to decode; failures carry a stable code.

mod meteor;

use crate::error::{Code, CodedError};
use crate::policy::{PolicySpec, RepeatSpec, Retry};
use crate::queue::ejson;
use crate::queue::mongo::Store;
use crate::task::{new_id, now_ms, Task};
use mongodb::bson::{Bson, Document};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Who asked, so the answer goes back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Js,
    Worker(u32),
}

/// A task as `TaskQueue.addTask` sends it.
#[derive(Deserialize)]
pub(crate) struct NewTask {
    #[serde(rename = "_id")]
    id: Option<String>,
    #[serde(rename = "taskType")]
    task_type: String,
    priority: i64,
    #[serde(rename = "dueDate")]
    due_date: i64,
    #[serde(rename = "inMemory", default)]
    pub(crate) in_memory: bool,
    data: Box<RawValue>,
    #[serde(default)]
    retry: Option<Retry>,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    repeat: Option<RepeatSpec>,
}

impl NewTask {
    /// The tasks of an `addTask` call (one) or an `addTasks` call (an
    /// array), each with whether it goes to the in-memory queue and whether
    /// its `_id` is one made here (not the caller's).
    pub(crate) fn parse_call(
        args: &RawValue,
        many: bool,
    ) -> Result<Vec<(bool, Task, bool)>, CodedError> {
        let bad = |e: serde_json::Error| CodedError::invalid(format!("bad arguments: {e}"));
        let tasks: Vec<NewTask> = if many {
            serde_json::from_str(args.get()).map_err(bad)?
        } else {
            vec![serde_json::from_str(args.get()).map_err(bad)?]
        };
        tasks
            .into_iter()
            .enumerate()
            .map(|(index, t)| {
                let in_memory = t.in_memory;
                let made_id = t.id.is_none();
                let task = t.into_task().map_err(|e| at_index(e, index, many))?;
                Ok((in_memory, task, made_id))
            })
            .collect()
    }

    pub(crate) fn into_task(self) -> Result<Task, CodedError> {
        let policy = PolicySpec {
            retry: self.retry,
            timeout: self.timeout,
            repeat: self.repeat,
        }
        .into_policy()
        .map_err(CodedError::invalid)?;
        Ok(Task {
            id: self.id.unwrap_or_else(new_id).into(),
            task_type: self.task_type.into(),
            priority: self.priority,
            created_at: now_ms(),
            due_date: self.due_date,
            data: self.data.get().to_owned(),
            policy,
            failures: 0,
            slot: None,
        })
    }
}

/// Why a collection call failed: the one coded error of the crate.
pub(crate) type CallError = CodedError;

#[derive(Deserialize, Default)]
struct CallArgs {
    /// `null` is Meteor's falsy selector, which matches nothing.
    #[serde(default)]
    selector: Value,
    #[serde(default)]
    modifier: Value,
    #[serde(default)]
    options: Value,
}

/// Runs a collection call (`find`, `findOne`, `count`, `remove`, `update`).
pub(crate) async fn collection_call(
    store: &Store,
    op: &str,
    args: &RawValue,
) -> Result<String, CallError> {
    let args: CallArgs = serde_json::from_str(args.get())
        .map_err(|e| CallError::invalid(format!("bad {op} arguments: {e}")))?;
    let selector = meteor::selector(&args.selector)?;
    let options = meteor::options(&args.options, "the options")?;
    let answer = match op {
        "find" | "findOne" => {
            let mut find = meteor::find_options(&options)?;
            if op == "findOne" {
                find.limit = Some(1);
            }
            let docs = store.find(selector.filter(), &find).await?;
            if op == "findOne" {
                docs.into_iter().next().unwrap_or_else(|| "null".to_owned())
            } else {
                super::events::json_array(&docs)
            }
        }
        "count" => store
            .count(selector.filter(), &meteor::find_options(&options)?)
            .await?
            .to_string(),
        "remove" => store.remove(selector.filter()).await?.to_string(),
        "update" => {
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
        other => {
            return Err(CallError::invalid(format!(
                "unknown TaskQueue call {other:?}"
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

/// A string as JSON text (how an `addTask` answer carries the new `_id`).
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The answer of an add: the `_id`s in order (`addTasks`), or the one `_id`.
pub(crate) fn ids_answer(ids: &[String], many: bool) -> String {
    if many {
        crate::master::events::json_array(&ids.iter().map(|id| json_string(id)).collect::<Vec<_>>())
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

pub(crate) fn is_collection_call(op: &str) -> bool {
    matches!(op, "find" | "findOne" | "count" | "remove" | "update")
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
