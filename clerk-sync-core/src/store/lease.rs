//! Named leases and the reconcile run log.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A run of reconcile or backfill, as recorded for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncRun {
    /// Row id; ignored by [`RunLogStore::record_run`], which assigns it.
    ///
    /// [`RunLogStore::record_run`]: super::RunLogStore::record_run
    pub id: i64,
    /// What ran: `"reconcile"`, `"backfill"`, ...
    pub kind: String,
    /// Who started it: an operator, `"schedule"`, a replica name.
    pub triggered_by: String,
    /// Start time.
    pub started_at: OffsetDateTime,
    /// End time.
    pub finished_at: OffsetDateTime,
    /// Whether it only reported.
    pub dry_run: bool,
    /// Whether it rewrote every row.
    pub force: bool,
    /// The run's report (JSON).
    pub report: serde_json::Value,
}

impl SyncRun {
    /// A finished run of `kind` started by `triggered_by`; `id` is 0 until recorded, and
    /// `dry_run` and `force` are off.
    pub fn new(
        kind: impl Into<String>,
        triggered_by: impl Into<String>,
        started_at: OffsetDateTime,
        finished_at: OffsetDateTime,
        report: serde_json::Value,
    ) -> Self {
        SyncRun {
            id: 0,
            kind: kind.into(),
            triggered_by: triggered_by.into(),
            started_at,
            finished_at,
            dry_run: false,
            force: false,
            report,
        }
    }
}
