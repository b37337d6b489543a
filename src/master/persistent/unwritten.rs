//! Outcomes of persistent runs not yet written, and when to write them.
//! Every write is a round trip and a request the database serves, whatever
//! its size, so while claimed tasks are still running outcomes are written
//! in batches; the last ones of a burst, or a lone task's, go at once.

use super::Completion;
use std::time::Duration;
use tokio::time::Instant;

/// Outcomes that make a batch worth writing at once.
const WRITE_BATCH: usize = 256;
/// The longest an outcome waits for others to join its write (its event
/// waits as long).
const WRITE_DELAY: Duration = Duration::from_millis(50);

#[derive(Default)]
pub(super) struct Unwritten {
    completions: Vec<Completion>,
    /// When the oldest of them came.
    since: Option<Instant>,
}

impl Unwritten {
    pub(super) fn push(&mut self, completion: Completion) {
        if self.completions.is_empty() {
            self.since = Some(Instant::now());
        }
        self.completions.push(completion);
    }

    pub(super) fn len(&self) -> usize {
        self.completions.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.completions.is_empty()
    }

    /// The claim tokens of the outcomes waiting (their leases must hold).
    pub(super) fn tokens(&self) -> impl Iterator<Item = &String> {
        self.completions.iter().map(|c| &c.token)
    }

    /// When to write: `None` for now. Now when nothing more is coming soon
    /// (`more_coming`: claimed tasks still running or waiting for a
    /// worker), or when a batch is full; else once the oldest has waited.
    pub(super) fn write_at(&self, more_coming: bool) -> Option<Instant> {
        match self.since {
            Some(since) if more_coming && self.completions.len() < WRITE_BATCH => {
                Some(since + WRITE_DELAY)
            }
            _ => None,
        }
    }

    /// Everything waiting, for one write.
    pub(super) fn take(&mut self) -> Vec<Completion> {
        self.since = None;
        std::mem::take(&mut self.completions)
    }

    /// A batch whose write failed goes back in front, to be written again.
    pub(super) fn put_back(&mut self, mut batch: Vec<Completion>) {
        batch.append(&mut self.completions);
        self.completions = batch;
        self.since = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::persistent::Write;
    use mongodb::bson::Bson;

    fn done(i: usize) -> Completion {
        Completion {
            id: Bson::String(format!("t{i}")),
            token: "claim".to_owned(),
            event: None,
            write: Write::Delete,
            progress: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_wait_for_a_batch_only_while_more_are_coming() {
        let mut unwritten = Unwritten::default();
        let start = Instant::now();
        unwritten.push(done(0));
        assert_eq!(
            unwritten.write_at(false),
            None,
            "a lone task's outcome goes at once"
        );
        assert_eq!(unwritten.write_at(true), Some(start + WRITE_DELAY));
        tokio::time::advance(Duration::from_millis(10)).await;
        for i in 1..WRITE_BATCH - 1 {
            unwritten.push(done(i));
        }
        assert_eq!(
            unwritten.write_at(true),
            Some(start + WRITE_DELAY),
            "the oldest sets the time"
        );
        unwritten.push(done(WRITE_BATCH));
        assert_eq!(unwritten.write_at(true), None, "a full batch goes at once");
        assert_eq!(unwritten.take().len(), WRITE_BATCH);
        assert!(unwritten.is_empty());
        assert_eq!(unwritten.write_at(true), None);
    }
}
