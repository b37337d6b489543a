//! Persistence in MongoDB, in upstream's collection and document shape:
//! insert, leased claim, complete, fail, lease renewal, recovery of expired
//! leases, indexes, and the collection calls of the upstream README.
//!
//! Claims are one `findOneAndUpdate` each: only due, unclaimed tasks of this
//! master's task types, best first, marked `onGoing` with a lease (owner,
//! token, expiry in the server's time). A lease that is not renewed expires,
//! and `recover` hands such tasks back, which is how a dead master's tasks
//! run again and why two masters never hold the same task at once.

use super::ejson;
use crate::task::Task;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{change_stream::ChangeStream, Collection, IndexModel};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How long a claim holds a task without being renewed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How long an operation waits for an unreachable server before failing.
const SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum StoreError {
    Duplicate(String),
    Config(String),
    Db(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(id) => {
                write!(f, "a task with _id {id:?} already exists in the queue")
            }
            StoreError::Config(m) | StoreError::Db(m) => f.write_str(m),
        }
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        StoreError::Db(format!("MongoDB: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A task this master claimed; `token` names the claim (with the task's
/// `_id`) in later writes.
pub struct Claimed {
    pub task: Task,
    pub token: String,
}

pub struct Store {
    coll: Collection<Document>,
    owner: String,
    lease: Duration,
    /// Server clock minus local clock, in ms, so leases are in server time.
    clock_offset: AtomicI64,
}

impl Store {
    pub async fn connect(
        url: &str,
        collection: &str,
        owner: String,
        lease: Duration,
    ) -> Result<Store> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| StoreError::Config(format!("invalid MongoDB URL: {e}")))?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(SELECTION_TIMEOUT);
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(SELECTION_TIMEOUT);
        }
        options
            .app_name
            .get_or_insert_with(|| "meteor-cluster".to_owned());
        let client = mongodb::Client::with_options(options)?;
        let db = client.default_database().ok_or_else(|| {
            StoreError::Config(format!(
                "the MongoDB URL names no database (as in mongodb://host:port/mydb): {url}"
            ))
        })?;
        let store = Store {
            coll: db.collection(collection),
            owner,
            lease,
            clock_offset: AtomicI64::new(0),
        };
        Ok(store)
    }

    /// Creates the indexes the claim and the recovery use (idempotent).
    pub async fn ensure_indexes(&self) -> Result<()> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        self.coll
            .create_indexes([
                index(
                    doc! { "onGoing": 1, "priority": -1, "createdAt": 1 },
                    "meteorCluster_claim",
                ),
                index(
                    doc! { "onGoing": 1, "lease.expires": 1 },
                    "meteorCluster_lease",
                ),
                index(doc! { "taskType": 1 }, "taskType_1"),
            ])
            .await?;
        Ok(())
    }

    /// Reads the server's clock (the `hello` command's `localTime`).
    pub async fn sync_clock(&self) -> Result<()> {
        let sent = crate::task::now_ms();
        let reply = self
            .coll
            .client()
            .database("admin")
            .run_command(doc! { "hello": 1 })
            .await?;
        let received = crate::task::now_ms();
        if let Ok(server) = reply.get_datetime("localTime") {
            let offset = server.timestamp_millis() - (sent + received) / 2;
            self.clock_offset.store(offset, Ordering::Relaxed);
        }
        Ok(())
    }

    pub fn server_now(&self) -> i64 {
        crate::task::now_ms() + self.clock_offset.load(Ordering::Relaxed)
    }

    fn lease_expiry(&self) -> Bson {
        ejson::date(self.server_now() + self.lease.as_millis() as i64)
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Inserts tasks in upstream's shape, in one write; one outcome per
    /// task, each `Ok` once acknowledged.
    pub async fn insert(&self, tasks: &[Task]) -> Vec<Result<()>> {
        let mut documents = Vec::with_capacity(tasks.len());
        let mut outcomes: Vec<Result<()>> = Vec::with_capacity(tasks.len());
        let mut positions = Vec::with_capacity(tasks.len());
        for (i, task) in tasks.iter().enumerate() {
            match ejson::doc_from_json(&task.data, "data") {
                Ok(data) => {
                    positions.push(i);
                    documents.push(doc! {
                        "_id": &task.id,
                        "taskType": &task.task_type,
                        "priority": task.priority,
                        "data": data,
                        "createdAt": ejson::date(task.created_at),
                        "onGoing": false,
                        "dueDate": ejson::date(task.due_date),
                    });
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(StoreError::Config(e))),
            }
        }
        if documents.is_empty() {
            return outcomes;
        }
        let Err(e) = self.coll.insert_many(documents).ordered(false).await else {
            return outcomes;
        };
        match &*e.kind {
            ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                for w in failure.write_errors.iter().flatten() {
                    let Some(&i) = positions.get(w.index) else {
                        continue;
                    };
                    outcomes[i] = Err(if w.code == 11000 {
                        StoreError::Duplicate(tasks[i].id.clone())
                    } else {
                        StoreError::Db(format!("MongoDB: {}", w.message))
                    });
                }
            }
            _ => {
                let message = format!("MongoDB: {e}");
                for &i in &positions {
                    outcomes[i] = Err(StoreError::Db(message.clone()));
                }
            }
        }
        outcomes
    }

    fn claimable(&self, types: &[String]) -> Document {
        doc! {
            "onGoing": false,
            "failed": { "$ne": true },
            "taskType": { "$in": types },
        }
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

    /// Claims up to `n` due tasks, best first. The flag is false when the
    /// collection had fewer than `n` due tasks for us (nothing left now).
    pub async fn claim(&self, types: &[String], n: usize) -> Result<(Vec<Claimed>, bool)> {
        if types.is_empty() || n == 0 {
            return Ok((Vec::new(), false));
        }
        let mut filter = self.claimable(types);
        filter.insert("dueDate", doc! { "$lte": ejson::date(self.server_now()) });
        let sort = doc! { "priority": -1, "createdAt": 1 };
        let token = crate::task::new_id();
        let documents: Vec<Document> = if n == 1 {
            let found = self
                .coll
                .find_one_and_update(filter, self.lease_doc(&token))
                .sort(sort)
                .return_document(ReturnDocument::After)
                .await?;
            found.into_iter().collect()
        } else {
            // One sorted read finds the candidates; the update is still
            // atomic per document (it requires `onGoing: false`), so a
            // candidate another master took meanwhile is simply not ours.
            let candidates: Vec<Document> = self
                .coll
                .find(filter.clone())
                .sort(sort)
                .limit(n as i64)
                .projection(doc! { "_id": 1 })
                .await?
                .try_collect()
                .await?;
            if candidates.is_empty() {
                return Ok((Vec::new(), false));
            }
            let ids: Vec<Bson> = candidates.iter().map(doc_id).collect();
            let more = ids.len() == n;
            filter.insert("_id", doc! { "$in": &ids });
            self.coll
                .update_many(filter, self.lease_doc(&token))
                .await?;
            let mut mine: Vec<Document> = self
                .coll
                .find(doc! { "_id": { "$in": ids }, "lease.token": &token })
                .await?
                .try_collect()
                .await?;
            mine.sort_by_key(|d| {
                (
                    std::cmp::Reverse(task_from_doc(d).map_or(i64::MIN, |t| t.priority)),
                    ejson::millis(d.get("createdAt")).unwrap_or(i64::MAX),
                )
            });
            return self.claimed(mine, &token, more).await;
        };
        let more = !documents.is_empty();
        self.claimed(documents, &token, more).await
    }

    /// Tasks out of claimed documents; a document that is not task-shaped
    /// is marked failed rather than retried forever.
    async fn claimed(
        &self,
        documents: Vec<Document>,
        token: &str,
        more: bool,
    ) -> Result<(Vec<Claimed>, bool)> {
        let mut claimed = Vec::with_capacity(documents.len());
        for document in documents {
            match task_from_doc(&document) {
                Some(task) => claimed.push(Claimed {
                    task,
                    token: token.to_owned(),
                }),
                None => {
                    self.fail(
                        doc_id(&document),
                        token,
                        doc! { "name": "TypeError", "message": "the task document lacks taskType, priority, createdAt or data" },
                    )
                    .await?
                }
            }
        }
        Ok((claimed, more))
    }

    /// When the earliest claimable task that is not yet due becomes due.
    pub async fn next_due(&self, types: &[String]) -> Result<Option<i64>> {
        let mut filter = self.claimable(types);
        filter.insert("dueDate", doc! { "$gt": ejson::date(self.server_now()) });
        let next = self
            .coll
            .find_one(filter)
            .sort(doc! { "dueDate": 1 })
            .projection(doc! { "dueDate": 1 })
            .await?;
        Ok(next
            .and_then(|d| ejson::millis(d.get("dueDate")))
            .map(|due| due - self.clock_offset.load(Ordering::Relaxed)))
    }

    /// Removes finished tasks, each only under the claim that ran it.
    pub async fn complete(&self, done: &[(Bson, String)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let ids: Vec<Bson> = done.iter().map(|(id, _)| id.clone()).collect();
        let tokens: Vec<&str> = done.iter().map(|(_, t)| t.as_str()).collect();
        self.coll
            .delete_many(doc! { "_id": { "$in": ids }, "lease.token": { "$in": tokens } })
            .await?;
        Ok(())
    }

    /// Marks a task failed: it stays, is not claimed again, and says why.
    pub async fn fail(&self, id: Bson, token: &str, error: Document) -> Result<()> {
        self.coll
            .update_one(
                doc! { "_id": id, "lease.token": token },
                doc! {
                    "$set": { "onGoing": false, "failed": true, "lastError": error, "failedAt": ejson::date(self.server_now()) },
                    "$unset": { "lease": "" },
                },
            )
            .await?;
        Ok(())
    }

    /// Hands claimed tasks that never started back to the queue.
    pub async fn release(&self, claims: &[(String, String)]) -> Result<()> {
        // By `_id` and token: tasks of one claim share its token, and those
        // already running must keep theirs.
        let (ids, tokens): (Vec<&String>, Vec<&String>) =
            claims.iter().map(|(id, token)| (id, token)).unzip();
        self.coll
            .update_many(
                doc! { "_id": { "$in": ids }, "lease.token": { "$in": tokens } },
                doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" }, "$inc": { "attempts": -1 } },
            )
            .await?;
        Ok(())
    }

    /// Extends every lease this master holds, in one write.
    pub async fn renew(&self) -> Result<()> {
        self.coll
            .update_many(
                doc! { "onGoing": true, "lease.owner": &self.owner },
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

    /// Inserts and hand-backs made by any process, where the server has change streams.
    pub async fn watch(
        &self,
    ) -> Result<ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<Document>>> {
        Ok(self
            .coll
            .watch()
            .pipeline([
                doc! { "$match": { "operationType": { "$in": ["insert", "update", "replace"] } } },
            ])
            .await?)
    }

    /// The collection calls below return the driver's own errors, so the
    /// caller can tell an unreachable server from a refused operation.
    pub async fn find(
        &self,
        selector: Document,
        options: &FindOptions,
    ) -> mongodb::error::Result<Vec<Document>> {
        let mut find = self.coll.find(selector);
        if let Some(sort) = &options.sort {
            find = find.sort(sort.clone());
        }
        if let Some(limit) = options.limit {
            find = find.limit(limit as i64);
        }
        if let Some(skip) = options.skip {
            find = find.skip(skip);
        }
        if let Some(fields) = &options.fields {
            find = find.projection(fields.clone());
        }
        if let Some(hint) = &options.hint {
            find = find.hint(hint.clone());
        }
        if let Some(max_time) = options.max_time {
            find = find.max_time(max_time);
        }
        find.await?.try_collect().await
    }

    /// Documents matching `selector`; `skip` and `limit` apply when given.
    pub async fn count(
        &self,
        selector: Document,
        options: &FindOptions,
    ) -> mongodb::error::Result<u64> {
        let mut count = self.coll.count_documents(selector);
        if let Some(limit) = options.limit {
            count = count.limit(limit);
        }
        if let Some(skip) = options.skip {
            count = count.skip(skip);
        }
        if let Some(hint) = &options.hint {
            count = count.hint(hint.clone());
        }
        if let Some(max_time) = options.max_time {
            count = count.max_time(max_time);
        }
        count.await
    }

    pub async fn remove(&self, selector: Document) -> mongodb::error::Result<u64> {
        Ok(self.coll.delete_many(selector).await?.deleted_count)
    }

    /// Meteor's `update`: one document unless `multi`; with `upsert`, a
    /// document is inserted when none matches, under `options.insert_id`
    /// when neither the selector nor the modifier gives it an `_id` (so it
    /// gets a string id, as Meteor gives one, rather than an ObjectId).
    pub async fn update(
        &self,
        selector: Document,
        modifier: Modifier,
        options: &UpdateOptions,
    ) -> mongodb::error::Result<Updated> {
        match modifier {
            Modifier::Operators(mut operators) => {
                if let (true, Some(id)) = (options.upsert, &options.insert_id) {
                    set_on_insert_id(&mut operators, id.clone());
                }
                let result = if options.multi {
                    let mut update = self.coll.update_many(selector, operators);
                    if let Some(filters) = &options.array_filters {
                        update = update.array_filters(filters.clone());
                    }
                    update.upsert(options.upsert).await?
                } else {
                    let mut update = self.coll.update_one(selector, operators);
                    if let Some(filters) = &options.array_filters {
                        update = update.array_filters(filters.clone());
                    }
                    update.upsert(options.upsert).await?
                };
                Ok(Updated::from(result))
            }
            Modifier::Replacement(replacement) => match (options.upsert, &options.insert_id) {
                (true, Some(id)) => self.replace_or_insert(selector, replacement, id).await,
                (upsert, _) => {
                    let result = self
                        .coll
                        .replace_one(selector, replacement)
                        .upsert(upsert)
                        .await?;
                    Ok(Updated::from(result))
                }
            },
        }
    }

    /// An upsert of a replacement whose `_id` we choose. Sending the `_id`
    /// in the replacement would fail on a matching document that has
    /// another one, so: replace a match if there is one, else insert under
    /// our id; a match that appears in between makes the insert fail on the
    /// `_id`, and we try again (as Meteor does, 3 times).
    async fn replace_or_insert(
        &self,
        selector: Document,
        replacement: Document,
        id: &Bson,
    ) -> mongodb::error::Result<Updated> {
        let mut with_id = doc! { "_id": id.clone() };
        with_id.extend(replacement.clone());
        let mut tries = 1;
        loop {
            let replaced = self
                .coll
                .replace_one(selector.clone(), replacement.clone())
                .await?;
            if replaced.matched_count > 0 {
                return Ok(Updated::from(replaced));
            }
            match self
                .coll
                .replace_one(selector.clone(), with_id.clone())
                .upsert(true)
                .await
            {
                Err(e) if is_id_change(&e) && tries < 3 => tries += 1,
                result => return Ok(Updated::from(result?)),
            }
        }
    }
}

/// Options of `find` and `count`, read from Meteor's arguments.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct FindOptions {
    pub sort: Option<Document>,
    pub limit: Option<u64>,
    pub skip: Option<u64>,
    pub fields: Option<Document>,
    pub hint: Option<mongodb::options::Hint>,
    pub max_time: Option<Duration>,
}

/// An update's second argument: operators (`$set`...) or a whole new document.
#[derive(Debug, Clone, PartialEq)]
pub enum Modifier {
    Operators(Document),
    /// Replaces the matched document's fields; its `_id` stays.
    Replacement(Document),
}

#[derive(Default, Debug, Clone, PartialEq)]
pub struct UpdateOptions {
    pub multi: bool,
    pub upsert: bool,
    /// The `_id` of an upserted document, when nothing else gives it one.
    pub insert_id: Option<Bson>,
    pub array_filters: Option<Vec<Document>>,
}

/// What Meteor's `upsert` answers: how many documents matched (or 1 when
/// one was inserted), and the inserted one's `_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub number_affected: u64,
    pub inserted_id: Option<Bson>,
}

impl From<mongodb::results::UpdateResult> for Updated {
    fn from(result: mongodb::results::UpdateResult) -> Self {
        match result.upserted_id {
            Some(id) => Updated {
                number_affected: 1,
                inserted_id: Some(id),
            },
            None => Updated {
                number_affected: result.matched_count,
                inserted_id: None,
            },
        }
    }
}

fn set_on_insert_id(operators: &mut Document, id: Bson) {
    match operators.get_mut("$setOnInsert") {
        Some(Bson::Document(fields)) => {
            fields.insert("_id", id);
        }
        _ => {
            operators.insert("$setOnInsert", doc! { "_id": id });
        }
    }
}

/// The server refused to change a document's `_id` (code 66, ImmutableField).
fn is_id_change(error: &mongodb::error::Error) -> bool {
    use mongodb::error::WriteFailure;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 66,
        ErrorKind::Command(c) => c.code == 66,
        _ => false,
    }
}

