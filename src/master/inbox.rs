//! The one road into the dispatcher from other threads: the threads that
//! wait for workers to end and the database jobs on the tokio runtime push
//! `Input`s here; the first push after a take wakes the JS thread (through
//! a threadsafe function), which takes them all.

use super::persistent::StoreEvent;
use crate::sys::Exit;
use std::sync::{Arc, Mutex};

pub(crate) enum Input {
    /// A worker process ended (it is not reaped until the dispatcher is
    /// done with it).
    WorkerExited {
        worker: u32,
        exit: Exit,
    },
    Store(StoreEvent),
    /// The writer of a worker's full socket wrote all it had.
    Written {
        worker: u32,
    },
}

struct Pending {
    inputs: Vec<Input>,
    woken: bool,
}

/// Cheap to clone; every clone pushes into the same inbox.
#[derive(Clone)]
pub(crate) struct Inbox {
    pending: Arc<Mutex<Pending>>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Inbox {
    pub(crate) fn new(wake: Arc<dyn Fn() + Send + Sync>) -> Inbox {
        Inbox {
            pending: Arc::new(Mutex::new(Pending {
                inputs: Vec::new(),
                woken: false,
            })),
            wake,
        }
    }

    pub(crate) fn push(&self, input: Input) {
        let wake = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.inputs.push(input);
            !std::mem::replace(&mut pending.woken, true)
        };
        if wake {
            (self.wake)();
        }
    }

    /// Everything pushed since the last take.
    pub(crate) fn take(&self) -> Vec<Input> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.woken = false;
        std::mem::take(&mut pending.inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_js_thread_is_woken_once_per_batch_of_inputs() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let inbox = Inbox::new(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let exited = |worker| Input::WorkerExited {
            worker,
            exit: Exit::default(),
        };
        inbox.push(exited(1));
        inbox.clone().push(exited(2));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(inbox.take().len(), 2);
        inbox.push(exited(3));
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
