//! Everything the operating system is asked directly, in one place:
//! starting worker processes, the shared memory a worker's replies travel
//! through, waiting for and signalling processes, descriptors. Unix only
//! (Linux and macOS); the few Linux-only calls sit behind
//! `cfg(target_os = "linux")` with a portable path beside them.

pub(crate) mod memory;
mod process;
mod shm;
mod spawn;

pub(crate) use process::{reap, rss_bytes, signal, wait_exit, Exit, Signal};
pub(crate) use shm::{create_shared_memory, Mapping};
pub(crate) use spawn::{spawn, SpawnSpec, WorkerFds};

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Marks `fd` close-on-exec, so processes started later do not inherit it.
pub(crate) fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor number; it fails cleanly if fd is not open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` numbered `lowest` or above.
pub(crate) fn dup_above(fd: RawFd, lowest: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor we own; the result is a new descriptor.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, lowest) };
    if copy == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just created and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Writes as much of `bytes` to the non-blocking `fd` as it takes now;
/// how many bytes went (0 when it would block).
pub(crate) fn write_some(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: write(2) from a valid slice to a descriptor we hold.
    written(|| unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) })
}

/// What a non-blocking write call took: retried when interrupted, 0 when
/// it would block.
fn written(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(0),
            _ => return Err(error),
        }
    }
}

/// Asks for a send buffer of `bytes` on the socket `fd`; the system gives
/// what its limit allows (`net.core.wmem_max` on Linux).
pub(crate) fn set_send_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    let size = bytes.min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: setsockopt on a descriptor we hold, with a c_int option value.
    let done = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes as much of `chunks`, in order, to the non-blocking `fd` as it
/// takes now, in one call; how many bytes went (0 when it would block).
pub(crate) fn writev_some(fd: RawFd, chunks: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
    // More than the system takes in one call is left for the next.
    const MAX_CHUNKS: usize = 64;
    let count = chunks.len().min(MAX_CHUNKS) as libc::c_int;
    // SAFETY: writev(2) from valid slices (an IoSlice is an iovec on Unix)
    // to a descriptor we hold.
    written(|| unsafe { libc::writev(fd, chunks.as_ptr().cast(), count) })
}

/// Blocks until the peer of the socket `fd` has closed its end (or `fd`
/// fails). Used by a worker's watchdog thread: it reads nothing, so it
/// never competes with the event loop that reads the same socket.
pub(crate) fn wait_hangup(fd: RawFd) {
    let mut poll = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    loop {
        // SAFETY: poll on one valid pollfd. With no events asked for, it
        // returns only on hang-up or error, which are always reported.
        let n = unsafe { libc::poll(&mut poll, 1, -1) };
        if n > 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
            return;
        }
    }
}

/// A pipe: its read end and its write end, both close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe(2) fills two descriptors on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just created and nothing else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_cloexec(fds[0])?;
    set_cloexec(fds[1])?;
    Ok((read, write))
}

/// Reads what `fd` has into `buf`, blocking; 0 at its end.
pub(crate) fn read_blocking(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: read(2) into a valid slice from a descriptor we hold.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Writes all of `bytes` to the blocking `fd` (giving up on an error).
pub(crate) fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) from a valid slice to a descriptor we hold.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Whether `fd` has something to read now (or has hung up); never blocks.
pub(crate) fn readable_now(fd: RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, with a zero timeout.
    unsafe { libc::poll(&mut poll, 1, 0) > 0 }
}
