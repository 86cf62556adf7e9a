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
    let admin = Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test database: {e}"));
    static SWEPT_PG: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    static SWEPT_MYSQL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let swept = match admin.get_database_backend() {
        clerk_sync_seaorm::sea_orm::DbBackend::Postgres => &SWEPT_PG,
        _ => &SWEPT_MYSQL,
    };
    swept.get_or_init(|| sweep(&admin)).await;
    admin
}

/// Drop the schemas and databases that earlier test processes created and could not drop
/// (a store is dropped without an async hook). Names carry the creating process id, so only
/// those of processes that are gone are touched, never a concurrent run's.
async fn sweep(admin: &DatabaseConnection) {
    use clerk_sync_seaorm::sea_orm::{DbBackend, Statement};
    let kinds: &[(&str, &str)] = match admin.get_database_backend() {
        DbBackend::Postgres => &[
            (
                "SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'seaorm\\_t\\_%'",
                "DROP SCHEMA IF EXISTS {} CASCADE",
            ),
            (
                "SELECT datname::text AS n FROM pg_database WHERE datname LIKE 'seaorm\\_db\\_%'",
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ),
        ],
        _ => &[(
            "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'seaorm\\_t\\_%'",
            "DROP DATABASE IF EXISTS {}",
        )],
    };
    for (list, drop) in kinds {
        let Ok(rows) = admin
            .query_all_raw(Statement::from_string(admin.get_database_backend(), *list))
            .await
        else {
            continue;
        };
        for row in rows {
            let Ok(name) = row.try_get::<String>("", "n") else {
                continue;
            };
            let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
            if pid.is_some() && !alive {
                admin
                    .execute_unprepared(&drop.replace("{}", &name))
                    .await
                    .ok();
            }
        }
    }
}

/// The URL of a new SQLite file (created on first connect) in the tests' temp directory.
fn fresh_sqlite_url(prefix: &str) -> String {
    let dir = std::env::temp_dir().join("clerk-sync-seaorm-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("{}.db", unique(prefix))).display()
    )
}

/// The URL of a new, empty database on the MySQL server of `base`.
async fn fresh_mysql_url(base: &str) -> String {
    let name = unique("seaorm_t");
    let admin = admin(base).await;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let (server, _) = base
        .rsplit_once('/')
        .expect("mysql url has a database path");
    format!("{server}/{name}")
}

/// A connection to a fresh, empty database of kind `db` (not migrated), with a pool of up to
/// `max_connections`. Panics when the server cannot be reached.
pub async fn fresh_connection(db: Db, max_connections: u32) -> DatabaseConnection {
    let base = url(db).expect("caller checked url()");
    match db {
        Db::Sqlite => SeaOrmStore::connect(&fresh_sqlite_url("t"))
            .await
            .expect("open sqlite")
            .connection()
            .clone(),
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
            let mut opts = ConnectOptions::new(fresh_mysql_url(&base).await);
            opts.max_connections(max_connections).sqlx_logging(false);
            Database::connect(opts)
                .await
                .expect("connect to the database")
        }
    }
}

/// A fresh, migrated store opened by `SeaOrmStore::connect` (a new SQLite file, or a new MySQL
/// database): the constructor whose inbound path is clerk-sync-sqlx's on sea-orm's pool.
pub async fn fresh_connected(db: Db) -> SeaOrmStore {
    let url = match db {
        Db::Sqlite => fresh_sqlite_url("c"),
        Db::Mysql => fresh_mysql_url(&url(db).expect("caller checked url()")).await,
        Db::Postgres => panic!("PostgreSQL's store takes no other path when opened by connect"),
    };
    let store = SeaOrmStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
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

async fn connect_pg(base: &str, schema: &str, max_connections: u32) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(base);
    opts.max_connections(max_connections)
        .sqlx_logging(false)
        .set_schema_search_path(schema);
    Database::connect(opts)
        .await
        .expect("connect to the schema")
}

async fn connect_mysql(base: &str, name: &str, max_connections: u32) -> DatabaseConnection {
    connect_mysql_like(base, name, max_connections).await
}

/// A new pool on the database `name` made by [`fresh_pg_database`] or (MySQL)
/// [`fresh_connection`].
pub async fn reconnect(db: Db, name: &str) -> DatabaseConnection {
    let base = url(db).expect("caller checked url()");
    match db {
        Db::Postgres => connect_mysql_like(&base, name, 4).await,
        Db::Mysql => connect_mysql(&base, name, 4).await,
        Db::Sqlite => panic!("reconnect is for server databases"),
    }
}

/// A fresh PostgreSQL *database* (not schema), for tests that must find every backend of one
/// pool (`pg_stat_activity.datname`) without touching other tests' connections.
pub async fn fresh_pg_database(max_connections: u32) -> (DatabaseConnection, String) {
    let base = url(Db::Postgres).expect("caller checked url()");
    let name = unique("seaorm_db");
    let admin = admin(&base).await;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    (
        connect_mysql_like(&base, &name, max_connections).await,
        name,
    )
}

/// Connect to database `name` on the server of `base` (PostgreSQL or MySQL URL).
async fn connect_mysql_like(base: &str, name: &str, max_connections: u32) -> DatabaseConnection {
    let (server, _) = base.rsplit_once('/').expect("url has a database path");
    let mut opts = ConnectOptions::new(format!("{server}/{name}"));
    opts.max_connections(max_connections).sqlx_logging(false);
    Database::connect(opts)
        .await
        .expect("connect to the database")
}

/// A fresh, empty database that two stores can open by URL: `(url, sea-orm store on it)`, not
/// migrated. `None` when the database's tests are skipped.
pub async fn shared_database(db: Db) -> Option<(String, SeaOrmStore)> {
    let base = url(db)?;
    match db {
        Db::Sqlite => {
            let url = fresh_sqlite_url("x");
            let store = SeaOrmStore::connect(&url).await.expect("open sqlite");
            Some((url, store))
        }
        Db::Postgres => {
            let (conn, name) = fresh_pg_database(8).await;
            let (server, _) = base.rsplit_once('/').expect("url has a database path");
            Some((format!("{server}/{name}"), SeaOrmStore::new(conn)))
        }
        Db::Mysql => {
            let url = fresh_mysql_url(&base).await;
            let mut opts = ConnectOptions::new(url.as_str());
            opts.max_connections(8).sqlx_logging(false);
            let conn = Database::connect(opts)
                .await
                .expect("connect to the database");
            Some((url, SeaOrmStore::new(conn)))
        }
    }
}
