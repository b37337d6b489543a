//! The in-memory priority queue: O(log n) add and pull (O(1) for tasks that
//! arrive in run order), due dates held in a second heap so the dispatcher
//! can sleep until the next one (no polling).
//!
//! Running tasks stay in the queue with `onGoing` set until they finish, as
//! upstream's `TaskQueue.inMemory.tasks()` shows them.

use crate::task::{RunOrder, Task};
use ahash::AHashMap as HashMap;
use std::cmp::Reverse;
use std::collections::{hash_map, BinaryHeap, VecDeque};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Scheduled,
    Ready,
    Running,
}

struct Entry {
    task: Task,
    seq: u64,
    state: State,
}

#[derive(Default)]
pub(crate) struct MemoryQueue {
    /// Every task, in slots reused once free (no hashing or moving per
    /// task). The heaps name a task by slot and insertion number: a slot
    /// that now holds another number, or nothing, was removed, and the
    /// heaps skip it lazily.
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    /// Ready tasks: `in_order` holds those that arrived in run order (each
    /// after the one before it: the usual burst of equal priority), best
    /// first, so most are taken without a heap's pop; `ready` the others.
    in_order: VecDeque<(RunOrder, u32)>,
    ready: BinaryHeap<(RunOrder, u32)>,
    scheduled: BinaryHeap<Reverse<(i64, u64, u32)>>,
    next_seq: u64,
    /// Live entries in `ready` and `scheduled` (the heaps also hold removed ones).
    ready_count: usize,
    scheduled_count: usize,
}

/// The task `push` refused: another one has its id.
#[derive(Debug)]
pub(crate) struct DuplicateId(pub(crate) Box<Task>);

