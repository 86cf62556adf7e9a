//! An app over MemoryStore and FakeClerk, and helpers to send it one request through
//! `actix_web::test::init_service`.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::TestRequest;
use actix_web::{App, test};
use clerk_sync_actix::{ClerkState, RequestId};
use clerk_sync_core::clerk_api::{ClerkApi, RetryPolicy};
use clerk_sync_core::http::{AdminKey, ClerkHttp};
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_testing::FakeClerk;
use serde_json::Value;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

pub struct TestApp {
    pub fake: FakeClerk,
    pub state: ClerkState,
    pub store: Arc<MemoryStore>,
}

impl TestApp {
    /// Sessions verified with FakeClerk's key, the Backend API at FakeClerk (no retries),
    /// an admin key.
    pub async fn start() -> TestApp {
        TestApp::start_with(|http| http).await
    }

    pub async fn start_with(
        configure: impl FnOnce(ClerkHttp<dyn SyncStore>) -> ClerkHttp<dyn SyncStore>,
    ) -> TestApp {
        let fake = FakeClerk::start().await;
        let store = Arc::new(MemoryStore::new());
        let shared: Arc<dyn SyncStore> = store.clone();
        let api = ClerkApi::new(fake.secret_key())
            .and_then(|api| api.with_base_url(fake.base_url()))
            .expect("client for FakeClerk")
            .with_retry_policy(RetryPolicy::none());
        let engine = SyncEngine::from_shared(
            shared,
            WebhookVerifier::new(fake.webhook_secret()).expect("FakeClerk's secret"),
        )
        .with_clerk_api(api);
        let sessions =
            JwtVerifier::from_pem(&fake.jwt_public_key_pem()).expect("FakeClerk's public key");
        let http = ClerkHttp::new(engine)
            .with_sessions(sessions)
            .with_admin_key(AdminKey::new(ADMIN_KEY).expect("not empty"));
        let state = ClerkState::new(configure(http));
        TestApp { fake, state, store }
    }

    /// Every route through `configure(..)`, wrapped in `RequestId`, as `init_service` runs it.
    pub async fn send(&self, request: TestRequest) -> Reply {
        let app = test::init_service(
            App::new()
                .wrap(RequestId::default())
                .configure(clerk_sync_actix::configure(self.state.clone())),
        )
        .await;
        send_to(&app, request.to_request()).await
    }
}

/// Sends `request` to an already initialized service.
pub async fn send_to<S, R, B>(app: &S, request: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    match app.call(request).await {
        Ok(response) => Reply::of(response).await,
        Err(error) => panic!("the service failed instead of answering: {error}"),
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn of<B: MessageBody>(response: ServiceResponse<B>) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        Reply {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "status {} body is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The status and the JSON error code, in one comparable value.
    pub fn error(&self) -> (u16, String) {
        let json = self.json();
        assert!(
            json.get("message").and_then(Value::as_str).is_some(),
            "an error body has a message: {json}"
        );
        (
            self.status,
            json["error"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
