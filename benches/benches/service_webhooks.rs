//! The reference services' webhook route, each as a running process, against a bare axum
//! handler on the same PostgreSQL database, in the same run.
//!
//! ```text
//! cargo build --release -p axum-sqlx-service -p actix-seaorm-service
//! CLERK_SYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test BENCH_ROUNDS=9 \
//! cargo bench -p clerk-sync-benches --bench service_webhooks -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The service is the release binary `axum-sqlx-service` (beside this bench's executable in
//! the target directory, or `SERVICE_BIN`), started with `serve` on a free port against a
//! schema of its own on PostgreSQL, with FakeClerk as Clerk (so its outbound worker and
//! scheduler run as deployed), and `RATE_LIMIT_WEBHOOK` raised so the limiter is in the path
//! but never answers 429 to the benchmark's single client address. Every delivery it gets
//! goes through the whole stack: the rate limiter, timeouts, request id, trace, verify, parse,
//! and the store's one transaction for the ledger entry and the user row.
//!
//! Contenders, served over loopback and loaded the same way (an in-process reqwest client,
//! HTTP/1.1 keep-alive, 64 requests in flight; `BENCH_REQUESTS` per round, default 2,000, and
//! at most `BENCH_ROUND_SECS`, default 10 s). The in-process servers run on a runtime of
//! their own with two worker threads, as the service process has, so that no contender
//! shares its threads with the load client:
//! - **bare single-row insert:** an axum handler in this process inserting the delivery as
//!   one row (`svix_id`, payload) on a 16-connection pool of the same database (the baseline
//!   of `axum_routes`);
//! - **the service:** the process above. Target: at least 0.5x the bare insert, the adapter's
//!   own target;
//! - **the actix-web + sea-orm service:** `actix-seaorm-service`, started the same way on a
//!   schema of its own, when its release binary is beside this bench (a line says so
//!   otherwise). Same target;
//! - **engine, hand-written handler:** `SyncEngine::process_webhook` on the same store write,
//!   called from a bare axum handler in this process: what the service adds around the same
//!   write is the difference.
//!
//! Every delivery is a new user's signed `user.created` with its own `svix-id`. Skipped, with a
//! line saying so, without `CLERK_SYNC_TEST_POSTGRES_URL` or without the service binary. The
//! service's log (a line per request, as deployed) goes to a file in the temporary directory,
//! shown if it fails to start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use clerk_sync_sqlx::sqlx::{self, Connection, Executor, PgPool};
use clerk_sync_sqlx::{DialectPool, SqlxStore};
use clerk_sync_testing::FakeClerk;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const CONCURRENCY: u64 = 64;
/// The bare handlers' schema, and the service's (each owns its tables).
const BARE_SCHEMA: &str = "clerk_bench_service_bare";
const SERVICE_SCHEMA: &str = "clerk_bench_service";
const SERVICE_BIN: &str = "axum-sqlx-service";
/// The second reference service, measured the same way when its release binary is there.
const ACTIX_SCHEMA: &str = "clerk_bench_service_actix";
const ACTIX_BIN: &str = "actix-seaorm-service";

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

/// Serves `app` on `runtime` (the servers' runtime, not the load client's).
fn serve(runtime: &tokio::runtime::Runtime, app: Router) -> String {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        format!("http://{address}")
    })
}

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

/// The engine's write from a hand-written handler: the service's work without the service.
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
    let headers = WebhookHeaders {
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
    let id = format!("user_svcbench{run}x{n}");
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
    let svix_id = format!("msg_svcbench{run}x{n}");
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

/// A fresh schema; answers the URL whose connections use it.
async fn postgres_schema(url: &str, schema: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("PostgreSQL answers");
    for sql in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        admin
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .expect("schema");
    }
    let _ = admin.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

async fn drop_schemas(url: &str) {
    let mut admin = sqlx::PgConnection::connect(url).await.expect("PostgreSQL");
    for schema in [BARE_SCHEMA, SERVICE_SCHEMA, ACTIX_SCHEMA] {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .await;
    }
}

/// The release binary: `SERVICE_BIN`, else beside this bench in the target directory
/// (`target/release/deps/service_webhooks-*` → `target/release/axum-sqlx-service`).
fn service_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SERVICE_BIN") {
        return Some(PathBuf::from(path));
    }
    release_binary(SERVICE_BIN)
}

/// `name` beside this bench in the target directory's release folder.
fn release_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join(name);
    path.is_file().then_some(path)
}

/// The service process, killed when dropped, and its log file, removed then.
struct Service(Child, PathBuf);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