impl MemoryQueue {
    pub(crate) fn push(&mut self, task: Task, now: i64) -> Result<(), DuplicateId> {
        // One hash of the id, for the check and the insert.
        let hash_map::Entry::Vacant(vacant) = self.by_id.entry(task.id.clone()) else {
            return Err(DuplicateId(Box::new(task)));
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        vacant.insert(slot);
        let state = if task.due_date <= now {
            self.push_ready(RunOrder::of(&task, seq), slot);
            self.ready_count += 1;
            State::Ready
        } else {
            self.scheduled.push(Reverse((task.due_date, seq, slot)));
            self.scheduled_count += 1;
            State::Scheduled
        };
        self.slots[slot as usize] = Some(Entry { task, seq, state });
        Ok(())
    }

    fn push_ready(&mut self, order: RunOrder, slot: u32) {
        match self.in_order.back() {
            Some(&(last, _)) if order > last => self.ready.push((order, slot)),
            _ => self.in_order.push_back((order, slot)),
        }
    }

    /// The best ready entry (removed tasks' included).
    fn peek_ready(&self) -> Option<(RunOrder, u32)> {
        match (self.in_order.front(), self.ready.peek()) {
            (Some(&a), Some(&b)) => Some(a.max(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    fn pop_ready(&mut self) -> Option<(RunOrder, u32)> {
        let best = self.peek_ready()?;
        if self.in_order.front() == Some(&best) {
            self.in_order.pop_front()
        } else {
            self.ready.pop()
        }
    }

    /// The entry a heap names, if it is still that task and in `state`.
    fn live(&mut self, slot: u32, seq: u64, state: State) -> Option<&mut Entry> {
        self.slots
            .get_mut(slot as usize)?
            .as_mut()
            .filter(|e| e.seq == seq && e.state == state)
    }

    /// Moves every task due at `now` from the schedule to the ready heap.
    fn promote(&mut self, now: i64) {
        while let Some(Reverse((due, seq, slot))) = self.scheduled.peek().copied() {
            if due > now {
                break;
            }
            self.scheduled.pop();
            if let Some(entry) = self.live(slot, seq, State::Scheduled) {
                entry.state = State::Ready;
                let order = RunOrder::of(&entry.task, seq);
                self.push_ready(order, slot);
                self.scheduled_count -= 1;
                self.ready_count += 1;
            }
        }
    }

    /// The next task to run at `now`, now marked as running, with its rank.
    pub(crate) fn take_next(&mut self, now: i64) -> Option<(&Task, RunOrder)> {
        self.promote(now);
        while let Some((order, slot)) = self.pop_ready() {
            if self.live(slot, order.seq, State::Ready).is_none() {
                continue;
            }
            self.ready_count -= 1;
            let entry = self.slots[slot as usize].as_mut()?;
            entry.state = State::Running;
            return Some((&entry.task, order));
        }
        None
    }

    /// The rank of the task `take_next` would return at `now`.
    pub(crate) fn peek_next(&mut self, now: i64) -> Option<RunOrder> {
        self.promote(now);
        while let Some((order, slot)) = self.peek_ready() {
            if self.live(slot, order.seq, State::Ready).is_some() {
                return Some(order);
            }
            self.pop_ready();
        }
        None
    }

    /// A running task's slot and entry; `None` if it is gone or not running.
    fn running(&mut self, id: &str) -> Option<(u32, &mut Entry)> {
        let slot = *self.by_id.get(id)?;
        let entry = self.slots.get_mut(slot as usize)?.as_mut()?;
        (entry.state == State::Running).then_some((slot, entry))
    }

    /// Puts a running task back as it was before `take_next` (same rank), as
    /// when a worker hands back a task it had not started; `false` if it is gone.
    pub(crate) fn requeue(&mut self, id: &str) -> bool {
        let Some((slot, entry)) = self.running(id) else {
            return false;
        };
        entry.state = State::Ready;
        let order = RunOrder::of(&entry.task, entry.seq);
        self.push_ready(order, slot);
        self.ready_count += 1;
        true
    }

    /// Puts a running task back, to run at `due` after `failures` failed
    /// attempts (a retry, or the next run of a series; `slot` as
    /// `Task::slot`); `false` if it is gone.
    pub(crate) fn requeue_at(
        &mut self,
        id: &str,
        due: i64,
        failures: u32,
        slot: Option<i64>,
    ) -> bool {
        let Some((at, entry)) = self.running(id) else {
            return false;
        };
        entry.task.due_date = due;
        entry.task.failures = failures;
        entry.task.slot = slot;
        entry.state = State::Scheduled;
        let seq = entry.seq;
        self.scheduled.push(Reverse((due, seq, at)));
        self.scheduled_count += 1;
        true
    }

    /// Frees `slot`; its entry.
    fn take_slot(&mut self, slot: u32) -> Option<Entry> {
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some(entry)
    }

    /// Removes a finished task and returns it, if it is still queued.
    pub(crate) fn complete(&mut self, id: &str) -> Option<Task> {
        // One lookup on the hot path; the id goes back only when it now
        // names another task (removed and added again while this one ran).
        let slot = self.by_id.remove(id)?;
        if self.slots[slot as usize]
            .as_ref()
            .is_some_and(|e| e.state == State::Running)
        {
            return self.take_slot(slot).map(|e| e.task);
        }
        self.by_id.insert(id.to_owned(), slot);
        None
    }

    /// Removes a task in any state; it and whether it was running.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(Task, bool)> {
        let slot = self.by_id.remove(id)?;
        let entry = self.take_slot(slot)?;
        match entry.state {
            State::Ready => self.ready_count -= 1,
            State::Scheduled => self.scheduled_count -= 1,
            State::Running => {}
        }
        Some((entry.task, entry.state == State::Running))
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flatten()
    }

    /// The task and whether it is running.
    pub(crate) fn get(&self, id: &str) -> Option<(&Task, bool)> {
        let entry = self.slots.get(*self.by_id.get(id)? as usize)?.as_ref()?;
        Some((&entry.task, entry.state == State::Running))
    }

    /// Every task, in insertion order, with whether it is running.
    pub(crate) fn all(&self) -> Vec<(&Task, bool)> {
        let mut entries: Vec<&Entry> = self.entries().collect();
        entries.sort_by_key(|e| e.seq);
        entries
            .iter()
            .map(|e| (&e.task, e.state == State::Running))
            .collect()
    }

    /// Tasks that could start at `now`, in run order.
    pub(crate) fn available(&self, now: i64) -> Vec<&Task> {
        let mut due: Vec<&Entry> = self
            .entries()
            .filter(|e| e.state != State::Running && e.task.due_date <= now)
            .collect();
        due.sort_by_key(|e| Reverse(RunOrder::of(&e.task, e.seq)));
        due.iter().map(|e| &e.task).collect()
    }

    /// How many tasks could start at `now`.
    pub(crate) fn available_count(&mut self, now: i64) -> usize {
        self.promote(now);
        self.ready_count
    }

    /// When the earliest scheduled task becomes due.
    pub(crate) fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, seq, slot))) = self.scheduled.peek().copied() {
            if self.live(slot, seq, State::Scheduled).is_some() {
                return Some(due);
            }
            self.scheduled.pop();
        }
        None
    }

