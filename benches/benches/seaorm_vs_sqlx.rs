//! Inbound apply throughput through `SyncEngine::process_webhook`, the sea-orm store against
//! the sqlx store, on the same database in the same run.
//!
//! The sea-orm store runs the sqlx store on its connection's pool, so the two should be level:
//! this measures what the layer costs (one more boxed future per call, through the delegating
//! impls), against a target of at most 1.5x.
//!
//! ```text
//! CLERK_SYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! CLERK_SYNC_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//! cargo bench -p clerk-sync-benches --bench seaorm_vs_sqlx
//! ```
//!
//! Every event is a real `user.updated` delivery (the Clerk fixture, about 4.6 kB) with a unique
//! `svix-id`, a fresh Svix signature and a version newer than the user's stored one, so each
//! one goes the whole way: verify, parse, ledger insert, conditional upsert, mark processed.
//! Both stores work on the same tables of one private database (PostgreSQL, MySQL) or one
//! SQLite file: the schema is shared by design. At concurrency `c` each store gets a pool of
//! `c` connections (one store's pool at a time, so both fit in the server's connection limit)
//! and the two take turns in windows of `BENCH_SECS` seconds (default 3), twice each per round
//! (sqlx, sea-orm, sea-orm, sqlx), so drift favours neither, for `BENCH_ROUNDS` rounds (default
//! 1; more on a busy host); figures are events per second over all windows. A database whose URL variable is unset is skipped with a line saying so.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::sea_orm::{ConnectOptions, ConnectionTrait, Database};
use clerk_sync_sqlx::SqlxStore;

const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Distinct users the events are spread over.
const USERS: u64 = 5_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FIXTURE: &str = include_str!("../../clerk-sync-core/tests/fixtures/events/user_updated.json");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Db {
    Postgres,
    MySql,
    Sqlite,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Postgres => "PostgreSQL",
            Db::MySql => "MariaDB",
            Db::Sqlite => "SQLite (file, WAL)",
        }
    }

    fn var(self) -> &'static str {
        match self {
            Db::Postgres => "CLERK_SYNC_TEST_POSTGRES_URL",
            Db::MySql => "CLERK_SYNC_TEST_MYSQL_URL",
            Db::Sqlite => "",
        }
    }
}

fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
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
    format!("{prefix}_{}_{nanos:x}", std::process::id())
}

/// `url` with its database path replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').unwrap_or((base, ""));
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

/// A private database for one run: (URL for both stores, cleanup statement, admin URL).
async fn prepare(db: Db) -> Option<(String, Option<(String, String)>)> {
    if db == Db::Sqlite {
        let path = std::env::temp_dir().join(format!("{}.db", unique("seaorm_vs_sqlx")));
        return Some((format!("sqlite://{}?mode=rwc", path.display()), None));
    }
    let Ok(url) = std::env::var(db.var()) else {
        println!("{}: skipped, {} is not set", db.name(), db.var());
        return None;
    };
    let name = unique("bench_seaorm");
    let admin = Database::connect(url.as_str())
        .await
        .expect("admin connection");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let drop = match db {
        Db::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {name}"),
    };
    Some((with_database(&url, &name), Some((url, drop))))
}

async fn sqlx_store(db: Db, url: &str, connections: u32) -> SqlxStore {
    use clerk_sync_sqlx::sqlx;
    let store = match db {
        Db::Postgres => SqlxStore::from_pool(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .connect(url)
                .await
                .expect("sqlx postgres pool"),
        ),
        Db::MySql => SqlxStore::from_pool(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(connections)
                .connect(url)
                .await
                .expect("sqlx mysql pool"),
        ),
        Db::Sqlite => SqlxStore::connect(url).await.expect("sqlx sqlite"),
    };
    store.migrate().await.expect("sqlx migrate");
    store
}

async fn seaorm_store(db: Db, url: &str, connections: u32) -> SeaOrmStore {
    let store = if db == Db::Sqlite {
        SeaOrmStore::connect(url).await.expect("sea-orm sqlite")
    } else {
        // The application's own sea-orm pool, shared with the store: the usual way in.
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(connections).sqlx_logging(false);
        let conn = Database::connect(opts).await.expect("sea-orm pool");
        SeaOrmStore::new(conn).expect("a sqlx-backed connection")
    };
    store.migrate().await.expect("sea-orm migrate");
    store
}

/// Signed `user.updated` deliveries, each for a newer version than any before it.
struct Events {
    template: serde_json::Value,
    verifier: WebhookVerifier,
    next: AtomicU64,
    run: String,
    base_ms: i64,
}

impl Events {
    fn new() -> Self {
        Events {
            template: serde_json::from_str(FIXTURE).expect("fixture"),
            verifier: WebhookVerifier::new(SECRET).expect("secret"),
            next: AtomicU64::new(0),
            run: unique("msg"),
            base_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
        }
    }

