//! What JS calls: the master's `Master` class, the worker's functions and
//! the dashboard's `Board` (public: they are the addon's exports).

pub mod board;
pub mod master;
pub mod parts;
#[cfg(debug_assertions)]
pub mod probe;
pub mod worker;
