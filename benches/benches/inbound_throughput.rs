//! Inbound apply throughput of the sqlx store against the same database's raw upsert rate,
//! and `apply_batch` against row-by-row apply, measured in one run.
//!
//! ```text
//! CLERK_SYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! CLERK_SYNC_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//! cargo bench -p clerk-sync-benches --bench inbound_throughput
//! ```
//!
//! Each database gets a private schema (PostgreSQL) or database (MySQL), dropped at the end;
//! SQLite uses a temporary file. A database whose URL variable is unset is skipped, with a
//! line saying so. `BENCH_SECS` sets the measuring time per path and concurrency (default 3),
//! `BENCH_ROUNDS` how many alternating windows it is split into (default 3), and `BENCH_DBS`
//! (a comma-separated list of `postgres`, `mysql`, `sqlite`; default all three) which
//! databases run.
//!
//! Rows measured:
//! - `raw upsert`: one `INSERT .. ON CONFLICT .. DO UPDATE` (MySQL: `ON DUPLICATE KEY
//!   UPDATE`) of one row per event, autocommit, with plain sqlx, into a copy of the users table:
//!   the floor of any inbound path. It writes the same row content as the inbound paths (the
//!   Clerk user object as `raw_json`).
//! - `apply_inbound`: the store's one-transaction ledger + conditional upsert + mark processed.
//! - `process_webhook`: the whole inbound path through `SyncEngine`: signature verification
//!   (HMAC-SHA256 over Clerk's `user.updated` payload), parsing, and `apply_inbound`. Every
//!   event has a unique svix id and a newer version, so every one writes; events spread over
//!   10,000 users. The ratio against `raw upsert` is the target (at least 0.5).
//!
//! Two workloads, each at every concurrency:
//! - `updates` (the target): both tables hold the 10,000 users (version 1, the same row
//!   content) before the first window, so every event updates a user the database knows, as
//!   `user.updated` deliveries do. Without the seed the mix would change with the run: the first
//!   windows would be mostly first deliveries, the later ones updates.
//! - `first deliveries`: every event is for a user neither table has seen, so the raw path
//!   inserts a row and the inbound paths try a link by email first, then insert (a new sign-up,
//!   or a `user.updated` whose `user.created` has not arrived).
//!
//! The three paths alternate in `BENCH_ROUNDS` short windows per concurrency, so that
//! background load on a shared machine affects them alike.
//! - `apply_batch` of 100,000 users against `upsert_user` one at a time (a sample of 2,000,
//!   extrapolated).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clerk_sync_core::store::{
    ClerkUserRecord, InboundChange, InboundStore, NewLedgerEntry, UserStore,
};
use clerk_sync_core::sync::{ProcessOutcome, SyncEngine};
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use clerk_sync_sqlx::SqlxStore;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor};
use time::OffsetDateTime;

/// Distinct users the events are spread over.
const USERS: u64 = 10_000;
const CONCURRENCY: [usize; 3] = [1, 16, 64];
const BATCH: usize = 100_000;
const ROW_SAMPLE: usize = 2_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Db {
    Postgres,
    MySql,
    Sqlite,
}

impl Db {
    /// Whether `BENCH_DBS` selects this database (unset: every one).
    fn selected(self) -> bool {
        let key = match self {
            Db::Postgres => "postgres",
            Db::MySql => "mysql",
            Db::Sqlite => "sqlite",
        };
        std::env::var("BENCH_DBS").map_or(true, |list| {
            list.split(',').any(|d| d.trim().eq_ignore_ascii_case(key))
        })
    }

    fn name(self) -> &'static str {
        match self {
            Db::Postgres => "PostgreSQL",
            Db::MySql => "MariaDB/MySQL",
            Db::Sqlite => "SQLite (file, WAL)",
        }
    }
}

/// A database prepared for one run, and how to remove it afterwards.
struct Target {
    db: Db,
    url: String,
    cleanup: Option<(String, String)>,
}

