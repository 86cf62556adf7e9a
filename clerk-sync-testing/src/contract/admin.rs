//! The admin API: the key, then each route's success and its 400 / 404 / 409 paths.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::ContractContext;
use crate::{Fault, Route, SeedUser, SessionTokenOptions};

/// Every admin route with a harmless request.
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("GET", "/api/admin/users/user_2ContractAdmin"),
    ("PATCH", "/api/admin/users/user_2ContractAdmin"),
    ("DELETE", "/api/admin/users/user_2ContractAdmin"),
    ("POST", "/api/admin/users/user_2ContractAdmin/resync"),
    ("POST", "/api/admin/invitations"),
    ("POST", "/api/admin/sync-users?dry_run=true"),
    ("POST", "/api/admin/retry-failed"),
    ("GET", "/api/admin/events"),
    ("GET", "/api/admin/runs"),
    ("GET", "/api/admin/counts"),
];

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap_or(Method::GET)
}

/// Without `Authorization: Bearer <key>` every admin route is 401 `missing_admin_key` with a
/// `WWW-Authenticate: Bearer` challenge, and does nothing.
pub async fn admin_without_key_is_401(ctx: &ContractContext) {
    for (name, path) in ADMIN_ROUTES {
        for authorization in [None, Some("Basic YWRtaW46YWRtaW4="), Some("Bearer ")] {
            let mut call = ctx.call(method(name), path);
            if let Some(value) = authorization {
                call = call.header("authorization", value);
            }
            let reply = call.send().await;
            reply.expect_error(401, "missing_admin_key");
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "contract: the 401 of {} carries a Bearer challenge",
                reply.what
            );
        }
    }
    let runs = ctx.admin(Method::GET, "/api/admin/runs").send().await;
    assert_eq!(
        runs.expect(200).json()["runs"],
        json!([]),
        "contract: a refused reconcile did not run"
    );
}

/// A wrong key (or a user's session token) is 403 `invalid_admin_key`, never quoted back.
pub async fn admin_wrong_key_is_403(ctx: &ContractContext) {
    let wrong = format!("{}-but-wrong", ctx.admin_key());
    let session = ctx
        .fake()
        .session_token(SessionTokenOptions::new("user_2ContractAdmin"));
    for (name, path) in ADMIN_ROUTES {
        for key in [wrong.as_str(), session.as_str(), "x"] {
            let reply = ctx.call(method(name), path).bearer(key).send().await;
            reply
                .expect_error(403, "invalid_admin_key")
                .expect_no_leak(key, "the key given");
        }
    }
}

/// `GET /api/admin/users/{id}`: the row with its sync fields, by Clerk id or local id; 404
/// for neither.
pub async fn admin_get_user(ctx: &ContractContext) {
    let id = ctx.synced_user("get@example.com").await;
    let user = ctx
        .admin(Method::GET, &format!("/api/admin/users/{id}"))
        .send()
        .await
        .expect(200)
        .json();
    for field in [
        "id",
        "clerk_id",
        "email",
        "first_name",
        "last_name",
        "username",
        "image_url",
        "sync_status",
        "last_sync_attempt",
        "sync_error",
        "deleted_at",
    ] {
        assert!(
            user.get(field).is_some(),
            "contract: an admin user carries `{field}`: {user}"
        );
    }
    assert_eq!(user["sync_status"], json!("synced"));
    let local = user["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("contract: `id` is a number: {user}"));
    let by_local = ctx
        .admin(Method::GET, &format!("/api/admin/users/{local}"))
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        by_local["clerk_id"],
        json!(id),
        "contract: a local id finds the row too"
    );

    ctx.admin(Method::GET, "/api/admin/users/user_2ContractMissing")
        .send()
        .await
        .expect_error(404, "not_found");
    ctx.admin(Method::GET, "/api/admin/users/987654321")
        .send()
        .await
        .expect_error(404, "not_found");
}

