//! Limits within this master: the runs of a limited type (and of each of
//! its groups) its workers hold, and their starts per window. It blocks
//! and unblocks them in the ready set as runs come and go and windows
//! move; across masters, persistent tasks are also bounded by the limits
//! documents (`fleet`).
//!
//! A run counts from its send to its end: a task sent ahead counts as
//! running, so the limit holds when the task function starts. A start is
//! counted at its send, and a rate-limited type goes only to idle workers,
//! where the function starts as the run arrives; the window is held
//! `RATE_SLACK_MS` longer to cover that short way, and the run carries
//! that deadline: a worker hands back a run it could not start by then
//! (a busy machine), so no window of actual starts holds more.

use crate::limits::{Bounds, Limits};
use crate::queue::ready::{GroupName, ReadySet};
use ahash::AHashMap as HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// How late a start may follow its send, which the rate window allows for.
pub(crate) const RATE_SLACK_MS: i64 = 50;

/// Runs held and recent starts, of a type or of one of its groups.
#[derive(Default)]
struct Usage {
    running: u32,
    /// Send times (ms), oldest first, within the window and its slack.
    starts: VecDeque<i64>,
}

impl Usage {
    fn forget(&mut self, now: i64, bounds: &Bounds) {
        let Some(rate) = bounds.rate else {
            self.starts.clear();
            return;
        };
        let horizon = now - rate.per as i64 - RATE_SLACK_MS;
        while self.starts.front().is_some_and(|&t| t <= horizon) {
            self.starts.pop_front();
        }
    }

    fn admits(&mut self, bounds: &Bounds, now: i64) -> bool {
        self.forget(now, bounds);
        bounds.concurrency.is_none_or(|c| self.running < c)
            && bounds
                .rate
                .is_none_or(|r| self.starts.len() < r.max as usize)
    }

    /// When the rate admits another start, if it is what holds it now.
    fn frees_at(&self, bounds: &Bounds) -> Option<i64> {
        let rate = bounds.rate?;
        let max = rate.max as usize;
        let len = self.starts.len();
        (len >= max && bounds.concurrency.is_none_or(|c| self.running < c))
            .then(|| self.starts[len - max] + rate.per as i64 + RATE_SLACK_MS)
    }

    fn is_idle(&self) -> bool {
        self.running == 0 && self.starts.is_empty()
    }
}

struct Lane {
    limits: Limits,
    whole: Usage,
    groups: HashMap<GroupName, Usage>,
}

/// The limited types of this master and their usage.
#[derive(Default)]
pub(crate) struct Limiter {
    lanes: HashMap<Arc<str>, Lane>,
}

impl Limiter {
    /// Sets (or with `None` clears) `task_type`'s limits; `running` are the
    /// groups of its runs in flight now, which count from here on.
    pub(crate) fn set<H: Copy + Ord>(
        &mut self,
        task_type: &Arc<str>,
        limits: Option<Limits>,
        running: impl IntoIterator<Item = GroupName>,
        now: i64,
        ready: &mut ReadySet<H>,
    ) {
        let old = self.lanes.remove(task_type);
        let Some(limits) = limits.filter(|l| !l.is_empty()) else {
            if let Some(old) = old {
                ready.set_type_blocked(task_type, false);
                ready.set_idle_only(task_type, false);
                for group in old.groups.keys() {
                    ready.set_group_blocked(task_type, group.as_ref(), false);
                }
            }
            return;
        };
        let mut lane = Lane {
            limits,
            whole: Usage::default(),
            groups: HashMap::new(),
        };
        // Starts already counted stay counted under the new limits.
        if let Some(old) = &old {
            lane.whole.starts = old.whole.starts.clone();
        }
        for group in running {
            lane.whole.running += 1;
            lane.groups.entry(group).or_default().running += 1;
        }
        if let Some(old) = old {
            for (group, usage) in old.groups {
                let u = lane.groups.entry(group.clone()).or_default();
                u.starts = usage.starts;
                if u.is_idle() {
                    lane.groups.remove(&group);
                    ready.set_group_blocked(task_type, group.as_ref(), false);
                }
            }
        }
        ready.set_idle_only(task_type, limits.has_rate());
        let groups: Vec<GroupName> = lane.groups.keys().cloned().collect();
        self.lanes.insert(task_type.clone(), lane);
        self.sync(task_type, None, now, ready);
        for group in groups {
            self.sync(task_type, group.as_ref(), now, ready);
        }
    }

