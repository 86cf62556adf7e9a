//! The sea-orm migrator is clerk-sync-sqlx's migrations, version for version: the same list,
//! stable names, and the same schema on every database.

mod common;

use clerk_sync_seaorm::Migrator;
use clerk_sync_seaorm::migration::{self, SqlxMigration};
use clerk_sync_seaorm::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use clerk_sync_seaorm::sea_orm_migration::{MigrationName, MigratorTrait};
use clerk_sync_sqlx::SqlxStore;
use common::{Db, Open};

/// Every version of the three sqlx migrators, sorted, once.
fn sqlx_versions() -> Vec<i64> {
    let mut versions: Vec<i64> = [
        clerk_sync_sqlx::migrator::postgres(),
        clerk_sync_sqlx::migrator::sqlite(),
        clerk_sync_sqlx::migrator::mysql(),
    ]
    .iter()
    .flat_map(|m| m.iter().map(|m| m.version).collect::<Vec<_>>())
    .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

#[test]
fn one_migration_per_sqlx_version_in_order() {
    let names: Vec<String> = migration::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let expected: Vec<String> = sqlx_versions()
        .iter()
        .map(|v| format!("m{v}_clerk_sync"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(names, expected);
    assert_eq!(
        Migrator::migrations().len(),
        expected.len(),
        "Migrator runs them all"
    );
}

#[test]
fn names_are_a_function_of_the_version_only() {
    // Recorded names are what sea-orm-migration compares with on every later run: changing
    // this scheme would make every migrated database refuse to migrate again.
    let m = SqlxMigration::new(20261122000001);
    assert_eq!(m.name(), "m20261122000001_clerk_sync");
    assert_eq!(m.version(), 20261122000001);
    assert_eq!(SqlxMigration::new(20261122000001), m);
}

/// The schema of the connection's database or schema, as one sorted text: tables, columns
/// with types, nullability, defaults and collations, indexes, constraints, and (MySQL)
/// routines. The migration tables are left out: each library has its own.
async fn schema_dump(conn: &DatabaseConnection) -> String {
    let backend = conn.get_database_backend();
    let queries: &[&str] = match backend {
        DbBackend::Postgres => &[
            "SELECT concat_ws('|', table_name, column_name, data_type, is_nullable, \
             column_default, collation_name, character_maximum_length) AS x \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name NOT LIKE '%migrations'",
            "SELECT concat_ws('|', tablename, indexname, \
             replace(indexdef, current_schema() || '.', '')) AS x \
             FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename NOT LIKE '%migrations'",
            "SELECT concat_ws('|', conrelid::regclass::text, conname, pg_get_constraintdef(oid)) AS x \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
             AND conrelid::regclass::text NOT LIKE '%migrations'",
        ],
        DbBackend::MySql => &[
            "SELECT CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, \
             COLUMN_DEFAULT, COLLATION_NAME) AS x FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '%migrations'",
            "SELECT CONCAT_WS('|', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE) \
             AS x FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME NOT LIKE '%migrations'",
            "SELECT CONCAT_WS('|', ROUTINE_NAME, ROUTINE_DEFINITION) AS x \
             FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
        ],
        _ => &[
            "SELECT type || '|' || name || '|' || coalesce(sql, '') AS x FROM sqlite_master \
             WHERE name NOT LIKE '%migrations%'",
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        let rows = conn
            .query_all_raw(Statement::from_string(backend, *sql))
            .await
            .expect("catalog query");
        for row in rows {
            lines.push(row.try_get::<String>("", "x").expect("text"));
        }
    }
    lines.sort();
    lines.join("\n")
}

async fn recorded(conn: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("migration table");
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get::<String>("", "v")
                .or_else(|_| r.try_get::<i64>("", "v").map(|v| v.to_string()))
                .expect("a version")
        })
        .collect();
    names.sort();
    names
}

/// A database migrated by the sea-orm migrator and one migrated by clerk-sync-sqlx have the
/// same schema, and each records its own list.
async fn same_schema_either_way(db: Db) {
    let seaorm = common::fresh(db, Open::New).await;
    let (url, _) = common::fresh_database(db).await;
    let sqlx = SqlxStore::connect(&url).await.expect("sqlx connect");
    sqlx.migrate().await.expect("sqlx migrate");
    let sqlx_view = clerk_sync_seaorm::SeaOrmStore::connect(&url)
        .await
        .expect("connect");

    let dump = schema_dump(seaorm.connection()).await;
    assert!(dump.contains("clerk_users") && dump.contains("clerk_sync_runs"));
    assert_eq!(
        dump,
        schema_dump(sqlx_view.connection()).await,
        "{db:?}: sea-orm's migrations (left) and sqlx's (right) made different schemas"
    );

    let names: Vec<String> = migration::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(
        recorded(
            seaorm.connection(),
            "SELECT version AS v FROM _clerk_sync_seaorm_migrations"
        )
        .await,
        names,
        "{db:?}: every migration is recorded, those without SQL on this database too"
    );
}

#[tokio::test]
async fn same_schema_either_way_sqlite() {
    same_schema_either_way(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn same_schema_either_way_postgres() {
    same_schema_either_way(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn same_schema_either_way_mysql() {
    same_schema_either_way(Db::Mysql).await;
}

/// clerk-sync-sqlx's migrations are forward-only: reverting them is refused, not guessed, and
/// the tables stay.
#[tokio::test]
async fn down_is_refused() {
    let store = common::fresh(Db::Sqlite, Open::Connect).await;
    let err = Migrator::down(store.connection(), None)
        .await
        .expect_err("no down migrations");
    assert!(err.to_string().contains("forward-only"), "{err}");
    store
        .connection()
        .execute_unprepared("SELECT id FROM clerk_users")
        .await
        .expect("the tables are still there");
    store.migrate().await.expect("and migrate again");
}
