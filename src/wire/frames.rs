//! Master <-> worker messages, with kinds named by strings (never by
//! declaration order). Payloads only JS reads (task data, results, IPC
//! messages) travel as raw JSON, never parsed on the way. The worker's side
//! of every shape is `lib/wire.js`; `channel` is how they travel.
//!
//! Both directions are frames: a little-endian u32 length, then that many
//! bytes, so a reader knows a frame's size before its bytes arrive.
//!
//! - Master to worker: a frame per round on the worker's socket (a `Line`),
//!   a JSON array of runs (`[run, taskRow]`, see `wire::task`) and
//!   `ToWorker` messages.
//! - Worker to master: `ToMaster` frames, each a JSON object, in the
//!   worker's ring.

use super::null;
use super::request::Op;
use crate::task::push_int;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Largest frame either side accepts; a bigger one means a corrupt stream.
pub(crate) const MAX_FRAME: usize = 512 * 1024 * 1024;

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
    /// Finish and exit: the pool no longer needs this worker.
    Stop,
}

/// What a worker sends its master (JS writes these frames, Rust reads them).
/// A `done` value is borrowed from the frame: it is the bulk of the frames.
#[derive(Debug)]
pub(crate) enum ToMaster<'a> {
    /// Handshake: the worker built its `Cluster` and can take tasks.
    Ready,
    /// `value` is absent when the task returned `undefined`.
    Done {
        run: u64,
        value: Option<&'a RawValue>,
    },
    Failed {
        run: u64,
        error: Box<RawValue>,
    },
    /// The recalled runs this worker had not started, now dropped.
    Recalled {
        runs: Vec<u64>,
    },
    /// A task's IPC message (the `send` of `toggleIPC`).
    Ipc {
        run: u64,
        msg: Box<RawValue>,
    },
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
                value: f.value,
            },
            "failed" => ToMaster::Failed {
                run: f.run.ok_or_else(|| missing("run"))?,
                error: raw(f.error),
            },
            "recalled" => ToMaster::Recalled {
                runs: f.runs.clone().ok_or_else(|| missing("runs"))?,
            },
            "ipc" => ToMaster::Ipc {
                run: f.run.ok_or_else(|| missing("run"))?,
                msg: raw(f.msg),
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
        let rest = json.strip_prefix(br#"{"type":"done","run":"#)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let run = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        let value = match &rest[digits..] {
            b"}" => None,
            tail => {
                let raw = tail.strip_prefix(br#","value":"#)?.strip_suffix(b"}")?;
                Some(serde_json::from_slice(raw).ok()?)
            }
        };
        Some(ToMaster::Done { run, value })
    }
}

