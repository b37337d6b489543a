//! Task stores: the in-memory priority queue and the MongoDB queue, and the
//! conversion between the facade's JSON and BSON.

pub mod ejson;
pub mod memory;
pub mod mongo;
