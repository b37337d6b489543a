//! A stored task document read as a `Task`, straight from its raw bytes,
//! or, when it cannot be read, an `Undecodable` that says what and where
//! so the document can be failed alone.

use crate::error::{Code, CodedError};
use crate::policy::{Policy, PolicySpec};
use crate::queue::ejson::{self, raw_reason, DecodeError, Path, Reason};
use crate::task::Task;
use crate::wire::payload::Payload;
use mongodb::bson::raw::{RawBsonRef, RawDocument};
use mongodb::bson::{doc, Bson, Document};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A claimed document that is not a readable task.
#[derive(Debug)]
pub struct Undecodable {
    /// The document's `_id` as stored (filter writes on it).
    pub id: Bson,
    /// The fields that could be read, as a task's EJSON (`_id`, `taskType`,
    /// `priority`, `createdAt`, `dueDate`, `data`, `onGoing`), for the
    /// error event's `task`. Fields that could not be read are left out.
    pub task_json: String,
    pub error: DecodeError,
}

impl Undecodable {
    pub fn message(&self) -> String {
        format!(
            "the task document with _id {} cannot be read: {}",
            id_text(&self.id),
            self.error
        )
    }

    /// The error the task ends with (`ERR_UNDECODABLE_DOCUMENT`); its
    /// `to_json()` is the error event's value.
    pub fn error(&self) -> CodedError {
        CodedError::new(Code::UndecodableDocument, self.message())
    }

    /// The `lastError` the document is failed with.
    pub fn last_error(&self, at_ms: i64) -> Document {
        let code = Code::UndecodableDocument;
        doc! {
            "name": code.name(),
            "message": self.message(),
            "code": code.as_str(),
            "at": ejson::date(at_ms),
        }
    }
}

/// An `_id` as messages show it: `"abc"`, `ObjectId("...")`.
pub fn id_text(id: &Bson) -> String {
    match id {
        Bson::String(s) => format!("{s:?}"),
        Bson::ObjectId(oid) => format!("ObjectId(\"{}\")", oid.to_hex()),
        other => other.to_string(),
    }
}

/// A document's `_id` as stored (`Null` when it has none it can read).
pub(crate) fn raw_id(doc: &RawDocument) -> Bson {
    match doc.get("_id") {
        Ok(Some(id)) => Bson::try_from(id.to_raw_bson()).unwrap_or(Bson::Null),
        _ => Bson::Null,
    }
}

/// Milliseconds of a stored date (or a number of ms).
pub(crate) fn raw_millis(value: Option<RawBsonRef<'_>>) -> Option<i64> {
    match value? {
        RawBsonRef::DateTime(dt) => Some(dt.timestamp_millis()),
        RawBsonRef::Int64(i) => Some(i),
        RawBsonRef::Int32(i) => Some(i64::from(i)),
        RawBsonRef::Double(f) if f.is_finite() => Some(f.trunc() as i64),
        _ => None,
    }
}

/// The task in a claimed document, or why it is not one. Fields:
/// `_id` a string or an ObjectId (the task id is then its hex), `taskType`
/// a string, `priority` a number (default 1), `createdAt` a date (or ms),
/// `dueDate` a date (default `createdAt`), `data` an embedded document or
/// array (missing or null: `{}`).
pub fn task_from_raw(doc: &RawDocument) -> Result<Task, Box<Undecodable>> {
    task_counted(doc, true)
}

/// As `task_from_raw`, of a document read just before this claim took it:
/// its `attempts` do not count the claim yet.
pub fn task_before_claim(doc: &RawDocument) -> Result<Task, Box<Undecodable>> {
    task_counted(doc, false)
}

/// `claimed`: whether the document's `attempts` count the attempt to run.
fn task_counted(doc: &RawDocument, claimed: bool) -> Result<Task, Box<Undecodable>> {
    read_task(doc, claimed).map_err(|error| {
        Box::new(Undecodable {
            id: raw_id(doc),
            task_json: best_effort_json(doc),
            error,
        })
    })
}

