//! The second and third recovery layers: reconcile, backfill, and user-sync health.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use clerk_sync_core::clerk_api::{ClerkApi, RateLimit, RetryPolicy};
use clerk_sync_core::store::{RunLogStore, SyncStore, UserStore};
use clerk_sync_core::sync::{
    BackfillOptions, Phase, Progress, ReconcileOptions, ReconcileReport, SyncError,
};

use super::{StoreFactory, all_rows, clerk_versions, deliver_all, engine_for, live_versions};
use crate::{FakeClerk, Fault, Route, SeedUser, UserChange};

fn seed(fake: &FakeClerk, name: &str) -> String {
    fake.seed_user(SeedUser::new(format!("{name}@example.com")).first_name(name))
        .expect("seed")
        .id
}

async fn run(
    engine: &clerk_sync_core::sync::SyncEngine<impl SyncStore + ?Sized>,
    dry_run: bool,
    force: bool,
) -> ReconcileReport {
    engine
        .reconcile(ReconcileOptions {
            dry_run,
            force,
            triggered_by: "engine-suite".to_owned(),
            progress: None,
        })
        .await
        .expect("reconcile")
}

/// A table that drifted from Clerk in every way at once: ids for each kind.
struct Drift {
    created: Vec<String>,
    updated: Vec<String>,
    deleted: Vec<String>,
    unchanged: Vec<String>,
}

/// Users missing here (created), older here (updated), gone from Clerk (deleted), and
/// current (unchanged). No webhook of the drift is delivered.
async fn prepare_drift<S: SyncStore + ?Sized>(
    engine: &clerk_sync_core::sync::SyncEngine<S>,
    fake: &FakeClerk,
) -> Drift {
    let unchanged: Vec<String> = ["u1", "u2", "u7", "u8"]
        .iter()
        .map(|n| seed(fake, n))
        .collect();
    let updated: Vec<String> = ["u3", "u4"].iter().map(|n| seed(fake, n)).collect();
    let deleted: Vec<String> = ["x1", "x2"].iter().map(|n| seed(fake, n)).collect();
    for id in unchanged.iter().chain(&updated).chain(&deleted) {
        engine
            .user_or_fetch(id)
            .await
            .expect("fetch")
            .expect("found");
    }
    let created: Vec<String> = ["u5", "u6"].iter().map(|n| seed(fake, n)).collect();
    for id in &updated {
        fake.update_user_directly(id, UserChange::new().last_name("Changed"))
            .expect("update");
    }
    for id in &deleted {
        assert!(fake.delete_user_directly(id));
    }
    // The webhooks of the drift were lost: that is what reconcile is for.
    fake.take_webhooks();
    Drift {
        created,
        updated,
        deleted,
        unchanged,
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Reconcile counts a prepared drift exactly, repairs it, and names samples of each kind.
pub async fn reconcile_exact_counts_on_a_drift<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake);
    let drift = prepare_drift(&engine, &fake).await;

    let report = run(&engine, false, false).await;
    assert_eq!(
        (
            report.created,
            report.updated,
            report.deleted,
            report.unchanged,
            report.failed
        ),
        (2, 2, 2, 4, 0),
        "created / updated / deleted / unchanged / failed: {report:?}"
    );
    assert!(!report.dry_run);
    assert_eq!(report.stopped, None);
    assert_eq!(report.listed, 8);
    assert_eq!(
        sorted(report.samples.created.clone()),
        sorted(drift.created.clone())
    );
    assert_eq!(
        sorted(report.samples.updated.clone()),
        sorted(drift.updated.clone())
    );
    assert_eq!(
        sorted(report.samples.deleted.clone()),
        sorted(drift.deleted.clone())
    );
    assert_eq!(
        live_versions(engine.store()).await,
        clerk_versions(&fake),
        "the live rows are Clerk's users at Clerk's versions"
    );
    for id in &drift.deleted {
        let row = engine
            .store()
            .get_user(id)
            .await
            .expect("get_user")
            .expect("kept as a tombstone");
        assert!(row.is_deleted(), "{id} is tombstoned");
    }
    for id in drift.deleted.iter().chain(&drift.unchanged) {
        assert_eq!(
            fake.requests_to("GET", "/v1/users/{id}")
                .iter()
                .filter(|r| r.path.ends_with(id.as_str()))
                .count(),
            // One fetch while preparing; deletion is confirmed with one more.
            if drift.deleted.contains(id) { 2 } else { 1 },
            "{id}: deletion only after GET /users/{{id}} answered 404, and only for missing rows"
        );
    }

    let runs = engine.store().recent_runs(5).await.expect("recent_runs");
    assert_eq!(runs.len(), 1, "the run is recorded");
    assert_eq!(runs[0].kind, "reconcile");
    assert_eq!(runs[0].triggered_by, "engine-suite");
    assert!(runs[0].is_finished());
    assert_eq!(runs[0].report["created"], 2);
    assert_eq!(runs[0].report["deleted"], 2);

    let again = run(&engine, false, false).await;
    assert_eq!(
        (again.created, again.updated, again.deleted, again.unchanged),
        (0, 0, 0, 8),
        "a second run finds nothing to do"
    );
}

