//! Ready tasks, by type and group: which starts next.
//!
//! Across task types the order is upstream's (`RunOrder`: priority, then
//! age). Within a type, groups (`addTask({ group })`; tasks without one
//! form a group of their own) take turns at equal priority: start-time
//! fair queuing, where each group counts the tasks it started and the group
//! that started fewest goes first; a group that appears (or comes back)
//! starts level with the last one served, so it gets its turn at once but
//! no credit for the time it was away. A type with one group is therefore
//! in plain run order, as before groups existed.
//!
//! A type or a group can be blocked (its limit is reached): its tasks stay
//! and are skipped, and other types and groups run. A type can also be
//! held for idle workers (a rate limit: its start must follow its send),
//! and a type with named groups is sent at most `GROUPED_AHEAD` deep, so
//! a group that arrives later does not wait behind runs sent ahead.
//!
//! The owner names tasks by a handle `H` and may drop them without telling
//! this set: `pop` and `peek` ask `live(handle)` and skip those that are
//! gone. Heaps hold versioned keys, and a stale key is skipped when met.

use crate::task::RunOrder;
use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

/// Runs a worker may hold before it is sent a task of a type with groups.
const GROUPED_AHEAD: usize = 2;

/// A group's name; `None` for the tasks added without one.
pub(crate) type GroupName = Option<Arc<str>>;

/// The order of the groups of one type: priority first, then the fewest
/// started, then the older head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    priority: i64,
    started: Reverse<u64>,
    head: RunOrder,
}

struct Group<H> {
    name: GroupName,
    /// Tasks that arrived in run order (the usual burst), best first; the others in `heap`.
    in_order: VecDeque<(RunOrder, H)>,
    heap: BinaryHeap<(RunOrder, H)>,
    started: u64,
    version: u32,
    /// The key of its valid entry in its type's `heads`, if it has one.
    advertised: Option<GroupKey>,
    blocked: bool,
}

