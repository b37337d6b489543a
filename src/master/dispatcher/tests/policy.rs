//! Retries, time limits, repetition, pause and a close with a timeout,
//! against fake workers on the paused clock.

use super::*;
use crate::master::requests::{NewTask, Origin};
use crate::policy::{Backoff, Policy, Repeat, RepeatSpec, Retry};
use std::sync::Arc;

fn with_policy(id: &str, policy: Policy) -> Task {
    Task {
        policy: Some(Arc::new(policy)),
        ..task(id, 1, "{}")
    }
}

fn retry(limit: u32, delay: u64) -> Retry {
    Retry {
        limit,
        delay,
        backoff: Backoff::Fixed,
    }
}

impl Harness {
    fn add_task(&mut self, task: Task) {
        self.d.add_task(task).unwrap();
    }

    fn fail(&mut self, n: usize, run: u64) {
        self.frame(
            n,
            &format!(
                r#"{{"type":"failed","run":{run},"error":{{"name":"Error","message":"boom"}}}}"#
            ),
        );
    }

    fn done(&mut self, n: usize, run: u64) {
        self.frame(n, &format!(r#"{{"type":"done","run":{run},"value":1}}"#));
    }

    /// Adds an in-memory task as `TaskQueue.addTask` does (a call, which
    /// is answered); returns whether the answer was a success.
    fn add_call(&mut self, task: Task) -> bool {
        let new = NewTask {
            task,
            in_memory: true,
            made_id: false,
        };
        self.d.add_new(Origin::Js, 1, vec![new], false);
        self.d.inputs(Vec::new());
        let replies = self.of_type("reply");
        replies.len() == 1 && replies[0]["ok"] == true
    }

    fn of_type(&mut self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_with_retries_left_fires_retry_and_runs_again_after_its_delay() {
    let mut h = harness(config(1));
    h.add_task(with_policy(
        "r",
        Policy {
            retry: Some(retry(1, 500)),
            ..Policy::default()
        },
    ));
    h.ready(0);
    let first = h.runs(0)[0].0;
    h.fail(0, first);
    let retries = h.of_type("retry");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0]["attempt"], 1);
    assert!(retries[0]["nextRunAt"]["$date"].is_i64());
    assert_eq!(h.runs(0).len(), 1, "not again before its delay");
    h.advance(Duration::from_millis(500)).await;
    let second = h.runs(0)[1].0;
    h.fail(0, second);
    let errors = h.of_type("error");
    assert_eq!(errors.len(), 1, "the last attempt's failure is the error");
    assert_eq!(task_id(&errors[0]), "r");
}

#[tokio::test(start_paused = true)]
async fn the_clusters_retry_applies_to_tasks_that_set_none() {
    let mut h = harness(Config {
        retry: Some(retry(2, 100)),
        ..config(1)
    });
    h.add("plain", 1);
    h.ready(0);
    let run = h.runs(0)[0].0;
    h.fail(0, run);
    assert_eq!(h.of_type("retry").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_past_its_timeout_has_its_signal_aborted_then_its_worker_stopped_after_cancel_grace()
{
    let mut h = harness(config(1));
    h.add_task(with_policy(
        "slow",
        Policy {
            timeout: Some(Duration::from_millis(300)),
            ..Policy::default()
        },
    ));
    h.add("behind", 0);
    h.ready(0);
    let runs = h.runs(0);
    h.worker(0).borrow_mut().running = runs[0].0;
    h.advance(Duration::from_millis(299)).await;
    assert!(h.messages(0, "abort").is_empty());
    h.advance(Duration::from_millis(1)).await;
    let aborts = h.messages(0, "abort");
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0]["run"], runs[0].0);
    assert_eq!(aborts[0]["reason"]["code"], "ERR_TASK_TIMEOUT");
    assert!(
        h.worker(0).borrow().signals.is_empty(),
        "the worker is not stopped yet"
    );
    h.advance(Duration::from_millis(4999)).await;
    assert!(h.worker(0).borrow().signals.is_empty());
    h.advance(Duration::from_millis(1)).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Term]);
    h.advance(deadlines::KILL_GRACE).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Term, Signal::Kill]);
    h.exit(
        0,
        Exit {
            code: None,
            signal: Some("SIGKILL".into()),
        },
    );
    let errors = h.of_type("error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["value"]["name"], "TaskTimeoutError");
    assert_eq!(errors[0]["value"]["code"], "ERR_TASK_TIMEOUT");
    let message = errors[0]["value"]["message"].as_str().unwrap();
    assert!(message.contains("timeout of 300 ms") && message.contains("worker was stopped"));
    // The run behind it never started: it goes to the next worker.
    h.ready(1);
    assert_eq!(h.runs(1)[0].1, "behind");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_ends_within_cancel_grace_of_its_timeout_fails_with_it_and_its_worker_keeps_serving(
) {
    let mut h = harness(config(1));
    h.add_task(with_policy(
        "coop",
        Policy {
            timeout: Some(Duration::from_millis(300)),
            ..Policy::default()
        },
    ));
    h.add("behind", 0);
    h.ready(0);
    let runs = h.runs(0);
    h.worker(0).borrow_mut().running = runs[0].0;
    h.advance(Duration::from_millis(300)).await;
    assert_eq!(h.messages(0, "abort").len(), 1);
    // The task saw its signal and returned: it still timed out.
    h.done(0, runs[0].0);
    let errors = h.of_type("error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["value"]["code"], "ERR_TASK_TIMEOUT");
    assert!(!errors[0]["value"]["message"]
        .as_str()
        .unwrap()
        .contains("worker was stopped"));
    h.advance(Duration::from_secs(10)).await;
    assert!(
        h.worker(0).borrow().signals.is_empty(),
        "its worker serves on"
    );
    h.done(0, runs[1].0);
    assert_eq!(h.of_type("done").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_series_runs_again_at_its_next_time_under_the_same_id() {
    let mut h = harness(config(1));
    let every = Repeat::parse(RepeatSpec::Every { every: 1000 }).unwrap();
    h.add_task(with_policy(
        "tick",
        Policy {
            repeat: Some(every),
            ..Policy::default()
        },
    ));
    h.ready(0);
    let first = h.runs(0)[0].0;
    h.done(0, first);
    assert_eq!(h.of_type("done").len(), 1);
    assert_eq!(h.runs(0).len(), 1, "the next run waits for its time");
    // Adding the series again succeeds and changes nothing.
    assert!(h.add_call(with_policy(
        "tick",
        Policy {
            repeat: Some(Repeat::parse(RepeatSpec::Every { every: 1000 }).unwrap()),
            ..Policy::default()
        },
    )));
    h.advance(Duration::from_millis(1100)).await;
    let ids: Vec<String> = h.runs(0).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, ["tick", "tick"]);
}

impl Harness {
    /// The `dueDate` (ms) of each run sent to worker `n`, in order.
    fn run_due_dates(&self, n: usize) -> Vec<i64> {
        self.worker(n)
            .borrow()
            .received
            .iter()
            .filter(|m| m.is_array())
            .map(|m| m[1][4].as_i64().unwrap())
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_retried_run_of_a_series_leaves_the_series_on_its_grid() {
    let mut h = harness(config(1));
    let due = crate::task::now_ms();
    h.add_task(Task {
        due_date: due,
        ..with_policy(
            "tick",
            Policy {
                retry: Some(retry(1, 3000)),
                repeat: Some(Repeat::parse(RepeatSpec::Every { every: 10_000 }).unwrap()),
                ..Policy::default()
            },
        )
    });
    h.ready(0);
    h.fail(0, h.runs(0)[0].0);
    h.advance(Duration::from_millis(3000)).await;
    h.done(0, h.runs(0)[1].0);
    h.advance(Duration::from_millis(7000)).await;
    let dues = h.run_due_dates(0);
    assert_eq!(dues.len(), 3, "the retry, then the next occurrence");
    assert_eq!(dues[1], due + 3000, "the retry is due after its delay");
    assert_eq!(
        dues[2],
        due + 10_000,
        "the next occurrence is on the grid of the first"
    );
    // And the one after it too (no slot left over from the retry).
    h.done(0, h.runs(0)[2].0);
    h.advance(Duration::from_millis(10_000)).await;
    assert_eq!(h.run_due_dates(0)[3], due + 20_000);
}

#[tokio::test(start_paused = true)]
async fn pause_recalls_what_waits_in_workers_and_starts_nothing_until_resume() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 3), ("b", 2), ("c", 1)]);
    let runs = h.runs(0);
    h.d.command(Cmd::Pause).unwrap();
    let recalled: Vec<u64> =
        serde_json::from_value(h.messages(0, "recall")[0]["runs"].clone()).unwrap();
    assert_eq!(recalled, [runs[1].0, runs[2].0]);
    h.frame(0, &format!(r#"{{"type":"recalled","runs":{recalled:?}}}"#));
    h.done(0, runs[0].0);
    assert_eq!(h.runs(0).len(), 3, "nothing new while paused");
    h.d.command(Cmd::Resume).unwrap();
    assert_eq!(h.runs(0).len(), 5, "b and c run after resume");
}

#[tokio::test(start_paused = true)]
async fn close_with_a_timeout_stops_the_running_task_and_hands_it_back_unfailed() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("long", 1)]);
    let run = h.runs(0)[0].0;
    h.worker(0).borrow_mut().running = run;
    h.d.command(Cmd::Close {
        timeout: Some(Duration::from_millis(100)),
    })
    .unwrap();
    h.advance(Duration::from_millis(100)).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Term]);
    h.exit(
        0,
        Exit {
            code: None,
            signal: Some("SIGTERM".into()),
        },
    );
    let events = h.events();
    assert!(events.iter().all(|e| e["type"] != "error"), "{events:?}");
    assert_eq!(events.last().unwrap()["type"], "closed");
    let queued: Vec<Value> = serde_json::from_str(&h.d.answer(Query::Tasks).unwrap()).unwrap();
    assert_eq!(queued.len(), 1, "the task is back in its queue");
    assert_eq!(queued[0]["onGoing"], false);
}
