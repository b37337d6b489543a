//! The dispatcher's side of the masters' registry: it hands the persistent
//! side a snapshot of itself for each heartbeat (the registry job never
//! reads dispatcher state), asks for the document's removal on close, and
//! applies the pause or resume a dashboard asked for, as `pause()` and
//! `resume()` would.

use super::{Dispatcher, Wake};
use crate::master::persistent::{MasterRequest, Snapshot};
use tokio::time::Instant;

impl Dispatcher {
    pub(super) fn drive_registry(&mut self, wake: &mut Wake) {
        if self.lifecycle.closing() {
            self.persistent.unregister();
            return;
        }
        if !self.lifecycle.connected() {
            return;
        }
        if self.persistent.heartbeat_due(Instant::now()) {
            let snapshot = Snapshot {
                stats: self.stats(),
                workers: self.workers_view(),
            };
            self.persistent.heartbeat(snapshot);
        }
        if let Some(at) = self.persistent.heartbeat_at() {
            wake.at(at);
        }
    }

    pub(super) fn master_request(&mut self, request: MasterRequest) {
        match request {
            MasterRequest::Pause => self.pause(),
            MasterRequest::Resume => self.lifecycle = self.lifecycle.resume(),
        }
    }
}
