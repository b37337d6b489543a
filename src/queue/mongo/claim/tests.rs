//! Claims against a real server (SecantusDB): what a claim takes, what it
//! leaves to another master, what a release and a recovery hand back, and
//! that every query the queue sends is one an index serves.

use super::super::outcomes::{by_claim, recovery_filter, renewal_filter};
use super::{claimable, held_by, not_due_yet, take_filter};
use crate::queue::mongo::{order_doc, Store};
use crate::queue::test_server::TestServer;
use crate::task::{now_ms, Task};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::time::Duration;

const TYPES: &[&str] = &["T"];

fn types() -> Vec<String> {
    TYPES.iter().map(|t| (*t).to_owned()).collect()
}

/// A task of type `T` made `age` ms ago (older runs first at equal
/// priority), due `due_in` ms from now.
fn task(id: &str, priority: i64, age: i64, due_in: i64) -> Task {
    let now = now_ms();
    Task {
        id: id.into(),
        task_type: "T".into(),
        priority,
        created_at: now - age,
        due_date: now + due_in,
        data: "{}".into(),
        ..Task::default()
    }
}

async fn store(server: &TestServer) -> Store {
    let store = Store::connect(
        &server.url("claim_tests"),
        "taskQueue",
        "owner".to_owned(),
        Duration::from_secs(30),
    )
    .await
    .expect("connect");
    store.ensure_indexes().await.expect("indexes");
    store
}

async fn insert(store: &Store, tasks: &[Task]) {
    for outcome in store.insert(tasks).await {
        outcome.expect("insert");
    }
}

async fn stored(store: &Store, id: &str) -> Document {
    store
        .collection()
        .find_one(doc! { "_id": id })
        .await
        .expect("find")
        .expect("the document is there")
}

fn ids(claimed: &[super::Claimed]) -> Vec<&str> {
    claimed.iter().map(|c| &*c.task.id).collect()
}

#[tokio::test]
async fn a_claim_takes_the_best_due_tasks_of_its_types_and_counts_the_attempt() {
    let server = TestServer::start();
    let store = store(&server).await;
    let mut other = task("other", 9, 90, -10);
    other.task_type = "OTHER".into();
    insert(
        &store,
        &[
            task("best", 5, 50, -10),
            task("older", 3, 40, -10),
            task("newer", 3, 30, -10),
            task("later", 9, 20, 60_000),
            task("failed", 9, 60, -10),
            task("retried", 1, 70, -10),
            other,
        ],
    )
    .await;
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "failed" },
        doc! { "$set": { "failed": true } },
    )
    .await
    .unwrap();
    coll.update_one(
        doc! { "_id": "retried" },
        doc! { "$set": { "attempts": 2 } },
    )
    .await
    .unwrap();

    let first = store.claim(&types(), 3).await.expect("claim");
    assert_eq!(ids(&first.tasks), ["best", "older", "newer"]);
    assert!(first.more, "a full claim: more may be due");
    let token = &first.tasks[0].token;
    for id in ["best", "older", "newer"] {
        let doc = stored(&store, id).await;
        assert_eq!(doc.get_bool("onGoing"), Ok(true));
        assert_eq!(
            doc.get_document("lease").unwrap().get_str("token"),
            Ok(token.as_str())
        );
        assert_eq!(doc.get_i32("attempts"), Ok(1));
    }

    let second = store.claim(&types(), 3).await.expect("claim");
    assert_eq!(
        ids(&second.tasks),
        ["retried"],
        "not the failed, not the future, not another type"
    );
    assert!(!second.more, "a short claim: nothing more is due");
    assert_eq!(
        second.tasks[0].task.failures, 2,
        "two attempts before this one"
    );
    assert_eq!(stored(&store, "retried").await.get_i32("attempts"), Ok(3));
    let due = second.next_due.expect("the next due date is known");
    assert!(due > now_ms() + 30_000, "it is the later task's");
}

