//! `TaskQueue` calls that need an answer, from JS in the master or from a
//! worker: their arguments, and the collection calls run against MongoDB.
//! Answers are JSON texts for the facade to decode.

use crate::error::{Code, CodedError};
use crate::queue::ejson;
use crate::queue::mongo::{doc_json, FindOptions, Store};
use crate::task::{new_id, now_ms, Task};
use mongodb::bson::{doc, Bson, Document};
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
}

impl NewTask {
    pub(crate) fn parse(args: &RawValue) -> Result<NewTask, CodedError> {
        serde_json::from_str(args.get())
            .map_err(|e| CodedError::new(Code::InvalidArg, format!("bad addTask arguments: {e}")))
    }

    pub(crate) fn into_task(self) -> Task {
        Task {
            id: self.id.unwrap_or_else(new_id),
            task_type: self.task_type,
            priority: self.priority,
            created_at: now_ms(),
            due_date: self.due_date,
            data: self.data.get().to_owned(),
        }
    }
}

#[derive(Deserialize, Default)]
struct CallArgs {
    selector: Option<Value>,
    modifier: Option<Value>,
    options: Option<Value>,
}

/// Meteor accepts a string selector as `{ _id: selector }`.
fn selector(value: Option<&Value>) -> Result<Document, String> {
    match value {
        None | Some(Value::Null) => Ok(Document::new()),
        Some(Value::String(id)) => Ok(doc! { "_id": id }),
        Some(other) => match ejson::to_bson(other) {
            Bson::Document(d) => Ok(d),
            _ => Err("the selector must be an object or an _id string".to_owned()),
        },
    }
}

fn option_doc(options: &Value, key: &str) -> Option<Document> {
    match options.get(key).map(ejson::to_bson) {
        Some(Bson::Document(d)) => Some(d),
        _ => None,
    }
}

/// Runs a collection call (`find`, `findOne`, `count`, `remove`, `update`).
pub(crate) async fn collection_call(
    store: &Store,
    op: &str,
    args: &RawValue,
) -> Result<String, CodedError> {
    call(store, op, args).await.map_err(|e| match e {
        CallError::Args(message) => CodedError::new(Code::InvalidArg, message),
        CallError::Store(e) => CodedError::from(e),
    })
}

/// Why a collection call failed: its arguments, or the store.
enum CallError {
    Args(String),
    Store(crate::queue::mongo::StoreError),
}

impl From<String> for CallError {
    fn from(message: String) -> Self {
        CallError::Args(message)
    }
}

impl From<crate::queue::mongo::StoreError> for CallError {
    fn from(e: crate::queue::mongo::StoreError) -> Self {
        CallError::Store(e)
    }
}

async fn call(store: &Store, op: &str, args: &RawValue) -> Result<String, CallError> {
    let args: CallArgs =
        serde_json::from_str(args.get()).map_err(|e| format!("bad {op} arguments: {e}"))?;
    let selector = selector(args.selector.as_ref())?;
    let options = args.options.unwrap_or(Value::Null);
    let answer = match op {
        "find" | "findOne" => {
            let find = FindOptions {
                sort: option_doc(&options, "sort"),
                limit: if op == "findOne" {
                    Some(1)
                } else {
                    options.get("limit").and_then(Value::as_i64)
                },
                skip: options.get("skip").and_then(Value::as_u64),
                fields: option_doc(&options, "fields")
                    .or_else(|| option_doc(&options, "projection")),
            };
            let docs = store.find(selector, &find).await?;
            if op == "findOne" {
                docs.first()
                    .map(doc_json)
                    .unwrap_or_else(|| "null".to_owned())
            } else {
                let items: Vec<String> = docs.iter().map(doc_json).collect();
                super::events::json_array(&items)
            }
        }
        "count" => store.count(selector).await?.to_string(),
        "remove" => store.remove(selector).await?.to_string(),
        "update" => {
            let modifier = match args.modifier.as_ref().map(ejson::to_bson) {
                Some(Bson::Document(d)) => d,
                _ => return Err(CallError::Args("update needs a modifier object".to_owned())),
            };
            let flag = |key: &str| options.get(key).and_then(Value::as_bool).unwrap_or(false);
            store
                .update(selector, modifier, flag("multi"), flag("upsert"))
                .await?
                .to_string()
        }
        other => return Err(CallError::Args(format!("unknown TaskQueue call {other:?}"))),
    };
    Ok(answer)
}

/// A string as JSON text (how an `addTask` answer carries the new `_id`).
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
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
    for key in ["name", "message", "stack", "code", "signal"] {
        if let Some(v) = value.get(key) {
            if !v.is_null() {
                out.insert(key, ejson::to_bson(v));
            }
        }
    }
    out.insert("at", ejson::date(now_ms()));
    out
}
