//! The embedded migrations, one directory per dialect.
//!
//! [`crate::SqlxStore::migrate`] runs these. An application that runs migrations from its own
//! tooling can run them itself, next to its own: each [`Migrator`] here already records its
//! versions in [`MIGRATIONS_TABLE`], never in the application's `_sqlx_migrations`.
//!
//! ```no_run
//! # async fn run(
//! #     pool: sqlx::PgPool,
//! #     app_migrations: sqlx::migrate::Migrator,
//! # ) -> Result<(), sqlx::migrate::MigrateError> {
//! // the application's own migrations (`sqlx::migrate!()`), recorded in _sqlx_migrations
//! app_migrations.run(&pool).await?;
//! // clerk-sync's, recorded in _clerk_sync_migrations
//! clerk_sync_sqlx::migrator::postgres().run(&pool).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The SQL is in `migrations/postgres/`, `migrations/sqlite/` and `migrations/mysql/` of this
//! crate's source (also inside the published package).

use sqlx::migrate::Migrator;

/// The table the library records its applied migrations in.
pub const MIGRATIONS_TABLE: &str = "_clerk_sync_migrations";

fn own_table(mut migrator: Migrator) -> Migrator {
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// The PostgreSQL migrations (`migrations/postgres/`).
#[cfg(feature = "postgres")]
pub fn postgres() -> Migrator {
    own_table(sqlx::migrate!("./migrations/postgres"))
}

/// The SQLite migrations (`migrations/sqlite/`).
#[cfg(feature = "sqlite")]
pub fn sqlite() -> Migrator {
    own_table(sqlx::migrate!("./migrations/sqlite"))
}

/// The MySQL / MariaDB migrations (`migrations/mysql/`).
#[cfg(feature = "mysql")]
pub fn mysql() -> Migrator {
    own_table(sqlx::migrate!("./migrations/mysql"))
}

/// The MySQL / MariaDB stored procedure `clerk_sync_apply_inbound` as the newest migration
/// leaves it: a `DROP PROCEDURE IF EXISTS` followed by its `CREATE PROCEDURE`, as one
/// multi-statement text.
///
/// [`crate::SqlxStore`] applies each inbound event with one `CALL` of it. clerk-sync-seaorm's
/// migrations run this same text, so a store on a sea-orm pool can take the same path; a later
/// revision of the procedure comes with a new migration on both sides.
#[cfg(feature = "mysql")]
pub const MYSQL_APPLY_INBOUND_PROCEDURE: &str =
    include_str!("../migrations/mysql/20261201000004_clerk_sync_apply_inbound_insert_first.sql");