impl<H: Copy + Ord> Group<H> {
    fn head(&self) -> Option<(RunOrder, H)> {
        match (self.in_order.front(), self.heap.peek()) {
            (Some(&a), Some(&b)) => Some(a.max(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    fn pop_head(&mut self) -> Option<(RunOrder, H)> {
        let head = self.head()?;
        if self.in_order.front() == Some(&head) {
            self.in_order.pop_front()
        } else {
            self.heap.pop()
        }
    }

    fn push(&mut self, order: RunOrder, handle: H) {
        match self.in_order.back() {
            Some(&(last, _)) if order > last => self.heap.push((order, handle)),
            _ => self.in_order.push_back((order, handle)),
        }
    }

    fn is_empty(&self) -> bool {
        self.in_order.is_empty() && self.heap.is_empty()
    }

    fn key(&self) -> Option<GroupKey> {
        self.head().map(|(head, _)| GroupKey {
            priority: head.priority,
            started: Reverse(self.started),
            head,
        })
    }
}

struct Type<H> {
    name: Arc<str>,
    /// Groups in slots (freed when a group empties).
    groups: Vec<Option<Group<H>>>,
    free: Vec<u32>,
    /// The slot of the group without a name, looked up without hashing.
    unnamed: Option<u32>,
    named: HashMap<Arc<str>, u32>,
    /// Groups blocked, kept while they have no task too.
    blocked_groups: HashSet<GroupName>,
    heads: BinaryHeap<(GroupKey, u32, u32)>,
    /// The `started` count of the last group served: where a new group starts.
    level: u64,
    version: u32,
    /// The head order of its valid entry in `top`, if it has one.
    advertised: Option<RunOrder>,
    blocked: bool,
    idle_only: bool,
    /// It had a named group (so groups may come and take turns).
    grouped: bool,
}

impl<H: Copy + Ord> Type<H> {
    fn new(name: Arc<str>) -> Self {
        Type {
            name,
            groups: Vec::new(),
            free: Vec::new(),
            unnamed: None,
            named: HashMap::new(),
            blocked_groups: HashSet::new(),
            heads: BinaryHeap::new(),
            level: 0,
            version: 0,
            advertised: None,
            blocked: false,
            idle_only: false,
            grouped: false,
        }
    }

    /// Whether a worker that holds `held` runs may be sent one of these.
    fn fits(&self, held: usize) -> bool {
        held == 0 || (!self.idle_only && (!self.grouped || held < GROUPED_AHEAD))
    }

    fn slot_of(&self, group: Option<&str>) -> Option<u32> {
        match group {
            None => self.unnamed,
            Some(name) => self.named.get(name).copied(),
        }
    }

    /// The group's slot, made now (level with the last served) if it has none.
    fn group_slot(&mut self, group: Option<&Arc<str>>) -> u32 {
        if let Some(slot) = self.slot_of(group.map(|g| &**g)) {
            return slot;
        }
        let name: GroupName = group.cloned();
        let made = Group {
            blocked: self.blocked_groups.contains(&name),
            name: name.clone(),
            in_order: VecDeque::new(),
            heap: BinaryHeap::new(),
            started: self.level,
            version: 0,
            advertised: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.groups[slot as usize] = Some(made);
                slot
            }
            None => {
                self.groups.push(Some(made));
                (self.groups.len() - 1) as u32
            }
        };
        match name {
            None => self.unnamed = Some(slot),
            Some(name) => {
                self.named.insert(name, slot);
            }
        }
        slot
    }

    fn group(&mut self, slot: u32) -> &mut Group<H> {
        self.groups[slot as usize]
            .as_mut()
            .expect("a slot in `heads` or an index holds a group")
    }

    fn drop_group(&mut self, slot: u32) {
        if let Some(group) = self.groups[slot as usize].take() {
            match group.name {
                None => self.unnamed = None,
                Some(name) => {
                    self.named.remove(&name);
                }
            }
            self.free.push(slot);
        }
    }

    /// Puts the group's current key in `heads` when it changed.
    fn advertise(&mut self, slot: u32) {
        let group = self.group(slot);
        if group.blocked {
            return;
        }
        let key = group.key();
        if key == group.advertised {
            return;
        }
        group.version = group.version.wrapping_add(1);
        group.advertised = key;
        let version = group.version;
        if let Some(key) = key {
            self.heads.push((key, slot, version));
        }
    }

    /// The group that goes next and its head, live: stale keys, blocked
    /// groups and tasks that are gone are cleared on the way.
    fn next(&mut self, live: &mut impl FnMut(H) -> bool) -> Option<(u32, RunOrder, H)> {
        loop {
            let &(key, slot, version) = self.heads.peek()?;
            let Some(group) = self.groups[slot as usize].as_mut() else {
                self.heads.pop();
                continue;
            };
            if group.version != version || group.blocked {
                self.heads.pop();
                if group.version == version {
                    group.advertised = None;
                }
                continue;
            }
            while let Some((_, handle)) = group.head() {
                if live(handle) {
                    break;
                }
                group.pop_head();
            }
            if group.is_empty() {
                self.heads.pop();
                self.drop_group(slot);
                continue;
            }
            if group.key() != Some(key) {
                self.heads.pop();
                group.advertised = None;
                self.advertise(slot);
                continue;
            }
            let (order, handle) = group.head()?;
            return Some((slot, order, handle));
        }
    }

    /// Takes the head of group `slot` (its turn counted).
    fn take(&mut self, slot: u32) {
        self.heads.pop();
        let group = self.group(slot);
        group.pop_head();
        group.advertised = None;
        let level = group.started;
        group.started += 1;
        self.level = level;
        if self.group(slot).is_empty() {
            self.drop_group(slot);
        } else {
            self.advertise(slot);
        }
    }
}

/// Ready tasks by type and group, in the order they start.
pub(crate) struct ReadySet<H> {
    types: Vec<Type<H>>,
    by_name: HashMap<Arc<str>, u32>,
    /// The type pushed last, found without hashing (bursts are of one type).
    last: Option<u32>,
    /// Each type's head, best first: (head, type, version).
    top: BinaryHeap<(RunOrder, u32, u32)>,
}

impl<H> Default for ReadySet<H> {
    fn default() -> Self {
        ReadySet {
            types: Vec::new(),
            by_name: HashMap::new(),
            last: None,
            top: BinaryHeap::new(),
        }
    }
}

impl<H: Copy + Ord> ReadySet<H> {
    fn type_slot(&mut self, name: &Arc<str>) -> u32 {
        if let Some(last) = self.last {
            let t = &self.types[last as usize].name;
            if Arc::ptr_eq(t, name) || **t == **name {
                return last;
            }
        }
        let slot = match self.by_name.get(name) {
            Some(&slot) => slot,
            None => {
                self.types.push(Type::new(name.clone()));
                let slot = (self.types.len() - 1) as u32;
                self.by_name.insert(name.clone(), slot);
                slot
            }
        };
        self.last = Some(slot);
        slot
    }

    /// Puts the type's head in `top` when it changed (without checking that
    /// its tasks are live: `pop` and `peek` do).
    fn advertise(&mut self, slot: u32) {
        let t = &mut self.types[slot as usize];
        if t.blocked {
            return;
        }
        let head = t.next(&mut |_| true).map(|(_, order, _)| order);
        if head == t.advertised {
            return;
        }
        t.version = t.version.wrapping_add(1);
        t.advertised = head;
        if let Some(head) = head {
            self.top.push((head, slot, t.version));
        }
    }

    /// Adds a ready task.
    pub(crate) fn push(
        &mut self,
        task_type: &Arc<str>,
        group: Option<&Arc<str>>,
        order: RunOrder,
        handle: H,
    ) {
        let t = self.type_slot(task_type);
        let ty = &mut self.types[t as usize];
        ty.grouped |= group.is_some();
        let g = ty.group_slot(group);
        ty.group(g).push(order, handle);
        ty.advertise(g);
        self.advertise(t);
    }

    /// The task that starts next (for a worker that holds `held` runs),
    /// without taking it.
    pub(crate) fn peek(
        &mut self,
        held: usize,
        live: impl FnMut(H) -> bool,
    ) -> Option<(RunOrder, H)> {
        self.find(held, live, false)
    }

    /// Takes the task that starts next (for a worker that holds `held` runs).
    pub(crate) fn pop(
        &mut self,
        held: usize,
        live: impl FnMut(H) -> bool,
    ) -> Option<(RunOrder, H)> {
        self.find(held, live, true)
    }

    fn find(
        &mut self,
        held: usize,
        mut live: impl FnMut(H) -> bool,
        take: bool,
    ) -> Option<(RunOrder, H)> {
        let mut passed = Vec::new();
        let found = loop {
            let Some(&(order, slot, version)) = self.top.peek() else {
                break None;
            };
            let t = &mut self.types[slot as usize];
            if t.version != version || t.blocked {
                self.top.pop();
                if t.version == version {
                    t.advertised = None;
                }
                continue;
            }
            if !t.fits(held) {
                passed.push(self.top.pop().expect("peeked"));
                continue;
            }
            match t.next(&mut live) {
                None => {
                    self.top.pop();
                    t.advertised = None;
                }
                Some((_, head, _)) if head != order => {
                    self.top.pop();
                    t.advertised = None;
                    self.advertise(slot);
                }
                Some((group, head, handle)) => {
                    if take {
                        self.top.pop();
                        t.advertised = None;
                        t.take(group);
                        self.advertise(slot);
                    }
                    break Some((head, handle));
                }
            }
        };
        self.top.extend(passed);
        found
    }

    /// Blocks or unblocks a type: a blocked type's tasks wait, others run.
    pub(crate) fn set_type_blocked(&mut self, task_type: &Arc<str>, blocked: bool) {
        let slot = self.type_slot(task_type);
        let t = &mut self.types[slot as usize];
        if t.blocked == blocked {
            return;
        }
        t.blocked = blocked;
        t.advertised = None;
        t.version = t.version.wrapping_add(1);
        if !blocked {
            self.advertise(slot);
        }
    }

    /// Blocks or unblocks one group of a type: its tasks wait, the other groups' run.
    pub(crate) fn set_group_blocked(
        &mut self,
        task_type: &Arc<str>,
        group: Option<&Arc<str>>,
        blocked: bool,
    ) {
        let slot = self.type_slot(task_type);
        let t = &mut self.types[slot as usize];
        let name: GroupName = group.cloned();
        let changed = if blocked {
            t.blocked_groups.insert(name)
        } else {
            t.blocked_groups.remove(&name)
        };
        if !changed {
            return;
        }
        if let Some(g) = t.slot_of(group.map(|g| &**g)) {
            let group = t.group(g);
            group.blocked = blocked;
            group.advertised = None;
            group.version = group.version.wrapping_add(1);
            if !blocked {
                t.advertise(g);
            }
        }
        self.advertise(slot);
    }

    /// Whether a type's tasks go only to workers with nothing queued.
    pub(crate) fn set_idle_only(&mut self, task_type: &Arc<str>, idle_only: bool) {
        let slot = self.type_slot(task_type);
        self.types[slot as usize].idle_only = idle_only;
    }

    /// Whether the type is blocked.
    #[cfg(test)]
    pub(crate) fn is_blocked(&self, task_type: &str) -> bool {
        self.by_name
            .get(task_type)
            .is_some_and(|&t| self.types[t as usize].blocked)
    }
}

#[cfg(test)]
mod tests;
