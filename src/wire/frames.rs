//! Master <-> worker messages, with kinds named by strings (never by
//! declaration order). Payloads only JS reads (task data, results, IPC
//! messages) travel as raw JSON, never parsed on the way. The worker's side
//! of every shape is `lib/wire.js`; `channel` is how they travel.
//!
//! Both directions are frames (`framing`), so a reader knows a message's
//! size before its bytes arrive, and large strings and binaries travel as
//! blobs beside the JSON (`payload`).
//!
//! - Master to worker: a JSON frame per round on the worker's socket (a
//!   `Line`), an array of runs (`[run, taskRow]`, see `wire::task`) and
//!   `ToWorker` messages. A run whose data is large gets a frame of its
//!   own, after its blobs.
//! - Worker to master: `ToMaster` messages, each a JSON object (after the
//!   blobs of its value), in the worker's ring.

use super::framing::{self, FrameKind};
use super::null;
use super::payload::Payload;
use super::request::Op;
use super::task::Row;
use crate::task::push_int;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What a master sends a worker, besides runs. A run (the hot path) is
/// written by `Line::push_run` as a bare array, `[run, taskRow]`: the worker
/// parses thousands a second, and an array spares it an object and its keys.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum ToWorker {
    /// The master's `respond(msg)` to an IPC message of run `run`.
    IpcReply { run: u64, msg: Box<RawValue> },
    /// The answer to a worker's `Request`.
    Reply {
        req: u64,
        ok: bool,
        value: Box<RawValue>,
    },
    /// Hand back these runs if they have not started (they go to the
    /// queue again: a better task arrived, or another worker is free).
    Recall { runs: Vec<u64> },
    /// Run `run` is cancelled or past its time limit: abort its
    /// `job.signal` with `reason` (a serialized error) if it runs, fail it
    /// with `reason` if it waits.
    Abort { run: u64, reason: Box<RawValue> },
    /// Finish and exit: the pool no longer needs this worker.
    Stop,
}

/// What a worker sends its master (JS writes these frames, Rust reads them).
/// A `done` value is borrowed from the frame: it is the bulk of the frames.
#[derive(Debug)]
pub(crate) enum ToMaster<'a> {
    /// Handshake: the worker built its `Cluster` and can take tasks.
    Ready,
    /// `value` is absent when the task returned `undefined`; `us`, the
    /// µs the run took by the worker's clock, when the worker says.
    Done {
        run: u64,
        us: Option<u64>,
        value: Option<&'a RawValue>,
    },
    /// `us` as in `Done`.
    Failed {
        run: u64,
        us: Option<u64>,
        error: Box<RawValue>,
    },
    /// The recalled runs this worker had not started, now dropped.
    Recalled { runs: Vec<u64> },
    /// A task's IPC message (the `send` of `toggleIPC`).
    Ipc { run: u64, msg: Box<RawValue> },
    /// The latest `job.progress(value)` of run `run` (the worker sends
    /// only the latest of a burst).
    Progress { run: u64, value: &'a RawValue },
    /// A `TaskQueue` call made in the worker, run by the master.
    Request {
        req: u64,
        op: Op,
        args: Box<RawValue>,
    },
}

/// The flat shape of any worker frame. serde cannot read raw JSON inside an
/// internally tagged enum, so frames are read through this and then sorted.
#[derive(Deserialize)]
struct WorkerFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    run: Option<u64>,
    us: Option<u64>,
    runs: Option<Vec<u64>>,
    req: Option<u64>,
    op: Option<String>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    error: Option<Box<RawValue>>,
    msg: Option<Box<RawValue>>,
    args: Option<Box<RawValue>>,
}

