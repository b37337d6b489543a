//! meteor-cluster's Rust core, exported to Node with napi-rs.
//!
//! - `task`: the task model, ordering and ids.
//! - `queue::memory`: the in-memory priority queue with due dates.
//! - `master::dispatcher`: the single owner of master state (an actor).
//! - `master::pool`: worker processes, spawned and watched from Rust.
//! - `master::events`: results batched to JS through a threadsafe function.
//! - `channel`: the framed master <-> worker protocol.
//! - `worker`: the worker runtime.
//! - `log`: upstream-shaped log lines.
//!
//! This file holds only the napi bindings: argument conversion and errors.

pub mod channel;
pub mod log;
pub mod master;
pub mod queue;
pub mod task;
pub mod worker;

use master::dispatcher::{self, Cmd, Config, Handle, KeepAlive, Query};
use master::events::{Activity, EventSink};
use master::pool::SpawnSpec;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use once_cell::sync::Lazy;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

static RUNTIME: Lazy<std::result::Result<tokio::runtime::Runtime, String>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("meteor-cluster")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;
type WakeCall = Box<dyn Fn() + Send + Sync>;

/// A weak threadsafe function (it holds no event loop by itself) and a
/// closure any thread can call to wake JS through it.
fn wake_fn(callback: Function<(), ()>) -> Result<(Arc<Wake>, WakeCall)> {
    let tsfn: Arc<Wake> = Arc::new(
        callback
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?,
    );
    let caller = tsfn.clone();
    let wake = Box::new(move || {
        caller.call((), ThreadsafeFunctionCallMode::NonBlocking);
    });
    Ok((tsfn, wake))
}

fn raw_json(json: String, what: &str) -> Result<Box<RawValue>> {
    RawValue::from_string(json)
        .map_err(|e| Error::new(Status::InvalidArg, format!("{what} is not valid JSON: {e}")))
}

fn gone() -> Error {
    Error::new(
        Status::GenericFailure,
        "the meteor-cluster dispatcher has stopped",
    )
}

/// `count` Meteor-style ids, concatenated (each `task::ID_LEN` long): the
/// facade takes its ids from such a pool, so a burst of adds needs no native
/// call per task.
#[napi]
pub fn new_ids(count: u32) -> String {
    (0..count).map(|_| task::new_id()).collect()
}

/// The master's options, already checked by the JS facade.
#[napi(object)]
pub struct MasterConfig {
    pub max_workers: u32,
    pub refresh_rate: u32,
    /// "never", "always" or "for" (then `keep_alive_ms`).
    pub keep_alive: String,
    pub keep_alive_ms: u32,
    pub prefetch: u32,
    pub worker_start_timeout: u32,
    pub exec_path: String,
    pub exec_args: Vec<String>,
    pub port: u32,
    /// "all" or "error".
    pub logs: String,
    pub in_memory_only: bool,
    /// The MongoDB URL (with its database); `None` means no persistent queue.
    pub mongo_url: Option<String>,
    pub collection_name: String,
    /// ms a claim holds a task without renewal.
    pub lease: u32,
    /// The taskMap's types: the only persistent tasks this master claims.
    pub task_types: Vec<String>,
}

/// The master's queue and pool; one per process, made by the JS facade.
#[napi]
pub struct Master {
    handle: Handle,
    sink: Arc<EventSink>,
    wake: Arc<Wake>,
    referred: bool,
    js_seq: u64,
}

#[napi]
impl Master {
    /// `on_events` is called (with no arguments) when `take_events` has something.
    #[napi(constructor)]
    pub fn new(on_events: Function<(), ()>) -> Result<Self> {
        let runtime = RUNTIME
            .as_ref()
            .map_err(|e| Error::new(Status::GenericFailure, format!("no tokio runtime: {e}")))?;
        let (wake, call) = wake_fn(on_events)?;
        let sink = Arc::new(EventSink::new(call));
        let handle = dispatcher::start(runtime, sink.clone());
        Ok(Master {
            handle,
            sink,
            wake,
            referred: false,
            js_seq: 0,
        })
    }

