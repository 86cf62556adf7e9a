//! MySQL and MariaDB: the stored procedure that applies an inbound event in one round trip,
//! and the dialect's bulk upsert.
//!
//! Two dialect facts shape this module:
//! - `INSERT .. ON DUPLICATE KEY UPDATE` assigns columns left to right and later assignments
//!   see earlier ones, so every guarded assignment tests columns that are not yet reassigned
//!   (the version column, which the guard reads, is assigned last).
//! - sqlx connects with `CLIENT_FOUND_ROWS`, so "affected rows" counts matched rows: an upsert
//!   counts 1 for an insert, 2 for a changed row and 1 (not 0) for an untouched one, and an
//!   `UPDATE` that leaves a row as it was still counts it.
//!
//! Everything else this store does runs the shared statements of `users.rs`, `ledger.rs`,
//! `outbox.rs` and `jobs.rs`, in `READ COMMITTED` transactions ([`Backend::BEGIN`]).

use clerk_sync_core::store::{
    InboundApplied, InboundChange, StoreError, TombstoneOutcome, UpsertOutcome,
};
use sqlx::types::Json;
use sqlx::{FromRow, MySql};

use crate::backend::{Inbound, Store};
use crate::codec::Ts;
use crate::error::{map_sqlx, retry};
use crate::users::raw_json;

/// The guard, on the stored row's still-unassigned columns.
macro_rules! g {
    () => {
        "(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)))"
    };
}

/// The conflict clause of the multi-row conditional upsert ([`Backend::BULK_UPSERT_TAIL`]):
/// each column keeps its value unless the guard holds.
#[rustfmt::skip]
pub(crate) const BULK_UPSERT_TAIL: &str = concat!(
    " ON DUPLICATE KEY UPDATE ",
    "email = IF(", g!(), ", VALUES(email), email), ",
    "first_name = IF(", g!(), ", VALUES(first_name), first_name), ",
    "last_name = IF(", g!(), ", VALUES(last_name), last_name), ",
    "username = IF(", g!(), ", VALUES(username), username), ",
    "image_url = IF(", g!(), ", VALUES(image_url), image_url), ",
    "external_id = IF(", g!(), ", VALUES(external_id), external_id), ",
    "public_metadata = IF(", g!(), ", VALUES(public_metadata), public_metadata), ",
    "raw_json = IF(", g!(), ", VALUES(raw_json), raw_json), ",
    // sync_error reads sync_status before it is reassigned; pending stays pending.
    "sync_error = IF(", g!(), " AND sync_status <> 'pending', NULL, sync_error), ",
    "sync_status = IF(", g!(), " AND sync_status <> 'pending', 'synced', sync_status), ",
    "updated_at = IF(", g!(), ", VALUES(updated_at), updated_at), ",
    // The guard reads the version, so it is assigned last.
    "clerk_updated_at = IF(", g!(), ", VALUES(clerk_updated_at), clerk_updated_at)"
);

/// The procedure's answer.
#[derive(FromRow)]
struct Called {
    outcome: String,
}

impl Store<MySql> {
    /// `apply_inbound` in one round trip: one `CALL clerk_sync_apply_inbound(...)` (migration
    /// 2), which runs ledger dedupe, the change and the ledger row in one transaction on the
    /// server, with every value a bound parameter. `None` for a kind of change newer than this
    /// crate, which the caller applies step by step.
    pub(crate) async fn call_apply_inbound(
        &self,
        inbound: Inbound<'_>,
    ) -> Result<Option<InboundApplied>, StoreError> {
        const CALL: &str = "CALL clerk_sync_apply_inbound(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             ?, ?, ?, ?, ?, ?, ?)";
        let (kind, record, tombstone) = match inbound.change {
            InboundChange::Upsert(r) => (1_i8, Some(r), None),
            InboundChange::Tombstone(t) => (2, None, Some(t)),
            InboundChange::LedgerOnly => (3, None, None),
            _ => return Ok(None),
        };
        if let Some(record) = record {
            raw_json(record)?;
        }
        let clerk_id = record
            .map(|r| r.clerk_id.as_str())
            .or(tombstone.map(|t| t.clerk_id.as_str()));
        let external_id = record
            .and_then(|r| r.external_id.as_deref())
            .or(tombstone.and_then(|t| t.external_id.as_deref()));
        // A deadlock (three first deliveries of one new user can meet one, see the
        // procedure) re-runs the call; so does a duplicate key the procedure did not settle.
        let called = retry!(
            duplicates,
            sqlx::query_as::<_, Called>(CALL)
                .bind(kind)
                .bind(inbound.entry.svix_id)
                .bind(inbound.entry.event_type)
                .bind(inbound.entry.object_id)
                .bind(Ts::new(inbound.entry.received_at))
                .bind(inbound.entry.payload)
                .bind(inbound.now)
                .bind(clerk_id)
                .bind(record.and_then(|r| r.email.as_deref()))
                .bind(record.and_then(|r| r.first_name.as_deref()))
                .bind(record.and_then(|r| r.last_name.as_deref()))
                .bind(record.and_then(|r| r.username.as_deref()))
                .bind(record.and_then(|r| r.image_url.as_deref()))
                .bind(external_id)
                .bind(record.and_then(|r| r.public_metadata.as_ref().map(Json)))
                .bind(record.map(|r| r.raw_json.as_str()))
                .bind(record.map(|r| r.clerk_updated_at))
                .bind(record.and_then(|r| r.link_email.as_deref()))
                .bind(tombstone.map(|t| Ts::new(t.deleted_at)))
                // A CALL also returns its own status: read every result.
                .fetch_all(&self.pool)
                .await
        )
        .map_err(map_sqlx)?;
        let outcome = called.first().map(|c| c.outcome.as_str());
        Ok(Some(match outcome {
            Some("duplicate") => InboundApplied::Duplicate,
            Some("inserted") => InboundApplied::Upsert(UpsertOutcome::Inserted),
            Some("updated") => InboundApplied::Upsert(UpsertOutcome::Updated),
            Some("linked") => InboundApplied::Upsert(UpsertOutcome::Linked),
            Some("stale") => InboundApplied::Upsert(UpsertOutcome::Stale),
            Some("deleted") => InboundApplied::Upsert(UpsertOutcome::Deleted),
            Some("tombstoned") => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
            Some("already_deleted") => InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted),
            Some("ledger_only") => InboundApplied::LedgerOnly,
            _ => {
                return Err(StoreError::InvalidData {
                    what: "clerk_sync_apply_inbound outcome".to_owned(),
                });
            }
        }))
    }
}