impl ToMaster<'_> {
    pub(crate) fn decode(json: &[u8]) -> Result<ToMaster<'_>, String> {
        if let Some(done) = Self::decode_done(json) {
            return Ok(done);
        }
        let f: WorkerFrame = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let missing = |field: &str| format!("{} frame without {field}", f.kind);
        let raw = |v: Option<Box<RawValue>>| v.unwrap_or_else(null);
        Ok(match f.kind.as_ref() {
            "ready" => ToMaster::Ready,
            "done" => ToMaster::Done {
                run: f.run.ok_or_else(|| missing("run"))?,
                us: f.us,
                value: f.value,
            },
            "failed" => ToMaster::Failed {
                run: f.run.ok_or_else(|| missing("run"))?,
                us: f.us,
                error: raw(f.error),
            },
            "recalled" => ToMaster::Recalled {
                runs: f.runs.clone().ok_or_else(|| missing("runs"))?,
            },
            "ipc" => ToMaster::Ipc {
                run: f.run.ok_or_else(|| missing("run"))?,
                msg: raw(f.msg),
            },
            "progress" => ToMaster::Progress {
                run: f.run.ok_or_else(|| missing("run"))?,
                value: f.value.ok_or_else(|| missing("value"))?,
            },
            "request" => ToMaster::Request {
                req: f.req.ok_or_else(|| missing("req"))?,
                op: f
                    .op
                    .as_deref()
                    .map(|op| Op::parse(op).ok_or_else(|| format!("unknown request {op:?}")))
                    .ok_or_else(|| missing("op"))??,
                args: raw(f.args),
            },
            other => return Err(format!("unknown frame type {other:?}")),
        })
    }

    /// A `done` frame exactly as `done_frame` writes it, read without
    /// matching field names (the value is still validated); anything else
    /// is left to the general reader.
    fn decode_done(json: &[u8]) -> Option<ToMaster<'_>> {
        let rest = json.strip_prefix(DONE_HEAD)?;
        let (run, rest) = leading_int(rest)?;
        let (us, rest) = match rest.strip_prefix(RUN_US) {
            Some(rest) => leading_int(rest).map(|(us, rest)| (Some(us), rest))?,
            None => (None, rest),
        };
        let value = match rest {
            b"}" => None,
            tail => {
                let raw = tail.strip_prefix(br#","value":"#)?.strip_suffix(b"}")?;
                Some(serde_json::from_slice(raw).ok()?)
            }
        };
        Some(ToMaster::Done { run, us, value })
    }
}

/// The whole number `bytes` start with, and what follows it.
fn leading_int(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()?;
    Some((n, &bytes[digits..]))
}

/// The JSON of a `done` frame (as `ToMaster::decode` reads it) is
/// `DONE_HEAD`, the run, then `RUN_US` and the run's µs, then
/// `DONE_VALUE` and the value, then `DONE_TAIL`.
pub(crate) const DONE_HEAD: &[u8] = br#"{"type":"done","run":"#;
const RUN_US: &[u8] = br#","us":"#;
pub(crate) const DONE_VALUE: &[u8] = br#","value":"#;
pub(crate) const DONE_TAIL: &[u8] = b"}";

