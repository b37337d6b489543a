//! `find`, `findOne` and `count` options as Meteor reads them: Meteor's
//! `sort` forms, `fields`/`projection`, `skip`, `limit`, `hint`.

use super::{falsy, number, shown, CallError};
use crate::queue::mongo::FindOptions;
use mongodb::bson::{Bson, Document};
use mongodb::options::Hint;
use std::time::Duration;

/// `find`, `findOne` and `count` options.
pub fn find_options(options: &Document) -> Result<FindOptions, CallError> {
    let mut find = FindOptions::default();
    for (key, value) in options {
        if matches!(value, Bson::Null) {
            continue;
        }
        match key.as_str() {
            "sort" => find.sort = sort(value)?,
            "skip" => find.skip = Some(count_arg("skip", value)?),
            // Meteor's limit 0 means no limit, as MongoDB's does.
            "limit" => find.limit = Some(count_arg("limit", value)?).filter(|&n| n > 0),
            "fields" | "projection" => find.fields = Some(projection(key, value)?),
            "hint" => {
                find.hint = Some(match value {
                    Bson::String(name) => Hint::Name(name.clone()),
                    Bson::Document(keys) => Hint::Keys(keys.clone()),
                    other => {
                        return Err(CallError::invalid(format!(
                            "hint must be an index name or key pattern, got {}",
                            shown(other)
                        )))
                    }
                })
            }
            "maxTimeMs" | "maxTimeMS" => {
                find.max_time = Some(Duration::from_millis(count_arg(key, value)?))
            }
            // Only reactivity (the client, observers) reads these: a fetch
            // means the same with or without them.
            "reactive" | "disableOplog" | "pollingIntervalMs" | "pollingThrottleMs" => {}
            "transform" => {
                return Err(CallError::invalid(
                    "transform must be null: a function cannot run in the process \
                     that reads MongoDB; transform the documents after fetching them",
                ))
            }
            other => {
                return Err(CallError::invalid(format!(
                    "unsupported option {other:?} (supported: sort, skip, limit, fields, \
                     projection, hint, maxTimeMs)"
                )))
            }
        }
    }
    Ok(find)
}

/// Meteor's sort forms: `{ a: 1, b: -1 }` (also `'asc'`/`'desc'`), a field
/// name, or an array of field names (ascending) and `[field, direction]`
/// pairs: `[['a', 'asc'], ['b', 'desc']]`, `['a', ['b', 'desc']]`.
fn sort(value: &Bson) -> Result<Option<Document>, CallError> {
    let mut spec = Document::new();
    match value {
        Bson::Null => return Ok(None),
        Bson::String(field) => {
            spec.insert(field.clone(), 1);
        }
        Bson::Document(fields) => {
            for (field, dir) in fields {
                spec.insert(field.clone(), direction(field, dir)?);
            }
        }
        Bson::Array(items) => {
            for item in items {
                match item {
                    Bson::String(field) if direction_word(field).is_some() => {
                        return Err(CallError::invalid(format!(
                            "sort {}: {field:?} reads as a field name here; to give a \
                             field a direction, pair them: [[\"field\", {field:?}]]",
                            value.clone().into_relaxed_extjson()
                        )));
                    }
                    Bson::String(field) => {
                        spec.insert(field.clone(), 1);
                    }
                    Bson::Array(pair) if (1..=2).contains(&pair.len()) => {
                        let Some(Bson::String(field)) = pair.first() else {
                            return Err(bad_sort_item(item));
                        };
                        let dir = pair.get(1).map_or(Ok(1), |d| direction(field, d))?;
                        spec.insert(field.clone(), dir);
                    }
                    other => return Err(bad_sort_item(other)),
                }
            }
        }
        other => {
            return Err(CallError::invalid(format!(
                "sort must be an object like {{ priority: -1 }} or an array like \
                 [[\"priority\", \"desc\"]], got {}",
                shown(other)
            )))
        }
    }
    Ok((!spec.is_empty()).then_some(spec))
}

fn bad_sort_item(item: &Bson) -> CallError {
    CallError::invalid(format!(
        "each sort element must be a field name or a [field, direction] pair, got {}",
        shown(item)
    ))
}

fn direction_word(word: &str) -> Option<i32> {
    match word.to_ascii_lowercase().as_str() {
        "asc" | "ascending" => Some(1),
        "desc" | "descending" => Some(-1),
        _ => None,
    }
}

