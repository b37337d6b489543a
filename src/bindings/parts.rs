//! Large payloads between JS and Rust: blobs JS hands over with tasks, and
//! parts handed to JS beside the events that name them (see
//! `wire::events`). A part is opened (`openPart`) only when JS reads it (a
//! listener may never look at a task's data); its bytes then become
//! Buffers without a copy when nothing else holds them.
//!
//! A string JS hands over is written as UTF-8 straight into memory of the
//! addon's (`allocBlob`), which the blob then keeps: touching fresh memory
//! is most of what a copy of megabytes costs, so there is one copy, not two.

use crate::wire::payload::{Blob, BlobKind, Payload};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// Memory lent to JS by `allocBlob`, by address, until JS hands it
    /// back as a blob or lets go of it (its Buffer is collected).
    static LENT: RefCell<HashMap<usize, Bytes>> = RefCell::new(HashMap::new());
}

/// A Buffer of `len` bytes for JS to write a blob into (a string's UTF-8);
/// handed back as a blob, its memory becomes the blob's, without a copy.
#[napi(ts_return_type = "Buffer")]
pub fn alloc_blob(env: &Env, len: u32) -> Result<BufferSlice<'_>> {
    let len = len as usize;
    if len == 0 {
        return BufferSlice::from_data(env, Vec::new());
    }
    let bytes = Bytes::from(vec![0u8; len]);
    let address = bytes.as_ptr() as usize;
    LENT.with(|lent| lent.borrow_mut().insert(address, bytes.clone()));
    // SAFETY: `bytes` is kept alive by the finalize hint until the Buffer
    // is collected, and nothing in Rust reads it before JS hands it back
    // (JS writes it first, in the same turn).
    unsafe {
        BufferSlice::from_external(
            env,
            bytes.as_ptr().cast_mut(),
            len,
            bytes,
            move |_env, bytes: Bytes| {
                LENT.with(|lent| lent.borrow_mut().remove(&address));
                drop(bytes);
            },
        )
    }
}

/// Lets go of a Buffer's memory now, not when the Buffer is collected
/// (JS is done with bytes it decoded); the Buffer is empty after. Touching
/// fresh memory costs more than reusing memory let go of.
#[napi]
pub fn release_buffer(buffer: TypedArray) {
    // One that cannot be detached is let go of when collected.
    let _ = buffer.arraybuffer.detach();
}

/// The memory of a Buffer `allocBlob` lent, taken back; `None` for any
/// other bytes. JS's Buffer is detached, so it lets go of the memory now,
/// not when it is collected, and cannot change what the blob now holds.
fn reclaim(array: TypedArray) -> Option<Bytes> {
    let bytes: &[u8] = &array.arraybuffer;
    let address = bytes.as_ptr() as usize;
    let own = LENT.with(|lent| {
        let mut lent = lent.borrow_mut();
        match lent.get(&address) {
            Some(own) if own.len() == bytes.len() => lent.remove(&address),
            _ => None,
        }
    })?;
    // A Buffer that cannot be detached is collected in time instead.
    let _ = array.arraybuffer.detach();
    Some(own)
}

/// Events that name parts: `json` is the events' JSON array, and the
/// `dataPart` or `valuePart` of an event is a place in `parts`.
#[napi(object, object_from_js = false)]
pub struct Handover {
    pub json: String,
    pub parts: Vec<External<HeldPart>>,
}

/// A part until it is opened.
pub struct HeldPart(Option<Payload>);

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
    blobs: Option<Vec<TypedArray>>,
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
        .into_iter()
        .zip(kinds.bytes())
        .map(|(array, letter)| {
            let bytes =
                reclaim(array).unwrap_or_else(|| Bytes::copy_from_slice(&array.arraybuffer));
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
        parts: parts
            .into_iter()
            .map(|payload| {
                // Tells the collector how much the part holds.
                let size = payload.size();
                External::new_with_size_hint(HeldPart(Some(payload)), size)
            })
            .collect(),
    })
}

/// The text and blobs of a part, once: a part is read once (JS keeps what
/// it decoded), and taking it out leaves its bytes to the Buffers alone.
#[napi]
pub fn open_part(part: &mut External<HeldPart>) -> Option<Part> {
    part.0.take().map(open)
}

fn open(payload: Payload) -> Part {
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
