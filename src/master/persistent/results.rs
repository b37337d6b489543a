//! The database jobs' results (`StoreEvent`, through the inbox) and what
//! the persistent side makes of each: connection state, claimed tasks and
//! how big the next claim may be, outcomes written or to write again.

use super::jobs::TypeClaim;
use super::registry::MasterRequest;
use super::{inserts, Answer, Cancelled, ClaimState, Completion, Connection, Persistent};
use crate::error::CodedError;
use crate::limits::Limits;
use crate::log::Logger;
use crate::master::requests::Origin;
use crate::queue::mongo::{Claim, Claimed, Undecodable};
use crate::wire::events::Events;
use mongodb::bson::Bson;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) enum StoreEvent {
    Started(Result<(), CodedError>),
    /// Claimed tasks (and documents that could not be read, already
    /// failed in MongoDB), whether more may be due right now, and if not,
    /// when the next one is.
    Claimed(Result<Claim, CodedError>),
    Written {
        batch: Vec<Completion>,
        result: Result<(), CodedError>,
    },
    Released(Result<(), CodedError>),
    /// The outcome of each task of the insert in flight, in order.
    Inserted(Vec<Result<(), CodedError>>),
    /// The answer to a collection call.
    Answered {
        origin: Origin,
        req: u64,
        result: Result<String, CodedError>,
    },
    /// Something changed in the collection (change stream or a local write).
    Changed,
    /// Leases renewed and recovered (how many), and the cancels asked for
    /// tasks this master holds.
    Maintained(Result<(u64, Vec<(Bson, String)>), CodedError>),
    /// Progress written.
    ProgressWritten(Result<(), CodedError>),
    /// A cancel's work in MongoDB; `local` tasks were cancelled in memory.
    Cancelled {
        origin: Origin,
        req: u64,
        local: usize,
        result: Result<Cancelled, CodedError>,
    },
    /// Cancels asked for tasks (seen in the change stream): `_id` and message.
    CancelRequested(Vec<(Bson, String)>),
    /// This master's registry heartbeat written, with the request a
    /// dashboard left in its document.
    Heartbeat(Result<Option<String>, CodedError>),
    /// This master's registry document removed (closing).
    Unregistered,
    /// Tasks queued and not running, per type.
    Depth(Result<Vec<(String, u64)>, CodedError>),
    /// A claim of one type (limited, or with groups).
    TypeClaimed {
        task_type: Arc<str>,
        result: Result<TypeClaim, CodedError>,
    },
    /// This master's holdings of these limited types written.
    HoldingsWritten {
        types: Vec<Arc<str>>,
        result: Result<(), CodedError>,
    },
    /// Every type's limits, read.
    LimitsRead(Result<Vec<(String, Option<Limits>)>, CodedError>),
    /// The types with grouped tasks waiting.
    GroupsFound(Result<Vec<String>, CodedError>),
    /// Limits stored (for a `setLimits` call to answer, or the Cluster's).
    LimitsSet {
        answer: Option<(Origin, u64)>,
        result: Result<(), CodedError>,
    },
    /// A database job panicked (a bug): the dispatcher stops.
    Panicked(String),
}

/// What the dispatcher must do after a job's result.
#[derive(Default)]
pub(crate) struct Handled {
    /// Calls to answer (adds written).
    pub(crate) answers: Vec<Answer>,
    /// Claimed documents that could not be read, already failed in MongoDB.
    pub(crate) undecodable: Vec<Undecodable>,
    /// What cancels changed: tasks ended, and cancels asked for tasks
    /// that may be held here.
    pub(crate) cancelled: Cancelled,
    /// Claimed tasks a cancel was asked for: failed, not run (with the
    /// cancel's message).
    pub(crate) refused: Vec<(Claimed, String)>,
    /// A dashboard asked this master to pause or resume.
    pub(crate) master_request: Option<MasterRequest>,
    /// The types of the tasks an insert stored.
    pub(crate) added: Vec<std::sync::Arc<str>>,
    /// `metrics` requests to answer now (the depth was counted).
    pub(crate) metrics: Vec<(Origin, u64)>,
    /// Types whose limits changed (to obey in this master too).
    pub(crate) limits: Vec<(Arc<str>, Option<Limits>)>,
}