    /// Holds the event loop open while the master has work, lets it go when idle.
    fn set_referred(&mut self, env: &Env, referred: bool) -> Result<()> {
        if self.referred != referred {
            let (raw_env, raw_tsfn) = (env.raw(), self.wake.raw());
            // SAFETY: called on the JS thread that owns this threadsafe
            // function, which stays alive as long as `self.wake`.
            let status = unsafe {
                if referred {
                    napi::sys::napi_ref_threadsafe_function(raw_env, raw_tsfn)
                } else {
                    napi::sys::napi_unref_threadsafe_function(raw_env, raw_tsfn)
                }
            };
            if status != napi::sys::Status::napi_ok {
                return Err(Error::new(
                    Status::GenericFailure,
                    "could not change whether meteor-cluster holds the event loop",
                ));
            }
            self.referred = referred;
        }
        Ok(())
    }

    /// Numbers a JS call that gives the master work, and holds the loop for it.
    fn busy_call(&mut self, env: &Env) -> Result<u64> {
        self.js_seq += 1;
        self.set_referred(env, true)?;
        Ok(self.js_seq)
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        if self.handle.send(cmd) {
            Ok(())
        } else {
            Err(gone())
        }
    }

    fn ask(&self, query: Query) -> Result<Option<String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::Query(query, tx))?;
        rx.blocking_recv().map_err(|_| gone())
    }

    /// Every event since the last call, as a JSON array.
    #[napi]
    pub fn take_events(&mut self, env: Env) -> Result<String> {
        let (events, activity) = self.sink.take();
        match activity {
            Some(Activity::Busy) => self.set_referred(&env, true)?,
            // Only when no later JS call is still on its way to the dispatcher.
            Some(Activity::Idle { seq }) if seq == self.js_seq => self.set_referred(&env, false)?,
            _ => {}
        }
        Ok(events)
    }

    /// In-memory tasks the facade buffered (a burst of `addTask` calls), as
    /// JSON `[[id, taskType, priority, dueDate, createdAt, data], ...]` with
    /// ids it made: one command, so a burst wakes the dispatcher once.
    #[napi]
    pub fn add_tasks(&mut self, env: Env, batch: String) -> Result<()> {
        let js_seq = self.busy_call(&env)?;
        self.send(Cmd::AddTasks { batch, js_seq })
    }

    /// An in-memory task with an explicit `_id`: the dispatcher is asked at
    /// once, so a duplicate fails here.
    #[napi]
    pub fn add_task(
        &mut self,
        env: Env,
        id: String,
        task_type: String,
        priority: i64,
        due_date: f64,
        data: String,
    ) -> Result<String> {
        let task = task::Task {
            id,
            task_type,
            priority,
            created_at: task::now_ms(),
            due_date: due_date as i64,
            data,
        };
        let js_seq = self.busy_call(&env)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::AddTask {
            task,
            js_seq,
            reply: tx,
        })?;
        rx.blocking_recv()
            .map_err(|_| gone())?
            .map_err(|e| Error::new(Status::InvalidArg, e))
    }

    #[napi]
    pub fn configure(&self, config: MasterConfig) -> Result<()> {
        let keep_alive = match config.keep_alive.as_str() {
            "always" => KeepAlive::Always,
            "for" => KeepAlive::For(Duration::from_millis(config.keep_alive_ms.into())),
            _ => KeepAlive::Never,
        };
        let logs = if config.logs == "error" {
            log::Level::Error
        } else {
            log::Level::All
        };
        self.send(Cmd::Configure(Box::new(Config {
            max_workers: config.max_workers.max(1) as usize,
            refresh_rate: Duration::from_millis(config.refresh_rate.into()),
            keep_alive,
            prefetch: config.prefetch.max(1) as usize,
            worker_start_timeout: Duration::from_millis(config.worker_start_timeout.into()),
            spawn: SpawnSpec {
                exec_path: config.exec_path,
                args: config.exec_args,
                port: config.port,
            },
            logs,
            persistent: Some(master::persistent::Settings {
                in_memory_only: config.in_memory_only,
                url: config.mongo_url,
                collection: config.collection_name,
                lease: Duration::from_millis(config.lease.into()),
                task_types: config.task_types,
            }),
        })))
    }

    /// Starts a `TaskQueue` call answered by a `reply` event with this `req`.
    #[napi]
    pub fn request(&mut self, env: Env, req: u32, op: String, args: String) -> Result<()> {
        let js_seq = self.busy_call(&env)?;
        self.send(Cmd::Request {
            req: req.into(),
            op,
            args: raw_json(args, "the call's arguments")?,
            js_seq,
        })
    }

    #[napi]
    pub fn initialize(&mut self, env: Env) -> Result<()> {
        let js_seq = self.busy_call(&env)?;
        self.send(Cmd::Initialize { js_seq })
    }

    #[napi]
    pub fn set_refresh_rate(&self, ms: u32) -> Result<()> {
        self.send(Cmd::SetRefreshRate(Duration::from_millis(ms.into())))
    }

    /// The master's `respond(msg)` to a worker's IPC message.
    #[napi]
    pub fn ipc_reply(&self, worker: u32, run: i64, msg: String) -> Result<()> {
        self.send(Cmd::IpcReply {
            worker,
            run: run as u64,
            msg: raw_json(msg, "the IPC response")?,
        })
    }

    #[napi]
    pub fn find_by_id(&self, id: String) -> Result<Option<String>> {
        self.ask(Query::FindById(id))
    }

    #[napi]
    pub fn remove_by_id(&self, id: String) -> Result<bool> {
        Ok(self.ask(Query::RemoveById(id))?.as_deref() == Some("true"))
    }

    #[napi]
    pub fn tasks(&self) -> Result<String> {
        Ok(self.ask(Query::Tasks)?.unwrap_or_else(|| "[]".into()))
    }

    #[napi]
    pub fn stats(&self) -> Result<String> {
        Ok(self.ask(Query::Stats)?.unwrap_or_else(|| "{}".into()))
    }

    #[napi]
    pub fn available_tasks(&self) -> Result<String> {
        Ok(self
            .ask(Query::AvailableTasks)?
            .unwrap_or_else(|| "[]".into()))
    }

    /// Finishes running tasks, stops the workers; a `closed` event follows.
    #[napi]
    pub fn close(&mut self, env: Env) -> Result<()> {
        let js_seq = self.busy_call(&env)?;
        self.send(Cmd::Close { js_seq })
    }
}

/// Connects this worker process to its master over the inherited `fd`.
#[napi]
pub fn worker_connect(fd: i32, on_frames: Function<(), ()>) -> Result<()> {
    // Not weak: a worker lives to serve its master, so the channel holds its
    // event loop open until the master stops it or goes away.
    let tsfn: ThreadsafeFunction<(), (), (), Status, false> = on_frames
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .build()?;
    let wake = Box::new(move || {
        tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
    });
    worker::connect(fd, wake).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Frames received from the master since the last call, as a JSON array.
#[napi]
pub fn worker_take() -> String {
    worker::take()
}

/// Queues a frame (a JSON text) for the master; it is written within a
/// millisecond, or at the next `worker_flush`.
#[napi]
pub fn worker_queue(frame: String) -> Result<()> {
    worker::queue(&frame).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Writes every queued frame to the master now.
#[napi]
pub fn worker_flush() -> Result<()> {
    worker::flush().map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Writes a warning ("warn") or error line the way the dispatcher does.
#[napi]
pub fn log_line(level: String, message: String) {
    let logger = log::Logger::new(log::Level::All);
    if level == "error" {
        logger.error(&message);
    } else {
        logger.warn(&message);
    }
}
