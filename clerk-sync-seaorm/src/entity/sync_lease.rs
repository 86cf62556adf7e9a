//! `clerk_sync_leases`: named leases with expiry.

use sea_orm::entity::prelude::*;

/// One lease.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_sync_leases")]
pub struct Model {
    /// Lease name, e.g. `"reconcile"`.
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(255))"
    )]
    pub name: String,
    /// Who holds it.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub holder: String,
    /// When it expires; after that anyone may take it over.
    pub expires_at: TimeDateTimeWithTimeZone,
}

impl ActiveModelBehavior for ActiveModel {}
