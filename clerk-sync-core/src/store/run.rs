//! The run log: reconcile and backfill runs, recorded for audit and for resuming.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A run of reconcile or backfill, as recorded for audit.
///
/// A run is recorded when it starts ([`RunLogStore::start_run`]), checkpointed as it goes, and
/// finished with its report. A run with no `finished_at` either is still going or its process
/// died; its `cursor` tells a backfill where to resume.
///
/// [`RunLogStore::start_run`]: super::RunLogStore::start_run
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncRun {
    /// Row id; ignored by [`RunLogStore::start_run`], which assigns it.
    ///
    /// [`RunLogStore::start_run`]: super::RunLogStore::start_run
    pub id: i64,
    /// What ran: `"reconcile"`, `"backfill"`, ...
    pub kind: String,
    /// Who started it: an operator, `"schedule"`, a replica name.
    pub triggered_by: String,
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// End time; `None` while running, or when the run's process died.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Whether it only reported.
    pub dry_run: bool,
    /// Whether it rewrote every row.
    pub force: bool,
    /// The last Clerk user id the run has fully applied (the listing's `starting_after`), as
    /// of its last checkpoint.
    pub cursor: Option<String>,
    /// The run's report (JSON): the final report once finished, the running totals before.
    pub report: serde_json::Value,
}

impl SyncRun {
    /// A run of `kind` started by `triggered_by` at `started_at`: not finished, no cursor, an
    /// empty report; `id` is 0 until recorded, and `dry_run` and `force` are off.
    pub fn new(
        kind: impl Into<String>,
        triggered_by: impl Into<String>,
        started_at: OffsetDateTime,
    ) -> Self {
        SyncRun {
            id: 0,
            kind: kind.into(),
            triggered_by: triggered_by.into(),
            started_at,
            finished_at: None,
            dry_run: false,
            force: false,
            cursor: None,
            report: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Whether the run has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}
