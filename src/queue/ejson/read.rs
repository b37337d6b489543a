//! Stored BSON to EJSON JSON text, read straight from the raw bytes.
//!
//! Not through serde's `Document`: the bson crate's serde path takes an
//! embedded `{ $date: ... }` for its own extended JSON and fails the whole
//! cursor batch when it is not one. Here each document is read on its own
//! and a value that cannot be read is a `DecodeError` naming its path.
//!
//! Mapping (as Meteor's driver reads what it stored): BSON dates are
//! `{"$date": ms}`, Binary of any subtype `{"$binary": base64}`, ObjectId
//! the custom type `oid`, Decimal128 the custom type `Decimal`, a regex
//! `{"$regexp", "$flags"}`, NaN and ±inf `{"$InfNaN"}`, Int32, Int64 and
//! Double JSON numbers (an Int64 beyond 2^53 loses precision in
//! JavaScript, as in Meteor), Symbol a string, Undefined null, and
//! Meteor's `{ EJSON$type, EJSON$value }` the custom type it stores.
//! An embedded document whose keys spell an EJSON tag is read as that
//! tag's type when it is well formed (`{ $date: <date, ms or ISO string> }`)
//! and is an error when it is not; one with other `$` keys is plain data.

use super::error::{raw_reason, DecodeError, Path, Reason};
use super::json_text::{push_custom, push_display, push_double, push_regexp, push_str};
use super::tag::{is_stored_custom, tag_of, Tag, STORED_PREFIX, STORED_TYPE, STORED_VALUE};
use super::write::{decode_base64, MAX_JS_DATE_MS};
use crate::wire::payload::{Blob, Payload, BLOB_MIN};
use base64::Engine;
use mongodb::bson::raw::{RawArray, RawBsonRef, RawDocument};
use mongodb::bson::{DateTime, Decimal128};

/// A stored document as EJSON JSON text; `root` names it in errors (""
/// for a whole document, so paths read `data.nested.$date`).
pub fn document_json(doc: &RawDocument, root: &str) -> Result<String, DecodeError> {
    let mut out = Json::text(doc.as_bytes().len() + 16);
    document(&mut out, doc, &Path::Root(root), Mode::Ejson)?;
    Ok(out.text)
}

/// One stored value as EJSON JSON text, at `path`.
pub(crate) fn value_json(value: RawBsonRef<'_>, path: &Path<'_>) -> Result<String, DecodeError> {
    let mut out = Json::text(0);
    write_value(&mut out, value, path, Mode::Ejson)?;
    Ok(out.text)
}

/// One stored value as a payload, at `path`: its large strings and
/// binaries as blobs (their bytes, neither escaped nor base64 encoded).
pub(crate) fn value_payload(
    value: RawBsonRef<'_>,
    path: &Path<'_>,
) -> Result<Payload, DecodeError> {
    let mut out = Json {
        text: String::new(),
        blobs: Some(Vec::new()),
    };
    write_value(&mut out, value, path, Mode::Ejson)?;
    Ok(Payload::new(out.text, out.blobs.unwrap_or_default()))
}

/// What is written: JSON text, and when blobs are taken, the blobs.
struct Json {
    text: String,
    blobs: Option<Vec<Blob>>,
}

impl Json {
    fn text(capacity: usize) -> Json {
        Json {
            text: String::with_capacity(capacity),
            blobs: None,
        }
    }

    /// Takes `blob` (made only when taken) as the next blob, when blobs
    /// are taken and `len` is large enough; `false` otherwise.
    fn blob(&mut self, len: usize, mode: Mode, blob: impl FnOnce() -> Blob) -> bool {
        // A custom type's value goes to its factory as JSON.
        let Some(blobs) = self
            .blobs
            .as_mut()
            .filter(|_| mode == Mode::Ejson && len >= BLOB_MIN)
        else {
            return false;
        };
        self.text.push_str(r#"{"$binary":"#);
        push_display(&mut self.text, blobs.len());
        self.text.push('}');
        blobs.push(blob());
        true
    }
}

/// How documents are read. Inside a custom type's value nothing is a tag
/// (EJSON hands that JSON to the type's factory as it is).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ejson,
    Literal,
    /// Meteor's stored custom value: `EJSON` comes off the front of each key.
    Unprefixed,
}

