//! Memory of large payloads, given back to the system when they end.
//! mimalloc returns freed pages lazily, on later allocations, so a master
//! that goes idle after a 50 MB task would keep its pages for good.

use bytes::Bytes;

/// Payloads at least this large give their memory back when freed: below
/// it, the pages are reused soon enough and a purge per task would cost.
const GIVE_BACK: usize = 4 << 20;

/// Shared bytes over `vec`; when the last holder of large ones lets go,
/// the allocator returns what is free to the system. (Such bytes never
/// say they are unique (`Bytes::is_unique`): for bytes Buffers may write,
/// `Bytes::from`.)
pub(crate) fn bytes(vec: Vec<u8>) -> Bytes {
    if vec.len() < GIVE_BACK {
        return Bytes::from(vec);
    }
    Bytes::from_owner(Large(vec))
}

/// Lets go of `bytes`; when large ones are freed here, the allocator
/// returns what is free to the system. Bytes made by `bytes` give theirs
/// back as they drop (they never say they are unique), and shared ones
/// are not freed here: neither needs a second purge.
pub(crate) fn release(bytes: Bytes) {
    let freed_here = bytes.len() >= GIVE_BACK && bytes.is_unique();
    drop(bytes);
    if freed_here {
        give_back();
    }
}

fn give_back() {
    // SAFETY: a plain call into the allocator; `force` purges pages freed
    // by any thread now, not after mimalloc's delay.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

struct Large(Vec<u8>);

impl AsRef<[u8]> for Large {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Large {
    fn drop(&mut self) {
        drop(std::mem::take(&mut self.0));
        give_back();
    }
}

/// Faults in the pages of `len` bytes at `start` in one call, before
/// they are written: a page fault each costs more than the copy into the
/// page (a 16 MB reply came 3 ms sooner). `start..start + len` must be
/// memory the caller owns.
pub(crate) fn populate(start: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let (first, end) = (
            (start as usize).next_multiple_of(PAGE),
            (start as usize + len) / PAGE * PAGE,
        );
        if end > first {
            // SAFETY: the range lies inside memory the caller owns; the
            // advice only faults pages in (kernels before 5.14 refuse it:
            // no harm).
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    end - first,
                    libc::MADV_POPULATE_WRITE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, len);
}
