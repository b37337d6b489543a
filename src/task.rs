//! The task model: what a queued job is, the order tasks run in, the
//! Meteor-style ids, and the JSON shape a task has on the wire and in JS.
//!
//! `data` stays the EJSON text the JS facade produced (dates as
//! `{"$date": ms}`, the one date encoding on the wire, `createdAt` and
//! `dueDate` included), so a task crosses master, worker and JS without
//! being parsed or re-encoded on the hot path.

use crate::policy::Policy;
use rand::Rng;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::io::Write;
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
    /// MongoDB's document converts to); carried as is, never re-parsed.
    pub(crate) data: String,
    /// Retries, timeout, repetition; `None` for a plain task.
    pub(crate) policy: Option<Arc<Policy>>,
    /// Attempts that failed before the one to run next (retries so far).
    pub(crate) failures: u32,
    /// For a retried run of a series: when its occurrence was due (the
    /// retry moved `due_date`), so the next one keeps to the series' grid.
    pub(crate) slot: Option<i64>,
}

impl Task {
    /// The task as EJSON, with `onGoing`, as task functions and listeners see it.
    pub(crate) fn to_json(&self, on_going: bool) -> String {
        let mut out =
            Vec::with_capacity(112 + self.id.len() + self.task_type.len() + self.data.len());
        out.extend_from_slice(br#"{"_id":"#);
        json_str(&mut out, &self.id);
        out.extend_from_slice(br#","taskType":"#);
        json_str(&mut out, &self.task_type);
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            r#","priority":{},"createdAt":{{"$date":{}}},"dueDate":{{"$date":{}}},"data":"#,
            self.priority, self.created_at, self.due_date
        );
        out.extend_from_slice(self.data.as_bytes());
        out.extend_from_slice(if on_going {
            br#","onGoing":true}"#
        } else {
            br#","onGoing":false}"#
        });
        String::from_utf8(out).unwrap_or_else(|_| "null".to_owned())
    }

    /// The task as runs and outcome events carry it: the JSON array
    /// `[_id, taskType, priority, createdAt ms, dueDate - createdAt ms, data,
    /// onGoing]`. Dates as numbers leave no EJSON tag outside `data`, so a
    /// reader revives only the data that has one (the object form cost every
    /// task a walk in the worker and a second parse in the master). `dueDate`
    /// as an offset is mostly 0: a small integer parses without the
    /// floating-point path a 13-digit one takes.
    pub(crate) fn to_row(&self, on_going: bool) -> String {
        let mut out =
            Vec::with_capacity(64 + self.id.len() + self.task_type.len() + self.data.len());
        out.push(b'[');
        json_str(&mut out, &self.id);
        out.push(b',');
        json_str(&mut out, &self.task_type);
        for n in [
            self.priority,
            self.created_at,
            self.due_date - self.created_at,
        ] {
            out.push(b',');
            push_int(&mut out, n);
        }
        out.push(b',');
        out.extend_from_slice(self.data.as_bytes());
        out.extend_from_slice(if on_going { b",true]" } else { b",false]" });
        String::from_utf8(out).unwrap_or_else(|_| "null".to_owned())
    }

    /// The facade's batch of in-memory adds: JSON
    /// `[[id, taskType, priority, dueDate, createdAt, data], ...]` (plain
    /// tasks only: one with a policy or its own `_id` is a `TaskQueue` call).
    pub(crate) fn parse_batch(json: &str) -> Result<Vec<Task>, String> {
        /// Strings borrowed from the batch where they hold no escape.
        #[derive(serde::Deserialize)]
        struct Row<'a>(
            #[serde(borrow)] Cow<'a, str>,
            #[serde(borrow)] Cow<'a, str>,
            i64,
            f64,
            f64,
            &'a RawValue,
        );
        let rows: Vec<Row> =
            serde_json::from_str(json).map_err(|e| format!("unreadable batch of adds: {e}"))?;
        // A burst is mostly of one type: its tasks share one copy.
        let mut last_type: Option<Arc<str>> = None;
        Ok(rows
            .into_iter()
            .map(|Row(id, task_type, priority, due_date, created_at, data)| {
                let task_type = match &last_type {
                    Some(t) if **t == *task_type => t.clone(),
                    _ => last_type.insert(Arc::from(task_type)).clone(),
                };
                Task {
                    id: Arc::from(id),
                    task_type,
                    priority,
                    created_at: created_at as i64,
                    due_date: due_date as i64,
                    data: data.get().to_owned(),
                    ..Task::default()
                }
            })
            .collect())
    }
}

/// Appends `n` in decimal: itoa skips `write!`'s formatting machinery (hot path).
pub(crate) fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
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
    fn batches_of_adds_parse_with_their_data_untouched() {
        let tasks = Task::parse_batch(
            r#"[["a","T\"x",3,20,10,{"d":[1,{"$date":5}]}],["b","U",-1,7,7,{}]]"#,
        )
        .unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(&*tasks[0].task_type, "T\"x");
        assert_eq!(
            (tasks[0].priority, tasks[0].due_date, tasks[0].created_at),
            (3, 20, 10)
        );
        assert_eq!(tasks[0].data, r#"{"d":[1,{"$date":5}]}"#);
        assert_eq!(&*tasks[1].id, "b");
        assert!(Task::parse_batch("[[1]]").is_err());
    }

    #[test]
    fn tasks_of_a_batch_share_their_type_and_escapes_are_read() {
        let tasks = Task::parse_batch(
            r#"[["a\u0062","T",1,0,0,{}],["c","T",1,0,0,{}],["d","U",1,0,0,{}]]"#,
        )
        .unwrap();
        assert_eq!(&*tasks[0].id, "ab");
        assert!(Arc::ptr_eq(&tasks[0].task_type, &tasks[1].task_type));
        assert_eq!(&*tasks[2].task_type, "U");
    }

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

    #[test]
    fn json_keeps_upstream_field_names_and_raw_data() {
        let task = Task {
            id: "abc".into(),
            task_type: "T".into(),
            priority: 3,
            created_at: 1,
            due_date: 2,
            data: r#"{"a":[1,{"$date":5}]}"#.into(),
            ..Task::default()
        };
        assert_eq!(
            task.to_json(true),
            r#"{"_id":"abc","taskType":"T","priority":3,"createdAt":{"$date":1},"dueDate":{"$date":2},"data":{"a":[1,{"$date":5}]},"onGoing":true}"#
        );
        assert_eq!(
            task.to_row(true),
            r#"["abc","T",3,1,1,{"a":[1,{"$date":5}]},true]"#
        );
    }
}