/// A dry run reports the same drift and changes nothing: the whole table is the same after.
pub async fn reconcile_dry_run_changes_nothing<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake);
    prepare_drift(&engine, &fake).await;
    let before = all_rows(engine.store()).await;

    let report = run(&engine, true, false).await;
    assert!(report.dry_run);
    assert_eq!(
        (
            report.created,
            report.updated,
            report.deleted,
            report.unchanged
        ),
        (2, 2, 2, 4),
        "{report:?}"
    );
    assert_eq!(
        all_rows(engine.store()).await,
        before,
        "a dry run writes nothing"
    );
    let runs = engine.store().recent_runs(5).await.expect("recent_runs");
    assert!(runs[0].dry_run, "the dry run is logged as one");
}

/// `force` rewrites every row, also rows already at Clerk's version.
pub async fn reconcile_force_rewrites_every_row<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake);
    let ids: Vec<String> = (0..5).map(|i| seed(&fake, &format!("f{i}"))).collect();
    for id in &ids {
        engine.user_or_fetch(id).await.expect("fetch");
    }
    let before = all_rows(engine.store()).await;
    tokio::time::sleep(Duration::from_millis(5)).await;

    let plain = run(&engine, false, false).await;
    assert_eq!((plain.updated, plain.unchanged), (0, 5));
    let forced = run(&engine, false, true).await;
    assert!(forced.force);
    assert_eq!(
        (forced.updated, forced.unchanged),
        (5, 0),
        "every row rewritten"
    );
    let after = all_rows(engine.store()).await;
    for (old, new) in before.iter().zip(&after) {
        assert!(
            new.updated_at > old.updated_at,
            "{:?} was rewritten",
            new.clerk_id
        );
        assert_eq!(new.clerk_updated_at, old.clerk_updated_at, "same version");
    }
}

/// A run that would delete too much stops and reports; forced, it deletes.
pub async fn reconcile_mass_deletion_guard<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake);
    let ids: Vec<String> = (0..30).map(|i| seed(&fake, &format!("g{i}"))).collect();
    for id in &ids {
        engine.user_or_fetch(id).await.expect("fetch");
    }
    for id in &ids[..20] {
        fake.delete_user_directly(id);
    }
    fake.take_webhooks();
    let gets_before = fake.requests_to("GET", "/v1/users/{id}").len();

    let stopped = run(&engine, false, false).await;
    let reason = stopped.stopped.clone().expect("the guard stopped the run");
    assert!(reason.contains("20 of 30"), "{reason}");
    assert_eq!(stopped.deleted, 0, "nothing deleted");
    assert!(
        !stopped.samples.deleted.is_empty(),
        "the report names some of the rows"
    );
    assert!(
        all_rows(engine.store())
            .await
            .iter()
            .all(|u| !u.is_deleted()),
        "no tombstone written"
    );
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        gets_before,
        "the guard decides before confirming a single deletion"
    );
    let runs = engine.store().recent_runs(1).await.expect("recent_runs");
    assert!(runs[0].report["stopped"].is_string(), "the stop is logged");

    let forced = run(&engine, false, true).await;
    assert_eq!(forced.deleted, 20, "forced past the guard");
    assert_eq!(live_versions(engine.store()).await, clerk_versions(&fake));
}

