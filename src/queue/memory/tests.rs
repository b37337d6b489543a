use super::*;

fn task(id: &str, priority: i64, created_at: i64, due_date: i64) -> Task {
    Task {
        id: id.into(),
        task_type: "T".into(),
        priority,
        created_at,
        due_date,
        data: "{}".into(),
        ..Task::default()
    }
}

fn drain(q: &mut MemoryQueue, now: i64) -> Vec<String> {
    drain_places(q, now).into_iter().map(|(id, _)| id).collect()
}

/// The tasks taken, with the places their runs name.
fn drain_places(q: &mut MemoryQueue, now: i64) -> Vec<(String, Place)> {
    let mut out = vec![];
    while let Some((t, _, place)) = q.take_next(now, 0) {
        out.push((t.id.to_string(), place));
    }
    out
}

#[test]
fn runs_by_priority_then_age_then_insertion() {
    let mut q = MemoryQueue::default();
    q.push(task("low", 1, 0, 0), 0).unwrap();
    q.push(task("high-new", 8, 5, 0), 0).unwrap();
    q.push(task("high-old", 8, 1, 0), 0).unwrap();
    q.push(task("high-old-2", 8, 1, 0), 0).unwrap();
    q.push(task("mid", 3, 0, 0), 0).unwrap();
    assert_eq!(
        drain(&mut q, 0),
        ["high-old", "high-old-2", "high-new", "mid", "low"]
    );
}

#[test]
fn scheduled_tasks_wait_for_their_due_date() {
    let mut q = MemoryQueue::default();
    q.push(task("later", 9, 0, 100), 0).unwrap();
    q.push(task("now", 1, 0, 0), 0).unwrap();
    assert_eq!(q.next_due(), Some(100));
    assert_eq!(drain(&mut q, 50), ["now"]);
    assert_eq!(q.available_count(99), 0);
    assert_eq!(q.available_count(100), 1);
    assert_eq!(drain(&mut q, 100), ["later"]);
    assert_eq!(q.next_due(), None);
}

#[test]
fn due_tasks_are_ordered_together_with_ready_ones() {
    let mut q = MemoryQueue::default();
    q.push(task("sched-high", 5, 0, 10), 0).unwrap();
    q.push(task("ready-low", 1, 0, 0), 0).unwrap();
    assert_eq!(drain(&mut q, 20), ["sched-high", "ready-low"]);
}

#[test]
fn running_tasks_stay_visible_until_completed() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 1, 0, 0), 0).unwrap();
    let place = q.take_next(0, 0).unwrap().2;
    assert_eq!(q.get("a").map(|(_, on_going)| on_going), Some(true));
    assert!(q.available(0).is_empty());
    assert_eq!(q.waiting(), 0);
    assert_eq!(q.complete(place).map(|t| t.id), Some("a".into()));
    assert!(q.complete(place).is_none());
    assert!(q.is_empty());
}

#[test]
fn ids_are_indexed_from_the_first_lookup_until_the_queue_empties() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 1, 0, 0), 0).unwrap();
    q.push(task("b", 1, 0, 0), 0).unwrap();
    let (a, b) = (q.take_next(0, 0).unwrap().2, q.take_next(0, 0).unwrap().2);
    assert!(q.complete(a).is_some());
    // Built now, from the tasks queued: "b" is found, "a" is gone.
    assert_eq!(
        q.get("b").map(|(t, running)| (&*t.id, running)),
        Some(("b", true))
    );
    assert!(q.get("a").is_none());
    q.push(task("c", 1, 0, 0), 0).unwrap();
    assert!(matches!(q.push(task("c", 1, 0, 0), 0), Err(DuplicateId(t)) if &*t.id == "c"));
    assert!(q.complete(b).is_some());
    assert!(q.get("b").is_none(), "a completed task leaves the index");
    assert!(q.remove("c").is_some());
    assert!(q.is_empty());
    // Empty, the queue drops its index; the next lookup builds it again.
    q.push(task("d", 1, 0, 0), 0).unwrap();
    assert!(q.get("d").is_some());
}

#[test]
fn removed_tasks_never_run_and_ids_are_unique() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 1, 0, 0), 0).unwrap();
    q.push(task("b", 1, 0, 50), 0).unwrap();
    // An add with its own _id looks it up first (the dispatcher's check).
    assert!(q.get("a").is_some());
    assert!(matches!(q.push(task("a", 1, 0, 0), 0), Err(DuplicateId(t)) if &*t.id == "a"));
    assert_eq!(
        q.remove("a").map(|(t, running)| (t.id, running)),
        Some(("a".into(), false))
    );
    assert!(q.remove("b").is_some());
    assert!(q.remove("a").is_none());
    assert_eq!(q.next_due(), None);
    assert!(drain(&mut q, 100).is_empty());
    assert_eq!(q.waiting(), 0);
    q.push(task("a", 1, 0, 0), 0).unwrap();
    assert_eq!(drain(&mut q, 0), ["a"]);
}

