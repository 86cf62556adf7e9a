//! `clerk_users`: the local user table.

use sea_orm::entity::prelude::*;

/// One row of `clerk_users`. See `LocalUser` in `clerk_sync_core::store` for what each field
/// means; `sync_status` holds `"synced"`, `"pending"` or `"failed"`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_users")]
pub struct Model {
    /// Local primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Clerk user id; `None` for a row created locally and not yet confirmed by Clerk. Compared
    /// in byte order (`COLLATE "C"`, `utf8mb4_bin`).
    #[sea_orm(unique, column_type = "String(StringLen::N(255))")]
    pub clerk_id: Option<String>,
    /// Primary email address (indexed, not unique).
    #[sea_orm(column_type = "String(StringLen::N(320))")]
    pub email: Option<String>,
    /// Given name.
    #[sea_orm(column_type = "Text")]
    pub first_name: Option<String>,
    /// Family name.
    #[sea_orm(column_type = "Text")]
    pub last_name: Option<String>,
    /// Username.
    #[sea_orm(column_type = "Text")]
    pub username: Option<String>,
    /// Profile image URL.
    #[sea_orm(column_type = "Text")]
    pub image_url: Option<String>,
    /// The application's id for the user, as set in Clerk.
    #[sea_orm(column_type = "Text")]
    pub external_id: Option<String>,
    /// Clerk `public_metadata`.
    #[sea_orm(column_type = "JsonBinary")]
    pub public_metadata: Option<Json>,
    /// The Clerk user object as last applied.
    #[sea_orm(column_type = "JsonBinary")]
    pub raw_json: Option<Json>,
    /// The version: Clerk `updated_at` in Unix milliseconds.
    pub clerk_updated_at: Option<i64>,
    /// Tombstone: set when Clerk deleted the user; terminal.
    pub deleted_at: Option<TimeDateTimeWithTimeZone>,
    /// `"synced"`, `"pending"` or `"failed"`.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub sync_status: String,
    /// When a sync of this row was last attempted.
    pub last_sync_attempt: Option<TimeDateTimeWithTimeZone>,
    /// Why the last sync attempt failed.
    #[sea_orm(column_type = "Text")]
    pub sync_error: Option<String>,
    /// When the row was first written locally.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row was last written locally.
    pub updated_at: TimeDateTimeWithTimeZone,
    /// Outbox entries queued for this row.
    #[sea_orm(has_many)]
    pub outbox: HasMany<super::sync_outbox::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
