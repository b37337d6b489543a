//! The worker's native side: the shared ring its replies go through, and a
//! watchdog. The worker's JS reads the master's messages on its own event
//! loop (a socket on fd 4) and writes every reply here before it starts the
//! next task, so whatever ends the process, the master knows each finished
//! task's outcome and which run was in progress.

use crate::channel::ring::{Ring, RING_BYTES};
use crate::channel::{IPC_FD, LINK_FD, RING_FD};
use crate::sys::{self, Mapping};
use crate::wire::frames;
use crate::wire::framing::{self, FrameKind};
use crate::wire::payload::{BlobKind, LARGE};
use once_cell::sync::OnceCell;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a writer whose ring is full watches for room while the master
/// reads, then how long it pauses before it looks again. A master reading
/// a large frame frees room within microseconds (it watches for bytes too,
/// `dispatcher::frames`): pausing at once cost a wake-up and a pause per
/// MiB. A master that read nothing through a watch and a pause is busy
/// elsewhere: the writer pauses at once until it reads again.
const FULL_WATCH: Duration = Duration::from_micros(200);
const FULL_PAUSE: Duration = Duration::from_micros(200);
/// How long a worker that ran out of runs watches for the next one before
/// it sleeps (the platform's own idle polling, KVM's and the guest
/// haltpoll's, defaults to 200 µs).
const LINGER: Duration = Duration::from_micros(100);

static RING: OnceCell<Ring> = OnceCell::new();
/// The run this worker started last, and when: its reply says how long it
/// took by this clock (the master may read the reply late, `LAZY_LOOK`).
static BEGUN: Mutex<Option<(u64, Instant)>> = Mutex::new(None);

/// Maps the ring the master created, keeps the worker's descriptors from
/// leaking into processes its tasks start, and starts the watchdog.
pub(crate) fn connect() -> io::Result<()> {
    if RING.get().is_some() {
        return Ok(());
    }
    for fd in [IPC_FD, LINK_FD, RING_FD] {
        sys::set_cloexec(fd).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the master's descriptor {fd} is not open in this worker: {e}"),
            )
        })?;
    }
    let map = Mapping::new(RING_FD, RING_BYTES)?;
    // The mapping outlives the descriptor; nothing else needs it.
    // SAFETY: closing fd 5, which the master placed here for this purpose.
    unsafe { libc::close(RING_FD) };
    if RING.set(Ring::new(map)).is_err() {
        return Ok(());
    }
    // A worker lives to serve its master: when the master is gone (its end
    // of the socket closes), end at once, even mid-task, so none outlives it.
    std::thread::Builder::new()
        .name("meteor-cluster-watchdog".into())
        .spawn(|| {
            sys::wait_hangup(LINK_FD);
            // SAFETY: _exit ends the process without running any code of
            // the JS thread concurrently with it.
            unsafe { libc::_exit(0) }
        })?;
    Ok(())
}

fn ring() -> io::Result<&'static Ring> {
    RING.get().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "this worker is not connected to a master",
        )
    })
}

/// Wakes the master (one byte on the socket; a full socket means a wake-up
/// is already waiting there).
fn wake_master() {
    let _ = sys::write_some(LINK_FD, b"!");
}

/// Writes one message (a JSON text) to the master. Returns once it is in
/// shared memory, where the worker's death cannot take it back.
pub(crate) fn send(message: &str) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(message.len() + framing::HEADER);
    framing::push_frame(&mut bytes, FrameKind::Json, message.as_bytes());
    write(&[&bytes], false)
}

/// Sends the `failed` message of run `run`: `error` is the encoded error's
/// JSON; the run's time goes with it when it is the one that began last
/// (a run failed before it started has none).
pub(crate) fn send_failed(run: u64, error: &str) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(64 + error.len());
    frames::json_frame_with(&mut bytes, |json| {
        frames::failed_frame(json, run, ran_us(run), error)
    });
    write(&[&bytes], false)
}

