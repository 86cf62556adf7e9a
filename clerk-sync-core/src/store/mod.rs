//! Storage traits: what the sync engine needs from a database.
//!
//! A store is a handful of small traits, each one concept:
//!
//! - [`UserStore`]: the local user table, with a *conditional* upsert (applies only when the
//!   version is newer) and a terminal tombstone. These two methods carry the whole
//!   ordering guarantee; see `docs/sync-semantics.md`.
//! - [`LedgerStore`]: one row per `svix-id`, for dedupe, audit and replay.
//! - [`OutboxStore`]: local changes queued for Clerk, written atomically with the row.
//! - [`LeaseStore`]: named leases, so one replica at a time runs reconcile.
//! - [`RunLogStore`]: recorded reconcile and backfill runs.
//!
//! [`SyncStore`] ties them together and has one provided method, [`SyncStore::apply_inbound`],
//! which a backend may override to do ledger and apply in one round trip.
//!
//! The traits use `async_trait` so that `Arc<dyn UserStore>` works.
//! `clerk_sync_core::memory::MemoryStore` is the reference implementation, and
//! `clerk_sync_core::conformance` (feature `conformance`) is the suite every store must pass.
//!
//! Times are passed in (`now`) rather than read from a clock inside the store, so that the
//! behaviour is testable and every replica agrees on the same rule.

mod error;
mod lease;
mod ledger;
mod outbox;
mod user;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use error::{BoxError, StoreError};
pub use lease::SyncRun;
pub use ledger::{LedgerEntry, LedgerInsert, LedgerOutcome, NewLedgerEntry};
pub use outbox::{EnqueuedChange, LocalChange, OutboxEntry, OutboxOperation, UserProfile};
pub use user::{
    BatchOutcome, ClerkUserRecord, LocalUser, StatusCounts, SyncStatus, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
};

/// The local user table.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The row for a Clerk user id, tombstones included.
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError>;

    /// The row with local id `id`, tombstones included.
    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError>;

    /// Rows whose primary email is `email` (exact match), tombstones included, ordered by
    /// local id. Email is indexed, not unique.
    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError>;

    /// A page of rows ordered by local id.
    async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError>;

    /// Write Clerk's view of a user, if and only if it is newer than what is stored.
    ///
    /// The rules, which every store must implement without a read-then-write race:
    /// 1. If no row has `record.clerk_id` and `record.link_email` is set, the live row with
    ///    that email and no `clerk_id` and the lowest local id (if any) gets the `clerk_id` and
    ///    is overwritten: [`UpsertOutcome::Linked`].
    /// 2. Else, if no row has `record.clerk_id`, insert: [`UpsertOutcome::Inserted`].
    /// 3. Else, if the row is a tombstone: nothing, [`UpsertOutcome::Deleted`].
    /// 4. Else, if the stored `clerk_updated_at` is `None` or older: overwrite,
    ///    [`UpsertOutcome::Updated`]. Otherwise nothing, [`UpsertOutcome::Stale`].
    ///
    /// An overwrite sets every Clerk field from the record (a `None` clears), sets
    /// `updated_at = now`, and sets `sync_status` to `synced` and `sync_error` to `None`
    /// unless the row is `pending` (a local change is still queued and keeps its state).
    /// An insert sets `created_at = updated_at = now` and `synced`.
    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError>;

    /// Upsert many records under the same rules as [`UserStore::upsert_user`], for reconcile
    /// and backfill. Backends override this with a bulk statement; the provided version loops.
    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let mut outcome = BatchOutcome::default();
        for record in records {
            match self.upsert_user(record, now).await? {
                UpsertOutcome::Inserted => outcome.inserted += 1,
                UpsertOutcome::Updated | UpsertOutcome::Linked => outcome.updated += 1,
                _ => outcome.unchanged += 1,
            }
        }
        Ok(outcome)
    }

    /// Make the row for `tombstone.clerk_id` a tombstone; insert one if the user was never
    /// seen, so that a create or update arriving later cannot bring it back.
    ///
    /// A tombstone is terminal and the same whatever the delivery order: it sets `deleted_at`,
    /// sets `external_id` from the tombstone, clears the profile (`email`, names, `username`,
    /// `image_url`, `public_metadata`, `raw_json`, `clerk_updated_at`), sets `synced` with no
    /// `sync_error`, and `updated_at = now`. An existing tombstone is left as is:
    /// [`TombstoneOutcome::AlreadyDeleted`].
    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError>;

    /// Set `clerk_id` on the live row `id` if it has none and no other row has that id.
    /// Returns whether the row was linked.
    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Ids and versions of rows with a `clerk_id`, ordered by `clerk_id`, after `after`
    /// (exclusive), at most `limit`: reconcile pages through this instead of loading rows.
    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError>;

    /// Row counts by sync state.
    async fn count_by_status(&self) -> Result<StatusCounts, StoreError>;

    /// Mark the row `failed` with `error`, and `last_sync_attempt = at`. Returns whether a row
    /// with that `clerk_id` exists.
    async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// The webhook ledger.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Insert the entry unless its `svix_id` exists (insert-if-absent, no race).
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError>;

    /// Record how processing of `svix_id` ended.
    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The entry for `svix_id`.
    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError>;

    /// Delete entries received before `before`; returns how many.
    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Local changes queued for Clerk.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Write the change to the user row (leaving it `pending`) and queue its outbox entry, in
    /// one transaction. `Update` and `Delete` of a missing or deleted row give
    /// [`StoreError::NotFound`].
    ///
    /// A new row (`Create`, `Invite`) has no `clerk_id` and `created_at = updated_at = now`; an
    /// updated row gets `updated_at = now` and keeps its `clerk_updated_at`. The entry is due at
    /// once (`next_attempt_at = created_at = now`) with no attempts.
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError>;

    /// Claim up to `limit` due entries for `worker`, oldest first, for `lease`.
    ///
    /// An entry is due when `next_attempt_at <= now`, it is not claimed (or its claim expired),
    /// and no older entry of the same user is still queued (one user's operations go out in
    /// order). Claiming sets `claimed_by`, `claimed_until = now + lease` and increments
    /// `attempts`. Two concurrent claimers never get the same entry.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Clerk accepted entry `id`: delete it, set the row's `clerk_id` if `clerk_id` is given and
    /// the row has none, set `last_sync_attempt = now`, clear `sync_error`, and set `synced`
    /// unless other entries for the row remain queued.
    ///
    /// If another row already has that `clerk_id` (the webhook echo of a create can arrive
    /// before the worker reports back, and insert the user when its email is not verified),
    /// the row keeps no `clerk_id` rather than breaking its uniqueness; this is not an error.
    /// A missing entry gives [`StoreError::NotFound`].
    async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Entry `id` failed and will be retried: release the claim, set `next_attempt_at` and
    /// `last_error`; set the row's `sync_error` and `last_sync_attempt = now` (it stays
    /// `pending`). A missing entry gives [`StoreError::NotFound`].
    async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Entry `id` exhausted its attempts: delete it and mark the row `failed` with
    /// `sync_error = error` and `last_sync_attempt = now`. A missing entry gives
    /// [`StoreError::NotFound`].
    async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Queued entries of row `user_id`, oldest first.
    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError>;
}

