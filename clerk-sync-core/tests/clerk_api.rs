//! The Backend API client against FakeClerk: paging under concurrent change, the shared rate
//! budget and `Retry-After`, retries and their limits, ambiguity of creates, error
//! recognition, and secrecy of the key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk_sync_core::clerk_api::{
    API_VERSION, ClerkApi, ClerkApiError, CreateInvitation, CreateUser, ListUsers, ListUsersQuery,
    MetadataUpdate, RateLimit, RetryPolicy, TransportErrorKind, UpdateUser,
};
use clerk_sync_testing::{FakeClerk, Fault, Route, SeedUser, StatusCode, max_in_window};
use serde_json::json;

/// Retries fast enough for tests, bounded enough to end.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(40))
        .max_elapsed(Duration::from_secs(10))
        .max_retry_after(Duration::from_secs(3))
}

fn client(fake: &FakeClerk) -> ClerkApi {
    ClerkApi::new(fake.secret_key())
        .unwrap()
        .with_base_url(fake.base_url())
        .unwrap()
        .with_retry_policy(fast_retries())
}

async fn started() -> (FakeClerk, ClerkApi) {
    let fake = FakeClerk::start().await;
    let api = client(&fake);
    (fake, api)
}

#[tokio::test]
async fn requests_carry_key_version_and_agent() {
    let (fake, api) = started().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com").first_name("Ada"))
        .unwrap();

    let user = api.get_user(&ada.id).await.unwrap().expect("seeded user");
    assert_eq!(user.id, ada.id);
    assert_eq!(user.first_name.as_deref(), Some("Ada"));
    assert_eq!(
        user.primary_email().map(|e| e.email_address.as_str()),
        Some("ada@example.com")
    );

    let raw = api.fetch_user(&ada.id).await.unwrap().unwrap();
    assert_eq!(raw.id(), Some(ada.id.as_str()));
    assert_eq!(raw.updated_at(), Some(ada.updated_at));
    assert!(raw.raw_json().contains("\"object\":\"user\""));

    let log = fake.requests();
    assert_eq!(log.len(), 2);
    for request in &log {
        assert!(request.authorized, "Bearer secret key sent");
        assert_eq!(request.api_version.as_deref(), Some(API_VERSION));
        assert!(
            request
                .user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("clerk-sync-core/")),
            "{:?}",
            request.user_agent
        );
        assert_eq!(request.endpoint(), "GET /v1/users/{id}");
    }
}

#[tokio::test]
async fn a_missing_user_is_none_and_a_delete_says_whether_it_deleted() {
    let (fake, api) = started().await;
    assert!(api.get_user("user_2NoSuchUser").await.unwrap().is_none());
    assert!(api.fetch_user("user_2NoSuchUser").await.unwrap().is_none());

    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    assert!(api.delete_user(&ada.id).await.unwrap());
    assert!(!api.delete_user(&ada.id).await.unwrap(), "404 is false");
    assert_eq!(fake.user_count(), 0);

    let error = api
        .update_user(&ada.id, &UpdateUser::new().first_name("X"))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn count_and_lookup_by_email() {
    let (fake, api) = started().await;
    fake.seed_users(7);
    let ada = fake.seed_user(SeedUser::new("Ada@Example.com")).unwrap();
    assert_eq!(api.count_users().await.unwrap(), 8);

    let found = api.find_users_by_email("ada@example.com").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id(), Some(ada.id.as_str()));
    assert!(
        api.find_users_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        api.find_users_by_email(" ").await,
        Err(ClerkApiError::InvalidArgument(_))
    ));

    let page = api
        .list_users_page(
            &ListUsersQuery::new()
                .user_id(&ada.id)
                .limit(5)
                .order_by("-created_at"),
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    let request = fake.requests().pop().unwrap();
    assert_eq!(
        request.query_values("user_id"),
        std::slice::from_ref(&ada.id)
    );
    assert_eq!(request.query_values("order_by"), ["-created_at"]);
}

