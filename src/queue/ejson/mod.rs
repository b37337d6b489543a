//! EJSON JSON (the form every value crosses processes in) to BSON and back,
//! as Meteor's MongoDB driver stores each type, so an app's existing queue
//! reads the same and what we store Meteor reads back.
//!
//! - `tag`: which EJSON tag an object's keys spell (Meteor's rules), asked
//!   by both directions.
//! - `write`: JSON to BSON, for inserts, selectors and modifiers.
//! - `read`: raw BSON to JSON text, one document at a time, so one that
//!   cannot be read fails alone with the path of what could not be read.
//! - `json_text`: JSON text written by hand for `read`.
//! - `error`: those failures.

mod error;
mod json_text;
mod read;
mod tag;
mod write;

#[cfg(test)]
mod tests;

pub(crate) use error::{raw_reason, Path};
pub use error::{DecodeError, Reason};
pub use read::document_json;
pub(crate) use read::{value_json, value_payload};
#[cfg(test)]
pub use write::doc_from_json;
pub(crate) use write::doc_from_payload;
pub use write::{date, to_bson};
