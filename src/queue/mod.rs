//! Task stores: the in-memory priority queue (and, with the persistent
//! queue, MongoDB).

pub mod memory;
