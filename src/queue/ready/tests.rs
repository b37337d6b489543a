use super::*;
use rand::{Rng, SeedableRng};

fn order(priority: i64, created_at: i64, seq: u64) -> RunOrder {
    RunOrder {
        priority,
        created_at,
        seq,
    }
}

fn name(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// Pops everything (all live, idle workers): the handles in start order.
fn drain(set: &mut ReadySet<u32>) -> Vec<u32> {
    std::iter::from_fn(|| set.pop(0, |_| true).map(|(_, h)| h)).collect()
}

#[test]
fn one_group_runs_in_run_order_across_types() {
    let mut set = ReadySet::default();
    let (a, b) = (name("A"), name("B"));
    set.push(&a, None, order(0, 10, 0), 0);
    set.push(&b, None, order(0, 5, 1), 1);
    set.push(&a, None, order(5, 20, 2), 2);
    set.push(&b, None, order(0, 5, 3), 3);
    set.push(&a, None, order(0, 1, 4), 4);
    assert_eq!(drain(&mut set), vec![2, 4, 1, 3, 0]);
}

#[test]
fn a_group_added_after_a_backlog_gets_its_turn_at_once() {
    let mut set = ReadySet::default();
    let t = name("IMPORT");
    let (big, small) = (name("tenant-1"), name("tenant-2"));
    for i in 0..1000 {
        set.push(&t, Some(&big), order(0, i, i as u64), i as u32);
    }
    // Five of the backlog start, then the small group arrives.
    for _ in 0..5 {
        set.pop(0, |_| true);
    }
    for i in 0..10 {
        set.push(
            &t,
            Some(&small),
            order(0, 2000 + i, 2000 + i as u64),
            2000 + i as u32,
        );
    }
    let next: Vec<u32> = (0..20).map(|_| set.pop(0, |_| true).unwrap().1).collect();
    let small_started: Vec<usize> = (0..20).filter(|&i| next[i] >= 2000).collect();
    assert_eq!(
        small_started.len(),
        10,
        "all ten in the next twenty: {next:?}"
    );
    // Taking turns: never two of the small group in a row.
    assert!(
        small_started.windows(2).all(|w| w[1] - w[0] == 2),
        "{next:?}"
    );
}

#[test]
fn tasks_without_a_group_are_one_group_of_their_own() {
    let mut set = ReadySet::default();
    let t = name("T");
    let g = name("g");
    for i in 0..4 {
        set.push(&t, None, order(0, i, i as u64), i as u32);
    }
    for i in 10..14 {
        set.push(&t, Some(&g), order(0, i, i as u64), i as u32);
    }
    assert_eq!(drain(&mut set), vec![0, 10, 1, 11, 2, 12, 3, 13]);
}

#[test]
fn priority_comes_before_the_groups_turns() {
    let mut set = ReadySet::default();
    let t = name("T");
    let (a, b) = (name("a"), name("b"));
    for i in 0..3 {
        set.push(&t, Some(&a), order(0, i, i as u64), i as u32);
    }
    set.push(&t, Some(&b), order(0, 10, 10), 10);
    set.push(&t, Some(&b), order(9, 11, 11), 11);
    set.push(&t, Some(&b), order(9, 12, 12), 12);
    // b's urgent tasks first; they were b's turns, so a catches up.
    assert_eq!(drain(&mut set), vec![11, 12, 0, 1, 2, 10]);
}

#[test]
fn a_blocked_type_waits_and_the_others_run() {
    let mut set = ReadySet::default();
    let (a, b) = (name("A"), name("B"));
    set.push(&a, None, order(9, 0, 0), 0);
    set.push(&a, None, order(9, 1, 1), 1);
    set.push(&b, None, order(0, 2, 2), 2);
    set.set_type_blocked(&a, true);
    assert!(set.is_blocked("A"));
    assert_eq!(set.peek(0, |_| true).map(|x| x.1), Some(2));
    assert_eq!(drain(&mut set), vec![2]);
    set.push(&a, None, order(9, 3, 3), 3);
    assert_eq!(set.pop(0, |_| true), None);
    set.set_type_blocked(&a, false);
    assert_eq!(drain(&mut set), vec![0, 1, 3]);
}

#[test]
fn a_blocked_group_waits_and_the_other_groups_run() {
    let mut set = ReadySet::default();
    let t = name("T");
    let (a, b) = (name("a"), name("b"));
    set.set_group_blocked(&t, Some(&a), true);
    for i in 0..3 {
        set.push(&t, Some(&a), order(0, i, i as u64), i as u32);
        set.push(&t, Some(&b), order(0, 10 + i, 10 + i as u64), 10 + i as u32);
    }
    assert_eq!(drain(&mut set), vec![10, 11, 12]);
    set.set_group_blocked(&t, Some(&a), false);
    assert_eq!(drain(&mut set), vec![0, 1, 2]);
}

#[test]
fn an_idle_only_type_goes_only_to_idle_workers() {
    let mut set = ReadySet::default();
    let (a, b) = (name("A"), name("B"));
    set.set_idle_only(&a, true);
    set.push(&a, None, order(9, 0, 0), 0);
    set.push(&b, None, order(0, 1, 1), 1);
    assert_eq!(set.pop(1, |_| true).map(|x| x.1), Some(1));
    assert_eq!(set.pop(1, |_| true), None);
    assert_eq!(set.pop(0, |_| true).map(|x| x.1), Some(0));
}

#[test]
fn tasks_gone_are_skipped() {
    let mut set = ReadySet::default();
    let t = name("T");
    for i in 0..5 {
        set.push(&t, None, order(0, i, i as u64), i as u32);
    }
    let gone = [0u32, 1, 3];
    let live = |h: u32| !gone.contains(&h);
    assert_eq!(set.peek(0, live).map(|x| x.1), Some(2));
    assert_eq!(set.pop(0, live).map(|x| x.1), Some(2));
    assert_eq!(set.pop(0, live).map(|x| x.1), Some(4));
    assert_eq!(set.pop(0, live), None);
}

/// Without groups, whatever the pushes, blocks and removals: each pop is
/// the best live task of an unblocked type, as a sort would give.
#[test]
fn seeded_walks_match_a_sorted_list() {
    for seed in 0..200u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let types: Vec<Arc<str>> = (0..3).map(|i| name(&format!("T{i}"))).collect();
        let mut set = ReadySet::default();
        let mut model: Vec<(RunOrder, u32, usize)> = Vec::new();
        let mut gone = std::collections::HashSet::new();
        let mut blocked = [false; 3];
        for step in 0..300u32 {
            match rng.gen_range(0..10) {
                0..=4 => {
                    let ty = rng.gen_range(0..3);
                    let o = order(rng.gen_range(0..3), rng.gen_range(0..50), step as u64);
                    set.push(&types[ty], None, o, step);
                    model.push((o, step, ty));
                }
                5 => {
                    if let Some(&(_, h, _)) = model.get(rng.gen_range(0..model.len().max(1))) {
                        gone.insert(h);
                        model.retain(|&(_, x, _)| x != h);
                    }
                }
                6 => {
                    let ty = rng.gen_range(0..3);
                    blocked[ty] = !blocked[ty];
                    set.set_type_blocked(&types[ty], blocked[ty]);
                }
                _ => {
                    let expected = model
                        .iter()
                        .filter(|&&(_, _, ty)| !blocked[ty])
                        .max_by_key(|&&(o, _, _)| o)
                        .map(|&(o, h, _)| (o, h));
                    let got = set.pop(0, |h| !gone.contains(&h));
                    assert_eq!(got, expected, "seed {seed} step {step}");
                    if let Some((_, h)) = got {
                        model.retain(|&(_, x, _)| x != h);
                    }
                }
            }
        }
    }
}

