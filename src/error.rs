//! The errors users can act on, defined once: each has a stable `code` and
//! the `name` of the JS error it becomes. Everything that reaches JS as an
//! error is serialized here (`CodedError::to_json`) and turned into a JS
//! `Error` in one place on the other side (`errorFrom` in `lib/errors.js`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// A wrong argument (JS throws these as `TypeError`s).
    InvalidArg,
    /// A task with this `_id` is already queued.
    DuplicateId,
    /// MongoDB did not answer in time (server down or unreachable).
    MongoUnavailable,
    /// The MongoDB URL or settings cannot work (no database name, bad URL).
    MongoConfig,
    /// MongoDB answered with an error (a bad query, a failed write).
    Mongo,
    /// A persistent call without `MONGO_URL`, or on an `inMemoryOnly` Cluster.
    NoPersistentQueue,
    /// The cluster was closed, or its dispatcher stopped.
    Closed,
    /// The dispatcher failed (a bug); the message says where.
    DispatcherFailed,
    /// The worker process running the task ended.
    WorkerExit,
    /// The task ran longer than its `timeout`.
    TaskTimeout,
    /// The task was cancelled (`TaskQueue.cancel`).
    TaskCancelled,
    /// No function for the task's type in the worker's taskMap.
    UnknownTaskType,
    /// A persistent task's document cannot be read (see its message).
    UndecodableDocument,
    /// A master-only call made in a worker.
    MasterOnly,
    /// A persistent task larger than MongoDB stores in one document.
    DocumentTooLarge,
    /// A dashboard action found no task (or master) in the state it needs:
    /// removed, finished or changed meanwhile.
    NotFound,
}

/// Every code: the wire test checks the facade's list against it. Some
/// are made in JS only (`UnknownTaskType` in a worker, `MasterOnly`), but
/// every code is defined here.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) const ALL: [Code; 16] = [
    Code::InvalidArg,
    Code::DuplicateId,
    Code::MongoUnavailable,
    Code::MongoConfig,
    Code::Mongo,
    Code::NoPersistentQueue,
    Code::Closed,
    Code::DispatcherFailed,
    Code::WorkerExit,
    Code::TaskTimeout,
    Code::TaskCancelled,
    Code::UnknownTaskType,
    Code::UndecodableDocument,
    Code::MasterOnly,
    Code::DocumentTooLarge,
    Code::NotFound,
];

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArg => "ERR_INVALID_ARG",
            Code::DuplicateId => "ERR_DUPLICATE_ID",
            Code::MongoUnavailable => "ERR_MONGO_UNAVAILABLE",
            Code::MongoConfig => "ERR_MONGO_CONFIG",
            Code::Mongo => "ERR_MONGO",
            Code::NoPersistentQueue => "ERR_NO_PERSISTENT_QUEUE",
            Code::Closed => "ERR_CLOSED",
            Code::DispatcherFailed => "ERR_DISPATCHER_FAILED",
            Code::WorkerExit => "ERR_WORKER_EXIT",
            Code::TaskTimeout => "ERR_TASK_TIMEOUT",
            Code::TaskCancelled => "ERR_TASK_CANCELLED",
            Code::UnknownTaskType => "ERR_UNKNOWN_TASK_TYPE",
            Code::UndecodableDocument => "ERR_UNDECODABLE_DOCUMENT",
            Code::MasterOnly => "ERR_MASTER_ONLY",
            Code::DocumentTooLarge => "ERR_DOCUMENT_TOO_LARGE",
            Code::NotFound => "ERR_NOT_FOUND",
        }
    }

    /// The `name` of the JS error.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Code::InvalidArg => "TypeError",
            Code::WorkerExit => "WorkerExitError",
            Code::TaskTimeout => "TaskTimeoutError",
            Code::TaskCancelled => "TaskCancelledError",
            Code::DispatcherFailed | Code::Closed => "ClusterError",
            Code::UndecodableDocument => "UndecodableDocumentError",
            Code::NotFound => "NotFoundError",
            Code::DuplicateId
            | Code::MongoUnavailable
            | Code::MongoConfig
            | Code::Mongo
            | Code::NoPersistentQueue
            | Code::DocumentTooLarge => "TaskQueueError",
            Code::UnknownTaskType | Code::MasterOnly => "Error",
        }
    }
}

/// An error with its code and a message saying what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodedError {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl CodedError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        CodedError {
            code,
            message: message.into(),
        }
    }

    /// `{ name, message, code }` as JSON, what JS makes an `Error` of.
    pub(crate) fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            name: &'a str,
            message: &'a str,
            code: &'a str,
        }
        serde_json::to_string(&Json {
            name: self.code.name(),
            message: &self.message,
            code: self.code.as_str(),
        })
        .unwrap_or_default()
    }
}

impl CodedError {
    /// A bad argument (a selector, an option...).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        CodedError::new(Code::InvalidArg, message)
    }

    /// The same error, its message prefixed with the call it failed
    /// (`TaskQueue.addTask: ...`).
    pub(crate) fn in_call(self, call: &str) -> Self {
        CodedError::new(self.code, format!("TaskQueue.{call}: {}", self.message))
    }
}

impl std::fmt::Display for CodedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_and_errors_carry_name_message_and_code() {
        let mut codes: Vec<&str> = ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let error = CodedError::new(Code::DuplicateId, "a task with _id \"x\" exists");
        assert_eq!(
            error.to_json(),
            r#"{"name":"TaskQueueError","message":"a task with _id \"x\" exists","code":"ERR_DUPLICATE_ID"}"#
        );
    }
}