    /// By when a run of `task_type` sent at `now` must start, when a rate
    /// counts its start at the send.
    pub(crate) fn start_deadline(&self, task_type: &str, now: i64) -> Option<i64> {
        // Asked for every task sent: no hashing of its type when nothing is limited.
        if self.lanes.is_empty() {
            return None;
        }
        let lane = self.lanes.get(task_type)?;
        lane.limits.has_rate().then_some(now + RATE_SLACK_MS)
    }

    /// Whether no type is limited (nothing to count).
    pub(crate) fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Whether a run of `task_type` in `group` may be sent now (a worker
    /// with nothing queued when `idle`).
    pub(crate) fn admits(
        &mut self,
        task_type: &str,
        group: Option<&Arc<str>>,
        idle: bool,
        now: i64,
    ) -> bool {
        if self.lanes.is_empty() {
            return true;
        }
        let Some(lane) = self.lanes.get_mut(task_type) else {
            return true;
        };
        if lane.limits.has_rate() && !idle {
            return false;
        }
        let bounds = lane.limits.group();
        lane.whole.admits(&lane.limits.whole, now)
            && (bounds.is_empty()
                || lane
                    .groups
                    .get_mut(&group.cloned())
                    .is_none_or(|u| u.admits(&bounds, now)))
    }

    /// A run of `task_type` in `group` was sent at `now`.
    pub(crate) fn sent<H: Copy + Ord>(
        &mut self,
        task_type: &Arc<str>,
        group: Option<&Arc<str>>,
        now: i64,
        ready: &mut ReadySet<H>,
    ) {
        let Some(lane) = self.lanes.get_mut(task_type) else {
            return;
        };
        let has_rate = lane.limits.has_rate();
        let count = |u: &mut Usage| {
            u.running += 1;
            if has_rate {
                u.starts.push_back(now);
            }
        };
        count(&mut lane.whole);
        if !lane.limits.group().is_empty() {
            count(lane.groups.entry(group.cloned()).or_default());
        }
        self.sync(task_type, group, now, ready);
    }

    /// A run of `task_type` in `group` ended, or came back unstarted.
    pub(crate) fn ended<H: Copy + Ord>(
        &mut self,
        task_type: &Arc<str>,
        group: Option<&Arc<str>>,
        now: i64,
        ready: &mut ReadySet<H>,
    ) {
        let Some(lane) = self.lanes.get_mut(task_type) else {
            return;
        };
        lane.whole.running = lane.whole.running.saturating_sub(1);
        if let Some(u) = lane.groups.get_mut(&group.cloned()) {
            u.running = u.running.saturating_sub(1);
        }
        self.sync(task_type, group, now, ready);
    }

    /// Unblocks what a moving window frees by `now`; when the next one frees.
    pub(crate) fn tick<H: Copy + Ord>(&mut self, now: i64, ready: &mut ReadySet<H>) -> Option<i64> {
        let mut due = Vec::new();
        let mut next: Option<i64> = None;
        let mut note = |at: Option<i64>, what: (Arc<str>, Option<GroupName>)| {
            if let Some(at) = at {
                if at <= now {
                    due.push(what);
                } else {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        };
        for (task_type, lane) in &self.lanes {
            if !lane.limits.has_rate() {
                continue;
            }
            note(
                lane.whole.frees_at(&lane.limits.whole),
                (task_type.clone(), None),
            );
            let bounds = lane.limits.group();
            for (group, usage) in &lane.groups {
                note(
                    usage.frees_at(&bounds),
                    (task_type.clone(), Some(group.clone())),
                );
            }
        }
        for (task_type, group) in due {
            match group {
                None => self.sync(&task_type, None, now, ready),
                Some(group) => self.sync(&task_type, group.as_ref(), now, ready),
            }
        }
        next
    }

    /// Blocks or unblocks `task_type` (`group` None: the type itself; else
    /// also that group) in `ready` as its usage admits.
    fn sync<H: Copy + Ord>(
        &mut self,
        task_type: &Arc<str>,
        group: Option<&Arc<str>>,
        now: i64,
        ready: &mut ReadySet<H>,
    ) {
        let Some(lane) = self.lanes.get_mut(task_type) else {
            return;
        };
        let open = lane.whole.admits(&lane.limits.whole, now);
        ready.set_type_blocked(task_type, !open);
        let bounds = lane.limits.group();
        if bounds.is_empty() {
            return;
        }
        let key: GroupName = group.cloned();
        let usage = lane.groups.entry(key.clone()).or_default();
        let open = usage.admits(&bounds, now);
        ready.set_group_blocked(task_type, group, !open);
        if usage.is_idle() {
            lane.groups.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests;
