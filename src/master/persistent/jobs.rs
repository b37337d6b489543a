//! The database work of the persistent side, each job a future on the tokio
//! runtime that ends in one `StoreEvent`. The store connects on first use,
//! asynchronously, so `mongodb+srv://` URLs (resolved through DNS) work
//! like any other; a failed connection is tried again by the next job.

use super::{special, Completion, Settings, StoreEvent, Write};
use crate::error::CodedError;
use crate::limits::Limits;
use crate::master::fleet::{self, Holding};
use crate::master::requests::{self, Origin};
use crate::queue::mongo::{Again, Store};
use crate::queue::mongo::{Claim, Turns};
use crate::queue::ready::GroupName;
use crate::task::Task;
use crate::wire::request::Op;
use futures_util::future::try_join_all;
use futures_util::{FutureExt, TryStreamExt};
use mongodb::bson::Bson;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The store of one URL and collection, connected once, by the first job
/// that needs it.
pub(super) struct StoreCell {
    url: String,
    settings: Settings,
    owner: String,
    store: tokio::sync::OnceCell<Arc<Store>>,
}

impl StoreCell {
    pub(super) fn new(url: String, settings: Settings, owner: String) -> StoreCell {
        StoreCell {
            url,
            settings,
            owner,
            store: tokio::sync::OnceCell::new(),
        }
    }

    pub(super) fn lease(&self) -> Duration {
        self.settings.lease
    }

    pub(super) async fn get(&self) -> Result<&Arc<Store>, CodedError> {
        self.store
            .get_or_try_init(|| async {
                Store::connect(
                    &self.url,
                    &self.settings.collection,
                    self.owner.clone(),
                    self.settings.lease,
                )
                .await
                .map(Arc::new)
                .map_err(CodedError::from)
            })
            .await
    }
}

/// Indexes, the server's clock, recovery of expired leases; then, where the
/// server has change streams, a `Changed` event for each change while
/// `listen` says so.
pub(super) async fn start(
    cell: Arc<StoreCell>,
    report: super::Report,
    listen: watch::Receiver<bool>,
) -> StoreEvent {
    let started = async {
        let store = cell.get().await?;
        store.ensure_indexes().await?;
        // A few samples: the quickest round trip gives the closest clock.
        for _ in 0..3 {
            store.sync_clock().await?;
        }
        store.recover().await?;
        Ok::<_, CodedError>(store)
    }
    .await;
    let store = match started {
        Ok(store) => store,
        Err(e) => return StoreEvent::Started(Err(e)),
    };
    report(StoreEvent::Started(Ok(())));
    watch_changes(store, &report, listen).await;
    StoreEvent::Changed
}

/// Reports every change while `listen` is true. The stream is closed while
/// it is false (a backlog draining, when every claim finds tasks anyway), so
/// that the server does not turn each write into an event meanwhile; when it
/// opens again, a `Changed` stands for whatever happened while it was
/// closed (the claim it starts reads after the stream opened). Without
/// change streams (a standalone server) polling at refreshRate is all
/// there is.
async fn watch_changes(store: &Store, report: &super::Report, mut listen: watch::Receiver<bool>) {
    loop {
        if listen.wait_for(|on| *on).await.is_err() {
            return;
        }
        let Ok(mut changes) = store.watch().await else {
            return;
        };
        report(StoreEvent::Changed);
        loop {
            tokio::select! {
                change = changes.try_next() => match change {
                    Ok(Some(change)) => report(match crate::queue::mongo::cancel_in_change(&change) {
                        Some(cancel) => StoreEvent::CancelRequested(vec![cancel]),
                        None => StoreEvent::Changed,
                    }),
                    _ => return,
                },
                on = listen.wait_for(|on| !*on) => match on {
                    Ok(_) => break,
                    Err(_) => return,
                },
            }
        }
    }
}

/// Claims up to `want` tasks of `types` (those claimed together), best first.
pub(super) async fn claim(cell: Arc<StoreCell>, types: Vec<String>, want: usize) -> StoreEvent {
    StoreEvent::Claimed(
        async { Ok::<_, CodedError>(cell.get().await?.claim(&types, want).await?) }.await,
    )
}

/// Renews this master's leases, re-reads the server's clock, hands back
/// expired leases, and reads the cancels asked for tasks it holds.
pub(super) async fn maintain(cell: Arc<StoreCell>, tokens: Vec<String>) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        store.renew(&tokens).await?;
        store.sync_clock().await?;
        let recovered = store.recover().await?;
        let cancels = store.cancel_requests(&tokens).await?;
        Ok::<_, CodedError>((recovered, cancels))
    }
    .await;
    StoreEvent::Maintained(result)
}

/// Counts the tasks queued and not running, per type.
pub(super) async fn depth(cell: Arc<StoreCell>) -> StoreEvent {
    let result = async { Ok::<_, CodedError>(cell.get().await?.queued_by_type().await?) }.await;
    StoreEvent::Depth(result)
}

