//! Worker processes: spawned from Rust (`spawn.rs`) with a private
//! socketpair on fd 3, one reader and one writer task each, and an exit
//! watcher that reaps the process. A worker's
//! frames reach the dispatcher in order, followed by exactly one `Exited`.

use super::dispatcher::Cmd;
use crate::channel::{self, ToMaster};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// How to start a worker: the master's own Node binary, flags and script.
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    pub exec_path: String,
    pub args: Vec<String>,
    pub port: u32,
}

/// The dispatcher's handle on one worker process.
pub struct WorkerProc {
    pub pid: u32,
    /// Encoded frames to write to the worker, in order.
    pub frames: mpsc::UnboundedSender<Vec<u8>>,
}

impl WorkerProc {
    pub fn kill(&self) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet
        // (the exit watcher reaps it only after the kill can matter).
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

pub fn spawn(
    spec: &SpawnSpec,
    id: u32,
    cmds: mpsc::UnboundedSender<Cmd>,
) -> io::Result<WorkerProc> {
    let (master_end, worker_end) = std::os::unix::net::UnixStream::pair()?;
    let pid = super::spawn::spawn(spec, id, worker_end.as_raw_fd())?;
    drop(worker_end);

    master_end.set_nonblocking(true)?;
    let (reader, writer) = tokio::net::UnixStream::from_std(master_end)?.into_split();
    let (frames, outbox) = mpsc::unbounded_channel();
    tokio::spawn(write_frames(writer, outbox));
    tokio::spawn(async move {
        read_frames(reader, id, &cmds).await;
        // The socket closes when the process exits; reap it for the status.
        let status = tokio::task::spawn_blocking(move || wait(pid))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
        let exit = match status {
            Ok(status) => Exit::from(status),
            Err(_) => Exit::default(),
        };
        let _ = cmds.send(Cmd::WorkerExited { worker: id, exit });
    });
    Ok(WorkerProc {
        pid: pid as u32,
        frames,
    })
}

/// Waits for the worker process `pid` to end; its exit status.
fn wait(pid: libc::pid_t) -> io::Result<ExitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a child we spawned and have not reaped.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Writes queued frames, coalescing whatever is queued into one flush.
async fn write_frames(writer: OwnedWriteHalf, mut outbox: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    while let Some(frame) = outbox.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return;
        }
        while let Ok(frame) = outbox.try_recv() {
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

async fn read_frames(mut reader: OwnedReadHalf, id: u32, cmds: &mpsc::UnboundedSender<Cmd>) {
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, &mut reader);
    loop {
        let len = match reader.read_u32_le().await {
            Ok(len) => len as usize,
            Err(_) => return,
        };
        if len > channel::MAX_FRAME {
            return;
        }
        let mut buf = vec![0u8; len];
        if reader.read_exact(&mut buf).await.is_err() {
            return;
        }
        let cmd = match ToMaster::decode(&buf) {
            Ok(msg) => Cmd::FromWorker { worker: id, msg },
            Err(error) => Cmd::BadFrame { worker: id, error },
        };
        if cmds.send(cmd).is_err() {
            return;
        }
    }
}

/// How a worker process ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<String>,
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        Exit {
            code: status.code(),
            signal: status.signal().map(signal_name),
        }
    }
}

impl Exit {
    /// "exited with code 3" or "was killed by SIGKILL", for error messages.
    pub fn describe(&self) -> String {
        match (&self.code, &self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by {signal}"),
            (None, None) => "exited".to_owned(),
        }
    }
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}
