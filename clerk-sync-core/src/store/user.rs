//! The local user row and the values the engine writes into it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;

/// Whether a local row agrees with Clerk.
///
/// Serialized as `"synced"`, `"pending"` or `"failed"`, in JSON and in every database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SyncStatus {
    /// The row holds what Clerk holds (as of `clerk_updated_at`).
    #[default]
    Synced,
    /// A local change is queued in the outbox and not yet confirmed by Clerk.
    Pending,
    /// The last sync attempt failed for good; `sync_error` says why.
    Failed,
}

impl SyncStatus {
    /// The stored string: `"synced"`, `"pending"` or `"failed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Pending => "pending",
            SyncStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SyncStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "synced" => Ok(SyncStatus::Synced),
            "pending" => Ok(SyncStatus::Pending),
            "failed" => Ok(SyncStatus::Failed),
            _ => Err(StoreError::InvalidData {
                what: "sync_status".to_owned(),
            }),
        }
    }
}

/// One row of the local user table (`clerk_users`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LocalUser {
    /// The local primary key. Stable for the life of the row, also before Clerk knows the user.
    pub id: i64,
    /// Clerk's user id (`user_...`); `None` for a row created or invited locally and not yet
    /// confirmed by Clerk.
    pub clerk_id: Option<String>,
    /// The primary email address (Clerk's `primary_email_address_id` entry, never `[0]`).
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Clerk username, when the instance uses usernames.
    pub username: Option<String>,
    /// Profile image URL.
    pub image_url: Option<String>,
    /// The application's own id for this user, as set in Clerk (`external_id`).
    pub external_id: Option<String>,
    /// Clerk `public_metadata`.
    pub public_metadata: Option<serde_json::Value>,
    /// The whole Clerk user object as last applied, for fields this row does not model.
    pub raw_json: Option<serde_json::Value>,
    /// The version: Clerk's `updated_at` in Unix milliseconds of the data this row holds.
    /// `None` until Clerk data has been applied.
    pub clerk_updated_at: Option<i64>,
    /// Sync state of this row.
    pub sync_status: SyncStatus,
    /// When a sync of this row (outbound push or inbound fetch) was last attempted.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_sync_attempt: Option<OffsetDateTime>,
    /// Why the last sync attempt failed; `None` once it succeeds.
    pub sync_error: Option<String>,
    /// Set when Clerk deleted the user: a terminal tombstone (soft delete).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// When the row was first written locally.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the row was last written locally.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl LocalUser {
    /// A row with local id `id` written at `now`: no Clerk data, `synced`, no tombstone.
    ///
    /// `LocalUser` is `#[non_exhaustive]`, so stores outside this crate build rows with this
    /// and then set the public fields they read from their table.
    pub fn new(id: i64, now: OffsetDateTime) -> Self {
        LocalUser {
            id,
            clerk_id: None,
            email: None,
            first_name: None,
            last_name: None,
            username: None,
            image_url: None,
            external_id: None,
            public_metadata: None,
            raw_json: None,
            clerk_updated_at: None,
            sync_status: SyncStatus::Synced,
            last_sync_attempt: None,
            sync_error: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the row is a tombstone (Clerk deleted the user).
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// The Clerk side of a user, as the engine writes it with [`UserStore::upsert_user`].
///
/// [`UserStore::upsert_user`]: super::UserStore::upsert_user
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClerkUserRecord {
    /// Clerk user id.
    pub clerk_id: String,
    /// Primary email address.
    pub email: Option<String>,
    /// The primary email when it is verified: the address a live local row without a
    /// `clerk_id` may be linked by (invariant 6). `None` disables linking for this write.
    pub link_email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Profile image URL.
    pub image_url: Option<String>,
    /// Application id set in Clerk.
    pub external_id: Option<String>,
    /// Clerk `public_metadata`.
    pub public_metadata: Option<serde_json::Value>,
    /// The user object exactly as Clerk sent it (JSON text), stored as `raw_json`.
    pub raw_json: String,
    /// The version: Clerk's `updated_at`, Unix milliseconds.
    pub clerk_updated_at: i64,
    /// Also overwrite a row that holds this same version (reconcile's `force`). An older
    /// record still never overwrites a newer row, and a tombstone stays terminal.
    pub rewrite_same_version: bool,
}

impl ClerkUserRecord {
    /// A record with the required fields; set the other (public) fields afterwards.
    pub fn new(
        clerk_id: impl Into<String>,
        clerk_updated_at: i64,
        raw_json: impl Into<String>,
    ) -> Self {
        ClerkUserRecord {
            clerk_id: clerk_id.into(),
            email: None,
            link_email: None,
            first_name: None,
            last_name: None,
            username: None,
            image_url: None,
            external_id: None,
            public_metadata: None,
            raw_json: raw_json.into(),
            clerk_updated_at,
            rewrite_same_version: false,
        }
    }
}

/// What [`UserStore::upsert_user`] did.
///
/// [`UserStore::upsert_user`]: super::UserStore::upsert_user
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpsertOutcome {
    /// No row had this `clerk_id` and none was linked: a new row was inserted.
    Inserted,
    /// An existing row for this `clerk_id` held an older version (or none) and was overwritten.
    Updated,
    /// A live local row without a `clerk_id` and with the record's `link_email` was linked to
    /// this `clerk_id` and overwritten.
    Linked,
    /// Nothing was written: the stored version is equal or newer.
    Stale,
    /// Nothing was written: the row is a tombstone, which is terminal.
    Deleted,
}

impl UpsertOutcome {
    /// Whether the row changed.
    pub fn applied(self) -> bool {
        matches!(
            self,
            UpsertOutcome::Inserted | UpsertOutcome::Updated | UpsertOutcome::Linked
        )
    }
}

/// A deletion by Clerk, as written by [`UserStore::tombstone_user`](super::UserStore::tombstone_user).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tombstone {
    /// Clerk user id.
    pub clerk_id: String,
    /// When Clerk deleted the user: the event's timestamp, so that every redelivery writes the
    /// same value.
    pub deleted_at: OffsetDateTime,
    /// `external_id` from the `user.deleted` payload, when Clerk sent one.
    pub external_id: Option<String>,
}

impl Tombstone {
    /// A tombstone for `clerk_id` deleted at `deleted_at`.
    pub fn new(clerk_id: impl Into<String>, deleted_at: OffsetDateTime) -> Self {
        Tombstone {
            clerk_id: clerk_id.into(),
            deleted_at,
            external_id: None,
        }
    }
}

/// What [`UserStore::tombstone_user`] did.
///
/// [`UserStore::tombstone_user`]: super::UserStore::tombstone_user
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TombstoneOutcome {
    /// The row (existing, or inserted for a user never seen before) is now a tombstone.
    Deleted,
    /// The row was already a tombstone; nothing changed.
    AlreadyDeleted,
}

/// One entry of a version scan: what reconcile compares against Clerk's list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserVersion {
    /// Clerk user id.
    pub clerk_id: String,
    /// Stored version (`clerk_updated_at`), `None` if no Clerk data was applied.
    pub clerk_updated_at: Option<i64>,
    /// Whether the row is a tombstone.
    pub deleted: bool,
}

