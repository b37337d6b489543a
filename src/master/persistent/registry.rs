//! This master's document in the masters' registry
//! (`queue::mongo::registry`): written every `HEARTBEAT` while connected,
//! from a snapshot the dispatcher hands over (its stats and workers), with
//! the per-minute history of done and failed tasks kept here; removed on
//! close, before `closed`. Each heartbeat also takes the pause or resume a
//! dashboard left in the document, for the dispatcher to apply.

use super::jobs::StoreCell;
use super::{Connection, Persistent, StoreEvent};
use crate::error::CodedError;
use crate::queue::ejson;
use crate::task::now_ms;
use mongodb::bson::{doc, Bson, Document};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the document is written.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a document outlives its last heartbeat (then the master is
/// taken for dead, and the TTL index removes it).
const EXPIRES_AFTER: Duration = Duration::from_secs(10);
/// Minutes of done/failed history kept.
const MINUTES: usize = 60;

/// What a dashboard asked of this master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MasterRequest {
    Pause,
    Resume,
}

/// What the dispatcher hands the registry for a heartbeat.
pub(crate) struct Snapshot {
    /// As `cluster.stats()` gives it.
    pub(crate) stats: serde_json::Value,
    /// As `cluster.workers()` gives it.
    pub(crate) workers: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beat {
    Idle,
    Writing,
    Removing,
}

pub(crate) struct Registry {
    started_at: i64,
    next_at: Instant,
    beat: Beat,
    /// A heartbeat was written since the last removal: close removes it.
    written: bool,
    /// The indexes the registry and the dashboard need were made.
    indexed: bool,
    history: History,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            started_at: now_ms(),
            next_at: Instant::now(),
            beat: Beat::Idle,
            written: false,
            indexed: false,
            history: History::default(),
        }
    }
}

impl Persistent {
    /// Whether a heartbeat is due: connected, none in flight, its time came.
    pub(crate) fn heartbeat_due(&self, now: Instant) -> bool {
        self.enabled()
            && self.connection == Connection::Up
            && self.registry.beat == Beat::Idle
            && self.registry.next_at <= now
    }

    /// When the next heartbeat is due, while connected.
    pub(crate) fn heartbeat_at(&self) -> Option<Instant> {
        (self.enabled() && self.connection == Connection::Up && self.registry.beat == Beat::Idle)
            .then_some(self.registry.next_at)
    }

    /// Writes this master's document from `snapshot`.
    pub(crate) fn heartbeat(&mut self, snapshot: Snapshot) {
        let Some(cell) = self.cell.clone() else {
            return;
        };
        let now = now_ms();
        let counter = |name: &str| snapshot.stats["counters"][name].as_u64().unwrap_or(0);
        self.registry
            .history
            .add(now, counter("done"), counter("failed"));
        let fields = self.registry_fields(now, &snapshot);
        let registry = &mut self.registry;
        registry.beat = Beat::Writing;
        registry.next_at = Instant::now() + HEARTBEAT;
        let index = !std::mem::replace(&mut registry.indexed, true);
        let owner = self.owner.clone();
        self.link.spawn(beat(cell, owner, fields, index));
    }

    /// Removes this master's document (closing); `closed` waits for it.
    pub(crate) fn unregister(&mut self) {
        if !self.registry.written || self.registry.beat != Beat::Idle {
            return;
        }
        let Some(cell) = self.cell.clone() else {
            return;
        };
        self.registry.beat = Beat::Removing;
        self.link.spawn(unregister(cell, self.owner.clone()));
    }

    /// No registry write in flight, and nothing to remove on close.
    pub(super) fn registry_settled(&self) -> bool {
        self.registry.beat == Beat::Idle
    }

    /// A heartbeat's result: the request a dashboard left, if any.
    pub(super) fn heartbeat_written(
        &mut self,
        result: Result<Option<String>, CodedError>,
    ) -> Result<Option<MasterRequest>, CodedError> {
        self.registry.beat = Beat::Idle;
        let request = result?;
        self.registry.written = true;
        Ok(match request.as_deref() {
            Some("pause") => Some(MasterRequest::Pause),
            Some("resume") => Some(MasterRequest::Resume),
            _ => None,
        })
    }

    /// The document is gone (or could not be removed: it expires).
    pub(super) fn unregistered(&mut self) {
        self.registry.beat = Beat::Idle;
        self.registry.written = false;
        self.registry.next_at = Instant::now();
    }

