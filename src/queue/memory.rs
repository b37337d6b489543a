//! The in-memory priority queue: tasks in slots, the ready ones ordered by
//! `ReadySet` (O(log n) add and pull, O(1) for tasks that arrive in run
//! order; groups take turns; blocked types wait), due dates held in a heap
//! so the dispatcher can sleep until the next one (no polling).
//!
//! Running tasks stay in the queue with `onGoing` set until they finish, as
//! upstream's `TaskQueue.inMemory.tasks()` shows them.

use super::ready::ReadySet;
use crate::task::{RunOrder, Task};
use ahash::AHashMap as HashMap;
use std::cmp::Reverse;
use std::collections::{hash_map, BinaryHeap};
use std::sync::Arc;

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
    /// Live entries.
    len: usize,
    /// Slots by id, built on the first lookup by id (`get`, `remove`) and
    /// dropped when the queue empties: a queue that is only added to and
    /// run (ids the facade made, runs that name their `Place`) pays no
    /// hashing per task, and keeps no table of a burst's ids.
    by_id: Option<HashMap<Arc<str>, u32>>,
    ready: ReadySet<Place>,
    scheduled: BinaryHeap<Reverse<(i64, u64, u32)>>,
    next_seq: u64,
    /// Live entries in `ready` and `scheduled` (the heaps also hold removed ones).
    ready_count: usize,
    scheduled_count: usize,
}

/// The task `push` refused: another one has its id.
#[derive(Debug)]
pub(crate) struct DuplicateId(pub(crate) Box<Task>);

/// Why `push_all` queued nothing: the task at `index` has the id `id` of a
/// queued task or of one before it in the batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DuplicateAt {
    pub(crate) index: usize,
    pub(crate) id: Arc<str>,
}

/// Where a task taken to run stays: its slot, and its insertion number (a
/// slot another task took since holds another number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Place {
    slot: u32,
    seq: u64,
}

