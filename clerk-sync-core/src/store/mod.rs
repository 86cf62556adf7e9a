//! Storage traits: what the sync engine needs from a database.
//!
//! A store is a family of small traits, each one concept, and each part of the engine asks
//! only for the ones it uses:
//!
//! | trait | holds | needed by |
//! |---|---|---|
//! | [`UserStore`] | the local user table: a *conditional* upsert (applies only when the version is newer) and a terminal tombstone | everything |
//! | [`LedgerStore`] | one row per `svix-id`, for dedupe, audit and replay | webhooks |
//! | [`InboundStore`] | nothing new: ties the two above together, with [`InboundStore::apply_inbound`] to override | [`SyncEngine::new`] and `process_webhook` |
//! | [`OutboxStore`] | local changes queued for Clerk, written atomically with the row; claims with tokens; dead letters | local changes and the outbound worker |
//! | [`LeaseStore`] | named leases, so one replica at a time runs a job | reconcile, backfill |
//! | [`RunLogStore`] | recorded reconcile and backfill runs, with a resumable cursor | reconcile, backfill |
//!
//! A team that wants only inbound sync into its own table implements [`UserStore`],
//! [`LedgerStore`] and `impl InboundStore for MyStore {}`. [`SyncStore`] is every trait at
//! once; it is implemented for any type that implements them all, and `Arc<dyn SyncStore>`
//! works because the traits use `async_trait`.
//!
//! `clerk_sync_core::memory::MemoryStore` is the reference implementation, and
//! `clerk_sync_core::conformance` (feature `conformance`) is the suite every store must pass.
//!
//! Rules every store shares:
//! - **Times** are passed in (`now`) rather than read from a clock inside the store, so that
//!   the behaviour is testable and every replica agrees. A time plus a duration saturates at
//!   [`MAX_STORED_TIME`] ([`saturating_add`]); a store may clamp any later time it is given to
//!   it (MySQL cannot hold more), so callers keep times within range.
//! - **Clerk ids compare in byte order** everywhere: in [`UserStore::scan_versions`] and in
//!   every equality. Clerk ids are mixed case (`user_2aB...`), so a case-insensitive or
//!   locale-aware collation would misorder or even merge them.
//!
//! [`SyncEngine::new`]: crate::sync::SyncEngine::new

