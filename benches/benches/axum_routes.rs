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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use clerk_sync_axum::{ClerkSession, ClerkState};
use clerk_sync_core::http::ClerkHttp;
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor, PgPool};
use clerk_sync_sqlx::{DialectPool, SqlxStore};
use clerk_sync_testing::{FakeClerk, SessionTokenOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const CONCURRENCY: u64 = 64;
const SCHEMA: &str = "clerk_bench_axum_routes";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Sends `count` requests made by `request(n)` with 64 in flight, stopping early at
/// `deadline`; every answer must be 200. Returns the requests done and the time taken.
async fn load<F>(
    client: &reqwest::Client,
    count: u64,
    deadline: Duration,
    request: F,
) -> (u64, Duration)
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, request, next, done) =
                (client.clone(), request.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count || started.elapsed() > deadline {
                        break;
                    }
                    let response = request(&client, n).send().await.expect("an answer");
                    let status = response.status();
                    let body = response.bytes().await.expect("a body");
                    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a load worker");
    }
    (done.load(Ordering::Relaxed), started.elapsed())
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

// ----- (a) a protected route -----

async fn protected(session: ClerkSession) -> axum::Json<Value> {
    axum::Json(json!({ "user": session.user_id() }))
}

async fn unprotected() -> axum::Json<Value> {
    axum::Json(json!({ "user": "user_2BenchUser" }))
}

// ----- (b) the webhook, and the bare insert -----

