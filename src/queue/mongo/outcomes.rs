//! Writes under a claim: a run's outcome (removed, failed, due again),
//! claims handed back unstarted, leases renewed, and expired leases
//! recovered (how a dead master's tasks run again).

use super::{ejson, Result, Store};
use futures_util::future::try_join_all;
use mongodb::bson::{doc, Bson, Document};
use std::future::IntoFuture;

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
    /// Removes finished tasks, each only under the claim that ran it: one
    /// `deleteMany` per claim token, served by the `_id` index, all at once.
    pub async fn complete(&self, done: &[(Bson, String)]) -> Result<()> {
        try_join_all(
            by_claim(done)
                .into_iter()
                .map(|f| self.coll.delete_many(f).into_future()),
        )
        .await?;
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
        let back = doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" }, "$inc": { "attempts": -1 } };
        try_join_all(
            by_claim(claims)
                .into_iter()
                .map(|f| self.coll.update_many(f, back.clone()).into_future()),
        )
        .await?;
        Ok(())
    }

    /// Extends every lease this master holds, in one write (the claimed
    /// documents, through the claim index's `onGoing`).
    pub async fn renew(&self, tokens: &[String]) -> Result<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        // Only the claims this master knows of: a claim it never heard back
        // from (its answer lost) expires, and any master can run its tasks.
        self.coll
            .update_many(
                renewal_filter(&self.owner, tokens),
                doc! { "$set": { "lease.expires": self.lease_expiry() } },
            )
            .await?;
        Ok(())
    }

    /// Hands back tasks whose lease expired, and upstream's `onGoing: true`
    /// documents that have no lease at all; returns how many. Served by the
    /// claim index's `onGoing` (the claimed documents only); the `$or` stays
    /// inside an `$and`, where the test server still uses that index.
    pub async fn recover(&self) -> Result<u64> {
        let result = self
            .coll
            .update_many(
                recovery_filter(self.server_now()),
                doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" } },
            )
            .await?;
        Ok(result.modified_count)
    }
}

/// The claims `owner` holds under `tokens` (renewal).
pub(crate) fn renewal_filter(owner: &str, tokens: &[String]) -> Document {
    doc! { "onGoing": true, "lease.owner": owner, "lease.token": { "$in": tokens } }
}

/// Claimed documents whose lease expired by `now`, or that have none
/// (upstream's `onGoing: true`).
pub(crate) fn recovery_filter(now: i64) -> Document {
    doc! { "$and": [
        { "onGoing": true },
        { "$or": [ { "lease.expires": { "$lt": ejson::date(now) } }, { "lease": { "$exists": false } } ] },
    ] }
}

/// One filter per claim token, `{ _id: { $in: ids }, "lease.token": token }`,
/// in the order tokens first appear: each `_id` only under its own claim.
/// (One filter with `_id $in` and `token $in` would match the cross product,
/// a task re-claimed under a new token by its old claim's write; an `$or`
/// of `{_id, token}` pairs is not served by an index on every server.)
pub(crate) fn by_claim(claims: &[(Bson, String)]) -> Vec<Document> {
    let mut groups: Vec<(&str, Vec<Bson>)> = Vec::new();
    for (id, token) in claims {
        match groups.iter_mut().find(|(t, _)| *t == token.as_str()) {
            Some((_, ids)) => ids.push(id.clone()),
            None => groups.push((token, vec![id.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(token, ids)| doc! { "_id": { "$in": ids }, "lease.token": token })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::by_claim;
    use mongodb::bson::{doc, Bson};

    #[test]
    fn writes_under_claims_are_grouped_by_token_never_crossed() {
        let claim = |id: &str, token: &str| (Bson::String(id.to_owned()), token.to_owned());
        let filters = by_claim(&[claim("a", "t1"), claim("b", "t2"), claim("c", "t1")]);
        assert_eq!(
            filters,
            vec![
                doc! { "_id": { "$in": ["a", "c"] }, "lease.token": "t1" },
                doc! { "_id": { "$in": ["b"] }, "lease.token": "t2" },
            ]
        );
        assert!(by_claim(&[]).is_empty());
    }
}
