//! The outbound worker: local changes pushed to Clerk.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use clerk_sync_core::clerk_api::{ClerkApi, RetryPolicy};
use clerk_sync_core::store::{OutboxStore, SyncStatus, SyncStore, UserProfile, UserStore};
use clerk_sync_core::sync::{OutboundConfig, ProcessOutcome, SyncEngine};
use clerk_sync_core::webhook::WebhookVerifier;
use serde_json::json;

use super::{StoreFactory, deliver_all, engine_for, test_client};
use crate::{FakeClerk, Fault, Route, SeedUser};

/// Worker settings for tests: quick backoff so retries are due at once.
fn quick() -> OutboundConfig {
    OutboundConfig {
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        idle_poll: Duration::from_millis(20),
        ..OutboundConfig::default()
    }
}

/// A client that does not retry on its own, so that every failure reaches the worker.
fn single_shot(fake: &FakeClerk) -> ClerkApi {
    test_client(fake).with_retry_policy(RetryPolicy::none())
}

fn profile(email: &str) -> UserProfile {
    UserProfile {
        email: Some(email.to_owned()),
        first_name: Some("Local".to_owned()),
        last_name: Some("User".to_owned()),
        ..UserProfile::default()
    }
}

/// Tick until nothing is claimable, waiting out backoffs; at most `rounds` rounds.
async fn drain<S: SyncStore + ?Sized>(engine: &SyncEngine<S>, rounds: usize) {
    for _ in 0..rounds {
        let now = time::OffsetDateTime::now_utc();
        if engine.store().outbox_due(now).await.expect("outbox_due") == 0 {
            let queued = engine
                .store()
                .list_users(&clerk_sync_core::store::UserQuery::new(1000))
                .await
                .expect("list")
                .iter()
                .any(|u| u.sync_status == SyncStatus::Pending);
            if !queued {
                return;
            }
        }
        engine.outbound_tick().await.expect("outbound_tick");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Create, update (fields and metadata), invite and delete each reach Clerk; the webhook
/// echo of each lands on the row, which ends `synced`, and nothing is queued again.
pub async fn outbound_each_operation_end_to_end<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake).with_outbound_config(quick());

    let created = engine
        .create_local_user(profile("new@example.com"))
        .await
        .expect("create_local_user");
    assert_eq!(created.user.sync_status, SyncStatus::Pending);
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!((tick.claimed, tick.completed), (1, 1));
    let in_clerk = fake
        .user_by_email("new@example.com")
        .expect("created in Clerk");
    assert_eq!(in_clerk.first_name.as_deref(), Some("Local"));
    assert_eq!(
        in_clerk.external_id,
        Some(created.user.id.to_string()),
        "the local id travels as external_id"
    );
    let row = engine
        .store()
        .get_user_by_id(created.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.clerk_id.as_deref(), Some(in_clerk.id.as_str()));
    assert_eq!(row.sync_status, SyncStatus::Synced);
    let echoes = deliver_all(&engine, fake.take_webhooks()).await;
    assert_eq!(
        echoes,
        vec![ProcessOutcome::Applied],
        "the user.created echo applies"
    );
    assert!(
        engine
            .store()
            .outbox_for_user(row.id)
            .await
            .expect("outbox")
            .is_empty(),
        "the echo queues nothing: no ping-pong"
    );

    let change = UserProfile {
        first_name: Some("Renamed".to_owned()),
        public_metadata: Some(json!({"plan": "pro"})),
        ..UserProfile::default()
    };
    engine
        .update_local_user(row.id, change)
        .await
        .expect("update_local_user");
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!(tick.completed, 1);
    let in_clerk = fake.user(&in_clerk.id).expect("still there");
    assert_eq!(in_clerk.first_name.as_deref(), Some("Renamed"));
    assert_eq!(
        in_clerk.public_metadata["plan"], "pro",
        "metadata through its own endpoint"
    );
    assert_eq!(
        fake.requests_to("PATCH", "/v1/users/{id}/metadata").len(),
        1
    );
    deliver_all(&engine, fake.take_webhooks()).await;
    let row = engine
        .store()
        .get_user_by_id(row.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.first_name.as_deref(), Some("Renamed"));
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert!(
        engine
            .store()
            .outbox_for_user(row.id)
            .await
            .expect("outbox")
            .is_empty()
    );

    let refused = engine
        .update_local_user(
            row.id,
            UserProfile {
                email: Some("elsewhere@example.com".to_owned()),
                ..UserProfile::default()
            },
        )
        .await;
    assert!(
        refused.is_err(),
        "an email change of a Clerk user is made in Clerk"
    );

    let invited = engine
        .invite_user("invitee@example.com", None)
        .await
        .expect("invite_user");
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!(tick.completed, 1);
    assert!(
        fake.invitations()
            .iter()
            .any(|i| i["email_address"] == "invitee@example.com"),
        "the invitation reached Clerk"
    );
    let invited_row = engine
        .store()
        .get_user_by_id(invited.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(invited_row.sync_status, SyncStatus::Synced);
    assert_eq!(
        invited_row.clerk_id, None,
        "linked when the invitee signs up"
    );
    fake.take_webhooks();

    engine
        .delete_local_user(row.id)
        .await
        .expect("delete_local_user");
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!(tick.completed, 1);
    assert!(fake.user(&in_clerk.id).is_none(), "deleted in Clerk");
    let row = engine
        .store()
        .get_user_by_id(row.id)
        .await
        .expect("get")
        .expect("row");
    assert!(row.is_deleted(), "tombstoned once Clerk confirmed");
    let echoes = deliver_all(&engine, fake.take_webhooks()).await;
    assert_eq!(
        echoes,
        vec![ProcessOutcome::Stale],
        "the user.deleted echo finds the tombstone"
    );
    assert_eq!(
        fake.requests_to("POST", "/v1/users").len(),
        1,
        "nothing sent twice"
    );
}

/// 429, 5xx and a timeout are retried with backoff; the row stays `pending` with the error
/// until the push succeeds.
pub async fn outbound_retries_transient_failures<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let api = single_shot(&fake).with_request_timeout(Duration::from_millis(300));
    let engine = engine_for(factory.make().await, &fake)
        .with_clerk_api(api)
        .with_outbound_config(quick());
    let queued = engine
        .create_local_user(profile("retry@example.com"))
        .await
        .expect("create");
    let route = Route::post("/v1/users");
    fake.fail_next(
        1,
        route.clone(),
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    );
    fake.fail_next(1, route.clone(), Fault::Status(StatusCode::BAD_GATEWAY));

    let first = engine.outbound_tick().await.expect("tick");
    assert_eq!(first.retried, 1, "429 is retried");
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Pending);
    assert!(
        row.sync_error.as_deref().is_some_and(|e| e.contains("429")),
        "{:?}",
        row.sync_error
    );
    assert_eq!(
        engine.outbound_tick().await.expect("tick").claimed,
        0,
        "Retry-After is honoured: not due before a second"
    );
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(
        engine.outbound_tick().await.expect("tick").retried,
        1,
        "502 is retried"
    );
    drain(&engine, 20).await;
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert_eq!(row.sync_error, None, "success clears the error");
    assert_eq!(fake.user_count(), 1);
    assert_eq!(
        engine
            .store()
            .outbox_for_user(row.id)
            .await
            .expect("outbox")
            .len(),
        0
    );
}

