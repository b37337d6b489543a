//! The shared-memory byte ring a worker's frames travel through to its
//! master: a single-producer single-consumer byte stream in memory both
//! processes map. A frame is in the ring, and so known to the master, the
//! moment the worker's JS thread returns from writing it: no system call,
//! and nothing lost if the worker dies the next instant (the master keeps
//! its mapping and reads what is left). That is how a worker that dies is
//! blamed for exactly the run it was running: its finished runs' replies
//! are already here, and `running` names the one in progress.
//!
//! Wake-ups: the master arms the ring before it sleeps; a writer that finds
//! it armed disarms it and writes one byte on the worker's socket. A busy
//! master is never armed, so a busy pool makes no system calls per frame.
//! Armed lazily, a ring lets replies with more runs queued behind them
//! wait for the master's next look (it comes back on its own, soon); any
//! other frame wakes it.

use crate::sys::Mapping;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Bytes of frames the ring holds; a writer waits for the master beyond it.
pub(crate) const RING_CAPACITY: usize = 1 << 20;
/// The header (one page): each counter on its own cache line.
const HEADER: usize = 4096;
/// Size of the shared memory a ring needs.
pub(crate) const RING_BYTES: usize = HEADER + RING_CAPACITY;

const WRITE_POS: usize = 0;
const READ_POS: usize = 64;
const RUNNING: usize = 128;
const ARMED: usize = 192;

/// What the word at `ARMED` holds: the master reads on its own; wake it at
/// the next frame; wake it at the next frame that is not a queued reply.
const UNARMED: u32 = 0;
const WAKE_ANY: u32 = 1;
const WAKE_LAZY: u32 = 2;

/// A ring over a shared mapping of `RING_BYTES`. Both sides use the same
/// type; the worker only calls the writer half, the master the reader half.
pub(crate) struct Ring {
    map: Mapping,
}

/// The ring's counters are not what they must be: the other side wrote
/// nonsense into shared memory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Corrupt;

