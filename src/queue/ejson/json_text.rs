//! JSON text written by hand, straight into the output string, so reading
//! a stored document builds no intermediate value.

use std::fmt::Write;

pub(crate) fn push_custom(out: &mut String, name: &str, value: &str) {
    out.push_str(r#"{"$type":"#);
    push_str(out, name);
    out.push_str(r#","$value":"#);
    push_str(out, value);
    out.push('}');
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

/// `s` as a JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => push_display(out, format_args!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
