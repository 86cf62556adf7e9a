//! `clerk_sync_runs`: recorded reconcile and backfill runs.

use sea_orm::entity::prelude::*;

/// One recorded run. A run without `finished_at` is still going, or its process died; its
/// `cursor` is where a backfill resumes.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clerk_sync_runs")]
pub struct Model {
    /// Run id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `"reconcile"` or `"backfill"`.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: String,
    /// Who started it.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub triggered_by: String,
    /// Start time.
    pub started_at: TimeDateTimeWithTimeZone,
    /// End time; `None` while running.
    pub finished_at: Option<TimeDateTimeWithTimeZone>,
    /// Whether it only reported.
    pub dry_run: bool,
    /// Whether it rewrote every row (`force` is reserved in MySQL).
    pub force_rewrite: bool,
    /// The last Clerk user id the run fully applied, as of its last checkpoint.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub cursor: Option<String>,
    /// The run's report: the running totals, then the final report.
    #[sea_orm(column_type = "JsonBinary")]
    pub report: Json,
}

impl ActiveModelBehavior for ActiveModel {}