fn write_value(
    out: &mut Json,
    value: RawBsonRef<'_>,
    path: &Path<'_>,
    mode: Mode,
) -> Result<(), DecodeError> {
    match value {
        RawBsonRef::Null | RawBsonRef::Undefined => out.text.push_str("null"),
        RawBsonRef::Boolean(b) => out.text.push_str(if b { "true" } else { "false" }),
        RawBsonRef::Int32(i) => push_display(&mut out.text, i),
        RawBsonRef::Int64(i) => push_display(&mut out.text, i),
        RawBsonRef::Double(f) => push_double(&mut out.text, f),
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => {
            if !out.blob(s.len(), mode, || Blob::text(s.to_owned())) {
                push_str(&mut out.text, s);
            }
        }
        RawBsonRef::Document(doc) => document(out, doc, path, mode)?,
        RawBsonRef::Array(items) => array(out, items, path, mode)?,
        RawBsonRef::DateTime(dt) => push_date(out, dt.timestamp_millis(), path)?,
        RawBsonRef::Binary(binary)
            if out.blob(binary.bytes.len(), mode, || {
                Blob::bytes(binary.bytes.to_vec())
            }) => {}
        RawBsonRef::Binary(binary) => {
            out.text.push_str(r#"{"$binary":""#);
            out.text
                .push_str(&base64::engine::general_purpose::STANDARD.encode(binary.bytes));
            out.text.push_str(r#""}"#);
        }
        RawBsonRef::ObjectId(oid) => push_custom(&mut out.text, "oid", &oid.to_hex()),
        RawBsonRef::Decimal128(d) => push_custom(&mut out.text, "Decimal", &d.to_string()),
        RawBsonRef::RegularExpression(regex) => {
            let flags = js_flags(regex.options)
                .map_err(|flag| DecodeError::at(path, Reason::RegexFlag(flag)))?;
            push_regexp(&mut out.text, regex.pattern, &flags);
        }
        RawBsonRef::Timestamp(_) => return Err(no_form(path, "Timestamp")),
        RawBsonRef::MinKey => return Err(no_form(path, "MinKey")),
        RawBsonRef::MaxKey => return Err(no_form(path, "MaxKey")),
        RawBsonRef::JavaScriptCode(_) => return Err(no_form(path, "JavaScript code")),
        RawBsonRef::JavaScriptCodeWithScope(_) => {
            return Err(no_form(path, "JavaScript code with scope"))
        }
        RawBsonRef::DbPointer(_) => return Err(no_form(path, "DBPointer")),
    }
    Ok(())
}

fn no_form(path: &Path<'_>, kind: &'static str) -> DecodeError {
    DecodeError::at(path, Reason::NoEjsonForm(kind))
}

fn array(out: &mut Json, items: &RawArray, path: &Path<'_>, mode: Mode) -> Result<(), DecodeError> {
    out.text.push('[');
    for (i, item) in items.into_iter().enumerate() {
        let at = Path::Index(path, i);
        let item = item.map_err(|e| DecodeError::at(&at, raw_reason(&e)))?;
        if i > 0 {
            out.text.push(',');
        }
        write_value(out, item, &at, mode)?;
    }
    out.text.push(']');
    Ok(())
}

fn document(
    out: &mut Json,
    doc: &RawDocument,
    path: &Path<'_>,
    mode: Mode,
) -> Result<(), DecodeError> {
    if mode == Mode::Ejson {
        // Only a document of one or two keys can be a tag: read at most three.
        let mut keys: [&str; 3] = [""; 3];
        let mut count = 0;
        for element in doc.iter_elements().take(3) {
            keys[count] = element
                .map_err(|e| DecodeError::at(path, raw_reason(&e)))?
                .key();
            count += 1;
        }
        let keys = &keys[..count];
        if is_stored_custom(keys.iter().copied()) {
            if let Some(RawBsonRef::String(name)) = get(doc, STORED_TYPE, path)? {
                let value = get(doc, STORED_VALUE, path)?.unwrap_or(RawBsonRef::Null);
                return custom(
                    out,
                    name,
                    value,
                    &Path::Key(path, STORED_VALUE),
                    Mode::Unprefixed,
                );
            }
        } else if let Some(tag) = tag_of(keys.iter().copied()) {
            return tagged(out, tag, doc, path);
        }
    }
    fields(out, doc, path, mode)
}

/// A document's fields as a JSON object, never read as a tag itself.
fn fields(
    out: &mut Json,
    doc: &RawDocument,
    path: &Path<'_>,
    mode: Mode,
) -> Result<(), DecodeError> {
    out.text.push('{');
    for (i, element) in doc.iter_elements().enumerate() {
        let element = element.map_err(|e| DecodeError::at(path, raw_reason(&e)))?;
        let key = element.key();
        let at = Path::Key(path, key);
        let value = element
            .value()
            .map_err(|e| DecodeError::at(&at, raw_reason(&e)))?;
        if i > 0 {
            out.text.push(',');
        }
        let shown = match mode {
            Mode::Unprefixed => key.strip_prefix(STORED_PREFIX).unwrap_or(key),
            Mode::Ejson | Mode::Literal => key,
        };
        push_str(&mut out.text, shown);
        out.text.push(':');
        write_value(out, value, &at, mode)?;
    }
    out.text.push('}');
    Ok(())
}

fn get<'a>(
    doc: &'a RawDocument,
    key: &str,
    path: &Path<'_>,
) -> Result<Option<RawBsonRef<'a>>, DecodeError> {
    doc.get(key)
        .map_err(|e| DecodeError::at(&Path::Key(path, key), raw_reason(&e)))
}

