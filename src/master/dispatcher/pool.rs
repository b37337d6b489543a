//! The pool: the workers, the runs in flight, and the runs each worker
//! holds (its `sent` queue: the one it runs, then those sent ahead). It
//! alone changes them, so it alone keeps their invariant:
//!
//! > a run is in `runs` exactly when it is in its worker's `sent`, once,
//! > and that worker's `sent_bytes` is the size of their rows; only the
//! > first run of a `sent` queue has started.
//!
//! `check` asserts it after every call into the dispatcher in debug builds
//! (the test suites'), and a seeded walk in its tests drives it at random.

use super::run::{Rank, Run, RunTask, Source, Start, Stop};
use crate::master::process::Link;
use crate::wire::frames::{Line, ToWorker};
use crate::wire::framing::FrameReader;
use ahash::AHashMap as HashMap;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// How long a reply may wait in the ring of a worker busy with short runs
/// before the master looks: such a worker is armed lazily (its replies do
/// not wake the master, which comes back on its own within this), so a
/// backlog of runs of a millisecond costs the master a wake-up per few
/// replies, not one each.
pub(super) const LAZY_LOOK: Duration = Duration::from_millis(4);

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkerState {
    /// Spawned, not ready yet (it has not built its Cluster).
    Starting,
    Ready,
    /// Retired (`workerMaxTasks`, `workerMaxMemory`): it finishes the run
    /// it runs, hands back what was sent ahead, gets nothing more, and is
    /// stopped once it holds nothing.
    Retiring,
    /// Asked to stop (or killed); it gets nothing more. Killed at `kill_at`
    /// if it has not exited by then.
    Stopping {
        kill_at: Option<Instant>,
    },
}

/// Why the dispatcher stopped a worker that was running a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kill {
    /// This run was stopped (cancelled, or past its time limit) and did
    /// not end within `cancelGrace`.
    Stop(u64),
    /// `close({ timeout })` ran out of time.
    Close,
}

/// A run as its worker's queue holds it: what recalling needs, without
/// looking the run up.
struct Sent {
    run: u64,
    rank: Rank,
    /// A `Recall` for it was sent.
    recalling: bool,
}

pub(super) struct Worker {
    pub(super) link: Box<dyn Link>,
    pub(super) state: WorkerState,
    /// Runs sent to this worker and not answered, in the order it runs them
    /// (one at a time): the first is the one running, the rest wait.
    sent: VecDeque<Sent>,
    /// No run waiting in `sent` and not being recalled ranks below this (a
    /// bound, lowered as runs are sent, made exact by each scan): a round
    /// whose best waiting task cannot outrank it skips the scan of up to
    /// `prefetch` runs.
    floor: Option<Rank>,
    /// Size of the rows in `sent`.
    sent_bytes: usize,
    pub(super) spawned_at: Instant,
    pub(super) idle_since: Instant,
    /// Its ring's frames, read as they arrive.
    pub(super) reader: FrameReader,
    /// Messages for this worker, written at the end of the round.
    line: Line,
    /// Why the dispatcher stopped it mid-task, if it did.
    pub(super) kill: Option<Kill>,
    /// Runs it finished (done or failed).
    pub(super) runs: u64,
    /// About how long each of its runs takes while it is kept busy (an
    /// average over its recent reads), once seen.
    pace: Option<Duration>,
    /// When its pace was last sampled, and its `runs` then.
    paced: (Instant, u64),
    /// Runs it may still be sent (`workerMaxTasks`), if limited.
    budget: Option<u64>,
    /// When its memory was last read (`workerMaxMemory`).
    pub(super) memory_read_at: Option<Instant>,
    /// Why it failed to start, when the dispatcher stopped it for that.
    pub(super) start_failure: Option<String>,
    /// It was retired (`workerMaxTasks`, `workerMaxMemory`).
    pub(super) retired: bool,
}

impl Worker {
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

    /// Counts toward the pool's size: not retiring or stopping.
    pub(super) fn in_service(&self) -> bool {
        matches!(self.state, WorkerState::Starting | WorkerState::Ready)
    }

    /// Holds no run.
    pub(super) fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// The run it runs (or is about to), if any.
    pub(super) fn front(&self) -> Option<u64> {
        self.sent.front().map(|s| s.run)
    }

    /// Runs waiting behind the one it runs.
    pub(super) fn waiting_behind(&self) -> usize {
        self.sent.len().saturating_sub(1)
    }

