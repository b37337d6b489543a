//! A worker as the dispatcher holds it, its frames, and its end: the lines
//! written to it each round, the frames read from its ring, and what its
//! exit means for the runs it held.

use super::answers::Origin;
use super::limits::Kill;
use super::prefetch::Sent;
use super::*;
use crate::channel::{self, Line, ToMaster, ToWorker};
use crate::error::{Code, CodedError};
use crate::master::pool::Link;
use crate::sys::Exit;
use serde_json::value::RawValue;
use std::collections::VecDeque;

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkerState {
    /// Spawned, not ready yet (it has not built its Cluster).
    Starting,
    Ready,
    /// Asked to stop (or killed); it gets nothing more. Killed at `kill_at`
    /// if it has not exited by then.
    Stopping {
        kill_at: Option<Instant>,
    },
}

pub(super) struct Worker {
    pub(super) link: Box<dyn Link>,
    pub(super) state: WorkerState,
    /// Runs sent to this worker and not answered, in the order it runs them
    /// (one at a time): the first is the one running, the rest wait.
    pub(super) sent: VecDeque<Sent>,
    /// Size of the task JSON in `sent`.
    pub(super) sent_bytes: usize,
    pub(super) spawned_at: Instant,
    pub(super) idle_since: Instant,
    /// Ring bytes read but not yet a whole frame.
    pub(super) frames: Vec<u8>,
    /// Messages for this worker, written at the end of the round.
    pub(super) line: Line,
    /// Why the dispatcher stopped it mid-task, if it did.
    pub(super) kill: Option<Kill>,
}

impl Worker {
    pub(super) fn new(link: Box<dyn Link>, now: Instant) -> Worker {
        Worker {
            link,
            state: WorkerState::Starting,
            sent: VecDeque::new(),
            sent_bytes: 0,
            spawned_at: now,
            idle_since: now,
            frames: Vec::new(),
            line: Line::default(),
            kill: None,
        }
    }

    /// Ready and not stopping: it may be given runs.
    pub(super) fn is_live(&self) -> bool {
        self.state == WorkerState::Ready
    }

    pub(super) fn is_stopping(&self) -> bool {
        matches!(self.state, WorkerState::Stopping { .. })
    }

    /// Live with nothing to run.
    pub(super) fn is_idle(&self) -> bool {
        self.is_live() && self.sent.is_empty()
    }

    /// Runs waiting behind the one it runs.
    pub(super) fn waiting_behind(&self) -> usize {
        self.sent.len().saturating_sub(1)
    }

    pub(super) fn send(&mut self, msg: &ToWorker) {
        self.line.push(msg);
    }
}

impl Dispatcher {
    /// Reads every worker's ring and handles its whole frames.
    pub(super) fn read_workers(&mut self) {
        let ids: Vec<u32> = self.workers.keys().copied().collect();
        for id in ids {
            self.read_worker(id);
        }
    }

