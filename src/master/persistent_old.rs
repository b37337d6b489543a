//! The dispatcher's persistent side: the MongoDB store, the claims in
//! flight, tasks claimed but not yet given to a worker, and outcomes not
//! yet written. It is owned by the dispatcher (no locks): every database
//! call runs as a spawned future whose result comes back as a `Cmd::Store`.

use super::calls::Origin;
use super::dispatcher::Cmd;
use crate::log::Logger;
use crate::queue::mongo::{Claimed, Store};
use crate::task::Task;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Most tasks one claim round takes.
const MAX_CLAIM: usize = 256;
/// The claim batch grows while claims come back full and the workers had
/// already run out of claimed tasks: a sorted claim costs about as much for
/// 256 tasks as for one, so a backlog drains in big rounds, yet a master
/// with slow tasks never hoards what other masters could run.
const CLAIM_GROWTH: usize = 4;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The Cluster's `inMemoryOnly`: never touch MongoDB.
    pub in_memory_only: bool,
    pub url: Option<String>,
    pub collection: String,
    pub lease: Duration,
    pub task_types: Vec<String>,
}

/// The outcome of a persistent run, written before its event is emitted.
pub struct Completion {
    pub id: String,
    pub token: String,
    /// The `done` or `error` event to emit once written.
    pub event: String,
    /// `Some(error)` marks the task failed instead of removing it.
    pub error: Option<Document>,
}

pub enum StoreEvent {
    Started(Result<(), String>),
    /// Claimed tasks, and whether more may be due right now.
    Claimed {
        result: Result<(Vec<Claimed>, bool), String>,
        next_due: Option<i64>,
    },
    Written {
        batch: Vec<Completion>,
        result: Result<(), String>,
    },
    Released(Result<(), String>),
    /// The answers to a batch of persistent `addTask` calls (`_id` JSON or an error).
    Inserted(Vec<(Origin, u64, Result<String, String>)>),
    /// Something changed in the collection (change stream or a local insert).
    Changed,
    Maintained(Result<u64, String>),
}

pub struct Persistent {
    settings: Option<Settings>,
    store: Option<Arc<Store>>,
    owner: String,
    ready: bool,
    starting: bool,
    retry_at: Option<Instant>,
    warned: bool,
    claiming: bool,
    /// How many tasks the next claim may take beyond what the pool needs now.
    claim_size: usize,
    /// Set by the dispatcher: a ready worker has nothing to run. Claims grow
    /// only then (a backlog drained faster than claims come back), never
    /// while the workers are busy, so slow tasks are not hoarded from other
    /// masters.
    pub workers_idle: bool,
    /// The last claim found fewer tasks than it asked for.
    exhausted: bool,
    /// When a scheduled persistent task becomes due, if one is known.
    next_due_at: Option<Instant>,
    poll_at: Instant,
    maintain_at: Instant,
    maintaining: bool,
    pub buffer: VecDeque<Claimed>,
    pending: Vec<Completion>,
    writing: bool,
    write_retry_at: Option<Instant>,
    releasing: bool,
    /// Persistent `addTask` calls waiting for the next insert batch.
    inserts: Vec<(Origin, u64, Task)>,
    inserting: bool,
    watcher: Option<JoinHandle<()>>,
}

impl Default for Persistent {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let now = Instant::now();
        Persistent {
            settings: None,
            store: None,
            owner: format!(
                "{}:{}:{}",
                host.trim(),
                std::process::id(),
                crate::task::new_id()
            ),
            ready: false,
            starting: false,
            retry_at: None,
            warned: false,
            claiming: false,
            claim_size: 0,
            workers_idle: false,
            exhausted: false,
            next_due_at: None,
            poll_at: now,
            maintain_at: now,
            maintaining: false,
            buffer: VecDeque::new(),
            pending: Vec::new(),
            writing: false,
            write_retry_at: None,
            releasing: false,
            inserts: Vec::new(),
            inserting: false,
            watcher: None,
        }
    }
}