    /// (svix id, timestamp, signature, body).
    fn next(&self) -> (String, String, String, Vec<u8>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut event = self.template.clone();
        let user = format!("user_bench{:05}", n % USERS);
        // Each user its own verified primary address, as real users have (the fixture's one
        // shared by 10,000 users would make every link attempt walk all of them).
        let primary = event["data"]["primary_email_address_id"].clone();
        if let Some(addresses) = event["data"]["email_addresses"].as_array_mut() {
            for address in addresses.iter_mut().filter(|a| a["id"] == primary) {
                address["email_address"] = format!("{user}@example.com").into();
            }
        }
        event["data"]["id"] = user.into();
        event["data"]["updated_at"] = (self.base_ms + n as i64).into();
        let body = serde_json::to_vec(&event).expect("body");
        // Zero-padded: Svix ids (KSUIDs) sort by sending time.
        let id = format!("{}_{n:012}", self.run);
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = self.verifier.sign(&id, ts, &body);
        (id, ts.to_string(), signature, body)
    }
}

/// Events per second that `concurrency` tasks push through `engine` in one window.
async fn throughput<S: SyncStore + 'static>(
    engine: &Arc<SyncEngine<S>>,
    events: &Arc<Events>,
    concurrency: usize,
) -> (u64, Duration) {
    let deadline = Instant::now() + window();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (engine, events, done) = (engine.clone(), events.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let (id, ts, sig, body) = events.next();
                let headers = WebhookHeaders {
                    id: &id,
                    timestamp: &ts,
                    signature: &sig,
                };
                engine
                    .process_webhook(&headers, &body)
                    .await
                    .expect("process_webhook");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("bench task");
    }
    (done.load(Ordering::Relaxed), start.elapsed())
}

async fn warm_up<S: SyncStore + 'static>(
    engine: &Arc<SyncEngine<S>>,
    events: &Arc<Events>,
    concurrency: usize,
) {
    // Open the pool's connections and prepare the statements outside the measured windows.
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (engine, events) = (engine.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                let (id, ts, sig, body) = events.next();
                let headers = WebhookHeaders {
                    id: &id,
                    timestamp: &ts,
                    signature: &sig,
                };
                engine
                    .process_webhook(&headers, &body)
                    .await
                    .expect("warm-up");
            }
        }));
    }
    for t in tasks {
        t.await.expect("warm-up task");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "inbound apply through SyncEngine::process_webhook, events/s ({} s windows, {} per store)",
            window().as_secs_f64(),
            2 * rounds()
        );
        println!();
        println!("| database | concurrency | sqlx store | sea-orm store | sqlx / sea-orm |");
        println!("|---|---:|---:|---:|---:|");
        for db in [Db::Postgres, Db::MySql, Db::Sqlite] {
            let Some((url, cleanup)) = prepare(db).await else {
                continue;
            };
            let events = Arc::new(Events::new());
            let verifier = || WebhookVerifier::new(SECRET).expect("secret");
            // Both stores migrate the same database once (each under its own migrations
            // table); the windows then reconnect with a pool of `c` connections, one store at
            // a time, so the two pools never compete for the server's connection limit.
            sqlx_store(db, &url, 2).await.close().await;
            seaorm_store(db, &url, 2).await.close().await;
            for c in CONCURRENCY {
                let pool = c as u32;
                let (mut sqlx_n, mut sqlx_t, mut sea_n, mut sea_t) =
                    (0, Duration::ZERO, 0, Duration::ZERO);
                for first_sqlx in (0..rounds()).flat_map(|_| [true, false]) {
                    for is_sqlx in [first_sqlx, !first_sqlx] {
                        if is_sqlx {
                            let engine =
                                Arc::new(SyncEngine::new(sqlx_store(db, &url, pool).await, verifier()));
                            warm_up(&engine, &events, c).await;
                            let (n, t) = throughput(&engine, &events, c).await;
                            sqlx_n += n;
                            sqlx_t += t;
                            engine.store().close().await;
                        } else {
                            let engine =
                                Arc::new(SyncEngine::new(seaorm_store(db, &url, pool).await, verifier()));
                            warm_up(&engine, &events, c).await;
                            let (n, t) = throughput(&engine, &events, c).await;
                            sea_n += n;
                            sea_t += t;
                            engine.store().close().await;
                        }
                    }
                }
                let sqlx_rate = sqlx_n as f64 / sqlx_t.as_secs_f64();
                let sea_rate = sea_n as f64 / sea_t.as_secs_f64();
                println!(
                    "| {} | {c} | {sqlx_rate:.0} | {sea_rate:.0} | {:.2}x |",
                    db.name(),
                    sqlx_rate / sea_rate
                );
            }
            if let Some((admin_url, drop_sql)) = cleanup {
                if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                    admin.execute_unprepared(&drop_sql).await.ok();
                }
            } else if let Some(path) = url
                .strip_prefix("sqlite://")
                .and_then(|p| p.split('?').next())
            {
                for suffix in ["", "-wal", "-shm"] {
                    std::fs::remove_file(format!("{path}{suffix}")).ok();
                }
            }
        }
    });
}
