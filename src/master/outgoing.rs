//! Bytes on their way to a worker's socket. They are written at once while
//! the socket takes them. When it is full, a writer on the tokio runtime
//! owns the rest (shared bytes, never copied) until it is written, and says
//! so through the inbox (`Input::Written`); meanwhile what follows waits
//! here. So bytes reach the worker in order, one thread writes to the
//! socket at a time, and the JS thread never waits for a slow reader.

use super::inbox::{Inbox, Input};
use crate::sys;
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Chunks given to one write; the rest go in the next.
const WRITE_CHUNKS: usize = 32;

/// The bytes bound for one worker, and its writer when the socket is full.
pub(crate) struct Outgoing {
    worker: u32,
    /// Bytes waiting, in order (behind the writer's, if there is one).
    waiting: VecDeque<Bytes>,
    writer: Option<tokio::task::JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
    inbox: Inbox,
}

impl Outgoing {
    pub(crate) fn new(worker: u32, runtime: tokio::runtime::Handle, inbox: Inbox) -> Outgoing {
        Outgoing {
            worker,
            waiting: VecDeque::new(),
            writer: None,
            runtime,
            inbox,
        }
    }

    /// Writes `chunks` to `socket` after what waits; a full socket leaves
    /// the rest to a writer.
    pub(crate) fn send(&mut self, socket: &OwnedFd, chunks: Vec<Bytes>) {
        self.waiting
            .extend(chunks.into_iter().filter(|c| !c.is_empty()));
        if self.writer.is_none() {
            self.flush(socket);
        }
    }

    /// The writer wrote all it had: what waited meanwhile goes now.
    pub(crate) fn written(&mut self, socket: &OwnedFd) {
        self.writer = None;
        self.flush(socket);
    }

    fn flush(&mut self, socket: &OwnedFd) {
        match write_now(socket.as_raw_fd(), &mut self.waiting) {
            Ok(()) if self.waiting.is_empty() => {}
            Ok(()) => {
                // The writer gets its own descriptor: it may outlive this one.
                let Ok(fd) = sys::dup_above(socket.as_raw_fd(), 0) else {
                    self.waiting.clear();
                    return;
                };
                let chunks = std::mem::take(&mut self.waiting);
                let (inbox, worker) = (self.inbox.clone(), self.worker);
                self.writer = Some(self.runtime.spawn(async move {
                    // A socket that fails belongs to a worker whose exit is
                    // on its way: what was left for it is dropped.
                    let _ = write_later(fd, chunks).await;
                    inbox.push(Input::Written { worker });
                }));
            }
            // A dead worker's socket: its exit is on its way; drop the bytes.
            Err(_) => self.waiting.clear(),
        }
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        if let Some(writer) = &self.writer {
            writer.abort();
        }
    }
}

/// Writes from the front of `chunks` while `fd` takes them, dropping what
/// is written.
fn write_now(fd: RawFd, chunks: &mut VecDeque<Bytes>) -> io::Result<()> {
    while !chunks.is_empty() {
        let mut slices = [IoSlice::new(&[]); WRITE_CHUNKS];
        let count = chunks.len().min(WRITE_CHUNKS);
        for (slice, chunk) in slices.iter_mut().zip(chunks.iter()) {
            *slice = IoSlice::new(chunk);
        }
        let mut n = sys::writev_some(fd, &slices[..count])?;
        if n == 0 {
            return Ok(());
        }
        while n > 0 {
            let Some(front) = chunks.front_mut() else {
                break;
            };
            let taken = n.min(front.len());
            front.advance(taken);
            n -= taken;
            if front.is_empty() {
                chunks.pop_front();
            }
        }
    }
    Ok(())
}

/// Writes all of `chunks` to `fd` as it becomes writable.
async fn write_later(fd: OwnedFd, mut chunks: VecDeque<Bytes>) -> io::Result<()> {
    // SAFETY: the AsyncFd owns `fd`, which stays open, and the same
    // descriptor, until the AsyncFd is dropped.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::WRITABLE) }
        .map_err(|e| e.into_parts().1)?;
    while !chunks.is_empty() {
        let mut ready = fd.writable().await?;
        write_now(fd.as_raw_fd(), &mut chunks)?;
        if !chunks.is_empty() {
            ready.clear_ready();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    #[test]
    fn what_the_socket_cannot_take_is_written_by_the_writer_in_order() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let ours = OwnedFd::from(ours);
        let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = written.clone();
        let inbox = Inbox::new(std::sync::Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        let mut out = Outgoing::new(7, runtime.handle().clone(), inbox.clone());
        let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let shared = Bytes::from(big.clone());
        out.send(&ours, vec![Bytes::from_static(b"head"), shared.clone()]);
        assert!(
            out.writer.is_some(),
            "a full socket hands the rest to a writer"
        );
        out.send(&ours, vec![Bytes::from_static(b"tail")]);
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            (&theirs)
                .take(4 + big.len() as u64 + 4)
                .read_to_end(&mut all)
                .unwrap();
            all
        });
        // The writer runs on the runtime, and says when it is done.
        runtime.block_on(async {
            while inbox.take().is_empty() {
                tokio::task::yield_now().await;
            }
        });
        out.written(&ours);
        let all = reader.join().unwrap();
        assert_eq!(&all[..4], b"head");
        assert_eq!(&all[4..all.len() - 4], &shared[..]);
        assert_eq!(&all[all.len() - 4..], b"tail");
        assert!(out.writer.is_none() && out.waiting.is_empty());
    }
}
