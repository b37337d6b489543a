//! The dispatcher against fake workers, on tokio's paused clock: no
//! processes, no sleeps. A fake worker records the messages written to it and
//! replies by putting frames in its "ring".

use super::{deadlines, scaling, Dispatcher};
use crate::channel::ring::Corrupt;
use crate::error::{Code, CodedError};
use crate::master::api::{Cmd, Config, KeepAlive, Query};
use crate::master::inbox::Input;
use crate::master::persistent::StoreLink;
use crate::master::process::{Link, Spawner};
use crate::sys::{Exit, Signal, SpawnSpec};
use crate::task::Task;
use crate::wire::framing::{self, FrameKind, Source};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct FakeWorker {
    /// Messages written to it, in order.
    received: Vec<Value>,
    /// Frame bytes it wrote, not read by the master yet.
    ring: Vec<u8>,
    running: u64,
    signals: Vec<Signal>,
    reaped: bool,
    /// Reports of its socket's writer that reached it.
    written: usize,
    /// What it wrote to stderr.
    stderr: String,
    /// Its resident memory.
    rss: Option<u64>,
    /// How the master last armed it: lazily (`Link::arm`).
    armed_lazily: bool,
}

type Shared = Rc<RefCell<FakeWorker>>;

struct FakeLink(Shared);

impl Source for FakeLink {
    fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
        let mut w = self.0.borrow_mut();
        let n = w.ring.len().min(max);
        out.extend(w.ring.drain(..n));
        Ok(n)
    }
}

impl Link for FakeLink {
    fn pid(&self) -> u32 {
        4242
    }
    fn take_js_fd(&mut self) -> Option<i32> {
        None
    }
    fn send(&mut self, chunks: Vec<bytes::Bytes>) {
        let mut w = self.0.borrow_mut();
        for (json, _) in framing::messages(&chunks.concat()).unwrap() {
            let messages: Vec<Value> = serde_json::from_slice(&json).unwrap();
            w.received.extend(messages);
        }
    }
    fn written(&mut self) {
        self.0.borrow_mut().written += 1;
    }
    fn arm(&self, lazy: bool) -> bool {
        let mut w = self.0.borrow_mut();
        w.armed_lazily = lazy;
        w.ring.is_empty()
    }
    fn running(&self) -> u64 {
        self.0.borrow().running
    }
    fn signal(&self, signal: Signal) {
        assert!(!self.0.borrow().reaped, "a reaped worker was signalled");
        self.0.borrow_mut().signals.push(signal);
    }
    fn reap(&mut self) {
        self.0.borrow_mut().reaped = true;
    }
    fn stderr_tail(&self) -> String {
        self.0.borrow().stderr.clone()
    }
    fn rss_bytes(&self) -> Option<u64> {
        self.0.borrow().rss
    }
}

#[derive(Default, Clone)]
struct FakeSpawner {
    workers: Rc<RefCell<Vec<Shared>>>,
    /// Spawns fail while this is set.
    failing: Rc<RefCell<bool>>,
}

impl Spawner for FakeSpawner {
    fn spawn(&mut self, _id: u32, _spec: &SpawnSpec) -> std::io::Result<Box<dyn Link>> {
        if *self.failing.borrow() {
            return Err(std::io::Error::other("no more processes"));
        }
        let worker = Shared::default();
        self.workers.borrow_mut().push(worker.clone());
        Ok(Box::new(FakeLink(worker)))
    }
}

impl Dispatcher {
    /// Queues an in-memory task, as a JS call does, and looks again.
    fn add_task(&mut self, task: Task) -> Result<(), CodedError> {
        let result = self
            .queue
            .push(task, crate::task::now_ms())
            .map_err(|_| CodedError::new(Code::DuplicateId, "duplicate"));
        self.inputs(Vec::new());
        result
    }
}

struct Harness {
    d: Dispatcher,
    spawner: FakeSpawner,
}

fn harness(config: Config) -> Harness {
    let spawner = FakeSpawner::default();
    let store = StoreLink {
        report: Arc::new(|_| {}),
        runtime: None,
    };
    let mut d = Dispatcher::new(Box::new(spawner.clone()), store, config);
    d.command(Cmd::Initialize).unwrap();
    Harness { d, spawner }
}

fn config(workers: usize) -> Config {
    Config {
        max_workers: workers,
        logs: crate::log::Level::Error,
        ..Config::default()
    }
}

