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
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use clerk_sync_benches::http_load::{
    Contender, Deliveries, axum_bare_insert, axum_engine_handler, client, criterion_loads,
    drop_postgres_schema, env_number, interleaved, postgres_schema, serve_axum, webhook_database,
};
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_testing::FakeClerk;
use criterion::{Criterion, criterion_group, criterion_main};
/// The bare handlers' schema, and the service's (each owns its tables).
const BARE_SCHEMA: &str = "clerk_bench_service_bare";
const SERVICE_SCHEMA: &str = "clerk_bench_service";
const SERVICE_BIN: &str = "axum-sqlx-service";
/// The second reference service, measured the same way when its release binary is there.
const ACTIX_SCHEMA: &str = "clerk_bench_service_actix";
const ACTIX_BIN: &str = "actix-seaorm-service";

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
    let client = client();
    let fake = runtime.block_on(FakeClerk::start());
    let secret = fake.webhook_secret().to_owned();

    // The bare handlers: a single-row insert, and the engine's write, on one pool made on the
    // servers' runtime, where its connections are used.
    let (store, pool) = servers.block_on(webhook_database(&url, BARE_SCHEMA));
    let store: Arc<dyn SyncStore> = Arc::new(store);
    let engine = SyncEngine::from_shared(store, WebhookVerifier::new(&secret).expect("secret"));
    let insert_url = servers.block_on(serve_axum(
        Router::new()
            .route("/api/webhooks/clerk", post(axum_bare_insert))
            .with_state(pool.clone()),
    ));
    let engine_url = servers.block_on(serve_axum(
        Router::new()
            .route("/api/webhooks/clerk", post(axum_engine_handler))
            .with_state(engine),
    ));

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

    // Every measurement takes the next run number, so every delivery is a new user and message.
    let runs = Arc::new(AtomicU64::new(0));
    let deliver = |url: &String| {
        let deliveries = Deliveries::new(url, &secret, &runs);
        move || deliveries.run()
    };
    criterion_loads(
        c,
        &runtime,
        &client,
        "service_webhook_postgres",
        vec![
            ("bare_insert", deliver(&insert_url)),
            ("axum_sqlx_service", deliver(&service_url)),
            ("engine_in_bare_handler", deliver(&engine_url)),
        ],
    );

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
        .map(|(name, url)| Contender::load(name, &client, round_limit, deliver(&url)))
        .collect::<Vec<_>>();
    // The printed target is the axum service's; the actix one's is the same target.
    let medians = interleaved(
        &runtime,
        "the reference services' webhook on PostgreSQL",
        0.5,
        &contenders,
    );
    if let Some(actix_rate) = medians.get(3) {
        let ratio = actix_rate / medians[0];
        println!(
            "  actix-seaorm-service target >= 0.5x: {}",
            if ratio >= 0.5 { "holds" } else { "MISSED" }
        );
    }

    drop(service);
    drop(actix);
    servers.block_on(pool.close());
    for schema in [BARE_SCHEMA, SERVICE_SCHEMA, ACTIX_SCHEMA] {
        runtime.block_on(drop_postgres_schema(&url, schema));
    }
}

criterion_group!(benches, service_webhooks);
criterion_main!(benches);
