//! The worker's functions: connect to the master, write frames, record runs.

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

/// Writes the `done` message of run `run`: its value's JSON, or nothing
/// for `undefined`, and the blobs the JSON refers to (strings and
/// Uint8Arrays, see `encodeParts` in `lib/codec.js`). Then records run
/// `next` as started, when given: the next run of a batch starts without a
/// call of its own.
#[napi]
pub fn worker_done(
    run: i64,
    value: Option<String>,
    next: Option<i64>,
    blobs: Option<Vec<Either<String, Uint8Array>>>,
) -> Result<()> {
    let blobs = blobs.unwrap_or_default();
    let pieces: Vec<(BlobKind, &[u8])> = blobs
        .iter()
        .map(|blob| match blob {
            Either::A(text) => (BlobKind::Text, text.as_bytes()),
            Either::B(bytes) => (BlobKind::Bytes, &bytes[..]),
        })
        .collect();
    worker::send_done(run as u64, value.as_deref(), &pieces)
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