/// The walk reaches every user that existed when it started and still exists, exactly once,
/// although users before and after the cursor are deleted (the cursor's own user too) and
/// new ones are created while it runs. Offset paging fails this: each deletion behind the
/// offset shifts an unseen user back into the pages already read.
#[tokio::test]
async fn the_cursor_walk_misses_no_one_while_users_come_and_go() {
    let (fake, api) = started().await;
    let initial = fake.seed_users(1_234);

    let mut pages = api.list_users(ListUsers::new().limit(100));
    let mut seen: Vec<String> = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut created: Vec<String> = Vec::new();
    let mut page_number = 0;
    while let Some(page) = pages.next_page().await.unwrap() {
        page_number += 1;
        assert!(page.len() <= 100);
        let ids: Vec<String> = page.iter().map(|u| u.id().unwrap().to_owned()).collect();
        assert_eq!(pages.cursor(), ids.last().map(String::as_str));
        seen.extend(ids.iter().cloned());
        if page_number == 3 {
            // Behind the cursor, the cursor itself, and ahead of it.
            for id in [
                &ids[0],
                &ids[50],
                ids.last().unwrap(),
                &initial[700],
                &initial[701],
            ] {
                assert!(fake.delete_user_directly(id));
                deleted.insert(id.clone());
            }
            for i in 0..30 {
                let user = fake
                    .create_user_directly(SeedUser::new(format!("late{i}@example.com")))
                    .unwrap();
                created.push(user.id);
            }
        }
    }
    assert!(pages.is_done());
    assert!(pages.next_page().await.unwrap().is_none());

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    for id in initial.iter().filter(|id| !deleted.contains(*id)) {
        assert!(unique.contains(id), "{id} skipped");
    }
    for id in &created {
        assert!(
            unique.contains(id),
            "user created mid-walk {id} not reached"
        );
    }
    assert!(
        !unique.contains(&initial[700]),
        "deleted ahead of the cursor"
    );

    // Every request was a cursor request in +created_at order, with the previous last id.
    // 1259 users: the 13th page is short, which ends the walk without another request.
    let requests = fake.requests_to("GET", "/v1/users");
    assert_eq!(requests.len(), page_number);
    assert_eq!(page_number, 13);
    for request in &requests {
        assert_eq!(request.query_values("order_by"), ["+created_at"]);
        assert_eq!(request.query_values("limit"), ["100"]);
        assert!(request.query_values("offset").is_empty());
    }
    assert!(requests[0].query_values("starting_after").is_empty());
    assert_eq!(
        requests[1].query_values("starting_after"),
        [seen[99].clone()]
    );
}

#[tokio::test]
async fn a_walk_resumes_from_a_saved_cursor() {
    let (fake, api) = started().await;
    let ids = fake.seed_users(25);

    let mut first = api.list_users(ListUsers::new().limit(10));
    let page = first.next_page().await.unwrap().unwrap();
    let saved = first.cursor().unwrap().to_owned();
    assert_eq!(page.len(), 10);
    drop(first);

    let mut resumed = api.list_users(ListUsers::new().limit(10).starting_after(&saved));
    let mut rest = Vec::new();
    while let Some(page) = resumed.next_page().await.unwrap() {
        rest.extend(page.into_iter().map(|u| u.id().unwrap().to_owned()));
    }
    assert_eq!(rest, ids[10..]);

    // An invalid limit is refused before any request.
    let mut bad = api.list_users(ListUsers::new().limit(501));
    assert!(matches!(
        bad.next_page().await,
        Err(ClerkApiError::InvalidArgument(_))
    ));
}

