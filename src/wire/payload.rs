//! A value as it crosses processes: EJSON JSON text, and the blobs the text
//! refers to as `{"$binary": i}` (the i-th blob; a number where EJSON has
//! base64 text, so nothing a user wrote reads as one: the codec escapes
//! their own `$binary` keys). Large strings and binaries travel as blobs
//! (`lib/codec.js:encodeParts`), neither escaped nor base64 encoded.
//!
//! The bytes are shared (`Bytes`): the queue, a run and the frames a
//! worker is sent hold one copy between them.

use super::framing::MAX_FRAME;
use base64::Engine;
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

/// Payloads at least this large (text and blobs) are large: they travel in
/// frames of their own and reach JS beside the events, not inside them.
pub(crate) const LARGE: usize = 64 * 1024;

/// Strings and binaries at least this long (bytes) become blobs where the
/// addon makes payloads (`BLOB_MIN` in `lib/codec.js` where JS does).
pub(crate) const BLOB_MIN: usize = 64 * 1024;

/// What a blob holds: a string's UTF-8 text, or a binary's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobKind {
    Bytes,
    Text,
}

/// One blob. A text blob is valid UTF-8.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    kind: BlobKind,
    bytes: Bytes,
}

impl Blob {
    pub(crate) fn bytes(bytes: impl Into<Bytes>) -> Blob {
        Blob {
            kind: BlobKind::Bytes,
            bytes: bytes.into(),
        }
    }

    pub(crate) fn text(text: String) -> Blob {
        Blob {
            kind: BlobKind::Text,
            bytes: Bytes::from(text),
        }
    }

    /// A text blob from bytes that must be UTF-8; `None` when they are not.
    pub(crate) fn text_from(bytes: Bytes) -> Option<Blob> {
        std::str::from_utf8(&bytes).ok()?;
        Some(Blob {
            kind: BlobKind::Text,
            bytes,
        })
    }

    pub(crate) fn kind(&self) -> BlobKind {
        self.kind
    }

    pub(crate) fn data(&self) -> &Bytes {
        &self.bytes
    }

    pub(crate) fn into_data(self) -> Bytes {
        self.bytes
    }

    /// The blob as EJSON JSON text: a JSON string, or `{"$binary": base64}`.
    fn push_inline(&self, out: &mut Vec<u8>) {
        match self.kind {
            BlobKind::Text => {
                // A text blob is UTF-8 (every constructor checks or knows it).
                let text = std::str::from_utf8(&self.bytes).unwrap_or_default();
                // Writing a str into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, text);
            }
            BlobKind::Bytes => {
                out.extend_from_slice(br#"{"$binary":""#);
                let start = out.len();
                let engine = &base64::engine::general_purpose::STANDARD;
                out.resize(
                    start + base64::encoded_len(self.bytes.len(), true).unwrap_or(0),
                    0,
                );
                let written = engine
                    .encode_slice(&self.bytes, &mut out[start..])
                    .unwrap_or(0);
                out.truncate(start + written);
                out.extend_from_slice(br#""}"#);
            }
        }
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} blob of {} bytes", self.kind, self.bytes.len())
    }
}

/// EJSON JSON text and its blobs.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Payload {
    json: Text,
    /// Boxed, not a `Vec`: every task has a payload, and most none.
    blobs: Box<[Blob]>,
}

/// A payload's text (valid UTF-8): owned when small (most tasks: nothing
/// shares it), shared bytes when the payload is large.
#[derive(Clone, PartialEq, Eq)]
enum Text {
    Owned(String),
    Shared(Bytes),
}

impl Default for Text {
    fn default() -> Text {
        Text::Owned(String::new())
    }
}

impl Text {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Owned(text) => text.as_bytes(),
            Text::Shared(bytes) => bytes,
        }
    }
}

impl Payload {
    pub(crate) fn new(json: String, blobs: Vec<Blob>) -> Payload {
        let json = if blobs.is_empty() && json.len() < LARGE {
            Text::Owned(json)
        } else {
            Text::Shared(Bytes::from(json))
        };
        Payload {
            json,
            blobs: blobs.into_boxed_slice(),
        }
    }

    /// From JSON text as shared bytes; `None` when they are not UTF-8.
    pub(crate) fn from_json(json: Bytes, blobs: Vec<Blob>) -> Option<Payload> {
        std::str::from_utf8(&json).ok()?;
        Some(Payload {
            json: Text::Shared(json),
            blobs: blobs.into_boxed_slice(),
        })
    }

    pub(crate) fn json(&self) -> &str {
        match &self.json {
            Text::Owned(text) => text,
            // SAFETY: shared text is UTF-8: it comes from a `String`, or
            // was checked (`from_json`).
            Text::Shared(bytes) => unsafe { std::str::from_utf8_unchecked(bytes) },
        }
    }

    /// The text as shared bytes, to write without copying it (a small
    /// payload's is copied).
    pub(crate) fn json_bytes(&self) -> Bytes {
        match &self.json {
            Text::Owned(text) => Bytes::copy_from_slice(text.as_bytes()),
            Text::Shared(bytes) => bytes.clone(),
        }
    }

    pub(crate) fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Its text (UTF-8) and its blobs.
    pub(crate) fn into_parts(self) -> (Bytes, Vec<Blob>) {
        let json = match self.json {
            Text::Owned(text) => Bytes::from(text),
            Text::Shared(bytes) => bytes,
        };
        (json, self.blobs.into_vec())
    }

    /// Bytes of text and blobs.
    pub(crate) fn size(&self) -> usize {
        self.json().len() + self.blobs.iter().map(|b| b.bytes.len()).sum::<usize>()
    }