/// Starts the service on a free port and waits for `/health`; answers it and its URL.
async fn start_service(
    binary: &Path,
    database_url: &str,
    fake: &FakeClerk,
    client: &reqwest::Client,
) -> (Service, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let scratch = std::env::temp_dir();
    let log_path = scratch.join(format!(
        "service_webhooks-{}-{port}.log",
        std::process::id()
    ));
    let log = std::fs::File::create(&log_path).expect("the service's log file");
    let mut command = Command::new(binary);
    for name in [
        "CLERK_WEBHOOK_SIGNING_SECRET",
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "CLERK_AUTHORIZED_PARTIES",
        "RECONCILE_INTERVAL",
        "CORS_ORIGINS",
        "RATE_LIMIT_ADMIN",
        "LOG_FORMAT",
    ] {
        command.env_remove(name);
    }
    let child = command
        .arg("serve")
        .current_dir(&scratch)
        .env("DATABASE_URL", database_url)
        .env("CLERK_WEBHOOK_SECRET", fake.webhook_secret())
        .env("CLERK_SECRET_KEY", fake.secret_key())
        .env("CLERK_API_URL", fake.base_url())
        .env("ADMIN_API_KEY", "service-bench-admin-key")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RATE_LIMIT_WEBHOOK", "1000000")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file, twice"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {}: {error}", binary.display()));
    let mut service = Service(child, log_path.clone());
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(reply) = client.get(format!("{url}/health")).send().await
            && reply.status() == StatusCode::OK
        {
            return (service, url);
        }
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Ok(Some(status)) = service.0.try_wait() {
            panic!(
                "the service exited before answering /health: {status}\n{}",
                log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the service did not answer /health in 60 s\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One round of a contender: the requests done and the time taken.
type Round = std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Duration)>>>;

struct Contender {
    name: &'static str,
    run: Box<dyn Fn(u64) -> Round>,
}

/// Runs the contenders alternately, `BENCH_ROUNDS` times, each round starting with the next
/// contender, and prints their median throughput, the ratio of each to the first, and
/// whether the second meets `target`.
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
        println!("  {:<32} {:>9.0} requests/s", contender.name, median);
    }
    for (contender, median) in contenders.iter().zip(&medians).skip(1) {
        println!(
            "  {} / {}: {:.2}x",
            contender.name,
            contenders[0].name,
            median / medians[0]
        );
    }
    if medians.len() > 2 {
        println!(
            "  {} / {}: {:.2}x",
            contenders[1].name,
            contenders[2].name,
            medians[1] / medians[2]
        );
    }
    // The target is each running service's, against the bare insert.
    for (contender, median) in contenders.iter().zip(&medians) {
        if contender.name.ends_with("(process)") {
            let ratio = median / medians[0];
            println!(
                "  {} target >= {target}x: {}",
                contender.name,
                if ratio >= target { "holds" } else { "MISSED" }
            );
        }
    }
}

fn service_webhooks(c: &mut Criterion) {
    let Ok(url) = std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") else {
        println!("\nservice_webhooks: skipped, CLERK_SYNC_TEST_POSTGRES_URL is not set");
        return;
    };
    let Some(binary) = service_binary() else {
        println!(
            "\nservice_webhooks: skipped, no {SERVICE_BIN} binary in the target directory \
             (cargo build --release -p {SERVICE_BIN}, or set SERVICE_BIN)"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bare-servers")
        .enable_all()
        .build()
        .expect("the servers' runtime");
    let round_limit = Duration::from_secs(env_number("BENCH_ROUND_SECS", 10));
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY as usize)
        .build()
        .expect("client");
    let fake = runtime.block_on(FakeClerk::start());
    let secret = fake.webhook_secret().to_owned();

    // The bare handlers: a single-row insert, and the engine's write, on one pool.
    let bare_url = runtime.block_on(postgres_schema(&url, BARE_SCHEMA));
    // The pool is made on the servers' runtime, where its connections are used.
    let store = servers.block_on(async {
        let store = SqlxStore::connect(&bare_url).await.expect("PostgreSQL");
        store.migrate().await.expect("migrate");
        store
    });
    let DialectPool::Postgres(pool) = store.pool() else {
        unreachable!("a postgres:// URL makes a PostgreSQL store")
    };
    servers.block_on(async {
        sqlx::query(
            "CREATE TABLE bench_raw_webhooks (svix_id text PRIMARY KEY, payload text NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("the baseline's table");
    });
    let store: Arc<dyn SyncStore> = Arc::new(store);
    let engine = SyncEngine::from_shared(store, WebhookVerifier::new(&secret).expect("secret"));
    let insert_url = serve(
        &servers,
        Router::new()
            .route("/api/webhooks/clerk", post(bare_insert))
            .with_state(pool.clone()),
    );
    let engine_url = serve(
        &servers,
        Router::new()
            .route("/api/webhooks/clerk", post(engine_handler))
            .with_state(engine),
    );

    // The service, on its own schema of the same database.
    let service_db = runtime.block_on(postgres_schema(&url, SERVICE_SCHEMA));
    let (service, service_url) =
        runtime.block_on(start_service(&binary, &service_db, &fake, &client));
    // The actix-web + sea-orm service, when built, on a schema of its own.
    let actix = release_binary(ACTIX_BIN).map(|actix_binary| {
        let actix_db = runtime.block_on(postgres_schema(&url, ACTIX_SCHEMA));
        runtime.block_on(start_service(&actix_binary, &actix_db, &fake, &client))
    });
    if actix.is_none() {
        println!(
            "\nservice_webhooks: {ACTIX_BIN} not measured, no release binary \
             (cargo build --release -p {ACTIX_BIN})"
        );
    }

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

    let mut group = c.benchmark_group("service_webhook_postgres");
    group.sample_size(10);
    for (name, url) in [
        ("bare_insert", insert_url.clone()),
        ("axum_sqlx_service", service_url.clone()),
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

    let mut contenders = vec![
        ("bare single-row insert", insert_url),
        ("axum-sqlx-service (process)", service_url),
        ("engine, hand-written handler", engine_url),
    ];
    if let Some((_, actix_url)) = &actix {
        contenders.push(("actix-seaorm-service (process)", actix_url.clone()));
    }
    let contenders = contenders
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
    interleaved(
        &runtime,
        "the reference service's webhook on PostgreSQL",
        0.5,
        &contenders,
    );

    drop(service);
    drop(actix);
    servers.block_on(pool.close());
    runtime.block_on(drop_schemas(&url));
}

criterion_group!(benches, service_webhooks);
criterion_main!(benches);
