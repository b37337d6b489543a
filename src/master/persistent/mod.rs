//! The dispatcher's persistent side: the MongoDB store, the claims in
//! flight, tasks claimed but not yet given to a worker, and outcomes not
//! yet written. It is owned by the dispatcher (no locks): every database
//! call runs as a future on the tokio runtime (`jobs`), whose result comes
//! back through the inbox as a `StoreEvent`.

mod ahead;
mod due;
mod inserts;
mod jobs;
mod registry;
mod results;
mod special;
mod unwritten;

use super::requests::Origin;
use crate::error::{Code, CodedError};
use crate::limits::Limits;
use crate::master::fleet;
use crate::queue::mongo::Claimed;
use crate::task::{RunOrder, Task};
use crate::wire::request::Op;
use jobs::StoreCell;
use mongodb::bson::{Bson, Document};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The Cluster's `inMemoryOnly`: never touch MongoDB.
    pub(crate) in_memory_only: bool,
    pub(crate) url: Option<String>,
    pub(crate) collection: String,
    pub(crate) lease: Duration,
    pub(crate) task_types: Vec<String>,
    /// The Cluster's `limits`: stored when the master connects.
    pub(crate) limits: Vec<(String, Limits)>,
}

/// The outcome of a persistent run, written before its event is emitted.
pub(crate) struct Completion {
    pub(crate) id: Bson,
    pub(crate) token: String,
    /// The event to emit once written (none if no listener).
    pub(crate) event: Option<String>,
    pub(crate) write: Write,
    /// Its last progress, kept on a failed task's document (`complete`
    /// fills it in).
    pub(crate) progress: Option<Bson>,
}

/// A running task's latest progress, to write under its claim: at most
/// every `PROGRESS_EVERY`.
struct ProgressWrite {
    id: Bson,
    token: String,
    value: Bson,
    written_at: Option<Instant>,
    dirty: bool,
}

/// A task's progress is written to its document at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// The tasks queued in MongoDB, per type, are counted at most this often
/// (for `cluster.metrics()`): on a large collection a count costs the
/// server seconds.
const DEPTH_EVERY: Duration = Duration::from_secs(10);

/// What a cancel changed in MongoDB (`queue::mongo::CancelOutcome`).
pub(crate) use crate::queue::mongo::CancelOutcome as Cancelled;

/// What a run's end does to its document (always under its own claim).
pub(crate) enum Write {
    /// Done: removed.
    Delete,
    /// Failed for good: kept, `failed: true`, with `lastError`.
    Fail(Document),
    /// Failed with a retry to come: due again at `due`, with `lastError`;
    /// for a series' run, with the `slot` it was due at (`Task::slot`).
    Retry {
        due: i64,
        error: Document,
        slot: Option<i64>,
    },
    /// A series: due again at `due`, its attempts back to 0, no slot.
    Reschedule { due: i64, error: Option<Document> },
}

pub(crate) use inserts::{Answer, Insert};
pub(crate) use registry::{MasterRequest, Snapshot};
pub(crate) use results::StoreEvent;

/// How a database job's result reaches the dispatcher (through the inbox).
pub(crate) type Report = Arc<dyn Fn(StoreEvent) + Send + Sync>;

/// Where database jobs run and how their results come back.
#[derive(Clone)]
pub(crate) struct StoreLink {
    pub(crate) report: Report,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
}

impl StoreLink {
    /// Runs `job` on the runtime; its event (or its panic) is reported.
    fn spawn<F>(&self, job: F) -> Option<JoinHandle<()>>
    where
        F: std::future::Future<Output = StoreEvent> + Send + 'static,
    {
        use futures_util::FutureExt;
        let report = self.report.clone();
        Some(self.runtime.as_ref()?.spawn(async move {
            let event = std::panic::AssertUnwindSafe(job)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| StoreEvent::Panicked(crate::panic_message(&*panic)));
            report(event);
        }))
    }
}

/// The claim in flight, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimState {
    Idle,
    /// A claim is running; `stale` once the collection changed after it
    /// started, so its "nothing more is due" may be out of date.
    InFlight {
        stale: bool,
    },
}

/// Whether MongoDB is usable, as far as this master knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// Not started, or failed: start (again) at `retry_at`.
    Down {
        retry_at: Option<Instant>,
    },
    /// Indexes, clock and recovery under way.
    Starting,
    Up,
}