/// Appends the JSON of a `done` frame to `out`.
pub(crate) fn done_frame(out: &mut Vec<u8>, run: u64, us: Option<u64>, value: Option<&str>) {
    done_head(out, run, us);
    if let Some(value) = value {
        out.extend_from_slice(DONE_VALUE);
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(DONE_TAIL);
}

/// A `done` frame's text up to its value: `DONE_HEAD`, the run, and the
/// µs it took when known.
pub(crate) fn done_head(out: &mut Vec<u8>, run: u64, us: Option<u64>) {
    run_head(out, DONE_HEAD, run, us);
}

/// `head` (a frame's text up to its run), the run, and the µs it took
/// when known: how `done` and `failed` frames begin.
fn run_head(out: &mut Vec<u8>, head: &[u8], run: u64, us: Option<u64>) {
    out.extend_from_slice(head);
    push_int(out, run);
    if let Some(us) = us {
        out.extend_from_slice(RUN_US);
        push_int(out, us);
    }
}

/// Appends the JSON of a `failed` frame to `out`: run `run` failed with
/// `error` (an encoded error's JSON) after `us` µs, when known.
pub(crate) fn failed_frame(out: &mut Vec<u8>, run: u64, us: Option<u64>, error: &str) {
    run_head(out, br#"{"type":"failed","run":"#, run, us);
    out.extend_from_slice(br#","error":"#);
    out.extend_from_slice(error.as_bytes());
    out.push(b'}');
}

/// Appends one JSON frame whose text `body` writes (no copy of it first).
pub(crate) fn json_frame_with(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; framing::HEADER]);
    body(out);
    let len = out.len() - start - framing::HEADER;
    out[start..start + framing::HEADER].copy_from_slice(&framing::header(FrameKind::Json, len));
}

/// One round of messages to a worker, built in place: a JSON frame,
/// `[m1,m2,...]`, or several when a run's data is large. Large data is
/// not copied into it: the round is a list of chunks, some of them the
/// data's own bytes.
#[derive(Default)]
pub(crate) struct Line {
    /// Chunks done.
    chunks: Vec<Bytes>,
    /// Bytes after them.
    bytes: Vec<u8>,
    /// Where the header of the JSON frame being built is in `bytes`, if
    /// one is.
    open: Option<usize>,
}

impl Line {
    fn open(&mut self) {
        match self.open {
            Some(_) => self.bytes.push(b','),
            None => {
                self.open = Some(self.bytes.len());
                // The header, written when the frame is closed.
                self.bytes.extend_from_slice(&[0; framing::HEADER]);
                self.bytes.push(b'[');
            }
        }
    }

    fn close(&mut self) {
        if let Some(start) = self.open.take() {
            self.bytes.push(b']');
            let len = self.bytes.len() - start - framing::HEADER;
            self.bytes[start..start + framing::HEADER]
                .copy_from_slice(&framing::header(FrameKind::Json, len));
        }
    }

    /// Adds a run, `[run, taskRow]`, written around the task's row without
    /// copying it twice (the hot path of dispatch). A run whose data is
    /// large goes in a frame of its own, after its blobs (the blob numbers
    /// in its data count from its own first blob), and neither its text nor
    /// its blobs are copied.
    pub(crate) fn push_run(&mut self, run: u64, row: &Row) {
        let Some((head, data, tail)) = row.large() else {
            self.open();
            self.bytes.push(b'[');
            push_int(&mut self.bytes, run);
            self.bytes.push(b',');
            self.bytes
                .extend_from_slice(row.text().unwrap_or("null").as_bytes());
            self.bytes.push(b']');
            return;
        };
        self.close();
        for blob in data.blobs() {
            let kind = FrameKind::Blob(blob.kind());
            self.bytes
                .extend_from_slice(&framing::header(kind, blob.data().len()));
            self.push_shared(blob.data().clone());
        }
        let mut before = Vec::with_capacity(16 + head.len());
        before.extend_from_slice(b"[[");
        push_int(&mut before, run);
        before.push(b',');
        before.extend_from_slice(head.as_bytes());
        let after = [tail.as_bytes(), b"]]"].concat();
        let len = before.len() + data.json().len() + after.len();
        self.bytes
            .extend_from_slice(&framing::header(FrameKind::Json, len));
        self.bytes.extend_from_slice(&before);
        self.push_shared(data.json_bytes());
        self.bytes.extend_from_slice(&after);
    }

    /// Appends bytes held elsewhere, after those written so far.
    fn push_shared(&mut self, bytes: Bytes) {
        if !self.bytes.is_empty() {
            self.chunks
                .push(Bytes::from(std::mem::take(&mut self.bytes)));
        }
        self.chunks.push(bytes);
    }

    pub(crate) fn push(&mut self, msg: &ToWorker) {
        self.open();
        // Serializing our own message types into memory cannot fail.
        let _ = serde_json::to_writer(&mut self.bytes, msg);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.chunks.is_empty()
    }

    /// The finished frames, as chunks to write in order, and the builder
    /// emptied for the next round.
    pub(crate) fn take(&mut self) -> Vec<Bytes> {
        self.close();
        if !self.bytes.is_empty() {
            self.chunks
                .push(Bytes::from(std::mem::take(&mut self.bytes)));
        }
        std::mem::take(&mut self.chunks)
    }
}

/// A `done` value as its frame brought it: the JSON, and as a payload of
/// its own when it is large (it then reaches JS beside the events).
#[derive(Clone, Copy)]
pub(crate) struct Value<'a> {
    pub(crate) raw: &'a RawValue,
    pub(crate) large: Option<&'a Payload>,
}

#[cfg(test)]
mod tests {
    use super::super::payload::Blob;
    use super::*;