mod batch;
mod error;
mod ledger;
mod outbox;
mod run;
mod times;
mod user;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use batch::BatchPlan;
pub use error::{BoxError, StoreError};
pub use ledger::{
    LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery, NewLedgerEntry, payload_kept_for,
};
pub use outbox::{
    ClaimOutcome, DeadLetterQuery, EnqueuedChange, LocalChange, OutboxEntry, OutboxOperation,
    UserProfile, new_claim_token,
};
pub use run::SyncRun;
pub use times::{MAX_STORED_TIME, saturating_add, whole_micros};
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
    /// 4. Else, if the stored `clerk_updated_at` is `None` or older (or equal, when
    ///    `record.rewrite_same_version` is set): overwrite, [`UpsertOutcome::Updated`].
    ///    Otherwise nothing, [`UpsertOutcome::Stale`].
    ///
    /// An overwrite sets every Clerk field from the record (a `None` clears), sets
    /// `updated_at = now`, and sets `sync_status` to `synced` and `sync_error` to `None`
    /// unless the row is `pending` (a local change is still queued and keeps its state).
    /// An insert sets `created_at = updated_at = now` and `synced`.
    ///
    /// A `raw_json` that is not JSON is [`StoreError::InvalidData`], and nothing is written.
    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError>;

    /// Upsert many records under the rules of [`UserStore::upsert_user`], for reconcile and
    /// backfill. Backends override this with a bulk statement.
    ///
    /// The batch is first reduced to the newest record per Clerk id ([`BatchPlan`]); each
    /// superseded record counts as `unchanged`. The kept records then count as
    /// [`upsert_user`](UserStore::upsert_user) would: inserted, updated (linked included), or
    /// unchanged (stale or a tombstone).
    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let plan = BatchPlan::new(records);
        let mut outcome = BatchOutcome {
            unchanged: plan.superseded,
            ..BatchOutcome::default()
        };
        for record in plan.records {
            outcome.count(self.upsert_user(record, now).await?);
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

    /// Ids and versions of rows with a `clerk_id`, ordered by `clerk_id` in byte order, after
    /// `after` (exclusive), at most `limit` (not capped: the rows are small): reconcile pages
    /// through this instead of loading rows.
    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError>;

    /// The versions of the rows with these Clerk ids (tombstones included, flagged), in no
    /// particular order; ids without a row are left out. Reconcile compares a page of Clerk's
    /// listing with this.
    ///
    /// The provided version reads the rows one by one; SQL stores answer with one query.
    async fn versions_of(&self, clerk_ids: &[&str]) -> Result<Vec<UserVersion>, StoreError> {
        let mut versions = Vec::with_capacity(clerk_ids.len());
        for clerk_id in clerk_ids {
            if let Some(user) = self.get_user(clerk_id).await? {
                versions.push(UserVersion::new(
                    *clerk_id,
                    user.clerk_updated_at,
                    user.is_deleted(),
                ));
            }
        }
        Ok(versions)
    }

    /// Whether the store answers at all, for health checks.
    ///
    /// The provided version reads a row that never exists (local id 0): one indexed lookup.
    /// SQL stores run `SELECT 1`.
    async fn ping(&self) -> Result<(), StoreError> {
        self.get_user_by_id(0).await.map(|_| ())
    }

    /// Row counts by sync state, and live rows with a `clerk_id`.
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

    /// Record how processing of `svix_id` ended. A missing entry (pruned in between) is not
    /// an error: the change itself is already committed.
    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The entry for `svix_id`, with its payload when one was kept.
    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError>;

    /// The most recent entries, newest first, without payloads (`payload` is `None`).
    async fn recent_ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError>;

    /// Delete entries received before `before`; returns how many.
    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// A store the engine can apply webhooks to: the user table and the ledger.
///
/// `impl InboundStore for MyStore {}` takes the provided
/// [`apply_inbound`](InboundStore::apply_inbound); a backend may override it to do the ledger
/// and the write in one transaction or statement.
#[async_trait]
pub trait InboundStore: UserStore + LedgerStore {
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

/// Local changes queued for Clerk.
///
/// Each claim carries a token ([`OutboxEntry::claim_token`]): only the current holder of a
/// live claim may complete, fail or give up the entry, so a worker that stalled past its lease
/// can never report on an entry another worker now owns. An entry that is given up stays as a
/// dead letter until revived.
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
    /// An entry is due when it is live (not a dead letter), `next_attempt_at <= now`, it is not
    /// claimed (or its claim expired), and no older live entry of the same user is queued (one
    /// user's operations go out in order). Claiming sets `claimed_by`, a new `claim_token`
    /// (one [`new_claim_token`] per call), `claimed_until = now + lease` (saturating) and
    /// increments `attempts`. Two concurrent claimers never get the same entry.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Clerk accepted entry `id`, claimed with `token`.
    ///
    /// If the claim is held (`claim_token = token` and `claimed_until > now`): delete the
    /// entry; on the row set `last_sync_attempt = now`, set its `clerk_id` if `clerk_id` is
    /// given and the row has none, and its state from what remains queued for it: `pending` if
    /// live entries remain, else `failed` if dead letters remain, else `synced` with
    /// `sync_error` cleared. A `Delete` entry makes the row a tombstone instead (as
    /// [`UserStore::tombstone_user`] would, with `deleted_at = now`, keeping the row's
    /// `clerk_id` and `external_id`).
    ///
    /// If another row already has that `clerk_id` (the webhook echo of a create can arrive
    /// before the worker reports back, and insert the user when its email is not verified),
    /// the row keeps no `clerk_id` rather than breaking its uniqueness; this is not an error.
    ///
    /// Returns [`ClaimOutcome::Lost`], writing nothing, when the claim is not held.
    async fn complete_outbox(
        &self,
        id: i64,
        token: &str,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Entry `id`, claimed with `token`, failed and will be retried: release the claim, set
    /// `next_attempt_at` and `last_error`; set the row's `sync_error` and
    /// `last_sync_attempt = now` (it stays `pending`). [`ClaimOutcome::Lost`] when the claim
    /// is not held.
    async fn fail_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Entry `id`, claimed with `token`, failed for good: it becomes a dead letter
    /// (`dead_at = now`, `last_error = error`, claim released), and the row `failed` with
    /// `sync_error = error` and `last_sync_attempt = now`. [`ClaimOutcome::Lost`] when the claim
    /// is not held.
    async fn give_up_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Queued entries of row `user_id`, live and dead, oldest first.
    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Dead letters, oldest first.
    async fn dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Make dead letters live again (all of them, or `user_id`'s): due at `now`, no attempts,
    /// no claim, `last_error` kept; their rows go back to `pending`. Returns how many entries
    /// were revived.
    async fn revive_dead_letters(
        &self,
        user_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// How many live entries are due at `now` and not claimed: the backlog.
    async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Named leases with expiry: a portable "only one replica runs this" lock.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take lease `name` for `holder` until `now + ttl` (saturating) if it is free, expired,
    /// or already held by `holder`. Returns whether `holder` now holds it.
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Extend lease `name` to `now + ttl` (saturating) if `holder` still holds it (not taken
    /// over). Returns whether it was extended.
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
    /// Record a run as it starts (all its fields but `id`, which the store assigns and
    /// returns).
    async fn start_run(&self, run: &SyncRun) -> Result<i64, StoreError>;

    /// Save a running run's progress: its `cursor` and running `report`. Returns whether the
    /// run exists.
    async fn checkpoint_run(
        &self,
        id: i64,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError>;

    /// Finish run `id` at `finished_at` with its final `cursor` and `report`. Returns whether
    /// the run exists.
    async fn finish_run(
        &self,
        id: i64,
        finished_at: OffsetDateTime,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError>;

    /// The most recent runs, newest first (by `started_at`, then id).
    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError>;

    /// The most recent run of `kind`, finished or not.
    async fn latest_run(&self, kind: &str) -> Result<Option<SyncRun>, StoreError>;
}

/// Every store trait at once: what the whole engine (webhooks, local changes, the outbound
/// worker, reconcile and backfill) needs.
///
/// Implemented for every type that implements the traits it names; never implement it by
/// hand. `Arc<dyn SyncStore>` is a store too.
pub trait SyncStore: InboundStore + OutboxStore + LeaseStore + RunLogStore {}

impl<T> SyncStore for T where T: InboundStore + OutboxStore + LeaseStore + RunLogStore + ?Sized {}

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

/// What [`InboundStore::apply_inbound`] did.
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