    /// After a read: the time since the last sample over the runs it
    /// finished since (when it finished any) moves its pace. A faster
    /// sample is taken at once, a slower one only an eighth: a master slow
    /// to read (busy adding, collecting garbage) or slow to send more
    /// makes runs look longer than they are, and a worker wrongly armed
    /// lazily may run out of work before the master looks.
    pub(super) fn note_pace(&mut self, now: Instant) {
        let (at, runs) = self.paced;
        let finished = u32::try_from(self.runs - runs).unwrap_or(u32::MAX);
        if finished == 0 {
            return;
        }
        let sample = now.saturating_duration_since(at) / finished;
        self.pace = Some(match self.pace {
            Some(pace) if pace < sample => (pace * 7 + sample) / 8,
            _ => sample,
        });
        self.paced = (now, self.runs);
    }

    /// Whether its replies may wait for the master's next look: its runs
    /// are short (two fit in `LAZY_LOOK`) and enough wait behind the one it
    /// runs to keep it busy past two looks. Its last reply always wakes.
    pub(super) fn lazy(&self) -> bool {
        let behind = u32::try_from(self.waiting_behind()).unwrap_or(u32::MAX);
        self.pace.is_some_and(|pace| {
            pace * 2 <= LAZY_LOOK && pace.saturating_mul(behind) >= LAZY_LOOK * 2
        })
    }

    pub(super) fn send(&mut self, msg: &ToWorker) {
        self.line.push(msg);
    }

    /// This round's line, to write (`None` when there is none).
    pub(super) fn take_line(&mut self) -> Option<Vec<Bytes>> {
        (!self.line.is_empty()).then(|| self.line.take())
    }
}

/// What a worker's exit means for the runs it held.
pub(super) struct Exited {
    /// The run it had started and not answered: it died with the worker.
    pub(super) lost: Option<u64>,
    /// The runs behind it, which never started.
    pub(super) unstarted: Vec<u64>,
}

#[derive(Default)]
pub(super) struct Pool {
    workers: BTreeMap<u32, Worker>,
    runs: HashMap<u64, Run>,
    next_worker: u32,
    next_run: u64,
}

impl Pool {
    /// The id the next worker spawned gets.
    pub(super) fn next_worker_id(&mut self) -> u32 {
        self.next_worker += 1;
        self.next_worker
    }

    /// A new worker, which may be sent `budget` runs in all, if limited.
    pub(super) fn add_worker(
        &mut self,
        id: u32,
        link: Box<dyn Link>,
        now: Instant,
        budget: Option<u64>,
    ) {
        self.workers.insert(
            id,
            Worker {
                link,
                state: WorkerState::Starting,
                sent: VecDeque::new(),
                floor: None,
                sent_bytes: 0,
                spawned_at: now,
                idle_since: now,
                reader: FrameReader::default(),
                line: Line::default(),
                kill: None,
                runs: 0,
                pace: None,
                paced: (now, 0),
                budget,
                memory_read_at: None,
                start_failure: None,
                retired: false,
            },
        );
    }

    pub(super) fn worker(&self, id: u32) -> Option<&Worker> {
        self.workers.get(&id)
    }

    pub(super) fn worker_mut(&mut self, id: u32) -> Option<&mut Worker> {
        self.workers.get_mut(&id)
    }

    pub(super) fn workers(&self) -> impl Iterator<Item = (u32, &Worker)> {
        self.workers.iter().map(|(&id, w)| (id, w))
    }

    pub(super) fn workers_mut(&mut self) -> impl Iterator<Item = (u32, &mut Worker)> {
        self.workers.iter_mut().map(|(&id, w)| (id, w))
    }

    pub(super) fn worker_ids(&self) -> Vec<u32> {
        self.workers.keys().copied().collect()
    }

    pub(super) fn has_workers(&self) -> bool {
        !self.workers.is_empty()
    }

    pub(super) fn run(&self, run: u64) -> Option<&Run> {
        self.runs.get(&run)
    }

    /// Runs in flight (running or sent ahead).
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The tasks of the runs in flight of `task_type`.
    pub(super) fn runs_of<'a>(&'a self, task_type: &'a str) -> impl Iterator<Item = &'a RunTask> {
        self.runs
            .values()
            .map(|r| &r.task)
            .filter(move |t| &*t.task_type == task_type)
    }

    /// The claim tokens of the persistent runs in flight.
    pub(super) fn claim_tokens(&self) -> Vec<String> {
        self.runs
            .values()
            .filter_map(|r| r.claim_token().map(str::to_owned))
            .collect()
    }