    /// Tasks queued and not running (due or scheduled).
    pub(crate) fn waiting(&self) -> usize {
        self.ready_count + self.scheduled_count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, priority: i64, created_at: i64, due_date: i64) -> Task {
        Task {
            id: id.into(),
            task_type: "T".into(),
            priority,
            created_at,
            due_date,
            data: "{}".into(),
            ..Task::default()
        }
    }

    fn drain(q: &mut MemoryQueue, now: i64) -> Vec<String> {
        let mut out = vec![];
        while let Some((t, _)) = q.take_next(now) {
            out.push(t.id.clone());
        }
        out
    }

    #[test]
    fn runs_by_priority_then_age_then_insertion() {
        let mut q = MemoryQueue::default();
        q.push(task("low", 1, 0, 0), 0).unwrap();
        q.push(task("high-new", 8, 5, 0), 0).unwrap();
        q.push(task("high-old", 8, 1, 0), 0).unwrap();
        q.push(task("high-old-2", 8, 1, 0), 0).unwrap();
        q.push(task("mid", 3, 0, 0), 0).unwrap();
        assert_eq!(
            drain(&mut q, 0),
            ["high-old", "high-old-2", "high-new", "mid", "low"]
        );
    }

    #[test]
    fn scheduled_tasks_wait_for_their_due_date() {
        let mut q = MemoryQueue::default();
        q.push(task("later", 9, 0, 100), 0).unwrap();
        q.push(task("now", 1, 0, 0), 0).unwrap();
        assert_eq!(q.next_due(), Some(100));
        assert_eq!(drain(&mut q, 50), ["now"]);
        assert_eq!(q.available_count(99), 0);
        assert_eq!(q.available_count(100), 1);
        assert_eq!(drain(&mut q, 100), ["later"]);
        assert_eq!(q.next_due(), None);
    }

    #[test]
    fn due_tasks_are_ordered_together_with_ready_ones() {
        let mut q = MemoryQueue::default();
        q.push(task("sched-high", 5, 0, 10), 0).unwrap();
        q.push(task("ready-low", 1, 0, 0), 0).unwrap();
        assert_eq!(drain(&mut q, 20), ["sched-high", "ready-low"]);
    }

    #[test]
    fn running_tasks_stay_visible_until_completed() {
        let mut q = MemoryQueue::default();
        q.push(task("a", 1, 0, 0), 0).unwrap();
        q.take_next(0);
        assert_eq!(q.get("a").map(|(_, on_going)| on_going), Some(true));
        assert!(q.available(0).is_empty());
        assert_eq!(q.waiting(), 0);
        assert_eq!(q.complete("a").map(|t| t.id), Some("a".to_owned()));
        assert!(q.is_empty());
    }

    #[test]
    fn removed_tasks_never_run_and_ids_are_unique() {
        let mut q = MemoryQueue::default();
        q.push(task("a", 1, 0, 0), 0).unwrap();
        q.push(task("b", 1, 0, 50), 0).unwrap();
        assert!(matches!(q.push(task("a", 1, 0, 0), 0), Err(DuplicateId(t)) if t.id == "a"));
        assert_eq!(
            q.remove("a").map(|(t, running)| (t.id, running)),
            Some(("a".to_owned(), false))
        );
        assert!(q.remove("b").is_some());
        assert!(q.remove("a").is_none());
        assert_eq!(q.next_due(), None);
        assert!(drain(&mut q, 100).is_empty());
        assert_eq!(q.waiting(), 0);
        q.push(task("a", 1, 0, 0), 0).unwrap();
        assert_eq!(drain(&mut q, 0), ["a"]);
    }

