//! Load over loopback HTTP for the route and service benches (`axum_routes`, `actix_routes`,
//! `service_webhooks`): 64 requests in flight from an in-process reqwest client, signed
//! `user.created` deliveries, a PostgreSQL schema of the bench's own, criterion groups of those
//! loads, and contenders run alternately in rounds whose medians are compared.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor, PgPool};
use serde_json::json;

/// Requests in flight.
pub const CONCURRENCY: u64 = 64;

/// The environment variable `name` as a positive number, else `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// A client for loopback: no proxy, a keep-alive connection per request in flight.
///
/// # Panics
///
/// When no client can be built.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY as usize)
        .build()
        .expect("client")
}

/// Sends `count` requests made by `request(n)` with 64 in flight, stopping early at
/// `deadline`; every answer must be 200. Returns the requests done and the time taken.
///
/// # Panics
///
/// On a failed request or an answer other than 200.
pub async fn load<F>(
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
                    assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&body));
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

/// A new user's `user.created`, signed now, as Clerk would deliver it: the n-th of a run.
pub fn delivery(
    verifier: &WebhookVerifier,
    run: u64,
    n: u64,
) -> ([(&'static str, String); 3], String) {
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

/// A fresh `schema` on the PostgreSQL server at `url` (dropped first if a run left it), and
/// the URL that makes it every connection's `search_path`.
///
/// # Panics
///
/// When PostgreSQL does not answer.
pub async fn postgres_schema(url: &str, schema: &str) -> String {
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

/// Drops `schema` on the PostgreSQL server at `url`, if it answers.
pub async fn drop_postgres_schema(url: &str, schema: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .await;
    }
}

/// One round of a contender: the requests done and the time taken.
pub type Round = std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Duration)>>>;

/// A contender of an interleaved comparison: its name, and how to run a round of `count`
/// requests.
pub struct Contender {
    /// Its name in the printed table.
    pub name: &'static str,
    /// One round of up to `count` requests.
    pub run: Box<dyn Fn(u64) -> Round>,
}

impl Contender {
    /// A contender whose rounds [`load`] one server with a fresh `make()` each, for up to
    /// `round_limit` a round.
    pub fn load<M, F>(
        name: &'static str,
        client: &reqwest::Client,
        round_limit: Duration,
        make: M,
    ) -> Contender
    where
        M: Fn() -> F + 'static,
        F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
    {
        let client = client.clone();
        Contender {
            name,
            run: Box::new(move |count| {
                let (client, request) = (client.clone(), make());
                Box::pin(async move { load(&client, count, round_limit, request).await })
            }),
        }
    }
}

/// Criterion's figure for each `(name, make)` in the group `group`: the time of `iters`
/// requests at 64 in flight, from a fresh `make()` each sample.
///
/// # Panics
///
/// As [`load`], and when a sample does not finish its requests.
pub fn criterion_loads<M, F>(
    c: &mut criterion::Criterion,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    group: &str,
    benches: Vec<(&'static str, M)>,
) where
    M: Fn() -> F,
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let mut group = c.benchmark_group(group);
    group.sample_size(10);
    for (name, make) in benches {
        group.bench_function(name, |b| {
            b.to_async(runtime).iter_custom(|iters| {
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
}

/// Runs the contenders alternately, `BENCH_ROUNDS` times (default 7), each round starting
/// with the next contender, and prints their median throughput, the ratio of each to the
/// first, and whether the second meets `target`. Returns the medians, in requests/s.
pub fn interleaved(
    runtime: &tokio::runtime::Runtime,
    title: &str,
    target: f64,
    contenders: &[Contender],
) -> Vec<f64> {
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
    let ratio = medians[1] / medians[0];
    println!(
        "  target >= {target}x: {}",
        if ratio >= target { "holds" } else { "MISSED" }
    );
    medians
}

/// Serves `app` with axum on 127.0.0.1, on a port of the system's choosing, on the current
/// runtime; its base URL.
///
/// # Panics
///
/// When no port can be bound.
pub async fn serve_axum(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

/// The webhook baseline as an axum handler: the delivery inserted as one row (`svix_id`,
/// payload) into `bench_raw_webhooks` (see [`webhook_database`]).
pub async fn axum_bare_insert(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
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
        .map_or(axum::http::StatusCode::SERVICE_UNAVAILABLE, |_| {
            axum::http::StatusCode::OK
        })
}

/// The engine called from a hand-written axum handler, with no adapter: what an adapter or a
/// service adds on top of the engine's own work is the difference.
pub async fn axum_engine_handler(
    axum::extract::State(engine): axum::extract::State<
        clerk_sync_core::sync::SyncEngine<dyn clerk_sync_core::store::SyncStore>,
    >,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("svix-id"),
        header("svix-timestamp"),
        header("svix-signature"),
    ) else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    let headers = clerk_sync_core::webhook::WebhookHeaders {
        id,
        timestamp,
        signature,
    };
    match engine.process_webhook(&headers, &body).await {
        Ok(_) => axum::http::StatusCode::OK,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The webhook workload's database: a fresh `schema` on the PostgreSQL server at `url`,
/// migrated for the sqlx store, with the bare handler's one-row table
/// (`bench_raw_webhooks`); the store and its pool.
///
/// # Panics
///
/// When PostgreSQL does not answer or refuses the schema.
pub async fn webhook_database(url: &str, schema: &str) -> (clerk_sync_sqlx::SqlxStore, PgPool) {
    let schema_url = postgres_schema(url, schema).await;
    let store = clerk_sync_sqlx::SqlxStore::connect(&schema_url)
        .await
        .expect("PostgreSQL");
    store.migrate().await.expect("migrate");
    let clerk_sync_sqlx::DialectPool::Postgres(pool) = store.pool() else {
        unreachable!("a postgres:// URL makes a PostgreSQL store")
    };
    sqlx::query(
        "CREATE TABLE bench_raw_webhooks (svix_id text PRIMARY KEY, payload text NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("the baseline's table");
    (store, pool)
}

/// Signed new-user deliveries to one server's `/api/webhooks/clerk`. Each [`run`](Self::run)
/// takes the next run number from a counter shared by every server of the bench, so that
/// every delivery is a new user and message.
pub struct Deliveries {
    url: String,
    verifier: WebhookVerifier,
    runs: Arc<AtomicU64>,
}

impl Deliveries {
    /// Deliveries to the server at `url`, signed with `secret`.
    ///
    /// # Panics
    ///
    /// When `secret` is not a webhook secret.
    pub fn new(url: &str, secret: &str, runs: &Arc<AtomicU64>) -> Self {
        Deliveries {
            url: url.to_owned(),
            verifier: WebhookVerifier::new(secret).expect("secret"),
            runs: runs.clone(),
        }
    }

    /// The requests of a new run: the n-th is the run's n-th new user.
    pub fn run(
        &self,
    ) -> impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + use<> {
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let (url, verifier) = (self.url.clone(), self.verifier.clone());
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
}
