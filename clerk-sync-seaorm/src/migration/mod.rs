//! The schema as `sea-orm-migration` migrations: one per table, then (MySQL/MariaDB only) the
//! stored procedure of the inbound path and its revision.
//!
//! [`Migrator`] runs them under the library's own migrations table,
//! `_clerk_sync_seaorm_migrations`, so they never mix with an application's
//! `seaql_migrations`. An application that prefers one migrator can instead list the
//! individual migrations from [`migrations()`] in its own `MigratorTrait::migrations`.
//!
//! Every table and index statement is `IF NOT EXISTS` (indexes inline in `CREATE TABLE` on MySQL/MariaDB, which
//! has no `CREATE INDEX IF NOT EXISTS` before 10.x and none in MySQL), so these migrations also
//! run on a database that `clerk-sync-sqlx` already created, and the reverse. The DDL is written
//! per dialect rather than with the schema builder, because the shared schema (`docs/schema.md`)
//! pins constraint and index names, column types and collations exactly. The MySQL procedure
//! is dropped and created again with clerk-sync-sqlx's text, which is as harmless to repeat.

use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::sea_query::{Alias, DynIden, IntoIden};
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

mod m20261122_000001_create_clerk_users;
mod m20261122_000002_create_clerk_webhook_events;
mod m20261122_000003_create_clerk_sync_outbox;
mod m20261122_000004_create_clerk_sync_leases;
mod m20261122_000005_create_clerk_sync_runs;
mod m20261122_000006_create_apply_inbound_procedure;
mod m20261201_000007_revise_apply_inbound_procedure;

pub use m20261122_000001_create_clerk_users::CreateClerkUsers;
pub use m20261122_000002_create_clerk_webhook_events::CreateClerkWebhookEvents;
pub use m20261122_000003_create_clerk_sync_outbox::CreateClerkSyncOutbox;
pub use m20261122_000004_create_clerk_sync_leases::CreateClerkSyncLeases;
pub use m20261122_000005_create_clerk_sync_runs::CreateClerkSyncRuns;
pub use m20261122_000006_create_apply_inbound_procedure::CreateApplyInboundProcedure;
pub use m20261201_000007_revise_apply_inbound_procedure::ReviseApplyInboundProcedure;

/// The migrations table of [`Migrator`].
pub const MIGRATION_TABLE: &str = "_clerk_sync_seaorm_migrations";

/// Every clerk-sync migration, in order: what [`Migrator`] runs, and what an application adds to
/// its own migrator's list (after the migrations its own tables need first, if any).
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateClerkUsers),
        Box::new(CreateClerkWebhookEvents),
        Box::new(CreateClerkSyncOutbox),
        Box::new(CreateClerkSyncLeases),
        Box::new(CreateClerkSyncRuns),
        Box::new(CreateApplyInboundProcedure),
        Box::new(ReviseApplyInboundProcedure),
    ]
}

/// The library's own migrator, recording into `_clerk_sync_seaorm_migrations`.
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

/// Run the statements for the connection's dialect, in order.
async fn run(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    mysql: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        DbBackend::MySql => mysql,
        DbBackend::Sqlite => sqlite,
        other => {
            return Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "clerk-sync migrations",
            });
        }
    };
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Drop `table` (for `down`).
async fn drop_table(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
        .await
        .map(|_| ())
}
