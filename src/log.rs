//! Log lines in upstream's shape, `${timestamp}:nschwarz:cluster:${taskType}:${taskId}`,
//! filtered by the `logs` option and by the `DEBUG` convention of the
//! `debug` package. Task lines go to stdout, gathered and written once per
//! dispatcher round (`flush`), so a busy pool does not pay a write per line;
//! warnings and errors go to stderr at once. Lines are whole in every
//! write, so they never interleave with other output mid-line. With
//! `logs: 'json'` each line is a JSON object instead: `time`, `level`,
//! `msg`, `event` and the fields it is about (`Fields`).

use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

const NS: &str = "nschwarz:cluster";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Task start and end lines, warnings and errors.
    All,
    /// Only warnings and errors.
    Error,
}

/// Lines as JSON objects (`logs: 'json'` or `METEOR_CLUSTER_LOGS=json`),
/// for every logger of the process (the bindings' `logLine` included).
static JSON: AtomicBool = AtomicBool::new(false);

/// Sets the process's log format (`true`: one JSON object per line).
pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// Whether lines are JSON: set so, or asked for by the environment (a
/// worker inherits its master's choice that way).
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed) || std::env::var("METEOR_CLUSTER_LOGS").is_ok_and(|v| v == "json")
}

/// What a line is about, beyond its message: the fields of its JSON form.
#[derive(Default, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<u32>,
    /// The worker's pid where the line is about one, else this process's.
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// About the task `task_type:task_id`.
    pub fn task(task_type: &'a str, task_id: &'a str) -> Self {
        Fields {
            task_type: Some(task_type),
            task_id: Some(task_id),
            ..Fields::default()
        }
    }

    /// About worker `id`, process `pid`.
    pub fn worker(id: u32, pid: u32) -> Self {
        Fields {
            worker_id: Some(id),
            pid,
            ..Fields::default()
        }
    }

    pub fn in_worker(mut self, id: u32, pid: u32) -> Self {
        self.worker_id = Some(id);
        self.pid = pid;
        self
    }

    pub fn took(mut self, ms: u128) -> Self {
        self.duration_ms = Some(ms);
        self
    }

    pub fn code(mut self, code: &'a str) -> Self {
        self.code = Some(code);
        self
    }
}

/// A line's JSON form.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    level: &'a str,
    msg: &'a str,
    event: &'a str,
    #[serde(flatten)]
    fields: &'a Fields<'a>,
}

#[derive(Debug)]
pub struct Logger {
    level: Level,
    debug: Option<String>,
    /// `enabled("TASK")`, decided once: it is asked twice per task.
    tasks: bool,
    json: bool,
    /// Task and info lines not written yet.
    pending: std::cell::RefCell<String>,
}

impl Logger {
    pub fn new(level: Level) -> Self {
        Self::with_debug(level, std::env::var("DEBUG").ok())
    }

    fn with_debug(level: Level, debug: Option<String>) -> Self {
        let mut logger = Logger {
            level,
            debug,
            tasks: false,
            json: json(),
            pending: Default::default(),
        };
        logger.tasks = logger.enabled("TASK");
        logger
    }

    pub fn set_level(&mut self, level: Level) {
        self.flush();
        *self = Self::with_debug(level, self.debug.take());
    }

    fn enabled(&self, kind: &str) -> bool {
        let namespace = format!("{NS}:{kind}");
        let is_task = kind == "TASK";
        if (is_task || kind == "INFO") && self.level != Level::All {
            return false;
        }
        match &self.debug {
            // With DEBUG set, task lines need to be asked for; warnings and
            // errors show unless they are explicitly excluded.
            Some(pattern) if is_task => debug_enabled(pattern, &namespace),
            Some(pattern) => !debug_excluded(pattern, &namespace),
            None => true,
        }
    }