/// A small budget (20 per second) across 60 concurrent calls from clones: no sliding window
/// at the server sees more than 20. The server measures arrival times, which lag the
/// client's admission times by a variable delay on a busy machine, so it checks windows of
/// 800 ms; without the limiter all 60 arrive within a few milliseconds. (The exact sliding
/// behaviour is unit-tested on the limiter with a paused clock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_holds_in_every_sliding_window_across_clones() {
    let (fake, api) = started().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let api = api.with_rate_limit(RateLimit::new(20, Duration::from_secs(1)).unwrap());

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let api = api.clone();
        let id = ada.id.clone();
        tasks.push(tokio::spawn(async move { api.get_user(&id).await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    let log = fake.requests();
    assert_eq!(log.len(), 60);
    let worst = max_in_window(&log, Duration::from_millis(800));
    assert!(worst <= 20, "{worst} requests within one window");
    // 60 requests at 20 per second need at least two full windows after the first burst.
    assert!(started.elapsed() >= Duration::from_millis(1_900));
}

/// A 429 with `Retry-After: 1` pauses every clone of the client, not just the caller: a
/// request started on another clone during the pause reaches the server only after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_pauses_every_clone() {
    let (fake, api) = started().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    fake.fail_next(
        1,
        Route::get("/v1/users/{id}"),
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    );

    let first = {
        let api = api.clone();
        let id = ada.id.clone();
        tokio::spawn(async move { api.get_user(&id).await })
    };
    // Wait until the 429 has been answered, and a little for the client to read it.
    let limited_at = loop {
        if let Some(request) = fake.requests().iter().find(|r| r.status == Some(429)) {
            break request.at;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other_clone = api.clone();
    assert!(other_clone.count_users().await.is_ok());
    assert!(first.await.unwrap().unwrap().is_some());

    let log = fake.requests();
    assert_eq!(
        log.len(),
        3,
        "429, its retry, and the other clone's request"
    );
    for request in log.iter().filter(|r| r.status != Some(429)) {
        let after = request.at.duration_since(limited_at);
        assert!(
            after >= Duration::from_millis(950),
            "{} sent {after:?} after the 429",
            request.endpoint()
        );
    }
}

/// Clerk's own limit (10 per second) against a client misconfigured with a larger budget:
/// the 429s are obeyed and every call still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_ridden_out() {
    let fake = FakeClerk::builder()
        .with_rate_limit(10, Duration::from_secs(1))
        .start()
        .await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let api = client(&fake)
        .with_rate_limit(RateLimit::new(100, Duration::from_secs(1)).unwrap())
        .with_retry_policy(fast_retries().max_attempts(6));

    let mut tasks = Vec::new();
    for _ in 0..25 {
        let api = api.clone();
        let id = ada.id.clone();
        tasks.push(tokio::spawn(async move { api.get_user(&id).await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_some());
    }
    let log = fake.requests();
    let limited = log.iter().filter(|r| r.status == Some(429)).count();
    assert!(limited > 0, "the storm happened");
    // Each refused call waits its Retry-After (and holds the other clones): the 15 calls
    // over budget are each refused about once, not hammered every few milliseconds until
    // their attempts run out.
    assert!(limited <= 30, "{limited} refusals");
    assert_eq!(log.iter().filter(|r| r.status == Some(200)).count(), 25);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_and_bounded() {
    let (fake, api) = started().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();

    fake.fail_next(
        3,
        Route::get("/v1/users/{id}"),
        Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    assert!(api.get_user(&ada.id).await.unwrap().is_some());
    assert_eq!(fake.requests().len(), 4);

    fake.clear_requests();
    fake.fail_always(
        Route::path("/v1/users/{id}"),
        Fault::Status(StatusCode::BAD_GATEWAY),
    );
    let error = api
        .update_user(&ada.id, &UpdateUser::new().first_name("A"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClerkApiError::Server {
                status: 502,
                ambiguous: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(fake.requests().len(), 4, "max_attempts bounds the retries");
}

#[tokio::test]
async fn a_create_is_not_retried_after_a_5xx() {
    let (fake, api) = started().await;
    fake.fail_next(
        1,
        Route::post("/v1/users"),
        Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
    );
    let error = api
        .create_user(&CreateUser::new().email_address("ada@example.com"))
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains("may have been applied"));
    assert_eq!(fake.requests_to("POST", "/v1/users").len(), 1);
}

/// The answer of a successful create is lost: the error says the create may have happened,
/// it was sent exactly once, and a lookup by email resolves it.
#[tokio::test]
async fn a_lost_create_answer_is_ambiguous_and_sent_once() {
    let (fake, api) = started().await;
    fake.fail_next(1, Route::post("/v1/users"), Fault::DropResponse);
    let error = api
        .create_user(
            &CreateUser::new()
                .email_address("ada@example.com")
                .first_name("Ada"),
        )
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert!(matches!(
        error,
        ClerkApiError::Transport {
            kind: TransportErrorKind::Connection,
            ..
        }
    ));
    let posts = fake.requests_to("POST", "/v1/users");
    assert_eq!(posts.len(), 1, "not retried blindly");
    assert_eq!(posts[0].status, None, "no answer was sent");

    let found = api.find_users_by_email("ada@example.com").await.unwrap();
    assert_eq!(found.len(), 1, "the create had been applied");

    // The same drop on a read is simply retried.
    fake.fail_next(1, Route::get("/v1/users/{id}"), Fault::DropResponse);
    let id = found[0].id().unwrap();
    assert!(api.get_user(id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_create_refused_with_429_is_retried() {
    let (fake, api) = started().await;
    fake.fail_next(
        1,
        Route::post("/v1/users"),
        Fault::RateLimited {
            retry_after: Duration::ZERO,
        },
    );
    let user = api
        .create_user(&CreateUser::new().email_address("ada@example.com"))
        .await
        .unwrap();
    assert!(user.id().is_some_and(|id| id.starts_with("user_")));
    let posts = fake.requests_to("POST", "/v1/users");
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(429), Some(200)]
    );
    assert_eq!(fake.user_count(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_not_ambiguous() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let api = ClerkApi::new("sk_test_refused")
        .unwrap()
        .with_base_url(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_retry_policy(fast_retries().max_attempts(2));
    let error = api
        .create_user(&CreateUser::new().email_address("ada@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClerkApiError::Transport {
                kind: TransportErrorKind::Connect,
                ambiguous: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn timeouts_retry_reads_and_flag_creates() {
    let (fake, api) = started().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let api = api
        .with_request_timeout(Duration::from_millis(150))
        .with_retry_policy(fast_retries().max_attempts(2));
    fake.fail_always(Route::any(), Fault::Latency(Duration::from_secs(2)));

    let started = Instant::now();
    let error = api.get_user(&ada.id).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClerkApiError::Transport {
                kind: TransportErrorKind::Timeout,
                ambiguous: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "timed out, not waited"
    );
    assert_eq!(fake.requests_to("GET", "/v1/users/{id}").len(), 2);

    let error = api
        .create_user(&CreateUser::new().email_address("grace@example.com"))
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(fake.requests_to("POST", "/v1/users").len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_key_is_a_clear_unauthorized_error() {
    let fake = FakeClerk::start().await;
    let secret = "sk_test_ThisIsNotTheRightKey0123456789";
    let api = ClerkApi::new(secret)
        .unwrap()
        .with_base_url(fake.base_url())
        .unwrap()
        .with_retry_policy(fast_retries());
    let error = api.count_users().await.unwrap_err();
    assert!(error.is_unauthorized());
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.first_error_code(), Some("clerk_key_invalid"));
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("secret key"), "{message}");
    assert!(!message.contains(secret) && !format!("{error:?}").contains(secret));
    assert_eq!(fake.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn garbage_is_a_decode_error() {
    let (fake, api) = started().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    fake.fail_next(1, Route::get("/v1/users/{id}"), Fault::Garbage);
    let error = api.get_user(&ada.id).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClerkApiError::Decode {
                status: 200,
                ambiguous: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    fake.fail_next(1, Route::get("/v1/users"), Fault::Garbage);
    let mut pages = api.list_users(ListUsers::new());
    assert!(matches!(
        pages.next_page().await,
        Err(ClerkApiError::Decode { .. })
    ));
    assert_eq!(pages.cursor(), None, "a failed page leaves the cursor");
    assert_eq!(pages.next_page().await.unwrap().unwrap().len(), 1);

    // A create whose 200 cannot be read was applied, but its id is unknown.
    fake.fail_next(1, Route::post("/v1/users"), Fault::Garbage);
    let error = api
        .create_user(&CreateUser::new().email_address("grace@example.com"))
        .await
        .unwrap_err();
    assert!(error.is_ambiguous());
}

#[tokio::test]
async fn identifier_exists_is_recognised() {
    let (fake, api) = started().await;
    fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let error = api
        .create_user(&CreateUser::new().email_address("ADA@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ClerkApiError::Validation { status: 422, .. }
    ));
    assert_eq!(error.first_error_code(), Some("form_identifier_exists"));
    assert!(error.has_error_code("form_identifier_exists"));
    assert_eq!(
        error.long_message(),
        Some("That email address is taken. Please try another.")
    );
    assert_eq!(error.errors()[0].param_name(), Some("email_address"));
    assert!(error.clerk_trace_id().is_some());
    assert!(!error.is_ambiguous() && !error.is_retryable());
    assert_eq!(fake.user_count(), 1);
}

#[tokio::test]
async fn writes_reach_clerk_as_sent() {
    let (fake, api) = started().await;
    let created = api
        .create_user(
            &CreateUser::new()
                .email_address("ada@example.com")
                .first_name("Ada")
                .external_id("42")
                .public_metadata(json!({"plan": "free", "flags": {"beta": true}}))
                .skip_password_requirement(true),
        )
        .await
        .unwrap();
    let id = created.id().unwrap().to_owned();
    let typed = created.to_user().unwrap();
    assert_eq!(typed.external_id.as_deref(), Some("42"));
    assert!(typed.primary_email().unwrap().is_verified());

    let updated = api
        .update_user(&id, &UpdateUser::new().last_name("Lovelace"))
        .await
        .unwrap();
    assert!(updated.updated_at() > created.updated_at());

    api.update_user_metadata(
        &id,
        &MetadataUpdate::new().public(json!({"plan": "pro", "flags": {"beta": null, "new": 1}})),
    )
    .await
    .unwrap();
    let stored = fake.user(&id).unwrap();
    assert_eq!(stored.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(
        stored.public_metadata,
        json!({"plan": "pro", "flags": {"new": 1}})
    );
    assert!(matches!(
        api.update_user_metadata(&id, &MetadataUpdate::new().public(json!([1])))
            .await,
        Err(ClerkApiError::InvalidArgument(_))
    ));

    let invitation = api
        .create_invitation(&CreateInvitation::new("grace@example.com").notify(false))
        .await
        .unwrap();
    assert!(invitation.id.starts_with("inv_"));
    assert_eq!(invitation.email_address, "grace@example.com");
    let again = api
        .create_invitation(&CreateInvitation::new("grace@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(again, ClerkApiError::Validation { .. }),
        "{again:?}"
    );

    // Each write was sent exactly once and queued Clerk's echo.
    let kinds: Vec<String> = fake
        .take_webhooks()
        .into_iter()
        .map(|w| w.event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.updated",
            "user.updated",
            "invitation.created"
        ]
    );
    let mut per_endpoint: HashMap<String, usize> = HashMap::new();
    for request in fake.requests() {
        *per_endpoint.entry(request.endpoint()).or_default() += 1;
    }
    assert_eq!(per_endpoint["POST /v1/users"], 1);
    assert_eq!(per_endpoint["PATCH /v1/users/{id}"], 1);
}

#[tokio::test]
async fn the_key_and_emails_stay_out_of_debug_and_errors() {
    let secret = "sk_live_TopSecretValue0123456789abcdef";
    let api = ClerkApi::new(secret)
        .unwrap()
        .with_base_url("http://127.0.0.1:9")
        .unwrap()
        .with_retry_policy(RetryPolicy::none());
    let debug = format!("{api:?}");
    assert!(!debug.contains("TopSecret"), "{debug}");
    assert_eq!(api.rate_limit().requests(), 1000);

    let error = api
        .find_users_by_email("private@example.com")
        .await
        .unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("TopSecret"), "{text}");
        assert!(!text.contains("private@example.com"), "{text}");
        assert!(!text.contains("127.0.0.1:9/v1/users"), "{text}");
    }

    // Unauthorized errors from the server do not echo the key either.
    let fake = FakeClerk::start().await;
    let error = ClerkApi::new(secret)
        .unwrap()
        .with_base_url(fake.base_url())
        .unwrap()
        .get_user("user_1")
        .await
        .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("TopSecret"));
}

/// A recorder that keeps counter keys (name and labels) and their increments.
#[derive(Default, Clone)]
struct Counters(Arc<Mutex<HashMap<String, u64>>>);

struct Counter(Arc<Mutex<HashMap<String, u64>>>, String);

impl metrics::CounterFn for Counter {
    fn increment(&self, value: u64) {
        *self.0.lock().unwrap().entry(self.1.clone()).or_default() += value;
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        metrics::Counter::from_arc(Arc::new(Counter(self.0.clone(), name)))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// Every attempt is counted under its route template, never an id.
#[test]
fn attempts_are_counted_by_route_template() {
    let counters = Counters::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&counters, || {
        runtime.block_on(async {
            let (fake, api) = started().await;
            let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
            fake.fail_next(
                1,
                Route::get("/v1/users/{id}"),
                Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
            );
            api.get_user(&ada.id).await.unwrap();
            api.get_user("user_2Missing").await.unwrap();
        });
    });
    let counts = counters.0.lock().unwrap().clone();
    let key = |status: &str| {
        format!(
            "clerk_sync_clerk_api_requests_total{{endpoint=GET /v1/users/{{id}},status={status}}}"
        )
    };
    assert_eq!(counts.get(&key("503")), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&key("200")), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&key("404")), Some(&1), "{counts:?}");
    assert!(counts.keys().all(|k| !k.contains("user_")), "{counts:?}");
}
