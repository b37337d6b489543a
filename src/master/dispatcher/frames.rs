//! A worker's frames and lines, and its end: the frames read from its ring
//! and what each means, the line written to it each round, and what its
//! exit means for the runs it held.

use super::pool::WorkerState;
use super::Dispatcher;
use crate::error::{Code, CodedError};
use crate::log::Fields;
use crate::master::metrics::ExitReason;
use crate::master::process::Link;
use crate::sys::{Exit, Signal};
use crate::task::now_ms;
use crate::wire::events::JsEvent;
use crate::wire::frames::{ToMaster, ToWorker, Value};
use crate::wire::framing::{FrameReader, Message};
use crate::wire::payload::{Payload, LARGE};
use crate::wire::raw_or_null;
use serde_json::value::RawValue;
use std::time::Duration;
use tokio::time::Instant;

/// How long the master watches a worker's ring for the rest of a large
/// frame before it waits for a wake-up: the worker is writing it now, and
/// a wake-up per ring's worth cost a turn of the event loop per MiB.
const LARGE_FRAME_WATCH: Duration = Duration::from_micros(200);

/// Reads once from `link`; in the middle of a large frame, watches a while
/// for more.
fn fill(reader: &mut FrameReader, link: &mut dyn Link) -> Result<usize, String> {
    let read = reader.fill(link)?;
    if read > 0 || !reader.in_large_frame() {
        return Ok(read);
    }
    let until = std::time::Instant::now() + LARGE_FRAME_WATCH;
    loop {
        std::hint::spin_loop();
        let read = reader.fill(link)?;
        if read > 0 || std::time::Instant::now() >= until {
            return Ok(read);
        }
    }
}

/// A run's time by its worker's clock, from a `done` or `failed` frame's µs.
fn ran(us: Option<u64>) -> Option<Duration> {
    us.map(Duration::from_micros)
}

impl Dispatcher {
    /// Reads every worker's ring and handles its whole frames.
    pub(super) fn read_workers(&mut self) {
        let now = Instant::now();
        for id in self.pool.worker_ids() {
            self.read_worker(id);
            if let Some(w) = self.pool.worker_mut(id) {
                w.note_pace(now);
            }
        }
    }

    fn read_worker(&mut self, id: u32) {
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        // Read and handed on in turns: handling a message needs the whole
        // dispatcher, reading needs the worker's link.
        let mut reader = std::mem::take(&mut w.reader);
        let result = loop {
            let Some(w) = self.pool.worker_mut(id) else {
                break Ok(());
            };
            let read = match fill(&mut reader, &mut *w.link) {
                Ok(n) => n,
                Err(error) => break Err(error),
            };
            if let Err(error) = reader.drain(|message| self.on_message(id, message)) {
                break Err(error);
            }
            if read == 0 {
                break Ok(());
            }
        };
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        match result {
            Ok(()) => w.reader = reader,
            Err(error) => {
                self.logger.error(&format!(
                    "worker {id} sent what cannot be read ({error}); stopping it"
                ));
                w.link.signal(Signal::Kill);
            }
        }
    }

    /// A message read whole from a worker's ring, with its blobs.
    fn on_message(&mut self, id: u32, message: Message) -> Result<(), String> {
        match ToMaster::decode(message.json)? {
            // A large value goes on as it came (its text not copied, its
            // blobs with it), to reach JS beside the events.
            ToMaster::Done {
                run,
                us,
                value: Some(raw),
            } if !message.blobs.is_empty() || raw.get().len() >= LARGE => {
                let json = message.keep(raw.get().as_bytes());
                let large = Payload::from_json(json, message.blobs);
                let value = Value {
                    raw,
                    large: large.as_ref(),
                };
                self.finish(run, Ok(Some(value)), ran(us));
            }
            msg => self.on_frame(id, msg),
        }
        Ok(())
    }

    fn on_frame(&mut self, id: u32, msg: ToMaster) {
        match msg {
            ToMaster::Ready => self.worker_ready(id),
            ToMaster::Recalled { runs } => {
                for run in runs {
                    self.take_back(run);
                }
            }
            ToMaster::Done { run, us, value } => self.finish(
                run,
                Ok(value.map(|raw| Value { raw, large: None })),
                ran(us),
            ),
            ToMaster::Failed { run, us, error } => self.finish(run, Err(&error), ran(us)),
            ToMaster::Progress { run, value } => self.on_progress(run, value),
            ToMaster::Ipc { run, msg } => self.events.push(&JsEvent::Ipc {
                worker: id,
                run,
                msg: &msg,
            }),
            ToMaster::Request { req, op, args } => self.worker_request(id, req, op, args),
        }
    }

    fn worker_ready(&mut self, id: u32) {
        let Some(w) = self.pool.worker_mut(id) else {
            return;
        };
        if w.state != WorkerState::Starting {
            return;
        }
        w.state = WorkerState::Ready;
        w.idle_since = Instant::now();
        let took = w.idle_since.duration_since(w.spawned_at);
        self.spawning.started();
        self.counters.last_worker_start_ms = Some(took.as_secs_f64() * 1000.0);
        self.rebalance = true;
    }