/// Appends the JSON of a `done` frame to `out` (as `ToMaster::decode` reads it).
pub(crate) fn done_frame(out: &mut Vec<u8>, run: u64, value: Option<&str>) {
    out.extend_from_slice(br#"{"type":"done","run":"#);
    push_int(out, run);
    if let Some(value) = value {
        out.extend_from_slice(br#","value":"#);
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
}

/// Appends one ring frame (little-endian u32 length, then the JSON) to `out`.
pub(crate) fn encode_frame(out: &mut Vec<u8>, json: &[u8]) {
    frame_with(out, |out| out.extend_from_slice(json));
}

/// Appends one ring frame whose JSON `body` writes (no copy of it first).
pub(crate) fn frame_with(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// The next whole frame in `buf` from `*pos` (which it advances); `None`
/// when only part of one has arrived, `Err` when the length is impossible.
pub(crate) fn next_frame<'a>(buf: &'a [u8], pos: &mut usize) -> Option<Result<&'a [u8], String>> {
    let head = buf.get(*pos..*pos + 4)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len > MAX_FRAME {
        return Some(Err(format!(
            "frame of {len} bytes is larger than {MAX_FRAME}"
        )));
    }
    let body = buf.get(*pos + 4..*pos + 4 + len)?;
    *pos += 4 + len;
    Some(Ok(body))
}

/// One round of messages to a worker, built in place as one frame: a
/// length, then `[m1,m2,...]`.
#[derive(Default)]
pub(crate) struct Line {
    bytes: Vec<u8>,
}

impl Line {
    fn open(&mut self) {
        if self.bytes.is_empty() {
            // The length, written when the line is taken.
            self.bytes.extend_from_slice(&[0; 4]);
            self.bytes.push(b'[');
        } else {
            self.bytes.push(b',');
        }
    }

    /// Adds a run, `[run, taskRow]`, written around the task's row without
    /// copying it twice (the hot path of dispatch).
    pub(crate) fn push_run(&mut self, run: u64, task_row: &str) {
        self.open();
        self.bytes.push(b'[');
        push_int(&mut self.bytes, run);
        self.bytes.push(b',');
        self.bytes.extend_from_slice(task_row.as_bytes());
        self.bytes.push(b']');
    }

    pub(crate) fn push(&mut self, msg: &ToWorker) {
        self.open();
        // Serializing our own message types into memory cannot fail.
        let _ = serde_json::to_writer(&mut self.bytes, msg);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The finished frame, and the builder emptied for the next one.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        if !self.bytes.is_empty() {
            self.bytes.push(b']');
            let len = (self.bytes.len() - 4) as u32;
            self.bytes[..4].copy_from_slice(&len.to_le_bytes());
        }
        std::mem::take(&mut self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_frame_reads_back_with_and_without_its_value() {
        let mut json = Vec::new();
        done_frame(&mut json, 42, Some(r#"{"x":[1,"a"]}"#));
        match ToMaster::decode(&json).unwrap() {
            ToMaster::Done { run, value } => {
                assert_eq!(run, 42);
                assert_eq!(value.unwrap().get(), r#"{"x":[1,"a"]}"#);
            }
            other => panic!("read as {other:?}"),
        }
        json.clear();
        done_frame(&mut json, 7, None);
        assert!(matches!(
            ToMaster::decode(&json).unwrap(),
            ToMaster::Done {
                run: 7,
                value: None
            }
        ));
    }

    #[test]
    fn a_line_holds_its_messages_as_one_json_array_in_one_frame() {
        let mut line = Line::default();
        assert!(line.is_empty());
        line.push_run(7, r#"["a"]"#);
        line.push(&ToWorker::Recall { runs: vec![3, 4] });
        line.push(&ToWorker::Stop);
        let bytes = line.take();
        let mut pos = 0;
        let json = next_frame(&bytes, &mut pos).unwrap().unwrap();
        assert_eq!(pos, bytes.len(), "one frame");
        assert_eq!(
            std::str::from_utf8(json).unwrap(),
            "[[7,[\"a\"]],{\"type\":\"recall\",\"runs\":[3,4]},{\"type\":\"stop\"}]"
        );
        assert!(line.take().is_empty());
    }

    #[test]
    fn frames_are_split_only_when_whole() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, br#"{"type":"ready"}"#);
        encode_frame(&mut buf, br#"{"type":"done","run":1}"#);
        let mut pos = 0;
        assert_eq!(next_frame(&buf[..10], &mut pos), None);
        assert_eq!(
            next_frame(&buf, &mut pos).unwrap().unwrap(),
            br#"{"type":"ready"}"#
        );
        assert_eq!(
            next_frame(&buf, &mut pos).unwrap().unwrap(),
            br#"{"type":"done","run":1}"#
        );
        assert_eq!(next_frame(&buf, &mut pos), None);
        let huge = (u32::MAX).to_le_bytes();
        assert!(next_frame(&huge, &mut 0).unwrap().is_err());
    }

    #[test]
    fn worker_frames_decode_with_raw_payloads() {
        let done = ToMaster::decode(br#"{"type":"done","run":3,"value":{"x":[1,2]}}"#).unwrap();
        match done {
            ToMaster::Done { run, value } => {
                assert_eq!(run, 3);
                assert_eq!(value.unwrap().get(), r#"{"x":[1,2]}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(ToMaster::decode(br#"{"type":"done"}"#).is_err());
        // Not in `done_frame`'s exact shape: read by the general reader.
        let spaced = ToMaster::decode(br#"{ "run": 4, "type": "done", "value": 5 }"#).unwrap();
        assert!(matches!(spaced, ToMaster::Done { run: 4, value: Some(v) } if v.get() == "5"));
        assert!(ToMaster::decode(br#"{"type":"done","run":4,"value":{"x":}"#).is_err());
        assert!(ToMaster::decode(br#"{"type":"done","run":4,"value":1}x"#).is_err());
        assert!(ToMaster::decode(br#"{"type":"nope"}"#).is_err());
    }
}