impl Persistent {
    /// Takes a job's result. `workers_idle`: a ready worker has nothing to
    /// run, the one case in which claims grow (`ahead`). Returns what the dispatcher
    /// must do next: answers to give, and claimed documents that could not
    /// be read (each fails alone, with an error event).
    pub(crate) fn handle(
        &mut self,
        event: StoreEvent,
        logger: &Logger,
        events: &mut Events,
        refresh: Duration,
        workers_idle: bool,
    ) -> Handled {
        let now = Instant::now();
        let retry = Connection::Down {
            retry_at: Some(now + refresh),
        };
        match event {
            StoreEvent::Started(result) => match result {
                Ok(()) => {
                    self.connection = Connection::Up;
                    self.exhausted = false;
                    if self.warned {
                        logger.warn("MongoDB is reachable again; persistent tasks resume");
                        self.warned = false;
                    }
                }
                Err(e) => {
                    self.connection = retry;
                    self.unreachable(logger, &e);
                }
            },
            StoreEvent::Claimed(result) => {
                let stale = self.claim == ClaimState::InFlight { stale: true };
                self.claim = ClaimState::Idle;
                match result {
                    Ok(Claim {
                        tasks: claimed,
                        undecodable,
                        more,
                        next_due,
                    }) => {
                        // Tasks added while it ran may not have been seen.
                        self.exhausted = !more && !stale;
                        let bytes = claimed.iter().map(|c| c.task.data.size()).sum();
                        let starved = self.buffer.is_empty() && workers_idle;
                        self.ahead.claimed(claimed.len(), bytes, more, starved);
                        self.set_draining(more);
                        self.next_due_at = next_due.map(|due| {
                            now + Duration::from_millis((due - crate::task::now_ms()).max(0) as u64)
                        });
                        self.poll_at = now + refresh;
                        return Handled {
                            undecodable,
                            refused: self.buffer_claimed(claimed),
                            ..Handled::default()
                        };
                    }
                    Err(e) => {
                        self.connection = retry;
                        self.unreachable(logger, &e);
                    }
                }
            }
            StoreEvent::Written { mut batch, result } => {
                self.writing = false;
                match result {
                    Ok(()) => {
                        for event in batch.drain(..).filter_map(|c| c.event) {
                            events.push_serialized(&event);
                        }
                    }
                    Err(e) => {
                        self.pending.put_back(batch);
                        self.write_retry_at = Some(now + refresh);
                        self.unreachable(logger, &e);
                    }
                }
            }
            StoreEvent::Released(result) => {
                self.releasing = false;
                if let Err(e) = result {
                    logger.warn(&format!(
                        "could not hand back claimed tasks (their leases will expire): {e}"
                    ));
                }
            }
            StoreEvent::Changed | StoreEvent::Answered { .. } => self.may_have_more(),
            StoreEvent::Inserted(outcomes) => {
                self.may_have_more();
                let inserted = self.inserting.take().unwrap_or_default();
                return Handled {
                    answers: inserts::answers(&inserted, &outcomes),
                    added: inserts::stored(&inserted, &outcomes),
                    ..Handled::default()
                };
            }
            StoreEvent::Maintained(result) => {
                self.maintaining = false;
                match result {
                    Ok((recovered, requested)) => {
                        if recovered > 0 {
                            self.may_have_more();
                        }
                        return Handled {
                            cancelled: Cancelled {
                                requested,
                                ..Cancelled::default()
                            },
                            ..Handled::default()
                        };
                    }
                    Err(e) => self.unreachable(logger, &e),
                }
            }
            StoreEvent::ProgressWritten(result) => {
                self.progress_writing = false;
                if let Err(e) = result {
                    self.unreachable(logger, &e);
                }
            }
            StoreEvent::Cancelled {
                origin,
                req,
                local,
                result,
            } => {
                self.cancelling -= 1;
                self.may_have_more();
                return match result {
                    Ok(cancelled) => {
                        let count = local + cancelled.ended.len() + cancelled.requested.len();
                        Handled {
                            answers: vec![(origin, req, Ok(count.to_string()))],
                            cancelled,
                            ..Handled::default()
                        }
                    }
                    Err(e) => Handled {
                        answers: vec![(origin, req, Err(e))],
                        ..Handled::default()
                    },
                };
            }
            StoreEvent::Depth(result) => {
                match result {
                    Ok(depth) => self.depth = Some((now, depth)),
                    Err(e) => self.unreachable(logger, &e),
                }
                return Handled {
                    metrics: self.depth_waiting.take().unwrap_or_default(),
                    ..Handled::default()
                };
            }
            StoreEvent::TypeClaimed { task_type, result } => {
                self.special.busy.remove(&task_type);
                match result {
                    Ok(TypeClaim {
                        claim,
                        turns,
                        start_by,
                        wait,
                        refused_ahead,
                    }) => {
                        if let (Some(turns), Some(kept)) =
                            (turns, self.special.grouped.get_mut(&task_type))
                        {
                            *kept = turns;
                        }
                        if let Some(ahead) = self.special.ahead.get_mut(&task_type) {
                            if refused_ahead {
                                ahead.refused();
                            } else {
                                let starved = workers_idle
                                    && !self.buffer.iter().any(|c| c.task.task_type == task_type);
                                let bytes = claim.tasks.iter().map(|c| c.task.data.size()).sum();
                                ahead.claimed(claim.tasks.len(), bytes, claim.more, starved);
                            }
                        }
                        if let Some(wait) = wait {
                            self.special.wait_until.insert(task_type, now + wait);
                        }
                        if let (Some(at), Some(first)) = (start_by, claim.tasks.first()) {
                            self.special.start_by.insert(first.token.clone(), at);
                        }
                        return Handled {
                            undecodable: claim.undecodable,
                            refused: self.buffer_claimed(claim.tasks),
                            ..Handled::default()
                        };
                    }
                    Err(e) => {
                        self.connection = retry;
                        self.unreachable(logger, &e);
                    }
                }
            }
            StoreEvent::HoldingsWritten { types, result } => {
                for t in &types {
                    self.special.busy.remove(t);
                }
                if let Err(e) = result {
                    self.special.dirty.extend(types);
                    self.unreachable(logger, &e);
                }
            }
            StoreEvent::LimitsRead(result) => {
                self.special.reading_limits = false;
                match result {
                    Ok(all) => {
                        let limits = self.special.read(all);
                        for (task_type, _) in limits.iter().filter(|(_, l)| l.is_some()) {
                            self.hand_back_claims_of(task_type);
                        }
                        return Handled {
                            limits,
                            ..Handled::default()
                        };
                    }
                    Err(e) => self.unreachable(logger, &e),
                }
            }
            StoreEvent::GroupsFound(result) => {
                self.special.finding_groups = false;
                match result {
                    Ok(types) => {
                        for t in types {
                            self.special.grouped.entry(Arc::from(t)).or_default();
                        }
                    }
                    Err(e) => self.unreachable(logger, &e),
                }
            }
            StoreEvent::LimitsSet { answer, result } => {
                let Some((origin, req)) = answer else {
                    self.special.writing_config = false;
                    if let Err(e) = result {
                        logger.warn(&format!(
                            "could not store the Cluster's limits (retrying): {e}"
                        ));
                    }
                    return Handled::default();
                };
                return Handled {
                    answers: vec![(origin, req, result.map(|()| "null".to_owned()))],
                    ..Handled::default()
                };
            }
            StoreEvent::CancelRequested(requested) => {
                return Handled {
                    cancelled: Cancelled {
                        requested,
                        ..Cancelled::default()
                    },
                    ..Handled::default()
                };
            }
            StoreEvent::Heartbeat(result) => match self.heartbeat_written(result) {
                Ok(master_request) => {
                    return Handled {
                        master_request,
                        ..Handled::default()
                    }
                }
                Err(e) => self.unreachable(logger, &e),
            },
            StoreEvent::Unregistered => self.unregistered(),
            // The dispatcher handles it before it gets here.
            StoreEvent::Panicked(_) => {}
        }
        Handled::default()
    }