/// A permanent refusal makes a dead letter and a `failed` row with Clerk's message;
/// `retry_failed` sends it again.
pub async fn outbound_permanent_failure_then_retry_failed<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake)
        .with_clerk_api(single_shot(&fake))
        .with_outbound_config(quick());
    let queued = engine
        .create_local_user(profile("refused@example.com"))
        .await
        .expect("create");
    fake.fail_next(
        1,
        Route::post("/v1/users"),
        Fault::Status(StatusCode::UNPROCESSABLE_ENTITY),
    );
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!(tick.dead, 1, "a 422 is not retried");
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Failed);
    let error = row.sync_error.clone().expect("sync_error");
    assert!(error.contains("422"), "{error}");
    assert!(row.last_sync_attempt.is_some());
    assert_eq!(
        engine.outbound_tick().await.expect("tick").claimed,
        0,
        "a dead letter waits"
    );

    assert_eq!(engine.retry_failed(None).await.expect("retry_failed"), 1);
    let row = engine
        .store()
        .get_user_by_id(row.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Pending);
    assert_eq!(engine.outbound_tick().await.expect("tick").completed, 1);
    let row = engine
        .store()
        .get_user_by_id(row.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert!(row.clerk_id.is_some());
}

/// Failures past the configured attempts make a dead letter; once Clerk is back,
/// `retry_failed` gets the change through.
pub async fn outbound_exhausted_attempts_then_retry_failed<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake)
        .with_clerk_api(single_shot(&fake))
        .with_outbound_config(OutboundConfig {
            max_attempts: 3,
            ..quick()
        });
    let queued = engine
        .create_local_user(profile("exhausted@example.com"))
        .await
        .expect("create");
    fake.fail_always(
        Route::post("/v1/users"),
        Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    drain(&engine, 30).await;
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Failed);
    let error = row.sync_error.clone().expect("sync_error");
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    assert_eq!(
        fake.requests_to("POST", "/v1/users").len(),
        3,
        "exactly the allowed attempts"
    );
    let dead = engine
        .store()
        .outbox_for_user(row.id)
        .await
        .expect("outbox");
    assert!(
        dead.len() == 1 && dead[0].is_dead(),
        "kept as a dead letter"
    );

    fake.clear_faults();
    assert_eq!(
        engine
            .retry_failed(Some(row.id))
            .await
            .expect("retry_failed"),
        1
    );
    drain(&engine, 10).await;
    let row = engine
        .store()
        .get_user_by_id(row.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert_eq!(fake.user_count(), 1);
}

