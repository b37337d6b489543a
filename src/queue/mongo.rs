//! Persistence in MongoDB, in upstream's collection and document shape:
//! insert, leased claim, complete, fail, lease renewal, recovery of expired
//! leases, indexes, and the collection calls of the upstream README.
//!
//! Claims are one `findOneAndUpdate` each: only due, unclaimed tasks of this
//! master's task types, best first, marked `onGoing` with a lease (owner,
//! token, expiry in the server's time). A lease that is not renewed expires,
//! and `recover` hands such tasks back, which is how a dead master's tasks
//! run again and why two masters never hold the same task at once.

mod task_doc;

use super::ejson::{self, DecodeError};
use crate::error::{Code, CodedError};
use crate::policy::Policy;
use crate::task::{RunOrder, Task, ORDER_FIELDS};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{change_stream::ChangeStream, Collection, IndexModel};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
pub use task_doc::Undecodable;
use task_doc::{id_text, raw_id, raw_millis, task_from_raw};

/// How long a claim holds a task without being renewed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How long an operation waits for an unreachable server before failing.
const SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Why `url` cannot work as the queue's MongoDB URL, checked without any
/// network access: syntax, and that it names a database.
pub(crate) fn url_problem(url: &str) -> Option<String> {
    match mongodb::options::ConnectionString::parse(url) {
        Err(e) => Some(format!("is not a valid MongoDB URL ({e})")),
        Ok(parsed) if parsed.default_database.as_deref().unwrap_or("").is_empty() => Some(
            "names no database: add one to its path, as in mongodb://host:27017/mydb".to_owned(),
        ),
        Ok(_) => None,
    }
}

#[derive(Debug, Clone)]
pub enum StoreError {
    /// A task with this `_id` exists (inserts: the `_id`).
    Duplicate(String),
    /// The server refused a document with an existing `_id` (a collection
    /// call; the server's words).
    DuplicateKey(String),
    /// A selector, modifier or option the server refused as invalid.
    Invalid(String),
    /// The URL or settings cannot work.
    Config(String),
    /// The server could not be reached in time.
    Unavailable(String),
    /// The server answered with an error.
    Db(String),
    /// A found document that cannot be read (`find`, `findOne`): the call
    /// fails with its `_id` and path, and the database is not to blame.
    Undecodable { id: String, error: Box<DecodeError> },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Duplicate(id) => {
                write!(f, "a task with _id {id:?} already exists in the queue")
            }
            StoreError::DuplicateKey(m)
            | StoreError::Invalid(m)
            | StoreError::Config(m)
            | StoreError::Unavailable(m)
            | StoreError::Db(m) => f.write_str(m),
            StoreError::Undecodable { id, error } => {
                write!(f, "the document with _id {id} cannot be read: {error}")
            }
        }
    }
}

/// The server's own error code and message, when the server refused.
fn server_error(error: &mongodb::error::Error) -> Option<(i32, &str)> {
    use mongodb::error::WriteFailure;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::Command(c) => Some((c.code, c.message.as_str())),
        _ => None,
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        if let Some((code, message)) = server_error(&e) {
            let message = format!("MongoDB refused it: {message} (server code {code})");
            return match code {
                11000 => StoreError::DuplicateKey(message),
                // BadValue, FailedToParse, TypeMismatch, ConflictingUpdateOperators,
                // DollarPrefixedFieldName, EmptyFieldName, DottedFieldName,
                // ImmutableField, and the "unknown operator" family.
                2 | 9 | 14 | 40 | 52 | 56 | 57 | 66 | 17287 | 31253 | 31254 => {
                    StoreError::Invalid(message)
                }
                _ => StoreError::Db(message),
            };
        }
        let message = format!("MongoDB: {e}");
        match *e.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(message),
            ErrorKind::InvalidArgument { .. } => StoreError::Invalid(message),
            _ => StoreError::Db(message),
        }
    }
}

impl From<StoreError> for CodedError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Duplicate(_) | StoreError::DuplicateKey(_) => Code::DuplicateId,
            StoreError::Invalid(_) => Code::InvalidArg,
            StoreError::Config(_) => Code::MongoConfig,
            StoreError::Unavailable(_) => Code::MongoUnavailable,
            StoreError::Db(_) => Code::Mongo,
            StoreError::Undecodable { .. } => Code::UndecodableDocument,
        };
        CodedError::new(code, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How a task that ran goes back to the queue (`Store::retry_at`).
#[derive(Debug, Clone, Copy)]
pub enum Again {
    /// A retry: its attempts stay counted; a series' run keeps the slot it
    /// was due at (`slot`), so the series goes on from there.
    Retry { slot: Option<i64> },
    /// The next run of a series: attempts back to 0, no slot.
    NextInSeries,
}

/// A task this master claimed; `token` names the claim (with the task's
/// `_id`, kept as stored) in later writes.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub task: Task,
    pub id: Bson,
    pub token: String,
}

