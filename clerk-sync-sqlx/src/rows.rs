//! Rows as every dialect decodes them, and the clerk-sync-core values built from them.
//!
//! Each struct derives `sqlx::FromRow` generically over the database, so one definition serves
//! PostgreSQL, MySQL/MariaDB and SQLite: times are [`Ts`], JSON columns `Json` (`JSONB`, `JSON`
//! or `LONGTEXT`, and `TEXT` decode alike), enums the stored strings. The core row types are
//! `#[non_exhaustive]`, so each is built with its constructor and then its public fields are
//! set; a stored string that is not a known enum value is [`StoreError::InvalidData`].

use clerk_sync_core::store::{
    LedgerEntry, LocalUser, OutboxEntry, StatusCounts, StoreError, SyncRun, UserProfile,
    UserVersion,
};
use serde_json::Value;
use sqlx::types::Json;

use crate::codec::Ts;

/// The columns [`UserRow`] reads, in table order, for `concat!`.
macro_rules! user_columns {
    () => {
        "id, clerk_id, email, first_name, last_name, username, image_url, external_id, \
         public_metadata, raw_json, clerk_updated_at, sync_status, last_sync_attempt, \
         sync_error, deleted_at, created_at, updated_at"
    };
}
pub(crate) use user_columns;

/// One `clerk_users` row.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    clerk_id: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    image_url: Option<String>,
    external_id: Option<String>,
    public_metadata: Option<Json<Value>>,
    raw_json: Option<Json<Value>>,
    clerk_updated_at: Option<i64>,
    sync_status: String,
    last_sync_attempt: Option<Ts>,
    sync_error: Option<String>,
    deleted_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

impl TryFrom<UserRow> for LocalUser {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let mut user = LocalUser::new(row.id, row.created_at.into());
        user.clerk_id = row.clerk_id;
        user.email = row.email;
        user.first_name = row.first_name;
        user.last_name = row.last_name;
        user.username = row.username;
        user.image_url = row.image_url;
        user.external_id = row.external_id;
        user.public_metadata = row.public_metadata.map(|j| j.0);
        user.raw_json = row.raw_json.map(|j| j.0);
        user.clerk_updated_at = row.clerk_updated_at;
        user.sync_status = row.sync_status.parse()?;
        user.last_sync_attempt = row.last_sync_attempt.map(Into::into);
        user.sync_error = row.sync_error;
        user.deleted_at = row.deleted_at.map(Into::into);
        user.updated_at = row.updated_at.into();
        Ok(user)
    }
}

/// The columns [`OutboxRow`] reads, for `concat!`.
macro_rules! outbox_columns {
    () => {
        "id, user_id, operation, payload, attempts, next_attempt_at, claimed_by, claimed_until, \
         claim_token, last_error, dead_at, created_at"
    };
}
pub(crate) use outbox_columns;

/// One `clerk_sync_outbox` row.
#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    id: i64,
    user_id: i64,
    operation: String,
    payload: Json<Value>,
    attempts: i32,
    next_attempt_at: Ts,
    claimed_by: Option<String>,
    claimed_until: Option<Ts>,
    claim_token: Option<String>,
    last_error: Option<String>,
    dead_at: Option<Ts>,
    created_at: Ts,
}

impl TryFrom<OutboxRow> for OutboxEntry {
    type Error = StoreError;

    fn try_from(row: OutboxRow) -> Result<Self, StoreError> {
        let profile: UserProfile =
            serde_json::from_value(row.payload.0).map_err(|_| StoreError::InvalidData {
                what: "outbox payload".to_owned(),
            })?;
        let mut entry = OutboxEntry::new(
            row.id,
            row.user_id,
            row.operation.parse()?,
            profile,
            row.created_at.into(),
        );
        entry.attempts = u32::try_from(row.attempts).map_err(|_| StoreError::InvalidData {
            what: "outbox attempts".to_owned(),
        })?;
        entry.next_attempt_at = row.next_attempt_at.into();
        entry.claimed_by = row.claimed_by;
        entry.claimed_until = row.claimed_until.map(Into::into);
        entry.claim_token = row.claim_token;
        entry.last_error = row.last_error;
        entry.dead_at = row.dead_at.map(Into::into);
        Ok(entry)
    }
}

