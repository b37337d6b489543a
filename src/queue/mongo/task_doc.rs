//! A stored task document read as a `Task`, straight from its raw bytes,
//! or, when it cannot be read, an `Undecodable` that says what and where
//! so the document can be failed alone.

use crate::error::{Code, CodedError};
use crate::policy::{Policy, PolicySpec};
use crate::queue::ejson::{self, raw_reason, DecodeError, Path, Reason};
use crate::task::Task;
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
    read_task(doc).map_err(|error| {
        Box::new(Undecodable {
            id: raw_id(doc),
            task_json: best_effort_json(doc),
            error,
        })
    })
}

fn read_task(doc: &RawDocument) -> Result<Task, DecodeError> {
    let created_at = created_at(doc)?;
    Ok(Task {
        id: task_id(doc)?,
        task_type: task_type(doc)?,
        priority: priority(doc)?,
        created_at,
        due_date: due_date(doc, created_at)?,
        data: data(doc)?,
        policy: policy(doc)?,
        // The claim counted the attempt about to run.
        failures: attempts(doc)?.saturating_sub(1),
        slot: slot(doc)?,
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
        .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
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

/// When a retried run of a series was due (written with its retry).
fn slot(doc: &RawDocument) -> Result<Option<i64>, DecodeError> {
    match field(doc, "slot")? {
        None | Some(RawBsonRef::Null) => Ok(None),
        some => raw_millis(some)
            .map(Some)
            .ok_or_else(|| wrong("slot", "a date", some)),
    }
}

fn data(doc: &RawDocument) -> Result<String, DecodeError> {
    match field(doc, "data")? {
        None | Some(RawBsonRef::Null) => Ok("{}".to_owned()),
        Some(value @ (RawBsonRef::Document(_) | RawBsonRef::Array(_))) => {
            ejson::value_json(value, &Path::Root("data"))
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
mod tests {
    use super::*;
    use mongodb::bson::{oid::ObjectId, DateTime, RawDocumentBuf};

    fn raw(doc: Document) -> RawDocumentBuf {
        RawDocumentBuf::from_document(&doc).unwrap()
    }

    fn upstream(id: &str, data: Document) -> RawDocumentBuf {
        raw(doc! {
            "_id": id,
            "taskType": "T",
            "priority": 3,
            "data": data,
            "createdAt": DateTime::from_millis(1_000),
            "onGoing": true,
            "dueDate": DateTime::from_millis(2_000),
        })
    }

    #[test]
    fn an_upstream_document_reads_as_its_task_with_ejson_data() {
        let task = task_from_raw(&upstream(
            "abc",
            doc! { "at": DateTime::from_millis(5), "n": 1.5 },
        ))
        .unwrap();
        assert_eq!(task.id, "abc");
        assert_eq!(task.task_type, "T");
        assert_eq!(
            (task.priority, task.created_at, task.due_date),
            (3, 1_000, 2_000)
        );
        assert_eq!(task.data, r#"{"at":{"$date":5},"n":1.5}"#);
    }

    #[test]
    fn a_stored_policy_and_slot_read_field_by_field_and_a_bad_one_names_its_field() {
        let mut doc = upstream("p", doc! {}).to_document().unwrap();
        doc.insert(
            "retry",
            doc! { "limit": 2, "delay": 100_i64, "backoff": "exponential" },
        );
        doc.insert("timeout", 500);
        doc.insert("repeat", doc! { "every": 1000 });
        doc.insert("slot", DateTime::from_millis(1_500));
        let task = task_from_raw(&raw(doc.clone())).unwrap();
        let policy = task.policy.expect("a policy");
        let retry = policy.retry.expect("a retry");
        assert_eq!((retry.limit, retry.delay), (2, 100));
        assert_eq!(retry.backoff, crate::policy::Backoff::Exponential);
        assert_eq!(policy.timeout, Some(std::time::Duration::from_millis(500)));
        assert!(policy.repeat.is_some());
        assert_eq!(task.slot, Some(1_500));

        doc.insert("timeout", "soon");
        let bad = task_from_raw(&raw(doc.clone())).unwrap_err();
        assert_eq!(bad.error.path, "timeout");
        doc.insert("timeout", 500);
        doc.insert("repeat", doc! { "every": 0 });
        assert_eq!(task_from_raw(&raw(doc)).unwrap_err().error.path, "repeat");
    }

    #[test]
    fn an_objectid_id_is_the_task_id_in_hex_and_missing_fields_take_their_defaults() {
        let oid = ObjectId::parse_str("5f1d7a2b9c8e4d3a2b1c0d9e").unwrap();
        let doc = raw(doc! { "_id": oid, "taskType": "T", "createdAt": DateTime::from_millis(7) });
        let task = task_from_raw(&doc).unwrap();
        assert_eq!(task.id, "5f1d7a2b9c8e4d3a2b1c0d9e");
        assert_eq!(
            (task.priority, task.due_date, task.data.as_str()),
            (1, 7, "{}")
        );
        assert_eq!(raw_id(&doc), Bson::ObjectId(oid));
    }

    #[test]
    fn a_document_with_a_malformed_date_tag_fails_alone_beside_a_valid_one() {
        let batch = [
            upstream("good", doc! { "when": DateTime::from_millis(9) }),
            upstream("bad", doc! { "nested": { "$date": "not a date" } }),
        ];
        let results: Vec<_> = batch.iter().map(|d| task_from_raw(d)).collect();
        assert_eq!(results[0].as_ref().unwrap().data, r#"{"when":{"$date":9}}"#);
        let bad = results[1].as_ref().unwrap_err();
        assert_eq!(bad.id, Bson::String("bad".into()));
        assert_eq!(bad.error.path, "data.nested.$date");
        assert!(bad.message().starts_with(
            r#"the task document with _id "bad" cannot be read: data.nested.$date: "#
        ));

        let task: serde_json::Value = serde_json::from_str(&bad.task_json).unwrap();
        assert_eq!(task["_id"], "bad");
        assert_eq!(task["taskType"], "T");
        assert_eq!(
            (
                task["createdAt"]["$date"].as_i64(),
                task["dueDate"]["$date"].as_i64()
            ),
            (Some(1_000), Some(2_000))
        );
        assert!(
            task.get("data").is_none(),
            "the data that cannot be read is left out"
        );

        let event: serde_json::Value = serde_json::from_str(&bad.error().to_json()).unwrap();
        assert_eq!(event["name"], "UndecodableDocumentError");
        assert_eq!(event["code"], "ERR_UNDECODABLE_DOCUMENT");
        assert_eq!(event["message"], bad.message());
        let last = bad.last_error(42);
        assert_eq!(last.get_str("code").unwrap(), "ERR_UNDECODABLE_DOCUMENT");
        assert_eq!(last.get_str("name").unwrap(), "UndecodableDocumentError");
        assert_eq!(last.get_datetime("at").unwrap(), &DateTime::from_millis(42));
    }

    #[test]
    fn task_fields_of_the_wrong_type_are_errors_naming_the_field() {
        let cases = [
            (
                doc! { "_id": 5, "taskType": "T", "createdAt": DateTime::now() },
                "_id: must be a string or an ObjectId, got a number",
            ),
            (
                doc! { "_id": "a", "createdAt": DateTime::now() },
                "taskType: must be a string, got nothing",
            ),
            (
                doc! { "_id": "a", "taskType": "T", "priority": "high", "createdAt": DateTime::now() },
                "priority: must be a number, got a string",
            ),
            (
                doc! { "_id": "a", "taskType": "T" },
                "createdAt: must be a date, got nothing",
            ),
            (
                doc! { "_id": "a", "taskType": "T", "createdAt": DateTime::now(), "dueDate": true },
                "dueDate: must be a date, got a boolean",
            ),
            (
                doc! { "_id": "a", "taskType": "T", "createdAt": DateTime::now(), "data": "text" },
                "data: must be an embedded document, got a string",
            ),
        ];
        for (doc, message) in cases {
            let error = task_from_raw(&raw(doc)).unwrap_err();
            assert_eq!(error.error.to_string(), message);
        }
    }
}
