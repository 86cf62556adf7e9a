//! Rows to core values, through the core constructors plus field assignment (the types are
//! `#[non_exhaustive]`, so a struct literal is not available outside `clerk-sync-core`).

use clerk_sync_core::store::{
    EnqueuedChange, LedgerEntry, LedgerOutcome, LocalUser, OutboxEntry, OutboxOperation,
    StoreError, SyncRun, SyncStatus, UserProfile, UserVersion,
};
use time::{OffsetDateTime, UtcOffset};

use crate::entity::{clerk_user, sync_outbox, sync_run, webhook_event};

fn invalid(what: &str) -> StoreError {
    StoreError::InvalidData {
        what: what.to_owned(),
    }
}

/// Drivers hand PostgreSQL `TIMESTAMPTZ` back in UTC already; SQLite text and MySQL
/// `DATETIME` are read as UTC. Normalizing keeps `==` and `Debug` output identical across
/// dialects.
fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

pub(crate) fn local_user(m: clerk_user::Model) -> Result<LocalUser, StoreError> {
    let mut u = LocalUser::new(m.id, utc(m.created_at));
    u.clerk_id = m.clerk_id;
    u.email = m.email;
    u.first_name = m.first_name;
    u.last_name = m.last_name;
    u.username = m.username;
    u.image_url = m.image_url;
    u.external_id = m.external_id;
    u.public_metadata = m.public_metadata;
    u.raw_json = m.raw_json;
    u.clerk_updated_at = m.clerk_updated_at;
    u.sync_status = m.sync_status.parse::<SyncStatus>()?;
    u.last_sync_attempt = m.last_sync_attempt.map(utc);
    u.sync_error = m.sync_error;
    u.deleted_at = m.deleted_at.map(utc);
    u.updated_at = utc(m.updated_at);
    Ok(u)
}

pub(crate) fn outbox_entry(m: sync_outbox::Model) -> Result<OutboxEntry, StoreError> {
    let operation: OutboxOperation = m.operation.parse()?;
    let profile: UserProfile =
        serde_json::from_value(m.payload).map_err(|_| invalid("outbox payload"))?;
    let mut e = OutboxEntry::new(m.id, m.user_id, operation, profile, utc(m.created_at));
    e.attempts = u32::try_from(m.attempts).map_err(|_| invalid("outbox attempts"))?;
    e.next_attempt_at = utc(m.next_attempt_at);
    e.claimed_by = m.claimed_by;
    e.claimed_until = m.claimed_until.map(utc);
    e.last_error = m.last_error;
    Ok(e)
}

pub(crate) fn ledger_entry(m: webhook_event::Model) -> Result<LedgerEntry, StoreError> {
    let mut e = LedgerEntry::new(m.svix_id, m.event_type, utc(m.received_at), m.payload);
    e.object_id = m.object_id;
    e.processed_at = m.processed_at.map(utc);
    e.outcome = m
        .outcome
        .as_deref()
        .map(str::parse::<LedgerOutcome>)
        .transpose()?;
    e.error = m.error;
    Ok(e)
}

pub(crate) fn sync_run(m: sync_run::Model) -> SyncRun {
    let mut r = SyncRun::new(
        m.kind,
        m.triggered_by,
        utc(m.started_at),
        utc(m.finished_at),
        m.report,
    );
    r.id = m.id;
    r.dry_run = m.dry_run;
    r.force = m.force_rewrite;
    r
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
