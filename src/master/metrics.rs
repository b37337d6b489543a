//! The master's metrics: counters and histograms kept from its start, per
//! task type, owned by the dispatcher and handed out as families of
//! samples (`cluster.metrics()` renders them as Prometheus text, and
//! `collectMetrics` gives them to a prom-client registry). Counting costs
//! the hot path a lookup of the task's type (a burst shares one) and a few
//! additions.

use serde::Serialize;
use std::sync::Arc;

/// Where a task was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    Memory,
    Persistent,
}

impl Queue {
    const ALL: [Queue; 2] = [Queue::Memory, Queue::Persistent];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Queue::Memory => "memory",
            Queue::Persistent => "persistent",
        }
    }
}

/// How an attempt ended: each ends under exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// A throw, a rejection, a worker's crash, an unknown type, an
    /// unreadable document: with no attempt to come.
    Failed,
    /// It failed, whatever the reason, and will run again.
    Retried,
    Cancelled,
    TimedOut,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Done,
        Outcome::Failed,
        Outcome::Retried,
        Outcome::Cancelled,
        Outcome::TimedOut,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Retried => "retried",
            Outcome::Cancelled => "cancelled",
            Outcome::TimedOut => "timed_out",
        }
    }
}

/// Why a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitReason {
    /// The pool stopped it: not needed, or closing.
    Idle,
    /// `workerMaxTasks` or `workerMaxMemory`.
    Retired,
    /// It died on its own (or before it was ready).
    Crashed,
    /// It was stopped for a run that outlived its stop (a timeout or a
    /// cancel), or for `close({ timeout })`.
    Timeout,
}

impl ExitReason {
    const ALL: [ExitReason; 4] = [
        ExitReason::Idle,
        ExitReason::Retired,
        ExitReason::Crashed,
        ExitReason::Timeout,
    ];

    fn label(self) -> &'static str {
        match self {
            ExitReason::Idle => "idle",
            ExitReason::Retired => "retired",
            ExitReason::Crashed => "crashed",
            ExitReason::Timeout => "timeout",
        }
    }
}

/// Histogram bounds in seconds: tasks from 1 ms to 10 minutes.
const BUCKETS: [f64; 18] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0,
];

#[derive(Default, Clone)]
struct Histogram {
    /// Observations at or under each bound (not cumulative: summed when read).
    counts: [u64; BUCKETS.len()],
    /// Above the last bound.
    over: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let seconds = seconds.max(0.0);
        match BUCKETS.iter().position(|&bound| seconds <= bound) {
            Some(i) => self.counts[i] += 1,
            None => self.over += 1,
        }
        self.sum += seconds;
    }

    fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }
}

struct TypeMetrics {
    task_type: Arc<str>,
    added: [u64; 2],
    finished: [[u64; 5]; 2],
    run: Histogram,
    wait: Histogram,
}

#[derive(Default)]
pub(crate) struct Metrics {
    types: Vec<TypeMetrics>,
    /// The type looked up last: a burst's tasks share one.
    last: usize,
    worker_exits: [u64; 4],
}

/// A family of samples, as Prometheus names and types them.
#[derive(Serialize)]
pub(crate) struct Family {
    name: &'static str,
    help: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    samples: Vec<Sample>,
}

/// One sample: `name` is the family's, or its `_bucket`, `_sum`, `_count`.
#[derive(Serialize)]
pub(crate) struct Sample {
    name: String,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

/// What the dispatcher knows now, for the gauges.
pub(crate) struct Gauges {
    /// Tasks queued and not running, by type and queue.
    pub(crate) depth: Vec<(String, Queue, u64)>,
    pub(crate) running: u64,
    /// Workers by state (`starting`, `ready`, `running`, `retiring`).
    pub(crate) workers: Vec<(&'static str, u64)>,
    /// `None` when this master has no persistent queue.
    pub(crate) reachable: Option<bool>,
}

impl Metrics {
    fn of(&mut self, task_type: &Arc<str>) -> &mut TypeMetrics {
        let found = match self.types.get(self.last) {
            Some(t) if Arc::ptr_eq(&t.task_type, task_type) => Some(self.last),
            _ => self.types.iter().position(|t| t.task_type == *task_type),
        };
        self.last = found.unwrap_or_else(|| {
            self.types.push(TypeMetrics {
                task_type: task_type.clone(),
                added: [0; 2],
                finished: [[0; 5]; 2],
                run: Histogram::default(),
                wait: Histogram::default(),
            });
            self.types.len() - 1
        });
        &mut self.types[self.last]
    }