    /// Sends `task` to worker `id` (which must be there) as a new run,
    /// which starts now if the worker held nothing; its number.
    pub(super) fn assign(
        &mut self,
        id: u32,
        task: RunTask,
        rank: Rank,
        source: Source,
        start: &Start,
    ) -> Option<u64> {
        let w = self.workers.get_mut(&id)?;
        if let Some(budget) = &mut w.budget {
            *budget = budget.checked_sub(1)?;
        }
        self.next_run += 1;
        let run = self.next_run;
        w.line.push_run(run, &task.row);
        // Sent ahead, it starts (and says so) when the one before it ends.
        let starts_now = w.sent.is_empty();
        if starts_now {
            // Its pace counts from now, not from when it went idle.
            w.paced = (start.now, w.runs);
        }
        w.sent_bytes += task.row.len();
        w.sent.push_back(Sent {
            run,
            rank,
            recalling: false,
        });
        w.floor = Some(w.floor.map_or(rank, |floor| floor.min(rank)));
        let mut r = Run {
            worker: id,
            task,
            source,
            started: None,
            deadline: None,
            stop: None,
        };
        if starts_now {
            r.start(start, w.link.pid());
        }
        self.runs.insert(run, r);
        Some(run)
    }

    /// Stops `run` from outside (see `Stop`); its worker, to tell.
    pub(super) fn stop(&mut self, run: u64, stop: Stop) -> Option<u32> {
        let r = self.runs.get_mut(&run)?;
        r.stop = Some(stop);
        Some(r.worker)
    }

    /// Its worker is being stopped for `run`, a stopped run.
    pub(super) fn mark_killed(&mut self, run: u64) {
        if let Some(stop) = self.runs.get_mut(&run).and_then(|r| r.stop.as_mut()) {
            stop.killed = true;
        }
    }

    /// The first run in flight whose task `pick` chooses.
    pub(super) fn find_run(&self, pick: impl Fn(&Run) -> bool) -> Option<u64> {
        self.runs.iter().find(|(_, r)| pick(r)).map(|(&run, _)| run)
    }

    /// Starts `run`, now the first of its worker's queue.
    pub(super) fn start(&mut self, run: u64, start: &Start) {
        if let Some(r) = self.runs.get_mut(&run) {
            let pid = self.workers.get(&r.worker).map_or(0, |w| w.link.pid());
            r.start(start, pid);
        }
    }

    /// The pid of worker `id` (0 once it is gone).
    pub(super) fn pid(&self, id: u32) -> u32 {
        self.workers.get(&id).map_or(0, |w| w.link.pid())
    }

    /// Takes back `run`, which its worker never started: the worker may be
    /// sent another in its place.
    pub(super) fn take_back(&mut self, run: u64) -> Option<(Run, Option<u64>)> {
        let (r, next) = self.unassign(run)?;
        if let Some(budget) = self
            .workers
            .get_mut(&r.worker)
            .and_then(|w| w.budget.as_mut())
        {
            *budget += 1;
        }
        Some((r, next))
    }

    /// Forgets `run` and takes it off its worker. When it was the one
    /// running, the next one in that worker's queue starts now (the caller
    /// starts it): that next run is returned.
    pub(super) fn unassign(&mut self, run: u64) -> Option<(Run, Option<u64>)> {
        let r = self.runs.remove(&run)?;
        let Some(w) = self.workers.get_mut(&r.worker) else {
            return Some((r, None));
        };
        let was_running = w.sent.front().is_some_and(|s| s.run == run);
        if was_running {
            w.sent.pop_front();
        } else {
            w.sent.retain(|s| s.run != run);
        }
        w.sent_bytes = w.sent_bytes.saturating_sub(r.task.row.len());
        let next = match w.sent.front() {
            None => {
                w.idle_since = Instant::now();
                None
            }
            Some(next) if was_running => Some(next.run),
            Some(_) => None,
        };
        Some((r, next))
    }

    /// Asks live workers for the runs sent ahead (not the one running) that
    /// `best` outranks; each hands back those it has not started. A worker
    /// whose floor `best` does not outrank is not looked through.
    pub(super) fn recall_outranked(&mut self, best: Rank) {
        for w in self.workers.values_mut() {
            if !w.is_stopping() && w.floor.is_some_and(|floor| best > floor) {
                Self::recall_behind(w, Some(best));
            }
        }
    }

    /// Asks live workers for every run sent ahead (not the one running).
    pub(super) fn recall_all(&mut self) {
        for w in self.workers.values_mut() {
            if !w.is_stopping() {
                Self::recall_behind(w, None);
            }
        }
    }

