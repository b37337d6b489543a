//! Where the dispatcher is in its life, as one state: the transitions JS
//! asks for (`initialize`, `pause`, `resume`, `close`) and what each state
//! lets the dispatcher do.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// Before `initialize()`: nothing starts (`paused` if `pause()` came
    /// first, so that `initialize()` leads to `Paused`).
    Waiting {
        paused: bool,
    },
    Running,
    /// `pause()`: nothing starts and claims go back; running tasks finish.
    Paused,
    /// `close()`: nothing starts, what has not started goes back, running
    /// tasks finish (stopped at `deadline`, if given), workers stop.
    Closing {
        deadline: Option<Instant>,
    },
    /// `close()` is done: as `Waiting`, until `initialize()` again.
    Closed,
    /// A bug stopped it; every call fails from now on.
    Failed,
}

impl Lifecycle {
    pub(super) fn initialize(self) -> Lifecycle {
        match self {
            Lifecycle::Waiting { paused: false } | Lifecycle::Closed => Lifecycle::Running,
            Lifecycle::Waiting { paused: true } => Lifecycle::Paused,
            other => other,
        }
    }

    pub(super) fn pause(self) -> Lifecycle {
        match self {
            Lifecycle::Running => Lifecycle::Paused,
            Lifecycle::Waiting { .. } | Lifecycle::Closed => Lifecycle::Waiting { paused: true },
            other => other,
        }
    }

    pub(super) fn resume(self) -> Lifecycle {
        match self {
            Lifecycle::Paused => Lifecycle::Running,
            Lifecycle::Waiting { .. } => Lifecycle::Waiting { paused: false },
            other => other,
        }
    }

    /// `close()`; a second call keeps the first one's deadline.
    pub(super) fn close(self, deadline: Option<Instant>) -> Lifecycle {
        match self {
            Lifecycle::Closing { .. } | Lifecycle::Failed => self,
            _ => Lifecycle::Closing { deadline },
        }
    }

    /// Tasks may start.
    pub(super) fn dispatching(self) -> bool {
        self == Lifecycle::Running
    }

    /// Initialized and not closed: the connection to MongoDB and the leases
    /// of running tasks are kept up.
    pub(super) fn connected(self) -> bool {
        matches!(
            self,
            Lifecycle::Running | Lifecycle::Paused | Lifecycle::Closing { .. }
        )
    }

    /// What was sent ahead or claimed and has not started goes back.
    pub(super) fn handing_back(self) -> bool {
        matches!(self, Lifecycle::Paused | Lifecycle::Closing { .. })
    }

    pub(super) fn closing(self) -> bool {
        matches!(self, Lifecycle::Closing { .. })
    }

    /// As `stats().paused` says.
    pub(super) fn paused(self) -> bool {
        matches!(
            self,
            Lifecycle::Paused | Lifecycle::Waiting { paused: true }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Lifecycle::*;

    #[test]
    fn pause_before_initialize_leads_to_paused_and_close_ends_in_closed_until_initialized() {
        let paused = Waiting { paused: false }.pause();
        assert_eq!(paused, Waiting { paused: true });
        assert_eq!(paused.initialize(), Paused);
        assert_eq!(Paused.resume(), Running);
        assert_eq!(Running.close(None).pause(), Closing { deadline: None });
        assert!(Closing { deadline: None }.handing_back());
        assert_eq!(Closed.initialize(), Running);
        assert_eq!(Failed.initialize(), Failed);
        assert!(!Failed.connected() && !Closed.connected());
    }
}
