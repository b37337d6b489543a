//! Claims: due, unclaimed tasks of this master's types, best first, each
//! taken atomically under a lease, in as few round trips as the server
//! allows. One task: one `findOneAndUpdate`. Several: one sorted `find` of
//! the candidates (whole documents, in one reply) and one `updateMany` that
//! takes each of them only if it is still claimable; when every candidate
//! was taken, the documents read are the claim, and only when another
//! master took some first are the ones this claim holds read back.

use super::task_doc::{raw_id, raw_millis, task_before_claim, task_from_raw};
use super::{ejson, order_doc, Claim, Claimed, Result, Store};
use crate::queue::ready::GroupName;
use crate::task::{now_ms, RunOrder};
use ahash::AHashMap as HashMap;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::options::ReturnDocument;
use std::collections::VecDeque;
use std::sync::Arc;

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
        let filter = claimable(types, now_ms());
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

    /// Up to `n` due candidates of `task_type`, best first; when the type
    /// has groups (`turns`, the groups' turns so far), fair across them: at
    /// equal priority the group that had fewest turns goes next (tasks
    /// without a group are a group of their own), a higher priority first
    /// whatever its group. Read, not taken; `turns` counts them.
    pub async fn fair_candidates(
        &self,
        task_type: &str,
        n: usize,
        turns: Option<&mut Turns>,
    ) -> Result<Vec<RawDocumentBuf>> {
        let types = [task_type.to_owned()];
        let filter = claimable(&types, now_ms());
        let Some(turns) = turns.filter(|_| n > 0) else {
            return self.candidates(&filter, n).await;
        };
        let mut groups: Vec<Bson> = self.coll.distinct("group", filter.clone()).await?;
        groups.push(Bson::Null);
        let names: Vec<GroupName> = groups.iter().map(|g| g.as_str().map(Arc::from)).collect();
        let each = groups.into_iter().map(|group| {
            let mut filter = filter.clone();
            filter.insert("group", group);
            async move { self.candidates(&filter, n).await }
        });
        let lists = futures_util::future::try_join_all(each).await?;
        Ok(turns.merge(names.into_iter().zip(lists).collect(), n))
    }

    /// Claims the candidates `found` (read by `fair_candidates` of
    /// `task_type`, in the order to run them) that are still claimable;
    /// `more`: the collection may hold more.
    pub async fn claim_these(
        &self,
        task_type: &str,
        found: Vec<RawDocumentBuf>,
        more: bool,
    ) -> Result<Claim> {
        if found.is_empty() {
            return Ok(Claim::default());
        }
        let types = [task_type.to_owned()];
        let filter = claimable(&types, now_ms());
        let token = crate::task::new_id();
        let n = if more { found.len() } else { found.len() + 1 };
        let order: Vec<Bson> = found.iter().map(|d| raw_id(d)).collect();
        let mut claim = self
            .take_candidates(&types, n, &filter, found, &token)
            .await?;
        // In the fair order they were read in, not the claim's sort.
        claim
            .tasks
            .sort_by_key(|c| order.iter().position(|id| *id == c.id));
        Ok(claim)
    }

    /// The task types with grouped tasks waiting, among `types`.
    pub async fn grouped_types(&self, types: &[String]) -> Result<Vec<String>> {
        let mut filter = unclaimed(types);
        filter.insert("group", doc! { "$exists": true });
        Ok(self
            .coll
            .distinct("taskType", filter)
            .await?
            .into_iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect())
    }

    /// When the earliest claimable task that is not yet due becomes due.
    pub async fn next_due(&self, types: &[String]) -> Result<Option<i64>> {
        let next = self
            .raw
            .find_one(not_due_yet(types, now_ms()))
            .sort(doc! { "dueDate": 1 })
            .projection(doc! { "dueDate": 1 })
            .await?;
        Ok(next.and_then(|d| raw_millis(d.get("dueDate").ok().flatten())))
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

/// Unclaimed, not failed, of these types, and due by `now`, this machine's
/// clock: due dates come from the clock of the process that added the
/// task, and a task must not start before its own (the server's clock
/// times only leases). Served by the
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

/// The turns the groups of one type had (start-time fair queuing, as in
/// `queue::ready`): at equal priority the group with fewest goes next, and
/// a group that appears starts level with the last one served.
#[derive(Debug, Default, Clone)]
pub struct Turns {
    taken: HashMap<GroupName, u64>,
    level: u64,
}

impl Turns {
    /// Up to `n` documents from each group's list (best first), in the
    /// order they should run; their turns counted.
    fn merge(
        &mut self,
        lists: Vec<(GroupName, Vec<RawDocumentBuf>)>,
        n: usize,
    ) -> Vec<RawDocumentBuf> {
        let priority = |d: &RawDocumentBuf| match d.get("priority") {
            Ok(Some(p)) => p.as_i64().or(p.as_i32().map(i64::from)).unwrap_or(0),
            _ => 0,
        };
        // Groups with nothing waiting are forgotten: they start level when back.
        self.taken.retain(|g, _| {
            lists
                .iter()
                .any(|(name, list)| name == g && !list.is_empty())
        });
        let mut lists: Vec<(GroupName, VecDeque<RawDocumentBuf>)> = lists
            .into_iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(g, list)| (g, list.into()))
            .collect();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some(best) = lists
                .iter()
                .filter_map(|(_, l)| l.front().map(priority))
                .max()
            else {
                break;
            };
            let level = self.level;
            let Some((group, list)) = lists
                .iter_mut()
                .filter(|(_, l)| l.front().is_some_and(|d| priority(d) == best))
                .min_by_key(|(g, _)| self.taken.get(g).copied().unwrap_or(level))
            else {
                break;
            };
            out.extend(list.pop_front());
            let group = group.clone();
            self.took(&group);
        }
        out
    }

    /// `group` had its turn.
    pub fn took(&mut self, group: &GroupName) {
        let taken = self.taken.entry(group.clone()).or_insert(self.level);
        self.level = *taken;
        *taken += 1;
    }
}

/// Which of `ids` this claim holds.
pub(crate) fn held_by(ids: &[Bson], token: &str) -> Document {
    doc! { "_id": { "$in": ids }, "lease.token": token }
}

#[cfg(test)]
mod tests;
