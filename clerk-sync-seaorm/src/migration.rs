//! The schema as `sea-orm-migration` migrations, made from clerk-sync-sqlx's migrations.
//!
//! There is one source of truth for the schema: the versioned SQL files of clerk-sync-sqlx,
//! embedded in [`clerk_sync_sqlx::migrator`]. [`migrations()`] turns every version found in
//! any of its three migrators (PostgreSQL, SQLite, MySQL/MariaDB) into one sea-orm migration,
//! [`SqlxMigration`], in version order. Applied, it runs that version's SQL for the
//! connection's backend, or nothing when that backend has no migration of that version (the
//! MySQL stored procedure, for example), so every backend records the same list.
//!
//! Names are `m<version>_clerk_sync` (`m20261122000001_clerk_sync`). A released sqlx migration
//! never changes, neither its version nor its SQL, so a name always means the same SQL and a
//! recorded migration is never run twice or replaced. A new sqlx migration is a new version, and
//! so a new sea-orm migration, with no change to this crate.
//!
//! The sqlx SQL is idempotent (`IF NOT EXISTS`; the MySQL procedure is dropped and created
//! again), so these migrations run on a database that clerk-sync-sqlx migrated, and the
//! reverse. Each library records what it ran in its own table: `_clerk_sync_migrations` for
//! sqlx, [`MIGRATION_TABLE`] for [`Migrator`].

use clerk_sync_sqlx::sqlx::migrate::Migrator as SqlxMigrator;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::sea_query::{Alias, DynIden, IntoIden};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

/// The migrations table of [`Migrator`].
pub const MIGRATION_TABLE: &str = "_clerk_sync_seaorm_migrations";

/// clerk-sync-sqlx's migrator for `backend`.
fn sqlx_migrator(backend: DbBackend) -> Result<SqlxMigrator, DbErr> {
    match backend {
        DbBackend::Postgres => Ok(clerk_sync_sqlx::migrator::postgres()),
        DbBackend::Sqlite => Ok(clerk_sync_sqlx::migrator::sqlite()),
        DbBackend::MySql => Ok(clerk_sync_sqlx::migrator::mysql()),
        other => Err(DbErr::BackendNotSupported {
            db: other.as_str(),
            ctx: "clerk-sync migrations",
        }),
    }
}

fn all_sqlx_migrators() -> [SqlxMigrator; 3] {
    [
        clerk_sync_sqlx::migrator::postgres(),
        clerk_sync_sqlx::migrator::sqlite(),
        clerk_sync_sqlx::migrator::mysql(),
    ]
}

/// One clerk-sync-sqlx migration version as a sea-orm migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlxMigration {
    version: i64,
    name: String,
    no_tx: bool,
}

impl SqlxMigration {
    /// The migration of sqlx version `version`, named `m<version>_clerk_sync`.
    pub fn new(version: i64) -> SqlxMigration {
        // sqlx runs a `-- no-transaction` migration outside a transaction; so does this one,
        // on every backend, if any dialect's migration of the version asks for it.
        let no_tx = all_sqlx_migrators()
            .iter()
            .flat_map(|m| m.iter())
            .any(|m| m.version == version && m.no_tx);
        SqlxMigration {
            version,
            name: format!("m{version}_clerk_sync"),
            no_tx,
        }
    }

    /// The clerk-sync-sqlx migration version this runs.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The SQL of this version's `direction` (up: `true`) migration for `backend`, if it has
    /// one.
    fn sql(&self, backend: DbBackend, up: bool) -> Result<Option<String>, DbErr> {
        let migrator = sqlx_migrator(backend)?;
        let found = migrator.iter().find(|m| {
            m.version == self.version
                && if up {
                    m.migration_type.is_up_migration()
                } else {
                    m.migration_type.is_down_migration()
                }
        });
        Ok(found.map(|m| m.sql.as_str().to_owned()))
    }
}

impl MigrationName for SqlxMigration {
    fn name(&self) -> &str {
        &self.name
    }
}

// The trait is declared with an elided `&SchemaManager`; spelling the lifetime would not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for SqlxMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if let Some(sql) = self.sql(manager.get_database_backend(), true)? {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// Runs the version's down migration where clerk-sync-sqlx has one; a version that this
    /// backend skipped reverts as nothing. The others cannot be reverted: clerk-sync-sqlx's
    /// migrations are forward-only, and a guessed `DROP` could take the application's data.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        if let Some(sql) = self.sql(backend, false)? {
            manager.get_connection().execute_unprepared(&sql).await?;
            return Ok(());
        }
        if self.sql(backend, true)?.is_none() {
            return Ok(());
        }
        Err(DbErr::Migration(format!(
            "clerk-sync migration {} is forward-only and cannot be reverted",
            self.name
        )))
    }

    fn use_transaction(&self) -> Option<bool> {
        // As sqlx runs them: each in a transaction on every backend (so that on SQLite the
        // tables and the record land together), unless the migration says otherwise.
        Some(!self.no_tx)
    }
}

/// Every clerk-sync migration, in version order: what [`Migrator`] runs, and what an
/// application adds to its own migrator's list instead if it prefers one migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    let mut versions: Vec<i64> = all_sqlx_migrators()
        .iter()
        .flat_map(|m| m.iter())
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
        .into_iter()
        .map(|v| Box::new(SqlxMigration::new(v)) as Box<dyn MigrationTrait>)
        .collect()
}

/// The library's own migrator, recording into [`MIGRATION_TABLE`] so it never mixes with an
/// application's `seaql_migrations`.
///
/// `SeaOrmStore::migrate` runs `Migrator::up(db, None)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATION_TABLE).into_iden()
    }
}
