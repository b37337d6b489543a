//! Steering persistent tasks while they run: progress written under the
//! claim that runs the task, and cancels. A cancel ends queued tasks at
//! once (failed, `ERR_TASK_CANCELLED`) and marks running ones with a
//! `cancel` field, which the master holding the claim sees (in its change
//! stream, or at its next lease renewal) and acts on; a claimed document
//! that carries one is never run (`Claimed::cancel`).

use super::task_doc::{raw_id, task_from_raw};
use super::{Result, Store};
use crate::error::{Code, CodedError};
use crate::queue::ejson;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};

/// What a cancel did in MongoDB.
#[derive(Default)]
pub struct CancelOutcome {
    /// Queued tasks it ended: each task's type, the task (its row, or the
    /// object it was when unreadable) and its error.
    pub ended: Vec<(String, String, CodedError)>,
    /// Running tasks it marked: their `_id` and the cancel's message.
    pub requested: Vec<(Bson, String)>,
}

impl Store {
    /// Writes each task's latest progress, under the claim that runs it.
    pub async fn set_progress(&self, writes: &[(Bson, String, Bson)]) -> Result<()> {
        for (id, token, value) in writes {
            self.coll
                .update_one(
                    doc! { "_id": id.clone(), "lease.token": token },
                    doc! { "$set": { "progress": value.clone() } },
                )
                .await?;
        }
        Ok(())
    }

    /// Cancels the tasks `selector` matches that have not ended: queued
    /// ones end now, running ones are marked for the master that holds
    /// them. `token` names this cancel in the documents it touches.
    pub async fn cancel(
        &self,
        selector: Document,
        message: &str,
        token: &str,
    ) -> Result<CancelOutcome> {
        let now = ejson::date(self.server_now());
        let mark = doc! { "token": token, "reason": message, "at": now.clone() };
        // What ended here says so: a running task's own end can be written
        // before the documents are read back (its master saw the mark in
        // its change stream), and must not count as ended by the cancel.
        let mut ended_mark = mark.clone();
        ended_mark.insert("ended", true);
        let error = CodedError::new(Code::TaskCancelled, message);
        let queued =
            doc! { "$and": [selector.clone(), { "onGoing": false, "failed": { "$ne": true } }] };
        self.coll
            .update_many(
                queued,
                doc! { "$set": {
                    "failed": true,
                    "failedAt": now.clone(),
                    "lastError": { "name": error.code.name(), "message": message, "code": error.code.as_str(), "at": now },
                    "cancel": ended_mark,
                } },
            )
            .await?;
        let running =
            doc! { "$and": [selector, { "onGoing": true, "cancel": { "$exists": false } }] };
        self.coll
            .update_many(running, doc! { "$set": { "cancel": mark } })
            .await?;
        let touched: Vec<RawDocumentBuf> = self
            .raw
            .find(doc! { "cancel.token": token })
            .await?
            .try_collect()
            .await?;
        let mut outcome = CancelOutcome::default();
        for document in touched {
            let ended = document
                .get_document("cancel")
                .is_ok_and(|cancel| matches!(cancel.get_bool("ended"), Ok(true)));
            if !ended {
                outcome
                    .requested
                    .push((raw_id(&document), message.to_owned()));
                continue;
            }
            let task = match task_from_raw(&document) {
                Ok(task) => crate::wire::task::row(&task, false),
                Err(undecodable) => undecodable.task_json,
            };
            let task_type = document.get_str("taskType").unwrap_or_default().to_owned();
            let error = CodedError::new(Code::TaskCancelled, message);
            outcome.ended.push((task_type, task, error));
        }
        Ok(outcome)
    }

    /// Tasks queued and not running (due or not, not failed), per type.
    pub async fn queued_by_type(&self) -> Result<Vec<(String, u64)>> {
        let pipeline = [
            doc! { "$match": { "onGoing": false, "failed": { "$ne": true } } },
            doc! { "$group": { "_id": "$taskType", "n": { "$sum": 1 } } },
        ];
        let groups: Vec<Document> = self.coll.aggregate(pipeline).await?.try_collect().await?;
        Ok(groups
            .iter()
            .map(|g| {
                let task_type = g.get_str("_id").unwrap_or_default().to_owned();
                let n = match g.get("n") {
                    Some(Bson::Int32(n)) => *n as u64,
                    Some(Bson::Int64(n)) => *n as u64,
                    Some(Bson::Double(n)) => *n as u64,
                    _ => 0,
                };
                (task_type, n)
            })
            .collect())
    }

    /// The cancels asked for tasks this master holds under `tokens`.
    pub async fn cancel_requests(&self, tokens: &[String]) -> Result<Vec<(Bson, String)>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<RawDocumentBuf> = self
            .raw
            .find(doc! { "lease.token": { "$in": tokens }, "cancel": { "$exists": true } })
            .projection(doc! { "_id": 1, "cancel": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(found
            .iter()
            .map(|d| (raw_id(d), cancel_reason(d)))
            .collect())
    }
}

/// The message of a document's `cancel` request, if it has one.
pub(crate) fn cancel_reason(document: &mongodb::bson::RawDocument) -> String {
    document
        .get_document("cancel")
        .ok()
        .and_then(|c| c.get_str("reason").ok())
        .unwrap_or("the task was cancelled")
        .to_owned()
}

/// Whether a claimed task was cancelled: the message its cancel carries.
pub(crate) fn cancel_of(document: &mongodb::bson::RawDocument) -> Option<String> {
    document
        .get("cancel")
        .ok()
        .flatten()
        .map(|_| cancel_reason(document))
}

/// A cancel a change stream event shows: an update that set a task's
/// `cancel` field (its `_id` and the cancel's message).
pub fn cancel_in_change(change: &mongodb::bson::RawDocument) -> Option<(Bson, String)> {
    let updated = change
        .get_document("updateDescription")
        .ok()?
        .get_document("updatedFields")
        .ok()?;
    let cancel = updated.get_document("cancel").ok()?;
    let id = change.get_document("documentKey").ok()?.get("_id").ok()??;
    let message = cancel
        .get_str("reason")
        .unwrap_or("the task was cancelled")
        .to_owned();
    Some((Bson::try_from(id.to_raw_bson()).ok()?, message))
}

/// A task's progress value, as stored.
pub fn progress_bson(json: &str) -> Bson {
    serde_json::from_str::<serde_json::Value>(json)
        .map(|v| ejson::to_bson(&v))
        .unwrap_or(Bson::Null)
}
