//! Worker processes as the dispatcher sees them: a `Spawner` starts one and
//! returns its `Link`, through which the dispatcher writes lines to it,
//! reads its frames, and signals and reaps it. The real ones start Node
//! processes; the dispatcher's unit tests use fakes.
//!
//! Each worker has a socket (runs in, wake-ups out; what it cannot take at
//! once is written by `outgoing`), a shared ring (its frames out), Node's
//! IPC channel (served by `node_ipc`) and a thread that waits for it to end
//! and says so through the inbox.

use super::inbox::{Inbox, Input};
use super::node_ipc;
use super::outgoing::Outgoing;
use crate::channel::ring::{Corrupt, Ring, RING_BYTES};
use crate::sys::{self, Mapping, Signal, SpawnSpec, WorkerFds};
use crate::wire::framing::Source;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc, Mutex};

/// How much of the end of a worker's stderr is kept, to quote when it
/// fails to start.
const STDERR_TAIL: usize = 4096;
/// How long a worker's exit waits for the rest of its stderr.
const STDERR_DRAIN: std::time::Duration = std::time::Duration::from_millis(200);

/// The send buffer asked for on each worker's socket.
const SEND_BUFFER: usize = 4 << 20;

pub(crate) trait Spawner {
    fn spawn(&mut self, id: u32, spec: &SpawnSpec) -> io::Result<Box<dyn Link>>;
}

/// The dispatcher's handle on one worker; as a `Source`, it moves the
/// worker's unread frame bytes (from its ring) to the end of a buffer.
pub(crate) trait Link: Source {
    fn pid(&self) -> u32;
    /// JS's own copy of the worker's socket, to watch for wake-ups; given once.
    fn take_js_fd(&mut self) -> Option<i32>;
    /// Writes a round's frames (`Line::take`) to the worker, in order; when
    /// its socket is full, a writer writes the rest and reports
    /// `Input::Written` (see `outgoing`).
    fn send(&mut self, chunks: Vec<Bytes>);
    /// The writer of this worker's socket wrote all it had.
    fn written(&mut self);
    /// Asks to be woken by the worker's next frame (with `lazy`, its next
    /// frame that is not a reply with runs queued behind it); `false` when
    /// frame bytes are already waiting (read them first).
    fn arm(&self, lazy: bool) -> bool;
    /// The run the worker started last (0 for none).
    fn running(&self) -> u64;
    fn signal(&self, signal: Signal);
    /// Reaps the ended process; no signal may follow.
    fn reap(&mut self);
    /// The end of what the worker wrote to its stderr (a few KiB).
    fn stderr_tail(&self) -> String;
    /// Its resident memory, when the platform says (`sys::rss_bytes`).
    fn rss_bytes(&self) -> Option<u64>;
}

/// Starts real Node worker processes.
pub(crate) struct ProcessSpawner {
    pub(crate) inbox: Inbox,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Spawner for ProcessSpawner {
    fn spawn(&mut self, id: u32, spec: &SpawnSpec) -> io::Result<Box<dyn Link>> {
        let (ipc, worker_ipc) = UnixStream::pair()?;
        let (socket, worker_socket) = UnixStream::pair()?;
        let (stderr, worker_stderr) = sys::pipe()?;
        let shm = sys::create_shared_memory(RING_BYTES)?;
        let ring = Ring::new(Mapping::new(shm.as_raw_fd(), RING_BYTES)?);
        let pid = sys::spawn(
            spec,
            id,
            &WorkerFds {
                stderr: &worker_stderr,
                ipc: &OwnedFd::from(worker_ipc),
                link: &OwnedFd::from(worker_socket),
                ring: &shm,
            },
        )?;
        drop(worker_stderr);
        let (tail, forwarded) = forward_stderr(id, stderr)?;
        let inbox = self.inbox.clone();
        std::thread::Builder::new()
            .name(format!("meteor-cluster-wait-{id}"))
            .spawn(move || {
                let exit = sys::wait_exit(pid).unwrap_or_default();
                // Its last words first (a process it started may hold the
                // pipe open, so not for long).
                let _ = forwarded.recv_timeout(STDERR_DRAIN);
                inbox.push(Input::WorkerExited { worker: id, exit });
            })?;
        let ipc = self.runtime.spawn(node_ipc::serve(ipc, id));
        socket.set_nonblocking(true)?;
        // A large payload crosses in fewer turns of writer and reader (each
        // a wait for a CPU on a busy machine); the system may give less.
        let _ = sys::set_send_buffer(socket.as_raw_fd(), SEND_BUFFER);
        let js_fd = sys::dup_above(socket.as_raw_fd(), 0)?;
        Ok(Box::new(Process {
            pid,
            tail,
            socket: socket.into(),
            js_fd: Some(js_fd),
            ring,
            outgoing: Outgoing::new(id, self.runtime.clone(), self.inbox.clone()),
            reaped: false,
            ipc,
        }))
    }
}

/// What a worker wrote to stderr last, and the signal that all of it was read.
type Tail = (Arc<Mutex<VecDeque<u8>>>, mpsc::Receiver<()>);

/// Copies a worker's stderr to the master's, as it comes, keeping the last
/// `STDERR_TAIL` bytes; on a thread of its own, until the pipe closes.
fn forward_stderr(id: u32, pipe: OwnedFd) -> io::Result<Tail> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let kept = tail.clone();
    let (closed, forwarded) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("meteor-cluster-stderr-{id}"))
        .spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = sys::read_blocking(pipe.as_raw_fd(), &mut buf) {
                sys::write_all(libc::STDERR_FILENO, &buf[..n]);
                let mut tail = kept.lock().unwrap_or_else(|e| e.into_inner());
                tail.extend(&buf[..n]);
                let extra = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..extra);
            }
            let _ = closed.send(());
        })?;
    Ok((tail, forwarded))
}

struct Process {
    pid: u32,
    tail: Arc<Mutex<VecDeque<u8>>>,
    socket: OwnedFd,
    js_fd: Option<OwnedFd>,
    ring: Ring,
    outgoing: Outgoing,
    reaped: bool,
    ipc: tokio::task::JoinHandle<()>,
}

impl Link for Process {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn take_js_fd(&mut self) -> Option<i32> {
        self.js_fd.take().map(IntoRawFd::into_raw_fd)
    }

    fn send(&mut self, chunks: Vec<Bytes>) {
        self.outgoing.send(&self.socket, chunks);
    }

    fn written(&mut self) {
        self.outgoing.written(&self.socket);
    }

    fn arm(&self, lazy: bool) -> bool {
        self.ring.arm(lazy)
    }

    fn running(&self) -> u64 {
        self.ring.running()
    }

    fn signal(&self, signal: Signal) {
        if !self.reaped {
            sys::signal(self.pid, signal);
        }
    }

    fn reap(&mut self) {
        if !self.reaped {
            self.reaped = true;
            sys::reap(self.pid);
        }
    }

    fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&tail.iter().copied().collect::<Vec<u8>>()).into_owned()
    }

    fn rss_bytes(&self) -> Option<u64> {
        if self.reaped {
            None
        } else {
            sys::rss_bytes(self.pid)
        }
    }
}

impl Source for Process {
    fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
        self.ring.read_into(out, max)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.ipc.abort();
    }
}
