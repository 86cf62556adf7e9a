//! `clerk_sync_outbox`: local changes queued for Clerk, and dead letters.

use sea_orm::entity::prelude::*;

/// One queued operation. `operation` is `"create"`, `"invite"`, `"update"` or `"delete"`;
/// `payload` is the `UserProfile` to send, as JSON. An entry with `dead_at` set is a dead
/// letter: given up, kept until revived.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_sync_outbox")]
pub struct Model {
    /// Entry id, increasing in enqueue order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Local id of the user row (`clerk_users.id`).
    pub user_id: i64,
    /// What to do in Clerk.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub operation: String,
    /// The profile fields to send.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// Claims so far.
    pub attempts: i32,
    /// Not claimable before this time.
    pub next_attempt_at: TimeDateTimeWithTimeZone,
    /// Worker holding the current claim.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub claimed_by: Option<String>,
    /// When the current claim expires.
    pub claimed_until: Option<TimeDateTimeWithTimeZone>,
    /// The current claim's token: only its holder may settle the entry.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub claim_token: Option<String>,
    /// Error of the last failed attempt.
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    /// When the entry was given up (a dead letter); `None` while live.
    pub dead_at: Option<TimeDateTimeWithTimeZone>,
    /// When the entry was queued.
    pub created_at: TimeDateTimeWithTimeZone,
    /// The user row this entry belongs to.
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: HasOne<super::clerk_user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
