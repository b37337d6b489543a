//! The private master <-> worker protocol: length-prefixed JSON frames over
//! an inherited socketpair, with message kinds named by strings (never by
//! declaration order). Payloads that only JS reads (task data, results, IPC
//! messages) travel as raw JSON and are not parsed on the way.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::io::{self, Read};

/// Environment variables through which a master tells a worker who it is.
pub const ENV_WORKER_ID: &str = "METEOR_CLUSTER_WORKER_ID";
pub const ENV_CHANNEL_FD: &str = "METEOR_CLUSTER_CHANNEL_FD";
/// The worker's end of the socketpair is placed on this descriptor.
pub const CHANNEL_FD: i32 = 3;

/// Largest frame either side accepts; a bigger one means a corrupt stream.
pub const MAX_FRAME: usize = 512 * 1024 * 1024;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToWorker {
    /// Run a task; `run` names this attempt in the replies.
    Run { run: u64, task: Box<RawValue> },
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

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToMaster {
    /// Handshake: the worker built its `Cluster` and can take tasks.
    Ready,
    /// `value` is absent when the task returned `undefined`.
    Done {
        run: u64,
        value: Option<Box<RawValue>>,
    },
    Failed {
        run: u64,
        error: Box<RawValue>,
    },
    /// The recalled runs this worker had not started, now dropped.
    Recalled {
        runs: Vec<u64>,
    },
    /// A task's `sendMessageToMaster(msg)`.
    Ipc {
        run: u64,
        msg: Box<RawValue>,
    },
    /// A `TaskQueue` call made in the worker, run by the master.
    Request {
        req: u64,
        op: String,
        args: Box<RawValue>,
    },
}

/// The flat shape of any worker frame. serde cannot read raw JSON inside an
/// internally tagged enum, so frames are read through this and then sorted.
#[derive(Deserialize)]
struct WorkerFrame {
    #[serde(rename = "type")]
    kind: String,
    run: Option<u64>,
    runs: Option<Vec<u64>>,
    req: Option<u64>,
    op: Option<String>,
    value: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    msg: Option<Box<RawValue>>,
    args: Option<Box<RawValue>>,
}

impl ToMaster {
    pub fn decode(json: &[u8]) -> Result<ToMaster, String> {
        let f: WorkerFrame = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let missing = |field: &str| format!("{} frame without {field}", f.kind);
        let raw = |v: Option<Box<RawValue>>| v.unwrap_or_else(null);
        Ok(match f.kind.as_str() {
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
                op: f.op.clone().ok_or_else(|| missing("op"))?,
                args: raw(f.args),
            },
            other => return Err(format!("unknown frame type {other:?}")),
        })
    }
}

/// JSON `null` as a raw value.
pub fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

/// Appends one frame (little-endian u32 length, then the JSON) to `out`.
pub fn encode_into(out: &mut Vec<u8>, json: &[u8]) {
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(json);
}

/// The frame of `ToWorker::Run`, written around the task's JSON without
/// copying it twice (the hot path of dispatch).
pub fn run_frame(run: u64, task_json: &str) -> Vec<u8> {
    let head = format!(r#"{{"type":"run","run":{run},"task":"#);
    let len = head.len() + task_json.len() + 1;
    let mut out = Vec::with_capacity(len + 4);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(task_json.as_bytes());
    out.push(b'}');
    out
}

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let json = serde_json::to_vec(msg).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 4);
    encode_into(&mut out, &json);
    out
}

/// Reads one frame's JSON from a blocking reader; `Ok(None)` at a clean end.
pub fn read_frame(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is larger than {MAX_FRAME}"),
        ));
    }
    let mut buf = vec![0u8; len];
    reader.read_exact(&mut buf)?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_named_kinds() {
        let msg = ToWorker::Run {
            run: 7,
            task: RawValue::from_string(r#"{"_id":"a"}"#.into()).unwrap(),
        };
        let mut bytes = encode(&msg);
        bytes.extend(run_frame(8, r#"{"_id":"b"}"#));
        bytes.extend(encode(&ToWorker::Stop));
        let mut reader = &bytes[..];
        let first = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&first).unwrap(),
            r#"{"type":"run","run":7,"task":{"_id":"a"}}"#
        );
        let second = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(second, br#"{"type":"run","run":8,"task":{"_id":"b"}}"#);
        let third = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(third, br#"{"type":"stop"}"#);
        assert!(read_frame(&mut reader).unwrap().is_none());
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
        assert!(ToMaster::decode(br#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn oversized_frames_are_refused() {
        let bytes = (u32::MAX).to_le_bytes();
        let err = read_frame(&mut &bytes[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
