//! Cases for [`LeaseStore`] and [`RunLogStore`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{StoreFactory, t};
use crate::store::{LeaseStore, RunLogStore, SyncRun, SyncStore};

const TTL: Duration = Duration::from_secs(60);

/// One holder at a time; expiry allows takeover; renew and release only by the holder.
pub async fn lease_exclusive_and_expiry<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let acquire = async |holder: &str, secs: i64| {
        store
            .try_acquire_lease("reconcile", holder, TTL, t(secs))
            .await
            .expect("try_acquire_lease")
    };
    assert!(acquire("a", 0).await, "a free lease is taken");
    assert!(!acquire("b", 1).await, "a held lease is refused");
    assert!(
        acquire("a", 30).await,
        "the holder may acquire again (extends to 90)"
    );
    assert!(!acquire("b", 89).await, "still held after the re-acquire");
    assert!(
        store
            .try_acquire_lease("other-name", "b", TTL, t(1))
            .await
            .expect("try_acquire_lease"),
        "leases are per name"
    );

    assert!(
        store
            .renew_lease("reconcile", "a", TTL, t(80))
            .await
            .expect("renew_lease"),
        "the holder renews (to 140)"
    );
    assert!(
        !store
            .renew_lease("reconcile", "b", TTL, t(81))
            .await
            .expect("renew_lease"),
        "only the holder renews"
    );
    assert!(!acquire("b", 139).await, "renewal extended the lease");
    assert!(acquire("b", 141).await, "an expired lease is taken over");
    assert!(
        !store
            .renew_lease("reconcile", "a", TTL, t(142))
            .await
            .expect("renew_lease"),
        "a lease taken over cannot be renewed by the old holder"
    );
    assert!(
        !store
            .release_lease("reconcile", "a")
            .await
            .expect("release_lease"),
        "only the holder releases"
    );
    assert!(
        !acquire("c", 150).await,
        "a failed release leaves the lease held"
    );

    // A holder whose lease expired but was not taken over may still renew it.
    assert!(
        store
            .renew_lease("reconcile", "b", TTL, t(300))
            .await
            .expect("renew_lease"),
        "an expired lease not taken over is renewed by its holder"
    );
    assert!(!acquire("c", 301).await);
    assert!(
        store
            .release_lease("reconcile", "b")
            .await
            .expect("release_lease")
    );
    assert!(
        !store
            .release_lease("reconcile", "b")
            .await
            .expect("release_lease"),
        "a released lease is not released twice"
    );
    assert!(acquire("c", 302).await, "a released lease is free at once");
    assert!(
        !store
            .release_lease("never-taken", "c")
            .await
            .expect("release_lease")
    );
}

/// Many replicas racing for one free lease: exactly one wins.
pub async fn lease_concurrent_acquire<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = Arc::new(factory.make().await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .try_acquire_lease("race", &format!("replica-{i}"), TTL, t(0))
                    .await
                    .expect("try_acquire_lease")
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.expect("task"));
    }
    assert_eq!(winners, 1, "exactly one replica holds the lease");
}

/// Runs are recorded when they start, checkpointed, finished, and read back newest first.
pub async fn run_log<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    assert!(store.recent_runs(10).await.expect("recent_runs").is_empty());
    assert_eq!(
        store.latest_run("backfill").await.expect("latest_run"),
        None
    );
    let mut recorded = Vec::new();
    for i in 0..3_i64 {
        let mut run = SyncRun::new(
            if i == 1 { "backfill" } else { "reconcile" },
            format!("opérateur 🦀 {i}"),
            t(i * 100),
        );
        run.id = -1;
        run.dry_run = i == 0;
        run.force = i == 2;
        let id = store.start_run(&run).await.expect("start_run");
        recorded.push(SyncRun { id, ..run });
    }
    let ids: std::collections::HashSet<i64> = recorded.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3, "each run gets its own id");
    assert!(!ids.contains(&-1), "the store assigns the id");
    assert_eq!(
        store.recent_runs(10).await.expect("recent_runs"),
        vec![
            recorded[2].clone(),
            recorded[1].clone(),
            recorded[0].clone()
        ],
        "a started run reads back as started: no end, no cursor, an empty report"
    );

    // A checkpoint saves the cursor and the running totals; finishing sets the end.
    let progress = json!({ "created": 1, "updated": 0 });
    assert!(
        store
            .checkpoint_run(recorded[1].id, Some("user_2aB"), &progress)
            .await
            .expect("checkpoint_run")
    );
    let report = json!({
        "created": 1, "updated": 2, "deleted": 0, "unchanged": 1000, "failed": 0,
        "samples": { "created": ["user_1", "user_2"] },
    });
    assert!(
        store
            .finish_run(recorded[2].id, t(242), None, &report)
            .await
            .expect("finish_run")
    );
    assert!(
        !store
            .checkpoint_run(i64::MAX, None, &progress)
            .await
            .expect("checkpoint_run"),
        "a missing run"
    );
    assert!(
        !store
            .finish_run(i64::MAX, t(0), None, &report)
            .await
            .expect("finish_run"),
        "a missing run"
    );
    recorded[1].cursor = Some("user_2aB".to_owned());
    recorded[1].report = progress;
    recorded[2].finished_at = Some(t(242));
    recorded[2].report = report;

    let recent = store.recent_runs(2).await.expect("recent_runs");
    assert_eq!(
        recent,
        vec![recorded[2].clone(), recorded[1].clone()],
        "newest first, at most limit, every field round-trips"
    );
    assert!(recent[0].is_finished() && !recent[1].is_finished());
    assert_eq!(
        store.latest_run("backfill").await.expect("latest_run"),
        Some(recorded[1].clone()),
        "the unfinished backfill and its cursor, for resuming"
    );
    assert_eq!(
        store.latest_run("reconcile").await.expect("latest_run"),
        Some(recorded[2].clone()),
        "the newest of its kind"
    );
}
