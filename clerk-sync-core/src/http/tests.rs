//! The routes' behaviour that the adapters only copy: checked here once, framework-free.

use serde_json::{Value, json};

use super::*;
use crate::memory::MemoryStore;
use crate::sync::SyncEngine;
use crate::webhook::WebhookVerifier;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn http() -> ClerkHttp<MemoryStore> {
    let engine = SyncEngine::new(MemoryStore::new(), WebhookVerifier::new(SECRET).unwrap());
    ClerkHttp::new(engine).with_admin_key(AdminKey::new("admin").unwrap())
}

fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
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
async fn me_without_a_token_is_401_with_the_challenge() {
    let error = http().me(None, Some("theme=dark")).await.unwrap_err();
    assert_eq!((error.status, error.code), (401, "missing_token"));
    assert_eq!(error.www_authenticate, Some(WWW_AUTHENTICATE_TOKEN));
}
