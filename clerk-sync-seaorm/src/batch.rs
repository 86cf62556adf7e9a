//! `apply_batch`: reconcile and backfill in bulk statements.

use clerk_sync_core::store::{BatchOutcome, ClerkUserRecord, StoreError, UpsertOutcome};
use sea_orm::DatabaseConnection;
use time::OffsetDateTime;

use crate::sql::Dialect;

pub(crate) async fn apply_batch(
    d: Dialect,
    db: &DatabaseConnection,
    records: &[ClerkUserRecord],
    now: OffsetDateTime,
) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();
    for record in records {
        let metadata = crate::users::validate(record)?;
        match crate::users::upsert(d, db, record, metadata, now)
            .await
            .map_err(crate::error::map_db_err)?
        {
            UpsertOutcome::Inserted => outcome.inserted += 1,
            UpsertOutcome::Updated | UpsertOutcome::Linked => outcome.updated += 1,
            _ => outcome.unchanged += 1,
        }
    }
    Ok(outcome)
}