/// What one claim got: tasks to run, and documents that could not be read
/// as tasks. Those are already failed in MongoDB (`failed: true`,
/// `lastError` with code `ERR_UNDECODABLE_DOCUMENT`) and are not claimed
/// again; each wants its `error` event.
#[derive(Default)]
pub struct Claim {
    pub tasks: Vec<Claimed>,
    pub undecodable: Vec<Undecodable>,
    /// Whether more may be due right now (the claim came back full).
    pub more: bool,
}

pub struct Store {
    coll: Collection<Document>,
    /// The same collection read as raw BSON, so every read converts one
    /// document at a time (see `queue::ejson`).
    raw: Collection<RawDocumentBuf>,
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
        // A mongodb+srv URL is resolved here (DNS): failing to resolve it
        // is the server being unreachable, not a bad URL (checked before).
        let mut options = ClientOptions::parse(url).await.map_err(|e| match *e.kind {
            ErrorKind::DnsResolve { .. } => StoreError::from(e),
            _ => StoreError::Config(format!("invalid MongoDB URL: {e}")),
        })?;
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
        let coll: Collection<Document> = db.collection(collection);
        let store = Store {
            raw: coll.clone_with_type(),
            coll,
            owner,
            lease,
            clock_offset: AtomicI64::new(0),
        };
        Ok(store)
    }

    /// The collection itself, for tests that play another process.
    #[cfg(test)]
    pub(crate) fn collection(&self) -> &Collection<Document> {
        &self.coll
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
                    {
                        let mut keys = doc! { "onGoing": 1 };
                        keys.extend(order_doc());
                        keys
                    },
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
                    let mut document = doc! {
                        "_id": &task.id,
                        "taskType": &task.task_type,
                        "priority": task.priority,
                        "data": data,
                        "createdAt": ejson::date(task.created_at),
                        "onGoing": false,
                        "dueDate": ejson::date(task.due_date),
                    };
                    if let Some(policy) = &task.policy {
                        document.extend(policy_fields(policy));
                    }
                    documents.push(document);
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(StoreError::Invalid(format!(
                    "data cannot be stored in MongoDB: {e}"
                )))),
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
                let error = StoreError::from(e);
                for &i in &positions {
                    outcomes[i] = Err(error.clone());
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

    /// Claims up to `n` due tasks, best first. A claimed document that is
    /// not a readable task fails alone: it is marked failed under this
    /// claim and returned in `undecodable`, and every other one is a task.
    /// `more` is false when the collection had fewer than `n` due tasks for
    /// us (nothing left now).
    pub async fn claim(&self, types: &[String], n: usize) -> Result<Claim> {
        if types.is_empty() || n == 0 {
            return Ok(Claim::default());
        }
        let mut filter = self.claimable(types);
        filter.insert("dueDate", doc! { "$lte": ejson::date(self.server_now()) });
        let sort = order_doc();
        let token = crate::task::new_id();
        if n == 1 {
            let found = self
                .raw
                .find_one_and_update(filter, self.lease_doc(&token))
                .sort(sort)
                .return_document(ReturnDocument::After)
                .await?;
            let more = found.is_some();
            return self
                .claimed(found.into_iter().collect(), &token, more)
                .await;
        }
        // One sorted read finds the candidates; the update is still atomic
        // per document (it requires `onGoing: false`), so a candidate
        // another master took meanwhile is simply not ours.
        let candidates: Vec<RawDocumentBuf> = self
            .raw
            .find(filter.clone())
            .sort(sort)
            .limit(n as i64)
            .projection(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        if candidates.is_empty() {
            return Ok(Claim::default());
        }
        let ids: Vec<Bson> = candidates.iter().map(|d| raw_id(d)).collect();
        let more = ids.len() == n;
        filter.insert("_id", doc! { "$in": &ids });
        self.coll
            .update_many(filter, self.lease_doc(&token))
            .await?;
        let mine: Vec<RawDocumentBuf> = self
            .raw
            .find(doc! { "_id": { "$in": ids }, "lease.token": &token })
            .await?
            .try_collect()
            .await?;
        self.claimed(mine, &token, more).await
    }

    /// Tasks out of claimed documents, best first; a document that is not a
    /// readable task is marked failed rather than claimed again forever.
    async fn claimed(
        &self,
        documents: Vec<RawDocumentBuf>,
        token: &str,
        more: bool,
    ) -> Result<Claim> {
        let mut claim = Claim {
            more,
            ..Claim::default()
        };
        for document in documents {
            match task_from_raw(&document) {
                Ok(task) => claim.tasks.push(Claimed {
                    task,
                    id: raw_id(&document),
                    token: token.to_owned(),
                }),
                Err(undecodable) => {
                    let error = undecodable.last_error(self.server_now());
                    self.fail(undecodable.id.clone(), token, error).await?;
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
        let mut filter = self.claimable(types);
        filter.insert("dueDate", doc! { "$gt": ejson::date(self.server_now()) });
        let next = self
            .raw
            .find_one(filter)
            .sort(doc! { "dueDate": 1 })
            .projection(doc! { "dueDate": 1 })
            .await?;
        Ok(next
            .and_then(|d| raw_millis(d.get("dueDate").ok().flatten()))
            .map(|due| due - self.clock_offset.load(Ordering::Relaxed)))
    }

    /// Removes finished tasks, each only under the claim that ran it.
    pub async fn complete(&self, done: &[(Bson, String)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        self.coll.delete_many(claims_filter(done)).await?;
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
        let mut unset = doc! { "lease": "" };
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

    /// Inserts and hand-backs made by any process, where the server has
    /// change streams. Events stay raw: only their arrival matters, and a
    /// document that cannot be read must not end the stream.
    pub async fn watch(&self) -> Result<ChangeStream<RawDocumentBuf>> {
        Ok(self
            .coll
            .watch()
            .pipeline([
                doc! { "$match": { "operationType": { "$in": ["insert", "update", "replace"] } } },
            ])
            .await?
            .with_type::<RawDocumentBuf>())
    }

    /// The documents found, each as EJSON JSON text; one that cannot be
    /// read fails the call with its `_id` and path.
    pub async fn find(&self, selector: Document, options: &FindOptions) -> Result<Vec<String>> {
        let mut find = self.raw.find(selector);
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
        let documents: Vec<RawDocumentBuf> = find.await?.try_collect().await?;
        documents
            .iter()
            .map(|d| {
                ejson::document_json(d, "").map_err(|error| StoreError::Undecodable {
                    id: id_text(&raw_id(d)),
                    error: Box::new(error),
                })
            })
            .collect()
    }

    /// Documents matching `selector`; `skip` and `limit` apply when given.
    pub async fn count(&self, selector: Document, options: &FindOptions) -> Result<u64> {
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
        Ok(count.await?)
    }

    pub async fn remove(&self, selector: Document) -> Result<u64> {
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
    ) -> Result<Updated> {
        match modifier {
            Modifier::Operators(mut operators) => {
                if let (true, Some(id)) = (options.upsert, &options.insert_id) {
                    set_on_insert_id(&mut operators, id.clone());
                }
                let mut update = if options.multi {
                    self.coll.update_many(selector, operators)
                } else {
                    self.coll.update_one(selector, operators)
                };
                if let Some(filters) = &options.array_filters {
                    update = update.array_filters(filters.clone());
                }
                Ok(Updated::from(update.upsert(options.upsert).await?))
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
    ) -> Result<Updated> {
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

/// A task's `retry`, `timeout` and `repeat`, as stored (fields added to
/// upstream's shape only for tasks that ask for them).
fn policy_fields(policy: &Policy) -> Document {
    let mut fields = Document::new();
    // Serializing our own plain types to BSON cannot fail.
    if let Some(retry) = &policy.retry {
        if let Ok(retry) = mongodb::bson::to_bson(retry) {
            fields.insert("retry", retry);
        }
    }
    if let Some(timeout) = policy.timeout {
        fields.insert("timeout", timeout.as_millis() as i64);
    }
    if let Some(repeat) = &policy.repeat {
        if let Ok(repeat) = mongodb::bson::to_bson(repeat.spec()) {
            fields.insert("repeat", repeat);
        }
    }
    fields
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

/// `ORDER_FIELDS` as a sort or index document.
pub(crate) fn order_doc() -> Document {
    ORDER_FIELDS
        .iter()
        .map(|(field, dir)| ((*field).to_owned(), Bson::Int32(*dir)))
        .collect()
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
    matches!(server_error(error), Some((66, _)))
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    #[test]
    fn urls_without_a_database_or_with_bad_syntax_are_refused_without_a_lookup() {
        assert_eq!(url_problem("mongodb://127.0.0.1:27017/app"), None);
        assert_eq!(
            url_problem("mongodb+srv://user:pw@cluster0.example.net/app?retryWrites=true"),
            None
        );
        assert!(url_problem("mongodb://127.0.0.1:27017")
            .unwrap()
            .contains("no database"));
        assert!(url_problem("mongodb://127.0.0.1:27017/")
            .unwrap()
            .contains("no database"));
        assert!(url_problem("mongodb+srv://cluster0.example.net/?w=1")
            .unwrap()
            .contains("no database"));
        assert!(url_problem("http://x/y").is_some());
    }
}
