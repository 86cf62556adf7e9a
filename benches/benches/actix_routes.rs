//! clerk-sync-actix's routes over real HTTP on loopback, each against a bare actix-web
//! handler in the same run, with the axum crate's figures from the same run beside them.
//!
//! ```text
//! CLERK_SYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! cargo bench -p clerk-sync-benches --bench actix_routes -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The load and the workloads are `axum_routes`' (issue 17), through
//! `clerk_sync_benches::http_load`: an in-process reqwest client (HTTP/1.1 keep-alive) with 64
//! requests in flight on 127.0.0.1, bounded in count (`BENCH_REQUESTS` per round, default
//! 2,000) and time (`BENCH_ROUND_SECS`, default 10 s). Each actix-web server runs 2 workers
//! (the machine's cores), the axum servers on the bench's 2-thread tokio runtime.
//!
//! Workloads and targets (issue 18):
//! - **protected route:** `GET` a route behind `ClerkSession` answering `{"user": sub}`
//!   against a bare actix-web handler answering the same JSON without authentication.
//!   Target: at least 0.8x. Every request carries the same session token (a verified-token
//!   cache hit after the first).
//! - **webhook:** `POST /api/webhooks/clerk` through `clerk_sync_actix::configure(..)` wrapped
//!   in `RequestId`, on PostgreSQL, against a bare actix-web handler inserting the delivery as
//!   one row on the same pool. Every delivery is a new user's signed `user.created`. Target:
//!   at least 0.5x. Skipped, with a line saying so, without `CLERK_SYNC_TEST_POSTGRES_URL`.
//!   A third contender, `SyncEngine::process_webhook` in a hand-written actix-web handler,
//!   separates the adapter's cost from the engine's.
//!
//! The axum crate's contenders (its bare handler and `ClerkSession` route; its
//! `router(..)`) run in the same interleaved rounds, and a last line compares the two
//! frameworks: each adapter's ratio to its own framework's bare handler, and the actix-web
//! adapter's throughput over the axum adapter's.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clerk_sync_actix::{ClerkSession, ClerkState, RequestId};
use clerk_sync_benches::http_load::{
    Contender, Deliveries, client, criterion_loads, drop_postgres_schema, env_number, interleaved,
    serve_axum, webhook_database,
};
use clerk_sync_core::http::ClerkHttp;
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use clerk_sync_sqlx::sqlx::{self, PgPool};
use clerk_sync_testing::{FakeClerk, SessionTokenOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const SCHEMA: &str = "clerk_bench_actix_routes";

/// Serves the app `$factory` builds with actix-web on 127.0.0.1 (2 workers, beside the
/// current tokio runtime); its base URL and handle.
macro_rules! serve_actix {
    ($factory:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("its address");
        let server = HttpServer::new($factory)
            .workers(2)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
        let handle: ServerHandle = server.handle();
        tokio::spawn(async move { server.await.expect("serve") });
        (format!("http://{address}"), handle)
    }};
}

// ----- (a) a protected route -----

async fn protected(session: ClerkSession) -> web::Json<Value> {
    web::Json(json!({ "user": session.user_id() }))
}

async fn unprotected() -> web::Json<Value> {
    web::Json(json!({ "user": "user_2BenchUser" }))
}

async fn axum_protected(session: clerk_sync_axum::ClerkSession) -> axum::Json<Value> {
    axum::Json(json!({ "user": session.user_id() }))
}

async fn axum_unprotected() -> axum::Json<Value> {
    axum::Json(json!({ "user": "user_2BenchUser" }))
}

// ----- (b) the webhook, and the bare insert -----

