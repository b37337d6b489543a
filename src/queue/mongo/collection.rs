//! The collection calls of the upstream README (`find`, `count`, `remove`,
//! `update` with Meteor's upsert), with their options.

use super::error::{server_error, Result, StoreError};
use super::task_doc::{id_text, raw_id};
use super::Store;
use crate::queue::ejson;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use std::time::Duration;

impl Store {
    /// The documents found, each as EJSON JSON text; one that cannot be
    /// read fails the call with its `_id` and path.
    pub async fn find(&self, selector: Document, options: &FindOptions) -> Result<Vec<String>> {
        let mut find = self.raw.find(selector);
        if let Some(sort) = &options.sort {
            find = find.sort(sort.clone());
        }
        if let Some(limit) = options.limit {
            find = find.limit(limit as i64);
        }
        if let Some(skip) = options.skip {
            find = find.skip(skip);
        }
        if let Some(fields) = &options.fields {
            find = find.projection(fields.clone());
        }
        if let Some(hint) = &options.hint {
            find = find.hint(hint.clone());
        }
        if let Some(max_time) = options.max_time {
            find = find.max_time(max_time);
        }
        let documents: Vec<RawDocumentBuf> = find.await?.try_collect().await?;
        documents
            .iter()
            .map(|d| {
                ejson::document_json(d, "").map_err(|error| StoreError::Undecodable {
                    id: id_text(&raw_id(d)),
                    error: Box::new(error),
                })
            })
            .collect()
    }

    /// Documents matching `selector`; `skip` and `limit` apply when given.
    pub async fn count(&self, selector: Document, options: &FindOptions) -> Result<u64> {
        let mut count = self.coll.count_documents(selector);
        if let Some(limit) = options.limit {
            count = count.limit(limit);
        }
        if let Some(skip) = options.skip {
            count = count.skip(skip);
        }
        if let Some(hint) = &options.hint {
            count = count.hint(hint.clone());
        }
        if let Some(max_time) = options.max_time {
            count = count.max_time(max_time);
        }
        Ok(count.await?)
    }

    pub async fn remove(&self, selector: Document) -> Result<u64> {
        Ok(self.coll.delete_many(selector).await?.deleted_count)
    }

    /// Meteor's `update`: one document unless `multi`; with `upsert`, a
    /// document is inserted when none matches, under `options.insert_id`
    /// when neither the selector nor the modifier gives it an `_id` (so it
    /// gets a string id, as Meteor gives one, rather than an ObjectId).
    pub async fn update(
        &self,
        selector: Document,
        modifier: Modifier,
        options: &UpdateOptions,
    ) -> Result<Updated> {
        match modifier {
            Modifier::Operators(mut operators) => {
                if let (true, Some(id)) = (options.upsert, &options.insert_id) {
                    set_on_insert_id(&mut operators, id.clone());
                }
                let mut update = if options.multi {
                    self.coll.update_many(selector, operators)
                } else {
                    self.coll.update_one(selector, operators)
                };
                if let Some(filters) = &options.array_filters {
                    update = update.array_filters(filters.clone());
                }
                Ok(Updated::from(update.upsert(options.upsert).await?))
            }
            Modifier::Replacement(replacement) => match (options.upsert, &options.insert_id) {
                (true, Some(id)) => self.replace_or_insert(selector, replacement, id).await,
                (upsert, _) => {
                    let result = self
                        .coll
                        .replace_one(selector, replacement)
                        .upsert(upsert)
                        .await?;
                    Ok(Updated::from(result))
                }
            },
        }
    }

    /// An upsert of a replacement whose `_id` we choose. Sending the `_id`
    /// in the replacement would fail on a matching document that has
    /// another one, so: replace a match if there is one, else insert under
    /// our id; a match that appears in between makes the insert fail on the
    /// `_id`, and we try again (as Meteor does, 3 times).
    async fn replace_or_insert(
        &self,
        selector: Document,
        replacement: Document,
        id: &Bson,
    ) -> Result<Updated> {
        let mut with_id = doc! { "_id": id.clone() };
        with_id.extend(replacement.clone());
        let mut tries = 1;
        loop {
            let replaced = self
                .coll
                .replace_one(selector.clone(), replacement.clone())
                .await?;
            if replaced.matched_count > 0 {
                return Ok(Updated::from(replaced));
            }
            match self
                .coll
                .replace_one(selector.clone(), with_id.clone())
                .upsert(true)
                .await
            {
                Err(e) if is_id_change(&e) && tries < 3 => tries += 1,
                result => return Ok(Updated::from(result?)),
            }
        }
    }
}

/// Options of `find` and `count`, read from Meteor's arguments.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct FindOptions {
    pub sort: Option<Document>,
    pub limit: Option<u64>,
    pub skip: Option<u64>,
    pub fields: Option<Document>,
    pub hint: Option<mongodb::options::Hint>,
    pub max_time: Option<Duration>,
}

/// An update's second argument: operators (`$set`...) or a whole new document.
#[derive(Debug, Clone, PartialEq)]
pub enum Modifier {
    Operators(Document),
    /// Replaces the matched document's fields; its `_id` stays.
    Replacement(Document),
}

#[derive(Default, Debug, Clone, PartialEq)]
pub struct UpdateOptions {
    pub multi: bool,
    pub upsert: bool,
    /// The `_id` of an upserted document, when nothing else gives it one.
    pub insert_id: Option<Bson>,
    pub array_filters: Option<Vec<Document>>,
}

/// What Meteor's `upsert` answers: how many documents matched (or 1 when
/// one was inserted), and the inserted one's `_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub number_affected: u64,
    pub inserted_id: Option<Bson>,
}

impl From<mongodb::results::UpdateResult> for Updated {
    fn from(result: mongodb::results::UpdateResult) -> Self {
        match result.upserted_id {
            Some(id) => Updated {
                number_affected: 1,
                inserted_id: Some(id),
            },
            None => Updated {
                number_affected: result.matched_count,
                inserted_id: None,
            },
        }
    }
}

fn set_on_insert_id(operators: &mut Document, id: Bson) {
    match operators.get_mut("$setOnInsert") {
        Some(Bson::Document(fields)) => {
            fields.insert("_id", id);
        }
        _ => {
            operators.insert("$setOnInsert", doc! { "_id": id });
        }
    }
}

/// The server refused to change a document's `_id` (code 66, ImmutableField).
fn is_id_change(error: &mongodb::error::Error) -> bool {
    matches!(server_error(error), Some((66, _)))
}
