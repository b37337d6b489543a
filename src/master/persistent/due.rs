//! Starting the database work that is due: inserts, outcome writes, the
//! connection, claims, lease renewal, and the release of claims on close.
//! Each starts a job (`jobs`) whose result comes back as a `StoreEvent`.

use super::jobs::{self, StoreCell};
use super::special;
use super::{inserts, ClaimState, Connection, Persistent, StoreEvent, PROGRESS_EVERY};
use mongodb::bson::Bson;
use std::sync::Arc;
use tokio::time::Instant;

/// Tasks in one insert of ours that close the change stream (see
/// `insert_batch`); fewer cost less in events than closing it would.
const QUIET_INSERT: usize = 100;

impl Persistent {
    /// Starts whatever database work is due; `want` is how many tasks the
    /// pool could take now, `claim` whether to claim at all (not paused or
    /// closing), `connected` whether to keep the connection and the leases
    /// of running tasks up. Returns when it next needs to run.
    /// `running` gives the claim tokens of the tasks running in workers
    /// (asked only when the leases are due for renewal).
    pub(crate) fn start_due_work(
        &mut self,
        want: usize,
        claim: bool,
        connected: bool,
        running: impl FnOnce() -> Vec<String>,
    ) -> Option<Instant> {
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let mut at = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        if !self.inserts.is_empty() && self.inserting.is_none() {
            self.insert_batch();
        }
        if !self.enabled() && self.pending.is_empty() {
            return None;
        }
        let Ok(cell) = self.cell() else { return None };
        if !self.pending.is_empty() && !self.writing {
            let more_coming = self.running > 0 || !self.buffer.is_empty();
            match self.write_retry_at.or(self.pending.write_at(more_coming)) {
                Some(t) if t > now => at(t),
                _ => self.write(&cell),
            }
        }
        if !connected {
            return wake;
        }
        match self.connection {
            Connection::Up => {}
            Connection::Starting => return wake,
            Connection::Down { retry_at: Some(t) } if t > now => {
                at(t);
                return wake;
            }
            Connection::Down { .. } => {
                self.start(&cell);
                return wake;
            }
        }
        if let Some(due) = self.next_due_at {
            if due <= now {
                self.exhausted = false;
                self.next_due_at = None;
            } else {
                at(due);
            }
        }
        if self.exhausted && self.poll_at <= now {
            self.exhausted = false;
        }
        if self.exhausted {
            at(self.poll_at);
        }
        let ask = self.ahead.ask(want, self.buffer.len());
        if claim && self.claim == ClaimState::Idle && !self.exhausted && ask > 0 {
            let types: Vec<String> = self
                .settings
                .task_types
                .iter()
                .filter(|t| !self.special.is_special(t))
                .cloned()
                .collect();
            if !types.is_empty() {
                self.claim = ClaimState::InFlight { stale: false };
                self.ahead.claim_started();
                self.link.spawn(jobs::claim(cell.clone(), types, ask));
            }
        }
        if claim {
            self.claim_special(&cell, want, now, &mut at);
        }
        self.special_upkeep(&cell, now, &mut at);
        self.write_progress(&cell, now, &mut at);
        // Renew our leases and hand back expired ones, a third of a lease apart.
        if !self.maintaining {
            if self.maintain_at <= now {
                self.maintaining = true;
                self.maintain_at = now + cell.lease() / 3;
                let mut tokens = running();
                tokens.extend(self.buffer.iter().map(|c| c.token.clone()));
                tokens.extend(self.pending.tokens().cloned());
                tokens.sort_unstable();
                tokens.dedup();
                self.link.spawn(jobs::maintain(cell.clone(), tokens));
                // The holdings' expiry moves on with the leases.
                let limited: Vec<_> = self.special.limits.keys().cloned().collect();
                self.special.dirty.extend(limited);
            }
            at(self.maintain_at);
        }
        wake
    }

    /// Claims of the types claimed one at a time (limited, or with
    /// groups): each for what the pool could take now (`want`), never
    /// ahead, and a limited type only as its limits admit.
    fn claim_special(
        &mut self,
        cell: &Arc<StoreCell>,
        want: usize,
        now: Instant,
        at: &mut impl FnMut(Instant),
    ) {
        let types: Vec<Arc<str>> = self
            .settings
            .task_types
            .iter()
            .filter(|t| self.special.is_special(t))
            .map(|t| Arc::from(t.as_str()))
            .collect();
        for task_type in types {
            if self.special.busy.contains(&task_type) {
                continue;
            }
            if let Some(&until) = self.special.wait_until.get(&task_type) {
                if until > now {
                    at(until);
                    continue;
                }
                self.special.wait_until.remove(&task_type);
            }
            let buffered = self
                .buffer
                .iter()
                .filter(|c| c.task.task_type == task_type)
                .count();
            let n = want.saturating_sub(buffered);
            if n == 0 {
                continue;
            }
            let limited = self
                .special
                .limits
                .contains_key(&task_type)
                .then(|| self.special.holding(&task_type, self.buffer.iter()));
            // The turns travel with the claim (one at a time per type) and come back.
            let turns = self.special.grouped.get_mut(&task_type).map(std::mem::take);
            self.special.busy.insert(task_type.clone());
            let lag = self.special.lag.ms();
            self.link.spawn(jobs::claim_type(
                cell.clone(),
                task_type,
                n,
                turns,
                limited,
                lag,
            ));
        }
    }

