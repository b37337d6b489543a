//! Which EJSON tag an object's keys spell, by Meteor's rules: one key of
//! `$date`, `$InfNaN`, `$binary` or `$escape`, or exactly the two keys
//! `$regexp` + `$flags` or `$type` + `$value` (the builtin converters'
//! `matchJSONValue`). Both directions ask this, so a JSON object and a
//! stored BSON document are read as a tag in exactly the same cases.

/// An EJSON tag, named by the key that spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Date,
    InfNaN,
    Binary,
    Escape,
    RegExp,
    Custom,
}

impl Tag {
    /// The key that holds the tag's value (for paths and messages).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Tag::Date => "$date",
            Tag::InfNaN => "$InfNaN",
            Tag::Binary => "$binary",
            Tag::Escape => "$escape",
            Tag::RegExp => "$regexp",
            Tag::Custom => "$type",
        }
    }
}

/// Meteor's stored form of a custom type: `{ EJSON$type, EJSON$value }`,
/// every key inside the value prefixed with `EJSON` (its `makeMongoLegal`).
pub(crate) const STORED_TYPE: &str = "EJSON$type";
pub(crate) const STORED_VALUE: &str = "EJSON$value";
pub(crate) const STORED_PREFIX: &str = "EJSON";

/// The tag the keys spell, if any. Reads at most three keys.
pub(crate) fn tag_of<'k>(mut keys: impl Iterator<Item = &'k str>) -> Option<Tag> {
    let first = keys.next()?;
    let Some(second) = keys.next() else {
        return match first {
            "$date" => Some(Tag::Date),
            "$InfNaN" => Some(Tag::InfNaN),
            "$binary" => Some(Tag::Binary),
            "$escape" => Some(Tag::Escape),
            _ => None,
        };
    };
    if keys.next().is_some() {
        return None;
    }
    match (first.min(second), first.max(second)) {
        ("$flags", "$regexp") => Some(Tag::RegExp),
        ("$type", "$value") => Some(Tag::Custom),
        _ => None,
    }
}

/// Whether the keys are exactly Meteor's stored custom type.
pub(crate) fn is_stored_custom<'k>(mut keys: impl Iterator<Item = &'k str>) -> bool {
    let (Some(a), Some(b), None) = (keys.next(), keys.next(), keys.next()) else {
        return false;
    };
    (a.min(b), a.max(b)) == (STORED_TYPE, STORED_VALUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(keys: &[&str]) -> Option<Tag> {
        tag_of(keys.iter().copied())
    }

    #[test]
    fn single_keys_spell_their_tags_and_pairs_theirs_in_any_order() {
        assert_eq!(tag(&["$date"]), Some(Tag::Date));
        assert_eq!(tag(&["$InfNaN"]), Some(Tag::InfNaN));
        assert_eq!(tag(&["$binary"]), Some(Tag::Binary));
        assert_eq!(tag(&["$escape"]), Some(Tag::Escape));
        assert_eq!(tag(&["$flags", "$regexp"]), Some(Tag::RegExp));
        assert_eq!(tag(&["$regexp", "$flags"]), Some(Tag::RegExp));
        assert_eq!(tag(&["$value", "$type"]), Some(Tag::Custom));
    }

    #[test]
    fn other_keys_or_counts_spell_nothing() {
        assert_eq!(tag(&[]), None);
        assert_eq!(
            tag(&["$type"]),
            None,
            "a query's $type operator is not a tag"
        );
        assert_eq!(tag(&["$regexp"]), None);
        assert_eq!(tag(&["$date", "x"]), None);
        assert_eq!(tag(&["$date", "$binary"]), None);
        assert_eq!(tag(&["$type", "$value", "$x"]), None);
        assert_eq!(tag(&["date"]), None);
    }

    #[test]
    fn meteor_stored_custom_types_are_exactly_two_keys() {
        assert!(is_stored_custom(["EJSON$value", "EJSON$type"].into_iter()));
        assert!(!is_stored_custom(["EJSON$type"].into_iter()));
        assert!(!is_stored_custom(
            ["EJSON$type", "EJSON$value", "x"].into_iter()
        ));
    }
}
