//! The limits documents (`<collection>.limits`, one per task type): the
//! limits every master obeys, and each master's holdings and the recent
//! starts, which `master::fleet` decides on. Setting limits and taking
//! slots bump the version `v`; taking writes only if `v` is still the one
//! read (compare-and-set), so no two masters take the last slot.
//!
//! ```text
//! { _id: taskType, limits?: { concurrency?, rate?, perGroup? }, v,
//!   held: { <master>: { n, g: [[group, n], ...], exp: Date } },
//!   starts: [{ t: Date, g: group }], updatedAt: Date }
//! ```

use super::{ejson, Result, Store, StoreError};
use crate::limits::Limits;
use crate::master::fleet::{Holding, LimitsDoc, Take};
use crate::queue::ready::GroupName;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::sync::Arc;

impl Store {
    /// Replaces `task_type`'s limits (`None` clears them); other masters
    /// see the new version.
    pub async fn set_limits(&self, task_type: &str, limits: Option<&Limits>) -> Result<()> {
        let now = ejson::date(self.server_now());
        let update = match limits {
            Some(limits) => doc! {
                "$set": { "limits": limits_bson(limits), "updatedAt": now },
                "$inc": { "v": 1i64 },
            },
            None => doc! {
                "$unset": { "limits": "" },
                "$set": { "updatedAt": now },
                "$inc": { "v": 1i64 },
            },
        };
        self.limits
            .update_one(doc! { "_id": task_type }, update)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Every type's limits (types whose limits were cleared: `None`).
    pub async fn all_limits(&self) -> Result<Vec<(String, Option<Limits>)>> {
        let docs: Vec<Document> = self
            .limits
            .find(doc! {})
            .projection(doc! { "limits": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                let task_type = d.get_str("_id").ok()?.to_owned();
                Some((
                    task_type,
                    d.get_document("limits").ok().and_then(read_limits),
                ))
            })
            .collect())
    }

    /// `task_type`'s limits document as it is now.
    pub async fn limits_doc(&self, task_type: &str) -> Result<LimitsDoc> {
        let found = self.limits.find_one(doc! { "_id": task_type }).await?;
        Ok(found.as_ref().map(read_limits_doc).unwrap_or_default())
    }

    /// Every type's limits document that holds limits, by type.
    pub async fn limits_docs(&self) -> Result<Vec<(String, LimitsDoc)>> {
        let docs: Vec<Document> = self
            .limits
            .find(doc! { "limits": { "$exists": true } })
            .sort(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| Some((d.get_str("_id").ok()?.to_owned(), read_limits_doc(d))))
            .collect())
    }

    /// Writes what `take` took if the document is still at `version`;
    /// whether it was.
    pub async fn take_limits(&self, task_type: &str, version: i64, take: &Take) -> Result<bool> {
        let set = doc! {
            format!("held.{}", self.holder()): self.holding_bson(&take.mine),
            "starts": take.starts.iter().map(|(t, g)| Bson::Document(doc! { "t": ejson::date(*t), "g": group_bson(g) })).collect::<Vec<_>>(),
            "updatedAt": ejson::date(self.server_now()),
        };
        let filter = if version == 0 {
            // Never written: the first writer makes it.
            doc! { "_id": task_type, "v": { "$exists": false } }
        } else {
            doc! { "_id": task_type, "v": version }
        };
        let mut update = doc! {};
        if !take.expired.is_empty() {
            let mut unset = Document::new();
            for m in &take.expired {
                unset.insert(format!("held.{m}"), "");
            }
            update.insert("$unset", unset);
        }
        update.insert("$set", set);
        update.insert("$inc", doc! { "v": 1i64 });
        let upsert = version == 0;
        match self.limits.update_one(filter, update).upsert(upsert).await {
            Ok(result) => Ok(result.matched_count == 1 || result.upserted_id.is_some()),
            Err(e) => match StoreError::from(e) {
                // Two first writers: the other made it.
                StoreError::DuplicateKey(_) if upsert => Ok(false),
                e => Err(e),
            },
        }
    }

    /// Writes this master's holdings of `task_type` (fewer slots, or a
    /// later expiry: safe without the compare).
    pub async fn write_holding(&self, task_type: &str, holding: &Holding) -> Result<()> {
        let key = format!("held.{}", self.holder());
        let update = if holding.n == 0 {
            doc! { "$unset": { key: "" } }
        } else {
            doc! { "$set": { key: self.holding_bson(holding) } }
        };
        self.limits
            .update_one(doc! { "_id": task_type }, update)
            .await?;
        Ok(())
    }
}

/// A limits document as read.
fn read_limits_doc(d: &Document) -> LimitsDoc {
    LimitsDoc {
        version: int(d.get("v")),
        limits: d.get_document("limits").ok().and_then(read_limits),
        held: d
            .get_document("held")
            .map(|held| {
                held.iter()
                    .filter_map(|(m, h)| Some((m.clone(), read_holding(h.as_document()?))))
                    .collect()
            })
            .unwrap_or_default(),
        starts: d
            .get_array("starts")
            .map(|starts| {
                starts
                    .iter()
                    .filter_map(|s| {
                        let s = s.as_document()?;
                        Some((
                            s.get_datetime("t").ok()?.timestamp_millis(),
                            group_of(s.get("g")),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn int(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}

fn limits_bson(limits: &Limits) -> Bson {
    mongodb::bson::to_bson(limits).unwrap_or(Bson::Null)
}

/// Limits as stored; a document no one could read is no limit.
fn read_limits(d: &Document) -> Option<Limits> {
    mongodb::bson::from_document(d.clone()).ok()
}

fn group_bson(group: &GroupName) -> Bson {
    group
        .as_deref()
        .map_or(Bson::Null, |g| Bson::String(g.to_owned()))
}

fn group_of(value: Option<&Bson>) -> GroupName {
    match value {
        Some(Bson::String(g)) => Some(Arc::from(g.as_str())),
        _ => None,
    }
}

impl Store {
    /// This master's key in `held`: the random part of its owner name
    /// (a host name may hold dots, which a field name cannot).
    pub(crate) fn holder(&self) -> &str {
        self.owner.rsplit(':').next().unwrap_or(&self.owner)
    }

    fn holding_bson(&self, h: &Holding) -> Document {
        doc! {
            "n": i64::from(h.n),
            "g": h.groups.iter().map(|(g, n)| Bson::Array(vec![group_bson(g), Bson::Int64(i64::from(*n))])).collect::<Vec<_>>(),
            "exp": ejson::date(h.exp),
            "owner": &self.owner,
        }
    }
}

fn read_holding(d: &Document) -> Holding {
    Holding {
        n: int(d.get("n")).max(0) as u32,
        groups: d
            .get_array("g")
            .map(|g| {
                g.iter()
                    .filter_map(|pair| {
                        let pair = pair.as_array()?;
                        Some((group_of(pair.first()), int(pair.get(1)).max(0) as u32))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        exp: d.get_datetime("exp").map_or(0, |t| t.timestamp_millis()),
    }
}
