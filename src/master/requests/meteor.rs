//! The arguments of the collection calls, read as Meteor's `Mongo.Collection`
//! reads them: selectors, `find` options (in `find`, with Meteor's `sort`
//! forms), update modifiers and update options. What Meteor accepts is
//! accepted; anything else is refused with a message naming it, never
//! ignored.

mod find;

use super::CallError;
use crate::queue::ejson;
use crate::queue::mongo::{Modifier, UpdateOptions};
pub use find::find_options;
use mongodb::bson::{doc, Bson, Document};
use serde_json::Value;

/// The update operators MongoDB (and Meteor's minimongo) know.
const OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$rename",
    "$setOnInsert",
    "$min",
    "$max",
    "$currentDate",
    "$push",
    "$pull",
    "$pullAll",
    "$addToSet",
    "$pop",
    "$bit",
];

/// A selector: Meteor's falsy selectors (`undefined`, `null`, `{ _id:
/// undefined }`, which the facade sends as `null`) match nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Nothing,
    Doc(Document),
}

impl Selector {
    /// The query filter; `Nothing` is a filter no document passes.
    pub fn filter(self) -> Document {
        match self {
            Selector::Nothing => doc! { "_id": { "$in": [] } },
            Selector::Doc(d) => d,
        }
    }

    /// The `_id` the selector fixes (`{ _id: value }`, not `{ _id: { $in: ... } }`).
    fn id(&self) -> Option<&Bson> {
        match self {
            Selector::Doc(d) => d.get("_id").filter(|id| !is_operator_doc(id)),
            Selector::Nothing => None,
        }
    }
}

/// A string or number is `{ _id: it }`, as in Meteor; an array is refused
/// (Meteor refuses it too: an empty one would select everything).
pub fn selector(value: &Value) -> Result<Selector, CallError> {
    match value {
        Value::Null => Ok(Selector::Nothing),
        Value::String(id) if id.is_empty() => Ok(Selector::Nothing),
        Value::String(id) => Ok(Selector::Doc(doc! { "_id": id })),
        Value::Number(_) => match ejson::to_bson(value) {
            id if falsy(&id) => Ok(Selector::Nothing),
            id => Ok(Selector::Doc(doc! { "_id": id })),
        },
        Value::Array(_) => Err(CallError::invalid("the selector can't be an array")),
        Value::Object(_) => match ejson::to_bson(value) {
            Bson::Document(d) if d.get("_id").is_some_and(falsy) => Ok(Selector::Nothing),
            Bson::Document(d) => Ok(Selector::Doc(d)),
            other => Err(CallError::invalid(format!(
                "the selector must be an object or an _id string, got {}",
                shown(&other)
            ))),
        },
        Value::Bool(_) => Err(CallError::invalid(format!(
            "the selector must be an object or an _id string, got {}",
            shown(&ejson::to_bson(value))
        ))),
    }
}

/// An options argument: an object, or nothing.
pub fn options(value: &Value, what: &str) -> Result<Document, CallError> {
    match value {
        Value::Null => Ok(Document::new()),
        Value::Object(_) => match ejson::to_bson(value) {
            Bson::Document(d) => Ok(d),
            other => Err(CallError::invalid(format!(
                "{what} must be an object, got {}",
                shown(&other)
            ))),
        },
        other => Err(CallError::invalid(format!(
            "{what} must be an object, got {}",
            shown(&ejson::to_bson(other))
        ))),
    }
}

/// An update's modifier: only operators, or only fields (a replacement).
pub fn modifier(value: &Value) -> Result<Modifier, CallError> {
    let document = match value {
        Value::Object(_) => match ejson::to_bson(value) {
            Bson::Document(d) => d,
            other => return Err(not_a_modifier(&other)),
        },
        other => return Err(not_a_modifier(&ejson::to_bson(other))),
    };
    let (operators, fields): (Vec<&String>, Vec<&String>) =
        document.keys().partition(|k| k.starts_with('$'));
    if !operators.is_empty() && !fields.is_empty() {
        return Err(CallError::invalid(format!(
            "the modifier mixes update operators ({}) with plain fields ({}): use only \
             operators, or only fields to replace the whole document",
            listed(&operators),
            listed(&fields)
        )));
    }
    if operators.is_empty() {
        return Ok(Modifier::Replacement(document));
    }
    for (op, fields) in &document {
        if !OPERATORS.contains(&op.as_str()) {
            return Err(CallError::invalid(format!(
                "unknown update operator {op} (known: {})",
                OPERATORS.join(", ")
            )));
        }
        if !matches!(fields, Bson::Document(_)) {
            return Err(CallError::invalid(format!(
                "the value of {op} must be an object like {{ field: value }}, got {}",
                shown(fields)
            )));
        }
    }
    Ok(Modifier::Operators(document))
}