    #[test]
    fn takes_follow_run_order_through_any_mix_of_adds_removals_and_requeues() {
        // A seeded walk against a model (a plain list sorted on each take):
        // in-order bursts, older and higher-priority tasks cutting in,
        // removals, and runs handed back.
        let mut q = MemoryQueue::default();
        let mut model: Vec<(RunOrder, String)> = Vec::new();
        let mut running: Vec<(RunOrder, String)> = Vec::new();
        let (mut seed, mut clock, mut n) = (0x2545_f491_u64, 1_000, 0u64);
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..5_000 {
            match next(10) {
                0..=4 => {
                    let priority = [1, 1, 1, 2, 0][next(5) as usize];
                    let created = if next(4) == 0 { clock - 50 } else { clock };
                    clock += next(2) as i64;
                    let id = format!("t{n}");
                    q.push(task(&id, priority, created, 0), 0).unwrap();
                    // `push` numbers tasks in the order they come.
                    let order = RunOrder {
                        priority,
                        created_at: created,
                        seq: n,
                    };
                    model.push((order, id));
                    n += 1;
                }
                5..=7 => {
                    model.sort();
                    let expected = model.pop();
                    let taken = q.take_next(0).map(|(t, order)| (order, t.id.clone()));
                    assert_eq!(taken, expected);
                    running.extend(taken);
                }
                8 if !model.is_empty() => {
                    let (_, id) = model.swap_remove(next(model.len() as u64) as usize);
                    assert!(q.remove(&id).is_some());
                }
                _ if !running.is_empty() => {
                    let back = running.swap_remove(next(running.len() as u64) as usize);
                    assert!(q.requeue(&back.1));
                    model.push(back);
                }
                _ => {}
            }
            assert_eq!(q.waiting(), model.len());
        }
    }

    #[test]
    fn completing_a_run_whose_task_was_removed_and_added_again_keeps_the_new_one() {
        let mut q = MemoryQueue::default();
        q.push(task("a", 1, 0, 0), 0).unwrap();
        q.take_next(0);
        assert!(q.remove("a").is_some());
        q.push(task("a", 1, 0, 0), 0).unwrap();
        assert!(q.complete("a").is_none(), "the new a has not run");
        assert_eq!(q.get("a").map(|(_, running)| running), Some(false));
        assert_eq!(drain(&mut q, 0), ["a"]);
        assert!(q.complete("a").is_some());
        assert!(q.is_empty());
    }

    #[test]
    fn a_reused_slot_is_not_mistaken_for_the_task_that_left_it() {
        let mut q = MemoryQueue::default();
        // "gone" leaves entries in both heaps; "new" and "later" take its
        // slot (and then another's) while those entries are still there.
        q.push(task("gone", 9, 0, 0), 0).unwrap();
        q.push(task("gone-later", 9, 0, 10), 0).unwrap();
        q.remove("gone").unwrap();
        q.remove("gone-later").unwrap();
        q.push(task("new", 1, 0, 0), 0).unwrap();
        q.push(task("later", 1, 0, 30), 0).unwrap();
        assert_eq!(q.next_due(), Some(30));
        assert_eq!(q.waiting(), 2);
        assert_eq!(drain(&mut q, 20), ["new"]);
        assert_eq!(drain(&mut q, 30), ["later"]);
        assert_eq!(q.waiting(), 0);
        // A requeued task runs again once, from its new heap entry only.
        assert!(q.requeue("later"));
        assert_eq!(drain(&mut q, 30), ["later"]);
        assert!(q.complete("later").is_some() && q.complete("new").is_some());
        assert!(q.is_empty());
    }

    #[test]
    fn a_requeued_task_keeps_its_place() {
        let mut q = MemoryQueue::default();
        q.push(task("a", 5, 0, 0), 0).unwrap();
        q.push(task("b", 1, 0, 0), 0).unwrap();
        let (first, rank) = q.take_next(0).map(|(t, o)| (t.id.clone(), o)).unwrap();
        assert_eq!(first, "a");
        q.push(task("c", 3, 0, 0), 0).unwrap();
        assert!(q.peek_next(0).unwrap() < rank);
        assert!(q.requeue("a"));
        assert!(!q.requeue("a"), "only a running task can be requeued");
        assert_eq!(q.peek_next(0), Some(rank));
        assert_eq!(drain(&mut q, 0), ["a", "c", "b"]);
    }

    #[test]
    fn listings_follow_insertion_and_run_order() {
        let mut q = MemoryQueue::default();
        q.push(task("a", 1, 0, 0), 0).unwrap();
        q.push(task("b", 5, 0, 0), 0).unwrap();
        q.push(task("c", 9, 0, 99), 0).unwrap();
        let all: Vec<_> = q.all().iter().map(|(t, _)| t.id.clone()).collect();
        assert_eq!(all, ["a", "b", "c"]);
        let avail: Vec<_> = q.available(10).iter().map(|t| t.id.clone()).collect();
        assert_eq!(avail, ["b", "a"]);
    }
}
