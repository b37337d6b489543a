//! Claims: due, unclaimed tasks of this master's types, best first, each
//! taken atomically under a lease, in as few round trips as the server
//! allows. One task: one `findOneAndUpdate`. Several: one sorted `find` of
//! the candidates (whole documents, in one reply) and one `updateMany` that
//! takes each of them only if it is still claimable; when every candidate
//! was taken, the documents read are the claim, and only when another
//! master took some first are the ones this claim holds read back.

use super::task_doc::{raw_id, raw_millis, task_before_claim, task_from_raw};
use super::{ejson, order_doc, Claim, Claimed, Result, Store};
use crate::task::RunOrder;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::options::ReturnDocument;
use std::sync::atomic::Ordering;

/// Most candidates one `updateMany` of a claim takes: the test server
/// re-reads the whole filter, `$in` list included, for each document it
/// updates, so a long list costs it more per document (MongoDB does not
/// mind either way).
const TAKE_BATCH: usize = 256;

/// Whether a document's `attempts` already count this claim.
#[derive(Clone, Copy)]
enum Read {
    /// Read back after the claim's update.
    AfterClaim,
    /// Read by the candidates' `find`, just before the update took it.
    BeforeClaim,
}

impl Store {
    /// Claims up to `n` due tasks, best first. A claimed document that is
    /// not a readable task fails alone: it is marked failed under this
    /// claim and returned in `undecodable`, and every other one is a task.
    /// `more` is false when the collection had fewer than `n` due tasks for
    /// us (nothing left now); `next_due` then says when the next one is due.
    pub async fn claim(&self, types: &[String], n: usize) -> Result<Claim> {
        if types.is_empty() || n == 0 {
            return Ok(Claim::default());
        }
        let filter = claimable(types, self.server_now());
        let token = crate::task::new_id();
        if n == 1 {
            let found = self
                .raw
                .find_one_and_update(filter, self.lease_doc(&token))
                .sort(order_doc())
                .return_document(ReturnDocument::After)
                .await?;
            let Some(found) = found else {
                return self.nothing_due(types).await;
            };
            return self.claimed(vec![found], Read::AfterClaim, &token).await;
        }
        let found = self.candidates(&filter, n).await?;
        if found.is_empty() {
            return self.nothing_due(types).await;
        }
        self.take_candidates(types, n, &filter, found, &token).await
    }

    /// The best `n` documents `filter` matches, whole, in one reply (a batch
    /// as large as the limit).
    async fn candidates(&self, filter: &Document, n: usize) -> Result<Vec<RawDocumentBuf>> {
        Ok(self
            .raw
            .find(filter.clone())
            .sort(order_doc())
            .limit(n as i64)
            .batch_size(n as u32)
            .await?
            .try_collect()
            .await?)
    }

    /// Takes the candidates `found` (of a claim of `n`) that are still
    /// `claimable`, under `token`.
    async fn take_candidates(
        &self,
        types: &[String],
        n: usize,
        claimable: &Document,
        found: Vec<RawDocumentBuf>,
        token: &str,
    ) -> Result<Claim> {
        let more = found.len() == n;
        let ids: Vec<Bson> = found.iter().map(|d| raw_id(d)).collect();
        // Still atomic per document: the update takes a candidate only if it
        // is still claimable, so one another master took meanwhile is not ours.
        let take = self.take(&ids, claimable, token);
        // A short claim also asks when the next task is due, at the same time.
        let (taken, next_due) = if more {
            (take.await?, None)
        } else {
            let (taken, next_due) = tokio::join!(take, self.next_due(types));
            (taken?, next_due.ok().flatten())
        };
        let mut claim = if taken == found.len() {
            self.claimed(found, Read::BeforeClaim, token).await?
        } else {
            // Another master took some first: read what this token holds.
            let mine: Vec<RawDocumentBuf> = self
                .raw
                .find(held_by(&ids, token))
                .batch_size(ids.len() as u32)
                .await?
                .try_collect()
                .await?;
            self.claimed(mine, Read::AfterClaim, token).await?
        };
        claim.more = more;
        claim.next_due = next_due;
        Ok(claim)
    }