#[tokio::test]
async fn a_candidate_another_master_takes_first_is_not_claimed_and_the_rest_are_read_back() {
    let server = TestServer::start();
    let store = store(&server).await;
    let tasks: Vec<Task> = (0..4)
        .map(|i| task(&format!("t{i}"), 1, 40 - i, -10))
        .collect();
    insert(&store, &tasks).await;
    let filter = claimable(&types(), store.server_now());
    let found = store.candidates(&filter, 4).await.expect("find");
    assert_eq!(found.len(), 4);
    // Between this claim's read and its take, another master claims t1,
    // and t2 fails under a claim of its own and is handed back failed.
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "t1" },
        doc! { "$set": { "onGoing": true, "lease": { "owner": "B", "token": "theirs" } } },
    )
    .await
    .unwrap();
    coll.update_one(doc! { "_id": "t2" }, doc! { "$set": { "failed": true } })
        .await
        .unwrap();

    let claim = store
        .take_candidates(&types(), 4, &filter, found, "mine")
        .await
        .expect("take");
    assert_eq!(ids(&claim.tasks), ["t0", "t3"]);
    assert!(claim.tasks.iter().all(|c| c.task.failures == 0));
    let t1 = stored(&store, "t1").await;
    assert_eq!(
        t1.get_document("lease").unwrap().get_str("token"),
        Ok("theirs")
    );
    let t2 = stored(&store, "t2").await;
    assert_eq!(t2.get_bool("onGoing"), Ok(false));
    assert!(t2.get("lease").is_none(), "the failed task is not claimed");
}

#[tokio::test]
async fn a_release_hands_back_only_the_tasks_held_under_each_claim() {
    let server = TestServer::start();
    let store = store(&server).await;
    insert(&store, &[task("t", 1, 20, -10), task("u", 1, 10, -10)]).await;
    let first = store.claim(&types(), 1).await.expect("claim").tasks;
    assert_eq!(ids(&first), ["t"]);
    // t's lease expires and recovery hands it back; a second claim takes it
    // again, with u.
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "t" },
        doc! { "$set": { "lease.expires": mongodb::bson::DateTime::from_millis(0) } },
    )
    .await
    .unwrap();
    assert_eq!(store.recover().await.expect("recover"), 1);
    let second = store.claim(&types(), 2).await.expect("claim").tasks;
    assert_eq!(ids(&second), ["t", "u"]);
    // The first claim's release of t, and the second's of u, go together.
    store
        .release(&[
            (Bson::String("t".into()), first[0].token.clone()),
            (Bson::String("u".into()), second[1].token.clone()),
        ])
        .await
        .expect("release");
    let t = stored(&store, "t").await;
    assert_eq!(
        t.get_bool("onGoing"),
        Ok(true),
        "t's second claim still holds it"
    );
    assert_eq!(
        t.get_document("lease").unwrap().get_str("token"),
        Ok(second[0].token.as_str())
    );
    let u = stored(&store, "u").await;
    assert_eq!(u.get_bool("onGoing"), Ok(false));
    assert_eq!(
        u.get_i32("attempts"),
        Ok(0),
        "a release does not count an attempt"
    );
}

#[tokio::test]
async fn recovery_hands_back_expired_and_lease_less_claims_and_no_live_one() {
    let server = TestServer::start();
    let store = store(&server).await;
    let tasks: Vec<Task> = ["expired", "upstream", "live"]
        .iter()
        .enumerate()
        .map(|(i, id)| task(id, 1, 30 - i as i64, -10))
        .collect();
    insert(&store, &tasks).await;
    assert_eq!(
        store.claim(&types(), 3).await.expect("claim").tasks.len(),
        3
    );
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "expired" },
        doc! { "$set": { "lease.expires": mongodb::bson::DateTime::from_millis(0) } },
    )
    .await
    .unwrap();
    coll.update_one(
        doc! { "_id": "upstream" },
        doc! { "$unset": { "lease": "" } },
    )
    .await
    .unwrap();
    assert_eq!(store.recover().await.expect("recover"), 2);
    assert_eq!(
        stored(&store, "expired").await.get_bool("onGoing"),
        Ok(false)
    );
    assert_eq!(
        stored(&store, "upstream").await.get_bool("onGoing"),
        Ok(false)
    );
    assert_eq!(stored(&store, "live").await.get_bool("onGoing"), Ok(true));
}