#[test]
fn takes_follow_run_order_through_any_mix_of_adds_removals_and_requeues() {
    // A seeded walk against a model (a plain list sorted on each take):
    // in-order bursts, older and higher-priority tasks cutting in,
    // removals (by id), and runs handed back or completed (by place).
    let mut q = MemoryQueue::default();
    let mut model: Vec<(RunOrder, String)> = Vec::new();
    let mut running: Vec<(RunOrder, String, Place)> = Vec::new();
    let (mut seed, mut clock, mut n) = (0x2545_f491_u64, 1_000, 0u64);
    let mut next = move |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for _ in 0..5_000 {
        match next(10) {
            0..=4 => {
                let priority = [1, 1, 1, 2, 0][next(5) as usize];
                let created = if next(4) == 0 { clock - 50 } else { clock };
                clock += next(2) as i64;
                let id = format!("t{n}");
                q.push(task(&id, priority, created, 0), 0).unwrap();
                // `push` numbers tasks in the order they come.
                let order = RunOrder {
                    priority,
                    created_at: created,
                    seq: n,
                };
                model.push((order, id));
                n += 1;
            }
            5..=7 => {
                model.sort();
                let expected = model.pop();
                let taken = q
                    .take_next(0, 0)
                    .map(|(t, order, place)| (order, t.id.to_string(), place));
                assert_eq!(taken.as_ref().map(|(o, id, _)| (*o, id.clone())), expected);
                running.extend(taken);
            }
            8 if !model.is_empty() => {
                let (_, id) = model.swap_remove(next(model.len() as u64) as usize);
                assert!(q.remove(&id).is_some());
            }
            9 if !running.is_empty() && next(2) == 0 => {
                let (_, id, place) = running.swap_remove(next(running.len() as u64) as usize);
                assert_eq!(q.complete(place).map(|t| t.id.to_string()), Some(id));
            }
            _ if !running.is_empty() => {
                let (order, id, place) = running.swap_remove(next(running.len() as u64) as usize);
                assert!(q.requeue(place));
                model.push((order, id));
            }
            _ => {}
        }
        assert_eq!(q.waiting(), model.len());
    }
}

#[test]
fn completing_a_run_whose_task_was_removed_and_added_again_keeps_the_new_one() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 1, 0, 0), 0).unwrap();
    let old = q.take_next(0, 0).unwrap().2;
    assert!(q.remove("a").is_some());
    q.push(task("a", 1, 0, 0), 0).unwrap();
    assert!(q.complete(old).is_none(), "the new a has not run");
    assert!(!q.requeue(old) && !q.requeue_at(old, 5, 1, None));
    assert_eq!(q.get("a").map(|(_, running)| running), Some(false));
    let taken = drain_places(&mut q, 0);
    assert_eq!(taken[0].0, "a");
    assert!(q.complete(taken[0].1).is_some());
    assert!(q.is_empty());
}

#[test]
fn a_reused_slot_is_not_mistaken_for_the_task_that_left_it() {
    let mut q = MemoryQueue::default();
    // "gone" leaves entries in both heaps; "new" and "later" take its
    // slot (and then another's) while those entries are still there.
    q.push(task("gone", 9, 0, 0), 0).unwrap();
    q.push(task("gone-later", 9, 0, 10), 0).unwrap();
    q.remove("gone").unwrap();
    q.remove("gone-later").unwrap();
    q.push(task("new", 1, 0, 0), 0).unwrap();
    q.push(task("later", 1, 0, 30), 0).unwrap();
    assert_eq!(q.next_due(), Some(30));
    assert_eq!(q.waiting(), 2);
    let new = drain_places(&mut q, 20);
    let later = drain_places(&mut q, 30);
    assert_eq!((new[0].0.as_str(), later[0].0.as_str()), ("new", "later"));
    assert_eq!(q.waiting(), 0);
    // A requeued task runs again once, from its new heap entry only.
    assert!(q.requeue(later[0].1));
    let again = drain_places(&mut q, 30);
    assert_eq!(again, later, "the same task, at the same place");
    assert!(q.complete(later[0].1).is_some() && q.complete(new[0].1).is_some());
    assert!(q.is_empty());
}

#[test]
fn a_requeued_task_keeps_its_place() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 5, 0, 0), 0).unwrap();
    q.push(task("b", 1, 0, 0), 0).unwrap();
    let (first, rank, place) = q
        .take_next(0, 0)
        .map(|(t, o, p)| (t.id.clone(), o, p))
        .unwrap();
    assert_eq!(&*first, "a");
    q.push(task("c", 3, 0, 0), 0).unwrap();
    assert!(q.peek_next(0).unwrap() < rank);
    assert!(q.requeue(place));
    assert!(!q.requeue(place), "only a running task can be requeued");
    assert_eq!(q.peek_next(0), Some(rank));
    assert_eq!(drain(&mut q, 0), ["a", "c", "b"]);
}

#[test]
fn listings_follow_insertion_and_run_order() {
    let mut q = MemoryQueue::default();
    q.push(task("a", 1, 0, 0), 0).unwrap();
    q.push(task("b", 5, 0, 0), 0).unwrap();
    q.push(task("c", 9, 0, 99), 0).unwrap();
    let all: Vec<_> = q.all().iter().map(|(t, _)| &*t.id).collect();
    assert_eq!(all, ["a", "b", "c"]);
    let avail: Vec<_> = q.available(10).iter().map(|t| &*t.id).collect();
    assert_eq!(avail, ["b", "a"]);
}
