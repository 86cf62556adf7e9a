//! Fresh, migrated stores for tests: SQLite always, PostgreSQL and MySQL/MariaDB from
//! `CLERK_SYNC_TEST_POSTGRES_URL` / `CLERK_SYNC_TEST_MYSQL_URL`.
//!
//! Every store gets its own database (SQLite file, PostgreSQL schema, MySQL database), so tests
//! run in parallel. An unset URL skips that database's tests with a message, except under
//! `CI=true`, where it fails them; a set URL that cannot be reached always fails.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// The databases the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

impl Db {
    fn var(self) -> &'static str {
        match self {
            Db::Sqlite => "",
            Db::Postgres => "CLERK_SYNC_TEST_POSTGRES_URL",
            Db::Mysql => "CLERK_SYNC_TEST_MYSQL_URL",
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The server URL for `db`, or `None` (after saying so) when the test should be skipped.
pub fn url(db: Db) -> Option<String> {
    if db == Db::Sqlite {
        return Some(String::new());
    }
    match std::env::var(db.var()) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!(
            "{} is not set and CI=true: this database must be tested",
            db.var()
        ),
        _ => {
            eprintln!(
                "skipped: {} is not set (set it to run these tests on {db:?})",
                db.var()
            );
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}

async fn admin(url: &str) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(2)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10));
    Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test database: {e}"))
}

/// A connection to a fresh, empty database of kind `db` (not migrated), with a pool of up to
/// `max_connections`. Panics when the server cannot be reached.
pub async fn fresh_connection(db: Db, max_connections: u32) -> DatabaseConnection {
    let base = url(db).expect("caller checked url()");
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join("clerk-sync-seaorm-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join(format!("{}.db", unique("t")));
            SeaOrmStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
                .await
                .expect("open sqlite")
                .connection()
                .clone()
        }
        Db::Postgres => {
            let schema = unique("seaorm_t");
            let admin = admin(&base).await;
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            admin.close().await.ok();
            let mut opts = ConnectOptions::new(base);
            opts.max_connections(max_connections)
                .sqlx_logging(false)
                .set_schema_search_path(schema);
            Database::connect(opts)
                .await
                .expect("connect to the schema")
        }
        Db::Mysql => {
            let name = unique("seaorm_t");
            let admin = admin(&base).await;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            admin.close().await.ok();
            let (server, _) = base
                .rsplit_once('/')
                .expect("mysql url has a database path");
            let mut opts = ConnectOptions::new(format!("{server}/{name}"));
            opts.max_connections(max_connections).sqlx_logging(false);
            Database::connect(opts)
                .await
                .expect("connect to the database")
        }
    }
}

/// A fresh, migrated store on `db`.
pub async fn fresh(db: Db) -> SeaOrmStore {
    fresh_with(db, 16).await
}

/// A fresh, migrated store on `db` with a pool of `max_connections`.
pub async fn fresh_with(db: Db, max_connections: u32) -> SeaOrmStore {
    let store = SeaOrmStore::new(fresh_connection(db, max_connections).await);
    store.migrate().await.expect("migrate");
    store
}
