//! Persistent task types claimed one type at a time: those with limits
//! (claimed only as the limits documents admit, `master::fleet`) and those
//! with groups (claimed fair across groups). The other types share one
//! claim. Here: which types are which, this master's holdings of each
//! limited type (claimed and not ended), and the per-type work in flight.

use crate::limits::Limits;
use crate::master::fleet::Holding;
use crate::queue::mongo::{Claimed, Turns};
use crate::queue::ready::GroupName;
use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use std::sync::Arc;
use tokio::time::Instant;

/// How often a master reads the limits documents: setLimits reaches every
/// master within a second.
pub(super) const READ_LIMITS_EVERY: std::time::Duration = std::time::Duration::from_millis(400);
/// How often a master looks for types with grouped tasks waiting.
pub(super) const FIND_GROUPS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// How soon a limited type that admitted nothing is tried again (other
/// masters' runs end meanwhile).
pub(super) const BLOCKED_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// A claimed task's key while it runs: its claim token and `_id`.
pub(super) fn key(claimed: &Claimed) -> (String, String) {
    (claimed.token.clone(), claimed.id.to_string())
}

/// How long after its admission a fleet-wide rate's start is recorded: the
/// claim's write, its read and the send to a worker take that long here, so
/// the start may follow the record by the slack and no more (the worker
/// hands back a run that cannot). Doubled by a claim that missed its send
/// (a busy machine), back down by an eighth with each one sent in time.
pub(super) struct Lag(i64);

impl Lag {
    const MIN_MS: i64 = 10;
    const MAX_MS: i64 = 2000;

    pub(super) fn ms(&self) -> i64 {
        self.0
    }

    pub(super) fn missed(&mut self) {
        self.0 = (self.0 * 2).min(Self::MAX_MS);
    }

    pub(super) fn met(&mut self) {
        self.0 = (self.0 - self.0 / 8).max(Self::MIN_MS);
    }
}

impl Default for Lag {
    fn default() -> Lag {
        Lag(50)
    }
}

#[derive(Default)]
pub(super) struct Special {
    /// Types with limits, as last read (or set here).
    pub(super) limits: HashMap<Arc<str>, Limits>,
    /// Types seen with grouped tasks, and their groups' turns.
    pub(super) grouped: HashMap<Arc<str>, Turns>,
    /// Persistent runs in workers: their type and group, by claim token and `_id`.
    pub(super) running: HashMap<(String, String), (Arc<str>, GroupName)>,
    /// Limited types whose holdings changed since written.
    pub(super) dirty: HashSet<Arc<str>>,
    /// Types with a claim or a holdings write in flight (one at a time
    /// per type, so a write never undoes a claim's).
    pub(super) busy: HashSet<Arc<str>>,
    /// Types that may not claim before then (nothing was admitted).
    pub(super) wait_until: HashMap<Arc<str>, Instant>,
    /// Claims of rate-limited types must be sent by then (their starts
    /// were counted when they were admitted), by claim token.
    pub(super) start_by: HashMap<String, Instant>,
    /// How long after its admission a rate's start is recorded (`Lag`).
    pub(super) lag: Lag,
    pub(super) read_limits_at: Option<Instant>,
    pub(super) reading_limits: bool,
    pub(super) find_groups_at: Option<Instant>,
    pub(super) finding_groups: bool,
    /// The Cluster's limits, still to write (once connected).
    pub(super) to_write: Vec<(String, Limits)>,
    pub(super) writing_config: bool,
}

impl Special {
    /// Whether `task_type` is claimed on its own.
    pub(super) fn is_special(&self, task_type: &str) -> bool {
        self.limits.contains_key(task_type) || self.grouped.contains_key(task_type)
    }

    /// This master's holdings of `task_type`: its `buffered` claims and
    /// its runs (`exp` is set when written).
    pub(super) fn holding<'a>(
        &self,
        task_type: &str,
        buffered: impl Iterator<Item = &'a Claimed>,
    ) -> Holding {
        let mut holding = Holding::default();
        for c in buffered.filter(|c| &*c.task.task_type == task_type) {
            holding.add(&c.task.group);
        }
        for (t, g) in self.running.values() {
            if &**t == task_type {
                holding.add(g);
            }
        }
        holding
    }

    /// A task of `task_type` left this master's holdings.
    pub(super) fn released(&mut self, task_type: &Arc<str>) {
        if self.limits.contains_key(task_type) {
            self.dirty.insert(task_type.clone());
        }
    }

    /// Takes the limits read (every type's); returns those that changed.
    pub(super) fn read(
        &mut self,
        all: Vec<(String, Option<Limits>)>,
    ) -> Vec<(Arc<str>, Option<Limits>)> {
        let now: HashMap<Arc<str>, Limits> = all
            .into_iter()
            .filter_map(|(t, l)| Some((Arc::from(t), l.filter(|l| !l.is_empty())?)))
            .collect();
        let mut changed: Vec<(Arc<str>, Option<Limits>)> = now
            .iter()
            .filter(|(t, l)| self.limits.get(*t) != Some(*l))
            .map(|(t, l)| (t.clone(), Some(*l)))
            .collect();
        changed.extend(
            self.limits
                .keys()
                .filter(|t| !now.contains_key(*t))
                .map(|t| (t.clone(), None)),
        );
        for (t, l) in &changed {
            self.set(t, *l);
        }
        changed
    }

    /// Sets (or clears) `task_type`'s limits here; a newly limited type's
    /// holdings are written, so other masters count them.
    pub(super) fn set(&mut self, task_type: &Arc<str>, limits: Option<Limits>) {
        match limits.filter(|l| !l.is_empty()) {
            Some(limits) => {
                if self.limits.insert(task_type.clone(), limits).is_none() {
                    self.dirty.insert(task_type.clone());
                }
            }
            None => {
                self.limits.remove(task_type);
                self.dirty.remove(task_type);
            }
        }
        self.wait_until.remove(task_type);
    }
}