/// `GET /api/admin/users`: `{"users", "next_cursor"}`, paged by cursor, filtered by
/// `sync_status`, tombstones only with `include_deleted`.
pub async fn admin_list_users(ctx: &ContractContext) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(ctx.synced_user(&format!("list{n}@example.com")).await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/admin/users?limit=2".to_owned();
    for _ in 0..10 {
        let page = ctx
            .admin(Method::GET, &path)
            .send()
            .await
            .expect(200)
            .json();
        let users = page["users"]
            .as_array()
            .unwrap_or_else(|| panic!("contract: `users` is an array: {page}"));
        assert!(users.len() <= 2, "contract: `limit` bounds a page");
        seen.extend(users.iter().map(|u| u["clerk_id"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/admin/users?limit=2&cursor={cursor}"),
            None => {
                assert!(
                    page["next_cursor"].is_null(),
                    "contract: the last page's cursor is null"
                );
                break;
            }
        }
    }
    let expected: Vec<Value> = ids.iter().map(|id| json!(id)).collect();
    assert_eq!(
        seen, expected,
        "contract: the pages hold every row once, by local id"
    );

    // A local create is pending: the filters tell the states apart.
    ctx.admin(Method::POST, "/api/admin/users")
        .json(&json!({"email": "pending@example.com"}))
        .send()
        .await
        .expect(202);
    for status in ["synced", "pending", "failed"] {
        let page = ctx
            .admin(
                Method::GET,
                &format!("/api/admin/users?sync_status={status}&limit=100"),
            )
            .send()
            .await
            .expect(200)
            .json();
        let users = page["users"].as_array().cloned().unwrap_or_default();
        assert!(
            users.iter().all(|u| u["sync_status"] == json!(status)),
            "contract: ?sync_status={status} answers only such rows: {page}"
        );
        if status == "synced" {
            assert!(users.len() >= 5, "contract: the synced rows are listed");
        }
    }

    // A tombstone is listed only on request.
    ctx.fake().delete_user_directly(&ids[0]);
    for delivery in ctx.fake().take_webhooks() {
        ctx.deliver(&delivery).await.expect(200);
    }
    let live = ctx
        .admin(Method::GET, "/api/admin/users?limit=100")
        .send()
        .await
        .expect(200)
        .json();
    assert!(
        !live["users"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| u["clerk_id"] == json!(ids[0])),
        "contract: tombstones are not listed by default"
    );
    let all = ctx
        .admin(
            Method::GET,
            "/api/admin/users?limit=100&include_deleted=true",
        )
        .send()
        .await
        .expect(200)
        .json();
    assert!(
        all["users"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| u["clerk_id"] == json!(ids[0]) && !u["deleted_at"].is_null()),
        "contract: include_deleted lists the tombstone"
    );
}

/// Bad query parameters are 400 `bad_request`, on every route that takes them.
pub async fn admin_bad_query_is_400(ctx: &ContractContext) {
    for (name, path) in [
        ("GET", "/api/admin/users?limit=ten"),
        ("GET", "/api/admin/users?limit=0"),
        ("GET", "/api/admin/users?limit=1001"),
        ("GET", "/api/admin/users?sync_status=bogus"),
        ("GET", "/api/admin/users?cursor=not-a-cursor"),
        ("GET", "/api/admin/users?include_deleted=perhaps"),
        ("GET", "/api/admin/users?sync_status=%ZZ"),
        ("GET", "/api/admin/events?outcome=bogus"),
        ("GET", "/api/admin/events?limit=-1"),
        ("GET", "/api/admin/runs?limit=x"),
        ("POST", "/api/admin/sync-users?dry_run=maybe"),
        ("POST", "/api/admin/sync-users?force=2"),
        ("POST", "/api/admin/retry-failed?user_id=abc"),
    ] {
        ctx.admin(method(name), path)
            .send()
            .await
            .expect_error(400, "bad_request");
    }
    let runs = ctx.admin(Method::GET, "/api/admin/runs").send().await;
    assert_eq!(
        runs.expect(200).json()["runs"],
        json!([]),
        "contract: a refused reconcile did not run"
    );
}

/// `POST /api/admin/users`: 202 with the `pending` row (no Clerk id yet); 400 for a body
/// that is not the JSON; 422 for invalid fields.
pub async fn admin_create_user(ctx: &ContractContext) {
    let row = ctx
        .admin(Method::POST, "/api/admin/users")
        .json(&json!({"email": "New.User@Example.com", "first_name": "New", "last_name": "User"}))
        .send()
        .await
        .expect(202)
        .json();
    assert_eq!(
        row["sync_status"],
        json!("pending"),
        "contract: a local create is pending: {row}"
    );
    assert!(
        row["clerk_id"].is_null(),
        "contract: Clerk has not answered yet"
    );
    assert_eq!(
        row["email"],
        json!("new.user@example.com"),
        "contract: stored lowercased"
    );
    assert_eq!(row["first_name"], json!("New"));
    let local = row["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("contract: `id`: {row}"));
    ctx.admin(Method::GET, &format!("/api/admin/users/{local}"))
        .send()
        .await
        .expect(200);

    ctx.admin(Method::POST, "/api/admin/users")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect_error(400, "bad_request");
    ctx.admin(Method::POST, "/api/admin/users")
        .json(&json!({"email": 42}))
        .send()
        .await
        .expect_error(400, "bad_request");
    for invalid in [
        json!({}),
        json!({"email": "not-an-address"}),
        json!({"email": "a@example.com", "public_metadata": [1]}),
    ] {
        ctx.admin(Method::POST, "/api/admin/users")
            .json(&invalid)
            .send()
            .await
            .expect_error(422, "invalid_input");
    }
}

/// `POST /api/admin/invitations`: 202 with the invited row; 400 without an email.
pub async fn admin_invite(ctx: &ContractContext) {
    let row = ctx
        .admin(Method::POST, "/api/admin/invitations")
        .json(&json!({"email": "invited@example.com"}))
        .send()
        .await
        .expect(202)
        .json();
    assert_eq!(row["email"], json!("invited@example.com"));
    assert_eq!(row["sync_status"], json!("pending"));
    ctx.admin(Method::POST, "/api/admin/invitations")
        .json(&json!({"first_name": "No Email"}))
        .send()
        .await
        .expect_error(400, "bad_request");
    ctx.admin(Method::POST, "/api/admin/invitations")
        .json(&json!({"email": "bad address"}))
        .send()
        .await
        .expect_error(422, "invalid_input");
}

/// `PATCH /api/admin/users/{id}`: 202 with the changed `pending` row; 404 for no such row;
/// 422 for no field.
pub async fn admin_update_user(ctx: &ContractContext) {
    let id = ctx.synced_user("update@example.com").await;
    let row = ctx
        .admin(Method::PATCH, &format!("/api/admin/users/{id}"))
        .json(&json!({"first_name": "Changed"}))
        .send()
        .await
        .expect(202)
        .json();
    assert_eq!(row["first_name"], json!("Changed"));
    assert_eq!(
        row["sync_status"],
        json!("pending"),
        "contract: queued for Clerk"
    );
    ctx.admin(Method::PATCH, &format!("/api/admin/users/{id}"))
        .json(&json!({}))
        .send()
        .await
        .expect_error(422, "invalid_input");
    ctx.admin(Method::PATCH, "/api/admin/users/user_2ContractMissing")
        .json(&json!({"first_name": "Nobody"}))
        .send()
        .await
        .expect_error(404, "not_found");
}

/// `DELETE /api/admin/users/{id}`: 202 with the row, queued for Clerk; 404 for no such row.
pub async fn admin_delete_user(ctx: &ContractContext) {
    let id = ctx.synced_user("delete@example.com").await;
    let row = ctx
        .admin(Method::DELETE, &format!("/api/admin/users/{id}"))
        .send()
        .await
        .expect(202)
        .json();
    assert_eq!(row["clerk_id"], json!(id));
    assert_eq!(row["sync_status"], json!("pending"));
    ctx.admin(Method::DELETE, "/api/admin/users/user_2ContractMissing")
        .send()
        .await
        .expect_error(404, "not_found");
}

/// `POST /api/admin/users/{id}/resync`: fetches the user from Clerk (`updated` /
/// `unchanged`), tombstones a row Clerk no longer has (`deleted`), 404 when neither knows it.
pub async fn admin_resync(ctx: &ContractContext) {
    let fake = ctx.fake();
    let only_clerk = fake
        .seed_user(SeedUser::new("resync@example.com"))
        .unwrap_or_else(|e| panic!("{e}"));
    let path = format!("/api/admin/users/{}/resync", only_clerk.id);
    let first = ctx
        .admin(Method::POST, &path)
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        first["result"],
        json!("updated"),
        "contract: resync writes a new user: {first}"
    );
    assert_eq!(first["user"]["clerk_id"], json!(only_clerk.id));
    let again = ctx
        .admin(Method::POST, &path)
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(again["result"], json!("unchanged"), "{again}");

    fake.delete_user_directly(&only_clerk.id);
    let gone = ctx
        .admin(Method::POST, &path)
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(gone["result"], json!("deleted"), "{gone}");
    assert!(
        !gone["user"]["deleted_at"].is_null(),
        "contract: the row is a tombstone: {gone}"
    );

    ctx.admin(Method::POST, "/api/admin/users/user_2ContractNobody/resync")
        .send()
        .await
        .expect_error(404, "not_found");
}

/// `POST /api/admin/sync-users`: a dry run reports without writing, a real run applies, and
/// the report carries `created/updated/deleted/unchanged/failed` and `dry_run`.
pub async fn admin_reconcile_dry_run_then_apply(ctx: &ContractContext) {
    let fake = ctx.fake();
    let ids = fake.seed_users(3);
    let dry = ctx
        .admin(Method::POST, "/api/admin/sync-users?dry_run=true")
        .send()
        .await
        .expect(200)
        .json();
    for field in ["created", "updated", "deleted", "unchanged", "failed"] {
        assert!(
            dry[field].is_u64(),
            "contract: the report carries `{field}`: {dry}"
        );
    }
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(
        dry["created"],
        json!(3),
        "contract: a dry run reports the missing users: {dry}"
    );
    let users = ctx
        .admin(Method::GET, "/api/admin/users")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        users["users"],
        json!([]),
        "contract: a dry run writes no user"
    );

    let real = ctx
        .admin(Method::POST, "/api/admin/sync-users")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        (real["created"].clone(), real["dry_run"].clone()),
        (json!(3), json!(false)),
        "{real}"
    );
    for id in &ids {
        ctx.admin(Method::GET, &format!("/api/admin/users/{id}"))
            .send()
            .await
            .expect(200);
    }
    let again = ctx
        .admin(Method::POST, "/api/admin/sync-users?force=false")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        (again["created"].clone(), again["unchanged"].clone()),
        (json!(0), json!(3)),
        "{again}"
    );
}

