//! Limits across the masters sharing a collection: the decision a master
//! makes against a type's limits document before it runs claimed tasks.
//!
//! The document (`<collection>.limits`, `_id` the task type) holds the
//! limits, a version `v`, each master's holdings (`held.<master>`: runs
//! it holds of the type, by group, until `exp`) and the recent starts.
//! A master that takes slots or starts writes its entry and the starts
//! with a compare-and-set on `v`, so two masters never both take the last
//! slot; giving slots back needs no compare (fewer held is always safe).
//! A dead master's entry expires with its claims' lease.
//!
//! Pure: the store reads and writes the document (`queue::mongo::limits`).

use crate::limits::{Bounds, Limits};
use crate::queue::ready::GroupName;
use ahash::AHashMap as HashMap;

/// How late a run may start after its start was counted: a start is
/// counted when the document is written, and the run goes to its worker
/// when the write is acknowledged; past this, it is not run (see
/// `Persistent`) and the start counted stays counted.
pub(crate) const FLEET_RATE_SLACK_MS: i64 = 100;

/// One master's holdings of a type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Holding {
    pub(crate) n: u32,
    pub(crate) groups: Vec<(GroupName, u32)>,
    /// Server time (ms) after which it no longer counts.
    pub(crate) exp: i64,
}

impl Holding {
    /// One more task, of `group`.
    pub(crate) fn add(&mut self, group: &GroupName) {
        self.n += 1;
        match self.groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, n)) => *n += 1,
            None => self.groups.push((group.clone(), 1)),
        }
    }

    fn group(&self, group: &GroupName) -> u32 {
        self.groups
            .iter()
            .find(|(g, _)| g == group)
            .map_or(0, |(_, n)| *n)
    }
}

/// A type's limits document, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LimitsDoc {
    pub(crate) version: i64,
    pub(crate) limits: Option<Limits>,
    pub(crate) held: Vec<(String, Holding)>,
    /// Server times (ms) of recent starts, with their group.
    pub(crate) starts: Vec<(i64, GroupName)>,
}

/// What a master takes: which candidates may start, and the document's
/// new holdings and starts, to write if `version` is still the one read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Take {
    /// Indices into the candidates, in their order.
    pub(crate) admitted: Vec<usize>,
    pub(crate) mine: Holding,
    pub(crate) starts: Vec<(i64, GroupName)>,
    /// Entries of masters whose holdings expired, to remove.
    pub(crate) expired: Vec<String>,
}

/// Counts against one set of bounds: held (by others and by me) and starts in the window.
#[derive(Default, Clone, Copy)]
struct Count {
    held: u32,
    starts: u32,
}

impl Count {
    fn admits(&self, bounds: &Bounds) -> bool {
        bounds.concurrency.is_none_or(|c| self.held < c)
            && bounds.rate.is_none_or(|r| self.starts < r.max)
    }
}

