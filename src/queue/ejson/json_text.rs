//! JSON text written by hand, straight into the output string, so reading
//! a stored document builds no intermediate value.

use std::fmt::Write;

/// A custom EJSON type: `{"$type": name, "$value": value}`.
pub(crate) fn push_custom(out: &mut String, name: &str, value: &str) {
    push_tag(out, ["$type", "$value"], [name, value]);
}

pub(crate) fn push_double(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str(r#"{"$InfNaN":0}"#);
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            r#"{"$InfNaN":1}"#
        } else {
            r#"{"$InfNaN":-1}"#
        });
    } else {
        // serde_json's shortest form (1e300, not 301 digits).
        match serde_json::Number::from_f64(f) {
            Some(n) => push_display(out, n),
            None => out.push_str("null"),
        }
    }
}

pub(crate) fn push_display(out: &mut String, value: impl std::fmt::Display) {
    // Writing into a String cannot fail.
    let _ = write!(out, "{value}");
}

/// A regular expression as EJSON: `{"$regexp": pattern, "$flags": flags}`.
pub(crate) fn push_regexp(out: &mut String, pattern: &str, flags: &str) {
    push_tag(out, ["$regexp", "$flags"], [pattern, flags]);
}

/// A two-key tag object; the keys are ours and need no escaping.
fn push_tag(out: &mut String, keys: [&str; 2], values: [&str; 2]) {
    for (i, (key, value)) in keys.into_iter().zip(values).enumerate() {
        out.push_str(if i == 0 { "{\"" } else { ",\"" });
        out.push_str(key);
        out.push_str("\":");
        push_str(out, value);
    }
    out.push('}');
}

/// `s` as a JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    // serde_json's escaping; serializing a str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
