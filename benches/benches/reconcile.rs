//! Reconcile 100,000 users from FakeClerk into PostgreSQL and SQLite, against the naive loop
//! most teams write, in the same run; and how much memory reconcile needs for 5x the users.
//!
//! - **Ours:** `SyncEngine::reconcile` on an empty table: a cursor walk (`starting_after`,
//!   500 a page), each page compared with `versions_of` and written with `apply_batch`.
//! - **Baseline (naive):** offset paging (`limit=500&offset=n`), the whole list held in memory,
//!   then one `upsert_user` per user.
//! - **Floor:** the same walk with each page written as one plain multi-row `INSERT`: no
//!   reconcile that keeps the table correct could write these rows faster.
//! - **Memory:** the peak RSS of this process (VmHWM) after reconciling 100k users, then after
//!   reconciling 500k into a fresh table; FakeClerk runs in a child process so that its users
//!   are not counted.
//!
//! Targets (issue 15): ours at least 10x faster than the baseline; peak RSS grows by less than
//! 64 MB between 100k and 500k users.
//!
//! `cargo bench -p clerk-sync-benches --bench reconcile`
//!
//! `BENCH_USERS` (default 100000) and `BENCH_ROUNDS` (default 2: each round runs both paths,
//! alternating which goes first) tune it; `BENCH_DBS=postgres,sqlite` picks the databases;
//! `BENCH_RSS_USERS` (default 500000) is the larger run of the memory check, `0` skips it.
//! PostgreSQL comes from `CLERK_SYNC_TEST_POSTGRES_URL` (each run in its own schema); SQLite
//! is a file in the target directory.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clerk_sync_core::clerk_api::{ClerkApi, ListUsers, ListUsersQuery, RateLimit};
use clerk_sync_core::store::{ClerkUserRecord, UserStore};
use clerk_sync_core::sync::{ReconcileOptions, SyncEngine};
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor};
use clerk_sync_sqlx::{DialectPool, SqlxStore};
use clerk_sync_testing::FakeClerk;

const SERVE_ENV: &str = "CLERK_SYNC_BENCH_SERVE_USERS";

/// A FakeClerk with `users` seeded users, in a child process.
struct ChildClerk {
    child: Child,
    base_url: String,
    secret_key: String,
    webhook_secret: String,
}

impl ChildClerk {
    fn start(users: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this benchmark's path"))
            .env(SERVE_ENV, users.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start FakeClerk's process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("FakeClerk's address");
        let info: serde_json::Value = serde_json::from_str(&line).expect("FakeClerk's JSON line");
        ChildClerk {
            child,
            base_url: info["base_url"].as_str().expect("base_url").to_owned(),
            secret_key: info["secret_key"].as_str().expect("secret_key").to_owned(),
            webhook_secret: info["webhook_secret"].as_str().expect("secret").to_owned(),
        }
    }

    fn api(&self) -> ClerkApi {
        ClerkApi::new(&self.secret_key)
            .and_then(|a| a.with_base_url(&self.base_url))
            .expect("client")
            // FakeClerk answers at once; the budget is not what is measured here.
            .with_rate_limit(RateLimit::new(100_000, Duration::from_secs(10)).expect("budget"))
    }
}

impl Drop for ChildClerk {
    fn drop(&mut self) {
        // Closing stdin tells the child to exit.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child's side: seed, say where, serve until stdin closes.
fn serve(users: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let fake = FakeClerk::start().await;
        fake.seed_users(users);
        let info = serde_json::json!({
            "base_url": fake.base_url(),
            "secret_key": fake.secret_key(),
            "webhook_secret": fake.webhook_secret(),
        });
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{info}").expect("write");
        stdout.flush().expect("flush");
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await
        .expect("stdin");
    });
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Db {
    Postgres,
    Sqlite,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Postgres => "postgres",
            Db::Sqlite => "sqlite",
        }
    }

    fn selected(self) -> bool {
        std::env::var("BENCH_DBS").map_or(true, |list| list.split(',').any(|d| d == self.name()))
    }
}

/// A fresh, migrated, empty store, and a way to drop it afterwards.
async fn fresh_store(db: Db, tag: &str) -> Option<(SqlxStore, Cleanup)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("clerk_bench_rec_{}_{nanos}_{tag}", std::process::id());
    match db {
        Db::Postgres => {
            let url = std::env::var("CLERK_SYNC_TEST_POSTGRES_URL").ok()?;
            let mut admin = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .await
                .expect("create schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            let store = SqlxStore::connect(&format!("{url}{sep}options=-c%20search_path%3D{name}"))
                .await
                .expect("connect");
            store.migrate().await.expect("migrate");
            Some((store, Cleanup::Schema { url, name }))
        }
        Db::Sqlite => {
            let dir = std::env::temp_dir();
            let path = dir.join(format!("{name}.db"));
            let store = SqlxStore::connect(&format!("sqlite:{}", path.display()))
                .await
                .expect("connect");
            store.migrate().await.expect("migrate");
            Some((store, Cleanup::File(path)))
        }
    }
}

enum Cleanup {
    Schema { url: String, name: String },
    File(std::path::PathBuf),
}

