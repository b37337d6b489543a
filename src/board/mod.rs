//! The dashboard's reads and actions on a queue's collection and its
//! masters' registry, for the JS handler (`lib/dashboard/`), embedded or
//! standalone. It needs no master: it connects to the URL and collection
//! itself, with the queue's `Store`, on the addon's runtime.
//!
//! - `counts`: counts per type and state, counted in the background and
//!   cached, so no request waits on a scan.
//! - `cursor`: the keyset cursor of a task list, opaque to JS.
//! - `calls`: each `BoardOp`, its arguments read and its answer written.

mod calls;
mod counts;
mod cursor;

use crate::error::{Code, CodedError};
use crate::queue::mongo::Store;
use crate::wire::board::BoardOp;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Board {
    url: String,
    collection: String,
    store: tokio::sync::OnceCell<Arc<Store>>,
    counts: counts::Counts,
}

impl Board {
    /// A board of `collection` at `url` (checked now, connected on first use).
    pub(crate) fn new(url: String, collection: String) -> Result<Board, CodedError> {
        if let Some(problem) = crate::queue::mongo::url_problem(&url) {
            return Err(CodedError::invalid(format!(
                "dashboard: the MongoDB URL {problem}"
            )));
        }
        if collection.is_empty() {
            return Err(CodedError::invalid(
                "dashboard: the collection name is empty",
            ));
        }
        Ok(Board {
            url,
            collection,
            store: tokio::sync::OnceCell::new(),
            counts: counts::Counts::default(),
        })
    }

    /// The store, connected once; the dashboard's indexes are made in the
    /// background (a master makes them too), so the first page does not
    /// wait on an index build.
    async fn store(&self) -> Result<&Arc<Store>, CodedError> {
        self.store
            .get_or_try_init(|| async {
                let owner = format!("dashboard:{}", std::process::id());
                let store = Store::connect(&self.url, &self.collection, owner, Duration::ZERO)
                    .await
                    .map(Arc::new)
                    .map_err(CodedError::from)?;
                store.sync_clock().await.map_err(CodedError::from)?;
                let indexing = store.clone();
                tokio::spawn(async move {
                    let _ = indexing.ensure_board_indexes().await;
                    let _ = indexing.ensure_registry_index().await;
                });
                Ok(store)
            })
            .await
    }

    /// Runs one call; its answer is JSON text.
    pub(crate) async fn call(
        self: Arc<Self>,
        op: BoardOp,
        args: &str,
    ) -> Result<String, CodedError> {
        let store = self.store().await?.clone();
        calls::run(&self, &store, op, args).await
    }
}

/// Nothing matched what an action needs.
fn not_found(message: String) -> CodedError {
    CodedError::new(Code::NotFound, message)
}