    /// Puts claimed tasks in the buffer, but those a cancel was asked for,
    /// which are returned to fail (with the cancel's message). A type seen
    /// with groups is claimed on its own from now on.
    fn buffer_claimed(&mut self, claimed: Vec<Claimed>) -> Vec<(Claimed, String)> {
        for c in claimed.iter().filter(|c| c.task.group.is_some()) {
            self.special
                .grouped
                .entry(c.task.task_type.clone())
                .or_default();
        }
        let (refused, claimed): (Vec<_>, Vec<_>) =
            claimed.into_iter().partition(|c| c.cancel.is_some());
        self.buffer.extend(claimed);
        refused
            .into_iter()
            .map(|mut c| {
                let message = c.cancel.take().unwrap_or_default();
                (c, message)
            })
            .collect()
    }

    /// The collection may hold claimable tasks again (an add, a change,
    /// leases recovered): claim again, even if the claim in flight, which
    /// may have read before the change, comes back with nothing.
    fn may_have_more(&mut self) {
        self.exhausted = false;
        if let ClaimState::InFlight { stale } = &mut self.claim {
            *stale = true;
        }
    }

    /// While claims come back full, every claim finds tasks anyway: the
    /// change stream closes, and opens again with the first short claim.
    pub(super) fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
        if let Some(listen) = &self.listen {
            listen.send_if_modified(|on| std::mem::replace(on, !draining) == draining);
        }
    }

    /// Logs the first failure of an outage, once until MongoDB works again.
    fn unreachable(&mut self, logger: &Logger, error: &CodedError) {
        if !self.warned {
            self.warned = true;
            logger.warn(&format!(
                "persistent queue unavailable, retrying (in-memory tasks keep running): {error}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;
    use crate::master::persistent::{Settings, StoreLink};
    use std::sync::Arc;

    fn handle(p: &mut Persistent, event: StoreEvent) {
        let logger = Logger::new(Level::Error);
        let mut events = Events::default();
        p.handle(event, &logger, &mut events, Duration::from_secs(1), false);
    }

    /// A persistent side of `task_types` that never connects.
    fn persistent(task_types: &[&str]) -> Persistent {
        let link = StoreLink {
            report: Arc::new(|_| {}),
            runtime: None,
        };
        Persistent::new(
            link,
            Settings {
                in_memory_only: false,
                url: Some("mongodb://127.0.0.1:9/test".to_owned()),
                collection: "taskQueue".to_owned(),
                lease: Duration::from_secs(30),
                task_types: task_types.iter().map(|t| t.to_string()).collect(),
                limits: Vec::new(),
            },
        )
    }

    fn nothing_claimed() -> StoreEvent {
        StoreEvent::Claimed(Ok(Claim::default()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_that_ran_while_tasks_were_added_does_not_count_the_queue_as_exhausted() {
        let mut p = persistent(&["T"]);
        p.start_due_work(4, true, true, Vec::new);
        handle(&mut p, StoreEvent::Started(Ok(())));
        p.start_due_work(4, true, true, Vec::new);
        assert_eq!(p.claim, ClaimState::InFlight { stale: false });
        // The insert lands (and is answered) before the claim, which read
        // the collection before it, comes back empty.
        handle(&mut p, StoreEvent::Inserted(Vec::new()));
        handle(&mut p, nothing_claimed());
        assert!(p.busy(), "the added tasks are still to claim");
        p.start_due_work(4, true, true, Vec::new);
        assert_eq!(p.claim, ClaimState::InFlight { stale: false });
        // A claim that started after the insert and finds nothing: done.
        handle(&mut p, nothing_claimed());
        assert!(!p.busy());
    }

    fn claimed(id: &str, task_type: &str) -> Claimed {
        Claimed {
            task: crate::task::Task {
                id: id.into(),
                task_type: task_type.into(),
                ..crate::task::Task::default()
            },
            id: mongodb::bson::Bson::String(id.to_owned()),
            token: "k".to_owned(),
            cancel: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn claims_waiting_for_a_worker_go_back_when_their_types_limits_change() {
        let mut p = persistent(&["T", "U"]);
        p.buffer
            .extend([claimed("a", "T"), claimed("b", "U"), claimed("c", "T")]);
        let limits = serde_json::from_str(r#"{"concurrency":2}"#).unwrap();
        let read = || StoreEvent::LimitsRead(Ok(vec![("T".to_owned(), Some(limits))]));
        handle(&mut p, read());
        let kept: Vec<_> = p.buffer.iter().map(|c| c.task.id.to_string()).collect();
        assert_eq!(kept, ["b"], "the other type's claim stays");
        let back: Vec<_> = p.late.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(
            back,
            ["\"a\"", "\"c\""],
            "handed back, claimed under the old limits"
        );
        // The same limits read again: nothing changed, nothing goes back.
        p.buffer.push_back(claimed("d", "T"));
        handle(&mut p, read());
        assert_eq!(p.buffer.len(), 2);
    }
}