pub(crate) struct Persistent {
    link: StoreLink,
    settings: Settings,
    cell: Option<Arc<StoreCell>>,
    /// This master's name in leases.
    owner: String,
    connection: Connection,
    /// The unreachable warning was logged (once per outage).
    warned: bool,
    claim: ClaimState,
    /// How many tasks to claim ahead of the workers.
    ahead: ahead::Ahead,
    /// The last claim found fewer tasks than it asked for.
    exhausted: bool,
    /// When a scheduled persistent task becomes due, if one is known.
    next_due_at: Option<Instant>,
    poll_at: Instant,
    maintain_at: Instant,
    maintaining: bool,
    buffer: VecDeque<Claimed>,
    /// Outcomes not yet written.
    pending: unwritten::Unwritten,
    /// Claimed tasks handed to workers and not ended or handed back.
    running: usize,
    writing: bool,
    write_retry_at: Option<Instant>,
    releasing: bool,
    /// Running tasks' latest progress, written every `PROGRESS_EVERY`.
    progress: Vec<ProgressWrite>,
    progress_writing: bool,
    /// Cancel jobs in flight.
    cancelling: usize,
    /// Tasks queued and not running in MongoDB, per type, and when counted.
    depth: Option<(Instant, Vec<(String, u64)>)>,
    /// `metrics` requests waiting for the count in flight (if any).
    depth_waiting: Option<Vec<(Origin, u64)>>,
    /// Persistent adds waiting for the next insert.
    inserts: Vec<Insert>,
    /// The adds of the insert in flight (answered when it ends).
    inserting: Option<Vec<Insert>>,
    watcher: Option<JoinHandle<()>>,
    /// This master's document in the masters' registry.
    registry: registry::Registry,
    /// Tells the watcher whether to keep a change stream open.
    listen: Option<tokio::sync::watch::Sender<bool>>,
    /// The last claim came back full: a backlog is draining.
    draining: bool,
    /// Types claimed one at a time (limited, or with groups).
    special: special::Special,
    /// Claims that missed their start (`Special::start_by`), to hand back.
    late: Vec<(Bson, String)>,
}

