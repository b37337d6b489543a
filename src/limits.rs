//! Flow control per task type: how many may run at once and how many may
//! start per window, for the type and for each of its groups. The same
//! shape in `limits` (a Cluster option), `TaskQueue.setLimits` and the
//! limits documents: `{ concurrency?, rate?: { max, per }, perGroup?:
//! { concurrency?, rate? } }`. The facade checks every field first.

use serde::{Deserialize, Serialize};

/// At most `max` starts in any window of `per` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rate {
    pub(crate) max: u32,
    pub(crate) per: u64,
}

/// A concurrency and a rate, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rate: Option<Rate>,
}

impl Bounds {
    pub(crate) fn is_empty(&self) -> bool {
        self.concurrency.is_none() && self.rate.is_none()
    }
}

/// A type's limits: its own, and each group's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Limits {
    #[serde(flatten)]
    pub(crate) whole: Bounds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) per_group: Option<Bounds>,
}

impl Limits {
    /// The bounds of each group (none when there are none).
    pub(crate) fn group(&self) -> Bounds {
        self.per_group.unwrap_or_default()
    }

    /// Whether a start must follow its send: a rate is counted at the send.
    pub(crate) fn has_rate(&self) -> bool {
        self.whole.rate.is_some() || self.group().rate.is_some()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.group().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shape_reads_and_writes_back() {
        let json = r#"{"concurrency":2,"rate":{"max":10,"per":1000},"perGroup":{"concurrency":1}}"#;
        let limits: Limits = serde_json::from_str(json).unwrap();
        assert_eq!(limits.whole.concurrency, Some(2));
        assert_eq!(limits.whole.rate, Some(Rate { max: 10, per: 1000 }));
        assert_eq!(limits.group().concurrency, Some(1));
        assert!(limits.has_rate());
        assert_eq!(serde_json::to_string(&limits).unwrap(), json);
        let none: Limits = serde_json::from_str("{}").unwrap();
        assert!(none.is_empty() && !none.has_rate());
    }
}

#[cfg(test)]
mod bson_tests {
    use super::*;

    #[test]
    fn limits_read_back_from_bson_as_stored() {
        let limits: Limits = serde_json::from_str(
            r#"{"concurrency":2,"rate":{"max":3,"per":1000},"perGroup":{"concurrency":1}}"#,
        )
        .unwrap();
        let stored = mongodb::bson::to_document(&limits).unwrap();
        let read: Limits = mongodb::bson::from_document(stored).unwrap();
        assert_eq!(read, limits);
        let by_node =
            mongodb::bson::doc! { "concurrency": 2i32, "perGroup": { "concurrency": 1i32 } };
        let read: Limits = mongodb::bson::from_document(by_node).unwrap();
        assert_eq!(read.whole.concurrency, Some(2));
    }
}