    pub(crate) fn added(&mut self, task_type: &Arc<str>, queue: Queue, n: u64) {
        self.of(task_type).added[queue as usize] += n;
    }

    /// An attempt ended; `ran` is how long it ran, if it started.
    pub(crate) fn finished(
        &mut self,
        task_type: &Arc<str>,
        queue: Queue,
        outcome: Outcome,
        ran: Option<f64>,
    ) {
        let t = self.of(task_type);
        t.finished[queue as usize][outcome as usize] += 1;
        if let Some(seconds) = ran {
            t.run.observe(seconds);
        }
    }

    /// A run started `waited` seconds after its task was due.
    pub(crate) fn started(&mut self, task_type: &Arc<str>, waited: f64) {
        self.of(task_type).wait.observe(waited);
    }

    pub(crate) fn worker_exited(&mut self, reason: ExitReason) {
        self.worker_exits[reason as usize] += 1;
    }

    /// Family `name`, as JSON (for tests).
    #[cfg(test)]
    pub(crate) fn family_json(&self, now: &Gauges, name: &str) -> serde_json::Value {
        let json = serde_json::to_value(self.families(now)).unwrap();
        let found = json.as_array().unwrap().iter().find(|f| f["name"] == name);
        found.cloned().unwrap()
    }

    /// Every family, counters first, then the gauges of `now`.
    pub(crate) fn families(&self, now: &Gauges) -> Vec<Family> {
        let label = |t: &TypeMetrics| ("task_type", t.task_type.to_string());
        let mut added = Vec::new();
        let mut finished = Vec::new();
        for t in &self.types {
            for q in Queue::ALL {
                added.push(sample(
                    "meteor_cluster_tasks_added_total",
                    vec![label(t), ("queue", q.label().into())],
                    t.added[q as usize] as f64,
                ));
                for o in Outcome::ALL {
                    finished.push(sample(
                        "meteor_cluster_tasks_finished_total",
                        vec![
                            label(t),
                            ("queue", q.label().into()),
                            ("outcome", o.label().into()),
                        ],
                        t.finished[q as usize][o as usize] as f64,
                    ));
                }
            }
        }
        let exits = ExitReason::ALL
            .iter()
            .map(|r| {
                sample(
                    "meteor_cluster_worker_exits_total",
                    vec![("reason", r.label().into())],
                    self.worker_exits[*r as usize] as f64,
                )
            })
            .collect();
        let run = self.histograms("meteor_cluster_task_run_seconds", |t| &t.run);
        let wait = self.histograms("meteor_cluster_task_wait_seconds", |t| &t.wait);
        let depth = now
            .depth
            .iter()
            .map(|(task_type, q, n)| {
                sample(
                    "meteor_cluster_queue_depth",
                    vec![
                        ("task_type", task_type.clone()),
                        ("queue", q.label().into()),
                    ],
                    *n as f64,
                )
            })
            .collect();
        let workers = now
            .workers
            .iter()
            .map(|(state, n)| {
                sample(
                    "meteor_cluster_workers",
                    vec![("state", (*state).into())],
                    *n as f64,
                )
            })
            .collect();
        let mut families = vec![
            family(
                "meteor_cluster_tasks_added_total",
                "Tasks added, by type and queue.",
                "counter",
                added,
            ),
            family(
                "meteor_cluster_tasks_finished_total",
                "Attempts ended, by type, queue and outcome (each attempt under exactly one).",
                "counter",
                finished,
            ),
            family(
                "meteor_cluster_worker_exits_total",
                "Worker processes ended, by reason.",
                "counter",
                exits,
            ),
            family(
                "meteor_cluster_task_run_seconds",
                "How long runs took, by task type.",
                "histogram",
                run,
            ),
            family(
                "meteor_cluster_task_wait_seconds",
                "From a task's due date to its run's start, by task type.",
                "histogram",
                wait,
            ),
            family(
                "meteor_cluster_queue_depth",
                "Tasks queued and not running, by type and queue.",
                "gauge",
                depth,
            ),
            family(
                "meteor_cluster_running_tasks",
                "Runs in workers (running, or sent ahead).",
                "gauge",
                vec![sample(
                    "meteor_cluster_running_tasks",
                    Vec::new(),
                    now.running as f64,
                )],
            ),
            family(
                "meteor_cluster_workers",
                "Worker processes, by state.",
                "gauge",
                workers,
            ),
        ];
        if let Some(reachable) = now.reachable {
            families.push(family(
                "meteor_cluster_persistent_reachable",
                "1 when MongoDB answers this master, else 0.",
                "gauge",
                vec![sample(
                    "meteor_cluster_persistent_reachable",
                    Vec::new(),
                    if reachable { 1.0 } else { 0.0 },
                )],
            ));
        }
        families
    }