/// The plan the server would run `filter` with (sorted by `sort`), as text.
async fn plan(store: &Store, filter: Document, sort: Document) -> String {
    let db = store.collection().client().database("claim_tests");
    let explained = db
        .run_command(doc! {
            "explain": { "find": "taskQueue", "filter": filter, "sort": sort },
            "verbosity": "queryPlanner",
        })
        .await
        .expect("explain");
    let planner = explained
        .get_document("queryPlanner")
        .expect("queryPlanner");
    planner.get("winningPlan").expect("winningPlan").to_string()
}

#[tokio::test]
async fn every_query_the_queue_sends_is_one_an_index_serves() {
    let server = TestServer::start();
    let store = store(&server).await;
    let tasks: Vec<Task> = (0..50)
        .map(|i| task(&format!("t{i}"), i % 3, 100 - i, -10))
        .collect();
    insert(&store, &tasks).await;
    let claimed = store.claim(&types(), 10).await.expect("claim").tasks;
    let ids: Vec<Bson> = claimed.iter().map(|c| c.id.clone()).collect();
    let token = claimed[0].token.clone();
    let now = store.server_now();
    let pairs: Vec<(Bson, String)> = ids.iter().map(|id| (id.clone(), token.clone())).collect();
    let queries = [
        ("the claim's read", claimable(&types(), now), order_doc()),
        (
            "the claim's take",
            take_filter(&ids, &claimable(&types(), now)),
            doc! {},
        ),
        ("the claim's read-back", held_by(&ids, &token), doc! {}),
        (
            "the next due date",
            not_due_yet(&types(), now),
            doc! { "dueDate": 1 },
        ),
        (
            "a completion or release",
            by_claim(&pairs).remove(0),
            doc! {},
        ),
        (
            "the renewal",
            renewal_filter("owner", std::slice::from_ref(&token)),
            doc! {},
        ),
        ("the recovery", recovery_filter(now), doc! {}),
    ];
    for (what, filter, sort) in queries {
        let plan = plan(&store, filter, sort).await;
        assert!(
            (plan.contains("IXSCAN") || plan.contains("IDHACK")) && !plan.contains("COLLSCAN"),
            "{what} is not served by an index: {plan}"
        );
    }
    let left: Vec<Document> = store
        .collection()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 50, "explaining changed nothing");
}

/// A candidate document named `id`, at `priority`.
fn candidate(id: &str, priority: i64) -> mongodb::bson::RawDocumentBuf {
    mongodb::bson::RawDocumentBuf::from_document(&doc! { "_id": id, "priority": priority }).unwrap()
}

fn doc_ids(docs: &[mongodb::bson::RawDocumentBuf]) -> Vec<String> {
    docs.iter()
        .map(|d| d.get_str("_id").unwrap().to_owned())
        .collect()
}

#[test]
fn groups_take_turns_across_claims_and_a_new_group_starts_level() {
    use super::Turns;
    use std::sync::Arc;
    let (a, b): (crate::queue::ready::GroupName, _) = (Some(Arc::from("a")), Some(Arc::from("b")));
    let mut turns = Turns::default();
    let backlog = |from: usize| {
        (from..from + 3)
            .map(|i| candidate(&format!("a{i}"), 0))
            .collect::<Vec<_>>()
    };
    // Claims of one: a alone takes its turns.
    for i in 0..3 {
        let got = turns.merge(vec![(a.clone(), backlog(i))], 1);
        assert_eq!(doc_ids(&got), vec![format!("a{i}")]);
    }
    // b arrives: claims of one alternate from now on, not b three times.
    let b_list = |from: usize| {
        (from..from + 3)
            .map(|i| candidate(&format!("b{i}"), 0))
            .collect::<Vec<_>>()
    };
    let mut order = Vec::new();
    let (mut ai, mut bi) = (3, 0);
    for _ in 0..4 {
        let got = doc_ids(&turns.merge(vec![(a.clone(), backlog(ai)), (b.clone(), b_list(bi))], 1));
        if got[0].starts_with('a') {
            ai += 1
        } else {
            bi += 1
        }
        order.extend(got);
    }
    assert_eq!(
        order.iter().filter(|id| id.starts_with('b')).count(),
        2,
        "{order:?}"
    );
    // A higher priority goes first whatever the turns.
    let urgent = vec![candidate("a-urgent", 9)];
    let got = turns.merge(vec![(a, urgent), (b, b_list(bi))], 2);
    assert_eq!(doc_ids(&got)[0], "a-urgent");
}