/// Named leases with expiry: a portable "only one replica runs this" lock.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take lease `name` for `holder` until `now + ttl` if it is free, expired, or already
    /// held by `holder`. Returns whether `holder` now holds it.
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Extend lease `name` to `now + ttl` if `holder` still holds it (not taken over).
    /// Returns whether it was extended.
    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Give lease `name` up if `holder` holds it. Returns whether it was released.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
}

/// Recorded reconcile and backfill runs.
#[async_trait]
pub trait RunLogStore: Send + Sync {
    /// Record a finished run; returns its id.
    async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError>;

    /// The most recent runs, newest first.
    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError>;
}

/// What the engine writes for one verified inbound event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InboundChange {
    /// `user.created` / `user.updated`: a conditional upsert.
    Upsert(ClerkUserRecord),
    /// `user.deleted`: a tombstone.
    Tombstone(Tombstone),
    /// An event the engine records in the ledger but does not store.
    LedgerOnly,
}

/// What [`SyncStore::apply_inbound`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboundApplied {
    /// The `svix-id` was already processed; nothing was written.
    Duplicate,
    /// The upsert ran with this outcome.
    Upsert(UpsertOutcome),
    /// The tombstone ran with this outcome.
    Tombstone(TombstoneOutcome),
    /// Only the ledger was written.
    LedgerOnly,
}

impl InboundApplied {
    /// The ledger outcome for this result (`None` for a duplicate, which is not re-recorded).
    pub fn ledger_outcome(self) -> Option<LedgerOutcome> {
        match self {
            InboundApplied::Duplicate => None,
            InboundApplied::Upsert(o) if o.applied() => Some(LedgerOutcome::Applied),
            InboundApplied::Upsert(_) => Some(LedgerOutcome::Stale),
            InboundApplied::Tombstone(TombstoneOutcome::Deleted) => Some(LedgerOutcome::Applied),
            InboundApplied::Tombstone(_) => Some(LedgerOutcome::Stale),
            InboundApplied::LedgerOnly => Some(LedgerOutcome::Ignored),
        }
    }
}

/// Everything the sync engine needs from one backend.
///
/// Implement the five traits above, then `impl SyncStore for MyStore {}`. Override
/// [`SyncStore::apply_inbound`] to do its three steps in one transaction or statement.
#[async_trait]
pub trait SyncStore: UserStore + LedgerStore + OutboxStore + LeaseStore + RunLogStore {
    /// Ledger, apply and mark processed, for an event with no hooks to run in between.
    ///
    /// The provided version: [`LedgerStore::ledger_insert`]; if the `svix-id` was already
    /// processed, [`InboundApplied::Duplicate`]; otherwise apply `change`, then
    /// [`LedgerStore::ledger_mark_processed`] with [`InboundApplied::ledger_outcome`].
    /// Correctness never depends on the ledger: a lost ledger write makes a redelivery apply
    /// again, which the conditional write turns into a no-op.
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        if let LedgerInsert::Exists { processed: true } = self.ledger_insert(entry).await? {
            return Ok(InboundApplied::Duplicate);
        }
        let applied = apply_change(self, change, now).await?;
        if let Some(outcome) = applied.ledger_outcome() {
            self.ledger_mark_processed(entry.svix_id, outcome, None, now)
                .await?;
        }
        Ok(applied)
    }
}

/// Apply `change` through the conditional write, without touching the ledger.
pub async fn apply_change<S: UserStore + ?Sized>(
    store: &S,
    change: &InboundChange,
    now: OffsetDateTime,
) -> Result<InboundApplied, StoreError> {
    Ok(match change {
        InboundChange::Upsert(record) => {
            InboundApplied::Upsert(store.upsert_user(record, now).await?)
        }
        InboundChange::Tombstone(t) => {
            InboundApplied::Tombstone(store.tombstone_user(t, now).await?)
        }
        InboundChange::LedgerOnly => InboundApplied::LedgerOnly,
    })
}
