//! The task model: what a queued job is, the order tasks run in, and the
//! Meteor-style ids. Its forms on the wire are in `wire::task`.
//!
//! `data` stays the EJSON text the JS facade produced (dates as
//! `{"$date": ms}`, the one date encoding on the wire, `createdAt` and
//! `dueDate` included), so a task crosses master, worker and JS without
//! being parsed or re-encoded on the hot path.

use crate::policy::Policy;
use crate::wire::payload::Payload;
use rand::Rng;
use std::cmp::Ordering;
use std::sync::Arc;

/// Alphabet of Meteor's `Random.id()`: 17 characters from it make an id.
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
pub(crate) const ID_LEN: usize = 17;

/// A Meteor-style random id, the shape upstream gives tasks without `_id`.
pub(crate) fn new_id() -> String {
    let mut id = String::with_capacity(ID_LEN);
    push_ids(&mut id, 1);
    id
}

/// Appends `count` Meteor-style ids to `out` (the facade's id pool), from
/// one generator and one buffer rather than a draw per id.
pub(crate) fn push_ids(out: &mut String, count: usize) {
    // Each random byte is used when below the largest multiple of the
    // alphabet's size, so every character stays equally likely.
    let limit = (256 / ID_ALPHABET.len() * ID_ALPHABET.len()) as u8;
    let mut rng = rand::thread_rng();
    let mut left = count * ID_LEN;
    out.reserve(left);
    let mut buffer = [0u8; 256];
    while left > 0 {
        // About 7 bytes in 8 are used: draw a little more than is left.
        let bytes = &mut buffer[..(left + left / 4 + 8).min(256)];
        rng.fill(&mut *bytes);
        for &b in bytes.iter().filter(|&&b| b < limit).take(left) {
            out.push(ID_ALPHABET[b as usize % ID_ALPHABET.len()] as char);
            left -= 1;
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Task {
    /// Shared, not copied, by the queue's index and the task's run.
    pub(crate) id: Arc<str>,
    /// Shared by the tasks of a batch that have the same type.
    pub(crate) task_type: Arc<str>,
    pub(crate) priority: i64,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub(crate) due_date: i64,
    /// EJSON text of an object, as the facade's encoder wrote it (or as
    /// MongoDB's document converts to), and its blobs; carried as is,
    /// never re-parsed.
    pub(crate) data: Payload,
    /// Retries, timeout, repetition; `None` for a plain task.
    pub(crate) policy: Option<Arc<Policy>>,
    /// Attempts that failed before the one to run next (retries so far).
    pub(crate) failures: u32,
    /// For a retried run of a series: when its occurrence was due (the
    /// retry moved `due_date`), so the next one keeps to the series' grid.
    pub(crate) slot: Option<i64>,
    /// The latest `job.progress(value)` of the run in progress, as JSON
    /// (in memory; a persistent task keeps it in its document).
    pub(crate) progress: Option<Box<str>>,
    /// The trace context of the add, when it was made in a traced span:
    /// the carrier OpenTelemetry's propagator filled (JSON of an object,
    /// `{ traceparent, tracestate? }`).
    pub(crate) trace: Option<Box<str>>,
    /// `addTask({ group })`: within a type, groups take turns (and may
    /// have limits of their own).
    pub(crate) group: Option<Arc<str>>,
}

impl Task {
    /// Whether it starts a series (`repeat`): adding it again is a no-op.
    pub(crate) fn is_series(&self) -> bool {
        self.policy.as_ref().is_some_and(|p| p.repeat.is_some())
    }
}

/// Appends `n` in decimal: itoa skips `write!`'s formatting machinery (hot path).
pub(crate) fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Run order among due tasks: higher priority, then older `createdAt`, then
/// earlier insertion (`seq`). The greatest key runs first. This is the one
/// definition of the order: the memory queue sorts by it, and `ORDER_FIELDS`
/// is the same order for MongoDB (claim sort and index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOrder {
    pub(crate) priority: i64,
    pub(crate) created_at: i64,
    pub(crate) seq: u64,
}

/// `RunOrder` as a MongoDB sort: (field, direction), best first. Persistent
/// tasks have no insertion number: equal ones come in `_id` order.
pub(crate) const ORDER_FIELDS: [(&str, i32); 2] = [("priority", -1), ("createdAt", 1)];

impl RunOrder {
    /// A task's place in the order (`seq` 0 for persistent tasks).
    pub(crate) fn of(task: &Task, seq: u64) -> RunOrder {
        RunOrder {
            priority: task.priority,
            created_at: task.created_at,
            seq,
        }
    }
}

impl Ord for RunOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.created_at.cmp(&self.created_at))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for RunOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Milliseconds since the Unix epoch, the unit of `createdAt` and `dueDate`.
pub(crate) fn now_ms() -> i64 {
    #[cfg(test)]
    {
        test_clock::now_ms()
    }
    #[cfg(not(test))]
    wall_ms()
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// In unit tests, wall-clock time follows tokio's clock (which tests pause
/// and advance), so due dates and timers agree.
#[cfg(test)]
mod test_clock {
    use tokio::time::Instant;

    thread_local! {
        static BASE: (Instant, i64) = (Instant::now(), super::wall_ms());
    }

    pub(super) fn now_ms() -> i64 {
        BASE.with(|(at, ms)| ms + Instant::now().duration_since(*at).as_millis() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_meteor_ids() {
        let id = new_id();
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(id, new_id());
        let mut pool = String::new();
        push_ids(&mut pool, 100);
        assert_eq!(pool.len(), 100 * ID_LEN);
        assert!(pool.bytes().all(|b| ID_ALPHABET.contains(&b)));
    }

    #[test]
    fn order_is_priority_then_age_then_insertion() {
        let k = |priority, created_at, seq| RunOrder {
            priority,
            created_at,
            seq,
        };
        assert!(k(2, 10, 5) > k(1, 0, 0));
        assert!(k(1, 5, 9) > k(1, 6, 0));
        assert!(k(1, 5, 1) > k(1, 5, 2));
    }
}
