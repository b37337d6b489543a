//! The master side: the dispatcher that owns all master state, the worker
//! processes it supervises, and the event sink that carries results to JS.

pub mod dispatcher;
pub mod events;
pub mod pool;
