use super::*;
use crate::task::RunOrder;

fn name(s: &str) -> Arc<str> {
    Arc::from(s)
}

fn limits(json: &str) -> Option<Limits> {
    Some(serde_json::from_str(json).unwrap())
}

/// A ready set holding `n` tasks of `t` in `group`, handles from `from`.
fn fill(ready: &mut ReadySet<u32>, t: &Arc<str>, group: Option<&Arc<str>>, from: u32, n: u32) {
    for h in from..from + n {
        let order = RunOrder {
            priority: 0,
            created_at: h as i64,
            seq: h as u64,
        };
        ready.push(t, group, order, h);
    }
}

fn next(ready: &mut ReadySet<u32>) -> Option<u32> {
    ready.pop(0, |_| true).map(|(_, h)| h)
}

#[test]
fn concurrency_blocks_the_type_at_its_limit_and_the_others_run() {
    let (t, other) = (name("REPORT"), name("MAIL"));
    let mut ready = ReadySet::default();
    let mut limiter = Limiter::default();
    limiter.set(&t, limits(r#"{"concurrency":2}"#), [], 0, &mut ready);
    fill(&mut ready, &t, None, 0, 5);
    fill(&mut ready, &other, None, 100, 1);
    for _ in 0..2 {
        assert!(next(&mut ready).unwrap() < 5);
        limiter.sent(&t, None, 0, &mut ready);
    }
    assert!(!limiter.admits("REPORT", None, true, 0));
    assert_eq!(next(&mut ready), Some(100), "the other type runs");
    assert_eq!(next(&mut ready), None);
    limiter.ended(&t, None, 1, &mut ready);
    assert_eq!(next(&mut ready), Some(2));
}

#[test]
fn runs_in_flight_when_a_limit_is_set_count() {
    let t = name("T");
    let mut ready = ReadySet::default();
    let mut limiter = Limiter::default();
    fill(&mut ready, &t, None, 0, 3);
    limiter.set(
        &t,
        limits(r#"{"concurrency":2}"#),
        [None, None],
        0,
        &mut ready,
    );
    assert_eq!(next(&mut ready), None);
    limiter.ended(&t, None, 0, &mut ready);
    assert_eq!(next(&mut ready), Some(0));
    limiter.set(&t, None, [], 0, &mut ready);
    assert_eq!(next(&mut ready), Some(1), "cleared limits unblock");
}

#[test]
fn a_rate_admits_max_sends_per_window_and_its_slack() {
    let t = name("API");
    let mut ready = ReadySet::default();
    let mut limiter = Limiter::default();
    limiter.set(
        &t,
        limits(r#"{"rate":{"max":3,"per":1000}}"#),
        [],
        0,
        &mut ready,
    );
    fill(&mut ready, &t, None, 0, 10);
    assert!(
        !limiter.admits("API", None, false, 0),
        "only to idle workers"
    );
    assert_eq!(ready.pop(1, |_| true), None, "held for idle workers");
    for at in [0, 10, 20] {
        assert!(next(&mut ready).is_some());
        limiter.sent(&t, None, at, &mut ready);
        limiter.ended(&t, None, at + 1, &mut ready);
    }
    assert_eq!(next(&mut ready), None);
    let frees = 1000 + RATE_SLACK_MS;
    assert_eq!(limiter.tick(frees - 1, &mut ready), Some(frees));
    assert_eq!(next(&mut ready), None);
    assert_eq!(limiter.tick(frees, &mut ready), None, "the window has room");
    assert_eq!(next(&mut ready), Some(3));
}

#[test]
fn each_group_has_its_own_bounds_and_the_type_its_own() {
    let t = name("IMPORT");
    let (a, b) = (name("a"), name("b"));
    let mut ready = ReadySet::default();
    let mut limiter = Limiter::default();
    limiter.set(
        &t,
        limits(r#"{"concurrency":3,"perGroup":{"concurrency":1}}"#),
        [],
        0,
        &mut ready,
    );
    fill(&mut ready, &t, Some(&a), 0, 5);
    fill(&mut ready, &t, Some(&b), 10, 5);
    let first = next(&mut ready).unwrap();
    let group = |h: u32| if h < 10 { &a } else { &b };
    limiter.sent(&t, Some(group(first)), 0, &mut ready);
    let second = next(&mut ready).unwrap();
    assert_ne!(first < 10, second < 10, "one of each group");
    limiter.sent(&t, Some(group(second)), 0, &mut ready);
    assert_eq!(next(&mut ready), None, "both groups at their limit");
    limiter.ended(&t, Some(group(first)), 0, &mut ready);
    let third = next(&mut ready).unwrap();
    assert_eq!(third < 10, first < 10, "the group that ended goes again");
}