fn window() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}_{nanos}", std::process::id())
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").map_or(0, |i| i + 3);
    let path = base[start..].find('/').map_or(base.len(), |i| start + i);
    match query {
        Some(q) => format!("{}/{database}?{q}", &base[..path]),
        None => format!("{}/{database}", &base[..path]),
    }
}

async fn prepare(db: Db) -> Option<Target> {
    match db {
        Db::Postgres | Db::MySql => {
            let var = if db == Db::Postgres {
                "CLERK_SYNC_TEST_POSTGRES_URL"
            } else {
                "CLERK_SYNC_TEST_MYSQL_URL"
            };
            let Ok(url) = std::env::var(var) else {
                println!("{}: skipped, {var} is not set", db.name());
                return None;
            };
            let name = unique("clerk_bench_");
            if db == Db::Postgres {
                let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                    .await
                    .ok()?;
                let sep = if url.contains('?') { '&' } else { '?' };
                Some(Target {
                    db,
                    url: format!("{url}{sep}options=-c%20search_path%3D{name}"),
                    cleanup: Some((url, format!("DROP SCHEMA {name} CASCADE"))),
                })
            } else {
                let mut admin = sqlx::MySqlConnection::connect(&url).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                    .await
                    .ok()?;
                Some(Target {
                    db,
                    url: with_database(&url, &name),
                    cleanup: Some((url, format!("DROP DATABASE `{name}`"))),
                })
            }
        }
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(unique("clerk_bench_"));
            std::fs::create_dir_all(&dir).ok()?;
            Some(Target {
                db,
                url: format!("sqlite:{}?mode=rwc", dir.join("bench.db").display()),
                cleanup: None,
            })
        }
    }
}

async fn cleanup(target: &Target) {
    if let Some((url, sql)) = &target.cleanup {
        let sql = sqlx::AssertSqlSafe(sql.clone());
        let _ = match target.db {
            Db::Postgres => match sqlx::PgConnection::connect(url).await {
                Ok(mut c) => c.execute(sql).await.map(|_| ()),
                Err(e) => Err(e),
            },
            _ => match sqlx::MySqlConnection::connect(url).await {
                Ok(mut c) => c.execute(sql).await.map(|_| ()),
                Err(e) => Err(e),
            },
        };
    }
}

/// A store whose pool has room for the highest concurrency.
async fn store_for(target: &Target) -> SqlxStore {
    let store = match target.db {
        Db::Postgres => SqlxStore::from_pool(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(64)
                .connect(&target.url)
                .await
                .expect("postgres pool"),
        ),
        Db::MySql => SqlxStore::from_pool(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(64)
                .connect(&target.url)
                .await
                .expect("mysql pool"),
        ),
        Db::Sqlite => SqlxStore::connect(&target.url).await.expect("sqlite"),
    };
    store.migrate().await.expect("migrate");
    store
}

/// The raw baseline's table: a copy of `clerk_users`, indexes included, without the library
/// around it.
async fn create_raw_table(store: &SqlxStore) {
    match store.dialect() {
        clerk_sync_sqlx::Dialect::Postgres => {
            execute(
                store,
                "CREATE TABLE bench_raw (LIKE clerk_users INCLUDING ALL)".to_owned(),
                None,
            )
            .await
        }
        clerk_sync_sqlx::Dialect::MySql => {
            execute(
                store,
                "CREATE TABLE bench_raw LIKE clerk_users".to_owned(),
                None,
            )
            .await
        }
        _ => {
            // SQLite has no CREATE TABLE .. LIKE: replay the table's and its indexes' DDL.
            let clerk_sync_sqlx::DialectPool::Sqlite(pool) = store.pool() else {
                unreachable!("a SQLite store has a SQLite pool")
            };
            let ddl: Vec<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'clerk_users' AND sql IS NOT NULL \
                 ORDER BY type DESC",
            )
            .fetch_all(&pool)
            .await
            .expect("clerk_users DDL");
            for sql in ddl {
                execute(store, sql.replace("clerk_users", "bench_raw"), None).await;
            }
        }
    }
}

