//! The worker runtime: a reader thread takes the master's frames off the
//! private channel and wakes JS through a threadsafe function; JS takes them
//! in batches, runs the taskMap and writes its replies back. When the master
//! goes away (the channel closes) the worker process ends at once, so no
//! worker outlives its master.

use crate::channel;
use crate::master::events::EventSink;
use once_cell::sync::OnceCell;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

struct Link {
    writer: Mutex<UnixStream>,
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
        writer: Mutex::new(stream),
        inbox: inbox.clone(),
    };
    if LINK.set(link).is_err() {
        return Ok(());
    }
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

/// Writes frames (JSON texts) to the master in one write.
pub fn send(frames: &[String]) -> io::Result<()> {
    let link = LINK.get().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotConnected,
            "this worker is not connected to a master",
        )
    })?;
    let mut bytes = Vec::with_capacity(frames.iter().map(|f| f.len() + 4).sum());
    for frame in frames {
        channel::encode_into(&mut bytes, frame.as_bytes());
    }
    let mut writer = link.writer.lock().unwrap_or_else(|e| e.into_inner());
    writer.write_all(&bytes)
}
