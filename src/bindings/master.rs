//! The `Master` class: the master's queue and pool, driven by JS calls.

use super::parts::{blobs_from_js, handover, Handover};
use crate::error::{Code, CodedError};
use crate::limits::Limits;
use crate::master::api::{Cmd, Config, KeepAlive, Query, Recycling};
use crate::master::dispatcher::Dispatcher;
use crate::master::inbox::{Inbox, Input};
use crate::master::persistent::{Settings, StoreLink};
use crate::master::process::ProcessSpawner;
use crate::wire::request::Op;
use crate::{log, panic_message, sys, throw};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use once_cell::sync::Lazy;
use serde_json::value::RawValue;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// The runtime of the MongoDB jobs and the cluster handshakes: one thread
/// (on a 2-core machine a second one only added cross-thread wake-ups).
pub(crate) static RUNTIME: Lazy<std::result::Result<tokio::runtime::Runtime, String>> =
    Lazy::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("meteor-cluster")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

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
    /// "all", "error" or "json" (every line, as JSON).
    pub logs: String,
    pub in_memory_only: bool,
    /// The MongoDB URL (with its database); `None` means no persistent queue.
    pub mongo_url: Option<String>,
    pub collection_name: String,
    /// ms a claim holds a task without renewal.
    pub lease: u32,
    /// The taskMap's types: the only persistent tasks this master claims.
    pub task_types: Vec<String>,
    /// The Cluster's `retry`, as JSON (`{ limit, delay, backoff }`).
    pub retry: Option<String>,
    /// The Cluster's `taskTimeout` in ms.
    pub task_timeout: Option<u32>,
    /// ms a cancelled or timed-out run has to settle once its signal is
    /// aborted, before its worker is stopped.
    pub cancel_grace: u32,
    /// Runs after which a worker is retired.
    pub worker_max_tasks: Option<u32>,
    /// MiB of resident memory past which a worker is retired.
    pub worker_max_memory: Option<u32>,
    /// What the workers' environment adds to the master's.
    pub worker_env: std::collections::HashMap<String, String>,
    /// The Cluster's `limits`, as JSON (`{ [taskType]: limits }`).
    pub limits: Option<String>,
}

impl TryFrom<MasterConfig> for Config {
    type Error = CodedError;

    fn try_from(config: MasterConfig) -> std::result::Result<Self, CodedError> {
        let keep_alive = match config.keep_alive.as_str() {
            "always" => KeepAlive::Always,
            "for" => KeepAlive::For(Duration::from_millis(config.keep_alive_ms.into())),
            _ => KeepAlive::Never,
        };
        let retry = config
            .retry
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| CodedError::invalid(format!("new Cluster: retry: {e}")))?;
        let limits: Vec<(String, Limits)> = match config.limits.as_deref() {
            None => Vec::new(),
            Some(json) => serde_json::from_str::<std::collections::BTreeMap<String, Limits>>(json)
                .map_err(|e| CodedError::invalid(format!("new Cluster: limits: {e}")))?
                .into_iter()
                .collect(),
        };
        Ok(Config {
            max_workers: config.max_workers.max(1) as usize,
            refresh_rate: Duration::from_millis(config.refresh_rate.into()),
            keep_alive,
            prefetch: config.prefetch.max(1) as usize,
            worker_start_timeout: Duration::from_millis(config.worker_start_timeout.into()),
            spawn: sys::SpawnSpec {
                exec_path: config.exec_path,
                args: config.exec_args,
                port: config.port,
                env: {
                    let mut env: Vec<(String, String)> = config.worker_env.into_iter().collect();
                    // Workers log as their master does.
                    if config.logs == "json" {
                        env.push(("METEOR_CLUSTER_LOGS".into(), "json".into()));
                    }
                    env.sort();
                    env
                },
            },
            logs: if config.logs == "error" {
                log::Level::Error
            } else {
                log::Level::All
            },
            json_logs: config.logs == "json",
            persistent: Settings {
                in_memory_only: config.in_memory_only,
                url: config.mongo_url,
                collection: config.collection_name,
                lease: Duration::from_millis(config.lease.into()),
                task_types: config.task_types,
                limits,
            },
            retry,
            task_timeout: config
                .task_timeout
                .map(|ms| Duration::from_millis(ms.into())),
            cancel_grace: Duration::from_millis(config.cancel_grace.into()),
            recycling: Recycling {
                max_runs: config.worker_max_tasks.map(u64::from),
                max_memory: config.worker_max_memory.map(|mib| u64::from(mib) << 20),
            },
        })
    }
}

fn raw_json(json: String, what: &str) -> std::result::Result<Box<RawValue>, CodedError> {
    RawValue::from_string(json)
        .map_err(|e| CodedError::new(Code::InvalidArg, format!("{what} is not valid JSON: {e}")))
}

