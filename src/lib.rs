//! meteor-cluster's Rust core, exported to Node with napi-rs.
//!
//! - `task`: the task model, run order and ids.
//! - `queue`: the in-memory priority queue, the MongoDB store, EJSON <-> BSON.
//! - `master`: the dispatcher that owns all master state (on the JS thread),
//!   the worker processes it supervises, its persistent side.
//! - `channel`: the master <-> worker protocol and the shared ring.
//! - `worker`: the worker's native side.
//! - `sys`: every call to the operating system.
//! - `error`: the errors users see, with stable codes.
//! - `log`: upstream-shaped log lines.
//! - `bindings`: what JS calls: the `Master` class and the worker's functions.
//!
//! This file holds the small bindings and the one place errors become JS errors.

pub mod bindings;
mod channel;
mod error;
mod log;
mod master;
mod policy;
mod queue;
mod sys;
mod task;
mod worker;

/// The master allocates and frees a few small strings per task; mimalloc
/// does that in about half the time of glibc's malloc (bench/throughput-cost).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use error::{Code, CodedError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A stable error code: napi makes it the `code` of the JS error it throws
/// (the facade's `errorFrom` adds the matching `name`).
#[derive(Debug, Clone, Copy)]
pub struct JsCode(&'static str);

impl AsRef<str> for JsCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// What a binding throws.
pub(crate) type Thrown = Error<JsCode>;

pub(crate) fn js_error(e: CodedError) -> Thrown {
    Error::new(JsCode(e.code.as_str()), e.message)
}

/// A failure of napi itself (the JS environment), as a coded error.
pub(crate) fn napi_failure(e: Error) -> Thrown {
    js_error(CodedError::new(Code::DispatcherFailed, e.reason))
}

/// The text of a panic's payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// `count` Meteor-style ids, concatenated (each 17 characters): the facade
/// takes its ids from such a pool, so a burst of adds needs no native call
/// per task.
#[napi]
pub fn new_ids(count: u32) -> String {
    let mut ids = String::new();
    task::push_ids(&mut ids, count as usize);
    ids
}

/// Every error code, as `{ code: name }` JSON, for the facade's `errorFrom`.
#[napi]
pub fn error_names() -> String {
    let map: serde_json::Map<String, serde_json::Value> = error::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.name().into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Why a MongoDB URL cannot work (no database name, bad syntax), or null.
/// Checked without any network access (`mongodb+srv` is resolved later).
#[napi]
pub fn mongo_url_problem(url: String) -> Option<String> {
    queue::mongo::url_problem(&url)
}

/// Why a repetition (`{ every }` or `{ cron, tz }`, as JSON) cannot work,
/// naming the field, or null: `addTask` checks it before anything is queued.
#[napi]
pub fn repeat_problem(repeat: String) -> Option<String> {
    let spec: policy::RepeatSpec = match serde_json::from_str(&repeat) {
        Ok(spec) => spec,
        Err(_) => return Some("repeat must be { every: ms } or { cron, tz }".to_owned()),
    };
    policy::Repeat::parse(spec).err()
}

/// Writes a warning ("warn") or error line the way the dispatcher does.
#[napi]
pub fn log_line(level: String, message: String) {
    let logger = log::Logger::new(log::Level::All);
    if level == "error" {
        logger.error(&message);
    } else {
        logger.warn(&message);
    }
}