/// The columns of a ledger listing, for `concat!`: [`LedgerRow`] without the payload, which
/// listings never carry.
macro_rules! ledger_columns {
    () => {
        "svix_id, event_type, object_id, received_at, processed_at, outcome, error"
    };
}
pub(crate) use ledger_columns;

/// One `clerk_webhook_events` row; `payload` is left out of listings.
#[derive(sqlx::FromRow)]
pub(crate) struct LedgerRow {
    svix_id: String,
    event_type: String,
    object_id: Option<String>,
    received_at: Ts,
    processed_at: Option<Ts>,
    outcome: Option<String>,
    error: Option<String>,
    #[sqlx(default)]
    payload: Option<String>,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;

    fn try_from(row: LedgerRow) -> Result<Self, StoreError> {
        let mut entry = LedgerEntry::new(
            row.svix_id,
            row.event_type,
            row.received_at.into(),
            row.payload,
        );
        entry.object_id = row.object_id;
        entry.processed_at = row.processed_at.map(Into::into);
        entry.outcome = row.outcome.map(|o| o.parse()).transpose()?;
        entry.error = row.error;
        Ok(entry)
    }
}

/// One `clerk_sync_runs` row. `cursor` is read under an alias: MySQL reserves the word.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: i64,
    kind: String,
    triggered_by: String,
    started_at: Ts,
    finished_at: Option<Ts>,
    dry_run: bool,
    force_rewrite: bool,
    run_cursor: Option<String>,
    report: Json<Value>,
}

/// The columns [`RunRow`] reads from `clerk_sync_runs` named `r`, for `concat!`. A qualified
/// name needs no quotes on MySQL even when it is a reserved word.
macro_rules! run_columns {
    () => {
        "r.id, r.kind, r.triggered_by, r.started_at, r.finished_at, r.dry_run, r.force_rewrite, \
         r.cursor AS run_cursor, r.report"
    };
}
pub(crate) use run_columns;

impl From<RunRow> for SyncRun {
    fn from(row: RunRow) -> Self {
        let mut run = SyncRun::new(row.kind, row.triggered_by, row.started_at.into());
        run.id = row.id;
        run.finished_at = row.finished_at.map(Into::into);
        run.dry_run = row.dry_run;
        run.force = row.force_rewrite;
        run.cursor = row.run_cursor;
        run.report = row.report.0;
        run
    }
}

/// One entry of a version scan.
#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    clerk_id: String,
    clerk_updated_at: Option<i64>,
    deleted: bool,
}

impl From<VersionRow> for UserVersion {
    fn from(row: VersionRow) -> Self {
        UserVersion::new(row.clerk_id, row.clerk_updated_at, row.deleted)
    }
}

/// Row counts by state, as `count_by_status` reads them.
#[derive(sqlx::FromRow)]
pub(crate) struct CountsRow {
    synced: i64,
    pending: i64,
    failed: i64,
    deleted: i64,
    with_clerk_id: i64,
}

impl From<CountsRow> for StatusCounts {
    fn from(row: CountsRow) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut counts = StatusCounts::default();
        counts.synced = count(row.synced);
        counts.pending = count(row.pending);
        counts.failed = count(row.failed);
        counts.deleted = count(row.deleted);
        counts.with_clerk_id = count(row.with_clerk_id);
        counts
    }
}

/// What the upsert and tombstone rules need to know of the row with a Clerk id, read (and
/// locked, where rows can be) before they write.
#[derive(sqlx::FromRow)]
pub(crate) struct Existing {
    pub(crate) id: i64,
    pub(crate) clerk_updated_at: Option<i64>,
    pub(crate) deleted: bool,
}

/// The holder of a lease, read (and locked) before it is taken.
#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    pub(crate) holder: String,
    pub(crate) expires_at: Ts,
}

/// An outbox entry's user and operation, read (and locked) once its claim is known to be held.
#[derive(sqlx::FromRow)]
pub(crate) struct HeldRow {
    pub(crate) user_id: i64,
    pub(crate) operation: String,
}

/// A single `BIGINT` (a count, an id).
#[derive(sqlx::FromRow)]
pub(crate) struct Int {
    pub(crate) n: i64,
}

/// A single flag, absent (`None`) or `NULL` where no row or value was found.
#[derive(sqlx::FromRow)]
pub(crate) struct Flag {
    pub(crate) flag: Option<bool>,
}