/// A document whose keys spell `tag`: its type when well formed.
fn tagged(out: &mut Json, tag: Tag, doc: &RawDocument, path: &Path<'_>) -> Result<(), DecodeError> {
    let key = tag.key();
    let at = Path::Key(path, key);
    let value = get(doc, key, path)?.unwrap_or(RawBsonRef::Null);
    let malformed = |expected: &'static str, got: RawBsonRef<'_>| {
        DecodeError::at(
            &at,
            Reason::MalformedTag {
                tag: key,
                expected,
                got: bson_kind(got),
            },
        )
    };
    match tag {
        Tag::Date => {
            let ms = match value {
                RawBsonRef::DateTime(dt) => Some(dt.timestamp_millis()),
                RawBsonRef::Int32(i) => Some(i64::from(i)),
                RawBsonRef::Int64(i) => Some(i),
                RawBsonRef::Double(f) if f.is_finite() => Some(f.trunc() as i64),
                RawBsonRef::String(s) => DateTime::parse_rfc3339_str(s)
                    .ok()
                    .map(|d| d.timestamp_millis()),
                _ => None,
            };
            let ms = ms.ok_or_else(|| {
                malformed("a BSON date, a number of ms or an ISO date string", value)
            })?;
            push_date(out, ms, &at)
        }
        Tag::InfNaN => {
            let sign = match value {
                RawBsonRef::Int32(i) => Some(i64::from(i).signum()),
                RawBsonRef::Int64(i) => Some(i.signum()),
                RawBsonRef::Double(f) if f > 0.0 => Some(1),
                RawBsonRef::Double(f) if f < 0.0 => Some(-1),
                RawBsonRef::Double(_) => Some(0),
                _ => None,
            };
            let sign = sign
                .ok_or_else(|| malformed("a number (0 for NaN, 1 or -1 for ±Infinity)", value))?;
            out.text.push_str(r#"{"$InfNaN":"#);
            push_display(&mut out.text, sign);
            out.text.push('}');
            Ok(())
        }
        Tag::Binary => match value {
            RawBsonRef::String(text) if decode_base64(text).is_some() => {
                out.text.push_str(r#"{"$binary":"#);
                push_str(&mut out.text, text);
                out.text.push('}');
                Ok(())
            }
            other => Err(malformed("a base64 string", other)),
        },
        Tag::RegExp => {
            let flags = get(doc, "$flags", path)?.unwrap_or(RawBsonRef::Null);
            match (value, flags) {
                (RawBsonRef::String(pattern), RawBsonRef::String(flags)) => {
                    push_regexp(&mut out.text, pattern, flags);
                    Ok(())
                }
                (RawBsonRef::String(_), other) => {
                    Err(malformed("a string beside a string $flags", other))
                }
                (other, _) => Err(malformed("a string", other)),
            }
        }
        Tag::Escape => match value {
            RawBsonRef::Document(inner) => {
                out.text.push_str(r#"{"$escape":"#);
                fields(out, inner, &at, Mode::Ejson)?;
                out.text.push('}');
                Ok(())
            }
            other => Err(malformed("an embedded document", other)),
        },
        Tag::Custom => match value {
            RawBsonRef::String(name) => {
                let payload = get(doc, "$value", path)?.unwrap_or(RawBsonRef::Null);
                custom(
                    out,
                    name,
                    payload,
                    &Path::Key(path, "$value"),
                    Mode::Literal,
                )
            }
            other => Err(malformed("a type name (a string)", other)),
        },
    }
}

/// A custom type: `oid` and `Decimal` must hold what they say; any other
/// type's value is handed on as JSON, untouched.
fn custom(
    out: &mut Json,
    name: &str,
    value: RawBsonRef<'_>,
    path: &Path<'_>,
    mode: Mode,
) -> Result<(), DecodeError> {
    let malformed = |expected: &'static str| {
        DecodeError::at(
            path,
            Reason::MalformedTag {
                tag: "$value",
                expected,
                got: bson_kind(value),
            },
        )
    };
    match (name, value) {
        ("oid", RawBsonRef::ObjectId(oid)) => push_custom(&mut out.text, "oid", &oid.to_hex()),
        ("oid", RawBsonRef::String(hex)) => {
            let oid = mongodb::bson::oid::ObjectId::parse_str(hex)
                .map_err(|_| malformed("an oid of 24 hex digits"))?;
            push_custom(&mut out.text, "oid", &oid.to_hex());
        }
        ("oid", _) => return Err(malformed("an oid of 24 hex digits")),
        ("Decimal", RawBsonRef::Decimal128(d)) => {
            push_custom(&mut out.text, "Decimal", &d.to_string())
        }
        ("Decimal", RawBsonRef::String(text)) => {
            text.parse::<Decimal128>()
                .map_err(|_| malformed("a Decimal as a decimal string"))?;
            push_custom(&mut out.text, "Decimal", text);
        }
        ("Decimal", _) => return Err(malformed("a Decimal as a decimal string")),
        _ => {
            out.text.push_str(r#"{"$type":"#);
            push_str(&mut out.text, name);
            out.text.push_str(r#","$value":"#);
            write_value(out, value, path, mode)?;
            out.text.push('}');
        }
    }
    Ok(())
}

fn push_date(out: &mut Json, ms: i64, path: &Path<'_>) -> Result<(), DecodeError> {
    if ms.abs() > MAX_JS_DATE_MS {
        return Err(DecodeError::at(path, Reason::DateOutOfRange(ms)));
    }
    out.text.push_str(r#"{"$date":"#);
    push_display(&mut out.text, ms);
    out.text.push('}');
    Ok(())
}

/// BSON regex options as JavaScript flags: `i`, `m`, `s` and `u` are the
/// same; `l` (locale-dependent `\w`) has no JavaScript meaning and is
/// dropped; `x` (extended: whitespace and comments in the pattern) would
/// change what the pattern matches, so it is refused.
fn js_flags(options: &str) -> Result<String, char> {
    let mut flags = String::with_capacity(options.len());
    for option in options.chars() {
        match option {
            'i' | 'm' | 's' | 'u' => flags.push(option),
            'l' => {}
            other => return Err(other),
        }
    }
    Ok(flags)
}

/// A short description of a BSON value for messages.
fn bson_kind(value: RawBsonRef<'_>) -> String {
    match value {
        RawBsonRef::String(s) if s.chars().count() > 40 => {
            format!("string {:?}…", s.chars().take(40).collect::<String>())
        }
        RawBsonRef::String(s) => format!("string {s:?}"),
        RawBsonRef::Int32(i) => format!("number {i}"),
        RawBsonRef::Int64(i) => format!("number {i}"),
        RawBsonRef::Double(f) => format!("number {f}"),
        RawBsonRef::Boolean(b) => format!("boolean {b}"),
        RawBsonRef::Null => "null".to_owned(),
        other => format!("a BSON {:?}", other.element_type()),
    }
}