    pub(super) fn read_worker(&mut self, id: u32) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        let mut bytes = std::mem::take(&mut w.frames);
        if w.link.read(&mut bytes).is_err() {
            self.logger.error(&format!(
                "worker {id} corrupted its shared memory; stopping it"
            ));
            w.link.signal(crate::sys::Signal::Kill);
            return;
        }
        let mut pos = 0;
        while let Some(frame) = channel::next_frame(&bytes, &mut pos) {
            let msg = frame.and_then(ToMaster::decode);
            match msg {
                Ok(msg) => self.on_frame(id, msg),
                Err(error) => {
                    self.logger.error(&format!(
                        "worker {id} sent an unreadable frame ({error}); stopping it"
                    ));
                    if let Some(w) = self.workers.get(&id) {
                        w.link.signal(crate::sys::Signal::Kill);
                    }
                    return;
                }
            }
        }
        bytes.drain(..pos);
        if let Some(w) = self.workers.get_mut(&id) {
            w.frames = bytes;
        }
    }

    fn on_frame(&mut self, id: u32, msg: ToMaster) {
        match msg {
            ToMaster::Ready => {
                if let Some(w) = self.workers.get_mut(&id) {
                    if w.state == WorkerState::Starting {
                        w.state = WorkerState::Ready;
                        w.idle_since = Instant::now();
                        self.spawn_backoff = scaling::SPAWN_BACKOFF;
                        let took = w.idle_since.duration_since(w.spawned_at);
                        self.counters.last_worker_start_ms = Some(took.as_secs_f64() * 1000.0);
                        self.rebalance = true;
                    }
                }
            }
            ToMaster::Recalled { runs } => {
                for run in runs {
                    self.take_back(run);
                }
            }
            ToMaster::Done { run, value } => self.finish(run, Ok(value)),
            ToMaster::Failed { run, error } => self.finish(run, Err(&error)),
            ToMaster::Ipc { run, msg } => self.events.push(&JsEvent::Ipc {
                worker: id,
                run,
                msg: &msg,
            }),
            ToMaster::Request { req, op, args } => self.request(Origin::Worker(id), req, &op, args),
        }
    }

    /// Writes each worker's messages of this round; a socket that is full
    /// hands the rest to JS.
    pub(super) fn flush_workers(&mut self) {
        for (&id, w) in self.workers.iter_mut() {
            if w.line.is_empty() {
                continue;
            }
            if w.link.send(w.line.take()) {
                self.events.push(&JsEvent::Blocked { worker: id });
            }
        }
    }

    /// Arms every worker's ring for a wake-up; `false` when one has frames
    /// waiting (read them before sleeping).
    pub(super) fn arm_workers(&mut self) -> bool {
        self.workers.values().all(|w| w.link.arm())
    }

    pub(super) fn unblocked(&mut self, id: u32) {
        if let Some(w) = self.workers.get_mut(&id) {
            if w.link.unblocked() {
                self.events.push(&JsEvent::Blocked { worker: id });
            }
        }
    }

    pub(super) fn ipc_reply(&mut self, worker: u32, run: u64, msg: Box<RawValue>) {
        match self.workers.get_mut(&worker) {
            Some(w) => w.send(&ToWorker::IpcReply { run, msg }),
            None => self.logger.warn(&format!(
                "IPC response for worker {worker} dropped: the worker has exited"
            )),
        }
    }

    /// A worker process ended. Its ring still holds every frame it wrote,
    /// the replies of the runs it finished included: they are read first.
    /// Then the run it had started and not answered is the one that died
    /// with it; the runs behind it never started and go back unharmed.
    pub(super) fn worker_exited(&mut self, id: u32, exit: Exit) {
        self.read_worker(id);
        let Some(w) = self.workers.get(&id) else {
            return;
        };
        self.counters.workers_exited += 1;
        let pid = w.link.pid();
        let kill = w.kill;
        let running = w.link.running();
        let lost = w.sent.iter().find(|s| s.run == running).map(|s| s.run);
        let unstarted: Vec<u64> = w
            .sent
            .iter()
            .map(|s| s.run)
            .filter(|&run| Some(run) != lost)
            .collect();
        // A worker we killed (timeout, close) was already logged as a warning.
        if kill.is_none() && (!w.is_stopping() || lost.is_some()) {
            self.logger
                .error(&format!("worker {id} (pid {pid}) {}", exit.describe()));
        }
        if w.state == WorkerState::Starting {
            self.spawn_after = Some(Instant::now() + self.spawn_backoff);
            self.spawn_backoff = (self.spawn_backoff * 2).min(scaling::MAX_SPAWN_BACKOFF);
        }
        // Unstarted runs first, so none is taken for started when the lost
        // one leaves its worker.
        for run in unstarted {
            self.take_back(run);
        }
        if let Some(run) = lost.filter(|&run| !self.lost_to_kill(kill, run)) {
            if let Some(r) = self.runs.get(&run) {
                let message = format!(
                    "worker {id} (pid {pid}) {} while running task {}:{}",
                    exit.describe(),
                    r.task.task_type,
                    r.task.id
                );
                self.finish(run, Err(&exit_error(&message, &exit)));
            }
        }
        if let Some(mut w) = self.workers.remove(&id) {
            w.link.reap();
        }
        self.events.push(&JsEvent::Retired { worker: id });
    }
}

/// The error of a run whose worker died: `WorkerExitError`, with how.
fn exit_error(message: &str, exit: &Exit) -> Box<RawValue> {
    let error = CodedError::new(Code::WorkerExit, message);
    let json = serde_json::json!({
        "name": error.code.name(),
        "message": message,
        "stack": format!("{}: {message}", error.code.name()),
        "code": error.code.as_str(),
        "exitCode": exit.code,
        "signal": exit.signal,
    });
    channel::raw_or_null(json.to_string())
}
