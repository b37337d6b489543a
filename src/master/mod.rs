//! The master side: the dispatcher that owns all master state, what the
//! bindings hand it, the worker processes it supervises (and the bytes on
//! their way to them, `outgoing`), its persistent side, and the roads in
//! (the inbox) and out (events) of it.

pub(crate) mod api;
pub(crate) mod dispatcher;
pub(crate) mod fleet;
pub(crate) mod inbox;
pub(crate) mod limiter;
pub(crate) mod metrics;
mod node_ipc;
mod outgoing;
pub(crate) mod persistent;
pub(crate) mod process;
pub(crate) mod requests;
