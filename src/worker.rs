//! The worker runtime: a reader thread takes the master's frames off the
//! private channel and wakes JS through a threadsafe function; JS takes them
//! in batches, runs the taskMap and queues its replies here. Queued replies
//! are written when JS asks, when many are waiting, or by a flusher thread
//! at most `FLUSH_AFTER` after the first of them, so a reply never waits
//! for the task run after it. When the master goes away (the channel
//! closes) the worker process ends at once, so no worker outlives its master.

use crate::channel;
use crate::master::events::EventSink;
use once_cell::sync::OnceCell;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Longest a queued reply waits for company before it is written anyway.
const FLUSH_AFTER: Duration = Duration::from_millis(1);
/// Queued bytes that are written at once, without waiting.
const FLUSH_BYTES: usize = 256 * 1024;

/// Replies queued for the master and the stream they go to: one lock for
/// both, so writes leave in the order they were queued.
struct Outbox {
    bytes: Vec<u8>,
    stream: UnixStream,
}

impl Outbox {
    fn write(&mut self) -> io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.bytes);
        self.bytes.clear();
        result
    }
}

struct Link {
    outbox: Mutex<Outbox>,
    /// Signalled when the outbox stops being empty.
    queued: Condvar,
    inbox: Arc<EventSink>,
}

static LINK: OnceCell<Link> = OnceCell::new();

/// Opens the channel on `fd` (inherited from the master) and starts reading.
pub fn connect(fd: i32, wake: Box<dyn Fn() + Send + Sync>) -> io::Result<()> {
    if LINK.get().is_some() {
        return Ok(());
    }
    // SAFETY: fcntl on a descriptor number; it fails cleanly if fd is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the master's channel (fd {fd}) is not open in this worker"),
        ));
    }
    // Close-on-exec above keeps processes this worker starts from holding
    // the channel open after the worker is gone.
    // SAFETY: the master placed our end of a socketpair on this descriptor
    // and nothing else in the process owns it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    let mut reader = stream.try_clone()?;
    let inbox = Arc::new(EventSink::new(wake));
    let link = Link {
        outbox: Mutex::new(Outbox {
            bytes: Vec::new(),
            stream,
        }),
        queued: Condvar::new(),
        inbox: inbox.clone(),
    };
    if LINK.set(link).is_err() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("meteor-cluster-flush".into())
        .spawn(flush_queued)?;
    std::thread::Builder::new()
        .name("meteor-cluster-worker".into())
        .spawn(move || {
            let mut reader = io::BufReader::with_capacity(64 * 1024, &mut reader);
            while let Ok(Some(frame)) = channel::read_frame(&mut reader) {
                let Ok(frame) = String::from_utf8(frame) else {
                    break;
                };
                inbox.publish(&mut vec![frame], None);
            }
            // The master is gone: a worker has nothing left to do.
            // SAFETY: _exit ends the process without running any code of
            // the JS thread concurrently with it.
            unsafe { libc::_exit(0) }
        })?;
    Ok(())
}

/// Every frame received since the last call, as one JSON array.
pub fn take() -> String {
    LINK.get()
        .map(|link| link.inbox.take().0)
        .unwrap_or_else(|| "[]".to_owned())
}

fn link() -> io::Result<&'static Link> {
    LINK.get().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "this worker is not connected to a master",
        )
    })
}

fn lock(link: &Link) -> std::sync::MutexGuard<'_, Outbox> {
    link.outbox.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queues a frame (a JSON text) for the master; it leaves within `FLUSH_AFTER`.
pub fn queue(frame: &str) -> io::Result<()> {
    let link = link()?;
    let mut outbox = lock(link);
    if outbox.bytes.is_empty() {
        link.queued.notify_one();
    }
    channel::encode_into(&mut outbox.bytes, frame.as_bytes());
    if outbox.bytes.len() >= FLUSH_BYTES {
        outbox.write()?;
    }
    Ok(())
}

/// Writes every queued frame now.
pub fn flush() -> io::Result<()> {
    lock(link()?).write()
}

/// The flusher thread: writes what JS queued once it has waited `FLUSH_AFTER`,
/// even while JS is busy running the next task.
fn flush_queued() {
    let Some(link) = LINK.get() else { return };
    loop {
        let mut outbox = lock(link);
        while outbox.bytes.is_empty() {
            outbox = link.queued.wait(outbox).unwrap_or_else(|e| e.into_inner());
        }
        drop(outbox);
        std::thread::sleep(FLUSH_AFTER);
        if lock(link).write().is_err() {
            return;
        }
    }
}