    /// Writes each worker's line of this round (a full socket leaves the
    /// rest to a writer).
    pub(super) fn flush_workers(&mut self) {
        for (_, w) in self.pool.workers_mut() {
            if let Some(line) = w.take_line() {
                w.link.send(line);
            }
        }
    }

    /// Arms every worker's ring for a wake-up, lazily for one busy with
    /// short runs (`Worker::lazy`); `None` when one has frames waiting
    /// (read them before sleeping), else whether one was armed lazily (the
    /// master must then look again within `LAZY_LOOK` on its own).
    pub(super) fn arm_workers(&mut self) -> Option<bool> {
        let mut lazy = false;
        for (_, w) in self.pool.workers() {
            let this = w.lazy();
            if !w.link.arm(this) {
                return None;
            }
            lazy |= this;
        }
        Some(lazy)
    }

    /// The writer of worker `id`'s socket wrote all it had.
    pub(super) fn written(&mut self, id: u32) {
        if let Some(w) = self.pool.worker_mut(id) {
            w.link.written();
        }
    }

    pub(super) fn ipc_reply(&mut self, worker: u32, run: u64, msg: Box<RawValue>) {
        match self.pool.worker_mut(worker) {
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
        let Some(w) = self.pool.worker(id) else {
            return;
        };
        let (pid, kill, stopping, retired) = (w.link.pid(), w.kill, w.is_stopping(), w.retired);
        // It died before it was ready, or was killed for not getting ready.
        let start_failure = match (&w.start_failure, w.state) {
            (Some(why), _) => Some(why.clone()),
            (None, WorkerState::Starting) => {
                Some(format!("{} before it was ready", exit.describe()))
            }
            _ => None,
        };
        let stderr = w.link.stderr_tail();
        let Some(exited) = self.pool.exited(id, w.link.running()) else {
            return;
        };
        self.counters.workers_exited += 1;
        let crashed = kill.is_none() && (!stopping || exited.lost.is_some());
        self.metrics.worker_exited(match () {
            _ if start_failure.is_some() || crashed => ExitReason::Crashed,
            _ if kill.is_some() => ExitReason::Timeout,
            _ if retired => ExitReason::Retired,
            _ => ExitReason::Idle,
        });
        if let Some(why) = start_failure {
            self.start_failed(id, pid, &why, &stderr);
        } else if crashed {
            // A worker we killed (timeout, close) was already logged as a warning.
            self.logger.error_event(
                "worker_exit",
                &format!("worker {id} (pid {pid}) {}", exit.describe()),
                &Fields::worker(id, pid),
            );
        }
        // Unstarted runs first, so none is taken for started when the lost
        // one leaves its worker.
        for run in exited.unstarted {
            self.take_back(run);
        }
        // A worker that was asked to stop (idle, retired, closing) and
        // did so cleanly is no trouble to show.
        if !(stopping && exited.lost.is_none() && exit.code == Some(0)) {
            let blamed = exited.lost.and_then(|run| self.pool.run(run));
            let task = blamed.map(|r| (&*r.task.id, &*r.task.task_type));
            self.exits.record(now_ms(), id, pid, &exit, task);
        }
        if let Some(run) = exited.lost.filter(|&run| !self.lost_to_kill(kill, run)) {
            if let Some(r) = self.pool.run(run) {
                let message = format!(
                    "worker {id} (pid {pid}) {} while running task {}:{}",
                    exit.describe(),
                    r.task.task_type,
                    r.task.id
                );
                self.finish(run, Err(&exit_error(&message, &exit)), None);
            }
        }
        self.pool.remove(id);
        self.events.push(&JsEvent::Retired { worker: id });
    }
}

impl Dispatcher {
    /// A worker failed to start (`why`): spawning backs off, and the
    /// failure is logged, quoting the end of its stderr, unless it is the
    /// one logged last (a broken script fails the same way every time).
    /// Queued tasks wait.
    fn start_failed(&mut self, id: u32, pid: u32, why: &str, stderr: &str) {
        self.counters.worker_start_failures += 1;
        let (_, wait) = self.spawning.failed(Instant::now());
        let last_words = last_lines(stderr);
        if self.spawning.tell(format!("{why}\n{last_words}")) {
            let quoted = if last_words.is_empty() {
                "it wrote nothing to stderr; ".to_owned()
            } else {
                format!("its stderr ends with:\n{last_words}\n")
            };
            self.logger.error_event(
                "worker_start_failed",
                &format!(
                    "workers fail to start: worker {id} (pid {pid}) {why}; {quoted}trying again in {}, then less often (up to every 30 s); queued tasks wait, and this is logged again only if the failure changes",
                    super::scaling::seconds(wait)
                ),
                &Fields::worker(id, pid),
            );
        }
    }
}

/// The last lines of what a worker wrote (up to about 1,500 characters).
fn last_lines(text: &str) -> String {
    let text = text.trim_end();
    let mut start = text.len().saturating_sub(1500);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    // From a line's start, unless the text is shorter than the limit.
    let tail = match (start, tail.find('\n')) {
        (0, _) | (_, None) => tail,
        (_, Some(newline)) => &tail[newline + 1..],
    };
    tail.lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
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
    raw_or_null(json.to_string())
}
