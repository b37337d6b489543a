//! The single owner of master state: the in-memory queue, the worker
//! processes and the runs in flight. Everything else sends it a `Cmd` and,
//! where it needs an answer, a oneshot to reply on; results reach JS through
//! the event sink. It is event-driven: a command, a worker frame, the next
//! due date or an idle deadline wakes it, and nothing ticks.

use super::calls::{self, NewTask, Origin};
use super::events::{Activity, EventSink};
use super::persistent::{Completion, Persistent, Settings, StoreEvent};
use super::pool::{self, Exit, SpawnSpec, WorkerProc};
use crate::channel::{self, ToMaster, ToWorker};
use crate::log::{Level, Logger};
use crate::queue::memory::MemoryQueue;
use crate::queue::mongo::Claimed;
use crate::task::{now_ms, RunOrder, Task};
use ahash::AHashMap as HashMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

mod answers;
mod scaling;

/// A worker that does not stop within this long after `Stop` is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Runs a worker may hold when the next task is a persistent one.
const PERSISTENT_AHEAD: usize = 2;
/// Task JSON a worker may hold before it gets more: with large `data`,
/// sending 64 tasks ahead would move the queue into the workers' memory.
const AHEAD_BYTES: usize = 1 << 20;
/// First wait before spawning again after a worker failed to start.
const SPAWN_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Idle workers stop after `refresh_rate`, as upstream stops them at its next tick.
    Never,
    Always,
    /// Keep workers this long after the last available task.
    For(Duration),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub max_workers: usize,
    pub refresh_rate: Duration,
    pub keep_alive: KeepAlive,
    /// Tasks sent ahead to a worker beyond the one it runs.
    pub prefetch: usize,
    pub worker_start_timeout: Duration,
    pub spawn: SpawnSpec,
    pub logs: Level,
    /// Where persistent tasks live (`None` until a Cluster configures it).
    pub persistent: Option<Settings>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_workers: 1,
            refresh_rate: Duration::from_millis(1000),
            keep_alive: KeepAlive::Never,
            prefetch: 64,
            worker_start_timeout: Duration::from_secs(60),
            spawn: SpawnSpec::default(),
            logs: Level::All,
            persistent: None,
        }
    }
}

pub enum Query {
    FindById(String),
    RemoveById(String),
    Tasks,
    AvailableTasks,
    Stats,
}

/// Counters for `cluster.stats()`.
#[derive(Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Counters {
    done: u64,
    failed: u64,
    workers_started: u64,
    workers_exited: u64,
    /// ms from spawn to ready of the most recent worker.
    last_worker_start_ms: Option<f64>,
}

pub enum Cmd {
    /// An in-memory task with an explicit `_id`: the caller waits for the
    /// answer, since a duplicate `_id` must fail its `addTask`.
    AddTask {
        task: Task,
        /// Number of the JS call that sent it.
        js_seq: u64,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// In-memory tasks the facade buffered, as JSON (see `Master::add_tasks`).
    AddTasks {
        batch: String,
        js_seq: u64,
    },
    Configure(Box<Config>),
    Initialize {
        js_seq: u64,
    },
    SetRefreshRate(Duration),
    Query(Query, oneshot::Sender<Option<String>>),
    /// A `TaskQueue` call from JS that resolves a promise (reply as an event).
    Request {
        req: u64,
        op: String,
        args: Box<RawValue>,
        js_seq: u64,
    },
    /// The answer to a request that ran asynchronously.
    Reply {
        origin: Origin,
        req: u64,
        result: Result<String, String>,
        /// The call changed the collection: look for claimable work again.
        changed: bool,
    },
    Store(StoreEvent),
    IpcReply {
        worker: u32,
        run: u64,
        msg: Box<RawValue>,
    },
    FromWorker {
        worker: u32,
        msg: ToMaster,
    },
    BadFrame {
        worker: u32,
        error: String,
    },
    WorkerExited {
        worker: u32,
        exit: Exit,
    },
    StopTimedOut {
        worker: u32,
    },
    /// Finish the runs in flight, stop every worker, then emit `closed`.
    Close {
        js_seq: u64,
    },
}

struct Worker {
    proc: WorkerProc,
    ready: bool,
    stopping: bool,
    /// Runs sent to this worker and not answered, in the order it runs them
    /// (one at a time): the first is the one running, the rest are prefetched.
    sent: VecDeque<Sent>,
    /// Size of the task JSON in `sent`.
    sent_bytes: usize,
    spawned_at: Instant,
    idle_since: Instant,
}

/// A task's place across both queues: in-memory tasks before persistent
/// ones, then the queue's own order. Greater runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    in_memory: bool,
    order: RunOrder,
}

