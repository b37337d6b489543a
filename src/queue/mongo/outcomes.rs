//! Writes under a claim: a run's outcome (removed, failed, due again),
//! claims handed back unstarted, leases renewed, and expired leases
//! recovered (how a dead master's tasks run again).

use super::{ejson, Result, Store};
use mongodb::bson::{doc, Bson, Document};

/// How a task that ran goes back to the queue (`Store::retry_at`).
#[derive(Debug, Clone, Copy)]
pub enum Again {
    /// A retry: its attempts stay counted; a series' run keeps the slot it
    /// was due at (`slot`), so the series goes on from there.
    Retry { slot: Option<i64> },
    /// The next run of a series: attempts back to 0, no slot.
    NextInSeries,
}

impl Store {
    /// Removes finished tasks, each only under the claim that ran it.
    pub async fn complete(&self, done: &[(Bson, String)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        self.coll.delete_many(claims_filter(done)).await?;
        Ok(())
    }

    /// Marks a task failed: it stays, is not claimed again, and says why
    /// (with its last progress, if it reported one).
    pub async fn fail(
        &self,
        id: Bson,
        token: &str,
        error: Document,
        progress: Option<Bson>,
    ) -> Result<()> {
        let mut set = doc! { "onGoing": false, "failed": true, "lastError": error, "failedAt": ejson::date(self.server_now()) };
        if let Some(progress) = progress {
            set.insert("progress", progress);
        }
        self.coll
            .update_one(
                doc! { "_id": id, "lease.token": token },
                doc! { "$set": set, "$unset": { "lease": "" } },
            )
            .await?;
        Ok(())
    }

    /// Hands a task back to run again at `due` (see `Again`). `error` is
    /// the last attempt's, if it failed. Under its claim: a task removed
    /// meanwhile (a series ended) stays removed.
    pub async fn retry_at(
        &self,
        id: Bson,
        token: &str,
        due: i64,
        error: Option<Document>,
        again: Again,
    ) -> Result<()> {
        let mut set = doc! { "onGoing": false, "dueDate": ejson::date(due) };
        // A retry or the next run starts with no progress of its own.
        let mut unset = doc! { "lease": "", "progress": "" };
        match error {
            Some(error) => drop(set.insert("lastError", error)),
            None => drop(unset.insert("lastError", "")),
        }
        match again {
            Again::Retry { slot: Some(slot) } => drop(set.insert("slot", ejson::date(slot))),
            Again::Retry { slot: None } => {}
            Again::NextInSeries => {
                set.insert("attempts", 0);
                unset.insert("slot", "");
            }
        }
        self.coll
            .update_one(
                doc! { "_id": id, "lease.token": token },
                doc! { "$set": set, "$unset": unset },
            )
            .await?;
        Ok(())
    }

    /// Hands claimed tasks that never started back to the queue.
    pub async fn release(&self, claims: &[(Bson, String)]) -> Result<()> {
        if claims.is_empty() {
            return Ok(());
        }
        self.coll
            .update_many(
                claims_filter(claims),
                doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" }, "$inc": { "attempts": -1 } },
            )
            .await?;
        Ok(())
    }

    /// Extends every lease this master holds, in one write.
    pub async fn renew(&self, tokens: &[String]) -> Result<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        // Only the claims this master knows of: a claim it never heard back
        // from (its answer lost) expires, and any master can run its tasks.
        self.coll
            .update_many(
                doc! { "onGoing": true, "lease.owner": &self.owner, "lease.token": { "$in": tokens } },
                doc! { "$set": { "lease.expires": self.lease_expiry() } },
            )
            .await?;
        Ok(())
    }

    /// Hands back tasks whose lease expired, and upstream's `onGoing: true`
    /// documents that have no lease at all; returns how many.
    pub async fn recover(&self) -> Result<u64> {
        let now = ejson::date(self.server_now());
        let result = self
            .coll
            .update_many(
                doc! {
                    "onGoing": true,
                    "$or": [ { "lease.expires": { "$lt": now } }, { "lease": { "$exists": false } } ],
                },
                doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" } },
            )
            .await?;
        Ok(result.modified_count)
    }
}

/// Matches each `_id` only under its own claim token. (`_id $in` and
/// `token $in` would match the cross product: a task re-claimed under a new
/// token would be matched by its old claim's write.)
fn claims_filter(claims: &[(Bson, String)]) -> Document {
    let pairs: Vec<Document> = claims
        .iter()
        .map(|(id, token)| doc! { "_id": id.clone(), "lease.token": token })
        .collect();
    doc! { "$or": pairs }
}
