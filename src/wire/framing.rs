//! How messages are cut into frames, in both directions: a little-endian
//! u32 header, then the frame's bytes. The header's low 30 bits are the
//! length; its top two bits say what the frame holds: a JSON message, or a
//! blob (bytes or UTF-8 text) for the next JSON message, which refers to
//! the blobs before it as `{"$binary": 0}`, `{"$binary": 1}`... (see
//! `payload`). `lib/wire.js` (`FRAME`) and `lib/frame-reader.js` are the
//! JS side.
//!
//! `FrameReader` reads a worker's ring: the rest of a frame larger than
//! `SPLIT` is read straight into a buffer of its own size, so each of its
//! bytes is copied once from the ring, and handed on without another copy.

use super::payload::{Blob, BlobKind};
use crate::channel::ring::Corrupt;
use crate::sys;
use bytes::Bytes;

/// Largest frame either side accepts; a bigger one means a corrupt stream.
pub(crate) const MAX_FRAME: usize = 512 * 1024 * 1024;
/// Bytes of a frame's header.
pub(crate) const HEADER: usize = 4;

const LENGTH_BITS: u32 = (1 << 30) - 1;
const KIND_SHIFT: u32 = 30;

/// What a frame holds (the header's top two bits: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Json,
    Blob(BlobKind),
}

impl FrameKind {
    fn bits(self) -> u32 {
        match self {
            FrameKind::Json => 0,
            FrameKind::Blob(BlobKind::Bytes) => 1,
            FrameKind::Blob(BlobKind::Text) => 2,
        }
    }
}

/// The header of a frame of `len` bytes.
pub(crate) fn header(kind: FrameKind, len: usize) -> [u8; HEADER] {
    debug_assert!(len <= MAX_FRAME, "a frame of {len} bytes");
    (kind.bits() << KIND_SHIFT | len as u32).to_le_bytes()
}

/// A frame's kind and length from its header; `Err` for an impossible one.
pub(crate) fn read_header(head: [u8; HEADER]) -> Result<(FrameKind, usize), String> {
    let word = u32::from_le_bytes(head);
    let len = (word & LENGTH_BITS) as usize;
    let kind = match word >> KIND_SHIFT {
        0 => FrameKind::Json,
        1 => FrameKind::Blob(BlobKind::Bytes),
        2 => FrameKind::Blob(BlobKind::Text),
        other => return Err(format!("frame of unknown kind {other}")),
    };
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes is larger than {MAX_FRAME}"));
    }
    Ok((kind, len))
}

/// Frames larger than this are read into buffers of their own size.
const SPLIT: usize = 64 * 1024;

/// A JSON message read whole, with the blobs sent before it.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub(crate) json: &'a [u8],
    /// `json` as shared bytes, when it was read into a buffer of its own.
    shared: Option<&'a Bytes>,
    pub(crate) blobs: Vec<Blob>,
}

impl Message<'_> {
    /// A part of `json` to keep: shared when it can be, else copied.
    pub(crate) fn keep(&self, part: &[u8]) -> Bytes {
        match self.shared {
            Some(bytes) => bytes.slice_ref(part),
            None => Bytes::copy_from_slice(part),
        }
    }
}

/// Where a `FrameReader` gets bytes: moves up to `max` of them to the end
/// of `out` and says how many (a worker's ring, `Link::read`).
pub(crate) trait Source {
    fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt>;
}

/// A frame being read into a buffer of its own.
struct Large {
    kind: FrameKind,
    len: usize,
    bytes: Vec<u8>,
}

/// Reads frames from a byte stream that arrives in pieces (a worker's ring).
#[derive(Default)]
pub(crate) struct FrameReader {
    /// Bytes read and not yet part of a whole frame.
    buf: Vec<u8>,
    large: Option<Large>,
    /// Blobs of the next JSON message.
    blobs: Vec<Blob>,
}

