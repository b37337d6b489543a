//! The dispatcher's side of limits: runs counted as they are sent and
//! end, windows moved on by the clock, limits set from JS or from the
//! limits documents.

use super::answers::Origin;
use super::run::RunTask;
use super::{Dispatcher, Wake};
use crate::limits::Limits;
use crate::task::now_ms;
use crate::wire::request::SetLimitsArgs;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl Dispatcher {
    /// A run of `task` was sent to a worker.
    pub(super) fn limit_sent(&mut self, task_type: &Arc<str>, group: Option<&Arc<str>>) {
        self.limiter
            .sent(task_type, group, now_ms(), self.queue.ready_set());
    }

    /// A run of `task` ended, or came back unstarted.
    pub(super) fn limit_ended(&mut self, task: &RunTask) {
        if self.limiter.is_empty() {
            return;
        }
        self.limiter.ended(
            &task.task_type,
            task.group.as_ref(),
            now_ms(),
            self.queue.ready_set(),
        );
    }

    /// Unblocks what moving windows free now; wakes when the next one frees.
    pub(super) fn limit_tick(&mut self, now: Instant, now_ms: i64, wake: &mut Wake) {
        if self.limiter.is_empty() {
            return;
        }
        if let Some(at) = self.limiter.tick(now_ms, self.queue.ready_set()) {
            wake.at(now + Duration::from_millis((at - now_ms).max(0) as u64));
        }
    }

    /// `TaskQueue.setLimits`: obeyed here at once; with a persistent
    /// queue, answered once stored for every master, else at once.
    pub(super) fn set_limits(&mut self, origin: Origin, req: u64, args: SetLimitsArgs) {
        let task_type: Arc<str> = Arc::from(args.task_type);
        self.set_local_limits(&task_type, args.limits);
        if !self.persistent.enabled() {
            return self.reply(origin, req, Ok("null".to_owned()));
        }
        if let Err(e) = self
            .persistent
            .set_limits(origin, req, task_type, args.limits)
        {
            self.reply(origin, req, Err(e.in_call("setLimits")));
        }
    }

    /// The Cluster's `limits` option, set here.
    pub(super) fn set_configured_limits(&mut self) {
        for (task_type, limits) in self.config.persistent.limits.clone() {
            self.set_local_limits(&Arc::from(task_type), Some(limits));
        }
    }

    /// Sets `task_type`'s limits in this master (`None` clears them); its
    /// runs in flight count from now.
    pub(super) fn set_local_limits(&mut self, task_type: &Arc<str>, limits: Option<Limits>) {
        let running: Vec<_> = self
            .pool
            .runs_of(task_type)
            .map(|task| task.group.clone())
            .collect();
        self.limiter
            .set(task_type, limits, running, now_ms(), self.queue.ready_set());
    }
}
