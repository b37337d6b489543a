//! Task stores: the in-memory priority queue and the MongoDB queue, and the
//! conversion between the facade's JSON and BSON.

pub(crate) mod ejson;
pub(crate) mod memory;
pub(crate) mod mongo;
pub(crate) mod ready;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
pub(crate) mod test_server;