fn read_task(doc: &RawDocument, claimed: bool) -> Result<Task, DecodeError> {
    let attempts = attempts(doc)?;
    let created_at = created_at(doc)?;
    Ok(Task {
        id: task_id(doc)?.into(),
        task_type: task_type(doc)?.into(),
        priority: priority(doc)?,
        created_at,
        due_date: due_date(doc, created_at)?,
        data: data(doc)?,
        policy: policy(doc)?,
        // A claim counts the attempt about to run.
        failures: if claimed {
            attempts.saturating_sub(1)
        } else {
            attempts
        },
        slot: slot(doc)?,
        progress: None,
        trace: trace(doc),
        group: doc.get_str("group").ok().map(Arc::from),
    })
}

/// `retry`, `timeout` and `repeat`, when the task was added with them.
fn policy(doc: &RawDocument) -> Result<Option<Arc<Policy>>, DecodeError> {
    let spec = PolicySpec {
        retry: policy_field(doc, "retry")?,
        timeout: policy_field(doc, "timeout")?,
        repeat: policy_field(doc, "repeat")?,
    };
    spec.into_policy()
        .map_err(|why| DecodeError::at(&Path::Root("repeat"), Reason::BadValue(why)))
}

/// One policy field, read straight from its BSON (absent or null: `None`).
fn policy_field<T: DeserializeOwned>(
    doc: &RawDocument,
    key: &'static str,
) -> Result<Option<T>, DecodeError> {
    let bad = |why: String| DecodeError::at(&Path::Root(key), Reason::BadValue(why));
    match field(doc, key)? {
        None | Some(RawBsonRef::Null) => Ok(None),
        Some(value) => {
            let value = Bson::try_from(value).map_err(|e| bad(e.to_string()))?;
            mongodb::bson::from_bson(value)
                .map(Some)
                .map_err(|e| bad(e.to_string()))
        }
    }
}

/// How many times the task was claimed (this claim included).
fn attempts(doc: &RawDocument) -> Result<u32, DecodeError> {
    match field(doc, "attempts")? {
        None | Some(RawBsonRef::Null) => Ok(0),
        Some(RawBsonRef::Int32(n)) => Ok(n.max(0) as u32),
        Some(RawBsonRef::Int64(n)) => Ok(n.clamp(0, u32::MAX as i64) as u32),
        Some(RawBsonRef::Double(n)) if n.is_finite() => Ok(n.max(0.0) as u32),
        other => Err(wrong("attempts", "a number", other)),
    }
}

/// The fields that can be read, in the shape of `Task::to_json`.
fn best_effort_json(doc: &RawDocument) -> String {
    let mut task = serde_json::Map::new();
    if let Ok(id) = task_id(doc) {
        task.insert("_id".into(), id.into());
    }
    if let Ok(t) = task_type(doc) {
        task.insert("taskType".into(), t.into());
    }
    if let Ok(p) = priority(doc) {
        task.insert("priority".into(), p.into());
    }
    let date = |ms: i64| serde_json::json!({ "$date": ms });
    if let Ok(created) = created_at(doc) {
        task.insert("createdAt".into(), date(created));
        if let Ok(due) = due_date(doc, created) {
            task.insert("dueDate".into(), date(due));
        }
    }
    if let Some(value) = data(doc)
        .ok()
        .and_then(|data| serde_json::from_str::<serde_json::Value>(&data.inline()).ok())
    {
        task.insert("data".into(), value);
    }
    task.insert("onGoing".into(), true.into());
    serde_json::Value::Object(task).to_string()
}

type Field<'a> = Result<Option<RawBsonRef<'a>>, DecodeError>;

fn field<'a>(doc: &'a RawDocument, key: &'static str) -> Field<'a> {
    doc.get(key)
        .map_err(|e| DecodeError::at(&Path::Root(key), raw_reason(&e)))
}

fn wrong(key: &'static str, expected: &'static str, got: Option<RawBsonRef<'_>>) -> DecodeError {
    DecodeError::at(
        &Path::Root(key),
        Reason::WrongType {
            expected,
            got: got.map_or("nothing", type_name),
        },
    )
}

