//! `POST /api/webhooks/clerk`: every outcome of the webhook table.

use clerk_sync_core::webhook::WebhookVerifier;
use reqwest::Method;
use serde_json::{Value, json};

use super::ContractContext;
use super::client::Reply;
use crate::{SeedUser, SignedWebhook, UserChange};

const WEBHOOK: &str = "/api/webhooks/clerk";

impl ContractContext {
    /// Deliver `delivery` as Svix would: its body and its three `svix-*` headers.
    pub(crate) async fn deliver(&self, delivery: &SignedWebhook) -> Reply {
        let mut call = self
            .call(Method::POST, WEBHOOK)
            .header("content-type", "application/json");
        for (name, value) in delivery.headers() {
            call = call.header(name, &value);
        }
        call.body(delivery.body.clone()).send().await
    }

    /// Deliver and expect 200 with this `status` outcome.
    #[track_caller]
    pub(crate) fn expect_ack(reply: &Reply, outcome: &str) {
        reply.expect(200);
        assert_eq!(
            reply.json(),
            json!({ "status": outcome }),
            "contract: {} acknowledges with {{\"status\": \"{outcome}\"}}",
            reply.what
        );
    }

    /// A user created in FakeClerk, with the `user.created` Clerk would send.
    pub(crate) fn signed_up(&self, email: &str) -> (String, SignedWebhook) {
        let fake = self.fake();
        let user = fake
            .create_user_directly(SeedUser::new(email).first_name("Contract"))
            .unwrap_or_else(|e| panic!("contract: FakeClerk refused a user: {e}"));
        let delivery = fake
            .take_webhooks()
            .into_iter()
            .rev()
            .find(|w| w.event_type == "user.created")
            .unwrap_or_else(|| panic!("contract: FakeClerk queued no user.created"));
        (user.id, delivery)
    }

    /// A user created in FakeClerk and delivered to the server.
    pub(crate) async fn synced_user(&self, email: &str) -> String {
        let (id, delivery) = self.signed_up(email);
        Self::expect_ack(&self.deliver(&delivery).await, "applied");
        id
    }
}

/// A delivery with the right headers, signed now with the server's secret.
fn signed_now(ctx: &ContractContext, id: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let verifier = WebhookVerifier::new(ctx.fake().webhook_secret())
        .unwrap_or_else(|e| panic!("contract: FakeClerk's secret does not parse: {e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    vec![
        ("svix-id", id.to_owned()),
        ("svix-timestamp", now.to_string()),
        ("svix-signature", verifier.sign(id, now, body)),
    ]
}

async fn post_raw(ctx: &ContractContext, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut call = ctx
        .call(Method::POST, WEBHOOK)
        .header("content-type", "application/json");
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.body(body).send().await
}

/// A signed `user.created` is 200 `applied`, and is then in the table; its redelivery is 200
/// `duplicate`.
pub async fn webhook_applied_then_duplicate(ctx: &ContractContext) {
    let (id, delivery) = ctx.signed_up("applied@example.com");
    ContractContext::expect_ack(&ctx.deliver(&delivery).await, "applied");
    ContractContext::expect_ack(&ctx.deliver(&delivery).await, "duplicate");

    let reply = ctx
        .admin(Method::GET, &format!("/api/admin/users/{id}"))
        .send()
        .await;
    reply.expect(200);
    let user = reply.json();
    assert_eq!(
        user["clerk_id"],
        json!(id),
        "contract: the webhook's user is stored"
    );
    assert_eq!(user["email"], json!("applied@example.com"));
    assert_eq!(user["sync_status"], json!("synced"));
}

/// An update older than the stored version is 200 `stale`, and changes nothing.
pub async fn webhook_stale_is_200(ctx: &ContractContext) {
    let (id, created) = ctx.signed_up("stale@example.com");
    ctx.fake()
        .update_user_directly(&id, UserChange::new().first_name("Newer"))
        .unwrap_or_else(|e| panic!("contract: FakeClerk refused an update: {e}"));
    let updated = ctx
        .fake()
        .take_webhooks()
        .into_iter()
        .find(|w| w.event_type == "user.updated")
        .unwrap_or_else(|| panic!("contract: FakeClerk queued no user.updated"));

    // Out of order: the update first, then the older create.
    ContractContext::expect_ack(&ctx.deliver(&updated).await, "applied");
    ContractContext::expect_ack(&ctx.deliver(&created).await, "stale");
    let user = ctx
        .admin(Method::GET, &format!("/api/admin/users/{id}"))
        .send()
        .await;
    assert_eq!(
        user.expect(200).json()["first_name"],
        json!("Newer"),
        "contract: a stale delivery changes nothing"
    );
}

/// Events the table does not keep, and validly signed bodies that can never be applied, are
/// 200 `ignored`: never a 5xx that Svix would retry for a day.
pub async fn webhook_ignored_is_200(ctx: &ContractContext) {
    let session = ctx.fake().sign_webhook(
        "session.created",
        json!({"id": "sess_contract", "object": "session", "user_id": "user_contract",
               "status": "active"}),
    );
    ContractContext::expect_ack(&ctx.deliver(&session).await, "ignored");

    let unknown = ctx
        .fake()
        .sign_webhook("contract.unknown_type", json!({"id": "x_1"}));
    ContractContext::expect_ack(&ctx.deliver(&unknown).await, "ignored");

    for (n, body) in [
        b"not json at all".to_vec(),
        br#"{"type":"user.created","object":"event","data":{"object":"user"}}"#.to_vec(),
        br#"{"type":"user.updated","object":"event","data":{"id":12,"updated_at":"soon"}}"#
            .to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        let headers = signed_now(ctx, &format!("msg_contract_unusable_{n}"), &body);
        let reply = post_raw(ctx, &headers, body).await;
        ContractContext::expect_ack(&reply, "ignored");
    }
}

/// A delivery without its `svix-*` (or `webhook-*`) headers is 400.
pub async fn webhook_missing_headers_is_400(ctx: &ContractContext) {
    let (_, delivery) = ctx.signed_up("headers@example.com");
    let all = delivery.headers();
    post_raw(ctx, &[], delivery.body.clone().into_bytes())
        .await
        .expect_error(400, "missing_webhook_headers");
    for missing in 0..all.len() {
        let headers: Vec<(&str, String)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, (n, v))| (*n, v.clone()))
            .collect();
        post_raw(ctx, &headers, delivery.body.clone().into_bytes())
            .await
            .expect_error(400, "missing_webhook_headers");
    }
    // Nothing was applied.
    let users = ctx.admin(Method::GET, "/api/admin/users").send().await;
    assert_eq!(users.expect(200).json()["users"], json!([]));
}

