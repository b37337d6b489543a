//! What can go wrong converting between EJSON JSON and BSON, and where.

use std::fmt;

/// Where a value sits, as a MongoDB dotted path (`data.list.2.$date`).
/// A chain of borrowed segments, so converting costs nothing until an
/// error needs the text.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    pub(crate) fn render(&self) -> String {
        match self {
            Path::Root(name) => (*name).to_owned(),
            Path::Key(parent, key) => join(parent.render(), key),
            Path::Index(parent, i) => join(parent.render(), &i.to_string()),
        }
    }
}

fn join(parent: String, segment: &str) -> String {
    if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}.{segment}")
    }
}

/// Why a value cannot be converted.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A key or string whose bytes are not UTF-8.
    InvalidUtf8,
    /// Bytes that are not BSON (a length or a type byte that does not fit).
    Corrupt(String),
    /// A BSON type EJSON has no form for (the type's name).
    NoEjsonForm(&'static str),
    /// A document or object shaped as an EJSON tag whose value does not fit it.
    MalformedTag {
        tag: &'static str,
        expected: &'static str,
        got: String,
    },
    /// A date JavaScript cannot hold (beyond ±8.64e15 ms).
    DateOutOfRange(i64),
    /// A regular expression option or flag the other side has no form for.
    RegexFlag(char),
    /// An object whose keys read as an EJSON tag, which MongoDB would give
    /// back as that tag's type rather than as the object.
    LooksLikeTag,
    /// A task field of the wrong type (or missing: `got` is "nothing").
    WrongType {
        expected: &'static str,
        got: &'static str,
    },
    /// Text that is not JSON, or JSON that is not an object where one is needed.
    NotJson(String),
    /// A value its field cannot hold (a stored retry, timeout or repeat),
    /// with the reader's reason.
    BadValue(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InvalidUtf8 => f.write_str("its bytes are not valid UTF-8"),
            Reason::Corrupt(why) => write!(f, "the BSON is corrupt ({why})"),
            Reason::NoEjsonForm(kind) => {
                write!(f, "a BSON {kind}, which has no EJSON (JavaScript) form")
            }
            Reason::MalformedTag { tag, expected, got } => {
                write!(f, "{tag} must be {expected}, got {got}")
            }
            Reason::DateOutOfRange(ms) => {
                write!(f, "a date ({ms} ms) beyond what a JavaScript Date holds")
            }
            Reason::RegexFlag(flag) => write!(
                f,
                "a regular expression with the flag {flag:?}, which has no form on the other side"
            ),
            Reason::LooksLikeTag => f.write_str(
                "an object whose keys read as an EJSON tag ($date, $binary, $type, ...), which would come back from MongoDB as that type",
            ),
            Reason::WrongType { expected, got } => write!(f, "must be {expected}, got {got}"),
            Reason::NotJson(why) | Reason::BadValue(why) => f.write_str(why),
        }
    }
}

/// A stored value that cannot be read as EJSON.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub path: String,
    pub reason: Reason,
}

impl DecodeError {
    pub(crate) fn at(path: &Path<'_>, reason: Reason) -> DecodeError {
        DecodeError {
            path: path.render(),
            reason,
        }
    }
}

/// An EJSON JSON value that cannot be stored as BSON.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeError {
    pub path: String,
    pub reason: Reason,
}

impl EncodeError {
    pub(crate) fn at(path: &Path<'_>, reason: Reason) -> EncodeError {
        EncodeError {
            path: path.render(),
            reason,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for DecodeError {}
impl std::error::Error for EncodeError {}

/// A raw BSON reading error as a reason (UTF-8 or corruption).
pub(crate) fn raw_reason(error: &mongodb::bson::raw::Error) -> Reason {
    match error.kind {
        mongodb::bson::raw::ErrorKind::Utf8EncodingError(_) => Reason::InvalidUtf8,
        _ => Reason::Corrupt(error.to_string()),
    }
}