async fn bare_insert(
    pool: web::Data<PgPool>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let svix_id = request
        .headers()
        .get("svix-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let payload = String::from_utf8_lossy(&body).into_owned();
    match sqlx::query("INSERT INTO bench_raw_webhooks (svix_id, payload) VALUES ($1, $2)")
        .bind(svix_id)
        .bind(payload)
        .execute(pool.get_ref())
        .await
    {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The engine called from a hand-written handler, without clerk-sync-actix: what the adapter
/// costs on top of the engine is the difference.
async fn engine_handler(
    engine: web::Data<SyncEngine<dyn SyncStore>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("svix-id"),
        header("svix-timestamp"),
        header("svix-signature"),
    ) else {
        return HttpResponse::BadRequest().finish();
    };
    let headers = WebhookHeaders {
        id,
        timestamp,
        signature,
    };
    match engine.process_webhook(&headers, &body).await {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// `GET {url}/claims`, with `token` when there is one.
fn get_claims(
    url: String,
    token: Option<String>,
) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static {
    move |client: &reqwest::Client, _| {
        let request = client.get(format!("{url}/claims"));
        match &token {
            Some(token) => request.header("authorization", token),
            None => request,
        }
    }
}

fn actix_routes(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let round_limit = Duration::from_secs(env_number("BENCH_ROUND_SECS", 10));
    let client = client();
    let mut servers = Vec::new();

    // (a) A route behind ClerkSession against the same JSON without authentication.
    let fake = runtime.block_on(FakeClerk::start());
    let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
    let engine = SyncEngine::from_shared(
        store,
        WebhookVerifier::new(fake.webhook_secret()).expect("secret"),
    );
    let sessions = || JwtVerifier::from_pem(&fake.jwt_public_key_pem()).expect("key");
    let http = ClerkHttp::new(engine).with_sessions(sessions());
    let state = web::Data::new(ClerkState::new(http.clone()));
    let (protected_url, handle) = runtime.block_on(async {
        serve_actix!(move || {
            App::new()
                .app_data(state.clone())
                .route("/claims", web::get().to(protected))
        })
    });
    servers.push(handle);
    let (bare_url, handle) = runtime.block_on(async {
        serve_actix!(|| App::new().route("/claims", web::get().to(unprotected)))
    });
    servers.push(handle);
    let axum_state = clerk_sync_axum::ClerkState::new(http.with_sessions(sessions()));
    let axum_protected_url = runtime.block_on(serve_axum(
        axum::Router::new()
            .route("/claims", axum::routing::get(axum_protected))
            .with_state(axum_state),
    ));
    let axum_bare_url = runtime.block_on(serve_axum(
        axum::Router::new().route("/claims", axum::routing::get(axum_unprotected)),
    ));
    let token = format!(
        "Bearer {}",
        fake.session_token(
            SessionTokenOptions::new("user_2BenchUser").expires_in(Duration::from_secs(3600))
        )
    );

    let claims = |url: &String, token: Option<&String>| {
        let request = get_claims(url.clone(), token.cloned());
        move || request.clone()
    };
    criterion_loads(
        c,
        &runtime,
        &client,
        "protected_route_actix",
        vec![
            ("bare_handler", claims(&bare_url, None)),
            ("clerk_session", claims(&protected_url, Some(&token))),
        ],
    );
    let medians = interleaved(
        &runtime,
        "protected route (actix-web)",
        0.8,
        &[
            Contender::load(
                "bare actix-web handler",
                &client,
                round_limit,
                claims(&bare_url, None),
            ),
            Contender::load(
                "actix ClerkSession",
                &client,
                round_limit,
                claims(&protected_url, Some(&token)),
            ),
            Contender::load(
                "bare axum handler",
                &client,
                round_limit,
                claims(&axum_bare_url, None),
            ),
            Contender::load(
                "axum ClerkSession",
                &client,
                round_limit,
                claims(&axum_protected_url, Some(&token)),
            ),
        ],
    );
    println!(
        "  actix-web vs axum, protected route: adapter/bare {:.2}x (actix-web) vs {:.2}x (axum); \
         actix ClerkSession / axum ClerkSession {:.2}x",
        medians[1] / medians[0],
        medians[3] / medians[2],
        medians[1] / medians[3],
    );

    // (b) The webhook route on PostgreSQL against a bare single-row insert.
    let Ok(url) = std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") else {
        println!("\nwebhook: skipped, CLERK_SYNC_TEST_POSTGRES_URL is not set");
        return;
    };
    let (store, pool) = runtime.block_on(webhook_database(&url, SCHEMA));
    let secret = fake.webhook_secret().to_owned();
    let store: Arc<dyn SyncStore> = Arc::new(store);
    let engine = SyncEngine::from_shared(store, WebhookVerifier::new(&secret).expect("secret"));
    let engine_data = web::Data::new(engine.clone());
    let (engine_url, handle) = runtime.block_on(async {
        serve_actix!(move || {
            App::new()
                .app_data(engine_data.clone())
                .route("/api/webhooks/clerk", web::post().to(engine_handler))
        })
    });
    servers.push(handle);
    let state = ClerkState::new(ClerkHttp::new(engine.clone()));
    let (configure_url, handle) = runtime.block_on(async {
        serve_actix!(move || {
            App::new()
                .wrap(RequestId::default())
                .configure(clerk_sync_actix::configure(state.clone()))
        })
    });
    servers.push(handle);
    let pool_data = web::Data::new(pool.clone());
    let (insert_url, handle) = runtime.block_on(async {
        serve_actix!(move || {
            App::new()
                .app_data(pool_data.clone())
                .route("/api/webhooks/clerk", web::post().to(bare_insert))
        })
    });
    servers.push(handle);
    let axum_router_url = runtime.block_on(serve_axum(clerk_sync_axum::router(
        clerk_sync_axum::ClerkState::new(ClerkHttp::new(engine)),
    )));
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
        "webhook_postgres_actix",
        vec![
            ("bare_insert", deliver(&insert_url)),
            ("clerk_sync_configure", deliver(&configure_url)),
            ("engine_in_bare_handler", deliver(&engine_url)),
        ],
    );
    let medians = interleaved(
        &runtime,
        "webhook on PostgreSQL (actix-web)",
        0.5,
        &[
            Contender::load(
                "bare single-row insert",
                &client,
                round_limit,
                deliver(&insert_url),
            ),
            Contender::load(
                "actix configure(..)",
                &client,
                round_limit,
                deliver(&configure_url),
            ),
            Contender::load(
                "engine, hand-written handler",
                &client,
                round_limit,
                deliver(&engine_url),
            ),
            Contender::load(
                "axum router(..)",
                &client,
                round_limit,
                deliver(&axum_router_url),
            ),
        ],
    );
    println!(
        "  actix-web vs axum, webhook: adapter/bare insert {:.2}x (actix-web) vs {:.2}x (axum); \
         actix configure(..) / axum router(..) {:.2}x",
        medians[1] / medians[0],
        medians[3] / medians[0],
        medians[1] / medians[3],
    );

    runtime.block_on(async {
        for server in servers {
            server.stop(false).await;
        }
        pool.close().await;
        drop_postgres_schema(&url, SCHEMA).await;
    });
}

criterion_group!(benches, actix_routes);
criterion_main!(benches);
