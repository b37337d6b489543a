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
    assert_eq!(&*task.id, "abc");
    assert_eq!(&*task.task_type, "T");
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
    assert_eq!(&*task.id, "5f1d7a2b9c8e4d3a2b1c0d9e");
    assert_eq!(
        (task.priority, task.due_date, task.data.json()),
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
    assert!(bad
        .message()
        .starts_with(r#"the task document with _id "bad" cannot be read: data.nested.$date: "#));

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
