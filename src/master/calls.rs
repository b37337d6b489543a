//! `TaskQueue` calls that need an answer, from JS in the master or from a
//! worker: their arguments, and the collection calls run against MongoDB
//! (their arguments read as Meteor reads them, in `meteor`). Answers are
//! JSON texts for the facade to decode; failures carry a stable code.

mod meteor;

use crate::queue::ejson;
use crate::queue::mongo::{doc_json, Store};
use crate::task::{new_id, now_ms, Task};
use mongodb::bson::Document;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Who asked, so the answer goes back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Js,
    Worker(u32),
}

/// A task as `TaskQueue.addTask` sends it.
#[derive(Deserialize)]
pub struct NewTask {
    #[serde(rename = "_id")]
    id: Option<String>,
    #[serde(rename = "taskType")]
    task_type: String,
    priority: i64,
    #[serde(rename = "dueDate")]
    due_date: i64,
    #[serde(rename = "inMemory", default)]
    pub in_memory: bool,
    data: Box<RawValue>,
}

impl NewTask {
    pub fn parse(args: &RawValue) -> Result<NewTask, String> {
        serde_json::from_str(args.get()).map_err(|e| format!("bad addTask arguments: {e}"))
    }

    pub fn into_task(self) -> Task {
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

/// Why a `TaskQueue` call failed: each kind has a stable code, which the
/// facade sets as the JS error's `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A selector, modifier or option Meteor would not accept either.
    InvalidArg,
    /// A document with this `_id` already exists.
    DuplicateId,
    /// The MongoDB server could not be reached.
    MongoUnavailable,
    /// MongoDB refused or failed the operation for another reason.
    Mongo,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArg => "ERR_INVALID_ARG",
            Code::DuplicateId => "ERR_DUPLICATE_ID",
            Code::MongoUnavailable => "ERR_MONGO_UNAVAILABLE",
            Code::Mongo => "ERR_MONGO",
        }
    }
}

#[derive(Debug)]
pub struct CallError {
    pub code: Code,
    pub message: String,
}

impl CallError {
    pub fn invalid(message: impl Into<String>) -> Self {
        CallError {
            code: Code::InvalidArg,
            message: message.into(),
        }
    }

    fn from_mongo(error: mongodb::error::Error) -> Self {
        use mongodb::error::{ErrorKind, WriteFailure};
        let server = match &*error.kind {
            ErrorKind::Write(WriteFailure::WriteError(w)) => Some((w.code, w.message.as_str())),
            ErrorKind::Command(c) => Some((c.code, c.message.as_str())),
            _ => None,
        };
        if let Some((code, message)) = server {
            return CallError {
                code: match code {
                    11000 => Code::DuplicateId,
                    // BadValue, FailedToParse, TypeMismatch, ConflictingUpdateOperators,
                    // DollarPrefixedFieldName, EmptyFieldName, DottedFieldName,
                    // ImmutableField, and the "unknown operator" family.
                    2 | 9 | 14 | 40 | 52 | 56 | 57 | 66 | 17287 | 31253 | 31254 => Code::InvalidArg,
                    _ => Code::Mongo,
                },
                message: format!("MongoDB refused it: {message} (server code {code})"),
            };
        }
        let code = match &*error.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. } => Code::MongoUnavailable,
            ErrorKind::InvalidArgument { .. } => Code::InvalidArg,
            _ => Code::Mongo,
        };
        CallError {
            code,
            message: format!("MongoDB: {error}"),
        }
    }
}

/// Until replies carry a code of their own, the code rides at the end of
/// the message, where the facade takes it off (`lib/errors.js`).
impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code.as_str())
    }
}

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
pub async fn collection_call(
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
            let docs = store
                .find(selector.filter(), &find)
                .await
                .map_err(CallError::from_mongo)?;
            if op == "findOne" {
                docs.first()
                    .map(doc_json)
                    .unwrap_or_else(|| "null".to_owned())
            } else {
                let items: Vec<String> = docs.iter().map(doc_json).collect();
                super::events::json_array(&items)
            }
        }
        "count" => store
            .count(selector.filter(), &meteor::find_options(&options)?)
            .await
            .map_err(CallError::from_mongo)?
            .to_string(),
        "remove" => store
            .remove(selector.filter())
            .await
            .map_err(CallError::from_mongo)?
            .to_string(),
        "update" => {
            let mut modifier = meteor::modifier(&args.modifier)?;
            let (filter, options) = meteor::update_args(selector, &mut modifier, &options)?;
            let updated = store
                .update(filter, modifier, &options)
                .await
                .map_err(CallError::from_mongo)?;
            serde_json::json!({
                "numberAffected": updated.number_affected,
                "insertedId": updated.inserted_id.as_ref().map(ejson::to_json),
            })
            .to_string()
        }
        other => {
            return Err(CallError::invalid(format!(
                "unknown TaskQueue call {other:?}"
            )))
        }
    };
    Ok(answer)
}

/// A string as JSON text (how an `addTask` answer carries the new `_id`).
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

pub fn is_collection_call(op: &str) -> bool {
    matches!(op, "find" | "findOne" | "count" | "remove" | "update")
}

/// The `lastError` written on a failed task, from the error the worker sent.
pub fn last_error(error: Option<&RawValue>) -> Document {
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