/// Clerk creates the user but the answer is lost: the worker finds it by email and links it;
/// Clerk ends with exactly one user.
pub async fn outbound_ambiguous_create_makes_one_user<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let engine = engine_for(factory.make().await, &fake).with_outbound_config(quick());
    let queued = engine
        .create_local_user(profile("lost@example.com"))
        .await
        .expect("create");
    fake.fail_next(1, Route::post("/v1/users"), Fault::DropResponse);
    drain(&engine, 10).await;
    assert_eq!(fake.user_count(), 1, "no twin");
    let in_clerk = fake.user_by_email("lost@example.com").expect("created");
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        row.clerk_id.as_deref(),
        Some(in_clerk.id.as_str()),
        "linked"
    );
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert_eq!(
        fake.requests_to("POST", "/v1/users").len(),
        1,
        "not sent again"
    );
}

/// A local create for an address a Clerk user already holds links to that user at once.
pub async fn outbound_create_links_an_existing_email<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let existing = fake
        .seed_user(SeedUser::new("taken@example.com"))
        .expect("seed");
    let engine = engine_for(factory.make().await, &fake).with_outbound_config(quick());
    let queued = engine
        .create_local_user(profile("taken@example.com"))
        .await
        .expect("create");
    let tick = engine.outbound_tick().await.expect("tick");
    assert_eq!(tick.completed, 1, "resolved on the first attempt");
    let row = engine
        .store()
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.clerk_id.as_deref(), Some(existing.id.as_str()));
    assert_eq!(row.sync_status, SyncStatus::Synced);
    assert_eq!(fake.user_count(), 1);
}

/// A worker stalled past its claim cannot settle the entry; the worker that took it over
/// does, and Clerk holds one user.
pub async fn outbound_stalled_worker_cannot_settle<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let store = Arc::new(factory.make().await);
    let verifier = WebhookVerifier::new(fake.webhook_secret()).expect("secret");
    let worker = |name: &str| {
        SyncEngine::from_shared(Arc::clone(&store), verifier.clone())
            .with_clerk_api(single_shot(&fake))
            .with_outbound_config(OutboundConfig {
                worker_id: Some(name.to_owned()),
                claim_lease: Duration::from_millis(700),
                ..quick()
            })
    };
    let (slow, fast) = (worker("slow"), worker("fast"));
    let queued = slow
        .create_local_user(profile("stall@example.com"))
        .await
        .expect("create");
    fake.fail_next(
        1,
        Route::post("/v1/users"),
        Fault::Latency(Duration::from_millis(1_500)),
    );
    let stalled = tokio::spawn(async move { slow.outbound_tick().await });
    tokio::time::sleep(Duration::from_millis(900)).await;
    let took_over = fast.outbound_tick().await.expect("tick");
    assert_eq!(
        (took_over.claimed, took_over.completed),
        (1, 1),
        "the expired claim is taken over and settled"
    );
    let stalled = stalled.await.expect("task").expect("tick");
    assert_eq!(stalled.lost, 1, "the stalled worker's settle is refused");
    assert_eq!(stalled.completed, 0);
    assert_eq!(fake.user_count(), 1, "one Clerk user");
    let in_clerk = fake.user_by_email("stall@example.com").expect("created");
    let row = store
        .get_user_by_id(queued.user.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.clerk_id.as_deref(), Some(in_clerk.id.as_str()));
    assert_eq!(row.sync_status, SyncStatus::Synced);
}