impl Persistent {
    pub(crate) fn new(link: StoreLink, settings: Settings) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let now = Instant::now();
        let mut persistent = Persistent {
            link,
            settings,
            cell: None,
            owner: format!(
                "{}:{}:{}",
                host.trim(),
                std::process::id(),
                crate::task::new_id()
            ),
            connection: Connection::Down { retry_at: None },
            warned: false,
            claim: ClaimState::Idle,
            ahead: ahead::Ahead::default(),
            exhausted: false,
            next_due_at: None,
            poll_at: now,
            maintain_at: now,
            maintaining: false,
            buffer: VecDeque::new(),
            pending: unwritten::Unwritten::default(),
            running: 0,
            writing: false,
            write_retry_at: None,
            releasing: false,
            progress: Vec::new(),
            progress_writing: false,
            cancelling: 0,
            depth: None,
            depth_waiting: None,
            inserts: Vec::new(),
            inserting: None,
            watcher: None,
            registry: registry::Registry::default(),
            listen: None,
            draining: false,
            special: special::Special::default(),
            late: Vec::new(),
        };
        persistent.configure_limits();
        persistent
    }

    /// The Cluster's limits: obeyed here at once (their types are claimed
    /// apart from now on), stored when connected.
    fn configure_limits(&mut self) {
        for (task_type, limits) in &self.settings.limits {
            self.special
                .set(&Arc::from(task_type.as_str()), Some(*limits));
        }
        self.special.to_write = self.settings.limits.clone();
    }

    /// Takes new settings; a changed URL or collection means a new store.
    pub(crate) fn configure(&mut self, settings: Settings) {
        let keep =
            self.settings.url == settings.url && self.settings.collection == settings.collection;
        if !keep {
            self.cell = None;
            self.connection = Connection::Down { retry_at: None };
            if let Some(watcher) = self.watcher.take() {
                watcher.abort();
            }
            self.listen = None;
        }
        self.settings = settings;
        self.exhausted = false;
        self.configure_limits();
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.settings.in_memory_only && self.settings.url.is_some()
    }

    /// The store, made on first use (it connects when a job first needs it);
    /// an error says why there is none.
    fn cell(&mut self) -> Result<Arc<StoreCell>, CodedError> {
        if let Some(cell) = &self.cell {
            return Ok(cell.clone());
        }
        let settings = self.settings.clone();
        if settings.in_memory_only {
            return Err(CodedError::new(
                Code::NoPersistentQueue,
                "this Cluster is inMemoryOnly, so it has no persistent queue",
            ));
        }
        let Some(url) = settings.url.clone() else {
            return Err(CodedError::new(
                Code::NoPersistentQueue,
                "the persistent queue needs MongoDB: set MONGO_URL (or the Cluster's mongoUrl option)",
            ));
        };
        let cell = Arc::new(StoreCell::new(url, settings, self.owner.clone()));
        self.cell = Some(cell.clone());
        Ok(cell)
    }

    /// The best claimed task waiting for a worker.
    pub(crate) fn peek(&self) -> Option<&Task> {
        self.buffer.front().map(|c| &c.task)
    }

    /// The first claimed task `admits` lets run now, to run. A claim that
    /// missed its start (a rate counted it earlier) goes back instead.
    pub(crate) fn take(&mut self, mut admits: impl FnMut(&Task) -> bool) -> Option<Claimed> {
        if !self.special.start_by.is_empty() {
            self.drop_late();
        }
        let at = self.buffer.iter().position(|c| admits(&c.task))?;
        let claimed = self.buffer.remove(at)?;
        if self.special.start_by.contains_key(&claimed.token) {
            self.special.lag.met();
        }
        self.running += 1;
        self.special.running.insert(
            special::key(&claimed),
            (claimed.task.task_type.clone(), claimed.task.group.clone()),
        );
        Some(claimed)
    }

    /// By when `claimed` must start (this machine's epoch ms, `now_ms` now),
    /// when a fleet-wide rate counted its start at its claim: the rate's
    /// slack after its recorded start, of which sending it took at most half.
    pub(crate) fn start_deadline(&self, claimed: &Claimed, now_ms: i64) -> Option<i64> {
        let sent_by = *self.special.start_by.get(&claimed.token)?;
        let left = sent_by
            .saturating_duration_since(Instant::now())
            .as_millis() as i64;
        Some(now_ms + left + fleet::FLEET_RATE_SLACK_MS / 2)
    }

    /// Moves the claims that missed their start to `late`, to hand back.
    fn drop_late(&mut self) {
        let now = Instant::now();
        let late: Vec<String> = self
            .special
            .start_by
            .iter()
            .filter(|(_, at)| **at < now)
            .map(|(token, _)| token.clone())
            .collect();
        for token in late {
            self.special.start_by.remove(&token);
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buffer)
                .into_iter()
                .partition(|c| c.token == token);
            self.buffer = kept.into();
            if !gone.is_empty() {
                self.special.lag.missed();
            }
            for c in gone {
                self.special.released(&c.task.task_type);
                self.late.push((c.id, c.token));
            }
        }
    }

    /// Takes the claimed task `id` out of the buffer (it will not run).
    pub(crate) fn take_claimed(&mut self, id: &Bson) -> Option<Claimed> {
        let at = self.buffer.iter().position(|c| &c.id == id)?;
        let claimed = self.buffer.remove(at)?;
        self.special.released(&claimed.task.task_type);
        Some(claimed)
    }

    /// Fails a claimed task that will not run (cancelled), under its claim;
    /// `event` is emitted once MongoDB has it.
    pub(crate) fn fail_claimed(
        &mut self,
        claimed: Claimed,
        error: &CodedError,
        event: Option<String>,
    ) {
        let lasting = error.to_json();
        let raw = serde_json::value::RawValue::from_string(lasting).ok();
        self.record(Completion {
            id: claimed.id,
            token: claimed.token,
            event,
            write: Write::Fail(super::requests::last_error(raw.as_deref())),
            progress: None,
        });
    }

    /// A running task's latest progress: written under its claim, at most
    /// every `PROGRESS_EVERY` (the latest value wins).
    pub(crate) fn progress(&mut self, claimed: &Claimed, value: &str) {
        let value = crate::queue::mongo::progress_bson(value);
        match self
            .progress
            .iter_mut()
            .find(|p| p.id == claimed.id && p.token == claimed.token)
        {
            Some(p) => {
                p.value = value;
                p.dirty = true;
            }
            None => self.progress.push(ProgressWrite {
                id: claimed.id.clone(),
                token: claimed.token.clone(),
                value,
                written_at: None,
                dirty: true,
            }),
        }
    }

    /// Whether a `metrics` request can be answered now: yes without a
    /// persistent queue, or with a count younger than `DEPTH_EVERY` (an
    /// older one is counted again meanwhile). Otherwise it waits for the
    /// count (`StoreEvent::Depth`).
    pub(crate) fn depth_for(&mut self, origin: Origin, req: u64) -> bool {
        if !self.enabled() {
            return true;
        }
        let Ok(cell) = self.cell() else {
            return true;
        };
        let fresh = self
            .depth
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < DEPTH_EVERY);
        if fresh {
            return true;
        }
        match &mut self.depth_waiting {
            Some(waiting) => waiting.push((origin, req)),
            None => {
                self.depth_waiting = Some(vec![(origin, req)]);
                self.link.spawn(jobs::depth(cell));
            }
        }
        false
    }

    /// The last count of tasks queued in MongoDB, per type.
    pub(crate) fn depth(&self) -> &[(String, u64)] {
        self.depth.as_ref().map_or(&[], |(_, d)| d.as_slice())
    }

    /// Whether MongoDB answers, as far as this master knows.
    pub(crate) fn reachable(&self) -> bool {
        self.connection == Connection::Up && !self.warned
    }

    /// Cancels persistent tasks (`selector`, a Meteor selector): answered
    /// with how many, plus `local` (those cancelled in memory).
    pub(crate) fn cancel(
        &mut self,
        origin: Origin,
        req: u64,
        selector: serde_json::Value,
        message: String,
        local: usize,
    ) -> Result<(), CodedError> {
        let filter = super::requests::selector_filter(&selector)?;
        let cell = self.cell()?;
        self.cancelling += 1;
        self.link
            .spawn(jobs::cancel(cell, origin, req, filter, message, local));
        Ok(())
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Returns a claimed task a worker handed back to its place in the
    /// buffer; one of a rate-limited type, to the collection.
    pub(crate) fn put_back(&mut self, claimed: Claimed) {
        self.running = self.running.saturating_sub(1);
        self.special.running.remove(&special::key(&claimed));
        // A rate counted its start when it was claimed: it goes back to
        // the collection, to be admitted again (handed back unstarted by
        // its worker, it missed its start).
        let rated = self.special.limits.get(&claimed.task.task_type);
        if rated.is_some_and(|limits| limits.has_rate()) {
            self.special.lag.missed();
            self.special.released(&claimed.task.task_type);
            self.late.push((claimed.id, claimed.token));
            return;
        }
        let rank = RunOrder::of(&claimed.task, 0);
        let at = self
            .buffer
            .iter()
            .position(|c| RunOrder::of(&c.task, 0) < rank)
            .unwrap_or(self.buffer.len());
        self.buffer.insert(at, claimed);
    }

    /// Queues a call's persistent adds; it is answered when they are written.
    pub(crate) fn insert(&mut self, insert: Insert) {
        self.inserts.push(insert);
    }

    /// Runs a collection call; its answer comes as `StoreEvent::Answered`.
    pub(crate) fn call(
        &mut self,
        origin: Origin,
        req: u64,
        op: Op,
        args: Box<RawValue>,
    ) -> Result<(), CodedError> {
        let cell = self.cell()?;
        self.link.spawn(jobs::call(cell, origin, req, op, args));
        Ok(())
    }

    /// Whether the master still has persistent work it knows of.
    pub(crate) fn busy(&self) -> bool {
        self.cancelling > 0
            || self.depth_waiting.is_some()
            || self.progress_writing
            || !self.buffer.is_empty()
            || !self.inserts.is_empty()
            || self.inserting.is_some()
            || !self.pending.is_empty()
            || self.writing
            || self.releasing
            || self.claim != ClaimState::Idle
            || (self.enabled() && (!self.exhausted || self.next_due_at.is_some()))
    }

    /// What `cluster.stats()` shows of the persistent side.
    pub(crate) fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "enabled": self.enabled(),
            "reachable": self.reachable(),
            "claimed": self.buffer.len(),
            "unwritten": self.pending.len(),
            "inserting": self.inserts.iter().map(|i| i.tasks.len()).sum::<usize>(),
        })
    }

    /// Nothing claimed, nothing left to write: safe to report closed.
    pub(crate) fn settled(&self) -> bool {
        self.buffer.is_empty()
            && self.pending.is_empty()
            && !self.writing
            && !self.releasing
            && self.registry_settled()
    }

    /// A claimed task's run ended: its outcome is written with the next batch.
    pub(crate) fn complete(&mut self, completion: Completion) {
        self.running = self.running.saturating_sub(1);
        self.ahead.run_finished();
        let key = (completion.token.clone(), completion.id.to_string());
        if let Some((task_type, _)) = self.special.running.remove(&key) {
            self.special.released(&task_type);
        }
        self.record(completion);
    }

    /// Queues a claimed task's outcome (with its last progress when it failed).
    fn record(&mut self, mut completion: Completion) {
        if let Some(at) = self
            .progress
            .iter()
            .position(|p| p.id == completion.id && p.token == completion.token)
        {
            let last = self.progress.swap_remove(at);
            if matches!(completion.write, Write::Fail(_)) {
                completion.progress = Some(last.value);
            }
        }
        self.pending.push(completion);
    }
}

impl Drop for Persistent {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
    }
}
