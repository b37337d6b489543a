//! The MongoDB store against a real server (SecantusDB): the writes that
//! must match each task with its own claim.

use super::mongo::Store;
use super::test_server::TestServer;
use crate::task::Task;
use mongodb::bson::{doc, Bson, Document};
use std::time::Duration;

fn task(id: &str) -> Task {
    Task {
        id: id.into(),
        task_type: "T".into(),
        priority: 1,
        created_at: 0,
        due_date: 0,
        data: "{}".into(),
        ..Task::default()
    }
}

async fn store(server: &TestServer) -> Store {
    Store::connect(
        &server.url("store_tests"),
        "taskQueue",
        "owner".to_owned(),
        Duration::from_secs(30),
    )
    .await
    .expect("connect")
}

#[tokio::test]
async fn a_completion_matches_each_task_with_its_own_claim_not_the_cross_product() {
    let server = TestServer::start();
    let store = store(&server).await;
    let types = vec!["T".to_owned()];
    for outcome in store.insert(&[task("t"), task("u")]).await {
        outcome.expect("insert");
    }
    // First claim takes t. Its lease then expires (recovery hands it
    // back) while that first run still goes on.
    let first = store.claim(&types, 1).await.expect("claim").tasks;
    assert_eq!(&*first[0].task.id, "t");
    let first_token = first[0].token.clone();
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "t" },
        doc! { "$set": { "onGoing": false }, "$unset": { "lease": "" } },
    )
    .await
    .expect("expire");
    // A second claim takes t again, with u, under one new token.
    let second = store.claim(&types, 2).await.expect("claim").tasks;
    assert_eq!(second.len(), 2);
    let second_token = second[0].token.clone();
    // The first run of t and the run of u finish and are written together.
    store
        .complete(&[
            (Bson::String("t".into()), first_token),
            (Bson::String("u".into()), second_token.clone()),
        ])
        .await
        .expect("complete");
    let left: Vec<Document> = {
        use futures_util::TryStreamExt;
        coll.find(doc! {})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    };
    assert_eq!(left.len(), 1, "u is done; t's second run is still running");
    assert_eq!(left[0].get_str("_id").unwrap(), "t");
    let lease = left[0].get_document("lease").unwrap();
    assert_eq!(lease.get_str("token").unwrap(), second_token);
}

#[tokio::test]
async fn leases_are_renewed_only_for_the_claims_the_master_knows() {
    let server = TestServer::start();
    let store = store(&server).await;
    let types = vec!["T".to_owned()];
    for outcome in store.insert(&[task("known"), task("orphan")]).await {
        outcome.expect("insert");
    }
    let known = store.claim(&types, 1).await.expect("claim").tasks;
    // A claim whose answer never came back: this master does not know its token.
    let orphan = store.claim(&types, 1).await.expect("claim").tasks;
    let expires = |doc: &Document| {
        doc.get_document("lease")
            .unwrap()
            .get_datetime("expires")
            .unwrap()
            .timestamp_millis()
    };
    let coll = store.collection();
    let read =
        |id: &'static str| async move { coll.find_one(doc! { "_id": id }).await.unwrap().unwrap() };
    let (known_before, orphan_before) = (
        expires(&read("known").await),
        expires(&read("orphan").await),
    );
    // Expiries are in ms: let the clock move on, so a renewal shows.
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.renew(&[known[0].token.clone()]).await.expect("renew");
    assert!(
        expires(&read("known").await) > known_before,
        "the known claim is renewed"
    );
    assert_eq!(
        expires(&read("orphan").await),
        orphan_before,
        "the orphan's lease runs out"
    );
    assert_eq!(&*orphan[0].task.id, "orphan");
}

#[tokio::test]
async fn a_running_task_that_ends_before_its_cancel_reads_back_is_not_ended_by_the_cancel() {
    let server = TestServer::start();
    let store = store(&server).await;
    for outcome in store.insert(&[task("queued"), task("ran")]).await {
        outcome.expect("insert");
    }
    // "ran" was marked while it ran, and its master has already written
    // its end (it saw the mark in its change stream) when this cancel,
    // under the same token, reads the documents back.
    let coll = store.collection();
    coll.update_one(
        doc! { "_id": "ran" },
        doc! { "$set": { "failed": true, "cancel": { "token": "c1", "reason": "r", "at": 0 } } },
    )
    .await
    .expect("mark");
    let outcome = store
        .cancel(doc! { "_id": { "$in": ["queued", "ran"] } }, "r", "c1")
        .await
        .expect("cancel");
    let ended: Vec<&str> = outcome
        .ended
        .iter()
        .map(|(_, task, _)| task.as_str())
        .collect();
    assert_eq!(ended.len(), 1, "only the queued task ended here: {ended:?}");
    assert!(ended[0].contains("queued"), "{ended:?}");
    let requested: Vec<Bson> = outcome.requested.into_iter().map(|(id, _)| id).collect();
    assert_eq!(requested, vec![Bson::String("ran".into())]);
}
