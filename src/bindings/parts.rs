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

/// Blobs as JS gives them (`encodeParts` in `lib/codec.js`): a string is
/// text, a Uint8Array bytes (copied now: the caller may change it after).
pub(crate) fn blobs_from_js(blobs: Option<Vec<Either<String, Uint8Array>>>) -> Vec<Blob> {
    blobs
        .unwrap_or_default()
        .into_iter()
        .map(|blob| match blob {
            Either::A(text) => Blob::text(text),
            Either::B(bytes) => Blob::bytes(Bytes::copy_from_slice(&bytes)),
        })
        .collect()
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
        kinds: blobs
            .iter()
            .map(|blob| match blob.kind() {
                BlobKind::Text => 't',
                BlobKind::Bytes => 'b',
            })
            .collect(),
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
