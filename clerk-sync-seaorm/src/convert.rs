//! Rows to core values.
//!
//! `LocalUser`, `OutboxEntry`, `LedgerEntry` and `SyncRun` are `#[non_exhaustive]` without
//! constructors, so a store outside `clerk-sync-core` cannot build them with struct literals.
//! They do derive `Deserialize`, so rows go through a `serde_json::Value` built field by field;
//! time values are serialized with the same `Serialize` impl the `Deserialize` side expects,
//! whatever its format. (Only reads pay for this; the inbound write path builds none of them.)

use clerk_sync_core::store::{
    EnqueuedChange, LedgerEntry, LedgerOutcome, LocalUser, OutboxEntry, OutboxOperation,
    StoreError, SyncRun, SyncStatus, UserProfile, UserVersion,
};
use serde_json::json;
use time::{OffsetDateTime, UtcOffset};

use crate::entity::{clerk_user, sync_outbox, sync_run, webhook_event};

fn invalid(what: &str) -> StoreError {
    StoreError::InvalidData {
        what: what.to_owned(),
    }
}

fn build<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|_| invalid(what))
}

fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

pub(crate) fn local_user(m: clerk_user::Model) -> Result<LocalUser, StoreError> {
    let status: SyncStatus = m.sync_status.parse()?;
    build(
        json!({
            "id": m.id,
            "clerk_id": m.clerk_id,
            "email": m.email,
            "first_name": m.first_name,
            "last_name": m.last_name,
            "username": m.username,
            "image_url": m.image_url,
            "external_id": m.external_id,
            "public_metadata": m.public_metadata,
            "raw_json": m.raw_json,
            "clerk_updated_at": m.clerk_updated_at,
            "sync_status": status,
            "last_sync_attempt": m.last_sync_attempt.map(utc),
            "sync_error": m.sync_error,
            "deleted_at": m.deleted_at.map(utc),
            "created_at": utc(m.created_at),
            "updated_at": utc(m.updated_at),
        }),
        "user row",
    )
}

pub(crate) fn outbox_entry(m: sync_outbox::Model) -> Result<OutboxEntry, StoreError> {
    let operation: OutboxOperation = m.operation.parse()?;
    let profile: UserProfile =
        serde_json::from_value(m.payload).map_err(|_| invalid("outbox payload"))?;
    let attempts = u32::try_from(m.attempts).map_err(|_| invalid("outbox attempts"))?;
    build(
        json!({
            "id": m.id,
            "user_id": m.user_id,
            "operation": operation,
            "profile": profile,
            "attempts": attempts,
            "next_attempt_at": utc(m.next_attempt_at),
            "claimed_by": m.claimed_by,
            "claimed_until": m.claimed_until.map(utc),
            "last_error": m.last_error,
            "created_at": utc(m.created_at),
        }),
        "outbox row",
    )
}

pub(crate) fn ledger_entry(m: webhook_event::Model) -> Result<LedgerEntry, StoreError> {
    let outcome = m
        .outcome
        .as_deref()
        .map(str::parse::<LedgerOutcome>)
        .transpose()?;
    build(
        json!({
            "svix_id": m.svix_id,
            "event_type": m.event_type,
            "object_id": m.object_id,
            "received_at": utc(m.received_at),
            "processed_at": m.processed_at.map(utc),
            "outcome": outcome,
            "error": m.error,
            "payload": m.payload,
        }),
        "ledger row",
    )
}

pub(crate) fn sync_run(m: sync_run::Model) -> Result<SyncRun, StoreError> {
    build(
        json!({
            "id": m.id,
            "kind": m.kind,
            "triggered_by": m.triggered_by,
            "started_at": utc(m.started_at),
            "finished_at": utc(m.finished_at),
            "dry_run": m.dry_run,
            "force": m.force_rewrite,
            "report": m.report,
        }),
        "run row",
    )
}

/// A `UserVersion` for a scanned row.
pub(crate) fn user_version(
    clerk_id: String,
    clerk_updated_at: Option<i64>,
    deleted: bool,
) -> UserVersion {
    UserVersion::new(clerk_id, clerk_updated_at, deleted)
}

/// An `EnqueuedChange` for a written row and its outbox id.
pub(crate) fn enqueued_change(user: LocalUser, outbox_id: i64) -> EnqueuedChange {
    EnqueuedChange::new(user, outbox_id)
}
