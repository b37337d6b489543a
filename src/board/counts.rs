//! Counts per task type and state, which take a pass over the whole
//! collection: never counted in a request. A request gets the last counts
//! with their age, and starts a new count in the background when they are
//! older than `FRESH`, or than `SPACING` times what the last count took: a
//! slow count on a big collection then keeps the server busy a small
//! share of the time, never most of it.

use crate::queue::mongo::{Store, TypeCounts};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Counts younger than this are not counted again.
const FRESH: Duration = Duration::from_secs(5);
/// A count starts at most once per this many times the last one's length.
const SPACING: u32 = 5;

/// Cheap to clone: the background count and the requests share one state.
#[derive(Default, Clone)]
pub(super) struct Counts {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    last: Option<Counted>,
    counting: bool,
}

struct Counted {
    /// When the count started (ms since the epoch, server time).
    at: i64,
    took: Duration,
    done_at: Instant,
    by_type: Result<Vec<TypeCounts>, String>,
}

impl Counts {
    /// The last counts (`null` before the first one ends) as JSON, and
    /// whether a count is under way; starts one when they are stale.
    pub(super) fn cached(&self, store: &Arc<Store>) -> (serde_json::Value, bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let stale = state
            .last
            .as_ref()
            .is_none_or(|c| c.done_at.elapsed() >= FRESH.max(c.took * SPACING));
        if stale && !state.counting {
            state.counting = true;
            let (counts, store) = (self.clone(), store.clone());
            tokio::spawn(async move { counts.count(&store).await });
        }
        (snapshot(&state), state.counting)
    }

    async fn count(&self, store: &Store) {
        let (at, started) = (store.server_now(), Instant::now());
        let by_type = store.board_counts(at).await.map_err(|e| e.to_string());
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.counting = false;
        state.last = Some(Counted {
            at,
            took: started.elapsed(),
            done_at: Instant::now(),
            by_type,
        });
    }
}

fn snapshot(state: &State) -> serde_json::Value {
    let Some(c) = &state.last else {
        return serde_json::Value::Null;
    };
    let ms = c.took.as_millis() as u64;
    match &c.by_type {
        Ok(by_type) => serde_json::json!({ "at": c.at, "ms": ms, "byType": by_type }),
        Err(e) => serde_json::json!({ "at": c.at, "ms": ms, "error": e }),
    }
}