fn not_a_modifier(value: &Bson) -> CallError {
    CallError::invalid(format!(
        "the modifier must be an object (operators like {{ $set: {{ ... }} }}, or the \
         fields of a replacement document), got {}",
        shown(value)
    ))
}

/// `update`'s options, and the query it runs with: a falsy selector that
/// upserts inserts under a new id (Meteor's `fallbackId`).
pub fn update_args(
    selector: Selector,
    modifier: &mut Modifier,
    options: &Document,
) -> Result<(Document, UpdateOptions), CallError> {
    let mut update = UpdateOptions::default();
    let mut inserted_id = None;
    for (key, value) in options {
        match key.as_str() {
            "multi" => update.multi = !falsy(value),
            "upsert" => update.upsert = !falsy(value),
            "insertedId" => match value {
                Bson::Null => {}
                Bson::String(id) if !id.is_empty() => inserted_id = Some(value.clone()),
                other => {
                    return Err(CallError::invalid(format!(
                        "insertedId must be a non-empty string, got {}",
                        shown(other)
                    )))
                }
            },
            "arrayFilters" => match value {
                Bson::Null => {}
                Bson::Array(items) => {
                    let filters: Option<Vec<Document>> =
                        items.iter().map(|f| f.as_document().cloned()).collect();
                    update.array_filters = Some(filters.ok_or_else(|| {
                        CallError::invalid("arrayFilters must be an array of objects")
                    })?);
                }
                other => {
                    return Err(CallError::invalid(format!(
                        "arrayFilters must be an array of objects, got {}",
                        shown(other)
                    )))
                }
            },
            other => {
                return Err(CallError::invalid(format!(
                    "unsupported update option {other:?} (supported: multi, upsert, \
                     arrayFilters, insertedId)"
                )))
            }
        }
    }
    if update.multi && matches!(modifier, Modifier::Replacement(_)) {
        return Err(CallError::invalid(
            "a replacement (a modifier without $ operators) replaces one document; it \
             cannot be used with multi: true",
        ));
    }
    if !update.upsert {
        return Ok((selector.filter(), update));
    }
    let new_id = || {
        inserted_id
            .clone()
            .unwrap_or_else(|| crate::task::new_id().into())
    };
    let selector = match selector {
        Selector::Nothing => Selector::Doc(doc! { "_id": new_id() }),
        other => other,
    };
    match (selector.id().cloned(), &mut *modifier) {
        // The inserted document takes the selector's `_id`; a replacement
        // must carry it itself.
        (Some(id), Modifier::Replacement(fields)) => {
            if !fields.contains_key("_id") {
                let mut with_id = doc! { "_id": id };
                with_id.extend(std::mem::take(fields));
                *fields = with_id;
            }
        }
        (Some(_), Modifier::Operators(_)) => {}
        (None, modifier) if !modifier_sets_id(modifier) => update.insert_id = Some(new_id()),
        (None, _) => {}
    }
    Ok((selector.filter(), update))
}

fn modifier_sets_id(modifier: &Modifier) -> bool {
    match modifier {
        Modifier::Replacement(fields) => fields.contains_key("_id"),
        Modifier::Operators(ops) => ["$set", "$setOnInsert"]
            .iter()
            .any(|op| ops.get_document(op).is_ok_and(|f| f.contains_key("_id"))),
    }
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) if n.is_finite() => Some(*n),
        _ => None,
    }
}

fn is_operator_doc(value: &Bson) -> bool {
    matches!(value, Bson::Document(d) if d.keys().any(|k| k.starts_with('$')))
}