    /// Takes the candidates `ids` that are still `claimable` under `token`;
    /// returns how many it took: `updateMany`s of at most `TAKE_BATCH` ids,
    /// one after the other.
    async fn take(&self, ids: &[Bson], claimable: &Document, token: &str) -> Result<usize> {
        let mut taken = 0;
        for some in ids.chunks(TAKE_BATCH) {
            let updated = self
                .coll
                .update_many(take_filter(some, claimable), self.lease_doc(token))
                .await?;
            taken += updated.modified_count as usize;
        }
        Ok(taken)
    }

    /// A claim that found nothing due: when the next task is.
    async fn nothing_due(&self, types: &[String]) -> Result<Claim> {
        Ok(Claim {
            next_due: self.next_due(types).await.ok().flatten(),
            ..Claim::default()
        })
    }

    /// Tasks out of claimed documents, best first; a document that is not a
    /// readable task is marked failed rather than claimed again forever.
    /// `more` is set: the caller says otherwise.
    async fn claimed(
        &self,
        documents: Vec<RawDocumentBuf>,
        read: Read,
        token: &str,
    ) -> Result<Claim> {
        let mut claim = Claim {
            more: true,
            ..Claim::default()
        };
        for document in documents {
            let task = match read {
                Read::AfterClaim => task_from_raw(&document),
                Read::BeforeClaim => task_before_claim(&document),
            };
            match task {
                Ok(task) => claim.tasks.push(Claimed {
                    task,
                    id: raw_id(&document),
                    token: token.to_owned(),
                    cancel: super::steering::cancel_of(&document),
                }),
                Err(undecodable) => {
                    let error = undecodable.last_error(self.server_now());
                    self.fail(undecodable.id.clone(), token, error, None)
                        .await?;
                    claim.undecodable.push(*undecodable);
                }
            }
        }
        // Best first, as the dispatcher hands them out.
        claim
            .tasks
            .sort_by_key(|c: &Claimed| std::cmp::Reverse(RunOrder::of(&c.task, 0)));
        Ok(claim)
    }

    /// When the earliest claimable task that is not yet due becomes due.
    pub async fn next_due(&self, types: &[String]) -> Result<Option<i64>> {
        let next = self
            .raw
            .find_one(not_due_yet(types, self.server_now()))
            .sort(doc! { "dueDate": 1 })
            .projection(doc! { "dueDate": 1 })
            .await?;
        Ok(next
            .and_then(|d| raw_millis(d.get("dueDate").ok().flatten()))
            .map(|due| due - self.clock_offset.load(Ordering::Relaxed)))
    }

    fn lease_doc(&self, token: &str) -> Document {
        doc! {
            "$set": {
                "onGoing": true,
                "lease": { "owner": &self.owner, "token": token, "expires": self.lease_expiry() },
            },
            "$inc": { "attempts": 1 },
        }
    }
}

/// Unclaimed, not failed, of these types, and due by `now`. Served by the
/// claim index (`onGoing`, then the claim's sort). Failed documents are
/// left out with `$nor` rather than `failed: {$ne: true}`: the same
/// documents and the same plan on MongoDB, while the test server then reads
/// the collection in one pass instead of document by document through the
/// index (docs/ARCHITECTURE.md, persistent tasks).
pub(crate) fn claimable(types: &[String], now: i64) -> Document {
    let mut filter = unclaimed(types);
    filter.insert("dueDate", doc! { "$lte": ejson::date(now) });
    filter
}

/// Claimable but due after `now`.
pub(crate) fn not_due_yet(types: &[String], now: i64) -> Document {
    let mut filter = unclaimed(types);
    filter.insert("dueDate", doc! { "$gt": ejson::date(now) });
    filter
}

fn unclaimed(types: &[String]) -> Document {
    doc! {
        "onGoing": false,
        "$nor": [ { "failed": true } ],
        "taskType": { "$in": types },
    }
}

/// The candidates `ids` still `claimable`. The ids stay apart in an `$and`:
/// beside a top-level `$nor` the test server would not look them up by
/// index.
pub(crate) fn take_filter(ids: &[Bson], claimable: &Document) -> Document {
    doc! { "$and": [ { "_id": { "$in": ids } }, claimable.clone() ] }
}

/// Which of `ids` this claim holds.
pub(crate) fn held_by(ids: &[Bson], token: &str) -> Document {
    doc! { "_id": { "$in": ids }, "lease.token": token }
}

#[cfg(test)]
mod tests;
