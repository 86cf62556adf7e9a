//! Fresh databases for tests: SQLite always, PostgreSQL and MySQL/MariaDB from
//! `CLERK_SYNC_TEST_POSTGRES_URL` / `CLERK_SYNC_TEST_MYSQL_URL`.
//!
//! Every store gets its own database (SQLite file, PostgreSQL schema, MySQL database), so tests
//! run in parallel and never touch another user's data on a shared server. Tests of a server
//! are compiled only with `cfg(clerk_sync_postgres)` / `cfg(clerk_sync_mysql)` (see build.rs)
//! and ignored otherwise; when compiled, a missing or unreachable server fails them.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clerk_sync_core::store::{
    ClaimOutcome, ClerkUserRecord, InboundChange, LedgerOutcome, LocalChange, NewLedgerEntry,
    SyncRun, SyncStore, Tombstone, UpsertOutcome, UserProfile,
};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::sea_orm::sqlx::sqlite::SqliteJournalMode;
use clerk_sync_seaorm::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use time::OffsetDateTime;
use time::macros::datetime;

/// The databases the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

/// How a test opens its store: the two constructors must behave the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// `SeaOrmStore::connect(url)`.
    Connect,
    /// `SeaOrmStore::new(db)` on a connection the test opened with sea-orm.
    New,
}

/// The server URL of `db` from the environment; panics when unset (the test was compiled in,
/// so the server must be tested).
pub fn server_url(db: Db) -> String {
    let var = match db {
        Db::Postgres => "CLERK_SYNC_TEST_POSTGRES_URL",
        Db::Mysql => "CLERK_SYNC_TEST_MYSQL_URL",
        Db::Sqlite => panic!("SQLite needs no server"),
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{var} is not set, but this test was built to run on it (CI=true?)"),
    }
}

/// A name no other test (of this or any other process) uses: `<prefix>_<pid>_<n>_<nanos>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}

/// `url` with its database path replaced by `database` (and its query kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base
        .rsplit_once('/')
        .expect("server url has a database path");
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{server}/{database}{query}")
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

async fn admin(db: Db) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(server_url(db));
    opts.max_connections(1)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10));
    let admin = Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the {db:?} test server: {e}"));
    static SWEPT_PG: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    static SWEPT_MYSQL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let swept = if db == Db::Postgres {
        &SWEPT_PG
    } else {
        &SWEPT_MYSQL
    };
    swept.get_or_init(|| sweep(&admin)).await;
    admin
}

/// Drop the schemas and databases that earlier test processes created and could not drop
/// (a store is dropped without an async hook). Names carry the creating process id, so only
/// those of processes that are gone are touched, never a concurrent run's.
async fn sweep(admin: &DatabaseConnection) {
    let backend = admin.get_database_backend();
    let (list, drop) = match backend {
        DbBackend::Postgres => (
            "SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'seaorm\\_t\\_%'",
            "DROP SCHEMA IF EXISTS {} CASCADE",
        ),
        _ => (
            "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE 'seaorm\\_t\\_%'",
            "DROP DATABASE IF EXISTS {}",
        ),
    };
    let Ok(rows) = admin
        .query_all_raw(Statement::from_string(backend, list))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "n") else {
            continue;
        };
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            admin
                .execute_unprepared(&drop.replace("{}", &name))
                .await
                .ok();
        }
    }
}

/// Remove the SQLite files (`t_<pid>_…`, with their `-wal` and `-shm`) of test processes that
/// are gone, as [`sweep`] does for the servers.
fn sweep_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

/// A new, empty database of kind `db`: the URL that opens it (for `connect` and for the sqlx
/// store) and the sea-orm connect options that open it (for `new`).
pub async fn fresh_database(db: Db) -> (String, ConnectOptions) {
    let (url, mut opts) = match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join("clerk-sync-seaorm-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            static SWEPT_FILES: std::sync::Once = std::sync::Once::new();
            SWEPT_FILES.call_once(|| sweep_files(&dir));
            let path = dir.join(format!("{}.db", unique("t")));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let mut opts = ConnectOptions::new(url.clone());
            // As `connect` configures it: WAL, so readers never block the writer, and a busy
            // timeout, so concurrent writers wait instead of failing.
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
            (url, opts)
        }
        Db::Postgres => {
            let schema = unique("seaorm_t");
            admin(db)
                .await
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            let url = with_param(&server_url(db), &format!("options[search_path]={schema}"));
            let mut opts = ConnectOptions::new(server_url(db));
            opts.set_schema_search_path(schema);
            (url, opts)
        }
        Db::Mysql => {
            let name = unique("seaorm_t");
            admin(db)
                .await
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            let url = with_database(&server_url(db), &name);
            (url.clone(), ConnectOptions::new(url))
        }
    };
    opts.max_connections(8)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10));
    (url, opts)
}