impl Cleanup {
    async fn run(self, store: SqlxStore) {
        store.close().await;
        match self {
            Cleanup::Schema { url, name } => {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&url).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS {name} CASCADE"
                        )))
                        .await;
                }
            }
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
        }
    }
}

/// Ours: `reconcile` into an empty table.
async fn ours(db: Db, clerk: &ChildClerk, users: usize) -> Option<Duration> {
    ours_with(db, clerk, users, ReconcileOptions::default()).await
}

/// `reconcile` into an empty table with `options`: a dry run walks, compares and logs the run
/// as a real one does, but writes no user, which splits ours into its reading and its writing.
async fn ours_with(
    db: Db,
    clerk: &ChildClerk,
    users: usize,
    options: ReconcileOptions,
) -> Option<Duration> {
    let (store, cleanup) = fresh_store(db, "ours").await?;
    let verifier = WebhookVerifier::new(&clerk.webhook_secret).expect("secret");
    let engine = SyncEngine::new(store.clone(), verifier).with_clerk_api(clerk.api());
    let started = Instant::now();
    let report = engine.reconcile(options).await.expect("reconcile");
    let elapsed = started.elapsed();
    assert_eq!(
        report.created as usize, users,
        "every user created: {report:?}"
    );
    cleanup.run(store).await;
    Some(elapsed)
}

