//! Large payloads between JS and Rust: blobs JS hands over with tasks, and
//! parts handed to JS beside the events that name them (see
//! `wire::events`), whose bytes become Buffers without a copy when nothing
//! else holds them (the usual case: the run that carried them has ended).

use crate::wire::payload::{Blob, BlobKind, Payload};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Events that name parts: `json` is the events' JSON array, and the
/// `dataPart` or `valuePart` of an event is a place in `parts`.
#[napi(object)]
pub struct Handover {
    pub json: String,
    pub parts: Vec<Part>,
}

/// A value's EJSON text and its blobs (`decode` in `lib/codec.js`).
#[napi(object)]
pub struct Part {
    pub json: Buffer,
    /// A letter per blob: "t" for text (UTF-8), "b" for bytes
    /// (`BLOB_KINDS` in `lib/wire.js`).
    pub kinds: String,
    pub blobs: Vec<Buffer>,
}

/// Blobs as JS hands them over (`addonBlobs` in `lib/wire.js`): each as
/// bytes, with a letter of `kinds` saying whether it is text or bytes.
/// They are copied now: the caller may change them after.
pub(crate) fn blobs_from_js(
    blobs: Option<Vec<Uint8Array>>,
    kinds: Option<String>,
) -> std::result::Result<Vec<Blob>, String> {
    let blobs = blobs.unwrap_or_default();
    let kinds = kinds.unwrap_or_default();
    if kinds.len() != blobs.len() {
        return Err(format!(
            "{} blobs came with {} kinds",
            blobs.len(),
            kinds.len()
        ));
    }
    blobs
        .iter()
        .zip(kinds.bytes())
        .map(|(bytes, letter)| {
            let bytes = Bytes::copy_from_slice(bytes);
            match kind_of(letter)? {
                BlobKind::Bytes => Ok(Blob::bytes(bytes)),
                BlobKind::Text => {
                    Blob::text_from(bytes).ok_or_else(|| "a text blob that is not UTF-8".to_owned())
                }
            }
        })
        .collect()
}

/// A blob's kind from its letter in a `kinds` string.
pub(crate) fn kind_of(letter: u8) -> std::result::Result<BlobKind, String> {
    match letter {
        b'b' => Ok(BlobKind::Bytes),
        b't' => Ok(BlobKind::Text),
        other => Err(format!("unknown blob kind {:?}", other as char)),
    }
}

/// The letter of a blob's kind.
fn letter_of(kind: BlobKind) -> char {
    match kind {
        BlobKind::Text => 't',
        BlobKind::Bytes => 'b',
    }
}

/// The events alone, or with their parts.
pub(crate) fn handover((json, parts): (String, Vec<Payload>)) -> Either<String, Handover> {
    if parts.is_empty() {
        return Either::A(json);
    }
    Either::B(Handover {
        json,
        parts: parts.into_iter().map(part).collect(),
    })
}

fn part(payload: Payload) -> Part {
    let (json, blobs) = payload.into_parts();
    Part {
        json: buffer(json),
        kinds: blobs.iter().map(|blob| letter_of(blob.kind())).collect(),
        blobs: blobs
            .into_iter()
            .map(|blob| buffer(blob.into_data()))
            .collect(),
    }
}

/// A Buffer of `bytes`: theirs when nothing else holds them, else a copy.
fn buffer(bytes: Bytes) -> Buffer {
    Buffer::from(Vec::<u8>::from(bytes))
}
