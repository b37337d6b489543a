//! What JS calls: the master's `Master` class and the worker's functions
//! (public: they are the addon's exports).

pub mod master;
pub mod parts;
#[cfg(debug_assertions)]
pub mod probe;
pub mod worker;
