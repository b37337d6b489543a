//! What the dashboard reads and changes in the collection: counts per type
//! and state (one `$group`, run in the background by `board::counts`),
//! pages of tasks in an indexed order with keyset pagination, one task,
//! and the actions (retry, run now, cancel, remove). Each call is a fixed
//! number of queries with a limit, served by the indexes made here.

use super::error::Result;
use super::task_doc::{id_text, raw_id};
use super::Store;
use crate::queue::ejson;
use crate::wire::board::{Sort, TaskState};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

/// The index of the due-date order (see `ensure_board_indexes`).
const DUE_DATE_INDEX: &str = "meteorCluster_board_dueDate";

/// One task type's counts.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeCounts {
    pub task_type: String,
    pub due: u64,
    pub scheduled: u64,
    pub running: u64,
    pub failed: u64,
    pub recurring: u64,
    pub total: u64,
}

/// A page of tasks: each document (without its `data`) as EJSON, and the
/// last one's sort key when more may follow.
pub struct Page {
    pub tasks: Vec<String>,
    pub last: Option<(Bson, Bson)>,
}

/// What `list` asks for, in the store's terms.
pub struct ListQuery<'a> {
    pub task_type: Option<&'a str>,
    pub state: Option<TaskState>,
    pub id_prefix: Option<&'a str>,
    pub sort: Sort,
    /// The sort key of the last task of the page before.
    pub after: Option<(Bson, Bson)>,
    pub limit: u32,
}

