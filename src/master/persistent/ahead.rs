//! How many persistent tasks to claim ahead of the workers. Claimed tasks
//! are hidden from other masters sharing the collection, so by default a
//! master claims only what its pool can take now. When a backlog drains
//! faster than claims come back (the workers ran out of claimed tasks and
//! sat idle), the batch grows: a sorted claim costs the database about as
//! much for many tasks as for a few, and on a deep queue each one costs
//! more, so a fast backlog goes in a few large claims. Slow tasks never
//! leave a worker idle beside a claim, so they are claimed a few at a time.

/// Most tasks one claim takes.
pub(super) const MAX_CLAIM: usize = 1024;
/// How much the batch grows each time the workers ran out while a claim
/// was out: a few claims reach the largest batch.
const GROWTH: usize = 8;
/// Task data (bytes) a grown batch may hold in the master: large tasks are
/// claimed fewer at a time.
const MAX_CLAIMED_BYTES: usize = 16 << 20;

#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// Tasks to hold claimed ahead while a backlog drains; 0 when claims
    /// follow the pool's own demand.
    batch: usize,
    /// A persistent run finished since the claim in flight started.
    finished: bool,
    /// What the pool could take, when last asked.
    want: usize,
}

impl Ahead {
    /// How many tasks to claim now, given how many the pool could take
    /// (`want`) and how many claimed ones wait for a worker (`buffered`).
    pub(super) fn ask(&mut self, want: usize, buffered: usize) -> usize {
        self.want = want;
        let ask = if self.batch > want {
            // Draining a backlog: a whole batch, claimed as soon as fewer
            // than a batch wait, so one claim is always out while the
            // workers run the last one.
            if buffered < self.batch {
                self.batch
            } else {
                0
            }
        } else {
            want.saturating_sub(buffered)
        };
        ask.min(MAX_CLAIM)
    }

    pub(super) fn claim_started(&mut self) {
        self.finished = false;
    }

    pub(super) fn run_finished(&mut self) {
        self.finished = true;
    }

    /// A claim came back with `claimed` tasks holding `bytes` of data.
    /// `full`: the collection may hold more due tasks. `starved`: the
    /// workers ran out of claimed tasks and one sits idle.
    pub(super) fn claimed(&mut self, claimed: usize, bytes: usize, full: bool, starved: bool) {
        if !full {
            self.batch = 0;
        } else if starved && self.finished && claimed > 0 {
            let per_task = (bytes / claimed).max(1);
            self.batch = (self.batch.max(claimed).max(self.want) * GROWTH)
                .min(MAX_CLAIM)
                .min((MAX_CLAIMED_BYTES / per_task).max(1));
        }
    }

    #[cfg(test)]
    pub(super) fn batch(&self) -> usize {
        self.batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim of `ask` tasks that came back full, after the workers ran
    /// out and tasks had finished while it was out.
    fn starved_claim(ahead: &mut Ahead, want: usize) -> usize {
        let n = ahead.ask(want, 0);
        ahead.claim_started();
        ahead.run_finished();
        ahead.claimed(n, n * 20, true, true);
        n
    }

    #[test]
    fn a_backlog_drained_faster_than_claims_come_back_is_claimed_in_growing_batches() {
        let mut ahead = Ahead::default();
        let sizes: Vec<usize> = (0..5).map(|_| starved_claim(&mut ahead, 4)).collect();
        assert_eq!(sizes, [4, 32, 256, 1024, 1024]);
    }

    #[test]
    fn slow_tasks_are_claimed_as_the_pool_can_take_them() {
        let mut ahead = Ahead::default();
        // The first claim of a pool: nothing had run yet, so it is no sign
        // that the workers outrun the claims.
        let n = ahead.ask(4, 0);
        ahead.claim_started();
        ahead.claimed(n, 80, true, true);
        assert_eq!(ahead.batch(), 0);
        // Tasks finished while a claim was out, but the workers were busy.
        ahead.claim_started();
        ahead.run_finished();
        ahead.claimed(1, 20, true, false);
        assert_eq!(ahead.ask(1, 0), 1);
        assert_eq!(ahead.ask(2, 1), 1, "what is claimed already counts");
    }

    #[test]
    fn a_grown_batch_is_claimed_whole_while_fewer_than_a_batch_wait() {
        let mut ahead = Ahead::default();
        for _ in 0..2 {
            starved_claim(&mut ahead, 4);
        }
        assert_eq!(ahead.batch(), 256);
        assert_eq!(ahead.ask(4, 256), 0);
        assert_eq!(ahead.ask(4, 255), 256);
        assert_eq!(ahead.ask(4, 0), 256);
        // The backlog is drained: back to the pool's own demand.
        ahead.claim_started();
        ahead.claimed(10, 200, false, true);
        assert_eq!(ahead.ask(4, 0), 4);
    }

    #[test]
    fn large_tasks_are_claimed_fewer_at_a_time() {
        let mut ahead = Ahead::default();
        ahead.ask(4, 0);
        ahead.claim_started();
        ahead.run_finished();
        ahead.claimed(4, 4 << 20, true, true);
        assert_eq!(ahead.batch(), 16, "16 MiB of 1 MiB tasks");
        // A claim smaller than the pool's demand grows from the demand.
        let mut ahead = Ahead::default();
        ahead.ask(4, 3);
        ahead.claim_started();
        ahead.run_finished();
        ahead.claimed(1, 20, true, true);
        assert_eq!(ahead.batch(), 32);
    }
}