/// Which of `candidates` (their groups, best first) this master may start
/// now, holding `mine` (its claimed and running tasks of the type, which
/// its own entry in `doc` may not show yet), at server time `now`. Their
/// starts are recorded `lag` ms later: when they may start at the latest,
/// less the slack (a start may come later than it is recorded by the
/// slack, never more; earlier is safe).
pub(crate) fn take(
    doc: &LimitsDoc,
    me: &str,
    mine: &Holding,
    candidates: &[GroupName],
    now: i64,
    lease_ms: i64,
    lag: i64,
) -> Take {
    let limits = doc.limits.unwrap_or_default();
    let group_bounds = limits.group();
    let window = |bounds: &Bounds| bounds.rate.map(|r| r.per as i64 + FLEET_RATE_SLACK_MS);
    let (whole_window, group_window) = (window(&limits.whole), window(&group_bounds));
    let live = |h: &Holding| h.exp > now;
    let others = doc
        .held
        .iter()
        .filter(|(m, h)| m != me && live(h))
        .map(|(_, h)| h);
    let mut whole = Count {
        held: mine.n + others.clone().map(|h| h.n).sum::<u32>(),
        // Later starts too: another master's clock may run ahead.
        starts: whole_window.map_or(0, |w| {
            doc.starts.iter().filter(|(t, _)| *t > now - w).count() as u32
        }),
    };
    let mut groups: HashMap<GroupName, Count> = HashMap::new();
    let mut new_mine = mine.clone();
    let mut new_starts: Vec<(i64, GroupName)> = doc.starts.clone();
    let mut admitted = Vec::new();
    for (i, group) in candidates.iter().enumerate() {
        let count = groups.entry(group.clone()).or_insert_with(|| Count {
            held: mine.group(group) + others.clone().map(|h| h.group(group)).sum::<u32>(),
            starts: group_window.map_or(0, |w| {
                doc.starts
                    .iter()
                    .filter(|(t, g)| g == group && *t > now - w)
                    .count() as u32
            }),
        });
        if !whole.admits(&limits.whole) || !count.admits(&group_bounds) {
            continue;
        }
        admitted.push(i);
        whole.held += 1;
        count.held += 1;
        new_mine.add(group);
        if limits.has_rate() {
            whole.starts += 1;
            count.starts += 1;
            new_starts.push((now + lag, group.clone()));
        }
    }
    // Starts older than every window are dropped.
    let horizon = whole_window.max(group_window).unwrap_or(0);
    new_starts.retain(|(t, _)| *t > now - horizon);
    if group_bounds.is_empty() {
        new_mine.groups.clear();
    }
    new_mine.exp = now + lease_ms;
    Take {
        admitted,
        mine: new_mine,
        starts: new_starts,
        expired: doc
            .held
            .iter()
            .filter(|(m, h)| m != me && !live(h))
            .map(|(m, _)| m.clone())
            .collect(),
    }
}

/// When a window of `doc`'s rates admits a start again, if a rate is
/// what holds the type (server time, ms).
pub(crate) fn rate_frees_at(doc: &LimitsDoc, now: i64) -> Option<i64> {
    let limits = doc.limits?;
    let whole = limits.whole.rate.and_then(|rate| {
        let window = rate.per as i64 + FLEET_RATE_SLACK_MS;
        let mut recent: Vec<i64> = doc
            .starts
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t > now - window)
            .collect();
        recent.sort_unstable();
        let max = rate.max as usize;
        (recent.len() >= max).then(|| recent[recent.len() - max] + window)
    });
    // A group's window: the soonest any group frees (one of them may wait).
    let group = limits.group().rate.and_then(|rate| {
        let window = rate.per as i64 + FLEET_RATE_SLACK_MS;
        let mut by_group: HashMap<&GroupName, Vec<i64>> = HashMap::new();
        for (t, g) in doc.starts.iter().filter(|(t, _)| *t > now - window) {
            by_group.entry(g).or_default().push(*t);
        }
        by_group
            .into_values()
            .filter(|starts| starts.len() >= rate.max as usize)
            .map(|mut starts| {
                starts.sort_unstable();
                starts[starts.len() - rate.max as usize] + window
            })
            .min()
    });
    whole.into_iter().chain(group).max()
}

/// What a type's limits document says is in use at server time `now`,
/// fleet-wide: tasks held by live masters, those masters, and the starts
/// in the type's rate window (for the dashboard).
pub(crate) fn usage(doc: &LimitsDoc, now: i64) -> serde_json::Value {
    let live: Vec<&Holding> = doc
        .held
        .iter()
        .map(|(_, h)| h)
        .filter(|h| h.exp > now)
        .collect();
    let window = doc.limits.and_then(|l| l.whole.rate).map(|r| r.per as i64);
    serde_json::json!({
        "running": live.iter().map(|h| h.n).sum::<u32>(),
        "masters": live.iter().filter(|h| h.n > 0).count(),
        "startsInWindow": window.map(|w| doc.starts.iter().filter(|(t, _)| *t > now - w).count()),
    })
}

#[cfg(test)]
mod tests;