/// A reconcile started while another runs is 409 `already_running`; the first finishes.
pub async fn admin_reconcile_while_running_is_409(ctx: &ContractContext) {
    let fake = ctx.fake();
    fake.seed_users(2);
    fake.clear_requests();
    fake.fail_next(
        1,
        Route::get("/v1/users"),
        Fault::Latency(Duration::from_millis(2000)),
    );

    let first = {
        let call = ctx.admin(Method::POST, "/api/admin/sync-users");
        call.send()
    };
    let second = async {
        // The first run holds the lease once it lists Clerk's users (waited for up to 10 s:
        // a loaded machine can be slow to get there).
        for _ in 0..1000 {
            if !fake.requests_to("GET", "/v1/users").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctx.admin(Method::POST, "/api/admin/sync-users")
            .send()
            .await
    };
    let (first, second) = tokio::join!(first, second);
    second.expect_error(409, "already_running");
    first.expect(200);
    let runs = ctx
        .admin(Method::GET, "/api/admin/runs")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        runs["runs"].as_array().map(Vec::len),
        Some(1),
        "contract: the refused run is not recorded: {runs}"
    );
}

/// `POST /api/admin/retry-failed`: 200 `{"revived": n}`, for all or one `user_id`.
pub async fn admin_retry_failed(ctx: &ContractContext) {
    let all = ctx
        .admin(Method::POST, "/api/admin/retry-failed")
        .send()
        .await
        .expect(200)
        .json();
    assert!(
        all["revived"].is_u64(),
        "contract: {{\"revived\": n}}: {all}"
    );
    let one = ctx
        .admin(Method::POST, "/api/admin/retry-failed?user_id=1")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(one["revived"], json!(0));
}

