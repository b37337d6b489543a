use super::*;
use std::sync::Arc;

fn doc(limits: &str) -> LimitsDoc {
    LimitsDoc {
        version: 1,
        limits: Some(serde_json::from_str(limits).unwrap()),
        ..LimitsDoc::default()
    }
}

fn holding(n: u32, exp: i64) -> Holding {
    Holding {
        n,
        groups: Vec::new(),
        exp,
    }
}

const LEASE: i64 = 30_000;

/// `n` candidates without a group.
fn nones(n: usize) -> Vec<GroupName> {
    vec![None; n]
}

#[test]
fn concurrency_counts_every_live_master_and_mine() {
    let mut d = doc(r#"{"concurrency":5}"#);
    d.held = vec![
        ("other".into(), holding(2, 1000)),
        ("dead".into(), holding(9, 10)),
    ];
    let take = take(
        &d,
        "me",
        &holding(1, 0),
        &[None, None, None, None],
        500,
        LEASE,
        0,
        0,
    );
    assert_eq!(take.admitted, vec![0, 1], "5 - 2 others - 1 mine");
    assert_eq!(take.mine.n, 3);
    assert_eq!(take.mine.exp, 500 + LEASE);
    assert_eq!(take.expired, vec!["dead".to_owned()]);
    assert!(take.starts.is_empty(), "no rate: no starts kept");
}

#[test]
fn my_own_entry_in_the_document_is_replaced_by_what_i_hold() {
    let mut d = doc(r#"{"concurrency":2}"#);
    d.held = vec![("me".into(), holding(2, 1000))];
    let take = take(
        &d,
        "me",
        &holding(0, 0),
        &[None, None, None],
        500,
        LEASE,
        0,
        0,
    );
    assert_eq!(take.admitted, vec![0, 1]);
}

#[test]
fn a_rate_counts_starts_in_its_window_and_slack_and_later_ones() {
    let d = LimitsDoc {
        starts: vec![(0, None), (900, None), (5000, None)],
        ..doc(r#"{"rate":{"max":3,"per":1000}}"#)
    };
    // This master, holding nothing, asks for `pending` at `now`.
    let ask = |pending: &[GroupName], now: i64, lag: i64| {
        take(&d, "me", &Holding::default(), pending, now, LEASE, lag, 0)
    };
    // At 1050: 0 is within 1000 + slack, so all three count.
    let full = ask(&[None], 1050, 0);
    assert!(full.admitted.is_empty());
    // At 1200: 0 left the window; one start is free, and recorded.
    let one = ask(&[None, None], 1200, 0);
    assert_eq!(one.admitted, vec![0]);
    assert_eq!(one.starts, vec![(900, None), (5000, None), (1200, None)]);
    // Recorded `lag` later: the window checked is still now's.
    let lagged = ask(&[None, None], 1200, 300);
    assert_eq!(lagged.admitted, vec![0]);
    assert_eq!(lagged.starts.last(), Some(&(1500, None)));
}

#[test]
fn each_group_is_bounded_on_its_own_and_others_are_skipped_not_stopped() {
    let a: GroupName = Some(Arc::from("a"));
    let b: GroupName = Some(Arc::from("b"));
    let mut d = doc(r#"{"concurrency":10,"perGroup":{"concurrency":1}}"#);
    d.held = vec![(
        "other".into(),
        Holding {
            n: 1,
            groups: vec![(a.clone(), 1)],
            exp: 1000,
        },
    )];
    let take = take(
        &d,
        "me",
        &Holding::default(),
        &[a.clone(), b.clone(), b.clone(), None],
        0,
        LEASE,
        0,
        0,
    );
    assert_eq!(
        take.admitted,
        vec![1, 3],
        "a is held elsewhere; one b; the ungrouped"
    );
    assert_eq!(take.mine.n, 2);
    assert_eq!(take.mine.groups, vec![(b, 1), (None, 1)]);
}

#[test]
fn claims_ahead_fill_at_most_half_the_concurrency_fleet_wide() {
    let mut d = doc(r#"{"concurrency":10}"#);
    d.held = vec![("other".into(), holding(3, 1000))];
    // 2 for workers that would start them now, 4 ahead.
    let full = take(&d, "me", &holding(1, 0), &nones(6), 500, LEASE, 0, 4);
    assert_eq!(full.admitted, vec![0, 1], "held 6 of 10: no room ahead");
    assert!(full.ahead_refused && !full.blocked);
    // Nobody holds any: ahead up to 5 of 10 held.
    let d = doc(r#"{"concurrency":10}"#);
    let half = take(&d, "me", &Holding::default(), &nones(8), 500, LEASE, 0, 7);
    assert_eq!(half.admitted, vec![0, 1, 2, 3, 4]);
    assert_eq!(half.mine.n, 5);
    // Ahead in chunks: 3 of the 5 ahead are held, so none until 3 free up.
    let mut d = doc(r#"{"concurrency":10}"#);
    d.held = vec![("other".into(), holding(3, 1000))];
    let chunk = take(&d, "me", &Holding::default(), &nones(4), 500, LEASE, 0, 4);
    assert!(chunk.admitted.is_empty() && chunk.ahead_refused);
    d.held = vec![("other".into(), holding(2, 1000))];
    let chunk = take(&d, "me", &Holding::default(), &nones(4), 500, LEASE, 0, 4);
    assert_eq!(chunk.admitted, vec![0, 1, 2], "3 of 5 free: up to the room");
    let d = doc(r#"{"concurrency":10}"#);
    // The workers' own claims still go up to the limit, and no further.
    let last = take(&d, "me", &holding(9, 0), &nones(3), 500, LEASE, 0, 0);
    assert_eq!(last.admitted, vec![0]);
    assert!(last.blocked && !last.ahead_refused);
}

#[test]
fn types_with_a_rate_or_per_group_limits_are_never_claimed_ahead() {
    for limits in [
        r#"{"concurrency":10,"rate":{"max":10,"per":1000}}"#,
        r#"{"concurrency":10,"perGroup":{"concurrency":5}}"#,
    ] {
        let take = take(
            &doc(limits),
            "me",
            &Holding::default(),
            &nones(3),
            0,
            LEASE,
            0,
            2,
        );
        assert_eq!(take.admitted, vec![0], "{limits}");
        assert!(take.ahead_refused);
    }
    assert_eq!(
        ahead_room(&serde_json::from_str(r#"{"concurrency":1}"#).unwrap()),
        Some(0)
    );
}

#[test]
fn no_limits_admit_everything() {
    let d = LimitsDoc::default();
    let take = take(&d, "me", &Holding::default(), &[None, None], 0, LEASE, 0, 1);
    assert_eq!(take.admitted, vec![0, 1], "ahead too");
}

#[test]
fn a_full_window_says_when_it_frees() {
    let d = LimitsDoc {
        starts: vec![(100, None), (200, None), (300, None)],
        ..doc(r#"{"rate":{"max":2,"per":1000}}"#)
    };
    assert_eq!(
        rate_frees_at(&d, 400),
        Some(200 + 1000 + FLEET_RATE_SLACK_MS)
    );
    assert_eq!(rate_frees_at(&doc(r#"{"concurrency":1}"#), 400), None);
}
