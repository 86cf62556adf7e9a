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
//! crate's source (also inside the published package). It is the one source of the schema:
//! clerk-sync-seaorm's migrator runs these same migrations, statement for statement (iterate
//! [`Migrator::iter`] for each version's SQL). Every table and index statement is
//! `IF NOT EXISTS`, and MySQL's procedure is dropped and created again, so either migrator can
//! run over a database the other created.

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