    /// What keeps the special types right: this master's holdings written
    /// when they changed, the limits read and the types with groups found
    /// every so often, the Cluster's limits stored, late claims handed back.
    fn special_upkeep(
        &mut self,
        cell: &Arc<StoreCell>,
        now: Instant,
        at: &mut impl FnMut(Instant),
    ) {
        let dirty: Vec<Arc<str>> = self
            .special
            .dirty
            .iter()
            .filter(|t| !self.special.busy.contains(*t))
            .cloned()
            .collect();
        if !dirty.is_empty() {
            let holdings = dirty
                .iter()
                .map(|t| {
                    self.special.dirty.remove(t);
                    self.special.busy.insert(t.clone());
                    (t.clone(), self.special.holding(t, self.buffer.iter()))
                })
                .collect();
            self.link
                .spawn(jobs::write_holdings(cell.clone(), holdings));
        }
        if !self.special.to_write.is_empty() && !self.special.writing_config {
            self.special.writing_config = true;
            let limits = std::mem::take(&mut self.special.to_write)
                .into_iter()
                .map(|(t, l)| (t, Some(l)))
                .collect();
            self.link
                .spawn(jobs::set_limits(cell.clone(), limits, None));
        }
        if !self.special.reading_limits {
            match self.special.read_limits_at {
                Some(t) if t > now => at(t),
                _ => {
                    self.special.reading_limits = true;
                    self.special.read_limits_at = Some(now + special::READ_LIMITS_EVERY);
                    self.link.spawn(jobs::read_limits(cell.clone()));
                }
            }
        }
        if !self.special.finding_groups {
            match self.special.find_groups_at {
                Some(t) if t > now => at(t),
                _ => {
                    self.special.finding_groups = true;
                    self.special.find_groups_at = Some(now + special::FIND_GROUPS_EVERY);
                    self.link.spawn(jobs::find_groups(cell.clone()));
                }
            }
        }
        if !self.late.is_empty() && !self.releasing {
            self.releasing = true;
            let late = std::mem::take(&mut self.late);
            self.link.spawn(jobs::release(cell.clone(), late));
        }
    }

    /// `TaskQueue.setLimits`: obeyed here at once, stored, then answered.
    pub(crate) fn set_limits(
        &mut self,
        origin: crate::master::requests::Origin,
        req: u64,
        task_type: Arc<str>,
        limits: Option<crate::limits::Limits>,
    ) -> Result<(), crate::error::CodedError> {
        let cell = self.cell()?;
        self.special.set(&task_type, limits);
        self.link.spawn(jobs::set_limits(
            cell,
            vec![(task_type.to_string(), limits)],
            Some((origin, req)),
        ));
        Ok(())
    }

    /// Writes the progress that changed, each task's at most every
    /// `PROGRESS_EVERY`.
    fn write_progress(
        &mut self,
        cell: &Arc<StoreCell>,
        now: Instant,
        at: &mut impl FnMut(Instant),
    ) {
        if self.progress_writing {
            return;
        }
        let mut writes = Vec::new();
        for p in self.progress.iter_mut().filter(|p| p.dirty) {
            let due = p.written_at.map_or(now, |t| t + PROGRESS_EVERY);
            if due <= now {
                p.dirty = false;
                p.written_at = Some(now);
                writes.push((p.id.clone(), p.token.clone(), p.value.clone()));
            } else {
                at(due);
            }
        }
        if !writes.is_empty() {
            self.progress_writing = true;
            self.link.spawn(jobs::progress(cell.clone(), writes));
        }
    }

    /// Writes every queued add in one insert.
    fn insert_batch(&mut self) {
        let batch = std::mem::take(&mut self.inserts);
        let tasks = inserts::tasks_of(&batch);
        self.inserting = Some(batch);
        // Claims follow this insert whatever the change stream says, and
        // its events would cost the server as much as the insert: the
        // stream closes until a claim comes back short.
        if tasks.len() >= QUIET_INSERT {
            self.set_draining(true);
        }
        match self.cell() {
            Ok(cell) => {
                self.link.spawn(jobs::insert(cell, tasks));
            }
            Err(e) => {
                let outcomes = vec![Err(e); tasks.len()];
                self.link
                    .spawn(async move { StoreEvent::Inserted(outcomes) });
            }
        }
    }

    fn start(&mut self, cell: &Arc<StoreCell>) {
        self.connection = Connection::Starting;
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        let (listen, listening) = tokio::sync::watch::channel(!self.draining);
        self.listen = Some(listen);
        self.watcher = self.link.spawn(jobs::start(
            cell.clone(),
            self.link.report.clone(),
            listening,
        ));
    }

    fn write(&mut self, cell: &Arc<StoreCell>) {
        self.writing = true;
        self.write_retry_at = None;
        let batch = self.pending.take();
        self.link.spawn(jobs::write(cell.clone(), batch));
    }

    /// Hands claimed-but-unstarted tasks back to the queue (on close).
    pub(crate) fn release(&mut self) {
        if self.buffer.is_empty() || self.releasing {
            return;
        }
        let Some(cell) = self.cell.clone() else {
            return;
        };
        let claims: Vec<(Bson, String)> = self
            .buffer
            .drain(..)
            .map(|c| {
                self.special.released(&c.task.task_type);
                (c.id, c.token)
            })
            .collect();
        self.releasing = true;
        self.link.spawn(jobs::release(cell, claims));
    }
}