/// `GET /api/admin/events`: recent deliveries, newest first, filtered by `outcome`, never
/// with their payloads.
pub async fn admin_events_without_payloads(ctx: &ContractContext) {
    let id = ctx.synced_user("events@example.com").await;
    let ignored = ctx.fake().sign_webhook(
        "session.created",
        json!({"id": "sess_contract_events", "object": "session"}),
    );
    ctx.deliver(&ignored).await.expect(200);

    let reply = ctx.admin(Method::GET, "/api/admin/events").send().await;
    reply
        .expect(200)
        .expect_no_leak("events@example.com", "a payload");
    let events = reply.json();
    let list = events["events"]
        .as_array()
        .unwrap_or_else(|| panic!("contract: `events` is an array: {events}"));
    assert_eq!(list.len(), 2, "{events}");
    assert_eq!(
        list[0]["event_type"],
        json!("session.created"),
        "contract: newest first"
    );
    assert_eq!(list[1]["event_type"], json!("user.created"));
    assert_eq!(list[1]["object_id"], json!(id));
    assert_eq!(list[1]["outcome"], json!("applied"));
    for event in list {
        assert!(
            event["svix_id"].is_string() && event["received_at"].is_string(),
            "{event}"
        );
        assert!(
            event.get("payload").is_none(),
            "contract: the admin API never shows a payload: {event}"
        );
    }

    let applied = ctx
        .admin(Method::GET, "/api/admin/events?outcome=applied&limit=10")
        .send()
        .await
        .expect(200)
        .json();
    let applied = applied["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(applied.len(), 1, "contract: ?outcome filters");
    let one = ctx
        .admin(Method::GET, "/api/admin/events?limit=1")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        one["events"].as_array().map(Vec::len),
        Some(1),
        "contract: ?limit bounds"
    );
}