/// Two reconciles at once: one runs, the other is told one is running; the lease is then
/// free again.
pub async fn reconcile_one_at_a_time<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    for i in 0..3 {
        seed(&fake, &format!("c{i}"));
    }
    let engine = Arc::new(engine_for(factory.make().await, &fake));
    fake.fail_always(
        Route::get("/v1/users"),
        Fault::Latency(Duration::from_millis(400)),
    );
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move { engine.reconcile(ReconcileOptions::default()).await })
        })
        .collect();
    let mut ran = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => ran += 1,
            Err(SyncError::AlreadyRunning { job }) => {
                assert_eq!(job, "reconcile");
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((ran, refused), (1, 1), "exactly one of two concurrent runs");
    fake.clear_faults();
    run(&engine, false, false).await;
}

/// Users created and deleted in Clerk while the walk pages through 1,200 users: none is
/// skipped, none that Clerk still has is tombstoned.
pub async fn reconcile_pages_while_users_change<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = Arc::new(FakeClerk::start().await);
    let ids = fake.seed_users(1_200);
    let engine = engine_for(factory.make().await, &fake);
    let deleted_in_clerk = Arc::new(Mutex::new(Vec::<String>::new()));
    let changed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let progress = {
        let fake = Arc::clone(&fake);
        let ids = ids.clone();
        let deleted_in_clerk = Arc::clone(&deleted_in_clerk);
        let changed = Arc::clone(&changed);
        Arc::new(move |p: Progress| {
            if p.phase != Phase::Listing || changed.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                return;
            }
            // After the first page: two users already listed, two not yet listed go away;
            // three sign up (they sort last in created_at order).
            let mut deleted = deleted_in_clerk.lock().expect("lock");
            for id in [&ids[3], &ids[400], &ids[700], &ids[1_100]] {
                assert!(fake.delete_user_directly(id));
                deleted.push(id.clone());
            }
            for i in 0..3 {
                fake.create_user_directly(SeedUser::new(format!("mid{i}@example.com")))
                    .expect("create");
            }
        })
    };
    let report = engine
        .reconcile(ReconcileOptions {
            progress: Some(progress),
            ..ReconcileOptions::default()
        })
        .await
        .expect("reconcile");
    assert!(
        changed.load(std::sync::atomic::Ordering::SeqCst),
        "the walk was disturbed"
    );
    assert_eq!(report.failed, 0);

    let rows = all_rows(engine.store()).await;
    let live: HashSet<&str> = rows
        .iter()
        .filter(|u| !u.is_deleted())
        .filter_map(|u| u.clerk_id.as_deref())
        .collect();
    for user in fake.users() {
        assert!(live.contains(user.id.as_str()), "{} was skipped", user.id);
    }
    let deleted = deleted_in_clerk.lock().expect("lock").clone();
    for row in rows.iter().filter(|u| u.is_deleted()) {
        let id = row.clerk_id.as_deref().unwrap_or_default();
        assert!(
            deleted.iter().any(|d| d == id),
            "{id} was tombstoned although Clerk still has it"
        );
    }
    // The next run settles the users deleted after they were listed.
    run(&engine, false, false).await;
    assert_eq!(live_versions(engine.store()).await, clerk_versions(&fake));
}

