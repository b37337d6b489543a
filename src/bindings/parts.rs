//! Large payloads between JS and Rust: blobs JS hands over with tasks, and
//! parts handed to JS beside the events that name them (see
//! `wire::events`). A part is opened (`openPart`) only when JS reads it (a
//! listener may never look at a task's data); its bytes are then lent to
//! JS as Buffers, without a copy (bytes JS may keep and write, only when
//! nothing else holds them).
//!
//! A string JS hands over is written as UTF-8 straight into memory of the
//! addon's (`allocBlob`), which the blob then keeps: touching fresh memory
//! is most of what a copy of megabytes costs, so there is one copy, not two.

use crate::sys;
use crate::wire::payload::{Blob, BlobKind, Payload};
use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

thread_local! {
    /// Memory lent to JS as Buffers (`lend`), by address, until JS hands
    /// it back (`reclaim`) or lets go of it. The Buffer's finalizer holds
    /// only the loan's id: memory taken back must not live on until the
    /// detached Buffer is collected, and an address may be lent again.
    static LENT: RefCell<HashMap<usize, Loan>> = RefCell::new(HashMap::new());
    static NEXT_LOAN: Cell<u64> = const { Cell::new(0) };
}

struct Loan {
    id: u64,
    bytes: Bytes,
}

/// A Buffer over `bytes`, lent until JS hands it back or lets go of it.
/// JS may write it only when nothing else holds `bytes` (`writable`).
fn lend(env: &Env, bytes: Bytes) -> Result<BufferSlice<'_>> {
    if bytes.is_empty() {
        return BufferSlice::from_data(env, Vec::new());
    }
    let (address, len) = (bytes.as_ptr() as usize, bytes.len());
    // Memory must never back two Buffers at once (nodejs/node#32463).
    if LENT.with(|lent| lent.borrow().contains_key(&address)) {
        return BufferSlice::from_data(env, bytes.to_vec());
    }
    let id = NEXT_LOAN.with(|next| next.replace(next.get() + 1));
    LENT.with(|lent| lent.borrow_mut().insert(address, Loan { id, bytes }));
    // SAFETY: LENT keeps the memory until the Buffer is collected, or
    // until `reclaim` has detached the Buffer, so JS never sees it freed.
    unsafe {
        BufferSlice::from_external(env, address as *mut u8, len, id, move |_env, id| {
            let mine = LENT.with(|lent| {
                let mut lent = lent.borrow_mut();
                match lent.get(&address) {
                    Some(loan) if loan.id == id => lent.remove(&address),
                    _ => None,
                }
            });
            if let Some(loan) = mine {
                sys::memory::release(loan.bytes);
            }
        })
    }
}

/// A Buffer of `len` bytes for JS to write a blob into (a string's UTF-8);
/// handed back as a blob, its memory becomes the blob's, without a copy.
#[napi(ts_return_type = "Buffer")]
pub fn alloc_blob(env: &Env, len: u32) -> Result<BufferSlice<'_>> {
    lend(env, sys::memory::bytes(vec![0u8; len as usize]))
}

/// Lets go of a Buffer's memory now, not when the Buffer is collected
/// (JS is done with bytes it decoded); the Buffer is empty after. Touching
/// fresh memory costs more than reusing memory let go of.
#[napi]
pub fn release_buffer(buffer: TypedArray) {
    if let Some(bytes) = reclaim(buffer) {
        sys::memory::release(bytes);
    }
}

/// The memory of a Buffer this addon lent, taken back; `None` for any
/// other bytes, or a Buffer that cannot be detached (it keeps its memory
/// until collected). JS's Buffer is detached first, so it cannot change
/// or read what Rust now holds.
fn reclaim(array: TypedArray) -> Option<Bytes> {
    let bytes: &[u8] = &array.arraybuffer;
    let (address, len) = (bytes.as_ptr() as usize, bytes.len());
    let lent = LENT.with(|lent| {
        lent.borrow()
            .get(&address)
            .is_some_and(|loan| loan.bytes.len() == len)
    });
    if !lent {
        return None;
    }
    // The view's own `arraybuffer` cannot be detached (napi-rs gives the
    // view there); its `buffer` property is the ArrayBuffer itself.
    let whole: ArrayBuffer = array.get_named_property_unchecked("buffer").ok()?;
    if whole.as_ptr() as usize != address || whole.len() != len || whole.detach().is_err() {
        return None;
    }
    LENT.with(|lent| lent.borrow_mut().remove(&address))
        .map(|loan| loan.bytes)
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
#[napi(object, object_from_js = false)]
pub struct Part<'env> {
    pub json: BufferSlice<'env>,
    /// A letter per blob: "t" for text (UTF-8), "b" for bytes
    /// (`BLOB_KINDS` in `lib/wire.js`).
    pub kinds: String,
    pub blobs: Vec<BufferSlice<'env>>,
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
pub fn open_part<'env>(
    env: &'env Env,
    part: &mut External<HeldPart>,
) -> Result<Option<Part<'env>>> {
    part.0.take().map(|payload| open(env, payload)).transpose()
}

fn open(env: &Env, payload: Payload) -> Result<Part<'_>> {
    let (json, blobs) = payload.into_parts();
    Ok(Part {
        json: lend(env, json)?,
        kinds: blobs.iter().map(|blob| letter_of(blob.kind())).collect(),
        blobs: blobs
            .into_iter()
            .map(|blob| match blob.kind() {
                BlobKind::Text => lend(env, blob.into_data()),
                BlobKind::Bytes => writable(env, blob.into_data()),
            })
            .collect::<Result<_>>()?,
    })
}

/// A Buffer of `bytes` that JS may keep and write (a `Uint8Array` the
/// user gets): theirs when nothing else holds them, else a copy. Text and
/// JSON are lent as they are: JS reads them into strings, then lets go
/// (`partValue` in `lib/wire.js`).
fn writable(env: &Env, bytes: Bytes) -> Result<BufferSlice<'_>> {
    if bytes.is_unique() {
        return lend(env, bytes);
    }
    lend(env, Bytes::from(bytes.to_vec()))
}