/// The users the events touch, at version 1 with the row content the events write, in
/// `clerk_users` and (copied row for row) in the raw baseline's table.
async fn seed_users(store: &SqlxStore) {
    let records: Vec<ClerkUserRecord> = (0..USERS)
        .map(|n| {
            let id = user_id(n);
            let mut r = ClerkUserRecord::new(id.clone(), 1, raw_json(&id, 1));
            r.email = Some(format!("{id}@example.com"));
            r.first_name = Some("Bench".to_owned());
            r
        })
        .collect();
    for chunk in records.chunks(1_000) {
        store
            .apply_batch(chunk, OffsetDateTime::now_utc())
            .await
            .expect("seed users");
    }
    // Every column but the local id: PostgreSQL's copy has its own id sequence, which must go
    // on from where the copied rows end rather than collide with them.
    const COLUMNS: &str = "clerk_id, email, first_name, last_name, username, image_url, \
         external_id, public_metadata, raw_json, clerk_updated_at, deleted_at, sync_status, \
         last_sync_attempt, sync_error, created_at, updated_at";
    execute(
        store,
        format!("INSERT INTO bench_raw ({COLUMNS}) SELECT {COLUMNS} FROM clerk_users ORDER BY id"),
        None,
    )
    .await;
}

/// Run `sql` on the store's pool; with `ev`, bind one event's values first.
async fn execute(store: &SqlxStore, sql: String, ev: Option<(&str, i64, &str, OffsetDateTime)>) {
    use clerk_sync_sqlx::DialectPool;
    let sql = sqlx::AssertSqlSafe(sql);
    let result = match (store.pool(), ev) {
        (DialectPool::Postgres(p), Some((id, v, raw, now))) => sqlx::query(sql)
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind("Bench")
            .bind(raw)
            .bind(v)
            .bind(now)
            .execute(&p)
            .await
            .map(|_| ()),
        (DialectPool::MySql(p), Some((id, v, raw, now))) => sqlx::query(sql)
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind("Bench")
            .bind(raw)
            .bind(v)
            .bind(now)
            .bind(now)
            .execute(&p)
            .await
            .map(|_| ()),
        (DialectPool::Sqlite(p), Some((id, v, raw, now))) => sqlx::query(sql)
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind("Bench")
            .bind(raw)
            .bind(v)
            .bind(now.to_string())
            .execute(&p)
            .await
            .map(|_| ()),
        (DialectPool::Postgres(p), None) => p.execute(sql).await.map(|_| ()),
        (DialectPool::MySql(p), None) => p.execute(sql).await.map(|_| ()),
        (DialectPool::Sqlite(p), None) => p.execute(sql).await.map(|_| ()),
        _ => unreachable!("every dialect is enabled"),
    };
    result.expect("raw statement");
}

fn raw_upsert_sql(store: &SqlxStore) -> String {
    match store.dialect() {
        clerk_sync_sqlx::Dialect::MySql => "INSERT INTO bench_raw (clerk_id, email, first_name, \
             raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'synced', ?, ?) ON DUPLICATE KEY UPDATE \
             email = VALUES(email), first_name = VALUES(first_name), raw_json = VALUES(raw_json), \
             clerk_updated_at = VALUES(clerk_updated_at), updated_at = VALUES(updated_at)"
            .to_owned(),
        clerk_sync_sqlx::Dialect::Postgres => "INSERT INTO bench_raw (clerk_id, email, \
             first_name, raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4::jsonb, $5, 'synced', $6, $6) ON CONFLICT (clerk_id) DO UPDATE \
             SET email = excluded.email, first_name = excluded.first_name, \
             raw_json = excluded.raw_json, clerk_updated_at = excluded.clerk_updated_at, \
             updated_at = excluded.updated_at"
            .to_owned(),
        _ => "INSERT INTO bench_raw (clerk_id, email, first_name, raw_json, clerk_updated_at, \
             sync_status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'synced', $6, $6) \
             ON CONFLICT (clerk_id) DO UPDATE SET email = excluded.email, \
             first_name = excluded.first_name, raw_json = excluded.raw_json, \
             clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at"
            .to_owned(),
    }
}