impl Ring {
    /// A ring over `map`, which must be `RING_BYTES` long and zeroed at first.
    pub(crate) fn new(map: Mapping) -> Ring {
        assert!(map.len() >= RING_BYTES, "a ring needs RING_BYTES of memory");
        Ring { map }
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: the header lies inside the mapping, `offset` is a multiple
        // of 64 from a page-aligned base, and atomics are the only way
        // either process touches it.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn armed(&self) -> &AtomicU32 {
        // SAFETY: as in `u64_at`.
        unsafe { &*self.map.as_ptr().add(ARMED).cast::<AtomicU32>() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data area starts right after the header, inside the mapping.
        unsafe { self.map.as_ptr().add(HEADER) }
    }

    // ---- the worker's side ----

    /// Appends `bytes`. When the ring is full it calls `wait` (which wakes
    /// the master and pauses) until the master has read enough.
    pub(crate) fn write(&self, mut bytes: &[u8], mut wait: impl FnMut()) {
        let write_pos = self.u64_at(WRITE_POS);
        let read_pos = self.u64_at(READ_POS);
        while !bytes.is_empty() {
            let w = write_pos.load(Ordering::Relaxed);
            // Acquire: the master is done reading what it released.
            let r = read_pos.load(Ordering::Acquire);
            let free = RING_CAPACITY.saturating_sub(w.wrapping_sub(r) as usize);
            if free == 0 {
                wait();
                continue;
            }
            let n = free.min(bytes.len());
            let start = (w % RING_CAPACITY as u64) as usize;
            let first = n.min(RING_CAPACITY - start);
            // SAFETY: [w, w + n) lies in the free part of the ring, which
            // only the writer touches, and both pieces stay inside the data
            // area (`first` stops at its end, the rest starts at 0).
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data().add(start), first);
                std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), self.data(), n - first);
            }
            // SeqCst (not just Release): paired with `arm`, so either the
            // master sees these bytes or this side sees it armed.
            write_pos.store(w + n as u64, Ordering::SeqCst);
            bytes = &bytes[n..];
        }
    }

    /// Whether the ring has no room left (the master has not read yet).
    pub(crate) fn is_full(&self) -> bool {
        let w = self.u64_at(WRITE_POS).load(Ordering::Relaxed);
        let r = self.u64_at(READ_POS).load(Ordering::Acquire);
        w.wrapping_sub(r) >= RING_CAPACITY as u64
    }

    /// Whether the master asked to be woken by this frame (it is then not
    /// armed any more): a `queued_reply` (a run's reply with more runs
    /// queued behind it) wakes only a master armed for any frame.
    pub(crate) fn take_wake(&self, queued_reply: bool) -> bool {
        if queued_reply {
            self.armed()
                .compare_exchange(WAKE_ANY, UNARMED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        } else {
            self.armed().swap(UNARMED, Ordering::SeqCst) != UNARMED
        }
    }

    /// Records that run `run` is starting in this worker.
    pub(crate) fn set_running(&self, run: u64) {
        self.u64_at(RUNNING).store(run, Ordering::SeqCst);
    }

    // ---- the master's side ----

    /// Moves the bytes written so far, up to `max`, to the end of `out`;
    /// how many.
    pub(crate) fn read_into(&self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
        let read_pos = self.u64_at(READ_POS);
        let r = read_pos.load(Ordering::Relaxed);
        // Acquire: the bytes up to `w` are written.
        let w = self.u64_at(WRITE_POS).load(Ordering::Acquire);
        let n = w.wrapping_sub(r);
        if n > RING_CAPACITY as u64 {
            return Err(Corrupt);
        }
        let n = (n as usize).min(max);
        if n == 0 {
            return Ok(0);
        }
        let start = (r % RING_CAPACITY as u64) as usize;
        let first = n.min(RING_CAPACITY - start);
        out.reserve(n);
        // SAFETY: [r, w) is the written part of the ring, which the writer
        // does not touch until `read_pos` passes it; both pieces stay inside
        // the data area, and `out` has room for `n` more bytes.
        unsafe {
            let end = out.as_mut_ptr().add(out.len());
            std::ptr::copy_nonoverlapping(self.data().add(start), end, first);
            std::ptr::copy_nonoverlapping(self.data(), end.add(first), n - first);
            out.set_len(out.len() + n);
        }
        read_pos.store(r + n as u64, Ordering::Release);
        Ok(n)
    }

    /// Asks the writer to wake the master at its next frame, or with
    /// `lazy` at its next frame that is not a queued reply. `false` when
    /// bytes arrived meanwhile: read them first (the ring stays unarmed).
    pub(crate) fn arm(&self, lazy: bool) -> bool {
        let mode = if lazy { WAKE_LAZY } else { WAKE_ANY };
        self.armed().store(mode, Ordering::SeqCst);
        let written = self.u64_at(WRITE_POS).load(Ordering::SeqCst);
        if written != self.u64_at(READ_POS).load(Ordering::Relaxed) {
            self.armed().store(UNARMED, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The run the worker was running, 0 for none.
    pub(crate) fn running(&self) -> u64 {
        self.u64_at(RUNNING).load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{create_shared_memory, Mapping};
    use std::os::fd::AsRawFd;

    fn pair() -> (Ring, Ring) {
        let fd = create_shared_memory(RING_BYTES).unwrap();
        let a = Mapping::new(fd.as_raw_fd(), RING_BYTES).unwrap();
        let b = Mapping::new(fd.as_raw_fd(), RING_BYTES).unwrap();
        (Ring::new(a), Ring::new(b))
    }

    #[test]
    fn bytes_written_by_one_mapping_are_read_by_the_other_in_order() {
        let (writer, reader) = pair();
        writer.write(b"hello ", || panic!("not full"));
        writer.write(b"world", || panic!("not full"));
        let mut out = Vec::new();
        assert_eq!(reader.read_into(&mut out, usize::MAX), Ok(11));
        assert_eq!(out, b"hello world");
        assert_eq!(reader.read_into(&mut out, usize::MAX), Ok(0));
    }

    #[test]
    fn a_write_larger_than_the_ring_waits_for_the_reader_and_wraps_around() {
        let (writer, reader) = pair();
        let big: Vec<u8> = (0..RING_CAPACITY * 2 + 123)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = Vec::new();
        let mut waits = 0;
        writer.write(&big, || {
            waits += 1;
            reader.read_into(&mut out, usize::MAX).unwrap();
        });
        reader.read_into(&mut out, usize::MAX).unwrap();
        assert_eq!(waits, 2);
        assert_eq!(out, big);
    }

    #[test]
    fn a_read_takes_no_more_than_asked_and_leaves_the_rest() {
        let (writer, reader) = pair();
        writer.write(b"abcdef", || panic!("not full"));
        let mut out = Vec::new();
        assert_eq!(reader.read_into(&mut out, 4), Ok(4));
        assert_eq!(reader.read_into(&mut out, usize::MAX), Ok(2));
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn arming_fails_when_bytes_are_waiting_and_the_writer_sees_it_armed_once() {
        let (writer, reader) = pair();
        assert!(reader.arm(false));
        assert!(writer.take_wake(true));
        assert!(!writer.take_wake(false), "one wake-up per arming");
        writer.write(b"x", || {});
        assert!(!reader.arm(false), "unread bytes: read before sleeping");
        assert!(!writer.take_wake(false));
        let mut out = Vec::new();
        reader.read_into(&mut out, usize::MAX).unwrap();
        assert!(reader.arm(true));
    }

    #[test]
    fn a_lazily_armed_ring_lets_queued_replies_wait_and_wakes_for_anything_else() {
        let (writer, reader) = pair();
        assert!(reader.arm(true));
        assert!(
            !writer.take_wake(true),
            "a queued reply waits for the master's look"
        );
        assert!(!writer.take_wake(true));
        assert!(writer.take_wake(false), "any other frame wakes the master");
        assert!(!writer.take_wake(false), "one wake-up per arming");
    }

    #[test]
    fn the_run_the_worker_started_last_is_what_the_master_sees() {
        let (worker, master) = pair();
        assert_eq!(master.running(), 0);
        worker.set_running(7);
        assert_eq!(master.running(), 7);
    }

    #[test]
    fn a_ring_whose_counters_were_scribbled_on_is_reported_corrupt() {
        let (writer, reader) = pair();
        writer
            .u64_at(WRITE_POS)
            .store(u64::MAX / 2, Ordering::SeqCst);
        assert_eq!(reader.read_into(&mut Vec::new(), usize::MAX), Err(Corrupt));
    }
}
