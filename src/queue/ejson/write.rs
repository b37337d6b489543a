//! EJSON JSON to BSON, as Meteor's MongoDB driver stores each value:
//! `$date` as a BSON date, `$binary` as Binary (subtype 0), `$InfNaN` as a
//! double, `$regexp`/`$flags` as a BSON regex, custom type `oid` as an
//! ObjectId and `Decimal` as a Decimal128, any other custom type as
//! `{ EJSON$type, EJSON$value }` with `EJSON` before every key inside, and
//! `$escape` as the literal document it wraps. A blob the text refers to
//! (`{"$binary": i}`, see `wire::payload`) becomes a string or a Binary
//! straight from its bytes.

use super::error::{EncodeError, Path, Reason};
use super::tag::{tag_of, Tag, STORED_PREFIX, STORED_TYPE, STORED_VALUE};
use crate::wire::payload::{Blob, BlobKind, Payload};
use base64::Engine;
use mongodb::bson::{spec::BinarySubtype, Binary, Bson, DateTime, Decimal128, Document, Regex};
use serde_json::{Map, Number, Value};

/// The largest distance from the epoch a JavaScript Date holds, in ms.
pub(crate) const MAX_JS_DATE_MS: i64 = 8_640_000_000_000_000;

/// The BSON of an EJSON JSON value; a malformed tag is an error.
#[cfg(test)]
pub fn bson_from_json(value: &Value, root: &str) -> Result<Bson, EncodeError> {
    Convert {
        strict: true,
        blobs: &[],
    }
    .value(value, &Path::Root(root))
}

/// The BSON of an EJSON JSON value, where a malformed tag is taken as the
/// plain object it looks like (selectors and modifiers from `TaskQueue`
/// calls, which MongoDB judges itself).
pub fn to_bson(value: &Value) -> Bson {
    Convert {
        strict: false,
        blobs: &[],
    }
    .value(value, &Path::Root(""))
    .unwrap_or(Bson::Null)
}

/// A JSON object (as text) to a BSON document; `root` names it in errors.
#[cfg(test)]
pub fn doc_from_json(json: &str, root: &str) -> Result<Document, EncodeError> {
    doc_from_payload(&Payload::from(json), root)
}

/// A value's text and blobs (a task's `data`) to a BSON document; `root`
/// names it in errors.
pub(crate) fn doc_from_payload(payload: &Payload, root: &str) -> Result<Document, EncodeError> {
    let path = Path::Root(root);
    let value: Value = serde_json::from_str(payload.json())
        .map_err(|e| EncodeError::at(&path, Reason::NotJson(format!("not valid JSON: {e}"))))?;
    let convert = Convert {
        strict: true,
        blobs: payload.blobs(),
    };
    match convert.value(&value, &path)? {
        Bson::Document(doc) => Ok(doc),
        _ => Err(EncodeError::at(
            &path,
            Reason::NotJson("must be an object".to_owned()),
        )),
    }
}

/// A BSON date from ms since the epoch.
pub fn date(ms: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(ms))
}

/// How values are converted: `strict` makes a malformed tag an error;
/// `blobs` are those the text refers to.
#[derive(Clone, Copy)]
struct Convert<'b> {
    strict: bool,
    blobs: &'b [Blob],
}

