//! The one road from the dispatcher to JS. Events are queued here as JSON
//! and JS is woken at most once per batch; it then takes the whole batch in
//! one call, so a deep queue costs one threadsafe-function call per batch,
//! not per task.

use std::sync::Mutex;

/// Whether the master has work, so JS can let its event loop go when idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Busy,
    /// Idle after handling every JS command up to `seq`.
    Idle {
        seq: u64,
    },
}

#[derive(Default)]
struct Pending {
    events: Vec<String>,
    activity: Option<Activity>,
    woken: bool,
}

pub struct EventSink {
    pending: Mutex<Pending>,
    wake: Box<dyn Fn() + Send + Sync>,
}

impl EventSink {
    pub fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        EventSink {
            pending: Mutex::new(Pending::default()),
            wake,
        }
    }

    /// Queues `events` (draining the vector) and the latest activity.
    pub fn publish(&self, events: &mut Vec<String>, activity: Option<Activity>) {
        if events.is_empty() && activity.is_none() {
            return;
        }
        let wake = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.events.append(events);
            if activity.is_some() {
                pending.activity = activity;
            }
            !std::mem::replace(&mut pending.woken, true)
        };
        if wake {
            (self.wake)();
        }
    }

    /// Everything queued since the last take, as one JSON array.
    pub fn take(&self) -> (String, Option<Activity>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.woken = false;
        let events = std::mem::take(&mut pending.events);
        (json_array(&events), pending.activity.take())
    }
}

/// Joins JSON texts into one JSON array without re-encoding them.
pub fn json_array<S: AsRef<str>>(items: &[S]) -> String {
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn wakes_once_per_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let sink = EventSink::new(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        sink.publish(&mut vec!["1".into()], None);
        sink.publish(&mut vec!["2".into()], Some(Activity::Busy));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(sink.take(), ("[1,2]".to_owned(), Some(Activity::Busy)));
        sink.publish(&mut vec![], Some(Activity::Idle { seq: 3 }));
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(
            sink.take(),
            ("[]".to_owned(), Some(Activity::Idle { seq: 3 }))
        );
    }
}
