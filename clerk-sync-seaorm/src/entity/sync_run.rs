//! `clerk_sync_runs`: recorded reconcile and backfill runs.

use sea_orm::entity::prelude::*;

/// One recorded run.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_sync_runs")]
pub struct Model {
    /// Run id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `"reconcile"` or `"backfill"`.
    pub kind: String,
    /// Who started it.
    pub triggered_by: String,
    /// Start time.
    pub started_at: TimeDateTimeWithTimeZone,
    /// End time.
    pub finished_at: TimeDateTimeWithTimeZone,
    /// Whether it only reported.
    pub dry_run: bool,
    /// Whether it rewrote every row (`force` is reserved in MySQL).
    pub force_rewrite: bool,
    /// The run's report.
    pub report: Json,
}

impl ActiveModelBehavior for ActiveModel {}
