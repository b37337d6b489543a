//! Persistence in MongoDB, in upstream's collection and document shape:
//! insert, leased claim, complete, fail, lease renewal, recovery of expired
//! leases, indexes, and the collection calls of the upstream README.
//!
//! A claim (`claim`) takes due, unclaimed tasks of this master's task types,
//! best first, and marks them `onGoing` with a lease (owner, token, expiry
//! in the server's time). A lease that is not renewed expires, and `recover`
//! hands such tasks back, which is how a dead master's tasks run again and
//! why two masters never hold the same task at once.
//! A claim's later writes are in `outcomes`, errors in `error`, the
//! upstream collection calls in `collection`.

mod board;
mod claim;
mod collection;
mod error;
mod limits;
mod outcomes;
mod registry;
mod steering;
mod task_doc;

use super::ejson;
use crate::policy::Policy;
use crate::task::{Task, ORDER_FIELDS};
pub use board::{ListQuery, TypeCounts};
pub use claim::Turns;
pub use collection::{FindOptions, Modifier, UpdateOptions};
pub use error::{Result, StoreError};
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{change_stream::ChangeStream, Collection, IndexModel};
pub use outcomes::Again;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
pub use steering::{cancel_in_change, progress_bson, CancelOutcome};
pub use task_doc::Undecodable;

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
    /// A cancel was asked for it (its message): it is failed, not run.
    pub cancel: Option<String>,
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
    /// When it came back short: when the earliest claimable task that is
    /// not due yet becomes due (local clock, ms), if there is one.
    pub next_due: Option<i64>,
}

pub struct Store {
    coll: Collection<Document>,
    /// The same collection read as raw BSON, so every read converts one
    /// document at a time (see `queue::ejson`).
    raw: Collection<RawDocumentBuf>,
    /// `<collection>.limits`: the limits documents (`limits`).
    limits: Collection<Document>,
    owner: String,
    lease: Duration,
    /// Server clock minus local clock, in ms, so leases are in server time.
    clock_offset: AtomicI64,
    /// The last clock samples, `(round trip, offset)` in ms.
    clock_samples: std::sync::Mutex<std::collections::VecDeque<(i64, i64)>>,
}

/// How many clock samples the offset is chosen from (one per maintenance
/// round: a few minutes of them).
const CLOCK_SAMPLES: usize = 16;

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
            limits: db.collection(&format!("{collection}.limits")),
            coll,
            owner,
            lease,
            clock_offset: AtomicI64::new(0),
            clock_samples: Default::default(),
        };
        Ok(store)
    }

    /// The collection itself, for tests that play another process.
    #[cfg(test)]
    pub(crate) fn collection(&self) -> &Collection<Document> {
        &self.coll
    }

    /// Creates the indexes (idempotent): `meteorCluster_claim` (`onGoing`,
    /// then the claim's order) serves claims, and by its `onGoing: true`
    /// part the claimed documents (renewal, recovery); `taskType_1`, as
    /// upstream made it, serves `remove({ taskType })`. Writes by `_id` use
    /// the `_id` index. Every index costs each insert, claim and delete.
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
                index(doc! { "taskType": 1 }, "taskType_1"),
                // Grouped tasks only (it costs nothing to others): the
                // claims that take groups in turn read each group by it.
                IndexModel::builder()
                    .keys(doc! { "taskType": 1, "group": 1, "onGoing": 1, "priority": -1, "createdAt": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("meteorCluster_group".to_owned())
                            .partial_filter_expression(doc! { "group": { "$exists": true } })
                            .build(),
                    )
                    .build(),
            ])
            .await?;
        Ok(())
    }

    /// Reads the server's clock (the `hello` command's `localTime`). The
    /// offset is that of the quickest of the last `CLOCK_SAMPLES` round
    /// trips: a slow one (a busy machine) may be off by half its time,
    /// and masters compare their rate starts on this clock.
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
            let mut samples = self.clock_samples.lock().unwrap_or_else(|e| e.into_inner());
            if samples.len() == CLOCK_SAMPLES {
                samples.pop_front();
            }
            samples.push_back((received - sent, offset));
            if let Some(&(_, best)) = samples.iter().min_by_key(|(rtt, _)| *rtt) {
                self.clock_offset.store(best, Ordering::Relaxed);
            }
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

    /// Inserts and hand-backs made by any process, where the server has
    /// change streams, and cancels (`TaskQueue.cancel` from anywhere). Only
    /// their arrival matters: an event carries its resume token, and a
    /// cancel's task and message. Claims (which set `onGoing: true`) make nothing
    /// claimable, and one event per claimed task would keep the stream and
    /// the master busy while a backlog drains.
    pub async fn watch(&self) -> Result<ChangeStream<RawDocumentBuf>> {
        Ok(self
            .coll
            .watch()
            .pipeline([
                doc! { "$match": { "$or": [
                    { "operationType": { "$in": ["insert", "replace"] } },
                    { "operationType": "update", "updateDescription.updatedFields.onGoing": { "$ne": true } },
                ] } },
                // The resume token, and a cancel's task and message.
                doc! { "$project": { "_id": 1, "documentKey": 1, "updateDescription.updatedFields.cancel": 1 } },
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
    document.extend(trace_fields(task.trace.as_deref()));
    if let Some(group) = &task.group {
        document.insert("group", &**group);
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

/// A traced add's context, as stored: `traceparent` (and `tracestate`).
fn trace_fields(carrier: Option<&str>) -> Document {
    let mut fields = Document::new();
    let carrier: serde_json::Value = carrier
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    for key in ["traceparent", "tracestate"] {
        if let Some(value) = carrier.get(key).and_then(|v| v.as_str()) {
            fields.insert(key, value);
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
