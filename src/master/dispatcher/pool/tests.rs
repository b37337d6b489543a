use super::*;
use crate::channel::ring::Corrupt;
use crate::log::{Level, Logger};
use crate::master::metrics::Queue;
use crate::queue::memory::MemoryQueue;
use crate::sys::Signal;
use crate::task::Task;
use crate::wire::framing;
use std::collections::VecDeque;

/// A link that takes every line and has nothing to say.
struct Quiet;

impl framing::Source for Quiet {
    fn read(&mut self, _out: &mut Vec<u8>, _max: usize) -> Result<usize, Corrupt> {
        Ok(0)
    }
}

impl Link for Quiet {
    fn pid(&self) -> u32 {
        1
    }
    fn take_js_fd(&mut self) -> Option<i32> {
        None
    }
    fn send(&mut self, _chunks: Vec<bytes::Bytes>) {}
    fn written(&mut self) {}
    fn arm(&self, _lazy: bool) -> bool {
        true
    }
    fn running(&self) -> u64 {
        0
    }
    fn signal(&self, _signal: Signal) {}
    fn reap(&mut self) {}
    fn stderr_tail(&self) -> String {
        String::new()
    }
    fn rss_bytes(&self) -> Option<u64> {
        None
    }
}

/// A run of a task whose row is `bytes` long, from a memory queue (the
/// pool does not look at where its tasks come from).
fn run_task(
    queue: &mut MemoryQueue,
    n: u64,
    bytes: usize,
    priority: i64,
) -> (RunTask, Rank, Source) {
    let task = Task {
        id: format!("t{n}").into(),
        task_type: "T".into(),
        priority,
        data: format!("{{\"p\":\"{}\"}}", "x".repeat(bytes)).into(),
        ..Task::default()
    };
    queue
        .push(task, 0)
        .unwrap_or_else(|_| unreachable!("ids are distinct"));
    let (task, order, place) = queue.take_next(0, 0).expect("a task was just queued");
    let rank = Rank {
        in_memory: true,
        order,
    };
    (
        RunTask::of(task, Queue::Memory, None),
        rank,
        Source::Memory(place),
    )
}

#[test]
fn every_run_is_held_by_exactly_one_worker_through_any_mix_of_sends_ends_recalls_and_exits() {
    // A seeded walk against a model (each worker's queue of run numbers):
    // runs sent to workers, the first of a queue ending (which starts the
    // next), runs behind it taken back, recalls, workers exiting with what
    // they held, new workers. After each step the pool's invariant holds
    // and the pool agrees with the model.
    let logger = Logger::new(Level::Error);
    let mut queue = MemoryQueue::default();
    let mut pool = Pool::default();
    let mut model: BTreeMap<u32, VecDeque<u64>> = BTreeMap::new();
    let now = Instant::now();
    let start = Start {
        now,
        default_timeout: None,
        logger: &logger,
    };
    let (mut seed, mut tasks) = (0x9e37_79b9_u64, 0u64);
    let mut next = move |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for step in 0..20_000 {
        let ids: Vec<u32> = model.keys().copied().collect();
        let pick = |r: u64| ids[r as usize % ids.len()];
        match next(11) {
            // A worker starts (a few at most), and is soon ready.
            0 if model.len() < 4 => {
                let id = pool.next_worker_id();
                pool.add_worker(id, Box::new(Quiet), now, None);
                pool.worker_mut(id).unwrap().state = WorkerState::Ready;
                model.insert(id, VecDeque::new());
            }
            1..=4 if !ids.is_empty() => {
                let id = pick(next(64));
                tasks += 1;
                let (task, rank, source) =
                    run_task(&mut queue, tasks, next(300) as usize, next(4) as i64);
                let run = pool.assign(id, task, rank, source, &start).unwrap();
                model.get_mut(&id).unwrap().push_back(run);
            }
            // The first run of a worker ends; the next one starts.
            5 | 6 if !ids.is_empty() => {
                let id = pick(next(64));
                if let Some(run) = model.get_mut(&id).unwrap().pop_front() {
                    let (r, following) = pool.unassign(run).unwrap();
                    assert_eq!(r.worker, id);
                    assert_eq!(following, model[&id].front().copied());
                    if let Some(following) = following {
                        pool.start(following, &start);
                    }
                }
            }
            // A run behind the first is handed back (a recall answered).
            7 if !ids.is_empty() => {
                let id = pick(next(64));
                let held = model.get_mut(&id).unwrap();
                if held.len() > 1 {
                    let at = 1 + next(held.len() as u64 - 1) as usize;
                    let run = held.remove(at).unwrap();
                    let (_, following) = pool.unassign(run).unwrap();
                    assert_eq!(following, None, "a run behind the first starts nothing");
                }
            }
            8 if !ids.is_empty() => pool.recall_all(),
            // A better task waits: every run it outranks is recalled.
            10 if !ids.is_empty() => {
                tasks += 1;
                let (_, best, _) = run_task(&mut queue, tasks, 1, next(4) as i64);
                pool.recall_outranked(best);
                for w in pool.workers.values() {
                    for s in w.sent.iter().skip(1).filter(|s| !s.recalling) {
                        assert!(s.rank >= best, "run {} is outranked and kept", s.run);
                    }
                }
            }
            // A worker exits: its first run is lost, the others go back.
            9 if !ids.is_empty() => {
                let id = pick(next(64));
                let held = model.remove(&id).unwrap();
                let running = held.front().copied().unwrap_or(0);
                let exited = pool.exited(id, running).unwrap();
                assert_eq!(exited.lost, held.front().copied());
                assert_eq!(
                    exited.unstarted,
                    held.iter().skip(1).copied().collect::<Vec<_>>()
                );
                for run in exited.unstarted.into_iter().chain(exited.lost) {
                    pool.unassign(run).unwrap();
                }
                pool.remove(id);
            }
            _ => {}
        }
        pool.check();
        let held: usize = model.values().map(VecDeque::len).sum();
        assert_eq!(pool.runs(), held, "step {step}");
        assert_eq!(
            pool.waiting_behind(),
            model
                .values()
                .map(|q| q.len().saturating_sub(1))
                .sum::<usize>()
        );
        for (id, q) in &model {
            assert_eq!(pool.worker(*id).unwrap().front(), q.front().copied());
        }
    }
    assert!(tasks > 5_000, "the walk sent runs");
}

#[test]
#[should_panic(expected = "is held by no worker")]
fn check_finds_a_run_its_worker_does_not_hold() {
    let logger = Logger::new(Level::Error);
    let mut queue = MemoryQueue::default();
    let mut pool = Pool::default();
    let now = Instant::now();
    let id = pool.next_worker_id();
    pool.add_worker(id, Box::new(Quiet), now, None);
    let (task, rank, source) = run_task(&mut queue, 1, 10, 0);
    let start = Start {
        now,
        default_timeout: None,
        logger: &logger,
    };
    pool.assign(id, task, rank, source, &start).unwrap();
    // What only `unassign` may do, done halfway.
    pool.workers.get_mut(&id).unwrap().sent.clear();
    pool.workers.get_mut(&id).unwrap().sent_bytes = 0;
    pool.check();
}
