//! The master side: the dispatcher that owns all master state, the worker
//! processes it supervises, its persistent side, the calls it answers, and
//! the event sink that carries results to JS.

pub mod calls;
pub mod dispatcher;
pub mod events;
pub mod persistent;
pub mod pool;
mod spawn;