impl MemoryQueue {
    /// Queues `task`, unless a queued task has its id. The check is made
    /// where ids are indexed (after a lookup by id); ids the facade made
    /// (17 random characters, as Meteor's) are not checked until then.
    pub(crate) fn push(&mut self, task: Task, now: i64) -> Result<(), DuplicateId> {
        let slot = match self.free.last() {
            Some(&slot) => slot,
            None => self.slots.len() as u32,
        };
        if let Some(by_id) = &mut self.by_id {
            // One hash of the id, for the check and the insert.
            let hash_map::Entry::Vacant(vacant) = by_id.entry(task.id.clone()) else {
                return Err(DuplicateId(Box::new(task)));
            };
            vacant.insert(slot);
        }
        if self.free.pop().is_none() {
            self.slots.push(None);
        }
        self.len += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let state = if task.due_date <= now {
            push_ready(&mut self.ready, &task, Place { slot, seq });
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

    /// Queues `tasks`, all or none: when one has the id of a queued task or
    /// of one before it, none is queued. Every id is checked (which indexes
    /// them): these are requests, whose ids callers may choose. A series
    /// (`repeat`) already queued under its id stays as it is, and the
    /// series added again is not queued twice.
    /// Returns the types of the tasks it queued.
    pub(crate) fn push_all(
        &mut self,
        tasks: Vec<Task>,
        now: i64,
    ) -> Result<Vec<Arc<str>>, DuplicateAt> {
        let mut seen = std::collections::HashSet::new();
        let mut fresh = Vec::with_capacity(tasks.len());
        for (index, task) in tasks.into_iter().enumerate() {
            let queued = self.index().contains_key(&*task.id);
            if !seen.insert(task.id.clone()) || (queued && !task.is_series()) {
                return Err(DuplicateAt { index, id: task.id });
            }
            if !queued {
                fresh.push(task);
            }
        }
        let types = fresh.iter().map(|t| t.task_type.clone()).collect();
        for task in fresh {
            // Checked above: no id of these is queued.
            let _ = self.push(task, now);
        }
        Ok(types)
    }

    /// Moves every task due at `now` from the schedule to the ready heap.
    fn promote(&mut self, now: i64) {
        while let Some(Reverse((due, seq, slot))) = self.scheduled.peek().copied() {
            if due > now {
                break;
            }
            self.scheduled.pop();
            if let Some(entry) = live(&mut self.slots, slot, seq, State::Scheduled) {
                entry.state = State::Ready;
                push_ready(&mut self.ready, &entry.task, Place { slot, seq });
                self.scheduled_count -= 1;
                self.ready_count += 1;
            }
        }
    }

    /// The next task to run at `now` (for a worker that holds `held`
    /// runs), now marked as running, with its rank and its place (which
    /// its run names to complete or requeue it).
    pub(crate) fn take_next(&mut self, now: i64, held: usize) -> Option<(&Task, RunOrder, Place)> {
        self.promote(now);
        let slots = &self.slots;
        let (order, place) = self.ready.pop(held, |p| is_ready(slots, p))?;
        self.ready_count -= 1;
        let entry = self.slots[place.slot as usize].as_mut()?;
        entry.state = State::Running;
        Some((&entry.task, order, place))
    }

    /// The rank of the task `take_next` would return at `now`, for an idle worker.
    pub(crate) fn peek_next(&mut self, now: i64) -> Option<RunOrder> {
        self.promote(now);
        let slots = &self.slots;
        self.ready
            .peek(0, |p| is_ready(slots, p))
            .map(|(order, _)| order)
    }

    /// The ready tasks, by type and group: to block and unblock them.
    pub(crate) fn ready_set(&mut self) -> &mut ReadySet<Place> {
        &mut self.ready
    }

    /// The slots by id, built now if they were not.
    fn index(&mut self) -> &mut HashMap<Arc<str>, u32> {
        let slots = &self.slots;
        self.by_id.get_or_insert_with(|| {
            (0..)
                .zip(slots)
                .filter_map(|(slot, e)| Some((e.as_ref()?.task.id.clone(), slot)))
                .collect()
        })
    }

    /// The running task at `place`; `None` if it is gone (removed, and
    /// perhaps added again: another number) or not running.
    fn running(&mut self, place: Place) -> Option<&mut Entry> {
        live(&mut self.slots, place.slot, place.seq, State::Running)
    }

    /// Puts a running task back as it was before `take_next` (same rank), as
    /// when a worker hands back a task it had not started; `false` if it is gone.
    pub(crate) fn requeue(&mut self, place: Place) -> bool {
        let Some(entry) = live(&mut self.slots, place.slot, place.seq, State::Running) else {
            return false;
        };
        entry.state = State::Ready;
        push_ready(&mut self.ready, &entry.task, place);
        self.ready_count += 1;
        true
    }

    /// The running task at `place` reported progress (JSON).
    pub(crate) fn set_progress(&mut self, place: Place, json: &str) {
        if let Some(entry) = self.running(place) {
            entry.task.progress = Some(json.into());
        }
    }

    /// Puts a running task back, to run at `due` after `failures` failed
    /// attempts (a retry, or the next run of a series; `slot` as
    /// `Task::slot`); `false` if it is gone.
    pub(crate) fn requeue_at(
        &mut self,
        place: Place,
        due: i64,
        failures: u32,
        slot: Option<i64>,
    ) -> bool {
        let Some(entry) = self.running(place) else {
            return false;
        };
        let at = place.slot;
        entry.task.due_date = due;
        entry.task.failures = failures;
        entry.task.slot = slot;
        entry.task.progress = None;
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
        self.len -= 1;
        if self.len == 0 {
            self.by_id = None;
        } else if let Some(by_id) = &mut self.by_id {
            by_id.remove(&*entry.task.id);
        }
        Some(entry)
    }

    /// Removes a finished task and returns it, if it is still there (not
    /// removed while it ran).
    pub(crate) fn complete(&mut self, place: Place) -> Option<Task> {
        self.running(place)?;
        self.take_slot(place.slot).map(|e| e.task)
    }

    /// Removes a task in any state; it and whether it was running.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(Task, bool)> {
        let slot = *self.index().get(id)?;
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
    pub(crate) fn get(&mut self, id: &str) -> Option<(&Task, bool)> {
        let slot = *self.index().get(id)?;
        let entry = self.slots.get(slot as usize)?.as_ref()?;
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
            if live(&mut self.slots, slot, seq, State::Scheduled).is_some() {
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
        self.len == 0
    }
}

fn push_ready(ready: &mut ReadySet<Place>, task: &Task, place: Place) {
    ready.push(
        &task.task_type,
        task.group.as_ref(),
        RunOrder::of(task, place.seq),
        place,
    );
}

/// The entry a heap names, if it is still that task and in `state`.
fn live(slots: &mut [Option<Entry>], slot: u32, seq: u64, state: State) -> Option<&mut Entry> {
    slots
        .get_mut(slot as usize)?
        .as_mut()
        .filter(|e| e.seq == seq && e.state == state)
}

/// Whether `place` is still the ready task it was.
fn is_ready(slots: &[Option<Entry>], place: Place) -> bool {
    slots
        .get(place.slot as usize)
        .and_then(Option::as_ref)
        .is_some_and(|e| e.seq == place.seq && e.state == State::Ready)
}

#[cfg(test)]
mod tests;