impl FrameReader {
    /// Reads once from `source`: the rest of a large frame, or whatever
    /// it has. How many bytes; `drain` hands on what is whole.
    pub(crate) fn fill(&mut self, source: &mut dyn Source) -> Result<usize, String> {
        let read = match &mut self.large {
            Some(large) => {
                let need = large.len - large.bytes.len();
                source.read(&mut large.bytes, need)
            }
            None => source.read(&mut self.buf, usize::MAX),
        };
        read.map_err(|_| "the shared memory's counters are corrupt".to_owned())
    }

    /// Whether a large frame is partly read (its worker is writing the rest).
    pub(crate) fn in_large_frame(&self) -> bool {
        self.large.is_some()
    }

    /// Hands each whole message read so far to `on_message`, in order, and
    /// keeps the rest; a large frame begun moves to a buffer of its own. A
    /// stream that cannot be frames is `Err`.
    pub(crate) fn drain<F>(&mut self, mut on_message: F) -> Result<(), String>
    where
        F: FnMut(Message) -> Result<(), String>,
    {
        if self
            .large
            .as_ref()
            .is_some_and(|large| large.bytes.len() == large.len)
        {
            if let Some(Large { kind, bytes, .. }) = self.large.take() {
                let bytes = Bytes::from(bytes);
                frame(&mut self.blobs, kind, &bytes, Some(&bytes), &mut on_message)?;
            }
        }
        let mut pos = 0;
        while let Some(head) = self.buf.get(pos..pos + HEADER) {
            let (kind, len) = read_header([head[0], head[1], head[2], head[3]])?;
            let start = pos + HEADER;
            if let Some(body) = self.buf.get(start..start + len) {
                pos = start + len;
                frame(&mut self.blobs, kind, body, None, &mut on_message)?;
                continue;
            }
            if len > SPLIT {
                let mut bytes = Vec::with_capacity(len);
                bytes.extend_from_slice(&self.buf[start..]);
                let spare = bytes.spare_capacity_mut();
                sys::memory::populate(spare.as_mut_ptr().cast(), spare.len());
                self.large = Some(Large { kind, len, bytes });
                pos = self.buf.len();
            }
            break;
        }
        self.buf.drain(..pos);
        Ok(())
    }
}

/// One whole frame: a blob is kept for the next message, a message is
/// handed on with the blobs kept for it.
fn frame<F>(
    blobs: &mut Vec<Blob>,
    kind: FrameKind,
    body: &[u8],
    shared: Option<&Bytes>,
    on_message: &mut F,
) -> Result<(), String>
where
    F: FnMut(Message) -> Result<(), String>,
{
    let owned = || {
        shared
            .cloned()
            .unwrap_or_else(|| Bytes::copy_from_slice(body))
    };
    match kind {
        FrameKind::Json => on_message(Message {
            json: body,
            shared,
            blobs: std::mem::take(blobs),
        }),
        FrameKind::Blob(BlobKind::Bytes) => {
            blobs.push(Blob::bytes(owned()));
            Ok(())
        }
        FrameKind::Blob(BlobKind::Text) => {
            blobs.push(Blob::text_from(owned()).ok_or("a text blob that is not UTF-8")?);
            Ok(())
        }
    }
}

impl Source for &[u8] {
    fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
        let n = max.min(self.len());
        out.extend_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }
}

/// A message's JSON and its blobs, owned.
#[cfg(test)]
pub(crate) type OwnedMessage = (Vec<u8>, Vec<Blob>);

/// The messages of a whole stream of frames (tests, and the fakes that
/// stand for a worker).
#[cfg(test)]
pub(crate) fn messages(mut bytes: &[u8]) -> Result<Vec<OwnedMessage>, String> {
    let mut out = Vec::new();
    let mut reader = FrameReader::default();
    while reader.fill(&mut bytes)? > 0 {
        reader.drain(|m: Message| {
            out.push((m.json.to_vec(), m.blobs));
            Ok(())
        })?;
    }
    reader.drain(|m: Message| {
        out.push((m.json.to_vec(), m.blobs));
        Ok(())
    })?;
    if !reader.buf.is_empty() || reader.large.is_some() || !reader.blobs.is_empty() {
        return Err("the stream ends inside a message".to_owned());
    }
    Ok(out)
}

