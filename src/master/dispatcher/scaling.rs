//! Growing and shrinking the pool: spawning workers when tasks wait,
//! stopping idle ones per `keepAlive`, and killing those that never start.

use super::*;

impl Dispatcher {
    pub(super) fn scale_up(
        &mut self,
        waiting: usize,
        now: Instant,
        wake: &mut impl FnMut(Instant),
    ) {
        let live = self.workers.values().filter(|w| !w.stopping).count();
        let starting = self
            .workers
            .values()
            .filter(|w| !w.ready && !w.stopping)
            .count();
        let wanted = match self.config.keep_alive {
            KeepAlive::Always => self.config.max_workers,
            _ => (live - starting + waiting).min(self.config.max_workers),
        };
        if wanted <= live {
            return;
        }
        if let Some(after) = self.spawn_after {
            if after > now {
                wake(after);
                return;
            }
            self.spawn_after = None;
        }
        for _ in live..wanted {
            let id = self.next_worker;
            self.next_worker += 1;
            match pool::spawn(&self.config.spawn, id, self.tx.clone()) {
                Ok(proc) => {
                    self.counters.workers_started += 1;
                    self.workers.insert(
                        id,
                        Worker {
                            proc,
                            sent: VecDeque::new(),
                            sent_bytes: 0,
                            ready: false,
                            stopping: false,
                            spawned_at: now,
                            idle_since: now,
                        },
                    );
                }
                Err(e) => {
                    self.logger
                        .error(&format!("could not start a worker process: {e}"));
                    self.spawn_after = Some(now + self.spawn_backoff);
                    wake(now + self.spawn_backoff);
                    return;
                }
            }
        }
    }

    pub(super) fn scale_down(
        &mut self,
        waiting: usize,
        now: Instant,
        wake: &mut impl FnMut(Instant),
    ) {
        let closing = self.closing || !self.initialized;
        let mut to_stop = Vec::new();
        for (id, w) in &self.workers {
            if w.stopping {
                continue;
            }
            if !w.ready {
                let deadline = w.spawned_at + self.config.worker_start_timeout;
                if closing || deadline <= now {
                    to_stop.push(*id);
                } else {
                    wake(deadline);
                }
                continue;
            }
            if !w.sent.is_empty() || (waiting > 0 && !closing) {
                continue;
            }
            let deadline = match self.config.keep_alive {
                _ if closing => now,
                KeepAlive::Always => continue,
                KeepAlive::Never => w.idle_since + self.config.refresh_rate,
                KeepAlive::For(d) => self.last_work_at + d,
            };
            if deadline <= now {
                to_stop.push(*id);
            } else {
                wake(deadline);
            }
        }
        for id in to_stop {
            self.stop_worker(id);
        }
    }

    pub(super) fn stop_worker(&mut self, id: u32) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.stopping = true;
        if !w.ready {
            // A worker still starting has nothing to finish.
            if !self.closing && self.initialized {
                self.logger.error(&format!(
                    "worker {id} did not start within {:?}; killing it",
                    self.config.worker_start_timeout
                ));
            }
            w.proc.kill();
            return;
        }
        send(w, &ToWorker::Stop);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STOP_GRACE).await;
            let _ = tx.send(Cmd::StopTimedOut { worker: id });
        });
    }
}