/// The fixture's primary address. Each bench user gets its own instead, as real users have:
/// with one address shared by all 10,000 users every link attempt would scan them all.
const FIXTURE_EMAIL: &str = "new.primary@example.com";

fn user_id(n: u64) -> String {
    format!("user_bench{:05}", n % USERS)
}

/// Which users the events of a measurement are for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    /// The seeded users, each event a newer version.
    Updates,
    /// A user never seen before, per event.
    FirstDeliveries,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Updates => "updates",
            Workload::FirstDeliveries => "first deliveries",
        }
    }

    /// The user of event `n`.
    fn user(self, n: u64) -> String {
        match self {
            Workload::Updates => user_id(n),
            Workload::FirstDeliveries => format!("user_first{n:09}"),
        }
    }
}

/// The Clerk user object of `user_updated.json` with `__ID__` / `__VERSION__` placeholders: the
/// `raw_json` every path writes, so the raw baseline upserts the same row content as the
/// inbound paths (about 4.5 kB, as Clerk sends).
fn user_template() -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| template(|event| &event["data"]))
}

/// `user_updated.json`, or the part `pick` chooses, as text with `__ID__` / `__VERSION__` in
/// place of the user id and version, and the user's own address in place of the fixture's.
fn template(pick: impl Fn(&serde_json::Value) -> &serde_json::Value) -> String {
    let mut event: serde_json::Value = serde_json::from_str(include_str!(
        "../../clerk-sync-core/tests/fixtures/events/user_updated.json"
    ))
    .expect("fixture");
    event["data"]["id"] = serde_json::json!("__ID__");
    event["data"]["updated_at"] = serde_json::json!("__VERSION__");
    pick(&event)
        .to_string()
        .replace("\"__VERSION__\"", "__VERSION__")
        .replace(FIXTURE_EMAIL, "__ID__@example.com")
}

fn raw_json(id: &str, v: i64) -> String {
    user_template()
        .replace("__ID__", id)
        .replacen("__VERSION__", &v.to_string(), 1)
}