impl Convert<'_> {
    fn value(self, value: &Value, path: &Path<'_>) -> Result<Bson, EncodeError> {
        Ok(match value {
            Value::Null => Bson::Null,
            Value::Bool(b) => Bson::Boolean(*b),
            Value::Number(n) => number(n),
            Value::String(s) => Bson::String(s.clone()),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.value(item, &Path::Index(path, i))?);
                }
                Bson::Array(out)
            }
            Value::Object(map) => match tag_of(map.keys().map(String::as_str)) {
                None => Bson::Document(self.fields(map, path)?),
                Some(tag) => match self.tagged(tag, map, path) {
                    Err(_) if !self.strict => Bson::Document(self.fields(map, path)?),
                    result => result?,
                },
            },
        })
    }

    fn fields(self, map: &Map<String, Value>, path: &Path<'_>) -> Result<Document, EncodeError> {
        let mut doc = Document::new();
        for (key, value) in map {
            doc.insert(key.clone(), self.value(value, &Path::Key(path, key))?);
        }
        Ok(doc)
    }

    /// The blob a `{"$binary": i}` refers to, as a string or a Binary.
    fn blob(self, index: &Value) -> Option<Bson> {
        let blob = self.blobs.get(usize::try_from(index.as_u64()?).ok()?)?;
        Some(match blob.kind() {
            // A text blob is UTF-8.
            BlobKind::Text => Bson::String(String::from_utf8_lossy(blob.data()).into_owned()),
            BlobKind::Bytes => Bson::Binary(Binary {
                subtype: BinarySubtype::Generic,
                bytes: blob.data().to_vec(),
            }),
        })
    }
    fn tagged(
        self,
        tag: Tag,
        map: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<Bson, EncodeError> {
        let strict = self.strict;
        let key = tag.key();
        let at = Path::Key(path, key);
        let malformed = |expected: &'static str, got: &Value| {
            EncodeError::at(
                &at,
                Reason::MalformedTag {
                    tag: key,
                    expected,
                    got: json_kind(got),
                },
            )
        };
        let value = map.get(key).unwrap_or(&Value::Null);
        match tag {
            Tag::Date => {
                let ms = match value {
                    Value::Number(n) => n
                        .as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.trunc() as i64),
                    Value::String(s) => DateTime::parse_rfc3339_str(s)
                        .ok()
                        .map(|d| d.timestamp_millis()),
                    _ => None,
                }
                .ok_or_else(|| malformed("a number of ms or an ISO date string", value))?;
                if ms.abs() > MAX_JS_DATE_MS {
                    return Err(EncodeError::at(&at, Reason::DateOutOfRange(ms)));
                }
                Ok(date(ms))
            }
            Tag::InfNaN => match value.as_f64() {
                Some(sign) if sign > 0.0 => Ok(Bson::Double(f64::INFINITY)),
                Some(sign) if sign < 0.0 => Ok(Bson::Double(f64::NEG_INFINITY)),
                Some(_) => Ok(Bson::Double(f64::NAN)),
                None => Err(malformed(
                    "a number (0 for NaN, 1 or -1 for ±Infinity)",
                    value,
                )),
            },
            Tag::Binary => value
                .as_str()
                .and_then(decode_base64)
                .map(|bytes| {
                    Bson::Binary(Binary {
                        subtype: BinarySubtype::Generic,
                        bytes,
                    })
                })
                .or_else(|| self.blob(value))
                .ok_or_else(|| malformed("a base64 string", value)),
            Tag::RegExp => {
                let flags = map.get("$flags").unwrap_or(&Value::Null);
                match (value.as_str(), flags.as_str()) {
                    (Some(pattern), Some(flags)) => Ok(Bson::RegularExpression(Regex {
                        pattern: pattern.to_owned(),
                        options: bson_options(flags)
                            .map_err(|flag| EncodeError::at(&at, Reason::RegexFlag(flag)))?,
                    })),
                    (None, _) => Err(malformed("a string", value)),
                    (_, None) => Err(malformed("a string beside a string $flags", flags)),
                }
            }
            Tag::Escape => match value {
                Value::Object(inner) => {
                    // What Meteor would read back as a tag cannot be stored as itself.
                    if strict && tag_of(inner.keys().map(String::as_str)).is_some() {
                        return Err(EncodeError::at(&at, Reason::LooksLikeTag));
                    }
                    Ok(Bson::Document(self.fields(inner, &at)?))
                }
                other => Err(malformed("an object", other)),
            },
            Tag::Custom => {
                let payload = map.get("$value").unwrap_or(&Value::Null);
                match (value.as_str(), payload) {
                    (Some("oid"), Value::String(hex)) => {
                        mongodb::bson::oid::ObjectId::parse_str(hex)
                            .map(Bson::ObjectId)
                            .map_err(|_| malformed("an oid of 24 hex digits", payload))
                    }
                    (Some("oid"), other) => Err(malformed("an oid of 24 hex digits", other)),
                    (Some("Decimal"), Value::String(text)) => text
                        .parse::<Decimal128>()
                        .map(Bson::Decimal128)
                        .map_err(|_| malformed("a Decimal as a decimal string", payload)),
                    (Some("Decimal"), other) => {
                        Err(malformed("a Decimal as a decimal string", other))
                    }
                    (Some(name), _) => {
                        let mut stored = Document::new();
                        stored.insert(STORED_TYPE, name);
                        stored.insert(STORED_VALUE, mongo_legal(payload));
                        Ok(Bson::Document(stored))
                    }
                    (None, _) => Err(malformed("a type name (a string)", value)),
                }
            }
        }
    }
}

/// JSON numbers as the narrowest BSON number that holds them.
fn number(n: &Number) -> Bson {
    match n.as_i64() {
        Some(i) => match i32::try_from(i) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(i),
        },
        None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// A custom type's JSON value with `EJSON` before every key (Meteor's
/// `replaceNames(makeMongoLegal, ...)`), so no key starts with `$`.
fn mongo_legal(value: &Value) -> Bson {
    match value {
        Value::Array(items) => Bson::Array(items.iter().map(mongo_legal).collect()),
        Value::Object(map) => Bson::Document(
            map.iter()
                .map(|(k, v)| (format!("{STORED_PREFIX}{k}"), mongo_legal(v)))
                .collect(),
        ),
        Value::Number(n) => number(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Null => Bson::Null,
    }
}

/// JavaScript RegExp flags as BSON regex options: `i`, `m`, `s` and `u`
/// mean the same in both and are kept (sorted, as BSON requires); `g`, `y`
/// and `d` say how a JavaScript regex is used, not what it matches, and
/// have no stored meaning, so they are dropped. Anything else (`v`) has no
/// BSON form and is refused.
fn bson_options(flags: &str) -> Result<String, char> {
    let mut options: Vec<char> = Vec::with_capacity(flags.len());
    for flag in flags.chars() {
        match flag {
            'i' | 'm' | 's' | 'u' => options.push(flag),
            'g' | 'y' | 'd' => {}
            other => return Err(other),
        }
    }
    options.sort_unstable();
    options.dedup();
    Ok(options.into_iter().collect())
}

/// Standard base64, with or without padding (as Meteor's Base64 reads it).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(text).ok()
}

/// A short description of a JSON value for messages.
fn json_kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("string {:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}