/// A store on a fresh, empty database, opened the way `open` says; not migrated.
pub async fn fresh_unmigrated(db: Db, open: Open) -> SeaOrmStore {
    let (url, opts) = fresh_database(db).await;
    match open {
        Open::Connect => SeaOrmStore::connect(&url).await.expect("connect"),
        Open::New => {
            let conn = Database::connect(opts).await.expect("sea-orm connect");
            SeaOrmStore::new(conn).expect("a sqlx-backed connection")
        }
    }
}

/// A store on a fresh database, opened the way `open` says, and migrated.
pub async fn fresh(db: Db, open: Open) -> SeaOrmStore {
    let store = fresh_unmigrated(db, open).await;
    store.migrate().await.expect("migrate");
    store
}

/// Times with a microsecond part and a trailing-zero fraction.
pub const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00.123456 UTC);
/// One and a half seconds after [`T0`].
pub const T1: OffsetDateTime = datetime!(2026-03-01 12:00:01.623456 UTC);
/// Two seconds after [`T0`].
pub const T2: OffsetDateTime = datetime!(2026-03-01 12:00:02.123456 UTC);

/// A record with every field set, in unicode and quotes.
pub fn record(id: &str, version: i64) -> ClerkUserRecord {
    let mut r = ClerkUserRecord::new(
        id,
        version,
        serde_json::json!({ "id": id, "updated_at": version, "name": "Zoë 'quoted' \"ünïcode\" 🚀" })
            .to_string(),
    );
    r.email = Some(format!("{id}@example.com"));
    r.first_name = Some("Zoë".to_owned());
    r.last_name = Some("O'Brien \"the second\"".to_owned());
    r.username = Some("x".repeat(3000));
    r.image_url = Some("https://img.example.com/a.png".to_owned());
    r.external_id = Some(format!("ext-{id}"));
    r.public_metadata =
        Some(serde_json::json!({ "plan": "pro", "nested": { "n": [1, 2.5, null] } }));
    r
}

/// Fill `store` through the store traits with one of everything, so that every column of
/// every table holds a value (not NULL) in some row: users live, tombstoned and failed; a dead
/// letter and a claimed outbox entry; processed and failed ledger entries; a lease; a finished
/// run with a cursor.
pub async fn fill(store: &dyn SyncStore) {
    for i in 0..5 {
        let outcome = store
            .upsert_user(&record(&format!("user_{i}"), 100), T0)
            .await
            .unwrap();
        assert_eq!(outcome, UpsertOutcome::Inserted);
    }
    store.upsert_user(&record("user_1", 101), T1).await.unwrap();
    let mut t = Tombstone::new("user_2", T1);
    t.external_id = Some("ext-gone".to_owned());
    store.tombstone_user(&t, T1).await.unwrap();
    assert!(
        store
            .record_sync_error("user_3", "Clerk said no", T1)
            .await
            .unwrap()
    );

    let user_0 = store.get_user("user_0").await.unwrap().expect("user_0").id;
    let mut p = UserProfile::default();
    p.first_name = Some("Renamed".to_owned());
    store
        .enqueue_local_change(
            &LocalChange::Update {
                user_id: user_0,
                profile: p,
            },
            T0,
        )
        .await
        .unwrap();
    let mut p = UserProfile::default();
    p.email = Some("local@example.com".to_owned());
    p.first_name = Some("Local".to_owned());
    store
        .enqueue_local_change(&LocalChange::Create(p), T0)
        .await
        .unwrap();
    let claimed = store
        .claim_outbox("worker-a", T0, Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "both users' entries are due");
    let update = claimed
        .iter()
        .find(|e| e.user_id == user_0)
        .expect("the update");
    let token = update.claim_token.as_deref().expect("a claim token");
    let outcome = store
        .give_up_outbox(update.id, token, "Clerk refused the update", T0)
        .await
        .unwrap();
    assert_eq!(outcome, ClaimOutcome::Applied, "a dead letter, kept");

    let body = r#"{"type":"user.updated","data":{"id":"user_4"}}"#;
    let entry = NewLedgerEntry::new("msg_filled", "user.updated", Some("user_4"), T0, Some(body));
    store
        .apply_inbound(&entry, &InboundChange::Upsert(record("user_4", 102)), T1)
        .await
        .unwrap();
    let failed = NewLedgerEntry::new("msg_failed", "user.updated", Some("user_9"), T0, None);
    store.ledger_insert(&failed).await.unwrap();
    store
        .ledger_mark_processed("msg_failed", LedgerOutcome::Failed, Some("hook failed"), T1)
        .await
        .unwrap();

    assert!(
        store
            .try_acquire_lease("reconcile", "replica-a", Duration::from_secs(60), T0)
            .await
            .unwrap()
    );
    let mut run = SyncRun::new("backfill", "operator", T0);
    run.dry_run = true;
    let id = store.start_run(&run).await.unwrap();
    let report = serde_json::json!({ "created": 1, "sample": ["user_1"] });
    assert!(
        store
            .checkpoint_run(id, Some("user_1"), &report)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_run(id, T1, Some("user_4"), &report)
            .await
            .unwrap()
    );
}