    /// Retires worker `id`: what it was sent ahead is recalled, it gets
    /// nothing more.
    pub(super) fn retire(&mut self, id: u32) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.state = WorkerState::Retiring;
            w.retired = true;
            Self::recall_behind(w, None);
        }
    }

    /// Recalls `w`'s waiting runs that `best` outranks (all with `None`).
    fn recall_behind(w: &mut Worker, best: Option<Rank>) {
        let mut runs = Vec::new();
        let mut floor = None;
        for s in w.sent.iter_mut().skip(1) {
            if s.recalling {
                continue;
            }
            if best.is_none_or(|best| best > s.rank) {
                s.recalling = true;
                runs.push(s.run);
            } else {
                floor = Some(floor.map_or(s.rank, |f: Rank| f.min(s.rank)));
            }
        }
        w.floor = floor;
        if !runs.is_empty() {
            w.line.push(&ToWorker::Recall { runs });
        }
    }

    /// Runs sent ahead, waiting behind a running one, across the pool.
    pub(super) fn waiting_behind(&self) -> usize {
        self.workers.values().map(Worker::waiting_behind).sum()
    }

    pub(super) fn any_idle(&self) -> bool {
        self.workers.values().any(Worker::is_idle)
    }

    /// A live worker is idle while another holds runs it has not started
    /// and that are not being recalled (tasks of uneven length).
    pub(super) fn idle_beside_waiting(&self) -> bool {
        let live = || self.workers.values().filter(|w| w.is_live());
        live().any(|w| w.sent.is_empty())
            && live().any(|w| w.sent.iter().skip(1).any(|s| !s.recalling))
    }

    /// The live worker with the fewest runs, among those holding fewer
    /// than `room`, under `ahead_bytes` of rows unless empty, and with
    /// runs left to be sent.
    pub(super) fn least_loaded(&self, room: usize, ahead_bytes: usize) -> Option<u32> {
        self.workers
            .iter()
            .filter(|(_, w)| {
                w.is_live()
                    && w.budget != Some(0)
                    && w.sent.len() < room
                    && (w.sent.is_empty() || w.sent_bytes < ahead_bytes)
            })
            .min_by_key(|(_, w)| w.sent.len())
            .map(|(id, _)| *id)
    }

    /// Workers that hold a run (running it, or about to).
    pub(super) fn busy_workers(&self) -> usize {
        self.workers.values().filter(|w| !w.sent.is_empty()).count()
    }

    /// The runs worker `id` holds (0: what it is sent next starts at once).
    pub(super) fn held(&self, id: u32) -> usize {
        self.workers.get(&id).map_or(0, |w| w.sent.len())
    }

    /// What worker `id`'s exit means for its runs: `running` is the run it
    /// recorded as started last (`Link::running`).
    pub(super) fn exited(&self, id: u32, running: u64) -> Option<Exited> {
        let w = self.workers.get(&id)?;
        let lost = w.sent.iter().find(|s| s.run == running).map(|s| s.run);
        let unstarted = w
            .sent
            .iter()
            .map(|s| s.run)
            .filter(|&run| Some(run) != lost)
            .collect();
        Some(Exited { lost, unstarted })
    }

    /// Removes an exited worker, once its runs are handled, and reaps it.
    pub(super) fn remove(&mut self, id: u32) {
        if let Some(mut w) = self.workers.remove(&id) {
            debug_assert!(w.sent.is_empty(), "worker {id} removed with runs");
            w.link.reap();
        }
    }

    /// Asserts the invariant (see the module's comment); debug builds only.
    #[cfg(any(debug_assertions, test))]
    pub(super) fn check(&self) {
        let mut held = 0;
        for (id, w) in &self.workers {
            let mut bytes = 0;
            for (i, s) in w.sent.iter().enumerate() {
                let Some(r) = self.runs.get(&s.run) else {
                    panic!("run {} of worker {id} is not in runs", s.run);
                };
                assert_eq!(r.worker, *id, "run {} is held by another worker", s.run);
                assert!(
                    i == 0 || r.started.is_none(),
                    "run {} started behind another",
                    s.run
                );
                bytes += r.task.row.len();
                held += 1;
                if i > 0 && !s.recalling {
                    assert!(
                        w.floor.is_some_and(|floor| floor <= s.rank),
                        "run {} waits below worker {id}'s floor",
                        s.run
                    );
                }
            }
            assert_eq!(bytes, w.sent_bytes, "worker {id}'s sent_bytes");
        }
        assert_eq!(held, self.runs.len(), "a run in runs is held by no worker");
    }
}

#[cfg(test)]
mod tests;
