//! Each dashboard call: its arguments read (`wire::board`), the store
//! asked, the answer written as JSON. An action that changes nothing
//! answers `ERR_NOT_FOUND`, saying what it looked for.

use super::{cursor, not_found, Board};
use crate::error::CodedError;
use crate::queue::mongo::{ListQuery, Store};
use crate::wire::board::{BoardOp, IdArgs, ListArgs, MasterArgs, TypeArgs};
use crate::wire::json_array;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Most tasks one page may ask for.
const MAX_PAGE: u32 = 500;

fn args<T: DeserializeOwned>(op: BoardOp, json: &str) -> Result<T, CodedError> {
    serde_json::from_str(json)
        .map_err(|e| CodedError::invalid(format!("dashboard {}: bad arguments: {e}", op.name())))
}

pub(super) async fn run(
    board: &Board,
    store: &std::sync::Arc<Store>,
    op: BoardOp,
    json: &str,
) -> Result<String, CodedError> {
    let now = store.server_now();
    Ok(match op {
        BoardOp::Overview => {
            let (counts, counting) = board.counts.cached(store);
            let total = store.estimated_total().await?;
            let oldest = store.oldest_due(now).await?;
            let limits: Vec<_> = store
                .limits_docs()
                .await?
                .into_iter()
                .map(|(task_type, doc)| {
                    json!({
                        "taskType": task_type,
                        "limits": doc.limits,
                        "inUse": crate::master::fleet::usage(&doc, now),
                    })
                })
                .collect();
            json!({
                "now": now,
                "counts": counts,
                "counting": counting,
                "estimatedTotal": total,
                "oldestDueAt": oldest,
                "limits": limits,
            })
            .to_string()
        }
        BoardOp::List => list(store, args(op, json)?, now).await?,
        BoardOp::Task => {
            let IdArgs { id } = args(op, json)?;
            let task = store.board_task(&id).await?;
            format!(
                r#"{{"now":{now},"task":{}}}"#,
                task.as_deref().unwrap_or("null")
            )
        }
        BoardOp::Masters => {
            let masters = store.masters().await?;
            format!(r#"{{"now":{now},"masters":{}}}"#, json_array(&masters))
        }
        BoardOp::Retry => {
            let IdArgs { id } = args(op, json)?;
            changed(store.board_retry(Some(&id), None).await?, || {
                format!("no failed task with _id {id:?}: it was retried, removed or never failed")
            })?
        }
        BoardOp::RetryFailed => {
            let TypeArgs { task_type } = args(op, json)?;
            changed(store.board_retry(None, Some(&task_type)).await?, || {
                format!("no failed task of type {task_type:?} to retry")
            })?
        }
        BoardOp::RunNow => {
            let IdArgs { id } = args(op, json)?;
            changed(store.board_run_now(&id).await?, || {
                format!(
                    "no queued task with _id {id:?}: it is running, finished, failed or removed"
                )
            })?
        }
        BoardOp::Cancel => {
            let IdArgs { id } = args(op, json)?;
            let token = crate::task::new_id();
            let outcome = store
                .cancel(
                    mongodb::bson::doc! { "_id": &id },
                    "cancelled from the dashboard",
                    &token,
                )
                .await?;
            changed(
                (outcome.ended.len() + outcome.requested.len()) as u64,
                || {
                    format!("no queued or running task with _id {id:?}: it finished, failed or was removed")
                },
            )?
        }
        BoardOp::Remove => {
            let IdArgs { id } = args(op, json)?;
            changed(store.board_remove(Some(&id), None).await?, || {
                format!("no task with _id {id:?} that is not running: it finished, was removed, or runs (cancel it first)")
            })?
        }
        BoardOp::RemoveFailed => {
            let TypeArgs { task_type } = args(op, json)?;
            changed(store.board_remove(None, Some(&task_type)).await?, || {
                format!("no failed task of type {task_type:?} to remove")
            })?
        }
        BoardOp::Pause | BoardOp::Resume => {
            let MasterArgs { master } = args(op, json)?;
            let found = store.request_master(&master, op.name()).await?;
            changed(u64::from(found), || {
                format!("no live master {master:?}: it closed or stopped sending heartbeats")
            })?
        }
    })
}

/// `{ changed }`, or `ERR_NOT_FOUND` with `why()` when nothing changed.
fn changed(count: u64, why: impl FnOnce() -> String) -> Result<String, CodedError> {
    if count == 0 {
        return Err(not_found(why()));
    }
    Ok(json!({ "changed": count }).to_string())
}

async fn list(store: &Store, args: ListArgs, now: i64) -> Result<String, CodedError> {
    if args.limit == 0 || args.limit > MAX_PAGE {
        return Err(CodedError::invalid(format!(
            "dashboard list: limit must be 1 to {MAX_PAGE}"
        )));
    }
    let after = args.after.as_deref().map(cursor::decode).transpose()?;
    let query = ListQuery {
        task_type: args.task_type.as_deref(),
        state: args.state,
        id_prefix: args.id_prefix.as_deref(),
        sort: args.sort,
        after,
        limit: args.limit,
    };
    let page = store.board_list(&query, now).await?;
    let next = page
        .last
        .map(|(value, id)| crate::wire::json_string(&cursor::encode(&value, &id)))
        .unwrap_or_else(|| "null".to_owned());
    Ok(format!(
        r#"{{"now":{now},"tasks":{},"next":{next}}}"#,
        json_array(&page.tasks)
    ))
}
