//! The worker's functions: connect to the master, write frames, record runs.

use super::parts::kind_of;
use crate::wire::payload::BlobKind;
use crate::worker;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Connects this worker process to its master (fds 3, 4 and 5).
#[napi]
pub fn worker_connect() -> Result<()> {
    worker::connect().map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Writes a message (a JSON text) for the master; once this returns, the
/// worker's death cannot lose it.
#[napi]
pub fn worker_send(message: String) -> Result<()> {
    worker::send(&message).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Writes the `failed` message of run `run`: `error` is the encoded
/// error's JSON (`encodeError` in `lib/errors.js`).
#[napi]
pub fn worker_failed(run: i64, error: String) -> Result<()> {
    worker::send_failed(run as u64, &error)
        .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Writes the `done` message of run `run`: its value's JSON, or nothing
/// for `undefined`, and the blobs the JSON refers to, with a letter of
/// `kinds` each (`addonBlobs` in `lib/wire.js`). Then records run `next`
/// as started, when given: the next run of a batch starts without a call
/// of its own. `queued`: more runs wait here (a lazily armed master is not
/// woken for this reply).
#[napi]
pub fn worker_done(
    run: i64,
    value: Option<String>,
    next: Option<i64>,
    queued: bool,
    blobs: Option<Vec<Uint8Array>>,
    kinds: Option<String>,
) -> Result<()> {
    let blobs = blobs.unwrap_or_default();
    let kinds = kinds.unwrap_or_default();
    let invalid = |e: String| Error::new(Status::InvalidArg, e);
    if kinds.len() != blobs.len() {
        return Err(invalid(format!(
            "{} blobs came with {} kinds",
            blobs.len(),
            kinds.len()
        )));
    }
    let pieces = blobs
        .iter()
        .zip(kinds.bytes())
        .map(|(bytes, letter)| Ok((kind_of(letter)?, &bytes[..])))
        .collect::<std::result::Result<Vec<(BlobKind, &[u8])>, String>>()
        .map_err(invalid)?;
    worker::send_done(run as u64, value.as_deref(), &pieces, queued)
        .and_then(|()| next.map_or(Ok(()), |next| worker::begin(next as u64)))
        .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Records that run `run` starts now.
#[napi]
pub fn worker_begin(run: i64) -> Result<()> {
    worker::begin(run as u64).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Called when this worker has run all it was sent: waits briefly for the
/// master's next message.
#[napi]
pub fn worker_linger() {
    worker::linger()
}