async fn bare_insert(
    State(pool): State<PgPool>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let svix_id = headers
        .get("svix-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let payload = String::from_utf8_lossy(&body).into_owned();
    sqlx::query("INSERT INTO bench_raw_webhooks (svix_id, payload) VALUES ($1, $2)")
        .bind(svix_id)
        .bind(payload)
        .execute(&pool)
        .await
        .map_or(StatusCode::SERVICE_UNAVAILABLE, |_| StatusCode::OK)
}

/// The engine called from a hand-written handler, without clerk-sync-axum: what the router
/// costs on top of the engine is the difference.
async fn engine_handler(
    State(engine): State<SyncEngine<dyn SyncStore>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("svix-id"),
        header("svix-timestamp"),
        header("svix-signature"),
    ) else {
        return StatusCode::BAD_REQUEST;
    };
    let headers = clerk_sync_core::webhook::WebhookHeaders {
        id,
        timestamp,
        signature,
    };
    match engine.process_webhook(&headers, &body).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A new user's `user.created`, signed now, as Clerk would deliver it: the n-th of a run.
fn delivery(verifier: &WebhookVerifier, run: u64, n: u64) -> ([(&'static str, String); 3], String) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let id = format!("user_bench{run}x{n}");
    let body = json!({
        "type": "user.created", "object": "event", "timestamp": now_ms,
        "instance_id": "ins_bench",
        "data": {
            "id": id, "object": "user", "created_at": now_ms, "updated_at": now_ms,
            "primary_email_address_id": format!("idn_{n}"),
            "email_addresses": [{"id": format!("idn_{n}"), "object": "email_address",
                "email_address": format!("{id}@example.com"), "linked_to": [],
                "verification": {"status": "verified", "strategy": "email_code"}}],
            "first_name": "Bench", "last_name": "User", "username": null,
            "image_url": "https://img.clerk.com/bench", "external_id": null,
            "public_metadata": {}, "private_metadata": {}, "unsafe_metadata": {},
            "phone_numbers": [], "web3_wallets": [], "external_accounts": [],
            "password_enabled": false, "two_factor_enabled": false, "banned": false,
            "locked": false, "last_sign_in_at": null
        }
    })
    .to_string();
    let svix_id = format!("msg_bench{run}x{n}");
    let timestamp = now_ms / 1000;
    let signature = verifier.sign(&svix_id, timestamp, body.as_bytes());
    (
        [
            ("svix-id", svix_id),
            ("svix-timestamp", timestamp.to_string()),
            ("svix-signature", signature),
        ],
        body,
    )
}

async fn postgres_schema(url: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("PostgreSQL answers");
    for sql in [
        format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"),
        format!("CREATE SCHEMA {SCHEMA}"),
    ] {
        admin
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .expect("schema");
    }
    let _ = admin.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{SCHEMA}")
}

/// One round of a contender: the requests done and the time taken.
type Round = std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Duration)>>>;

struct Contender {
    name: &'static str,
    run: Box<dyn Fn(u64) -> Round>,
}

/// Runs the contenders alternately, `rounds` times, each round starting with the next
/// contender, and prints their median throughput, the
/// ratio of each to the first, and whether the second meets `target`.
fn interleaved(
    runtime: &tokio::runtime::Runtime,
    title: &str,
    target: f64,
    contenders: &[Contender],
) {
    let rounds = env_number("BENCH_ROUNDS", 7);
    let count = env_number("BENCH_REQUESTS", 2_000);
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..rounds as usize {
        // Each round starts with the next contender, so that none always runs right after
        // the same other (whose writes the database may still be flushing).
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let (done, took) = runtime.block_on((contenders[i].run)(count));
            rates[i].push(done as f64 / took.as_secs_f64());
        }
    }
    let medians: Vec<f64> = rates
        .iter_mut()
        .map(|r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect();
    println!(
        "\n{title}: interleaved medians over {rounds} rounds of up to {count} requests, 64 in flight"
    );
    for (contender, median) in contenders.iter().zip(&medians) {
        println!("  {:<28} {:>9.0} requests/s", contender.name, median);
    }
    for (contender, median) in contenders.iter().zip(&medians).skip(1) {
        println!(
            "  {} / {}: {:.2}x",
            contender.name,
            contenders[0].name,
            median / medians[0]
        );
    }
    let ratio = medians[1] / medians[0];
    println!(
        "  target >= {target}x: {}",
        if ratio >= target { "holds" } else { "MISSED" }
    );
}

fn axum_routes(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let round_limit = Duration::from_secs(env_number("BENCH_ROUND_SECS", 10));
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY as usize)
        .build()
        .expect("client");

    // (a) A route behind ClerkSession against the same JSON without authentication.
    let fake = runtime.block_on(FakeClerk::start());
    let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
    let engine = SyncEngine::from_shared(
        store,
        WebhookVerifier::new(fake.webhook_secret()).expect("secret"),
    );
    let sessions = JwtVerifier::from_pem(&fake.jwt_public_key_pem()).expect("key");
    let state = ClerkState::new(ClerkHttp::new(engine).with_sessions(sessions));
    let protected_url = runtime.block_on(serve(
        Router::new()
            .route("/claims", get(protected))
            .with_state(state),
    ));
    let bare_url = runtime.block_on(serve(Router::new().route("/claims", get(unprotected))));
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

    let mut group = c.benchmark_group("protected_route");
    group.sample_size(10);
    for (name, url, token) in [
        ("bare_handler", bare_url.clone(), None),
        ("clerk_session", protected_url.clone(), Some(token.clone())),
    ] {
        let (client, request) = (client.clone(), get_claims(url, token));
        let request = Arc::new(request);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (client, request) = (client.clone(), request.clone());
                async move {
                    let (done, took) =
                        load(&client, iters, Duration::from_secs(3600), move |c, n| {
                            request(c, n)
                        })
                        .await;
                    assert_eq!(done, iters);
                    took
                }
            });
        });
    }
    group.finish();

    let contenders = [
        ("bare handler", bare_url, None),
        ("ClerkSession", protected_url, Some(token)),
    ]
    .into_iter()
    .map(|(name, url, token)| {
        let client = client.clone();
        let request = Arc::new(get_claims(url, token));
        Contender {
            name,
            run: Box::new(move |count| {
                let (client, request) = (client.clone(), request.clone());
                Box::pin(async move {
                    load(&client, count, round_limit, move |c, n| request(c, n)).await
                })
            }),
        }
    })
    .collect::<Vec<_>>();
    interleaved(&runtime, "protected route", 0.8, &contenders);

    // (b) The webhook route on PostgreSQL against a bare single-row insert.
    let Ok(url) = std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") else {
        println!("\nwebhook: skipped, CLERK_SYNC_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema_url = runtime.block_on(postgres_schema(&url));
    let store = runtime.block_on(async {
        let store = SqlxStore::connect(&schema_url).await.expect("PostgreSQL");
        store.migrate().await.expect("migrate");
        store
    });
    let DialectPool::Postgres(pool) = store.pool() else {
        unreachable!("a postgres:// URL makes a PostgreSQL store")
    };
    runtime.block_on(async {
        sqlx::query(
            "CREATE TABLE bench_raw_webhooks (svix_id text PRIMARY KEY, payload text NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("the baseline's table");
    });
    let secret = fake.webhook_secret().to_owned();
    let store: Arc<dyn SyncStore> = Arc::new(store);
    let engine = SyncEngine::from_shared(store, WebhookVerifier::new(&secret).expect("secret"));
    let engine_url = runtime.block_on(serve(
        Router::new()
            .route("/api/webhooks/clerk", post(engine_handler))
            .with_state(engine.clone()),
    ));
    let router_url = runtime.block_on(serve(clerk_sync_axum::router(ClerkState::new(
        ClerkHttp::new(engine),
    ))));
    let insert_url = runtime.block_on(serve(
        Router::new()
            .route("/api/webhooks/clerk", post(bare_insert))
            .with_state(pool.clone()),
    ));
    // Each measurement gets its own run number, so every delivery is a new user and message.
    let runs = Arc::new(AtomicU64::new(0));
    let deliver = |url: String| {
        let verifier = WebhookVerifier::new(&secret).expect("secret");
        let runs = runs.clone();
        move || {
            let run = runs.fetch_add(1, Ordering::Relaxed);
            let (url, verifier) = (url.clone(), verifier.clone());
            move |client: &reqwest::Client, n| {
                let (headers, body) = delivery(&verifier, run, n);
                let mut request = client
                    .post(format!("{url}/api/webhooks/clerk"))
                    .header("content-type", "application/json");
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                request.body(body)
            }
        }
    };

    let mut group = c.benchmark_group("webhook_postgres");
    group.sample_size(10);
    for (name, url) in [
        ("bare_insert", insert_url.clone()),
        ("clerk_sync_router", router_url.clone()),
        ("engine_in_bare_handler", engine_url.clone()),
    ] {
        let client = client.clone();
        let make = Arc::new(deliver(url));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (client, request) = (client.clone(), make());
                async move {
                    let (done, took) =
                        load(&client, iters, Duration::from_secs(3600), request).await;
                    assert_eq!(done, iters);
                    took
                }
            });
        });
    }
    group.finish();

    let contenders = [
        ("bare single-row insert", insert_url),
        ("clerk-sync router", router_url),
        ("engine, hand-written handler", engine_url),
    ]
    .into_iter()
    .map(|(name, url)| {
        let client = client.clone();
        let make = Arc::new(deliver(url));
        Contender {
            name,
            run: Box::new(move |count| {
                let (client, request) = (client.clone(), make());
                Box::pin(async move { load(&client, count, round_limit, request).await })
            }),
        }
    })
    .collect::<Vec<_>>();
    interleaved(&runtime, "webhook on PostgreSQL", 0.5, &contenders);

    runtime.block_on(async {
        pool.close().await;
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"
            )))
            .await;
    });
}

criterion_group!(benches, axum_routes);
criterion_main!(benches);