/// JavaScript's falsiness, as Meteor tests options and `_id`s.
fn falsy(value: &Bson) -> bool {
    match value {
        Bson::Null | Bson::Undefined => true,
        Bson::Boolean(b) => !b,
        Bson::String(s) => s.is_empty(),
        other => number(other).is_some_and(|n| n == 0.0),
    }
}

fn listed(keys: &[&String]) -> String {
    let shown: Vec<&str> = keys.iter().take(3).map(|k| k.as_str()).collect();
    let more = if keys.len() > 3 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// A value in an error message: its kind, and short values themselves.
fn shown(value: &Bson) -> String {
    let text = value.clone().into_relaxed_extjson().to_string();
    let kind = match value {
        Bson::String(_) => "string",
        Bson::Boolean(_) => "boolean",
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => "number",
        Bson::Array(_) => "array",
        Bson::Document(_) => "object",
        Bson::Null => return "null".to_owned(),
        Bson::DateTime(_) => "Date",
        Bson::RegularExpression(_) => "RegExp",
        _ => "value",
    };
    if text.len() > 60 {
        format!("{kind} {}...", text.chars().take(60).collect::<String>())
    } else {
        format!("{kind} {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_read_as_meteor_reads_them() {
        assert_eq!(
            selector(&json!("abc")).unwrap(),
            Selector::Doc(doc! { "_id": "abc" })
        );
        assert_eq!(selector(&Value::Null).unwrap(), Selector::Nothing);
        assert_eq!(
            selector(&json!({ "_id": null })).unwrap(),
            Selector::Nothing
        );
        assert_eq!(selector(&json!({ "_id": "" })).unwrap(), Selector::Nothing);
        assert!(selector(&json!([])).is_err());
        assert!(selector(&json!(true)).is_err());
        assert_eq!(Selector::Nothing.filter(), doc! { "_id": { "$in": [] } });
    }

    #[test]
    fn a_modifier_is_operators_or_a_replacement_never_both() {
        assert!(matches!(
            modifier(&json!({ "$set": { "a": 1 } })).unwrap(),
            Modifier::Operators(_)
        ));
        assert!(matches!(
            modifier(&json!({ "a": 1 })).unwrap(),
            Modifier::Replacement(_)
        ));
        let mixed = modifier(&json!({ "$set": { "a": 1 }, "priority": 2 })).unwrap_err();
        assert!(
            mixed.message.contains("($set)") && mixed.message.contains("(priority)"),
            "{}",
            mixed.message
        );
        assert!(modifier(&json!({ "$frobnicate": {} }))
            .unwrap_err()
            .message
            .contains("$frobnicate"));
        assert!(modifier(&json!({ "$set": 1 })).is_err());
        assert!(modifier(&json!(null)).is_err());
    }

    #[test]
    fn an_upsert_gets_a_string_id_unless_something_gives_one() {
        let opts = doc! { "upsert": true };
        let mut ops = modifier(&json!({ "$set": { "a": 1 } })).unwrap();
        let (_, update) = update_args(Selector::Doc(doc! { "a": 1 }), &mut ops, &opts).unwrap();
        assert!(matches!(update.insert_id, Some(Bson::String(ref id)) if id.len() == 17));

        let mut ops = modifier(&json!({ "$set": { "a": 1 } })).unwrap();
        let (filter, update) =
            update_args(Selector::Doc(doc! { "_id": "x" }), &mut ops, &opts).unwrap();
        assert_eq!((filter, update.insert_id), (doc! { "_id": "x" }, None));

        let mut replacement = modifier(&json!({ "a": 1 })).unwrap();
        update_args(Selector::Doc(doc! { "_id": "x" }), &mut replacement, &opts).unwrap();
        assert_eq!(
            replacement,
            Modifier::Replacement(doc! { "_id": "x", "a": 1 })
        );

        let mut ops = modifier(&json!({ "$set": { "a": 1 } })).unwrap();
        let (filter, _) = update_args(Selector::Nothing, &mut ops, &opts).unwrap();
        assert!(matches!(filter.get("_id"), Some(Bson::String(_))));
    }
}