/// Shutdown in the middle of a batch stops the worker promptly; the unsettled entries are
/// taken up by the next worker once their claims expire, and every change arrives once.
pub async fn outbound_shutdown_loses_nothing<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let fake = FakeClerk::start().await;
    let store = Arc::new(factory.make().await);
    let verifier = WebhookVerifier::new(fake.webhook_secret()).expect("secret");
    let config = OutboundConfig {
        claim_lease: Duration::from_millis(800),
        shutdown_grace: Duration::from_millis(100),
        ..quick()
    };
    let engine = SyncEngine::from_shared(Arc::clone(&store), verifier.clone())
        .with_clerk_api(single_shot(&fake))
        .with_outbound_config(config.clone());
    let mut ids = Vec::new();
    for i in 0..10 {
        let queued = engine
            .create_local_user(profile(&format!("bye{i}@example.com")))
            .await
            .expect("create");
        ids.push(queued.user.id);
    }
    fake.fail_always(
        Route::post("/v1/users"),
        Fault::Latency(Duration::from_millis(600)),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .run_outbound(async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let asked = Instant::now();
    let _ = stop.send(());
    worker.await.expect("task").expect("run_outbound");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "stopped within the grace, not after the slow calls"
    );
    fake.clear_faults();
    tokio::time::sleep(config.claim_lease).await;
    let next = SyncEngine::from_shared(Arc::clone(&store), verifier)
        .with_clerk_api(test_client(&fake))
        .with_outbound_config(config);
    drain(&next, 20).await;
    for id in ids {
        let row = store.get_user_by_id(id).await.expect("get").expect("row");
        assert_eq!(row.sync_status, SyncStatus::Synced, "row {id} lost nothing");
        assert!(row.clerk_id.is_some());
    }
    assert_eq!(fake.user_count(), 10, "each change arrived once");
}

/// Four workers share 300 queued changes of 100 users: Clerk sees each change exactly once,
/// and each user's changes in order.
pub async fn outbound_workers_send_each_change_once_in_order<F: StoreFactory<Store: SyncStore>>(
    factory: F,
) {
    let fake = FakeClerk::start().await;
    let store = Arc::new(factory.make().await);
    let verifier = WebhookVerifier::new(fake.webhook_secret()).expect("secret");
    let engine_named = |name: String| {
        SyncEngine::from_shared(Arc::clone(&store), verifier.clone())
            .with_clerk_api(test_client(&fake))
            .with_outbound_config(OutboundConfig {
                worker_id: Some(name),
                batch_size: 10,
                ..quick()
            })
    };
    let queuer = engine_named("queuer".to_owned());
    let mut rows = Vec::new();
    for i in 0..100 {
        let created = queuer
            .create_local_user(profile(&format!("w{i}@example.com")))
            .await
            .expect("create");
        for change in [
            UserProfile {
                first_name: Some(format!("First{i}")),
                ..UserProfile::default()
            },
            UserProfile {
                last_name: Some(format!("Last{i}")),
                ..UserProfile::default()
            },
        ] {
            queuer
                .update_local_user(created.user.id, change)
                .await
                .expect("update");
        }
        rows.push(created.user.id);
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let engine = engine_named(format!("worker-{w}"));
            tokio::spawn(async move {
                let mut idle = 0;
                while idle < 5 {
                    let tick = engine.outbound_tick().await.expect("tick");
                    if tick.claimed == 0 {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    } else {
                        idle = 0;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }

    let requests = fake.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.route.as_deref() == Some("/v1/users"))
        .collect();
    assert_eq!(posts.len(), 100, "each create once");
    let patches: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.route.as_deref() == Some("/v1/users/{id}"))
        .collect();
    assert_eq!(patches.len(), 200, "each update once");
    let mut order: HashMap<String, Vec<&str>> = HashMap::new();
    for request in requests
        .iter()
        .filter(|r| r.status.is_some_and(|s| s < 300))
    {
        let body = request.body.as_deref().unwrap_or_default();
        if request.method == "POST" && request.route.as_deref() == Some("/v1/users") {
            let email =
                serde_json::from_str::<serde_json::Value>(body).expect("json")["email_address"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            let id = fake.user_by_email(&email).expect("created").id;
            order.entry(id).or_default().push("create");
        } else if request.method == "PATCH" && request.route.as_deref() == Some("/v1/users/{id}") {
            let id = request
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let kind = if body.contains("first_name") {
                "first"
            } else {
                "last"
            };
            order.entry(id).or_default().push(kind);
        }
    }
    assert_eq!(order.len(), 100);
    for (id, changes) in &order {
        assert_eq!(
            changes,
            &["create", "first", "last"],
            "{id}: in order, once each"
        );
    }
    for id in rows {
        let row = store.get_user_by_id(id).await.expect("get").expect("row");
        assert_eq!(row.sync_status, SyncStatus::Synced);
    }
}
