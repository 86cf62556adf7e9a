//! The first recovery layer: the on-demand fetch and resync.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use clerk_sync_core::store::{SyncStore, UserStore};
use clerk_sync_core::sync::{ResyncOutcome, SyncError};

use super::{StoreFactory, engine_for};
use crate::{FakeClerk, Fault, Route, SeedUser, UserChange};

/// A signed-in user missing locally is fetched, written through the conditional write, and
/// afterwards read locally without another call.
pub async fn fallback_fetch_applies_a_missing_user<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com").first_name("Ada"))
        .expect("seed");
    let engine = engine_for(factory.make().await, &fake);

    let user = engine
        .user_or_fetch(&ada.id)
        .await
        .expect("user_or_fetch")
        .expect("Clerk knows the user");
    assert_eq!(user.clerk_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(user.first_name.as_deref(), Some("Ada"));
    assert_eq!(user.clerk_updated_at, Some(ada.updated_at));
    assert!(
        engine
            .store()
            .get_user(&ada.id)
            .await
            .expect("get_user")
            .is_some(),
        "the fetched user is stored"
    );
    let calls = fake.requests_to("GET", "/v1/users/{id}").len();
    assert_eq!(calls, 1);
    engine.user_or_fetch(&ada.id).await.expect("user_or_fetch");
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        calls,
        "a stored user costs no API call"
    );
}

/// Fifty concurrent misses for one user make one API call and all get the row.
pub async fn fallback_single_flight<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com"))
        .expect("seed");
    let engine = Arc::new(engine_for(factory.make().await, &fake));
    // Slow enough that every request misses while the first fetch is in flight.
    fake.fail_next(
        1,
        Route::get("/v1/users/{id}"),
        Fault::Latency(Duration::from_millis(300)),
    );
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let engine = Arc::clone(&engine);
            let id = ada.id.clone();
            tokio::spawn(async move { engine.user_or_fetch(&id).await })
        })
        .collect();
    for task in tasks {
        let user = task
            .await
            .expect("task")
            .expect("user_or_fetch")
            .expect("found");
        assert_eq!(user.clerk_id.as_deref(), Some(ada.id.as_str()));
    }
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        1,
        "50 concurrent misses, one API call"
    );
}

/// Clerk's 404 is `None`, remembered for the configured time, then asked again.
pub async fn fallback_not_found_is_cached_briefly<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine =
        engine_for(factory.make().await, &fake).with_not_found_ttl(Duration::from_millis(400));
    let unknown = "user_2NotInClerkAtAll";
    for _ in 0..5 {
        assert_eq!(
            engine.user_or_fetch(unknown).await.expect("user_or_fetch"),
            None
        );
    }
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        1,
        "one 404, then the cache answers"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        engine.user_or_fetch(unknown).await.expect("user_or_fetch"),
        None
    );
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        2,
        "after the TTL, Clerk is asked again"
    );
    // A user created since is found once the cache entry expires.
    let later = fake
        .seed_user(SeedUser::new("late@example.com"))
        .expect("seed");
    assert!(
        engine
            .user_or_fetch(&later.id)
            .await
            .expect("user_or_fetch")
            .is_some()
    );
}

/// Clerk unavailable is a retryable error, never "not found"; once Clerk is back the user is
/// fetched.
pub async fn fallback_clerk_down_is_an_error_not_not_found<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com"))
        .expect("seed");
    let engine = engine_for(factory.make().await, &fake);
    fake.fail_always(
        Route::get("/v1/users/{id}"),
        Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    let error = engine
        .user_or_fetch(&ada.id)
        .await
        .expect_err("Clerk is down");
    assert!(
        matches!(error, SyncError::ClerkApi(_)) && error.is_retryable(),
        "{error:?}"
    );
    assert!(
        engine
            .store()
            .get_user(&ada.id)
            .await
            .expect("get_user")
            .is_none(),
        "nothing stored"
    );
    fake.clear_faults();
    assert!(
        engine
            .user_or_fetch(&ada.id)
            .await
            .expect("user_or_fetch")
            .is_some(),
        "an outage is not remembered as not found"
    );
}

/// Resync writes Clerk's newer data, reports an unchanged row, and tombstones a user Clerk
/// deleted.
pub async fn resync_updates_and_tombstones<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com").first_name("Ada"))
        .expect("seed");
    let engine = engine_for(factory.make().await, &fake);
    engine
        .user_or_fetch(&ada.id)
        .await
        .expect("fetch")
        .expect("found");

    assert!(
        matches!(
            engine.resync(&ada.id).await.expect("resync"),
            ResyncOutcome::Unchanged(_)
        ),
        "already at Clerk's version"
    );
    fake.update_user_directly(&ada.id, UserChange::new().first_name("Adeline"))
        .expect("update");
    match engine.resync(&ada.id).await.expect("resync") {
        ResyncOutcome::Updated(row) => assert_eq!(row.first_name.as_deref(), Some("Adeline")),
        other => panic!("expected Updated, got {other:?}"),
    }
    assert!(fake.delete_user_directly(&ada.id));
    match engine.resync(&ada.id).await.expect("resync") {
        ResyncOutcome::Deleted(row) => {
            assert!(row.is_deleted(), "tombstoned");
            assert_eq!(row.email, None, "a tombstone erases the profile");
        }
        other => panic!("expected Deleted, got {other:?}"),
    }
    assert_eq!(
        engine.resync("user_2NeverExisted").await.expect("resync"),
        ResyncOutcome::NotFound
    );
    assert!(
        engine
            .store()
            .get_user("user_2NeverExisted")
            .await
            .expect("get_user")
            .is_none(),
        "an unknown id leaves no row"
    );
}