    fn registry_fields(&self, now: i64, snapshot: &Snapshot) -> Document {
        let host = self.owner.split(':').next().unwrap_or_default().to_owned();
        let stats = &snapshot.stats;
        let paused = stats["paused"].as_bool().unwrap_or(false);
        doc! {
            "host": host,
            "pid": i64::from(std::process::id()),
            "version": env!("CARGO_PKG_VERSION"),
            "startedAt": ejson::date(self.registry.started_at),
            "heartbeatAt": ejson::date(now),
            "expiresAt": ejson::date(now + EXPIRES_AFTER.as_millis() as i64),
            "heartbeatMs": HEARTBEAT.as_millis() as i64,
            "collection": &self.settings.collection,
            "taskTypes": &self.settings.task_types,
            "paused": paused,
            "counters": ejson::to_bson(&stats["counters"]),
            "stats": doc! {
                "workers": ejson::to_bson(&stats["workers"]),
                "readyWorkers": ejson::to_bson(&stats["readyWorkers"]),
                "running": ejson::to_bson(&stats["running"]),
                "inMemory": ejson::to_bson(&stats["inMemory"]),
            },
            "workers": ejson::to_bson(&snapshot.workers),
            "exits": ejson::to_bson(&stats["recentExits"]),
            "history": self.registry.history.to_bson(),
        }
    }
}

/// Done and failed tasks per minute, the last `MINUTES` of them, from the
/// dispatcher's counters at each heartbeat.
#[derive(Default)]
struct History {
    /// The minute (ms since the epoch / 60 000) of the last bucket.
    minute: i64,
    done: VecDeque<u64>,
    failed: VecDeque<u64>,
    /// The counters at the last heartbeat.
    seen: Option<(u64, u64)>,
}

impl History {
    fn add(&mut self, now: i64, done: u64, failed: u64) {
        let minute = now.div_euclid(60_000);
        if self.done.is_empty() {
            self.minute = minute;
            self.done.push_back(0);
            self.failed.push_back(0);
        }
        let gap = (minute - self.minute).clamp(0, MINUTES as i64) as usize;
        for _ in 0..gap {
            self.done.push_back(0);
            self.failed.push_back(0);
        }
        self.minute = self.minute.max(minute);
        while self.done.len() > MINUTES {
            self.done.pop_front();
            self.failed.pop_front();
        }
        let (seen_done, seen_failed) = self.seen.unwrap_or((done, failed));
        if let (Some(d), Some(f)) = (self.done.back_mut(), self.failed.back_mut()) {
            *d += done.saturating_sub(seen_done);
            *f += failed.saturating_sub(seen_failed);
        }
        self.seen = Some((done, failed));
    }

    /// `{ minute: start of the last bucket (ms), done: [...], failed: [...] }`, oldest first.
    fn to_bson(&self) -> Bson {
        let list =
            |v: &VecDeque<u64>| Bson::Array(v.iter().map(|&n| Bson::Int64(n as i64)).collect());
        Bson::Document(doc! {
            "minute": ejson::date(self.minute * 60_000),
            "done": list(&self.done),
            "failed": list(&self.failed),
        })
    }
}

/// Writes the heartbeat (the first one makes the indexes first).
async fn beat(cell: Arc<StoreCell>, owner: String, fields: Document, index: bool) -> StoreEvent {
    let result = async {
        let store = cell.get().await?;
        if index {
            store.ensure_registry_index().await?;
            store.ensure_board_indexes().await?;
        }
        Ok::<_, CodedError>(store.heartbeat(&owner, fields).await?)
    }
    .await;
    StoreEvent::Heartbeat(result)
}

async fn unregister(cell: Arc<StoreCell>, owner: String) -> StoreEvent {
    if let Ok(store) = cell.get().await {
        // Not removed (the server is down): it expires.
        let _ = store.unregister(&owner).await;
    }
    StoreEvent::Unregistered
}

#[cfg(test)]
mod tests {
    use super::History;

    #[test]
    fn history_counts_each_minute_and_keeps_the_last_hour() {
        let mut h = History::default();
        h.add(0, 10, 1);
        h.add(30_000, 15, 1);
        h.add(61_000, 20, 4);
        assert_eq!(Vec::from(h.done.clone()), vec![5, 5]);
        assert_eq!(Vec::from(h.failed.clone()), vec![0, 3]);
        h.add(61_000 + 3 * 60_000, 21, 4);
        assert_eq!(Vec::from(h.done.clone()), vec![5, 5, 0, 0, 1]);
        h.add(200 * 60_000, 22, 4);
        assert_eq!(h.done.len(), super::MINUTES);
        assert_eq!(h.done.back(), Some(&1));
    }
}
