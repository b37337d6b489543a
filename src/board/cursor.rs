//! A task list's keyset cursor: the sort value and `_id` of the last task
//! of a page, as base64url JSON. JS carries it in the URL without reading
//! it; a cursor that does not read back is a bad argument.

use crate::error::CodedError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime};
use serde_json::{json, Value};

pub(super) fn encode(value: &Bson, id: &Bson) -> String {
    let json = Value::Array(vec![to_json(value), to_json(id)]).to_string();
    URL_SAFE_NO_PAD.encode(json)
}

pub(super) fn decode(cursor: &str) -> Result<(Bson, Bson), CodedError> {
    let bad = || {
        CodedError::invalid("after: not a cursor this dashboard gave (start from the first page)")
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match value.as_array().map(Vec::as_slice) {
        Some([value, id]) => Ok((
            from_json(value).ok_or_else(bad)?,
            from_json(id).ok_or_else(bad)?,
        )),
        _ => Err(bad()),
    }
}

fn to_json(value: &Bson) -> Value {
    match value {
        Bson::DateTime(d) => json!({ "$date": d.timestamp_millis() }),
        Bson::Int32(n) => json!(n),
        Bson::Int64(n) => json!(n),
        Bson::Double(n) => json!(n),
        Bson::String(s) => json!(s),
        Bson::ObjectId(oid) => json!({ "$oid": oid.to_hex() }),
        _ => Value::Null,
    }
}

fn from_json(value: &Value) -> Option<Bson> {
    Some(match value {
        Value::Null => Bson::Null,
        Value::String(s) => Bson::String(s.clone()),
        // The smallest type that holds it, as drivers store small numbers:
        // the server's index bounds then compare like with like.
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
            None => Bson::Double(n.as_f64()?),
        },
        Value::Object(o) => match (o.get("$date"), o.get("$oid")) {
            (Some(ms), None) => Bson::DateTime(DateTime::from_millis(ms.as_i64()?)),
            (None, Some(hex)) => Bson::ObjectId(ObjectId::parse_str(hex.as_str()?).ok()?),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_key_it_was_and_garbage_is_refused() {
        for (value, id) in [
            (
                Bson::DateTime(DateTime::from_millis(1_700_000_000_123)),
                Bson::String("a\"b".into()),
            ),
            (Bson::Int32(-5), Bson::String("ü".into())),
            (Bson::Int64(1 << 40), Bson::String("big".into())),
            (Bson::Double(2.5), Bson::ObjectId(ObjectId::new())),
            (Bson::Null, Bson::String(String::new())),
        ] {
            assert_eq!(decode(&encode(&value, &id)).unwrap(), (value, id));
        }
        for garbage in ["", "!!", "W10", "WzEsMiwzXQ"] {
            assert!(decode(garbage).is_err(), "{garbage}");
        }
    }
}