/// Writes running tasks' latest progress.
pub(super) async fn progress(
    cell: Arc<StoreCell>,
    writes: Vec<(Bson, String, Bson)>,
) -> StoreEvent {
    let result = async {
        cell.get().await?.set_progress(&writes).await?;
        Ok::<(), CodedError>(())
    }
    .await;
    StoreEvent::ProgressWritten(result)
}

/// `TaskQueue.cancel` on the persistent queue.
pub(super) async fn cancel(
    cell: Arc<StoreCell>,
    origin: Origin,
    req: u64,
    filter: mongodb::bson::Document,
    message: String,
    local: usize,
) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        let token = crate::task::new_id();
        Ok::<_, CodedError>(store.cancel(filter, &message, &token).await?)
    }
    .await;
    StoreEvent::Cancelled {
        origin,
        req,
        local,
        result: result.map_err(|e| e.in_call("cancel")),
    }
}

/// Inserts a batch of adds in one write: each task's outcome, in order.
pub(super) async fn insert(cell: Arc<StoreCell>, tasks: Vec<Task>) -> StoreEvent {
    let outcomes = match cell.get().await {
        Ok(store) => store
            .insert(&tasks)
            .await
            .into_iter()
            .map(|outcome| outcome.map_err(CodedError::from))
            .collect(),
        Err(e) => vec![Err(e); tasks.len()],
    };
    StoreEvent::Inserted(outcomes)
}

/// Writes finished runs' outcomes, all at once: removes the done (one
/// write per claim), marks the failed, sets up retries and the next runs of
/// series (one write each).
pub(super) async fn write(cell: Arc<StoreCell>, batch: Vec<Completion>) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        let done: Vec<(Bson, String)> = batch
            .iter()
            .filter(|c| matches!(c.write, Write::Delete))
            .map(|c| (c.id.clone(), c.token.clone()))
            .collect();
        let updates = batch.iter().filter_map(|c| {
            let (id, token) = (c.id.clone(), c.token.as_str());
            let (due, error, again) = match &c.write {
                Write::Delete => return None,
                Write::Fail(error) => {
                    return Some(
                        store
                            .fail(id, token, error.clone(), c.progress.clone())
                            .boxed(),
                    )
                }
                Write::Retry { due, error, slot } => {
                    (*due, Some(error.clone()), Again::Retry { slot: *slot })
                }
                Write::Reschedule { due, error } => (*due, error.clone(), Again::NextInSeries),
            };
            Some(store.retry_at(id, token, due, error, again).boxed())
        });
        let (deleted, updated) = tokio::join!(store.complete(&done), try_join_all(updates));
        deleted?;
        updated?;
        Ok::<(), CodedError>(())
    }
    .await;
    StoreEvent::Written { batch, result }
}

/// Hands claimed tasks that never started back to the queue.
pub(super) async fn release(cell: Arc<StoreCell>, claims: Vec<(Bson, String)>) -> StoreEvent {
    let result = async {
        cell.get().await?.release(&claims).await?;
        Ok::<(), CodedError>(())
    }
    .await;
    StoreEvent::Released(result)
}

/// A collection call (`find`, `update`, …) from JS or a worker.
pub(super) async fn call(
    cell: Arc<StoreCell>,
    origin: Origin,
    req: u64,
    op: Op,
    args: Box<RawValue>,
) -> StoreEvent {
    let result = match cell.get().await {
        Ok(store) => requests::collection_call(store, op, &args).await,
        Err(e) => Err(e),
    };
    StoreEvent::Answered {
        origin,
        req,
        result: result.map_err(|e| e.in_call(op.name())),
    }
}

/// What a claim of one type got, and when that type may claim again.
pub(crate) struct TypeClaim {
    pub(crate) claim: Claim,
    /// Its groups' turns, counted on (with groups).
    pub(crate) turns: Option<Turns>,
    /// Its tasks' starts were counted against a rate: they must start by
    /// then (local clock), or go back.
    pub(crate) start_by: Option<tokio::time::Instant>,
    /// Nothing was admitted: not before then.
    pub(crate) wait: Option<Duration>,
}

/// Most times a claim of a limited type reads the limits document again
/// after another master wrote it first.
const CONTENDED_TRIES: usize = 8;

