//! Fresh, migrated stores on each database, one private schema or database per store, so tests
//! run in parallel without seeing each other's rows.
//!
//! PostgreSQL and MySQL/MariaDB come from `CLERK_SYNC_TEST_POSTGRES_URL` and
//! `CLERK_SYNC_TEST_MYSQL_URL`. The build script sets `cfg(clerk_sync_postgres)` /
//! `cfg(clerk_sync_mysql)` when a URL is set (or under `CI=true`), and each database test
//! carries `#[cfg_attr(not(clerk_sync_postgres), ignore = "...")]`, so without its URL it shows
//! as ignored in the summary. Under `CI=true` a missing or unreachable URL fails the test: CI
//! must never pass by testing nothing.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};

use clerk_sync_sqlx::SqlxStore;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor};

/// Every schema or database made here starts with this, followed by the process id, so a
/// later run can drop what a crashed run left behind.
pub const PREFIX: &str = "clerk_sqlx_t_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    MySql,
}

impl Backend {
    pub fn env_var(self) -> &'static str {
        match self {
            Backend::Postgres => "CLERK_SYNC_TEST_POSTGRES_URL",
            Backend::MySql => "CLERK_SYNC_TEST_MYSQL_URL",
        }
    }
}

/// The server URL for `backend`. Only tests that run with its cfg call this, so a missing
/// URL here means `CI=true` without it: a failure.
pub fn url(backend: Backend) -> String {
    match std::env::var(backend.env_var()) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{} is not set and CI=true: the {backend:?} tests must run in CI",
            backend.env_var()
        ),
    }
}

/// A unique name for a schema or database.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{PREFIX}{}_{n}_{nanos}", std::process::id())
}

/// `url` with its database (path) replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `url` with `search_path` set for every connection (libpq `options`).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn unreachable(backend: Backend, err: &dyn std::fmt::Display) -> ! {
    panic!(
        "{} is set but the server does not answer ({err}); start it (see README) or unset the variable",
        backend.env_var()
    )
}

fn pid_is_dead(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let Some(pid) = rest.split('_').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A PostgreSQL URL for a new empty schema on the server at `url`, with that schema as the
/// `search_path`; stale test schemas are dropped on the way.
pub async fn pg_schema_url(url: &str) -> (String, String) {
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| unreachable(Backend::Postgres, &e));
    let stale: Vec<(String,)> = sqlx::query_as(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'clerk\\_sqlx\\_t\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("list schemas");
    for (name,) in stale {
        if pid_is_dead(&name) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .await;
        }
    }
    let schema = unique_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    let _ = admin.close().await;
    (with_search_path(url, &schema), schema)
}

/// A MySQL URL for a new empty database on the server at `url`; stale test databases are
/// dropped on the way.
pub async fn mysql_database_url(url: &str) -> (String, String) {
    let mut admin = sqlx::MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| unreachable(Backend::MySql, &e));
    let stale: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'clerk\\_sqlx\\_t\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("list databases");
    for (name,) in stale {
        if pid_is_dead(&name) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{name}`"
                )))
                .await;
        }
    }
    let database = unique_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
        .await
        .expect("create database");
    let _ = admin.close().await;
    (with_database(url, &database), database)
}

/// A migrated store in a new schema of the PostgreSQL server at `url`.
pub async fn fresh_pg(url: String) -> SqlxStore {
    let (url, _) = pg_schema_url(&url).await;
    let store = SqlxStore::connect(&url)
        .await
        .unwrap_or_else(|e| unreachable(Backend::Postgres, &e));
    store.migrate().await.expect("migrate");
    store
}

/// A migrated store in a new database of the MySQL server at `url`.
pub async fn fresh_mysql(url: String) -> SqlxStore {
    let (url, _) = mysql_database_url(&url).await;
    let store = SqlxStore::connect(&url)
        .await
        .unwrap_or_else(|e| unreachable(Backend::MySql, &e));
    store.migrate().await.expect("migrate");
    store
}

/// A migrated store on a new in-memory SQLite database.
pub async fn fresh_sqlite() -> SqlxStore {
    let store = SqlxStore::connect("sqlite::memory:")
        .await
        .expect("sqlite in memory");
    store.migrate().await.expect("migrate");
    store
}

/// A migrated store on a new SQLite file (WAL), under cargo's scratch directory for
/// integration tests: a file database has every connection of the pool to itself, where the
/// in-memory one shares a cache.
pub async fn fresh_sqlite_file() -> SqlxStore {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("clerk-sync-sqlite");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    // The suite hands each store over without a teardown; files from runs over an hour ago
    // are removed here instead, so the directory does not grow run after run.
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let old = file
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified < stale);
        if old {
            let _ = std::fs::remove_file(file.path());
        }
    }
    let path = dir.join(format!("{}.db", unique_name()));
    let store = SqlxStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .expect("sqlite file");
    store.migrate().await.expect("migrate");
    store
}

/// Drop a schema made by [`pg_schema_url`].
pub async fn drop_pg_schema(url: &str, schema: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .await;
        let _ = admin.close().await;
    }
}

/// Drop a database made by [`mysql_database_url`].
pub async fn drop_mysql_database(url: &str, database: &str) {
    if let Ok(mut admin) = sqlx::MySqlConnection::connect(url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{database}`"
            )))
            .await;
        let _ = admin.close().await;
    }
}

/// A PostgreSQL URL for a new database whose default collation is ICU's English (`en`),
/// which sorts `user_a` before `user_Z` and ignores case first: the kind of database where
/// only the schema's `COLLATE "C"` keeps ids in byte order. Stale test databases are dropped
/// on the way.
pub async fn pg_icu_database_url(url: &str) -> (String, String) {
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| unreachable(Backend::Postgres, &e));
    let stale: Vec<(String,)> = sqlx::query_as(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'clerk\\_sqlx\\_t\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("list databases");
    for (name,) in stale {
        if pid_is_dead(&name) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }
    let database = unique_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {database} TEMPLATE template0 LOCALE_PROVIDER icu \
             ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
        )))
        .await
        .expect("create an ICU database");
    let _ = admin.close().await;
    (with_database(url, &database), database)
}

/// Drop a database made by [`pg_icu_database_url`].
pub async fn drop_pg_database(url: &str, database: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(url).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .await;
        let _ = admin.close().await;
    }
}
