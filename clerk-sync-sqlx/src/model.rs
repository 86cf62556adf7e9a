//! Building clerk-sync-core's row types from decoded columns.
//!
//! The core row types are `#[non_exhaustive]`, so a crate outside clerk-sync-core cannot write
//! them as struct literals: each is made with its constructor and then its public fields are
//! set. The dialect modules decode columns into the `*Parts` structs and never see that detail.

use clerk_sync_core::store::{
    EnqueuedChange, LedgerEntry, LedgerOutcome, LocalUser, OutboxEntry, OutboxOperation,
    StoreError, SyncRun, SyncStatus, UserProfile, UserVersion,
};
use time::OffsetDateTime;

/// The columns of one `clerk_users` row, decoded.
pub(crate) struct UserParts {
    pub(crate) id: i64,
    pub(crate) clerk_id: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) image_url: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) public_metadata: Option<serde_json::Value>,
    pub(crate) raw_json: Option<serde_json::Value>,
    pub(crate) clerk_updated_at: Option<i64>,
    pub(crate) sync_status: SyncStatus,
    pub(crate) last_sync_attempt: Option<OffsetDateTime>,
    pub(crate) sync_error: Option<String>,
    pub(crate) deleted_at: Option<OffsetDateTime>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
}

impl UserParts {
    pub(crate) fn build(self) -> Result<LocalUser, StoreError> {
        let mut user = LocalUser::new(self.id, self.created_at);
        user.clerk_id = self.clerk_id;
        user.email = self.email;
        user.first_name = self.first_name;
        user.last_name = self.last_name;
        user.username = self.username;
        user.image_url = self.image_url;
        user.external_id = self.external_id;
        user.public_metadata = self.public_metadata;
        user.raw_json = self.raw_json;
        user.clerk_updated_at = self.clerk_updated_at;
        user.sync_status = self.sync_status;
        user.last_sync_attempt = self.last_sync_attempt;
        user.sync_error = self.sync_error;
        user.deleted_at = self.deleted_at;
        user.updated_at = self.updated_at;
        Ok(user)
    }
}

/// The columns of one `clerk_sync_outbox` row, decoded.
pub(crate) struct OutboxParts {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) operation: OutboxOperation,
    pub(crate) profile: UserProfile,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: OffsetDateTime,
    pub(crate) claimed_by: Option<String>,
    pub(crate) claimed_until: Option<OffsetDateTime>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: OffsetDateTime,
}

impl OutboxParts {
    pub(crate) fn build(self) -> Result<OutboxEntry, StoreError> {
        let mut entry = OutboxEntry::new(
            self.id,
            self.user_id,
            self.operation,
            self.profile,
            self.created_at,
        );
        entry.attempts = self.attempts;
        entry.next_attempt_at = self.next_attempt_at;
        entry.claimed_by = self.claimed_by;
        entry.claimed_until = self.claimed_until;
        entry.last_error = self.last_error;
        Ok(entry)
    }
}

/// The columns of one `clerk_webhook_events` row, decoded.
pub(crate) struct LedgerParts {
    pub(crate) svix_id: String,
    pub(crate) event_type: String,
    pub(crate) object_id: Option<String>,
    pub(crate) received_at: OffsetDateTime,
    pub(crate) processed_at: Option<OffsetDateTime>,
    pub(crate) outcome: Option<LedgerOutcome>,
    pub(crate) error: Option<String>,
    pub(crate) payload: String,
}

impl LedgerParts {
    pub(crate) fn build(self) -> Result<LedgerEntry, StoreError> {
        let mut entry = LedgerEntry::new(
            self.svix_id,
            self.event_type,
            self.received_at,
            self.payload,
        );
        entry.object_id = self.object_id;
        entry.processed_at = self.processed_at;
        entry.outcome = self.outcome;
        entry.error = self.error;
        Ok(entry)
    }
}

/// The columns of one `clerk_sync_runs` row, decoded.
pub(crate) struct RunParts {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) triggered_by: String,
    pub(crate) started_at: OffsetDateTime,
    pub(crate) finished_at: OffsetDateTime,
    pub(crate) dry_run: bool,
    pub(crate) force: bool,
    pub(crate) report: serde_json::Value,
}

impl RunParts {
    pub(crate) fn build(self) -> Result<SyncRun, StoreError> {
        let mut run = SyncRun::new(
            self.kind,
            self.triggered_by,
            self.started_at,
            self.finished_at,
            self.report,
        );
        run.id = self.id;
        run.dry_run = self.dry_run;
        run.force = self.force;
        Ok(run)
    }
}

/// One entry of a version scan.
pub(crate) fn user_version(
    clerk_id: String,
    clerk_updated_at: Option<i64>,
    deleted: bool,
) -> Result<UserVersion, StoreError> {
    Ok(UserVersion::new(clerk_id, clerk_updated_at, deleted))
}

/// The result of an enqueue.
pub(crate) fn enqueued(user: LocalUser, outbox_id: i64) -> Result<EnqueuedChange, StoreError> {
    Ok(EnqueuedChange::new(user, outbox_id))
}

/// Parse a JSON column stored as text (SQLite, MySQL).
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn json_text(
    text: Option<String>,
    column: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|_| StoreError::InvalidData {
            what: column.to_owned(),
        })
    })
    .transpose()
}

/// A `UserProfile` as the outbox `payload` JSON.
pub(crate) fn profile_json(profile: &UserProfile) -> String {
    serde_json::to_string(profile).unwrap_or_else(|_| "{}".to_owned())
}

/// The outbox `payload` JSON back into a `UserProfile`.
pub(crate) fn profile_from_json(value: serde_json::Value) -> Result<UserProfile, StoreError> {
    serde_json::from_value(value).map_err(|_| StoreError::InvalidData {
        what: "outbox payload".to_owned(),
    })
}