fn direction(field: &str, dir: &Bson) -> Result<i32, CallError> {
    let found = match dir {
        Bson::String(word) => direction_word(word),
        other => number(other).and_then(|n| match n {
            n if n > 0.0 => Some(1),
            n if n < 0.0 => Some(-1),
            _ => None,
        }),
    };
    found.ok_or_else(|| {
        CallError::invalid(format!(
            "the sort direction of {field:?} must be 1, -1, \"asc\" or \"desc\", got {}",
            shown(dir)
        ))
    })
}

/// `fields`/`projection`: fields to include or to exclude (`_id` may be
/// excluded from an inclusion), or projection operators (`$slice`...).
fn projection(key: &str, value: &Bson) -> Result<Document, CallError> {
    let Bson::Document(fields) = value else {
        return Err(CallError::invalid(format!(
            "{key} must be an object like {{ data: 1 }}, got {}",
            shown(value)
        )));
    };
    let (mut included, mut excluded) = (None, None);
    for (field, flag) in fields {
        if field == "_id" || matches!(flag, Bson::Document(_)) {
            continue;
        }
        if falsy(flag) {
            excluded.get_or_insert(field);
        } else {
            included.get_or_insert(field);
        }
    }
    if let (Some(inc), Some(exc)) = (included, excluded) {
        return Err(CallError::invalid(format!(
            "{key} cannot both include and exclude fields (it includes {inc:?} and \
             excludes {exc:?})"
        )));
    }
    Ok(fields.clone())
}

/// A non-negative integer (`skip`, `limit`, ms).
fn count_arg(name: &str, value: &Bson) -> Result<u64, CallError> {
    match number(value) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 9e15 => Ok(n as u64),
        _ => Err(CallError::invalid(format!(
            "{name} must be a non-negative integer, got {}",
            shown(value)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::options;
    use super::*;
    use crate::queue::ejson;
    use mongodb::bson::doc;
    use serde_json::{json, Value};

    fn sort_of(value: Value) -> Result<Option<Document>, CallError> {
        sort(&ejson::to_bson(&value))
    }

    #[test]
    fn sort_takes_meteor_forms() {
        let both = doc! { "a": 1, "b": -1 };
        assert_eq!(
            sort_of(json!({ "a": 1, "b": -1 })).unwrap(),
            Some(both.clone())
        );
        assert_eq!(
            sort_of(json!({ "a": "asc", "b": "desc" })).unwrap(),
            Some(both.clone())
        );
        assert_eq!(
            sort_of(json!([["a", "asc"], ["b", "desc"]])).unwrap(),
            Some(both.clone())
        );
        assert_eq!(sort_of(json!(["a", ["b", "desc"]])).unwrap(), Some(both));
        assert_eq!(sort_of(json!("a")).unwrap(), Some(doc! { "a": 1 }));
        assert_eq!(sort_of(json!([])).unwrap(), None);
    }

    #[test]
    fn sort_refuses_what_it_cannot_read() {
        let message = |v| sort_of(v).unwrap_err().message;
        assert!(message(json!(["a", "desc"])).contains("pair them"));
        assert!(message(json!({ "a": 0 })).contains("sort direction of \"a\""));
        assert!(message(json!([1])).contains("field name or a [field, direction] pair"));
        assert!(message(json!(true)).contains("sort must be"));
    }

    #[test]
    fn find_options_are_checked() {
        let read = |v: Value| find_options(&options(&v, "options").unwrap());
        let find = read(json!({ "sort": [["priority", "desc"]], "limit": 2, "skip": 1, "fields": { "data": 0 } })).unwrap();
        assert_eq!(find.sort, Some(doc! { "priority": -1 }));
        assert_eq!((find.limit, find.skip), (Some(2), Some(1)));
        assert!(read(json!({ "limit": -1 }))
            .unwrap_err()
            .message
            .contains("limit"));
        assert!(read(json!({ "fields": { "a": 1, "b": 0 } }))
            .unwrap_err()
            .message
            .contains("include and exclude"));
        assert!(read(json!({ "fields": { "_id": 0, "b": 1 } })).is_ok());
        assert!(read(json!({ "colation": {} }))
            .unwrap_err()
            .message
            .contains("colation"));
        assert!(read(json!({ "multi": true, "limit": 0 })).is_err());
    }
}