/// A reconcile racing webhook deliveries ends in the same rows as the webhooks alone.
pub async fn reconcile_races_webhooks<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let ids: Vec<String> = (0..40).map(|i| seed(&fake, &format!("r{i}"))).collect();
    let engine = Arc::new(engine_for(factory.make().await, &fake));
    for id in &ids {
        engine.user_or_fetch(id).await.expect("fetch");
    }
    for (i, id) in ids.iter().enumerate() {
        match i % 4 {
            0 => {
                fake.update_user_directly(id, UserChange::new().first_name(format!("New {i}")))
                    .expect("update");
            }
            1 => {
                fake.delete_user_directly(id);
            }
            _ => {}
        }
    }
    for i in 0..5 {
        fake.create_user_directly(SeedUser::new(format!("new{i}@example.com")))
            .expect("create");
    }
    let webhooks = fake.take_webhooks();
    let deliveries = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { deliver_all(&engine, webhooks).await })
    };
    let reconcile = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.reconcile(ReconcileOptions::default()).await })
    };
    deliveries.await.expect("deliveries");
    reconcile.await.expect("task").expect("reconcile");
    assert_eq!(
        live_versions(engine.store()).await,
        clerk_versions(&fake),
        "the same live rows as the webhooks alone give"
    );
    let tombstones = all_rows(engine.store())
        .await
        .into_iter()
        .filter(|u| u.is_deleted())
        .count();
    assert_eq!(
        tombstones, 10,
        "every deleted user, and only those, is a tombstone"
    );
}

/// With a budget of 20 requests per second on both sides, a reconcile that must confirm 40
/// deletions stays within it in every window and meets no 429.
pub async fn reconcile_stays_within_the_rate_limit<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::builder()
        .with_rate_limit(20, Duration::from_secs(1))
        .start()
        .await;
    fake.seed_users(500);
    let extra: Vec<String> = (0..40).map(|i| seed(&fake, &format!("gone{i}"))).collect();
    let budget = RateLimit::new(20, Duration::from_secs(1)).expect("budget");
    let api = ClerkApi::new(fake.secret_key())
        .and_then(|a| a.with_base_url(fake.base_url()))
        .expect("client")
        .with_rate_limit(budget)
        .with_retry_policy(RetryPolicy::default().max_elapsed(Duration::from_secs(20)));
    let engine = engine_for(factory.make().await, &fake).with_clerk_api(api);
    engine
        .backfill(BackfillOptions::default())
        .await
        .expect("backfill");
    for id in &extra {
        fake.delete_user_directly(id);
    }
    fake.take_webhooks();
    fake.clear_requests();

    let report = run(&engine, false, false).await;
    assert_eq!(report.deleted, 40);
    let requests = fake.requests();
    assert!(requests.len() >= 40);
    assert!(
        fake.max_requests_in_window(Duration::from_secs(1)) <= 20,
        "at most 20 requests in any one-second window"
    );
    assert!(
        requests.iter().all(|r| r.status != Some(429)),
        "the client's limiter kept every request under Clerk's"
    );
}

