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
    let take = take(&d, "me", &holding(0, 0), &[None, None, None], 500, LEASE, 0);
    assert_eq!(take.admitted, vec![0, 1]);
}

#[test]
fn a_rate_counts_starts_in_its_window_and_slack_and_later_ones() {
    let d = LimitsDoc {
        starts: vec![(0, None), (900, None), (5000, None)],
        ..doc(r#"{"rate":{"max":3,"per":1000}}"#)
    };
    // At 1050: 0 is within 1000 + slack, so all three count.
    let full = take(&d, "me", &Holding::default(), &[None], 1050, LEASE, 0);
    assert!(full.admitted.is_empty());
    // At 1200: 0 left the window; one start is free, and recorded.
    let one = take(&d, "me", &Holding::default(), &[None, None], 1200, LEASE, 0);
    assert_eq!(one.admitted, vec![0]);
    assert_eq!(one.starts, vec![(900, None), (5000, None), (1200, None)]);
    // Recorded `lag` later: the window checked is still now's.
    let lagged = take(
        &d,
        "me",
        &Holding::default(),
        &[None, None],
        1200,
        LEASE,
        300,
    );
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
fn no_limits_admit_everything() {
    let d = LimitsDoc::default();
    let take = take(&d, "me", &Holding::default(), &[None, None], 0, LEASE, 0);
    assert_eq!(take.admitted, vec![0, 1]);
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
