//! A run: one attempt at a task, from its dispatch to a worker to its
//! outcome. The pool holds the runs in flight.

use crate::error::{Code, CodedError};
use crate::log::{Fields, Logger};
use crate::master::metrics::Queue;
use crate::policy::Policy;
use crate::queue::memory::Place;
use crate::queue::mongo::Claimed;
use crate::task::{RunOrder, Task};
use crate::wire::task::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What a run needs of its task.
pub(crate) struct RunTask {
    pub(crate) id: Arc<str>,
    pub(crate) task_type: Arc<str>,
    pub(crate) group: Option<Arc<str>>,
    /// The task as sent to the worker (`wire::task::Row::run`, which
    /// shares large data rather than copying it); its events carry it.
    /// Plain text: it becomes a `RawValue` (a validating parse) only for an
    /// event that carries it, not for the `done` columns of the hot path.
    pub(crate) row: Row,
    /// When the occurrence this run belongs to was due: its `dueDate`, or
    /// for a retry of a series' run, the slot it was retried from.
    pub(crate) occurrence: i64,
    /// When this attempt was due (ms).
    pub(crate) due: i64,
    /// Attempts that failed before this one.
    pub(crate) failures: u32,
    pub(crate) policy: Option<Arc<Policy>>,
}

impl RunTask {
    /// `start_by`: the deadline of its start (this machine's epoch ms), for a rate.
    pub(crate) fn of(task: &Task, queue: Queue, start_by: Option<i64>) -> RunTask {
        RunTask {
            id: task.id.clone(),
            task_type: task.task_type.clone(),
            group: task.group.clone(),
            row: Row::run(task, queue.label(), start_by),
            occurrence: task.slot.unwrap_or(task.due_date),
            due: task.due_date,
            failures: task.failures,
            policy: task.policy.clone(),
        }
    }
}

/// Where a run's task is kept while it runs.
pub(crate) enum Source {
    /// In the in-memory queue, marked as running.
    Memory(Place),
    /// Claimed in MongoDB. Boxed: a claim holds a whole task, and inline it
    /// made every entry of the map of runs 408 bytes instead of 152, its
    /// lookups cache misses.
    Claimed(Box<Claimed>),
}

/// A task's place across both queues: in-memory tasks before persistent
/// ones, then the queue's own order. Greater runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    pub(crate) in_memory: bool,
    pub(crate) order: RunOrder,
}

impl Rank {
    pub(crate) fn persistent(task: &Task) -> Rank {
        Rank {
            in_memory: false,
            order: RunOrder::of(task, 0),
        }
    }
}

/// One attempt at a task, from dispatch to its outcome.
pub(crate) struct Run {
    pub(crate) worker: u32,
    pub(crate) task: RunTask,
    pub(crate) source: Source,
    /// When it started; `None` while it waits behind another run.
    pub(crate) started: Option<Instant>,
    /// When its time limit is up, if it has one.
    pub(crate) deadline: Option<Instant>,
    /// Stopped from outside (cancelled, or past its time limit): it ends
    /// with this stop's error, whatever it answers.
    pub(crate) stop: Option<Stop>,
}

/// Why a run was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// `TaskQueue.cancel`: never retried; a series ends.
    Cancel,
    /// Its time limit: a failure like any other (it may be retried).
    Timeout,
}

/// A run stopped from outside: its `job.signal` was aborted at `at`; if it
/// runs past `at` (or its start) + `cancelGrace`, its worker is stopped.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub(crate) kind: StopKind,
    /// What its error says (not what became of its worker).
    pub(crate) message: String,
    pub(crate) at: Instant,
    /// Its worker was stopped for it.
    pub(crate) killed: bool,
}

impl Stop {
    /// The error it ends with.
    pub(crate) fn error(&self) -> CodedError {
        let code = match self.kind {
            StopKind::Cancel => Code::TaskCancelled,
            StopKind::Timeout => Code::TaskTimeout,
        };
        let message = if self.killed {
            format!(
                "{}; it did not end within cancelGrace of its signal's abort, so its worker was stopped",
                self.message
            )
        } else {
            self.message.clone()
        };
        CodedError::new(code, message)
    }
}

/// What starting a run needs.
pub(crate) struct Start<'a> {
    pub(crate) now: Instant,
    /// The time limit of runs of tasks that set none (`taskTimeout`).
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) logger: &'a Logger,
}

impl Run {
    /// The run starts now (it was sent to an idle worker, or the run before
    /// it ended): its duration and its time limit count from here. `pid`:
    /// its worker's.
    pub(crate) fn start(&mut self, start: &Start, pid: u32) {
        self.started = Some(start.now);
        let timeout = self
            .task
            .policy
            .as_ref()
            .and_then(|p| p.timeout)
            .or(start.default_timeout);
        self.deadline = timeout.map(|t| start.now + t);
        let fields = Fields::task(&self.task.task_type, &self.task.id).in_worker(self.worker, pid);
        start
            .logger
            .task("started", &fields, format_args!("started"));
    }

    /// Which queue its task came from.
    pub(crate) fn queue(&self) -> Queue {
        match self.source {
            Source::Memory(_) => Queue::Memory,
            Source::Claimed(_) => Queue::Persistent,
        }
    }

    /// The claim token of a persistent run.
    pub(crate) fn claim_token(&self) -> Option<&str> {
        match &self.source {
            Source::Claimed(c) => Some(&c.token),
            Source::Memory(_) => None,
        }
    }
}