impl Persistent {
    /// Takes new settings; a changed URL or collection means a new store.
    pub fn configure(&mut self, settings: Option<Settings>) {
        let same_place =
            |a: &Settings, b: &Settings| a.url == b.url && a.collection == b.collection;
        let keep = matches!((&self.settings, &settings), (Some(a), Some(b)) if same_place(a, b));
        if !keep {
            self.store = None;
            self.ready = false;
            if let Some(watcher) = self.watcher.take() {
                watcher.abort();
            }
        }
        self.settings = settings;
        self.exhausted = false;
    }

    pub fn enabled(&self) -> bool {
        self.settings
            .as_ref()
            .is_some_and(|s| !s.in_memory_only && s.url.is_some())
    }

    /// The store, created on first use; an error says why there is none.
    pub fn store(&mut self) -> Result<Arc<Store>, String> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        let settings = self.settings.clone().unwrap_or_else(|| Settings {
            in_memory_only: false,
            url: std::env::var("MONGO_URL").ok(),
            collection: "taskQueue".to_owned(),
            lease: crate::queue::mongo::DEFAULT_LEASE,
            task_types: Vec::new(),
        });
        if settings.in_memory_only {
            return Err("this Cluster is inMemoryOnly, so it has no persistent queue".to_owned());
        }
        let Some(url) = settings.url.clone() else {
            return Err(
                "the persistent queue needs MongoDB: set MONGO_URL (or the Cluster's mongoUrl option)".to_owned(),
            );
        };
        let store = futures_util::FutureExt::now_or_never(Store::connect(
            &url,
            &settings.collection,
            self.owner.clone(),
            settings.lease,
        ))
        .unwrap_or_else(|| {
            Err(crate::queue::mongo::StoreError::Config(
                "MongoDB URLs that need a DNS lookup (mongodb+srv) are not supported".into(),
            ))
        })
        .map_err(|e| e.to_string())?;
        let store = Arc::new(store);
        self.store = Some(store.clone());
        Ok(store)
    }

    /// Returns a claimed task a worker handed back to its place in the buffer.
    pub fn put_back(&mut self, claimed: Claimed) {
        let key = |t: &Task| (t.priority, std::cmp::Reverse(t.created_at));
        let at = self
            .buffer
            .iter()
            .position(|c| key(&c.task) < key(&claimed.task))
            .unwrap_or(self.buffer.len());
        self.buffer.insert(at, claimed);
    }

    /// Queues a persistent `addTask`; its answer comes as `StoreEvent::Inserted`.
    pub fn insert(&mut self, origin: Origin, req: u64, task: Task) {
        self.inserts.push((origin, req, task));
    }

    /// Whether the master still has persistent work it knows of.
    pub fn busy(&self) -> bool {
        !self.buffer.is_empty()
            || !self.inserts.is_empty()
            || self.inserting
            || !self.pending.is_empty()
            || self.writing
            || self.releasing
            || self.claiming
            || (self.enabled() && (!self.exhausted || self.next_due_at.is_some()))
    }

    /// What `cluster.stats()` shows of the persistent side.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "enabled": self.enabled(),
            "reachable": self.ready && !self.warned,
            "claimed": self.buffer.len(),
            "unwritten": self.pending.len(),
            "inserting": self.inserts.len(),
        })
    }

    /// Nothing claimed, nothing left to write: safe to report closed.
    pub fn settled(&self) -> bool {
        self.buffer.is_empty() && self.pending.is_empty() && !self.writing && !self.releasing
    }

    pub fn complete(&mut self, completion: Completion) {
        self.pending.push(completion);
    }

    pub fn handle(
        &mut self,
        event: StoreEvent,
        logger: &Logger,
        events: &mut Vec<String>,
        refresh: Duration,
    ) {
        let now = Instant::now();
        match event {
            StoreEvent::Started(result) => {
                self.starting = false;
                match result {
                    Ok(()) => {
                        self.ready = true;
                        self.exhausted = false;
                        if self.warned {
                            logger.warn("MongoDB is reachable again; persistent tasks resume");
                            self.warned = false;
                        }
                    }
                    Err(e) => self.unreachable(logger, &e, now + refresh),
                }
            }
            StoreEvent::Claimed { result, next_due } => {
                self.claiming = false;
                match result {
                    Ok((claimed, more)) => {
                        self.exhausted = !more;
                        self.claim_size = if more && self.buffer.is_empty() && self.workers_idle {
                            (claimed.len() * CLAIM_GROWTH).min(MAX_CLAIM)
                        } else if more {
                            self.claim_size
                        } else {
                            0
                        };
                        self.next_due_at = next_due.map(|due| {
                            now + Duration::from_millis((due - crate::task::now_ms()).max(0) as u64)
                        });
                        self.poll_at = now + refresh;
                        self.buffer.extend(claimed);
                    }
                    Err(e) => {
                        self.ready = false;
                        self.unreachable(logger, &e, now + refresh);
                    }
                }
            }
            StoreEvent::Written { mut batch, result } => {
                self.writing = false;
                match result {
                    Ok(()) => events.extend(batch.drain(..).map(|c| c.event)),
                    Err(e) => {
                        batch.append(&mut self.pending);
                        self.pending = batch;
                        self.write_retry_at = Some(now + refresh);
                        self.unreachable(logger, &e, now + refresh);
                    }
                }
            }
            StoreEvent::Released(result) => {
                self.releasing = false;
                if let Err(e) = result {
                    logger.warn(&format!(
                        "could not hand back claimed tasks (their leases will expire): {e}"
                    ));
                }
            }
            StoreEvent::Changed => self.exhausted = false,
            StoreEvent::Inserted(_) => {
                self.inserting = false;
                self.exhausted = false;
            }
            StoreEvent::Maintained(result) => {
                self.maintaining = false;
                match result {
                    Ok(recovered) if recovered > 0 => self.exhausted = false,
                    Ok(_) => {}
                    Err(e) => self.unreachable(logger, &e, now + refresh),
                }
            }
        }
    }

    fn unreachable(&mut self, logger: &Logger, error: &str, retry_at: Instant) {
        self.retry_at = Some(retry_at);
        if !self.warned {
            self.warned = true;
            logger.warn(&format!(
                "persistent queue unavailable, retrying (in-memory tasks keep running): {error}"
            ));
        }
    }

    /// Starts whatever database work is due; `want` is how many tasks the
    /// pool could take now. Returns when it next needs to run.
    pub fn pump(
        &mut self,
        tx: &mpsc::UnboundedSender<Cmd>,
        want: usize,
        dispatching: bool,
    ) -> Option<Instant> {
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let mut at = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        if !self.inserts.is_empty() && !self.inserting {
            self.insert_batch(tx);
        }
        if !self.enabled() && self.pending.is_empty() {
            return None;
        }
        let Ok(store) = self.store() else { return None };
        let settings = self.settings.clone()?;
        let lease = settings.lease;

        if !self.pending.is_empty() && !self.writing {
            match self.write_retry_at {
                Some(t) if t > now => at(t),
                _ => self.write(&store, tx),
            }
        }
        if !dispatching {
            return wake;
        }
        if !self.ready {
            if !self.starting {
                match self.retry_at {
                    Some(t) if t > now => at(t),
                    _ => self.start(&store, tx),
                }
            }
            return wake;
        }
        if let Some(due) = self.next_due_at {
            if due <= now {
                self.exhausted = false;
                self.next_due_at = None;
            } else {
                at(due);
            }
        }
        if self.exhausted && self.poll_at <= now {
            self.exhausted = false;
        }
        if self.exhausted {
            at(self.poll_at);
        }
        let want = want
            .max(self.claim_size)
            .saturating_sub(self.buffer.len())
            .min(MAX_CLAIM);
        if !self.claiming && !self.exhausted && want > 0 {
            self.claiming = true;
            let (store, tx, types) = (store.clone(), tx.clone(), settings.task_types.clone());
            tokio::spawn(async move {
                let result = store.claim(&types, want).await;
                let next_due = match &result {
                    Ok((_, false)) => store.next_due(&types).await.ok().flatten(),
                    _ => None,
                };
                let result = result.map_err(|e| e.to_string());
                let _ = tx.send(Cmd::Store(StoreEvent::Claimed { result, next_due }));
            });
        }
        // Renew our leases and hand back expired ones, a third of a lease apart.
        if !self.maintaining {
            if self.maintain_at <= now {
                self.maintaining = true;
                self.maintain_at = now + lease / 3;
                let (store, tx) = (store.clone(), tx.clone());
                tokio::spawn(async move {
                    let result = async {
                        store.renew().await?;
                        store.sync_clock().await?;
                        store.recover().await
                    }
                    .await
                    .map_err(|e| e.to_string());
                    let _ = tx.send(Cmd::Store(StoreEvent::Maintained(result)));
                });
            }
            at(self.maintain_at);
        }
        wake
    }

    /// Writes every queued `addTask` in one insert; answers each.
    fn insert_batch(&mut self, tx: &mpsc::UnboundedSender<Cmd>) {
        let batch = std::mem::take(&mut self.inserts);
        let store = match self.store() {
            Ok(store) => store,
            Err(e) => {
                let answers = batch
                    .into_iter()
                    .map(|(origin, req, _)| (origin, req, Err(format!("TaskQueue.addTask: {e}"))))
                    .collect();
                let _ = tx.send(Cmd::Store(StoreEvent::Inserted(answers)));
                self.inserting = true;
                return;
            }
        };
        self.inserting = true;
        let tx = tx.clone();
        tokio::spawn(async move {
            let tasks: Vec<Task> = batch.iter().map(|(_, _, task)| task.clone()).collect();
            let outcomes = store.insert(&tasks).await;
            let answers = batch
                .into_iter()
                .zip(outcomes)
                .map(|((origin, req, task), outcome)| {
                    let answer = outcome
                        .map(|()| super::calls::json_string(&task.id))
                        .map_err(|e| format!("TaskQueue.addTask: {e}"));
                    (origin, req, answer)
                })
                .collect();
            let _ = tx.send(Cmd::Store(StoreEvent::Inserted(answers)));
        });
    }

    fn start(&mut self, store: &Arc<Store>, tx: &mpsc::UnboundedSender<Cmd>) {
        self.starting = true;
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        let (store, tx) = (store.clone(), tx.clone());
        self.watcher = Some(tokio::spawn(async move {
            let result = async {
                store.ensure_indexes().await?;
                store.sync_clock().await?;
                store.recover().await
            }
            .await;
            let ok = result.is_ok();
            let _ = tx.send(Cmd::Store(StoreEvent::Started(
                result.map(|_| ()).map_err(|e| e.to_string()),
            )));
            if !ok {
                return;
            }
            // Without change streams (a standalone server) polling at
            // refreshRate is all there is.
            if let Ok(mut changes) = store.watch().await {
                while let Ok(Some(_)) = changes.try_next().await {
                    if tx.send(Cmd::Store(StoreEvent::Changed)).is_err() {
                        return;
                    }
                }
            }
        }));
    }

    fn write(&mut self, store: &Arc<Store>, tx: &mpsc::UnboundedSender<Cmd>) {
        self.writing = true;
        self.write_retry_at = None;
        let batch = std::mem::take(&mut self.pending);
        let (store, tx) = (store.clone(), tx.clone());
        tokio::spawn(async move {
            let result = async {
                let done: Vec<(Bson, String)> = batch
                    .iter()
                    .filter(|c| c.error.is_none())
                    .map(|c| (Bson::String(c.id.clone()), c.token.clone()))
                    .collect();
                store.complete(&done).await?;
                for c in batch.iter() {
                    if let Some(error) = &c.error {
                        store
                            .fail(Bson::String(c.id.clone()), &c.token, error.clone())
                            .await?;
                    }
                }
                Ok::<(), crate::queue::mongo::StoreError>(())
            }
            .await
            .map_err(|e| e.to_string());
            let _ = tx.send(Cmd::Store(StoreEvent::Written { batch, result }));
        });
    }

    /// Hands claimed-but-unstarted tasks back to the queue (on close).
    pub fn release(&mut self, tx: &mpsc::UnboundedSender<Cmd>) {
        if self.buffer.is_empty() || self.releasing {
            return;
        }
        let Some(store) = self.store.clone() else {
            return;
        };
        let claims: Vec<(String, String)> = self
            .buffer
            .drain(..)
            .map(|c| (c.task.id, c.token))
            .collect();
        self.releasing = true;
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = store.release(&claims).await.map_err(|e| e.to_string());
            let _ = tx.send(Cmd::Store(StoreEvent::Released(result)));
        });
    }
}

impl Drop for Persistent {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
    }
}
