//! Migrations: from an empty database, twice, and next to the application's own sqlx
//! migrations, on every database.

mod support;

use clerk_sync_sqlx::sqlx::{self, migrate::Migrator};
use clerk_sync_sqlx::{Dialect, DialectPool, SqlxStore, migrator::MIGRATIONS_TABLE};
use support::Backend;

const TABLES: [&str; 5] = [
    "clerk_users",
    "clerk_webhook_events",
    "clerk_sync_outbox",
    "clerk_sync_leases",
    "clerk_sync_runs",
];

/// An application's own migrations directory with one migration.
fn app_migrations() -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    std::fs::write(
        dir.path().join("20240101000000_app_things.sql"),
        "CREATE TABLE app_things (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    )
    .expect("write app migration");
    dir
}

mod tempdir {
    use std::path::{Path, PathBuf};

    /// A directory under the system temp dir, removed on drop.
    pub(super) struct Dir(PathBuf);

    impl Dir {
        pub(super) fn new() -> Self {
            let path = std::env::temp_dir().join(super::support::unique_name());
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }

        pub(super) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn count(store: &SqlxStore, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match store.pool() {
        DialectPool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(&p).await,
        DialectPool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(&p).await,
        DialectPool::MySql(p) => sqlx::query_scalar(sql).fetch_one(&p).await,
        _ => unreachable!("all three dialects are enabled in tests"),
    }
    .unwrap_or_else(|e| panic!("{sql:?}: {e}", sql = "count query"))
}

async fn run_app(store: &SqlxStore, migrator: &Migrator) {
    match store.pool() {
        DialectPool::Postgres(p) => migrator.run(&p).await,
        DialectPool::Sqlite(p) => migrator.run(&p).await,
        DialectPool::MySql(p) => migrator.run(&p).await,
        _ => unreachable!("all three dialects are enabled in tests"),
    }
    .expect("application migrations");
}

/// The whole story on one empty database: ours from scratch, ours again, the application's
/// next to ours in both orders, and every table and both ledgers intact at the end.
async fn migrations_on(store: SqlxStore) {
    // Empty database: nothing of ours exists yet, so a store call reports a missing schema.
    let err = clerk_sync_core::store::UserStore::get_user(&store, "user_x")
        .await
        .expect_err("no schema yet");
    assert!(
        matches!(err, clerk_sync_core::store::StoreError::Schema(_)),
        "a missing table is a Schema error, got {err:?}"
    );

    store.migrate().await.expect("first migrate");
    for table in TABLES {
        assert_eq!(
            count(&store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0
        );
    }
    let applied = count(&store, &format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}")).await;
    assert!(
        applied >= 1,
        "our migrations are recorded in {MIGRATIONS_TABLE}"
    );

    store.migrate().await.expect("second migrate is harmless");
    assert_eq!(
        count(&store, &format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}")).await,
        applied,
        "migrating twice records nothing new"
    );

    // The application's own sqlx migrations, in its `_sqlx_migrations`.
    let dir = app_migrations();
    let app = Migrator::new(dir.path()).await.expect("app migrator");
    run_app(&store, &app).await;
    store.migrate().await.expect("ours after the application's");
    run_app(&store, &app).await;
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM _sqlx_migrations").await,
        1,
        "the application's ledger holds only its own migration"
    );
    assert_eq!(
        count(&store, &format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}")).await,
        applied,
        "ours holds only ours"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM app_things").await, 0);
    for table in TABLES {
        assert_eq!(
            count(&store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0
        );
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_migrations() {
    let store = SqlxStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    assert_eq!(store.dialect(), Dialect::Sqlite);
    migrations_on(store).await;
}

#[tokio::test]
async fn sqlite_file_url_with_mode_rwc() {
    let dir = std::env::temp_dir().join(support::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite:{}?mode=rwc", dir.join("app.db").display());
    let store = SqlxStore::connect(&url)
        .await
        .expect("connect creates the file");
    migrations_on(store).await;
    // A second store on the same file sees the schema already there.
    let again = SqlxStore::connect(&url).await.expect("reconnect");
    again.migrate().await.expect("migrate an existing file");
    again.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_migrations() {
    let url = support::url(Backend::Postgres);
    let (schema_url, schema) = support::pg_schema_url(&url).await;
    let store = SqlxStore::connect(&schema_url).await.expect("connect");
    assert_eq!(store.dialect(), Dialect::Postgres);
    migrations_on(store).await;
    support::drop_pg_schema(&url, &schema).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_migrations() {
    let url = support::url(Backend::MySql);
    let (db_url, database) = support::mysql_database_url(&url).await;
    let store = SqlxStore::connect(&db_url).await.expect("connect");
    assert_eq!(store.dialect(), Dialect::MySql);
    migrations_on(store).await;

    // Without its stored procedure (a database migrated by an older release, or the procedure
    // dropped), inbound events fail as a schema problem, not as a passing backend error.
    let store = SqlxStore::connect(&db_url).await.expect("reconnect");
    let DialectPool::MySql(pool) = store.pool() else {
        unreachable!("a MySQL store has a MySQL pool")
    };
    sqlx::query("DROP PROCEDURE clerk_sync_apply_inbound")
        .execute(&pool)
        .await
        .expect("drop the procedure");
    let now = time::OffsetDateTime::now_utc();
    let record = clerk_sync_core::store::ClerkUserRecord::new("user_p", 1, "{}");
    let entry = clerk_sync_core::store::NewLedgerEntry::new(
        "msg_p",
        "user.updated",
        Some("user_p"),
        now,
        Some("{}"),
    );
    let err = clerk_sync_core::store::InboundStore::apply_inbound(
        &store,
        &entry,
        &clerk_sync_core::store::InboundChange::Upsert(record),
        now,
    )
    .await
    .expect_err("no procedure");
    assert!(
        matches!(err, clerk_sync_core::store::StoreError::Schema(_)),
        "a missing procedure is a Schema error, got {err:?}"
    );
    store.close().await;
    support::drop_mysql_database(&url, &database).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mariadb_scheme_is_accepted() {
    let url = support::url(Backend::MySql);
    let url = url.replacen("mysql:", "mariadb:", 1);
    let store = SqlxStore::connect(&url).await.expect("mariadb:// connects");
    assert_eq!(store.dialect(), Dialect::MySql);
    store.ping().await.expect("ping");
    store.close().await;
}