    fn histograms(
        &self,
        name: &'static str,
        of: impl Fn(&TypeMetrics) -> &Histogram,
    ) -> Vec<Sample> {
        let mut samples = Vec::new();
        for t in &self.types {
            let h = of(t);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                cumulative += count;
                samples.push(Sample {
                    name: format!("{name}_bucket"),
                    labels: vec![
                        ("task_type", t.task_type.to_string()),
                        ("le", bound.to_string()),
                    ],
                    value: cumulative as f64,
                });
            }
            samples.push(Sample {
                name: format!("{name}_bucket"),
                labels: vec![
                    ("task_type", t.task_type.to_string()),
                    ("le", "+Inf".into()),
                ],
                value: h.count() as f64,
            });
            samples.push(Sample {
                name: format!("{name}_sum"),
                labels: vec![("task_type", t.task_type.to_string())],
                value: h.sum,
            });
            samples.push(Sample {
                name: format!("{name}_count"),
                labels: vec![("task_type", t.task_type.to_string())],
                value: h.count() as f64,
            });
        }
        samples
    }
}

fn sample(name: &str, labels: Vec<(&'static str, String)>, value: f64) -> Sample {
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

fn family(
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<Sample>,
) -> Family {
    Family {
        name,
        help,
        kind,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_kept_per_type_queue_and_outcome_and_histograms_are_cumulative() {
        let mut m = Metrics::default();
        let (a, b): (Arc<str>, Arc<str>) = ("A".into(), "B".into());
        m.added(&a, Queue::Memory, 3);
        m.added(&"A".into(), Queue::Persistent, 1);
        m.finished(&a, Queue::Memory, Outcome::Done, Some(0.002));
        m.finished(&a, Queue::Memory, Outcome::Retried, Some(700.0));
        m.finished(&b, Queue::Persistent, Outcome::Cancelled, None);
        m.started(&a, 0.0);
        m.worker_exited(ExitReason::Crashed);
        let gauges = Gauges {
            depth: vec![("A".into(), Queue::Memory, 2)],
            running: 1,
            workers: vec![("ready", 2)],
            reachable: None,
        };
        // A counter's sample with these labels.
        let find = |family: &str, labels: &[(&str, &str)]| -> f64 {
            let family = m.family_json(&gauges, family);
            let has = |s: &serde_json::Value, (k, v): &(&str, &str)| {
                s["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l[0] == *k && l[1] == *v)
            };
            let found = family["samples"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| labels.iter().all(|l| has(s, l)));
            found.unwrap()["value"].as_f64().unwrap()
        };
        let added = |t: &str, q: &str| {
            find(
                "meteor_cluster_tasks_added_total",
                &[("task_type", t), ("queue", q)],
            )
        };
        assert_eq!(added("A", "memory"), 3.0);
        assert_eq!(
            added("A", "persistent"),
            1.0,
            "a type's name finds its counters"
        );
        assert_eq!(
            find(
                "meteor_cluster_tasks_finished_total",
                &[
                    ("task_type", "B"),
                    ("queue", "persistent"),
                    ("outcome", "cancelled")
                ]
            ),
            1.0
        );
        assert_eq!(
            find(
                "meteor_cluster_worker_exits_total",
                &[("reason", "crashed")]
            ),
            1.0
        );
        assert_eq!(
            find("meteor_cluster_worker_exits_total", &[("reason", "idle")]),
            0.0
        );
        let run = m.family_json(&gauges, "meteor_cluster_task_run_seconds");
        let buckets: Vec<f64> = run["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["name"] == "meteor_cluster_task_run_seconds_bucket" && s["labels"][0][1] == "A"
            })
            .map(|s| s["value"].as_f64().unwrap())
            .collect();
        assert_eq!(buckets.len(), BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative");
        assert_eq!(buckets[0], 0.0);
        assert_eq!(buckets[1], 1.0, "2 ms is under 2.5 ms");
        assert_eq!(
            *buckets.last().unwrap(),
            2.0,
            "+Inf counts the 700 s run too"
        );
    }
}