/// A wrong secret key, or a garbage answer, fails the run with a clear error and changes
/// nothing.
pub async fn reconcile_wrong_key_or_garbage_changes_nothing<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake);
    prepare_drift(&engine, &fake).await;
    let before = all_rows(engine.store()).await;

    let wrong = ClerkApi::new("sk_test_this_is_not_the_key")
        .and_then(|a| a.with_base_url(fake.base_url()))
        .expect("client");
    let wrong_engine = engine.clone().with_clerk_api(wrong);
    match wrong_engine.reconcile(ReconcileOptions::default()).await {
        Err(SyncError::ClerkApi(error)) => {
            assert!(error.is_unauthorized(), "{error}");
            assert!(!format!("{error} {error:?}").contains("sk_test_this_is_not_the_key"));
        }
        other => panic!("expected an unauthorized error, got {other:?}"),
    }
    assert_eq!(
        all_rows(engine.store()).await,
        before,
        "a wrong key changes nothing"
    );

    fake.fail_next(1, Route::get("/v1/users"), Fault::Garbage);
    match engine.reconcile(ReconcileOptions::default()).await {
        Err(SyncError::ClerkApi(error)) => {
            assert_eq!(
                error.status(),
                Some(200),
                "a decode error of a 200: {error}"
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(
        all_rows(engine.store()).await,
        before,
        "garbage changes nothing"
    );
    let runs = engine.store().recent_runs(5).await.expect("recent_runs");
    assert!(
        runs.iter().all(|r| r.report["stopped"].is_string()),
        "failed runs are logged with their error"
    );
}

/// A backfill that failed part way resumes after the last applied user, and ends with every
/// user.
pub async fn backfill_resumes_after_a_failure<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = Arc::new(FakeClerk::start().await);
    fake.seed_users(1_200);
    let engine = engine_for(factory.make().await, &fake);
    let progress = {
        let fake = Arc::clone(&fake);
        Arc::new(move |p: Progress| {
            if p.phase == Phase::Listing {
                // After the first page Clerk goes down for listing.
                fake.fail_always(
                    Route::get("/v1/users"),
                    Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
                );
            }
        })
    };
    let error = engine
        .backfill(BackfillOptions {
            progress: Some(progress),
            ..BackfillOptions::default()
        })
        .await
        .expect_err("Clerk went down");
    assert!(error.is_retryable(), "{error:?}");
    let stopped = engine
        .store()
        .latest_run("backfill")
        .await
        .expect("latest_run")
        .expect("recorded");
    assert!(!stopped.is_finished(), "left unfinished, to resume");
    let cursor = stopped.cursor.clone().expect("a saved cursor");
    assert_eq!(
        live_versions(engine.store()).await.len(),
        500,
        "one page applied"
    );

    fake.clear_faults();
    fake.clear_requests();
    let report = engine
        .backfill(BackfillOptions::default())
        .await
        .expect("backfill");
    assert_eq!(report.resumed_from.as_deref(), Some(cursor.as_str()));
    let first_list = fake
        .requests_to("GET", "/v1/users")
        .into_iter()
        .next()
        .expect("listed");
    assert_eq!(
        first_list.query_values("starting_after"),
        vec![cursor.clone()],
        "resumed after the last applied user, not from the start"
    );
    assert_eq!(report.created, 1_200, "the report covers the whole walk");
    assert_eq!(report.deleted, 0, "a backfill never deletes");
    assert_eq!(live_versions(engine.store()).await, clerk_versions(&fake));
    assert!(
        engine
            .store()
            .latest_run("backfill")
            .await
            .expect("latest_run")
            .expect("recorded")
            .is_finished()
    );
}

/// Health compares Clerk's count with the live rows that have a Clerk id.
pub async fn user_sync_health_counts<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let ids: Vec<String> = (0..15).map(|i| seed(&fake, &format!("h{i}"))).collect();
    let engine = engine_for(factory.make().await, &fake);
    for id in &ids[..3] {
        engine.user_or_fetch(id).await.expect("fetch");
    }
    let health = engine.user_sync_health().await.expect("health");
    assert_eq!(
        (health.clerk_users, health.db_users, health.discrepancy),
        (15, 3, 12)
    );
    assert_eq!(health.status, "warning", "12 is past the default of 10");
    engine
        .backfill(BackfillOptions::default())
        .await
        .expect("backfill");
    fake.delete_user_directly(&ids[0]);
    engine.resync(&ids[0]).await.expect("resync");
    let health = engine.user_sync_health().await.expect("health");
    assert_eq!(
        (health.clerk_users, health.db_users, health.discrepancy),
        (14, 14, 0),
        "tombstones are not counted"
    );
    assert_eq!(health.status, "healthy");
    assert_eq!((health.failed, health.pending), (0, 0));
}