    /// A task's line (`event`: started, done); `what` is formatted only
    /// when task lines are on.
    pub fn task(&self, event: &str, fields: &Fields, what: std::fmt::Arguments) {
        if !self.tasks {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        if self.json {
            let msg = what.to_string();
            json_line(&mut pending, "info", &msg, event, fields);
        } else {
            let (task_type, id) = (fields.task_type.unwrap_or(""), fields.task_id.unwrap_or(""));
            let _ = writeln!(pending, "{}:{NS}:{task_type}:{id} {what}", timestamp());
        }
    }

    /// Writes the lines gathered since the last flush, in one write.
    pub fn flush(&self) {
        let mut pending = self.pending.borrow_mut();
        if !pending.is_empty() {
            let _ = std::io::stdout().lock().write_all(pending.as_bytes());
            pending.clear();
        }
    }

    /// What the pool did on its own (a worker retired): with task lines,
    /// on stdout, when `logs` is `'all'`.
    pub fn info(&self, event: &str, msg: &str, fields: &Fields) {
        if self.enabled("INFO") {
            let mut pending = self.pending.borrow_mut();
            if self.json {
                json_line(&mut pending, "info", msg, event, fields);
            } else {
                let _ = writeln!(pending, "{}:{NS}:INFO {msg}", timestamp());
            }
        }
    }

    pub fn warn(&self, msg: &str) {
        self.warn_event("warning", msg, &Fields::default());
    }

    pub fn error(&self, msg: &str) {
        self.error_event("error", msg, &Fields::default());
    }

    pub fn warn_event(&self, event: &str, msg: &str, fields: &Fields) {
        self.to_stderr("WARNING", "warn", event, msg, fields);
    }

    pub fn error_event(&self, event: &str, msg: &str, fields: &Fields) {
        self.to_stderr("ERROR", "error", event, msg, fields);
    }

    fn to_stderr(&self, kind: &str, level: &str, event: &str, msg: &str, fields: &Fields) {
        if !self.enabled(kind) {
            return;
        }
        let mut line = String::new();
        if self.json {
            json_line(&mut line, level, msg, event, fields);
        } else {
            let _ = writeln!(line, "{}:{NS}:{kind} {msg}", timestamp());
        }
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Appends one JSON line; a line's `pid` is this process's unless it
/// names a worker's.
fn json_line(out: &mut String, level: &str, msg: &str, event: &str, fields: &Fields) {
    let own;
    let fields = if fields.pid == 0 {
        own = Fields {
            pid: std::process::id(),
            ..*fields
        };
        &own
    } else {
        fields
    };
    let line = Line {
        time: timestamp(),
        level,
        msg,
        event,
        fields,
    };
    if let Ok(json) = serde_json::to_string(&line) {
        out.push_str(&json);
        out.push('\n');
    }
}

fn patterns(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// `debug`'s rule: enabled when some pattern matches and no `-pattern` does.
pub fn debug_enabled(pattern: &str, namespace: &str) -> bool {
    !debug_excluded(pattern, namespace)
        && patterns(pattern).any(|p| !p.starts_with('-') && glob(p, namespace))
}

fn debug_excluded(pattern: &str, namespace: &str) -> bool {
    patterns(pattern).any(|p| p.strip_prefix('-').is_some_and(|p| glob(p, namespace)))
}

/// `*` matches any run of characters, as in `debug`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else {
                return false;
            };
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| glob(rest, &text[i..]))
        }
    }
}

/// The current UTC time as ISO 8601 with milliseconds, like `Date#toISOString`.
pub fn timestamp() -> String {
    iso8601(crate::task::now_ms())
}

pub fn iso8601(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_to_iso_string() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_804_245_123), "2026-11-27T18:30:45.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn debug_patterns_follow_the_debug_package() {
        assert!(debug_enabled("nschwarz:*", "nschwarz:cluster:TASK"));
        assert!(debug_enabled(
            "foo,nschwarz:cluster:TASK",
            "nschwarz:cluster:TASK"
        ));
        assert!(!debug_enabled("*,-nschwarz:*", "nschwarz:cluster:TASK"));
        assert!(!debug_enabled("express:*", "nschwarz:cluster:TASK"));
        assert!(debug_excluded(
            "-nschwarz:cluster:*",
            "nschwarz:cluster:ERROR"
        ));
    }

    #[test]
    fn error_level_hides_task_lines_only() {
        let logger = Logger::with_debug(Level::Error, None);
        assert!(!logger.enabled("TASK"));
        assert!(logger.enabled("ERROR"));
        let unrelated_debug = Logger::with_debug(Level::All, Some("express:*".into()));
        assert!(!unrelated_debug.enabled("TASK"));
        assert!(unrelated_debug.enabled("WARNING"));
    }
}