/// The master's queue and pool; one per process, made by the JS facade.
/// Every call runs on the JS thread, straight into the dispatcher.
#[napi]
pub struct Master {
    dispatcher: Dispatcher,
    inbox: Inbox,
    wake: Arc<Wake>,
    /// Whether the threadsafe function holds the event loop open.
    referred: bool,
}

#[napi]
impl Master {
    /// `on_wake` is called (with no arguments) when other threads left
    /// inputs for the dispatcher: JS then calls `wake`.
    #[napi(constructor)]
    pub fn new(env: Env, on_wake: Function<(), ()>, config: MasterConfig) -> Result<Self> {
        let config = Config::try_from(config).map_err(|e| throw(&env, e))?;
        let runtime = RUNTIME
            .as_ref()
            .map_err(|e| Error::new(Status::GenericFailure, format!("no tokio runtime: {e}")))?;
        let wake: Arc<Wake> = Arc::new(
            on_wake
                .build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
        );
        let caller = wake.clone();
        let inbox = Inbox::new(Arc::new(move || {
            caller.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        let spawner = ProcessSpawner {
            inbox: inbox.clone(),
            runtime: runtime.handle().clone(),
        };
        let reporter = inbox.clone();
        let store = StoreLink {
            report: Arc::new(move |event| reporter.push(Input::Store(event))),
            runtime: Some(runtime.handle().clone()),
        };
        Ok(Master {
            dispatcher: Dispatcher::new(Box::new(spawner), store, config),
            inbox,
            wake,
            referred: false,
        })
    }

    /// Runs `f` on the dispatcher; a panic stops it for good, loudly.
    fn guarded<R>(&mut self, env: &Env, f: impl FnOnce(&mut Dispatcher) -> R) -> Result<R> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut self.dispatcher))) {
            Ok(r) => Ok(r),
            Err(panic) => {
                let why = panic_message(&*panic);
                let dispatcher = &mut self.dispatcher;
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| dispatcher.fail(&why)));
                Err(throw(
                    env,
                    CodedError::new(
                        Code::DispatcherFailed,
                        format!("the meteor-cluster dispatcher failed: {why}"),
                    ),
                ))
            }
        }
    }

    fn command(&mut self, env: &Env, cmd: Cmd) -> Result<()> {
        self.guarded(env, |d| d.command(cmd))?
            .map_err(|e| throw(env, e))
    }

    fn query(&mut self, env: &Env, query: Query) -> Result<Option<String>> {
        self.guarded(env, |d| d.query(query))?
            .map_err(|e| throw(env, e))
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

    /// Every event since the last call, as a JSON array (with the parts
    /// they name, if any); holds or releases the event loop as the
    /// dispatcher now has work or not.
    #[napi(ts_return_type = "string | Handover")]
    pub fn take_events(&mut self, env: Env) -> Result<Either<String, Handover>> {
        let (events, busy) = self.guarded(&env, |d| (d.take_events(), d.busy()))?;
        self.set_referred(&env, busy)?;
        Ok(handover(events))
    }

    /// The master was woken (by another thread's input, a worker's socket
    /// or the timer): takes the inputs, reads the workers, dispatches;
    /// returns the events, as `takeEvents` (one call per wake-up, not two).
    #[napi(ts_return_type = "string | Handover")]
    pub fn wake(&mut self, env: Env) -> Result<Either<String, Handover>> {
        let inputs = self.inbox.take();
        self.guarded(&env, |d| d.inputs(inputs))?;
        self.take_events(env)
    }

    /// The timer of the last `timer` event went off: `wake`, and announce
    /// the time to come back again.
    #[napi(ts_return_type = "string | Handover")]
    pub fn timer_fired(&mut self, env: Env) -> Result<Either<String, Handover>> {
        self.guarded(&env, |d| d.timer_fired())?;
        self.wake(env)
    }

    /// In-memory tasks the facade buffered (a burst of `addTask` calls), as
    /// add rows (`lib/wire.js`), and the blobs their data refers to;
    /// returns the events, as `wake`.
    #[napi(ts_return_type = "string | Handover")]
    pub fn add_tasks(
        &mut self,
        env: Env,
        batch: String,
        blobs: Option<Vec<TypedArray>>,
        kinds: Option<String>,
    ) -> Result<Either<String, Handover>> {
        let blobs = blobs_from_js(blobs, kinds)
            .map_err(|e| throw(&env, CodedError::invalid(format!("addTasks: {e}"))))?;
        self.command(&env, Cmd::AddTasks(batch, blobs))?;
        self.take_events(env)
    }

    #[napi]
    pub fn configure(&mut self, env: Env, config: MasterConfig) -> Result<()> {
        let config = Config::try_from(config).map_err(|e| throw(&env, e))?;
        self.command(&env, Cmd::Configure(Box::new(config)))
    }

    /// Starts a request (`op`, one of `OPS` in `lib/wire.js`), answered by
    /// a `reply` event with this `req`; an add's tasks' data may refer to
    /// `blobs`. Bad arguments throw at once.
    #[napi]
    pub fn request(
        &mut self,
        env: Env,
        req: u32,
        op: String,
        args: String,
        blobs: Option<Vec<TypedArray>>,
        kinds: Option<String>,
    ) -> Result<()> {
        let op = Op::parse(&op)
            .ok_or_else(|| CodedError::invalid(format!("unknown TaskQueue call {op:?}")));
        let request = op.and_then(|op| {
            let blobs = blobs_from_js(blobs, kinds).map_err(CodedError::invalid)?;
            Ok((op, raw_json(args, "the call's arguments")?, blobs))
        });
        let (op, args, blobs) = request.map_err(|e| throw(&env, e))?;
        self.command(
            &env,
            Cmd::Request {
                req: req.into(),
                op,
                args,
                blobs,
            },
        )
    }

    #[napi]
    pub fn initialize(&mut self, env: Env) -> Result<()> {
        self.command(&env, Cmd::Initialize)
    }

    #[napi]
    pub fn set_refresh_rate(&mut self, env: Env, ms: u32) -> Result<()> {
        self.command(&env, Cmd::SetRefreshRate(Duration::from_millis(ms.into())))
    }

    /// Which listeners JS has, so events nobody hears are not built.
    #[napi]
    pub fn set_listening(
        &mut self,
        env: Env,
        done: bool,
        error: bool,
        retry: bool,
        progress: bool,
    ) -> Result<()> {
        self.command(
            &env,
            Cmd::Listening {
                done,
                error,
                retry,
                progress,
            },
        )
    }

    /// The master's `respond(msg)` to a worker's IPC message.
    #[napi]
    pub fn ipc_reply(&mut self, env: Env, worker: u32, run: i64, msg: String) -> Result<()> {
        let msg = raw_json(msg, "the IPC response").map_err(|e| throw(&env, e))?;
        self.command(
            &env,
            Cmd::IpcReply {
                worker,
                run: run as u64,
                msg,
            },
        )
    }

    #[napi]
    pub fn find_by_id(&mut self, env: Env, id: String) -> Result<Option<String>> {
        self.query(&env, Query::FindById(id))
    }

    /// The removed task, or null.
    #[napi]
    pub fn remove_by_id(&mut self, env: Env, id: String) -> Result<Option<String>> {
        self.query(&env, Query::RemoveById(id))
    }

    #[napi]
    pub fn tasks(&mut self, env: Env) -> Result<String> {
        Ok(self
            .query(&env, Query::Tasks)?
            .unwrap_or_else(|| "[]".into()))
    }

    #[napi]
    pub fn available_tasks(&mut self, env: Env) -> Result<String> {
        Ok(self
            .query(&env, Query::AvailableTasks)?
            .unwrap_or_else(|| "[]".into()))
    }

    #[napi]
    pub fn workers(&mut self, env: Env) -> Result<String> {
        Ok(self
            .query(&env, Query::Workers)?
            .unwrap_or_else(|| "[]".into()))
    }

    #[napi]
    pub fn stats(&mut self, env: Env) -> Result<String> {
        Ok(self
            .query(&env, Query::Stats)?
            .unwrap_or_else(|| "{}".into()))
    }

    /// Stops dispatching, hands back what has not started, lets running
    /// tasks finish (within `timeout_ms` if given, then stops their workers
    /// and hands those back too); a `closed` event follows.
    #[napi]
    pub fn close(&mut self, env: Env, timeout_ms: Option<u32>) -> Result<()> {
        self.command(
            &env,
            Cmd::Close {
                timeout: timeout_ms.map(|ms| Duration::from_millis(ms.into())),
            },
        )
    }

    /// Stops starting tasks (running ones finish) until `resume`.
    #[napi]
    pub fn pause(&mut self, env: Env) -> Result<()> {
        self.command(&env, Cmd::Pause)
    }

    #[napi]
    pub fn resume(&mut self, env: Env) -> Result<()> {
        self.command(&env, Cmd::Resume)
    }
}

/// Test support, in debug builds only (the test suite's build).
#[cfg(debug_assertions)]
#[napi]
impl Master {
    /// Makes the dispatcher panic, to check that a failed dispatcher
    /// reaches JS and lets the process go. Left out of the typings, which
    /// stay the same for debug and release builds.
    #[napi(skip_typescript)]
    pub fn fail_for_test(&mut self, env: Env) -> Result<()> {
        self.guarded(&env, |_| panic!("failure injected by a test"))
    }
}
