//! Steering while tasks run: progress, cancel, worker recycling, against
//! fake workers on the paused clock.

use super::*;
use crate::master::api::Recycling;
use crate::policy::{Backoff, Policy, Retry};
use crate::wire::request::Op;
use serde_json::value::RawValue;

impl Harness {
    /// `TaskQueue.cancel` from JS with these arguments; its reply's value.
    fn cancel(&mut self, args: &str) -> Value {
        let args = RawValue::from_string(args.to_owned()).unwrap();
        self.d
            .command(Cmd::Request {
                req: 9,
                op: Op::Cancel,
                args,
                blobs: Vec::new(),
            })
            .unwrap();
        let replies = self.only("reply");
        assert_eq!(replies.len(), 1, "answered");
        assert_eq!(replies[0]["ok"], true, "{}", replies[0]);
        replies[0]["value"].clone()
    }

    fn only(&mut self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    fn reply_done(&mut self, n: usize, run: u64) {
        self.frame(n, &format!(r#"{{"type":"done","run":{run},"value":1}}"#));
    }
}

#[tokio::test(start_paused = true)]
async fn a_queued_in_memory_task_cancelled_by_id_ends_at_once_with_its_reason_and_is_counted() {
    let mut h = harness(config(1));
    h.add("queued", 1);
    // Nothing counts a task that is not there.
    assert_eq!(h.cancel(r#"{"id":"nope"}"#), 0);
    let mut events = Vec::new();
    let args = r#"{"id":"queued","reason":"no longer needed"}"#;
    let args = RawValue::from_string(args.to_owned()).unwrap();
    h.d.command(Cmd::Request {
        req: 9,
        op: Op::Cancel,
        args,
        blobs: Vec::new(),
    })
    .unwrap();
    events.extend(h.events());
    let error = events.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(error["value"]["code"], "ERR_TASK_CANCELLED");
    assert_eq!(error["value"]["name"], "TaskCancelledError");
    assert_eq!(error["value"]["message"], "no longer needed");
    assert_eq!(error["task"][0], "queued");
    let reply = events.iter().find(|e| e["type"] == "reply").unwrap();
    assert_eq!(reply["value"], 1);
    assert!(h.d.queue.get("queued").is_none());
    h.ready(0);
    assert!(h.runs(0).is_empty(), "it never runs");
}

#[tokio::test(start_paused = true)]
async fn a_running_task_cancelled_has_its_signal_aborted_ends_cancelled_whatever_it_answers_and_is_never_retried(
) {
    let mut h = harness(config(1));
    let retry = Retry {
        limit: 3,
        delay: 10,
        backoff: Backoff::Fixed,
    };
    h.d.queue
        .push(
            Task {
                policy: Some(Arc::new(Policy {
                    retry: Some(retry),
                    ..Policy::default()
                })),
                ..task("running", 1, "{}")
            },
            0,
        )
        .unwrap();
    h.add("behind", 0);
    h.ready(0);
    let runs = h.runs(0);
    h.worker(0).borrow_mut().running = runs[0].0;
    assert_eq!(h.cancel(r#"{"id":"running"}"#), 1);
    let aborts = h.messages(0, "abort");
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0]["run"], runs[0].0);
    assert_eq!(aborts[0]["reason"]["code"], "ERR_TASK_CANCELLED");
    // Cancelling it again counts nothing more.
    assert_eq!(h.cancel(r#"{"id":"running"}"#), 0);
    h.reply_done(0, runs[0].0);
    let events = h.events();
    assert!(events
        .iter()
        .all(|e| e["type"] != "retry" && e["type"] != "done"));
    let errors: Vec<&Value> = events.iter().filter(|e| e["type"] == "error").collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["value"]["code"], "ERR_TASK_CANCELLED");
    h.advance(Duration::from_secs(1)).await;
    assert!(h.d.queue.get("running").is_none(), "not queued for a retry");
    assert!(
        h.worker(0).borrow().signals.is_empty(),
        "its worker serves on"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_run_that_does_not_end_within_cancel_grace_has_its_worker_stopped_and_the_runs_behind_go_back(
) {
    let mut h = harness(Config {
        cancel_grace: Duration::from_millis(1000),
        ..config(1)
    });
    h.add("spins", 1);
    h.add("behind", 0);
    h.ready(0);
    let runs = h.runs(0);
    h.worker(0).borrow_mut().running = runs[0].0;
    assert_eq!(h.cancel(r#"{"id":"spins","reason":"stop"}"#), 1);
    h.advance(Duration::from_millis(999)).await;
    assert!(h.worker(0).borrow().signals.is_empty());
    h.advance(Duration::from_millis(1)).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Term]);
    h.exit(
        0,
        Exit {
            code: None,
            signal: Some("SIGTERM".into()),
        },
    );
    let errors = h.only("error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["task"][0], "spins");
    assert_eq!(errors[0]["value"]["code"], "ERR_TASK_CANCELLED");
    assert!(errors[0]["value"]["message"]
        .as_str()
        .unwrap()
        .starts_with("stop; "));
    h.advance(Duration::from_millis(1)).await;
    h.ready(1);
    assert_eq!(
        h.runs(1)[0].1,
        "behind",
        "sent ahead, it went back unharmed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_reports_progress_as_events_and_an_in_memory_task_shows_its_latest_until_it_is_retried(
) {
    let mut h = harness(config(1));
    h.d.add_task(Task {
        policy: Some(Arc::new(Policy {
            retry: Some(Retry {
                limit: 1,
                delay: 10,
                backoff: Backoff::Fixed,
            }),
            ..Policy::default()
        })),
        ..task("long", 1, "{}")
    })
    .unwrap();
    h.ready(0);
    let run = h.runs(0)[0].0;
    h.frame(
        0,
        &format!(r#"{{"type":"progress","run":{run},"value":40}}"#),
    );
    h.frame(
        0,
        &format!(r#"{{"type":"progress","run":{run},"value":{{"step":"b"}}}}"#),
    );
    let progress = h.only("progress");
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0]["value"], 40);
    assert_eq!(progress[1]["value"]["step"], "b");
    assert_eq!(progress[1]["task"][0], "long");
    let shown: Value =
        serde_json::from_str(&h.d.answer(Query::FindById("long".into())).unwrap()).unwrap();
    assert_eq!(shown["progress"]["step"], "b");
    h.frame(
        0,
        &format!(r#"{{"type":"failed","run":{run},"error":{{"name":"Error","message":"boom"}}}}"#),
    );
    let shown: Value =
        serde_json::from_str(&h.d.answer(Query::FindById("long".into())).unwrap()).unwrap();
    assert!(shown.get("progress").is_none(), "a retry starts with none");
}

#[tokio::test(start_paused = true)]
async fn a_worker_is_retired_after_worker_max_tasks_runs_and_replaced_with_no_task_lost_or_run_twice(
) {
    let mut h = harness(Config {
        recycling: Recycling {
            max_runs: Some(3),
            max_memory: None,
        },
        ..config(1)
    });
    for i in 0..7 {
        h.add(&format!("t{i}"), 1);
    }
    h.ready(0);
    let sent = h.runs(0);
    assert_eq!(sent.len(), 3, "a worker is sent no more than it may run");
    for (run, _) in &sent {
        h.reply_done(0, *run);
    }
    assert_eq!(h.messages(0, "stop").len(), 1, "retired, then stopped");
    assert_eq!(h.counter("workersRetired"), 1);
    h.exit(0, Exit::default());
    assert_eq!(h.workers(), 2, "a fresh worker takes over");
    h.ready(1);
    let next = h.runs(1);
    assert_eq!(next.len(), 3);
    let mut seen: Vec<String> = sent.iter().chain(&next).map(|(_, id)| id.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "each task sent once");
}

#[tokio::test(start_paused = true)]
async fn a_worker_over_worker_max_memory_is_retired_after_its_run_and_hands_back_what_was_sent_ahead(
) {
    let mut h = harness(Config {
        recycling: Recycling {
            max_runs: None,
            max_memory: Some(100 << 20),
        },
        ..config(1)
    });
    for i in 0..4 {
        h.add(&format!("t{i}"), 1);
    }
    h.ready(0);
    let sent = h.runs(0);
    assert_eq!(sent.len(), 4);
    h.worker(0).borrow_mut().rss = Some(150 << 20);
    h.reply_done(0, sent[0].0);
    let recalls = h.messages(0, "recall");
    assert_eq!(recalls.len(), 1, "what waits behind the next run goes back");
    let recalled: Vec<u64> = recalls[0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .collect();
    assert_eq!(recalled, [sent[2].0, sent[3].0]);
    h.frame(
        0,
        &format!(
            r#"{{"type":"recalled","runs":[{},{}]}}"#,
            sent[2].0, sent[3].0
        ),
    );
    assert!(
        h.messages(0, "stop").is_empty(),
        "it finishes the run it runs"
    );
    h.reply_done(0, sent[1].0);
    assert_eq!(h.messages(0, "stop").len(), 1);
    assert_eq!(h.counter("workersRetired"), 1);
    assert_eq!(h.only("done").len(), 2);
    h.exit(0, Exit::default());
    h.ready(1);
    let ids: Vec<String> = h.runs(1).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, ["t2", "t3"]);
}

#[tokio::test(start_paused = true)]
async fn workers_that_fail_to_start_back_off_and_a_ready_one_resets_the_backoff() {
    let mut h = harness(config(1));
    h.add("waits", 1);
    for n in 0..3 {
        h.worker(n).borrow_mut().stderr = "Error: Cannot find module 'x'\n".into();
        h.exit(
            n,
            Exit {
                code: Some(1),
                signal: None,
            },
        );
        assert_eq!(h.workers(), n + 1, "no spawn before the backoff");
        h.advance(scaling::SPAWN_BACKOFF * (1 << n) - Duration::from_millis(1))
            .await;
        assert_eq!(h.workers(), n + 1);
        h.advance(Duration::from_millis(1)).await;
        assert_eq!(h.workers(), n + 2, "spawned after {n} doublings");
    }
    assert_eq!(h.counter("workerStartFailures"), 3);
    assert!(h.only("error").is_empty(), "the queued task is not failed");
    h.ready(3);
    assert_eq!(h.runs(3)[0].1, "waits");
}
