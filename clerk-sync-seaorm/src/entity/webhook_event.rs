//! `clerk_webhook_events`: the webhook ledger, one row per `svix-id`.

use sea_orm::entity::prelude::*;

/// One ledgered delivery. `outcome` is `"applied"`, `"stale"`, `"ignored"` or `"failed"`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_webhook_events")]
pub struct Model {
    /// The `svix-id` header.
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(255))"
    )]
    pub svix_id: String,
    /// Clerk event type.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub event_type: String,
    /// `data.id` of the event.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub object_id: Option<String>,
    /// When the first delivery was received.
    pub received_at: TimeDateTimeWithTimeZone,
    /// When processing finished.
    pub processed_at: Option<TimeDateTimeWithTimeZone>,
    /// How processing ended.
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub outcome: Option<String>,
    /// Why it failed.
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    /// The request body (JSON text) for events whose payload is kept (`user.*`); `None` for
    /// the others, which may carry one-time codes or client addresses.
    #[sea_orm(column_type = "Text")]
    pub payload: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
