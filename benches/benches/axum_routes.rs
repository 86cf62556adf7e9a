//! clerk-sync-axum's routes over real HTTP on loopback, each against a bare axum handler in
//! the same run.
//!
//! ```text
//! CLERK_SYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! cargo bench -p clerk-sync-benches --bench axum_routes -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Load: an in-process reqwest client (HTTP/1.1 keep-alive) with 64 requests in flight on
//! 127.0.0.1, bounded in count (`BENCH_REQUESTS` per round, default 2,000) and time (a round
//! stops at `BENCH_ROUND_SECS`, default 10 s, whatever its count).
//!
//! Workloads and targets (issue 17):
//! - **protected route:** `GET` a route behind `ClerkSession` answering `{"user": sub}` against
//!   a handler with no authentication answering the same JSON. Target: at least 0.8x the
//!   bare handler's throughput. Every request carries the same session token, so after the
//!   first it is a verified-token cache hit; that is why the target is reachable.
//! - **webhook:** `POST /api/webhooks/clerk` through `clerk_sync_axum::router(..)` on
//!   PostgreSQL (verify, parse, one transaction for the ledger entry and the user row) against
//!   a bare handler that inserts the delivery as one row, on the same pool. Every delivery is
//!   a new user's signed `user.created` with its own `svix-id`, for both. Target: at least
//!   0.5x. Skipped, with a line saying so, without `CLERK_SYNC_TEST_POSTGRES_URL`.
//!
//! A third contender on PostgreSQL, `SyncEngine::process_webhook` called from a hand-written
//! axum handler, separates what the adapter costs from what the engine and store cost.
//!
//! Besides criterion's figures, each workload runs its two contenders alternately for
//! `BENCH_ROUNDS` rounds (default 7) and prints the median throughput of each and their ratio:
//! on a shared machine that comparison is the stable one.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use clerk_sync_axum::{ClerkSession, ClerkState};
use clerk_sync_benches::http_load::{
    Contender, Deliveries, axum_bare_insert, axum_engine_handler, client, criterion_loads,
    drop_postgres_schema, env_number, interleaved, serve_axum, webhook_database,
};
use clerk_sync_core::http::ClerkHttp;
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_testing::{FakeClerk, SessionTokenOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const SCHEMA: &str = "clerk_bench_axum_routes";

// ----- (a) a protected route -----

async fn protected(session: ClerkSession) -> axum::Json<Value> {
    axum::Json(json!({ "user": session.user_id() }))
}

async fn unprotected() -> axum::Json<Value> {
    axum::Json(json!({ "user": "user_2BenchUser" }))
}

fn axum_routes(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let round_limit = Duration::from_secs(env_number("BENCH_ROUND_SECS", 10));
    let client = client();

    // (a) A route behind ClerkSession against the same JSON without authentication.
    let fake = runtime.block_on(FakeClerk::start());
    let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
    let engine = SyncEngine::from_shared(
        store,
        WebhookVerifier::new(fake.webhook_secret()).expect("secret"),
    );
    let sessions = JwtVerifier::from_pem(&fake.jwt_public_key_pem()).expect("key");
    let state = ClerkState::new(ClerkHttp::new(engine).with_sessions(sessions));
    let protected_url = runtime.block_on(serve_axum(
        Router::new()
            .route("/claims", get(protected))
            .with_state(state),
    ));
    let bare_url = runtime.block_on(serve_axum(Router::new().route("/claims", get(unprotected))));
    let token = format!(
        "Bearer {}",
        fake.session_token(
            SessionTokenOptions::new("user_2BenchUser").expires_in(Duration::from_secs(3600))
        )
    );
    let get_claims = |url: String, token: Option<String>| {
        move |client: &reqwest::Client, _| {
            let request = client.get(format!("{url}/claims"));
            match &token {
                Some(token) => request.header("authorization", token),
                None => request,
            }
        }
    };

    // A fresh request maker for each sample and round, to the same server.
    let claims = |url: &String, token: &Option<String>| {
        let request = get_claims(url.clone(), token.clone());
        move || request.clone()
    };
    criterion_loads(
        c,
        &runtime,
        &client,
        "protected_route",
        vec![
            ("bare_handler", claims(&bare_url, &None)),
            (
                "clerk_session",
                claims(&protected_url, &Some(token.clone())),
            ),
        ],
    );
    let contenders = [
        ("bare handler", bare_url, None),
        ("ClerkSession", protected_url, Some(token)),
    ]
    .into_iter()
    .map(|(name, url, token)| Contender::load(name, &client, round_limit, claims(&url, &token)))
    .collect::<Vec<_>>();
    interleaved(&runtime, "protected route", 0.8, &contenders);

    // (b) The webhook route on PostgreSQL against a bare single-row insert.
    let Ok(url) = std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") else {
        println!("\nwebhook: skipped, CLERK_SYNC_TEST_POSTGRES_URL is not set");
        return;
    };
    let (store, pool) = runtime.block_on(webhook_database(&url, SCHEMA));
    let secret = fake.webhook_secret().to_owned();
    let store: Arc<dyn SyncStore> = Arc::new(store);
    let engine = SyncEngine::from_shared(store, WebhookVerifier::new(&secret).expect("secret"));
    let engine_url = runtime.block_on(serve_axum(
        Router::new()
            .route("/api/webhooks/clerk", post(axum_engine_handler))
            .with_state(engine.clone()),
    ));
    let router_url = runtime.block_on(serve_axum(clerk_sync_axum::router(ClerkState::new(
        ClerkHttp::new(engine),
    ))));
    let insert_url = runtime.block_on(serve_axum(
        Router::new()
            .route("/api/webhooks/clerk", post(axum_bare_insert))
            .with_state(pool.clone()),
    ));
    // Each measurement gets its own run number, so every delivery is a new user and message.
    let runs = Arc::new(AtomicU64::new(0));
    let deliver = |url: &String| {
        let deliveries = Deliveries::new(url, &secret, &runs);
        move || deliveries.run()
    };

    criterion_loads(
        c,
        &runtime,
        &client,
        "webhook_postgres",
        vec![
            ("bare_insert", deliver(&insert_url)),
            ("clerk_sync_router", deliver(&router_url)),
            ("engine_in_bare_handler", deliver(&engine_url)),
        ],
    );
    let contenders = [
        ("bare single-row insert", insert_url),
        ("clerk-sync router", router_url),
        ("engine, hand-written handler", engine_url),
    ]
    .into_iter()
    .map(|(name, url)| Contender::load(name, &client, round_limit, deliver(&url)))
    .collect::<Vec<_>>();
    interleaved(&runtime, "webhook on PostgreSQL", 0.5, &contenders);

    runtime.block_on(async {
        pool.close().await;
        drop_postgres_schema(&url, SCHEMA).await;
    });
}

criterion_group!(benches, axum_routes);
criterion_main!(benches);
