//! What a task may ask beyond running once: retries with backoff, a time
//! limit per run, and repetition (every N ms, or on a cron schedule in a
//! time zone). Read from `addTask`'s JSON and from stored documents, in the
//! same shape: `retry: { limit, delay, backoff }`, `timeout: ms`,
//! `repeat: { every } | { cron, tz }`.

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait one retry delay may grow to (exponential backoff is capped
/// here rather than overflowing): 30 days.
const MAX_DELAY_MS: u64 = 30 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backoff {
    Fixed,
    Exponential,
}

/// Retries after a failed attempt (a throw, a rejection, a worker death, a
/// timeout): at most `limit` of them, `delay` ms apart (doubling each time
/// with exponential backoff).
/// Every field is given (the facade fills in the defaults of
/// `lib/defaults.js`, and stored documents hold them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Retry {
    pub(crate) limit: u32,
    pub(crate) delay: u64,
    pub(crate) backoff: Backoff,
}

impl Retry {
    /// The wait before the next attempt, after attempt `attempt` (1-based) failed.
    pub(crate) fn delay_after(&self, attempt: u32) -> u64 {
        match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Exponential => {
                let factor = 1u64
                    .checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u64::MAX);
                self.delay.saturating_mul(factor).min(MAX_DELAY_MS)
            }
        }
    }

    /// Whether attempt `attempt` (1-based) failing leaves another one.
    pub(crate) fn allows_after(&self, attempt: u32) -> bool {
        attempt <= self.limit
    }
}

/// A repetition as stored and sent: `{ every }` or `{ cron, tz }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum RepeatSpec {
    Every {
        every: u64,
    },
    Cron {
        cron: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tz: Option<String>,
    },
}

/// A parsed repetition, ready to say when the next run is.
#[derive(Debug, Clone)]
pub(crate) struct Repeat {
    spec: RepeatSpec,
    schedule: Schedule,
}

#[derive(Debug, Clone)]
enum Schedule {
    Every(u64),
    Cron(Box<croner::Cron>, Option<chrono_tz::Tz>),
}

impl Repeat {
    /// Checks a repetition; the error names the field (`repeat.cron`...).
    pub(crate) fn parse(spec: RepeatSpec) -> Result<Repeat, String> {
        let schedule = match &spec {
            RepeatSpec::Every { every } if *every == 0 => {
                return Err("repeat.every must be a positive number of ms".to_owned())
            }
            RepeatSpec::Every { every } => Schedule::Every(*every),
            RepeatSpec::Cron { cron, tz } => {
                let parsed = croner::Cron::from_str(cron)
                    .map_err(|e| format!("repeat.cron {cron:?} is not a cron expression ({e})"))?;
                let zone = match tz {
                    None => None,
                    Some(name) => Some(chrono_tz::Tz::from_str(name).map_err(|_| {
                        format!(
                            "repeat.tz {name:?} is not an IANA time zone (like \"Europe/Paris\")"
                        )
                    })?),
                };
                Schedule::Cron(Box::new(parsed), zone)
            }
        };
        Ok(Repeat { spec, schedule })
    }

    pub(crate) fn spec(&self) -> &RepeatSpec {
        &self.spec
    }

    /// When the run after one due at `due` should be, seen at `now` (both ms
    /// since the epoch): `every` keeps to its grid (missed slots are
    /// skipped, not made up); cron takes the next match after `now`. `due`
    /// is the occurrence's own time (`Task::slot` for a retried run).
    pub(crate) fn next(&self, due: i64, now: i64) -> Option<i64> {
        match &self.schedule {
            Schedule::Every(every) => {
                let every = *every as i64;
                let behind = (now - due).max(0);
                Some(due + every * (behind / every + 1))
            }
            Schedule::Cron(cron, zone) => {
                // Matches are whole seconds: search from the second `now` is in.
                let from = Utc.timestamp_opt(now.div_euclid(1000), 0).single()?;
                let next = match zone {
                    Some(tz) => cron
                        .find_next_occurrence(&from.with_timezone(tz), false)
                        .ok()?
                        .timestamp_millis(),
                    None => cron
                        .find_next_occurrence(&from, false)
                        .ok()?
                        .timestamp_millis(),
                };
                Some(next)
            }
        }
    }
}

/// What a task asks beyond one run. Absent (`None` on the task) for plain
/// tasks, which are most of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) retry: Option<Retry>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) repeat: Option<Repeat>,
}

/// The policy fields of `addTask`'s JSON (and of a stored document).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PolicySpec {
    #[serde(default)]
    pub(crate) retry: Option<Retry>,
    #[serde(default)]
    pub(crate) timeout: Option<u64>,
    #[serde(default)]
    pub(crate) repeat: Option<RepeatSpec>,
}

impl PolicySpec {
    /// The policy, or `None` when nothing is asked.
    pub(crate) fn into_policy(self) -> Result<Option<Arc<Policy>>, String> {
        if self.retry.is_none() && self.timeout.is_none() && self.repeat.is_none() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Policy {
            retry: self.retry,
            timeout: self.timeout.map(Duration::from_millis),
            repeat: self.repeat.map(Repeat::parse).transpose()?,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_their_delay_fixed_or_doubling_and_stop_at_the_limit() {
        let fixed = Retry {
            limit: 2,
            delay: 100,
            backoff: Backoff::Fixed,
        };
        assert_eq!((fixed.delay_after(1), fixed.delay_after(2)), (100, 100));
        assert!(fixed.allows_after(1) && fixed.allows_after(2) && !fixed.allows_after(3));
        let exp = Retry {
            backoff: Backoff::Exponential,
            ..fixed
        };
        assert_eq!(
            [1, 2, 3, 4].map(|a| exp.delay_after(a)),
            [100, 200, 400, 800]
        );
        assert_eq!(exp.delay_after(200), MAX_DELAY_MS);
    }

    #[test]
    fn every_keeps_to_its_grid_and_skips_missed_slots() {
        let every = Repeat::parse(RepeatSpec::Every { every: 1000 }).unwrap();
        assert_eq!(every.next(10_000, 10_300), Some(11_000));
        assert_eq!(
            every.next(10_000, 13_500),
            Some(14_000),
            "missed slots are skipped"
        );
    }

    #[test]
    fn cron_finds_the_next_match_in_its_time_zone() {
        let daily = Repeat::parse(RepeatSpec::Cron {
            cron: "0 3 * * *".into(),
            tz: Some("Europe/Paris".into()),
        })
        .unwrap();
        // 2026-01-15T12:00:00Z: the next 03:00 in Paris (UTC+1 in winter)
        // is 2026-01-16T02:00:00Z.
        let now = 1_768_478_400_000;
        assert_eq!(daily.next(now, now), Some(1_768_528_800_000));
        // A run that ended at .686 s: the next time is still on the second.
        assert_eq!(daily.next(now, now + 686), Some(1_768_528_800_000));
    }

    #[test]
    fn a_bad_expression_or_zone_is_refused_naming_the_field() {
        let cron = |cron: &str, tz: Option<&str>| {
            Repeat::parse(RepeatSpec::Cron {
                cron: cron.into(),
                tz: tz.map(Into::into),
            })
            .map(|_| ())
        };
        assert!(cron("61 * * * *", None)
            .unwrap_err()
            .starts_with("repeat.cron"));
        assert!(cron("* * * * *", Some("Mars/Olympus"))
            .unwrap_err()
            .starts_with("repeat.tz"));
        assert!(cron("*/5 * * * *", Some("UTC")).is_ok());
        assert!(Repeat::parse(RepeatSpec::Every { every: 0 }).is_err());
    }
}