impl Store {
    /// The indexes the dashboard's pages and actions use (idempotent).
    pub async fn ensure_board_indexes(&self) -> Result<()> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        let mut indexes: Vec<IndexModel> = Sort::ALL
            .iter()
            .map(|sort| {
                let mut keys = Document::new();
                keys.insert(sort.name(), sort.direction());
                keys.insert("_id", 1);
                index(keys, &format!("meteorCluster_board_{}", sort.name()))
            })
            .collect();
        indexes.push(index(
            doc! { "failed": 1, "taskType": 1 },
            "meteorCluster_board_failed",
        ));
        self.coll.create_indexes(indexes).await?;
        Ok(())
    }

    /// Counts per task type and state, in one pass over the collection.
    /// Slow on a big collection: the dashboard runs it in the background.
    pub async fn board_counts(&self, now: i64) -> Result<Vec<TypeCounts>> {
        let now = ejson::date(now);
        let waiting =
            doc! { "$and": [ { "$eq": ["$onGoing", false] }, { "$ne": ["$failed", true] } ] };
        let when = |cond: Document| doc! { "$sum": { "$cond": [cond, 1, 0] } };
        let pipeline = [
            doc! { "$group": {
                "_id": "$taskType",
                "due": when(doc! { "$and": [waiting.clone(), { "$lte": ["$dueDate", now.clone()] }] }),
                "scheduled": when(doc! { "$and": [waiting, { "$gt": ["$dueDate", now] }] }),
                "running": when(doc! { "$eq": ["$onGoing", true] }),
                "failed": when(doc! { "$eq": ["$failed", true] }),
                "recurring": when(doc! { "$gt": ["$repeat", Bson::Null] }),
                "total": { "$sum": 1 },
            } },
            doc! { "$sort": { "_id": 1 } },
        ];
        let rows: Vec<Document> = self.coll.aggregate(pipeline).await?.try_collect().await?;
        let number = |d: &Document, key: &str| match d.get(key) {
            Some(Bson::Int32(n)) => *n as u64,
            Some(Bson::Int64(n)) => *n as u64,
            Some(Bson::Double(n)) => *n as u64,
            _ => 0,
        };
        Ok(rows
            .iter()
            .map(|d| TypeCounts {
                task_type: match d.get("_id") {
                    Some(Bson::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                due: number(d, "due"),
                scheduled: number(d, "scheduled"),
                running: number(d, "running"),
                failed: number(d, "failed"),
                recurring: number(d, "recurring"),
                total: number(d, "total"),
            })
            .collect())
    }

    /// The collection's size from its metadata (no scan).
    pub async fn estimated_total(&self) -> Result<u64> {
        Ok(self.coll.estimated_document_count().await?)
    }

    /// When the task that has waited longest became due (none: `None`).
    pub async fn oldest_due(&self, now: i64) -> Result<Option<i64>> {
        let mut filter = state_filter(TaskState::Due, now);
        filter.insert("dueDate", doc! { "$lte": ejson::date(now) });
        let oldest = |hint: Option<&str>| {
            let mut find = self
                .raw
                .find_one(filter.clone())
                .sort(doc! { "dueDate": 1, "_id": 1 })
                .projection(doc! { "dueDate": 1 });
            if let Some(name) = hint {
                find = find.hint(mongodb::options::Hint::Name(name.to_owned()));
            }
            find
        };
        // The planner may prefer the claim index (its prefix matches the
        // filter) and sort in memory; the due-date index reads the oldest
        // first. Without that index (not made yet), the plain query.
        let found = match oldest(Some(DUE_DATE_INDEX)).await {
            Ok(found) => found,
            Err(_) => oldest(None).await?,
        };
        Ok(found.and_then(|d| super::task_doc::raw_millis(d.get("dueDate").ok().flatten())))
    }

    /// A page of tasks in `query.sort`'s order, after `query.after`.
    pub async fn board_list(&self, query: &ListQuery<'_>, now: i64) -> Result<Page> {
        let mut and = Vec::new();
        if let Some(state) = query.state {
            and.push(state_filter(state, now));
        }
        if let Some(task_type) = query.task_type {
            and.push(doc! { "taskType": task_type });
        }
        if let Some(prefix) = query.id_prefix.filter(|p| !p.is_empty()) {
            // A range, not a regex: the `_id` index serves it.
            and.push(doc! { "_id": { "$gte": prefix, "$lt": format!("{prefix}\u{10FFFF}") } });
        }
        let field = query.sort.name();
        let after_op = if query.sort.direction() < 0 {
            "$lt"
        } else {
            "$gt"
        };
        if let Some((value, id)) = &query.after {
            and.push(doc! { "$or": [
                { field: { after_op: value.clone() } },
                { field: value.clone(), "_id": { "$gt": id.clone() } },
            ] });
        }
        let filter = match and.len() {
            0 => Document::new(),
            1 => and.pop().unwrap_or_default(),
            _ => doc! { "$and": and },
        };
        let mut sort = Document::new();
        sort.insert(field, query.sort.direction());
        sort.insert("_id", 1);
        // One more than a page: whether a next page exists, without a count.
        let found: Vec<RawDocumentBuf> = self
            .raw
            .find(filter)
            .sort(sort)
            .limit(i64::from(query.limit) + 1)
            .projection(doc! { "data": 0 })
            .await?
            .try_collect()
            .await?;
        let more = found.len() > query.limit as usize;
        let shown = &found[..found.len().min(query.limit as usize)];
        let last = shown
            .last()
            .filter(|_| more)
            .map(|d| (sort_value(d, field), raw_id(d)));
        let tasks = shown.iter().map(summary_json).collect();
        Ok(Page { tasks, last })
    }

    /// One task's whole document, as EJSON (an unreadable one says why).
    pub async fn board_task(&self, id: &str) -> Result<Option<String>> {
        let found = self.raw.find_one(doc! { "_id": id }).await?;
        Ok(found.map(|d| summary_json(&d)))
    }

    /// Failed tasks due again now, their attempts, error and progress reset:
    /// one task (`id`) or every failed one of a type, in one update.
    pub async fn board_retry(&self, id: Option<&str>, task_type: Option<&str>) -> Result<u64> {
        let mut filter = doc! { "failed": true };
        if let Some(id) = id {
            filter.insert("_id", id);
        }
        if let Some(task_type) = task_type {
            filter.insert("taskType", task_type);
        }
        let update = doc! {
            "$set": { "dueDate": ejson::date(self.server_now()), "attempts": 0, "onGoing": false },
            "$unset": { "failed": "", "lastError": "", "failedAt": "", "cancel": "", "progress": "", "lease": "", "slot": "" },
        };
        let result = if id.is_some() {
            self.coll.update_one(filter, update).await?
        } else {
            self.coll.update_many(filter, update).await?
        };
        Ok(result.modified_count)
    }

    /// A queued task made due now.
    pub async fn board_run_now(&self, id: &str) -> Result<u64> {
        let result = self
            .coll
            .update_one(
                doc! { "_id": id, "onGoing": false, "failed": { "$ne": true } },
                doc! { "$set": { "dueDate": ejson::date(self.server_now()) } },
            )
            .await?;
        Ok(result.matched_count)
    }

    /// Removes a task that is not running, or every failed task of a type.
    pub async fn board_remove(&self, id: Option<&str>, task_type: Option<&str>) -> Result<u64> {
        let result = match (id, task_type) {
            (Some(id), _) => {
                self.coll
                    .delete_one(doc! { "_id": id, "onGoing": { "$ne": true } })
                    .await?
            }
            (None, Some(task_type)) => {
                self.coll
                    .delete_many(doc! { "taskType": task_type, "failed": true })
                    .await?
            }
            (None, None) => return Ok(0),
        };
        Ok(result.deleted_count)
    }
}

/// The documents in a state (see `TaskState`).
pub fn state_filter(state: TaskState, now: i64) -> Document {
    let now = ejson::date(now);
    match state {
        TaskState::Due => {
            doc! { "onGoing": false, "failed": { "$ne": true }, "dueDate": { "$lte": now } }
        }
        TaskState::Scheduled => {
            doc! { "onGoing": false, "failed": { "$ne": true }, "dueDate": { "$gt": now } }
        }
        TaskState::Running => doc! { "onGoing": true },
        TaskState::Failed => doc! { "failed": true },
        TaskState::Recurring => doc! { "repeat": { "$exists": true } },
    }
}

/// The value of the sort field of a stored document.
fn sort_value(d: &RawDocumentBuf, field: &str) -> Bson {
    d.get(field)
        .ok()
        .flatten()
        .and_then(|v| Bson::try_from(v.to_raw_bson()).ok())
        .unwrap_or(Bson::Null)
}

/// A document as EJSON; one that cannot be read shows its `_id` and why.
fn summary_json(d: &RawDocumentBuf) -> String {
    ejson::document_json(d, "").unwrap_or_else(|error| {
        serde_json::json!({
            "_id": id_text(&raw_id(d)),
            "undecodable": error.to_string(),
        })
        .to_string()
    })
}
