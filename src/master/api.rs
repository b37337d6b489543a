//! What the bindings hand the dispatcher: its settings (`Config`), the calls
//! that change its state (`Cmd`) and the ones that only read it (`Query`).

use super::persistent::Settings;
use crate::log::Level;
use crate::policy::Retry;
use crate::sys::SpawnSpec;
use crate::wire::payload::Blob;
use crate::wire::request::Op;
use serde_json::value::RawValue;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAlive {
    /// Idle workers stop after `refresh_rate`, as upstream stops them at its next tick.
    Never,
    Always,
    /// Keep workers this long after the last available task.
    For(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) refresh_rate: Duration,
    pub(crate) keep_alive: KeepAlive,
    /// Runs a worker may hold: the one it runs and those sent ahead.
    pub(crate) prefetch: usize,
    pub(crate) worker_start_timeout: Duration,
    pub(crate) spawn: SpawnSpec,
    pub(crate) logs: Level,
    /// Lines as JSON objects (`logs: 'json'`).
    pub(crate) json_logs: bool,
    /// Where persistent tasks live.
    pub(crate) persistent: Settings,
    /// Retries of tasks that ask for none (the Cluster's `retry`).
    pub(crate) retry: Option<Retry>,
    /// Time limit of runs of tasks that set none (`taskTimeout`).
    pub(crate) task_timeout: Option<Duration>,
    /// How long a cancelled or timed-out run has to settle once its
    /// signal is aborted, before its worker is stopped (`cancelGrace`).
    pub(crate) cancel_grace: Duration,
    pub(crate) recycling: Recycling,
}

/// When a worker is retired and replaced (`workerMaxTasks`, `workerMaxMemory`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Recycling {
    /// After this many runs.
    pub(crate) max_runs: Option<u64>,
    /// Once its resident memory passes this many bytes (checked between runs).
    pub(crate) max_memory: Option<u64>,
}

/// Every value comes from the facade (`lib/defaults.js` holds the
/// defaults); this one is for the dispatcher's unit tests.
#[cfg(test)]
impl Default for Config {
    fn default() -> Self {
        Config {
            max_workers: 1,
            refresh_rate: Duration::from_millis(1000),
            keep_alive: KeepAlive::Never,
            prefetch: 256,
            worker_start_timeout: Duration::from_secs(60),
            spawn: SpawnSpec::default(),
            logs: Level::All,
            json_logs: false,
            persistent: Settings {
                in_memory_only: false,
                url: None,
                collection: "taskQueue".to_owned(),
                lease: Duration::from_secs(30),
                task_types: Vec::new(),
                limits: Vec::new(),
            },
            retry: None,
            task_timeout: None,
            cancel_grace: Duration::from_secs(5),
            recycling: Recycling::default(),
        }
    }
}

/// A call from JS that changes the dispatcher's state.
pub(crate) enum Cmd {
    /// In-memory tasks the facade buffered, as add rows (`wire::task`).
    /// A batch of in-memory add rows, and the blobs of their data in order.
    AddTasks(String, Vec<Blob>),
    Configure(Box<Config>),
    Initialize,
    SetRefreshRate(Duration),
    /// A `TaskQueue` call that resolves a promise (answered by a `reply` event).
    Request {
        req: u64,
        op: Op,
        args: Box<RawValue>,
        /// The blobs of the tasks' data, in order (adds only).
        blobs: Vec<Blob>,
    },
    /// The master's `respond(msg)` to a worker's IPC message.
    IpcReply {
        worker: u32,
        run: u64,
        msg: Box<RawValue>,
    },
    /// Which listeners JS has: events nobody listens to are not built.
    Listening {
        done: bool,
        error: bool,
        retry: bool,
        progress: bool,
    },
    /// Stop starting tasks (running ones finish), until `Resume`.
    Pause,
    Resume,
    /// Stop dispatching, hand back what has not started, let running
    /// tasks finish (within `timeout`, then stop their workers and hand
    /// those back too), stop every worker, then emit `closed`.
    Close {
        timeout: Option<Duration>,
    },
}

/// A call from JS that reads the dispatcher's state, answered at once.
pub(crate) enum Query {
    FindById(String),
    RemoveById(String),
    Tasks,
    AvailableTasks,
    Stats,
    /// `cluster.workers()`: each live worker, what it runs, its memory.
    Workers,
}
