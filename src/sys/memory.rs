//! Memory of large payloads, given back to the system when they end.
//! mimalloc returns freed pages lazily, on later allocations, so a master
//! that goes idle after a 50 MB task would keep its pages for good.

use bytes::Bytes;

/// Payloads at least this large give their memory back when freed: below
/// it, the pages are reused soon enough and a purge per task would cost.
const GIVE_BACK: usize = 4 << 20;

/// Shared bytes over `vec`; when the last holder of large ones lets go,
/// the allocator returns what is free to the system.
pub(crate) fn bytes(vec: Vec<u8>) -> Bytes {
    if vec.len() < GIVE_BACK {
        return Bytes::from(vec);
    }
    Bytes::from_owner(Large(vec))
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
        // SAFETY: a plain call into the allocator; `force` purges pages
        // freed by any thread now, not after mimalloc's delay.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}
