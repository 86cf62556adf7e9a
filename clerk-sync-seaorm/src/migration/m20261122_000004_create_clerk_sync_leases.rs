use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// Creates `clerk_sync_leases`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateClerkSyncLeases;

impl MigrationName for CreateClerkSyncLeases {
    fn name(&self) -> &str {
        "m20261122_000004_create_clerk_sync_leases"
    }
}

const POSTGRES: &[&str] = &["CREATE TABLE IF NOT EXISTS clerk_sync_leases (
        name VARCHAR(255) NOT NULL PRIMARY KEY,
        holder VARCHAR(255) NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )"];

const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS clerk_sync_leases (
        name VARCHAR(255) NOT NULL,
        holder VARCHAR(255) NOT NULL,
        expires_at DATETIME(6) NOT NULL,
        PRIMARY KEY (name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"];

const SQLITE: &[&str] = &["CREATE TABLE IF NOT EXISTS clerk_sync_leases (
        name VARCHAR(255) NOT NULL PRIMARY KEY,
        holder VARCHAR(255) NOT NULL,
        expires_at TEXT NOT NULL
    )"];

// The trait is declared with an elided `&SchemaManager`; spelling the lifetime would not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateClerkSyncLeases {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run(manager, POSTGRES, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_table(manager, "clerk_sync_leases").await
    }
}
