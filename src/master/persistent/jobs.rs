//! The database work of the persistent side, each job a future on the tokio
//! runtime that ends in one `StoreEvent`. The store connects on first use,
//! asynchronously, so `mongodb+srv://` URLs (resolved through DNS) work
//! like any other; a failed connection is tried again by the next job.

use super::{Completion, Settings, StoreEvent, Write};
use crate::error::CodedError;
use crate::master::requests::{self, Origin};
use crate::queue::mongo::{Again, Store};
use crate::task::Task;
use crate::wire::request::Op;
use futures_util::TryStreamExt;
use mongodb::bson::Bson;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

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
/// server has change streams, a `Changed` event for each change.
pub(super) async fn start(cell: Arc<StoreCell>, report: super::Report) -> StoreEvent {
    let started = async {
        let store = cell.get().await?;
        store.ensure_indexes().await?;
        store.sync_clock().await?;
        store.recover().await?;
        Ok::<_, CodedError>(store)
    }
    .await;
    let store = match started {
        Ok(store) => store,
        Err(e) => return StoreEvent::Started(Err(e)),
    };
    report(StoreEvent::Started(Ok(())));
    // Without change streams (a standalone server) polling at refreshRate
    // is all there is (and lease renewals see cancels).
    if let Ok(mut changes) = store.watch().await {
        while let Ok(Some(change)) = changes.try_next().await {
            report(match crate::queue::mongo::cancel_in_change(&change) {
                Some(cancel) => StoreEvent::CancelRequested(vec![cancel]),
                None => StoreEvent::Changed,
            });
        }
    }
    StoreEvent::Changed
}

pub(super) async fn claim(cell: Arc<StoreCell>, want: usize) -> StoreEvent {
    let types = &cell.settings.task_types;
    let result = async {
        let store = cell.get().await?;
        let claim = store.claim(types, want).await?;
        let next_due = if claim.more {
            None
        } else {
            store.next_due(types).await.ok().flatten()
        };
        Ok::<_, CodedError>((claim, next_due))
    }
    .await;
    match result {
        Ok((claimed, next_due)) => StoreEvent::Claimed {
            result: Ok(claimed),
            next_due,
        },
        Err(e) => StoreEvent::Claimed {
            result: Err(e),
            next_due: None,
        },
    }
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

/// Writes finished runs' outcomes: removes the done (in one write), marks
/// the failed, sets up retries and the next runs of series.
pub(super) async fn write(cell: Arc<StoreCell>, batch: Vec<Completion>) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        let done: Vec<(Bson, String)> = batch
            .iter()
            .filter(|c| matches!(c.write, Write::Delete))
            .map(|c| (c.id.clone(), c.token.clone()))
            .collect();
        store.complete(&done).await?;
        for c in &batch {
            let (id, token) = (c.id.clone(), c.token.as_str());
            match &c.write {
                Write::Delete => {}
                Write::Fail(error) => {
                    store
                        .fail(id, token, error.clone(), c.progress.clone())
                        .await?
                }
                Write::Retry { due, error, slot } => {
                    let again = Again::Retry { slot: *slot };
                    store
                        .retry_at(id, token, *due, Some(error.clone()), again)
                        .await?
                }
                Write::Reschedule { due, error } => {
                    let again = Again::NextInSeries;
                    store
                        .retry_at(id, token, *due, error.clone(), again)
                        .await?
                }
            }
        }
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