fn doc_id(document: &Document) -> Bson {
    document.get("_id").cloned().unwrap_or(Bson::Null)
}

/// The task in a claimed document, or `None` when it is not task-shaped.
pub fn task_from_doc(document: &Document) -> Option<Task> {
    let id = match document.get("_id")? {
        Bson::String(s) => s.clone(),
        Bson::ObjectId(oid) => oid.to_hex(),
        other => other.to_string(),
    };
    let priority = match document.get("priority") {
        Some(Bson::Int32(p)) => i64::from(*p),
        Some(Bson::Int64(p)) => *p,
        Some(Bson::Double(p)) => *p as i64,
        None => 1,
        _ => return None,
    };
    let data = match document.get("data") {
        Some(Bson::Document(d)) => ejson::doc_to_json(d).to_string(),
        None | Some(Bson::Null) => "{}".to_owned(),
        _ => return None,
    };
    let created_at = ejson::millis(document.get("createdAt"))?;
    Some(Task {
        id,
        task_type: document.get_str("taskType").ok()?.to_owned(),
        priority,
        created_at,
        due_date: ejson::millis(document.get("dueDate")).unwrap_or(created_at),
        data,
    })
}

/// A document as JSON text for JS (Dates as `{"$date": ms}`).
pub fn doc_json(document: &Document) -> String {
    ejson::doc_to_json(document).to_string()
}