/// Events done and seconds taken by `concurrency` tasks each running `op(n)` on fresh sequence
/// numbers for `window`.
async fn throughput<F, Fut>(concurrency: usize, window: Duration, op: Arc<F>) -> (u64, f64)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let next = &NEXT;
    // Warm-up: open the connections and prepare the statements.
    let warm: Vec<_> = (0..concurrency)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move { op(next.fetch_add(1, Ordering::Relaxed)).await })
        })
        .collect();
    for w in warm {
        w.await.expect("warm-up");
    }
    let deadline = Instant::now() + window;
    let start = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    op(next.fetch_add(1, Ordering::Relaxed)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("worker");
    }
    (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

/// Versions grow with the sequence number, so every event is newer than the stored row:
/// every apply writes (the expensive case, no stale short-cuts).
fn version(n: u64) -> i64 {
    1_772_366_400_000 + n as i64
}

struct Row {
    db: Db,
    workload: Workload,
    concurrency: usize,
    raw: f64,
    store_inbound: f64,
    webhook: f64,
}

/// Rounds per measurement (`BENCH_ROUNDS`, default 3): the three paths alternate in short
/// windows so that load from other processes on the machine hits all of them alike.
fn rounds() -> u32 {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// A signed `user.updated` delivery: Clerk's payload shape, a unique svix id.
struct Delivery {
    svix_id: String,
    timestamp: String,
    signature: String,
    body: String,
}

struct Webhooks {
    verifier: WebhookVerifier,
    /// `user_updated.json` with `__ID__` / `__VERSION__` in place of the user id and version.
    template: String,
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

impl Webhooks {
    fn new() -> Self {
        let template = template(|event| event);
        Webhooks {
            verifier: WebhookVerifier::new(SECRET).expect("secret"),
            template,
        }
    }

    fn delivery(&self, run: &str, user: &str, n: u64) -> Delivery {
        let body = self.template.replace("__ID__", user).replacen(
            "__VERSION__",
            &version(n).to_string(),
            1,
        );
        // Svix message ids are KSUIDs, which sort by time: zero-padding keeps these in
        // sending order too, as the ledger's primary key sees real ones.
        let svix_id = format!("msg_{run}_{n:012}");
        let ts = OffsetDateTime::now_utc().unix_timestamp();
        let signature = self.verifier.sign(&svix_id, ts, body.as_bytes());
        Delivery {
            svix_id,
            timestamp: ts.to_string(),
            signature,
            body,
        }
    }
}

async fn inbound_rows(target: &Target, store: &SqlxStore, workload: Workload) -> Vec<Row> {
    let webhooks = Arc::new(Webhooks::new());
    let engine = Arc::new(SyncEngine::new(
        store.clone(),
        WebhookVerifier::new(SECRET).expect("secret"),
    ));
    let mut rows = Vec::new();
    let run = unique("r");
    let slice = window() / rounds();

    let raw_op = {
        let store = store.clone();
        let sql = raw_upsert_sql(&store);
        Arc::new(move |n: u64| {
            let (store, sql) = (store.clone(), sql.clone());
            async move {
                let id = workload.user(n);
                let v = version(n);
                let raw = raw_json(&id, v);
                execute(&store, sql, Some((&id, v, &raw, OffsetDateTime::now_utc()))).await;
            }
        })
    };
    let store_op = {
        let (store, run) = (store.clone(), format!("{run}_s"));
        Arc::new(move |n: u64| {
            let (store, run) = (store.clone(), run.clone());
            async move {
                let id = workload.user(n);
                let v = version(n);
                let raw = raw_json(&id, v);
                let mut record = ClerkUserRecord::new(id.clone(), v, raw.clone());
                record.email = Some(format!("{id}@example.com"));
                // As the engine sets it for a verified primary address.
                record.link_email = record.email.clone();
                record.first_name = Some("Bench".to_owned());
                // Svix message ids are KSUIDs, which sort by time: zero-padding keeps these in
                // sending order too, as the ledger's primary key sees real ones.
                let svix_id = format!("msg_{run}_{n:012}");
                let now = OffsetDateTime::now_utc();
                let entry =
                    NewLedgerEntry::new(&svix_id, "user.updated", Some(&id), now, Some(&raw));
                store
                    .apply_inbound(&entry, &InboundChange::Upsert(record), now)
                    .await
                    .expect("apply_inbound");
            }
        })
    };
    let webhook_op = {
        let (engine, webhooks, run) = (engine.clone(), webhooks.clone(), format!("{run}_w"));
        Arc::new(move |n: u64| {
            let (engine, webhooks, run) = (engine.clone(), webhooks.clone(), run.clone());
            async move {
                let d = webhooks.delivery(&run, &workload.user(n), n);
                let headers = WebhookHeaders {
                    id: &d.svix_id,
                    timestamp: &d.timestamp,
                    signature: &d.signature,
                };
                let outcome = engine
                    .process_webhook(&headers, d.body.as_bytes())
                    .await
                    .expect("process_webhook");
                assert_eq!(outcome, ProcessOutcome::Applied, "every event is newer");
            }
        })
    };

    for &c in &CONCURRENCY {
        let mut totals = [(0u64, 0f64); 3];
        for _ in 0..rounds() {
            let r = throughput(c, slice, raw_op.clone()).await;
            let s = throughput(c, slice, store_op.clone()).await;
            let w = throughput(c, slice, webhook_op.clone()).await;
            for (t, x) in totals.iter_mut().zip([r, s, w]) {
                t.0 += x.0;
                t.1 += x.1;
            }
        }
        let [raw, store_inbound, webhook] = totals.map(|(n, secs)| n as f64 / secs);
        println!(
            "  {:<20} {:<16} c={:<3} raw {:>7.0} ev/s  apply_inbound {:>7.0} ev/s ({:.2}x)  process_webhook {:>7.0} ev/s ({:.2}x)",
            target.db.name(),
            workload.name(),
            c,
            raw,
            store_inbound,
            store_inbound / raw,
            webhook,
            webhook / raw
        );
        rows.push(Row {
            db: target.db,
            workload,
            concurrency: c,
            raw,
            store_inbound,
            webhook,
        });
    }
    rows
}

struct BatchRow {
    db: Db,
    batch_secs: f64,
    row_secs_extrapolated: f64,
}

fn batch_records(prefix: &str, count: usize, v: i64) -> Vec<ClerkUserRecord> {
    (0..count)
        .map(|i| {
            let id = format!("user_{prefix}{i:06}");
            // A compact object: 100,000 copies of the full 4.5 kB one would be 450 MB.
            let raw = format!(r#"{{"id":"{id}","object":"user","updated_at":{v}}}"#);
            let mut r = ClerkUserRecord::new(id.clone(), v, raw);
            r.email = Some(format!("{id}@example.com"));
            r.first_name = Some("Batch".to_owned());
            r.public_metadata = Some(serde_json::json!({ "plan": "pro", "n": i }));
            r
        })
        .collect()
}

async fn batch_row(target: &Target, store: &SqlxStore) -> BatchRow {
    let records = batch_records("b", BATCH, 1_772_366_400_000);
    let start = Instant::now();
    let outcome = store
        .apply_batch(&records, OffsetDateTime::now_utc())
        .await
        .expect("apply_batch");
    let batch_secs = start.elapsed().as_secs_f64();
    assert_eq!(
        outcome.inserted as usize, BATCH,
        "every batch record is new"
    );

    let sample = batch_records("s", ROW_SAMPLE, 1_772_366_400_000);
    let start = Instant::now();
    for r in &sample {
        store
            .upsert_user(r, OffsetDateTime::now_utc())
            .await
            .expect("upsert_user");
    }
    let row_secs_extrapolated = start.elapsed().as_secs_f64() * (BATCH as f64 / ROW_SAMPLE as f64);
    println!(
        "  {:<22} apply_batch({BATCH}) {:>6.2} s ({:>7.0} rows/s)   row-by-row ~{:>7.1} s (sample {ROW_SAMPLE}, extrapolated)   speed-up {:.1}x",
        target.db.name(),
        batch_secs,
        BATCH as f64 / batch_secs,
        row_secs_extrapolated,
        row_secs_extrapolated / batch_secs
    );
    BatchRow {
        db: target.db,
        batch_secs,
        row_secs_extrapolated,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!(
            "inbound_throughput: {USERS} users, windows of {:.1} s, concurrency {CONCURRENCY:?}",
            window().as_secs_f64()
        );
        let mut rows = Vec::new();
        let mut batches = Vec::new();
        for db in [Db::Postgres, Db::MySql, Db::Sqlite] {
            if !db.selected() {
                println!("{}: skipped, not in BENCH_DBS", db.name());
                continue;
            }
            let Some(target) = prepare(db).await else {
                continue;
            };
            let store = store_for(&target).await;
            create_raw_table(&store).await;
            seed_users(&store).await;
            for workload in [Workload::Updates, Workload::FirstDeliveries] {
                rows.extend(inbound_rows(&target, &store, workload).await);
            }
            batches.push(batch_row(&target, &store).await);
            store.close().await;
            cleanup(&target).await;
        }

        println!(
            "\n| database | workload | concurrency | raw upsert (ev/s) | store apply_inbound (ev/s) | process_webhook (ev/s) | process_webhook / raw |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.2} |",
                r.db.name(),
                r.workload.name(),
                r.concurrency,
                r.raw,
                r.store_inbound,
                r.webhook,
                r.webhook / r.raw
            );
        }
        println!(
            "\n| database | apply_batch 100k (s) | row-by-row 100k, extrapolated (s) | speed-up |"
        );
        println!("|---|---:|---:|---:|");
        for b in &batches {
            println!(
                "| {} | {:.2} | {:.1} | {:.1}x |",
                b.db.name(),
                b.batch_secs,
                b.row_secs_extrapolated,
                b.row_secs_extrapolated / b.batch_secs
            );
        }
    });
}