fn persistent_rank(task: &Task) -> Rank {
    Rank {
        in_memory: false,
        order: RunOrder {
            priority: task.priority,
            created_at: task.created_at,
            seq: 0,
        },
    }
}

/// A run as its worker's FIFO holds it: what recalling needs, without
/// looking the run up.
struct Sent {
    run: u64,
    rank: Rank,
    /// A `Recall` for it was sent.
    recalling: bool,
}

/// One attempt at a task, from dispatch to its outcome.
struct Run {
    worker: u32,
    task_id: String,
    task_type: String,
    /// The task as sent to the worker; the `done`/`error` event carries it.
    task_json: String,
    started: Instant,
    /// A persistent task's claim; `None` for an in-memory task (which stays
    /// in the in-memory queue while it runs).
    claimed: Option<Claimed>,
}

/// A task ready to hand to a worker, from either queue.
struct Next {
    task_json: String,
    task_id: String,
    task_type: String,
    rank: Rank,
    claimed: Option<Claimed>,
}

/// The handle others hold: cheap to clone, only sends.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Handle {
    pub fn send(&self, cmd: Cmd) -> bool {
        self.tx.send(cmd).is_ok()
    }
}

pub fn start(runtime: &tokio::runtime::Runtime, sink: Arc<EventSink>) -> Handle {
    let (tx, rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(tx.clone(), sink);
    runtime.spawn(dispatcher.run(rx));
    Handle { tx }
}

struct Dispatcher {
    tx: mpsc::UnboundedSender<Cmd>,
    sink: Arc<EventSink>,
    config: Config,
    logger: Logger,
    queue: MemoryQueue,
    workers: BTreeMap<u32, Worker>,
    runs: HashMap<u64, Run>,
    next_worker: u32,
    next_run: u64,
    initialized: bool,
    closing: bool,
    spawn_after: Option<Instant>,
    spawn_backoff: Duration,
    last_work_at: Instant,
    events: Vec<String>,
    js_seq: u64,
    reported: Option<Activity>,
    persistent: Persistent,
    /// JS requests not answered yet: their promises hold the process.
    js_requests: usize,
    counters: Counters,
    /// A worker became ready: spread prefetched runs over the pool again.
    rebalance: bool,
}

impl Dispatcher {
    fn new(tx: mpsc::UnboundedSender<Cmd>, sink: Arc<EventSink>) -> Self {
        let config = Config::default();
        Dispatcher {
            tx,
            sink,
            logger: Logger::new(config.logs),
            config,
            queue: MemoryQueue::default(),
            workers: BTreeMap::new(),
            runs: HashMap::default(),
            next_worker: 1,
            next_run: 1,
            initialized: false,
            closing: false,
            spawn_after: None,
            spawn_backoff: SPAWN_BACKOFF,
            last_work_at: Instant::now(),
            events: Vec::new(),
            js_seq: 0,
            reported: None,
            persistent: Persistent::default(),
            js_requests: 0,
            counters: Counters::default(),
            rebalance: false,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        loop {
            let wake_at = self.pump();
            let cmd = match wake_at {
                Some(at) => tokio::select! {
                    cmd = rx.recv() => cmd,
                    _ = tokio::time::sleep_until(at) => continue,
                },
                None => rx.recv().await,
            };
            let Some(cmd) = cmd else { return };
            self.handle(cmd);
            // Take everything already queued before dispatching again.
            while let Ok(cmd) = rx.try_recv() {
                self.handle(cmd);
            }
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::AddTask {
                task,
                js_seq,
                reply,
            } => {
                self.js_seq = self.js_seq.max(js_seq);
                let _ = reply.send(self.add(task));
            }
            Cmd::AddTasks { batch, js_seq } => {
                self.js_seq = self.js_seq.max(js_seq);
                match Task::parse_batch(&batch) {
                    Ok(tasks) => {
                        for task in tasks {
                            if let Err(e) = self.add(task) {
                                self.logger.error(&e);
                            }
                        }
                    }
                    Err(e) => self.logger.error(&format!("in-memory tasks lost: {e}")),
                }
            }
            Cmd::Configure(config) => {
                self.logger.set_level(config.logs);
                self.persistent.configure(config.persistent.clone());
                self.config = *config;
            }
            Cmd::Initialize { js_seq } => {
                self.js_seq = self.js_seq.max(js_seq);
                self.initialized = true;
            }
            Cmd::SetRefreshRate(rate) => self.config.refresh_rate = rate,
            Cmd::Query(query, reply) => drop(reply.send(self.query(query))),
            Cmd::Request {
                req,
                op,
                args,
                js_seq,
            } => {
                self.js_seq = self.js_seq.max(js_seq);
                self.js_requests += 1;
                self.request(Origin::Js, req, &op, args);
            }
            Cmd::Reply {
                origin,
                req,
                result,
                changed,
            } => {
                if changed {
                    self.persistent.handle(
                        StoreEvent::Changed,
                        &self.logger,
                        &mut self.events,
                        self.config.refresh_rate,
                    );
                }
                self.reply(origin, req, result);
            }
            Cmd::Store(event) => {
                self.persistent.workers_idle = self
                    .workers
                    .values()
                    .any(|w| w.ready && !w.stopping && w.sent.is_empty());
                if let StoreEvent::Inserted(answers) = &event {
                    for (origin, req, answer) in answers.iter().cloned() {
                        self.reply(origin, req, answer);
                    }
                }
                self.persistent.handle(
                    event,
                    &self.logger,
                    &mut self.events,
                    self.config.refresh_rate,
                )
            }
            Cmd::IpcReply { worker, run, msg } => match self.workers.get(&worker) {
                Some(w) => send(w, &ToWorker::IpcReply { run, msg }),
                None => self.logger.warn(&format!(
                    "IPC response for worker {worker} dropped: the worker has exited"
                )),
            },
            Cmd::FromWorker { worker, msg } => self.on_worker_frame(worker, msg),
            Cmd::BadFrame { worker, error } => {
                self.logger.error(&format!(
                    "worker {worker} sent an unreadable frame ({error}); stopping it"
                ));
                if let Some(w) = self.workers.get(&worker) {
                    w.proc.kill();
                }
            }
            Cmd::WorkerExited { worker, exit } => self.worker_exited(worker, exit),
            Cmd::StopTimedOut { worker } => {
                if let Some(w) = self.workers.get(&worker) {
                    self.logger.warn(&format!(
                        "worker {worker} did not exit within {STOP_GRACE:?} of being stopped; killing it"
                    ));
                    w.proc.kill();
                }
            }
            Cmd::Close { js_seq } => {
                self.js_seq = self.js_seq.max(js_seq);
                self.closing = true;
            }
        }
    }

    fn add(&mut self, task: Task) -> Result<String, String> {
        let id = task.id.clone();
        match self.queue.push(task, now_ms()) {
            Ok(()) => Ok(id),
            Err(_) => Err(format!("an in-memory task with _id {id:?} already exists")),
        }
    }

    fn on_worker_frame(&mut self, id: u32, msg: ToMaster) {
        match msg {
            ToMaster::Ready => {
                if let Some(w) = self.workers.get_mut(&id) {
                    w.ready = true;
                    w.idle_since = Instant::now();
                    self.spawn_backoff = SPAWN_BACKOFF;
                    let took = w.idle_since.duration_since(w.spawned_at);
                    self.counters.last_worker_start_ms = Some(took.as_secs_f64() * 1000.0);
                    self.rebalance = true;
                }
            }
            ToMaster::Recalled { runs } => {
                for run in runs {
                    self.take_back(run);
                }
            }
            ToMaster::Done { run, value } => self.finish(run, "done", value.as_deref()),
            ToMaster::Failed { run, error } => self.finish(run, "error", Some(&error)),
            ToMaster::Ipc { run, msg } => self.events.push(format!(
                r#"{{"type":"ipc","worker":{id},"run":{run},"msg":{}}}"#,
                msg.get()
            )),
            ToMaster::Request { req, op, args } => self.request(Origin::Worker(id), req, &op, args),
        }
    }

    /// Records the outcome of a run; `kind` is the event type, "done" or "error".
    /// A missing `value` (a task that returned `undefined`) stays missing.
    fn finish(&mut self, run: u64, kind: &str, value: Option<&RawValue>) {
        let Some((r, next)) = self.unassign(run) else {
            return;
        };
        let now = Instant::now();
        self.last_work_at = now;
        let took = now.duration_since(r.started).as_millis();
        if kind == "done" {
            self.counters.done += 1;
            self.logger
                .task(&r.task_type, &r.task_id, format_args!("done in {took} ms"));
        } else {
            self.counters.failed += 1;
            self.logger.error(&format!(
                "task {}:{} failed after {took} ms: {}",
                r.task_type,
                r.task_id,
                value.map(error_message).unwrap_or_default()
            ));
        }
        // Sent ahead, the next run on that worker starts (and says so) now.
        if let Some(next) = next.and_then(|run| self.runs.get(&run)) {
            self.logger
                .task(&next.task_type, &next.task_id, format_args!("started"));
        }
        let event = match value {
            Some(value) => format!(
                r#"{{"type":"{kind}","task":{},"value":{}}}"#,
                r.task_json,
                value.get()
            ),
            None => format!(r#"{{"type":"{kind}","task":{}}}"#, r.task_json),
        };
        match r.claimed {
            // The event waits until MongoDB reflects the outcome.
            Some(claimed) => self.persistent.complete(Completion {
                id: r.task_id,
                token: claimed.token,
                event,
                error: (kind == "error").then(|| calls::last_error(value)),
            }),
            None => {
                self.queue.complete(&r.task_id);
                self.events.push(event);
            }
        }
    }

    fn worker_exited(&mut self, id: u32, exit: Exit) {
        let Some(w) = self.workers.remove(&id) else {
            return;
        };
        self.counters.workers_exited += 1;
        // The worker ran its runs one at a time, in order: the first was
        // running when it died; the ones behind it never started.
        let mut sent = w.sent.iter().map(|s| s.run);
        let lost = sent.next();
        for run in sent {
            self.take_back(run);
        }
        if !w.stopping || lost.is_some() {
            self.logger.error(&format!(
                "worker {id} (pid {}) {}",
                w.proc.pid,
                exit.describe()
            ));
        }
        if !w.ready && !w.stopping {
            self.spawn_after = Some(Instant::now() + self.spawn_backoff);
            self.spawn_backoff = (self.spawn_backoff * 2).min(Duration::from_secs(30));
        }
        let Some(run) = lost else { return };
        let Some(r) = self.runs.get(&run) else { return };
        let message = format!(
            "worker {id} (pid {}) {} while running task {}:{}",
            w.proc.pid,
            exit.describe(),
            r.task_type,
            r.task_id
        );
        let error = serde_json::json!({
            "name": "WorkerExitError",
            "message": message,
            "stack": format!("WorkerExitError: {message}"),
            "code": exit.code,
            "signal": exit.signal,
        });
        self.finish(run, "error", Some(&to_raw(&error.to_string())));
    }

    /// Forgets `run` and takes it off its worker. When it was the one running,
    /// the next one in that worker's FIFO starts now: its duration counts
    /// from here, not from when it was sent ahead; that next run is returned.
    fn unassign(&mut self, run: u64) -> Option<(Run, Option<u64>)> {
        let r = self.runs.remove(&run)?;
        let Some(w) = self.workers.get_mut(&r.worker) else {
            return Some((r, None));
        };
        let now = Instant::now();
        let was_running = w.sent.front().is_some_and(|s| s.run == run);
        if was_running {
            w.sent.pop_front();
        } else {
            w.sent.retain(|s| s.run != run);
        }
        w.sent_bytes = w.sent_bytes.saturating_sub(r.task_json.len());
        let mut started = None;
        match w.sent.front() {
            None => w.idle_since = now,
            Some(next) if was_running => {
                if let Some(next_run) = self.runs.get_mut(&next.run) {
                    next_run.started = now;
                    started = Some(next.run);
                }
            }
            Some(_) => {}
        }
        Some((r, started))
    }

    /// Puts a run its worker never started back in its queue, at its old place.
    fn take_back(&mut self, run: u64) {
        // Only runs that never started come back, so none starts after them.
        let Some((r, _)) = self.unassign(run) else {
            return;
        };
        match r.claimed {
            Some(claimed) => self.persistent.put_back(claimed),
            // `false` means it was removed meanwhile: nothing to put back.
            None => drop(self.queue.requeue(&r.task_id)),
        }
    }

    /// Asks workers for prefetched runs that should not wait where they are:
    /// those a waiting task outranks, and, once a new worker is ready, all of
    /// them, to spread them over the pool. So prefetching never lets a task
    /// start after one it outranks, beyond the time a frame takes.
    fn recall(&mut self, now_ms: i64, rebalance: bool) {
        if self.config.prefetch <= 1 {
            return;
        }
        let best = self
            .queue
            .peek_next(now_ms)
            .map(|order| Rank {
                in_memory: true,
                order,
            })
            .or_else(|| {
                self.persistent
                    .buffer
                    .front()
                    .map(|c| persistent_rank(&c.task))
            });
        if best.is_none() && !rebalance {
            return;
        }
        for w in self.workers.values_mut() {
            if w.stopping || w.sent.len() < 2 {
                continue;
            }
            let mut runs = Vec::new();
            for s in w.sent.iter_mut().skip(1) {
                if !s.recalling && (rebalance || best.is_some_and(|b| b > s.rank)) {
                    s.recalling = true;
                    runs.push(s.run);
                }
            }
            if !runs.is_empty() {
                send(w, &ToWorker::Recall { runs });
            }
        }
    }

    fn idle_beside_prefetched(&self) -> bool {
        let live = |w: &&Worker| w.ready && !w.stopping;
        self.workers
            .values()
            .filter(live)
            .any(|w| w.sent.is_empty())
            && self
                .workers
                .values()
                .filter(live)
                .any(|w| w.sent.iter().skip(1).any(|s| !s.recalling))
    }

    /// Dispatches, scales the pool, publishes events; returns when to wake
    /// up next if nothing else happens.
    fn pump(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut wake_at: Option<Instant> = None;
        let mut wake = |at: Instant| wake_at = Some(wake_at.map_or(at, |w: Instant| w.min(at)));

        let dispatching = self.initialized && !self.closing;
        let now_ms = now_ms();
        if dispatching {
            // Recall first: the frames reach a worker in order, so it drops
            // what it hands back before it sees the better task.
            let rebalance = std::mem::take(&mut self.rebalance);
            self.recall(now_ms, rebalance);
            self.dispatch();
            // A worker left idle while others hold runs they have not
            // started (tasks of uneven length): share those out again.
            if self.idle_beside_prefetched() {
                self.recall(now_ms, true);
            }
        }
        let in_memory = if dispatching {
            self.queue.available_count(now_ms)
        } else {
            0
        };
        // Prefetched runs behind a running one wait too: they count when
        // deciding whether to start another worker.
        let behind: usize = self
            .workers
            .values()
            .map(|w| w.sent.len().saturating_sub(1))
            .sum();
        let waiting = in_memory
            + if dispatching {
                self.persistent.buffer.len() + behind
            } else {
                0
            };
        // Claim ahead: a task for every worker and one more round, after the
        // in-memory tasks, which always go first. Not `prefetch` per worker:
        // claims taken ahead are hidden from other masters sharing the
        // collection; the claim batch grows by itself while workers drain
        // a backlog faster than claims come back.
        let want = if dispatching {
            (2 * self.config.max_workers).saturating_sub(self.runs.len() + in_memory)
        } else {
            0
        };
        if let Some(at) = self.persistent.pump(&self.tx, want, dispatching) {
            wake(at);
        }
        if self.closing {
            self.persistent.release(&self.tx);
        }
        if waiting > 0 || !self.runs.is_empty() {
            self.last_work_at = now;
        }
        if dispatching {
            if let Some(due) = self.queue.next_due() {
                wake(now + Duration::from_millis((due - now_ms).max(0) as u64));
            }
            self.scale_up(waiting, now, &mut wake);
        }
        self.scale_down(waiting, now, &mut wake);
        self.finish_closing();
        self.publish();
        wake_at
    }

    /// Hands due tasks to ready workers with room, each to the one with the
    /// fewest runs, so an idle worker is always served first.
    fn dispatch(&mut self) {
        let now_ms = now_ms();
        loop {
            // A claimed persistent task waits in a worker's FIFO only behind
            // one other: claims parked there would be hidden from other
            // masters, and would hide from the claim logic that workers
            // drain the buffer faster than claims come back.
            let room = if self.queue.available_count(now_ms) > 0 {
                self.config.prefetch
            } else {
                self.config.prefetch.min(PERSISTENT_AHEAD)
            };
            let Some(id) = self
                .workers
                .iter()
                .filter(|(_, w)| {
                    w.ready
                        && !w.stopping
                        && w.sent.len() < room
                        && (w.sent.is_empty() || w.sent_bytes < AHEAD_BYTES)
                })
                .min_by_key(|(_, w)| w.sent.len())
                .map(|(id, _)| *id)
            else {
                return;
            };
            let Some(Next {
                task_json,
                task_id,
                task_type,
                rank,
                claimed,
            }) = self.next_task(now_ms)
            else {
                return;
            };
            let run = self.next_run;
            self.next_run += 1;
            let frame = channel::run_frame(run, &task_json);
            let w = self
                .workers
                .get_mut(&id)
                .expect("the worker was chosen from this map just above");
            // Sent ahead, it starts (and says so) when the one before it ends.
            if w.sent.is_empty() {
                self.logger
                    .task(&task_type, &task_id, format_args!("started"));
            }
            w.sent_bytes += task_json.len();
            w.sent.push_back(Sent {
                run,
                rank,
                recalling: false,
            });
            let _ = w.proc.frames.send(frame);
            self.runs.insert(
                run,
                Run {
                    worker: id,
                    task_id,
                    task_type,
                    task_json,
                    started: Instant::now(),
                    claimed,
                },
            );
        }
    }

    /// The next task to run: in-memory ones always before persistent ones.
    fn next_task(&mut self, now_ms: i64) -> Option<Next> {
        if let Some((task, order)) = self.queue.take_next(now_ms) {
            return Some(Next {
                task_json: task.to_json(true),
                task_id: task.id.clone(),
                task_type: task.task_type.clone(),
                rank: Rank {
                    in_memory: true,
                    order,
                },
                claimed: None,
            });
        }
        let claimed = self.persistent.buffer.pop_front()?;
        Some(Next {
            task_json: claimed.task.to_json(true),
            task_id: claimed.task.id.clone(),
            task_type: claimed.task.task_type.clone(),
            rank: persistent_rank(&claimed.task),
            claimed: Some(claimed),
        })
    }

    fn finish_closing(&mut self) {
        if self.closing
            && self.runs.is_empty()
            && self.workers.is_empty()
            && self.persistent.settled()
        {
            self.closing = false;
            self.initialized = false;
            self.events.push(r#"{"type":"closed"}"#.to_owned());
        }
    }

    fn publish(&mut self) {
        // Task lines first: a line reads before the listener call it precedes.
        self.logger.flush();
        let busy = self.js_requests > 0
            || !self.persistent.settled()
            || (self.initialized
                && (!self.queue.is_empty()
                    || !self.runs.is_empty()
                    || self.config.keep_alive == KeepAlive::Always
                    || self.persistent.busy()));
        let activity = if busy || self.closing {
            Activity::Busy
        } else {
            Activity::Idle { seq: self.js_seq }
        };
        let changed = self.reported != Some(activity);
        if changed {
            self.reported = Some(activity);
        }
        self.sink
            .publish(&mut self.events, changed.then_some(activity));
    }
}

fn send(w: &Worker, msg: &ToWorker) {
    let _ = w.proc.frames.send(channel::encode(msg));
}

fn to_raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap_or_else(|_| channel::null())
}

fn error_json(name: &str, message: &str) -> Box<RawValue> {
    to_raw(&serde_json::json!({ "name": name, "message": message }).to_string())
}

/// The `message` of a serialized error, for log lines.
fn error_message(error: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: Option<String>,
    }
    serde_json::from_str::<Message>(error.get())
        .ok()
        .and_then(|m| m.message)
        .unwrap_or_else(|| error.get().to_owned())
}
