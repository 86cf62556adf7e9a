use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// Creates the webhook ledger `clerk_webhook_events` with `idx_clerk_webhook_events_received`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateClerkWebhookEvents;

impl MigrationName for CreateClerkWebhookEvents {
    fn name(&self) -> &str {
        "m20261122_000002_create_clerk_webhook_events"
    }
}

const POSTGRES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS clerk_webhook_events (
        svix_id VARCHAR(255) NOT NULL PRIMARY KEY,
        event_type VARCHAR(255) NOT NULL,
        object_id VARCHAR(255) NULL,
        received_at TIMESTAMPTZ NOT NULL,
        processed_at TIMESTAMPTZ NULL,
        outcome VARCHAR(16) NULL,
        error TEXT NULL,
        payload TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS idx_clerk_webhook_events_received ON clerk_webhook_events (received_at)",
];

const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS clerk_webhook_events (
        svix_id VARCHAR(255) NOT NULL,
        event_type VARCHAR(255) NOT NULL,
        object_id VARCHAR(255) NULL,
        received_at DATETIME(6) NOT NULL,
        processed_at DATETIME(6) NULL,
        outcome VARCHAR(16) NULL,
        error TEXT NULL,
        payload LONGTEXT NOT NULL,
        PRIMARY KEY (svix_id),
        INDEX idx_clerk_webhook_events_received (received_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"];

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS clerk_webhook_events (
        svix_id VARCHAR(255) NOT NULL PRIMARY KEY,
        event_type VARCHAR(255) NOT NULL,
        object_id VARCHAR(255) NULL,
        received_at TEXT NOT NULL,
        processed_at TEXT NULL,
        outcome VARCHAR(16) NULL,
        error TEXT NULL,
        payload TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS idx_clerk_webhook_events_received ON clerk_webhook_events (received_at)",
];

// The trait is declared with an elided `&SchemaManager`; spelling the lifetime would not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateClerkWebhookEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run(manager, POSTGRES, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_table(manager, "clerk_webhook_events").await
    }
}