    #[test]
    fn a_done_frame_reads_back_with_and_without_its_value() {
        let mut json = Vec::new();
        done_frame(&mut json, 42, Some(1500), Some(r#"{"x":[1,"a"]}"#));
        match ToMaster::decode(&json).unwrap() {
            ToMaster::Done { run, us, value } => {
                assert_eq!((run, us), (42, Some(1500)));
                assert_eq!(value.unwrap().get(), r#"{"x":[1,"a"]}"#);
            }
            other => panic!("read as {other:?}"),
        }
        json.clear();
        done_frame(&mut json, 7, Some(0), None);
        assert!(matches!(
            ToMaster::decode(&json).unwrap(),
            ToMaster::Done {
                run: 7,
                us: Some(0),
                value: None
            }
        ));
        // Without its time (the worker did not record the run's start).
        json.clear();
        done_frame(&mut json, 8, None, Some("3"));
        assert!(matches!(
            ToMaster::decode(&json).unwrap(),
            ToMaster::Done { run: 8, us: None, value: Some(v) } if v.get() == "3"
        ));
    }

    #[test]
    fn a_failed_frame_reads_back_with_and_without_its_time() {
        let error = r#"{"name":"Error","message":"x\"y"}"#;
        for us in [Some(2500), None] {
            let mut json = Vec::new();
            failed_frame(&mut json, 9, us, error);
            match ToMaster::decode(&json).unwrap() {
                ToMaster::Failed {
                    run,
                    us: read,
                    error: e,
                } => {
                    assert_eq!((run, read), (9, us));
                    assert_eq!(e.get(), error);
                }
                other => panic!("read as {other:?}"),
            }
        }
    }

    fn task(data: Payload) -> crate::task::Task {
        crate::task::Task {
            id: "a".into(),
            task_type: "T".into(),
            data,
            ..Default::default()
        }
    }

    fn text(json: &[u8]) -> &str {
        std::str::from_utf8(json).unwrap()
    }

    #[test]
    fn a_line_holds_its_messages_as_one_json_array_in_one_frame() {
        let mut line = Line::default();
        assert!(line.is_empty());
        line.push_run(7, &Row::of(&task("{}".into()), true));
        line.push(&ToWorker::Recall { runs: vec![3, 4] });
        line.push(&ToWorker::Stop);
        let messages = framing::messages(&line.take().concat()).unwrap();
        assert_eq!(messages.len(), 1, "one frame");
        assert_eq!(
            text(&messages[0].0),
            r#"[[7,["a","T",0,0,0,{},true]],{"type":"recall","runs":[3,4]},{"type":"stop"}]"#
        );
        assert!(messages[0].1.is_empty());
        assert!(line.take().is_empty());
    }

    #[test]
    fn a_run_with_large_data_goes_in_a_frame_of_its_own_after_its_blobs() {
        let blobs = vec![Blob::text("é".repeat(10)), Blob::bytes(vec![1u8, 2])];
        let large = Payload::new(
            r#"{"s":{"$binary":0},"b":{"$binary":1}}"#.to_owned(),
            blobs.clone(),
        );
        let mut line = Line::default();
        line.push(&ToWorker::Stop);
        line.push_run(8, &Row::of(&task(large), true));
        line.push_run(9, &Row::of(&task("{}".into()), true));
        let chunks = line.take();
        assert!(
            chunks
                .iter()
                .any(|c| c.as_ptr() == blobs[0].data().as_ptr()),
            "a blob is written from its own bytes"
        );
        let messages = framing::messages(&chunks.concat()).unwrap();
        let texts: Vec<&str> = messages.iter().map(|(json, _)| text(json)).collect();
        assert_eq!(
            texts,
            [
                r#"[{"type":"stop"}]"#,
                r#"[[8,["a","T",0,0,0,{"s":{"$binary":0},"b":{"$binary":1}},true]]]"#,
                r#"[[9,["a","T",0,0,0,{},true]]]"#,
            ]
        );
        assert_eq!(messages[1].1, blobs);
        assert!(messages[2].1.is_empty(), "blobs belong to one message");
    }

    #[test]
    fn worker_frames_decode_with_raw_payloads() {
        let done = ToMaster::decode(br#"{"type":"done","run":3,"value":{"x":[1,2]}}"#).unwrap();
        match done {
            ToMaster::Done { run, us, value } => {
                assert_eq!((run, us), (3, None));
                assert_eq!(value.unwrap().get(), r#"{"x":[1,2]}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(ToMaster::decode(br#"{"type":"done"}"#).is_err());
        // Not in `done_frame`'s exact shape: read by the general reader.
        let spaced =
            ToMaster::decode(br#"{ "run": 4, "type": "done", "value": 5, "us": 9 }"#).unwrap();
        assert!(
            matches!(spaced, ToMaster::Done { run: 4, us: Some(9), value: Some(v) } if v.get() == "5")
        );
        assert!(ToMaster::decode(br#"{"type":"done","run":4,"value":{"x":}"#).is_err());
        assert!(ToMaster::decode(br#"{"type":"done","run":4,"value":1}x"#).is_err());
        assert!(ToMaster::decode(br#"{"type":"nope"}"#).is_err());
    }
}