/// `GET /api/admin/runs`: recent reconcile runs with their reports.
pub async fn admin_runs(ctx: &ContractContext) {
    let empty = ctx
        .admin(Method::GET, "/api/admin/runs")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(empty["runs"], json!([]));
    ctx.fake().seed_users(1);
    ctx.admin(Method::POST, "/api/admin/sync-users?dry_run=true")
        .send()
        .await
        .expect(200);
    let runs = ctx
        .admin(Method::GET, "/api/admin/runs?limit=5")
        .send()
        .await
        .expect(200)
        .json();
    let run = &runs["runs"][0];
    assert_eq!(run["kind"], json!("reconcile"), "{runs}");
    assert_eq!(run["dry_run"], json!(true));
    assert!(
        run["started_at"].is_string() && run["finished_at"].is_string(),
        "{run}"
    );
    assert_eq!(
        run["report"]["created"],
        json!(1),
        "contract: the run keeps its report: {run}"
    );
}

/// `GET /api/admin/counts` (the dashboard's): rows by state and the outbound backlog.
pub async fn admin_counts(ctx: &ContractContext) {
    ctx.synced_user("counts@example.com").await;
    ctx.admin(Method::POST, "/api/admin/users")
        .json(&json!({"email": "counts-local@example.com"}))
        .send()
        .await
        .expect(202);
    let counts = ctx
        .admin(Method::GET, "/api/admin/counts")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(counts["counts"]["synced"], json!(1), "{counts}");
    assert_eq!(counts["counts"]["pending"], json!(1), "{counts}");
    assert_eq!(counts["counts"]["failed"], json!(0), "{counts}");
    assert!(counts["outbox_due"].is_u64(), "{counts}");
}