fn task_id(doc: &RawDocument) -> Result<String, DecodeError> {
    match field(doc, "_id")? {
        Some(RawBsonRef::String(s)) => Ok(s.to_owned()),
        Some(RawBsonRef::ObjectId(oid)) => Ok(oid.to_hex()),
        other => Err(wrong("_id", "a string or an ObjectId", other)),
    }
}

fn task_type(doc: &RawDocument) -> Result<String, DecodeError> {
    match field(doc, "taskType")? {
        Some(RawBsonRef::String(s)) => Ok(s.to_owned()),
        other => Err(wrong("taskType", "a string", other)),
    }
}

fn priority(doc: &RawDocument) -> Result<i64, DecodeError> {
    match field(doc, "priority")? {
        None | Some(RawBsonRef::Null) => Ok(1),
        Some(RawBsonRef::Int32(p)) => Ok(i64::from(p)),
        Some(RawBsonRef::Int64(p)) => Ok(p),
        Some(RawBsonRef::Double(p)) if p.is_finite() => Ok(p.trunc() as i64),
        other => Err(wrong("priority", "a number", other)),
    }
}

fn created_at(doc: &RawDocument) -> Result<i64, DecodeError> {
    let value = field(doc, "createdAt")?;
    raw_millis(value).ok_or_else(|| wrong("createdAt", "a date", value))
}

fn due_date(doc: &RawDocument, created_at: i64) -> Result<i64, DecodeError> {
    match field(doc, "dueDate")? {
        None | Some(RawBsonRef::Null) => Ok(created_at),
        some => raw_millis(some).ok_or_else(|| wrong("dueDate", "a date", some)),
    }
}

/// The trace context its add recorded (`traceparent`, `tracestate`), as
/// the carrier JSON a worker extracts it from. A field that is not a
/// string is ignored: tracing never fails a task.
fn trace(doc: &RawDocument) -> Option<Box<str>> {
    let text = |key| doc.get_str(key).ok();
    let traceparent = text("traceparent")?;
    let mut carrier = serde_json::json!({ "traceparent": traceparent });
    if let Some(tracestate) = text("tracestate") {
        carrier["tracestate"] = tracestate.into();
    }
    Some(carrier.to_string().into())
}

/// When a retried run of a series was due (written with its retry).
fn slot(doc: &RawDocument) -> Result<Option<i64>, DecodeError> {
    match field(doc, "slot")? {
        None | Some(RawBsonRef::Null) => Ok(None),
        some => raw_millis(some)
            .map(Some)
            .ok_or_else(|| wrong("slot", "a date", some)),
    }
}

fn data(doc: &RawDocument) -> Result<Payload, DecodeError> {
    match field(doc, "data")? {
        None | Some(RawBsonRef::Null) => Ok(Payload::from("{}")),
        Some(value @ (RawBsonRef::Document(_) | RawBsonRef::Array(_))) => {
            ejson::value_payload(value, &Path::Root("data"))
        }
        other => Err(wrong("data", "an embedded document", other)),
    }
}

fn type_name(value: RawBsonRef<'_>) -> &'static str {
    match value {
        RawBsonRef::Double(_) | RawBsonRef::Int32(_) | RawBsonRef::Int64(_) => "a number",
        RawBsonRef::String(_) | RawBsonRef::Symbol(_) => "a string",
        RawBsonRef::Document(_) => "an embedded document",
        RawBsonRef::Array(_) => "an array",
        RawBsonRef::Boolean(_) => "a boolean",
        RawBsonRef::Null => "null",
        RawBsonRef::DateTime(_) => "a date",
        RawBsonRef::ObjectId(_) => "an ObjectId",
        RawBsonRef::Binary(_) => "binary data",
        RawBsonRef::Decimal128(_) => "a Decimal128",
        _ => "a BSON value of another type",
    }
}

#[cfg(test)]
mod tests;
