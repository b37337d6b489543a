//! meteor-cluster's Rust core, exported to Node with napi-rs.
//!
//! - `task`: the task model, run order and ids; `policy`: retries,
//!   timeouts, repetition.
//! - `wire`: every shape crossing JS <-> Rust or master <-> worker.
//! - `queue`: the in-memory priority queue, the MongoDB store, EJSON <-> BSON.
//! - `master`: the dispatcher that owns all master state (on the JS thread),
//!   the worker processes it supervises, its persistent side.
//! - `channel`: the master <-> worker transport: descriptors, shared ring.
//! - `worker`: the worker's native side.
//! - `sys`: every call to the operating system.
//! - `error`: the errors users see, with stable codes.
//! - `log`: upstream-shaped log lines.
//! - `board`: the dashboard's reads and actions on a queue's collection.
//! - `bindings`: what JS calls: the `Master` class and the worker's functions.
//!
//! This file holds the small bindings and the one place errors become JS errors.

pub mod bindings;
mod board;
mod channel;
mod error;
mod limits;
mod log;
mod master;
mod policy;
mod queue;
mod sys;
mod task;
mod wire;
mod worker;

/// The master allocates and frees a few small strings per task; mimalloc
/// does that in about half the time of glibc's malloc (bench/throughput-cost).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use error::{Code, CodedError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The one place errors become JS errors: throws `e` as an error of its
/// own `name` (a real `TypeError` for a bad argument) with its `code`, and
/// returns what the binding then returns (napi-rs sees the exception is
/// pending and does not throw again).
pub(crate) fn throw(env: &Env, e: CodedError) -> Error {
    let thrown = if e.code == Code::InvalidArg {
        env.throw_type_error(&e.message, Some(e.code.as_str()))
    } else {
        env.create_error(Error::new(Status::GenericFailure, e.message.clone()))
            .and_then(|mut error| {
                error.set_named_property("name", e.code.name())?;
                error.set_named_property("code", e.code.as_str())?;
                env.throw(error)
            })
    };
    match thrown {
        Ok(()) => Error::new(Status::PendingException, e.message),
        Err(failure) => failure,
    }
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

/// Why a MongoDB URL cannot work (no database name, bad syntax), or null.
/// Checked without any network access (`mongodb+srv` is resolved later).
#[napi]
pub fn mongo_url_problem(url: String) -> Option<String> {
    queue::mongo::url_problem(&url)
}

/// Throws the error the master would answer request `op` (one of `OPS` in
/// `lib/wire.js`) with for its arguments `args`, if they are bad: a worker
/// checks its adds so that a bad one throws where it is made.
#[napi]
pub fn check_request(env: Env, op: String, args: String) -> Result<()> {
    master::requests::check(&op, &args).map_err(|e| throw(&env, e))
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