/// With groups, blocks and removals: each pop has the best priority of
/// the live tasks that may run, and every live task starts exactly once.
#[test]
fn seeded_walks_with_groups_lose_nothing_and_keep_priority() {
    for seed in 0..200u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let types: Vec<Arc<str>> = (0..2).map(|i| name(&format!("T{i}"))).collect();
        let groups: Vec<Arc<str>> = (0..3).map(|i| name(&format!("g{i}"))).collect();
        let mut set = ReadySet::default();
        // (priority, handle, type, group: 3 for none)
        let mut model: Vec<(i64, u32, usize, usize)> = Vec::new();
        let mut gone = std::collections::HashSet::new();
        let mut blocked = [[false; 4]; 2];
        let mut started = std::collections::HashSet::new();
        for step in 0..400u32 {
            match rng.gen_range(0..10) {
                0..=4 => {
                    let (ty, g) = (rng.gen_range(0..2), rng.gen_range(0..4));
                    let p = rng.gen_range(0..3);
                    set.push(
                        &types[ty],
                        groups.get(g),
                        order(p, rng.gen_range(0..50), step as u64),
                        step,
                    );
                    model.push((p, step, ty, g));
                }
                5 => {
                    if let Some(&(_, h, _, _)) = model.get(rng.gen_range(0..model.len().max(1))) {
                        gone.insert(h);
                        model.retain(|&(_, x, _, _)| x != h);
                    }
                }
                6 => {
                    let (ty, g) = (rng.gen_range(0..2), rng.gen_range(0..4));
                    blocked[ty][g] = !blocked[ty][g];
                    set.set_group_blocked(&types[ty], groups.get(g), blocked[ty][g]);
                }
                _ => {
                    let best = model
                        .iter()
                        .filter(|&&(_, _, ty, g)| !blocked[ty][g])
                        .map(|&(p, ..)| p)
                        .max();
                    let got = set.pop(0, |h| !gone.contains(&h));
                    let got = got.map(|(o, h)| {
                        let &(p, _, ty, g) = model.iter().find(|m| m.1 == h).expect("a live task");
                        assert!(!blocked[ty][g], "seed {seed}: a blocked group ran");
                        assert_eq!(o.priority, p);
                        assert!(started.insert(h), "seed {seed}: {h} started twice");
                        model.retain(|&(_, x, _, _)| x != h);
                        p
                    });
                    assert_eq!(got, best, "seed {seed} step {step}");
                }
            }
        }
        for (ty, row) in blocked.iter().enumerate() {
            for (g, &b) in row.iter().enumerate() {
                if b {
                    set.set_group_blocked(&types[ty], groups.get(g), false);
                }
            }
        }
        while let Some((_, h)) = set.pop(0, |h| !gone.contains(&h)) {
            assert!(started.insert(h), "seed {seed}: {h} started twice");
            model.retain(|&(_, x, _, _)| x != h);
        }
        assert!(model.is_empty(), "seed {seed}: never started: {model:?}");
    }
}

#[test]
fn a_type_with_groups_is_sent_only_a_few_deep() {
    let mut set = ReadySet::default();
    let (grouped, plain) = (name("G"), name("P"));
    set.push(&grouped, Some(&name("a")), order(9, 0, 0), 0);
    set.push(&plain, None, order(0, 1, 1), 1);
    assert_eq!(set.pop(GROUPED_AHEAD, |_| true).map(|x| x.1), Some(1));
    assert_eq!(set.pop(GROUPED_AHEAD, |_| true), None);
    assert_eq!(set.pop(GROUPED_AHEAD - 1, |_| true).map(|x| x.1), Some(0));
}
