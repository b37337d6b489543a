//! What can go wrong talking to MongoDB, sorted from the driver's errors
//! and the server's codes, and how each becomes a coded error for users.

use crate::error::{Code, CodedError};
use crate::queue::ejson::DecodeError;
use mongodb::error::ErrorKind;

#[derive(Debug, Clone)]
pub enum StoreError {
    /// A task with this `_id` exists (inserts: the `_id`).
    Duplicate(String),
    /// The server refused a document with an existing `_id` (a collection
    /// call; the server's words).
    DuplicateKey(String),
    /// A selector, modifier or option the server refused as invalid.
    Invalid(String),
    /// The URL or settings cannot work.
    Config(String),
    /// The server could not be reached in time.
    Unavailable(String),
    /// The server answered with an error.
    Db(String),
    /// A found document that cannot be read (`find`, `findOne`): the call
    /// fails with its `_id` and path, and the database is not to blame.
    Undecodable { id: String, error: Box<DecodeError> },
    /// A task whose document is larger than MongoDB stores; it was not sent.
    TooLarge {
        id: String,
        task_type: String,
        bytes: usize,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(id) => {
                write!(f, "a task with _id {id:?} already exists in the queue")
            }
            StoreError::DuplicateKey(m)
            | StoreError::Invalid(m)
            | StoreError::Config(m)
            | StoreError::Unavailable(m)
            | StoreError::Db(m) => f.write_str(m),
            StoreError::Undecodable { id, error } => {
                write!(f, "the document with _id {id} cannot be read: {error}")
            }
            StoreError::TooLarge {
                id,
                task_type,
                bytes,
            } => write!(
                f,
                "task {id:?} ({task_type}) is {} as a MongoDB document, more than the {} bytes \
                 (16 MB) MongoDB stores in one: keep large data elsewhere (a file, GridFS, an \
                 object store) and put a reference to it in data, or add the task with \
                 inMemory: true",
                size(*bytes),
                grouped(super::MAX_DOCUMENT)
            ),
        }
    }
}

/// `bytes` as "18,134,456 bytes (17.3 MB)", in MB of 2^20 bytes as
/// MongoDB counts its 16 MB.
fn size(bytes: usize) -> String {
    format!(
        "{} bytes ({:.1} MB)",
        grouped(bytes),
        bytes as f64 / (1 << 20) as f64
    )
}

/// `n` with its thousands grouped: "16,777,216".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The server's own error code and message, when the server refused.
pub(super) fn server_error(error: &mongodb::error::Error) -> Option<(i32, &str)> {
    use mongodb::error::WriteFailure;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::Command(c) => Some((c.code, c.message.as_str())),
        _ => None,
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        if let Some((code, message)) = server_error(&e) {
            let message = format!("MongoDB refused it: {message} (server code {code})");
            return match code {
                11000 => StoreError::DuplicateKey(message),
                // BadValue, FailedToParse, TypeMismatch, ConflictingUpdateOperators,
                // DollarPrefixedFieldName, EmptyFieldName, DottedFieldName,
                // ImmutableField, and the "unknown operator" family.
                2 | 9 | 14 | 40 | 52 | 56 | 57 | 66 | 17287 | 31253 | 31254 => {
                    StoreError::Invalid(message)
                }
                _ => StoreError::Db(message),
            };
        }
        let message = format!("MongoDB: {e}");
        match *e.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(message),
            ErrorKind::InvalidArgument { .. } => StoreError::Invalid(message),
            _ => StoreError::Db(message),
        }
    }
}

impl From<StoreError> for CodedError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Duplicate(_) | StoreError::DuplicateKey(_) => Code::DuplicateId,
            StoreError::Invalid(_) => Code::InvalidArg,
            StoreError::Config(_) => Code::MongoConfig,
            StoreError::Unavailable(_) => Code::MongoUnavailable,
            StoreError::Db(_) => Code::Mongo,
            StoreError::Undecodable { .. } => Code::UndecodableDocument,
            StoreError::TooLarge { .. } => Code::DocumentTooLarge,
        };
        CodedError::new(code, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_too_large_is_refused_with_its_id_type_size_and_the_limit() {
        let error = StoreError::TooLarge {
            id: "big-one".to_owned(),
            task_type: "IMPORT".to_owned(),
            bytes: 18_134_456,
        };
        assert_eq!(
            error.to_string(),
            "task \"big-one\" (IMPORT) is 18,134,456 bytes (17.3 MB) as a MongoDB document, \
             more than the 16,777,216 bytes (16 MB) MongoDB stores in one: keep large data \
             elsewhere (a file, GridFS, an object store) and put a reference to it in data, \
             or add the task with inMemory: true"
        );
        assert_eq!(CodedError::from(error).code, Code::DocumentTooLarge);
    }
}