/// Sends the `done` message of run `run` (its value's JSON, none for
/// `undefined`), built here: JS hands over only the value, the common
/// reply. The value's blobs go first; nothing large is copied on the way.
/// `queued`: more runs wait behind it here, so a lazily armed master is
/// not woken for it (`Ring::take_wake`).
pub(crate) fn send_done(
    run: u64,
    value: Option<&str>,
    blobs: &[(BlobKind, &[u8])],
    queued: bool,
) -> io::Result<()> {
    let value = value.map(str::as_bytes);
    let us = ran_us(run);
    if blobs.is_empty() && value.map_or(0, <[u8]>::len) < LARGE {
        let mut bytes = Vec::with_capacity(72 + value.map_or(0, <[u8]>::len));
        frames::json_frame_with(&mut bytes, |json| {
            frames::done_frame(
                json,
                run,
                us,
                value.map(|v| std::str::from_utf8(v).unwrap_or("null")),
            )
        });
        return write(&[&bytes], queued);
    }
    let too_large = |len: usize| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the task result holds {len} bytes in one piece, more than the {} a worker can send",
                framing::MAX_FRAME
            ),
        )
    };
    let mut heads = Vec::with_capacity(blobs.len());
    for (kind, bytes) in blobs {
        if bytes.len() > framing::MAX_FRAME {
            return Err(too_large(bytes.len()));
        }
        heads.push(framing::header(FrameKind::Blob(*kind), bytes.len()));
    }
    let mut start = vec![0; framing::HEADER];
    frames::done_head(&mut start, run, us);
    if value.is_some() {
        start.extend_from_slice(frames::DONE_VALUE);
    }
    let value = value.unwrap_or_default();
    let len = start.len() - framing::HEADER + value.len() + frames::DONE_TAIL.len();
    if len > framing::MAX_FRAME {
        return Err(too_large(len));
    }
    start[..framing::HEADER].copy_from_slice(&framing::header(FrameKind::Json, len));
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(2 * blobs.len() + 3);
    for (head, (_, bytes)) in heads.iter().zip(blobs) {
        pieces.push(head);
        pieces.push(bytes);
    }
    pieces.extend([&start[..], value, frames::DONE_TAIL]);
    write(&pieces, queued)
}

/// Puts frame bytes in the ring, in order, waking the master if it sleeps
/// (and asked to be woken by such a frame: `queued_reply`, `send_done`).
fn write(pieces: &[&[u8]], queued_reply: bool) -> io::Result<()> {
    let ring = ring()?;
    // The master did not read during the last watch, nor the pause after.
    let mut busy = false;
    for bytes in pieces {
        ring.write(bytes, || {
            wake_master();
            if !busy {
                let until = Instant::now() + FULL_WATCH;
                while ring.is_full() && Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            if ring.is_full() {
                std::thread::sleep(FULL_PAUSE);
                busy = ring.is_full();
            }
        });
    }
    if ring.take_wake(queued_reply) {
        wake_master();
    }
    Ok(())
}

/// Records that run `run` starts now. It stays recorded after its reply:
/// the master blames it for a death only while its reply is missing.
pub(crate) fn begin(run: u64) -> io::Result<()> {
    ring()?.set_running(run);
    *BEGUN.lock().unwrap_or_else(|e| e.into_inner()) = Some((run, Instant::now()));
    Ok(())
}

/// The µs run `run` has taken, when it is the one started last.
fn ran_us(run: u64) -> Option<u64> {
    match *BEGUN.lock().unwrap_or_else(|e| e.into_inner()) {
        Some((begun, at)) if begun == run => u64::try_from(at.elapsed().as_micros()).ok(),
        _ => None,
    }
}

/// Called when the worker has run everything it was sent: watches its
/// socket for up to `LINGER`, yielding the CPU between looks, and returns
/// once the master's next message is there (the event loop reads it at
/// once) or the time is up. Waking a sleeping process
/// on another CPU costs more than the whole task on a VM (docs/PERFORMANCE.md);
/// a worker that answers a steady stream of single tasks
/// never sleeps. Not with a single CPU, where the master needs it.
pub(crate) fn linger() {
    static CPUS: OnceCell<usize> = OnceCell::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if cpus > 1 {
        watch(LINK_FD, LINGER);
    }
}

/// Whether `fd` becomes readable within `limit`.
fn watch(fd: RawFd, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    loop {
        if sys::readable_now(fd) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn watching_sees_a_message_and_gives_up_without_one() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let start = Instant::now();
        assert!(!watch(ours.as_raw_fd(), Duration::from_millis(20)));
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "gave up early"
        );
        let writer = std::thread::spawn(move || {
            (&theirs).write_all(b"[]\n").unwrap();
            theirs
        });
        assert!(watch(ours.as_raw_fd(), Duration::from_secs(10)));
        drop(writer.join().unwrap());
        let mut line = [0u8; 3];
        (&ours).read_exact(&mut line).unwrap();
        assert_eq!(&line, b"[]\n", "watching reads nothing itself");
    }
}