/// Appends one frame (header, then `body`) to `out`.
pub(crate) fn push_frame(out: &mut Vec<u8>, kind: FrameKind, body: &[u8]) {
    out.extend_from_slice(&header(kind, body.len()));
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of which the first `visible` bytes have arrived, handed
    /// over at most `step` bytes a read.
    struct Chunks {
        bytes: Vec<u8>,
        at: usize,
        visible: usize,
        step: usize,
    }

    impl Chunks {
        fn new(bytes: Vec<u8>, step: usize) -> Chunks {
            let visible = bytes.len();
            Chunks {
                bytes,
                at: 0,
                visible,
                step,
            }
        }
    }

    impl Source for Chunks {
        fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
            let n = self.step.min(max).min(self.visible - self.at);
            out.extend_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn stream() -> (Vec<u8>, Vec<(String, Vec<Blob>)>) {
        let big = "é".repeat(SPLIT);
        let bytes: Vec<u8> = (0..SPLIT * 3).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        push_frame(&mut out, FrameKind::Json, b"[1]");
        push_frame(&mut out, FrameKind::Blob(BlobKind::Text), big.as_bytes());
        push_frame(&mut out, FrameKind::Blob(BlobKind::Bytes), &bytes);
        push_frame(&mut out, FrameKind::Blob(BlobKind::Bytes), b"");
        push_frame(&mut out, FrameKind::Json, br#"{"$binary":0}"#);
        push_frame(&mut out, FrameKind::Json, big.as_bytes());
        let expected = vec![
            ("[1]".to_owned(), vec![]),
            (
                r#"{"$binary":0}"#.to_owned(),
                vec![
                    Blob::text(big.clone()),
                    Blob::bytes(bytes),
                    Blob::bytes(Vec::new()),
                ],
            ),
            (big, vec![]),
        ];
        (out, expected)
    }

    #[test]
    fn messages_and_their_blobs_are_read_whole_however_the_stream_arrives() {
        let (bytes, expected) = stream();
        for step in [1, 3, 4, 100, SPLIT - 1, SPLIT + 7, bytes.len()] {
            let mut source = Chunks::new(bytes.clone(), step);
            let mut reader = FrameReader::default();
            let mut got = Vec::new();
            // Each call finds one more step of the stream arrived.
            source.visible = 0;
            while source.visible < bytes.len() {
                source.visible = (source.visible + step).min(bytes.len());
                // As the master does: read, hand on, until nothing more came.
                loop {
                    let n = reader.fill(&mut source).unwrap();
                    reader
                        .drain(|m: Message| {
                            got.push((String::from_utf8(m.json.to_vec()).unwrap(), m.blobs));
                            Ok(())
                        })
                        .unwrap();
                    if n == 0 {
                        break;
                    }
                }
            }
            assert_eq!(got, expected, "in steps of {step}");
            assert!(reader.buf.is_empty() && reader.large.is_none());
        }
    }

    #[test]
    fn impossible_headers_are_errors() {
        assert!(read_header((3u32 << 30).to_le_bytes()).is_err());
        assert!(read_header((MAX_FRAME as u32 + 1).to_le_bytes()).is_err());
        assert!(messages(&((MAX_FRAME as u32) + 1).to_le_bytes()).is_err());
        let mut bad_text = Vec::new();
        push_frame(&mut bad_text, FrameKind::Blob(BlobKind::Text), b"\xff");
        assert!(messages(&bad_text).is_err());
        assert!(messages(&bad_text[..3]).is_err(), "a stream cut short");
    }
}
