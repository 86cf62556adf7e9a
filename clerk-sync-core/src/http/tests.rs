//! The routes' behaviour that the adapters only copy: checked here once, framework-free.

use serde_json::{Value, json};

use super::*;
use crate::memory::MemoryStore;
use crate::sync::SyncEngine;
use crate::webhook::{WebhookHeaders, WebhookVerifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn http() -> ClerkHttp<MemoryStore> {
    let engine = SyncEngine::new(MemoryStore::new(), WebhookVerifier::new(SECRET).unwrap());
    ClerkHttp::new(engine).with_admin_key(AdminKey::new("admin").unwrap())
}

fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

/// Delivers a signed `user.created` for `id` with private metadata.
async fn deliver_user(http: &ClerkHttp<MemoryStore>, id: &str) {
    let body = json!({
        "type": "user.created", "object": "event", "timestamp": 1_772_366_400_000_i64,
        "data": {"id": id, "object": "user", "created_at": 1_772_366_400_000_i64,
            "updated_at": 1_772_366_400_000_i64, "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": "ann@example.com",
                "verification": {"status": "verified", "strategy": "email_code"}}],
            "first_name": "Ann", "private_metadata": {"plan": "private-value-7"},
            "public_metadata": {"team": "blue"}}
    })
    .to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = WebhookVerifier::new(SECRET)
        .unwrap()
        .sign("msg_t", now, body.as_bytes());
    let timestamp = now.to_string();
    let headers = WebhookHeaders {
        id: "msg_t",
        timestamp: &timestamp,
        signature: &signature,
    };
    let lookup = |name: &str| match name {
        "svix-id" => Some(headers.id),
        "svix-timestamp" => Some(headers.timestamp),
        "svix-signature" => Some(headers.signature),
        _ => None,
    };
    let response = http.webhook(lookup, body.as_bytes()).await;
    assert_eq!(json_of(&response), json!({"status": "applied"}));
}

#[tokio::test]
async fn admin_bodies_over_the_limit_are_413_before_parsing() {
    let http = http();
    let mut body = br#"{"email":"a@example.com","first_name":""#.to_vec();
    body.resize(ADMIN_BODY_LIMIT + 1, b'a');
    for error in [
        http.admin_create_user(&body).await.unwrap_err(),
        http.admin_invite(&body).await.unwrap_err(),
        http.admin_update_user("user_1", &body).await.unwrap_err(),
    ] {
        assert_eq!((error.status, error.code), (413, "payload_too_large"));
    }
    // At the limit it is parsed (and refused for its JSON, not its size).
    body.truncate(ADMIN_BODY_LIMIT);
    let error = http.admin_create_user(&body).await.unwrap_err();
    assert_eq!(error.status, 400);
}

#[test]
fn the_adapters_errors_have_stable_statuses_and_codes() {
    let cases = [
        (ApiError::route_not_found(), 404, "not_found"),
        (ApiError::method_not_allowed(), 405, "method_not_allowed"),
        (ApiError::unreadable_body(), 400, "unreadable_body"),
        (
            ApiError::invalid_header("authorization"),
            400,
            "invalid_header",
        ),
        (ApiError::payload_too_large(10), 413, "payload_too_large"),
    ];
    for (error, status, code) in cases {
        let response = error.into_response();
        assert_eq!(response.status, status);
        assert_eq!(json_of(&response)["error"], json!(code));
        assert!(response.header("www-authenticate").is_none());
    }
}

#[cfg(feature = "jwt")]
#[tokio::test]
async fn me_shows_the_row_but_never_clerks_whole_user_object() {
    let fake = clerk_sync_testing::FakeClerk::start().await;
    let verifier = crate::jwt::JwtVerifier::from_pem(&fake.jwt_public_key_pem()).unwrap();
    let http = http().with_sessions(verifier);
    deliver_user(&http, "user_2me").await;
    let token = fake.session_token(clerk_sync_testing::SessionTokenOptions::new("user_2me"));
    let authorization = format!("Bearer {token}");

    let response = http.me(Some(&authorization), None).await.unwrap();
    assert_eq!(response.status, 200);
    let me = json_of(&response);
    assert_eq!(me["clerk_id"], json!("user_2me"));
    assert_eq!(me["email"], json!("ann@example.com"));
    assert_eq!(me["public_metadata"], json!({"team": "blue"}));
    assert_eq!(me["sync_status"], json!("synced"));
    assert!(me["created_at"].is_string() && me["last_sync_attempt"].is_null());
    assert!(me.get("raw_json").is_none(), "{me}");
    assert!(
        !String::from_utf8_lossy(&response.body).contains("private-value-7"),
        "private_metadata never reaches the browser"
    );
    // The admin API shows operators the whole row.
    let admin = http.admin_get_user("user_2me").await.unwrap();
    assert!(json_of(&admin)["raw_json"].is_object());

    // Every field the admin API shows but raw_json is shown to the user too.
    let mut row = json_of(&admin);
    row.as_object_mut().unwrap().remove("raw_json");
    assert_eq!(row, me);
}

#[cfg(feature = "jwt")]
#[tokio::test]
async fn me_without_a_token_is_401_with_the_challenge() {
    let error = http().me(None, Some("theme=dark")).await.unwrap_err();
    assert_eq!((error.status, error.code), (401, "missing_token"));
    assert_eq!(error.www_authenticate, Some(WWW_AUTHENTICATE_TOKEN));
}

#[test]
fn the_dashboard_runs_only_its_own_script_and_style_and_cannot_be_framed() {
    let page = http().dashboard();
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));

    // The policy names the hash of the page's one script and one style, computed here
    // independently: a page edit that changes them changes the policy too.
    let html = DASHBOARD_HTML;
    for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
        assert_eq!(
            html.matches(&format!("<{tag}")).count(),
            1,
            "one inline <{tag}>"
        );
        let text = html
            .split_once(&format!("<{tag}>"))
            .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
            .map(|(text, _)| text)
            .expect("the element");
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text));
        assert!(
            policy.contains(&format!("{directive} 'sha256-{hash}'")),
            "{directive} allows the page's own {tag}: {policy}"
        );
    }
    // What the policy would block must not be in the page: inline handlers, style attributes,
    // external resources.
    for blocked in [
        " onclick=",
        " onload=",
        " onsubmit=",
        " style=\"",
        "src=\"http",
        "href=\"http",
    ] {
        assert!(!html.contains(blocked), "the page has {blocked}");
    }
    assert_eq!(
        super::dashboard::inline_hash("<p>no script</p>", "script"),
        "'none'"
    );
}
