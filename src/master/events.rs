//! Events from the dispatcher to JS: a typed enum, serialized into one JSON
//! array per hand-over, so JS parses a whole batch at once. Payloads that
//! only JS reads (tasks, results, IPC messages) stay raw JSON.

use serde::Serialize;
use serde_json::value::RawValue;

/// In `done`, `error` and `retry` events the task is the row the worker got
/// (`Task::to_row`); JS makes it an object only when a listener listens.
/// A document that could not be read comes as the object it was.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum JsEvent<'a> {
    /// A task finished; `value` is absent when it returned `undefined`.
    Done {
        task: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<&'a RawValue>,
    },
    /// A task failed for good.
    Error {
        task: &'a RawValue,
        value: &'a RawValue,
    },
    /// An attempt failed and the task will run again at `next_run_at`.
    #[serde(rename_all = "camelCase")]
    Retry {
        task: &'a RawValue,
        value: &'a RawValue,
        attempt: u32,
        next_run_at: Date,
    },
    /// A task's IPC message, for the `messageBroker`.
    Ipc {
        worker: u32,
        run: u64,
        msg: &'a RawValue,
    },
    /// The answer to a JS `TaskQueue` call.
    Reply {
        req: u64,
        ok: bool,
        value: &'a RawValue,
    },
    /// A worker started; JS watches `fd` (its own copy of the worker's
    /// socket) for the worker's wake-ups.
    Spawned { worker: u32, fd: i32 },
    /// A worker is gone; JS closes its copy of the socket.
    Retired { worker: u32 },
    /// A worker's socket is full: JS takes what is left (`takeBlocked`),
    /// writes it, and says `unblocked` when it is written.
    Blocked { worker: u32 },
    /// `close()` finished.
    Closed,
    /// The dispatcher failed and stopped; every pending call must fail.
    Fatal { message: &'a str },
    /// JS's one timer: call `timerFired` in `ms`, instead of at the later
    /// time it holds.
    Timer { ms: f64 },
}

/// A date as EJSON writes it: `{"$date": ms}`.
pub(crate) struct Date(pub(crate) i64);

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$date", &self.0)?;
        map.end()
    }
}

/// Serialized events waiting for JS.
#[derive(Default)]
pub(crate) struct Events {
    json: String,
}

impl Events {
    pub(crate) fn push(&mut self, event: &JsEvent) {
        // Serializing our own event types cannot fail.
        if let Ok(json) = serde_json::to_string(event) {
            self.push_serialized(&json);
        }
    }

    /// Adds an event serialized earlier (one held back until MongoDB wrote
    /// its outcome).
    pub(crate) fn push_serialized(&mut self, json: &str) {
        self.json.push(if self.json.is_empty() { '[' } else { ',' });
        self.json.push_str(json);
    }

    /// Every event since the last take, as one JSON array (`[]` for none).
    pub(crate) fn take(&mut self) -> String {
        if self.json.is_empty() {
            return "[]".to_owned();
        }
        let mut json = std::mem::take(&mut self.json);
        json.push(']');
        json
    }
}

/// Serializes one event to JSON text (for events held back, see `Events`).
pub(crate) fn serialize(event: &JsEvent) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// Joins JSON texts into one JSON array without re-encoding them.
pub(crate) fn json_array<S: AsRef<str>>(items: &[S]) -> String {
    let len = items.iter().map(|s| s.as_ref().len() + 1).sum::<usize>() + 2;
    let mut out = String::with_capacity(len);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn events_are_handed_over_as_one_array_with_raw_payloads() {
        let mut events = Events::default();
        assert_eq!(events.take(), "[]");
        events.push(&JsEvent::Done {
            task: &raw(r#"["a","T",1,2,3,{"at":{"$date":5}},true]"#),
            value: None,
        });
        events.push(&JsEvent::Reply {
            req: 3,
            ok: true,
            value: &raw("[1,2]"),
        });
        events.push_serialized(&serialize(&JsEvent::Closed));
        assert_eq!(
            events.take(),
            r#"[{"type":"done","task":["a","T",1,2,3,{"at":{"$date":5}},true]},{"type":"reply","req":3,"ok":true,"value":[1,2]},{"type":"closed"}]"#
        );
        assert_eq!(events.take(), "[]");
    }
}
