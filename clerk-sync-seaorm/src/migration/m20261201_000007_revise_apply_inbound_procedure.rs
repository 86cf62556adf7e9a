use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// On MySQL/MariaDB, replaces `clerk_sync_apply_inbound` with clerk-sync-sqlx's revision
/// (its migration 4: a new user is written with a plain `INSERT`, cheaper on the server than
/// the guarded insert-or-update that now only settles races). Same contract and results;
/// nothing on PostgreSQL and SQLite.
///
/// `down` leaves the revised procedure in place: it answers every call exactly as the one
/// before did, and migration 6's `down` drops it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviseApplyInboundProcedure;

impl MigrationName for ReviseApplyInboundProcedure {
    fn name(&self) -> &str {
        "m20261201_000007_revise_apply_inbound_procedure"
    }
}

// The trait is declared with an elided `&SchemaManager`; spelling the lifetime would not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for ReviseApplyInboundProcedure {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::m20261122_000006_create_apply_inbound_procedure::create_procedure(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