/// A body that is not the one signed, or a signature from another secret, is 401.
pub async fn webhook_bad_signature_is_401(ctx: &ContractContext) {
    let (_, delivery) = ctx.signed_up("signature@example.com");
    let headers: Vec<(&str, String)> = delivery.headers().to_vec();

    let mut tampered = delivery.body.clone().into_bytes();
    tampered.extend_from_slice(b" ");
    post_raw(ctx, &headers, tampered)
        .await
        .expect_error(401, "invalid_signature");

    let other = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap_or_else(|e| panic!("{e}"));
    let forged = other.sign(&delivery.id, delivery.timestamp, delivery.body.as_bytes());
    let headers = [
        ("svix-id", delivery.id.clone()),
        ("svix-timestamp", delivery.timestamp.to_string()),
        ("svix-signature", forged),
    ];
    let reply = post_raw(ctx, &headers, delivery.body.clone().into_bytes()).await;
    reply
        .expect_error(401, "invalid_signature")
        .expect_no_leak("Contract", "the payload");
    let users = ctx.admin(Method::GET, "/api/admin/users").send().await;
    assert_eq!(
        users.expect(200).json()["users"],
        json!([]),
        "contract: nothing unsigned is applied"
    );
}

/// A correctly signed delivery whose timestamp is outside the tolerance is 401.
pub async fn webhook_old_timestamp_is_401(ctx: &ContractContext) {
    let (_, delivery) = ctx.signed_up("replay@example.com");
    let verifier =
        WebhookVerifier::new(ctx.fake().webhook_secret()).unwrap_or_else(|e| panic!("{e}"));
    let long_ago = delivery.timestamp - 3600;
    let headers = [
        ("svix-id", delivery.id.clone()),
        ("svix-timestamp", long_ago.to_string()),
        (
            "svix-signature",
            verifier.sign(&delivery.id, long_ago, delivery.body.as_bytes()),
        ),
    ];
    post_raw(ctx, &headers, delivery.body.clone().into_bytes())
        .await
        .expect_error(401, "webhook_timestamp_out_of_tolerance");
    let in_future = delivery.timestamp + 3600;
    let headers = [
        ("svix-id", delivery.id.clone()),
        ("svix-timestamp", in_future.to_string()),
        (
            "svix-signature",
            verifier.sign(&delivery.id, in_future, delivery.body.as_bytes()),
        ),
    ];
    post_raw(ctx, &headers, delivery.body.clone().into_bytes())
        .await
        .expect_error(401, "webhook_timestamp_out_of_tolerance");
}

/// A body over the limit is 413 with the JSON error, whatever its signature; a body at the
/// limit is read.
pub async fn webhook_over_limit_is_413(ctx: &ContractContext) {
    let limit = ctx.webhook_body_limit();
    let mut body = br#"{"type":"user.created","padding":""#.to_vec();
    body.resize(limit + 1, b'a');
    let headers = signed_now(ctx, "msg_contract_large", &body);
    post_raw(ctx, &headers, body)
        .await
        .expect_error(413, "payload_too_large");

    // At the limit exactly it is read, verified and (not being an event) acknowledged.
    let mut body = br#"{"type":"contract.padding","data":{},"padding":""#.to_vec();
    body.resize(limit - 3, b'a');
    body.extend_from_slice(br#""}"#);
    body.push(b' ');
    assert_eq!(body.len(), limit);
    let headers = signed_now(ctx, "msg_contract_at_limit", &body);
    let reply = post_raw(ctx, &headers, body).await;
    ContractContext::expect_ack(&reply, "ignored");
}

/// While the database is down a delivery is 503 with `Retry-After`, so Svix retries it; the
/// retry after recovery is applied.
pub async fn webhook_store_failure_is_503(ctx: &ContractContext) {
    let Some(outage) = ctx.outage_or_skip("webhook_store_failure_is_503") else {
        return;
    };
    let (id, delivery) = ctx.signed_up("outage@example.com");
    outage.begin();
    let reply = ctx.deliver(&delivery).await;
    outage.end();
    reply
        .expect_error(503, "storage_unavailable")
        .expect_retry_after()
        .expect_no_leak("contract suite switched", "the store's error");
    ContractContext::expect_ack(&ctx.deliver(&delivery).await, "applied");
    let user = ctx
        .admin(Method::GET, &format!("/api/admin/users/{id}"))
        .send()
        .await;
    user.expect(200);
    let _: Value = user.json();
}