/// The listing alone: the same cursor walk as ours, writing nothing. With FakeClerk answering
/// at once it is the floor under any reconcile, so `naive / walk` is the most any reconcile
/// could be faster than the naive loop on this machine.
async fn walk_only(clerk: &ChildClerk, users: usize) -> Duration {
    let api = clerk.api();
    let started = Instant::now();
    let mut pages = api.list_users(ListUsers::new());
    let mut listed = 0;
    while let Some(page) = pages.next_page().await.expect("list") {
        listed += page.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(listed, users);
    elapsed
}

/// The write floor: the same cursor walk with each page written as one plain multi-row
/// `INSERT` of the columns ours writes (no version check, no conflict handling, no run log, no
/// sweep), a transaction per page, through the store's own pool. Nothing that keeps the table
/// correct under concurrent webhooks could write these rows faster, so `naive / floor` is the
/// most any reconcile could be faster than the naive loop on this database and machine.
async fn insert_only(db: Db, clerk: &ChildClerk, users: usize) -> Option<Duration> {
    let (store, cleanup) = fresh_store(db, "floor").await?;
    let api = clerk.api();
    let pool = store.pool();
    let started = Instant::now();
    let mut pages = api.list_users(ListUsers::new());
    let mut written = 0;
    while let Some(page) = pages.next_page().await.expect("list") {
        let rows: Vec<FloorRow> = page.iter().map(FloorRow::new).collect();
        match &pool {
            DialectPool::Postgres(pool) => {
                let mut query = sqlx::QueryBuilder::<sqlx::Postgres>::new(FLOOR_INSERT);
                query.push_values(&rows, |mut b, r| {
                    b.push_bind(&r.clerk_id)
                        .push_bind(r.email.as_deref())
                        .push_bind(&r.raw_json)
                        .push_unseparated("::jsonb")
                        .push_bind(r.updated_at)
                        .push_bind("synced")
                        .push_bind(r.now)
                        .push_bind(r.now);
                });
                let mut tx = pool.begin().await.expect("begin");
                query.build().execute(&mut *tx).await.expect("insert");
                tx.commit().await.expect("commit");
            }
            DialectPool::Sqlite(pool) => {
                let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(FLOOR_INSERT);
                // The store's own text form of a time (fixed width, six fractional digits).
                let now = "2026-12-05T00:00:00.000000Z";
                query.push_values(&rows, |mut b, r| {
                    b.push_bind(&r.clerk_id)
                        .push_bind(r.email.as_deref())
                        .push_bind(&r.raw_json)
                        .push_bind(r.updated_at)
                        .push_bind("synced")
                        .push_bind(now)
                        .push_bind(now);
                });
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
                query.build().execute(&mut *tx).await.expect("insert");
                tx.commit().await.expect("commit");
            }
            _ => unreachable!("the bench opens PostgreSQL and SQLite stores only"),
        }
        written += rows.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(written, users);
    cleanup.run(store).await;
    Some(elapsed)
}

const FLOOR_INSERT: &str = "INSERT INTO clerk_users (clerk_id, email, raw_json, \
     clerk_updated_at, sync_status, created_at, updated_at) ";

/// One listed user as the floor writes it.
struct FloorRow {
    clerk_id: String,
    email: Option<String>,
    raw_json: String,
    updated_at: i64,
    now: time::OffsetDateTime,
}

impl FloorRow {
    fn new(user: &clerk_sync_core::clerk_api::ClerkUser) -> Self {
        // Parsed as ours parses it, for the email.
        let raw: serde_json::Value = serde_json::from_str(user.raw_json()).expect("json");
        FloorRow {
            clerk_id: user.id().expect("id").to_owned(),
            email: raw["email_addresses"][0]["email_address"]
                .as_str()
                .map(str::to_owned),
            raw_json: user.raw_json().to_owned(),
            updated_at: user.updated_at().expect("updated_at"),
            now: time::OffsetDateTime::now_utc(),
        }
    }
}

/// The naive loop: offset pages into one list, then one upsert per user.
async fn naive(db: Db, clerk: &ChildClerk, users: usize) -> Option<Duration> {
    let (store, cleanup) = fresh_store(db, "naive").await?;
    let api = clerk.api();
    let started = Instant::now();
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = api
            .list_users_page(&ListUsersQuery::new().limit(500).offset(offset))
            .await
            .expect("list");
        if page.is_empty() {
            break;
        }
        offset += page.len() as u32;
        all.extend(page);
    }
    let now = time::OffsetDateTime::now_utc();
    for user in &all {
        let raw: serde_json::Value = serde_json::from_str(user.raw_json()).expect("json");
        let mut record = ClerkUserRecord::new(
            user.id().expect("id"),
            user.updated_at().expect("updated_at"),
            user.raw_json(),
        );
        record.email = raw["email_addresses"][0]["email_address"]
            .as_str()
            .map(str::to_owned);
        store.upsert_user(&record, now).await.expect("upsert");
    }
    let elapsed = started.elapsed();
    assert_eq!(all.len(), users);
    cleanup.run(store).await;
    Some(elapsed)
}

/// The process's peak resident set size so far (`VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn main() {
    if let Ok(users) = std::env::var(SERVE_ENV) {
        serve(users.parse().expect("a number of users"));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and must stay
    // quick, so only a real bench run does the work.
    if !std::env::args().any(|a| a == "--bench") {
        println!("reconcile: run with `cargo bench` to measure");
        return;
    }
    let users = env_usize("BENCH_USERS", 100_000);
    let rounds = env_usize("BENCH_ROUNDS", 2).max(1);
    let rss_users = env_usize("BENCH_RSS_USERS", 500_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    // Memory first, before the naive loop holds a whole list.
    if rss_users > 0 && Db::Sqlite.selected() {
        let small = ChildClerk::start(users);
        runtime.block_on(ours(Db::Sqlite, &small, users));
        drop(small);
        let after_small = peak_rss_mib();
        let large = ChildClerk::start(rss_users);
        runtime.block_on(ours(Db::Sqlite, &large, rss_users));
        drop(large);
        let after_large = peak_rss_mib();
        println!(
            "reconcile memory (sqlite): peak RSS {after_small:.1} MiB after {users} users, \
             {after_large:.1} MiB after {rss_users}: grew {:.1} MiB (target < 64)",
            after_large - after_small
        );
    }

    let clerk = ChildClerk::start(users);
    for db in [Db::Postgres, Db::Sqlite] {
        if !db.selected() {
            continue;
        }
        let (mut ours_s, mut naive_s, mut walk_s, mut floor_s) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (a, b) = if round % 2 == 0 {
                let a = runtime.block_on(ours(db, &clerk, users));
                (a, runtime.block_on(naive(db, &clerk, users)))
            } else {
                let b = runtime.block_on(naive(db, &clerk, users));
                (runtime.block_on(ours(db, &clerk, users)), b)
            };
            let (Some(a), Some(b)) = (a, b) else {
                println!("reconcile ({}): skipped, no database URL", db.name());
                break;
            };
            let walk = runtime.block_on(walk_only(&clerk, users));
            let floor = runtime
                .block_on(insert_only(db, &clerk, users))
                .unwrap_or_default();
            let dry = runtime
                .block_on(ours_with(
                    db,
                    &clerk,
                    users,
                    ReconcileOptions {
                        dry_run: true,
                        ..ReconcileOptions::default()
                    },
                ))
                .unwrap_or_default();
            println!(
                "reconcile ({}) round {}: ours {:.2} s, naive {:.2} s: {:.1}x; \
                 the listing alone {:.2} s, ours as a dry run {:.2} s, \
                 the listing with plain inserts {:.2} s",
                db.name(),
                round + 1,
                a.as_secs_f64(),
                b.as_secs_f64(),
                b.as_secs_f64() / a.as_secs_f64(),
                walk.as_secs_f64(),
                dry.as_secs_f64(),
                floor.as_secs_f64()
            );
            ours_s.push(a.as_secs_f64());
            naive_s.push(b.as_secs_f64());
            walk_s.push(walk.as_secs_f64());
            floor_s.push(floor.as_secs_f64());
        }
        if !ours_s.is_empty() {
            let (a, b, w, f) = (
                median(ours_s),
                median(naive_s),
                median(walk_s),
                median(floor_s),
            );
            println!(
                "reconcile ({}) {users} users, median of {rounds}: ours {a:.2} s \
                 ({:.0} users/s), naive {b:.2} s ({:.0} users/s): ours is {:.1}x faster \
                 (target >= 10x); the listing alone {w:.2} s and the listing with plain \
                 inserts {f:.2} s, so no reconcile could be more than {:.1}x faster here \
                 (ours takes {:.2}x the plain inserts' time)",
                db.name(),
                users as f64 / a,
                users as f64 / b,
                b / a,
                b / f,
                a / f
            );
        }
    }
}