impl UserVersion {
    /// An entry for `clerk_id`. The struct is `#[non_exhaustive]`, so stores outside this
    /// crate build it here.
    pub fn new(clerk_id: impl Into<String>, clerk_updated_at: Option<i64>, deleted: bool) -> Self {
        UserVersion {
            clerk_id: clerk_id.into(),
            clerk_updated_at,
            deleted,
        }
    }
}

/// Row counts by sync state. Tombstones are counted in `deleted` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusCounts {
    /// Live rows in `synced`.
    pub synced: u64,
    /// Live rows in `pending`.
    pub pending: u64,
    /// Live rows in `failed`.
    pub failed: u64,
    /// Tombstones.
    pub deleted: u64,
    /// Live rows that have a `clerk_id`: the local count to compare with Clerk's user count.
    pub with_clerk_id: u64,
}

impl StatusCounts {
    /// Live rows (all but tombstones).
    pub fn live(&self) -> u64 {
        self.synced + self.pending + self.failed
    }
}

/// A page request for [`UserStore::list_users`](super::UserStore::list_users), ordered by local id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserQuery {
    /// Only rows in this state.
    pub sync_status: Option<SyncStatus>,
    /// Only rows with a local id greater than this (the cursor from the previous page).
    pub after_id: Option<i64>,
    /// Page size; stores cap it at 1000.
    pub limit: u32,
    /// Include tombstones.
    pub include_deleted: bool,
}

impl UserQuery {
    /// The first page of `limit` live rows in any state.
    pub fn new(limit: u32) -> Self {
        UserQuery {
            limit,
            ..UserQuery::default()
        }
    }
}

/// What [`UserStore::apply_batch`](super::UserStore::apply_batch) did, counted per record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// New rows.
    pub inserted: u64,
    /// Rows overwritten with a newer version (including linked rows).
    pub updated: u64,
    /// Records not written: the stored version was equal or newer, the row is a tombstone,
    /// or a newer record of the same id was in the batch.
    pub unchanged: u64,
}

impl BatchOutcome {
    /// Add one upsert's outcome to the tally.
    pub fn count(&mut self, outcome: UpsertOutcome) {
        match outcome {
            UpsertOutcome::Inserted => self.inserted += 1,
            UpsertOutcome::Updated | UpsertOutcome::Linked => self.updated += 1,
            UpsertOutcome::Stale | UpsertOutcome::Deleted => self.unchanged += 1,
        }
    }
}
