//! The masters' registry: a companion collection (`<collection>.masters`)
//! where each master with a persistent queue keeps a heartbeat document,
//! which expires (a TTL index on `expiresAt`) when the master dies and is
//! removed when it closes. A dashboard reads it to show every live master,
//! and asks one to pause or resume by writing a `request` into its
//! document, which that master takes (and clears) with its next heartbeat.

use super::error::Result;
use super::Store;
use crate::queue::ejson;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document, RawDocumentBuf};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use std::time::Duration;

/// What a dashboard may ask a master to do.
pub const MASTER_REQUESTS: [&str; 2] = ["pause", "resume"];

/// Most masters a dashboard lists.
const MAX_MASTERS: i64 = 200;

impl Store {
    fn registry(&self) -> Collection<Document> {
        let namespace = self.coll.namespace();
        self.coll
            .client()
            .database(&namespace.db)
            .collection(&format!("{}.masters", namespace.coll))
    }

    /// The TTL index that removes the documents of dead masters.
    pub async fn ensure_registry_index(&self) -> Result<()> {
        let options = IndexOptions::builder()
            .name("meteorCluster_expiry".to_owned())
            .expire_after(Duration::ZERO)
            .build();
        self.registry()
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "expiresAt": 1 })
                    .options(options)
                    .build(),
            )
            .await?;
        Ok(())
    }

    /// Writes this master's heartbeat (`fields` set, the rest kept), and
    /// takes the request a dashboard left in its document, if any.
    pub async fn heartbeat(&self, id: &str, fields: Document) -> Result<Option<String>> {
        let before = self
            .registry()
            .find_one_and_update(
                doc! { "_id": id },
                doc! { "$set": fields, "$unset": { "request": "" } },
            )
            .upsert(true)
            .return_document(ReturnDocument::Before)
            .projection(doc! { "request": 1 })
            .await?;
        Ok(before.and_then(|d| {
            d.get_document("request")
                .ok()
                .and_then(|r| r.get_str("op").ok())
                .filter(|op| MASTER_REQUESTS.contains(op))
                .map(str::to_owned)
        }))
    }

    /// Removes this master's document (it closed).
    pub async fn unregister(&self, id: &str) -> Result<()> {
        self.registry().delete_one(doc! { "_id": id }).await?;
        Ok(())
    }

    /// The live masters' documents as EJSON, oldest first: a document past
    /// its expiry is left out even before the server removes it.
    pub async fn masters(&self) -> Result<Vec<String>> {
        let now = ejson::date(self.server_now());
        let found: Vec<RawDocumentBuf> = self
            .registry()
            .clone_with_type::<RawDocumentBuf>()
            .find(doc! { "expiresAt": { "$gt": now } })
            .sort(doc! { "startedAt": 1, "_id": 1 })
            .limit(MAX_MASTERS)
            .await?
            .try_collect()
            .await?;
        Ok(found
            .iter()
            .filter_map(|d| ejson::document_json(d, "").ok())
            .collect())
    }

    /// Asks a live master to pause or resume; whether it is there.
    pub async fn request_master(&self, id: &str, op: &str) -> Result<bool> {
        let now = ejson::date(self.server_now());
        let result = self
            .registry()
            .update_one(
                doc! { "_id": id, "expiresAt": { "$gt": now.clone() } },
                doc! { "$set": { "request": { "op": op, "at": now } } },
            )
            .await?;
        Ok(result.matched_count > 0)
    }
}
