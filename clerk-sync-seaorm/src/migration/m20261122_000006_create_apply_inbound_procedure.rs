use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// On MySQL/MariaDB, creates the stored procedure `clerk_sync_apply_inbound`, through which
/// [`SeaOrmStore::connect`](crate::SeaOrmStore::connect) applies an inbound event in one round
/// trip. Nothing on PostgreSQL and SQLite, whose inbound paths need no procedure.
///
/// The procedure is clerk-sync-sqlx's, byte for byte
/// ([`MYSQL_APPLY_INBOUND_PROCEDURE`](clerk_sync_sqlx::migrator::MYSQL_APPLY_INBOUND_PROCEDURE)),
/// so either library's migrations leave the same one, whichever ran last.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateApplyInboundProcedure;

impl MigrationName for CreateApplyInboundProcedure {
    fn name(&self) -> &str {
        "m20261122_000006_create_apply_inbound_procedure"
    }
}

// The trait is declared with an elided `&SchemaManager`; spelling the lifetime would not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateApplyInboundProcedure {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_procedure(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::MySql {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP PROCEDURE IF EXISTS clerk_sync_apply_inbound")
            .await
            .map(|_| ())
    }
}

/// On MySQL/MariaDB, (re)creates the procedure from clerk-sync-sqlx's current SQL, which drops
/// any earlier one first; nothing on the other backends. Every migration of the procedure runs
/// this.
pub(super) async fn create_procedure(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::MySql {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(clerk_sync_sqlx::migrator::MYSQL_APPLY_INBOUND_PROCEDURE)
        .await
        .map(|_| ())
}
