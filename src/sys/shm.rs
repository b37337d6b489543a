//! Shared memory between a master and one worker: an anonymous file both
//! map. It outlives the worker's death (the master keeps its mapping), which
//! is what lets the master read replies a dying worker had already written.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A new anonymous shared-memory file of `len` bytes (close-on-exec).
pub(crate) fn create_shared_memory(len: usize) -> io::Result<OwnedFd> {
    let fd = anonymous_file()?;
    // SAFETY: ftruncate on the descriptor just created.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(target_os = "linux")]
fn anonymous_file() -> io::Result<OwnedFd> {
    // memfd_create by its syscall: glibc only wraps it from 2.27, and the
    // addon is built for a 2.17 floor.
    const MFD_CLOEXEC: libc::c_uint = 1;
    let name = c"meteor-cluster";
    // SAFETY: memfd_create with a valid NUL-terminated name.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), MFD_CLOEXEC) };
    if fd >= 0 {
        // SAFETY: the kernel just gave us this descriptor.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    }
    // Kernels before 3.17: a file in /dev/shm (memory), removed at once.
    unlinked_file(std::path::Path::new("/dev/shm"))
        .or_else(|_| unlinked_file(&std::env::temp_dir()))
}

#[cfg(not(target_os = "linux"))]
fn anonymous_file() -> io::Result<OwnedFd> {
    let name = std::ffi::CString::new(format!(
        "/mc{}{}",
        std::process::id(),
        crate::task::new_id()
    ))
    .map_err(io::Error::other)?;
    // SAFETY: shm_open with a valid NUL-terminated name; POSIX sets
    // close-on-exec on the descriptor.
    let fd = unsafe {
        libc::shm_open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            0o600 as libc::c_uint,
        )
    };
    if fd == -1 {
        return unlinked_file(&std::env::temp_dir());
    }
    // SAFETY: as above; the name is removed so nothing else can open it.
    unsafe { libc::shm_unlink(name.as_ptr()) };
    // SAFETY: shm_open just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A file created in `dir` and unlinked at once: only its descriptor remains.
fn unlinked_file(dir: &std::path::Path) -> io::Result<OwnedFd> {
    let path = dir.join(format!(
        "meteor-cluster-{}-{}",
        std::process::id(),
        crate::task::new_id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file.into())
}

/// A shared mapping of a whole shared-memory file, unmapped on drop.
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; users access it through atomics or
// through byte copies of regions that one side owns at a time (see `ring`).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` for reading and writing, shared.
    pub(crate) fn new(fd: RawFd, len: usize) -> io::Result<Mapping> {
        // SAFETY: mmap of a file we hold, at an address the kernel picks.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; nothing uses it after.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}