fn task(id: &str, priority: i64, data: &str) -> Task {
    Task {
        id: id.into(),
        task_type: "T".into(),
        priority,
        created_at: 0,
        due_date: 0,
        data: data.into(),
        ..Task::default()
    }
}

impl Harness {
    fn add(&mut self, id: &str, priority: i64) {
        self.d.add_task(task(id, priority, "{}")).unwrap();
    }

    fn worker(&self, n: usize) -> Shared {
        self.spawner.workers.borrow()[n].clone()
    }

    fn workers(&self) -> usize {
        self.spawner.workers.borrow().len()
    }

    /// Worker `n` writes a frame (the master reads it at its next look).
    fn frame(&mut self, n: usize, json: &str) {
        framing::push_frame(
            &mut self.worker(n).borrow_mut().ring,
            FrameKind::Json,
            json.as_bytes(),
        );
        self.d.inputs(Vec::new());
    }

    fn ready(&mut self, n: usize) {
        self.frame(n, r#"{"type":"ready"}"#);
    }

    /// Runs sent to worker `n`, as (run, task id).
    fn runs(&self, n: usize) -> Vec<(u64, String)> {
        self.worker(n)
            .borrow()
            .received
            .iter()
            .filter(|m| m.is_array())
            .map(|m| (m[0].as_u64().unwrap(), m[1][0].as_str().unwrap().to_owned()))
            .collect()
    }

    fn messages(&self, n: usize, kind: &str) -> Vec<Value> {
        self.worker(n)
            .borrow()
            .received
            .iter()
            .filter(|m| m["type"] == kind)
            .cloned()
            .collect()
    }

    /// The events, with each `doneBatch` read back into `done` events, as
    /// the facade reads them.
    fn events(&mut self) -> Vec<Value> {
        let events: Vec<Value> = serde_json::from_str(&self.d.take_events().0).unwrap();
        events.into_iter().flat_map(done_events).collect()
    }

    fn exit(&mut self, n: usize, exit: Exit) {
        self.d.inputs(vec![Input::WorkerExited {
            worker: n as u32 + 1,
            exit,
        }]);
    }

    /// A counter of `stats()`.
    fn counter(&mut self, name: &str) -> u64 {
        let stats: Value = serde_json::from_str(&self.d.answer(Query::Stats).unwrap()).unwrap();
        stats["counters"][name].as_u64().unwrap()
    }

    async fn advance(&mut self, by: Duration) {
        tokio::time::advance(by).await;
        self.d.inputs(Vec::new());
    }
}

/// Each `doneBatch` read back into `done` events (their tasks as rows).
fn done_events(event: Value) -> Vec<Value> {
    if event["type"] != "doneBatch" {
        return vec![event];
    }
    let column = |name: &str| event[name].as_array().unwrap().clone();
    let (ids, types, priorities) = (column("ids"), column("types"), column("priorities"));
    let (created, due, data, values) = (
        column("createdAt"),
        column("dueDates"),
        column("data"),
        column("values"),
    );
    let undefined = column("undefinedAt");
    (0..ids.len())
        .map(|i| {
            let task = serde_json::json!([
                ids[i],
                types[i],
                priorities[i],
                created[i],
                due[i],
                data[i],
                true
            ]);
            match undefined.contains(&i.into()) {
                true => serde_json::json!({ "type": "done", "task": task }),
                false => serde_json::json!({ "type": "done", "task": task, "value": values[i] }),
            }
        })
        .collect()
}

fn task_id(event: &Value) -> String {
    event["task"][0].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn a_worker_is_spawned_for_work_and_gets_tasks_once_ready_best_first() {
    let mut h = harness(config(1));
    h.add("low", 1);
    h.add("high", 5);
    assert_eq!(h.workers(), 1);
    assert!(h.runs(0).is_empty(), "nothing before the worker is ready");
    h.ready(0);
    let ids: Vec<String> = h.runs(0).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, ["high", "low"]);
}

#[tokio::test(start_paused = true)]
async fn a_better_task_added_later_recalls_the_runs_it_outranks() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 1), ("b", 1), ("c", 1)]);
    let runs = h.runs(0);
    h.add("urgent", 9);
    let recalls = h.messages(0, "recall");
    assert_eq!(recalls.len(), 1);
    let recalled: Vec<u64> = serde_json::from_value(recalls[0]["runs"].clone()).unwrap();
    // The first run is running; the ones behind it are recalled.
    assert_eq!(recalled, vec![runs[1].0, runs[2].0]);
    // The worker hands them back: the better task goes first, then them.
    h.frame(0, &format!(r#"{{"type":"recalled","runs":{recalled:?}}}"#));
    let after: Vec<String> = h.runs(0)[3..].iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(after, ["urgent", "b", "c"]);
}

impl Harness {
    fn ready_with_work(&mut self, tasks: &[(&str, i64)]) {
        for (id, priority) in tasks {
            self.add(id, *priority);
        }
        self.ready(0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_holds_at_most_about_a_mib_of_task_data_ahead() {
    let mut h = harness(config(1));
    let blob = format!(r#"{{"blob":"{}"}}"#, "x".repeat(300_000));
    for n in 0..10 {
        h.d.add_task(task(&format!("big{n}"), 1, &blob)).unwrap();
    }
    h.ready(0);
    let held = h.runs(0).len();
    assert!((2..=5).contains(&held), "held {held} runs of 300 kB");
}

#[tokio::test(start_paused = true)]
async fn a_new_worker_becoming_ready_gets_a_share_of_the_runs_sent_ahead() {
    let mut h = harness(config(2));
    for n in 0..6 {
        h.add(&format!("t{n}"), 1);
    }
    h.ready(0);
    assert_eq!(h.runs(0).len(), 6, "the only ready worker took them all");
    h.ready(1);
    let recalled: Vec<u64> =
        serde_json::from_value(h.messages(0, "recall")[0]["runs"].clone()).unwrap();
    assert_eq!(recalled.len(), 5, "all but the running one");
    h.frame(0, &format!(r#"{{"type":"recalled","runs":{recalled:?}}}"#));
    assert!(!h.runs(1).is_empty(), "the new worker got some");
}

#[tokio::test(start_paused = true)]
async fn a_dead_worker_fails_only_the_run_it_had_started_and_its_finished_runs_count() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 3), ("b", 2), ("c", 1)]);
    let runs = h.runs(0);
    // It finished a, started b, and died: a's reply is in its ring.
    {
        let w = h.worker(0);
        let mut w = w.borrow_mut();
        framing::push_frame(
            &mut w.ring,
            FrameKind::Json,
            format!(r#"{{"type":"done","run":{},"value":7}}"#, runs[0].0).as_bytes(),
        );
        w.running = runs[1].0;
    }
    h.exit(
        0,
        Exit {
            code: None,
            signal: Some("SIGKILL".into()),
        },
    );
    let events = h.events();
    let kinds: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["type"] == "done" || e["type"] == "error")
        .map(|e| (e["type"].as_str().unwrap().to_owned(), task_id(e)))
        .collect();
    let expected = [("done", "a"), ("error", "b")].map(|(k, id)| (k.to_owned(), id.to_owned()));
    assert_eq!(kinds, expected);
    let error = events.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(error["value"]["code"], "ERR_WORKER_EXIT");
    assert_eq!(error["value"]["signal"], "SIGKILL");
    assert!(h.worker(0).borrow().reaped);
    // c never started: it goes to the replacement worker.
    assert_eq!(h.workers(), 2);
    h.ready(1);
    let ids: Vec<String> = h.runs(1).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, ["c"]);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_dies_between_runs_fails_none() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 1)]);
    let run = h.runs(0)[0].0;
    h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
    // Its last started run is a, already answered.
    h.worker(0).borrow_mut().running = run;
    h.exit(0, Exit::default());
    let errors: Vec<Value> = h
        .events()
        .into_iter()
        .filter(|e| e["type"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_worker_stops_after_refresh_rate_and_is_killed_if_it_does_not_exit() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 1)]);
    let run = h.runs(0)[0].0;
    h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
    h.advance(Duration::from_millis(999)).await;
    assert!(h.messages(0, "stop").is_empty(), "not before refreshRate");
    h.advance(Duration::from_millis(2)).await;
    assert_eq!(h.messages(0, "stop").len(), 1);
    h.advance(scaling::STOP_GRACE).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Kill]);
}

