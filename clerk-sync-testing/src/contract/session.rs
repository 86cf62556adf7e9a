//! `GET /api/me`: session tokens, the fallback fetch, and what Clerk's answers become.

use reqwest::Method;
use serde_json::json;

use super::ContractContext;
use crate::{FakeClerk, Fault, Route, SeedUser, SessionTokenOptions, StatusCode};

const ME: &str = "/api/me";

/// Without a token, `/api/me` is 401 with `WWW-Authenticate: Bearer error="invalid_token"`
/// and `missing_token`; another scheme carries no token.
pub async fn me_without_a_token_is_401(ctx: &ContractContext) {
    ctx.call(Method::GET, ME)
        .send()
        .await
        .expect_error(401, "missing_token")
        .expect_token_challenge();
    ctx.call(Method::GET, ME)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect_error(401, "missing_token")
        .expect_token_challenge();
}

/// Expired, foreign, malformed and non-session tokens are 401 with the challenge, and the
/// token is never quoted back.
pub async fn me_with_an_invalid_token_is_401(ctx: &ContractContext) {
    let fake = ctx.fake();
    let user = fake
        .seed_user(SeedUser::new("token@example.com"))
        .unwrap_or_else(|e| panic!("{e}"));
    let expired = fake.session_token(SessionTokenOptions::new(&user.id).expired());
    let reply = ctx.call(Method::GET, ME).bearer(&expired).send().await;
    reply
        .expect_error(401, "token_expired")
        .expect_token_challenge()
        .expect_no_leak(&expired, "the token");

    let other = FakeClerk::start().await;
    let foreign = other.session_token(SessionTokenOptions::new(&user.id));
    let reply = ctx.call(Method::GET, ME).bearer(&foreign).send().await;
    reply
        .expect(401)
        .expect_token_challenge()
        .expect_no_leak(&foreign, "the token");

    for garbage in ["not-a-token", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        ctx.call(Method::GET, ME)
            .bearer(garbage)
            .send()
            .await
            .expect(401)
            .expect_token_challenge();
    }

    let machine = fake.session_token(SessionTokenOptions::new("mch_2contract"));
    ctx.call(Method::GET, ME)
        .bearer(&machine)
        .send()
        .await
        .expect(401)
        .expect_token_challenge();
}

/// A signed-in user the table does not have yet (no webhook arrived) is fetched from Clerk
/// once, stored, and answered 200 with the `LocalUser` fields, but never `raw_json` or
/// anything of Clerk's `private_metadata`.
pub async fn me_fetches_a_user_only_clerk_knows(ctx: &ContractContext) {
    let fake = ctx.fake();
    let user = fake
        .seed_user(
            SeedUser::new("fetched@example.com")
                .first_name("Fetched")
                .private_metadata(json!({"plan": "contract-private-value"})),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let token = fake.session_token(SessionTokenOptions::new(&user.id));
    fake.clear_requests();

    let reply = ctx.call(Method::GET, ME).bearer(&token).send().await;
    reply
        .expect(200)
        .expect_no_leak("contract-private-value", "private_metadata");
    let me = reply.json();
    assert!(
        me.get("raw_json").is_none(),
        "contract: /api/me never shows Clerk's whole user object: {me}"
    );
    assert_eq!(
        me["clerk_id"],
        json!(user.id),
        "contract: /api/me answers the row"
    );
    assert_eq!(me["email"], json!("fetched@example.com"));
    assert_eq!(me["first_name"], json!("Fetched"));
    assert_eq!(me["sync_status"], json!("synced"));
    for field in [
        "id",
        "last_name",
        "username",
        "image_url",
        "last_sync_attempt",
        "sync_error",
        "deleted_at",
    ] {
        assert!(
            me.get(field).is_some(),
            "contract: a user carries `{field}`: {me}"
        );
    }
    assert_eq!(
        fake.requests_to("GET", "/v1/users/{id}").len(),
        1,
        "contract: the missing user is fetched from Clerk once"
    );

    // Stored: the next request reads the table, and the admin API sees the row.
    ctx.call(Method::GET, ME)
        .bearer(&token)
        .send()
        .await
        .expect(200);
    assert_eq!(fake.requests_to("GET", "/v1/users/{id}").len(), 1);
    ctx.admin(Method::GET, &format!("/api/admin/users/{}", user.id))
        .send()
        .await
        .expect(200);
}

/// The token is also read from the `__session` cookie, as Clerk's frontend sets it.
pub async fn me_reads_the_session_cookie(ctx: &ContractContext) {
    let id = ctx.synced_user("cookie@example.com").await;
    let token = ctx.fake().session_token(SessionTokenOptions::new(&id));
    let reply = ctx
        .call(Method::GET, ME)
        .header("cookie", &format!("theme=dark; __session={token}"))
        .send()
        .await;
    assert_eq!(reply.expect(200).json()["clerk_id"], json!(id));
}

/// A valid token for a user Clerk does not know (or deleted) is 404.
pub async fn me_unknown_to_clerk_is_404(ctx: &ContractContext) {
    let token = ctx
        .fake()
        .session_token(SessionTokenOptions::new("user_2ContractNobody"));
    ctx.call(Method::GET, ME)
        .bearer(&token)
        .send()
        .await
        .expect_error(404, "not_found");

    // Deleted: the tombstone is never answered as a user.
    let id = ctx.synced_user("deleted@example.com").await;
    ctx.fake().delete_user_directly(&id);
    for delivery in ctx.fake().take_webhooks() {
        ctx.deliver(&delivery).await.expect(200);
    }
    let token = ctx.fake().session_token(SessionTokenOptions::new(&id));
    ctx.call(Method::GET, ME)
        .bearer(&token)
        .send()
        .await
        .expect_error(404, "not_found");
}

/// When Clerk cannot be reached for the fallback fetch, `/api/me` is 503 with
/// `Retry-After`, never 404: an outage must not look like a deleted user.
pub async fn me_clerk_unavailable_is_503(ctx: &ContractContext) {
    let fake = ctx.fake();
    let user = fake
        .seed_user(SeedUser::new("outage@example.com"))
        .unwrap_or_else(|e| panic!("{e}"));
    let token = fake.session_token(SessionTokenOptions::new(&user.id));
    fake.fail_always(
        Route::get("/v1/users/{id}"),
        Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    let reply = ctx.call(Method::GET, ME).bearer(&token).send().await;
    fake.clear_faults();
    reply
        .expect_error(503, "clerk_unavailable")
        .expect_retry_after()
        .expect_no_leak(fake.secret_key(), "the secret key");
    // Once Clerk is back, the same request works.
    ctx.call(Method::GET, ME)
        .bearer(&token)
        .send()
        .await
        .expect(200);
}