    /// Whether it travels on its own (see `LARGE`): it has blobs, or is
    /// big (a payload made from shared bytes is taken to be).
    pub(crate) fn is_large(&self) -> bool {
        matches!(self.json, Text::Shared(_))
    }

    /// The value as plain EJSON text, its blobs written into it (strings,
    /// base64), for where no blobs can follow it.
    pub(crate) fn inline(&self) -> Cow<'_, str> {
        if self.blobs.is_empty() {
            return Cow::Borrowed(self.json());
        }
        let mut out = Vec::with_capacity(self.size() + self.size() / 3);
        let json = self.json.as_bytes();
        let mut copied = 0;
        for (at, end, index) in blob_refs(json) {
            let Some(blob) = self.blobs.get(index) else {
                continue;
            };
            out.extend_from_slice(&json[copied..at]);
            blob.push_inline(&mut out);
            copied = end;
        }
        out.extend_from_slice(&json[copied..]);
        // Valid JSON text with JSON strings and base64 put in place of whole values.
        Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| "null".to_owned()))
    }
}

/// Why `data` cannot travel to a worker: a piece of it (its text, or a
/// blob) is larger than a frame can be.
pub(crate) fn check_size(data: &Payload) -> Result<(), String> {
    // Room for the rest of a run's row around the text.
    const ROOM: usize = 64 * 1024;
    let largest = data
        .blobs
        .iter()
        .map(|b| b.bytes.len())
        .chain([data.json().len() + ROOM])
        .max()
        .unwrap_or(0);
    if largest > MAX_FRAME {
        return Err(format!(
            "data holds a piece of {largest} bytes, more than the {MAX_FRAME} a worker can be sent in one"
        ));
    }
    Ok(())
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json().len() > 200 {
            write!(f, "{} bytes of JSON", self.json().len())?;
        } else {
            write!(f, "{}", self.json())?;
        }
        if !self.blobs.is_empty() {
            write!(f, " with {:?}", self.blobs)?;
        }
        Ok(())
    }
}

impl From<String> for Payload {
    fn from(json: String) -> Payload {
        Payload::new(json, Vec::new())
    }
}

impl From<&str> for Payload {
    fn from(json: &str) -> Payload {
        Payload::new(json.to_owned(), Vec::new())
    }
}

impl PartialEq<&str> for Payload {
    fn eq(&self, other: &&str) -> bool {
        self.blobs.is_empty() && self.json() == *other
    }
}

/// Where JSON text refers to blobs: `(start, end, index)` of each
/// `{"$binary":i}` (whitespace allowed around its tokens) that is a value,
/// not the object an `$escape` wraps (a user's own `$binary` key).
fn blob_refs(json: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut refs = Vec::new();
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => i = string_end(json, i),
            b'{' => {
                if let Some((end, index)) = blob_ref_at(json, i) {
                    if !escaped_at(json, i) {
                        refs.push((i, end, index));
                    }
                    i = end;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    refs
}

/// The index just past the JSON string starting at `start` (a quote).
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    json.len()
}

fn skip_space(json: &[u8], mut i: usize) -> usize {
    while i < json.len() && json[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// `{"$binary":<digits>}` at `start`: its end and number.
fn blob_ref_at(json: &[u8], start: usize) -> Option<(usize, usize)> {
    let i = skip_space(json, start + 1);
    let i = skip_space(
        json,
        json.get(i..)?
            .strip_prefix(br#""$binary""#)
            .map(|_| i + 9)?,
    );
    let i = skip_space(json, (json.get(i) == Some(&b':')).then_some(i + 1)?);
    let digits = json[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let index = std::str::from_utf8(&json[i..i + digits])
        .ok()?
        .parse()
        .ok()?;
    let i = skip_space(json, i + digits);
    (json.get(i) == Some(&b'}')).then_some((i + 1, index))
}

/// Whether the object at `start` is what `{"$escape": ...}` wraps.
fn escaped_at(json: &[u8], start: usize) -> bool {
    let before = json[..start].trim_ascii_end();
    let Some(before) = before.strip_suffix(b":") else {
        return false;
    };
    let Some(before) = before.trim_ascii_end().strip_suffix(br#""$escape""#) else {
        return false;
    };
    before.trim_ascii_end().ends_with(b"{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlining_writes_blobs_in_place_of_their_references_only() {
        let payload = Payload::new(
            concat!(
                r#"{"a":{"$binary":1},"b":[ { "$binary" : 0 } ],"#,
                r#""s":"{\"$binary\":0}","e":{"$escape":{"$binary":0}},"#,
                r#""two":{"$binary":0,"x":1},"f":{"$escape":{"$binary":{"$binary":1}}}}"#
            )
            .to_owned(),
            vec![Blob::text("é\"".to_owned()), Blob::bytes(vec![0u8, 1, 2])],
        );
        assert_eq!(
            payload.inline(),
            concat!(
                r#"{"a":{"$binary":"AAEC"},"b":[ "é\"" ],"#,
                r#""s":"{\"$binary\":0}","e":{"$escape":{"$binary":0}},"#,
                r#""two":{"$binary":0,"x":1},"f":{"$escape":{"$binary":{"$binary":"AAEC"}}}}"#
            )
        );
        assert_eq!(payload.size(), payload.json().len() + 6);
        assert!(payload.is_large(), "blobs make it large");
    }

    #[test]
    fn a_payload_without_blobs_is_its_text() {
        let payload = Payload::from(r#"{"x":{"$binary":0}}"#);
        assert_eq!(payload.inline(), r#"{"x":{"$binary":0}}"#);
        assert!(!payload.is_large());
        assert!(Payload::from("x".repeat(LARGE)).is_large());
        assert_eq!(Blob::text_from(Bytes::from_static(b"\xff")), None);
    }
}
