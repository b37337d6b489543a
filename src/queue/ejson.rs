//! JSON as the JS facade writes it (Dates as `{"$date": ms}`, objects that
//! really have such keys wrapped in `{"$escape": ...}`) to BSON and back, so
//! task data keeps its Dates in MongoDB exactly as upstream stored them.

use mongodb::bson::{Bson, DateTime, Document};
use serde_json::{Map, Number, Value};

pub fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number_to_bson(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::Number(ms)) = map.get("$date") {
                    return Bson::DateTime(
                        DateTime::from_millis(ms.as_f64().unwrap_or(0.0) as i64),
                    );
                }
                if let Some(Value::Object(inner)) = map.get("$escape") {
                    return Bson::Document(object_to_doc(inner));
                }
            }
            Bson::Document(object_to_doc(map))
        }
    }
}

fn object_to_doc(map: &Map<String, Value>) -> Document {
    map.iter().map(|(k, v)| (k.clone(), to_bson(v))).collect()
}

fn number_to_bson(n: &Number) -> Bson {
    match n.as_i64() {
        Some(i) if i32::try_from(i).is_ok() => Bson::Int32(i as i32),
        Some(i) => Bson::Int64(i),
        None => Bson::Double(n.as_f64().unwrap_or(0.0)),
    }
}

/// A JSON object (as text) to a BSON document; `what` names it in errors.
pub fn doc_from_json(json: &str, what: &str) -> Result<Document, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("{what} is not valid JSON: {e}"))?;
    match to_bson(&value) {
        Bson::Document(doc) => Ok(doc),
        _ => Err(format!("{what} must be an object")),
    }
}

pub fn to_json(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Bson::Document(doc) => doc_to_json(doc),
        Bson::DateTime(dt) => date_json(dt.timestamp_millis()),
        Bson::ObjectId(oid) => Value::String(oid.to_hex()),
        Bson::Timestamp(ts) => date_json(i64::from(ts.time) * 1000),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        Bson::Symbol(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

pub fn doc_to_json(doc: &Document) -> Value {
    let map: Map<String, Value> = doc.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
    if map.contains_key("$date") || map.contains_key("$escape") {
        let mut escaped = Map::new();
        escaped.insert("$escape".to_owned(), Value::Object(map));
        return Value::Object(escaped);
    }
    Value::Object(map)
}

pub fn date_json(ms: i64) -> Value {
    let mut map = Map::new();
    map.insert("$date".to_owned(), Value::from(ms));
    Value::Object(map)
}

/// Milliseconds of a BSON date (or a number), for `createdAt` and `dueDate`.
pub fn millis(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::DateTime(dt) => Some(dt.timestamp_millis()),
        Bson::Int64(i) => Some(*i),
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Double(f) => Some(*f as i64),
        _ => None,
    }
}

pub fn date(ms: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_escapes_survive_a_round_trip() {
        let json = r#"{"at":{"$date":86400000},"list":[1,2.5,"x",null,true],"big":9007199254740991,"lit":{"$escape":{"$date":"text"}}}"#;
        let doc = doc_from_json(json, "data").unwrap();
        assert_eq!(
            doc.get("at"),
            Some(&Bson::DateTime(DateTime::from_millis(86_400_000)))
        );
        assert_eq!(
            doc.get_document("lit").unwrap().get_str("$date").unwrap(),
            "text"
        );
        assert!(matches!(doc.get("big"), Some(Bson::Int64(_))));
        let back: Value = serde_json::from_str(json).unwrap();
        assert_eq!(doc_to_json(&doc), back);
    }

    #[test]
    fn non_objects_are_refused_as_documents() {
        assert!(doc_from_json("[1]", "selector").is_err());
        assert!(doc_from_json("{", "selector").is_err());
    }
}