/// Claims up to `n` tasks of `task_type`: fair across its groups when it
/// has some, and with `limited` (this master's holdings now) only what its
/// limits document admits across masters (taken there by compare-and-set
/// first, then claimed; slots that found no task are given back). A rate's
/// starts are recorded `lag` ms after the admission (`special::Lag`).
pub(super) async fn claim_type(
    cell: Arc<StoreCell>,
    task_type: Arc<str>,
    n: usize,
    mut turns: Option<Turns>,
    limited: Option<Holding>,
    lag: i64,
) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        // A limited type counts only the turns it takes.
        let before = limited.as_ref().and(turns.clone());
        let found = store.fair_candidates(&task_type, n, turns.as_mut()).await?;
        let more = found.len() == n;
        let nothing = |wait, turns| TypeClaim {
            claim: Claim::default(),
            turns,
            start_by: None,
            wait,
        };
        if found.is_empty() {
            return Ok(nothing(None, turns));
        }
        let Some(mine) = limited else {
            let claim = store.claim_these(&task_type, found, more).await?;
            return Ok(TypeClaim {
                claim,
                turns,
                start_by: None,
                wait: None,
            });
        };
        let groups: Vec<GroupName> = found.iter().map(group_of).collect();
        let lease = cell.lease().as_millis() as i64;
        for _ in 0..CONTENDED_TRIES {
            let doc = store.limits_doc(&task_type).await?;
            let (now, admitted_at) = (store.server_now(), tokio::time::Instant::now());
            let take = fleet::take(&doc, store.holder(), &mine, &groups, now, lease, lag);
            if take.admitted.is_empty() {
                let frees = fleet::rate_frees_at(&doc, now)
                    .map(|at| Duration::from_millis((at - now).max(1) as u64));
                return Ok(nothing(
                    Some(frees.unwrap_or(special::BLOCKED_RETRY)),
                    before,
                ));
            }
            if !store.take_limits(&task_type, doc.version, &take).await? {
                continue;
            }
            // Sent by half the slack after the recorded start: the rest is
            // for the way to the worker (`Persistent::start_deadline`).
            let start_by = doc.limits.is_some_and(|l| l.has_rate()).then(|| {
                admitted_at + Duration::from_millis((lag + fleet::FLEET_RATE_SLACK_MS / 2) as u64)
            });
            let chosen: Vec<_> = take.admitted.iter().map(|&i| found[i].clone()).collect();
            let asked = chosen.len();
            let claim = store.claim_these(&task_type, chosen, more).await?;
            if claim.tasks.len() < asked {
                // Slots that found no task (another master claimed it first) go back.
                let mut holding = mine.clone();
                for c in &claim.tasks {
                    holding.add(&c.task.group);
                }
                holding.exp = take.mine.exp;
                store.write_holding(&task_type, &holding).await?;
            }
            let turns = before.map(|mut turns| {
                for c in &claim.tasks {
                    turns.took(&c.task.group);
                }
                turns
            });
            return Ok(TypeClaim {
                claim,
                turns,
                start_by,
                wait: None,
            });
        }
        // Other masters kept writing first: try again soon.
        Ok(nothing(Some(special::BLOCKED_RETRY), before))
    }
    .await;
    StoreEvent::TypeClaimed { task_type, result }
}

/// A candidate's group, as stored.
fn group_of(doc: &mongodb::bson::RawDocumentBuf) -> GroupName {
    doc.get_str("group").ok().map(Arc::from)
}

/// Writes this master's holdings of each type.
pub(super) async fn write_holdings(
    cell: Arc<StoreCell>,
    holdings: Vec<(Arc<str>, Holding)>,
) -> StoreEvent {
    let types = holdings.iter().map(|(t, _)| t.clone()).collect();
    let result = async {
        let store = cell.get().await?;
        let exp = store.server_now() + cell.lease().as_millis() as i64;
        let holdings: Vec<_> = holdings
            .into_iter()
            .map(|(t, h)| (t, Holding { exp, ..h }))
            .collect();
        try_join_all(holdings.iter().map(|(t, h)| store.write_holding(t, h))).await?;
        Ok::<(), CodedError>(())
    }
    .await;
    StoreEvent::HoldingsWritten { types, result }
}

/// Reads every type's limits.
pub(super) async fn read_limits(cell: Arc<StoreCell>) -> StoreEvent {
    let result = async { Ok::<_, CodedError>(cell.get().await?.all_limits().await?) }.await;
    StoreEvent::LimitsRead(result)
}

/// Which of this master's types have grouped tasks waiting.
pub(super) async fn find_groups(cell: Arc<StoreCell>) -> StoreEvent {
    let types = &cell.settings.task_types;
    let result = async { Ok::<_, CodedError>(cell.get().await?.grouped_types(types).await?) }.await;
    StoreEvent::GroupsFound(result)
}

/// Stores `limits` of each type (`None` clears them); `answer`, when a
/// call made it, is answered once stored.
pub(super) async fn set_limits(
    cell: Arc<StoreCell>,
    limits: Vec<(String, Option<Limits>)>,
    answer: Option<(Origin, u64)>,
) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        try_join_all(limits.iter().map(|(t, l)| store.set_limits(t, l.as_ref()))).await?;
        Ok::<(), CodedError>(())
    }
    .await;
    StoreEvent::LimitsSet {
        answer,
        result: result.map_err(|e| e.in_call("setLimits")),
    }
}
