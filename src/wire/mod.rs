//! Every shape that crosses JS <-> Rust or master <-> worker, named once on
//! this side (and once in `lib/wire.js` on the JS side; a round-trip test,
//! `__test__/wire.test.mjs`, runs samples through both):
//!
//! - `task`: a task's rows (runs, events, the facade's adds) and object form.
//! - `frames`: master -> worker lines and worker -> master messages.
//! - `framing`: how both are cut into frames, and read back.
//! - `events`: what the dispatcher hands JS after each call.
//! - `request`: `TaskQueue` calls (an `Op` and its arguments).
//! - `payload`: a value's JSON text and the blobs it refers to.
//! - `board`: the dashboard's calls (`BoardOp`, arguments, answers).
//!
//! Payloads only JS reads (task data, results, IPC messages) stay raw JSON.

pub(crate) mod board;
pub(crate) mod events;
pub(crate) mod frames;
pub(crate) mod framing;
pub(crate) mod payload;
pub(crate) mod request;
pub(crate) mod task;

use serde_json::value::RawValue;

/// JSON `null` as a raw value.
pub(crate) fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

/// JSON text we wrote ourselves as a raw value (`null` should it not be JSON).
pub(crate) fn raw_or_null(json: String) -> Box<RawValue> {
    RawValue::from_string(json).unwrap_or_else(|_| null())
}

/// Joins JSON texts into one JSON array without re-encoding them.
pub(crate) fn json_array<S: AsRef<str>>(items: &[S]) -> String {
    let len = items.iter().map(|s| s.as_ref().len() + 1).sum::<usize>() + 2;
    let mut out = String::with_capacity(len);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// A string as JSON text.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}
