//! The one road into the dispatcher from other threads: worker exit
//! watchers, the MongoDB tasks on the tokio runtime, and the cluster
//! handshake on fd 3 push `Input`s here; the first push after a take wakes
//! the JS thread (through a threadsafe function), which takes them all.

use super::persistent::StoreEvent;
use crate::sys::Exit;
use std::sync::{Arc, Mutex};

/// What happened to a worker, seen from another thread.
#[derive(Debug)]
pub(crate) enum WorkerEvent {
    /// The process ended (it is not reaped until the dispatcher is done with it).
    Exited { worker: u32, exit: Exit },
}

pub(crate) enum Input {
    Worker(WorkerEvent),
    Store(StoreEvent),
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
        let exited = |worker| {
            Input::Worker(WorkerEvent::Exited {
                worker,
                exit: Exit::default(),
            })
        };
        inbox.push(exited(1));
        inbox.clone().push(exited(2));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(inbox.take().len(), 2);
        inbox.push(exited(3));
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
