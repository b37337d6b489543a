//! Persistence in MongoDB, in upstream's collection and document shape:
//! insert, leased claim, complete, fail, lease renewal, recovery of expired
//! leases, indexes, and the collection calls of the upstream README.
//!
//! Claims are one `findOneAndUpdate` each: only due, unclaimed tasks of this
//! master's task types, best first, marked `onGoing` with a lease (owner,
//! token, expiry in the server's time). A lease that is not renewed expires,
//! and `recover` hands such tasks back, which is how a dead master's tasks
//! run again and why two masters never hold the same task at once.
//! A claim's later writes are in `outcomes`, errors in `error`, the
//! upstream collection calls in `calls`.

mod collection;
mod error;
mod outcomes;
mod task_doc;

use super::ejson;
use crate::policy::Policy;
use crate::task::{RunOrder, Task, ORDER_FIELDS};
pub use collection::{FindOptions, Modifier, UpdateOptions};
pub use error::{Result, StoreError};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{change_stream::ChangeStream, Collection, IndexModel};
pub use outcomes::Again;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
pub use task_doc::Undecodable;
use task_doc::{raw_id, raw_millis, task_from_raw};

/// How long an operation waits for an unreachable server before failing.
const SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest document MongoDB stores (its `maxBsonObjectSize`): a task
/// over it is refused before anything is sent.
pub const MAX_DOCUMENT: usize = 16 * 1024 * 1024;

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
    /// task, each `Ok` once acknowledged. A task MongoDB could not store
    /// (too large, or data it has no form for) fails alone, unsent.
    pub async fn insert(&self, tasks: &[Task]) -> Vec<Result<()>> {
        let mut documents = Vec::with_capacity(tasks.len());
        let mut outcomes: Vec<Result<()>> = Vec::with_capacity(tasks.len());
        let mut positions = Vec::with_capacity(tasks.len());
        for (i, task) in tasks.iter().enumerate() {
            match task_document(task) {
                Ok(document) => {
                    positions.push(i);
                    documents.push(document);
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        if documents.is_empty() {
            return outcomes;
        }
        let Err(e) = self.raw.insert_many(documents).ordered(false).await else {
            return outcomes;
        };
        match &*e.kind {
            ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                for w in failure.write_errors.iter().flatten() {
                    let Some(&i) = positions.get(w.index) else {
                        continue;
                    };
                    outcomes[i] = Err(if w.code == 11000 {
                        StoreError::Duplicate(tasks[i].id.to_string())
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

    /// Inserts and hand-backs made by any process, where the server has
    /// change streams. Events stay raw: only their arrival matters, and a
    /// document that cannot be read must not end the stream.
    pub async fn watch(&self) -> Result<ChangeStream<RawDocumentBuf>> {
        Ok(self
            .coll
            .watch()
            .pipeline([
                doc! { "$match": { "operationType": { "$in": ["insert", "update", "replace"] } } },
                // Only an event's arrival matters: a large task's document
                // is not sent again to say it was inserted.
                doc! { "$project": { "fullDocument": 0 } },
            ])
            .await?
            .with_type::<RawDocumentBuf>())
    }
}

/// A task's document, in upstream's shape, as MongoDB will store it
/// (serialized here, so its size is known before it is sent).
fn task_document(task: &Task) -> Result<RawDocumentBuf> {
    let data = ejson::doc_from_payload(&task.data, "data")
        .map_err(|e| StoreError::Invalid(format!("data cannot be stored in MongoDB: {e}")))?;
    let mut document = doc! {
        "_id": &*task.id,
        "taskType": &*task.task_type,
        "priority": task.priority,
        "data": data,
        "createdAt": ejson::date(task.created_at),
        "onGoing": false,
        "dueDate": ejson::date(task.due_date),
    };
    if let Some(policy) = &task.policy {
        document.extend(policy_fields(policy));
    }
    let too_large = |bytes| StoreError::TooLarge {
        id: task.id.to_string(),
        task_type: task.task_type.to_string(),
        bytes,
    };
    let raw = RawDocumentBuf::from_document(&document).map_err(|e| match e {
        // Not even writable: surely not storable.
        _ if task.data.size() > MAX_DOCUMENT => too_large(task.data.size()),
        e => StoreError::Invalid(format!("the task cannot be stored in MongoDB: {e}")),
    })?;
    match raw.as_bytes().len() {
        bytes if bytes > MAX_DOCUMENT => Err(too_large(bytes)),
        _ => Ok(raw),
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

/// `ORDER_FIELDS` as a sort or index document.
pub(crate) fn order_doc() -> Document {
    ORDER_FIELDS
        .iter()
        .map(|(field, dir)| ((*field).to_owned(), Bson::Int32(*dir)))
        .collect()
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