#[tokio::test(start_paused = true)]
async fn js_hears_of_the_timer_only_when_it_is_earlier_or_went_off() {
    let timers = |events: Vec<Value>| -> Vec<f64> {
        events
            .iter()
            .filter(|e| e["type"] == "timer")
            .map(|e| e["ms"].as_f64().unwrap())
            .collect()
    };
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 1)]);
    let run = h.runs(0)[0].0;
    h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
    let first = timers(h.events());
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        (999.0..=1000.0).contains(&first[0]),
        "refreshRate: {first:?}"
    );
    h.add("b", 1);
    h.advance(Duration::from_millis(10)).await;
    let run = h.runs(0)[1].0;
    h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
    assert!(
        timers(h.events()).is_empty(),
        "a later idle deadline: not told"
    );
    h.advance(Duration::from_millis(990)).await;
    h.d.timer_fired();
    let again = timers(h.events());
    assert_eq!(again.len(), 1, "told again after it went off: {again:?}");
    assert!((9.0..=10.0).contains(&again[0]), "{again:?}");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_keeps_idle_workers_that_long_or_always() {
    for (keep_alive, stopped_at_2s, stopped_at_4s) in [
        (KeepAlive::For(Duration::from_secs(3)), false, true),
        (KeepAlive::Always, false, false),
    ] {
        let mut h = harness(Config {
            keep_alive,
            ..config(1)
        });
        if keep_alive == KeepAlive::Always {
            assert_eq!(h.workers(), 1, "always: started without work");
        }
        h.ready_with_work(&[("a", 1)]);
        let run = h.runs(0)[0].0;
        h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
        h.advance(Duration::from_secs(2)).await;
        assert_eq!(!h.messages(0, "stop").is_empty(), stopped_at_2s);
        h.advance(Duration::from_secs(2)).await;
        assert_eq!(
            !h.messages(0, "stop").is_empty(),
            stopped_at_4s,
            "{keep_alive:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_never_gets_ready_is_killed_as_a_start_failure_and_another_tried_after_the_backoff(
) {
    let mut h = harness(Config {
        worker_start_timeout: Duration::from_secs(2),
        ..config(1)
    });
    h.add("a", 1);
    h.advance(Duration::from_millis(1999)).await;
    assert!(h.worker(0).borrow().signals.is_empty());
    h.advance(Duration::from_millis(1)).await;
    assert_eq!(h.worker(0).borrow().signals, [Signal::Kill]);
    h.exit(0, Exit::default());
    assert_eq!(h.counter("workerStartFailures"), 1);
    assert_eq!(h.workers(), 1, "not at once: spawning backs off");
    h.advance(scaling::SPAWN_BACKOFF).await;
    assert_eq!(h.workers(), 2);
    h.ready(1);
    assert_eq!(h.runs(1)[0].1, "a", "the queued task waited, unfailed");
}

#[tokio::test(start_paused = true)]
async fn workers_that_die_while_starting_are_replaced_after_a_growing_backoff() {
    let mut h = harness(config(1));
    h.add("a", 1);
    h.exit(0, Exit::default());
    assert_eq!(h.workers(), 1, "no new worker at once");
    h.advance(scaling::SPAWN_BACKOFF).await;
    assert_eq!(h.workers(), 2);
    h.exit(1, Exit::default());
    h.advance(scaling::SPAWN_BACKOFF).await;
    assert_eq!(h.workers(), 2, "the backoff doubled");
    h.advance(scaling::SPAWN_BACKOFF).await;
    assert_eq!(h.workers(), 3);
    h.ready(2);
    assert_eq!(h.runs(2).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_spawn_is_retried_after_the_backoff() {
    let mut h = harness(config(1));
    *h.spawner.failing.borrow_mut() = true;
    h.add("a", 1);
    assert_eq!(h.workers(), 0);
    *h.spawner.failing.borrow_mut() = false;
    h.advance(scaling::SPAWN_BACKOFF - Duration::from_millis(1))
        .await;
    assert_eq!(h.workers(), 0);
    h.advance(Duration::from_millis(1)).await;
    assert_eq!(h.workers(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_socket_writer_s_report_reaches_its_worker_and_no_other() {
    let mut h = harness(config(1));
    h.add("a", 1);
    h.ready(0);
    h.d.inputs(vec![Input::Written { worker: 1 }]);
    h.d.inputs(vec![Input::Written { worker: 99 }]);
    assert_eq!(h.worker(0).borrow().written, 1);
}

#[tokio::test(start_paused = true)]
async fn close_stops_every_worker_once_their_runs_are_done_then_says_closed() {
    let mut h = harness(config(1));
    h.ready_with_work(&[("a", 1)]);
    let run = h.runs(0)[0].0;
    h.d.command(Cmd::Close { timeout: None }).unwrap();
    assert!(h.messages(0, "stop").is_empty(), "a runs to its end first");
    h.frame(0, &format!(r#"{{"type":"done","run":{run}}}"#));
    assert_eq!(h.messages(0, "stop").len(), 1);
    h.exit(0, Exit::default());
    let events = h.events();
    assert_eq!(events.last().unwrap()["type"], "closed");
    assert!(!h.d.busy());
}

mod policy;
mod steering;

/// The master's next look on its own (the last `timer` event), in ms.
fn timer_ms(h: &mut Harness) -> Option<f64> {
    let events: Vec<Value> = serde_json::from_str(&h.d.take_events().0).unwrap();
    events
        .iter()
        .filter(|e| e["type"] == "timer")
        .filter_map(|e| e["ms"].as_f64())
        .next_back()
}

/// One ready worker that was sent `n` tasks ahead; their runs.
fn sent_ahead(n: usize) -> (Harness, Vec<u64>) {
    let mut h = harness(Config {
        prefetch: 64,
        ..config(1)
    });
    for i in 0..n {
        h.add(&format!("t{i}"), 1);
    }
    h.ready(0);
    let runs: Vec<u64> = h.runs(0).into_iter().map(|(run, _)| run).collect();
    assert_eq!(runs.len(), n, "all sent ahead");
    (h, runs)
}

#[tokio::test(start_paused = true)]
async fn a_worker_busy_with_short_runs_is_armed_lazily_and_the_master_looks_again_on_its_own() {
    let (mut h, runs) = sent_ahead(40);
    let done = |run: u64| format!(r#"{{"type":"done","run":{run}}}"#);
    assert!(!h.worker(0).borrow().armed_lazily, "no pace seen yet");
    // Runs of a millisecond with many behind: its replies may wait, and
    // the master comes back within LAZY_LOOK.
    h.advance(Duration::from_millis(1)).await;
    h.frame(0, &done(runs[0]));
    assert!(h.worker(0).borrow().armed_lazily);
    let look = timer_ms(&mut h).expect("the master set a timer to look again");
    assert!(
        look <= super::pool::LAZY_LOOK.as_secs_f64() * 1000.0,
        "{look} ms"
    );
    // The look reads what waited, as a wake-up would have.
    h.frame(0, &done(runs[1]));
    h.frame(0, &done(runs[2]));
    h.advance(Duration::from_millis(4)).await;
    assert_eq!(h.counter("done"), 3);
    // A long run: replies wake the master again.
    h.advance(Duration::from_millis(30)).await;
    h.frame(0, &done(runs[3]));
    assert!(!h.worker(0).borrow().armed_lazily, "runs are long now");
    // Short again, but only a few behind: every reply wakes it.
    for &run in &runs[4..37] {
        h.advance(Duration::from_micros(500)).await;
        h.frame(0, &done(run));
    }
    assert!(
        !h.worker(0).borrow().armed_lazily,
        "2 behind: it would run dry"
    );
    assert_eq!(h.counter("done"), 37);
}

#[tokio::test(start_paused = true)]
async fn a_runs_time_is_its_workers_when_its_done_or_failed_frame_says() {
    let (mut h, runs) = sent_ahead(3);
    // The three replies are read in one look 10 ms on (as after a lazy
    // wait): by the master's clock the runs took 10, 0 and 0 ms.
    tokio::time::advance(Duration::from_millis(10)).await;
    for (i, &run) in runs.iter().enumerate() {
        let frame = if i == 1 {
            format!(r#"{{"type":"failed","run":{run},"us":1500,"error":{{"message":"x"}}}}"#)
        } else {
            format!(r#"{{"type":"done","run":{run},"us":1500}}"#)
        };
        framing::push_frame(
            &mut h.worker(0).borrow_mut().ring,
            FrameKind::Json,
            frame.as_bytes(),
        );
    }
    h.d.inputs(Vec::new());
    assert_eq!((h.counter("done"), h.counter("failed")), (2, 1));
    let gauges = crate::master::metrics::Gauges {
        depth: Vec::new(),
        running: 0,
        workers: Vec::new(),
        reachable: None,
    };
    let run =
        h.d.metrics
            .family_json(&gauges, "meteor_cluster_task_run_seconds");
    let sample = |name: &str, le: Option<&str>| {
        run["samples"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name && le.is_none_or(|le| s["labels"][1][1] == le))
            .map(|s| s["value"].as_f64().unwrap())
            .unwrap()
    };
    let sum = sample("meteor_cluster_task_run_seconds_sum", None);
    assert!(
        (sum - 0.0045).abs() < 1e-9,
        "the workers' 3 × 1.5 ms, not {sum}"
    );
    assert_eq!(
        sample("meteor_cluster_task_run_seconds_bucket", Some("0.0025")),
        3.0
    );
}
